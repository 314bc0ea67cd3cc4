"""Reduction and cumulative primitives: reduce_sum/max/min/prod/and/or, argmax/argmin and the
scans cumsum/cumprod/cummax/cummin/cumlogsumexp.

Params are static: ``axes`` is a sorted tuple of distinct non-negative axes, ``axis`` an int.
Reductions keep the operand's dtype (funcgrad.numpy chooses accumulation dtypes before binding).
Each section ends with its registration block.
"""
from __future__ import annotations

import math

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import check_dtype

NUMERIC = dtypes.NUMERIC
ORDERED = (dtypes.bool_,) + dtypes.INTS + dtypes.FLOATS  # dtypes with a total order (no complex)
# max, min, argmax and argmin also take complex values, ordered lexicographically (real part,
# then imaginary part) as NumPy and JAX order them.
LEX_ORDERED = ORDERED + dtypes.COMPLEX
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
    if dt.kind == "c":
        return np.array(complex(-np.inf, -np.inf), dt)
    if dt.kind in "iu":
        return np.array(np.iinfo(dt).min, dt)
    return np.array(False)


def highest(dtype) -> np.ndarray:
    """The identity of min for ``dtype``: inf, the largest integer, or True."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.array(np.inf, dt)
    if dt.kind == "c":
        return np.array(complex(np.inf, np.inf), dt)
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
                        lambda x, axes: np.max(x, axis=axes, initial=lowest(x.dtype)),
                        LEX_ORDERED)
reduce_min_p = _reducer("reduce_min",
                        lambda x, axes: np.min(x, axis=axes, initial=highest(x.dtype)),
                        LEX_ORDERED)
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
        check_dtype(name, x, LEX_ORDERED)
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


# ================================================================ transformation rules
# reduce_sum and cumsum are linear: their transposes broadcast, and scan the other way. The
# other jvps bind primitives only, so they are differentiable in turn: reduce_prod and cumprod
# never divide (zeros in the operand are fine at every order), and cumlogsumexp weighs
# tangents by exp(x_i - y_k) <= 1, so it stays stable.

from funcgrad.array import Array  # noqa: E402
from funcgrad.primitives import elementwise as _ew  # noqa: E402
from funcgrad.primitives import structural as _st  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402

Zero = _ad.Zero


def _nondiff(x, t) -> bool:
    # Integer and boolean operands carry no derivative.
    return type(t) is Zero or core.get_aval(x).dtype.kind not in "fc"


def _scalar(value, dtype):
    return Array(np.asarray(value, dtype))


def _const(x, value):
    """``value`` in ``x``'s dtype, broadcast to ``x``'s shape."""
    aval = core.get_aval(x)
    c = _scalar(value, aval.dtype)
    return _st.broadcast_in_dim_p.bind(c, shape=aval.shape, broadcast_dimensions=()) \
        if aval.shape else c


def _slice_axis(x, axis: int, start: int, stop: int, step: int = 1):
    shape = core.get_aval(x).shape
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, max(start, stop), step
    return _st.slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits),
                            strides=tuple(strides))


def _pad_axis(x, axis: int, lo: int, hi: int, fill):
    aval = core.get_aval(x)
    config = tuple((lo, hi, 0) if i == axis else (0, 0, 0) for i in range(aval.ndim))
    return _st.pad_p.bind(x, _scalar(fill, aval.dtype), padding_config=config)


def _rev(x, axis: int):
    return _st.rev_p.bind(x, dimensions=(axis,))


def _exclusive(y, axis: int, reverse: bool, fill):
    """An inclusive scan's result shifted by one step of the scan (``fill`` enters first):
    the exclusive scan."""
    if reverse:
        return _rev(_pad_axis(_rev(y, axis), axis, 1, -1, fill), axis)
    return _pad_axis(y, axis, 1, -1, fill)


def _interleave(even, odd, axis: int, n: int):
    """``out[2j] = even[j]``, ``out[2j + 1] = odd[j]`` along ``axis``, of length ``n``."""
    m = core.get_aval(even).shape[axis]
    if core.get_aval(odd).shape[axis] < m:  # n is odd: pad odd by one, crop at the end
        odd = _pad_axis(odd, axis, 0, 1, 0)
    shape = core.get_aval(even).shape
    pair_shape = shape[:axis + 1] + (1,) + shape[axis + 1:]
    pairs = _st.concatenate_p.bind(_st.reshape_p.bind(even, new_sizes=pair_shape),
                                   _st.reshape_p.bind(odd, new_sizes=pair_shape),
                                   dimension=axis + 1)
    out = _st.reshape_p.bind(pairs, new_sizes=shape[:axis] + (2 * m,) + shape[axis + 1:])
    return out if 2 * m == n else _slice_axis(out, axis, 0, n)


def _compose(first, second):
    # The affine maps T -> a T + b, ``first`` applied first.
    (a1, b1), (a2, b2) = first, second
    return _ew.mul_p.bind(a1, a2), _ew.add_p.bind(_ew.mul_p.bind(b1, a2), b2)


def _affine_scan(a, b, axis: int):
    """Inclusive prefix compositions of the affine maps ``(a_k, b_k)`` along ``axis``, by the
    odd/even recursion: O(log n) levels of whole-array primitives, no loop over elements."""
    n = core.get_aval(a).shape[axis]
    if n < 2:
        return a, b
    elems = (a, b)
    pairs = _compose([_slice_axis(e, axis, 0, n - 1, 2) for e in elems],
                     [_slice_axis(e, axis, 1, n, 2) for e in elems])
    odd = _affine_scan(*pairs, axis)  # the results at positions 1, 3, 5, ...
    rest = [_slice_axis(e, axis, 2, n, 2) for e in elems]
    k = core.get_aval(rest[0]).shape[axis]
    tail = _compose([_slice_axis(o, axis, 0, k) for o in odd], rest)  # positions 2, 4, ...
    even = [_st.concatenate_p.bind(_slice_axis(e, axis, 0, 1), t, dimension=axis)
            for e, t in zip(elems, tail)]
    return tuple(_interleave(e, o, axis, n) for e, o in zip(even, odd))


def linear_recurrence(a, b, axis: int, reverse: bool = False):
    """``T`` with ``T_k = a_k T_{k-1} + b_k`` along ``axis`` (``T_{-1} = 0``; scanning from
    the end when ``reverse``). Linear in ``b``, so jvp rules pass tangents as ``b``."""
    if reverse:
        return _rev(linear_recurrence(_rev(a, axis), _rev(b, axis), axis), axis)
    return _affine_scan(a, b, axis)[1]


def take_along(x, idx, axis: int):
    """``x`` indexed along ``axis`` by ``idx`` (in-bounds integers of ``x``'s shape), as one
    gather whose other axes are batching axes; linear in ``x``."""
    from funcgrad.primitives import indexing
    shape = core.get_aval(x).shape
    if shape[axis] == 0:
        return x
    others = tuple(i for i in range(len(shape)) if i != axis)
    dn = indexing.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(axis,),
                                         start_index_map=(axis,), operand_batching_dims=others,
                                         start_indices_batching_dims=others)
    idx = _st.reshape_p.bind(idx, new_sizes=shape + (1,))
    return indexing.gather(x, idx, dn, (1,) * len(shape), mode="promise_in_bounds")


# ---------------------------------------------------------------- reductions

def _reduce_sum_transpose(ct, x, *, axes):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [_st.broadcast_in_dim_p.bind(ct, shape=x.aval.shape, broadcast_dimensions=kept)]


def _reduce_prod_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    ans = reduce_prod_p.bind(x, axes=axes)
    if _nondiff(x, t):
        return ans, Zero.from_primal(ans)
    if not axes:
        return ans, t
    shape = core.get_aval(x).shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    n = math.prod(shape[a] for a in axes)
    flat_shape = tuple(shape[i] for i in kept) + (n,)

    def flat(v):  # the reduced axes moved last and merged into one
        if kept + axes != tuple(range(len(shape))):
            v = _st.transpose_p.bind(v, permutation=kept + axes)
        return _st.reshape_p.bind(v, new_sizes=flat_shape)
    xf, last = flat(x), len(flat_shape) - 1
    # d prod = sum_i t_i prod_{j<i} x_j prod_{j>i} x_j, from exclusive products on both sides:
    # no division, so zeros are fine, and cumprod's jvp differentiates this again.
    left = _exclusive(cumprod_p.bind(xf, axis=last, reverse=False), last, False, 1)
    right = _exclusive(cumprod_p.bind(xf, axis=last, reverse=True), last, True, 1)
    weights = _ew.mul_p.bind(left, right)
    return ans, reduce_sum_p.bind(_ew.mul_p.bind(flat(_ad.instantiate(t)), weights),
                                  axes=(last,))


def _chooser_jvp(prim):
    # JAX's convention: the tangent is the mean of the tangents of the elements equal to the
    # result, so ties share it equally. A NaN result takes it from the NaNs; an empty
    # reduction (the identity) gets 0.
    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axes=axes)
        if _nondiff(x, t):
            return ans, Zero.from_primal(ans)
        aval = core.get_aval(x)
        kept = tuple(i for i in range(aval.ndim) if i not in axes)
        ans_b = _st.broadcast_in_dim_p.bind(ans, shape=aval.shape, broadcast_dimensions=kept)
        both_nan = _ew.and_p.bind(_ew.ne_p.bind(x, x), _ew.ne_p.bind(ans_b, ans_b))
        hit = _ew.or_p.bind(_ew.eq_p.bind(x, ans_b), both_nan)
        hit = _ew.convert_element_type_p.bind(hit, new_dtype=aval.dtype, weak_type=False)
        count = reduce_sum_p.bind(hit, axes=axes)
        count = _ew.max_p.bind(count, _const(count, 1))
        picked = reduce_sum_p.bind(_ew.mul_p.bind(_ad.instantiate(t), hit), axes=axes)
        return ans, _ew.div_p.bind(picked, count)
    return rule


# ---------------------------------------------------------------- cumulative reductions

def _cumsum_transpose(ct, x, *, axis, reverse):
    if type(ct) is Zero:
        return [Zero(x.aval)]
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


def _cumprod_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    ans = cumprod_p.bind(x, axis=axis, reverse=reverse)
    if _nondiff(x, t):
        return ans, Zero.from_primal(ans)
    # dy_k = x_k dy_{k-1} + t_k y_{k-1}: a linear recurrence, without division.
    b = _ew.mul_p.bind(_ad.instantiate(t), _exclusive(ans, axis, reverse, 1))
    return ans, linear_recurrence(x, b, axis, reverse)


def _cumlogsumexp_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    ans = cumlogsumexp_p.bind(x, axis=axis, reverse=reverse)
    # dy_k = sum_{i<=k} exp(x_i - y_k) t_i = exp(y_{k-1} - y_k) dy_{k-1} + exp(x_k - y_k) t_k,
    # both factors in [0, 1]. Where y is -inf (all -inf so far) the weights are 0, not NaN.
    prev = _exclusive(ans, axis, reverse, -np.inf)
    zero = _const(ans, 0)
    decay = _ew.select_n_p.bind(_ew.eq_p.bind(prev, _const(ans, -np.inf)),
                                _ew.exp_p.bind(_ew.sub_p.bind(prev, ans)), zero)
    weight = _ew.select_n_p.bind(_ew.eq_p.bind(ans, _const(ans, -np.inf)),
                                 _ew.exp_p.bind(_ew.sub_p.bind(x, ans)), zero)
    b = _ew.mul_p.bind(_ad.instantiate(t), weight)
    return ans, linear_recurrence(decay, b, axis, reverse)


def _cum_chooser_jvp(prim, improves):
    # The tangent follows the position of the running extremum: the element that last
    # strictly improved it (a later tie does not move it), or the first NaN.
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, axis=axis, reverse=reverse)
        if _nondiff(x, t):
            return ans, Zero.from_primal(ans)
        shape = core.get_aval(x).shape
        n = shape[axis]
        step = _st.broadcasted_iota(np.int32, shape, axis)  # position in scan order
        if reverse:
            step = _ew.sub_p.bind(_const(step, n - 1), step)
        prev = _exclusive(ans, axis, reverse, 0)
        first_nan = _ew.and_p.bind(_ew.ne_p.bind(x, x),
                                   _ew.eq_p.bind(prev, prev))
        record = _ew.or_p.bind(_ew.or_p.bind(improves.bind(x, prev), first_nan),
                               _ew.eq_p.bind(step, _const(step, 0)))
        # The latest record so far, by a running max of the record steps.
        last = cummax_p.bind(_ew.select_n_p.bind(record, _const(step, 0), step), axis=axis,
                             reverse=reverse)
        pos = _ew.sub_p.bind(_const(last, n - 1), last) if reverse else last
        return ans, take_along(_ad.instantiate(t), pos, axis)
    return rule


def _cumulative_batch(prim):
    def rule(vals, dims, *, axis, reverse):
        (x,), (d,) = vals, dims
        return prim.bind(x, axis=_vm.shift_axis(axis, d), reverse=reverse), d
    return rule


# ---------------------------------------------------------------- registration

_tr.deflinear(reduce_sum_p, _reduce_sum_transpose)
_ad.rules[reduce_prod_p] = _reduce_prod_jvp
_ad.rules[reduce_max_p] = _chooser_jvp(reduce_max_p)
_ad.rules[reduce_min_p] = _chooser_jvp(reduce_min_p)
_tr.deflinear(cumsum_p, _cumsum_transpose)
_ad.rules[cumprod_p] = _cumprod_jvp
_ad.rules[cummax_p] = _cum_chooser_jvp(cummax_p, _ew.gt_p)
_ad.rules[cummin_p] = _cum_chooser_jvp(cummin_p, _ew.lt_p)
_ad.rules[cumlogsumexp_p] = _cumlogsumexp_jvp
for _p in [reduce_and_p, reduce_or_p, argmax_p, argmin_p]:
    _ad.defjvp_zero(_p)

for _p in [*REDUCERS, argmax_p, argmin_p]:
    _vm.defreducer(_p)
for _p in CUMULATIVE:
    _vm.rules[_p] = _cumulative_batch(_p)
