"""Fourier transforms: the ``fft`` primitive, as JAX's ``lax.fft``.

``fft_p(x, fft_type, fft_lengths)`` transforms the trailing ``len(fft_lengths)`` axes of ``x``:

* ``"FFT"``: complex -> complex, unnormalised forward DFT;
* ``"IFFT"``: complex -> complex, inverse DFT scaled by ``1/N``;
* ``"RFFT"``: real -> complex, the non-redundant half ``n // 2 + 1`` of the last axis;
* ``"IRFFT"``: complex half spectrum -> real signal of ``fft_lengths`` (the Hermitian
  extension of the input; imaginary parts of the DC and Nyquist terms are ignored).

``funcgrad.numpy.fft`` moves axes, pads or crops and applies the ``norm`` scaling on top.
"""
from __future__ import annotations

import math

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import structural as st

FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")

_COMPLEX_OF = {dtypes.float32: dtypes.complex64, dtypes.float64: dtypes.complex128}
_REAL_OF = {c: r for r, c in _COMPLEX_OF.items()}

# ---------------------------------------------------------------- fft

def _expected_input_shape(fft_type, fft_lengths):
    if fft_type == "IRFFT":
        return fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
    return fft_lengths


def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    op = "fft"
    if fft_type not in FFT_TYPES:
        raise errors.shape_error(op, f"unknown fft_type={fft_type!r}.",
                                 f"use one of {', '.join(FFT_TYPES)}.")
    k = len(fft_lengths)
    if k == 0 or any(type(n) is not int or n < 1 for n in fft_lengths):
        raise errors.shape_error(op, f"fft_lengths={fft_lengths} must be a non-empty tuple of "
                                 "positive ints.", "give the length of each transformed axis.")
    if x.ndim < k:
        raise errors.shape_error(op, f"operand {x.str_short()} has rank {x.ndim}, fewer than "
                                 f"the {k} transformed axes of fft_lengths={fft_lengths}.",
                                 "transform at most as many axes as the operand has.")
    want_kind = "f" if fft_type == "RFFT" else "c"
    if x.dtype not in (_COMPLEX_OF if want_kind == "f" else _REAL_OF):
        want = "float32 or float64" if want_kind == "f" else "complex64 or complex128"
        raise errors.dtype_error(op, f"{fft_type} takes a {want} operand, got "
                                 f"{x.str_short()}.",
                                 "convert it first (funcgrad.numpy.fft converts for you).")
    trailing = x.shape[x.ndim - k:]
    expected = _expected_input_shape(fft_type, fft_lengths)
    if trailing != expected:
        raise errors.shape_error(op, f"{fft_type} with fft_lengths={fft_lengths} needs trailing "
                                 f"dimensions {expected}, got operand {x.str_short()}.",
                                 "pad or crop the operand first (funcgrad.numpy.fft does this "
                                 "for its n/s arguments).")
    batch = x.shape[:x.ndim - k]
    if fft_type == "RFFT":
        return ShapedArray(batch + fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,),
                           _COMPLEX_OF[x.dtype])
    if fft_type == "IRFFT":
        return ShapedArray(batch + fft_lengths, _REAL_OF[x.dtype])
    return ShapedArray(x.shape, x.dtype)


def _fft_impl(x, *, fft_type, fft_lengths):
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "FFT":
        out, dt = np.fft.fftn(x, axes=axes), x.dtype
    elif fft_type == "IFFT":
        out, dt = np.fft.ifftn(x, axes=axes), x.dtype
    elif fft_type == "RFFT":
        out, dt = np.fft.rfftn(x, axes=axes), _COMPLEX_OF[x.dtype]
    else:
        out, dt = np.fft.irfftn(x, s=fft_lengths, axes=axes), _REAL_OF[x.dtype]
    return np.asarray(out).astype(dt, copy=False)


fft_p = Primitive("fft", impl=_fft_impl, abstract_eval=_fft_abstract_eval)


def fft(x, fft_type, fft_lengths):
    """The discrete Fourier transform of the trailing ``len(fft_lengths)`` axes of ``x``.

    Args:
        x: a complex array (``"FFT"``, ``"IFFT"``, ``"IRFFT"``) or a float array (``"RFFT"``);
            its trailing dimensions must be ``fft_lengths`` (``"IRFFT"``: the last one is
            ``fft_lengths[-1] // 2 + 1``).
        fft_type: ``"FFT"``, ``"IFFT"`` (scaled by ``1/N``), ``"RFFT"`` or ``"IRFFT"``.
        fft_lengths: the signal length along each transformed axis.

    Returns:
        complex64/complex128 (``"FFT"``, ``"IFFT"``, ``"RFFT"``) or float32/float64
        (``"IRFFT"``), keeping the input's precision.

    Example:
        >>> lax.fft(fnp.ones(4, fnp.complex64), "FFT", (4,))
        Array([4.+0.j, 0.+0.j, 0.+0.j, 0.+0.j], dtype=complex64)

    See also: ``funcgrad.numpy.fft``, which pads, crops, picks axes and normalises.
    """
    ftype = str(fft_type).upper()
    if ftype.startswith("FFTTYPE."):
        ftype = ftype[len("FFTTYPE."):]
    if isinstance(fft_lengths, (int, np.integer)):
        fft_lengths = (fft_lengths,)
    return fft_p.bind(x, fft_type=ftype, fft_lengths=tuple(int(n) for n in fft_lengths))


__all__ = ["fft"]


# ================================================================ transformation rules
# fft is linear, so its jvp is the same fft of the tangent. Transposes use funcgrad's
# (JAX's) convention: cotangents pair with values through Re(sum(ct * y)), without a
# conjugate, so a complex-linear map A transposes to A^T.

from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402


def reverse_mod_n(x, axes):
    """``y[j] = x[(-j) mod n]`` along each of ``axes`` (non-negative): the time reversal that
    turns a transform with ``exp(-i...)`` kernels into one with ``exp(+i...)``, or, for real
    ``x``, conjugates its spectrum."""
    shape = core.get_aval(x).shape
    nd = len(shape)
    for a in axes:
        n = shape[a]
        if n <= 1:
            continue
        lo, hi = [0] * nd, list(shape)
        hi[a] = 1
        head = st.slice(x, lo, hi)
        lo[a], hi[a] = 1, n
        x = st.concatenate([head, st.rev(st.slice(x, lo, tuple(hi)), (a,))], a)
    return x


def _scale_last_axis(x, weights):
    """``x * weights`` with ``weights`` (a NumPy vector) along the last axis of ``x``."""
    aval = core.get_aval(x)
    w = Array(np.asarray(weights, dtype=aval.dtype))
    w = st.broadcast_in_dim(w, aval.shape, (aval.ndim - 1,))
    return ew.mul_p.bind(x, w)


def _half_spectrum_weights(n):
    """How many times each entry of an ``n``-point half spectrum counts in the full one: 1
    for DC (and Nyquist when ``n`` is even), 2 for the others."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if type(ct) is _ad.Zero:
        return [_ad.Zero(x.aval)]
    nd = x.aval.ndim
    trailing = tuple(range(nd - len(fft_lengths), nd))
    if fft_type in ("FFT", "IFFT"):
        # The DFT matrix (and its inverse) is symmetric.
        return [fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)]
    size = math.prod(fft_lengths)
    w = _half_spectrum_weights(fft_lengths[-1])
    if fft_type == "RFFT":
        # RFFT^T ct = Re(FFT(ct zero-padded to the full spectrum)). IRFFT(h) is
        # Re(sum w h exp(+i...)) / N, so divide by w, multiply by N, and reverse time to flip
        # the exponent's sign.
        h = _scale_last_axis(ct, size / w)
        return [reverse_mod_n(fft_p.bind(h, fft_type="IRFFT", fft_lengths=fft_lengths), trailing)]
    # IRFFT^T ct = (w / N) * conj(RFFT(ct)) = (w / N) * RFFT(ct reversed in time) (ct is real).
    spectrum = fft_p.bind(reverse_mod_n(ct, trailing), fft_type="RFFT", fft_lengths=fft_lengths)
    return [_scale_last_axis(spectrum, w / size)]


def _fft_batch(vals, dims, *, fft_type, fft_lengths):
    # The transformed axes are trailing, so a leading batch axis is just another batch dim.
    (x,), (d,) = vals, dims
    x = _vm.moveaxis(x, d, 0)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


# ---------------------------------------------------------------- registration

_tr.deflinear(fft_p, _fft_transpose)
_vm.rules[fft_p] = _fft_batch
