"""Reductions and cumulative functions: sum, mean, var, max, argmax, cumsum, median, quantile,
the nan* variants, ...

NumPy's signatures (``axis`` as None/int/tuple/negative, ``keepdims``, ``dtype``, ``where``,
``initial``) with JAX's dtypes: small integer sums accumulate in the default int (int8 -> int32,
uint8 -> uint32), means and variances of integers are default floats, and indices are int32.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.core import Tracer
from funcgrad.numpy import _util
from funcgrad.numpy._util import aval_of, canonicalize_axis, check_arraylike, normalize_axes
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import reductions as red
from funcgrad.primitives import sorting as srt
from funcgrad.primitives import structural as st

# ---------------------------------------------------------------- helpers


def _asarray(op: str, a, name: str = "a"):
    check_arraylike(op, a, names=[name])
    return _util.asarray(a)


def _no_out(op: str, out):
    if out is not None:
        raise errors.InvalidArgumentError(errors.message(
            op, "out= is not supported: funcgrad arrays are immutable.",
            f"use the return value (y = funcgrad.numpy.{op}(...)).",
            errors.InvalidArgumentError))


def _full(value, dtype, shape=()):
    return st.full(tuple(shape), value, dtype)


def _reshape(x, shape):
    return x if aval_of(x).shape == tuple(shape) else st.reshape(x, shape)


def _bcast(x, shape, dims):
    aval = aval_of(x)
    if aval.shape == tuple(shape) and tuple(dims) == tuple(range(len(shape))):
        return x
    return st.broadcast_in_dim(x, shape, dims)


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _finish(r, shape, axes, keepdims):
    return _reshape(r, _keepdims_shape(shape, axes)) if keepdims else r


def _sum_dtype(dt: np.dtype) -> np.dtype:
    """JAX's accumulation dtype of sum/prod/cumsum: small integers widen to the default int."""
    wide = dtypes.default_int()
    if dt == dtypes.bool_ or (dt.kind == "i" and dt.itemsize < wide.itemsize):
        return wide
    if dt.kind == "u" and dt.itemsize < wide.itemsize:
        return np.dtype(f"uint{wide.itemsize * 8}")
    return dt


def _float_dtype(dt: np.dtype) -> np.dtype:
    return dt if dtypes.is_inexact(dt) else dtypes.default_float()


def _dtype_arg(dtype):
    return None if dtype is None else dtypes.canonicalize(dtype)


def _mask(op: str, where, shape):
    """``where`` as a boolean array broadcast to ``shape`` (it may not change the shape)."""
    check_arraylike(op, where, names=["where"])
    m = _util.convert_to(_util.asarray(where), dtypes.bool_, weak=False)
    wshape = aval_of(m).shape
    if _util.broadcast_shapes(op, wshape, shape) != tuple(shape):
        raise errors.shape_error(op, f"where= of shape {wshape} cannot be broadcast to the "
                                 f"operand's shape {tuple(shape)}.",
                                 "give a mask that broadcasts to the operand.")
    return _util.broadcast_to_shape(m, shape)


def _select(mask, on_false, on_true):
    """``mask ? on_true : on_false`` where the fill values may be Python scalars."""
    aval = aval_of(on_true if not isinstance(on_true, (int, float, bool)) else on_false)
    shape = aval_of(mask).shape
    f = on_false if not isinstance(on_false, (int, float, bool)) else _full(on_false, aval.dtype,
                                                                           shape)
    t = on_true if not isinstance(on_true, (int, float, bool)) else _full(on_true, aval.dtype,
                                                                         shape)
    return ew.select_n_p.bind(mask, f, t)


def _isnan(x):
    return ew.ne_p.bind(x, x)


def _scalar_like(op: str, value, r, what: str):
    """A Python/NumPy scalar (``initial=``) converted to ``r``'s dtype and broadcast to it."""
    check_arraylike(op, value, names=[what])
    raval = aval_of(r)
    v = to_dtype(value, raval.dtype)
    if aval_of(v).shape != ():
        raise errors.shape_error(op, f"{what}= must be a scalar, got {aval_of(v).str_short()}.",
                                 f"pass a single number as {what}=.")
    return _util.broadcast_to_shape(ew.convert_element_type(v, raval.dtype, raval.weak_type),
                                    raval.shape)


def to_dtype(value, dtype):
    """``value`` (array-like) as ``dtype``; Python scalars convert exactly (not via float32)."""
    if type(value) in (bool, int, float, complex):
        return _util.convert_to(value, dtype)
    return _util.convert_to(_util.asarray(value), dtype, weak=False)


def _count(shape, axes) -> int:
    return math.prod(shape[a] for a in axes)


def _div_by_count(op: str, s, count):
    """``s / count`` where count is a static int or an array of s's shape."""
    aval = aval_of(s)
    if isinstance(count, int):
        count = _full(count, aval.dtype, aval.shape)
    return ew.div_p.bind(s, count)


# ---------------------------------------------------------------- sum, prod

def _sum_like(op, prim_reduce, a, axis, dtype, out, keepdims, initial, where, fill, bool_reduce):
    _no_out(op, out)
    x = _asarray(op, a)
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    dt = _dtype_arg(dtype) or _sum_dtype(x.dtype)
    x = _util.convert_to(x, dt)
    if where is not None:
        x = _select(_mask(op, where, shape), fill, x)
    r = (bool_reduce if dt == dtypes.bool_ else prim_reduce)(x, axes)
    if initial is not None:
        combine = ew.or_p if dt == dtypes.bool_ and op == "sum" else (
            ew.and_p if dt == dtypes.bool_ else (ew.add_p if op == "sum" else ew.mul_p))
        r = combine.bind(r, _scalar_like(op, initial, r, "initial"))
    return _finish(r, shape, axes, keepdims)


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """Sum of array elements over ``axis``.

    Booleans and integers narrower than the default int accumulate in it (int8 -> int32,
    uint8 -> uint32), as in JAX; other dtypes keep theirs.

    Args:
      a: the array.
      axis: None (all axes), an int or a tuple of ints; negative counts from the end.
      dtype: the accumulation and result dtype.
      keepdims: keep the reduced axes as size-1 dimensions.
      initial: a scalar added to each result.
      where: a boolean mask broadcastable to ``a``; only True elements are summed.

    Example:
        >>> fnp.sum(fnp.ones((2, 3)), axis=0)
        Array([2., 2., 2.], dtype=float32)
    """
    return _sum_like("sum", red.reduce_sum, a, axis, dtype, out, keepdims, initial, where, 0,
                     red.reduce_or)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product of array elements over ``axis`` (same dtype rules and arguments as ``sum``)."""
    return _sum_like("prod", red.reduce_prod, a, axis, dtype, out, keepdims, initial, where, 1,
                     red.reduce_and)


# ---------------------------------------------------------------- max, min, ptp

def _check_nonempty(op: str, x, axes, initial):
    if initial is None and builtins.any(x.shape[a] == 0 for a in axes):
        raise errors.shape_error(op, f"zero-size reduction over axis {axes} of "
                                 f"{aval_of(x).str_short()}: {op} of an empty sequence has no "
                                 "identity.", "pass initial= (a value to start from), or "
                                 "reduce over non-empty axes.")


def _extremum(op, kind, a, axis, out, keepdims, initial, where, nan_to=None):
    _no_out(op, out)
    x = _asarray(op, a)
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    _check_nonempty(op, x, axes, initial)
    ident = red.lowest(x.dtype) if kind == "max" else red.highest(x.dtype)
    if where is not None:
        if initial is None:
            raise ValueError(errors.message(
                op, "where= needs initial=: elements masked out by where have no value to "
                "stand in for them.", f"pass initial= (e.g. {op}(x, where=m, "
                f"initial={'-inf' if kind == 'max' else 'inf'})).", ValueError))
        mask = _mask(op, where, shape)
    else:
        mask = None
    nan = None
    if nan_to is not None and dtypes.is_inexact(x.dtype):
        nan = _isnan(x)
        x = _select(nan, x, _full(ident.item(), x.dtype, shape))
    if mask is not None:
        x = _select(mask, _full(ident.item(), x.dtype, shape), x)
    reduce = red.reduce_max if kind == "max" else red.reduce_min
    r = reduce(x, axes)
    if initial is not None:
        r = (ew.max_p if kind == "max" else ew.min_p).bind(r, _scalar_like(op, initial, r,
                                                                             "initial"))
    if nan is not None:  # nanmax: a slice with only NaNs (among the selected) is NaN
        ignored = nan if mask is None else ew.or_p.bind(nan, ew.not_p.bind(mask))
        all_nan = red.reduce_and(ignored, axes)
        r = _select(all_nan, r, _full(np.nan, aval_of(r).dtype, aval_of(r).shape))
    return _finish(r, shape, axes, keepdims)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """The maximum over ``axis``; NaN propagates, as in NumPy.

    An empty reduction raises ``ValueError`` unless ``initial`` is given; ``where`` requires
    ``initial``.

    Example:
        >>> fnp.max(fnp.asarray([[1, 5], [7, 2]]), axis=1)
        Array([5, 7], dtype=int32)
    """
    return _extremum("max", "max", a, axis, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    """The minimum over ``axis``; NaN propagates (see ``max`` for the arguments)."""
    return _extremum("min", "min", a, axis, out, keepdims, initial, where)


def amax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Alias of ``max``."""
    return _extremum("amax", "max", a, axis, out, keepdims, initial, where)


def amin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """Alias of ``min``."""
    return _extremum("amin", "min", a, axis, out, keepdims, initial, where)


def ptp(a, axis=None, out=None, keepdims=False):
    """Range (maximum minus minimum) over ``axis``."""
    hi = _extremum("ptp", "max", a, axis, out, keepdims, None, None)
    lo = _extremum("ptp", "min", a, axis, out, keepdims, None, None)
    return ew.sub_p.bind(hi, lo)


# ---------------------------------------------------------------- argmax, argmin

def _arg_extremum(op, a, axis, out, keepdims):
    _no_out(op, out)
    x = _asarray(op, a)
    shape = x.shape
    if axis is None:
        x = _reshape(x, (x.size,))
        ax = 0
    else:
        ax = canonicalize_axis(op, int(axis), x.ndim)
    if x.shape[ax] == 0:
        raise errors.shape_error(op, f"attempt to get {op} of an empty sequence (axis {ax} of "
                                 f"{aval_of(x).str_short()}).", "reduce over a non-empty axis.")
    fn = red.argmax if op == "argmax" else red.argmin
    r = fn(x, ax, dtypes.default_int())
    if keepdims:
        r = st.reshape(r, (1,) * len(shape) if axis is None else _keepdims_shape(shape, (ax,)))
    return r


def argmax(a, axis=None, out=None, keepdims=False):
    """Index of the first maximum along ``axis`` (of the flattened array when None), as
    int32; NaN counts as the maximum, as in NumPy.

    Example:
        >>> fnp.argmax(fnp.asarray([1.0, 3.0, 3.0]))
        Array(1, dtype=int32)
    """
    return _arg_extremum("argmax", a, axis, out, keepdims)


def argmin(a, axis=None, out=None, keepdims=False):
    """Index of the first minimum along ``axis`` (see ``argmax``)."""
    return _arg_extremum("argmin", a, axis, out, keepdims)


# ---------------------------------------------------------------- all, any, count_nonzero

def _logical(op, a, axis, out, keepdims, where):
    _no_out(op, out)
    x = _asarray(op, a)
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    x = ew.convert_element_type(x, dtypes.bool_)
    if where is not None:
        x = _select(_mask(op, where, shape), op == "all", x)
    r = (red.reduce_and if op == "all" else red.reduce_or)(x, axes)
    return _finish(r, shape, axes, keepdims)


def all(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    """Whether every element along ``axis`` is true (nonzero); True for empty reductions."""
    return _logical("all", a, axis, out, keepdims, where)


def any(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    """Whether any element along ``axis`` is true (nonzero); False for empty reductions."""
    return _logical("any", a, axis, out, keepdims, where)


def count_nonzero(a, axis=None, *, keepdims=False):
    """Number of nonzero elements along ``axis``, as the default int (int32)."""
    x = _asarray("count_nonzero", a)
    shape = x.shape
    axes = normalize_axes("count_nonzero", axis, x.ndim)
    nz = ew.convert_element_type(ew.convert_element_type(x, dtypes.bool_), dtypes.default_int())
    return _finish(red.reduce_sum(nz, axes), shape, axes, keepdims)


# ---------------------------------------------------------------- mean, var, std, average

def _mean_parts(op, x, axes, where):
    """Sum and count over ``axes`` (count: a static int, or an array when masked)."""
    if where is None:
        return red.reduce_sum(x, axes), _count(x.shape, axes)
    mask = _mask(op, where, x.shape)
    s = red.reduce_sum(_select(mask, 0, x), axes)
    n = red.reduce_sum(ew.convert_element_type(mask, aval_of(x).dtype), axes)
    return s, n


def _compute_dtype(op, x, dtype):
    out_dt = _dtype_arg(dtype) or _float_dtype(x.dtype)
    # float16 accumulates in float32, as in JAX; integer dtype= results come from a float mean.
    comp = dtypes.float32 if out_dt == dtypes.float16 else _float_dtype(out_dt)
    return out_dt, comp


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """Arithmetic mean over ``axis``; integer inputs give the default float (float32).

    Example:
        >>> fnp.mean(fnp.asarray([1, 2]))
        Array(1.5, dtype=float32)
    """
    _no_out("mean", out)
    x = _asarray("mean", a)
    shape = x.shape
    axes = normalize_axes("mean", axis, x.ndim)
    out_dt, comp = _compute_dtype("mean", x, dtype)
    s, n = _mean_parts("mean", _util.convert_to(x, comp), axes, where)
    r = _util.convert_to(_div_by_count("mean", s, n), out_dt)
    return _finish(r, shape, axes, keepdims)


def _var(op, a, axis, dtype, out, ddof, keepdims, where, correction, nan_policy):
    _no_out(op, out)
    if correction is not None:
        if ddof != 0:
            raise ValueError(errors.message(op, "ddof and correction were both given.",
                                            "pass only one of them.", ValueError))
        ddof = correction
    x = _asarray(op, a)
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    out_dt, comp = _compute_dtype(op, x, dtype)
    x = _util.convert_to(x, comp)
    if nan_policy:
        notnan = ew.not_p.bind(_isnan(x))
        where = notnan if where is None else ew.and_p.bind(notnan, _mask(op, where, shape))
    s, n = _mean_parts(op, x, axes, where)
    mu = _div_by_count(op, s, n)
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    d = ew.sub_p.bind(x, _bcast(mu, shape, kept))
    if where is not None:
        d = _select(_mask(op, where, shape), 0, d)
    if dtypes.is_complex(comp):
        # |d|**2 = re(d conj(d)): the variance of complex values is real (as in NumPy).
        ss = red.reduce_sum(ew.real_p.bind(ew.mul_p.bind(d, ew.conj_p.bind(d))), axes)
        comp, out_dt = dtypes.real_dtype(comp), dtypes.real_dtype(out_dt)
        n = n if isinstance(n, int) else ew.real_p.bind(n)
    else:
        ss = red.reduce_sum(ew.mul_p.bind(d, d), axes)
    raval = aval_of(ss)
    n = _full(n, comp, raval.shape) if isinstance(n, int) else n
    dof = ew.sub_p.bind(n, _full(ddof, comp, raval.shape))
    zero = _full(0, comp, raval.shape)
    r = ew.div_p.bind(ss, ew.max_p.bind(dof, zero))
    if nan_policy:  # NumPy's nanvar gives NaN (not inf) where ddof leaves no degrees of freedom
        r = _select(ew.le_p.bind(dof, zero), r, _full(np.nan, comp, raval.shape))
    return _finish(_util.convert_to(r, out_dt), shape, axes, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    """Variance over ``axis``: ``sum(|x - mean|**2) / (N - ddof)``.

    Args:
      ddof: "delta degrees of freedom"; ``correction`` is its NumPy 2 / array-API name.
      where: boolean mask of the elements to include.

    Example:
        >>> fnp.var(fnp.asarray([1.0, 3.0]))
        Array(1., dtype=float32)
    """
    return _var("var", a, axis, dtype, out, ddof, keepdims, where, correction, False)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    """Standard deviation over ``axis``: the square root of ``var`` (same arguments)."""
    return ew.sqrt_p.bind(_var("std", a, axis, dtype, out, ddof, keepdims, where, correction,
                               False))


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted average over ``axis``.

    Args:
      weights: None (plain mean), an array of ``a``'s shape, or a 1-D array whose length is
        ``a.shape[axis]`` (then ``axis`` must be an int).
      returned: also return the sum of weights, broadcast to the result's shape.
    """
    op = "average"
    x = _asarray(op, a)
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    if weights is None:
        r = mean(x, axis=axis, keepdims=keepdims)
        if not returned:
            return r
        raval = aval_of(r)
        return r, _full(_count(shape, axes), raval.dtype, raval.shape)
    w = _asarray(op, weights, "weights")
    x, w = _util.promote_dtypes_inexact(op, x, w)
    wshape = aval_of(w).shape
    if wshape != shape:
        if axis is None:
            raise errors.shape_error(op, f"weights of shape {wshape} differ from a's shape "
                                     f"{shape}, so axis must be given.", "pass axis=.")
        if len(wshape) != 1 or len(axes) != 1 or wshape[0] != shape[axes[0]]:
            raise errors.shape_error(op, f"weights of shape {wshape} are not consistent with "
                                     f"a's shape {shape} along axis {axis}.",
                                     "give weights of a's shape, or 1-D weights of length "
                                     "a.shape[axis].")
        w = st.broadcast_in_dim(w, shape, axes)
    wsum = red.reduce_sum(w, axes)
    r = ew.div_p.bind(red.reduce_sum(ew.mul_p.bind(x, w), axes), wsum)
    r = _finish(r, shape, axes, keepdims)
    if returned:
        return r, _finish(wsum, shape, axes, keepdims)
    return r


# ---------------------------------------------------------------- nan-ignoring reductions

def _zero_nans(op, a, fill):
    x = _asarray(op, a)
    if not dtypes.is_inexact(x.dtype):
        return x
    return _select(_isnan(x), x, _full(fill, x.dtype, x.shape))


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``sum`` treating NaNs as zero."""
    return _sum_like("nansum", red.reduce_sum, _zero_nans("nansum", a, 0), axis, dtype, out,
                     keepdims, initial, where, 0, red.reduce_or)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``prod`` treating NaNs as one."""
    return _sum_like("nanprod", red.reduce_prod, _zero_nans("nanprod", a, 1), axis, dtype, out,
                     keepdims, initial, where, 1, red.reduce_and)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``max`` ignoring NaNs; a slice of only NaNs gives NaN."""
    return _extremum("nanmax", "max", a, axis, out, keepdims, initial, where, nan_to=True)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``min`` ignoring NaNs; a slice of only NaNs gives NaN."""
    return _extremum("nanmin", "min", a, axis, out, keepdims, initial, where, nan_to=True)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """``mean`` of the non-NaN elements; NaN where there are none."""
    x = _asarray("nanmean", a)
    if dtypes.is_inexact(x.dtype):
        notnan = ew.not_p.bind(_isnan(x))
        where = notnan if where is None else ew.and_p.bind(notnan, _mask("nanmean", where,
                                                                           x.shape))
    return mean(x, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=where)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           correction=None):
    """``var`` of the non-NaN elements; NaN where fewer than ``ddof + 1`` remain."""
    return _var("nanvar", a, axis, dtype, out, ddof, keepdims, where, correction, True)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
           correction=None):
    """``std`` of the non-NaN elements (see ``nanvar``)."""
    return ew.sqrt_p.bind(_var("nanstd", a, axis, dtype, out, ddof, keepdims, where,
                               correction, True))


# ---------------------------------------------------------------- cumulative

def _cumulative(op, prim_fn, bool_fn, a, axis, dtype):
    x = _asarray(op, a)
    if axis is None or x.ndim == 0:
        if axis is not None:
            canonicalize_axis(op, int(axis), 1)  # a 0-d array scans as a 1-element vector
        x = _reshape(x, (x.size,))
        ax = 0
    else:
        ax = canonicalize_axis(op, int(axis), x.ndim)
    dt = _dtype_arg(dtype) or _sum_dtype(x.dtype)
    x = _util.convert_to(x, dt)
    return (bool_fn if dt == dtypes.bool_ else prim_fn)(x, ax)


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum along ``axis`` (of the flattened array when None); small integers
    accumulate in the default int, as in ``sum``.

    Example:
        >>> fnp.cumsum(fnp.asarray([1, 2, 3]))
        Array([1, 3, 6], dtype=int32)
    """
    _no_out("cumsum", out)
    return _cumulative("cumsum", red.cumsum, red.cummax, a, axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product along ``axis`` (of the flattened array when None)."""
    _no_out("cumprod", out)
    return _cumulative("cumprod", red.cumprod, red.cummin, a, axis, dtype)


def _cumulative_api(op, prim_fn, bool_fn, identity, x, axis, dtype, include_initial):
    x = _asarray(op, x)
    if axis is None and x.ndim > 1:
        raise errors.shape_error(op, f"axis is required for an operand of rank {x.ndim} "
                                 f"({aval_of(x).str_short()}).", "pass axis=.")
    r = _cumulative(op, prim_fn, bool_fn, x, 0 if axis is None else axis, dtype)
    if include_initial:
        raval = aval_of(r)
        ax = 0 if axis is None or x.ndim == 0 else canonicalize_axis(op, int(axis), x.ndim)
        cfg = [(1 if i == ax else 0, 0, 0) for i in range(raval.ndim)]
        r = st.pad(r, _full(identity, raval.dtype), cfg)
    return r


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """NumPy 2's ``cumulative_sum``: like ``cumsum``, but ``axis`` is required for rank > 1
    and ``include_initial`` prepends a zero."""
    return _cumulative_api("cumulative_sum", red.cumsum, red.cummax, 0, x, axis, dtype,
                           include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """NumPy 2's ``cumulative_prod``: like ``cumprod``, with ``include_initial`` prepending a
    one."""
    return _cumulative_api("cumulative_prod", red.cumprod, red.cummin, 1, x, axis, dtype,
                           include_initial)


# ---------------------------------------------------------------- median, quantile

def _sorted_last(op, x, axes):
    """``x`` with ``axes`` moved to the end, flattened into one axis and sorted along it."""
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    batch = tuple(x.shape[i] for i in kept)
    if kept + axes != tuple(range(x.ndim)):
        x = st.transpose(x, kept + axes)
    x = _reshape(x, batch + (math.prod(aval_of(x).shape[len(kept):]),))
    return srt.sort(x, dimension=-1), batch


def _take_last(s, i: int):
    aval = aval_of(s)
    start = (0,) * aval.ndim
    limit = aval.shape[:-1] + (i + 1,)
    out = st.slice(s, start[:-1] + (i,), limit)
    return _reshape(out, aval.shape[:-1])


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median over ``axis`` (the mean of the two middle values for even counts); NaN if the
    slice holds a NaN, as in NumPy. Integer inputs give the default float."""
    op = "median"
    _no_out(op, out)
    x = _asarray(op, a)
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    x = _util.convert_to(x, _float_dtype(x.dtype))
    dt = aval_of(x).dtype
    n = _count(shape, axes)
    if n == 0:
        r = _full(np.nan, dt, tuple(d for i, d in enumerate(shape) if i not in axes))
        return _finish(r, shape, axes, keepdims)
    s, batch = _sorted_last(op, x, axes)
    lo, hi = _take_last(s, (n - 1) // 2), _take_last(s, n // 2)
    r = ew.div_p.bind(ew.add_p.bind(lo, hi), _full(2, dt, batch))
    if dtypes.is_inexact(dt):  # NaNs sort last, so the last element tells if there is one
        last = _take_last(s, n - 1)
        r = _select(_isnan(last), r, last)
    return _finish(r, shape, axes, keepdims)


def _take_traced(s, idx):
    """``s[..., idx]`` for an int32 index array ``idx``: result shape idx.shape + batch."""
    saval, iaval = aval_of(s), aval_of(idx)
    q, b = iaval.ndim, saval.ndim - 1
    full_shape = iaval.shape + saval.shape
    s_b = _bcast(s, full_shape, tuple(range(q, q + b + 1)))
    i_b = _bcast(idx, full_shape, tuple(range(q)))
    hit = ew.eq_p.bind(i_b, st.broadcasted_iota(dtypes.int32, full_shape, len(full_shape) - 1))
    # select, not multiply: infs and NaNs elsewhere in the slice must not leak in.
    return red.reduce_sum(_select(hit, 0, s_b), (len(full_shape) - 1,))


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, interpolation=None):
    """The ``q``-th quantiles over ``axis``, interpolating linearly between order statistics.

    Args:
      q: a scalar or array of quantiles in [0, 1] (may be traced); the result has shape
        ``q.shape + reduced shape``.
      method: only ``"linear"`` (NumPy's default) is supported.

    Example:
        >>> fnp.quantile(fnp.asarray([1.0, 2.0, 3.0, 4.0]), 0.5)
        Array(2.5, dtype=float32)
    """
    return _quantile("quantile", a, q, axis, out, method, keepdims, interpolation, 1.0)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, interpolation=None):
    """The ``q``-th percentiles (``q`` in [0, 100]) over ``axis``; see ``quantile``."""
    return _quantile("percentile", a, q, axis, out, method, keepdims, interpolation, 100.0)


def _quantile(op, a, q, axis, out, method, keepdims, interpolation, scale):
    _no_out(op, out)
    method = interpolation or method
    if method != "linear":
        raise NotImplementedError(errors.message(
            op, f"method={method!r} is not supported.", "use method='linear'.",
            NotImplementedError))
    x = _asarray(op, a)
    check_arraylike(op, q, names=["q"])
    shape = x.shape
    axes = normalize_axes(op, axis, x.ndim)
    x = _util.convert_to(x, _float_dtype(x.dtype))
    dt = aval_of(x).dtype
    if not isinstance(q, Tracer):
        qv = np.asarray(q)
        if qv.size and not ((qv >= 0).all() and (qv <= scale).all()):
            raise ValueError(errors.message(op, f"q must be in [0, {scale:g}], got {qv!r:.60}.",
                                            "rescale q.", ValueError))
    q = to_dtype(q, dt)
    qaval = aval_of(q)
    if scale != 1.0:
        q = ew.div_p.bind(q, _full(scale, dt, qaval.shape))
    n = _count(shape, axes)
    if n == 0:
        raise errors.shape_error(op, f"cannot take a {op} of an empty axis {axes} of "
                                 f"{aval_of(x).str_short()}.", "reduce over non-empty axes.")
    s, batch = _sorted_last(op, x, axes)
    qs = qaval.shape
    vi = ew.mul_p.bind(q, _full(n - 1, dt, qs))
    prev = ew.clamp_p.bind(_full(0, dt), ew.floor_p.bind(vi), _full(n - 1, dt))
    nxt = ew.clamp_p.bind(_full(0, dt), ew.add_p.bind(prev, _full(1, dt, qs)), _full(n - 1, dt))
    gamma = ew.sub_p.bind(vi, prev)
    lo = _take_traced(s, ew.convert_element_type(prev, dtypes.int32))
    hi = _take_traced(s, ew.convert_element_type(nxt, dtypes.int32))
    # NumPy's lerp: from below for gamma < 0.5, from above otherwise (exact at both ends).
    out_shape = qs + batch
    g = _bcast(gamma, out_shape, tuple(range(len(qs))))
    diff = ew.sub_p.bind(hi, lo)
    from_lo = ew.add_p.bind(lo, ew.mul_p.bind(diff, g))
    from_hi = ew.sub_p.bind(hi, ew.mul_p.bind(diff, ew.sub_p.bind(_full(1, dt, out_shape), g)))
    r = _select(ew.ge_p.bind(g, _full(0.5, dt, out_shape)), from_lo, from_hi)
    last = _bcast(_take_last(s, n - 1), out_shape, tuple(range(len(qs), len(out_shape))))
    r = _select(_isnan(last), r, last)
    if keepdims:
        r = st.reshape(r, qs + _keepdims_shape(shape, axes))
    return r


__all__ = ["sum", "prod", "max", "min", "amax", "amin", "ptp", "argmax", "argmin", "all", "any",
           "count_nonzero", "mean", "var", "std", "average", "nansum", "nanprod", "nanmax",
           "nanmin", "nanmean", "nanvar", "nanstd", "cumsum", "cumprod", "cumulative_sum",
           "cumulative_prod", "median", "quantile", "percentile"]
