"""funcgrad.random: a splittable counter-based PRNG (threefry2x32, 20 rounds).

A key is a ``uint32[2]`` array. Keys are values, never state: ``split`` derives new keys,
``fold_in`` mixes data into a key, and every sampler is a pure function of its key. The counter
layout, bit extraction and each sampler's algorithm follow JAX's default threefry scheme (the
"partitionable" layout: element ``i`` of any draw is threefry2x32 of the counter ``(i >> 32,
i & 0xffffffff)``), so a program ported from JAX draws the same numbers.

Everything here is a composition of existing primitives (uint32 add, xor, shifts, ...), so it
works unchanged under ``jit``, ``vmap`` and ``grad``.

Example:
    >>> import funcgrad.random as fr
    >>> key = fr.PRNGKey(0)
    >>> key, sub = fr.split(key)
    >>> x = fr.normal(sub, (3,))
"""
from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

import funcgrad.lax as lax
import funcgrad.numpy as fnp
from funcgrad import dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Tracer, get_aval

__all__ = ["PRNGKey", "key", "split", "fold_in", "bits", "uniform", "normal",
           "truncated_normal", "bernoulli", "categorical", "randint", "permutation", "choice",
           "gumbel", "exponential", "threefry2x32"]

_UINT_DTYPES = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = 0x1BD11BDA


# ---------------------------------------------------------------- validation

def _is_array(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray))


def _invalid(op: str, what: str, fix: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(
        errors.message(f"random.{op}", what, fix, errors.InvalidArgumentError))


def _check_key(op: str, key):
    """``key`` as an array, or a clear error when it is not a ``uint32[2]`` key."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        raise _invalid(op, f"got the integer {key!r} where a key (a uint32[2] array) was "
                       f"expected", f"pass fg.random.PRNGKey(seed), e.g. "
                       f"random.{op}(fg.random.PRNGKey({key}), ...)")
    if not _is_array(key):
        raise _invalid(op, f"expected a key (a uint32[2] array), got {type(key).__name__}",
                       "make one with fg.random.PRNGKey(seed) and derive more with "
                       "fg.random.split")
    key = fnp.asarray(key)
    aval = get_aval(key)
    if aval.shape != (2,) or aval.dtype != dtypes.uint32:
        hint = (" To use a batch of keys, map over them with fg.vmap." if aval.shape[-1:] == (2,)
                and aval.dtype == dtypes.uint32 else "")
        raise _invalid(op, f"a key must be a uint32[2] array, got {aval.dtype.name}"
                       f"{list(aval.shape)}", f"pass fg.random.PRNGKey(seed) or a key from "
                       f"fg.random.split.{hint}")
    return key


def _canonical_shape(op: str, shape) -> tuple[int, ...]:
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise _invalid(op, f"shape must be a tuple of non-negative ints, got {shape!r}",
                       "pass a static shape such as (3,) or (2, 4)") from None
    if any(d < 0 for d in shape):
        raise errors.shape_error(f"random.{op}", f"shape {shape} has a negative dimension",
                                 "pass non-negative sizes")
    return shape


def _check_shape(op: str, shape, *param_shapes) -> None:
    """JAX's rule: the parameters must broadcast to ``shape`` without changing it."""
    try:
        out = np.broadcast_shapes(shape, *param_shapes)
    except ValueError:
        out = None
    if out != tuple(shape):
        shapes = ", ".join(str(tuple(s)) for s in param_shapes)
        raise errors.shape_error(
            f"random.{op}", f"shape {tuple(shape)} is not broadcast-compatible with the "
            f"parameter shapes {shapes}",
            "pass a shape that the parameters broadcast to (e.g. the broadcast of their "
            "shapes, with extra leading dimensions if wanted), or shape=None where allowed")


def _float_dtype(op: str, dtype):
    dt = dtypes.canonicalize(dtype)
    if dt not in dtypes.FLOATS:
        raise errors.dtype_error(f"random.{op}", f"dtype must be a float dtype, got {dt.name}",
                                 "pass dtype=fnp.float32 or fnp.float64")
    return dt


def _param(x, dtype):
    return lax.convert_element_type(fnp.asarray(x), dtype)


def _full_like(x, value):
    aval = get_aval(x)
    return fnp.full(aval.shape, np.asarray(value, aval.dtype))


def _shape_of(x) -> tuple[int, ...]:
    return tuple(get_aval(x).shape) if _is_array(x) else np.shape(x)


# ---------------------------------------------------------------- threefry2x32

def _rotate_left(x, r: int):
    return (x << r) | (x >> (32 - r))


def threefry2x32(k0, k1, x0, x1):
    """The threefry2x32 block cipher with 20 rounds (Salmon et al., Random123).

    Args:
      k0, k1: the two uint32 key words (scalars).
      x0, x1: uint32 counter words of equal shape.

    Returns:
      The two uint32 output words, each of the counter's shape.

    Example:
        >>> threefry2x32(*fnp.zeros(4, fnp.uint32))   # Random123's all-zeros vector
        (Array(1797259609, dtype=uint32), Array(2579123966, dtype=uint32))
    """
    k0, k1, x0, x1 = (lax.convert_element_type(fnp.asarray(v), dtypes.uint32)
                      for v in (k0, k1, x0, x1))
    ks = (k0, k1, k0 ^ k1 ^ _KS_PARITY)
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, r) ^ x0
        # Key injection: the schedule rotates through ks, plus the block number.
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + (ks[(i + 2) % 3] + (i + 1))
    return x0, x1


def _counters(shape):
    """The 64-bit row-major element index of ``shape`` as (high, low) uint32 words."""
    size = math.prod(shape)
    if size > 2 ** 32:
        raise errors.shape_error("random", f"a draw of shape {shape} has {size} elements",
                                 "draw at most 2**32 elements at once")
    lo = lax.reshape(lax.iota(dtypes.uint32, size), shape) if shape else (
        fnp.zeros((), dtypes.uint32))
    return fnp.zeros(shape, dtypes.uint32), lo


def _threefry_bits(key, shape):
    hi, lo = _counters(shape)
    return threefry2x32(key[0], key[1], hi, lo)


def _random_bits(key, bit_width: int, shape):
    b0, b1 = _threefry_bits(key, shape)
    dtype = _UINT_DTYPES[bit_width]
    if bit_width == 64:
        return (lax.convert_element_type(b0, dtype) << 32) | lax.convert_element_type(b1, dtype)
    out = b0 ^ b1
    return out if bit_width == 32 else lax.convert_element_type(out, dtype)


# ---------------------------------------------------------------- keys

def _seed_words(seed: int) -> tuple[int, int]:
    # A seed that fits int32 is read as an int32 (its high word is 0, as for JAX's default
    # int32 seeds), a wider one as an int64 or uint64 (high and low 32-bit words).
    if -2 ** 31 <= seed < 2 ** 31:
        return 0, seed & 0xFFFFFFFF
    if not -2 ** 63 <= seed < 2 ** 64:
        raise _invalid("PRNGKey", f"seed {seed} does not fit in 64 bits",
                       "pass a seed in [-2**63, 2**64), e.g. seed % 2**64")
    seed &= 0xFFFFFFFFFFFFFFFF
    return seed >> 32, seed & 0xFFFFFFFF


def PRNGKey(seed):  # noqa: N802 - JAX's name
    """A key from an integer seed.

    Args:
      seed: a Python int (negative and 64-bit seeds allowed: a seed outside int32 contributes
        its high and low 32-bit words), or an integer scalar array (possibly traced).

    Returns:
      A ``uint32[2]`` key ``[high word, low word]``.

    Example:
        >>> PRNGKey(0)
        Array([0, 0], dtype=uint32)

    See also: ``split``, ``fold_in``.
    """
    if isinstance(seed, (bool, np.bool_)) or not (
            isinstance(seed, (int, np.integer)) or _is_array(seed)):
        raise _invalid("PRNGKey", f"seed must be an int, got {seed!r} of type "
                       f"{type(seed).__name__}", "pass e.g. PRNGKey(0) or PRNGKey(int(seed))")
    if isinstance(seed, (int, np.integer)):
        hi, lo = _seed_words(int(seed))
        return fnp.asarray(np.array([hi, lo], np.uint32))
    seed = fnp.asarray(seed)
    aval = get_aval(seed)
    if aval.shape != () or aval.dtype not in dtypes.SIGNED + dtypes.UNSIGNED:
        raise _invalid("PRNGKey", f"seed must be an integer scalar, got {aval.dtype.name}"
                       f"{list(aval.shape)}", "pass one integer seed; to make many keys, "
                       "fg.vmap(PRNGKey) over an integer array")
    lo = lax.convert_element_type(seed, dtypes.uint32)
    if aval.dtype.itemsize == 8:
        hi = lax.convert_element_type(fnp.right_shift(
            lax.convert_element_type(seed, dtypes.uint64), 32), dtypes.uint32)
    else:
        hi = fnp.zeros((), dtypes.uint32)
    return fnp.stack([hi, lo])


key = PRNGKey


def split(key, num: int | Sequence[int] = 2):
    """Derives ``num`` new independent keys from ``key``.

    Args:
      key: a ``uint32[2]`` key.
      num: the number of keys, or a shape of keys.

    Returns:
      A ``uint32[num, 2]`` array of keys (``uint32[*num, 2]`` for a shape).

    Example:
        >>> key, subkey = split(PRNGKey(0))
    """
    key = _check_key("split", key)
    shape = _canonical_shape("split", num)
    b0, b1 = _threefry_bits(key, shape)
    return fnp.stack([b0, b1], axis=len(shape))


def fold_in(key, data):
    """A new key from ``key`` and an integer ``data`` (e.g. a step or worker index).

    Args:
      key: a ``uint32[2]`` key.
      data: an int (taken modulo 2**32) or an integer scalar array.

    Returns:
      A ``uint32[2]`` key.

    Example:
        >>> step_key = fold_in(PRNGKey(0), 7)
    """
    key = _check_key("fold_in", key)
    if isinstance(data, (int, np.integer)) and not isinstance(data, bool):
        data = fnp.asarray(np.uint32(int(data) & 0xFFFFFFFF))
    else:
        data = fnp.asarray(data)
        aval = get_aval(data)
        if aval.shape != () or aval.dtype not in dtypes.SIGNED + dtypes.UNSIGNED:
            raise _invalid("fold_in", f"data must be an integer scalar, got "
                           f"{aval.dtype.name}{list(aval.shape)}",
                           "pass an int such as a step number")
        data = lax.convert_element_type(data, dtypes.uint32)
    b0, b1 = threefry2x32(key[0], key[1], fnp.zeros((), dtypes.uint32), data)
    return fnp.stack([b0, b1])


def bits(key, shape=(), dtype=None):
    """Uniformly random bits.

    Args:
      key: a ``uint32[2]`` key.
      shape: the output shape.
      dtype: an unsigned integer dtype (default uint32).

    Returns:
      An array of ``shape`` and ``dtype``.

    Example:
        >>> bits(PRNGKey(0), (2,))
        Array([4070199207, 4202968722], dtype=uint32)
    """
    key = _check_key("bits", key)
    dt = dtypes.uint32 if dtype is None else dtypes.canonicalize(dtype)
    if dt not in dtypes.UNSIGNED:
        raise errors.dtype_error("random.bits", f"dtype must be unsigned, got {dt.name}",
                                 "pass dtype=fnp.uint32 (or uint8/16/64), or use randint")
    return _random_bits(key, dt.itemsize * 8, _canonical_shape("bits", shape))


# ---------------------------------------------------------------- continuous samplers

def _uniform(key, shape, dtype, minval, maxval):
    finfo = np.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    raw = _random_bits(key, nbits, shape)
    # The top nmant bits as a mantissa of [1, 2), minus 1: exactly mantissa * 2**-nmant.
    mantissa = lax.convert_element_type(raw >> (nbits - nmant), dtype)
    floats = mantissa * np.asarray(2.0 ** -nmant, dtype)
    return fnp.maximum(minval, floats * (maxval - minval) + minval)


def uniform(key, shape=(), dtype=dtypes.float32, minval=0.0, maxval=1.0):
    """Samples uniformly from ``[minval, maxval)``.

    Args:
      key: a ``uint32[2]`` key.
      shape: the output shape; ``minval`` and ``maxval`` must broadcast to it.
      dtype: a float dtype.
      minval, maxval: bounds (scalars or arrays).

    Returns:
      An array of ``shape`` and ``dtype``.

    Example:
        >>> uniform(PRNGKey(0), (3,))
        Array([0.947667  , 0.9785799 , 0.33229148], dtype=float32)
    """
    key = _check_key("uniform", key)
    dtype = _float_dtype("uniform", dtype)
    shape = _canonical_shape("uniform", shape)
    minval, maxval = _param(minval, dtype), _param(maxval, dtype)
    _check_shape("uniform", shape, _shape_of(minval), _shape_of(maxval))
    return _uniform(key, shape, dtype, minval, maxval)


# Giles's single-precision approximation of erfinv (two polynomials in w = -log(1 - u**2)),
# the one JAX's float32 samplers go through; each Horner step rounds once, as a fused
# multiply-add does, so that the draws are JAX's bit for bit (98.6% of float32 inputs; the
# rest within 1 ulp). ``lax.erfinv`` itself is correctly rounded and stays the reference.
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _horner_fma32(coeffs, w):
    w64 = lax.convert_element_type(w, np.float64)
    p = fnp.full(w.shape, np.float32(coeffs[0]), dtype=np.float32)
    for c in coeffs[1:]:
        step = np.float64(np.float32(c)) + lax.convert_element_type(p, np.float64) * w64
        p = lax.convert_element_type(step, np.float32)
    return p


def _erfinv_sampling(u):
    """erfinv as JAX's samplers compute it: Giles's approximation for float32 (bit-compatible
    draws), the correctly rounded ``lax.erfinv`` for float64."""
    if u.dtype != np.float32:
        return lax.erfinv(u)
    w = -fnp.log1p(-u * u)
    central = _horner_fma32(_GILES_CENTRAL, w - np.float32(2.5))
    tail = _horner_fma32(_GILES_TAIL, fnp.sqrt(w) - np.float32(3.0))
    return fnp.where(w < np.float32(5.0), central, tail) * u


def _normal(key, shape, dtype):
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = _uniform(key, shape, dtype, fnp.asarray(lo), fnp.asarray(np.asarray(1.0, dtype)))
    return np.asarray(np.sqrt(2), dtype) * _erfinv_sampling(u)


def normal(key, shape=(), dtype=dtypes.float32):
    """Samples the standard normal distribution (the inverse error function of a uniform
    draw in (-1, 1)).

    Args:
      key: a ``uint32[2]`` key.
      shape: the output shape.
      dtype: a float dtype.

    Returns:
      An array of ``shape`` and ``dtype``.

    Example:
        >>> normal(PRNGKey(0), (3,))  # JAX gives the same numbers
        Array([ 1.6226422 ,  2.0252647 , -0.43359444], dtype=float32)
    """
    key = _check_key("normal", key)
    return _normal(key, _canonical_shape("normal", shape), _float_dtype("normal", dtype))


def truncated_normal(key, lower, upper, shape=None, dtype=dtypes.float32):
    """Samples a standard normal truncated to ``(lower, upper)``.

    Args:
      key: a ``uint32[2]`` key.
      lower, upper: the bounds (scalars or arrays, may be infinite).
      shape: the output shape (default: the broadcast of the bounds' shapes).
      dtype: a float dtype.

    Returns:
      An array of ``shape`` and ``dtype`` with values strictly inside the bounds.

    Example:
        >>> x = truncated_normal(PRNGKey(0), -2.0, 2.0, (5,))
    """
    key = _check_key("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    lower, upper = _param(lower, dtype), _param(upper, dtype)
    bound_shapes = (_shape_of(lower), _shape_of(upper))
    if shape is None:
        shape = np.broadcast_shapes(*bound_shapes)
    else:
        shape = _canonical_shape("truncated_normal", shape)
        _check_shape("truncated_normal", shape, *bound_shapes)
    sqrt2 = np.asarray(np.sqrt(2), dtype)
    a, b = lax.erf(lower / sqrt2), lax.erf(upper / sqrt2)
    u = _uniform(key, shape, dtype, a, b)
    out = sqrt2 * _erfinv_sampling(u)
    # Rounding (or u == a) may land on a bound: clamp into the open interval.
    lo = lax.nextafter(lax.stop_gradient(lower), _full_like(lower, np.inf))
    hi = lax.nextafter(lax.stop_gradient(upper), _full_like(upper, -np.inf))
    return fnp.clip(out, lo, hi)


def exponential(key, shape=(), dtype=dtypes.float32):
    """Samples the exponential distribution with rate 1, as ``-log1p(-u)``.

    Args:
      key: a ``uint32[2]`` key.
      shape: the output shape.
      dtype: a float dtype.

    Returns:
      A non-negative array of ``shape`` and ``dtype``.

    Example:
        >>> x = exponential(PRNGKey(0), (3,))
    """
    key = _check_key("exponential", key)
    dtype = _float_dtype("exponential", dtype)
    u = _uniform(key, _canonical_shape("exponential", shape), dtype,
                 fnp.asarray(np.asarray(0.0, dtype)), fnp.asarray(np.asarray(1.0, dtype)))
    return -fnp.log1p(-u)


def _gumbel(key, shape, dtype):
    tiny = np.asarray(np.finfo(dtype).tiny, dtype)
    u = _uniform(key, shape, dtype, fnp.asarray(tiny), fnp.asarray(np.asarray(1.0, dtype)))
    return -fnp.log(-fnp.log(u))


def gumbel(key, shape=(), dtype=dtypes.float32):
    """Samples the standard Gumbel distribution, as ``-log(-log(u))`` with ``u`` uniform in
    ``[tiny, 1)``.

    Args:
      key: a ``uint32[2]`` key.
      shape: the output shape.
      dtype: a float dtype.

    Returns:
      An array of ``shape`` and ``dtype``.

    Example:
        >>> g = gumbel(PRNGKey(0), (3,))
    """
    key = _check_key("gumbel", key)
    return _gumbel(key, _canonical_shape("gumbel", shape), _float_dtype("gumbel", dtype))


# ---------------------------------------------------------------- discrete samplers

def bernoulli(key, p=0.5, shape=None):
    """Samples booleans that are True with probability ``p`` (as ``uniform < p``).

    Args:
      key: a ``uint32[2]`` key.
      p: the probability of True (a float scalar or array).
      shape: the output shape (default: ``p``'s shape); ``p`` must broadcast to it.

    Returns:
      A boolean array of ``shape``.

    Example:
        >>> coin = bernoulli(PRNGKey(0), 0.3, (4,))
    """
    key = _check_key("bernoulli", key)
    p = fnp.asarray(p)
    dtype = get_aval(p).dtype
    if dtype not in dtypes.FLOATS:
        raise errors.dtype_error("random.bernoulli", f"p must be a float, got {dtype.name}",
                                 "pass p as a float probability, e.g. 0.5")
    if shape is None:
        shape = _shape_of(p)
    else:
        shape = _canonical_shape("bernoulli", shape)
        _check_shape("bernoulli", shape, _shape_of(p))
    zero, one = (fnp.asarray(np.asarray(v, dtype)) for v in (0.0, 1.0))
    return _uniform(key, shape, dtype, zero, one) < p


def categorical(key, logits, axis=-1, shape=None):
    """Samples category indices from unnormalised log-probabilities (the Gumbel-max trick:
    ``argmax(logits + gumbel)``).

    Args:
      key: a ``uint32[2]`` key.
      logits: log-probabilities up to a constant, categories along ``axis``.
      axis: the categories' axis.
      shape: the output shape (default: ``logits``' shape without ``axis``); it must end with
        that batch shape, extra leading dimensions draw several samples per batch element.

    Returns:
      An int32 array of ``shape``.

    Example:
        >>> i = categorical(PRNGKey(0), fnp.log(fnp.array([0.2, 0.8])), shape=(5,))
    """
    key = _check_key("categorical", key)
    logits = fnp.asarray(logits)
    aval = get_aval(logits)
    if aval.dtype not in dtypes.FLOATS:
        raise errors.dtype_error("random.categorical", f"logits must be floats, got "
                                 f"{aval.dtype.name}", "pass float logits, e.g. fnp.log(p)")
    ndim = len(aval.shape)
    if not -ndim <= axis < ndim:
        raise errors.shape_error("random.categorical", f"axis {axis} is out of range for "
                                 f"logits of shape {aval.shape}", "pass an axis of logits")
    if axis >= 0:
        axis -= ndim
    batch_shape = tuple(np.delete(aval.shape, axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = _canonical_shape("categorical", shape)
        _check_shape("categorical", shape, batch_shape)
    prefix = shape[:len(shape) - len(batch_shape)]
    logits_shape = list(shape[len(shape) - len(batch_shape):])
    logits_shape.insert(axis % ndim, aval.shape[axis])
    noise = _gumbel(key, (*prefix, *logits_shape), aval.dtype)
    expanded = fnp.reshape(logits, (1,) * len(prefix) + aval.shape)
    return fnp.argmax(noise + expanded, axis=axis)


def _int_scalar(x):
    if isinstance(x, int) and not -2 ** 31 <= x < 2 ** 31:
        # Too wide for the default int32: read it as int64 (uint64 past int64's range).
        x = np.asarray(x, np.int64 if -2 ** 63 <= x < 2 ** 63 else np.uint64)
    x = fnp.asarray(x)
    dt = get_aval(x).dtype
    if dt not in dtypes.SIGNED + dtypes.UNSIGNED:
        x = lax.convert_element_type(x, dtypes.int32)
    return x


def _convert_and_clip(x, dtype):
    """``x`` clamped to ``dtype``'s range (within its own), then converted."""
    src, dst = np.iinfo(get_aval(x).dtype), np.iinfo(dtype)
    src_dt = get_aval(x).dtype
    lo = np.asarray(max(src.min, dst.min), src_dt)
    hi = np.asarray(min(src.max, dst.max), src_dt)
    return lax.convert_element_type(fnp.clip(x, lo, hi), dtype)


def randint(key, shape, minval, maxval, dtype=dtypes.int32):
    """Samples integers uniformly from ``[minval, maxval)``.

    Two words of random bits are reduced modulo the span ``maxval - minval`` (JAX's method),
    which keeps the bias negligible for spans far below 2**32. Where ``maxval <= minval`` the
    result is ``minval``.

    Args:
      key: a ``uint32[2]`` key.
      shape: the output shape; ``minval`` and ``maxval`` must broadcast to it.
      minval, maxval: integer bounds (clipped to ``dtype``'s range).
      dtype: an integer dtype.

    Returns:
      An array of ``shape`` and ``dtype``.

    Example:
        >>> randint(PRNGKey(0), (4,), 0, 10)
        Array([9, 0, 2, 3], dtype=int32)
    """
    key = _check_key("randint", key)
    shape = _canonical_shape("randint", shape)
    dtype = dtypes.canonicalize(dtype)
    if dtype not in dtypes.SIGNED + dtypes.UNSIGNED:
        raise errors.dtype_error("random.randint", f"dtype must be an integer dtype, got "
                                 f"{dtype.name}", "pass dtype=fnp.int32, or use uniform")
    minval, maxval = _int_scalar(minval), _int_scalar(maxval)
    _check_shape("randint", shape, _shape_of(minval), _shape_of(maxval))
    # A maxval beyond dtype's range means "up to and including dtype's max".
    dtype_max = _convert_and_clip(fnp.asarray(np.asarray(np.iinfo(dtype).max, dtype)),
                                  get_aval(maxval).dtype)
    maxval_out_of_range = maxval > dtype_max
    minval, maxval = _convert_and_clip(minval, dtype), _convert_and_clip(maxval, dtype)
    nbits = dtype.itemsize * 8
    unsigned = _UINT_DTYPES[nbits]
    k1, k2 = split(key)
    higher_bits, lower_bits = _random_bits(k1, nbits, shape), _random_bits(k2, nbits, shape)
    span = lax.convert_element_type(maxval - minval, unsigned)
    span = fnp.where(maxval <= minval, np.asarray(1, unsigned), span)
    span = fnp.where(maxval_out_of_range & (maxval > minval), span + 1, span)
    # A span of 2**nbits wraps to 0; x mod 0 is then x (the bits are used whole), as in XLA.
    full_range = span == 0
    safe_span = fnp.where(full_range, np.asarray(1, unsigned), span)

    def mod(x):
        return fnp.where(full_range, x, x % safe_span)

    # (hi * 2**nbits + lo) mod span, without 2*nbits-bit arithmetic.
    multiplier = mod(fnp.full(get_aval(span).shape, np.asarray(2 ** (nbits // 2), unsigned)))
    multiplier = mod(multiplier * multiplier)
    offset = mod(mod(higher_bits) * multiplier + mod(lower_bits))
    return minval + lax.convert_element_type(offset, dtype)


def _shuffle(key, x, axis: int):
    # Sorting by random keys, repeated so that ties (which keep order) are unlikely overall.
    size = math.prod(get_aval(x).shape)
    num_rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(num_rounds):
        key, subkey = split(key)
        sort_keys = _random_bits(subkey, 32, get_aval(x).shape)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def _concrete_int(op: str, x, what: str) -> int:
    if isinstance(x, Tracer):
        raise _invalid(op, f"{what} must be a concrete int (it fixes the output shape), got "
                       f"a traced value", "pass a Python int, or mark the argument static")
    return operator.index(np.asarray(x).item())


def permutation(key, x, axis=0, independent=False):
    """A random permutation of ``arange(x)`` (int ``x``) or of ``x``'s entries along ``axis``.

    Args:
      key: a ``uint32[2]`` key.
      x: an int n (permutes ``arange(n)``) or an array.
      axis: the axis to permute.
      independent: permute each slice along ``axis`` independently rather than whole slices.

    Returns:
      The permuted array.

    Example:
        >>> p = permutation(PRNGKey(0), 5)
    """
    key = _check_key("permutation", key)
    if not _is_array(x) or not get_aval(x).shape:
        x_dtype = np.asarray(x).dtype if not _is_array(x) else get_aval(x).dtype
        if x_dtype.kind not in "iu":
            raise _invalid("permutation", f"x must be an int or an array of rank >= 1, got "
                           f"{x!r}", "pass e.g. permutation(key, 10) or "
                           "permutation(key, fnp.arange(10))")
        n = _concrete_int("permutation", x, "x")
        return _shuffle(key, fnp.arange(n), 0)
    x = fnp.asarray(x)
    shape = get_aval(x).shape
    if not -len(shape) <= axis < len(shape):
        raise errors.shape_error("random.permutation", f"axis {axis} is out of range for x of "
                                 f"shape {shape}", "pass an axis of x")
    axis %= len(shape)
    if independent or len(shape) == 1:
        return _shuffle(key, x, axis)
    ind = _shuffle(key, fnp.arange(shape[axis]), 0)
    return fnp.take(x, ind, axis=axis)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Samples from ``arange(a)`` (int ``a``) or from ``a``'s entries along ``axis``.

    Args:
      key: a ``uint32[2]`` key.
      a: an int n or an array.
      shape: the shape of the draws.
      replace: draw with replacement.
      p: probabilities of the n entries (default uniform).
      axis: the axis of ``a`` to draw along.

    Returns:
      ``a``'s shape with ``axis`` replaced by ``shape`` (``shape`` itself for an int ``a``).

    Example:
        >>> picks = choice(PRNGKey(0), 10, (3,), replace=False)
    """
    key = _check_key("choice", key)
    if not isinstance(shape, Sequence):
        raise _invalid("choice", f"shape must be a sequence, got {shape!r}",
                       "pass e.g. shape=(3,)")
    shape = _canonical_shape("choice", shape)
    arr = fnp.asarray(a)
    a_shape = get_aval(arr).shape
    if not a_shape:
        n_inputs = _concrete_int("choice", a, "a")
    else:
        if not -len(a_shape) <= axis < len(a_shape):
            raise errors.shape_error("random.choice", f"axis {axis} is out of range for a of "
                                     f"shape {a_shape}", "pass an axis of a")
        axis %= len(a_shape)
        n_inputs = a_shape[axis]
    n_draws = math.prod(shape)
    out_shape = shape if not a_shape else a_shape[:axis] + shape + a_shape[axis + 1:]
    if n_draws == 0:
        return fnp.zeros(out_shape, get_aval(arr).dtype)
    if n_inputs <= 0:
        raise _invalid("choice", f"a has {n_inputs} entries to choose from",
                       "pass a non-empty a, or a shape with no draws")
    if not replace and n_draws > n_inputs:
        raise _invalid("choice", f"cannot take {n_draws} samples without replacement from "
                       f"{n_inputs} entries", f"pass replace=True, or a shape with at most "
                       f"{n_inputs} elements")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if not a_shape else fnp.take(arr, ind, axis=axis)
        else:
            perm = permutation(key, n_inputs if not a_shape else arr, axis)
            result = fnp.take(perm, fnp.arange(n_draws), axis=axis)
    else:
        p = fnp.asarray(p)
        p_aval = get_aval(p)
        if p_aval.dtype not in dtypes.FLOATS:
            p = lax.convert_element_type(p, dtypes.float32)
        if tuple(p_aval.shape) != (n_inputs,):
            raise errors.shape_error(
                "random.choice", f"p has shape {tuple(p_aval.shape)} but a has {n_inputs} "
                f"entries", f"pass p of shape ({n_inputs},), one probability per entry")
        dtype = get_aval(p).dtype
        if replace:
            p_cuml = fnp.cumsum(p)
            one, zero = (fnp.asarray(np.asarray(v, dtype)) for v in (1.0, 0.0))
            r = p_cuml[-1] * (1 - _uniform(key, shape, dtype, zero, one))
            ind = fnp.searchsorted(p_cuml, r).astype(dtypes.int32)
        else:
            # Gumbel top-k: the n_draws largest perturbed log-probabilities.
            g = _gumbel(key, (n_inputs,), dtype) + fnp.log(p)
            ind = fnp.argsort(-g, stable=True)[:n_draws].astype(dtypes.int32)
        result = ind if not a_shape else fnp.take(arr, ind, axis=axis)
    return fnp.reshape(result, out_shape)
