"""The exceptions of ``funcgrad.data``, in funcgrad's common message format (see funcgrad.errors).

Messages name the operation, the offending values and the fix, for example::

    Dataset.batch: batch_size must be a positive integer, got 0
      at train.py:12 in main:    ds = ds.batch(0)
    Fix: pass the number of examples per batch, e.g. ds.batch(32)
"""
from __future__ import annotations

from funcgrad.errors import FuncgradError, message


class DataError(FuncgradError, ValueError):
    """A ``funcgrad.data`` pipeline was built or restored with invalid arguments.

    Wrong::

        ds = Dataset.from_arrays({"image": x, "label": y}).shuffle()     # no seed

    Right::

        ds = Dataset.from_arrays({"image": x, "label": y}).shuffle(seed=0)
    """


class UnknownLengthError(FuncgradError, TypeError):
    """``len()`` of a data set whose length is unknown (after ``filter``) or infinite
    (after ``repeat()``).

    Wrong::

        len(ds.filter(lambda ex: ex["label"] < 5))

    Right::

        sum(1 for _ in ds.filter(lambda ex: ex["label"] < 5))   # count by iterating
    """


def data_error(op: str, what: str, fix: str | None = None) -> DataError:
    return DataError(message(op, what, fix, DataError))


def unknown_length_error(op: str, what: str, fix: str | None = None) -> UnknownLengthError:
    return UnknownLengthError(message(op, what, fix, UnknownLengthError))
