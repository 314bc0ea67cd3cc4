"""Derivatives and batching of the elementwise family, driven by the spec tables of
test_elementwise.py (the funcgrad.numpy functions and the lax-level primitives).

* Every differentiable spec (funcgrad.numpy functions and lax primitives) is checked against
  float64 finite differences at order 2, forward and reverse, away from its kinks and jumps.
* Every non-differentiable spec (rounding, sign, comparisons, integer and boolean results,
  nextafter, stop_gradient) has derivatives that are exactly zero, and grad runs on it.
* The tie conventions are JAX's, each pinned by a unit test: abs at 0, maximum/minimum and
  clip at ties, lax.clamp at its bounds, where, and logaddexp/hypot/sinc smooth everywhere.
* Linearized functions and their transposes agree: ``<ct, L t> == <L^T ct, t>``.
* vmap of every spec, on every dtype, equals the stack of per-example results, for batch
  dimensions drawn per argument; select_n, clamp and where also with scalar and broadcast
  operands batched or not.
"""
import dataclasses
import functools
import math

import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import dtypes, lax, tree_util
from funcgrad.primitives import elementwise as ew
from funcgrad.testing import GradCheckError, check_grads
from funcgrad.transforms import autodiff as ad
from funcgrad.transforms import jvp
from tests.harness import (
    BOOL,
    F32,
    F64,
    args_strategy,
    check_spec_grads,
    check_spec_vmap,
    check_vmap,
    scaled,
)
from tests.test_elementwise import LAX_SPECS, SPECIAL_SPECS, SPECS, _special_args

FLOAT0 = dtypes.float0
ALL_SPECS = SPECS + LAX_SPECS

# ---------------------------------------------------------------- which specs are smooth where

DELTA = 0.01  # distance kept from kinks and jumps (finite-difference steps are ~1e-6)


def _far(*gaps):
    return all(np.all(np.abs(np.asarray(g, np.float64)) > DELTA) for g in gaps)


def _frac(q):
    return q - np.round(q)


def _away_from_bounds(x, lo, hi):
    return _far(x - lo, x - hi, lo - hi)


_FIRST_NONZERO = lambda a, k: _far(a[0])                       # noqa: E731
_NO_TIE = lambda a, k: _far(a[0] - a[1])                        # noqa: E731
_QUOTIENT_NOT_INTEGER = lambda a, k: _far(_frac(a[0] / a[1]))   # noqa: E731

# spec name -> predicate(args, kwargs): the inputs are away from the kinks and jumps.
AWAY = {
    **dict.fromkeys(["abs", "absolute", "fabs", "lax.abs", "cbrt", "heaviside", "arctan2",
                     "lax.atan2", "where", "lax.select_n", "lax.select_n_scalar_pred"],
                    _FIRST_NONZERO),
    **dict.fromkeys(["maximum", "minimum", "fmax", "fmin", "lax.max", "lax.min"], _NO_TIE),
    **dict.fromkeys(["remainder", "mod", "fmod", "divmod", "lax.rem"], _QUOTIENT_NOT_INTEGER),
    "copysign": lambda a, k: _far(a[0], a[1]),
    "lax.copysign": lambda a, k: _far(a[0], a[1]),
    "hypot": lambda a, k: _far(np.hypot(a[0], a[1])),
    "clip": lambda a, k: _away_from_bounds(*a),
    "lax.clamp": lambda a, k: _away_from_bounds(a[1], a[0], a[2]),
    "lax.clamp_scalar_bounds": lambda a, k: _away_from_bounds(a[1], a[0], a[2]),
    "clip_keywords": lambda a, k: _far(*(a[0] - b for b in k.values() if b is not None)),
    "lax.select_n3": lambda a, k: _far(_frac(a[0])),
}

# Piecewise constant, boolean or integer valued: derivatives are exactly zero (checked as
# such, not by finite differences). nextafter and stop_gradient are zero by definition.
NONDIFF = {
    "sign", "floor", "ceil", "trunc", "fix", "rint", "round", "around", "round_f32_d0",
    "floor_divide", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "isclose",
    "logical_and", "logical_or", "logical_xor", "logical_not", "astype_i32", "astype_bool",
    "lax.sign", "lax.floor", "lax.ceil", "lax.round", "lax.is_finite", "lax.nextafter",
    "lax.eq", "lax.ne", "lax.lt", "lax.le", "lax.gt", "lax.ge", "lax.stop_gradient",
}
# float64 in, float32 out: finite differences need float32 steps and tolerances.
FLOAT32_RESULT = {"astype_f32"}


def _mode(spec, kwargs):
    new_dtype = kwargs.get("new_dtype")
    if spec.name in NONDIFF or (new_dtype is not None and np.dtype(new_dtype).kind != "f"):
        return "zero"
    if spec.name in FLOAT32_RESULT or new_dtype == F32:
        return "float32"
    return "grad"


def _has_float(spec):
    return any(np.dtype(d).kind == "f" for d in spec.dtypes)


_SMALL = st.sampled_from([(), (1,), (3,), (2, 3)])


def _float_spec(spec, small=True):
    """``spec`` restricted to float dtypes (and, for finite differences, small shapes: fewer
    elements, so fewer draws land near a kink)."""
    floats = tuple(d for d in spec.dtypes if np.dtype(d).kind == "f")
    shapes = spec.shapes
    if small and shapes is None:
        shapes = _SMALL.map(lambda s: (s,) * spec.nargs)
    elif small:
        shapes = shapes.filter(lambda ss: all(math.prod(s) <= 6 for s in ss))
    return dataclasses.replace(spec, dtypes=floats, shapes=shapes)


GRAD_SPECS = [s for s in ALL_SPECS if _has_float(s) and s.name not in NONDIFF]
ZERO_SPECS = [s for s in ALL_SPECS if _has_float(s) and s.name in NONDIFF]


# ---------------------------------------------------------------- zero derivatives

def _assert_zero_tangent(primal, t, what):
    primal, t = np.asarray(primal), np.asarray(t)
    assert t.shape == primal.shape, f"{what}: shape {t.shape} vs {primal.shape}"
    if primal.dtype.kind == "f":
        assert t.dtype == primal.dtype, f"{what}: dtype {t.dtype} vs {primal.dtype}"
        assert np.all(t == 0), f"{what}: not exactly zero: {t}"
    else:
        assert t.dtype == FLOAT0, f"{what}: an integer/bool value has tangent dtype {t.dtype}"


def _scalar_sum(fn):
    """A real scalar from ``fn``'s outputs (cast to float64 and added), for grad."""
    def g(*xs):
        leaves = tree_util.tree_leaves(fn(*xs))
        return functools.reduce(fnp.add, [fnp.sum(fnp.astype(v, F64)) for v in leaves])
    return g


def check_zero_derivatives(fn, args, seed=0):
    """jvp and vjp of ``fn`` at ``args`` are exactly zero (float0 for integer and boolean
    values), and grad, also of grad, runs and gives 0 on a scalar example."""
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]

    def rand(x):
        x = np.asarray(x)
        if x.dtype.kind == "f":
            return rng.standard_normal(x.shape).astype(x.dtype)
        return np.zeros(x.shape, FLOAT0)
    out, t_out = fg.jvp(fn, args, [rand(a) for a in args])
    for k, (o, t) in enumerate(zip(tree_util.tree_leaves(out), tree_util.tree_leaves(t_out))):
        _assert_zero_tangent(o, t, f"jvp output {k}")
    out, f_vjp = fg.vjp(fn, *args)
    cts = f_vjp(tree_util.tree_map(rand, out))
    for k, (a, c) in enumerate(zip(args, cts)):
        _assert_zero_tangent(a, c, f"vjp argument {k}")
    idx = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f")
    if idx and all(a.size for a in args):
        scalars = [a.reshape(-1)[0] for a in args]
        g = _scalar_sum(fn)
        for k, d in enumerate(fg.grad(g, argnums=idx)(*scalars)):
            assert float(d) == 0.0, f"grad argument {idx[k]}: {d}"
        dd = fg.grad(lambda *xs: fg.grad(g, argnums=idx[0])(*xs), argnums=idx[0])(*scalars)
        assert float(dd) == 0.0, f"grad of grad: {dd}"


# ---------------------------------------------------------------- the spec tables

@pytest.mark.parametrize("spec", GRAD_SPECS, ids=repr)
@settings(max_examples=scaled(5))
@given(data=st.data())
def test_spec_grads(spec, data):
    spec = _float_spec(spec)
    args, kwargs = data.draw(args_strategy(spec))
    away = AWAY.get(spec.name)
    assume(away is None or away(args, kwargs))
    mode = _mode(spec, kwargs)
    if mode == "zero":
        check_zero_derivatives(lambda *a: spec.fg_fn(*a, **kwargs), args)
    elif mode == "float32":
        check_grads(lambda *a: spec.fg_fn(*a, **kwargs), [a.astype(F32) for a in args], order=2)
    else:
        check_spec_grads(spec, args, kwargs)


@pytest.mark.parametrize("spec", ZERO_SPECS, ids=repr)
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_spec_zero_derivatives(spec, data):
    # Any shape, including at the jumps (ties at .5, integers): the derivative is 0 there too.
    args, kwargs = data.draw(args_strategy(_float_spec(spec, small=False)))
    check_zero_derivatives(lambda *a: spec.fg_fn(*a, **kwargs), args)


INT_SPECS = [s for s in ALL_SPECS if any(np.dtype(d).kind in "iub" for d in s.dtypes)]


def _integer_zero_derivative_check(spec):
    int_spec = dataclasses.replace(
        spec, dtypes=tuple(d for d in spec.dtypes if np.dtype(d).kind in "iub"))

    @settings(max_examples=2, database=None, phases=[Phase.generate])  # no shrinking
    @given(data=st.data())
    def run(data):
        args, kwargs = data.draw(args_strategy(int_spec))
        check_zero_derivatives(functools.partial(spec.fg_fn, **kwargs), args)
    return run


def test_integer_inputs_have_zero_derivatives():
    # jvp and vjp with integer and boolean inputs (float0 tangents), for every spec that
    # takes them: the integer operations' outputs get zero (float0) tangents, no errors.
    failures = []
    for spec in INT_SPECS:
        try:
            _integer_zero_derivative_check(spec)()
        except Exception as e:  # noqa: BLE001 - collect them all, then report
            failures.append(f"{spec.name}: {type(e).__name__}: {str(e).splitlines()[0]}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- transposes

def check_transpose_property(fn, args, seed=0, rtol=1e-10):
    """For ``L = linearize(fn)`` at ``args``: ``<ct, L t> == <L^T ct, t>`` for random t, ct."""
    rng = np.random.default_rng(seed)
    args = [np.asarray(a, F64) for a in args]
    out, f_jvp = fg.linearize(fn, *args)
    ts = [rng.standard_normal(a.shape) for a in args]
    lt = np.asarray(f_jvp(*ts), F64)
    ct = rng.standard_normal(np.shape(out)).astype(np.asarray(out).dtype)
    _, f_vjp = fg.vjp(fn, *args)
    ltct = f_vjp(ct)
    lhs = float(np.vdot(ct.astype(F64), lt))
    rhs = float(sum(np.vdot(np.asarray(c, F64), t) for c, t in zip(ltct, ts)))
    assert math.isclose(lhs, rhs, rel_tol=rtol, abs_tol=rtol), (lhs, rhs)


_C = np.array([[0.5, -2.0, 1.5], [3.0, 0.25, -1.0]])
LINEAR = {  # the elementwise primitives with transpose rules, alone and in a chain
    "add": lambda x, y: lax.add(x, y),
    "sub": lambda x, y: lax.sub(x, y),
    "neg": lambda x, y: lax.neg(x),
    "mul_left": lambda x, y: lax.mul(x, _C),
    "mul_right": lambda x, y: lax.mul(_C, y),
    "div_numerator": lambda x, y: lax.div(x, _C),
    "convert_f32_f64": lambda x, y: lax.convert_element_type(
        lax.convert_element_type(x, F32), F64),
    "select_n": lambda x, y: lax.select_n(_C > 0, x, y),
    "select_n3": lambda x, y: lax.select_n(np.array([[0, 1, 2], [2, 1, 0]], np.int32), x, y,
                                           lax.neg(x)),
    "copy": lambda x, y: ew.copy_p.bind(x),
    "add_any": lambda x, y: jvp.add_any_p.bind(lax.mul(x, y), lax.sin(x)),
    "chain": lambda x, y: lax.sub(lax.div(lax.neg(x), _C), lax.mul(lax.add(x, y), _C)),
}


@pytest.mark.parametrize("name", LINEAR)
def test_transpose_linear_primitives(name):
    x = np.random.default_rng(1).normal(size=(2, 3))
    # Through float32, L t and L^T ct are each rounded to float32.
    check_transpose_property(LINEAR[name], (x, x[::-1] + 0.5),
                             rtol=1e-6 if "f32" in name else 1e-10)


@pytest.mark.parametrize("spec", [s for s in GRAD_SPECS if s.name.startswith("lax.")
                                  and s.name not in ("lax.convert_element_type",)], ids=repr)
@settings(max_examples=scaled(2))
@given(data=st.data())
def test_transpose_of_linearized_lax_specs(spec, data):
    # The linear program of each primitive's jvp rule transposes consistently.
    args, kwargs = data.draw(args_strategy(_float_spec(spec)))
    idx = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]

    def f(*diff):
        full = [np.asarray(a, F64) for a in args]
        for i, d in zip(idx, diff):
            full[i] = d
        return spec.fg_fn(*full, **kwargs)
    check_transpose_property(f, [args[i] for i in idx])


# ---------------------------------------------------------------- tie conventions (JAX's)

def _grads(f, *args):
    return [float(g) for g in fg.grad(f, argnums=tuple(range(len(args))))(*args)]


def test_abs_derivative_is_one_at_zero():
    # JAX differentiates |x| as select(x >= 0, t, -t): 1 at 0 and at -0.0 (not sign(0) = 0).
    for f in (fnp.abs, fnp.fabs, lax.abs):
        assert float(fg.grad(f)(np.float64(0.0))) == 1.0
        assert float(fg.grad(f)(np.float64(-0.0))) == 1.0
        assert float(fg.grad(f)(np.float64(-2.0))) == -1.0
        assert float(fg.grad(fg.grad(f))(np.float64(0.0))) == 0.0
    _, t = fg.jvp(fnp.abs, (np.array([0.0, -1.0, 2.0]),), (np.array([3.0, 3.0, 3.0]),))
    np.testing.assert_array_equal(np.asarray(t), [3.0, -3.0, 3.0])


@pytest.mark.parametrize("f", [fnp.maximum, fnp.minimum, fnp.fmax, fnp.fmin, lax.max, lax.min],
                         ids=lambda f: f.__name__)
def test_maximum_minimum_split_ties_evenly(f):
    x = np.float64(1.5)
    assert _grads(f, x, x) == [0.5, 0.5]
    assert _grads(lambda a, b: f(a, b) * 3.0, x, x) == [1.5, 1.5]
    big = 1.0 if f.__name__ in ("maximum", "fmax", "max") else 0.0
    assert _grads(f, np.float64(2.0), np.float64(1.0)) == [big, 1.0 - big]
    assert float(fg.grad(fg.grad(f))(x, x)) == 0.0
    # reverse and forward mode agree at the tie
    _, t = fg.jvp(f, (x, x), (np.float64(1.0), np.float64(3.0)))
    assert float(t) == 2.0


def test_clip_at_its_bounds():
    # funcgrad.numpy.clip is JAX's jnp.clip: minimum(maximum(x, lo), hi). At x == lo (or
    # x == hi) maximum's tie rule splits the derivative: 1/2 to x and 1/2 to the bound.
    clip = fnp.clip
    lo, hi = np.float64(-1.0), np.float64(2.0)
    assert _grads(clip, np.float64(0.5), lo, hi) == [1.0, 0.0, 0.0]   # inside
    assert _grads(clip, np.float64(-3.0), lo, hi) == [0.0, 1.0, 0.0]  # below
    assert _grads(clip, np.float64(5.0), lo, hi) == [0.0, 0.0, 1.0]   # above
    assert _grads(clip, lo, lo, hi) == [0.5, 0.5, 0.0]                # at the lower bound
    assert _grads(clip, hi, lo, hi) == [0.5, 0.0, 0.5]                # at the upper bound
    # Python-scalar bounds: x still gets 1/2 at a bound, as in JAX.
    assert float(fg.grad(lambda v: fnp.clip(v, 0.0, 1.0))(np.float64(1.0))) == 0.5
    assert float(fg.grad(lambda v: fnp.clip(v, 0.0, 1.0))(np.float64(0.3))) == 1.0


def test_lax_clamp_at_its_bounds():
    # lax.clamp follows JAX's clamp_p rule: strict inequalities, so at a bound neither the
    # operand nor the bound gets the derivative; where lo > hi the result is hi.
    lo, hi = np.float64(-1.0), np.float64(2.0)
    assert _grads(lax.clamp, lo, np.float64(0.5), hi) == [0.0, 1.0, 0.0]
    assert _grads(lax.clamp, lo, np.float64(-3.0), hi) == [1.0, 0.0, 0.0]
    assert _grads(lax.clamp, lo, np.float64(5.0), hi) == [0.0, 0.0, 1.0]
    assert _grads(lax.clamp, lo, lo, hi) == [0.0, 0.0, 0.0]
    assert _grads(lax.clamp, lo, hi, hi) == [0.0, 0.0, 0.0]
    # lo > hi: the result is hi wherever x is, and only hi moves it.
    for x in (-5.0, 0.5, 5.0):
        assert _grads(lax.clamp, np.float64(2.0), np.float64(x), np.float64(1.0)) == [0, 0, 1]
    check_grads(lax.clamp, (np.array([2.0, 2.0]), np.array([-5.0, 0.5]), np.array([1.0, 1.0])),
                order=2)


def test_where_gradient_flows_to_the_selected_branch_only():
    c = np.array([True, False, True, False])
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = -x
    out, f_vjp = fg.vjp(lambda a, b: fnp.where(c, a * a, fnp.sin(b)), x, y)
    gx, gy = f_vjp(np.ones(4))
    np.testing.assert_array_equal(np.asarray(gx), np.where(c, 2 * x, 0.0))
    np.testing.assert_array_equal(np.asarray(gy), np.where(c, 0.0, np.cos(y)))
    # scalar branches broadcast: their gradient sums over the selected elements
    g = _grads(lambda a, b: fnp.where(np.array(True), a, b), np.float64(1.0), np.float64(2.0))
    assert g == [1.0, 0.0]
    _, t = fg.jvp(lambda a, b: fnp.where(c, a, b), (x, y), (np.ones(4), 2 * np.ones(4)))
    np.testing.assert_array_equal(np.asarray(t), np.where(c, 1.0, 2.0))


def test_heaviside_derivative():
    # 0 away from x1 == 0; at x1 == 0 the value is x2, so d/dx2 is 1 there.
    assert _grads(fnp.heaviside, np.float64(0.0), np.float64(0.3)) == [0.0, 1.0]
    assert _grads(fnp.heaviside, np.float64(-1.0), np.float64(0.3)) == [0.0, 0.0]


def test_pow_derivative_at_zero_exponent():
    # x ** 0 is constant: d/dx is 0 at x == 0 too (JAX), not 0 * 0**-1 = NaN.
    assert _grads(fnp.float_power, np.float64(0.0), np.float64(0.0))[0] == 0.0
    assert _grads(lax.pow, np.float64(0.0), np.float64(0.0))[0] == 0.0
    assert _grads(lax.pow, np.float64(2.0), np.float64(0.0)) == [0.0, math.log(2.0)]


# ---------------------------------------------------------------- smooth at ties

TIES = (np.array([0.3, -1.0, 2.0, 0.0, 0.0, 5.0]), np.array([0.3, -1.0, -2.0, 1.5, -0.7, 5.0]))


@pytest.mark.parametrize("f", [fnp.logaddexp, fnp.logaddexp2, fnp.hypot],
                         ids=lambda f: f.__name__)
def test_smooth_at_ties_to_order_3(f):
    # Finite differences straddle the tie x == y (and hypot's x == 0): a formula built on
    # maximum/abs would have a kink there and fail from order 2.
    check_grads(f, TIES, order=3)
    check_grads(f, tuple(a.astype(F32) for a in TIES), order=2)


def test_logaddexp_derivatives_at_ties():
    x = np.float64(0.7)
    for f, ln_b in ((fnp.logaddexp, 1.0), (fnp.logaddexp2, math.log(2.0))):
        assert _grads(f, x, x) == [0.5, 0.5]
        # d2/dx2 = ln(b) p (1 - p) = ln(b) / 4 at a tie; d2/dxdy = -ln(b) / 4
        assert float(fg.grad(fg.grad(f))(x, x)) == pytest.approx(ln_b / 4, rel=1e-14)
        mixed = fg.grad(fg.grad(f), argnums=1)(x, x)
        assert float(mixed) == pytest.approx(-ln_b / 4, rel=1e-14)
    # far apart: the smaller input's share underflows to 0 cleanly (no NaN)
    assert _grads(fnp.logaddexp, np.float64(-800.0), np.float64(0.0)) == [0.0, 1.0]
    assert _grads(fnp.logaddexp, np.float64(-np.inf), np.float64(0.0)) == [0.0, 1.0]
    assert _grads(fnp.logaddexp, np.float64(3.0), np.float64(-np.inf)) == [1.0, 0.0]


def test_hypot_derivatives_at_ties_and_axes():
    r2 = 1 / math.sqrt(2)
    assert _grads(fnp.hypot, np.float64(3.0), np.float64(3.0)) == pytest.approx([r2, r2])
    assert _grads(fnp.hypot, np.float64(-3.0), np.float64(3.0)) == pytest.approx([-r2, r2])
    assert _grads(fnp.hypot, np.float64(0.0), np.float64(-2.0)) == [0.0, -1.0]
    # d2/dx2 at x == 0 is 1 / |y| (a formula through |x| gives 0 there)
    d2 = fg.grad(fg.grad(fnp.hypot))(np.float64(0.0), np.float64(-2.0))
    assert float(d2) == pytest.approx(0.5, rel=1e-14)
    # at the origin the derivative is 0 (as in JAX), not NaN
    assert _grads(fnp.hypot, np.float64(0.0), np.float64(0.0)) == [0.0, 0.0]
    # infinite inputs: the value is inf, and no NaN leaks into the other elements' gradients
    out, f_vjp = fg.vjp(fnp.hypot, np.array([np.inf, 3.0]), np.array([1.0, 4.0]))
    np.testing.assert_array_equal(np.asarray(out), [np.inf, 5.0])
    gx, gy = f_vjp(np.ones(2))
    np.testing.assert_allclose(np.asarray(gx)[1:], [0.6])
    np.testing.assert_allclose(np.asarray(gy)[1:], [0.8])


def test_sinc_derivatives_at_zero():
    assert float(fg.grad(fnp.sinc)(np.float64(0.0))) == 0.0
    d2 = fg.grad(fg.grad(fnp.sinc))(np.float64(0.0))
    assert float(d2) == pytest.approx(-math.pi ** 2 / 3, rel=1e-12)
    check_grads(fnp.sinc, (np.array([0.0, 1e-3, -2e-3, 0.004, 0.5]),), order=3)


# ---------------------------------------------------------------- batching (vmap)

@pytest.mark.parametrize("spec", SPECS + LAX_SPECS, ids=repr)
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_spec_vmap(spec, data):
    # Every dtype, in_axes drawn per argument (negative and None included), sizes 0, 1, 3.
    args, kwargs = data.draw(args_strategy(spec))
    check_spec_vmap(spec, args, kwargs, data)


@pytest.mark.parametrize("spec", SPECIAL_SPECS, ids=repr)
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_special_values_vmap(spec, data):
    # NaN and infinities end up in the same places batched and unbatched.
    args = data.draw(_special_args(spec.nargs))
    check_spec_vmap(spec, args, {}, data)


_X34 = np.random.default_rng(3).normal(size=(3, 4))


def _check_vmap_batched(fn, batched, in_axes):
    """``vmap(fn, in_axes)(*batched)`` equals stacking ``fn`` on each example (taken with
    ``np.take`` along the mapped axes), exactly (same dtype, same values)."""
    size = next(np.shape(b)[ax] for b, ax in zip(batched, in_axes) if ax is not None)
    got = np.asarray(fg.vmap(fn, in_axes=in_axes)(*batched))
    per = [np.asarray(fn(*[b if ax is None else np.take(b, i, axis=ax)
                           for b, ax in zip(batched, in_axes)])) for i in range(size)]
    want = np.stack(per)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want, err_msg=f"in_axes={in_axes}")


def _batched(x, ax, size=3):
    """``size`` different examples like ``x`` stacked along ``ax`` (``x`` itself if None)."""
    x = np.asarray(x)
    if ax is None:
        return x
    if x.dtype == BOOL:
        xs = [x, ~x, x]
    else:
        xs = [x, -x if x.dtype.kind != "u" else x + 1, x * 2 + 1][:size]
    return np.stack(xs[:size], axis=ax)


@pytest.mark.parametrize("in_axes", [(0, None, None), (0, 1, None), (None, 0, 1), (0, 0, 0),
                                     (None, None, -1), (0, -1, None), (0, -3, 2)])
def test_vmap_select_n_scalar_predicate(in_axes):
    # The predicate is a scalar per example: batched it is a vector, broadcast by the rule.
    x, y = _X34, 1 - _X34
    args = [_batched(np.array(True), in_axes[0]), _batched(x, in_axes[1]),
            _batched(y, in_axes[2])]
    _check_vmap_batched(lambda p, a, b: lax.select_n(p, a, b), args, in_axes)
    which = np.array([2, 0, 1], np.int32) if in_axes[0] is not None else np.array(2, np.int32)
    args[0] = which
    _check_vmap_batched(lambda p, a, b: lax.select_n(p, a, b, a * b), args, in_axes)


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (1, 0), (-1, None)])
def test_vmap_select_n_array_predicate(in_axes):
    pred = _X34 > 0
    args = [_batched(pred, in_axes[0]), _batched(_X34, in_axes[1])]
    _check_vmap_batched(lambda p, a: lax.select_n(p, a, -a), args, in_axes)


@pytest.mark.parametrize("in_axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                     (0, 1, 0), (None, -1, None), (0, 0, None), (0, 2, 0)])
def test_vmap_clamp_scalar_bounds(in_axes):
    args = [_batched(np.array(-0.3), in_axes[0]), _batched(_X34, in_axes[1]),
            _batched(np.array(0.6), in_axes[2])]
    _check_vmap_batched(lax.clamp, args, in_axes)


@pytest.mark.parametrize("in_axes", [(None, 1, 0), (0, None, None), (2, 0, None)])
def test_vmap_clamp_array_bounds_and_ints(in_axes):
    lo = np.full((3, 4), -0.5)
    args = [_batched(lo, in_axes[0]), _batched(_X34, in_axes[1]),
            _batched(np.full((3, 4), 0.5), in_axes[2])]
    _check_vmap_batched(lax.clamp, args, in_axes)
    xi = np.arange(12, dtype=np.int32).reshape(3, 4)
    args = [_batched(np.int32(2), in_axes[0] and 0), _batched(xi, in_axes[1]),
            _batched(np.int32(7), in_axes[2] and 0)]
    _check_vmap_batched(lax.clamp, args, (in_axes[0] and 0, in_axes[1], in_axes[2] and 0))


@pytest.mark.parametrize("in_axes", [(0, None, None), (None, 0, None), (None, None, 0),
                                     (1, 0, None), (0, None, 0), (2, 0, 0)])
def test_vmap_where_broadcasting(in_axes):
    # funcgrad.numpy.where broadcasts a column condition, a row and a scalar.
    args = [_batched(np.array([[True], [False], [True]]), in_axes[0]),
            _batched(np.arange(4, dtype=np.float32), in_axes[1]),
            _batched(np.array(0.5, np.float32), in_axes[2])]
    _check_vmap_batched(fnp.where, args, in_axes)


@pytest.mark.parametrize("y", [-2, -1, 0, 1, 3])
def test_vmap_integer_pow_and_round_params(y):
    x = np.linspace(-2.5, 2.5, 12).reshape(3, 4)
    check_vmap(lambda v: lax.integer_pow(v, y), [x], (1,), 4)
    for method in (0, 1):
        check_vmap(functools.partial(lax.round, rounding_method=method), [x], (-1,), 4)


def test_vmap_convert_shift_bitwise_nextafter():
    xi = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    sh = np.array([0, 1, 31, 33], np.int32)
    for f in (lax.shift_left, lax.shift_right_logical, lax.shift_right_arithmetic,
              lax.bitwise_and, lax.bitwise_or, lax.bitwise_xor):
        check_vmap(f, [xi, np.broadcast_to(sh, (3, 4)).copy()], (0, None), 3, name=f.__name__)
        check_vmap(f, [xi, np.broadcast_to(sh, (3, 4)).copy()], (1, 0), 4, name=f.__name__)
    check_vmap(lax.bitwise_not, [xi], (1,), 4)
    for dt in (np.float32, np.int8, bool, np.float64):
        check_vmap(functools.partial(lax.convert_element_type, new_dtype=dt), [_X34], (1,), 4)
        check_vmap(lambda v: lax.convert_element_type(v, np.float32), [xi.astype(dt)], (0,), 3)
    check_vmap(lax.nextafter, [_X34, np.zeros((3, 4))], (0, None), 3)
    check_vmap(lax.nextafter, [_X34, np.full((3, 4), np.inf)], (1, 0), 4)


# ---------------------------------------------------------------- the gradient checker itself

def test_python_control_flow_under_grad():
    def f(v1):
        v2 = fnp.exp(v1)
        v3 = v2 + 1
        v4 = v2 * v3
        return v4 * v3 if v4 > 0.5 else 2 * v4
    for x in (0.3, -3.0):
        e = np.exp(x)
        want = e * (e + 1) ** 2 + 2 * e * e * (e + 1) if e * (e + 1) > 0.5 else 2 * (e + 2 * e * e)
        np.testing.assert_allclose(float(ad.grad(f)(x)), want, rtol=1e-5)


def test_check_grads_catches_slightly_wrong_rules(monkeypatch):
    x = np.array([0.3, 1.2, -0.7])
    # A 1% error in d sin: caught at order 1, fwd and rev.
    monkeypatch.setitem(jvp.rules, ew.sin_p, jvp.rules[ew.sin_p])
    jvp.defjvp(ew.sin_p, lambda t, ans, x: ew.mul_p.bind(t, fnp.multiply(ew.cos_p.bind(x), 1.01)))
    for mode in ("fwd", "rev"):
        with pytest.raises(GradCheckError, match="derivative order 1"):
            check_grads(fnp.sin, (x,), order=1, modes=(mode,))
    monkeypatch.undo()
    # A 1% error in d cos only shows in the second derivative of sin: caught at order 2.
    monkeypatch.setitem(jvp.rules, ew.cos_p, jvp.rules[ew.cos_p])
    jvp.defjvp(ew.cos_p, lambda t, ans, x: ew.mul_p.bind(
        t, fnp.multiply(ew.neg_p.bind(ew.sin_p.bind(x)), 1.01)))
    check_grads(fnp.sin, (x,), order=1)
    for mode in ("fwd", "rev"):
        with pytest.raises(GradCheckError, match="derivative order 2"):
            check_grads(fnp.sin, (x,), order=2, modes=(mode,))


def test_zero_derivative_check_catches_a_nonzero_rule(monkeypatch):
    # floor's derivative made 1 (identity) instead of 0: the zero check must fail.
    monkeypatch.setitem(jvp.rules, ew.floor_p, jvp.rules[ew.floor_p])
    jvp.defjvp(ew.floor_p, lambda t, ans, x: t)
    with pytest.raises(AssertionError, match="not exactly zero"):
        check_zero_derivatives(fnp.floor, [np.array([0.5, 1.5])])


def test_grad_errors():
    with pytest.raises(TypeError, match="real scalar output, got f32\\[3\\]"):
        ad.grad(fnp.sin)(fnp.ones(3))
    with pytest.raises(TypeError, match="argument `n` has dtype int32"):
        ad.grad(lambda x, n: x * n, argnums=1)(1.0, np.int32(2))
