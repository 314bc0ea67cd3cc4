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
    # The shift amount in the unsigned dtype: NumPy has no right_shift for (uint64, int64).
    amount = np.clip(y, 0, bits - 1).astype(ux.dtype)
    out = np.where((y < 0) | (y >= bits), 0, np.right_shift(ux, amount))
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
# |z| of a complex z is real, of matching precision (float32 for complex64).
abs_p = unary("abs", np.abs, SIGNED_NUMERIC, out_dtype=dtypes.real_dtype)
not_p = unary("not", np.invert, INT_OR_BOOL)
round_p = Primitive("round", impl=_round, abstract_eval=lambda x, *, rounding_method: (
    check_dtype("round", x, FLOATS), x)[1])
UNARY.append(round_p)

# ---------------------------------------------------------------- complex parts

def _complex_impl(x, y):
    # Assigning the parts (not x + 1j * y) keeps infinities exact: 1j * inf is nan + inf j.
    out = np.empty(x.shape, dtypes.complex_dtype(x.dtype))
    out.real, out.imag = x, y
    return out


real_p = unary("real", lambda x: np.real(x).copy(), dtypes.COMPLEX, out_dtype=dtypes.real_dtype)
imag_p = unary("imag", lambda x: np.imag(x).copy(), dtypes.COMPLEX, out_dtype=dtypes.real_dtype)
conj_p = unary("conj", np.conjugate, dtypes.COMPLEX)
complex_p = binary("complex", _complex_impl, (dtypes.float32, dtypes.float64),
                   out_dtype=dtypes.complex_dtype)

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
        # The bounds are compared in float64 and written as integers: info.max itself may not
        # be representable in x's dtype (float32 rounds 2**31 - 1 up to 2**31).
        info = np.iinfo(new_dtype)
        x = np.real(x)
        with np.errstate(all="ignore"):
            out = np.where(np.isnan(x), 0, x).astype(new_dtype)
            out = np.where(x >= np.float64(info.max), np.asarray(info.max, new_dtype), out)
            return np.where(x <= np.float64(info.min), np.asarray(info.min, new_dtype),
                            out).astype(new_dtype)
    if x.dtype.kind == "c" and np.dtype(new_dtype).kind != "c":
        x = np.real(x)  # complex -> real keeps the real part, as in JAX (NumPy would warn)
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
        from funcgrad.array import Array
        from funcgrad.core import Tracer
        if isinstance(x, (Array, Tracer)):
            return x
        # A NumPy or Python input still comes back as a funcgrad Array (copied: Arrays
        # freeze their buffer, and the caller's array must stay writable).
        return Array(np.array(x, dtype=aval.dtype), weak_type=weak_type)
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


# ---------------------------------------------------------------- differentiation rules
# The elementwise family's jvp and transpose rules, in one registration block. Rules bind the
# lax-level primitives above (operands already have equal shapes and dtypes).

from funcgrad.core import get_aval  # noqa: E402
from funcgrad.primitives.structural import broadcast_in_dim as _bcast  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402


def _const(x, val):
    """``val`` broadcast to ``x``'s shape and dtype (a staged constant under tracing)."""
    from funcgrad.array import Array
    aval = get_aval(x)
    c = Array(np.asarray(val, aval.dtype))
    return _bcast(c, aval.shape, ()) if aval.shape else c


def _mul(a, b):
    return mul_p.bind(a, b)


def _div(a, b):
    return div_p.bind(a, b)


def _sq(x):
    return mul_p.bind(x, x)


def _one_minus_sq(x):
    return sub_p.bind(_const(x, 1), _sq(x))


def _balanced_eq(x, z, y):
    # d max(x, y)/dx: 1 where x is the unique max, 1/2 at ties, 0 elsewhere (as JAX).
    return select_n_p.bind(eq_p.bind(x, z), _const(x, 0),
                           select_n_p.bind(eq_p.bind(y, z), _const(x, 1), _const(x, 0.5)))


def _pow_jvp_x(t, ans, x, y):
    # d x**y / dx = y x**(y - 1), taken as 0 where y == 0 (x**0 is constant; the formula
    # would give 0 * inf at x == 0), as JAX does.
    d = _mul(y, pow_p.bind(x, sub_p.bind(y, _const(y, 1))))
    return _mul(t, select_n_p.bind(eq_p.bind(y, _const(y, 0)), d, _const(x, 0)))


def _pow_jvp_y(t, ans, x, y):
    # d x**y / dy = log(x) x**y, taken as 0 where x == 0 (the limit for y > 0).
    safe_log = select_n_p.bind(eq_p.bind(x, _const(x, 0)), log_p.bind(x), _const(x, 0))
    return _mul(t, _mul(safe_log, ans))


def _abs_jvp(t, ans, x):
    if not dtypes.is_complex(get_aval(x).dtype):
        # JAX's convention: d|x|/dx is 1 at x == 0 (a select on x >= 0, not sign(x), 0 there).
        return select_n_p.bind(ge_p.bind(x, _const(x, 0)), neg_p.bind(t), t)
    # d|z| = re(conj(z) dz) / |z| = re(conj(u) dz) for the unit u = z / |z|; 0 at z == 0,
    # where u is taken as 0 (z / 1).
    safe = select_n_p.bind(eq_p.bind(ans, _const(ans, 0)), ans, _const(ans, 1))
    safe = convert_element_type_p.bind(safe, new_dtype=get_aval(x).dtype, weak_type=False)
    return real_p.bind(_mul(conj_p.bind(_div(x, safe)), t))


def _real_transpose(ct, x):
    # With the pairing <c, t> = re(c t) that JAX's transposes use (mul's transpose is ct * y,
    # not ct * conj(y)): re(c) = <c, 1>, so real's transpose is complex(ct, 0).
    if type(ct) is _ad.Zero:
        return [None]
    return [complex_p.bind(ct, _const(ct, 0))]


def _imag_transpose(ct, x):
    # c im(t) = re(-i c t): imag's transpose is complex(0, -ct).
    if type(ct) is _ad.Zero:
        return [None]
    return [complex_p.bind(_const(ct, 0), neg_p.bind(ct))]


def _complex_transpose(ct, x, y):
    # re(c (x + i y)) = re(c) x - im(c) y.
    if type(ct) is _ad.Zero:
        return [None, None]
    return [real_p.bind(ct) if _tr.is_undefined(x) else None,
            neg_p.bind(imag_p.bind(ct)) if _tr.is_undefined(y) else None]


def _integer_pow_jvp(t, ans, x, *, y):
    if y == 0:
        return _const(t, 0)
    d = _const(x, y) if y == 1 else _mul(_const(x, y), integer_pow_p.bind(x, y=y - 1))
    return _mul(t, d)


def _rem_jvp_y(t, ans, x, y):
    q = _div(x, y)
    trunc = select_n_p.bind(lt_p.bind(q, _const(q, 0)), floor_p.bind(q), ceil_p.bind(q))
    return neg_p.bind(_mul(t, trunc))


def _clamp_jvp(primals, tangents):
    lo, x, hi = primals
    ans = clamp_p.bind(lo, x, hi)
    t_lo, t_x, t_hi = tangents
    out = _ad.Zero(get_aval(ans).to_tangent_aval())

    def bcast(v):
        return _bcast(v, x_shape, ()) if get_aval(v).shape != x_shape else v
    x_shape = get_aval(x).shape
    lo_b, hi_b = bcast(lo), bcast(hi)
    # JAX's convention: strict inequalities, so at a tie (x == lo or x == hi) neither the
    # operand nor the bound gets the derivative. Where lo > hi the result is hi everywhere
    # (clamp is min(max(x, lo), hi)), so only hi gets it there.
    if type(t_x) is not _ad.Zero:
        inside = and_p.bind(gt_p.bind(x, lo_b), lt_p.bind(x, hi_b))
        out = _ad.add_tangents(out, select_n_p.bind(inside, _const(x, 0), t_x))
    if type(t_lo) is not _ad.Zero:
        below = and_p.bind(lt_p.bind(x, lo_b), lt_p.bind(lo_b, hi_b))
        out = _ad.add_tangents(out, select_n_p.bind(below, _const(x, 0), bcast(t_lo)))
    if type(t_hi) is not _ad.Zero:
        above = or_p.bind(gt_p.bind(x, hi_b), gt_p.bind(lo_b, hi_b))
        out = _ad.add_tangents(out, select_n_p.bind(above, _const(x, 0), bcast(t_hi)))
    return ans, out


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    ans = select_n_p.bind(which, *cases)
    t_cases = tangents[1:]
    if all(type(t) is _ad.Zero for t in t_cases):
        return ans, _ad.Zero(get_aval(ans).to_tangent_aval())
    return ans, select_n_p.bind(which, *map(_ad.instantiate, t_cases))


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    ans = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    # Integer and boolean values carry no derivative, in either direction of the conversion.
    if (type(t) is _ad.Zero or np.dtype(new_dtype).kind not in "fc"
            or get_aval(x).dtype.kind not in "fc"):
        return ans, _ad.Zero.from_primal(ans)
    return ans, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


# transposes of the linear primitives


def _zero(x):
    return _ad.Zero(x.aval)


def _add_transpose(ct, x, y):
    return [ct if _tr.is_undefined(x) else None, ct if _tr.is_undefined(y) else None]


def _sub_transpose(ct, x, y):
    neg = None if type(ct) is _ad.Zero else neg_p.bind(ct)
    return [ct if _tr.is_undefined(x) else None, neg if _tr.is_undefined(y) else None]


def _mul_transpose(ct, x, y):
    if type(ct) is _ad.Zero:
        return [None, None]
    if _tr.is_undefined(x):
        return [_mul(ct, y), None]
    return [None, _mul(x, ct)]


def _div_transpose(ct, x, y):
    if _tr.is_undefined(y):
        raise AssertionError("div is linear only in its numerator")
    return [None if type(ct) is _ad.Zero else _div(ct, y), None]


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    if type(ct) is _ad.Zero:
        return [None]
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=x.aval.weak_type)]


def _select_n_transpose(ct, which, *cases):
    if _tr.is_undefined(which):
        raise AssertionError("select_n is not linear in its selector")
    out = [None]
    for i, c in enumerate(cases):
        if not _tr.is_undefined(c) or type(ct) is _ad.Zero:
            out.append(None)
            continue
        zeros = _const(ct, 0)
        out.append(select_n_p.bind(which, *[ct if j == i else zeros
                                            for j in range(len(cases))]))
    return out


for _p in [sign_p, floor_p, ceil_p, round_p, is_finite_p, not_p, and_p, or_p, xor_p,
           shift_left_p, shift_right_logical_p, shift_right_arithmetic_p, nextafter_p,
           stop_gradient_p, *COMPARISONS]:
    _ad.defjvp_zero(_p)

_ad.defjvp(exp_p, lambda t, ans, x: _mul(t, ans))
_ad.defjvp(exp2_p, lambda t, ans, x: _mul(t, _mul(ans, _const(x, np.log(2)))))
_ad.defjvp(log_p, lambda t, ans, x: _div(t, x))
_ad.defjvp(log1p_p, lambda t, ans, x: _div(t, add_p.bind(x, _const(x, 1))))
_ad.defjvp(expm1_p, lambda t, ans, x: _mul(t, add_p.bind(ans, _const(x, 1))))
_ad.defjvp(tanh_p, lambda t, ans, x: _mul(t, _one_minus_sq(ans)))
_ad.defjvp(logistic_p, lambda t, ans, x: _mul(t, _mul(ans, sub_p.bind(_const(x, 1), ans))))
_ad.defjvp(sin_p, lambda t, ans, x: _mul(t, cos_p.bind(x)))
_ad.defjvp(cos_p, lambda t, ans, x: neg_p.bind(_mul(t, sin_p.bind(x))))
_ad.defjvp(tan_p, lambda t, ans, x: _mul(t, add_p.bind(_const(x, 1), _sq(ans))))
_ad.defjvp(asin_p, lambda t, ans, x: _mul(t, rsqrt_p.bind(_one_minus_sq(x))))
_ad.defjvp(acos_p, lambda t, ans, x: neg_p.bind(_mul(t, rsqrt_p.bind(_one_minus_sq(x)))))
_ad.defjvp(atan_p, lambda t, ans, x: _div(t, add_p.bind(_const(x, 1), _sq(x))))
_ad.defjvp(sinh_p, lambda t, ans, x: _mul(t, cosh_p.bind(x)))
_ad.defjvp(cosh_p, lambda t, ans, x: _mul(t, sinh_p.bind(x)))
_ad.defjvp(asinh_p, lambda t, ans, x: _mul(t, rsqrt_p.bind(add_p.bind(_sq(x), _const(x, 1)))))
_ad.defjvp(acosh_p, lambda t, ans, x: _mul(t, _mul(rsqrt_p.bind(sub_p.bind(x, _const(x, 1))),
                                                   rsqrt_p.bind(add_p.bind(x, _const(x, 1))))))
_ad.defjvp(atanh_p, lambda t, ans, x: _div(t, _one_minus_sq(x)))
_ad.defjvp(sqrt_p, lambda t, ans, x: _div(t, _mul(_const(x, 2), ans)))
_ad.defjvp(rsqrt_p, lambda t, ans, x: _mul(t, _mul(_const(x, -0.5), _div(ans, x))))
_ad.defjvp(cbrt_p, lambda t, ans, x: _mul(t, _div(_const(x, 1 / 3), _sq(ans))))
_ad.defjvp(erf_p, lambda t, ans, x: _mul(t, _mul(_const(x, 2 / np.sqrt(np.pi)),
                                                 exp_p.bind(neg_p.bind(_sq(x))))))
_ad.defjvp(erfinv_p, lambda t, ans, x: _mul(t, _mul(_const(x, np.sqrt(np.pi) / 2),
                                                    exp_p.bind(_sq(ans)))))
_ad.defjvp(copysign_p, lambda t, ans, x, y: _mul(t, _mul(copysign_p.bind(_const(x, 1), x),
                                                        copysign_p.bind(_const(x, 1), y))), None)
_ad.defjvp(abs_p, _abs_jvp)
_ad.defjvp(integer_pow_p, _integer_pow_jvp)
_ad.defjvp(pow_p, _pow_jvp_x, _pow_jvp_y)
_ad.defjvp(atan2_p,
           lambda t, ans, x, y: _mul(t, _div(y, add_p.bind(_sq(x), _sq(y)))),
           lambda t, ans, x, y: neg_p.bind(_mul(t, _div(x, add_p.bind(_sq(x), _sq(y))))))
_ad.defjvp(max_p, lambda t, ans, x, y: _mul(t, _balanced_eq(x, ans, y)),
           lambda t, ans, x, y: _mul(t, _balanced_eq(y, ans, x)))
_ad.defjvp(min_p, lambda t, ans, x, y: _mul(t, _balanced_eq(x, ans, y)),
           lambda t, ans, x, y: _mul(t, _balanced_eq(y, ans, x)))
_ad.defjvp(rem_p, lambda t, ans, x, y: t, _rem_jvp_y)
_ad.defjvp(mul_p, lambda t, ans, x, y: _mul(t, y), lambda t, ans, x, y: _mul(x, t))
_ad.defjvp(div_p, lambda t, ans, x, y: _div(t, y),
           lambda t, ans, x, y: neg_p.bind(_mul(t, _div(ans, y))))
_ad.defjvp(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
_ad.defjvp(sub_p, lambda t, ans, x, y: t, lambda t, ans, x, y: neg_p.bind(t))
_ad.defjvp(neg_p, lambda t, ans, x: neg_p.bind(t))
_ad.rules[clamp_p] = _clamp_jvp
_ad.rules[select_n_p] = _select_n_jvp
_ad.rules[convert_element_type_p] = _convert_jvp
_ad.deflinear(copy_p)
for _p in [real_p, imag_p, conj_p, complex_p]:
    _ad.deflinear(_p)

_tr.rules[add_p] = _add_transpose
_tr.rules[_ad.add_any_p] = _add_transpose
_tr.rules[sub_p] = _sub_transpose
_tr.rules[neg_p] = lambda ct, x: [None if type(ct) is _ad.Zero else neg_p.bind(ct)]
_tr.rules[mul_p] = _mul_transpose
_tr.rules[div_p] = _div_transpose
_tr.rules[convert_element_type_p] = _convert_transpose
_tr.rules[select_n_p] = _select_n_transpose
_tr.rules[copy_p] = lambda ct, x: [ct]
_tr.rules[real_p] = _real_transpose
_tr.rules[imag_p] = _imag_transpose
_tr.rules[conj_p] = lambda ct, x: [None if type(ct) is _ad.Zero else conj_p.bind(ct)]
_tr.rules[complex_p] = _complex_transpose

# batching: unary primitives pass the batch dimension through; n-ary ones align operands.
for _p in [*UNARY, convert_element_type_p, stop_gradient_p, copy_p]:
    _vm.defvectorized(_p)
for _p in [*BINARY, select_n_p, clamp_p, _ad.add_any_p]:
    _vm.defbroadcasting(_p)
