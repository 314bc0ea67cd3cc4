"""The closed set of primitives, one module per family. Importing this package registers them."""
from funcgrad.primitives import elementwise, indexing, linalg, reductions, sorting, structural  # noqa: F401
