"""Elementwise primitives: math, comparisons, logic, select, clamp, conversion, stop_gradient.

Operands of an n-ary elementwise primitive have equal shapes and dtypes (funcgrad.numpy
broadcasts and promotes before binding). Each section ends with its registration block.
"""
from __future__ import annotations

import math

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import (
    check_dtype,
    check_same_shapes_and_dtypes,
    standard_elementwise,
)

FLOATS = dtypes.FLOATS
INEXACT = dtypes.INEXACT
NUMERIC = dtypes.NUMERIC
INTS = dtypes.INTS
SIGNED_NUMERIC = dtypes.SIGNED + dtypes.INEXACT
INT_OR_BOOL = dtypes.INTS + (dtypes.bool_,)
ALL = dtypes.ALL

# Every elementwise primitive, for transforms that register a family rule over all of them.
UNARY: list[Primitive] = []
BINARY: list[Primitive] = []


def unary(name, impl, allowed, out_dtype=None) -> Primitive:
    p = standard_elementwise(name, impl, nargs=1, allowed=allowed, out_dtype=out_dtype)
    UNARY.append(p)
    return p


def binary(name, impl, allowed, out_dtype=None) -> Primitive:
    p = standard_elementwise(name, impl, nargs=2, allowed=allowed, out_dtype=out_dtype)
    BINARY.append(p)
    return p


def _errstate(f):
    # Domain errors produce NaN/inf silently, as in JAX; debug_nans reports them.
    def g(*args, **params):
        with np.errstate(all="ignore"):
            return f(*args, **params)
    g.__name__ = getattr(f, "__name__", "impl")
    return g


# ---------------------------------------------------------------- special functions (NumPy)

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    return np.asarray(_erf_scalar(x), dtype=x.dtype) if x.size else x.copy()


def _erfinv(y):
    # Giles' single-precision approximation, then Newton steps on erf (exact to float64 ulps).
    y64 = np.asarray(y, np.float64)
    w = -np.log1p(-y64 * y64)
    small = w < 5.0
    ws = w - 2.5
    p_small = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                          0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                          1.50140941], ws)
    wl = np.sqrt(np.maximum(w, 5.0)) - 3.0
    p_large = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                          0.00573950773, -0.0076224613, 0.00943887047, 1.00167406,
                          2.83297682], wl)
    x = np.where(small, p_small, p_large) * y64
    for _ in range(3):
        err = _erf(x) - y64
        x = x - err / (2.0 / math.sqrt(math.pi) * np.exp(-x * x))
    x = np.where(np.abs(y64) == 1.0, np.copysign(np.inf, y64), x)
    x = np.where(np.abs(y64) > 1.0, np.nan, x)
    return x.astype(y.dtype)


def _logistic(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)


def _sign(x):
    return np.sign(x).astype(x.dtype)


def _int_div(x, y):
    # lax.div rounds integer quotients toward zero (C semantics), unlike NumPy's floor division.
    if x.dtype.kind in "iu":
        q = np.floor_divide(x, np.where(y == 0, 1, y))
        fix = (np.remainder(x, np.where(y == 0, 1, y)) != 0) & ((x < 0) != (y < 0))
        return np.where(y == 0, 0, q + fix.astype(x.dtype)).astype(x.dtype)
    return np.true_divide(x, y)


def _rem(x, y):
    if x.dtype.kind in "iu":
        y1 = np.where(y == 0, 1, y)
        return np.where(y == 0, 0, np.fmod(x, y1)).astype(x.dtype)
    return np.fmod(x, y)


def _pow(x, y):
    if x.dtype.kind not in "iu":
        return np.power(x, y)
    # NumPy raises for negative integer exponents; a traced program cannot, so give the value
    # of the truncated quotient 1 / x**|y|: 1 for base 1, +-1 for base -1, 0 otherwise.
    neg = y < 0
    out = np.power(x, np.where(neg, 0, y))
    one = x.dtype.type(1)
    special = np.where(x == 1, one, 0)
    if x.dtype.kind == "i":
        special = np.where(x == -1, np.where(y % 2 == 0, one, -one), special)
    return np.where(neg, special, out).astype(x.dtype)


def _shift_right_logical(x, y):
    bits = x.dtype.itemsize * 8
    ux = x.view(x.dtype.str.replace("i", "u")) if x.dtype.kind == "i" else x
    out = np.where((y < 0) | (y >= bits), 0, np.right_shift(ux, np.clip(y, 0, bits - 1)))
    return out.astype(ux.dtype).view(x.dtype)


def _shift_left(x, y):
    bits = x.dtype.itemsize * 8
    return np.where((y < 0) | (y >= bits), 0,
                    np.left_shift(x, np.clip(y, 0, bits - 1))).astype(x.dtype)


def _shift_right_arithmetic(x, y):
    bits = x.dtype.itemsize * 8
    return np.right_shift(x, np.clip(y, 0, bits - 1)).astype(x.dtype)


def _round(x, *, rounding_method):
    if rounding_method == 0:  # half away from zero
        return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(x.dtype)
    return np.round(x)


def _bool_out(dt):
    return dtypes.bool_


# ---------------------------------------------------------------- unary math

# Negating an unsigned integer wraps around, as in NumPy and C.
neg_p = unary("neg", np.negative, NUMERIC)
sign_p = unary("sign", _sign, NUMERIC)
floor_p = unary("floor", np.floor, FLOATS)
ceil_p = unary("ceil", np.ceil, FLOATS)
is_finite_p = unary("is_finite", np.isfinite, FLOATS, out_dtype=_bool_out)
exp_p = unary("exp", _errstate(np.exp), INEXACT)
exp2_p = unary("exp2", _errstate(np.exp2), INEXACT)
log_p = unary("log", _errstate(np.log), INEXACT)
log1p_p = unary("log1p", _errstate(np.log1p), INEXACT)
expm1_p = unary("expm1", _errstate(np.expm1), INEXACT)
tanh_p = unary("tanh", np.tanh, INEXACT)
logistic_p = unary("logistic", _errstate(_logistic), INEXACT)
sin_p = unary("sin", _errstate(np.sin), INEXACT)
cos_p = unary("cos", _errstate(np.cos), INEXACT)
tan_p = unary("tan", _errstate(np.tan), INEXACT)
asin_p = unary("asin", _errstate(np.arcsin), INEXACT)
acos_p = unary("acos", _errstate(np.arccos), INEXACT)
atan_p = unary("atan", np.arctan, INEXACT)
sinh_p = unary("sinh", _errstate(np.sinh), INEXACT)
cosh_p = unary("cosh", _errstate(np.cosh), INEXACT)
asinh_p = unary("asinh", np.arcsinh, INEXACT)
acosh_p = unary("acosh", _errstate(np.arccosh), INEXACT)
atanh_p = unary("atanh", _errstate(np.arctanh), INEXACT)
sqrt_p = unary("sqrt", _errstate(np.sqrt), INEXACT)
rsqrt_p = unary("rsqrt", _errstate(lambda x: (1 / np.sqrt(x)).astype(x.dtype)), INEXACT)
cbrt_p = unary("cbrt", np.cbrt, FLOATS)
erf_p = unary("erf", _erf, FLOATS)
erfinv_p = unary("erfinv", _errstate(_erfinv), FLOATS)
abs_p = unary("abs", np.abs, SIGNED_NUMERIC)
not_p = unary("not", np.invert, INT_OR_BOOL)
round_p = Primitive("round", impl=_round, abstract_eval=lambda x, *, rounding_method: (
    check_dtype("round", x, FLOATS), x)[1])
UNARY.append(round_p)

# ---------------------------------------------------------------- binary math

add_p = binary("add", _errstate(np.add), NUMERIC)
sub_p = binary("sub", _errstate(np.subtract), NUMERIC)
mul_p = binary("mul", _errstate(np.multiply), NUMERIC + (dtypes.bool_,))
div_p = binary("div", _errstate(_int_div), NUMERIC)
rem_p = binary("rem", _errstate(_rem), NUMERIC)
pow_p = binary("pow", _errstate(_pow), NUMERIC)
max_p = binary("max", np.maximum, ALL)
min_p = binary("min", np.minimum, ALL)
atan2_p = binary("atan2", np.arctan2, FLOATS)
and_p = binary("and", np.bitwise_and, INT_OR_BOOL)
or_p = binary("or", np.bitwise_or, INT_OR_BOOL)
xor_p = binary("xor", np.bitwise_xor, INT_OR_BOOL)
shift_left_p = binary("shift_left", _shift_left, INTS)
shift_right_logical_p = binary("shift_right_logical", _shift_right_logical, INTS)
shift_right_arithmetic_p = binary("shift_right_arithmetic", _shift_right_arithmetic, INTS)
nextafter_p = binary("nextafter", np.nextafter, FLOATS)
copysign_p = binary("copysign", np.copysign, FLOATS)

eq_p = binary("eq", np.equal, ALL, out_dtype=_bool_out)
ne_p = binary("ne", np.not_equal, ALL, out_dtype=_bool_out)
lt_p = binary("lt", np.less, ALL, out_dtype=_bool_out)
le_p = binary("le", np.less_equal, ALL, out_dtype=_bool_out)
gt_p = binary("gt", np.greater, ALL, out_dtype=_bool_out)
ge_p = binary("ge", np.greater_equal, ALL, out_dtype=_bool_out)
COMPARISONS = [eq_p, ne_p, lt_p, le_p, gt_p, ge_p]


# ---------------------------------------------------------------- integer_pow

def _integer_pow_abstract_eval(x, *, y):
    if not isinstance(y, int):
        raise TypeError(f"integer_pow: exponent must be a Python int, got {y!r}")
    check_dtype("integer_pow", x, NUMERIC)
    if y < 0 and dtypes.is_integer(x.dtype):
        raise errors.dtype_error("integer_pow", f"negative exponent {y} of an integer "
                                 f"{x.str_short()} operand.", "convert to float first.")
    return x


def _integer_pow_impl(x, *, y):
    with np.errstate(all="ignore"):
        if y == 0:
            return np.ones_like(x)
        out = x if y > 0 else np.reciprocal(x)
        acc = None
        n, base = abs(y), out
        while n:  # square and multiply, matching the error of a compiled x*x*... chain
            if n & 1:
                acc = base if acc is None else acc * base
            n >>= 1
            if n:
                base = base * base
        return acc.astype(x.dtype)


integer_pow_p = Primitive("integer_pow", impl=_integer_pow_impl,
                          abstract_eval=_integer_pow_abstract_eval)
UNARY.append(integer_pow_p)


# ---------------------------------------------------------------- select_n

def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select_n requires at least one case")
    check_same_shapes_and_dtypes("select_n", cases)
    if which.dtype != dtypes.bool_ and which.dtype not in dtypes.INTS:
        raise errors.dtype_error("select_n", f"the selector must be bool or integer, got "
                                 f"{which.str_short()}.", "compare to get a boolean mask.")
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise errors.dtype_error("select_n", f"a boolean selector chooses between 2 cases, got "
                                 f"{len(cases)}.", "use an int32 selector.")
    if which.shape not in ((), cases[0].shape):
        raise errors.shape_error("select_n", f"the selector {which.str_short()} must be a scalar "
                                 f"or match the cases' shape {cases[0].str_short()}.",
                                 "broadcast the selector first.")
    return ShapedArray(cases[0].shape, cases[0].dtype, all(c.weak_type for c in cases))


def _select_n_impl(which, *cases):
    if len(cases) == 1:
        return cases[0]
    if which.dtype == np.bool_:
        return np.where(which, cases[1], cases[0])
    return np.choose(which.astype(np.intp), cases)


select_n_p = Primitive("select_n", impl=_select_n_impl, abstract_eval=_select_n_abstract_eval)


# ---------------------------------------------------------------- clamp

def _clamp_abstract_eval(lo, x, hi):
    for name, b in (("min", lo), ("max", hi)):
        if b.dtype != x.dtype:
            raise errors.dtype_error("clamp", f"{name} bound {b.str_short()} and operand "
                                     f"{x.str_short()} must have equal dtypes.",
                                     "convert the bound first.")
        if b.shape not in ((), x.shape):
            raise errors.shape_error("clamp", f"{name} bound {b.str_short()} must be a scalar or "
                                     f"match the operand {x.str_short()}.",
                                     "broadcast the bound first.")
    check_dtype("clamp", x, NUMERIC)
    return x


clamp_p = Primitive("clamp", impl=lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
                    abstract_eval=_clamp_abstract_eval)


# ---------------------------------------------------------------- convert_element_type

def _convert_abstract_eval(x, *, new_dtype, weak_type):
    return ShapedArray(x.shape, dtypes.canonicalize(new_dtype), weak_type)


def _convert_impl(x, *, new_dtype, weak_type):
    if new_dtype == dtypes.bool_:
        return x != 0
    if x.dtype.kind in "fc" and np.dtype(new_dtype).kind in "iu":
        # NaN and out-of-range floats have no integer value: clamp them (NaN -> 0) rather than
        # leave NumPy's platform-dependent garbage.
        info = np.iinfo(new_dtype)
        with np.errstate(invalid="ignore"):
            x = np.nan_to_num(np.real(x), nan=0.0, posinf=info.max, neginf=info.min)
            x = np.clip(x, info.min, info.max)
    with np.errstate(all="ignore"):
        return x.astype(new_dtype)


convert_element_type_p = Primitive("convert_element_type", impl=_convert_impl,
                                   abstract_eval=_convert_abstract_eval)


# ---------------------------------------------------------------- stop_gradient, copy

stop_gradient_p = Primitive("stop_gradient", impl=lambda x: x, abstract_eval=lambda x: x)
copy_p = Primitive("copy", impl=lambda x: x.copy(), abstract_eval=lambda x: x)


# ---------------------------------------------------------------- lax-level wrappers

def convert_element_type(x, new_dtype, weak_type: bool = False):
    """Converts ``x`` to ``new_dtype`` (no-op when it already has it)."""
    from funcgrad.core import get_aval
    aval = get_aval(x)
    new_dtype = dtypes.canonicalize(new_dtype)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)


def select_n(which, *cases):
    return select_n_p.bind(which, *cases)


def clamp(lo, x, hi):
    return clamp_p.bind(lo, x, hi)


def integer_pow(x, y: int):
    return integer_pow_p.bind(x, y=int(y))


def round(x, rounding_method: int = 0):  # noqa: A001 - lax's name
    return round_p.bind(x, rounding_method=int(rounding_method))


def stop_gradient(x):
    """Returns ``x`` unchanged; derivatives do not flow through it."""
    from funcgrad import tree_util
    return tree_util.tree_map(lambda v: stop_gradient_p.bind(v), x)


def _wrapper(p: Primitive):
    def f(*args):
        return p.bind(*args)
    f.__name__ = p.name
    f.__doc__ = f"Elementwise ``{p.name}`` (operands must have equal shapes and dtypes)."
    return f


_LAX_NAMES = {"and": "bitwise_and", "or": "bitwise_or", "not": "bitwise_not",
              "xor": "bitwise_xor"}
_special = {round_p, integer_pow_p}
for _p in UNARY + BINARY:
    if _p not in _special:
        globals()[_LAX_NAMES.get(_p.name, _p.name)] = _wrapper(_p)

__all__ = ([_LAX_NAMES.get(p.name, p.name) for p in UNARY + BINARY if p not in _special]
           + ["convert_element_type", "select_n", "clamp", "integer_pow", "round",
              "stop_gradient"])
