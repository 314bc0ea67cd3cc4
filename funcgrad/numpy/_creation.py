"""Array creation: zeros/ones/full (and their ``_like`` forms), arange, linspace, logspace,
geomspace, eye, identity, tri.

As in JAX, these stage small programs rather than embed constants: under a transformation
``zeros(1000)`` is one ``broadcast_in_dim`` of a scalar literal and ``arange(1000)`` one ``iota``,
so a jaxpr never carries large constant buffers. Sizes (shapes, ``num``, ``N``) must be concrete.
Defaults follow JAX: float32 for floating results, int32 for integer ones; Python scalar
arguments never make a result float64.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Tracer
from funcgrad.numpy._util import _PY_SCALARS, asarray, aval_of, broadcast_shapes
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import structural as st
from funcgrad.primitives._helpers import canonicalize_axis

# ---------------------------------------------------------------- argument handling


def _dtype(dtype, default: np.dtype | None = None) -> np.dtype | None:
    """``dtype`` as a NumPy dtype. Python's own types mean funcgrad's defaults, as in JAX:
    ``dtype=float`` is float32 and ``dtype=int`` int32 (NumPy would say float64/int64)."""
    if dtype is None:
        return default
    if dtype is float:
        return dtypes.default_float()
    if dtype is int:
        return dtypes.default_int()
    if dtype is complex:
        return dtypes.default_complex()
    return dtypes.canonicalize(dtype)


def _traced_error(op: str, what: str, x: Tracer) -> errors.ConcretizationError:
    trace = x._trace
    depends = core.describe_dependence(x)
    return errors.ConcretizationError(errors.message(
        op, f"{what} is a traced {x.aval.str_short()} value while tracing "
        f"{trace.transform_name}, but it must be concrete: it fixes the size of the "
        f"result.{depends}",
        "pass Python ints (e.g. from x.shape) or mark the argument static "
        "(static_argnums=...).", errors.ConcretizationError))


def _concrete(op: str, what: str, x):
    """A concrete (NumPy or Python) value for ``x``; a ConcretizationError for abstract tracers."""
    if isinstance(x, Tracer):
        val = x.to_concrete_value()
        if val is None:
            raise _traced_error(op, what, x)
        return np.asarray(val)
    if isinstance(x, Array):
        return np.asarray(x)
    return x


def _int(op: str, what: str, x) -> int:
    x = _concrete(op, what, x)
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an integer, got {type(x).__name__} "
                        f"({x!r:.40}).") from None


def _shape(op: str, shape) -> tuple[int, ...]:
    """``shape`` (an int or a sequence of ints, all concrete) as a tuple of Python ints."""
    shape = _concrete(op, "the shape", shape)
    if isinstance(shape, np.ndarray):
        if shape.ndim > 1:
            raise TypeError(f"{op}: shape must be an int or a 1-d sequence of ints, got an "
                            f"array of shape {shape.shape}.")
        shape = shape.tolist()
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        dims = (int(shape),)
    elif isinstance(shape, (tuple, list)):
        dims = tuple(_int(op, f"shape entry {i} of {_show_shape(shape)}", d)
                     for i, d in enumerate(shape))
    else:
        raise TypeError(f"{op}: shape must be an int or a sequence of ints, got "
                        f"{type(shape).__name__} ({shape!r:.40}).")
    if any(d < 0 for d in dims):
        raise errors.shape_error(op, f"negative dimensions are not allowed: shape {dims}.",
                                 "pass non-negative sizes.")
    return dims


def _show_shape(shape) -> str:
    return "(" + ", ".join(d.aval.str_short() if isinstance(d, Tracer) else repr(d)
                           for d in shape) + ")"


def _strong(x, dtype):
    """``x`` converted to a strongly typed array of ``dtype``."""
    if type(x) in _PY_SCALARS:
        return Array(core.scalar_to_numpy(x, dtype))
    if isinstance(x, (list, tuple)):
        return asarray(x, dtype)  # straight to dtype: no detour through float32
    return ew.convert_element_type(asarray(x), dtype, weak_type=False)


def _splat(value, dtype, shape):
    """A broadcast scalar constant of ``dtype`` (a literal under tracing, never a buffer)."""
    with np.errstate(all="ignore"):
        scalar = Array(np.asarray(value).astype(dtype))
    return st.full(shape, scalar) if shape else scalar


def _bcast(x, shape, dims):
    """``broadcast_in_dim``, skipped when ``x`` already has ``shape``."""
    return x if aval_of(x).shape == tuple(shape) else st.broadcast_in_dim(x, shape, dims)


def _scalar_fill(fill_value, dtype, weak: bool):
    """A 0-d value to broadcast; ``dtype=None`` keeps the fill value's dtype and weak type."""
    if type(fill_value) in _PY_SCALARS:
        if dtype is None:
            return fill_value
        if type(fill_value) is int:
            return Array(core.scalar_to_numpy(fill_value, dtype), weak)  # range-checked
        with np.errstate(all="ignore"):
            return Array(np.asarray(fill_value).astype(dtype), weak)
    return fill_value if dtype is None else ew.convert_element_type(fill_value, dtype, weak)


def _fill(op: str, shape: tuple[int, ...], fill_value, dtype, weak: bool = False):
    """``fill_value`` broadcast to ``shape`` (NumPy broadcasting for array fill values).
    ``weak`` (with a dtype) makes a scalar fill weakly typed, as ``full_like`` of a weak array."""
    if isinstance(fill_value, (list, tuple)):
        fill_value = asarray(fill_value, dtype)
    aval = aval_of(fill_value)
    if aval.ndim == 0:
        return st.full(shape, _scalar_fill(fill_value, dtype, weak))
    nd = len(shape)
    if aval.ndim > nd or any(s not in (1, d) for s, d in zip(aval.shape, shape[nd - aval.ndim:])):
        raise errors.shape_error(op, f"fill_value {aval.str_short()} cannot be broadcast to "
                                 f"shape {shape}.",
                                 "pass a scalar, or an array whose shape broadcasts to shape.")
    x = asarray(fill_value) if dtype is None else _strong(fill_value, dtype)
    return st.broadcast_in_dim(x, shape, tuple(range(nd - aval.ndim, nd)))


# ---------------------------------------------------------------- zeros, ones, full, empty


def zeros(shape, dtype=None):
    """An array of ``shape`` filled with zeros; float32 unless ``dtype`` is given.

    Example:
        >>> fnp.zeros((2, 3)).shape
        (2, 3)
        >>> fnp.zeros(2, dtype="int32")
        Array([0, 0], dtype=int32)
    """
    dt = _dtype(dtype, dtypes.default_float())
    return st.full(_shape("zeros", shape), Array(np.zeros((), dt)))


def ones(shape, dtype=None):
    """An array of ``shape`` filled with ones; float32 unless ``dtype`` is given."""
    dt = _dtype(dtype, dtypes.default_float())
    return st.full(_shape("ones", shape), Array(np.ones((), dt)))


def empty(shape, dtype=None):
    """Like ``zeros``: funcgrad arrays are immutable, so uninitialised memory is never useful."""
    dt = _dtype(dtype, dtypes.default_float())
    return st.full(_shape("empty", shape), Array(np.zeros((), dt)))


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value``.

    Args:
      shape: an int or a sequence of ints.
      fill_value: a scalar, or an array that broadcasts to ``shape``; may be traced.
      dtype: the result dtype; by default ``fill_value``'s (a Python float gives a weakly
        typed float32 array, as in JAX).

    Example:
        >>> fnp.full((2,), 7, dtype="float32")
        Array([7., 7.], dtype=float32)
    """
    return _fill("full", _shape("full", shape), fill_value, _dtype(dtype))


def _like(op: str, a, dtype, shape):
    """The (shape, dtype, weak_type) of a ``*_like`` result."""
    if isinstance(a, (list, tuple)):
        a = asarray(a)
    aval = aval_of(a)  # a clear error for non-arrays
    out_shape = aval.shape if shape is None else _shape(op, shape)
    out_dtype = _dtype(dtype)
    return out_shape, out_dtype if out_dtype is not None else aval.dtype, \
        out_dtype is None and aval.weak_type


def _fill_like(op: str, a, value, dtype, shape):
    out_shape, dt, weak = _like(op, a, dtype, shape)
    # The result depends only on a's type, never on its value: no data dependence on `a`.
    return st.full(out_shape, Array(np.full((), value, dt), weak_type=weak))


def zeros_like(a, dtype=None, shape=None):
    """An array of zeros with the shape and dtype of ``a`` (each overridable)."""
    return _fill_like("zeros_like", a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None):
    """An array of ones with the shape and dtype of ``a`` (each overridable)."""
    return _fill_like("ones_like", a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None):
    """Like ``zeros_like`` (funcgrad arrays are immutable, so nothing is left uninitialised)."""
    return _fill_like("empty_like", a, 0, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    """An array with the shape and dtype of ``a`` (each overridable) filled with
    ``fill_value``, a scalar or an array that broadcasts to the shape; it may be traced."""
    out_shape, dt, weak = _like("full_like", a, dtype, shape)
    return _fill("full_like", out_shape, fill_value, dt, weak)


# ---------------------------------------------------------------- arange


def _scalar_arg(op: str, what: str, x):
    """(Python value, dtype, weak) of a concrete scalar argument."""
    if type(x) in _PY_SCALARS:
        val, dt, weak = x, dtypes.python_scalar_dtype(x), type(x) is not bool
    else:
        weak = bool(getattr(x, "weak_type", False))
        val = np.asarray(_concrete(op, f"`{what}`", x))
        if val.ndim != 0:
            raise errors.shape_error(op, f"`{what}` must be a scalar, got an array of shape "
                                     f"{val.shape}.", "pass scalars (use linspace for arrays "
                                     "of endpoints).")
        dt = core.get_aval(val).dtype  # rejects unsupported dtypes
        val = val.item()
    if dt.kind == "c":
        raise errors.dtype_error(op, f"`{what}` is complex ({val!r}); {op} takes real "
                                 "numbers.", "pass real start/stop/step.")
    return val, dt, weak


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)`` with spacing ``step``, as ``numpy.arange``.

    Args:
      start, stop, step: concrete real scalars (not traced values: they fix the length). With
        one argument it is ``stop`` and the range starts at 0.
      dtype: the result dtype. By default int32 when every argument is an integer and float32
        when any is a Python float; NumPy scalars keep their dtype (``np.float64(1)`` gives
        float64). A complex dtype gives the real range with zero imaginary parts.

    Returns:
      A 1-d array. Under a transformation this is an ``iota`` (times ``step``, plus
      ``start``), never a constant buffer.

    Example:
        >>> fnp.arange(4)
        Array([0, 1, 2, 3], dtype=int32)
        >>> fnp.arange(0.0, 1.0, 0.25)
        Array([0.  , 0.25, 0.5 , 0.75], dtype=float32)
    """
    op = "arange"
    if stop is None and step is not None:
        raise TypeError("arange: got step without stop; call arange(start, stop, step).")
    given = [("start", start), ("stop", stop), ("step", step)]
    if stop is None:  # arange(n): the single argument is the end of the range
        given = [("start", 0), ("stop", start)]
    args = {name: _scalar_arg(op, name, v) for name, v in given if v is not None}
    lo, hi = args["start"][0], args["stop"][0]
    delta = args["step"][0] if "step" in args else 1
    if dtype is None:
        dt, _ = dtypes.result_type(*(a[1:] for a in args.values()))
        dt = dtypes.default_int() if dt == dtypes.bool_ else dt
    else:
        dt = _dtype(dtype)
    if dt == dtypes.bool_:
        raise errors.dtype_error(op, f"dtype {dt} is not supported.",
                                 "use an integer, floating or complex dtype.")
    if dt.kind == "c":  # real values with a zero imaginary part, as NumPy gives
        real = arange(start, stop, step, dtype=dtypes.real_dtype(dt))
        return ew.convert_element_type(real, dt)
    if delta == 0:
        raise ValueError(f"arange: step must not be zero (start={lo}, stop={hi}).")
    if all(isinstance(v, int) for v in (lo, hi, delta)):
        n = len(range(lo, hi, delta))
    else:
        n = (hi - lo) / delta
        if not math.isfinite(n):
            raise ValueError(f"arange: cannot compute the length of the range start={lo}, "
                             f"stop={hi}, step={delta} (not finite).")
        n = max(math.ceil(n), 0)
    # NumPy's fill rule: element i is first + i * (second - first), with first and second
    # rounded to dtype, computed in dtype (float16 in float32).
    cdt = dtypes.float32 if dt == dtypes.float16 else dt
    first = _range_value(op, lo, dt)
    if n == 0 or (first == 0 and (n == 1 or _range_value(op, lo + delta, dt) == 1)):
        return st.iota(dt, n)
    if dt.kind in "iu":
        _range_value(op, lo + (n - 1) * delta, dt)  # the last value must fit
    with np.errstate(all="ignore"):
        spacing = np.asarray(_range_value(op, lo + delta, dt) - first if n > 1 else 0, cdt)
    out = st.iota(cdt, n)
    if spacing != 1:
        out = ew.mul_p.bind(out, _splat(spacing, cdt, (n,)))
    if first != 0:
        out = ew.add_p.bind(out, _splat(first, cdt, (n,)))
    return ew.convert_element_type(out, dt)


def _range_value(op: str, v, dt) -> np.ndarray:
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if not info.min <= v <= info.max:
            raise OverflowError(f"{op}: the value {v} of the range does not fit in {dt} "
                                f"[{info.min}, {info.max}]; pass a wider dtype, e.g. "
                                "dtype='int64'.")
        return np.asarray(int(v) if isinstance(v, int) else math.trunc(v), dt)
    return np.asarray(v, dt)


# ---------------------------------------------------------------- linspace, logspace, geomspace


def _space_dtypes(op: str, dtype, *args):
    """(output dtype, computation dtype) of linspace and friends."""
    dt, _ = dtypes.result_type(*((a.dtype, a.weak_type) for a in map(_aval_of, args)))
    out = _dtype(dtype) if dtype is not None else (
        dt if dtypes.is_inexact(dt) else dtypes.default_float())
    if dtypes.is_inexact(out):
        comp = dtypes.float32 if out == dtypes.float16 else out
    else:
        comp = dtypes.float64  # integer results are floored: compute them as NumPy does
    return out, comp


def _aval_of(x):
    return aval_of(asarray(x) if isinstance(x, (list, tuple)) else x)


def _real(dt):
    return dtypes.float32 if dt == dtypes.complex64 else (
        dtypes.float64 if dt == dtypes.complex128 else dt)


def _space_axis(op: str, axis, bounds, num):
    ax = canonicalize_axis(op, _int(op, "axis", axis), len(bounds) + 1)
    out_shape = bounds[:ax] + (num,) + bounds[ax:]
    return ax, out_shape, tuple(d for d in range(len(out_shape)) if d != ax)


def _expand(x, out_shape, bdims):
    """``x`` (shape right-aligned with ``bdims``) broadcast to ``out_shape``."""
    nd = aval_of(x).ndim
    return _bcast(x, out_shape, bdims[len(bdims) - nd:])


def _along(out_shape, ax, index, cdt=dtypes.int32):
    """A boolean mask of the positions ``index`` along axis ``ax``."""
    return ew.eq_p.bind(st.broadcasted_iota(cdt, out_shape, ax), _splat(index, cdt, out_shape))


def _linspace(op, start, stop, num, endpoint, axis, comp, bounds):
    """Samples and step in ``comp``; ``start``/``stop`` are strong ``comp`` arrays whose shapes
    broadcast to ``bounds``."""
    ax, out_shape, bdims = _space_axis(op, axis, bounds, num)
    div = num - 1 if endpoint else num
    if div <= 0:  # 0 or 1 samples: no step (NumPy says nan)
        step = _splat(np.nan, comp, bounds)
        out = _expand(start, out_shape, bdims) if num else _splat(0, comp, out_shape)
        return out, step
    delta = ew.sub_p.bind(_bcast(stop, bounds, _tail(stop, bounds)),
                          _bcast(start, bounds, _tail(start, bounds)))
    step = ew.div_p.bind(delta, _splat(div, comp, bounds))
    ramp = st.broadcasted_iota(_real(comp), out_shape, ax)
    ramp = ew.convert_element_type(ramp, comp)
    out = ew.add_p.bind(_expand(start, out_shape, bdims),
                        ew.mul_p.bind(ramp, _expand(step, out_shape, bdims)))
    if endpoint:  # the last sample is exactly `stop`
        out = ew.select_n(_along(out_shape, ax, num - 1), out, _expand(stop, out_shape, bdims))
    return out, step


def _tail(x, bounds):
    nd = aval_of(x).ndim
    return tuple(range(len(bounds) - nd, len(bounds)))


def _host(x, dtype) -> np.ndarray:
    """A concrete (non-traced) argument as a NumPy array of ``dtype``."""
    if type(x) in _PY_SCALARS or isinstance(x, (list, tuple)):
        return np.asarray(asarray(x, dtype))
    return np.asarray(x).astype(dtype)


def _to_output(x, out_dtype, floor: bool):
    if dtypes.is_integer(out_dtype) and floor:
        x = ew.floor_p.bind(x)
    return ew.convert_element_type(x, out_dtype)


def _num(op: str, num) -> int:
    n = _int(op, "num", num)
    if n < 0:
        raise ValueError(f"{op}: number of samples num={n} must be non-negative.")
    return n


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced samples from ``start`` to ``stop``, as ``numpy.linspace``.

    Args:
      start, stop: scalars or arrays (broadcast together); they may be traced.
      num: the number of samples, a concrete non-negative int.
      endpoint: whether ``stop`` is the last sample (it is then exactly ``stop``).
      retstep: also return the spacing between samples (nan when it is undefined).
      dtype: the result dtype; by default the inexact promotion of ``start`` and ``stop``
        (float32 for Python scalars). Integer results are floored, as in NumPy.
      axis: where the samples axis goes in the result, when ``start``/``stop`` are arrays.

    Returns:
      The samples, and the step when ``retstep``.

    Example:
        >>> fnp.linspace(0.0, 1.0, 5)
        Array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
    """
    op = "linspace"
    num = _num(op, num)
    out_dtype, comp = _space_dtypes(op, dtype, start, stop)
    start, stop = _strong(start, comp), _strong(stop, comp)
    bounds = broadcast_shapes(op, start.shape, stop.shape)
    out, step = _linspace(op, start, stop, num, endpoint, axis, comp, bounds)
    out = _to_output(out, out_dtype, floor=True)
    if retstep:
        return out, (ew.convert_element_type(step, out_dtype)
                     if dtypes.is_inexact(out_dtype) else step)
    return out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``num`` samples evenly spaced on a log scale: ``base ** linspace(start, stop)``.

    Args:
      start, stop: exponents (scalars or arrays, broadcast together; they may be traced).
      num, endpoint, axis: as for ``linspace``.
      base: the base of the power (a scalar or an array broadcast with start and stop).
      dtype: the result dtype; by default the inexact promotion of start, stop and base.

    Example:
        >>> fnp.logspace(0.0, 2.0, 3)
        Array([  1.,  10., 100.], dtype=float32)
    """
    op = "logspace"
    num = _num(op, num)
    out_dtype, comp = _space_dtypes(op, dtype, start, stop, base)
    start, stop, base = (_strong(v, comp) for v in (start, stop, base))
    bounds = broadcast_shapes(op, start.shape, stop.shape, base.shape)
    exponents, _ = _linspace(op, start, stop, num, endpoint, axis, comp, bounds)
    _, out_shape, bdims = _space_axis(op, axis, bounds, num)
    out = ew.pow_p.bind(_expand(base, out_shape, bdims), exponents)
    return _to_output(out, out_dtype, floor=False)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``num`` samples evenly spaced on a log scale from ``start`` to ``stop`` (each nonzero,
    of the same sign); the end points are exact.

    Example:
        >>> fnp.geomspace(1.0, 1000.0, 4)
        Array([   1.,   10.,  100., 1000.], dtype=float32)
    """
    op = "geomspace"
    num = _num(op, num)
    out_dtype, comp = _space_dtypes(op, dtype, start, stop)
    if comp.kind == "c" or out_dtype.kind == "c":
        raise errors.dtype_error(op, "complex start/stop/dtype are not supported.",
                                 "pass real values.")
    # Concrete end points: log10 on the host, in float64, where it is exact for powers of ten
    # (so geomspace(1, 1000, 4) is exactly [1, 10, 100, 1000]); traced ones: in the program.
    host_logs = None
    if not isinstance(start, Tracer) and not isinstance(stop, Tracer):
        hs, he = (_host(v, comp) for v in (start, stop))
        for name, h in (("start", hs), ("stop", he)):
            if np.any(h == 0):
                raise ValueError(f"geomspace: a geometric sequence cannot include zero, got "
                                 f"{name}={h.tolist()!r:.60}.")
        with np.errstate(all="ignore"):
            host_logs = [Array(np.asarray(np.log10(h.astype(np.float64) * np.sign(hs)))
                               .astype(comp)) for h in (hs, he)]
    start, stop = _strong(start, comp), _strong(stop, comp)
    bounds = broadcast_shapes(op, start.shape, stop.shape)
    start = _bcast(start, bounds, _tail(start, bounds))
    stop = _bcast(stop, bounds, _tail(stop, bounds))
    sign = ew.sign_p.bind(start)  # NumPy's rule: the sign of start applies to the sequence
    mag_start, mag_stop = ew.mul_p.bind(start, sign), ew.mul_p.bind(stop, sign)
    if host_logs is not None:
        log_start, log_stop = host_logs
    else:
        log_ten = _splat(math.log(10.0), comp, bounds)
        log_start, log_stop = (ew.div_p.bind(ew.log_p.bind(m), log_ten)
                               for m in (mag_start, mag_stop))
    exponents, _ = _linspace(op, log_start, log_stop, num, endpoint, axis, comp, bounds)
    ax, out_shape, bdims = _space_axis(op, axis, bounds, num)
    out = ew.pow_p.bind(_splat(10.0, comp, out_shape), exponents)
    if num > 0:
        out = ew.select_n(_along(out_shape, ax, 0), out, _expand(mag_start, out_shape, bdims))
    if num > 1 and endpoint:
        out = ew.select_n(_along(out_shape, ax, num - 1), out,
                          _expand(mag_stop, out_shape, bdims))
    out = ew.mul_p.bind(out, _expand(sign, out_shape, bdims))
    return _to_output(out, out_dtype, floor=False)


# ---------------------------------------------------------------- eye, identity, tri


def _matrix_mask(op: str, compare, N, M, k):
    n = _int(op, "N", N)
    m = n if M is None else _int(op, "M", M)
    k = _int(op, "k", k)
    if n < 0 or m < 0:
        raise errors.shape_error(op, f"negative dimensions are not allowed: N={n}, M={m}.",
                                 "pass non-negative sizes.")
    shape = (n, m)
    k = min(max(k, -n - 1), m + 1)  # any further out gives the same mask; keeps int32 safe
    rows = st.broadcasted_iota(dtypes.int32, shape, 0)
    if k != 0:
        rows = ew.add_p.bind(rows, _splat(k, dtypes.int32, shape))
    return compare.bind(rows, st.broadcasted_iota(dtypes.int32, shape, 1))


def eye(N, M=None, k=0, dtype=None):
    """A 2-d array with ones on diagonal ``k`` and zeros elsewhere (float32 by default).

    Args:
      N: the number of rows; M: of columns (default N); k: the diagonal (0 the main one,
        positive above it, negative below). All concrete ints.
      dtype: the result dtype.

    Example:
        >>> fnp.eye(2, 3, k=1)
        Array([[0., 1., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    mask = _matrix_mask("eye", ew.eq_p, N, M, k)
    return ew.convert_element_type(mask, _dtype(dtype, dtypes.default_float()))


def identity(n, dtype=None):
    """The ``n`` by ``n`` identity matrix (float32 by default)."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """A 2-d array with ones at and below diagonal ``k`` (``j <= i + k``), zeros above.

    Example:
        >>> fnp.tri(3, dtype="int32")
        Array([[1, 0, 0],
               [1, 1, 0],
               [1, 1, 1]], dtype=int32)
    """
    mask = _matrix_mask("tri", ew.ge_p, N, M, k)
    return ew.convert_element_type(mask, _dtype(dtype, dtypes.default_float()))


__all__ = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
           "full_like", "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri"]
