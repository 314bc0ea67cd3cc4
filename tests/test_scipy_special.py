"""funcgrad.scipy.special against scipy.special, and the special-function primitives.

Each spec line names the funcgrad function, its SciPy reference and the domain of each
argument (drawn away from poles and kinks). The tests check values on hypothesis-drawn
shapes and dtypes, derivatives at order 2 forward and reverse, vmap against a loop, jit
against eager, and the edge conventions (JAX's) one by one.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.scipy.special as special
from funcgrad import errors, lax
from funcgrad.testing import check_grads
from tests.harness import F32, F64, assert_close, check_vmap, scaled, shapes


@dataclasses.dataclass
class SpecialSpec:
    name: str
    fg_fn: Callable
    sp_fn: Callable
    domains: tuple            # (lo, hi) per argument
    grad: bool = True
    rtol64: float = 1e-11
    atol64: float = 1e-12
    rtol32: float = 2e-5
    reduces: bool = False     # a reduction: drawn shapes are non-empty (max has no identity)

    def __repr__(self):
        return self.name


POS = (0.2, 6.0)
REAL = (-4.0, 4.0)
UNIT = (0.02, 0.98)
NEG = (-6.0, -0.1)  # gamma-family specs keep away from the poles through AWAY_FROM_POLES
XPOS = (0.05, 12.0)
SMALL = (0.02, 0.3)

SPECS = [
    SpecialSpec("expit", special.expit, ss.expit, (REAL,)),
    SpecialSpec("logit", special.logit, ss.logit, (UNIT,)),
    SpecialSpec("erf", special.erf, ss.erf, (REAL,)),
    SpecialSpec("erfc", special.erfc, ss.erfc, (REAL,)),
    SpecialSpec("erfinv", special.erfinv, ss.erfinv, ((-0.95, 0.95),), rtol64=1e-10),
    SpecialSpec("ndtr", special.ndtr, ss.ndtr, (REAL,)),
    SpecialSpec("log_ndtr", special.log_ndtr, ss.log_ndtr, ((-40.0, 8.0),), rtol64=1e-10),
    SpecialSpec("ndtri", special.ndtri, ss.ndtri, (UNIT,), rtol64=1e-10),
    SpecialSpec("gammaln", special.gammaln, ss.gammaln, (POS,)),
    SpecialSpec("gammaln_large", special.gammaln, ss.gammaln, ((10.0, 1e4),)),
    SpecialSpec("gammaln_negative", special.gammaln, ss.gammaln, (NEG,), rtol64=1e-10,
                atol64=1e-10),
    SpecialSpec("digamma", special.digamma, ss.digamma, (POS,)),
    SpecialSpec("digamma_negative", special.digamma, ss.digamma, (NEG,), rtol64=1e-10,
                atol64=1e-10),
    SpecialSpec("psi", special.psi, ss.psi, ((0.01, 40.0),)),
    SpecialSpec("polygamma1", lambda x: special.polygamma(1, x),
                lambda x: ss.polygamma(1, x), (POS,)),
    SpecialSpec("polygamma2_negative", lambda x: special.polygamma(2, x),
                lambda x: ss.polygamma(2, x), (NEG,), rtol64=1e-10, atol64=1e-10),
    SpecialSpec("polygamma3", lambda x: special.polygamma(3, x),
                lambda x: ss.polygamma(3, x), (POS,)),
    SpecialSpec("betaln", special.betaln, ss.betaln, (POS, POS), rtol64=1e-10),
    SpecialSpec("gammainc", special.gammainc, ss.gammainc, (POS, XPOS), rtol64=1e-13,
                atol64=1e-15),
    SpecialSpec("gammaincc", special.gammaincc, ss.gammaincc, (POS, XPOS), rtol64=1e-13,
                atol64=1e-15),
    SpecialSpec("gammainc_small_a", special.gammainc, ss.gammainc, (SMALL, (0.01, 3.0)),
                rtol64=1e-13, atol64=1e-15),
    SpecialSpec("gammaincc_small_a", special.gammaincc, ss.gammaincc, (SMALL, (0.01, 3.0)),
                rtol64=1e-13, atol64=1e-15),
    SpecialSpec("betainc", special.betainc, ss.betainc, (POS, POS, UNIT), rtol64=1e-13,
                atol64=1e-15),
    SpecialSpec("betainc_small_params", special.betainc, ss.betainc, (SMALL, SMALL, UNIT),
                rtol64=1e-13, atol64=1e-15),
    SpecialSpec("xlogy", special.xlogy, ss.xlogy, (REAL, POS)),
    SpecialSpec("xlog1py", special.xlog1py, ss.xlog1py, (REAL, (-0.9, 4.0))),
    SpecialSpec("entr", special.entr, ss.entr, (POS,)),
    SpecialSpec("softmax", special.softmax, ss.softmax, (REAL,), reduces=True),
    SpecialSpec("log_softmax", special.log_softmax, ss.log_softmax, (REAL,), reduces=True),
    SpecialSpec("softmax_axis0", lambda x: special.softmax(x, axis=0),
                lambda x: ss.softmax(x, axis=0), (REAL,), reduces=True),
    SpecialSpec("logsumexp", special.logsumexp, ss.logsumexp, (REAL,), reduces=True),
    SpecialSpec("logsumexp_axis_b", lambda a, b: special.logsumexp(a, axis=-1, b=b),
                lambda a, b: ss.logsumexp(a, axis=-1, b=b), (REAL, POS), reduces=True),
    SpecialSpec("logsumexp_keepdims", lambda a: special.logsumexp(a, axis=0, keepdims=True),
                lambda a: ss.logsumexp(a, axis=0, keepdims=True), (REAL,), reduces=True),
]

# Gamma-family arguments on the negative axis stay this far from the poles.
POLE_GAP = 0.08


def _values(shape, dtype, domain, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(*domain, size=shape)
    if domain is NEG:  # push away from the integers (the poles)
        frac = x - np.round(x)
        x = np.where(np.abs(frac) < POLE_GAP, np.round(x) + np.copysign(POLE_GAP, frac), x)
        x = np.where(x > -POLE_GAP, -0.5, x)
    return x.astype(dtype)


@st.composite
def spec_args(draw, spec, dtypes=(F32, F64), max_side=4, min_dims=0):
    dtype = draw(st.sampled_from(dtypes))
    min_side = 1 if spec.reduces else 0
    min_dims = max(min_dims, min_side)
    shape = draw(shapes(min_dims=min_dims, max_dims=3, max_side=max_side, min_side=min_side)
                 .filter(lambda s: all(min_side <= d <= max_side for d in s)))
    seed = draw(st.integers(0, 2**31 - 1))
    return [_values(shape, dtype, d, seed + i) for i, d in enumerate(spec.domains)]


def _reference(spec, args):
    return spec.sp_fn(*[a.astype(F64) for a in args])


def _check_values(spec, args):
    got = spec.fg_fn(*args)
    assert isinstance(got, fg.Array), spec.name
    assert got.dtype == args[0].dtype, (spec.name, got.dtype)
    want = _reference(spec, args)
    if args[0].dtype == F64:
        assert_close(got, want, spec.rtol64, spec.atol64, err_msg=spec.name)
    else:
        assert_close(got, want, spec.rtol32, 1e-5, err_msg=spec.name)


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=scaled(8))
@given(data=st.data())
def test_values_against_scipy(spec, data):
    _check_values(spec, data.draw(spec_args(spec)))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=repr)
@settings(max_examples=scaled(2))
@given(data=st.data())
def test_grads_order2(spec, data):
    args = data.draw(spec_args(spec, dtypes=(F64,), max_side=3))
    check_grads(spec.fg_fn, args, order=2, modes=("fwd", "rev"))


VMAP_SPECS = [s for s in SPECS if s.name in ("gammaln", "digamma", "polygamma1", "xlogy",
                                             "logsumexp_axis_b", "erfc", "entr", "gammainc",
                                             "betainc")]


@pytest.mark.parametrize("spec", VMAP_SPECS, ids=repr)
@settings(max_examples=scaled(3))
@given(data=st.data())
def test_vmap_against_loop(spec, data):
    args = data.draw(spec_args(spec, max_side=3, min_dims=1))
    in_axes = [data.draw(st.sampled_from([0, -1, None])) for _ in args]
    if all(ax is None for ax in in_axes):
        in_axes[0] = 0
    size = data.draw(st.sampled_from([1, 3]))
    check_vmap(spec.fg_fn, args, in_axes, size, name=spec.name, rtol=1e-10, atol=1e-12)


JIT_SPECS = [s for s in SPECS if s.name in ("gammaln", "digamma", "polygamma3", "xlogy",
                                            "entr", "logsumexp_axis_b", "logit", "erfc",
                                            "gammaincc", "betainc")]


@pytest.mark.parametrize("spec", JIT_SPECS, ids=repr)
def test_jit_matches_eager(spec):
    args = [_values((2, 3), F64, d, 7 + i) for i, d in enumerate(spec.domains)]
    eager = spec.fg_fn(*args)
    got = fg.jit(spec.fg_fn, backend="numba-py")(*args)
    assert_close(got, eager, 1e-13, 1e-14, err_msg=spec.name)
    grad_fn = fg.grad(lambda *a: fg.numpy.sum(spec.fg_fn(*a)))
    assert_close(fg.jit(grad_fn, backend="numba-py")(*args), grad_fn(*args), 1e-12, 1e-13)


def test_jit_compiled_backend():
    f = lambda x, y: (special.gammaln(x) + special.xlogy(y, x) + special.digamma(x)  # noqa: E731
                      + special.gammainc(x, y + 2))
    x, y = np.linspace(0.5, 4.0, 6), np.linspace(-1.0, 1.0, 6)
    assert_close(fg.jit(f)(x, y), f(x, y), 1e-13, 1e-14)


# ---------------------------------------------------------------- primitives

def test_primitives_far_ranges_against_scipy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(1e-3, 40, 500), 10.0 ** rng.uniform(-6, 8, 200),
                        -rng.uniform(0.0, 1e5, 200) - 0.3])
    x = np.where(np.abs(x - np.round(x)) < 0.05, x + 0.1, x)
    pos = x > 0
    assert_close(lax.lgamma(x[pos]), ss.gammaln(x[pos]), 1e-13, 1e-13)
    assert_close(lax.lgamma(x[~pos]), ss.gammaln(x[~pos]), 1e-10, 1e-10)
    assert_close(lax.digamma(x), ss.digamma(x), 1e-10, 1e-10)
    for n in (1, 2, 5):
        assert_close(lax.polygamma(x[pos], n), ss.polygamma(n, x[pos]), 1e-12, 1e-14)
    assert_close(lax.erfc(np.linspace(-6, 27, 50)), ss.erfc(np.linspace(-6, 27, 50)), 1e-12, 1e-300)


def test_primitive_poles_and_infinities():
    x = np.array([0.0, -1.0, -2.0, 1.0, 2.0, np.inf, np.nan])
    assert_close(lax.lgamma(x), ss.gammaln(x), 1e-15, 0)
    d = np.asarray(lax.digamma(np.array([-1.0, 1.0, np.inf, np.nan])))
    assert np.isnan(d[0]) and np.isnan(d[3]) and d[2] == np.inf
    assert np.asarray(lax.digamma(np.array([0.0])))[0] == -np.inf
    assert np.asarray(lax.polygamma(np.array([0.0, -3.0]), 1)).tolist() == [np.inf, np.inf]


def test_primitive_float32_and_empty():
    x = np.linspace(0.3, 5.0, 5).astype(F32)
    for f, ref in ((lax.lgamma, ss.gammaln), (lax.digamma, ss.digamma), (lax.erfc, ss.erfc)):
        out = f(x)
        assert out.dtype == F32
        assert_close(out, ref(x.astype(F64)), 1e-6, 1e-6)
        assert f(np.zeros((0, 2), F32)).shape == (0, 2)


def test_polygamma_order_is_checked():
    with pytest.raises(errors.InvalidArgumentError, match="polygamma"):
        special.polygamma(1.5, 1.0)
    with pytest.raises(errors.InvalidArgumentError, match=">= 0"):
        special.polygamma(-1, 1.0)
    with pytest.raises(TypeError, match="lgamma"):
        lax.lgamma(np.arange(3))  # the primitive accepts floats only
    assert_close(special.polygamma(0, 2.0), ss.digamma(2.0), 1e-6, 0)


def test_high_order_derivatives_walk_the_family():
    x = 1.7
    d = special.gammaln
    for n in range(4):
        d = fg.grad(d)
        want = ss.digamma(x) if n == 0 else ss.polygamma(n, x)
        assert_close(d(np.float64(x)), want, 1e-12, 1e-13)


def test_integer_inputs_promote():
    out = special.gammaln(np.array([1, 2, 5]))
    assert out.dtype == F32
    assert_close(out, ss.gammaln([1, 2, 5]), 1e-6, 1e-6)


# ---------------------------------------------------------------- edge conventions (JAX's)

def test_xlogy_at_zero():
    assert float(special.xlogy(0.0, 0.0)) == 0.0
    assert np.isnan(float(special.xlogy(0.0, np.nan)))
    gx, gy = fg.grad(special.xlogy, argnums=(0, 1))(np.float64(0.0), np.float64(0.0))
    assert float(gy) == 0.0 and float(gx) == -np.inf
    gx, gy = fg.grad(special.xlogy, argnums=(0, 1))(np.float64(0.0), np.float64(2.0))
    assert_close(gx, np.log(2.0), 1e-15, 0)
    assert float(gy) == 0.0
    # Second derivative in y stays finite along x == 0.
    assert float(fg.grad(fg.grad(special.xlogy, argnums=1), argnums=1)(0.0, 0.0)) == 0.0


def test_xlog1py_at_zero():
    assert float(special.xlog1py(0.0, -1.0)) == 0.0
    gy = fg.grad(special.xlog1py, argnums=1)(np.float64(0.0), np.float64(-1.0))
    assert float(gy) == 0.0


def test_entr_edges():
    out = np.asarray(special.entr(np.array([0.0, -1.0, 1.0, np.nan])))
    assert out[0] == 0.0 and out[1] == -np.inf and out[2] == 0.0 and np.isnan(out[3])
    assert float(fg.grad(special.entr)(np.float64(0.0))) == np.inf


def test_logit_edges():
    out = np.asarray(special.logit(np.array([0.0, 1.0, -0.5, 1.5])))
    assert out[0] == -np.inf and out[1] == np.inf and np.isnan(out[2:]).all()


def test_logsumexp_signs_and_infinities():
    a = np.array([0.0, 0.0])
    out, sign = special.logsumexp(a, b=np.array([1.0, -2.0]), return_sign=True)
    ref, ref_sign = ss.logsumexp(a, b=[1.0, -2.0], return_sign=True)
    assert_close(out, ref, 1e-15, 0)
    assert float(sign) == ref_sign == -1.0
    assert np.isnan(float(special.logsumexp(a, b=np.array([1.0, -2.0]))))
    assert float(special.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    assert_close(special.logsumexp(np.array([1000.0, 1000.0])), 1000 + np.log(2), 1e-15, 0)
    g = fg.grad(lambda a: special.logsumexp(a, b=np.array([1.0, 3.0])))(np.array([0.5, 1.0]))
    w = np.array([1.0, 3.0]) * np.exp([0.5, 1.0])
    assert_close(g, w / w.sum(), 1e-14, 0)


def test_real_inputs_only():
    with pytest.raises(TypeError, match="scipy.special.gammaln"):
        special.gammaln(np.array([1.0 + 1.0j]))
