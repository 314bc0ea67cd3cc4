"""Indexing primitives: gather and the scatter family (set, add, mul, min, max).

The design is XLA's, as in JAX's lax: ``indices`` is an integer array whose last axis is the
index vector; every other axis of ``indices`` is a *batch* axis. For each batch position,
gather reads one window of ``slice_sizes`` from ``operand`` starting at the index vector
(scattered onto operand axes by ``start_index_map``), and scatter writes one window of
``updates`` there. Dimension numbers say which output axes are window axes and which operand
axes are dropped from (gather) or inserted into (scatter) the window. That one form covers every
NumPy index expression (``funcgrad.numpy._indexing`` builds it), scatter-add is the transpose of
gather with the same dimension numbers, and the ``*_batching_dims`` fields express a gather
from a batched operand with batched indices (the batching rule adds one entry to each).

Modes (static ``mode`` param): ``"clip"`` clamps each window start into the operand;
``"fill"`` makes gather return ``fill_value`` for any window that is not entirely in bounds and
makes scatter drop such windows; ``"promise_in_bounds"`` lets backends assume in-bounds indices
(the NumPy impls clamp).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from funcgrad import errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import fmt

MODES = ("clip", "fill", "promise_in_bounds")
_MODE_ALIASES = {None: "fill", "fill": "fill", "drop": "fill", "fill_or_drop": "fill",
                 "clip": "clip", "promise_in_bounds": "promise_in_bounds"}


class GatherDimensionNumbers(NamedTuple):
    """How a gather maps indices and windows to operand and output axes.

    offset_dims: output axes that hold window axes (sorted); the other output axes are the
      batch axes of ``indices``, in order.
    collapsed_slice_dims: operand axes whose window size is 1 and that the output drops.
    start_index_map: operand axis of each entry of the index vector.
    operand_batching_dims: operand axes indexed by the position along the matching
      ``start_indices_batching_dims`` batch axis of ``indices`` (window size 1, dropped).
    """
    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How a scatter maps indices and update windows to operand axes.

    update_window_dims: axes of ``updates`` that are window axes (sorted); the other axes of
      ``updates`` are the batch axes of ``indices``, in order.
    inserted_window_dims: operand axes with window size 1 that ``updates`` leaves out.
    scatter_dims_to_operand_dims: operand axis of each entry of the index vector.
    operand_batching_dims / scatter_indices_batching_dims: as for gather.
    """
    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


def canonicalize_mode(op: str, mode) -> str:
    try:
        return _MODE_ALIASES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"{op}: unknown mode {mode!r}; use 'clip', 'fill' (alias 'drop') or "
                         "'promise_in_bounds'.") from None


def default_fill_value(dtype: np.dtype):
    """NaN for inexact dtypes, the most negative value for signed ints, the largest for
    unsigned ints, True for bool: values that stand out as "not read from the operand"."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return float("nan")
    if dtype.kind == "i":
        return int(np.iinfo(dtype).min)
    if dtype.kind == "u":
        return int(np.iinfo(dtype).max)
    return True


def _tuple(op, name, v):
    try:
        return tuple(int(d) for d in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a sequence of ints, got {v!r}") from None


def _bad(op, what, fix):
    return errors.shape_error(op, what, fix)


def _check_sorted_unique(op, name, dims, limit, avals):
    if list(dims) != sorted(set(dims)) or any(not 0 <= d < limit for d in dims):
        raise _bad(op, f"{name}={dims} must be sorted, distinct and in [0, {limit}) for "
                   f"operands {fmt(*avals)}.", "list each axis once, in increasing order.")


def _check_indices(op, indices, n_index, n_batching, batching_name, idx_batching, avals):
    if indices.dtype.kind not in "iu":
        raise errors.dtype_error(op, f"indices must be integers, got {indices.str_short()}.",
                                 "convert them, e.g. indices.astype('int32').")
    if indices.ndim < 1 or indices.shape[-1] != n_index:
        raise _bad(op, f"the last axis of indices {indices.str_short()} is the index vector and "
                   f"must have size {n_index} (one entry per start_index_map axis).",
                   "append a trailing axis of index vectors (indices[..., None] for one axis).")
    if len(idx_batching) != n_batching or len(set(idx_batching)) != len(idx_batching) or any(
            not 0 <= d < indices.ndim - 1 for d in idx_batching):
        raise _bad(op, f"{batching_name}={idx_batching} must name {n_batching} distinct batch "
                   f"axes of indices {indices.str_short()}.",
                   "pair each operand batching axis with one batch axis of the indices.")


def _check_index_map(op, operand, index_map, name, excluded, avals):
    if len(set(index_map)) != len(index_map) or any(
            not 0 <= d < operand.ndim for d in index_map) or set(index_map) & set(excluded):
        raise _bad(op, f"{name}={index_map} must be distinct axes of operand "
                   f"{operand.str_short()} that are not operand batching axes.",
                   "give one operand axis per index-vector entry.")


# ---------------------------------------------------------------- the shared NumPy engine

def _window_index_arrays(operand_shape, indices, index_map, batching, window, mode):
    """Integer index arrays, one per operand axis, of shape ``batch + window`` (broadcastable),
    addressing each batch position's window; plus the in-bounds mask over the batch (or None).

    ``batching`` pairs (operand axis, indices batch axis). Window starts are clamped so that
    every address is valid; the mask says which windows were in bounds before clamping.
    """
    batch = indices.shape[:-1]
    nb, r = len(batch), len(operand_shape)
    starts = [None] * r
    idx = indices.astype(np.int64, copy=False)
    for k, d in enumerate(index_map):
        starts[d] = idx[..., k]
    for d, j in batching:
        starts[d] = np.arange(batch[j]).reshape([-1 if a == j else 1 for a in range(nb)])
    in_bounds = None
    arrays = []
    for d in range(r):
        ramp = np.arange(window[d]).reshape([1] * nb + [-1 if a == d else 1 for a in range(r)])
        s = starts[d]
        if s is None:
            arrays.append(ramp)
            continue
        hi = operand_shape[d] - window[d]
        if mode == "fill":
            ok = (s >= 0) & (s <= hi)
            in_bounds = ok if in_bounds is None else in_bounds & ok
        s = np.clip(s, 0, hi)
        arrays.append(s.reshape(s.shape + (1,) * r) + ramp)
    if in_bounds is not None:
        in_bounds = np.broadcast_to(in_bounds, batch)
    return arrays, in_bounds


def _batch_last_permutation(out_rank, window_positions):
    """Axis order that puts the batch axes (all positions not in ``window_positions``) first."""
    batch_pos = [i for i in range(out_rank) if i not in window_positions]
    return batch_pos + list(window_positions)


# ---------------------------------------------------------------- gather

def _gather_abstract_eval(operand, indices, *, dimension_numbers, slice_sizes, mode,
                          fill_value):
    op = "gather"
    dn = dimension_numbers
    avals = (operand, indices)
    if type(dn) is not GatherDimensionNumbers:
        raise TypeError(f"{op}: dimension_numbers must be a GatherDimensionNumbers, got {dn!r}")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    _check_indices(op, indices, len(dn.start_index_map), len(dn.operand_batching_dims),
                   "start_indices_batching_dims", dn.start_indices_batching_dims, avals)
    _check_sorted_unique(op, "collapsed_slice_dims", dn.collapsed_slice_dims, operand.ndim,
                         avals)
    _check_sorted_unique(op, "operand_batching_dims", dn.operand_batching_dims, operand.ndim,
                         avals)
    if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
        raise _bad(op, f"collapsed_slice_dims={dn.collapsed_slice_dims} and operand_batching_"
                   f"dims={dn.operand_batching_dims} overlap.", "list each axis in one of them.")
    _check_index_map(op, operand, dn.start_index_map, "start_index_map",
                     dn.operand_batching_dims, avals)
    if len(slice_sizes) != operand.ndim or any(
            not 0 <= s <= d for s, d in zip(slice_sizes, operand.shape)):
        raise _bad(op, f"slice_sizes={slice_sizes} must give one size in [0, axis size] per "
                   f"axis of operand {operand.str_short()}.", "fit the window in the operand.")
    for d in dn.collapsed_slice_dims + dn.operand_batching_dims:
        if slice_sizes[d] != 1:
            raise _bad(op, f"collapsed or batching operand axis {d} needs window size 1, got "
                       f"slice_sizes={slice_sizes} (operand {operand.str_short()}).",
                       "use size 1 for the axes the output drops.")
    for d, j in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
        if operand.shape[d] != indices.shape[j]:
            raise _bad(op, f"operand batching axis {d} of {operand.str_short()} and indices "
                       f"batch axis {j} of {indices.str_short()} differ in size.",
                       "batch the operand and the indices along axes of equal size.")
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window = [s for d, s in enumerate(slice_sizes) if d not in dropped]
    batch = list(indices.shape[:-1])
    out_rank = len(batch) + len(window)
    if len(dn.offset_dims) != len(window):
        raise _bad(op, f"offset_dims={dn.offset_dims} must have one entry per window axis "
                   f"kept in the output ({len(window)}: slice_sizes={slice_sizes} without "
                   f"collapsed/batching axes).", "list the output axes of the window.")
    _check_sorted_unique(op, "offset_dims", dn.offset_dims, out_rank, avals)
    shape, wi, bi = [], iter(window), iter(batch)
    for i in range(out_rank):
        shape.append(next(wi) if i in dn.offset_dims else next(bi))
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _gather_impl(operand, indices, *, dimension_numbers, slice_sizes, mode, fill_value):
    dn = dimension_numbers
    batching = list(zip(dn.operand_batching_dims, dn.start_indices_batching_dims))
    arrays, in_bounds = _window_index_arrays(operand.shape, indices, dn.start_index_map,
                                             batching, slice_sizes, mode)
    batch = indices.shape[:-1]
    if operand.size == 0:  # nothing to read: only zero-size windows or all-filled outputs
        out = np.zeros(batch + tuple(slice_sizes), operand.dtype)
    else:
        out = operand[tuple(arrays)]  # batch + slice_sizes
    if in_bounds is not None:
        fill = default_fill_value(operand.dtype) if fill_value is None else fill_value
        with np.errstate(invalid="ignore"):
            fill = np.asarray(fill).astype(operand.dtype)
        out = np.where(in_bounds.reshape(batch + (1,) * operand.ndim), out, fill)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    out = out.reshape(batch + tuple(s for d, s in enumerate(slice_sizes) if d not in dropped))
    order = _batch_last_permutation(out.ndim, dn.offset_dims)
    if order == sorted(order):
        return out
    return np.moveaxis(out, list(range(out.ndim)), order)


gather_p = Primitive("gather", impl=_gather_impl, abstract_eval=_gather_abstract_eval)


def gather(operand, start_indices, dimension_numbers, slice_sizes, *, unique_indices=False,
           indices_are_sorted=False, mode=None, fill_value=None):
    """Reads one ``slice_sizes`` window of ``operand`` per index vector of ``start_indices``
    (XLA gather; see the module docstring). ``unique_indices`` and ``indices_are_sorted`` are
    accepted for JAX compatibility and unused. ``mode`` defaults to ``"fill"``."""
    del unique_indices, indices_are_sorted
    dn = GatherDimensionNumbers(*(_tuple("gather", f, v) for f, v in
                                  zip(GatherDimensionNumbers._fields, dimension_numbers)))
    if fill_value is not None and not isinstance(fill_value, (bool, int, float, complex)):
        fill_value = np.asarray(fill_value).item()  # params must be hashable scalars
    return gather_p.bind(operand, start_indices, dimension_numbers=dn,
                         slice_sizes=_tuple("gather", "slice_sizes", slice_sizes),
                         mode=canonicalize_mode("gather", mode), fill_value=fill_value)


# ---------------------------------------------------------------- scatter family

def _scatter_abstract_eval(name, operand, indices, updates, *, dimension_numbers, mode):
    dn = dimension_numbers
    avals = (operand, indices, updates)
    if type(dn) is not ScatterDimensionNumbers:
        raise TypeError(f"{name}: dimension_numbers must be a ScatterDimensionNumbers, got "
                        f"{dn!r}")
    if mode not in MODES:
        raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
    if updates.dtype != operand.dtype:
        raise errors.dtype_error(name, f"operand {operand.str_short()} and updates "
                                 f"{updates.str_short()} must have equal dtypes.",
                                 "convert the updates to the operand's dtype.")
    _check_indices(name, indices, len(dn.scatter_dims_to_operand_dims),
                   len(dn.operand_batching_dims), "scatter_indices_batching_dims",
                   dn.scatter_indices_batching_dims, avals)
    _check_sorted_unique(name, "update_window_dims", dn.update_window_dims, updates.ndim, avals)
    _check_sorted_unique(name, "inserted_window_dims", dn.inserted_window_dims, operand.ndim,
                         avals)
    _check_sorted_unique(name, "operand_batching_dims", dn.operand_batching_dims, operand.ndim,
                         avals)
    inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    if len(inserted) != len(dn.inserted_window_dims) + len(dn.operand_batching_dims):
        raise _bad(name, f"inserted_window_dims={dn.inserted_window_dims} and operand_batching"
                   f"_dims={dn.operand_batching_dims} overlap.", "list each axis in one of them.")
    _check_index_map(name, operand, dn.scatter_dims_to_operand_dims,
                     "scatter_dims_to_operand_dims", dn.operand_batching_dims, avals)
    window_axes = [d for d in range(operand.ndim) if d not in inserted]
    if len(window_axes) != len(dn.update_window_dims):
        raise _bad(name, f"update_window_dims={dn.update_window_dims} must have one entry per "
                   f"operand axis not inserted ({len(window_axes)} for operand "
                   f"{operand.str_short()}).", "list the window axes of the updates.")
    scatter_axes = [i for i in range(updates.ndim) if i not in dn.update_window_dims]
    if [updates.shape[i] for i in scatter_axes] != list(indices.shape[:-1]):
        raise _bad(name, f"the non-window axes of updates {updates.str_short()} must equal the "
                   f"batch axes of indices {indices.str_short()}.",
                   "give one update window per index vector.")
    for d, i in zip(window_axes, dn.update_window_dims):
        if updates.shape[i] > operand.shape[d]:
            raise _bad(name, f"update window axis {i} of {updates.str_short()} is larger than "
                       f"operand axis {d} of {operand.str_short()}.", "shrink the window.")
    for d, j in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
        if operand.shape[d] != indices.shape[j]:
            raise _bad(name, f"operand batching axis {d} of {operand.str_short()} and indices "
                       f"batch axis {j} of {indices.str_short()} differ in size.",
                       "batch the operand and the indices along axes of equal size.")
    return operand


def _scatter_impl(combine, operand, indices, updates, *, dimension_numbers, mode):
    dn = dimension_numbers
    inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    batch = indices.shape[:-1]
    # Updates as batch + full window (size-1 axes where the window is inserted).
    order = _batch_last_permutation(updates.ndim, dn.update_window_dims)
    upd = np.transpose(updates, order)
    window_sizes = iter(upd.shape[len(batch):])
    window = tuple(1 if d in inserted else next(window_sizes) for d in range(operand.ndim))
    upd = upd.reshape(batch + window)
    batching = list(zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims))
    arrays, in_bounds = _window_index_arrays(operand.shape, indices,
                                             dn.scatter_dims_to_operand_dims, batching, window,
                                             mode)
    out = operand.copy()
    if upd.size == 0 or operand.size == 0:
        return out
    full = upd.shape
    arrays = [np.broadcast_to(a, full) for a in arrays]
    if in_bounds is not None:  # drop windows that are not entirely in bounds
        keep = np.broadcast_to(in_bounds.reshape(batch + (1,) * operand.ndim), full)
        arrays = [a[keep] for a in arrays]
        upd = upd[keep]
    combine(out, tuple(arrays), upd)
    return out


def _set(out, idx, upd):
    # Duplicate indices: NumPy assigns in row-major order of the updates, so the last wins.
    out[idx] = upd


_COMBINERS = {"scatter": _set, "scatter_add": np.add.at, "scatter_mul": np.multiply.at,
              "scatter_min": np.minimum.at, "scatter_max": np.maximum.at}


def _scatter_primitive(name) -> Primitive:
    combine = _COMBINERS[name]

    def impl(operand, indices, updates, *, dimension_numbers, mode):
        return _scatter_impl(combine, operand, indices, updates,
                             dimension_numbers=dimension_numbers, mode=mode)

    def abstract_eval(operand, indices, updates, *, dimension_numbers, mode):
        return _scatter_abstract_eval(name, operand, indices, updates,
                                      dimension_numbers=dimension_numbers, mode=mode)

    return Primitive(name, impl=impl, abstract_eval=abstract_eval)


scatter_p = _scatter_primitive("scatter")
scatter_add_p = _scatter_primitive("scatter_add")
scatter_mul_p = _scatter_primitive("scatter_mul")
scatter_min_p = _scatter_primitive("scatter_min")
scatter_max_p = _scatter_primitive("scatter_max")
SCATTERS = [scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p]


def _scatter_wrapper(p: Primitive, what: str):
    def f(operand, scatter_indices, updates, dimension_numbers, *, indices_are_sorted=False,
          unique_indices=False, mode=None):
        del indices_are_sorted, unique_indices
        dn = ScatterDimensionNumbers(*(_tuple(p.name, fld, v) for fld, v in
                                       zip(ScatterDimensionNumbers._fields, dimension_numbers)))
        return p.bind(operand, scatter_indices, updates, dimension_numbers=dn,
                      mode=canonicalize_mode(p.name, mode))
    f.__name__ = p.name
    f.__doc__ = (f"``operand`` with each update window {what} (XLA scatter; see the module "
                 "docstring). ``mode`` defaults to ``\"fill\"``: windows not entirely in bounds "
                 "are dropped. ``indices_are_sorted``/``unique_indices`` are accepted and unused.")
    return f


scatter = _scatter_wrapper(scatter_p, "written at its index (for duplicate indices the last "
                           "update in row-major order wins)")
scatter_add = _scatter_wrapper(scatter_add_p, "added at its index (duplicates accumulate)")
scatter_mul = _scatter_wrapper(scatter_mul_p, "multiplied in at its index (duplicates "
                               "accumulate)")
scatter_min = _scatter_wrapper(scatter_min_p, "combined by minimum at its index")
scatter_max = _scatter_wrapper(scatter_max_p, "combined by maximum at its index")

__all__ = ["GatherDimensionNumbers", "ScatterDimensionNumbers", "gather", "scatter",
           "scatter_add", "scatter_mul", "scatter_min", "scatter_max"]
