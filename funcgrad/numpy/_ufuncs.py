"""Elementwise functions (NumPy's ufuncs): promotion and broadcasting, then primitives.

Semantics are JAX's ``jax.numpy``: Python scalars are weakly typed (``x_f32 * 2.0`` stays
float32), functions that are only defined on floats (``sin``, ``divide``, ...) turn integer and
boolean inputs into the default float (float32), comparisons return bool, and NumPy inputs keep
their dtype. Every function works on tracers, so it can be used under any transformation.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Tracer
from funcgrad.numpy._util import (
    aval_of,
    broadcast_to_shape,
    check_arraylike,
    convert_to,
    promote_dtypes,
    promote_shapes,
)
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives._helpers import check_dtype

_ARG_NAMES = {1: ("x",), 2: ("x1", "x2"), 3: ("condition", "x", "y")}
_INT_OR_BOOL = dtypes.INTS + (dtypes.bool_,)


# ---------------------------------------------------------------- argument preparation

def _check(op, *args, names=None):
    check_arraylike(op, *args, names=names or _ARG_NAMES.get(len(args)))


def _promote_dtypes(op, *args, names=None, inexact=False):
    return promote_dtypes(op, *args, names=names or _ARG_NAMES.get(len(args)), inexact=inexact)


def _promote(op, *args, names=None):
    """Common dtype and shape of ``args`` (JAX's promotion lattice, NumPy broadcasting)."""
    if len(args) == 2:
        fast = _promote_pair_fast(*args)
        if fast is not None:
            return fast
    return promote_shapes(op, *_promote_dtypes(op, *args, names=names))


def _scalar_for(x, aval):
    """The Python scalar ``x`` as a weak 0-d array of ``aval``'s dtype, where JAX's promotion
    keeps that dtype (a float array with an int or float; an int array with an int); else
    None. Eager only: the result is broadcast as a NumPy view (``broadcast_to_shape``)."""
    kind = aval.dtype.kind
    t = type(x)
    if (kind == "f" and (t is float or t is int)) or (kind in "iu" and t is int):
        v = core.scalar_to_numpy(x, aval.dtype)  # range-checked for ints
        return broadcast_to_shape(Array(v, weak_type=aval.weak_type), aval.shape)
    return None


def _promote_pair_fast(x, y):
    """The common cases, kept cheap: two Arrays of one aval, or an Array and a Python scalar
    that adopts its dtype, outside any transformation. None when the general path is needed."""
    tx, ty = type(x), type(y)
    if tx is Array and ty is Array:
        a, b = x.aval, y.aval
        if a.shape == b.shape and a.dtype == b.dtype and a.weak_type == b.weak_type:
            return x, y
        return None
    if core.current_trace() is not core._EVAL_TRACE:
        return None
    if tx is Array and ty in (int, float):
        s = _scalar_for(y, x.aval)
        return None if s is None else (x, s)
    if ty is Array and tx in (int, float):
        s = _scalar_for(x, y.aval)
        return None if s is None else (s, y)
    return None


def _promote_inexact(op, *args, names=None):
    """Like ``_promote``, but integer and boolean results become the default float."""
    if len(args) == 1 and type(args[0]) is Array and args[0].aval.dtype.kind in "fc":
        return args
    return promote_shapes(op, *_promote_dtypes(op, *args, names=names, inexact=True))


def _promote_numeric(op, *args, names=None):
    """Like ``_promote``, but a boolean result becomes the default integer (arithmetic that
    has no boolean meaning: floor_divide, remainder, power, ...)."""
    out = _promote(op, *args, names=names)
    if aval_of(out[0]).dtype == dtypes.bool_:
        out = [convert_to(a, dtypes.default_int()) for a in out]
    return out


def _require(op, x, allowed):
    check_dtype(op, aval_of(x), allowed)


def _as_array(x):
    """``x`` as a funcgrad Array or tracer (functions that return their input unchanged)."""
    if isinstance(x, (Array, Tracer)):
        return x
    from funcgrad.numpy._util import asarray
    return asarray(x)


def _full_like(x, value, dtype=None):
    """A constant with ``x``'s shape (a broadcast scalar, so it stays cheap when staged)."""
    aval = aval_of(x)
    if dtype is None:  # same dtype and weak type as x, so promotion is unaffected
        const = Array(np.array(value, dtype=aval.dtype), weak_type=aval.weak_type)
    else:
        const = Array(np.array(value, dtype=dtype))
    return broadcast_to_shape(const, aval.shape)


def _is_int_or_bool(x) -> bool:
    return aval_of(x).dtype in _INT_OR_BOOL


def _no_bool(op, x, fix):
    if aval_of(x).dtype == dtypes.bool_:
        raise errors.dtype_error(op, f"boolean operands are not supported, got "
                                 f"{aval_of(x).str_short()}.", fix)


def _unary_inexact(name, prim, doc):
    def fn(x, /):
        return prim.bind(*_promote_inexact(name, x))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


# ---------------------------------------------------------------- arithmetic

def add(x1, x2, /):
    """Adds arguments elementwise, with broadcasting and type promotion.

    Booleans add as logical or (as in NumPy).

    Example:
        >>> fnp.add(fnp.ones(2), 1.0)
        Array([2., 2.], dtype=float32)
    """
    x1, x2 = _promote("add", x1, x2)
    if aval_of(x1).dtype == dtypes.bool_:
        return ew.or_p.bind(x1, x2)
    return ew.add_p.bind(x1, x2)


def subtract(x1, x2, /):
    """Subtracts arguments elementwise, with broadcasting and type promotion."""
    x1, x2 = _promote("subtract", x1, x2)
    _no_bool("subtract", x1, "use funcgrad.numpy.logical_xor or bitwise_xor for booleans.")
    return ew.sub_p.bind(x1, x2)


def multiply(x1, x2, /):
    """Multiplies arguments elementwise, with broadcasting and type promotion.

    Booleans multiply as logical and (as in NumPy).
    """
    x1, x2 = _promote("multiply", x1, x2)
    if aval_of(x1).dtype == dtypes.bool_:
        return ew.and_p.bind(x1, x2)
    return ew.mul_p.bind(x1, x2)


def divide(x1, x2, /):
    """True division, elementwise; integer and boolean inputs give the default float.

    Example:
        >>> fnp.divide(fnp.arange(3), 2)
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    return ew.div_p.bind(*_promote_inexact("divide", x1, x2))


true_divide = divide


def _float_divmod(x1, x2, *, quotient=True, modulus=True):
    # NumPy's algorithm (npy_divmod): the remainder takes the divisor's sign, and the quotient
    # is (x1 - mod) / x2 rounded to the nearest integer, so x1 == q * x2 + mod as closely as
    # floating point allows. Only the requested parts are computed, to keep jaxprs small.
    zero = _full_like(x1, 0)
    mod = ew.rem_p.bind(x1, x2)
    fix = logical_and(not_equal(mod, zero), not_equal(less(x2, zero), less(mod, zero)))
    out = []
    if quotient:
        one = _full_like(x1, 1)
        div = divide(subtract(x1, mod), x2)
        div = where(fix, subtract(div, one), div)
        q = ew.floor_p.bind(div)
        q = where(greater(subtract(div, q), _full_like(x1, 0.5)), add(q, one), q)
        true_q = divide(x1, x2)
        q = where(equal(div, zero), copysign(zero, true_q), q)
        out.append(where(equal(x2, zero), true_q, q))
    if modulus:
        mod = where(fix, add(mod, x2), mod)
        out.append(where(equal(mod, zero), copysign(zero, x2), mod))
    return tuple(out)


def _int_floor_divide(x1, x2):
    q = ew.div_p.bind(x1, x2)  # rounds toward zero
    if aval_of(x1).dtype in dtypes.UNSIGNED:
        return q
    fix = logical_and(not_equal(sign(x1), sign(x2)), not_equal(ew.rem_p.bind(x1, x2), 0))
    return where(fix, subtract(q, 1), q)


def _int_remainder(x1, x2):
    r = ew.rem_p.bind(x1, x2)  # takes the dividend's sign
    if aval_of(x1).dtype in dtypes.UNSIGNED:
        return r
    fix = logical_and(not_equal(r, 0), not_equal(less(r, 0), less(x2, 0)))
    return where(fix, add(r, x2), r)


def floor_divide(x1, x2, /):
    """Floor division ``x1 // x2``, elementwise (Python's rounding toward minus infinity).

    Integer division by zero gives 0, as in NumPy; booleans are treated as int32.

    Example:
        >>> fnp.floor_divide(fnp.asarray([-7, 7]), 2)
        Array([-4,  3], dtype=int32)
    """
    x1, x2 = _promote_numeric("floor_divide", x1, x2)
    if dtypes.is_integer(aval_of(x1).dtype):
        return _int_floor_divide(x1, x2)
    _require("floor_divide", x1, dtypes.FLOATS)
    return _float_divmod(x1, x2, modulus=False)[0]


def remainder(x1, x2, /):
    """Remainder of floor division, elementwise; the result has the divisor's sign (Python's
    ``%``). Integer remainder by zero gives 0, as in NumPy.

    Example:
        >>> fnp.remainder(fnp.asarray([-7, 7]), 3)
        Array([2, 1], dtype=int32)
    """
    x1, x2 = _promote_numeric("remainder", x1, x2)
    if dtypes.is_integer(aval_of(x1).dtype):
        return _int_remainder(x1, x2)
    _require("remainder", x1, dtypes.FLOATS)
    return _float_divmod(x1, x2, quotient=False)[0]


mod = remainder


def fmod(x1, x2, /):
    """C-style remainder, elementwise: the result has the dividend's sign."""
    x1, x2 = _promote_numeric("fmod", x1, x2)
    _no_complex("fmod", x1, "apply it to the real and imaginary parts (fnp.real, fnp.imag).")
    return ew.rem_p.bind(x1, x2)


def divmod(x1, x2, /):  # noqa: A001 - NumPy's name
    """``(floor_divide(x1, x2), remainder(x1, x2))``, computed together."""
    x1, x2 = _promote_numeric("divmod", x1, x2)
    if dtypes.is_integer(aval_of(x1).dtype):
        return _int_floor_divide(x1, x2), _int_remainder(x1, x2)
    _require("divmod", x1, dtypes.FLOATS)
    return _float_divmod(x1, x2)


def _static_int(x):
    """``x`` as a Python int when it is a concrete integer scalar, else None."""
    if isinstance(x, bool) or isinstance(x, Tracer):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (np.ndarray, Array)) and x.ndim == 0 and dtypes.is_integer(x.dtype):
        return int(x)
    return None


def power(x1, x2, /):
    """``x1 ** x2``, elementwise, with broadcasting and type promotion.

    A concrete integer exponent (``x ** 2``) is computed by repeated multiplication
    (``integer_pow``), which is exact for integers and more accurate than ``exp(log)``. Integer
    bases accept only non-negative concrete integer exponents, as in NumPy. (For integer
    *array* exponents, which are not known while tracing, a negative exponent gives the
    truncated value of ``1 / x1**-x2``.)

    Example:
        >>> fnp.power(fnp.arange(4), 2)
        Array([0, 1, 4, 9], dtype=int32)
    """
    _check("power", x1, x2)
    n = _static_int(x2)
    if n is not None:
        # A concrete integer exponent. A Python int never changes the base's dtype; a NumPy
        # integer scalar may, by promotion, and can use integer_pow only for a float result.
        if type(x2) is int:
            (p1,) = _promote_numeric("power", x1, names=("x1",))
        else:
            dt, weak = dtypes.result_type((aval_of(x1).dtype, aval_of(x1).weak_type),
                                          (aval_of(x2).dtype, False))
            p1 = convert_to(x1, dt, weak) if dtypes.is_inexact(dt) else None
        if p1 is not None:
            if n < 0 and dtypes.is_integer(aval_of(p1).dtype):
                raise errors.dtype_error(
                    "power", f"integers to negative integer powers are not allowed, got "
                    f"{aval_of(p1).str_short()} ** {n}.",
                    "convert the base to float first, e.g. x.astype('float32') ** -1.")
            return ew.integer_pow(_as_array(p1), n)
    return ew.pow_p.bind(*_promote_numeric("power", x1, x2))


pow = power  # noqa: A001 - NumPy 2's name


def float_power(x1, x2, /):
    """``x1 ** x2`` computed in floating point (integer inputs give the default float)."""
    return ew.pow_p.bind(*_promote_inexact("float_power", x1, x2))


def negative(x, /):
    """Numerical negative, elementwise (unsigned integers wrap around, as in NumPy)."""
    (x,) = _promote("negative", x)
    _no_bool("negative", x, "use funcgrad.numpy.logical_not (or ~x) for booleans.")
    return ew.neg_p.bind(x)


def positive(x, /):
    """Numerical positive: returns ``x`` as an array, unchanged."""
    _check("positive", x)
    return _as_array(x)


def abs(x, /):  # noqa: A001 - NumPy's name
    """Absolute value, elementwise; integers keep their dtype (``abs(int8 -128)`` wraps).

    Example:
        >>> fnp.abs(fnp.asarray([-1.5, 2.0]))
        Array([1.5, 2. ], dtype=float32)
    """
    (x,) = _promote("abs", x)
    if aval_of(x).dtype in dtypes.UNSIGNED + (dtypes.bool_,):
        return _as_array(x)
    return ew.abs_p.bind(x)


absolute = abs


def fabs(x, /):
    """Absolute value as a float, elementwise (integer inputs give the default float)."""
    (x,) = _promote_inexact("fabs", x)
    _require("fabs", x, dtypes.FLOATS)
    return ew.abs_p.bind(x)


def sign(x, /):
    """Sign (-1, 0 or 1; NaN for NaN), elementwise; integers keep their dtype."""
    (x,) = _promote("sign", x)
    _no_bool("sign", x, "convert to an integer or float dtype first.")
    return ew.sign_p.bind(x)


# ---------------------------------------------------------------- rounding

def floor(x, /):
    """Floor, elementwise; integer and boolean inputs are returned unchanged."""
    (x,) = _promote("floor", x)
    return _as_array(x) if _is_int_or_bool(x) else ew.floor_p.bind(x)


def ceil(x, /):
    """Ceiling, elementwise; integer and boolean inputs are returned unchanged."""
    (x,) = _promote("ceil", x)
    return _as_array(x) if _is_int_or_bool(x) else ew.ceil_p.bind(x)


def trunc(x, /):
    """Rounds toward zero, elementwise; integer and boolean inputs are returned unchanged."""
    (x,) = _promote("trunc", x)
    if _is_int_or_bool(x):
        return _as_array(x)
    _require("trunc", x, dtypes.FLOATS)
    return where(less(x, 0), ew.ceil_p.bind(x), ew.floor_p.bind(x))


def fix(x, /):
    """Rounds toward zero, elementwise (NumPy's older name for ``trunc``)."""
    (x,) = _promote("fix", x)
    _no_complex("fix", x, "apply it to the real and imaginary parts (fnp.real, fnp.imag).")
    return trunc(x)


def rint(x, /):
    """Rounds to the nearest integer (halves to even), elementwise; integer and boolean
    inputs give the default float, as NumPy's give a float."""
    (x,) = _promote_inexact("rint", x)
    if _is_complex(x):  # NumPy rounds the real and imaginary parts separately
        return ew.complex_p.bind(rint(real(x)), rint(imag(x)))
    _require("rint", x, dtypes.FLOATS)
    return ew.round(x, rounding_method=1)


def _round_int(x, decimals):
    # Exact integer arithmetic: divide by 10**-decimals rounding halves to even.
    f = 10 ** (-decimals)
    dt = aval_of(x).dtype
    if f > np.iinfo(dt).max:
        return _full_like(x, 0)
    q = floor_divide(x, f)
    r = subtract(x, multiply(q, f))  # 0 <= r < f
    rest = subtract(f, r)  # > 0; compared with r instead of 2 * r, which could overflow
    up = logical_or(greater(r, rest),
                    logical_and(equal(r, rest), not_equal(bitwise_and(q, 1), 0)))
    return multiply(where(up, add(q, 1), q), f)


def round(a, decimals=0, out=None):  # noqa: A001 - NumPy's name
    """Rounds to ``decimals`` decimal places, halves to even (NumPy's ``round``).

    Args:
      a: input array.
      decimals: number of decimal places (a Python int; negative rounds to tens, hundreds...).
      out: not supported (arrays are immutable); must be None.

    Returns:
      An array of ``a``'s dtype. Integers are unchanged for ``decimals >= 0``.

    Example:
        >>> fnp.round(fnp.asarray([0.5, 1.5, 2.675]), 1)
        Array([0.5, 1.5, 2.7], dtype=float32)
    """
    if out is not None:
        raise TypeError("round: the out argument is not supported; funcgrad arrays are "
                        "immutable, so use the returned array.")
    (x,) = _promote("round", a, names=("a",))
    decimals = operator.index(decimals)
    dt = aval_of(x).dtype
    if dt == dtypes.bool_ or (dtypes.is_integer(dt) and decimals >= 0):
        return _as_array(x)
    if dtypes.is_integer(dt):
        return _round_int(x, decimals)
    if dt.kind == "c":  # NumPy rounds the real and imaginary parts separately
        return ew.complex_p.bind(round(real(x), decimals), round(imag(x), decimals))
    _require("round", x, dtypes.FLOATS)
    if decimals == 0:
        return ew.round(x, rounding_method=1)
    if decimals > 0:
        f = 10.0 ** decimals
        return divide(ew.round(multiply(x, f), rounding_method=1), f)
    f = 10.0 ** (-decimals)
    return multiply(ew.round(divide(x, f), rounding_method=1), f)


around = round


# ---------------------------------------------------------------- exponents and logarithms

exp = _unary_inexact("exp", ew.exp_p, "Exponential ``e**x``, elementwise.")
exp2 = _unary_inexact("exp2", ew.exp2_p, "``2**x``, elementwise.")
expm1 = _unary_inexact("expm1", ew.expm1_p,
                       "``exp(x) - 1``, elementwise, accurate for small ``x``.")
log = _unary_inexact("log", ew.log_p, "Natural logarithm, elementwise (NaN below zero).")
log1p = _unary_inexact("log1p", ew.log1p_p,
                       "``log(1 + x)``, elementwise, accurate for small ``x``.")
sqrt = _unary_inexact("sqrt", ew.sqrt_p, "Non-negative square root, elementwise.")
cbrt = _unary_inexact("cbrt", ew.cbrt_p, "Cube root, elementwise (negative for negative x).")


def log2(x, /):
    """Base-2 logarithm, elementwise."""
    (x,) = _promote_inexact("log2", x)
    return multiply(ew.log_p.bind(x), 1.0 / math.log(2.0))


def log10(x, /):
    """Base-10 logarithm, elementwise."""
    (x,) = _promote_inexact("log10", x)
    return multiply(ew.log_p.bind(x), 1.0 / math.log(10.0))


def square(x, /):
    """``x * x``, elementwise; integers keep their dtype."""
    (x,) = _promote_numeric("square", x)
    return ew.integer_pow(x, 2)


def reciprocal(x, /):
    """``1 / x``, elementwise; integer inputs give the default float (as in JAX)."""
    (x,) = _promote_inexact("reciprocal", x)
    return ew.integer_pow(x, -1)


def _logaddexp(op, x1, x2, exp_fn, scale):
    """``log_b(b**x1 + b**x2)`` for ``b = e**scale``, with derivatives of every order.

    With ``m`` a constant, ``m + log1p(expm1(s (x1 - m)) + exp(s (x2 - m))) / s`` equals the
    function for every ``x1, x2``, so its derivatives are the function's own: smooth at
    ``x1 == x2`` (1/2 each there), unlike a formula built on ``maximum`` and ``abs``. ``m`` is
    ``max(x1, x2)`` held constant (``stop_gradient``) so nothing overflows, and the expm1
    goes on the larger input, whose shifted value is exactly 0: the result is then
    ``m + log1p(b**-|x1 - x2|) / s``, exact to rounding.
    """
    x1, x2 = _promote_inexact(op, x1, x2)
    _no_complex(op, x1, "compute log(exp(x1) + exp(x2)) directly for complex values.")
    m = ew.stop_gradient_p.bind(maximum(x1, x2))
    # Infinite (or NaN) m: shifting by 0 gives the right infinity, or NaN for NaN inputs.
    m = where(isfinite(m), m, _full_like(m, 0))

    def em1(v):  # b**(v - m) - 1
        d = subtract(v, m)
        return expm1(d if scale == 1.0 else multiply(d, scale))
    first = log1p(add(em1(x1), exp_fn(subtract(x2, m))))    # x1 >= x2: em1(x1) is 0
    second = log1p(add(exp_fn(subtract(x1, m)), em1(x2)))
    out = where(greater_equal(x1, x2), first, second)
    return add(m, out if scale == 1.0 else divide(out, scale))


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))``, elementwise, without overflow.

    Differentiable to every order, also where ``x1 == x2`` (each input gets half of the
    derivative there).
    """
    return _logaddexp("logaddexp", x1, x2, exp, 1.0)


def logaddexp2(x1, x2, /):
    """``log2(2**x1 + 2**x2)``, elementwise, without overflow (differentiable to every
    order, also where ``x1 == x2``)."""
    return _logaddexp("logaddexp2", x1, x2, exp2, math.log(2.0))


# ---------------------------------------------------------------- trigonometric and hyperbolic

sin = _unary_inexact("sin", ew.sin_p, "Trigonometric sine, elementwise (radians).")
cos = _unary_inexact("cos", ew.cos_p, "Trigonometric cosine, elementwise (radians).")
tan = _unary_inexact("tan", ew.tan_p, "Trigonometric tangent, elementwise (radians).")
arcsin = _unary_inexact("arcsin", ew.asin_p, "Inverse sine, elementwise (NaN outside [-1, 1]).")
arccos = _unary_inexact("arccos", ew.acos_p,
                        "Inverse cosine, elementwise (NaN outside [-1, 1]).")
arctan = _unary_inexact("arctan", ew.atan_p, "Inverse tangent, elementwise.")
sinh = _unary_inexact("sinh", ew.sinh_p, "Hyperbolic sine, elementwise.")
cosh = _unary_inexact("cosh", ew.cosh_p, "Hyperbolic cosine, elementwise.")
tanh = _unary_inexact("tanh", ew.tanh_p, "Hyperbolic tangent, elementwise.")
arcsinh = _unary_inexact("arcsinh", ew.asinh_p, "Inverse hyperbolic sine, elementwise.")
arccosh = _unary_inexact("arccosh", ew.acosh_p,
                         "Inverse hyperbolic cosine, elementwise (NaN below 1).")
arctanh = _unary_inexact("arctanh", ew.atanh_p,
                         "Inverse hyperbolic tangent, elementwise (NaN outside [-1, 1]).")
asin, acos, atan = arcsin, arccos, arctan
asinh, acosh, atanh = arcsinh, arccosh, arctanh


def arctan2(x1, x2, /):
    """Angle of the point ``(x2, x1)`` in radians, in [-pi, pi], elementwise."""
    return ew.atan2_p.bind(*_promote_inexact("arctan2", x1, x2))


atan2 = arctan2


def deg2rad(x, /):
    """Converts angles from degrees to radians, elementwise."""
    (x,) = _promote_inexact("deg2rad", x)
    _no_complex("deg2rad", x, "convert the real and imaginary parts separately.")
    return multiply(x, math.pi / 180.0)


def rad2deg(x, /):
    """Converts angles from radians to degrees, elementwise."""
    (x,) = _promote_inexact("rad2deg", x)
    _no_complex("rad2deg", x, "convert the real and imaginary parts separately.")
    return multiply(x, 180.0 / math.pi)


radians, degrees = deg2rad, rad2deg


def hypot(x1, x2, /):
    """``sqrt(x1**2 + x2**2)``, elementwise, without intermediate overflow.

    The inputs are scaled by ``s = max(|x1|, |x2|)`` held constant (``stop_gradient``):
    ``s * sqrt((x1/s)**2 + (x2/s)**2)`` is the function itself for any ``s``, so derivatives of
    every order are those of ``sqrt(x1**2 + x2**2)``, also where ``|x1| == |x2|`` or one input
    is 0. At the origin the derivative is 0 (as in JAX).
    """
    x1, x2 = _promote_inexact("hypot", x1, x2)
    _no_complex("hypot", x1, "use funcgrad.numpy.abs on complex values.")
    s = ew.stop_gradient_p.bind(maximum(abs(x1), abs(x2)))
    is_inf = logical_or(isinf(x1), isinf(x2))
    # Where s is 0 or infinite, the scaled formula is 0/0 or inf/inf: compute it on safe
    # inputs instead, so that neither its value nor its derivative (which the `where` below
    # multiplies by 0) is NaN.
    bad = logical_or(equal(s, 0), is_inf)
    one = _full_like(s, 1)
    s = where(bad, one, s)
    a = divide(where(bad, one, x1), s)
    b = divide(where(bad, _full_like(s, 0), x2), s)
    out = multiply(s, sqrt(add(square(a), square(b))))
    out = where(bad, _full_like(out, 0), out)
    return where(is_inf, _full_like(out, np.inf), out)


def sinc(x, /):
    """Normalized sinc, ``sin(pi x) / (pi x)`` with ``sinc(0) = 1``, elementwise.

    Near 0 a Taylor polynomial replaces the quotient, so derivatives are right at 0 too.
    """
    (x,) = _promote_inexact("sinc", x)
    pix = multiply(x, math.pi)
    # |pi x| < 1e-2: the terms up to (pi x)**6 leave an error below 3e-22, far under float64
    # rounding; the quotient is exact to rounding above that.
    near = less(abs(pix), 0.01)
    safe = where(near, _full_like(x, 1), pix)
    z = square(pix)
    taylor = add(1.0, multiply(z, add(-1.0 / 6, multiply(z, add(1.0 / 120,
                                                                  multiply(z, -1.0 / 5040))))))
    return where(near, taylor, divide(sin(safe), safe))


# ---------------------------------------------------------------- comparisons and extrema

def _comparison(name, prim, doc):
    def fn(x1, x2, /):
        return prim.bind(*_promote(name, x1, x2))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


equal = _comparison("equal", ew.eq_p, "``x1 == x2``, elementwise; returns bool.")
not_equal = _comparison("not_equal", ew.ne_p, "``x1 != x2``, elementwise; returns bool.")
less = _comparison("less", ew.lt_p, "``x1 < x2``, elementwise; returns bool.")
less_equal = _comparison("less_equal", ew.le_p, "``x1 <= x2``, elementwise; returns bool.")
greater = _comparison("greater", ew.gt_p, "``x1 > x2``, elementwise; returns bool.")
greater_equal = _comparison("greater_equal", ew.ge_p,
                            "``x1 >= x2``, elementwise; returns bool.")


def maximum(x1, x2, /):
    """Elementwise maximum; NaN if either input is NaN (see ``fmax`` to ignore NaNs)."""
    return ew.max_p.bind(*_promote("maximum", x1, x2))


def minimum(x1, x2, /):
    """Elementwise minimum; NaN if either input is NaN (see ``fmin`` to ignore NaNs)."""
    return ew.min_p.bind(*_promote("minimum", x1, x2))


def fmax(x1, x2, /):
    """Elementwise maximum ignoring NaNs: NaN only where both inputs are NaN."""
    x1, x2 = _promote("fmax", x1, x2)
    out = ew.max_p.bind(x1, x2)
    if _is_int_or_bool(x1):
        return out
    return where(isnan(x2), x1, where(isnan(x1), x2, out))


def fmin(x1, x2, /):
    """Elementwise minimum ignoring NaNs: NaN only where both inputs are NaN."""
    x1, x2 = _promote("fmin", x1, x2)
    out = ew.min_p.bind(x1, x2)
    if _is_int_or_bool(x1):
        return out
    return where(isnan(x2), x1, where(isnan(x1), x2, out))


def clip(a, a_min=None, a_max=None, *, min=None, max=None):  # noqa: A002 - NumPy's names
    """Limits values to ``[min, max]``, elementwise; a ``None`` bound is not applied.

    Args:
      a: input array.
      a_min, a_max: lower and upper bounds (arrays broadcast against ``a``), or None.
      min, max: NumPy 2 names of the bounds; give each bound only once.

    Returns:
      ``minimum(maximum(a, min), max)``, promoted with the bounds' dtypes. Where
      ``min > max`` the result is ``max``, as in NumPy. NaNs propagate.

    Example:
        >>> fnp.clip(fnp.asarray([-2.0, 0.5, 3.0]), 0.0, 1.0)
        Array([0. , 0.5, 1. ], dtype=float32)
    """
    if a_min is not None and min is not None or a_max is not None and max is not None:
        raise TypeError("clip: give each bound once, either positionally (a_min, a_max) or "
                        "by keyword (min, max).")
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    _check("clip", a, names=("a",))
    out = _as_array(a)
    if lo is not None:
        _check("clip", lo, names=("min",))
        out = maximum(out, lo)
    if hi is not None:
        _check("clip", hi, names=("max",))
        out = minimum(out, hi)
    return out


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """Chooses ``x`` where ``condition`` is true and ``y`` elsewhere, with broadcasting.

    With only ``condition``, returns ``nonzero(condition)`` (pass ``size`` to use it under a
    transformation).

    Example:
        >>> fnp.where(fnp.asarray([True, False]), 1.0, fnp.asarray([5.0, 6.0]))
        Array([1., 6.], dtype=float32)
    """
    if x is None and y is None:
        from funcgrad import numpy as fnp
        return fnp.nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise TypeError("where: give both x and y, or neither (for the indices of nonzero "
                        "elements).")
    if size is not None or fill_value is not None:
        raise TypeError("where: size and fill_value apply only to the one-argument form.")
    _check("where", condition, x, y)
    x, y = _promote_dtypes("where", x, y, names=("x", "y"))
    cond = _to_bool(condition)
    cond, x, y = promote_shapes("where", cond, x, y)
    return ew.select_n(cond, y, x)


# ---------------------------------------------------------------- classification

def isnan(x, /):
    """True where ``x`` is NaN, elementwise."""
    (x,) = _promote("isnan", x)
    if _is_int_or_bool(x):
        return _full_like(x, False, dtypes.bool_)
    return ew.ne_p.bind(x, x)


def isinf(x, /):
    """True where ``x`` is positive or negative infinity, elementwise."""
    (x,) = _promote("isinf", x)
    if _is_int_or_bool(x):
        return _full_like(x, False, dtypes.bool_)
    return equal(abs(x), np.inf)


def isfinite(x, /):
    """True where ``x`` is neither infinite nor NaN, elementwise."""
    (x,) = _promote("isfinite", x)
    if _is_int_or_bool(x):
        return _full_like(x, True, dtypes.bool_)
    if _is_complex(x):
        return logical_and(isfinite(real(x)), isfinite(imag(x)))
    _require("isfinite", x, dtypes.FLOATS)
    return ew.is_finite_p.bind(x)


def isposinf(x, /):
    """True where ``x`` is positive infinity, elementwise."""
    (x,) = _promote("isposinf", x)
    _no_complex("isposinf", x, "apply it to funcgrad.numpy.real(x) or imag(x).")
    if _is_int_or_bool(x):
        return _full_like(x, False, dtypes.bool_)
    return equal(x, np.inf)


def isneginf(x, /):
    """True where ``x`` is negative infinity, elementwise."""
    (x,) = _promote("isneginf", x)
    _no_complex("isneginf", x, "apply it to funcgrad.numpy.real(x) or imag(x).")
    if _is_int_or_bool(x):
        return _full_like(x, False, dtypes.bool_)
    return equal(x, -np.inf)


def signbit(x, /):
    """True where the sign bit is set (negative numbers, -0.0, negative NaNs)."""
    (x,) = _promote("signbit", x)
    dt = aval_of(x).dtype
    if dt == dtypes.bool_ or dt in dtypes.UNSIGNED:
        return _full_like(x, False, dtypes.bool_)
    if dtypes.is_integer(dt):
        return less(x, 0)
    _require("signbit", x, dtypes.FLOATS)
    return less(ew.copysign_p.bind(_full_like(x, 1), x), 0)


def copysign(x1, x2, /):
    """``x1``'s magnitude with ``x2``'s sign, elementwise (integer inputs give floats)."""
    x1, x2 = _promote_inexact("copysign", x1, x2)
    _require("copysign", x1, dtypes.FLOATS)
    return ew.copysign_p.bind(x1, x2)


def heaviside(x1, x2, /):
    """Heaviside step: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``."""
    x1, x2 = _promote_inexact("heaviside", x1, x2)
    _no_complex("heaviside", x1, "apply it to funcgrad.numpy.real(x1).")
    out = where(less(x1, 0), _full_like(x1, 0), where(greater(x1, 0), _full_like(x1, 1), x2))
    return where(isnan(x1), x1, out)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Replaces NaN with ``nan`` and infinities with ``posinf``/``neginf`` (by default the
    largest and smallest finite values of the dtype). Integer inputs are returned unchanged.

    ``copy`` is accepted for NumPy compatibility (arrays are immutable).
    """
    (x,) = _promote("nan_to_num", x)
    dt = aval_of(x).dtype
    if _is_int_or_bool(x):
        return _as_array(x)
    if _is_complex(x):  # as NumPy: the real and imaginary parts separately
        return ew.complex_p.bind(*(nan_to_num(p, nan=nan, posinf=posinf, neginf=neginf)
                                   for p in (real(x), imag(x))))
    _require("nan_to_num", x, dtypes.FLOATS)
    info = np.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    x = where(isnan(x), _full_like(x, nan), x)
    x = where(isposinf(x), _full_like(x, posinf), x)
    return where(isneginf(x), _full_like(x, neginf), x)


# ---------------------------------------------------------------- logic and bits

def _to_bool(x):
    x = _as_array(x)
    return x if aval_of(x).dtype == dtypes.bool_ else not_equal(x, 0)


def logical_and(x1, x2, /):
    """Logical and of the truth values of ``x1`` and ``x2``, elementwise; returns bool."""
    _check("logical_and", x1, x2)
    return ew.and_p.bind(*promote_shapes("logical_and", _to_bool(x1), _to_bool(x2)))


def logical_or(x1, x2, /):
    """Logical or of the truth values of ``x1`` and ``x2``, elementwise; returns bool."""
    _check("logical_or", x1, x2)
    return ew.or_p.bind(*promote_shapes("logical_or", _to_bool(x1), _to_bool(x2)))


def logical_xor(x1, x2, /):
    """Logical xor of the truth values of ``x1`` and ``x2``, elementwise; returns bool."""
    _check("logical_xor", x1, x2)
    return ew.xor_p.bind(*promote_shapes("logical_xor", _to_bool(x1), _to_bool(x2)))


def logical_not(x, /):
    """Logical not of the truth value of ``x``, elementwise; returns bool."""
    _check("logical_not", x)
    return ew.not_p.bind(_to_bool(x))


def _bitwise(name, prim, doc):
    def fn(x1, x2, /):
        x1, x2 = _promote(name, x1, x2)
        _require(name, x1, _INT_OR_BOOL)
        return prim.bind(x1, x2)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


bitwise_and = _bitwise("bitwise_and", ew.and_p,
                       "Bitwise and of integer or boolean arrays, elementwise (``&``).")
bitwise_or = _bitwise("bitwise_or", ew.or_p,
                      "Bitwise or of integer or boolean arrays, elementwise (``|``).")
bitwise_xor = _bitwise("bitwise_xor", ew.xor_p,
                       "Bitwise xor of integer or boolean arrays, elementwise (``^``).")


def bitwise_not(x, /):
    """Bitwise not of an integer or boolean array, elementwise (``~``; logical not for bool)."""
    (x,) = _promote("bitwise_not", x)
    _require("bitwise_not", x, _INT_OR_BOOL)
    return ew.not_p.bind(x)


invert = bitwise_invert = bitwise_not


def left_shift(x1, x2, /):
    """Shifts the bits of ``x1`` left by ``x2``; shifts of the bit width or more give 0."""
    x1, x2 = _promote_numeric("left_shift", x1, x2)
    _require("left_shift", x1, dtypes.INTS)
    return ew.shift_left_p.bind(x1, x2)


def right_shift(x1, x2, /):
    """Shifts the bits of ``x1`` right by ``x2``: arithmetic (sign-filling) for signed
    integers, logical for unsigned ones, as in NumPy."""
    x1, x2 = _promote_numeric("right_shift", x1, x2)
    _require("right_shift", x1, dtypes.INTS)
    if aval_of(x1).dtype in dtypes.UNSIGNED:
        return ew.shift_right_logical_p.bind(x1, x2)
    return ew.shift_right_arithmetic_p.bind(x1, x2)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


# ---------------------------------------------------------------- closeness and equality

def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True where ``|a - b| <= atol + rtol * |b|``, elementwise (NumPy's rule: infinities
    are close only to themselves; NaNs only to each other when ``equal_nan``).

    Integer and boolean inputs are compared in float64, as NumPy does.
    """
    a, b = _promote("isclose", a, b, names=("a", "b"))
    if not dtypes.is_inexact(aval_of(a).dtype):
        a, b = (convert_to(v, dtypes.float64, weak=False) for v in (a, b))
    _require("isclose", a, dtypes.INEXACT)
    close = less_equal(abs(subtract(a, b)), add(atol, multiply(rtol, abs(b))))
    out = logical_or(logical_and(close, isfinite(b)), equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True (a 0-d bool array) when ``isclose(a, b, ...)`` holds everywhere."""
    from funcgrad import numpy as fnp
    return fnp.all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """True (a 0-d bool array) when ``a1`` and ``a2`` have equal shapes and elements."""
    from funcgrad import numpy as fnp
    _check("array_equal", a1, a2, names=("a1", "a2"))
    if aval_of(a1).shape != aval_of(a2).shape:
        return Array(np.array(False))
    eq = equal(a1, a2)
    if equal_nan:
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return fnp.all(eq)


# ---------------------------------------------------------------- complex parts and dtypes

def _is_complex(x) -> bool:
    return aval_of(x).dtype.kind == "c"


def _no_complex(op, x, fix):
    if _is_complex(x):
        raise errors.dtype_error(op, f"complex operands are not supported (NumPy does not "
                                 f"define {op} on complex values), got "
                                 f"{aval_of(x).str_short()}.", fix)


def real(val, /):
    """The real part, elementwise: float32 for complex64, float64 for complex128; for real
    dtypes, ``val`` itself.

    Example:
        >>> fnp.real(fnp.asarray([1 + 2j]))
        Array([1.], dtype=float32)
    """
    (x,) = _promote("real", val, names=("val",))
    return ew.real_p.bind(x) if _is_complex(x) else _as_array(x)


def imag(val, /):
    """The imaginary part, elementwise (real, of matching precision); for real dtypes,
    zeros of ``val``'s dtype.

    Example:
        >>> fnp.imag(fnp.asarray([1 + 2j]))
        Array([2.], dtype=float32)
    """
    (x,) = _promote("imag", val, names=("val",))
    return ew.imag_p.bind(x) if _is_complex(x) else _full_like(x, 0)


def conj(x, /):
    """The complex conjugate, elementwise; for real dtypes, ``x`` itself.

    Example:
        >>> fnp.conj(fnp.asarray([1 + 2j]))
        Array([1.-2.j], dtype=complex64)
    """
    (x,) = _promote("conj", x)
    return ew.conj_p.bind(x) if _is_complex(x) else _as_array(x)


conjugate = conj


def angle(z, deg=False):
    """The argument (phase) of complex ``z``, in (-pi, pi], elementwise.

    Args:
      z: input array; real inputs have angle 0 (pi for negative values), integer inputs give
        the default float.
      deg: return degrees instead of radians.

    Returns:
      A real array (float32 for complex64 and float32 inputs).

    Example:
        >>> fnp.angle(fnp.asarray([1j, -1.0]))
        Array([1.5707964, 3.1415927], dtype=float32)
    """
    (z,) = _promote_inexact("angle", z, names=("z",))
    out = ew.atan2_p.bind(imag(z), real(z))
    return multiply(out, 180.0 / math.pi) if deg else out


def iscomplexobj(x, /):
    """True (a Python bool) when ``x`` has a complex dtype, whatever its values."""
    if isinstance(x, complex):
        return True
    return np.dtype(getattr(x, "dtype", np.asarray(x).dtype)).kind == "c"


def isrealobj(x, /):
    """True (a Python bool) when ``x`` does not have a complex dtype."""
    return not iscomplexobj(x)


def iscomplex(x, /):
    """True where the imaginary part is nonzero, elementwise (all False for real dtypes)."""
    (x,) = _promote("iscomplex", x)
    if not _is_complex(x):
        return _full_like(x, False, dtypes.bool_)
    return not_equal(imag(x), 0)


def isreal(x, /):
    """True where the imaginary part is zero, elementwise (all True for real dtypes)."""
    (x,) = _promote("isreal", x)
    if not _is_complex(x):
        return _full_like(x, True, dtypes.bool_)
    return equal(imag(x), 0)


def astype(x, dtype, /, *, copy=False, device=None):
    """Converts ``x`` to ``dtype`` (the result is not weakly typed).

    Floats convert to integers by truncation toward zero; NaN becomes 0 and out-of-range values
    saturate. Anything nonzero converts to True.

    Example:
        >>> fnp.astype(fnp.asarray([1.7, -1.7]), "int32")
        Array([ 1, -1], dtype=int32)
    """
    _check("astype", x)
    return ew.convert_element_type(_as_array(x), dtypes.canonicalize(dtype), weak_type=False)


__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "remainder",
    "fmod", "divmod", "power", "pow", "float_power", "negative", "positive", "abs", "absolute",
    "fabs", "sign", "floor", "ceil", "trunc", "fix", "rint", "round", "around", "exp", "exp2",
    "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square", "reciprocal",
    "logaddexp", "logaddexp2", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2",
    "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "asin", "acos", "atan", "atan2",
    "asinh", "acosh", "atanh", "deg2rad", "rad2deg", "degrees", "radians", "hypot", "sinc",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "maximum",
    "minimum", "fmax", "fmin", "clip", "where", "isnan", "isinf", "isfinite", "isposinf",
    "isneginf", "signbit", "copysign", "heaviside", "nan_to_num", "logical_and", "logical_or",
    "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "invert", "bitwise_invert", "left_shift", "right_shift", "bitwise_left_shift",
    "bitwise_right_shift", "isclose", "allclose", "array_equal", "real", "imag", "conj",
    "conjugate", "angle", "iscomplexobj", "isrealobj", "iscomplex", "isreal", "astype",
]
