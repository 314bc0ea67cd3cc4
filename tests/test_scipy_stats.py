"""funcgrad.scipy.stats against scipy.stats: values on hypothesis-drawn inputs (in and out of
each support), derivatives in x and in the parameters at order 2 (forward and reverse), vmap
against a loop and jit against eager, and the edge cases one by one."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import scipy.stats as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors
from funcgrad.scipy import stats
from funcgrad.testing import check_grads
from tests.harness import F32, F64, assert_close, check_vmap, scaled


@dataclasses.dataclass
class StatSpec:
    name: str
    fg_fn: Callable
    sp_fn: Callable
    domains: tuple            # per argument: (lo, hi) floats, or ("int", lo, hi)
    diff: tuple = (0,)        # arguments differentiated by the gradient checks
    rtol64: float = 1e-11
    atol64: float = 1e-12
    grad_domains: tuple | None = None  # inside the support (finite differences of -inf: NaN)

    def __repr__(self):
        return self.name


REAL, POS, UNIT = (-3.0, 3.0), (0.3, 4.0), (0.05, 0.95)
SHAPE_PARAM = (0.6, 5.0)

SPECS = [
    StatSpec("norm.logpdf", stats.norm.logpdf, ss.norm.logpdf, (REAL, REAL, POS), (0, 1, 2)),
    StatSpec("norm.pdf", stats.norm.pdf, ss.norm.pdf, (REAL, REAL, POS), (0, 1, 2)),
    StatSpec("norm.cdf", stats.norm.cdf, ss.norm.cdf, (REAL, REAL, POS), (0, 1, 2)),
    StatSpec("norm.logcdf", stats.norm.logcdf, ss.norm.logcdf, ((-40.0, 8.0), REAL, POS),
             (0, 2), rtol64=1e-10),
    StatSpec("norm.sf", stats.norm.sf, ss.norm.sf, (REAL,)),
    StatSpec("norm.logsf", stats.norm.logsf, ss.norm.logsf, ((-8.0, 40.0),), rtol64=1e-10),
    StatSpec("norm.ppf", stats.norm.ppf, ss.norm.ppf, (UNIT, REAL, POS), (0, 1, 2),
             rtol64=1e-10, atol64=1e-11),
    StatSpec("norm.isf", stats.norm.isf, ss.norm.isf, (UNIT,), rtol64=1e-10, atol64=1e-11),
    StatSpec("t.logpdf", stats.t.logpdf, ss.t.logpdf, (REAL, SHAPE_PARAM, REAL, POS),
             (0, 1, 2, 3), rtol64=1e-10),
    StatSpec("t.pdf", stats.t.pdf, ss.t.pdf, (REAL, SHAPE_PARAM), (0, 1), rtol64=1e-10),
    StatSpec("beta.logpdf", stats.beta.logpdf, ss.beta.logpdf, (UNIT, SHAPE_PARAM, SHAPE_PARAM),
             (0, 1, 2), rtol64=1e-10),
    StatSpec("beta.logpdf_loc_scale", stats.beta.logpdf, ss.beta.logpdf,
             ((-1.0, 3.0), SHAPE_PARAM, SHAPE_PARAM, (-0.5, 0.5), (1.0, 2.0)), (0, 1, 2, 3, 4),
             rtol64=1e-10,
             grad_domains=((0.05, 0.45), SHAPE_PARAM, SHAPE_PARAM, (-0.5, 0.0), (1.0, 2.0))),
    StatSpec("beta.pdf", stats.beta.pdf, ss.beta.pdf, (UNIT, SHAPE_PARAM, SHAPE_PARAM),
             (0, 1, 2), rtol64=1e-10),
    StatSpec("gamma.logpdf", stats.gamma.logpdf, ss.gamma.logpdf,
             (POS, SHAPE_PARAM, (-0.2, 0.2), POS), (0, 1, 3), rtol64=1e-10),
    StatSpec("gamma.logpdf_below_loc", stats.gamma.logpdf, ss.gamma.logpdf,
             (REAL, SHAPE_PARAM, REAL), (1,), rtol64=1e-10,
             grad_domains=((1.0, 3.0), SHAPE_PARAM, (-1.0, 0.5))),
    StatSpec("gamma.pdf", stats.gamma.pdf, ss.gamma.pdf, (POS, SHAPE_PARAM), (0, 1),
             rtol64=1e-10),
    StatSpec("poisson.logpmf", stats.poisson.logpmf, ss.poisson.logpmf,
             (("int", -2, 12), (0.1, 9.0)), (1,), rtol64=1e-10, atol64=1e-11,
             grad_domains=(("int", 0, 12), (0.1, 9.0))),
    StatSpec("poisson.pmf", stats.poisson.pmf, ss.poisson.pmf,
             (("int", -2, 12), (0.1, 9.0), ("int", -1, 2)), (1,), rtol64=1e-10,
             grad_domains=(("int", 1, 12), (0.1, 9.0), ("int", -1, 1))),
    StatSpec("gamma.cdf", stats.gamma.cdf, ss.gamma.cdf, (POS, SHAPE_PARAM, (-0.2, 0.2), POS),
             (0, 1, 2, 3), rtol64=1e-13, atol64=1e-15),
    StatSpec("gamma.cdf_below_loc", stats.gamma.cdf, ss.gamma.cdf, (REAL, SHAPE_PARAM, REAL),
             (0, 1, 2), rtol64=1e-13, atol64=1e-15,
             grad_domains=((1.0, 3.0), SHAPE_PARAM, (-1.0, 0.5))),
    StatSpec("gamma.sf", stats.gamma.sf, ss.gamma.sf, (POS, SHAPE_PARAM, REAL, POS), (0, 1, 3),
             rtol64=1e-13, atol64=1e-15, grad_domains=(POS, SHAPE_PARAM, (-1.0, 0.2), POS)),
    StatSpec("gamma.logcdf", stats.gamma.logcdf, ss.gamma.logcdf, (POS, SHAPE_PARAM),
             rtol64=1e-13),
    StatSpec("gamma.logsf", stats.gamma.logsf, ss.gamma.logsf, ((0.3, 40.0), SHAPE_PARAM),
             rtol64=1e-13),
    StatSpec("beta.cdf", stats.beta.cdf, ss.beta.cdf, (UNIT, SHAPE_PARAM, SHAPE_PARAM),
             (0, 1, 2), rtol64=1e-13, atol64=1e-15),
    StatSpec("beta.cdf_loc_scale", stats.beta.cdf, ss.beta.cdf,
             ((-1.0, 3.0), SHAPE_PARAM, SHAPE_PARAM, (-0.5, 0.5), (1.0, 2.0)), (0, 3, 4),
             rtol64=1e-13, atol64=1e-15,
             grad_domains=((0.05, 0.45), SHAPE_PARAM, SHAPE_PARAM, (-0.5, 0.0), (1.0, 2.0))),
    StatSpec("beta.sf", stats.beta.sf, ss.beta.sf, (UNIT, SHAPE_PARAM, SHAPE_PARAM), (0, 2),
             rtol64=1e-13, atol64=1e-15),
    StatSpec("beta.logcdf", stats.beta.logcdf, ss.beta.logcdf, (UNIT, SHAPE_PARAM, SHAPE_PARAM),
             rtol64=1e-13),
    StatSpec("beta.logsf", stats.beta.logsf, ss.beta.logsf, (UNIT, SHAPE_PARAM, SHAPE_PARAM),
             rtol64=1e-13),
    StatSpec("poisson.cdf", stats.poisson.cdf, ss.poisson.cdf,
             (("int", -2, 12), (0.1, 9.0), ("int", -1, 2)), (1,), rtol64=1e-13, atol64=1e-15),
    StatSpec("t.cdf", stats.t.cdf, ss.t.cdf, ((-8.0, 8.0), SHAPE_PARAM, REAL, POS), (0, 1, 3),
             rtol64=1e-13, atol64=1e-15),
    StatSpec("bernoulli.logpmf", stats.bernoulli.logpmf, ss.bernoulli.logpmf,
             (("int", -1, 3), UNIT), (1,), grad_domains=(("int", 0, 2), UNIT)),
    StatSpec("bernoulli.pmf", stats.bernoulli.pmf, ss.bernoulli.pmf,
             (("int", -1, 3), UNIT), (1,), grad_domains=(("int", 0, 2), UNIT)),
    StatSpec("bernoulli.cdf", stats.bernoulli.cdf, ss.bernoulli.cdf, (REAL, UNIT), (1,)),
]


def _draw(shape, dtype, domain, seed):
    rng = np.random.default_rng(seed)
    if domain[0] == "int":
        return rng.integers(domain[1], domain[2], size=shape).astype(dtype)
    return rng.uniform(*domain, size=shape).astype(dtype)


@st.composite
def spec_args(draw, spec, dtypes=(F32, F64), domains=None):
    domains = domains or spec.domains
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(st.sampled_from([(), (1,), (0,), (3,), (2, 3)]))
    seed = draw(st.integers(0, 2**31 - 1))
    # Parameters are drawn as scalars or with the full shape, so broadcasting is exercised.
    shapes = [shape] + [draw(st.sampled_from([(), shape])) for _ in domains[1:]]
    return [_draw(s, dtype, d, seed + i) for i, (s, d) in enumerate(zip(shapes, domains))]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=scaled(8))
@given(data=st.data())
def test_values_against_scipy(spec, data):
    args = data.draw(spec_args(spec))
    got = spec.fg_fn(*args)
    want = spec.sp_fn(*[a.astype(F64) for a in args])
    assert got.dtype == args[0].dtype
    if args[0].dtype == F64:
        assert_close(got, want, spec.rtol64, spec.atol64, err_msg=spec.name)
    else:
        assert_close(got, want, 5e-5, 1e-5, err_msg=spec.name)


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=scaled(2))
@given(data=st.data())
def test_grads_order2(spec, data):
    args = data.draw(spec_args(spec, dtypes=(F64,), domains=spec.grad_domains))
    if spec.name.startswith("bernoulli.cdf"):  # away from the jumps at k = 0 and k = 1
        args[0] = np.where(np.abs(args[0]) < 0.05, 0.5, np.where(
            np.abs(args[0] - 1) < 0.05, 0.5, args[0]))

    def f(*diff):
        full = list(args)
        for i, d in zip(spec.diff, diff):
            full[i] = d
        return spec.fg_fn(*full)
    check_grads(f, [args[i] for i in spec.diff], order=2, modes=("fwd", "rev"))


def test_grads_match_scipy_finite_differences():
    # d/dmu poisson.logpmf = k / mu - 1; d/da gamma.logpdf = log(x) - digamma(a).
    import scipy.special as sps
    k, mu = np.array([0.0, 3.0, 7.0]), np.array([0.5, 2.0, 6.0])
    g = fg.grad(lambda m: fnp.sum(stats.poisson.logpmf(k, m)))(mu)
    assert_close(g, k / mu - 1, 1e-13, 1e-14)
    x, a = np.array([0.5, 2.0]), np.array([1.5, 3.0])
    g = fg.grad(lambda a: fnp.sum(stats.gamma.logpdf(x, a)))(a)
    assert_close(g, np.log(x) - sps.digamma(a), 1e-12, 1e-13)


VMAP_SPECS = [s for s in SPECS if s.name in ("norm.logpdf", "t.logpdf", "beta.logpdf",
                                             "poisson.logpmf", "norm.logcdf", "gamma.cdf",
                                             "beta.cdf", "poisson.cdf", "t.cdf")]


@pytest.mark.parametrize("spec", VMAP_SPECS, ids=repr)
@settings(max_examples=scaled(3))
@given(data=st.data())
def test_vmap_against_loop(spec, data):
    args = [_draw((3,), F64, d, data.draw(st.integers(0, 2**16)) + i)
            for i, d in enumerate(spec.domains)]
    in_axes = [data.draw(st.sampled_from([0, None])) for _ in args]
    in_axes[0] = 0
    check_vmap(spec.fg_fn, args, in_axes, 2, name=spec.name, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("spec", VMAP_SPECS, ids=repr)
def test_jit_matches_eager(spec):
    args = [_draw((4,), F64, d, 3 + i) for i, d in enumerate(spec.domains)]
    got = fg.jit(spec.fg_fn, backend="numba-py")(*args)
    assert_close(got, spec.fg_fn(*args), 1e-13, 1e-13, err_msg=spec.name)


# ---------------------------------------------------------------- dirichlet

def _simplex(rng, k, n):
    return rng.dirichlet(np.ones(k), size=n).T  # [k, n]: points along the trailing axis


@settings(max_examples=scaled(8))
@given(seed=st.integers(0, 2**16), k=st.integers(2, 5), n=st.integers(1, 4),
       dtype=st.sampled_from([F32, F64]))
def test_dirichlet_against_scipy(seed, k, n, dtype):
    rng = np.random.default_rng(seed)
    x = _simplex(rng, k, n)
    alpha = rng.uniform(0.5, 4.0, k)
    got = stats.dirichlet.logpdf(x.astype(dtype), alpha.astype(dtype))
    tol = (1e-11, 1e-11) if dtype == F64 else (1e-4, 1e-4)
    assert_close(got, np.reshape(ss.dirichlet.logpdf(x, alpha), (n,)), *tol)
    assert_close(stats.dirichlet.pdf(x[:, 0], alpha), ss.dirichlet.pdf(x[:, 0], alpha),
                 *(1e-10, 1e-11) if dtype == F64 else (1e-4, 1e-4))
    # K - 1 coordinates: the last one is implied.
    assert_close(stats.dirichlet.logpdf(x[:-1], alpha),
                 np.reshape(ss.dirichlet.logpdf(x, alpha), (n,)), *tol)


def test_dirichlet_grads_and_support():
    rng = np.random.default_rng(1)
    x, alpha = _simplex(rng, 3, 2), np.array([1.5, 2.0, 3.5])
    check_grads(lambda a: stats.dirichlet.logpdf(x, a), [alpha], order=2)
    # In x through the K - 1 free coordinates (the perturbed points stay on the simplex).
    check_grads(lambda x0: stats.dirichlet.logpdf(x0, alpha), [x[:-1]], order=2)
    off = np.array([[0.5, -0.1], [0.6, 0.6], [0.3, 0.5]])
    assert np.all(np.asarray(stats.dirichlet.logpdf(off, alpha)) == -np.inf)
    with pytest.raises(errors.ShapeError, match="dirichlet.logpdf"):
        stats.dirichlet.logpdf(np.ones(5) / 5, alpha)


# ---------------------------------------------------------------- multivariate_normal

def _spd(rng, n, batch=()):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@settings(max_examples=scaled(8))
@given(seed=st.integers(0, 2**16), n=st.integers(1, 4), m=st.integers(1, 3),
       dtype=st.sampled_from([F32, F64]))
def test_multivariate_normal_against_scipy(seed, n, m, dtype):
    rng = np.random.default_rng(seed)
    cov, mean, x = _spd(rng, n), rng.normal(size=n), rng.normal(size=(m, n))
    got = stats.multivariate_normal.logpdf(x.astype(dtype), mean.astype(dtype),
                                           cov.astype(dtype))
    assert got.dtype == dtype and got.shape == (m,)
    tol = (1e-11, 1e-11) if dtype == F64 else (1e-4, 1e-4)
    assert_close(got, ss.multivariate_normal.logpdf(x, mean, cov).reshape(m), *tol)
    assert_close(stats.multivariate_normal.pdf(x, mean, cov),
                 ss.multivariate_normal.pdf(x, mean, cov).reshape(m), 1e-10, 1e-14)


def test_multivariate_normal_scalar_and_isotropic_cov():
    x = np.array([[0.3, -1.0], [2.0, 0.5]])
    assert_close(stats.multivariate_normal.logpdf(x, np.zeros(2), 2.0),
                 ss.multivariate_normal.logpdf(x, np.zeros(2), 2.0 * np.eye(2)), 1e-12, 1e-12)
    xs = np.array([0.1, 1.5])
    assert_close(stats.multivariate_normal.logpdf(xs, 0.5, 3.0), ss.norm.logpdf(xs, 0.5,
                 np.sqrt(3.0)), 1e-12, 1e-12)


def test_multivariate_normal_batched_cov_grads_vmap():
    rng = np.random.default_rng(2)
    covs, means, x = _spd(rng, 3, (2,)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    got = stats.multivariate_normal.logpdf(x, means, covs)
    want = [ss.multivariate_normal.logpdf(x[i], means[i], covs[i]) for i in range(2)]
    assert_close(got, np.array(want), 1e-11, 1e-11)
    # Derivatives in x, mean and cov (symmetric perturbations keep cov valid).
    check_grads(lambda x, m: stats.multivariate_normal.logpdf(x, m, covs), [x, means], order=2)
    check_grads(lambda c: stats.multivariate_normal.logpdf(x, means, (c + np.swapaxes(c, -1, -2))
                                                           / 2), [covs], order=2)
    check_vmap(stats.multivariate_normal.logpdf, [x, means, covs], [0, 0, 0], 2,
               name="mvn", rtol=1e-11, atol=1e-12)
    jitted = fg.jit(stats.multivariate_normal.logpdf, backend="numba-py")
    assert_close(jitted(x, means, covs), got, 1e-12, 1e-12)


def test_multivariate_normal_shape_errors():
    with pytest.raises(errors.ShapeError, match="multivariate_normal.logpdf"):
        stats.multivariate_normal.logpdf(np.zeros(3), np.zeros(2), np.eye(2))
    with pytest.raises(errors.ShapeError, match="cov"):
        stats.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(3))


# ---------------------------------------------------------------- edge cases

def test_poisson_at_zero():
    assert float(stats.poisson.logpmf(0.0, 2.5)) == -2.5
    assert float(stats.poisson.pmf(0.0, 0.0)) == 1.0
    assert float(stats.poisson.logpmf(1.5, 2.0)) == -np.inf
    assert float(stats.poisson.logpmf(-1.0, 2.0)) == -np.inf
    g = fg.grad(lambda mu: stats.poisson.logpmf(0.0, mu))(np.float64(0.0))
    assert float(g) == -1.0  # d/dmu (-mu); the xlogy term is 0 along k == 0


def test_bernoulli_edges():
    assert float(stats.bernoulli.logpmf(1.0, 1.0)) == 0.0
    assert float(stats.bernoulli.logpmf(0.0, 0.0)) == 0.0
    assert float(stats.bernoulli.logpmf(1.0, 0.0)) == -np.inf
    assert np.isnan(float(stats.bernoulli.cdf(0.5, 1.5)))
    q = np.array([0.1, 0.5, 0.9])
    assert_close(stats.bernoulli.ppf(q, 0.3), ss.bernoulli.ppf(q, 0.3), 0, 0)


def test_beta_boundaries():
    # a == 1 or b == 1 makes the density finite (and exact) at the end points.
    assert_close(stats.beta.logpdf(np.array([0.0, 1.0]), 1.0, 2.0),
                 ss.beta.logpdf([0.0, 1.0], 1.0, 2.0), 1e-14, 1e-14)
    out = np.asarray(stats.beta.logpdf(np.array([-0.1, 1.1]), 2.0, 2.0))
    assert np.all(out == -np.inf)


def test_norm_tails():
    x = np.array([-1e3, -60.0, -38.5, 10.0])
    assert_close(stats.norm.logcdf(x), ss.norm.logcdf(x), 1e-12, 0)
    g = fg.grad(lambda x: stats.norm.logcdf(x))(np.float64(-60.0))
    assert_close(g, 60.0 + 1 / 60.0 - 2 / 60.0 ** 3, 1e-7, 0)  # ~ -x - 1/x - ...
    assert float(stats.norm.cdf(-40.0)) == 0.0
    assert np.isfinite(float(fg.grad(stats.norm.logcdf)(np.float64(-1e3))))
