"""Constructors of ``funcgrad.data``'s exceptions (the classes live in funcgrad.errors).

Messages name the operation, the offending values and the fix, for example::

    Dataset.batch: batch_size must be a positive integer, got 0
      at train.py:12 in main:    ds = ds.batch(0)
    Fix: pass the number of examples per batch, e.g. ds.batch(32)
"""
from __future__ import annotations

from funcgrad.errors import DataError, UnknownLengthError, message

__all__ = ["DataError", "UnknownLengthError", "data_error", "unknown_length_error"]


def data_error(op: str, what: str, fix: str | None = None) -> DataError:
    return DataError(message(op, what, fix, DataError))


def unknown_length_error(op: str, what: str, fix: str | None = None) -> UnknownLengthError:
    return UnknownLengthError(message(op, what, fix, UnknownLengthError))
