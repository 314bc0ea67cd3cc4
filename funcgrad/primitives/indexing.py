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

Derivatives (JAX's conventions; indices are integers and never differentiated): gather is
linear in the operand, and its transpose is scatter_add with the same dimension numbers and
mode; scatter_add is linear in operand and updates (transpose: gather). ``scatter`` (set) with
duplicate indices, as JAX with ``unique_indices=False``: the derivative follows the primal, so
only the winning update (the last in row-major order) and the operand elements that nothing
overwrites get a nonzero derivative. ``scatter_mul`` is differentiable in both operands, also
with duplicate indices (d/du_k is the product of the other updates landing with u_k, computed
without dividing by zero). ``scatter_min/max`` split the derivative equally among the operand
element and updates that tie for the result, as reduce_max does. Batching (vmap): a batched
operand gets one more window axis when the indices are shared, and batched indices pair with
the operand's batch axis through the ``*_batching_dims``, so a vmapped gather or scatter is one
gather or scatter.
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
    # A batching axis may be empty (vmap over 0 examples): its window of size 1 is never read.
    if len(slice_sizes) != operand.ndim or any(
            not 0 <= s <= (max(d, 1) if i in dn.operand_batching_dims else d)
            for i, (s, d) in enumerate(zip(slice_sizes, operand.shape))):
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
    full = batch + tuple(slice_sizes)
    if operand.size == 0:  # nothing to read: only zero-size windows or all-filled outputs
        out = np.zeros(full, operand.dtype)
    else:
        out = operand[tuple(arrays)]
        if out.shape != full:  # batch axes that no index array spans (no index vector entry)
            out = np.array(np.broadcast_to(out, full))
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


# ---------------------------------------------------------------- differentiation and batching
# Indices are integers and never differentiated. gather is linear in the operand (transpose:
# scatter_add with the same dimension numbers); scatter_add is linear in operand and updates
# (transpose: gather). Rules bind lax-level primitives, so they are differentiable in turn.

from funcgrad.core import get_aval as _aval  # noqa: E402
from funcgrad.primitives import elementwise as _ew  # noqa: E402
from funcgrad.primitives import structural as _st  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402
from funcgrad.transforms.jvp import Zero  # noqa: E402


def _to_scatter_dnums(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)


def _to_gather_dnums(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    return GatherDimensionNumbers(
        offset_dims=dn.update_window_dims, collapsed_slice_dims=dn.inserted_window_dims,
        start_index_map=dn.scatter_dims_to_operand_dims,
        operand_batching_dims=dn.operand_batching_dims,
        start_indices_batching_dims=dn.scatter_indices_batching_dims)


def _scatter_slice_sizes(operand_aval, updates_aval, dn: ScatterDimensionNumbers):
    """The window of each update, as gather's ``slice_sizes`` over the operand's axes."""
    inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    sizes = iter(updates_aval.shape[i] for i in dn.update_window_dims)
    return tuple(1 if d in inserted else next(sizes) for d in range(operand_aval.ndim))


def _gather_updates(x, indices, updates_aval, dn: ScatterDimensionNumbers, mode):
    """Reads, for every element of the updates, the element of ``x`` (operand-shaped) it is
    scattered to: the inverse gather of a scatter. Dropped windows ("fill") read 0."""
    return gather_p.bind(x, indices, dimension_numbers=_to_gather_dnums(dn),
                         slice_sizes=_scatter_slice_sizes(_aval(x), updates_aval, dn),
                         mode=mode, fill_value=0)


def _windows_never_collide(indices_aval, dn: ScatterDimensionNumbers) -> bool:
    """True when each operand element receives at most one update element: at most one
    window per position along the scatter_indices_batching_dims (whose windows lie in
    distinct operand slices)."""
    nb = indices_aval.ndim - 1
    return int(np.prod([indices_aval.shape[j] for j in range(nb)
                        if j not in dn.scatter_indices_batching_dims])) <= 1


def _zeros(aval):
    return _ad.zeros_like_aval(aval)


def _full_like(aval, value):
    from funcgrad.array import Array
    return _st.full(aval.shape, Array(np.asarray(value, aval.dtype), weak_type=aval.weak_type))


def _as(x, dtype):
    return _ew.convert_element_type(x, dtype)


def _is_zero(t) -> bool:
    return type(t) is Zero


# gather --------------------------------------------------------------------------------

def _gather_jvp(primals, tangents, *, dimension_numbers, slice_sizes, mode, fill_value):
    operand, indices = primals
    t_operand = tangents[0]
    params = dict(dimension_numbers=dimension_numbers, slice_sizes=slice_sizes, mode=mode)
    out = gather_p.bind(operand, indices, **params, fill_value=fill_value)
    # Filled (out-of-bounds) windows are constants: their tangent is 0, not fill_value.
    return out, gather_p.bind(t_operand, indices, **params,
                              fill_value=0 if mode == "fill" else fill_value)


def _gather_transpose(ct, operand, indices, *, dimension_numbers, slice_sizes, mode,
                      fill_value):
    if _tr.is_undefined(indices):
        raise AssertionError("gather: indices are integers and never linear")
    if type(ct) is Zero:
        return [Zero(operand.aval), None]
    # scatter_add drops exactly the windows that a "fill" gather filled, and clamps exactly
    # as a "clip" gather does, so it is the adjoint in every mode.
    out = scatter_add_p.bind(_zeros(operand.aval), indices, ct,
                             dimension_numbers=_to_scatter_dnums(dimension_numbers), mode=mode)
    return [out, None]


def _gather_batch(vals, dims, *, dimension_numbers, slice_sizes, mode, fill_value):
    operand, indices = vals
    op_dim, idx_dim = dims
    dn = dimension_numbers

    def shift(ds):
        return tuple(d + 1 for d in ds)

    if idx_dim is None:
        # The batch axis of the operand becomes one more (full-size, start 0) window axis,
        # put first in the output.
        operand = _vm.moveaxis(operand, op_dim, 0)
        size = _aval(operand).shape[0]
        new = GatherDimensionNumbers(
            offset_dims=(0,) + shift(dn.offset_dims),
            collapsed_slice_dims=shift(dn.collapsed_slice_dims),
            start_index_map=shift(dn.start_index_map),
            operand_batching_dims=shift(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims)
        sizes = (size,) + tuple(slice_sizes)
    elif op_dim is None:
        # The batch axis of the indices is one more batch axis of the output, the first.
        indices = _vm.moveaxis(indices, idx_dim, 0)
        new = dn._replace(offset_dims=shift(dn.offset_dims),
                          start_indices_batching_dims=shift(dn.start_indices_batching_dims))
        sizes = tuple(slice_sizes)
    else:
        # Both batched: pair the two batch axes as operand/start-indices batching dims.
        operand = _vm.moveaxis(operand, op_dim, 0)
        indices = _vm.moveaxis(indices, idx_dim, 0)
        new = GatherDimensionNumbers(
            offset_dims=shift(dn.offset_dims),
            collapsed_slice_dims=shift(dn.collapsed_slice_dims),
            start_index_map=shift(dn.start_index_map),
            operand_batching_dims=(0,) + shift(dn.operand_batching_dims),
            start_indices_batching_dims=(0,) + shift(dn.start_indices_batching_dims))
        sizes = (1,) + tuple(slice_sizes)
    out = gather_p.bind(operand, indices, dimension_numbers=new, slice_sizes=sizes, mode=mode,
                        fill_value=fill_value)
    return out, 0


# scatter family: batching --------------------------------------------------------------

def _scatter_batch_rule(prim):
    def rule(vals, dims, *, dimension_numbers, mode):
        operand, indices, updates = vals
        op_dim, idx_dim, upd_dim = dims
        dn = dimension_numbers
        size = _vm.batch_size(vals, dims)

        def shift(ds):
            return tuple(d + 1 for d in ds)

        # The result is batched whenever anything is: give the operand and the updates a
        # leading batch axis (broadcast when unbatched).
        operand = _vm.bdim_at_front(operand, op_dim, size)
        updates = _vm.bdim_at_front(updates, upd_dim, size)
        if idx_dim is None:
            # Shared indices: the batch axis is one more window axis, the first of both the
            # updates and the operand, written whole at start 0.
            new = ScatterDimensionNumbers(
                update_window_dims=(0,) + shift(dn.update_window_dims),
                inserted_window_dims=shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=shift(dn.operand_batching_dims),
                scatter_indices_batching_dims=dn.scatter_indices_batching_dims)
        else:
            # Batched indices: pair the batch axes of operand and indices as batching dims;
            # the updates' batch axis is then their first scatter (non-window) axis.
            indices = _vm.moveaxis(indices, idx_dim, 0)
            new = ScatterDimensionNumbers(
                update_window_dims=shift(dn.update_window_dims),
                inserted_window_dims=shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0,) + shift(dn.operand_batching_dims),
                scatter_indices_batching_dims=(0,) + shift(dn.scatter_indices_batching_dims))
        return prim.bind(operand, indices, updates, dimension_numbers=new, mode=mode), 0
    return rule


# scatter_add ---------------------------------------------------------------------------

def _scatter_add_jvp(primals, tangents, *, dimension_numbers, mode):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    params = dict(dimension_numbers=dimension_numbers, mode=mode)
    out = scatter_add_p.bind(operand, indices, updates, **params)
    if _is_zero(t_updates):
        return out, t_operand
    return out, scatter_add_p.bind(_ad.instantiate(t_operand), indices, t_updates, **params)


def _scatter_add_transpose(ct, operand, indices, updates, *, dimension_numbers, mode):
    if _tr.is_undefined(indices):
        raise AssertionError("scatter_add: indices are integers and never linear")
    ct_operand = ct_updates = None
    if _tr.is_undefined(operand):
        ct_operand = ct
    if _tr.is_undefined(updates):
        ct_updates = Zero(updates.aval) if type(ct) is Zero else _gather_updates(
            ct, indices, updates.aval, dimension_numbers, mode)
    return [ct_operand, None, ct_updates]


# scatter (set) -------------------------------------------------------------------------

def _update_ids(indices_aval, updates_aval, dn: ScatterDimensionNumbers):
    """1, 2, ... numbering the update windows (constant over each window), as a constant of
    the updates' shape; 0 is left for "no window"."""
    batch = indices_aval.shape[:-1]
    n = int(np.prod(batch))
    dt = np.int32 if n < 2**31 - 1 else np.int64
    ids = np.arange(1, n + 1, dtype=dt).reshape(batch)
    # The window axes of the updates are the ones the ids are constant along.
    ids = np.expand_dims(ids, dn.update_window_dims)
    return np.array(np.broadcast_to(ids, updates_aval.shape))


def _scatter_jvp(primals, tangents, *, dimension_numbers, mode):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    params = dict(dimension_numbers=dimension_numbers, mode=mode)
    out = scatter_p.bind(operand, indices, updates, **params)
    x_aval, u_aval, i_aval = (_aval(v) for v in (operand, updates, indices))
    if _windows_never_collide(i_aval, dimension_numbers):
        # scatter itself is linear in (operand, updates) when no two update elements meet.
        return out, scatter_p.bind(_ad.instantiate(t_operand), indices,
                                   _ad.instantiate(t_updates), **params)
    # Duplicate indices (JAX's unique_indices=False): the tangent follows the primal, i.e. the
    # update that wins (the last in row-major order of the updates' scatter axes) and the
    # operand where nothing is written. Number the windows, scatter the numbers to find the
    # winner at every element, and read them back: an update element whose own number comes
    # back is the winner. Then the tangent is a scatter_add of masked tangents.
    ids = _update_ids(i_aval, u_aval, dimension_numbers)
    id_dtype = _aval(ids).dtype
    winner = scatter_p.bind(_full_like(ShapedArray(x_aval.shape, id_dtype), 0), indices, ids,
                            **params)
    wins = _ew.eq(_gather_updates(winner, indices, u_aval, dimension_numbers, mode), ids)
    kept = _ew.eq(winner, _full_like(ShapedArray(x_aval.shape, id_dtype), 0))
    t_x = Zero(x_aval) if _is_zero(t_operand) else _ew.select_n(
        kept, _zeros(x_aval), t_operand)
    if _is_zero(t_updates):
        return out, t_x
    t_u = _ew.select_n(wins, _zeros(u_aval), t_updates)
    return out, scatter_add_p.bind(_ad.instantiate(t_x), indices, t_u, **params)


def _scatter_transpose(ct, operand, indices, updates, *, dimension_numbers, mode):
    # Only reached for scatters the jvp rule emits on tangents: those whose windows never
    # collide (the duplicate case is differentiated through scatter_add).
    if not _windows_never_collide(_aval(indices), dimension_numbers):
        raise errors.MissingRuleError(errors.message(
            "transpose", "scatter is not linear in its updates when several updates may land "
            "on the same element (its transpose is only defined for non-colliding windows).",
            "differentiate through funcgrad's jvp of scatter (which uses scatter_add), or use "
            "scatter_add.", errors.MissingRuleError))
    ct_operand = ct_updates = None
    u_aval = updates.aval if _tr.is_undefined(updates) else _aval(updates)
    if _tr.is_undefined(operand):
        ct_operand = Zero(operand.aval) if type(ct) is Zero else scatter_p.bind(
            ct, indices, _zeros(u_aval), dimension_numbers=dimension_numbers, mode=mode)
    if _tr.is_undefined(updates):
        ct_updates = Zero(u_aval) if type(ct) is Zero else _gather_updates(
            ct, indices, u_aval, dimension_numbers, mode)
    return [ct_operand, None, ct_updates]


# scatter_mul ---------------------------------------------------------------------------

def _scatter_mul_jvp(primals, tangents, *, dimension_numbers, mode):
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    dn = dimension_numbers
    params = dict(dimension_numbers=dn, mode=mode)
    out = scatter_mul_p.bind(operand, indices, updates, **params)
    x_aval, u_aval, i_aval = (_aval(v) for v in (operand, updates, indices))
    t_out = Zero(x_aval)
    if not _is_zero(t_operand):
        # out = operand * P with P the product of the updates landing on each element.
        t_out = scatter_mul_p.bind(t_operand, indices, updates, **params)
    if _is_zero(t_updates):
        return out, t_out
    if _windows_never_collide(i_aval, dn):
        others = t_updates
    else:
        # d P / d u_k is the product of the *other* updates landing where u_k does. Computed
        # without dividing by zero: with Q the product of the non-zero updates there and Z
        # the product of the zero ones (0 or 1), it is Q / u_k * Z for u_k != 0, and Q if
        # u_k is the only zero there (else 0). Exact at first order everywhere; at second
        # order too, unless two or more updates landing on one element are exactly zero.
        one, zero = _full_like(u_aval, 1), _full_like(u_aval, 0)
        is0 = _ew.eq(updates, zero)
        nonzero = _ew.select_n(is0, updates, one)
        ones_x = _full_like(x_aval, 1)
        q = scatter_mul_p.bind(ones_x, indices, nonzero, **params)
        z = scatter_mul_p.bind(ones_x, indices, _ew.select_n(is0, one, updates), **params)
        n0 = scatter_add_p.bind(_zeros(x_aval), indices, _as(is0, x_aval.dtype), **params)

        def back(a):
            return _gather_updates(a, indices, u_aval, dn, mode)
        only_zero = _as(_ew.eq(back(n0), one), u_aval.dtype)
        other = _ew.mul(_ew.div(back(q), nonzero), _ew.select_n(is0, back(z), only_zero))
        others = _ew.mul(t_updates, other)
    t_u = _ew.mul(operand, scatter_add_p.bind(_zeros(x_aval), indices, others, **params))
    return out, _ad.add_tangents(t_out, t_u)


def _scatter_mul_transpose(ct, operand, indices, updates, *, dimension_numbers, mode):
    if _tr.is_undefined(updates) or _tr.is_undefined(indices):
        raise AssertionError("scatter_mul is linear in its operand only")
    if type(ct) is Zero:
        return [Zero(operand.aval), None, None]
    # Multiplying each element by its product of updates is diagonal, hence self-adjoint.
    return [scatter_mul_p.bind(ct, indices, updates, dimension_numbers=dimension_numbers,
                               mode=mode), None, None]


# scatter_min / scatter_max ---------------------------------------------------------------

def _scatter_extremum_jvp(prim):
    def rule(primals, tangents, *, dimension_numbers, mode):
        operand, indices, updates = primals
        t_operand, _, t_updates = tangents
        dn = dimension_numbers
        params = dict(dimension_numbers=dn, mode=mode)
        out = prim.bind(operand, indices, updates, **params)
        x_aval, u_aval = _aval(operand), _aval(updates)
        # As for reduce_max/min: the tangent is split equally among the contenders (operand
        # element and update elements) that equal the result.
        x_wins = _ew.eq(operand, out)
        u_wins = _ew.eq(updates, _gather_updates(out, indices, u_aval, dn, mode))
        count = scatter_add_p.bind(_as(x_wins, x_aval.dtype), indices,
                                   _as(u_wins, u_aval.dtype), **params)
        count = _ew.max(count, _full_like(x_aval, 1))  # only NaN results have no winner
        t_x = Zero(x_aval) if _is_zero(t_operand) else _ew.select_n(
            x_wins, _zeros(x_aval), t_operand)
        if not _is_zero(t_updates):
            t_u = _ew.select_n(u_wins, _zeros(u_aval), t_updates)
            t_x = scatter_add_p.bind(_ad.instantiate(t_x), indices, t_u, **params)
        return out, _ew.div(t_x, count)
    return rule


_ad.rules[gather_p] = _gather_jvp
_ad.rules[scatter_p] = _scatter_jvp
_ad.rules[scatter_add_p] = _scatter_add_jvp
_ad.rules[scatter_mul_p] = _scatter_mul_jvp
_ad.rules[scatter_min_p] = _scatter_extremum_jvp(scatter_min_p)
_ad.rules[scatter_max_p] = _scatter_extremum_jvp(scatter_max_p)

_tr.rules[gather_p] = _gather_transpose
_tr.rules[scatter_p] = _scatter_transpose
_tr.rules[scatter_add_p] = _scatter_add_transpose
_tr.rules[scatter_mul_p] = _scatter_mul_transpose

_vm.rules[gather_p] = _gather_batch
for _p in SCATTERS:
    _vm.rules[_p] = _scatter_batch_rule(_p)
