"""funcgrad.scipy.linalg against scipy.linalg: values on hypothesis-drawn matrices (float64
and float32, vectors and matrices as right-hand sides, batches), derivatives at order 2 in
forward and reverse mode, vmap against a loop, jit against eager, and expm at small and
large norms (its derivative against finite differences)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors
from funcgrad.scipy import linalg
from funcgrad.testing import check_grads
from tests.harness import F32, F64, assert_close, check_vmap, scaled


def _tol(dtype):
    return (1e-10, 1e-11) if dtype == F64 else (2e-4, 2e-4)


def _triangular(rng, n, lower, batch=()):
    a = rng.normal(size=batch + (n, n)) + 3 * np.eye(n) * np.sign(rng.normal(size=n))
    # Random numbers in the other triangle, which must not be read.
    return a


def _spd(rng, n, batch=()):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _well_conditioned(rng, n, batch=()):
    return rng.normal(size=batch + (n, n)) + 2 * n ** 0.5 * np.eye(n)


rhs_shapes = st.sampled_from(["vector", 1, 3])


def _rhs(rng, n, kind, batch=()):
    return rng.normal(size=batch + ((n,) if kind == "vector" else (n, kind)))


# ---------------------------------------------------------------- solve_triangular

@settings(max_examples=scaled(10))
@given(seed=st.integers(0, 2**16), n=st.integers(1, 5), kind=rhs_shapes,
       trans=st.sampled_from([0, 1, 2, "N", "T", "C"]), lower=st.booleans(),
       unit=st.booleans(), dtype=st.sampled_from([F32, F64]))
def test_solve_triangular_against_scipy(seed, n, kind, trans, lower, unit, dtype):
    rng = np.random.default_rng(seed)
    a, b = _triangular(rng, n, lower), _rhs(rng, n, kind)
    got = linalg.solve_triangular(a.astype(dtype), b.astype(dtype), trans=trans, lower=lower,
                                  unit_diagonal=unit)
    want = sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
    assert got.dtype == dtype
    assert_close(got, want, *_tol(dtype) if not unit else (1e-8, 1e-8) if dtype == F64
                 else (1e-3, 1e-3))


def test_solve_triangular_grads_batch_vmap_jit():
    rng = np.random.default_rng(0)
    a, b = _triangular(rng, 3, True, (2,)), _rhs(rng, 3, 2, (2,))
    for trans in (0, 1):
        f = lambda a, b, trans=trans: linalg.solve_triangular(a, b, trans=trans,  # noqa: E731
                                                                lower=True)
        check_grads(f, [a, b], order=2)
        want = np.stack([sl.solve_triangular(a[i], b[i], trans=trans, lower=True)
                         for i in range(2)])
        assert_close(f(a, b), want, 1e-12, 1e-12)
        check_vmap(f, [a[0], b], [None, 0], 2, name="solve_triangular", rtol=1e-12)
        assert_close(fg.jit(f, backend="numba-py")(a, b), f(a, b), 1e-13, 1e-13)


# ---------------------------------------------------------------- Cholesky

@settings(max_examples=scaled(8))
@given(seed=st.integers(0, 2**16), n=st.integers(1, 5), kind=rhs_shapes,
       lower=st.booleans(), dtype=st.sampled_from([F32, F64]))
def test_cho_factor_and_solve_against_scipy(seed, n, kind, lower, dtype):
    rng = np.random.default_rng(seed)
    a, b = _spd(rng, n), _rhs(rng, n, kind)
    c, low = linalg.cho_factor(a.astype(dtype), lower=lower)
    assert low == lower and c.dtype == dtype
    want_c = sl.cholesky(a, lower=lower)
    assert_close(c, want_c, *_tol(dtype))
    got = linalg.cho_solve((c, low), b.astype(dtype))
    assert_close(got, sl.cho_solve(sl.cho_factor(a, lower=lower), b), *_tol(dtype))


def test_cho_solve_grads_vmap_jit():
    rng = np.random.default_rng(1)
    a, b = _spd(rng, 3), _rhs(rng, 3, 2)

    def f(a, b):
        sym = (a + a.T) / 2  # derivatives along symmetric directions
        return linalg.cho_solve(linalg.cho_factor(sym, lower=False), b)
    check_grads(f, [a, b], order=2)
    check_vmap(f, [a, b], [None, -1], 3, name="cho_solve", rtol=1e-11, atol=1e-12)
    assert_close(fg.jit(f, backend="numba-py")(a, b), f(a, b), 1e-13, 1e-13)


# ---------------------------------------------------------------- LU

@settings(max_examples=scaled(10))
@given(seed=st.integers(0, 2**16), m=st.integers(1, 5), n=st.integers(1, 5),
       permute_l=st.booleans(), dtype=st.sampled_from([F32, F64]))
def test_lu_against_scipy(seed, m, n, permute_l, dtype):
    a = np.random.default_rng(seed).normal(size=(m, n))
    got = linalg.lu(a.astype(dtype), permute_l=permute_l)
    want = sl.lu(a, permute_l=permute_l)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == w.shape
        assert_close(g, w, *_tol(dtype))


@settings(max_examples=scaled(10))
@given(seed=st.integers(0, 2**16), n=st.integers(1, 5), kind=rhs_shapes,
       trans=st.sampled_from([0, 1, 2]), dtype=st.sampled_from([F32, F64]))
def test_lu_factor_and_solve_against_scipy(seed, n, kind, trans, dtype):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, n)) + np.eye(n), _rhs(rng, n, kind)
    lu_, piv = linalg.lu_factor(a.astype(dtype))
    want_lu, want_piv = sl.lu_factor(a)
    assert piv.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(piv), want_piv)
    assert_close(lu_, want_lu, *_tol(dtype))
    got = linalg.lu_solve((lu_, piv), b.astype(dtype), trans=trans)
    want = sl.lu_solve((want_lu, want_piv), b, trans=trans)
    assert_close(got, want, *(1e-8, 1e-9) if dtype == F64 else (2e-3, 2e-3))


def test_lu_grads_batch_vmap_jit():
    rng = np.random.default_rng(2)
    a, b = _well_conditioned(rng, 3, (2,)), _rhs(rng, 3, 2, (2,))
    for trans in (0, 1):
        def f(a, b, trans=trans):
            return linalg.lu_solve(linalg.lu_factor(a), b, trans=trans)
        want = np.stack([sl.lu_solve(sl.lu_factor(a[i]), b[i], trans=trans) for i in range(2)])
        assert_close(f(a, b), want, 1e-11, 1e-12)
        check_grads(f, [a, b], order=2)
        check_vmap(f, [a, b], [0, 0], 2, name="lu_solve", rtol=1e-11, atol=1e-12)
        assert_close(fg.jit(f, backend="numba-py")(a, b), f(a, b), 1e-13, 1e-13)
    check_grads(lambda a: linalg.lu(a)[1:], [a[0]], order=2)
    check_grads(lambda a: linalg.lu(a, permute_l=True), [rng.normal(size=(3, 4))], order=2)


# ---------------------------------------------------------------- expm

@settings(max_examples=scaled(10))
@given(seed=st.integers(0, 2**16), n=st.integers(1, 5),
       log_scale=st.floats(-8, 2.5), dtype=st.sampled_from([F32, F64]))
def test_expm_against_scipy(seed, n, log_scale, dtype):
    a = np.random.default_rng(seed).normal(size=(n, n)) * 10.0 ** log_scale
    want = sl.expm(a)
    got = linalg.expm(a.astype(dtype))
    assert got.dtype == dtype
    scale = np.abs(want).max()
    assert_close(np.asarray(got) / scale, want / scale,
                 *(1e-12, 1e-12) if dtype == F64 else (1e-4, 1e-4))


def test_expm_large_norms():
    rng = np.random.default_rng(3)
    skew = rng.normal(size=(4, 4))
    skew = (skew - skew.T) * 300.0  # ||A|| ~ 1e3, exp(A) orthogonal: needs ~9 squarings
    got = np.asarray(linalg.expm(skew))
    assert_close(got, sl.expm(skew), 1e-9, 1e-9)
    assert_close(got @ got.T, np.eye(4), 1e-9, 1e-9)
    neg = -50.0 * np.eye(3) + rng.normal(size=(3, 3))
    assert_close(linalg.expm(neg), sl.expm(neg), 1e-8, 1e-30)
    # Beyond max_squarings: NaN, as in JAX.
    assert np.isnan(np.asarray(linalg.expm(skew, max_squarings=2))).all()
    assert_close(linalg.expm(np.zeros((3, 3))), np.eye(3), 0, 0)
    assert linalg.expm(np.zeros((0, 0))).shape == (0, 0)


@pytest.mark.parametrize("scale", [1e-3, 0.5, 8.0])
def test_expm_grads(scale):
    # The scaling s is piecewise constant in A: these inputs sit away from its jumps.
    a = np.random.default_rng(4).normal(size=(3, 3)) * scale
    check_grads(linalg.expm, [a], order=2, rtol=1e-5 if scale > 1 else None)


def test_expm_derivative_is_the_frechet_derivative():
    rng = np.random.default_rng(5)
    a, e = rng.normal(size=(4, 4)) * 2, rng.normal(size=(4, 4))
    _, tangent = fg.jvp(linalg.expm, (a,), (e,))
    _, want = sl.expm_frechet(a, e)
    assert_close(tangent, want, 1e-10, 1e-10)


def test_expm_batch_vmap_jit():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(3, 2, 2)) * np.array([0.01, 1.0, 30.0])[:, None, None]
    got = linalg.expm(a)
    assert_close(got, np.stack([sl.expm(m) for m in a]), 1e-11, 1e-11)
    check_vmap(linalg.expm, [a[1]], [0], 3, name="expm", rtol=1e-11, atol=1e-12)
    assert_close(fg.jit(linalg.expm, backend="numba-py")(a), got, 1e-12, 1e-12)
    g = fg.jit(fg.grad(lambda a: fnp.sum(linalg.expm(a))), backend="numba-py")(a)
    assert_close(g, fg.grad(lambda a: fnp.sum(linalg.expm(a)))(a), 1e-12, 1e-12)


# ---------------------------------------------------------------- block_diag

@settings(max_examples=scaled(10))
@given(data=st.data())
def test_block_diag_against_scipy(data):
    shapes = data.draw(st.lists(st.sampled_from([(), (1,), (3,), (2, 2), (1, 3), (0, 2),
                                                 (2, 0), (3, 1)]), min_size=1, max_size=4))
    dtype = data.draw(st.sampled_from([F32, F64, np.dtype("int32")]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    blocks = [(rng.normal(size=s) * 5).astype(dtype) for s in shapes]
    got = linalg.block_diag(*blocks)
    want = sl.block_diag(*blocks)
    assert got.dtype == want.dtype
    assert_close(got, want, 0, 0)


def test_block_diag_grads_and_jit():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(2, 2)), rng.normal(size=(1, 3))
    check_grads(linalg.block_diag, [a, b], order=2)
    assert_close(fg.jit(linalg.block_diag)(a, b), sl.block_diag(a, b), 0, 0)
    assert linalg.block_diag().shape == sl.block_diag().shape


# ---------------------------------------------------------------- errors

def test_errors_name_the_function():
    with pytest.raises(errors.ShapeError, match="solve_triangular.*b needs 3 rows"):
        linalg.solve_triangular(np.eye(3), np.ones(2))
    with pytest.raises(errors.InvalidArgumentError, match="trans"):
        linalg.solve_triangular(np.eye(2), np.ones(2), trans="X")
    with pytest.raises(errors.ShapeError, match="expm.*square"):
        linalg.expm(np.ones((2, 3)))
    with pytest.raises(errors.ShapeError, match="lu_solve.*piv"):
        linalg.lu_solve((np.eye(2), np.zeros(3, np.int32)), np.ones(2))
    with pytest.raises(errors.ShapeError, match="block_diag"):
        linalg.block_diag(np.ones((2, 2, 2)))
