"""Scalar helpers called from generated kernels: integer division and powers with the
primitives' semantics, NaN-aware max/min, complex orderings, and vectorisable approximations
of transcendental functions.

Every function is a small ``numba.njit`` function that LLVM inlines into the kernel's loop, so
a loop calling them still vectorises. Each is also plain Python over NumPy scalars (the
``numba-py`` backend calls ``py_func``). Functions that depend on a dtype are defined once per
dtype and named with its suffix (``div_int32``, ``exp_float32``), so that every constant inside
them has that dtype: a Python float literal would promote float32 arithmetic to float64.
"""
from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(error_model="numpy", cache=False)


# ------------------------------------------------------------------------------------------
# Generic helpers (no constants: valid for every dtype)


@_jit
def sq(x):
    return x * x


@_jit
def max(a, b):  # noqa: A001 - the primitive's name
    # NumPy's maximum: NaN propagates, and ties return the second operand (max(-0., 0.) = 0.).
    return a if (a > b or a != a) else b


@_jit
def min(a, b):  # noqa: A001
    return a if (a < b or a != a) else b


# Complex orderings are lexicographic, as NumPy's, with NumPy's NaN rules.

@_jit
def _c_isnan(z):
    return z.real != z.real or z.imag != z.imag


@_jit
def clt(a, b):
    if a.real < b.real:
        return not (a.imag != a.imag or b.imag != b.imag)
    return a.real == b.real and a.imag < b.imag


@_jit
def cle(a, b):
    if a.real < b.real:
        return not (a.imag != a.imag or b.imag != b.imag)
    return a.real == b.real and a.imag <= b.imag


@_jit
def cgt(a, b):
    return clt(b, a)


@_jit
def cge(a, b):
    return cle(b, a)


@_jit
def cmax(a, b):
    return a if (cge(a, b) or _c_isnan(a)) else b


@_jit
def cmin(a, b):
    return a if (cle(a, b) or _c_isnan(a)) else b


def _define_complex_div(C, F):
    one = F(1)

    @_jit
    def div(a, b):
        # Smith's algorithm, with NumPy's choices for a zero divisor (inf or nan, no error).
        ar, ai, br, bi = F(a.real), F(a.imag), F(b.real), F(b.imag)
        abr, abi = np.abs(br), np.abs(bi)
        if abr >= abi:
            if abr == 0 and abi == 0:
                return C(complex(ar / abr, ai / abr))
            rat = bi / br
            scl = one / (br + bi * rat)
            return C(complex((ar + ai * rat) * scl, (ai - ar * rat) * scl))
        if abr != abr or abi != abi:
            return C(complex(np.nan, np.nan))
        rat = br / bi
        scl = one / (bi + br * rat)
        return C(complex((ar * rat + ai) * scl, (ai * rat - ar) * scl))

    return div


div_complex64 = _define_complex_div(np.complex64, np.float32)
div_complex128 = _define_complex_div(np.complex128, np.float64)


# ------------------------------------------------------------------------------------------
# Integer helpers, one set per integer dtype


def _define_signed(T, bits):
    zero, one, minus_one = T(0), T(1), T(-1)

    @_jit
    def div(x, y):
        # Truncating division (C, lax.div); 0 for y == 0; MIN // -1 wraps to MIN.
        if y == zero:
            return zero
        if y == minus_one:
            return T(zero - x)
        q = x // y
        if q * y != x and (x < zero) != (y < zero):
            q = q + one
        return T(q)

    @_jit
    def rem(x, y):
        # C remainder (sign of x); 0 for y == 0 and for y == -1.
        if y == zero or y == minus_one:
            return zero
        r = x % y
        if r != zero and (x < zero) != (y < zero):
            r = r - y
        return T(r)

    @_jit
    def pow(x, y):  # noqa: A001
        # A negative exponent gives the truncated value of 1 / x**|y|, as the impl.
        if y < zero:
            if x == one:
                return one
            if x == minus_one:
                return one if y % T(2) == zero else minus_one
            return zero
        acc, base, n = one, x, y
        while n > zero:
            if n & one:
                acc = T(acc * base)
            n = n >> one
            base = T(base * base)
        return acc

    return div, rem, pow


def _define_unsigned(T, bits):
    zero, one = T(0), T(1)

    @_jit
    def div(x, y):
        if y == zero:
            return zero
        return T(x // y)

    @_jit
    def rem(x, y):
        if y == zero:
            return zero
        return T(x % y)

    @_jit
    def pow(x, y):  # noqa: A001
        acc, base, n = one, x, y
        while n > zero:
            if n & one:
                acc = T(acc * base)
            n = n >> one
            base = T(base * base)
        return acc

    return div, rem, pow


for _T in (np.int8, np.int16, np.int32, np.int64):
    _n = np.dtype(_T).name
    globals()[f"div_{_n}"], globals()[f"rem_{_n}"], globals()[f"pow_{_n}"] = \
        _define_signed(_T, np.dtype(_T).itemsize * 8)
for _T in (np.uint8, np.uint16, np.uint32, np.uint64):
    _n = np.dtype(_T).name
    globals()[f"div_{_n}"], globals()[f"rem_{_n}"], globals()[f"pow_{_n}"] = \
        _define_unsigned(_T, np.dtype(_T).itemsize * 8)


# ------------------------------------------------------------------------------------------
# Float helpers that follow the impls exactly (libm-based)


def _define_logistic(T):
    one = T(1)

    @_jit
    def logistic(x):
        e = np.exp(-np.abs(x))
        if x >= 0:
            return T(one / (one + e))
        return T(e / (one + e))

    return logistic


logistic_float32 = _define_logistic(np.float32)
logistic_float64 = _define_logistic(np.float64)

_ERFINV_SMALL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_LARGE = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@_jit
def erfinv_float64(y):
    # The impl's algorithm: Giles' approximation, then three Newton steps on erf.
    w = -np.log1p(-y * y)
    if w < 5.0:
        t = w - 2.5
        c = _ERFINV_SMALL
    else:
        t = np.sqrt(w) - 3.0
        c = _ERFINV_LARGE
    p = 0.0
    for k in range(9):
        p = p * t + c[k]
    x = p * y
    for _ in range(3):
        err = math.erf(x) - y
        x = x - err / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
    if np.abs(y) == 1.0:
        x = np.copysign(np.inf, y)
    if np.abs(y) > 1.0 or y != y:
        x = np.nan
    return x
