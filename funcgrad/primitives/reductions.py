"""Reduction and cumulative primitives: reduce_sum/max/min/prod/and/or, argmax/argmin and the
scans cumsum/cumprod/cummax/cummin/cumlogsumexp.

Params are static: ``axes`` is a sorted tuple of distinct non-negative axes, ``axis`` an int.
Reductions keep the operand's dtype (funcgrad.numpy chooses accumulation dtypes before binding).
Each section ends with its registration block.
"""
from __future__ import annotations

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import check_dtype

NUMERIC = dtypes.NUMERIC
ORDERED = (dtypes.bool_,) + dtypes.INTS + dtypes.FLOATS  # dtypes with a total order (no complex)
INT_OR_BOOL = (dtypes.bool_,) + dtypes.INTS


def _check_axes(op: str, x: ShapedArray, axes) -> None:
    if not isinstance(axes, tuple) or any(not isinstance(a, int) for a in axes):
        raise TypeError(f"{op}: axes must be a tuple of Python ints, got {axes!r}")
    if any(not 0 <= a < x.ndim for a in axes):
        raise errors.shape_error(op, f"axes={axes} are out of range for operand {x.str_short()} "
                                 f"(rank {x.ndim}).",
                                 f"use axes in [0, {x.ndim}) (funcgrad.numpy also accepts "
                                 "negative axes).")
    if list(axes) != sorted(set(axes)):
        raise errors.shape_error(op, f"axes={axes} for operand {x.str_short()} must be sorted "
                                 "and distinct.", "pass tuple(sorted(set(axes))).")


def _reduced_shape(shape, axes) -> tuple[int, ...]:
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _normalize_axes(x, axes) -> tuple[int, ...]:
    # The lax wrappers accept negative axes and any order; the primitive wants them canonical.
    ndim = core.get_aval(x).ndim
    out = [int(a) + ndim if -ndim <= int(a) < 0 else int(a) for a in axes]
    return tuple(sorted(out)) if len(set(out)) == len(out) else tuple(out)


def lowest(dtype) -> np.ndarray:
    """The identity of max for ``dtype``: -inf, the smallest integer, or False."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.array(-np.inf, dt)
    if dt.kind in "iu":
        return np.array(np.iinfo(dt).min, dt)
    return np.array(False)


def highest(dtype) -> np.ndarray:
    """The identity of min for ``dtype``: inf, the largest integer, or True."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.array(np.inf, dt)
    if dt.kind in "iu":
        return np.array(np.iinfo(dt).max, dt)
    return np.array(True)


# ---------------------------------------------------------------- reduce_* (monoid reductions)

def _reducer(name: str, impl, allowed) -> Primitive:
    def abstract_eval(x, *, axes):
        _check_axes(name, x, axes)
        check_dtype(name, x, allowed)
        return ShapedArray(_reduced_shape(x.shape, axes), x.dtype, x.weak_type)

    def checked_impl(x, *, axes):
        with np.errstate(all="ignore"):  # overflow wraps and inf-inf is NaN, as in XLA
            return np.asarray(impl(x, axes), dtype=x.dtype)

    return Primitive(name, impl=checked_impl, abstract_eval=abstract_eval)


reduce_sum_p = _reducer("reduce_sum", lambda x, axes: np.sum(x, axis=axes, dtype=x.dtype),
                        NUMERIC)
reduce_prod_p = _reducer("reduce_prod", lambda x, axes: np.prod(x, axis=axes, dtype=x.dtype),
                         NUMERIC)
# An empty reduction yields the identity (-inf for max), as in XLA; funcgrad.numpy raises
# NumPy's error for empty max/min before binding.
reduce_max_p = _reducer("reduce_max",
                        lambda x, axes: np.max(x, axis=axes, initial=lowest(x.dtype)), ORDERED)
reduce_min_p = _reducer("reduce_min",
                        lambda x, axes: np.min(x, axis=axes, initial=highest(x.dtype)), ORDERED)
reduce_and_p = _reducer("reduce_and", lambda x, axes: np.bitwise_and.reduce(
    x, axis=axes, initial=True if x.dtype == np.bool_ else np.array(-1).astype(x.dtype)),
    INT_OR_BOOL)
reduce_or_p = _reducer("reduce_or", lambda x, axes: np.bitwise_or.reduce(
    x, axis=axes, initial=False if x.dtype == np.bool_ else np.array(0, x.dtype)), INT_OR_BOOL)

REDUCERS = [reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p]


def reduce_sum(operand, axes):
    """Sums ``operand`` over ``axes`` (in its own dtype)."""
    return reduce_sum_p.bind(operand, axes=_normalize_axes(operand, axes))


def reduce_prod(operand, axes):
    """Multiplies the elements of ``operand`` over ``axes`` (in its own dtype)."""
    return reduce_prod_p.bind(operand, axes=_normalize_axes(operand, axes))


def reduce_max(operand, axes):
    """The maximum over ``axes``; NaN propagates; an empty reduction gives the lowest value."""
    return reduce_max_p.bind(operand, axes=_normalize_axes(operand, axes))


def reduce_min(operand, axes):
    """The minimum over ``axes``; NaN propagates; an empty reduction gives the highest value."""
    return reduce_min_p.bind(operand, axes=_normalize_axes(operand, axes))


def reduce_and(operand, axes):
    """Logical (bool) or bitwise (integer) AND over ``axes``."""
    return reduce_and_p.bind(operand, axes=_normalize_axes(operand, axes))


def reduce_or(operand, axes):
    """Logical (bool) or bitwise (integer) OR over ``axes``."""
    return reduce_or_p.bind(operand, axes=_normalize_axes(operand, axes))


# ---------------------------------------------------------------- argmax, argmin

def _arg_reducer(name: str, np_fn) -> Primitive:
    def abstract_eval(x, *, axes, index_dtype):
        _check_axes(name, x, axes)
        if len(axes) != 1:
            raise errors.shape_error(name, f"reduces exactly one axis, got axes={axes} for "
                                     f"operand {x.str_short()}.", "pass axes=(axis,).")
        check_dtype(name, x, ORDERED)
        if np.dtype(index_dtype) not in dtypes.INTS:
            raise errors.dtype_error(name, f"index_dtype={index_dtype} is not an integer dtype.",
                                     "use index_dtype=numpy.int32.")
        if x.shape[axes[0]] == 0:
            raise errors.shape_error(name, f"axis {axes[0]} of operand {x.str_short()} is "
                                     "empty, so it has no extremum.",
                                     "reduce a non-empty axis.")
        return ShapedArray(_reduced_shape(x.shape, axes), index_dtype)

    def impl(x, *, axes, index_dtype):
        # NumPy already returns the first NaN (NaN is the extremum) and the first of ties.
        return np.asarray(np_fn(x, axis=axes[0]), dtype=index_dtype)

    return Primitive(name, impl=impl, abstract_eval=abstract_eval)


argmax_p = _arg_reducer("argmax", np.argmax)
argmin_p = _arg_reducer("argmin", np.argmin)


def argmax(operand, axis: int, index_dtype):
    """The index of the first maximum along ``axis`` (the first NaN, if any)."""
    (axis,) = _normalize_axes(operand, (axis,))
    return argmax_p.bind(operand, axes=(axis,), index_dtype=dtypes.canonicalize(index_dtype))


def argmin(operand, axis: int, index_dtype):
    """The index of the first minimum along ``axis`` (the first NaN, if any)."""
    (axis,) = _normalize_axes(operand, (axis,))
    return argmin_p.bind(operand, axes=(axis,), index_dtype=dtypes.canonicalize(index_dtype))


# ---------------------------------------------------------------- cumulative reductions

def _cumulative(name: str, ufunc, allowed) -> Primitive:
    def abstract_eval(x, *, axis, reverse):
        if not isinstance(axis, int) or not 0 <= axis < x.ndim:
            raise errors.shape_error(name, f"axis={axis!r} is out of range for operand "
                                     f"{x.str_short()} (rank {x.ndim}).",
                                     f"use an axis in [0, {x.ndim}) (reshape a 0-d operand "
                                     "to (1,) first).")
        check_dtype(name, x, allowed)
        return x

    def impl(x, *, axis, reverse):
        src = np.flip(x, axis) if reverse else x
        with np.errstate(all="ignore"):
            out = ufunc.accumulate(src, axis=axis, dtype=x.dtype)
        return np.asarray(np.flip(out, axis) if reverse else out, dtype=x.dtype)

    return Primitive(name, impl=impl, abstract_eval=abstract_eval)


cumsum_p = _cumulative("cumsum", np.add, NUMERIC)
cumprod_p = _cumulative("cumprod", np.multiply, NUMERIC)
cummax_p = _cumulative("cummax", np.maximum, ORDERED)
cummin_p = _cumulative("cummin", np.minimum, ORDERED)
cumlogsumexp_p = _cumulative("cumlogsumexp", np.logaddexp, dtypes.FLOATS)

CUMULATIVE = [cumsum_p, cumprod_p, cummax_p, cummin_p, cumlogsumexp_p]


def _cumulative_wrapper(p: Primitive):
    def f(operand, axis: int = 0, reverse: bool = False):
        (ax,) = _normalize_axes(operand, (axis,))
        return p.bind(operand, axis=ax, reverse=bool(reverse))
    f.__name__ = p.name
    f.__doc__ = (f"Cumulative ``{p.name}`` of ``operand`` along ``axis`` (from the end when "
                 "``reverse``); the result has the operand's shape and dtype.")
    return f


cumsum = _cumulative_wrapper(cumsum_p)
cumprod = _cumulative_wrapper(cumprod_p)
cummax = _cumulative_wrapper(cummax_p)
cummin = _cumulative_wrapper(cummin_p)
cumlogsumexp = _cumulative_wrapper(cumlogsumexp_p)


__all__ = ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
           "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"]
