"""Shape manipulation: reshaping, transposing, joining, splitting, padding, flipping, taking.

Every function reads only static shapes, so it works on tracers; each lowers to the structural
primitives (reshape, transpose, broadcast_in_dim, slice, concatenate, pad, rev, ...).
"""
from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Tracer
from funcgrad.numpy import _util
from funcgrad.numpy._util import aval_of, canonicalize_axis, check_arraylike, normalize_axes
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import structural as st

_PY_SCALARS = (bool, int, float, complex)


def _asarray(op: str, a, name: str = "a"):
    check_arraylike(op, a, names=[name])
    return _util.asarray(a)


def _int_tuple(op: str, value, what: str) -> tuple[int, ...]:
    """A static int or sequence of ints as a tuple; a clear error for traced values."""
    if isinstance(value, Tracer) or (isinstance(value, (list, tuple)) and
                                     any(isinstance(v, Tracer) for v in value)):
        raise errors.ConcretizationError(errors.message(
            op, f"{what} must be static, but got a traced value.",
            f"pass {what} as Python ints (or mark it static).", errors.ConcretizationError))
    if isinstance(value, (int, np.integer)):
        return (operator.index(value),)
    if isinstance(value, Array):
        value = np.asarray(value)
    return tuple(operator.index(v) for v in np.asarray(value).ravel()) \
        if isinstance(value, np.ndarray) else tuple(operator.index(v) for v in value)


def _static_indices(x, op: str, what: str) -> np.ndarray | None:
    """The concrete integer value of ``x`` as a NumPy array, or None when it is traced."""
    if isinstance(x, Tracer):
        val = x.to_concrete_value()
        return None if val is None else np.asarray(val)
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise errors.dtype_error(op, f"{what} must be integers, got dtype {arr.dtype}.",
                                 "convert them with .astype('int32').")
    return arr


# ---------------------------------------------------------------- shape queries

def shape(a):
    """The shape of ``a`` as a tuple of ints."""
    return aval_of(a).shape


def ndim(a):
    """The number of dimensions of ``a``."""
    return aval_of(a).ndim


def size(a, axis=None):
    """The number of elements of ``a`` (along ``axis`` when given)."""
    aval = aval_of(a)
    if axis is None:
        return aval.size
    return aval.shape[canonicalize_axis("size", axis, aval.ndim)]


def copy(a, order=None):
    """A copy of ``a`` (arrays are immutable, so this is ``asarray`` with a copy equation)."""
    return ew.copy_p.bind(_asarray("copy", a))


# ---------------------------------------------------------------- reshape and friends

def _check_order(op: str, order):
    if order not in ("C", None, "A", "K"):
        raise NotImplementedError(errors.message(
            op, f"order={order!r} is not supported; only row-major (order='C') layouts exist.",
            "transpose explicitly, e.g. fnp.reshape(x.T, shape[::-1]).T for Fortran order.",
            errors.ShapeError))


def _resolve_shape(op: str, aval, newshape) -> tuple[int, ...]:
    newshape = _int_tuple(op, newshape, "the new shape")
    unknown = [i for i, d in enumerate(newshape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in newshape):
        raise errors.shape_error(op, f"new shape {newshape} may hold at most one -1 and no other "
                                 "negative sizes.", "give every size but one explicitly.")
    if unknown:
        known = math.prod(d for d in newshape if d != -1)
        if known == 0 or aval.size % known:
            raise errors.shape_error(op, f"cannot reshape {aval.str_short()} ({aval.size} "
                                     f"elements) into shape {newshape}.",
                                     "the known sizes must divide the number of elements.")
        newshape = tuple(aval.size // known if d == -1 else d for d in newshape)
    if math.prod(newshape) != aval.size:
        raise errors.shape_error(op, f"cannot reshape {aval.str_short()} ({aval.size} elements) "
                                 f"into shape {newshape}.",
                                 "the new shape must have the same number of elements.")
    return newshape


def reshape(a, shape=None, order="C", *, newshape=None):
    """Gives ``a`` a new shape with the same elements (row-major); one size may be -1.

    Example:
        >>> fnp.reshape(fnp.arange(6), (2, -1)).shape
        (2, 3)
    """
    _check_order("reshape", order)
    a = _asarray("reshape", a)
    shape = newshape if shape is None else shape
    if shape is None:
        raise TypeError("reshape: missing the new shape.")
    new = _resolve_shape("reshape", aval_of(a), shape)
    return a if new == a.shape else st.reshape(a, new)


def ravel(a, order="C"):
    """The elements of ``a`` as a 1-D array, in row-major order."""
    _check_order("ravel", order)
    a = _asarray("ravel", a)
    return a if a.ndim == 1 else st.reshape(a, (a.size,))


def transpose(a, axes=None):
    """Permutes the axes of ``a``; ``axes=None`` reverses them.

    Example:
        >>> fnp.transpose(fnp.ones((2, 3, 4)), (1, 0, 2)).shape
        (3, 2, 4)
    """
    a = _asarray("transpose", a)
    if axes is None:
        perm = tuple(range(a.ndim))[::-1]
    else:
        axes = _int_tuple("transpose", axes, "axes")
        if len(axes) != a.ndim:
            raise errors.shape_error("transpose", f"axes={axes} has {len(axes)} entries but "
                                     f"the array {aval_of(a).str_short()} has rank {a.ndim}.",
                                     "give one axis per dimension.")
        perm = tuple(canonicalize_axis("transpose", ax, a.ndim) for ax in axes)
    return a if perm == tuple(range(a.ndim)) else st.transpose(a, perm)


def swapaxes(a, axis1, axis2):
    """Interchanges two axes of ``a``."""
    a = _asarray("swapaxes", a)
    perm = list(range(a.ndim))
    i = canonicalize_axis("swapaxes", axis1, a.ndim)
    j = canonicalize_axis("swapaxes", axis2, a.ndim)
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a, source, destination):
    """Moves axes ``source`` of ``a`` to positions ``destination`` (ints or sequences)."""
    a = _asarray("moveaxis", a)
    src = _int_tuple("moveaxis", source, "source")
    dst = _int_tuple("moveaxis", destination, "destination")
    if len(src) != len(dst):
        raise errors.shape_error("moveaxis", f"source {src} and destination {dst} have "
                                 "different lengths.", "give one destination per source axis.")
    src = tuple(canonicalize_axis("moveaxis", s, a.ndim) for s in src)
    dst = tuple(canonicalize_axis("moveaxis", d, a.ndim) for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise errors.shape_error("moveaxis", f"repeated axis in source {source} or destination "
                                 f"{destination}.", "list each axis once.")
    perm = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return transpose(a, perm)


def expand_dims(a, axis):
    """Inserts size-1 axes at positions ``axis`` (an int or tuple) of the result."""
    a = _asarray("expand_dims", a)
    axes = _int_tuple("expand_dims", axis, "axis")
    return st.expand_dims(a, axes)


def squeeze(a, axis=None):
    """Removes size-1 axes: all of them (``axis=None``) or those named by ``axis``.

    Raises a ShapeError naming the axis when a named axis does not have size 1."""
    a = _asarray("squeeze", a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", _int_tuple("squeeze", axis, "axis"), a.ndim)
    return a if not axes else st.squeeze(a, axes)


# ---------------------------------------------------------------- broadcasting

def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to, by NumPy's rules."""
    return _util.broadcast_shapes("broadcast_shapes",
                                  *(_int_tuple("broadcast_shapes", s, "shape") for s in shapes))


def broadcast_to(array, shape):
    """Broadcasts ``array`` to ``shape`` (NumPy rules; leading axes are added)."""
    a = _asarray("broadcast_to", array, "array")
    shape = _int_tuple("broadcast_to", shape, "shape")
    aval = aval_of(a)
    tail = shape[len(shape) - aval.ndim:] if aval.ndim else ()
    if len(shape) < aval.ndim or any(d not in (1, t) for d, t in zip(aval.shape, tail)):
        raise errors.shape_error("broadcast_to", f"cannot broadcast {aval.str_short()} to shape "
                                 f"{shape}.", "every operand size must be 1 or equal the target "
                                 "size, and the target rank may not be smaller.")
    return _util.broadcast_to_shape(a, shape)


def broadcast_arrays(*args):
    """Broadcasts ``args`` against each other; returns a list of arrays."""
    arrs = [_asarray("broadcast_arrays", a) for a in args]
    target = _util.broadcast_shapes("broadcast_arrays", *(a.shape for a in arrs))
    return [_util.broadcast_to_shape(a, target) for a in arrs]


def _atleast(op, nd, arys):
    out = []
    for a in arys:
        a = _asarray(op, a)
        if a.ndim < nd:
            if nd == 3 and a.ndim == 2:
                new = a.shape + (1,)
            elif nd == 3 and a.ndim == 1:
                new = (1,) + a.shape + (1,)
            else:
                new = (1,) * (nd - a.ndim) + a.shape
            a = st.reshape(a, new)
        out.append(a)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys):
    """Views each input with at least one dimension; one array or a list."""
    return _atleast("atleast_1d", 1, arys)


def atleast_2d(*arys):
    """Views each input with at least two dimensions (1-D ``(n,)`` becomes ``(1, n)``)."""
    return _atleast("atleast_2d", 2, arys)


def atleast_3d(*arys):
    """Views each input with at least three dimensions (``(n,)`` -> ``(1, n, 1)``,
    ``(m, n)`` -> ``(m, n, 1)``)."""
    return _atleast("atleast_3d", 3, arys)


# ---------------------------------------------------------------- joining

def _as_sequence(op: str, arrays):
    if isinstance(arrays, (Array, Tracer, np.ndarray)):
        aval = aval_of(arrays)
        if aval.ndim == 0:
            raise errors.shape_error(op, f"a 0-d array {aval.str_short()} is not a sequence of "
                                     "arrays.", "pass a list of arrays.")
        return _unstack(arrays)
    arrays = list(arrays)
    if not arrays:
        raise errors.shape_error(op, "needs at least one array to join.",
                                 "pass a non-empty list.")
    return arrays


def _unstack(a) -> list:
    """The slices of ``a`` along axis 0, without indexing (slice + reshape)."""
    aval = aval_of(a)
    rest = aval.shape[1:]
    return [st.reshape(st.slice(a, (i,) + (0,) * len(rest), (i + 1,) + rest), rest)
            for i in range(aval.shape[0])]


def _promoted(op: str, arrays, dtype):
    arrays = [_asarray(op, a, "arrays") for a in arrays]
    if dtype is not None:
        return [_util.convert_to(a, dtypes.canonicalize(dtype), False) for a in arrays]
    return _util.promote_dtypes(op, *arrays)


def concatenate(arrays, axis=0, dtype=None):
    """Joins ``arrays`` along an existing axis, promoting their dtypes; ``axis=None``
    flattens them first.

    Example:
        >>> fnp.concatenate([fnp.zeros((2, 3)), fnp.ones((1, 3))]).shape
        (3, 3)
    """
    arrays = _promoted("concatenate", _as_sequence("concatenate", arrays), dtype)
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    ranks = {a.ndim for a in arrays}
    if len(ranks) > 1 or 0 in ranks:
        what = ("zero-dimensional arrays cannot be concatenated" if 0 in ranks else
                "all arrays must have the same rank")
        raise errors.shape_error("concatenate", f"{what}; got "
                                 f"{_fmt_avals(arrays)}.",
                                 "reshape the arrays to one rank (fnp.stack adds an axis).")
    axis = canonicalize_axis("concatenate", axis, arrays[0].ndim)
    if len(arrays) == 1:
        return arrays[0]
    return st.concatenate(arrays, axis)


def _fmt_avals(arrays) -> str:
    return ", ".join(aval_of(a).str_short() for a in arrays)


def stack(arrays, axis=0, dtype=None):
    """Joins equally shaped ``arrays`` along a new axis ``axis``.

    Example:
        >>> fnp.stack([fnp.zeros(3), fnp.ones(3)], axis=1).shape
        (3, 2)
    """
    arrays = _promoted("stack", _as_sequence("stack", arrays), dtype)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise errors.shape_error("stack", f"all arrays must have the same shape; got "
                                 f"{_fmt_avals(arrays)}.", "reshape or broadcast them first.")
    axis = canonicalize_axis("stack", axis, arrays[0].ndim + 1)
    arrays = [st.expand_dims(a, (axis,)) for a in arrays]
    return arrays[0] if len(arrays) == 1 else st.concatenate(arrays, axis)


def hstack(tup, dtype=None):
    """Stacks horizontally: along axis 1, or axis 0 for 1-D inputs."""
    arrs = [atleast_1d(a) for a in _as_sequence("hstack", tup)]
    return concatenate(arrs, 0 if arrs[0].ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    """Stacks vertically (along axis 0), after making each input at least 2-D."""
    return concatenate([atleast_2d(a) for a in _as_sequence("vstack", tup)], 0, dtype=dtype)


def dstack(tup, dtype=None):
    """Stacks along the third axis, after making each input at least 3-D."""
    return concatenate([atleast_3d(a) for a in _as_sequence("dstack", tup)], 2, dtype=dtype)


def column_stack(tup):
    """Stacks 1-D arrays as columns (and 2-D arrays as they are) into a 2-D array."""
    arrs = []
    for a in _as_sequence("column_stack", tup):
        a = _asarray("column_stack", a, "tup")
        arrs.append(st.reshape(a, (a.size, 1)) if a.ndim < 2 else a)
    return concatenate(arrs, 1)


# ---------------------------------------------------------------- splitting

def _split_points(op, n, indices_or_sections, even: bool) -> list[int]:
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise errors.shape_error(op, f"number of sections must be positive, got {sections}.",
                                     "pass a positive int.")
        if even and n % sections:
            raise errors.shape_error(op, f"an axis of size {n} cannot be split into {sections} "
                                     "equal sections.", "use fnp.array_split for unequal "
                                     "sections, or give split indices.")
        q, r = divmod(n, sections)
        sizes = [q + 1] * r + [q] * (sections - r)
        return list(np.cumsum(sizes)[:-1])
    return list(_int_tuple(op, indices_or_sections, "indices_or_sections"))


def _split(op, ary, indices_or_sections, axis, even):
    a = _asarray(op, ary, "ary")
    axis = canonicalize_axis(op, axis, a.ndim)
    n = a.shape[axis]
    points = _split_points(op, n, indices_or_sections, even)
    out = []
    # Split points follow Python slicing: negative counts from the end, clipped to [0, n].
    bounds = [0] + [builtins.min(builtins.max(p + n if p < 0 else p, 0), n) for p in points] + [n]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        hi = builtins.max(lo, hi)
        out.append(_slice_axis(a, axis, lo, hi))
    return out


def _slice_axis(a, axis, lo, hi, step=1):
    start = [0] * a.ndim
    limit = list(a.shape)
    strides = [1] * a.ndim
    start[axis], limit[axis], strides[axis] = lo, hi, step
    if (lo, hi, step) == (0, a.shape[axis], 1):
        return a
    return st.slice(a, start, limit, strides)


def split(ary, indices_or_sections, axis=0):
    """Splits ``ary`` into equal sections (an int) or at the given indices; a list.

    Raises a ShapeError when an int does not divide the axis size evenly."""
    return _split("split", ary, indices_or_sections, axis, even=True)


def array_split(ary, indices_or_sections, axis=0):
    """Like ``split``, but an int need not divide the axis: the first sections get one more."""
    return _split("array_split", ary, indices_or_sections, axis, even=False)


# ---------------------------------------------------------------- static gathers

_MAX_STATIC_RUNS = 8  # beyond this many runs, one gather is smaller than slices + concatenate


def _take_static(a, idx: np.ndarray, axis: int):
    """``a`` indexed along ``axis`` by a concrete 1-D index array (values in range).

    Runs of the index with steps +1, -1 or 0 become one slice each (reversed or broadcast as
    needed): the structured maps of pad modes and repeat stay plain slices. Other maps
    become one gather."""
    n = len(idx)
    if n == 0:
        return _slice_axis(a, axis, 0, 0)
    steps = np.diff(idx)
    runs_bound = 1 + np.count_nonzero(np.diff(steps)) + np.count_nonzero(np.abs(steps) > 1)
    if runs_bound > _MAX_STATIC_RUNS:
        return take(a, np.asarray(idx, np.int32), axis=axis, mode="clip")
    pieces = []
    i = 0
    while i < n:
        if i + 1 < n and abs(steps[i]) <= 1:
            step = int(steps[i])
            other = np.flatnonzero(steps[i:] != step)
            j = i + 1 + (int(other[0]) if other.size else n - 1 - i)
        else:
            step, j = 1, i + 1
        first, last = int(idx[i]), int(idx[j - 1])
        if step == 0:
            piece = _slice_axis(a, axis, first, first + 1)
            if j - i > 1:
                shape = list(piece.shape)
                shape[axis] = j - i
                piece = st.broadcast_in_dim(piece, shape, tuple(range(a.ndim)))
        elif step == 1:
            piece = _slice_axis(a, axis, first, last + 1)
        else:
            piece = st.rev(_slice_axis(a, axis, last, first + 1), (axis,))
        pieces.append(piece)
        i = j
    return pieces[0] if len(pieces) == 1 else st.concatenate(pieces, axis)


# ---------------------------------------------------------------- tile and repeat

def tile(A, reps):
    """Repeats the whole array ``A`` ``reps`` times along each axis."""
    a = _asarray("tile", A, "A")
    reps = _int_tuple("tile", reps, "reps")
    if any(r < 0 for r in reps):
        raise errors.shape_error("tile", f"reps={reps} must be non-negative.", "pass reps >= 0.")
    nd = builtins.max(len(reps), a.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    # (d0, d1, ...) -> broadcast to (r0, d0, r1, d1, ...) -> reshape to (r0*d0, r1*d1, ...).
    interleaved = tuple(x for r, d in zip(reps, a.shape) for x in (r, d))
    out = st.broadcast_in_dim(a, interleaved, tuple(range(1, 2 * nd, 2)))
    return st.reshape(out, tuple(r * d for r, d in zip(reps, a.shape)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    """Repeats each element of ``a`` ``repeats`` times (an int, or one concrete count per
    element along ``axis``); ``axis=None`` works on the flattened array.

    Example:
        >>> fnp.repeat(fnp.array([1, 2]), 2)
        Array([1, 1, 2, 2], dtype=int32)
    """
    a = _asarray("repeat", a)
    if axis is None:
        a = ravel(a)
        axis = 0
    axis = canonicalize_axis("repeat", axis, a.ndim)
    n = a.shape[axis]
    reps = _static_indices(repeats, "repeat", "repeats")
    if reps is None:
        raise errors.ConcretizationError(errors.message(
            "repeat", "repeats must be concrete, but a traced value was given.",
            "pass repeats as Python ints or a NumPy array.", errors.ConcretizationError))
    if np.any(reps < 0):
        raise errors.shape_error("repeat", f"repeats must be non-negative, got {reps}.",
                                 "pass counts >= 0.")
    if reps.ndim == 0 or reps.size == 1:
        r = int(reps.reshape(()))
        shape = a.shape[:axis + 1] + (r,) + a.shape[axis + 1:]
        dims = tuple(i for i in range(a.ndim + 1) if i != axis + 1)
        out = st.broadcast_in_dim(a, shape, dims)
        out = st.reshape(out, a.shape[:axis] + (n * r,) + a.shape[axis + 1:])
    else:
        if reps.shape != (n,):
            raise errors.shape_error("repeat", f"repeats has shape {reps.shape} but axis {axis} "
                                     f"of {aval_of(a).str_short()} has size {n}.",
                                     "give one count per element, or a single int.")
        out = _take_static(a, np.repeat(np.arange(n), reps), axis)
    if total_repeat_length is not None and total_repeat_length != out.shape[axis]:
        raise errors.shape_error("repeat", f"total_repeat_length={total_repeat_length} but the "
                                 f"repeats sum to {out.shape[axis]}.",
                                 "make them agree or omit total_repeat_length.")
    return out


# ---------------------------------------------------------------- pad

def _pairs(op: str, value, nd: int, what: str):
    """np.pad-style broadcasting of ``value`` to one (before, after) pair per axis.

    Broadcasts in Python, never through a NumPy object array: entries may be traced scalars
    (``constant_values`` under grad or vmap), which must not be converted to NumPy."""
    def nested(v):
        return isinstance(v, (list, tuple)) or isinstance(v, (np.ndarray, Array)) and v.ndim

    def bad():
        return errors.shape_error(op, f"{what}={value!r} cannot be broadcast to one (before, "
                                  f"after) pair for each of {nd} axes.",
                                  "pass an int, a pair, or one pair per axis.")

    def pair(row):
        row = list(row)
        if len(row) not in (1, 2) or any(nested(v) for v in row):
            raise bad()
        return (row[0], row[-1])

    if not nested(value):
        return [(value, value)] * nd
    rows = list(value)
    if not any(nested(r) for r in rows):
        return [pair(rows)] * nd
    if not all(nested(r) for r in rows) or len(rows) not in (1, nd):
        raise bad()
    rows = [pair(r) for r in rows]
    return rows * nd if len(rows) == 1 else rows


def pad(array, pad_width, mode="constant", **kwargs):
    """Pads ``array`` as ``numpy.pad``: ``pad_width`` is an int, a (before, after) pair or one
    pair per axis; modes 'constant' (``constant_values``), 'edge', 'reflect', 'symmetric' and
    'wrap'.

    Example:
        >>> fnp.pad(fnp.array([1, 2, 3]), (1, 2), mode="edge")
        Array([1, 1, 2, 3, 3, 3], dtype=int32)
    """
    a = _asarray("pad", array, "array")
    if isinstance(pad_width, Tracer):
        _int_tuple("pad", pad_width, "pad_width")
    widths = [(operator.index(lo), operator.index(hi))
              for lo, hi in _pairs("pad", pad_width, a.ndim, "pad_width")]
    if any(w < 0 for p in widths for w in p):
        raise errors.shape_error("pad", f"pad_width={pad_width} has negative entries.",
                                 "pass non-negative widths (slice to crop).")
    if mode == "constant":
        extra = set(kwargs) - {"constant_values"}
        if extra:
            raise TypeError(f"pad: unexpected keyword arguments {sorted(extra)} for mode "
                            "'constant'.")
        return _pad_constant(a, widths, kwargs.get("constant_values", 0))
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(errors.message(
            "pad", f"mode={mode!r} is not supported.",
            "use 'constant', 'edge', 'reflect', 'symmetric' or 'wrap'.", errors.ShapeError))
    reflect_type = kwargs.pop("reflect_type", "even")
    if kwargs or reflect_type != "even":
        raise NotImplementedError(errors.message(
            "pad", f"options {dict(kwargs, reflect_type=reflect_type)} are not supported for "
            f"mode {mode!r}.", "omit them (only reflect_type='even' is implemented).",
            errors.ShapeError))
    for axis, (lo, hi) in enumerate(widths):
        if a.shape[axis] == 0 and lo + hi:
            raise errors.shape_error("pad", f"cannot pad the empty axis {axis} of "
                                     f"{aval_of(a).str_short()} in mode {mode!r}.",
                                     "use mode='constant' for empty axes.")
    for axis, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        n = a.shape[axis]
        # NumPy's own index map of the mode, applied as a static gather along the axis.
        a = _take_static(a, np.pad(np.arange(n), (lo, hi), mode=mode), axis)
    return a


def _pad_constant(a, widths, constant_values):
    dt = a.dtype

    def value(v):
        if type(v) in _PY_SCALARS:
            return v  # the pad wrapper converts Python scalars to the operand's dtype
        v = _asarray("pad", v, "constant_values")
        if v.ndim:
            raise errors.shape_error("pad", f"constant_values entries must be scalars, got "
                                     f"{aval_of(v).str_short()}.", "pass scalars.")
        return _util.convert_to(v, dt, False) if v.dtype != dt or v.weak_type else v

    if isinstance(constant_values, (Array, Tracer)) and constant_values.ndim == 0 or \
            type(constant_values) in _PY_SCALARS or isinstance(constant_values, np.generic):
        return st.pad(a, value(constant_values), [(lo, hi, 0) for lo, hi in widths])
    if isinstance(constant_values, Tracer):
        raise errors.shape_error("pad", "traced constant_values must be a scalar.",
                                 "pass a scalar or a nested sequence of scalars.")
    pairs = _pairs("pad", np.asarray(constant_values).tolist() if isinstance(
        constant_values, (Array, np.ndarray)) else constant_values, a.ndim, "constant_values")
    for axis, ((lo, hi), (vlo, vhi)) in enumerate(zip(widths, pairs)):
        for width, v, low in ((lo, vlo, True), (hi, vhi, False)):
            if width:
                config = [(0, 0, 0)] * a.ndim
                config[axis] = (width, 0, 0) if low else (0, width, 0)
                a = st.pad(a, value(v.item() if isinstance(v, np.generic) else v), config)
    return a


# ---------------------------------------------------------------- flip, roll, rot90

def flip(m, axis=None):
    """Reverses the order of elements along ``axis`` (None: all axes; an int or tuple)."""
    m = _asarray("flip", m, "m")
    axes = normalize_axes("flip", None if axis is None else _int_tuple("flip", axis, "axis"),
                          m.ndim)
    return m if not axes else st.rev(m, axes)


def fliplr(m):
    """Reverses the order of columns (axis 1); needs at least 2-D input."""
    m = _asarray("fliplr", m, "m")
    if m.ndim < 2:
        raise errors.shape_error("fliplr", f"needs an array of rank >= 2, got "
                                 f"{aval_of(m).str_short()}.", "use fnp.flip for 1-D arrays.")
    return st.rev(m, (1,))


def flipud(m):
    """Reverses the order of rows (axis 0); needs at least 1-D input."""
    m = _asarray("flipud", m, "m")
    if m.ndim < 1:
        raise errors.shape_error("flipud", f"needs an array of rank >= 1, got "
                                 f"{aval_of(m).str_short()}.", "use a 1-D or larger array.")
    return st.rev(m, (0,))


def _roll_axis(a, shift, axis):
    n = a.shape[axis]
    if n == 0:
        return a
    if isinstance(shift, int):
        s = shift % n
        if s == 0:
            return a
        return st.concatenate([_slice_axis(a, axis, n - s, n), _slice_axis(a, axis, 0, n - s)],
                              axis)
    # A traced shift: the window of [a, a] that starts at (n - shift mod n) mod n.
    size = Array(np.asarray(n, shift.dtype))
    start = ew.rem(ew.sub(size, ew.rem(shift, size)), size)
    starts = [Array(np.zeros((), shift.dtype))] * a.ndim
    starts[axis] = start
    doubled = st.concatenate([a, a], axis)
    return st.dynamic_slice_p.bind(doubled, *starts, slice_sizes=a.shape)


def _shift_list(shift) -> list:
    """``shift`` as a list of Python ints, or of traced integer scalars."""
    if isinstance(shift, Tracer) and shift.to_concrete_value() is None:
        aval = aval_of(shift)
        if aval.ndim > 1 or aval.dtype.kind not in "iu":
            raise errors.shape_error("roll", f"a traced shift must be an integer scalar or "
                                     f"vector, got {aval.str_short()}.", "pass ints.")
        return [shift] if aval.ndim == 0 else _unstack(shift)
    if isinstance(shift, (list, tuple)):
        return [s for v in shift for s in _shift_list(v)]
    return list(_int_tuple("roll", shift, "shift"))


def roll(a, shift, axis=None):
    """Rolls elements of ``a`` by ``shift`` along ``axis`` (ints or tuples; None: flattened).

    ``shift`` may be traced; elements that roll beyond the end come back at the start.

    Example:
        >>> fnp.roll(fnp.arange(4), 1)
        Array([3, 0, 1, 2], dtype=int32)
    """
    a = _asarray("roll", a)
    shifts = _shift_list(shift)
    if axis is None:
        if len(shifts) != 1:
            raise errors.shape_error("roll", f"axis=None takes one shift, got {len(shifts)}.",
                                     "pass a single shift, or one axis per shift.")
        return reshape(_roll_axis(ravel(a), shifts[0], 0), a.shape)
    axes = _int_tuple("roll", axis, "axis")
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise errors.shape_error("roll", f"shift has {len(shifts)} entries but axis has "
                                 f"{len(axes)}.", "give one shift per axis.")
    for sh, ax in zip(shifts, axes):
        a = _roll_axis(a, sh, canonicalize_axis("roll", ax, a.ndim))
    return a


def rot90(m, k=1, axes=(0, 1)):
    """Rotates ``m`` by 90 degrees ``k`` times in the plane of ``axes`` (from the first axis
    towards the second)."""
    m = _asarray("rot90", m, "m")
    axes = _int_tuple("rot90", axes, "axes")
    if len(axes) != 2:
        raise errors.shape_error("rot90", f"axes={axes} must name exactly two axes.",
                                 "pass a pair such as (0, 1).")
    a0, a1 = (canonicalize_axis("rot90", ax, m.ndim) for ax in axes)
    if a0 == a1:
        raise errors.shape_error("rot90", f"axes={axes} name the same axis twice.",
                                 "pass two different axes.")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return st.rev(m, tuple(sorted((a0, a1))))
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return st.transpose(st.rev(m, (a1,)), perm)
    return st.rev(st.transpose(m, perm), (a1,))


# ---------------------------------------------------------------- take

def _index_array(op: str, indices):
    """``indices`` as an integer funcgrad array (int32 unless it is already int64/uint)."""
    if isinstance(indices, (Array, Tracer)):
        idx = indices
    else:
        arr = _static_indices(indices, op, "indices")
        idx = Array(np.asarray(arr, np.int64 if arr.dtype == np.int64 else np.int32))
    aval = aval_of(idx)
    if aval.dtype.kind not in "iu":
        raise errors.dtype_error(op, f"indices must be integers, got {aval.str_short()}.",
                                 "convert them with .astype('int32').")
    return idx


def _normalize_index(idx, n, mode):
    """Applies ``mode`` to indices along an axis of size ``n``: 'wrap' takes them modulo n;
    'fill' makes negative ones count from the end (as JAX does); 'clip' leaves them to gather.
    Concrete indices are normalized in NumPy, so no equations are staged for them."""
    dt = aval_of(idx).dtype
    if mode == "clip" or (mode == "fill" and dt.kind == "u"):
        return idx
    if isinstance(idx, Array):
        v = np.asarray(idx)
        v = np.mod(v, n) if mode == "wrap" else np.where(v < 0, v + n, v)
        return Array(v.astype(dt))
    size = st.full(idx.shape, n, dt)
    if mode == "wrap":
        r = ew.rem(idx, size)
        if dt.kind == "u":
            return r
        idx = r  # rem keeps the sign of the dividend: fix negatives below
    return ew.select_n(ew.lt(idx, st.full_like(idx, 0)), idx, ew.add(idx, size))


def _check_mode(op, mode):
    mode = "fill" if mode is None else mode
    if mode not in ("fill", "clip", "wrap"):
        raise NotImplementedError(errors.message(
            op, f"mode={mode!r} is not supported.", "use 'fill', 'clip' or 'wrap'.",
            errors.ShapeError))
    return mode


def _empty_axis_result(op, a, out_shape, mode, fill_value):
    # Nothing can be read from an empty axis: every output is the fill value.
    if mode != "fill" and math.prod(out_shape):
        raise errors.shape_error(op, f"cannot take from an empty axis of "
                                 f"{aval_of(a).str_short()} with mode={mode!r}.",
                                 "use mode='fill'.")
    from funcgrad.primitives.indexing import default_fill_value
    fill = default_fill_value(a.dtype) if fill_value is None else fill_value
    with np.errstate(all="ignore"):
        return st.full(out_shape, np.asarray(fill).astype(a.dtype).item(), a.dtype)


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Takes elements of ``a`` at ``indices`` along ``axis`` (None: the flattened array).

    Out-of-range indices follow ``mode``: 'fill' (the default, as in JAX: negative indices in
    [-n, 0) count from the end, others give ``fill_value``, which defaults to NaN for floats,
    the most negative int, or True), 'clip' or 'wrap'. ``indices`` may be traced.

    Example:
        >>> fnp.take(fnp.array([10, 20, 30]), fnp.array([2, 0]))
        Array([30, 10], dtype=int32)
    """
    if out is not None:
        raise NotImplementedError("take: out= is not supported; arrays are immutable.")
    a = _asarray("take", a)
    idx = _index_array("take", indices)
    if axis is None:
        a = ravel(a)
        axis = 0
    axis = canonicalize_axis("take", axis, a.ndim)
    mode = _check_mode("take", mode)
    n = a.shape[axis]
    out_shape = a.shape[:axis] + idx.shape + a.shape[axis + 1:]
    if n == 0:
        return _empty_axis_result("take", a, out_shape, mode, fill_value)
    from funcgrad.primitives import indexing
    idx = _normalize_index(idx, n, mode)
    dnums = indexing.GatherDimensionNumbers(
        offset_dims=tuple(range(axis)) + tuple(range(axis + idx.ndim, len(out_shape))),
        collapsed_slice_dims=(axis,), start_index_map=(axis,))
    slice_sizes = a.shape[:axis] + (1,) + a.shape[axis + 1:]
    return indexing.gather(a, st.expand_dims(idx, (idx.ndim,)), dnums, slice_sizes,
                           mode="clip" if mode == "clip" else "fill", fill_value=fill_value)


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """Takes values from ``arr`` by matching 1-D slices of ``indices`` along ``axis``
    (``axis=None``: both flattened); other axes broadcast. ``mode`` as for ``take``.

    Example:
        >>> x = fnp.array([[10, 30, 20]])
        >>> fnp.take_along_axis(x, fnp.argsort(x, axis=1), axis=1)
        Array([[10, 20, 30]], dtype=int32)
    """
    a = _asarray("take_along_axis", arr, "arr")
    idx = _index_array("take_along_axis", indices)
    if axis is None:
        a, idx, axis = ravel(a), ravel(idx), 0
    axis = canonicalize_axis("take_along_axis", axis, a.ndim)
    if idx.ndim != a.ndim:
        raise errors.shape_error("take_along_axis", f"indices {aval_of(idx).str_short()} and "
                                 f"arr {aval_of(a).str_short()} must have the same rank.",
                                 "expand the indices with None axes to the array's rank.")
    mode = _check_mode("take_along_axis", mode)
    n = a.shape[axis]
    out_shape = list(_util.broadcast_shapes(
        "take_along_axis", a.shape[:axis] + (1,) + a.shape[axis + 1:],
        idx.shape[:axis] + (1,) + idx.shape[axis + 1:]))
    out_shape[axis] = idx.shape[axis]
    out_shape = tuple(out_shape)
    if n == 0 or 0 in out_shape:  # a gather window cannot fit in an operand with an empty axis
        return _empty_axis_result("take_along_axis", a, out_shape, mode, fill_value)
    a = broadcast_to(a, out_shape[:axis] + (n,) + out_shape[axis + 1:])
    idx = _normalize_index(broadcast_to(idx, out_shape), n, mode)
    # One full index vector per output element: the iota of each other axis, idx on `axis`.
    dt = aval_of(idx).dtype
    coords = [idx if d == axis else st.broadcasted_iota(dt, out_shape, d)
              for d in range(a.ndim)]
    vectors = st.concatenate([st.expand_dims(c, (a.ndim,)) for c in coords], a.ndim)
    from funcgrad.primitives import indexing
    dnums = indexing.GatherDimensionNumbers(
        offset_dims=(), collapsed_slice_dims=tuple(range(a.ndim)),
        start_index_map=tuple(range(a.ndim)))
    return indexing.gather(a, vectors, dnums, (1,) * a.ndim,
                           mode="clip" if mode == "clip" else "fill", fill_value=fill_value)


# ---------------------------------------------------------------- diagonals and triangles

def _iota_mask(shape, row_axis, col_axis, k, cmp):
    """``cmp(col - row, k)`` over ``shape`` as a boolean array (built from iotas)."""
    rows = st.broadcasted_iota(dtypes.int32, shape, row_axis)
    cols = st.broadcasted_iota(dtypes.int32, shape, col_axis)
    diff = ew.sub(cols, rows)
    return cmp(diff, st.full(shape, k, dtypes.int32))


def _select(mask, on_true, on_false):
    return ew.select_n(mask, on_false, on_true)


def tril(m, k=0):
    """The lower triangle of ``m`` (of its last two axes): entries above diagonal ``k``
    become zero."""
    m = _asarray("tril", m, "m")
    if m.ndim < 2:
        raise errors.shape_error("tril", f"needs an array of rank >= 2, got "
                                 f"{aval_of(m).str_short()}.", "pass a matrix.")
    mask = _iota_mask(m.shape, m.ndim - 2, m.ndim - 1, operator.index(k), ew.le)
    return _select(mask, m, st.full_like(m, 0))


def triu(m, k=0):
    """The upper triangle of ``m`` (of its last two axes): entries below diagonal ``k``
    become zero."""
    m = _asarray("triu", m, "m")
    if m.ndim < 2:
        raise errors.shape_error("triu", f"needs an array of rank >= 2, got "
                                 f"{aval_of(m).str_short()}.", "pass a matrix.")
    mask = _iota_mask(m.shape, m.ndim - 2, m.ndim - 1, operator.index(k), ew.ge)
    return _select(mask, m, st.full_like(m, 0))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal ``offset`` of the plane ``(axis1, axis2)`` of ``a``, as the last axis."""
    a = _asarray("diagonal", a)
    if a.ndim < 2:
        raise errors.shape_error("diagonal", f"needs an array of rank >= 2, got "
                                 f"{aval_of(a).str_short()}.", "pass a matrix.")
    i = canonicalize_axis("diagonal", axis1, a.ndim)
    j = canonicalize_axis("diagonal", axis2, a.ndim)
    if i == j:
        raise errors.shape_error("diagonal", f"axis1 and axis2 are the same axis ({i}).",
                                 "pass two different axes.")
    offset = operator.index(offset)
    a = moveaxis(a, (i, j), (-2, -1))
    rows, cols = a.shape[-2:]
    # Crop to the part where diagonal `offset` starts at (0, 0), then read a flat stride.
    r0, c0 = (0, offset) if offset >= 0 else (-offset, 0)
    r0, c0 = builtins.min(r0, rows), builtins.min(c0, cols)
    nr, nc = rows - r0, cols - c0
    d = builtins.max(builtins.min(nr, nc), 0)
    lead = a.shape[:-2]
    a = st.slice(a, (0,) * len(lead) + (r0, c0), lead + (r0 + d, cols))
    flat = st.reshape(a, lead + (d * nc,))
    return st.slice(flat, (0,) * len(lead) + (0,), lead + (d * nc,),
                    (1,) * len(lead) + (nc + 1,)) if d else st.reshape(flat, lead + (0,))


def diag(v, k=0):
    """A 1-D ``v`` becomes a matrix with ``v`` on diagonal ``k``; a 2-D ``v`` gives its
    diagonal ``k``."""
    v = _asarray("diag", v, "v")
    k = operator.index(k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise errors.shape_error("diag", f"needs a 1-D or 2-D array, got "
                                 f"{aval_of(v).str_short()}.", "use fnp.diagonal for higher "
                                 "ranks.")
    n = v.shape[0]
    m = n + abs(k)
    # Row-broadcast v, padded into column positions, then keep only diagonal k.
    vals = st.pad(v, 0, [(builtins.max(k, 0), builtins.max(-k, 0), 0)])
    vals = st.broadcast_in_dim(vals, (m, m), (1,))
    mask = _iota_mask((m, m), 0, 1, k, ew.eq)
    return _select(mask, vals, st.full_like(vals, 0))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """The sum along diagonal ``offset`` of the plane ``(axis1, axis2)``."""
    from funcgrad import numpy as fnp
    return fnp.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


# ---------------------------------------------------------------- meshgrid

def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinate vectors (``indexing`` 'xy' or 'ij')."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    arrs = [ravel(_asarray("meshgrid", x, "xi")) for x in xi]
    shape = [a.shape[0] for a in arrs]
    if indexing == "xy" and len(arrs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(arrs):
        dim = i
        if indexing == "xy" and len(arrs) >= 2 and i < 2:
            dim = 1 - i
        if sparse:
            s = [1] * len(arrs)
            s[dim] = a.shape[0]
            out.append(st.reshape(a, s))
        else:
            out.append(st.broadcast_in_dim(a, shape, (dim,)))
    return out


__all__ = ["shape", "ndim", "size", "copy", "reshape", "ravel", "transpose", "swapaxes",
           "moveaxis", "expand_dims", "squeeze", "broadcast_shapes", "broadcast_to",
           "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "concatenate", "stack",
           "hstack", "vstack", "dstack", "column_stack", "split", "array_split", "tile",
           "repeat", "pad", "flip", "fliplr", "flipud", "roll", "rot90", "take",
           "take_along_axis", "tril", "triu", "diagonal", "diag", "trace", "meshgrid"]
