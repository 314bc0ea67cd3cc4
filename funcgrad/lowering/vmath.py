"""Scalar helpers called from generated kernels: integer division and powers with the
primitives' semantics, NaN-aware max/min, complex orderings, and vectorisable approximations
of transcendental functions.

Every function is a ``numba.njit(inline="always")`` function: Numba inlines it into the
kernel's loop body, which then vectorises. (Left to LLVM, the larger ones such as erf were not
inlined, and a loop calling erf took 6.9 ms instead of 0.63 ms for 1e6 float32 values.) A
kernel's disk cache holds the inlined code, so the cache key of generated modules must include
this file's content. Each function is also plain Python over NumPy scalars (the ``numba-py``
backend calls ``py_func``).

Functions that depend on a dtype are defined once per dtype and named with its suffix
(``div_int32``, ``exp_float32``), so that every constant inside them has that dtype: a Python
float literal would promote float32 arithmetic to float64.

Accuracy (max ulps against the float64 or 120-bit reference; see test_lowering_scalar.py):
float32 exp, exp2, expm1, log, log1p 1; tanh, logistic, erf, sin, cos 2; pow 1; float64 exp,
expm1, log, log1p, logistic 1, tanh 2.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

_jit = numba.njit(error_model="numpy", cache=False, inline="always")


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


def _define_signed(T):
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


def _define_unsigned(T):
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
        _define_signed(_T)
for _T in (np.uint8, np.uint16, np.uint32, np.uint64):
    _n = np.dtype(_T).name
    globals()[f"div_{_n}"], globals()[f"rem_{_n}"], globals()[f"pow_{_n}"] = \
        _define_unsigned(_T)


# ------------------------------------------------------------------------------------------
# Float helpers that follow the impls exactly (libm-based)



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


# ------------------------------------------------------------------------------------------
# Bit casts between float32 and int32 (and float64/int64). Plain Python functions for the
# numba-py backend, overloaded with LLVM bitcasts (which vectorise) for compiled code.


def bits_float32(x):
    return np.asarray(x, np.float32).view(np.int32)[()]


def float32_from_bits(i):
    return np.asarray(np.asarray(i).astype(np.int64) & 0xFFFFFFFF, np.uint32).view(
        np.float32)[()]


def bits_float64(x):
    return np.asarray(x, np.float64).view(np.int64)[()]


def float64_from_bits(i):
    return np.asarray(i, np.int64).view(np.float64)[()]


def _bitcast_intrinsic(src_ok, dst_type, width, to_float):
    @intrinsic
    def cast(typingctx, x):
        if not src_ok(x):
            return None

        def codegen(context, builder, sig, args):
            v = args[0]
            if to_float and x.bitwidth != width:  # Numba widened an integer: keep its low bits
                v = (builder.trunc if x.bitwidth > width else builder.sext)(
                    v, ir.IntType(width))
            return builder.bitcast(v, context.get_value_type(dst_type))
        return dst_type(x), codegen
    return cast


_f32_to_i32 = _bitcast_intrinsic(lambda t: t == types.float32, types.int32, 32, False)
_f64_to_i64 = _bitcast_intrinsic(lambda t: t == types.float64, types.int64, 64, False)
_i_to_f32 = _bitcast_intrinsic(lambda t: isinstance(t, types.Integer), types.float32, 32, True)
_i_to_f64 = _bitcast_intrinsic(lambda t: isinstance(t, types.Integer), types.float64, 64, True)


@overload(bits_float32)
def _ol_bits_float32(x):
    return lambda x: _f32_to_i32(np.float32(x))


@overload(float32_from_bits)
def _ol_float32_from_bits(i):
    return lambda i: _i_to_f32(i)


@overload(bits_float64)
def _ol_bits_float64(x):
    return lambda x: _f64_to_i64(np.float64(x))


@overload(float64_from_bits)
def _ol_float64_from_bits(i):
    return lambda i: _i_to_f64(i)


# ------------------------------------------------------------------------------------------
# Vectorisable float32 approximations: range reduction, a polynomial whose coefficients were
# fitted (minimax in relative error) for these intervals and rounded to float32, and selects
# for the special values. Scaling by 2**n builds the float from its exponent bits.

_F = np.float32
_I = np.int32
_LOG2E = _F(1.4426950408889634)
_ROUND32 = _F(12582912.0)  # 1.5 * 2**23: x + _ROUND32 keeps round(x) in the low mantissa bits
_ROUND32_BITS = _I(0x4B400000)
_LN2_HI = _F(0.693359375)  # 9 significant bits: n * _LN2_HI is exact for |n| < 2**15
_LN2_LO = _F(-2.12194440e-4)
_LN2 = _F(0.6931471805599453)
_EXP_HI = _F(89.0)  # exp(89) overflows; clamping keeps the exponent arithmetic in range
_EXP_LO = _F(-104.0)  # exp(-104) rounds to 0
# exp(r) = 1 + r + r^2 q(r) on |r| <= ln2 / 2 (relative error 3e-9)
_EXP_Q = (_F(0.0013814179692417383), _F(0.008368919603526592), _F(0.04166840761899948),
          _F(0.1666651964187622), _F(0.4999999403953552))
# expm1(r) = r + r^2 / 2 + r^3 q(r) on |r| <= ln2 / 2 (relative error 4e-10)
_EXPM1_Q = (_F(0.00019824027549475431), _F(0.0013933507725596428), _F(0.008333420380949974),
            _F(0.041666481643915176), _F(0.1666666567325592))
# log1p(f) = f - f^2 / 2 + f^3 p(f) on sqrt(1/2) - 1 <= f <= sqrt(2) - 1 (relative error 6e-9)
_LOG_P = (_F(-0.07635655999183655), _F(0.12763331830501556), _F(-0.1316058486700058),
          _F(0.14201553165912628), _F(-0.16623298823833466), _F(0.20001234114170074),
          _F(-0.250008225440979), _F(0.3333333134651184))
_SQRT_HALF_BITS = _I(0x3F3504F3)
_TWO23 = _F(8388608.0)
_INF32, _NEG_INF32, _NAN32 = _F(np.inf), _F(-np.inf), _F(np.nan)


@_jit
def _pow2_float32(n):
    # 2**n for integer n in [-126, 127], from the exponent field.
    return float32_from_bits((n + 127) << 23)


@_jit
def _exp_reduce_float32(x):
    # x = n ln2 + r with |r| <= ln2 / 2 (slightly more after rounding); returns (n, r).
    t = x * _LOG2E + _ROUND32
    n = t - _ROUND32
    r = (x - n * _LN2_HI) - n * _LN2_LO
    return bits_float32(t) - _ROUND32_BITS, r


@_jit
def _exp_poly_scale_float32(n, r):
    # 2**n exp(r), with 2**n in two halves so that subnormal results are rounded once and
    # 2**128 stays finite.
    c = _EXP_Q
    q = c[4] + r * (c[3] + r * (c[2] + r * (c[1] + r * c[0])))
    p = _F(1) + (r + r * r * q)
    n1 = n >> 1
    return p * _pow2_float32(n1) * _pow2_float32(n - n1)


@_jit
def exp_float32(x):
    x = _EXP_HI if x > _EXP_HI else x
    x = _EXP_LO if x < _EXP_LO else x
    n, r = _exp_reduce_float32(x)
    return _exp_poly_scale_float32(n, r)


@_jit
def exp2_float32(x):
    x = _F(129) if x > _F(129) else x
    x = _F(-151) if x < _F(-151) else x
    t = x + _ROUND32
    n = t - _ROUND32
    return _exp_poly_scale_float32(bits_float32(t) - _ROUND32_BITS, (x - n) * _LN2)


@_jit
def expm1_float32(x):
    x = _EXP_HI if x > _EXP_HI else x
    x = _F(-18.0) if x < _F(-18.0) else x  # expm1(-18) rounds to -1
    n, r = _exp_reduce_float32(x)
    c = _EXPM1_Q
    q = c[4] + r * (c[3] + r * (c[2] + r * (c[1] + r * c[0])))
    e = r + (_F(0.5) * r * r + r * r * r * q)  # expm1(r)
    # expm1(x) = 2^n expm1(r) + (2^n - 1): exact scaling and a small correction while
    # n <= 24; beyond, (1 + expm1(r)) 2^n - 1 with 2^n in two halves.
    nc = n if n < 24 else 24
    s = _pow2_float32(nc)
    small = s * e + (s - _F(1))
    n1 = n >> 1
    big = ((e + _F(1)) * _pow2_float32(n1)) * _pow2_float32(n - n1) - _F(1)
    y = small if n < 24 else big
    return x if x == _F(0) else y  # keeps -0.0


@_jit
def _log_parts_float32(x):
    # x = 2^e (1 + f) with sqrt(1/2) <= 1 + f < sqrt(2), for positive finite x.
    sub = x < _F(1.1754943508222875e-38)
    xs = x * _TWO23 if sub else x
    ix = bits_float32(xs) - _SQRT_HALF_BITS
    e = (ix >> 23) - (23 if sub else 0)
    m = float32_from_bits((ix & 0x7FFFFF) + _SQRT_HALF_BITS)
    return _F(e), m - _F(1)


@_jit
def _log1p_poly_float32(f):
    c = _LOG_P
    p = c[3] + f * (c[2] + f * (c[1] + f * c[0]))
    p = c[7] + f * (c[6] + f * (c[5] + f * (c[4] + f * p)))
    return f + (f * f * (f * p - _F(0.5)))


@_jit
def _log_specials_float32(x, y):
    if not x > _F(0):
        y = _NEG_INF32 if x == _F(0) else _NAN32
    return _INF32 if x == _INF32 else y


@_jit
def log_float32(x):
    e, f = _log_parts_float32(x)
    y = e * _LN2_HI + (_log1p_poly_float32(f) + e * _LN2_LO)
    return _log_specials_float32(x, y)


@_jit
def log1p_float32(x):
    u = _F(1) + x
    e, f = _log_parts_float32(u)
    # log(u) plus the first-order correction for the rounding of 1 + x.
    c = (x - (u - _F(1))) / u
    y = e * _LN2_HI + (_log1p_poly_float32(f) + (e * _LN2_LO + c))
    y = x if u == _F(1) else y  # tiny x (and -0.0)
    return _log_specials_float32(u, y)


@_jit
def tanh_float32(x):
    a = np.abs(x)
    a = _F(10) if a > _F(10) else a  # tanh(10) rounds to 1
    e = expm1_float32(a + a)
    return np.copysign(e / (e + _F(2)), x)


@_jit
def logistic_float32(x):
    # The impl's formula, over the approximate exp.
    e = exp_float32(-np.abs(x))
    return _F(1) / (_F(1) + e) if x >= _F(0) else e / (_F(1) + e)


# erf(x) = x p(x^2) for |x| < 0.875 (error 2e-10); erf(x) = 1 - exp(-x^2) q(x - 2.4025) up to
# 3.93, where erf rounds to 1 (q fits exp(x^2) erfc(x); error 1.2e-9 relative to erf).
_ERF_SMALL = (_F(8.698968304088339e-05), _F(-0.0008216547430492938), _F(0.005207219161093235),
              _F(-0.026861773803830147), _F(0.11283736675977707), _F(-0.37612634897232056),
              _F(1.128379225730896))
_ERF_LARGE = (_F(-3.879296491504647e-05), _F(-8.48834533826448e-05), _F(-0.0001822095364332199),
              _F(0.0002810862788464874), _F(-0.0007383971242234111), _F(0.0029372551944106817),
              _F(-0.009038500487804413), _F(0.027411863207817078), _F(-0.07945118099451065),
              _F(0.21829992532730103))
_ERF_MID = _F(2.4025)


@_jit
def erf_float32(x):
    a = np.abs(x)
    z = a * a
    s = _ERF_SMALL
    p = s[6] + z * (s[5] + z * (s[4] + z * (s[3] + z * (s[2] + z * (s[1] + z * s[0])))))
    b = _F(3.93) if a > _F(3.93) else a
    t = b - _ERF_MID
    c = _ERF_LARGE
    q = c[5] + t * (c[4] + t * (c[3] + t * (c[2] + t * (c[1] + t * c[0]))))
    q = c[9] + t * (c[8] + t * (c[7] + t * (c[6] + t * q)))
    large = _F(1) - exp_float32(-(b * b)) * q
    return x * p if a < _F(0.875) else np.copysign(large, x)


# sin and cos: x = n pi/2 + r with |r| <= pi/4; sin(r) = r + r^3 s(r^2) (error 4e-9),
# cos(r) = 1 - r^2/2 + r^4 c(r^2) (error 1.2e-10). Below 2**19 pi/2 the reduction is
# Cody-Waite in float64. Above, x = m 2**s with a 24-bit integer m, and x 2/pi mod 4 is
# m (2**s 2/pi mod 4), with the second factor tabulated per exponent s in four 26-bit pieces
# so that every product with m is exact (Payne and Hanek's method, in float64).
_SIN_S = (_F(-0.000195144530152902), _F(0.008332154713571072), _F(-0.16666655242443085))
_COS_C = (_F(2.4432209102087654e-05), _F(-0.0013887308305129409), _F(0.04166664555668831))
_TWO_OVER_PI = 0.6366197723675814
_PI_OVER_2 = 1.5707963267948966
_PIO2_1 = 1.5707963267341256  # pi/2 to 33 bits: n * _PIO2_1 is exact for |n| < 2**20
_PIO2_2 = 6.077100506506192e-11
_ROUND64 = 6755399441055744.0  # 1.5 * 2**52
_TRIG_SMALL = _F(823549.6)  # 2**19 pi/2
# floor(2/pi * 2**256)
_TWO_OVER_PI_BITS = 0xA2F9836E4E441529FC2757D1F534DDC0DB6295993C439041FE5163ABDEBBC561


def _trig_table():
    # Row s + 4, for s = -4 .. 105: (2**s 2/pi mod 4) in pieces of weights 2**1 .. 2**-24,
    # 2**-25 .. 2**-50, 2**-51 .. 2**-76 and 2**-77 .. 2**-102.
    rows = []
    mask = (1 << 26) - 1
    for s in range(-4, 106):
        q = (_TWO_OVER_PI_BITS >> (256 - s - 102)) & ((4 << 102) - 1)
        rows.append([((q >> 78) & mask) * 2.0 ** -24, ((q >> 52) & mask) * 2.0 ** -50,
                     ((q >> 26) & mask) * 2.0 ** -76, (q & mask) * 2.0 ** -102])
    return np.array(rows, np.float64)


_TRIG_TABLE = _trig_table()


@_jit
def _trig_reduce_float32(x):
    # Returns (n mod 4, r) with x = n pi/2 + r, |r| <= pi/4 (r as float32).
    xd = np.float64(x)
    t = xd * _TWO_OVER_PI + _ROUND64
    n = t - _ROUND64
    r_small = (xd - n * _PIO2_1) - n * _PIO2_2
    q_small = bits_float64(t)
    # large |x|: exact m * table products, integer part dropped before the small pieces.
    b = bits_float32(x)
    row = ((b >> 23) & 0xFF) - 146  # s + 4, with s = exponent - 150
    row = 0 if row < 0 else (109 if row > 109 else row)
    m = np.float64((b & 0x7FFFFF) | 0x800000)
    ta = m * _TRIG_TABLE[row, 0]
    ta = ta - 4.0 * np.floor(ta * 0.25)
    u = ta + m * _TRIG_TABLE[row, 1]
    tu = u + _ROUND64
    f = u - (tu - _ROUND64)
    g = f + (m * _TRIG_TABLE[row, 2] + m * _TRIG_TABLE[row, 3])
    q_large = bits_float64(tu)
    r_large = g * _PI_OVER_2
    if x < _F(0):
        q_large, r_large = -q_large, -r_large
    small = np.abs(x) < _TRIG_SMALL
    q = q_small if small else q_large
    return q & 3, _F(r_small if small else r_large)


@_jit
def _sin_poly_float32(r):
    z = r * r
    return r + r * z * (_SIN_S[2] + z * (_SIN_S[1] + z * _SIN_S[0]))


@_jit
def _cos_poly_float32(r):
    z = r * r
    return _F(1) - _F(0.5) * z + z * z * (_COS_C[2] + z * (_COS_C[1] + z * _COS_C[0]))


@_jit
def sin_float32(x):
    q, r = _trig_reduce_float32(x)
    s, c = _sin_poly_float32(r), _cos_poly_float32(r)
    y = s if q & 1 == 0 else c
    y = -y if q & 2 else y
    return y if np.abs(x) < _INF32 else x - x  # NaN for inf and NaN


@_jit
def cos_float32(x):
    q, r = _trig_reduce_float32(x)
    s, c = _sin_poly_float32(r), _cos_poly_float32(r)
    y = c if q & 1 == 0 else s
    y = -y if (q + 1) & 2 else y
    return y if np.abs(x) < _INF32 else x - x


# pow for float32: |x|**y = 2**(y log2|x|) evaluated in float64 (log by the atanh series,
# relative error 1e-14; 2**r on |r| <= 1/2 by a fitted polynomial, relative error 8e-13), then
# rounded once to float32; C99's special cases by selects.
_EXP2_64 = (1.3175872559270582e-06, 1.530973815671659e-05, 0.00015403851694946772,
            0.0013333452059442774, 0.00961812854291678, 0.05550410939344709,
            0.24022650698880202, 0.6931471805465127, 0.9999999999997625)
_LOG2E_64 = 1.4426950408889634


@_jit
def _log2_float32_as_float64(a):
    # log2(a) for positive finite float32 a, in float64.
    e, f32 = _log_parts_float32(a)
    f = np.float64(f32)  # 1 + f is exact in float32, so f is too
    s = f / (2.0 + f)
    z = s * s
    p = 1.0 / 15.0
    p = 1.0 / 13.0 + z * p
    p = 1.0 / 11.0 + z * p
    p = 1.0 / 9.0 + z * p
    p = 1.0 / 7.0 + z * p
    p = 1.0 / 5.0 + z * p
    p = 1.0 / 3.0 + z * p
    return np.float64(e) + (2.0 * s + 2.0 * s * z * p) * _LOG2E_64


@_jit
def pow_float32(x, y):
    a = np.abs(x)
    t = np.float64(y) * _log2_float32_as_float64(a)
    t = 200.0 if t > 200.0 else t
    t = -200.0 if t < -200.0 else t
    tn = t + _ROUND64
    n = tn - _ROUND64
    r = t - n
    c = _EXP2_64
    p = c[4] + r * (c[3] + r * (c[2] + r * (c[1] + r * c[0])))
    p = c[8] + r * (c[7] + r * (c[6] + r * (c[5] + r * p)))
    res = _F(p * float64_from_bits((bits_float64(tn) + 1023) << 52))
    # Special cases, later ones taking precedence.
    y_int = np.floor(y) == y
    y_odd = y_int and np.floor(y * _F(0.5)) != y * _F(0.5)
    if x < _F(0):
        res = (-res if y_odd else res) if y_int else _NAN32
    if x == _F(0):
        big = _INF32 if y < _F(0) else _F(0)
        res = np.copysign(big, x) if y_odd else big
    if np.abs(y) == _INF32:
        res = _INF32 if (a < _F(1)) == (y < _F(0)) else _F(0)
    if a == _INF32:
        big = _INF32 if y > _F(0) else _F(0)
        res = np.copysign(big, x) if y_odd else big
    if x != x or y != y:
        res = x + y
    if y == _F(0) or x == _F(1) or (x == _F(-1) and np.abs(y) == _INF32):
        res = _F(1)
    return res


# ------------------------------------------------------------------------------------------
# float64 versions: the same reductions with Taylor polynomials of high enough degree
# (truncation below 1e-17 relative on the reduced intervals).

_LN2_HI_64 = 0.6931471803691238  # 32 significant bits: n * _LN2_HI_64 is exact
_LN2_LO_64 = 1.9082149292705877e-10
_ROUND64_BITS = np.int64(0x4338000000000000)  # bits of _ROUND64
_SQRT_HALF_BITS_64 = np.int64(0x3FE6A09E667F3BCD)
_INF64, _NEG_INF64, _NAN64 = np.inf, -np.inf, np.nan
_INV_FACT = tuple(1.0 / math.factorial(k) for k in range(15))


@_jit
def _pow2_float64(n):
    return float64_from_bits((n + 1023) << 52)


@_jit
def _exp_reduce_float64(x):
    t = x * 1.4426950408889634 + _ROUND64
    n = t - _ROUND64
    r = (x - n * _LN2_HI_64) - n * _LN2_LO_64
    return bits_float64(t) - _ROUND64_BITS, r


@_jit
def _expm1_poly_float64(r):
    # expm1(r) - r - r^2/2 for |r| <= ln2 / 2: Taylor terms up to r^14
    c = _INV_FACT
    q = c[10] + r * (c[11] + r * (c[12] + r * (c[13] + r * c[14])))
    q = c[5] + r * (c[6] + r * (c[7] + r * (c[8] + r * (c[9] + r * q))))
    return r * r * r * (c[3] + r * (c[4] + r * q))


@_jit
def exp_float64(x):
    x = 710.0 if x > 710.0 else x
    x = -746.0 if x < -746.0 else x
    n, r = _exp_reduce_float64(x)
    p = 1.0 + (r + (0.5 * r * r + _expm1_poly_float64(r)))
    n1 = n >> 1
    return p * _pow2_float64(n1) * _pow2_float64(n - n1)


@_jit
def expm1_float64(x):
    x = 710.0 if x > 710.0 else x
    x = -40.0 if x < -40.0 else x  # expm1(-40) rounds to -1
    n, r = _exp_reduce_float64(x)
    e = r + (0.5 * r * r + _expm1_poly_float64(r))
    nc = n if n < 53 else 53
    s = _pow2_float64(nc)
    small = s * e + (s - 1.0)
    n1 = n >> 1
    big = ((e + 1.0) * _pow2_float64(n1)) * _pow2_float64(n - n1) - 1.0
    y = small if n < 53 else big
    return x if x == 0.0 else y


@_jit
def _log_parts_float64(x):
    sub = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if sub else x  # 2**54
    ix = bits_float64(xs) - _SQRT_HALF_BITS_64
    e = (ix >> 52) - (54 if sub else 0)
    m = float64_from_bits((ix & 0xFFFFFFFFFFFFF) + _SQRT_HALF_BITS_64)
    return np.float64(e), m - 1.0


@_jit
def _log1p_small_float64(f):
    # log(1 + f) for sqrt(1/2) - 1 <= f <= sqrt(2) - 1, as f - (f^2/2 - s (f^2/2 + R)) with
    # s = f / (2 + f) and R = 2 atanh(s) / s - 2, an even series in s (terms to s^22).
    s = f / (2.0 + f)
    z = s * s
    p = 2.0 / 23.0
    p = 2.0 / 21.0 + z * p
    p = 2.0 / 19.0 + z * p
    p = 2.0 / 17.0 + z * p
    p = 2.0 / 15.0 + z * p
    p = 2.0 / 13.0 + z * p
    p = 2.0 / 11.0 + z * p
    p = 2.0 / 9.0 + z * p
    p = 2.0 / 7.0 + z * p
    p = 2.0 / 5.0 + z * p
    p = 2.0 / 3.0 + z * p
    hfsq = 0.5 * f * f
    return f - (hfsq - s * (hfsq + z * p))


@_jit
def _log_specials_float64(x, y):
    if not x > 0.0:
        y = _NEG_INF64 if x == 0.0 else _NAN64
    return _INF64 if x == _INF64 else y


@_jit
def log_float64(x):
    e, f = _log_parts_float64(x)
    y = e * _LN2_HI_64 + (_log1p_small_float64(f) + e * _LN2_LO_64)
    return _log_specials_float64(x, y)


@_jit
def log1p_float64(x):
    u = 1.0 + x
    e, f = _log_parts_float64(u)
    c = (x - (u - 1.0)) / u
    y = e * _LN2_HI_64 + (_log1p_small_float64(f) + (e * _LN2_LO_64 + c))
    y = x if u == 1.0 else y
    return _log_specials_float64(u, y)


@_jit
def tanh_float64(x):
    a = np.abs(x)
    a = 20.0 if a > 20.0 else a  # tanh(20) rounds to 1
    e = expm1_float64(a + a)
    return np.copysign(e / (e + 2.0), x)


@_jit
def logistic_float64(x):
    e = exp_float64(-np.abs(x))
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)
