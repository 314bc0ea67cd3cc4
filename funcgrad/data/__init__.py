"""funcgrad.data: a deterministic, resumable input pipeline on the host, in NumPy.
"""
from funcgrad.data import datasets  # noqa: F401
from funcgrad.data.errors import DataError, UnknownLengthError  # noqa: F401
