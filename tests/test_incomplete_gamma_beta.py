"""The incomplete gamma and beta primitives (``igamma``, ``igammac``, ``igamma_grad_a``,
``betainc``, ``betainc_grad``) and ``polygamma`` with array orders.

Values are checked against scipy.special over wide parameter ranges and at the edges; the
derivatives in the shape parameters against closed forms and against finite differences of
SciPy's (independent) implementation; derivatives of every order through ``check_grads``;
vmap against a loop and jit against eager. The spec-table checks of the public functions live
in tests/test_scipy_special.py and tests/test_scipy_stats.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as ss
import scipy.stats as sst
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from funcgrad.scipy import special, stats
from funcgrad.testing import check_grads
from tests.harness import F32, F64, assert_close, check_vmap, scaled

EULER = 0.5772156649015329


def _gamma_points(rng, n):
    """Shape parameters from 1e-3 to 1e3 and x spread around the bulk (a +- a few sqrt(a))
    and far into both tails."""
    a = 10.0 ** rng.uniform(-3, 3, n)
    spread = np.sqrt(a) * rng.normal(0, 3, n)
    x = np.where(rng.random(n) < 0.5, np.abs(a + spread), 10.0 ** rng.uniform(-4, 3.2, n))
    return a, x


def _beta_points(rng, n):
    a, b = 10.0 ** rng.uniform(-2, 3, n), 10.0 ** rng.uniform(-2, 3, n)
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    x = np.where(rng.random(n) < 0.5, mean + sd * rng.normal(0, 3, n), rng.random(n))
    return a, b, np.clip(x, 1e-12, 1 - 1e-12)


def _relative_error(got, want, floor=1e-30):
    # SciPy loses digits deep in the tails: up to 2e-12 relative for a of several hundred and
    # values below 1e-30, more for a of 1e5 and beyond, where mpmath agrees with funcgrad to
    # 1e-13 instead.
    got, want = np.asarray(got, F64), np.asarray(want, F64)
    ok = np.abs(want) > floor
    return np.abs(got[ok] - want[ok]) / np.abs(want[ok])


@settings(max_examples=scaled(4))
@given(seed=st.integers(0, 2**31 - 1))
def test_incomplete_gamma_wide_range_against_scipy(seed):
    a, x = _gamma_points(np.random.default_rng(seed), 300)
    assert _relative_error(lax.igamma(a, x), ss.gammainc(a, x)).max() < 3e-12
    assert _relative_error(lax.igammac(a, x), ss.gammaincc(a, x)).max() < 3e-12


@settings(max_examples=scaled(4))
@given(seed=st.integers(0, 2**31 - 1))
def test_incomplete_beta_wide_range_against_scipy(seed):
    a, b, x = _beta_points(np.random.default_rng(seed), 300)
    assert _relative_error(lax.betainc(a, b, x), ss.betainc(a, b, x)).max() < 1e-12


def test_tiny_parameters_keep_relative_accuracy():
    # Q(a, x) ~ a E1(x) and 1 - I_x(a, b) ~ b (...) for tiny a, b: computed directly, not
    # as 1 - (a number near 1).
    a = np.array([1e-12, 1e-8, 1e-4, 0.3])
    x = np.array([0.5, 1.0, 1.2, 0.9])
    assert_close(lax.igammac(a, x), ss.gammaincc(a, x), 1e-13, 0)
    b = np.array([1e-10, 1e-6, 1e-3, 0.2])
    assert_close(lax.betainc(b, np.full(4, 3.0), np.full(4, 0.9)),
                 ss.betaincc(np.full(4, 3.0), b, np.full(4, 0.1)), 1e-13, 0)


def test_edges_and_invalid_arguments():
    inf, nan = np.inf, np.nan
    a = np.array([0.0, 0.0, 1.0, 1.0, 2.0, inf, inf, -1.0, 1.0, nan, 3.0])
    x = np.array([1.0, 0.0, 0.0, inf, -1.0, 1.0, inf, 1.0, nan, 1.0, 1e-320])
    assert_close(lax.igamma(a, x), ss.gammainc(a, x), 0, 0)
    assert_close(lax.igammac(a, x), ss.gammaincc(a, x), 0, 0)
    a = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 2.0, -1.0, inf, 1.0, 2.0, 2.0])
    b = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 3.0, 3.0, 2.0, 1.0, inf, nan, 3.0])
    x = np.array([0.5, 0.5, 0.5, 0.0, 1.0, -0.1, 1.1, 0.5, 0.5, 0.5, 0.5, 0.0])
    assert_close(lax.betainc(a, b, x), ss.betainc(a, b, x), 0, 0)
    # Derivatives are 0 where the function is locally constant.
    assert np.asarray(lax.igamma_grad_a(np.array([2.0, 2.0]), np.array([0.0, inf]))).tolist() \
        == [0.0, 0.0]


def test_float32_empty_and_dtypes():
    a, x = np.linspace(0.3, 5.0, 7).astype(F32), np.linspace(0.1, 8.0, 7).astype(F32)
    out = lax.igamma(a, x)
    assert out.dtype == F32
    assert_close(out, ss.gammainc(a.astype(F64), x.astype(F64)), 2e-6, 1e-7)
    out = lax.betainc(a, x, np.linspace(0.05, 0.95, 7).astype(F32))
    assert out.dtype == F32
    for f, nargs in ((lax.igamma, 2), (lax.igammac, 2), (lax.betainc, 3)):
        assert f(*[np.zeros((0, 2), F32)] * nargs).shape == (0, 2)
    with pytest.raises(TypeError, match="igamma"):
        lax.igamma(np.ones(2), np.ones(3))  # the primitive needs equal shapes
    with pytest.raises(errors.ShapeError, match="gammainc"):
        special.gammainc(np.ones(2), np.ones(3))  # the public function broadcasts
    assert special.gammainc(np.ones((2, 1)), np.ones(3)).shape == (2, 3)


# ---------------------------------------------------------------- derivatives in a and b

def test_derivatives_against_closed_forms():
    x = np.array([0.01, 0.5, 2.0, 7.0, 30.0])
    # dQ/da at a = 1 is exp(-x) (log x + euler) + E1(x).
    want = -(np.exp(-x) * (np.log(x) + EULER) + ss.exp1(x))
    assert_close(lax.igamma_grad_a(np.ones(5), x), want, 1e-13, 1e-300)
    # I_x(a, 1) = x**a and I_x(1, b) = 1 - (1 - x)**b, differentiated to order 3.
    a, y = np.array([0.05, 0.7, 3.0, 40.0, 300.0]), np.array([0.3, 0.6, 0.9, 0.95, 0.999])
    one = np.ones(5)
    for order in (1, 2, 3):
        assert_close(lax.betainc_grad(a, one, y, order, 0), y ** a * np.log(y) ** order,
                     1e-12, 1e-300)
        assert_close(lax.betainc_grad(one, a, y, 0, order),
                     -((1 - y) ** a) * np.log1p(-y) ** order, 1e-12, 1e-300)


def _richardson_derivative(f, t, h):
    """A fourth-order central difference of f at t."""
    return (8 * (f(t + h) - f(t - h)) - (f(t + 2 * h) - f(t - 2 * h))) / (12 * h)


def test_derivatives_against_finite_differences_of_scipy():
    rng = np.random.default_rng(5)
    a = 10.0 ** rng.uniform(-1, 2.5, 40)
    x = a * np.exp(rng.normal(0, 0.3, 40))
    want = _richardson_derivative(lambda s: ss.gammainc(s, x), a, 1e-3 * a)
    assert_close(lax.igamma_grad_a(a, x), want, 1e-7, 1e-12)
    a, b = 10.0 ** rng.uniform(-0.5, 2, 40), 10.0 ** rng.uniform(-0.5, 2, 40)
    y = np.clip(a / (a + b) + rng.normal(0, 0.1, 40), 0.01, 0.99)
    want_a = _richardson_derivative(lambda s: ss.betainc(s, b, y), a, 1e-3 * a)
    want_b = _richardson_derivative(lambda s: ss.betainc(a, s, y), b, 1e-3 * b)
    assert_close(lax.betainc_grad(a, b, y, 1, 0), want_a, 1e-7, 1e-12)
    assert_close(lax.betainc_grad(a, b, y, 0, 1), want_b, 1e-7, 1e-12)


@pytest.mark.parametrize("fn, domains", [
    (lax.igamma, ((20.0, 200.0), None)),
    (lax.igammac, ((0.01, 0.4), (0.05, 3.0))),
    (lax.betainc, ((20.0, 80.0), (0.05, 0.6), (0.9, 0.99))),
    (lambda a, x: lax.igamma_grad_a(a, x, 2), ((0.5, 4.0), (0.5, 4.0))),
], ids=["igamma_large_a", "igammac_small_a", "betainc_skewed", "igamma_grad_a_order2"])
def test_grads_order2_outside_the_spec_domains(fn, domains):
    rng = np.random.default_rng(11)
    args = [rng.uniform(*d, size=(4,)) if d else None for d in domains]
    if args[-1] is None:  # x around a, where P moves
        args[-1] = args[0] * rng.uniform(0.9, 1.1, size=(4,))
    check_grads(fn, args, order=2, modes=("fwd", "rev"))


def test_third_order_mixed_derivatives():
    a, b, x = np.array([0.7, 2.5]), np.array([1.5, 0.4]), np.array([0.3, 0.8])
    check_grads(lax.betainc, [a, b, x], order=3, modes=("rev",))
    check_grads(lax.igammac, [a, b], order=3, modes=("fwd",))


def test_derivative_order_params_are_checked():
    with pytest.raises(errors.InvalidArgumentError, match="igamma_grad_a"):
        lax.igamma_grad_a(np.ones(2), np.ones(2), 0)
    with pytest.raises(errors.InvalidArgumentError, match="betainc_grad"):
        lax.betainc_grad(np.ones(2), np.ones(2), np.ones(2) / 2, 0, 0)


# ---------------------------------------------------------------- vmap and jit

@pytest.mark.parametrize("fn, nargs", [(lax.igamma, 2), (lax.igammac, 2), (lax.betainc, 3),
                                       (lambda a, x: lax.igamma_grad_a(a, x, 2), 2),
                                       (lambda a, b, x: lax.betainc_grad(a, b, x, 1, 1), 3)],
                         ids=["igamma", "igammac", "betainc", "igamma_grad_a", "betainc_grad"])
@settings(max_examples=scaled(3))
@given(data=st.data())
def test_primitives_vmap_against_loop(fn, nargs, data):
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    args = [rng.uniform(0.3, 4.0, (2, 3)) for _ in range(nargs - 1)] + [rng.uniform(0.1, 0.9,
                                                                              (2, 3))]
    in_axes = [data.draw(st.sampled_from([0, 1, None])) for _ in args]
    if all(ax is None for ax in in_axes):
        in_axes[0] = 0
    check_vmap(fn, args, in_axes, 3, name="incomplete", rtol=1e-13, atol=1e-15)


def test_jit_matches_eager_with_derivatives():
    a, b, x = np.array([0.5, 2.0, 9.0]), np.array([1.5, 0.3, 4.0]), np.array([0.2, 0.7, 0.4])

    def f(a, b, x):
        return fnp.sum(special.betainc(a, b, x) * special.gammaincc(a, 10 * x))

    grad = fg.grad(f, argnums=(0, 1, 2))
    for got, want in zip(fg.jit(grad, backend="numba-py")(a, b, x), grad(a, b, x)):
        assert_close(got, want, 1e-13, 1e-15)


# ---------------------------------------------------------------- polygamma, orders as arrays

def test_polygamma_array_orders_against_scipy():
    n = np.array([0, 1, 2, 3, 5, 0, 4])
    x = np.array([0.3, 1.7, 4.0, 0.9, 12.0, -1.5, -0.4])
    assert_close(special.polygamma(n, x), ss.polygamma(n, x), 1e-12, 1e-12)
    assert_close(special.polygamma(n[:, None], x[None, :3]),
                 ss.polygamma(n[:, None], x[None, :3]), 1e-12, 1e-12)
    # Orders only known at run time: negative ones give NaN.
    assert np.isnan(np.asarray(lax.polygamma_array(np.array([-1.0, 1.5]), np.ones(2)))).all()


def test_polygamma_traced_orders_under_jit_vmap_and_grad():
    n, x = np.array([1, 2, 3]), np.array([0.6, 2.5, 7.0])
    want = ss.polygamma(n, x)
    assert_close(fg.jit(special.polygamma)(n, x), want, 1e-12, 1e-14)
    assert_close(fg.vmap(special.polygamma)(n, x), want, 1e-12, 1e-14)
    assert_close(fg.vmap(special.polygamma, in_axes=(0, None))(n, np.float64(1.5)),
                 ss.polygamma(n, 1.5), 1e-12, 1e-14)
    g = fg.grad(lambda x: fnp.sum(special.polygamma(n, x)))(x)
    assert_close(g, ss.polygamma(n + 1, x), 1e-12, 1e-14)
    check_grads(lambda x: special.polygamma(n, x), [x], order=2)


def test_polygamma_order_errors():
    with pytest.raises(errors.InvalidArgumentError, match="integer array"):
        special.polygamma(np.array([1.0, 2.0]), 1.0)
    with pytest.raises(errors.InvalidArgumentError, match="not differentiable"):
        fg.grad(lambda n: fnp.sum(lax.polygamma_array(n, np.ones(2))))(np.ones(2))


# ---------------------------------------------------------------- stats edges

def test_cdfs_outside_the_support_have_finite_gradients():
    # Below loc the gamma CDF is 0 whatever a is; the branch not taken must not leak NaN
    # (P's derivative in x is infinite at 0 for a < 1).
    g = fg.grad(lambda x, a: fnp.sum(stats.gamma.cdf(x, a)), argnums=(0, 1))(
        np.array([-1.0, 2.0]), np.array([0.5, 0.5]))
    assert np.isfinite(np.asarray(g[0])).all() and np.isfinite(np.asarray(g[1])).all()
    assert float(g[0][0]) == 0.0
    g = fg.grad(lambda x: fnp.sum(stats.beta.cdf(x, 0.5, 0.5)))(np.array([-0.5, 0.5, 1.5]))
    assert np.asarray(g).tolist()[0] == 0.0 and np.asarray(g).tolist()[2] == 0.0
    g = fg.grad(lambda mu: fnp.sum(stats.poisson.cdf(np.array([-1.0, 0.0, 3.0]), mu)))(
        np.float64(2.0))
    want = -sst.poisson.pmf(0, 2.0) - sst.poisson.pmf(3, 2.0)
    assert_close(g, want, 1e-13, 0)


def test_t_cdf_center_tails_and_symmetry():
    df = np.array([0.3, 1.0, 4.0, 30.0, 1e3])
    # At the centre: value 1/2 and derivative pdf(0), through the power series. (The reference
    # for df = 1e3 is mpmath's; SciPy's t.pdf is off by 4e-13 there.)
    assert_close(stats.t.cdf(np.zeros(5), df), np.full(5, 0.5), 0, 0)
    g = fg.grad(lambda x: fnp.sum(stats.t.cdf(x, df)))(np.zeros(5))
    want = np.append(sst.t.pdf(0.0, df[:4]), 0.398842557313858155)
    assert_close(g, want, 1e-13, 0)
    check_grads(lambda x: stats.t.cdf(x, np.array([0.7, 3.0, 50.0])),
                [np.array([0.0, 0.05, -0.2])], order=2)
    z = np.array([-300.0, -20.0, -3.0, -0.7, 0.01, 2.0, 40.0])
    d = np.array([0.5, 2.0, 30.0, 100.0, 5.0, 1.0, 3.0])
    assert_close(stats.t.cdf(z, d), sst.t.cdf(z, d), 1e-13, 0)
    assert_close(stats.t.cdf(z, d) + stats.t.cdf(-z, d), np.ones(7), 1e-15, 0)
