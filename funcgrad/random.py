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
           "truncated_normal", "gumbel", "exponential", "threefry2x32"]

_UINT_DTYPES = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KS_PARITY = 0x1BD11BDA


# ---------------------------------------------------------------- validation

def _is_array(x) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray))


def _check_key(op: str, key):
    """``key`` as an array, or a clear error when it is not a ``uint32[2]`` key."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        raise errors.InvalidArgumentError(
            f"random.{op}: got the integer {key!r} where a key was expected. A key is a "
            f"uint32[2] array: pass fg.random.PRNGKey(seed), e.g. "
            f"random.{op}(fg.random.PRNGKey({key}), ...).")
    if not _is_array(key):
        raise errors.InvalidArgumentError(
            f"random.{op}: expected a key (a uint32[2] array), got {type(key).__name__}. "
            f"Make one with fg.random.PRNGKey(seed) and derive more with fg.random.split.")
    key = fnp.asarray(key)
    aval = get_aval(key)
    if aval.shape != (2,) or aval.dtype != dtypes.uint32:
        hint = (" To use a batch of keys, map over them with fg.vmap." if aval.shape[-1:] == (2,)
                and aval.dtype == dtypes.uint32 else "")
        raise errors.InvalidArgumentError(
            f"random.{op}: a key must be a uint32[2] array, got {aval.dtype.name}"
            f"{list(aval.shape)}. Pass fg.random.PRNGKey(seed) or a key from "
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
        raise errors.InvalidArgumentError(
            f"random.{op}: shape must be a tuple of non-negative ints, got {shape!r}.") from None
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
        raise errors.InvalidArgumentError(
            f"random.PRNGKey: seed {seed} does not fit in 64 bits; pass a seed in "
            f"[-2**63, 2**64), e.g. seed % 2**64.")
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
        raise errors.InvalidArgumentError(
            f"random.PRNGKey: seed must be an int, got {seed!r} of type "
            f"{type(seed).__name__}; pass e.g. PRNGKey(0) or PRNGKey(int(seed)).")
    if isinstance(seed, (int, np.integer)):
        hi, lo = _seed_words(int(seed))
        return fnp.asarray(np.array([hi, lo], np.uint32))
    seed = fnp.asarray(seed)
    aval = get_aval(seed)
    if aval.shape != () or aval.dtype not in dtypes.SIGNED + dtypes.UNSIGNED:
        raise errors.InvalidArgumentError(
            f"random.PRNGKey: seed must be an integer scalar, got {aval.dtype.name}"
            f"{list(aval.shape)}; to make many keys, fg.vmap(PRNGKey) over an integer array.")
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
            raise errors.InvalidArgumentError(
                f"random.fold_in: data must be an integer scalar, got {aval.dtype.name}"
                f"{list(aval.shape)}; pass an int such as a step number.")
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


def _normal(key, shape, dtype):
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = _uniform(key, shape, dtype, fnp.asarray(lo), fnp.asarray(np.asarray(1.0, dtype)))
    return np.asarray(np.sqrt(2), dtype) * lax.erfinv(u)


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
        >>> normal(PRNGKey(0), (3,))
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
    out = sqrt2 * lax.erfinv(u)
    # Rounding (or u == a) may land on a bound: clamp into the open interval.
    lo = fnp.nextafter(lax.stop_gradient(lower), np.asarray(np.inf, dtype))
    hi = fnp.nextafter(lax.stop_gradient(upper), np.asarray(-np.inf, dtype))
    return fnp.clip(out, lo, hi)


def exponential(key, shape=(), dtype=dtypes.float32):
    """Samples the exponential distribution with rate 1, as ``-log1p(-u)``.

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
    """Samples the standard Gumbel distribution, as ``-log(-log(u))``.

    Example:
        >>> g = gumbel(PRNGKey(0), (3,))
    """
    key = _check_key("gumbel", key)
    return _gumbel(key, _canonical_shape("gumbel", shape), _float_dtype("gumbel", dtype))
