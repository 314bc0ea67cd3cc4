"""NumPy indexing: ``x[idx]``, functional updates ``x.at[idx].set(v)``, and nonzero.

Basic indices (ints, slices, None, Ellipsis, traced scalar ints) become static ``slice``,
``rev``, ``dynamic_slice`` and ``reshape`` equations, so jaxprs stay readable. Advanced indices
(integer and boolean arrays) and every ``.at[]`` update go through one *plan*: a gather/scatter
with XLA dimension numbers (see funcgrad/primitives/indexing.py), built as follows.

* ``None`` (and a 0-d boolean) first becomes a size-1 operand axis (a reshape), so every index
  entry addresses exactly one operand axis.
* Step-1 slices become window axes; other slices become a batch axis indexed by a constant
  ``arange``; integer arrays and scalars broadcast together into the *advanced block* of batch
  axes, which NumPy places where the first advanced index was when all advanced indices are
  adjacent, and first otherwise (a slice, None or Ellipsis between them separates them).

Out-of-range indices: concrete ones raise IndexError in ``x[idx]`` (as in NumPy); traced ones
are clamped (as in JAX). Updates drop out-of-range entries by default (``mode="drop"``).
"""
from __future__ import annotations

import builtins

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Tracer
from funcgrad.numpy._util import asarray, broadcast_shapes, convert_to
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import indexing as ix
from funcgrad.primitives import structural as st

_VALID = ("only integers, slices (:), ellipsis (...), None and integer or boolean arrays are "
          "valid indices")


# ---------------------------------------------------------------- parsing

def _index_error(op, what, fix=None):
    return IndexError(f"{op}: {what}" + (f"\nFix: {fix}" if fix else ""))


def _bool_mask_error(op, t: Tracer):
    return errors.ConcretizationError(errors.message(
        op, f"a traced boolean mask {t.aval.str_short()} cannot be used as an index while "
        f"tracing {t._trace.transform_name}: the result's shape would depend on its values.",
        "keep the shape static: use funcgrad.numpy.where(mask, x, 0) (or a sum/mean of it), "
        "or fnp.nonzero(mask, size=N) to get at most N indices.", errors.ConcretizationError))


def _classify(op, i):
    """One index item as (kind, value): none, ellipsis, slice, int, dyn (traced 0-d int),
    array (integer array, concrete np.ndarray or traced), bool (concrete np.ndarray)."""
    if i is None:
        return "none", None
    if i is Ellipsis:
        return "ellipsis", None
    if isinstance(i, builtins.slice):
        return "slice", builtins.slice(*(_static_bound(op, b) for b in (i.start, i.stop, i.step)))
    if isinstance(i, (bool, np.bool_)):
        return "bool", np.asarray(i)
    if isinstance(i, (int, np.integer)):
        return "int", int(i)
    if isinstance(i, Tracer):
        if i.dtype == dtypes.bool_:
            val = i.to_concrete_value()
            if val is None:
                raise _bool_mask_error(op, i)
            return "bool", np.asarray(val)
        if i.dtype.kind not in "iu":
            raise _index_error(op, f"{_VALID}; got a traced {i.aval.str_short()} array.",
                               "convert it with .astype('int32').")
        return ("dyn" if i.ndim == 0 else "array"), i
    if isinstance(i, (list, tuple)):
        if any(isinstance(e, Tracer) for e in _flatten(i)):
            return _classify(op, asarray(i))
        i = np.asarray(i)
        if i.size == 0 and i.dtype.kind == "f":
            i = i.astype(np.intp)  # [] indexes nothing, as in NumPy
    if isinstance(i, (Array, np.ndarray)):
        arr = np.asarray(i)
        if arr.dtype == np.bool_:
            return "bool", arr
        if arr.dtype.kind not in "iu":
            raise _index_error(op, f"{_VALID}; got an array of dtype {arr.dtype}.",
                               "convert it with .astype('int32').")
        return ("int", int(arr)) if arr.ndim == 0 else ("array", arr)
    raise _index_error(op, f"{_VALID}; got {type(i).__name__} ({i!r:.40}).")


def _flatten(seq):
    for e in seq:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e


def _static_bound(op, b):
    if b is None or isinstance(b, (int, np.integer)):
        return b
    if isinstance(b, Tracer) and b.to_concrete_value() is None:
        raise _index_error(op, f"slice bounds must be static; got a traced {b.aval.str_short()}.",
                           "use funcgrad.lax.dynamic_slice(x, starts, sizes) for a slice of "
                           "static size at a traced position.")
    try:
        return b.__index__()
    except (AttributeError, TypeError):
        raise _index_error(op, f"slice bounds must be integers or None, got {b!r:.40}.") from None


def _parse(op, shape, idx):
    """``idx`` as a list of entries, one per operand axis (in order), plus ("none",) for new
    axes, ("newarray", a) for a 0-d boolean (a new axis indexed by ``a``) and ("sep",) where an
    Ellipsis stood (it separates advanced indices even when it covers no axes)."""
    items = [_classify(op, i) for i in (idx if isinstance(idx, tuple) else (idx,))]
    if sum(k == "ellipsis" for k, _ in items) > 1:
        raise _index_error(op, "an index can only have a single ellipsis ('...').")
    consumed = sum(v.ndim if k == "bool" else (k not in ("none", "ellipsis"))
                   for k, v in items)
    ndim = len(shape)
    if consumed > ndim:
        raise _index_error(op, f"too many indices for an array of rank {ndim} (shape "
                           f"{tuple(shape)}): {consumed} were given.",
                           "index at most one entry per axis (use None to add axes).")
    if not any(k == "ellipsis" for k, _ in items):
        items.append(("ellipsis", None))
    entries, d = [], 0
    for k, v in items:
        if k == "ellipsis":
            entries.append(("sep",))
            for _ in range(ndim - consumed):
                entries.append(("slice", builtins.slice(None)))
                d += 1
        elif k == "none":
            entries.append(("none",))
        elif k == "bool" and v.ndim == 0:
            entries.append(("newarray", np.zeros(int(bool(v)), np.int64)))
        elif k == "bool":
            if v.shape != tuple(shape[d:d + v.ndim]):
                axes = f"axes {d}..{d + v.ndim - 1}" if v.ndim > 1 else f"axis {d}"
                raise _index_error(op, f"boolean index of shape {v.shape} does not match the "
                                   f"indexed {axes} of shape "
                                   f"{tuple(shape[d:d + v.ndim])} (array shape {tuple(shape)}).",
                                   "use a mask with the shape of the axes it indexes.")
            entries.extend(("array", nz) for nz in np.nonzero(v))
            d += v.ndim
        else:
            entries.append((k, v))
            d += 1
    return entries


def _check_int(op, v, d, n, shape):
    if not -n <= v < n:
        raise _index_error(op, f"index {v} is out of bounds for axis {d} with size {n} (array "
                           f"shape {tuple(shape)}).", f"use an index in [{-n}, {n}).")
    return v + n if v < 0 else v


# ---------------------------------------------------------------- x[idx]

def getitem(x, idx):
    """``x[idx]`` with NumPy semantics; see the module docstring."""
    x = x if isinstance(x, (Array, Tracer)) else asarray(x)
    entries = _parse("getitem", x.shape, idx)
    if not any(e[0] in ("array", "newarray") for e in entries):
        return _basic_getitem(x, entries)
    x2, entries = _expand_new_axes(x, entries)
    plan = _Plan("getitem", x2.shape, entries, check_bounds=True)
    if plan.empty_axis is not None:
        return _empty_axis_result("getitem", x2, plan)
    return ix.gather(x2, plan.indices, plan.gather_dnums, plan.slice_sizes, mode="clip")


def _basic_getitem(x, entries):
    shape = x.shape
    start, limit, stride = [0] * len(shape), list(shape), [1] * len(shape)
    rev_dims, dyn, out_shape, d = [], {}, [], 0
    for e in entries:
        kind = e[0]
        if kind == "sep":
            continue
        if kind == "none":
            out_shape.append(1)
            continue
        n = shape[d]
        if kind == "int":
            v = _check_int("getitem", e[1], d, n, shape)
            start[d], limit[d] = v, v + 1
        elif kind == "dyn":
            if n == 0:
                raise _index_error("getitem", f"cannot index axis {d} of size 0 (array shape "
                                   f"{tuple(shape)}).")
            dyn[d] = e[1]
        else:
            s, _, step = e[1].indices(n)
            length = len(range(*e[1].indices(n)))
            out_shape.append(length)
            if length == 0:
                start[d] = limit[d] = 0
            elif step > 0:
                start[d], limit[d], stride[d] = s, s + (length - 1) * step + 1, step
            else:  # walk forwards over the same elements, then reverse
                lo = s + (length - 1) * step
                start[d], limit[d], stride[d] = lo, s + 1, -step
                if length > 1:
                    rev_dims.append(d)
            if length == 1:
                stride[d] = 1
        d += 1
    if (start, limit, stride) != ([0] * len(shape), list(shape), [1] * len(shape)):
        x = st.slice(x, start, limit, stride)
    if rev_dims:
        x = st.rev(x, rev_dims)
    if dyn:
        x = st.dynamic_slice(x, [dyn.get(a, 0) for a in range(len(shape))],
                             [1 if a in dyn else n for a, n in enumerate(x.shape)])
    if tuple(x.shape) != tuple(out_shape):
        x = st.reshape(x, out_shape)
    return x


def _expand_new_axes(x, entries):
    """Turns None and 0-d boolean entries into size-1 axes of ``x`` (one reshape), so that
    every entry but "sep" addresses one axis."""
    new_shape, out, d = [], [], 0
    for e in entries:
        if e[0] == "sep":
            out.append(e)
        elif e[0] == "none":
            new_shape.append(1)
            out.append(("slice", builtins.slice(None)))
        elif e[0] == "newarray":
            new_shape.append(1)
            out.append(("array", e[1]))
        else:
            new_shape.append(x.shape[d])
            out.append(e)
            d += 1
    if tuple(new_shape) != tuple(x.shape):
        x = st.reshape(x, new_shape)
    return x, out


def _empty_axis_result(op, x, plan):
    # An index into an axis of size 0 selects nothing; only an empty result is possible.
    if int(np.prod(plan.out_shape)) != 0:
        raise _index_error(op, f"cannot index axis {plan.empty_axis} of size 0 (array shape "
                           f"{tuple(x.shape)}).")
    return st.full(plan.out_shape, np.zeros((), x.dtype))


# ---------------------------------------------------------------- the gather/scatter plan

class _Plan:
    """Indices and dimension numbers of the gather (or scatter) that performs an index
    expression on an operand of ``shape`` (after _expand_new_axes)."""

    def __init__(self, op, shape, entries, check_bounds):
        axes = [e for e in entries if e[0] != "sep"]
        adv_pos = [i for i, e in enumerate(entries) if e[0] in ("int", "dyn", "array")]
        adjacent = not adv_pos or adv_pos[-1] - adv_pos[0] + 1 == len(adv_pos)
        adv = {}        # operand axis -> normalized index (np.ndarray or traced)
        layout = []     # output items: ("window", d, size) / ("strided", d, size) / ("block",)
        windows = {}    # operand axis -> (static start, size)
        strided = {}    # operand axis -> constant np index array
        self.empty_axis = None
        for d, (e, n) in enumerate(zip(axes, shape)):
            if e[0] == "slice":
                s, _, step = e[1].indices(n)
                length = len(range(*e[1].indices(n)))
                if step == 1 or length <= 1:
                    windows[d] = (s if length else 0, length)
                    layout.append(("window", d, length))
                else:
                    strided[d] = np.arange(s, s + length * step, step)
                    layout.append(("strided", d, length))
                continue
            if not adv:  # the advanced block goes where the first advanced index is, or first
                layout.insert(len(layout) if adjacent else 0, ("block",))
            adv[d] = _normalize(op, e[1], d, n, shape, check_bounds)
            if n == 0:
                self.empty_axis = d
        block = broadcast_shapes(op, *(core.get_aval(a).shape for a in adv.values())) \
            if adv else ()
        # Output shape and the position of each batch item among the batch axes.
        out_shape, batch_shape, block_at, strided_at = [], [], None, {}
        offset_dims = []
        for item in layout:
            if item[0] == "window":
                offset_dims.append(len(out_shape))
                out_shape.append(item[2])
            elif item[0] == "strided":
                strided_at[item[1]] = len(batch_shape)
                out_shape.append(item[2])
                batch_shape.append(item[2])
            else:
                block_at = len(batch_shape)
                out_shape.extend(block)
                batch_shape.extend(block)
        self.out_shape = tuple(out_shape)
        batch_shape = tuple(batch_shape)
        # Index components: (operand axis, value, its axes' positions among the batch axes).
        comps = []
        for d, a in adv.items():
            nd = core.get_aval(a).ndim
            end = block_at + len(block)
            comps.append((d, a, tuple(range(end - nd, end))))
        comps += [(d, a, (strided_at[d],)) for d, a in strided.items()]
        comps += [(d, np.asarray(s), ()) for d, (s, _) in windows.items() if s != 0]
        # Concrete components first, as one constant array; traced ones follow.
        comps.sort(key=lambda c: isinstance(c[1], Tracer))
        self.indices = _stack_components(comps, batch_shape)
        index_map = tuple(c[0] for c in comps)
        collapsed = tuple(sorted(list(adv) + list(strided)))
        self.slice_sizes = tuple(windows[d][1] if d in windows else 1 for d in range(len(shape)))
        self.gather_dnums = ix.GatherDimensionNumbers(
            offset_dims=tuple(offset_dims), collapsed_slice_dims=collapsed,
            start_index_map=index_map)
        self.scatter_dnums = ix.ScatterDimensionNumbers(
            update_window_dims=tuple(offset_dims), inserted_window_dims=collapsed,
            scatter_dims_to_operand_dims=index_map)


def _normalize(op, a, d, n, shape, check_bounds):
    """A negative index counts from the end (once); concrete ones are bounds-checked for
    getitem and kept (to be clamped or dropped by the mode) otherwise."""
    if isinstance(a, Tracer):
        if a.dtype.kind == "u":
            return a
        dt = dtypes.int64 if a.dtype.itemsize > 4 else dtypes.int32
        a = ew.convert_element_type(a, dt) if a.dtype != dt else a
        return ew.select_n(ew.lt(a, _const(a.shape, 0, dt)), a,
                           ew.add(a, _const(a.shape, n, dt)))
    if isinstance(a, int):
        a = max(min(a, n), -n - 1)  # keep huge Python ints representable, still out of range
        if check_bounds:
            return np.asarray(_check_int(op, a, d, n, shape))
        return np.asarray(a + n if a < 0 else a)
    a = np.asarray(a)
    a = np.minimum(a, n).astype(np.int64) if a.dtype.kind == "u" else a.astype(np.int64)
    if check_bounds and a.size:
        bad = (a < -n) | (a >= n)
        if bad.any():
            _check_int(op, int(a[bad].flat[0]), d, n, shape)
    return np.where(a < 0, a + n, a)


def _const(shape, value, dtype):
    # A 0-d NumPy constant is staged as a literal; larger ones as a broadcast of one.
    value = np.asarray(value, dtype)
    return value if tuple(shape) == () else st.full(shape, value)


def _index_dtype(comps):
    for _, a, _ in comps:
        if isinstance(a, Tracer):
            if a.dtype.itemsize > 4 or a.dtype == np.uint32:
                return np.dtype(np.int64)
        else:
            a = np.asarray(a)  # a concrete funcgrad Array compares as int32: use NumPy
            if a.size and (a.min() < -2**31 or a.max() >= 2**31):
                return np.dtype(np.int64)
    return np.dtype(np.int32)


def _stack_components(comps, batch_shape):
    """The gather indices: each component broadcast over the batch axes, stacked last."""
    dt = _index_dtype(comps)
    nb = len(batch_shape)
    concrete = [c for c in comps if not isinstance(c[1], Tracer)]
    traced = [c for c in comps if isinstance(c[1], Tracer)]

    def place(a, dims):  # NumPy: put a's axes at `dims` of the batch axes
        shp = [1] * nb
        for ax, size in zip(dims, a.shape):
            shp[ax] = size
        return np.broadcast_to(a.reshape(shp), batch_shape)

    const = np.stack([place(a, dims) for _, a, dims in concrete], axis=-1).astype(dt) \
        if concrete else np.zeros(batch_shape + (0,), dt)
    if not traced:
        return const
    parts = [const] if concrete else []
    for _, a, dims in traced:
        a = ew.convert_element_type(a, dt) if a.dtype != dt else a
        parts.append(st.broadcast_in_dim(a, batch_shape + (1,), dims))
    return parts[0] if len(parts) == 1 else st.concatenate(parts, nb)


# ---------------------------------------------------------------- x.at[idx]

class IndexUpdateHelper:
    """``x.at``: indexing it gives a ref with functional update methods; ``x`` never changes.

    Example:
        >>> x = fnp.zeros(3)
        >>> x.at[fnp.array([0, 0, 2])].add(1.0)
        Array([2., 0., 1.], dtype=float32)
    """

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        return IndexUpdateRef(self.array, idx)

    def __repr__(self):
        return f"IndexUpdateHelper({self.array!r})"


class IndexUpdateRef:
    """``x.at[idx]``: ``set/add/subtract/multiply (mul)/divide/power/min/max`` return a new
    array; ``get`` reads.

    ``values`` are broadcast (NumPy rules) to the shape of ``x[idx]`` and converted to
    ``x.dtype``. ``mode`` says what out-of-range indices do: ``"drop"`` (the default for
    updates; alias ``"fill"``) skips them, ``"clip"`` clamps them, ``"promise_in_bounds"`` lets
    the backend assume there are none. Duplicate indices: add/multiply/min/max apply every
    update; for ``set`` the last one (in row-major order of ``x[idx]``) wins.

    Derivatives follow the values: with duplicates, ``set`` differentiates only the update
    that wins, ``min``/``max`` split the derivative equally among tied contenders, and
    ``multiply`` differentiates every factor.
    """

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def __repr__(self):
        return f"IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, mode=None, fill_value=None, indices_are_sorted=False,
            unique_indices=False):
        """``x[idx]``; with ``mode="clip"`` or ``"fill"`` (then ``fill_value``, default NaN
        for floats) out-of-range indices are clamped or filled instead of raising."""
        if mode is None:
            return getitem(self.array, self.index)
        x = asarray(self.array)
        x2, entries = _expand_new_axes(x, _parse("at[].get", x.shape, self.index))
        plan = _Plan("at[].get", x2.shape, entries, check_bounds=False)
        if plan.empty_axis is not None:
            return _empty_axis_result("at[].get", x2, plan)
        return ix.gather(x2, plan.indices, plan.gather_dnums, plan.slice_sizes,
                         mode=ix.canonicalize_mode("at[].get", mode), fill_value=fill_value)

    def set(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] = values``."""
        return _scatter_update("set", ix.scatter_p, self.array, self.index, values, mode)

    def add(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] += values`` (duplicate indices accumulate)."""
        return _scatter_update("add", ix.scatter_add_p, self.array, self.index, values, mode)

    def subtract(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] -= values`` (duplicate indices accumulate)."""
        x = asarray(self.array)
        if x.dtype.kind == "u":  # no negation: subtract the accumulated updates instead
            zeros = st.full(x.shape, np.zeros((), x.dtype))
            return ew.sub_p.bind(x, IndexUpdateRef(zeros, self.index).add(values, mode=mode))
        vals = convert_to(asarray(values), x.dtype)
        return self.add(ew.neg_p.bind(vals), mode=mode)

    def multiply(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] *= values`` (duplicate indices accumulate)."""
        return _scatter_update("multiply", ix.scatter_mul_p, self.array, self.index, values,
                               mode)

    mul = multiply

    def divide(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] /= values`` (floating and complex ``x`` only)."""
        x = asarray(self.array)
        _require_inexact("at[].divide", x)
        denom = IndexUpdateRef(st.full(x.shape, np.ones((), x.dtype)), self.index)
        return ew.div_p.bind(x, denom.multiply(values, mode=mode))

    def power(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] **= values`` (floating and complex ``x`` only)."""
        x = asarray(self.array)
        _require_inexact("at[].power", x)
        one = st.full(x.shape, np.ones((), x.dtype))
        expo = IndexUpdateRef(one, self.index).multiply(values, mode=mode)
        # Elements not indexed keep x; their base is 1, so that d(x**e)/de = log(x) x**e is
        # not NaN there (for x < 0) and does not poison the derivative of the values.
        hit = IndexUpdateRef(st.full(x.shape, np.zeros((), np.bool_)), self.index).set(
            True, mode=mode)
        return ew.select_n(hit, x, ew.pow_p.bind(ew.select_n(hit, one, x), expo))

    def min(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] = minimum(x[idx], values)``."""
        return _scatter_update("min", ix.scatter_min_p, self.array, self.index, values, mode)

    def max(self, values, *, mode=None, indices_are_sorted=False, unique_indices=False):
        """``x`` with ``x[idx] = maximum(x[idx], values)``."""
        return _scatter_update("max", ix.scatter_max_p, self.array, self.index, values, mode)


def _require_inexact(op, x):
    if not dtypes.is_inexact(x.dtype):
        raise errors.dtype_error(op, f"needs a floating or complex array, got "
                                 f"{x.aval.str_short()}.", "convert first, e.g. "
                                 "x.astype('float32').at[idx]...")


def _scatter_update(name, prim, x, idx, values, mode):
    op = f"at[].{name}"
    x = asarray(x)
    mode = ix.canonicalize_mode(op, mode)
    x2, entries = _expand_new_axes(x, _parse(op, x.shape, idx))
    plan = _Plan(op, x2.shape, entries, check_bounds=False)
    if type(values) not in (bool, int, float, complex):
        values = asarray(values)
    vals = _broadcast_values(op, convert_to(values, x.dtype), plan.out_shape, x)
    if plan.empty_axis is not None:
        return x  # every index is out of range: nothing to write
    out = prim.bind(x2, plan.indices, vals, dimension_numbers=plan.scatter_dnums, mode=mode)
    return st.reshape(out, x.shape) if tuple(x2.shape) != tuple(x.shape) else out


def _broadcast_values(op, v, shape, x):
    vshape = tuple(v.shape)
    while len(vshape) > len(shape) and vshape[0] == 1:  # NumPy ignores extra leading 1s
        vshape = vshape[1:]
    ok = len(vshape) <= len(shape) and all(
        a in (1, b) for a, b in zip(vshape[::-1], shape[::-1]))
    if not ok:
        raise errors.shape_error(op, f"values {core.get_aval(v).str_short()} cannot be "
                                 f"broadcast to the indexed shape {tuple(shape)} of "
                                 f"{x.aval.str_short()}.", "give values of the indexed shape, "
                                 "or one that broadcasts to it.")
    if vshape != tuple(v.shape):
        v = st.reshape(v, vshape)
    if vshape != tuple(shape):
        v = st.broadcast_in_dim(v, shape, tuple(range(len(shape) - len(vshape), len(shape))))
    return v


# ---------------------------------------------------------------- nonzero and friends

def _concrete(a):
    if isinstance(a, Tracer):
        val = a.to_concrete_value()
        return None if val is None else np.asarray(val)
    return np.asarray(a)


def _fill_values(op, fill_value, ndim):
    if fill_value is None:
        return (0,) * ndim
    fills = tuple(np.ravel(np.asarray(fill_value)))
    if len(fills) == 1:
        return fills * ndim
    if len(fills) != ndim:
        raise ValueError(f"{op}: fill_value must be a scalar or have one entry per axis "
                         f"({ndim}), got {fill_value!r}.")
    return fills


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements of ``a``, one int32 array per axis.

    The result's shape depends on the values, so under a transformation ``a`` must be concrete
    unless ``size`` is given: then exactly ``size`` indices are returned (the first ones,
    padded with ``fill_value``, default 0, or one fill value per axis).

    Example:
        >>> fnp.nonzero(fnp.array([0, 3, 0, 5]))
        (Array([1, 3], dtype=int32),)
    """
    a = asarray(a)
    if a.ndim == 0:
        raise ValueError("nonzero: a 0-d array has no axes to index; use fnp.atleast_1d(a).")
    idt = dtypes.default_int()
    val = _concrete(a)
    if val is not None:
        nz = np.nonzero(val)
        if size is not None:
            fills = _fill_values("nonzero", fill_value, a.ndim)
            nz = tuple(np.concatenate([v[:size], np.full(max(size - len(v), 0), f)])
                       for v, f in zip(nz, fills))
        return tuple(Array(np.asarray(v, idt)) for v in nz)
    if size is None:
        raise errors.ConcretizationError(errors.message(
            "nonzero", f"the number of non-zero elements of a traced {a.aval.str_short()} "
            f"value is not known while tracing {a._trace.transform_name}, so the result has no "
            "static shape.", "pass size=N (and optionally fill_value) to get exactly N indices, "
            "or use fnp.where(cond, x, y) to keep shapes static.", errors.ConcretizationError))
    return _traced_nonzero(a, int(size), _fill_values("nonzero", fill_value, a.ndim), idt)


def _traced_nonzero(a, size, fills, idt):
    n = a.size
    mask = st.reshape(ew.ne(a, st.full(a.shape, np.zeros((), a.dtype))), (n,))
    count = _prefix_sum(ew.convert_element_type(mask, idt))  # 1-based rank of each non-zero
    rank = ew.sub(count, st.full((n,), np.ones((), idt)))
    # The flat position of the k-th non-zero lands at slot k; the rest go out of range.
    target = ew.select_n(mask, st.full((n,), np.asarray(size, idt)), rank)
    flat = ix.scatter(st.full((size,), np.zeros((), idt)), st.reshape(target, (n, 1)),
                      st.iota(idt, n), ix.ScatterDimensionNumbers((), (0,), (0,)), mode="drop")
    total = st.slice(count, (n - 1,), (n,)) if n else np.zeros((1,), idt)
    valid = ew.lt(st.iota(idt, size), st.broadcast_in_dim(total, (size,), (0,)))
    out, stride = [], n
    for axis, (d, f) in enumerate(zip(a.shape, fills)):
        stride //= max(d, 1)
        coord = ew.div(flat, _const((size,), stride, idt)) if stride > 1 else flat
        coord = ew.rem(coord, _const((size,), max(d, 1), idt)) if axis else coord
        out.append(ew.select_n(valid, _const((size,), f, idt), coord))
    return tuple(out)


def _prefix_sum(x):
    # Inclusive scan by doubling (log2(n) shifted adds); shifting is a pad that crops.
    n, shift = x.shape[0], 1
    while shift < n:
        x = ew.add(x, st.pad(x, np.zeros((), x.dtype), [(shift, -shift, 0)]))
        shift *= 2
    return x


def flatnonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements of ``a`` flattened (``size``: see ``nonzero``)."""
    a = asarray(a)
    return nonzero(st.reshape(a, (a.size,)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements of ``a``, one row per element: shape (N, a.ndim).

    ``size``: see ``nonzero``. A 0-d ``a`` gives shape (1, 0) if it is non-zero, else (0, 0).
    """
    a = asarray(a)
    if a.ndim == 0:
        (flat,) = nonzero(st.reshape(a, (1,)), size=size, fill_value=fill_value)
        return st.full((flat.shape[0], 0), np.zeros((), flat.dtype))
    cols = nonzero(a, size=size, fill_value=fill_value)
    if all(isinstance(c, Array) for c in cols):
        return Array(np.stack([np.asarray(c) for c in cols], axis=1))
    return st.concatenate([st.broadcast_in_dim(c, (c.shape[0], 1), (0,)) for c in cols], 1)


__all__ = ["nonzero", "argwhere", "flatnonzero"]
