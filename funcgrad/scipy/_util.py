"""Argument preparation shared by funcgrad.scipy."""
from __future__ import annotations

from funcgrad import dtypes, errors
from funcgrad.numpy._util import aval_of, promote_args_inexact, promote_dtypes


def promote_floats(op: str, *args, broadcast: bool = True):
    """``args`` promoted to one real floating dtype (integers and booleans to the default
    float) and broadcast to one shape (unless ``broadcast=False``); ``op`` is the public name
    used in errors."""
    out = (promote_args_inexact(op, *args) if broadcast
           else promote_dtypes(op, *args, inexact=True))
    dt = aval_of(out[0]).dtype
    if not dtypes.is_float(dt):
        raise errors.dtype_error(op, f"expects real inputs, got {dt}.",
                                 "pass the real and imaginary parts separately.")
    return out
