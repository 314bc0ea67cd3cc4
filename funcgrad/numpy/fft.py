"""funcgrad.numpy.fft: discrete Fourier transforms with NumPy's API.

Every transform is one ``fft`` primitive (``funcgrad.lax.fft``) over trailing axes: this layer
converts dtypes, pads or crops to ``n``/``s``, moves the transformed ``axes`` to the end and
back, and applies the ``norm`` scaling ("backward": none forward and ``1/N`` inverse,
"ortho": ``1/sqrt(N)`` both ways, "forward": ``1/N`` forward and none inverse).

Dtypes follow JAX: float32 and complex64 stay single precision, float64 and complex128 stay
double; integer and boolean inputs use the default float or complex dtype.
"""
from __future__ import annotations

import math

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.array import Array
from funcgrad.numpy import _util
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import fft as _fft
from funcgrad.primitives import structural as st
from funcgrad.primitives._helpers import canonicalize_axis

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


# ---------------------------------------------------------------- helpers

def _to_complex(op, a):
    a = _util.asarray(a)
    dt = _util.aval_of(a).dtype
    if dt.kind == "c":
        return a
    target = dtypes.complex128 if dt == dtypes.float64 else (
        dtypes.complex64 if dt.kind == "f" else dtypes.default_complex())
    return _util.convert_to(a, target)


def _to_real(op, a):
    a = _util.asarray(a)
    dt = _util.aval_of(a).dtype
    if dt.kind == "c":
        raise errors.dtype_error(op, f"takes a real input, got {_util.aval_of(a).str_short()}.",
                                 "use funcgrad.numpy.fft.fft for complex inputs, or pass "
                                 "the real part.")
    if dt in (dtypes.float32, dtypes.float64):
        return a
    return _util.convert_to(a, dtypes.float32 if dt.kind == "f" else dtypes.default_float())


def _check_norm(op, norm):
    if norm not in _NORMS:
        raise errors.shape_error(op, f"invalid norm={norm!r}.",
                                 'use "backward" (the default), "ortho" or "forward".')


def _swap_norm(norm):
    return {None: "forward", "backward": "forward", "forward": "backward"}.get(norm, norm)


def _norm_scale(norm, size, inverse):
    # The primitive leaves forward transforms unscaled and scales inverse ones by 1/N.
    if norm in (None, "backward"):
        return 1.0
    if norm == "ortho":
        return math.sqrt(size) if inverse else 1 / math.sqrt(size)
    return float(size) if inverse else 1 / size


def _scale(x, s):
    if s == 1.0:
        return x
    return ew.mul_p.bind(x, st.full_like(x, s))


def _check_length(op, n, what):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise errors.shape_error(op, f"invalid number of FFT data points {what}={n!r}.",
                                 "use a positive int (an input axis of size 0 needs an explicit "
                                 "n or s).")
    return int(n)


def _resize(x, axis, n):
    """``x`` cropped or zero-padded at the end of ``axis`` to length ``n``."""
    shape = _util.aval_of(x).shape
    if shape[axis] == n:
        return x
    if shape[axis] > n:
        hi = list(shape)
        hi[axis] = n
        return st.slice(x, (0,) * len(shape), hi)
    config = [(0, 0, 0)] * len(shape)
    config[axis] = (0, n - shape[axis], 0)
    zero = Array(np.zeros((), _util.aval_of(x).dtype))
    return st.pad(x, zero, config)


def _axes_and_lengths(op, a, s, axes, fft_type):
    """NumPy's defaults: all axes, or the last ``len(s)``; lengths from the input shape."""
    ndim = _util.aval_of(a).ndim
    if s is not None:
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
    if axes is None:
        axes = tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))
    else:
        axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    axes = tuple(canonicalize_axis(op, int(ax), ndim) for ax in axes)
    shape = _util.aval_of(a).shape
    if s is None:
        s = tuple(shape[ax] for ax in axes)
        if fft_type == "IRFFT" and axes:
            s = s[:-1] + (2 * (s[-1] - 1),)
    if len(s) != len(axes):
        raise errors.shape_error(op, f"s={s} and axes={axes} have different lengths.",
                                 "give one length per transformed axis.")
    s = tuple(_check_length(op, n, "s" if len(s) > 1 else "n") for n in s)
    return s, axes


def _transform(op, a, s, axes, fft_type, norm):
    """The core: resize, move ``axes`` to the end, one primitive, move back, normalise."""
    _check_norm(op, norm)
    a = _to_real(op, a) if fft_type == "RFFT" else _to_complex(op, a)
    s, axes = _axes_and_lengths(op, a, s, axes, fft_type)
    if not axes:
        return a
    if len(set(axes)) != len(axes):
        return _repeated_axes(op, a, s, axes, fft_type, norm)
    for i, (ax, n) in enumerate(zip(axes, s)):
        last = i == len(axes) - 1
        a = _resize(a, ax, n // 2 + 1 if fft_type == "IRFFT" and last else n)
    ndim = _util.aval_of(a).ndim
    perm = tuple(d for d in range(ndim) if d not in axes) + axes
    moved = st.transpose(a, perm) if perm != tuple(range(ndim)) else a
    out = _fft.fft_p.bind(moved, fft_type=fft_type, fft_lengths=s)
    if perm != tuple(range(ndim)):
        out = st.transpose(out, tuple(int(p) for p in np.argsort(perm)))
    return _scale(out, _norm_scale(norm, math.prod(s), fft_type in ("IFFT", "IRFFT")))


def _repeated_axes(op, a, s, axes, fft_type, norm):
    # NumPy transforms a repeated axis once per mention: one 1-D transform at a time, in
    # NumPy's order (the real axis first for rfftn, last for irfftn).
    one = {"FFT": "FFT", "IFFT": "IFFT", "RFFT": "FFT", "IRFFT": "IFFT"}[fft_type]
    order = list(range(len(axes) - 1, -1, -1))
    if fft_type == "RFFT":
        a = _transform(op, a, (s[-1],), (axes[-1],), "RFFT", norm)
        order = order[1:]
    elif fft_type == "IRFFT":
        order = list(range(len(axes) - 1))
    for i in order:
        a = _transform(op, a, (s[i],), (axes[i],), one, norm)
    if fft_type == "IRFFT":
        a = _transform(op, a, (s[-1],), (axes[-1],), "IRFFT", norm)
    return a


# ---------------------------------------------------------------- complex transforms

def fft(a, n=None, axis=-1, norm=None):
    """The one-dimensional discrete Fourier transform, as ``numpy.fft.fft``.

    Args:
        a: input array (real inputs are converted to complex).
        n: length of the transformed axis; the input is cropped or zero-padded to it.
            Default: the input's length along ``axis``.
        axis: the axis to transform (default: the last).
        norm: ``"backward"`` (default, unscaled), ``"ortho"`` (``1/sqrt(n)``) or
            ``"forward"`` (``1/n``).

    Returns:
        A complex array (complex64 for float32/complex64 inputs, complex128 for double).

    Example:
        >>> fnp.fft.fft(fnp.array([1.0, 2.0, 3.0, 4.0]))
        Array([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j], dtype=complex64)

    See also: ``ifft``, ``rfft``, ``fftn``.
    """
    return _transform("fft", a, None if n is None else (n,), (axis,), "FFT", norm)


def ifft(a, n=None, axis=-1, norm=None):
    """The one-dimensional inverse discrete Fourier transform, as ``numpy.fft.ifft``.

    Args:
        a: input array (real inputs are converted to complex).
        n: length of the transformed axis (input cropped or zero-padded to it).
        axis: the axis to transform (default: the last).
        norm: ``"backward"`` (default, ``1/n``), ``"ortho"`` (``1/sqrt(n)``) or ``"forward"``
            (unscaled).

    Returns:
        A complex array; ``ifft(fft(a))`` equals ``a`` up to rounding.

    Example:
        >>> fnp.fft.ifft(fnp.array([4.0, 0.0, 0.0, 0.0]))
        Array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    return _transform("ifft", a, None if n is None else (n,), (axis,), "IFFT", norm)


def fftn(a, s=None, axes=None, norm=None):
    """The N-dimensional discrete Fourier transform, as ``numpy.fft.fftn``.

    Args:
        a: input array (real inputs are converted to complex).
        s: lengths of the transformed axes (crop or zero-pad); default: the input's.
        axes: axes to transform; default: all, or the last ``len(s)`` when ``s`` is given.
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``; ``N`` is ``prod(s)``.

    Returns:
        A complex array.

    Example:
        >>> fnp.fft.fftn(fnp.ones((2, 2)))
        Array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]], dtype=complex64)
    """
    return _transform("fftn", a, s, axes, "FFT", norm)


def ifftn(a, s=None, axes=None, norm=None):
    """The N-dimensional inverse discrete Fourier transform, as ``numpy.fft.ifftn``.

    Args and Returns as for ``fftn``; "backward" normalisation scales by ``1/prod(s)``.

    Example:
        >>> fnp.fft.ifftn(fnp.fft.fftn(fnp.ones((2, 2))))
        Array([[1.+0.j, 1.+0.j],
               [1.+0.j, 1.+0.j]], dtype=complex64)
    """
    return _transform("ifftn", a, s, axes, "IFFT", norm)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional discrete Fourier transform: ``fftn`` over ``axes=(-2, -1)``.

    Example:
        >>> fnp.fft.fft2(fnp.ones((2, 2))).shape
        (2, 2)
    """
    return _transform("fft2", a, s, axes, "FFT", norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """The two-dimensional inverse discrete Fourier transform: ``ifftn`` over ``axes``.

    Example:
        >>> fnp.fft.ifft2(fnp.fft.fft2(fnp.ones((2, 2)))).shape
        (2, 2)
    """
    return _transform("ifft2", a, s, axes, "IFFT", norm)


# ---------------------------------------------------------------- real transforms

def rfft(a, n=None, axis=-1, norm=None):
    """The discrete Fourier transform of a real signal, as ``numpy.fft.rfft``: the
    non-negative frequencies only (``n // 2 + 1`` of them).

    Args:
        a: real input array (complex inputs are refused, as in NumPy).
        n: signal length (input cropped or zero-padded); default: the input's.
        axis: the axis to transform (default: the last).
        norm: ``"backward"`` (default), ``"ortho"`` or ``"forward"``.

    Returns:
        A complex array with ``n // 2 + 1`` entries along ``axis``.

    Example:
        >>> fnp.fft.rfft(fnp.array([1.0, 2.0, 3.0, 4.0]))
        Array([10.+0.j, -2.+2.j, -2.+0.j], dtype=complex64)
    """
    return _transform("rfft", a, None if n is None else (n,), (axis,), "RFFT", norm)


def irfft(a, n=None, axis=-1, norm=None):
    """The inverse of ``rfft``, as ``numpy.fft.irfft``: a real signal of length ``n`` from
    its non-negative frequencies.

    Args:
        a: the half spectrum (cropped or zero-padded to ``n // 2 + 1`` entries).
        n: output length; default ``2 * (m - 1)`` for ``m`` input entries (pass ``n`` for
            odd lengths).
        axis: the axis to transform (default: the last).
        norm: ``"backward"`` (default, ``1/n``), ``"ortho"`` or ``"forward"``.

    Returns:
        A real array (float32 for complex64 inputs) with ``n`` entries along ``axis``.

    Example:
        >>> fnp.fft.irfft(fnp.fft.rfft(fnp.array([1.0, 2.0, 3.0])), n=3)
        Array([1., 2., 3.], dtype=float32)
    """
    return _transform("irfft", a, None if n is None else (n,), (axis,), "IRFFT", norm)


def rfftn(a, s=None, axes=None, norm=None):
    """The N-dimensional discrete Fourier transform of a real input, as
    ``numpy.fft.rfftn``: the last of ``axes`` keeps its ``s[-1] // 2 + 1`` non-negative
    frequencies, the others are full complex transforms.

    Args and Returns as for ``fftn``, with a real input.

    Example:
        >>> fnp.fft.rfftn(fnp.ones((2, 4))).shape
        (2, 3)
    """
    return _transform("rfftn", a, s, axes, "RFFT", norm)


def irfftn(a, s=None, axes=None, norm=None):
    """The inverse of ``rfftn``, as ``numpy.fft.irfftn``.

    Args:
        a: the spectrum, half along the last of ``axes``.
        s: output lengths; default: the input's, with ``2 * (m - 1)`` along the last axis.
        axes: axes to transform; default: all, or the last ``len(s)``.
        norm: ``"backward"`` (default, ``1/prod(s)``), ``"ortho"`` or ``"forward"``.

    Returns:
        A real array.

    Example:
        >>> fnp.fft.irfftn(fnp.fft.rfftn(fnp.ones((2, 4)))).shape
        (2, 4)
    """
    return _transform("irfftn", a, s, axes, "IRFFT", norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """``rfftn`` over ``axes=(-2, -1)``.

    Example:
        >>> fnp.fft.rfft2(fnp.ones((2, 4))).shape
        (2, 3)
    """
    return _transform("rfft2", a, s, axes, "RFFT", norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """``irfftn`` over ``axes=(-2, -1)``.

    Example:
        >>> fnp.fft.irfft2(fnp.fft.rfft2(fnp.ones((2, 4)))).shape
        (2, 4)
    """
    return _transform("irfft2", a, s, axes, "IRFFT", norm)


# ---------------------------------------------------------------- Hermitian transforms

def hfft(a, n=None, axis=-1, norm=None):
    """The transform of a signal with Hermitian symmetry, given its first half, as
    ``numpy.fft.hfft``: a real spectrum, ``irfft(conj(a), n)`` with the norm swapped.

    Args:
        a: the first ``n // 2 + 1`` entries of a Hermitian signal (cropped or zero-padded).
        n: output length; default ``2 * (m - 1)``.
        axis: the axis to transform (default: the last).
        norm: ``"backward"`` (default, unscaled), ``"ortho"`` or ``"forward"`` (``1/n``).

    Returns:
        A real array with ``n`` entries along ``axis``.

    Example:
        >>> fnp.fft.hfft(fnp.array([1.0, 2.0, 3.0]))
        Array([ 8., -2.,  0., -2.], dtype=float32)
    """
    _check_norm("hfft", norm)
    out = _transform("hfft", a, None if n is None else (n,), (axis,), "IRFFT", _swap_norm(norm))
    # irfft(conj(a)) is irfft(a) reversed in time.
    return _fft.reverse_mod_n(out, (canonicalize_axis("hfft", axis, _util.aval_of(out).ndim),))


def ihfft(a, n=None, axis=-1, norm=None):
    """The inverse of ``hfft``, as ``numpy.fft.ihfft``: ``conj(rfft(a, n))`` with the norm
    swapped.

    Args:
        a: a real signal.
        n: its length (cropped or zero-padded); default: the input's.
        axis: the axis to transform (default: the last).
        norm: ``"backward"`` (default, ``1/n``), ``"ortho"`` or ``"forward"`` (unscaled).

    Returns:
        A complex array with ``n // 2 + 1`` entries along ``axis``.

    Example:
        >>> fnp.fft.ihfft(fnp.array([8.0, -2.0, 0.0, -2.0]))
        Array([1.+0.j, 2.+0.j, 3.+0.j], dtype=complex64)
    """
    _check_norm("ihfft", norm)
    a = _to_real("ihfft", a)
    ax = canonicalize_axis("ihfft", axis, _util.aval_of(a).ndim)
    if n is not None:
        a = _resize(a, ax, _check_length("ihfft", n, "n"))
    # The spectrum of a real signal reversed in time is the conjugate spectrum.
    return _transform("ihfft", _fft.reverse_mod_n(a, (ax,)), None, (ax,), "RFFT",
                      _swap_norm(norm))


# ---------------------------------------------------------------- frequencies and shifts

def _frequencies(op, k, n, d, dtype):
    dtype = dtypes.default_float() if dtype is None else dtypes.canonicalize(dtype)
    if isinstance(d, (int, float, np.integer, np.floating)) and not isinstance(d, bool):
        return Array(np.asarray(k / (n * float(d)), dtype))
    # A traced (or array) spacing: divide at run time.
    d = _util.convert_to(_util.asarray(d), dtype)
    return ew.div_p.bind(Array(np.asarray(k / n, dtype)), st.broadcast_in_dim(d, k.shape, ()))


def fftfreq(n, d=1.0, *, dtype=None):
    """The sample frequencies of an ``n``-point DFT with sample spacing ``d``, as
    ``numpy.fft.fftfreq``: ``[0, 1, ..., (n-1)//2, -(n//2), ..., -1] / (d * n)``.

    Args:
        n: window length (a positive int).
        d: sample spacing (a scalar; may be traced).
        dtype: result dtype (default: the default float, float32).

    Returns:
        A float array of length ``n``.

    Example:
        >>> fnp.fft.fftfreq(4, d=0.5)
        Array([ 0. ,  0.5, -1. , -0.5], dtype=float32)
    """
    n = _check_length("fftfreq", n, "n")
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)]).astype(float)
    return _frequencies("fftfreq", k, n, d, dtype)


def rfftfreq(n, d=1.0, *, dtype=None):
    """The sample frequencies returned by ``rfft``, as ``numpy.fft.rfftfreq``:
    ``[0, 1, ..., n//2] / (d * n)``.

    Args:
        n: window length (a positive int).
        d: sample spacing (a scalar; may be traced).
        dtype: result dtype (default: the default float, float32).

    Returns:
        A float array of length ``n // 2 + 1``.

    Example:
        >>> fnp.fft.rfftfreq(4, d=0.5)
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    n = _check_length("rfftfreq", n, "n")
    return _frequencies("rfftfreq", np.arange(0, n // 2 + 1).astype(float), n, d, dtype)


def _shift(op, x, axes, sign):
    from funcgrad.numpy._shape import roll
    x = _util.asarray(x)
    shape = _util.aval_of(x).shape
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, (int, np.integer)):
        axes = (axes,)
    axes = tuple(canonicalize_axis(op, int(ax), len(shape)) for ax in axes)
    if not axes:
        return x
    return roll(x, tuple(sign * (shape[ax] // 2) for ax in axes), axes)


def fftshift(x, axes=None):
    """Moves the zero-frequency term to the centre, as ``numpy.fft.fftshift``: a roll by
    ``n // 2`` along each of ``axes`` (default: all).

    Example:
        >>> fnp.fft.fftshift(fnp.fft.fftfreq(5))
        Array([-0.4, -0.2,  0. ,  0.2,  0.4], dtype=float32)
    """
    return _shift("fftshift", x, axes, 1)


def ifftshift(x, axes=None):
    """The inverse of ``fftshift``, as ``numpy.fft.ifftshift``: a roll by ``-(n // 2)``.

    Example:
        >>> fnp.fft.ifftshift(fnp.fft.fftshift(fnp.arange(5)))
        Array([0, 1, 2, 3, 4], dtype=int32)
    """
    return _shift("ifftshift", x, axes, -1)
