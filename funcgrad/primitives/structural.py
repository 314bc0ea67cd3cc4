"""Structural primitives: shapes and layouts (broadcast_in_dim, reshape, ...).

Params are static and hashable (tuples of ints), arrays are positional operands.
"""
from __future__ import annotations

import builtins

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives._helpers import canonicalize_axis, fmt

# ---------------------------------------------------------------- broadcast_in_dim

def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
    op = "broadcast_in_dim"
    if len(broadcast_dimensions) != x.ndim:
        raise errors.shape_error(op, f"operand {x.str_short()} has rank {x.ndim} but "
                                 f"broadcast_dimensions={broadcast_dimensions} has "
                                 f"{len(broadcast_dimensions)} entries.",
                                 "give one output dimension per operand dimension.")
    if any(b >= len(shape) or b < 0 for b in broadcast_dimensions) or \
            list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise errors.shape_error(op, f"broadcast_dimensions={broadcast_dimensions} must be "
                                 f"strictly increasing and within rank {len(shape)}.",
                                 "list the output dimensions in increasing order.")
    for i, b in enumerate(broadcast_dimensions):
        if x.shape[i] not in (1, shape[b]):
            raise errors.shape_error(op, f"operand {x.str_short()} dimension {i} (size "
                                     f"{x.shape[i]}) cannot be broadcast to size {shape[b]} of "
                                     f"the result shape {shape}.",
                                     "operand dimensions must be 1 or equal to the target.")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, b in enumerate(broadcast_dimensions):
        expanded[b] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


broadcast_in_dim_p = Primitive("broadcast_in_dim", impl=_broadcast_in_dim_impl,
                               abstract_eval=_broadcast_in_dim_abstract_eval)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    """Broadcasts ``x`` to ``shape``; operand dim ``i`` becomes result dim
    ``broadcast_dimensions[i]``."""
    return broadcast_in_dim_p.bind(x, shape=tuple(int(d) for d in shape),
                                   broadcast_dimensions=tuple(int(d) for d in
                                                              broadcast_dimensions))


# ---------------------------------------------------------------- reshape

def _reshape_abstract_eval(x, *, new_sizes):
    if any(d < 0 for d in new_sizes) or int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise errors.shape_error("reshape", f"cannot reshape {x.str_short()} ({x.size} elements) "
                                 f"into shape {new_sizes}.",
                                 "the new shape must have the same number of elements.")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = Primitive("reshape", impl=lambda x, *, new_sizes: x.reshape(new_sizes),
                      abstract_eval=_reshape_abstract_eval)


def reshape(x, new_sizes):
    """Reshapes ``x`` (row-major) to ``new_sizes``, a tuple of non-negative ints."""
    return reshape_p.bind(x, new_sizes=tuple(int(d) for d in new_sizes))


# ---------------------------------------------------------------- shared checks

def _check_dims(op: str, x: ShapedArray, dims, what: str = "dimensions"):
    """Each entry of ``dims`` is a distinct, non-negative axis of ``x``."""
    if any(not 0 <= d < x.ndim for d in dims) or len(set(dims)) != len(dims):
        raise errors.shape_error(op, f"{what}={tuple(dims)} must be distinct axes of operand "
                                 f"{x.str_short()} (rank {x.ndim}).",
                                 f"use distinct axes in [0, {x.ndim}).")


def _check_int_scalars(op: str, avals, what: str):
    for a in avals:
        if a.shape != () or a.dtype.kind not in "iu":
            raise errors.dtype_error(op, f"{what} must be integer scalars, got {fmt(*avals)}.",
                                     "pass Python ints or 0-d integer arrays.")


def _canonical_dims(op: str, dims, ndim: int) -> tuple[int, ...]:
    return tuple(canonicalize_axis(op, int(d), ndim) for d in dims)


# ---------------------------------------------------------------- transpose

def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise errors.shape_error("transpose", f"permutation={permutation} is not a permutation "
                                 f"of the axes of operand {x.str_short()} (rank {x.ndim}).",
                                 f"list each of 0..{x.ndim - 1} exactly once.")
    return x.update(shape=tuple(x.shape[p] for p in permutation))


transpose_p = Primitive("transpose", impl=lambda x, *, permutation: np.transpose(x, permutation),
                        abstract_eval=_transpose_abstract_eval)


def transpose(x, permutation):
    """Permutes the axes of ``x``: result axis ``i`` is operand axis ``permutation[i]``."""
    return transpose_p.bind(x, permutation=tuple(int(p) for p in permutation))


# ---------------------------------------------------------------- squeeze

def _squeeze_abstract_eval(x, *, dimensions):
    _check_dims("squeeze", x, dimensions)
    for d in dimensions:
        if x.shape[d] != 1:
            raise errors.shape_error("squeeze", f"cannot squeeze axis {d} of operand "
                                     f"{x.str_short()}: its size is {x.shape[d]}, not 1.",
                                     "squeeze only axes of size 1 (index or reshape others).")
    return x.update(shape=tuple(s for i, s in enumerate(x.shape) if i not in dimensions))


squeeze_p = Primitive("squeeze", impl=lambda x, *, dimensions: np.squeeze(x, dimensions),
                      abstract_eval=_squeeze_abstract_eval)


def squeeze(x, dimensions):
    """Removes the size-1 axes ``dimensions`` (negative axes count from the end)."""
    ndim = core.get_aval(x).ndim
    return squeeze_p.bind(x, dimensions=tuple(sorted(_canonical_dims("squeeze", dimensions,
                                                                      ndim))))


def expand_dims(x, dimensions):
    """Inserts size-1 axes at positions ``dimensions`` of the result.

    Not a primitive: a broadcast_in_dim, so transformations need no extra rules."""
    aval = core.get_aval(x)
    out_ndim = aval.ndim + len(dimensions)
    dims = _canonical_dims("expand_dims", dimensions, out_ndim)
    if len(set(dims)) != len(dims):
        raise errors.shape_error("expand_dims", f"repeated axis in dimensions={tuple(dimensions)}.",
                                 "list each new axis once.")
    shape = list(aval.shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    kept = tuple(i for i in range(out_ndim) if i not in dims)
    return broadcast_in_dim(x, shape, kept)


# ---------------------------------------------------------------- rev

def _rev_abstract_eval(x, *, dimensions):
    _check_dims("rev", x, dimensions)
    return x


rev_p = Primitive("rev", impl=lambda x, *, dimensions: np.flip(x, dimensions),
                  abstract_eval=_rev_abstract_eval)


def rev(x, dimensions):
    """Reverses ``x`` along each axis in ``dimensions``."""
    ndim = core.get_aval(x).ndim
    return rev_p.bind(x, dimensions=tuple(sorted(_canonical_dims("rev", dimensions, ndim))))


# ---------------------------------------------------------------- slice

def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    op = "slice"
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise errors.shape_error(op, f"operand {x.str_short()} has rank {x.ndim} but got "
                                 f"start_indices={start_indices}, limit_indices={limit_indices}, "
                                 f"strides={strides}.", "give one entry per operand axis.")
    for i, (s, lim, st, d) in enumerate(zip(start_indices, limit_indices, strides, x.shape)):
        if not 0 <= s <= lim <= d or st < 1:
            raise errors.shape_error(op, f"axis {i} of operand {x.str_short()}: need 0 <= start "
                                     f"({s}) <= limit ({lim}) <= size ({d}) and stride ({st}) "
                                     ">= 1.", "use funcgrad.numpy indexing for negative or "
                                     "out-of-range bounds, which clips them.")
    shape = tuple((lim - s + st - 1) // st for s, lim, st in
                  zip(start_indices, limit_indices, strides))
    return x.update(shape=shape)


def _slice_impl(x, *, start_indices, limit_indices, strides):
    return x[tuple(builtins.slice(s, lim, st) for s, lim, st in
                   zip(start_indices, limit_indices, strides))]


slice_p = Primitive("slice", impl=_slice_impl, abstract_eval=_slice_abstract_eval)


def slice(x, start_indices, limit_indices, strides=None):  # noqa: A001 - lax's name
    """``x[start:limit:stride]`` along every axis, with static, in-range bounds."""
    start = tuple(int(i) for i in start_indices)
    return slice_p.bind(x, start_indices=start, limit_indices=tuple(int(i) for i in limit_indices),
                        strides=(1,) * len(start) if strides is None else
                        tuple(int(s) for s in strides))


slice_ = slice


# ---------------------------------------------------------------- dynamic_slice

def _dynamic_slice_abstract_eval(x, *starts, slice_sizes):
    op = "dynamic_slice"
    if len(starts) != x.ndim or len(slice_sizes) != x.ndim:
        raise errors.shape_error(op, f"operand {x.str_short()} has rank {x.ndim} but got "
                                 f"{len(starts)} start indices and slice_sizes={slice_sizes}.",
                                 "give one start index and one size per operand axis.")
    _check_int_scalars(op, starts, "start indices")
    if any(not 0 <= s <= d for s, d in zip(slice_sizes, x.shape)):
        raise errors.shape_error(op, f"slice_sizes={slice_sizes} do not fit in operand "
                                 f"{x.str_short()}.", "each size must be in [0, axis size].")
    return x.update(shape=slice_sizes)


def _dynamic_slice_impl(x, *starts, slice_sizes):
    # Start indices are clamped so that the slice lies inside the operand, as in XLA.
    idx = tuple(builtins.slice(int(np.clip(s, 0, d - n)), int(np.clip(s, 0, d - n)) + n)
                for s, d, n in zip(starts, x.shape, slice_sizes))
    return x[idx]


dynamic_slice_p = Primitive("dynamic_slice", impl=_dynamic_slice_impl,
                            abstract_eval=_dynamic_slice_abstract_eval)


def _wrap_negative_indices(starts, shape):
    # A negative start counts from the end once (as in JAX); the primitive then clamps.
    out = []
    for s, d in zip(starts, shape):
        if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
            out.append(int(s) + d if s < 0 else int(s))
            continue
        aval = core.get_aval(s)
        if aval.shape != () or aval.dtype.kind not in "iu":
            out.append(s)  # the primitive reports the error
        elif aval.dtype.kind == "u":
            out.append(s)
        else:
            size = core.scalar_to_numpy(d, aval.dtype) if d <= np.iinfo(aval.dtype).max \
                else np.asarray(0, aval.dtype)
            size = Array(size, weak_type=aval.weak_type)
            zero = Array(np.zeros((), aval.dtype), weak_type=aval.weak_type)
            out.append(ew.select_n(ew.lt(s, zero), s, ew.add(s, size)))
    return out


def dynamic_slice(x, start_indices, slice_sizes):
    """The ``slice_sizes`` block of ``x`` at traced ``start_indices`` (negative indices count
    from the end; starts are clamped so the block lies inside ``x``)."""
    shape = core.get_aval(x).shape
    starts = _wrap_negative_indices(start_indices, shape)
    return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(int(n) for n in slice_sizes))


# ---------------------------------------------------------------- dynamic_update_slice

def _dynamic_update_slice_abstract_eval(x, update, *starts):
    op = "dynamic_update_slice"
    if update.ndim != x.ndim or len(starts) != x.ndim:
        raise errors.shape_error(op, f"operand {x.str_short()}, update {update.str_short()} and "
                                 f"{len(starts)} start indices must have equal ranks.",
                                 "give an update of the operand's rank and one start per axis.")
    if any(u > d for u, d in zip(update.shape, x.shape)):
        raise errors.shape_error(op, f"update {update.str_short()} is larger than operand "
                                 f"{x.str_short()}.", "slice the update to fit.")
    if update.dtype != x.dtype:
        raise errors.dtype_error(op, f"operand {x.str_short()} and update {update.str_short()} "
                                 "have different dtypes.", "convert the update to the operand's "
                                 "dtype (update.astype(x.dtype)).")
    _check_int_scalars(op, starts, "start indices")
    return x


def _dynamic_update_slice_impl(x, update, *starts):
    idx = tuple(builtins.slice(int(np.clip(s, 0, d - n)), int(np.clip(s, 0, d - n)) + n)
                for s, d, n in zip(starts, x.shape, update.shape))
    out = x.copy()
    out[idx] = update
    return out


dynamic_update_slice_p = Primitive("dynamic_update_slice", impl=_dynamic_update_slice_impl,
                                   abstract_eval=_dynamic_update_slice_abstract_eval)


def dynamic_update_slice(x, update, start_indices):
    """``x`` with the block at traced ``start_indices`` replaced by ``update`` (negative
    indices count from the end; starts are clamped so the block lies inside ``x``)."""
    shape = core.get_aval(x).shape
    starts = _wrap_negative_indices(start_indices, shape)
    return dynamic_update_slice_p.bind(x, update, *starts)


# ---------------------------------------------------------------- concatenate

def _concatenate_abstract_eval(*operands, dimension):
    op = "concatenate"
    if not operands:
        raise errors.shape_error(op, "needs at least one operand.", "pass one or more arrays.")
    first = operands[0]
    if any(o.ndim != first.ndim for o in operands):
        raise errors.shape_error(op, f"operands must have equal ranks, got {fmt(*operands)}.",
                                 "reshape (or expand_dims) the operands to one rank.")
    if not 0 <= dimension < first.ndim:
        raise errors.shape_error(op, f"dimension={dimension} is out of range for operands "
                                 f"{fmt(*operands)}.", f"use a dimension in [0, {first.ndim}).")
    for o in operands:
        if any(a != b for i, (a, b) in enumerate(zip(o.shape, first.shape)) if i != dimension):
            raise errors.shape_error(op, f"operands {fmt(*operands)} differ in a size other "
                                     f"than dimension {dimension}.",
                                     "only the concatenated axis may differ in size.")
        if o.dtype != first.dtype:
            raise errors.dtype_error(op, f"operands must have equal dtypes, got "
                                     f"{fmt(*operands)}.", "convert them to one dtype, or use "
                                     "funcgrad.numpy.concatenate, which promotes.")
    shape = list(first.shape)
    shape[dimension] = sum(o.shape[dimension] for o in operands)
    return ShapedArray(shape, first.dtype, all(o.weak_type for o in operands))


concatenate_p = Primitive("concatenate",
                          impl=lambda *xs, dimension: np.concatenate(xs, axis=dimension),
                          abstract_eval=_concatenate_abstract_eval)


def concatenate(operands, dimension):
    """Joins ``operands`` (equal ranks and dtypes) along axis ``dimension``."""
    return concatenate_p.bind(*operands, dimension=int(dimension))


# ---------------------------------------------------------------- pad

def _pad_abstract_eval(x, padding_value, *, padding_config):
    op = "pad"
    if padding_value.shape != ():
        raise errors.shape_error(op, f"padding_value must be a scalar, got "
                                 f"{padding_value.str_short()}.", "pass a 0-d value.")
    if padding_value.dtype != x.dtype:
        raise errors.dtype_error(op, f"operand {x.str_short()} and padding_value "
                                 f"{padding_value.str_short()} have different dtypes.",
                                 "convert the padding value to the operand's dtype.")
    if len(padding_config) != x.ndim or any(len(c) != 3 for c in padding_config):
        raise errors.shape_error(op, f"padding_config={padding_config} must hold one (low, "
                                 f"high, interior) triple per axis of {x.str_short()}.",
                                 "give one triple per axis.")
    shape = []
    for i, ((lo, hi, interior), d) in enumerate(zip(padding_config, x.shape)):
        n = lo + hi + d + max(d - 1, 0) * interior
        if interior < 0 or n < 0:
            raise errors.shape_error(op, f"padding {(lo, hi, interior)} of axis {i} of "
                                     f"{x.str_short()} is invalid (interior < 0 or a negative "
                                     "result size).", "use interior >= 0 and crop no more "
                                     "than the padded size.")
        shape.append(n)
    return x.update(shape=tuple(shape))


def _pad_impl(x, padding_value, *, padding_config):
    # Pad with the non-negative parts first, then crop the negative ones.
    grown = tuple(max(lo, 0) + max(hi, 0) + d + max(d - 1, 0) * it
                  for (lo, hi, it), d in zip(padding_config, x.shape))
    out = np.full(grown, padding_value, dtype=x.dtype)
    out[tuple(builtins.slice(max(lo, 0), max(lo, 0) + (d - 1) * (it + 1) + 1 if d else 0, it + 1)
              for (lo, hi, it), d in zip(padding_config, x.shape))] = x
    crop = tuple(builtins.slice(max(-lo, 0), n - max(-hi, 0))
                 for (lo, hi, _), n in zip(padding_config, grown))
    return out[crop]


pad_p = Primitive("pad", impl=_pad_impl, abstract_eval=_pad_abstract_eval)


def pad(x, padding_value, padding_config):
    """Pads ``x`` with the scalar ``padding_value``: ``padding_config`` holds a (low, high,
    interior) triple per axis; negative low/high crop."""
    if type(padding_value) in (bool, int, float, complex):  # a Python scalar adopts x's dtype
        with np.errstate(all="ignore"):
            padding_value = Array(np.asarray(padding_value).astype(core.get_aval(x).dtype))
    return pad_p.bind(x, padding_value, padding_config=tuple(
        (int(lo), int(hi), int(it)) for lo, hi, it in padding_config))


# ---------------------------------------------------------------- iota

def _iota_abstract_eval(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape) or any(d < 0 for d in shape):
        raise errors.shape_error("iota", f"dimension={dimension} must be an axis of shape "
                                 f"{shape} (with non-negative sizes).",
                                 f"use a dimension in [0, {len(shape)}).")
    if dtype not in dtypes.NUMERIC:
        raise errors.dtype_error("iota", f"dtype {dtype} is not numeric.",
                                 "use an integer or floating dtype.")
    return ShapedArray(shape, dtype)


def _iota_impl(*, dtype, shape, dimension):
    ramp = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return np.array(np.broadcast_to(ramp.reshape(expanded), shape))


iota_p = Primitive("iota", impl=_iota_impl, abstract_eval=_iota_abstract_eval)


def iota(dtype, size):
    """``[0, 1, ..., size - 1]`` of ``dtype``."""
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape, dimension):
    """An array of ``shape`` whose value is the index along axis ``dimension``."""
    shape = tuple(int(d) for d in shape)
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=shape,
                       dimension=canonicalize_axis("broadcasted_iota", int(dimension),
                                                   len(shape)))


# ---------------------------------------------------------------- full (not primitives)

def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with the scalar ``fill_value``, a broadcast_in_dim."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d)
                                                                              for d in shape)
    aval = core.get_aval(fill_value)
    if aval.shape != ():
        raise errors.shape_error("full", f"fill_value must be a scalar, got {aval.str_short()}.",
                                 "pass a 0-d value, or use broadcast_in_dim.")
    if dtype is not None:
        dtype = dtypes.canonicalize(dtype)
        if type(fill_value) in (bool, int, float, complex):
            with np.errstate(all="ignore"):
                fill_value = Array(np.asarray(fill_value).astype(dtype))
        elif aval.dtype != dtype or aval.weak_type:
            fill_value = ew.convert_element_type(fill_value, dtype)
    return broadcast_in_dim(fill_value, shape, ())


def full_like(x, fill_value, dtype=None, shape=None):
    """An array like ``x`` (its shape and dtype, unless given) filled with ``fill_value``."""
    aval = core.get_aval(x)
    return full(aval.shape if shape is None else shape, fill_value,
                aval.dtype if dtype is None else dtype)


__all__ = ["broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "rev", "slice",
           "slice_", "dynamic_slice", "dynamic_update_slice", "concatenate", "pad", "iota",
           "broadcasted_iota", "full", "full_like"]


# ================================================================ transformation rules
# Every primitive above is linear in its array operands (iota has none), so each jvp applies
# the primitive to the tangents, and each transpose is the adjoint layout map. Batching moves
# the batch dimension to the front (or shifts the axis params past it) and adjusts params.

from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402

_Zero = _ad.Zero


def _aval(x):
    return x.aval if _tr.is_undefined(x) else core.get_aval(x)


def _scalar(value, dtype):
    return Array(np.asarray(value, dtype=dtype))


def _zeros(aval):
    return _ad.zeros_like_aval(aval)


# ---------------------------------------------------------------- transposes
# Unary ones are written as ``(ct, operand aval, **params) -> ct of the operand``.

def _broadcast_in_dim_transpose(ct, aval, *, shape, broadcast_dimensions):
    from funcgrad.primitives.reductions import reduce_sum_p
    # Sum over the new axes and over the size-1 operand axes that were stretched.
    summed = tuple(sorted(
        [d for d in range(len(shape)) if d not in broadcast_dimensions]
        + [b for i, b in enumerate(broadcast_dimensions) if aval.shape[i] == 1 and shape[b] != 1]))
    out = reduce_sum_p.bind(ct, axes=summed) if summed else ct
    if core.get_aval(out).shape != aval.shape:
        out = reshape_p.bind(out, new_sizes=aval.shape)
    return out


def _reshape_transpose(ct, aval, **_):
    # Also the transpose of squeeze: only the shape changes.
    return reshape_p.bind(ct, new_sizes=aval.shape)


def _transpose_transpose(ct, aval, *, permutation):
    return transpose_p.bind(ct, permutation=tuple(int(i) for i in np.argsort(permutation)))


def _rev_transpose(ct, aval, *, dimensions):
    return rev_p.bind(ct, dimensions=dimensions)


def _slice_transpose(ct, aval, *, start_indices, limit_indices, strides):
    # The adjoint of a strided slice puts ct back among zeros: a pad with interior st - 1.
    config = []
    for s, n, st, d in zip(start_indices, core.get_aval(ct).shape, strides, aval.shape):
        used = s + (n - 1) * st + 1 if n else s
        config.append((s, d - used, st - 1 if n else 0))
    zero = _scalar(0, core.get_aval(ct).dtype)
    return pad_p.bind(ct, zero, padding_config=tuple(config))


def _pad_transpose(ct, x, padding_value, *, padding_config):
    if type(ct) is _Zero:
        return [_Zero(_aval(x)) if _tr.is_undefined(x) else None,
                _Zero(_aval(padding_value)) if _tr.is_undefined(padding_value) else None]
    ct_aval = core.get_aval(ct)
    x_aval = _aval(x)
    # Undo low/high (a negative pad crops; cropped operand entries get zeros back), then
    # keep every (interior + 1)-th entry.
    zero = _scalar(0, ct_aval.dtype)
    unpadded = pad_p.bind(ct, zero, padding_config=tuple((-lo, -hi, 0)
                                                         for lo, hi, _ in padding_config))
    un_shape = core.get_aval(unpadded).shape
    t_x = slice_p.bind(unpadded, start_indices=(0,) * x_aval.ndim, limit_indices=un_shape,
                       strides=tuple(it + 1 for _, _, it in padding_config))
    t_pv = None
    if _tr.is_undefined(padding_value):
        from funcgrad.primitives.reductions import reduce_sum_p
        all_axes = tuple(range(ct_aval.ndim))
        total = reduce_sum_p.bind(ct, axes=all_axes)
        t_pv = ew.sub_p.bind(total, reduce_sum_p.bind(t_x, axes=all_axes))
    return [t_x if _tr.is_undefined(x) else None, t_pv]


def _concatenate_transpose(ct, *operands, dimension):
    out = []
    start = 0
    for o in operands:
        aval = _aval(o)
        n = aval.shape[dimension]
        if not _tr.is_undefined(o):
            out.append(None)
        elif type(ct) is _Zero:
            out.append(_Zero(aval))
        else:
            ct_shape = core.get_aval(ct).shape
            lo = [0] * len(ct_shape)
            hi = list(ct_shape)
            lo[dimension], hi[dimension] = start, start + n
            out.append(slice_p.bind(ct, start_indices=tuple(lo), limit_indices=tuple(hi),
                                    strides=(1,) * len(ct_shape)))
        start += n
    return out


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    if any(_tr.is_undefined(s) for s in starts):
        raise AssertionError("dynamic_slice is not linear in its start indices")
    if type(ct) is _Zero:
        return [_Zero(x.aval)] + [None] * len(starts)
    return [dynamic_update_slice_p.bind(_zeros(x.aval), ct, *starts)] + [None] * len(starts)


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    if any(_tr.is_undefined(s) for s in starts):
        raise AssertionError("dynamic_update_slice is not linear in its start indices")
    x_aval, u_aval = _aval(x), _aval(update)
    nones = [None] * len(starts)
    if type(ct) is _Zero:
        return [_Zero(x_aval) if _tr.is_undefined(x) else None,
                _Zero(u_aval) if _tr.is_undefined(update) else None] + nones
    t_x = t_u = None
    if _tr.is_undefined(x):
        t_x = dynamic_update_slice_p.bind(ct, _zeros(u_aval), *starts)
    if _tr.is_undefined(update):
        t_u = dynamic_slice_p.bind(ct, *starts, slice_sizes=u_aval.shape)
    return [t_x, t_u] + nones


# ---------------------------------------------------------------- jvps with index operands

def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if type(tangents[0]) is _Zero:
        return out, _Zero.from_primal(out)
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *starts = primals
    out = dynamic_update_slice_p.bind(x, update, *starts)
    t_x, t_u = tangents[0], tangents[1]
    if type(t_x) is _Zero and type(t_u) is _Zero:
        return out, _Zero.from_primal(out)
    t_out = dynamic_update_slice_p.bind(_ad.instantiate(t_x), _ad.instantiate(t_u), *starts)
    return out, t_out


def _pad_jvp(primals, tangents, *, padding_config):
    out = pad_p.bind(*primals, padding_config=padding_config)
    return out, pad_p.bind(*map(_ad.instantiate, tangents), padding_config=padding_config)


# ---------------------------------------------------------------- batching

def _broadcast_in_dim_batch(vals, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = vals, dims
    size = core.get_aval(x).shape[d]
    x = _vm.moveaxis(x, d, 0)
    return broadcast_in_dim_p.bind(x, shape=(size,) + shape, broadcast_dimensions=(0,) + tuple(
        b + 1 for b in broadcast_dimensions)), 0


def _reshape_batch(vals, dims, *, new_sizes):
    (x,), (d,) = vals, dims
    size = core.get_aval(x).shape[d]
    x = _vm.moveaxis(x, d, 0)
    return reshape_p.bind(x, new_sizes=(size,) + new_sizes), 0


def _transpose_batch(vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    perm = (d,) + tuple(_vm.shift_axis(p, d) for p in permutation)
    return transpose_p.bind(x, permutation=perm), 0


def _squeeze_batch(vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    new = tuple(_vm.shift_axis(a, d) for a in dimensions)
    return squeeze_p.bind(x, dimensions=new), d - sum(a < d for a in dimensions)


def _rev_batch(vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    return rev_p.bind(x, dimensions=tuple(_vm.shift_axis(a, d) for a in dimensions)), d


def _slice_batch(vals, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    size = core.get_aval(x).shape[d]
    return slice_p.bind(x, start_indices=start_indices[:d] + (0,) + start_indices[d:],
                        limit_indices=limit_indices[:d] + (size,) + limit_indices[d:],
                        strides=strides[:d] + (1,) + strides[d:]), d


def _concatenate_batch(vals, dims, *, dimension):
    size = _vm.batch_size(vals, dims)
    xs = [_vm.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
    return concatenate_p.bind(*xs, dimension=dimension + 1), 0


def _pad_batch(vals, dims, *, padding_config):
    (x, pv), (dx, dpv) = vals, dims
    size = _vm.batch_size(vals, dims)
    x = _vm.bdim_at_front(x, dx, size)
    config = ((0, 0, 0),) + padding_config
    if dpv is None:
        return pad_p.bind(x, pv, padding_config=config), 0
    # A per-example padding value: pad with anything, then select it where the mask of
    # padded positions (pad of True with False) is False.
    x_aval = core.get_aval(x)
    padded = pad_p.bind(x, _scalar(0, x_aval.dtype), padding_config=config)
    out_shape = core.get_aval(padded).shape
    ones = broadcast_in_dim_p.bind(_scalar(True, np.bool_), shape=x_aval.shape,
                                   broadcast_dimensions=())
    mask = pad_p.bind(ones, _scalar(False, np.bool_), padding_config=config)
    pv = broadcast_in_dim_p.bind(pv, shape=out_shape, broadcast_dimensions=(0,))
    return ew.select_n_p.bind(mask, pv, padded), 0


def _index_vectors(starts, dims, size):
    # Stacks batched/unbatched scalar starts into a (size, n) int64 array of index vectors.
    cols = []
    for s, d in zip(starts, dims):
        s = broadcast_in_dim_p.bind(s, shape=(size, 1),
                                    broadcast_dimensions=() if d is None else (0,))
        dtype = core.get_aval(s).dtype
        if dtype == np.uint64:  # keep huge starts huge (they clamp to the end), not negative
            big = broadcast_in_dim_p.bind(_scalar(np.iinfo(np.int64).max, dtype),
                                          shape=(size, 1), broadcast_dimensions=())
            s = ew.min_p.bind(s, big)
        cols.append(ew.convert_element_type_p.bind(s, new_dtype=np.dtype(np.int64),
                                                   weak_type=False))
    if not cols:
        return broadcast_in_dim_p.bind(_scalar(0, np.int64), shape=(size, 0),
                                       broadcast_dimensions=())
    return concatenate_p.bind(*cols, dimension=1) if len(cols) > 1 else cols[0]


def _zero_start(starts):
    return _scalar(0, core.get_aval(starts[0]).dtype if starts else np.int32)


def _dynamic_slice_batch(vals, dims, *, slice_sizes):
    x, *starts = vals
    dx, *dstarts = dims
    size = _vm.batch_size(vals, dims)
    nd = len(slice_sizes)
    if all(d is None for d in dstarts):
        x = _vm.moveaxis(x, dx, 0)
        return dynamic_slice_p.bind(x, _zero_start(starts), *starts,
                                    slice_sizes=(size,) + slice_sizes), 0
    # Per-example starts: one gather window per example; "clip" clamps like dynamic_slice.
    from funcgrad.primitives import indexing
    idx = _index_vectors(starts, dstarts, size)
    if dx is None:
        dn = indexing.GatherDimensionNumbers(
            offset_dims=tuple(range(1, nd + 1)), collapsed_slice_dims=(),
            start_index_map=tuple(range(nd)))
        return indexing.gather(x, idx, dn, slice_sizes, mode="clip"), 0
    x = _vm.moveaxis(x, dx, 0)
    dn = indexing.GatherDimensionNumbers(
        offset_dims=tuple(range(1, nd + 1)), collapsed_slice_dims=(),
        start_index_map=tuple(range(1, nd + 1)), operand_batching_dims=(0,),
        start_indices_batching_dims=(0,))
    return indexing.gather(x, idx, dn, (1,) + slice_sizes, mode="clip"), 0


def _dynamic_update_slice_batch(vals, dims):
    x, update, *starts = vals
    dx, du, *dstarts = dims
    size = _vm.batch_size(vals, dims)
    x = _vm.bdim_at_front(x, dx, size)
    update = _vm.bdim_at_front(update, du, size)
    if all(d is None for d in dstarts):
        return dynamic_update_slice_p.bind(x, update, _zero_start(starts), *starts), 0
    from funcgrad.primitives import indexing
    nd = len(starts)
    idx = _index_vectors(starts, dstarts, size)
    dn = indexing.ScatterDimensionNumbers(
        update_window_dims=tuple(range(1, nd + 1)), inserted_window_dims=(),
        scatter_dims_to_operand_dims=tuple(range(1, nd + 1)), operand_batching_dims=(0,),
        scatter_indices_batching_dims=(0,))
    return indexing.scatter(x, idx, update, dn, mode="clip"), 0


# ---------------------------------------------------------------- registration

for _p, _rule in [(broadcast_in_dim_p, _broadcast_in_dim_transpose),
                  (reshape_p, _reshape_transpose), (squeeze_p, _reshape_transpose),
                  (transpose_p, _transpose_transpose), (rev_p, _rev_transpose),
                  (slice_p, _slice_transpose)]:
    _tr.deflinear(_p, _tr.linear_transpose_unary(_rule))
_tr.deflinear(concatenate_p, _concatenate_transpose)
_ad.rules[pad_p] = _pad_jvp
_ad.rules[dynamic_slice_p] = _dynamic_slice_jvp
_ad.rules[dynamic_update_slice_p] = _dynamic_update_slice_jvp
_ad.defjvp_zero(iota_p)  # no operands: never reached with a nonzero tangent

_tr.rules[pad_p] = _pad_transpose
_tr.rules[dynamic_slice_p] = _dynamic_slice_transpose
_tr.rules[dynamic_update_slice_p] = _dynamic_update_slice_transpose

_vm.rules[broadcast_in_dim_p] = _broadcast_in_dim_batch
_vm.rules[reshape_p] = _reshape_batch
_vm.rules[transpose_p] = _transpose_batch
_vm.rules[squeeze_p] = _squeeze_batch
_vm.rules[rev_p] = _rev_batch
_vm.rules[slice_p] = _slice_batch
_vm.rules[concatenate_p] = _concatenate_batch
_vm.rules[pad_p] = _pad_batch
_vm.rules[dynamic_slice_p] = _dynamic_slice_batch
_vm.rules[dynamic_update_slice_p] = _dynamic_update_slice_batch
