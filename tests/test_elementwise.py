"""Elementwise functions of funcgrad.numpy: values against NumPy, dtypes (JAX's promotion and
weak types), broadcasting, staging, and error messages."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from tests.harness import (
    BOOL,
    F32,
    F64,
    FLOATS,
    I32,
    I64,
    U8,
    Spec,
    args_strategy,
    check_spec,
    shapes,
)

I8, I16, U32, F16 = (np.dtype(t) for t in ("int8", "int16", "uint32", "float16"))

# Result dtypes, as functions of the input dtypes.
same = lambda *d: d[0]                                      # noqa: E731
inexact = lambda *d: d[0] if d[0].kind == "f" else F32      # noqa: E731 - int/bool -> f32
boolean = lambda *d: BOOL                                   # noqa: E731
numeric = lambda *d: I32 if d[0] == BOOL else d[0]          # noqa: E731 - bool -> int32
to = lambda dt: (lambda *d: np.dtype(dt))                   # noqa: E731

FI = FLOATS + (I32,)
FIB = FI + (BOOL,)
ALL = FLOATS + (I32, I64, U8, BOOL)
INTS = (I32, I64, U8)


def S(name, fg_fn, np_fn, nargs=1, dtypes=FI, domain="real", expected=same, **kw):
    return Spec(name, fg_fn, np_fn, nargs=nargs, dtypes=dtypes, domain=domain,
                expected_dtype=expected, **kw)


def _np_round_ref(x, decimals=0):
    return np.round(x, decimals)


SPECS = [
    # arithmetic
    S("add", fnp.add, np.add, 2, ALL),
    S("subtract", fnp.subtract, np.subtract, 2, FLOATS + INTS),
    S("multiply", fnp.multiply, np.multiply, 2, ALL),
    S("divide", fnp.divide, np.divide, 2, FIB + (U8,), ("real", "nonzero"), inexact),
    S("true_divide", fnp.true_divide, np.true_divide, 2, FI, ("real", "nonzero"), inexact),
    S("floor_divide", fnp.floor_divide, np.floor_divide, 2, FLOATS + INTS,
      ("real", "nonzero")),
    S("remainder", fnp.remainder, np.remainder, 2, FLOATS + INTS, ("real", "nonzero")),
    S("mod", fnp.mod, np.mod, 2, FLOATS + INTS, ("real", "nonzero")),
    S("fmod", fnp.fmod, np.fmod, 2, FLOATS + INTS, ("real", "nonzero")),
    S("divmod", fnp.divmod, np.divmod, 2, FLOATS + INTS, ("real", "nonzero")),
    S("power", fnp.power, np.power, 2, FLOATS, ("positive", "real")),
    S("power_int", fnp.power, np.power, 2, INTS, ("real", "positive")),
    S("power_scalar3", lambda x: fnp.power(x, 3), lambda x: np.power(x, 3), 1, FLOATS + INTS),
    S("power_scalar_neg", lambda x: fnp.power(x, -2), lambda x: np.power(x, -2.0), 1, FLOATS,
      "nonzero"),
    S("pow", fnp.pow, np.power, 2, FLOATS, ("positive", "real")),
    S("float_power", fnp.float_power, np.float_power, 2, FI, ("positive", "real"), inexact),
    S("negative", fnp.negative, np.negative, 1, FLOATS + INTS),
    S("positive", fnp.positive, np.positive, 1, FLOATS + INTS),
    S("abs", fnp.abs, np.abs, 1, ALL),
    S("absolute", fnp.absolute, np.absolute, 1, ALL),
    S("fabs", fnp.fabs, np.fabs, 1, FI, expected=inexact),
    S("sign", fnp.sign, np.sign, 1, FLOATS + INTS),
    S("square", fnp.square, np.square, 1, FLOATS + INTS),
    S("reciprocal", fnp.reciprocal, lambda x: np.true_divide(1, x), 1, FI, "nonzero", inexact),
    # rounding (float32 with decimals is checked against NumPy in float32 below)
    S("floor", fnp.floor, np.floor, 1, FIB),
    S("ceil", fnp.ceil, np.ceil, 1, FIB),
    S("trunc", fnp.trunc, np.trunc, 1, FIB),
    S("fix", fnp.fix, np.fix, 1, FIB),
    S("rint", fnp.rint, np.rint, 1, FI, expected=inexact),
    S("round", fnp.round, _np_round_ref, 1, (F64, I32, I64),
      kwargs=st.sampled_from([{"decimals": d} for d in (-2, -1, 0, 1, 2)])),
    S("around", fnp.around, _np_round_ref, 1, (F64, I32),
      kwargs=st.sampled_from([{"decimals": d} for d in (-1, 0, 2)])),
    S("round_f32_d0", fnp.round, np.round, 1, (F32,)),
    # exponents and logarithms
    S("exp", fnp.exp, np.exp, 1, FI, "small", inexact),
    S("exp2", fnp.exp2, np.exp2, 1, FI, "small", inexact),
    S("expm1", fnp.expm1, np.expm1, 1, FI, "small", inexact),
    S("log", fnp.log, np.log, 1, FI, "positive", inexact),
    S("log2", fnp.log2, np.log2, 1, FI, "positive", inexact),
    S("log10", fnp.log10, np.log10, 1, FI, "positive", inexact),
    S("log1p", fnp.log1p, np.log1p, 1, FI, "positive", inexact),
    S("sqrt", fnp.sqrt, np.sqrt, 1, FI, "positive", inexact),
    S("cbrt", fnp.cbrt, np.cbrt, 1, FI, "real", inexact),
    S("logaddexp", fnp.logaddexp, np.logaddexp, 2, FI, expected=inexact),
    S("logaddexp2", fnp.logaddexp2, np.logaddexp2, 2, FI, expected=inexact),
    # trigonometric and hyperbolic
    S("sin", fnp.sin, np.sin, 1, FIB, expected=inexact),
    S("cos", fnp.cos, np.cos, 1, FI, expected=inexact),
    S("tan", fnp.tan, np.tan, 1, FLOATS, "small", inexact),
    S("arcsin", fnp.arcsin, np.arcsin, 1, FLOATS, "unit", inexact),
    S("arccos", fnp.arccos, np.arccos, 1, FLOATS, "unit", inexact),
    S("arctan", fnp.arctan, np.arctan, 1, FI, expected=inexact),
    S("arctan2", fnp.arctan2, np.arctan2, 2, FI, expected=inexact),
    S("sinh", fnp.sinh, np.sinh, 1, FI, expected=inexact),
    S("cosh", fnp.cosh, np.cosh, 1, FI, expected=inexact),
    S("tanh", fnp.tanh, np.tanh, 1, FI, expected=inexact),
    S("arcsinh", fnp.arcsinh, np.arcsinh, 1, FI, expected=inexact),
    S("arccosh", fnp.arccosh, np.arccosh, 1, FI, "ge1", inexact),
    S("arctanh", fnp.arctanh, np.arctanh, 1, FLOATS, "unit", inexact),
    S("deg2rad", fnp.deg2rad, np.deg2rad, 1, FI, expected=inexact),
    S("rad2deg", fnp.rad2deg, np.rad2deg, 1, FI, expected=inexact),
    S("radians", fnp.radians, np.radians, 1, FI, expected=inexact),
    S("degrees", fnp.degrees, np.degrees, 1, FI, expected=inexact),
    S("hypot", fnp.hypot, np.hypot, 2, FI, expected=inexact),
    S("sinc", fnp.sinc, np.sinc, 1, FI, expected=inexact),
    S("heaviside", fnp.heaviside, np.heaviside, 2, FI, expected=inexact),
    # comparisons and extrema
    S("equal", fnp.equal, np.equal, 2, ALL, expected=boolean),
    S("not_equal", fnp.not_equal, np.not_equal, 2, ALL, expected=boolean),
    S("less", fnp.less, np.less, 2, ALL, expected=boolean),
    S("less_equal", fnp.less_equal, np.less_equal, 2, ALL, expected=boolean),
    S("greater", fnp.greater, np.greater, 2, ALL, expected=boolean),
    S("greater_equal", fnp.greater_equal, np.greater_equal, 2, ALL, expected=boolean),
    S("maximum", fnp.maximum, np.maximum, 2, ALL),
    S("minimum", fnp.minimum, np.minimum, 2, ALL),
    S("fmax", fnp.fmax, np.fmax, 2, ALL),
    S("fmin", fnp.fmin, np.fmin, 2, ALL),
    S("clip", fnp.clip, np.clip, 3, FLOATS + INTS),
    S("clip_keywords", fnp.clip, np.clip, 1, FLOATS,
      kwargs=st.sampled_from([{"min": -1.0}, {"max": 0.5}, {"min": -0.5, "max": 1.0},
                              {"min": None, "max": None}])),
    S("where", lambda c, x, y: fnp.where(c > 0, x, y), lambda c, x, y: np.where(c > 0, x, y),
      3, ALL),
    # classification
    S("isnan", fnp.isnan, np.isnan, 1, ALL, expected=boolean),
    S("isinf", fnp.isinf, np.isinf, 1, ALL, expected=boolean),
    S("isfinite", fnp.isfinite, np.isfinite, 1, ALL, expected=boolean),
    S("isposinf", fnp.isposinf, np.isposinf, 1, FIB, expected=boolean),
    S("isneginf", fnp.isneginf, np.isneginf, 1, FIB, expected=boolean),
    S("signbit", fnp.signbit, np.signbit, 1, ALL, expected=boolean),
    S("copysign", fnp.copysign, np.copysign, 2, FI, expected=inexact),
    S("nan_to_num", fnp.nan_to_num, np.nan_to_num, 1, FIB),
    # logic and bits
    S("logical_and", fnp.logical_and, np.logical_and, 2, ALL, expected=boolean),
    S("logical_or", fnp.logical_or, np.logical_or, 2, ALL, expected=boolean),
    S("logical_xor", fnp.logical_xor, np.logical_xor, 2, ALL, expected=boolean),
    S("logical_not", fnp.logical_not, np.logical_not, 1, ALL, expected=boolean),
    S("bitwise_and", fnp.bitwise_and, np.bitwise_and, 2, INTS + (BOOL,)),
    S("bitwise_or", fnp.bitwise_or, np.bitwise_or, 2, INTS + (BOOL,)),
    S("bitwise_xor", fnp.bitwise_xor, np.bitwise_xor, 2, INTS + (BOOL,)),
    S("bitwise_not", fnp.bitwise_not, np.bitwise_not, 1, INTS + (BOOL,)),
    S("invert", fnp.invert, np.invert, 1, INTS + (BOOL,)),
    S("bitwise_invert", fnp.bitwise_invert, np.invert, 1, INTS + (BOOL,)),
    S("left_shift", fnp.left_shift, np.left_shift, 2, INTS, ("real", "positive")),
    S("right_shift", fnp.right_shift, np.right_shift, 2, INTS, ("real", "positive")),
    # closeness
    S("isclose", lambda a, b: fnp.isclose(a, b, rtol=0.5),
      lambda a, b: np.isclose(a, b, rtol=0.5), 2, FI, expected=boolean),
    # complex parts (real dtypes) and conversion
    S("real", fnp.real, np.real, 1, FIB),
    S("imag", fnp.imag, np.imag, 1, FIB),
    S("conj", fnp.conj, np.conj, 1, FIB),
    S("conjugate", fnp.conjugate, np.conjugate, 1, FIB),
    S("astype_f32", lambda x: fnp.astype(x, "float32"), lambda x: x.astype(np.float32), 1,
      FIB, expected=to(F32)),
    S("astype_i32", lambda x: fnp.astype(x, fnp.int32), lambda x: x.astype(np.int32), 1,
      FIB, expected=to(I32)),
    S("astype_bool", lambda x: fnp.astype(x, bool), lambda x: x.astype(bool), 1, FIB,
      expected=boolean),
    S("astype_f64", lambda x: fnp.astype(x, np.float64), lambda x: x.astype(np.float64), 1,
      FIB, expected=to(F64)),
]


def _check(spec, args, kwargs):
    # Integer and boolean inputs to float functions: compare with float32 tolerances.
    if spec.rtol is None and all(np.asarray(a).dtype.kind in "iub" for a in args):
        out_dt = spec.expected_dtype(*[np.asarray(a).dtype for a in args])
        if out_dt == F32:
            spec = dataclasses.replace(spec, rtol=2e-5, atol=1e-5)
    check_spec(spec, args, kwargs)


def test_spec_names_are_unique():
    names = [s.name for s in SPECS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=12)
@given(data=st.data())
def test_spec(spec, data):
    args, kwargs = data.draw(args_strategy(spec))
    _check(spec, args, kwargs)


# ---------------------------------------------------------------- special values

_SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5])


def _special_values(shape, dtype, seed):
    """Floats mixing NaN, +-inf, +-0 and small numbers (ties at .5 included)."""
    rng = np.random.default_rng(seed)
    out = rng.choice(_SPECIALS, size=shape)
    mixed = rng.random(shape) < 0.3
    out = np.where(mixed, rng.uniform(-3, 3, size=shape), out)
    return out.astype(dtype)


@st.composite
def _special_args(draw, nargs):
    dtype = draw(st.sampled_from(FLOATS))
    shp = draw(shapes(max_side=6))
    return [_special_values(shp, dtype, draw(st.integers(0, 2**31 - 1))) for _ in range(nargs)]


SPECIAL_SPECS = [
    S("isnan", fnp.isnan, np.isnan, 1, expected=boolean),
    S("isinf", fnp.isinf, np.isinf, 1, expected=boolean),
    S("isfinite", fnp.isfinite, np.isfinite, 1, expected=boolean),
    S("isposinf", fnp.isposinf, np.isposinf, 1, expected=boolean),
    S("isneginf", fnp.isneginf, np.isneginf, 1, expected=boolean),
    S("signbit", fnp.signbit, np.signbit, 1, expected=boolean),
    S("sign", fnp.sign, np.sign, 1),
    S("nan_to_num_args", lambda x: fnp.nan_to_num(x, nan=-7.0, posinf=9.0, neginf=-9.0),
      lambda x: np.nan_to_num(x, nan=-7.0, posinf=9.0, neginf=-9.0), 1),
    S("maximum", fnp.maximum, np.maximum, 2),
    S("minimum", fnp.minimum, np.minimum, 2),
    S("fmax", fnp.fmax, np.fmax, 2),
    S("fmin", fnp.fmin, np.fmin, 2),
    S("clip", lambda x, lo: fnp.clip(x, lo, 1.0), lambda x, lo: np.clip(x, lo, 1.0), 2),
    S("copysign", fnp.copysign, np.copysign, 2),
    S("floor_divide", fnp.floor_divide, np.floor_divide, 2),
    S("remainder", fnp.remainder, np.remainder, 2),
    S("divmod", fnp.divmod, np.divmod, 2),
    S("fmod", fnp.fmod, np.fmod, 2),
    S("logaddexp", fnp.logaddexp, np.logaddexp, 2),
    S("logaddexp2", fnp.logaddexp2, np.logaddexp2, 2),
    S("hypot", fnp.hypot, np.hypot, 2),
    S("heaviside", fnp.heaviside, np.heaviside, 2),
    S("sinc", fnp.sinc, np.sinc, 1),
    S("rint", fnp.rint, np.rint, 1),
    S("round", fnp.round, np.round, 1),
    S("floor", fnp.floor, np.floor, 1),
    S("ceil", fnp.ceil, np.ceil, 1),
    S("trunc", fnp.trunc, np.trunc, 1),
    S("abs", fnp.abs, np.abs, 1),
    S("isclose", fnp.isclose, np.isclose, 2, expected=boolean),
    S("isclose_equal_nan", lambda a, b: fnp.isclose(a, b, equal_nan=True),
      lambda a, b: np.isclose(a, b, equal_nan=True), 2, expected=boolean),
    S("equal", fnp.equal, np.equal, 2, expected=boolean),
    S("less", fnp.less, np.less, 2, expected=boolean),
]


@pytest.mark.parametrize("spec", SPECIAL_SPECS, ids=repr)
@settings(max_examples=8)
@given(data=st.data())
def test_special_values(spec, data):
    args = data.draw(_special_args(spec.nargs))
    check_spec(spec, args, {})


def test_special_values_signed_zeros_kept():
    # assert_allclose does not see the sign of zero; these results must have NumPy's.
    x = np.array([-0.0, 0.0, -2.0, 2.0, -0.25], np.float32)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0], np.float32)
    for f, g in [(fnp.remainder, np.remainder), (fnp.floor_divide, np.floor_divide),
                 (fnp.copysign, np.copysign), (fnp.fmod, np.fmod)]:
        np.testing.assert_array_equal(np.signbit(np.asarray(f(x, y))), np.signbit(g(x, y)),
                                      err_msg=f.__name__)
    for f, g in [(fnp.trunc, np.trunc), (fnp.ceil, np.ceil), (fnp.round, np.round),
                 (fnp.negative, np.negative)]:
        np.testing.assert_array_equal(np.signbit(np.asarray(f(x))), np.signbit(g(x)),
                                      err_msg=f.__name__)


# ---------------------------------------------------------------- broadcasting

BINARY = [(fnp.add, np.add), (fnp.subtract, np.subtract), (fnp.multiply, np.multiply),
          (fnp.divide, np.divide), (fnp.power, np.power), (fnp.maximum, np.maximum),
          (fnp.arctan2, np.arctan2), (fnp.hypot, np.hypot), (fnp.less, np.less),
          (fnp.logical_and, np.logical_and), (fnp.floor_divide, np.floor_divide),
          (fnp.remainder, np.remainder), (fnp.logaddexp, np.logaddexp),
          (fnp.copysign, np.copysign), (fnp.isclose, np.isclose)]


@pytest.mark.parametrize("f,g", BINARY, ids=lambda f: getattr(f, "__name__", "?"))
def test_broadcast_column_with_row(f, g):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, (3, 1)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, (4,)).astype(np.float32)
    out = f(a, b)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(np.asarray(out), g(a, b), rtol=1e-6)
    out = f(b, a)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(np.asarray(out), g(b, a), rtol=1e-6)
    closed = fg.make_jaxpr(f)(a, b)
    assert closed.out_avals[0].shape == (3, 4)


@pytest.mark.parametrize("f,g", BINARY, ids=lambda f: getattr(f, "__name__", "?"))
def test_broadcast_scalars(f, g):
    x = np.array([0.5, 1.5, 2.5], np.float32)
    # 0-d NumPy array and Python scalar, on either side.
    for s in (np.array(1.25, np.float32), 1.25):
        for args in ((x, s), (s, x)):
            out = f(*args)
            assert out.shape == (3,)
            assert out.dtype == g(*args).dtype or out.dtype == F32
            np.testing.assert_allclose(np.asarray(out), g(*args), rtol=1e-6)
            assert fg.make_jaxpr(f)(*args).out_avals[0].shape == (3,)


def test_broadcast_where_three_ways():
    c = np.array([[True], [False], [True]])
    out = fnp.where(c, np.arange(4, dtype=np.int32), 0.5)
    assert out.shape == (3, 4) and out.dtype == F32
    np.testing.assert_array_equal(np.asarray(out), np.where(c, np.arange(4), 0.5))


def test_broadcast_clip_array_bounds():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    lo = np.array([-1.0, 0.0, -0.5, -2.0], np.float32)
    hi = np.array([[0.5], [1.0], [1.5]], np.float32)
    out = fnp.clip(x, lo, hi)
    np.testing.assert_array_equal(np.asarray(out), np.clip(x, lo, hi))


# ---------------------------------------------------------------- promotion and weak types

def _dt(x):
    return (np.dtype(x.dtype), bool(x.weak_type))


def _arr(dtype):
    return fnp.asarray(np.ones(3, dtype))


# (lhs, rhs, expected dtype, expected weak type), from JAX's type promotion table.
PROMOTION = [
    (I32, F32, F32, False), (I8, I32, I32, False), (U8, I8, I16, False),
    (BOOL, I32, I32, False), (F32, F64, F64, False), (U8, U32, U32, False),
    (np.dtype("int16"), np.dtype("uint16"), I32, False), (U32, I32, I64, False),
    (F16, I64, F16, False), (F16, F32, F32, False), (BOOL, F16, F16, False),
    (I64, F32, F32, False), (BOOL, BOOL, BOOL, False),
]
PY_INT = [(BOOL, I32, True), (I8, I8, False), (U8, U8, False), (I32, I32, False),
          (I64, I64, False), (F16, F16, False), (F32, F32, False), (F64, F64, False)]
PY_FLOAT = [(BOOL, F32, True), (I8, F32, True), (U8, F32, True), (I32, F32, True),
            (I64, F32, True), (F16, F16, False), (F32, F32, False), (F64, F64, False)]


@pytest.mark.parametrize("a,b,want,weak", PROMOTION, ids=str)
def test_promotion_table(a, b, want, weak):
    for x, y in ((_arr(a), _arr(b)), (_arr(b), _arr(a))):
        assert _dt(fnp.add(x, y)) == (want, weak)
        assert _dt(fnp.maximum(x, y)) == (want, weak)
        closed = fg.make_jaxpr(fnp.add)(x, y)
        assert _dt(closed.out_avals[0]) == (want, weak)


@pytest.mark.parametrize("a,want,weak", PY_INT, ids=str)
def test_promotion_python_int(a, want, weak):
    x = _arr(a)
    assert _dt(fnp.add(x, 2)) == (want, weak)
    assert _dt(fnp.add(2, x)) == (want, weak)
    assert _dt(fg.make_jaxpr(lambda v: fnp.multiply(v, 3))(x).out_avals[0]) == (want, weak)


@pytest.mark.parametrize("a,want,weak", PY_FLOAT, ids=str)
def test_promotion_python_float(a, want, weak):
    x = _arr(a)
    assert _dt(fnp.add(x, 2.0)) == (want, weak)
    assert _dt(fnp.subtract(2.0, x) if a != BOOL else fnp.add(2.0, x)) == (want, weak)
    assert _dt(fg.make_jaxpr(lambda v: fnp.multiply(v, 0.5))(x).out_avals[0]) == (want, weak)


def test_weak_type_rules():
    x32 = _arr(F32)
    assert _dt(fnp.multiply(x32, 2.0)) == (F32, False)
    assert _dt(fnp.add(2.0, 3.0)) == (F32, True)
    assert _dt(fnp.add(2, 3)) == (I32, True)
    assert _dt(fnp.add(2, 3.0)) == (F32, True)
    assert _dt(fnp.add(True, True)) == (BOOL, False)
    assert _dt(fnp.sin(1.0)) == (F32, True)
    assert _dt(fnp.sin(1)) == (F32, True)              # weak int -> weak default float
    assert _dt(fnp.sin(np.int32(1))) == (F32, False)
    assert _dt(fnp.sqrt(np.float64(4.0))) == (F64, False)
    assert _dt(fnp.divide(_arr(I32), 2)) == (F32, False)
    assert _dt(fnp.floor_divide(7.0, 2.0)) == (F32, True)
    assert _dt(fnp.remainder(7, 2)) == (I32, True)
    assert _dt(fnp.power(2.0, -1)) == (F32, True)
    assert _dt(fnp.power(x32, 2)) == (F32, False)
    assert _dt(fnp.negative(2.5)) == (F32, True)
    assert _dt(fnp.less(2.0, 3.0)) == (BOOL, False)    # comparisons are never weak
    assert _dt(fnp.where(True, x32, 0.0)) == (F32, False)
    assert _dt(fnp.where(True, 1.0, 0.0)) == (F32, True)
    assert _dt(fnp.astype(2.0, "float32")) == (F32, False)
    assert _dt(fnp.hypot(3.0, 4.0)) == (F32, True)
    assert float(fnp.hypot(3.0, 4.0)) == 5.0
    assert _dt(fnp.clip(_arr(F64), 0.0, 1.0)) == (F64, False)
    # NumPy scalars are strongly typed
    assert _dt(fnp.add(x32, np.float64(1.0))) == (F64, False)
    assert _dt(fnp.add(_arr(I8), np.int32(1))) == (I32, False)


def test_numpy_inputs_keep_their_dtype():
    x = np.linspace(0.1, 1, 5)  # float64
    assert fnp.sin(x).dtype == F64
    assert fnp.add(x, 1).dtype == F64
    assert fnp.exp(np.arange(3, dtype=np.int64)).dtype == F32


# ---------------------------------------------------------------- errors

def _without_location(msg: str) -> str:
    return "\n".join(line for line in msg.splitlines()
                     if not line.startswith(("  at ", "  while tracing")))


def test_shape_error_names_op_and_shapes():
    with pytest.raises(errors.ShapeError, match=r"add") as eager:
        fnp.add(fnp.ones(3), fnp.ones(4))
    msg = str(eager.value)
    assert msg.startswith("add:") and "[3]" in msg and "[4]" in msg
    assert "Fix:" in msg and "test_elementwise.py" in msg
    with pytest.raises(errors.ShapeError) as staged:
        fg.make_jaxpr(lambda a, b: fnp.add(a, b))(fnp.ones(3), fnp.ones(4))
    assert "while tracing" in str(staged.value)
    assert _without_location(str(staged.value)) == _without_location(msg)


@pytest.mark.parametrize("f", [fnp.multiply, fnp.where, fnp.maximum, fnp.floor_divide,
                               fnp.logical_and, fnp.arctan2])
def test_shape_error_other_ops(f):
    name = f.__name__
    args = (True, fnp.ones(3), fnp.ones(4)) if name == "where" else (fnp.ones(3), fnp.ones(4))
    with pytest.raises(errors.ShapeError, match=rf"^{name}: .*\[3\].*\[4\]"):
        f(*args)


def test_non_array_argument_is_named():
    with pytest.raises(TypeError, match=r"sin: x is a str \('hello'\)"):
        fnp.sin("hello")
    with pytest.raises(TypeError, match=r"add: x2 is a str"):
        fnp.add(1.0, "two")
    with pytest.raises(TypeError, match=r"(?s)add: x1 is a list.*asarray"):
        fnp.add([1.0], 1.0)
    with pytest.raises(TypeError, match=r"where: condition is a NoneType"):
        fnp.where(None, 1.0, 2.0)
    with pytest.raises(TypeError, match=r"clip: max is a str"):
        fnp.clip(1.0, 0.0, "1")
    with pytest.raises(TypeError, match=r"isclose: b is a dict"):
        fnp.isclose(1.0, {})


def test_dtype_errors():
    b = fnp.asarray(np.array([True, False]))
    with pytest.raises(errors.DTypeError, match=r"(?s)^subtract: .*bool\[2\].*\nFix: .*xor"):
        fnp.subtract(b, b)
    with pytest.raises(errors.DTypeError, match=r"^negative: .*bool\[2\]"):
        fnp.negative(b)
    with pytest.raises(errors.DTypeError, match=r"^sign: "):
        fnp.sign(b)
    f = fnp.asarray(np.ones(2, np.float32))
    for fn in (fnp.bitwise_and, fnp.bitwise_or, fnp.bitwise_xor, fnp.left_shift,
               fnp.right_shift):
        with pytest.raises(errors.DTypeError, match=rf"^{fn.__name__}: .*f32\[2\]"):
            fn(f, f)
    with pytest.raises(errors.DTypeError, match=r"^bitwise_not: .*f32\[2\]"):
        fnp.invert(f)
    with pytest.raises(errors.DTypeError, match=r"^power: .*negative integer powers.*i32\[3\]"):
        fnp.power(np.arange(3, dtype=np.int32), -1)
    with pytest.raises(errors.DTypeError, match=r"^power: "):
        fg.make_jaxpr(lambda x: x ** -2)(np.arange(3, dtype=np.int32))
    with pytest.raises(errors.DTypeError, match=r"^hypot: complex .*c64\[2\]"):
        fnp.hypot(np.ones(2, np.complex64), 1.0)


def test_argument_errors():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="both x and y"):
        fnp.where(x > 0, x)
    with pytest.raises(TypeError, match="each bound once"):
        fnp.clip(x, 0.0, a_max=None, min=0.0)
    with pytest.raises(TypeError, match="out"):
        fnp.round(x, 1, out=x)
    with pytest.raises(TypeError):
        fnp.round(x, 1.5)
    with pytest.raises(TypeError, match="not a dtype"):
        fnp.astype(x, "not-a-dtype")


# ---------------------------------------------------------------- semantics in detail

def test_integer_division_follows_python_sign_rules():
    vals = np.arange(-7, 8, dtype=np.int32)
    a, b = np.meshgrid(vals, vals[vals != 0])
    a, b = a.ravel(), b.ravel()
    q, r = fnp.divmod(a, b)
    assert q.dtype == I32 and r.dtype == I32
    np.testing.assert_array_equal(np.asarray(q), [x // y for x, y in zip(a.tolist(), b.tolist())])
    np.testing.assert_array_equal(np.asarray(r), [x % y for x, y in zip(a.tolist(), b.tolist())])
    np.testing.assert_array_equal(np.asarray(fnp.fmod(a, b)), np.fmod(a, b))
    np.testing.assert_array_equal(np.asarray(fnp.floor_divide(a, b)), np.asarray(q))


def test_integer_division_by_zero_gives_zero():
    a = np.array([-3, 0, 5], np.int32)
    z = np.zeros(3, np.int32)
    for f in (fnp.floor_divide, fnp.remainder, fnp.fmod):
        np.testing.assert_array_equal(np.asarray(f(a, z)), [0, 0, 0])
    u = np.array([3, 0, 250], np.uint8)
    np.testing.assert_array_equal(np.asarray(fnp.floor_divide(u, np.uint8(0))), [0, 0, 0])
    np.testing.assert_array_equal(np.asarray(fnp.floor_divide(u, np.uint8(7))), u // 7)
    np.testing.assert_array_equal(np.asarray(fnp.remainder(u, np.uint8(7))), u % 7)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_float_floor_divide_matches_numpy_exactly(dtype):
    # Many quotients (x - mod) / y round to just below an integer; NumPy's algorithm (and
    # ours) rounds them back up. Compare bit for bit on a large sample.
    rng = np.random.default_rng(0)
    x = rng.uniform(-10, 10, 20000).astype(dtype)
    y = (rng.uniform(0.01, 3, 20000) * rng.choice([-1, 1], 20000)).astype(dtype)
    x[:3] = [-9.43360658, 4.4297668, 8.62034632]
    y[:3] = [-1.18731184, -0.29652552, 0.03505188]
    q, r = fnp.divmod(x, y)
    np.testing.assert_array_equal(np.asarray(q), np.floor_divide(x, y))
    np.testing.assert_array_equal(np.asarray(r), np.remainder(x, y))
    np.testing.assert_array_equal(np.asarray(fnp.floor_divide(x, y)), np.floor_divide(x, y))


def test_float_division_by_zero():
    x = np.array([1.0, -1.0, 0.0], np.float32)
    with np.errstate(all="ignore"):
        for f, g in ((fnp.floor_divide, np.floor_divide), (fnp.remainder, np.remainder),
                     (fnp.divide, np.divide)):
            np.testing.assert_array_equal(np.asarray(f(x, 0.0)), g(x, np.float32(0)))


def test_boolean_arithmetic():
    t = np.array([True, True, False, False])
    f = np.array([True, False, True, False])
    assert fnp.add(t, f).dtype == BOOL
    np.testing.assert_array_equal(np.asarray(fnp.add(t, f)), t | f)
    np.testing.assert_array_equal(np.asarray(fnp.multiply(t, f)), t & f)
    out = fnp.floor_divide(t, np.array([True, True, True, True]))
    assert out.dtype == I32
    np.testing.assert_array_equal(np.asarray(out), [1, 1, 0, 0])
    assert fnp.power(t, 2).dtype == I32
    assert fnp.square(t).dtype == I32
    assert fnp.divide(t, True).dtype == F32
    np.testing.assert_array_equal(np.asarray(fnp.abs(t)), t)
    np.testing.assert_array_equal(np.asarray(fnp.invert(t)), ~t)


def test_power_integer_exponents():
    x = np.array([-3.0, 0.5, 2.0], np.float32)
    closed = fg.make_jaxpr(lambda v: fnp.power(v, 3))(x)
    assert [e.prim.name for e in closed.eqns] == ["integer_pow"]
    assert closed.eqns[0].params["y"] == 3
    np.testing.assert_allclose(np.asarray(fnp.power(x, 3)), x.astype(np.float64) ** 3)
    # A NumPy integer scalar exponent of a float base uses integer_pow too.
    closed = fg.make_jaxpr(lambda v: fnp.power(v, np.int32(2)))(x)
    assert [e.prim.name for e in closed.eqns] == ["integer_pow"]
    # A float exponent uses pow.
    assert "pow" in [e.prim.name for e in fg.make_jaxpr(lambda v: v ** 2.0)(x).eqns]
    # int ** int is exact, including beyond float32's 24-bit mantissa.
    big = np.array([3, -7, 11], np.int64)
    np.testing.assert_array_equal(np.asarray(fnp.power(big, 15)), big ** 15)
    np.testing.assert_array_equal(np.asarray(fnp.power(big, np.array([15, 3, 0]))),
                                  big ** np.array([15, 3, 0]))
    assert fnp.power(np.arange(3, dtype=np.int8), 2).dtype == I8
    assert fnp.power(2, 10).dtype == I32 and int(fnp.power(2, 10)) == 1024
    # Integer array exponents that are negative cannot raise while tracing: they give the
    # truncated value of 1 / x**|y|.
    out = fnp.power(np.array([-1, -1, 1, 2, 0], np.int32), np.array([-3, -2, -5, -1, 2]))
    np.testing.assert_array_equal(np.asarray(out), [-1, 1, 1, 0, 0])
    assert fnp.power(x, 0).dtype == F32
    np.testing.assert_array_equal(np.asarray(fnp.power(x, 0)), np.ones(3))


def test_round_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.49], np.float32)
    np.testing.assert_array_equal(np.asarray(fnp.round(x)), np.round(x))
    np.testing.assert_array_equal(np.asarray(fnp.rint(x)), [0, 2, 2, -0.0, -2, 3])
    np.testing.assert_array_equal(np.asarray(fnp.round(np.array([1250, 1350, -1250, 1251]),
                                                       -2)), [1200, 1400, -1200, 1300])
    i8 = np.array([127, -128, 55, -45], np.int8)
    np.testing.assert_array_equal(np.asarray(fnp.round(i8, -1)), np.round(i8, -1))
    np.testing.assert_array_equal(np.asarray(fnp.round(i8, -3)), [0, 0, 0, 0])
    assert fnp.round(np.arange(3, dtype=np.int32), 2).dtype == I32


@settings(max_examples=20)
@given(shape=shapes(), seed=st.integers(0, 2**31 - 1), decimals=st.sampled_from([-1, 1, 2, 3]))
def test_round_float32_matches_numpy_float32(shape, seed, decimals):
    # NumPy rounds float32 in float32 (x * 10**d, rint, / 10**d); so must we, exactly.
    x = np.random.default_rng(seed).uniform(-50, 50, shape).astype(np.float32)
    out = fnp.round(x, decimals)
    assert out.dtype == F32
    np.testing.assert_array_equal(np.asarray(out), np.round(x, decimals))
    np.testing.assert_array_equal(np.asarray(fnp.around(x, decimals)), np.round(x, decimals))


def test_unsigned_negative_and_abs():
    u = np.array([0, 1, 200], np.uint8)
    out = fnp.negative(u)
    assert out.dtype == U8
    np.testing.assert_array_equal(np.asarray(out), np.negative(u))
    np.testing.assert_array_equal(np.asarray(fnp.abs(u)), u)
    np.testing.assert_array_equal(np.asarray(fnp.sign(u)), [0, 1, 1])
    i8 = np.array([-128, -5, 5], np.int8)
    np.testing.assert_array_equal(np.asarray(fnp.abs(i8)), np.abs(i8))  # -128 wraps
    assert fnp.sign(np.array([-3, 0, 4], np.int32)).dtype == I32


def test_maximum_minimum_propagate_nan():
    x = np.array([np.nan, 1.0, np.nan], np.float32)
    y = np.array([0.0, np.nan, np.nan], np.float32)
    assert np.isnan(np.asarray(fnp.maximum(x, y))).all()
    assert np.isnan(np.asarray(fnp.minimum(x, y))).all()
    np.testing.assert_array_equal(np.asarray(fnp.fmax(x, y)), [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(np.asarray(fnp.fmin(x, y)), [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(np.asarray(fnp.clip(x, 0.5, 2.0)), [np.nan, 1.0, np.nan])


def test_clip_bounds():
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    np.testing.assert_array_equal(np.asarray(fnp.clip(x, None, 1.0)), [-2.0, 0.5, 1.0])
    np.testing.assert_array_equal(np.asarray(fnp.clip(x, 0.0, None)), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(np.asarray(fnp.clip(x, min=0.0, max=1.0)), [0, 0.5, 1])
    np.testing.assert_array_equal(np.asarray(fnp.clip(x, max=0.0)), [-2.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(fnp.clip(x)), x)
    np.testing.assert_array_equal(np.asarray(fnp.clip(x, 2.0, 1.0)), [1.0, 1.0, 1.0])
    assert fnp.clip(np.arange(5, dtype=np.int32), 1, 3).dtype == I32
    assert fnp.clip(np.arange(5, dtype=np.int32), 1.5, 3).dtype == F32
    # Under make_jaxpr, a None bound emits no equation.
    assert len(fg.make_jaxpr(lambda v: fnp.clip(v, None, 1.0))(x).eqns) == 2  # bcast, min


def test_where_non_boolean_condition():
    c = np.array([0, 2, -1], np.int32)
    out = fnp.where(c, 1.0, 0.0)
    np.testing.assert_array_equal(np.asarray(out), [0.0, 1.0, 1.0])
    out = fnp.where(np.array([0.0, 0.5]), np.array([1, 2]), np.array([3, 4]))
    np.testing.assert_array_equal(np.asarray(out), [3, 2])


@pytest.mark.skipif(not hasattr(fnp, "nonzero"), reason="funcgrad.numpy.nonzero not present")
def test_where_one_argument_is_nonzero():
    c = np.array([0, 3, 0, 1])
    (idx,) = fnp.where(c)
    np.testing.assert_array_equal(np.asarray(idx), [1, 3])


def test_shifts_follow_numpy():
    x = np.array([-8, 8, 1, -1], np.int32)
    np.testing.assert_array_equal(np.asarray(fnp.right_shift(x, 1)), np.right_shift(x, 1))
    np.testing.assert_array_equal(np.asarray(fnp.right_shift(x, 40)), [-1, 0, 0, -1])
    np.testing.assert_array_equal(np.asarray(fnp.left_shift(x, 40)), [0, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(fnp.left_shift(x, 3)), np.left_shift(x, 3))
    u = np.array([255, 128, 1], np.uint8)
    np.testing.assert_array_equal(np.asarray(fnp.right_shift(u, 1)), u >> 1)
    np.testing.assert_array_equal(np.asarray(fnp.right_shift(u, 10)), [0, 0, 0])
    assert fnp.right_shift(u, 1).dtype == U8
    assert fnp.left_shift(np.array([True]), 2).dtype == I32


def test_isclose_special_cases():
    a = np.array([np.inf, np.inf, np.nan, 1.0, 1e10, 0.0], np.float64)
    b = np.array([np.inf, -np.inf, np.nan, 1.0 + 1e-9, 1.00001e10, 1e-9], np.float64)
    np.testing.assert_array_equal(np.asarray(fnp.isclose(a, b)), np.isclose(a, b))
    np.testing.assert_array_equal(np.asarray(fnp.isclose(a, b, equal_nan=True)),
                                  np.isclose(a, b, equal_nan=True))
    # Integers are compared in float64, as in NumPy.
    big = np.array([2**24 + 1], np.int32)
    assert not bool(fnp.isclose(big, 2**24, rtol=0, atol=0)[0])
    assert bool(fnp.isclose(100, 101, rtol=0.01))


@pytest.mark.skipif(not hasattr(fnp, "all"), reason="funcgrad.numpy.all not present")
def test_allclose_and_array_equal():
    a = np.array([1.0, 2.0, np.nan], np.float32)
    assert not bool(fnp.allclose(a, a))
    assert bool(fnp.allclose(a, a, equal_nan=True))
    assert bool(fnp.allclose(a[:2], a[:2] + 1e-7))
    assert not bool(fnp.array_equal(a, a))
    assert bool(fnp.array_equal(a, a, equal_nan=True))
    assert not bool(fnp.array_equal(a, a[:2]))
    assert bool(fnp.array_equal(np.arange(3), np.arange(3.0)))
    assert fnp.allclose(a, a).shape == () and fnp.allclose(a, a).dtype == BOOL
    closed = fg.make_jaxpr(lambda x, y: fnp.allclose(x, y))(a, a)
    assert closed.out_avals[0].dtype == BOOL


def test_real_imag_conj_and_astype():
    x = np.array([1.5, -2.0], np.float32)
    np.testing.assert_array_equal(np.asarray(fnp.real(x)), x)
    np.testing.assert_array_equal(np.asarray(fnp.imag(x)), [0.0, 0.0])
    assert fnp.imag(x).dtype == F32 and fnp.imag(np.arange(2, dtype=np.int32)).dtype == I32
    np.testing.assert_array_equal(np.asarray(fnp.conj(x)), x)
    assert fnp.conjugate is fnp.conj
    out = fnp.astype(np.array([1.7, -1.7, np.nan, 1e20]), "int32")
    np.testing.assert_array_equal(np.asarray(out), [1, -1, 0, 2**31 - 1])
    assert _dt(fnp.astype(np.array([0.0, 2.0]), bool)) == (BOOL, False)
    np.testing.assert_array_equal(np.asarray(fnp.astype(np.array([0.0, 2.0]), bool)),
                                  [False, True])
    closed = fg.make_jaxpr(lambda v: fnp.astype(v, np.float16))(x)
    assert closed.out_avals[0].dtype == F16


@pytest.mark.parametrize("dtype", [F32, F64])
def test_nan_to_num_defaults(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 1.5], dtype)
    out = fnp.nan_to_num(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(np.asarray(out), np.nan_to_num(x))
    np.testing.assert_array_equal(np.asarray(fnp.nan_to_num(np.arange(3))), np.arange(3))


def test_heaviside_at_zero_and_nan():
    x1 = np.array([-1.0, 0.0, 2.0, np.nan], np.float32)
    np.testing.assert_array_equal(np.asarray(fnp.heaviside(x1, 0.5)), np.heaviside(x1, 0.5))


def test_log_and_trig_values():
    assert float(fnp.log2(8.0)) == pytest.approx(3.0, rel=1e-7)
    assert float(fnp.log10(np.float64(1000.0))) == pytest.approx(3.0, rel=1e-15)
    assert float(fnp.sinc(0.0)) == 1.0
    assert float(fnp.deg2rad(180.0)) == pytest.approx(math.pi, rel=1e-7)
    assert float(fnp.logaddexp(np.inf, np.inf)) == np.inf
    assert float(fnp.logaddexp(-np.inf, -np.inf)) == -np.inf
    assert float(fnp.logaddexp2(1.0, 1.0)) == pytest.approx(2.0)
    assert float(fnp.hypot(np.float64(1e200), np.float64(1e200))) == pytest.approx(
        math.sqrt(2) * 1e200)


def test_aliases():
    assert fnp.asin is fnp.arcsin and fnp.acos is fnp.arccos and fnp.atan is fnp.arctan
    assert fnp.asinh is fnp.arcsinh and fnp.acosh is fnp.arccosh
    assert fnp.atanh is fnp.arctanh and fnp.atan2 is fnp.arctan2 and fnp.pow is fnp.power
    assert fnp.true_divide is fnp.divide and fnp.mod is fnp.remainder
    assert fnp.absolute is fnp.abs and fnp.around is fnp.round
    assert fnp.invert is fnp.bitwise_not and fnp.bitwise_invert is fnp.bitwise_not


def test_array_operators_route_here():
    x = fnp.asarray(np.array([-3.0, 1.5, 4.0], np.float32))
    y = fnp.asarray(np.array([2.0, -1.0, 3.0], np.float32))
    xn, yn = np.asarray(x), np.asarray(y)
    np.testing.assert_array_equal(np.asarray(x // y), xn // yn)
    np.testing.assert_array_equal(np.asarray(x % y), xn % yn)
    np.testing.assert_allclose(np.asarray(2.0 ** x), 2.0 ** xn.astype(np.float64), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(x ** 2), xn ** 2)
    np.testing.assert_array_equal(np.asarray(-x), -xn)
    np.testing.assert_array_equal(np.asarray(abs(x)), abs(xn))
    np.testing.assert_array_equal(np.asarray(x < y), xn < yn)
    q, r = divmod(x, y)
    np.testing.assert_array_equal(np.asarray(q), xn // yn)
    np.testing.assert_array_equal(np.asarray(x.round()), np.round(xn))
    np.testing.assert_array_equal(np.asarray(x.clip(0, 2)), np.clip(xn, 0, 2))
    np.testing.assert_array_equal(np.asarray(x.real), xn)
    np.testing.assert_array_equal(np.asarray(x.imag), 0 * xn)
    i = fnp.asarray(np.array([6, 3], np.int32))
    np.testing.assert_array_equal(np.asarray(~i), [-7, -4])
    np.testing.assert_array_equal(np.asarray(i << 2), [24, 12])
    np.testing.assert_array_equal(np.asarray(i >> 1), [3, 1])
    np.testing.assert_array_equal(np.asarray(i & 2), [2, 2])
    assert (i / 2).dtype == F32
    assert x.astype("int32").dtype == I32


def test_staged_jaxpr_is_compact():
    x = np.ones((2, 3), np.float32)
    assert str(fg.make_jaxpr(fnp.sin)(x)).count("=") == 1
    # an int input to a float function: one convert, one op
    names = [e.prim.name for e in fg.make_jaxpr(fnp.exp)(np.ones(3, np.int32)).eqns]
    assert names == ["convert_element_type", "exp"]
    # a Python scalar is a literal, broadcast once
    names = [e.prim.name for e in fg.make_jaxpr(lambda v: v * 2.0)(x).eqns]
    assert names == ["broadcast_in_dim", "mul"]


# ---------------------------------------------------------------- lax-level primitives

def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if x.size else x.astype(np.float64)


def _np_erfinv(y):
    # Bisection on math.erf: slow but independent of the implementation under test.
    lo, hi = np.full(y.shape, -6.0), np.full(y.shape, 6.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        below = _np_erf(mid) < y
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def _np_round(x, rounding_method=0):
    if rounding_method == 0:
        return np.sign(x) * np.floor(np.abs(x) + 0.5)
    return np.round(x)


def _np_div(x, y):
    if x.dtype.kind in "iu":
        return np.trunc(x.astype(np.float64) / y).astype(x.dtype)
    return x / y


def _np_shift_right_logical(x, y):
    u = x.view(x.dtype.str.replace("i", "u"))
    return (u >> y.astype(u.dtype)).view(x.dtype)


def _which3(c):
    # An int32 selector in {0, 1, 2} from a float in (-3, 3).
    return lax.convert_element_type(lax.floor(lax.abs(c)), np.int32)


def _same_shapes(n, pattern):
    """Shapes for an n-ary spec: ``pattern[i]`` is "s" (the drawn shape) or "0" (a scalar)."""
    return shapes().map(lambda s: tuple(s if p == "s" else () for p in pattern[:n]))


NUMERIC = FLOATS + (I32, I64, U8)
SIGNED = FLOATS + (I32, I64)
INT_OR_BOOL = (I32, I64, U8, BOOL)

LAX_SPECS = [
    S("lax.neg", lax.neg, np.negative, 1, NUMERIC),
    S("lax.sign", lax.sign, np.sign, 1, NUMERIC),
    S("lax.floor", lax.floor, np.floor, 1, FLOATS),
    S("lax.ceil", lax.ceil, np.ceil, 1, FLOATS),
    S("lax.round", lax.round, _np_round, 1, FLOATS,
      kwargs=st.sampled_from([{"rounding_method": 0}, {"rounding_method": 1}])),
    S("lax.is_finite", lax.is_finite, np.isfinite, 1, FLOATS, expected=boolean),
    S("lax.exp", lax.exp, np.exp, 1, FLOATS, "small"),
    S("lax.exp2", lax.exp2, np.exp2, 1, FLOATS, "small"),
    S("lax.log", lax.log, np.log, 1, FLOATS, "positive"),
    S("lax.log1p", lax.log1p, np.log1p, 1, FLOATS, "positive"),
    S("lax.expm1", lax.expm1, np.expm1, 1, FLOATS, "small"),
    S("lax.tanh", lax.tanh, np.tanh, 1, FLOATS),
    S("lax.logistic", lax.logistic, lambda x: 1 / (1 + np.exp(-x)), 1, FLOATS),
    S("lax.sin", lax.sin, np.sin, 1, FLOATS),
    S("lax.cos", lax.cos, np.cos, 1, FLOATS),
    S("lax.tan", lax.tan, np.tan, 1, FLOATS, "small"),
    S("lax.asin", lax.asin, np.arcsin, 1, FLOATS, "unit"),
    S("lax.acos", lax.acos, np.arccos, 1, FLOATS, "unit"),
    S("lax.atan", lax.atan, np.arctan, 1, FLOATS),
    S("lax.sinh", lax.sinh, np.sinh, 1, FLOATS),
    S("lax.cosh", lax.cosh, np.cosh, 1, FLOATS),
    S("lax.asinh", lax.asinh, np.arcsinh, 1, FLOATS),
    S("lax.acosh", lax.acosh, np.arccosh, 1, FLOATS, "ge1"),
    S("lax.atanh", lax.atanh, np.arctanh, 1, FLOATS, "unit"),
    S("lax.sqrt", lax.sqrt, np.sqrt, 1, FLOATS, "positive"),
    S("lax.rsqrt", lax.rsqrt, lambda x: 1 / np.sqrt(x), 1, FLOATS, "positive"),
    S("lax.cbrt", lax.cbrt, np.cbrt, 1, FLOATS, "nonzero"),
    S("lax.erf", lax.erf, _np_erf, 1, FLOATS),
    S("lax.erfinv", lax.erfinv, _np_erfinv, 1, FLOATS, "unit"),
    S("lax.abs", lax.abs, np.abs, 1, SIGNED),
    S("lax.bitwise_not", lax.bitwise_not, np.invert, 1, INT_OR_BOOL),
    S("lax.integer_pow", lax.integer_pow, lambda x, y: np.power(x, float(y)), 1, FLOATS,
      "nonzero", kwargs=st.sampled_from([{"y": k} for k in (-3, -2, -1, 0, 1, 2, 3)])),
    S("lax.integer_pow_int", lax.integer_pow, lambda x, y: np.power(x, y), 1, (I32, I64, U8),
      kwargs=st.sampled_from([{"y": k} for k in (0, 1, 2, 3)])),
    S("lax.add", lax.add, np.add, 2, NUMERIC),
    S("lax.sub", lax.sub, np.subtract, 2, NUMERIC),
    S("lax.mul", lax.mul, np.multiply, 2, NUMERIC + (BOOL,)),
    S("lax.div", lax.div, _np_div, 2, NUMERIC, ("real", "nonzero")),
    S("lax.rem", lax.rem, np.fmod, 2, NUMERIC, ("real", "nonzero")),
    S("lax.pow", lax.pow, np.power, 2, FLOATS, ("positive", "real")),
    S("lax.pow_int", lax.pow, np.power, 2, (I32, I64), ("real", "positive")),
    S("lax.max", lax.max, np.maximum, 2, NUMERIC + (BOOL,)),
    S("lax.min", lax.min, np.minimum, 2, NUMERIC + (BOOL,)),
    S("lax.atan2", lax.atan2, np.arctan2, 2, FLOATS),
    S("lax.bitwise_and", lax.bitwise_and, np.bitwise_and, 2, INT_OR_BOOL),
    S("lax.bitwise_or", lax.bitwise_or, np.bitwise_or, 2, INT_OR_BOOL),
    S("lax.bitwise_xor", lax.bitwise_xor, np.bitwise_xor, 2, INT_OR_BOOL),
    S("lax.shift_left", lax.shift_left, np.left_shift, 2, INTS, ("real", "positive")),
    S("lax.shift_right_logical", lax.shift_right_logical, _np_shift_right_logical, 2, INTS,
      ("real", "positive")),
    S("lax.shift_right_arithmetic", lax.shift_right_arithmetic, np.right_shift, 2, INTS,
      ("real", "positive")),
    S("lax.nextafter", lax.nextafter, np.nextafter, 2, FLOATS),
    S("lax.copysign", lax.copysign, np.copysign, 2, FLOATS),
    S("lax.eq", lax.eq, np.equal, 2, ALL, expected=boolean),
    S("lax.ne", lax.ne, np.not_equal, 2, ALL, expected=boolean),
    S("lax.lt", lax.lt, np.less, 2, ALL, expected=boolean),
    S("lax.le", lax.le, np.less_equal, 2, ALL, expected=boolean),
    S("lax.gt", lax.gt, np.greater, 2, ALL, expected=boolean),
    S("lax.ge", lax.ge, np.greater_equal, 2, ALL, expected=boolean),
    S("lax.select_n", lambda c, x, y: lax.select_n(c > 0, x, y),
      lambda c, x, y: np.where(c > 0, y, x), 3, ALL),
    S("lax.select_n_scalar_pred", lambda c, x, y: lax.select_n(c > 0, x, y),
      lambda c, x, y: np.where(c > 0, y, x), 3, FLOATS + (I32,), shapes=_same_shapes(3, "0ss")),
    S("lax.select_n3", lambda c, x, y, z: lax.select_n(_which3(c), x, y, z),
      lambda c, x, y, z: np.choose(np.floor(np.abs(c)).astype(int), [x, y, z]), 4, FLOATS),
    S("lax.clamp", lax.clamp, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi), 3, NUMERIC),
    S("lax.clamp_scalar_bounds", lax.clamp, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi),
      3, FLOATS + (I32,), shapes=_same_shapes(3, "0s0")),
    S("lax.convert_element_type", lax.convert_element_type,
      lambda x, new_dtype: x.astype(new_dtype), 1, FIB,
      kwargs=st.sampled_from([{"new_dtype": d} for d in (F32, F64, I32, BOOL)]),
      expected=None),
    S("lax.stop_gradient", lax.stop_gradient, lambda x: x, 1, ALL),
]


def test_lax_spec_names_are_unique():
    names = [s.name for s in LAX_SPECS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", LAX_SPECS, ids=repr)
@settings(max_examples=8)
@given(data=st.data())
def test_lax_spec(spec, data):
    args, kwargs = data.draw(args_strategy(spec))
    check_spec(spec, args, kwargs)
    if "new_dtype" in kwargs:
        assert spec.fg_fn(*args, **kwargs).dtype == kwargs["new_dtype"]

