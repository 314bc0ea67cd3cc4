"""Scalar expression templates for elementwise primitives, shared by the kernel backends.

``emit(prim, params, args, in_avals, out_aval)`` returns a Python expression, compilable by
Numba and also runnable as plain Python on NumPy scalars (the ``numba-py`` backend), that
computes one element of ``prim`` from operand expressions ``args``. The reference for every
template is the primitive's NumPy ``impl``: integer and boolean results match it bit for bit,
float results match it exactly for arithmetic and within a few ulps for transcendental
functions (``vmath`` holds the vectorisable approximations and the helpers that need
statements).

Every expression has exactly ``out_aval.dtype``: integer arithmetic is wrapped in a cast (Numba
widens small integers to int64), and constants are dtype-exact (``literal``), because a bare
Python float would silently turn a float32 loop into a float64 one.

This module must not import numba: it is read when a kernel's source is generated.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# Part of every kernel's disk-cache key: bump when any template changes.
VERSION = "5"

# What every generated kernel module imports for these templates.
IMPORTS = "import math\nimport numpy as np\nfrom funcgrad.lowering import vmath"

_Rule = Callable[[dict, list, list, object], str]
_RULES: dict[str, _Rule] = {}


def has_rule(prim) -> bool:
    """Whether ``prim`` is elementwise and has a scalar template (for some dtypes)."""
    return getattr(prim, "name", prim) in _RULES


def supports(prim, in_avals, out_aval) -> bool:
    """Whether ``emit`` can lower ``prim`` for these operand and result dtypes.

    Numba has no float16 arithmetic on the CPU, and a few primitives have no complex template.
    """
    name = getattr(prim, "name", prim)
    if name not in _RULES:
        return False
    dts = [np.dtype(a.dtype) for a in in_avals] + [np.dtype(out_aval.dtype)]
    if any(d == np.float16 for d in dts):
        return False
    if any(d.kind == "c" for d in dts) and name in _NO_COMPLEX:
        return False
    return True


def emit(prim, params: dict, args: list[str], in_avals: list, out_aval) -> str:
    """A Numba expression for one element of ``prim(*args, **params)`` of ``out_aval.dtype``."""
    name = getattr(prim, "name", prim)
    if not supports(name, in_avals, out_aval):
        dts = ", ".join(str(a.dtype) for a in in_avals)
        raise NotImplementedError(f"no scalar template for {name} on ({dts}) -> "
                                  f"{out_aval.dtype}")
    return _RULES[name](dict(params), list(args), list(in_avals), out_aval)


def literal(value, dtype) -> str:
    """A dtype-exact literal: ``np.float32(0.5)``, ``np.int64(3)``, ``True``."""
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return "True" if bool(value) else "False"
    if dt.kind == "f":
        return f"np.{dt.name}({_float_text(float(np.asarray(value, dt)))})"
    if dt.kind == "c":
        v = complex(np.asarray(value, dt))
        return f"np.{dt.name}(complex({_float_text(v.real)}, {_float_text(v.imag)}))"
    v = int(value)
    if dt.kind == "i" and v == np.iinfo(dt).min:
        # A literal of the most negative value is typed from its positive part, which does
        # not fit: write it as (min + 1) - 1.
        return f"np.{dt.name}(np.{dt.name}({v + 1}) - np.{dt.name}(1))"
    return f"np.{dt.name}({v})"


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


# ------------------------------------------------------------------------------------------
# Helpers


def _rule(*names):
    def register(f):
        for n in names:
            _RULES[n] = f
        return f
    return register


def _dt(aval) -> np.dtype:
    return np.dtype(aval.dtype)


def _cast(dt, expr: str) -> str:
    dt = np.dtype(dt)
    if dt == np.bool_:
        return f"np.bool_({expr})"
    return f"np.{dt.name}({expr})"


def _lit(v, dt) -> str:
    return literal(v, dt)


# Complex operands have a template only for arithmetic (not integer_pow), comparisons,
# selection, conversion, the parts (real, imag, conj, complex) and sqrt. Numba's complex abs
# (hypot) differs from NumPy's in the last bit for about a third of inputs, while real results
# must match the impl exactly. Numba's complex transcendental functions differ from NumPy's
# beyond rounding (tanh overflows for large arguments; exp, sinh, cosh, acosh, sign, pow and
# products that overflow differ at infinities and zeros). These stay library steps that run
# the impl.
_NO_COMPLEX = {"abs", "rem", "floor", "ceil", "round", "is_finite", "erf", "erfinv", "cbrt",
               "atan2", "nextafter", "copysign", "sign", "pow", "logistic", "exp", "exp2", "log",
               "log1p", "expm1", "tanh", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
               "cosh", "asinh", "acosh", "atanh", "integer_pow"}


# ------------------------------------------------------------------------------------------
# Complex parts


@_rule("real")
def _real(p, a, ins, out):
    return f"{a[0]}.real"


@_rule("imag")
def _imag(p, a, ins, out):
    return f"{a[0]}.imag"


@_rule("conj")
def _conj(p, a, ins, out):
    return f"{a[0]}.conjugate()"


@_rule("complex")
def _complex(p, a, ins, out):
    # complex(re, im) places the parts exactly (no arithmetic, so infinities stay exact).
    return _cast(_dt(out), f"complex({a[0]}, {a[1]})")


# ------------------------------------------------------------------------------------------
# Identity-like


@_rule("copy", "stop_gradient")
def _identity(p, a, ins, out):
    return a[0]


# ------------------------------------------------------------------------------------------
# Arithmetic


def _arith(op):
    def rule(p, a, ins, out):
        dt = _dt(out)
        expr = f"({a[0]} {op} {a[1]})"
        # Numba widens integers below 64 bits (and mixes of them) to int64; the cast wraps
        # back, which is NumPy's modular integer arithmetic.
        return _cast(dt, expr) if dt.kind in "iub" else expr
    return rule


_rule("add", "add_any")(_arith("+"))
_rule("sub")(_arith("-"))


@_rule("mul")
def _mul(p, a, ins, out):
    if _dt(out) == np.bool_:
        return f"({a[0]} & {a[1]})"
    return _arith("*")(p, a, ins, out)


@_rule("neg")
def _neg(p, a, ins, out):
    dt = _dt(out)
    if dt.kind in "iu":
        return _cast(dt, f"{_lit(0, dt)} - {a[0]}")
    return f"(-{a[0]})"


@_rule("div")
def _div(p, a, ins, out):
    dt = _dt(out)
    if dt.kind in "iuc":
        return _cast(dt, f"vmath.div_{dt.name}({a[0]}, {a[1]})")
    return f"({a[0]} / {a[1]})"


@_rule("rem")
def _rem(p, a, ins, out):
    dt = _dt(out)
    if dt.kind in "iu":
        return _cast(dt, f"vmath.rem_{dt.name}({a[0]}, {a[1]})")
    return _cast(dt, f"np.fmod({a[0]}, {a[1]})")


@_rule("pow")
def _pow(p, a, ins, out):
    dt = _dt(out)
    if dt.kind in "iu" or dt == np.float32:
        return _cast(dt, f"vmath.pow_{dt.name}({a[0]}, {a[1]})")
    return _cast(dt, f"np.power({a[0]}, {a[1]})")


@_rule("integer_pow")
def _integer_pow(p, a, ins, out):
    dt = _dt(out)
    y = int(p["y"])
    if y == 0:
        return _lit(1, dt)
    x = a[0] if y > 0 else _reciprocal(a[0], dt)
    # Square and multiply in the same order as the impl (x**3 = x * (x*x)); vmath.sq keeps
    # the text linear in log2(y) while LLVM shares the repeated squarings.
    acc, base, n = None, x, abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else f"({acc} * {base})"
        n >>= 1
        if n:
            base = f"vmath.sq({base})"
    return _cast(dt, acc)


def _reciprocal(x, dt) -> str:
    if dt.kind == "c":
        return f"vmath.div_{dt.name}({_lit(1, dt)}, {x})"
    return f"({_lit(1, dt)} / {x})"


@_rule("abs")
def _abs(p, a, ins, out):
    dt = _dt(out)
    if dt.kind in "iu":
        return _cast(dt, f"abs({a[0]})")
    return f"np.abs({a[0]})"


@_rule("sign")
def _sign(p, a, ins, out):
    dt = _dt(out)
    if dt.kind == "u":
        return _cast(dt, f"{a[0]} != {_lit(0, dt)}")
    if dt.kind == "i":
        pos, neg = _cast(dt, f"{a[0]} > {_lit(0, dt)}"), _cast(dt, f"{a[0]} < {_lit(0, dt)}")
        return _cast(dt, f"{pos} - {neg}")
    return _float_sign(a[0], dt)


def _float_sign(x, dt) -> str:
    # NumPy's sign: +0. for both zeros, NaN for NaN.
    one, zero = _lit(1, dt), _lit(0, dt)
    return (f"({one} if {x} > {zero} else (-{one} if {x} < {zero} else "
            f"({x} if {x} != {x} else {zero})))")


def _max_min(op):
    def rule(p, a, ins, out):
        dt = _dt(out)
        if dt == np.bool_:
            return f"({a[0]} {'|' if op == 'max' else '&'} {a[1]})"
        if dt.kind == "c":
            return _cast(dt, f"vmath.c{op}({a[0]}, {a[1]})")
        # NumPy returns the second operand on ties (so max(-0., 0.) is 0.) and propagates NaN.
        return _cast(dt, f"vmath.{op}({a[0]}, {a[1]})")
    return rule


_rule("max")(_max_min("max"))
_rule("min")(_max_min("min"))


@_rule("clamp")
def _clamp(p, a, ins, out):
    lo, x, hi = a
    dt = _dt(out)
    c = "c" if dt.kind == "c" else ""
    return _cast(dt, f"vmath.{c}min(vmath.{c}max({x}, {lo}), {hi})")


# ------------------------------------------------------------------------------------------
# Rounding and classification


@_rule("floor")
def _floor(p, a, ins, out):
    return _cast(_dt(out), f"np.floor({a[0]})")


@_rule("ceil")
def _ceil(p, a, ins, out):
    return _cast(_dt(out), f"np.ceil({a[0]})")


@_rule("round")
def _round(p, a, ins, out):
    dt = _dt(out)
    if int(p.get("rounding_method", 0)) == 0:  # half away from zero, as the impl computes it
        sign = _float_sign(a[0], dt)
        return _cast(dt, f"{sign} * np.floor(np.abs({a[0]}) + {_lit(0.5, dt)})")
    return _cast(dt, f"np.rint({a[0]})")  # half to even


@_rule("is_finite")
def _is_finite(p, a, ins, out):
    return f"np.isfinite({a[0]})"


@_rule("nextafter")
def _nextafter(p, a, ins, out):
    return _cast(_dt(out), f"np.nextafter({a[0]}, {a[1]})")


@_rule("copysign")
def _copysign(p, a, ins, out):
    return _cast(_dt(out), f"np.copysign({a[0]}, {a[1]})")


# ------------------------------------------------------------------------------------------
# Transcendental functions (libm through NumPy's scalar functions; vmath where it vectorises)


# float32 functions with a vectorisable approximation in vmath (libm calls do not vectorise;
# accuracy is tested in test_lowering_scalar.py).
VMATH_FLOAT32 = {"exp", "exp2", "expm1", "log", "log1p", "tanh", "logistic", "erf", "sin",
                 "cos"}
VMATH_FLOAT64 = {"exp", "expm1", "log", "log1p", "tanh", "logistic"}


def _has_vmath(name, dt) -> bool:
    return (dt == np.float32 and name in VMATH_FLOAT32) or (dt == np.float64
                                                            and name in VMATH_FLOAT64)


def _np_unary(name, fn):
    def rule(p, a, ins, out):
        dt = _dt(out)
        if _has_vmath(name, dt):
            return f"vmath.{name}_{dt.name}({a[0]})"
        return _cast(dt, f"np.{fn}({a[0]})")
    return rule


for _name, _fn in [("exp", "exp"), ("exp2", "exp2"), ("log", "log"), ("log1p", "log1p"),
                   ("expm1", "expm1"), ("tanh", "tanh"), ("sin", "sin"), ("cos", "cos"),
                   ("tan", "tan"), ("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"),
                   ("sinh", "sinh"), ("cosh", "cosh"), ("asinh", "arcsinh"),
                   ("acosh", "arccosh"), ("atanh", "arctanh"), ("sqrt", "sqrt"),
                   ("cbrt", "cbrt")]:
    _rule(_name)(_np_unary(_name, _fn))


@_rule("rsqrt")
def _rsqrt(p, a, ins, out):
    dt = _dt(out)
    return _cast(dt, _reciprocal(f"np.sqrt({a[0]})", dt))


@_rule("logistic")
def _logistic(p, a, ins, out):
    dt = _dt(out)
    return _cast(dt, f"vmath.logistic_{dt.name}({a[0]})")


@_rule("erf")
def _erf(p, a, ins, out):
    dt = _dt(out)
    if dt == np.float32:
        return f"vmath.erf_float32({a[0]})"
    return _cast(dt, f"math.erf({a[0]})")


@_rule("erfinv")
def _erfinv(p, a, ins, out):
    return _cast(_dt(out), f"vmath.erfinv_float64(np.float64({a[0]}))")


@_rule("atan2")
def _atan2(p, a, ins, out):
    return _cast(_dt(out), f"np.arctan2({a[0]}, {a[1]})")


# ------------------------------------------------------------------------------------------
# Comparisons and logic


def _compare(op, cname):
    def rule(p, a, ins, out):
        if _dt(ins[0]).kind == "c" and op not in ("==", "!="):
            return f"vmath.c{cname}({a[0]}, {a[1]})"
        return f"({a[0]} {op} {a[1]})"
    return rule


for _name, _op in [("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"),
                   ("ge", ">=")]:
    _rule(_name)(_compare(_op, _name))


def _bitwise(op):
    def rule(p, a, ins, out):
        dt = _dt(out)
        expr = f"({a[0]} {op} {a[1]})"
        return expr if dt == np.bool_ else _cast(dt, expr)
    return rule


_rule("and")(_bitwise("&"))
_rule("or")(_bitwise("|"))
_rule("xor")(_bitwise("^"))


@_rule("not")
def _not(p, a, ins, out):
    dt = _dt(out)
    if dt == np.bool_:
        return f"(not {a[0]})"
    return _cast(dt, f"~{a[0]}")


def _bits(dt) -> int:
    return np.dtype(dt).itemsize * 8


def _unsigned(dt) -> np.dtype:
    return np.dtype(f"uint{_bits(dt)}")


@_rule("shift_left")
def _shift_left(p, a, ins, out):
    dt = _dt(out)
    x, y = a
    out_of_range = _out_of_range(y, dt)
    return f"({_lit(0, dt)} if {out_of_range} else {_cast(dt, f'{x} << {y}')})"


def _out_of_range(y, dt) -> str:
    big = f"{y} >= {_lit(_bits(dt), dt)}"
    return f"({y} < {_lit(0, dt)} or {big})" if dt.kind == "i" else f"({big})"


@_rule("shift_right_logical")
def _shift_right_logical(p, a, ins, out):
    dt = _dt(out)
    x, y = a
    u = _unsigned(dt)
    shifted = _cast(dt, f"{_cast(u, x)} >> {_cast(u, y)}")
    return f"({_lit(0, dt)} if {_out_of_range(y, dt)} else {shifted})"


@_rule("shift_right_arithmetic")
def _shift_right_arithmetic(p, a, ins, out):
    dt = _dt(out)
    x, y = a
    lo, hi = _lit(0, dt), _lit(_bits(dt) - 1, dt)
    if dt.kind == "i":
        amount = f"({lo} if {y} < {lo} else ({hi} if {y} > {hi} else {y}))"
    else:
        amount = f"({hi} if {y} > {hi} else {y})"
    return _cast(dt, f"{x} >> {amount}")


# ------------------------------------------------------------------------------------------
# Selection and conversion


@_rule("select_n")
def _select_n(p, a, ins, out):
    which, *cases = a
    if len(cases) == 1:
        return cases[0]
    if _dt(ins[0]) == np.bool_:
        return f"({cases[1]} if {which} else {cases[0]})"
    wdt = _dt(ins[0])
    expr = cases[-1]
    for i in range(len(cases) - 2, -1, -1):
        expr = f"({cases[i]} if {which} == {_lit(i, wdt)} else {expr})"
    return expr


@_rule("convert_element_type")
def _convert(p, a, ins, out):
    src, dst = _dt(ins[0]), _dt(out)
    x = a[0]
    if src == dst:
        return x
    if dst == np.bool_:
        return f"({x} != {_lit(0, src)})"
    if src.kind == "c" and dst.kind != "c":
        x, src = f"{x}.real", np.dtype(f"float{src.itemsize * 4}")
    if src.kind == "f" and dst.kind in "iu":
        return _float_to_int(x, src, dst)
    if src == np.bool_ and dst.kind in "fc":
        return _cast(dst, _cast(np.int8, x))
    return _cast(dst, x)


def _float_to_int(x, src, dst) -> str:
    # Saturating: NaN -> 0, values beyond the range -> its ends, truncation toward zero inside.
    # The bounds are powers of two, exact in every float dtype.
    info = np.iinfo(dst)
    lo = _lit(float(info.min), src)
    hi = _lit(float(info.max) + 1.0, src)
    return (f"({_lit(info.max, dst)} if {x} >= {hi} else ({_lit(info.min, dst)} if {x} <= {lo} "
            f"else ({_lit(0, dst)} if {x} != {x} else {_cast(dst, x)})))")
