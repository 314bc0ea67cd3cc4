"""Sorting and searching: sort, argsort, lexsort, unique, searchsorted.

All of them lower to the ``sort`` primitive (argsort sorts ``(x, iota)``); NaNs sort last, as in
NumPy. ``unique`` has a data-dependent size, so under a transformation it needs ``size=``.
"""
from __future__ import annotations

from funcgrad import dtypes, errors
from funcgrad.core import Tracer
from funcgrad.numpy import _reductions, _util
from funcgrad.numpy._util import aval_of, canonicalize_axis, check_arraylike
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import reductions as red
from funcgrad.primitives import sorting as srt
from funcgrad.primitives import structural as st

# ---------------------------------------------------------------- helpers


def _asarray(op: str, a, name: str = "a"):
    check_arraylike(op, a, names=[name])
    return _util.asarray(a)


def _flatten_or_axis(op: str, x, axis):
    """``(x, axis)`` with ``axis=None`` meaning the flattened array."""
    if axis is None:
        return (x if x.ndim == 1 else st.reshape(x, (x.size,))), 0
    return x, canonicalize_axis(op, int(axis), x.ndim)


def _unsupported(op: str, name: str, value):
    if value is not None:
        raise NotImplementedError(errors.message(
            op, f"{name}={value!r} is not supported.", f"omit {name}=.", NotImplementedError))


def _isnan(x):
    return ew.ne_p.bind(x, x)


def _less_nan_last(x, y):
    """``x < y`` in the order in which NaN is the largest value (NumPy's sort order)."""
    lt = ew.lt_p.bind(x, y)
    if not dtypes.is_inexact(aval_of(x).dtype):
        return lt
    return ew.or_p.bind(lt, ew.and_p.bind(_isnan(y), ew.not_p.bind(_isnan(x))))


def _no_complex(op: str, x):
    if aval_of(x).dtype in dtypes.COMPLEX:
        raise errors.dtype_error(op, f"complex operand {aval_of(x).str_short()} is not "
                                 "supported.", "sort by the real part or by abs() instead.")


# ---------------------------------------------------------------- sort, argsort, lexsort

def sort(a, axis=-1, kind=None, order=None, *, stable=True, descending=False):
    """Sorted copy of ``a`` along ``axis`` (the flattened array when None); NaNs go last.

    Args:
      kind: accepted for NumPy compatibility and ignored (the sort is always stable).
      stable: keep equal elements in input order (always true here).
      descending: sort from largest to smallest (NaNs then come first).

    Example:
        >>> fnp.sort(fnp.asarray([3, 1, 2]))
        Array([1, 2, 3], dtype=int32)
    """
    _unsupported("sort", "order", order)
    x = _asarray("sort", a)
    _no_complex("sort", x)
    x, ax = _flatten_or_axis("sort", x, axis)
    out = srt.sort(x, ax, is_stable=bool(stable))
    return st.rev(out, (ax,)) if descending else out


def argsort(a, axis=-1, kind=None, order=None, *, stable=True, descending=False):
    """Indices (int32) that sort ``a`` along ``axis`` (the flattened array when None).

    The sort is stable: equal elements keep their input order, also when ``descending``.

    Example:
        >>> fnp.argsort(fnp.asarray([3.0, 1.0, 2.0]))
        Array([1, 2, 0], dtype=int32)
    """
    _unsupported("argsort", "order", order)
    x = _asarray("argsort", a)
    _no_complex("argsort", x)
    x, ax = _flatten_or_axis("argsort", x, axis)
    shape = x.shape
    iota = st.broadcasted_iota(dtypes.int32, shape, ax)
    if descending:
        # Sorting the reversed input stably and reversing back keeps ties in input order.
        x = st.rev(x, (ax,))
    _, idx = srt.sort([x, iota], ax, is_stable=True, num_keys=1)
    if descending:
        last = st.full(shape, shape[ax] - 1, dtypes.int32)
        idx = ew.sub_p.bind(last, st.rev(idx, (ax,)))
    return idx


def lexsort(keys, axis=-1):
    """Indices (int32) that sort by several keys; the LAST key is the primary one.

    Args:
      keys: a sequence of same-shaped arrays, or an array whose first axis indexes the keys.

    Example:
        >>> fnp.lexsort([fnp.asarray([2, 1, 0]), fnp.asarray([1, 0, 1])])
        Array([1, 2, 0], dtype=int32)
    """
    if isinstance(keys, (list, tuple)):
        ks = [_asarray("lexsort", k, "keys") for k in keys]
    else:
        arr = _asarray("lexsort", keys, "keys")
        if arr.ndim == 0:
            raise errors.shape_error("lexsort", "keys is a 0-d array.",
                                     "pass a sequence of arrays, or an array of rank >= 1.")
        ks = [st.reshape(st.slice(arr, (i,) + (0,) * (arr.ndim - 1), (i + 1,) + arr.shape[1:]),
                         arr.shape[1:]) for i in range(arr.shape[0])]
    if not ks:
        raise errors.shape_error("lexsort", "needs at least one key.", "pass one or more keys.")
    if len({k.shape for k in ks}) > 1:
        shown = ", ".join(aval_of(k).str_short() for k in ks)
        raise errors.shape_error("lexsort", f"all keys need the same shape, got {shown}.",
                                 "broadcast the keys to one shape first.")
    for k in ks:
        _no_complex("lexsort", k)
    shape = ks[0].shape
    ax = canonicalize_axis("lexsort", int(axis), len(shape))
    iota = st.broadcasted_iota(dtypes.int32, shape, ax)
    return srt.sort(ks[::-1] + [iota], ax, is_stable=True, num_keys=len(ks))[-1]


# ---------------------------------------------------------------- searchsorted

def searchsorted(a, v, side="left", sorter=None, *, method=None):
    """Indices (int32) at which inserting ``v`` into the sorted 1-D ``a`` keeps it sorted.

    Works under transformations: it counts, for each query, the elements of ``a`` below it
    (``side="left"``) or not above it (``side="right"``), with NaN ordered last as in ``sort``.

    Args:
      a: a 1-D array sorted ascending (or any order, with ``sorter`` its argsort).
      v: the values to insert; the result has ``v``'s shape.
      side: "left" (first suitable index) or "right" (last).
      sorter: optional int array of indices that sort ``a``.

    Example:
        >>> fnp.searchsorted(fnp.asarray([1, 2, 3]), fnp.asarray([2, 5]))
        Array([1, 3], dtype=int32)
    """
    op = "searchsorted"
    if side not in ("left", "right"):
        raise ValueError(errors.message(op, f"side must be 'left' or 'right', got {side!r}.",
                                        "pass side='left' or side='right'.", ValueError))
    a = _asarray(op, a)
    v = _asarray(op, v, "v")
    if a.ndim != 1:
        raise errors.shape_error(op, f"a must be 1-D, got {aval_of(a).str_short()}.",
                                 "flatten it (a.ravel()) or search each row separately.")
    _no_complex(op, a)
    _no_complex(op, v)
    if sorter is not None:
        perm = _asarray(op, sorter, "sorter")
        if perm.shape != a.shape:
            raise errors.shape_error(op, f"sorter {aval_of(perm).str_short()} must have a's "
                                     f"shape {aval_of(a).str_short()}.", "pass argsort(a).")
        # a[sorter] without a gather: sorting a by the inverse permutation of sorter.
        inv = argsort(perm)
        a = srt.sort([inv, a], 0, is_stable=True, num_keys=1)[1]
    a, v = _util.promote_dtypes(op, a, v)
    n = a.shape[0]
    vshape = v.shape
    full = vshape + (n,)
    a_b = st.broadcast_in_dim(a, full, (len(vshape),))
    v_b = st.broadcast_in_dim(v, full, tuple(range(len(vshape))))
    if side == "left":
        before = _less_nan_last(a_b, v_b)
    else:
        before = ew.not_p.bind(_less_nan_last(v_b, a_b))
    return red.reduce_sum(ew.convert_element_type(before, dtypes.int32), (len(vshape),))


# ---------------------------------------------------------------- unique

def _prefix(x, size: int, fill=0):
    """The first ``size`` elements of 1-D ``x``, padded with ``fill`` when it is shorter."""
    n = x.shape[0]
    if size <= n:
        return x if size == n else st.slice(x, (0,), (size,))
    return st.pad(x, fill, [(0, size - n, 0)])


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None):
    """The sorted unique elements of the flattened ``ar``.

    The number of unique elements depends on the data, so under a transformation (make_jaxpr,
    jit, vmap, grad) ``size`` must be given: the result then has exactly ``size`` entries,
    truncated, or padded with ``fill_value`` (default: the smallest element).

    Args:
      return_index: also return the index of each unique value's first occurrence.
      return_inverse: also return, for each element of ``ar``, the index of its unique value
        (with ``ar``'s shape, as in NumPy 2).
      return_counts: also return how often each unique value occurs.
      axis: only None (the flattened array) is supported.
      equal_nan: treat all NaNs as one value.
      size: the static number of results (padding entries get index ``argmin(ar)`` and
        count 0).
      fill_value: the value of padding entries.

    Returns:
      The unique values, or a tuple ``(values, [index], [inverse], [counts])`` when any
      ``return_*`` flag is set.

    Example:
        >>> fnp.unique(fnp.asarray([3, 1, 3, 2]))
        Array([1, 2, 3], dtype=int32)
    """
    op = "unique"
    if axis is not None:
        raise NotImplementedError(errors.message(
            op, f"axis={axis!r} is not supported; only axis=None (the flattened array).",
            "reshape the array so that the unique elements are scalars.", NotImplementedError))
    x = _asarray(op, ar, "ar")
    _no_complex(op, x)
    in_shape = x.shape
    if size is not None:
        size = int(size)
        if size < 0:
            raise ValueError(errors.message(op, f"size={size} is negative.",
                                            "pass size >= 0.", ValueError))
    x = st.reshape(x, (x.size,)) if x.ndim != 1 else x
    n = x.shape[0]
    dt = aval_of(x).dtype
    if n == 0:
        k = size or 0
        empty = (st.full((k,), 0 if fill_value is None else fill_value, dt),
                 st.full((k,), 0, dtypes.int32), st.full(in_shape, 0, dtypes.int32),
                 st.full((k,), 0, dtypes.int32))
        return _pack(empty, return_index, return_inverse, return_counts)
    iota = st.iota(dtypes.int32, n)
    s, perm = srt.sort([x, iota], 0, is_stable=True, num_keys=1)
    # mask[i]: s[i] starts a new run of equal values.
    first = st.full((1,), True, dtypes.bool_)
    if n > 1:
        hi, lo = st.slice(s, (1,), (n,)), st.slice(s, (0,), (n - 1,))
        new = ew.ne_p.bind(hi, lo)
        if equal_nan and dtypes.is_inexact(dt):
            new = ew.and_p.bind(new, ew.not_p.bind(ew.and_p.bind(_isnan(hi), _isnan(lo))))
        mask = st.concatenate([first, new], 0)
    else:
        mask = first
    mask_i = ew.convert_element_type(mask, dtypes.int32)
    num = red.reduce_sum(mask_i, (0,))
    if size is None:
        if isinstance(num, Tracer):
            raise errors.ConcretizationError(errors.message(
                op, f"the number of unique elements of a traced {aval_of(x).str_short()} "
                "value depends on its data, so the result shape is unknown while tracing.",
                "pass size=N (the result then has exactly N entries, padded with fill_value), "
                "or call unique outside the transformation.", errors.ConcretizationError))
        size = int(num)
    # Compact the run starts to the front; the stable sort keeps them in ascending order.
    _, u, first_idx, start = srt.sort([ew.not_p.bind(mask), s, perm, iota], 0, is_stable=True,
                                      num_keys=1)
    k = st.iota(dtypes.int32, size)
    num_b = st.broadcast_in_dim(num, (size,), ())
    valid = ew.lt_p.bind(k, num_b)
    fill = st.slice(s, (0,), (1,)) if fill_value is None else \
        _reductions.to_dtype(fill_value, dt)
    fill = st.broadcast_in_dim(st.reshape(fill, ()), (size,), ())
    values = ew.select_n_p.bind(valid, fill, _prefix(u, size))
    outs = [values]
    if return_index:
        perm0 = st.broadcast_in_dim(st.reshape(st.slice(perm, (0,), (1,)), ()), (size,), ())
        outs.append(ew.select_n_p.bind(valid, perm0, _prefix(first_idx, size)))
    else:
        outs.append(None)
    if return_inverse:
        gid = ew.sub_p.bind(red.cumsum(mask_i, 0), st.full((n,), 1, dtypes.int32))
        inv = srt.sort([perm, gid], 0, is_stable=True, num_keys=1)[1]
        outs.append(st.reshape(inv, in_shape))
    else:
        outs.append(None)
    if return_counts:
        # A run ends where the next one starts, or at n for the last run.
        start_k = _prefix(start, size)
        next_start = _prefix(st.concatenate([st.slice(start, (1,), (n,)),
                                             st.full((1,), n, dtypes.int32)], 0), size)
        is_last = ew.eq_p.bind(ew.add_p.bind(k, st.full((size,), 1, dtypes.int32)), num_b)
        end = ew.select_n_p.bind(is_last, next_start, st.full((size,), n, dtypes.int32))
        counts = ew.sub_p.bind(end, start_k)
        outs.append(ew.select_n_p.bind(valid, st.full((size,), 0, dtypes.int32), counts))
    else:
        outs.append(None)
    return _pack(outs, return_index, return_inverse, return_counts)


def _pack(outs, return_index, return_inverse, return_counts):
    flags = (True, return_index, return_inverse, return_counts)
    picked = tuple(o for o, f in zip(outs, flags) if f)
    return picked[0] if len(picked) == 1 else picked


__all__ = ["sort", "argsort", "lexsort", "searchsorted", "unique"]
