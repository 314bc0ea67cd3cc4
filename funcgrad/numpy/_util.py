"""The machinery of funcgrad.numpy: array conversion, dtype promotion and broadcasting.

funcgrad.numpy is the only layer that broadcasts and promotes; primitives require equal shapes
and dtypes, so every implicit conversion shows up as an explicit equation in the jaxpr.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import ShapedArray, Tracer
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import structural as st
from funcgrad.primitives._helpers import canonicalize_axis  # noqa: F401  (re-exported)

_PY_SCALARS = (bool, int, float, complex)


def aval_of(x) -> ShapedArray:
    return core.get_aval(x)


def is_array(x) -> bool:
    return isinstance(x, (Array, Tracer))


def check_arraylike(op: str, *args, names: Sequence[str] | None = None):
    """Raises a TypeError naming the argument when one is not array-like."""
    for i, a in enumerate(args):
        if isinstance(a, (Array, Tracer, np.ndarray, np.generic)) or type(a) in _PY_SCALARS:
            continue
        if isinstance(a, (list, tuple)) and op in ("array", "asarray"):
            continue
        name = names[i] if names else f"argument {i}"
        raise errors.InvalidArgumentError(errors.message(
            op, f"{name} is a {type(a).__name__} ({a!r:.40}), not an array.",
            f"pass a funcgrad.Array, a NumPy array or a Python scalar"
            f"{'; convert lists with funcgrad.numpy.asarray first' if isinstance(a, list) else ''}"
            ".", errors.InvalidArgumentError))


def _from_python(obj, dtype):
    """Converts (nested) Python scalars, sequences and NumPy arrays to a NumPy array with
    funcgrad's defaults: Python floats become float32, ints int32; NumPy values keep theirs."""
    if isinstance(obj, np.ndarray):
        return np.array(obj, dtype=dtype)
    leaves = []

    def collect(o):
        if isinstance(o, (list, tuple)):
            for e in o:
                collect(e)
        else:
            leaves.append(o)
    collect(obj)
    if dtype is None:
        typed = []
        for leaf in leaves:
            if type(leaf) in _PY_SCALARS:
                typed.append((dtypes.python_scalar_dtype(leaf), type(leaf) is not bool))
            elif isinstance(leaf, (np.ndarray, np.generic, Array)):
                typed.append((np.asarray(leaf).dtype, getattr(leaf, "weak_type", False)))
            else:
                raise errors.InvalidArgumentError(errors.message(
                    "array", f"element of type {type(leaf).__name__} ({leaf!r:.40}) is not a "
                    "number.", "pass numbers or arrays.", errors.InvalidArgumentError))
        dtype = dtypes.result_type(*typed)[0] if typed else dtypes.default_float()
    for leaf in leaves:
        if type(leaf) is int and np.dtype(dtype).kind in "iu":
            core.scalar_to_numpy(leaf, dtype)  # range check with a clear message
    try:
        return np.array(obj, dtype=dtype)
    except ValueError as e:
        raise errors.shape_error("array", f"the nested sequence is ragged or malformed ({e}).",
                                 "make every row the same length.") from None


def asarray(a, dtype=None, order=None, *, copy=None):
    """Converts ``a`` to a funcgrad array, keeping NumPy dtypes and weak Python scalar types.

    Args:
      a: a funcgrad Array, a tracer, a NumPy array or scalar, a Python scalar, or a nested
        list/tuple of those.
      dtype: optional dtype of the result.
      order, copy: accepted for NumPy compatibility (arrays are immutable, so copies are never
        observable).

    Returns:
      A ``funcgrad.Array`` (or a tracer under a transformation).

    Example:
        >>> import funcgrad.numpy as fnp
        >>> fnp.asarray([1.0, 2.0])
        Array([1., 2.], dtype=float32)
    """
    if dtype is not None:
        dtype = dtypes.canonicalize(dtype)
    if isinstance(a, (Array, Tracer)):
        return a if dtype is None else ew.convert_element_type(a, dtype)
    if type(a) in _PY_SCALARS:
        dt = dtype or dtypes.python_scalar_dtype(a)
        return Array(core.scalar_to_numpy(a, dt), weak_type=dtype is None and type(a) is not bool)
    if isinstance(a, (np.ndarray, np.generic)):
        core.get_aval(a)  # dtype check
        return Array(np.array(a, dtype=dtype))
    if isinstance(a, (list, tuple)):
        if any(isinstance(e, Tracer) for e in _flat(a)):
            from funcgrad.numpy import _shape
            out = _shape.stack([asarray(e) for e in a]) if a else asarray(np.zeros(0), dtype)
            return out if dtype is None else ew.convert_element_type(out, dtype)
        return Array(_from_python(a, dtype))
    if hasattr(a, "__array__"):
        return asarray(np.asarray(a), dtype)
    check_arraylike("asarray", a, names=["a"])
    raise AssertionError("unreachable")


def _flat(seq):
    for e in seq:
        if isinstance(e, (list, tuple)):
            yield from _flat(e)
        else:
            yield e


def array(object, dtype=None, copy=True, order="K", ndmin=0):  # noqa: A002 - NumPy's name
    """Like ``asarray``, with NumPy's ``ndmin``; see ``funcgrad.numpy.asarray``."""
    out = asarray(object, dtype)
    if type(object) in _PY_SCALARS:
        out = Array(np.asarray(out), weak_type=False) if isinstance(out, Array) else out
    if ndmin > out.ndim:
        out = st.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


# ---------------------------------------------------------------- promotion and broadcasting

def result_type_of(*args) -> tuple[np.dtype, bool]:
    return dtypes.result_type(*((a.dtype, a.weak_type) for a in map(aval_of, args)))


def convert_to(x, dtype: np.dtype, weak: bool = False):
    """Converts ``x`` (any array-like) to ``dtype``, with weak type ``weak`` where a conversion
    happens; values that already have ``dtype`` pass through unchanged."""
    if type(x) in _PY_SCALARS:
        return Array(core.scalar_to_numpy(x, dtype), weak_type=weak)
    aval = aval_of(x)
    if aval.dtype == dtype:
        return x
    return ew.convert_element_type(x, dtype, weak)


def promote_dtypes(op: str, *args, names: Sequence[str] | None = None, inexact: bool = False):
    """Converts every argument to their common dtype (JAX's promotion lattice). Converted
    arguments take the result's weak type, so ``int8_array + 1.0`` is a weak float32.

    ``inexact=True`` turns integer and boolean results into the default float; ``names`` name
    the arguments in the error for a non-array argument.
    """
    check_arraylike(op, *args, names=names)
    dt, weak = result_type_of(*args)
    if inexact and not dtypes.is_inexact(dt):
        dt = dtypes.default_float()
    return [convert_to(a, dt, weak) for a in args]


def promote_dtypes_inexact(op: str, *args, names: Sequence[str] | None = None):
    """Like ``promote_dtypes``, but integer and boolean results become the default float."""
    return promote_dtypes(op, *args, names=names, inexact=True)


def broadcast_shapes(op: str, *shapes, avals=None) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``; a ShapeError naming ``op`` (and ``avals``) if none."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        sizes = {s[i - nd + len(s)] for s in shapes if i - nd + len(s) >= 0} - {1}
        if len(sizes) > 1:
            shown = (", ".join(a.str_short() for a in avals) if avals else
                     ", ".join(f"[{','.join(map(str, s))}]" for s in shapes))
            raise errors.shape_error(
                op, f"shapes {shown} cannot be broadcast together (dimension {i - nd} has sizes "
                f"{sorted(sizes)}).",
                "make the sizes equal or 1 along each dimension (reshape, expand_dims or index "
                "with None).")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_to_shape(x, shape):
    aval = aval_of(x)
    if aval.shape == tuple(shape):
        return x
    if type(x) is Array and core.current_trace() is core._EVAL_TRACE:
        # Eager: a read-only NumPy view is the broadcast (what broadcast_in_dim would compute).
        return Array(np.broadcast_to(x._value, tuple(shape)), weak_type=aval.weak_type)
    nd = len(shape)
    return st.broadcast_in_dim(x, shape, tuple(range(nd - aval.ndim, nd)))


def promote_shapes(op: str, *args):
    """Broadcasts every argument to the common shape (NumPy rules)."""
    avals = [aval_of(a) for a in args]
    shapes = [a.shape for a in avals]
    if all(s == shapes[0] for s in shapes):
        return list(args)
    target = broadcast_shapes(op, *shapes, avals=avals)
    return [broadcast_to_shape(a, target) for a in args]


def promote_args(op: str, *args, names: Sequence[str] | None = None):
    """Promotes dtypes, then broadcasts shapes: the standard preparation of an n-ary op."""
    return promote_shapes(op, *promote_dtypes(op, *args, names=names))


def promote_args_inexact(op: str, *args, names: Sequence[str] | None = None):
    return promote_shapes(op, *promote_dtypes(op, *args, names=names, inexact=True))


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted(canonicalize_axis(op, int(a), ndim) for a in axes))
    if len(set(out)) != len(out):
        raise errors.shape_error(op, f"repeated axis in {axis}.", "list each axis once.")
    return out
