"""Complex matrices in funcgrad.numpy.linalg and the linear-algebra primitives.

* A spec table of functions on complex64/complex128 matrices (one unbatched and one batched
  shape each): forward values and dtypes against NumPy. Eigen- and singular vectors have a
  free phase per column, so they are compared through phase-invariant reconstructions.
* The same table's derivatives against finite differences at order 2, forward and reverse
  (``check_grads`` perturbs real and imaginary parts), on well-conditioned matrices: diagonally
  dominant for LU-based functions, ``B B^H + n I`` for Cholesky and eigh. Vector outputs of
  eigh/svd are differentiated through gauge-invariant functions (``|V|**2``,
  ``V diag(f(w)) V^H``, ``U Vh``).
* triangular_solve's ``conjugate_a`` flag (with and without ``transpose_a``), and the transpose
  property ``<ct, L t> == <L^T ct, t>`` of the solve in ``b`` with the pairing
  ``re(sum(ct * t))``.
* Known answers in JAX's convention: ``grad`` of ``log|det A|`` is ``A^-T``.
"""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.testing import check_grads

L = fnp.linalg
C64, C128 = np.dtype("complex64"), np.dtype("complex128")
F32, F64 = np.dtype("float32"), np.dtype("float64")


def _cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def general(rng, shape):
    """Diagonally dominant (so well conditioned, and LU pivots away from zero)."""
    m, n = shape[-2:]
    return _cplx(rng, shape) / n + 2.0 * np.eye(m, n)


def hpd(rng, shape):
    """Hermitian positive definite ``B B^H + n I`` with separated eigenvalues."""
    n = shape[-1]
    b = _cplx(rng, shape)
    return b @ np.conj(np.swapaxes(b, -1, -2)) + n * np.eye(n)


def rect(rng, shape):
    return _cplx(rng, shape)


def _abs2(v):
    return fnp.real(v * fnp.conj(v))


def _mh(x):
    return fnp.conj(fnp.swapaxes(x, -1, -2))


def _np_mh(x):
    return np.conj(np.swapaxes(x, -1, -2))


# ---------------------------------------------------------------- spec table

# (name, funcgrad function, NumPy reference, input maker, shapes). References of vector outputs
# are written the same phase-invariant way as the function.
SPECS = [
    ("inv", L.inv, np.linalg.inv, general, [(3, 3), (2, 3, 3)]),
    ("solve", lambda a: L.solve(a, fnp.arange(a.shape[-1] * 2, dtype=a.dtype).reshape(
        a.shape[-1], 2)), lambda a: np.linalg.solve(a, np.arange(a.shape[-1] * 2).reshape(
            a.shape[-1], 2).astype(a.dtype)), general, [(3, 3), (2, 3, 3)]),
    ("det", L.det, np.linalg.det, general, [(3, 3), (2, 3, 3)]),
    ("slogdet.sign", lambda a: L.slogdet(a).sign, lambda a: np.linalg.slogdet(a)[0], general,
     [(3, 3), (2, 3, 3)]),
    ("slogdet.logabsdet", lambda a: L.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a)[1],
     general, [(3, 3), (2, 3, 3)]),
    ("matrix_power-2", lambda a: L.matrix_power(a, -2),
     lambda a: np.linalg.matrix_power(a, -2), general, [(3, 3)]),
    ("matrix_power3", lambda a: L.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3),
     general, [(3, 3), (2, 3, 3)]),
    ("cholesky", L.cholesky, np.linalg.cholesky, hpd, [(3, 3), (2, 3, 3)]),
    ("cholesky_upper", lambda a: L.cholesky(a, upper=True),
     lambda a: _np_mh(np.linalg.cholesky(a)), hpd, [(3, 3)]),
    ("lu_reconstruct", lambda a: (lambda lu, _, perm: lu)(*lax.lu(a)), None, general,
     [(3, 3), (4, 3), (3, 4)]),
    ("qr", lambda a: L.qr(a), lambda a: np.linalg.qr(a), rect, [(4, 3), (3, 3), (2, 4)]),
    ("eigvalsh", L.eigvalsh, np.linalg.eigvalsh, hpd, [(3, 3), (2, 3, 3)]),
    ("eigh_abs2", lambda a: _abs2(L.eigh(a).eigenvectors),
     lambda a: np.abs(np.linalg.eigh(a)[1]) ** 2, hpd, [(3, 3)]),
    ("eigh_fn", lambda a: (lambda w, v: (v * fnp.exp(w / 8)[..., None, :]) @ _mh(v))(*L.eigh(a)),
     lambda a: (lambda w, v: (v * np.exp(w / 8)[..., None, :]) @ _np_mh(v))(*np.linalg.eigh(a)),
     hpd, [(3, 3), (2, 3, 3)]),
    ("eigh_upper_values", lambda a: L.eigh(a, UPLO="U").eigenvalues,
     lambda a: np.linalg.eigh(a, UPLO="U")[0], hpd, [(3, 3)]),
    ("svdvals", L.svdvals, lambda a: np.linalg.svd(a, compute_uv=False), rect,
     [(3, 2), (2, 3), (3, 3), (2, 3, 2)]),
    ("svd_u_abs2", lambda a: _abs2(L.svd(a, full_matrices=False).U),
     lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[0]) ** 2, rect, [(3, 2), (3, 3)]),
    ("svd_vh_abs2", lambda a: _abs2(L.svd(a, full_matrices=False).Vh),
     lambda a: np.abs(np.linalg.svd(a, full_matrices=False)[2]) ** 2, rect, [(2, 3), (3, 3)]),
    ("svd_polar", lambda a: (lambda u, s, vh: u @ vh)(*L.svd(a, full_matrices=False)),
     lambda a: (lambda u, s, vh: u @ vh)(*np.linalg.svd(a, full_matrices=False)), rect,
     [(3, 3), (3, 2)]),
    ("pinv", L.pinv, np.linalg.pinv, rect, [(3, 2), (2, 3)]),
    ("norm2", lambda a: L.norm(a, 2), lambda a: np.linalg.norm(a, 2), rect, [(3, 3), (3, 2)]),
    ("norm-2", lambda a: L.norm(a, -2), lambda a: np.linalg.norm(a, -2), rect, [(3, 3)]),
    ("norm_nuc", lambda a: L.norm(a, "nuc"), lambda a: np.linalg.norm(a, "nuc"), rect,
     [(3, 3), (2, 3)]),
    ("matrix_norm_nuc", lambda a: L.matrix_norm(a, ord="nuc"),
     lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1)), rect, [(2, 3, 2)]),
]
CASES = [(spec, shape) for spec in SPECS for shape in spec[4]]
IDS = [f"{spec[0]}-{'x'.join(map(str, shape))}" for spec, shape in CASES]


@pytest.mark.parametrize("dtype", [C64, C128], ids=str)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_against_numpy(case, dtype):
    (name, f, ref, make, _), shape = case
    a = make(np.random.default_rng(0), shape).astype(dtype)
    got = f(a)
    tol = 2e-4 if dtype == C64 else 1e-10
    real = F32 if dtype == C64 else F64
    if name == "lu_reconstruct":  # NumPy has no LU: check P a = L U
        lu, _, perm = (np.asarray(x) for x in lax.lu(a))
        m, n = shape
        k = min(m, n)
        low = np.tril(lu, -1)[:, :k] + np.eye(m, k)
        np.testing.assert_allclose(low @ np.triu(lu)[:k], a[perm], rtol=tol, atol=tol)
        assert lu.dtype == dtype
        return
    want = ref(a.astype(C128))
    for g, w in zip(got, want) if isinstance(got, tuple) else [(got, want)]:
        w = np.asarray(w)
        assert g.dtype == (dtype if w.dtype.kind == "c" else real), (name, g.dtype, w.dtype)
        if name == "qr":  # Q and R are unique up to a phase per column of Q / row of R
            continue
        np.testing.assert_allclose(np.asarray(g), w, rtol=tol, atol=tol)
    if name == "qr":
        q, r = (np.asarray(x) for x in got)
        np.testing.assert_allclose(q @ r, a, rtol=tol, atol=tol)
        np.testing.assert_allclose(_np_mh(q) @ q, np.eye(q.shape[-1]), atol=tol)
        np.testing.assert_allclose(np.tril(r, -1), 0, atol=tol)
        np.testing.assert_allclose(np.diagonal(r).imag, 0, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_derivatives_order_2(case):
    (name, f, ref, make, _), shape = case
    a = make(np.random.default_rng(1), shape)
    check_grads(f, [a], order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", ["inv", "cholesky", "eigh_fn", "svd_polar", "qr", "det"])
def test_derivatives_order_1_complex64(name):
    (spec,) = [s for s in SPECS if s[0] == name]
    a = spec[3](np.random.default_rng(2), spec[4][0]).astype(C64)
    check_grads(spec[1], [a], order=1, modes=("fwd", "rev"), atol=2e-2, rtol=2e-2)


# ---------------------------------------------------------------- triangular_solve

FLAGS = [(ls, lo, ta, ca) for ls in (True, False) for lo in (True, False) for ta in (True, False)
         for ca in (True, False)]


def _tsolve(flags, unit_diagonal=False):
    ls, lo, ta, ca = flags
    return lambda a, b: lax.triangular_solve(a, b, left_side=ls, lower=lo, transpose_a=ta,
                                             conjugate_a=ca, unit_diagonal=unit_diagonal)


@pytest.mark.parametrize("flags", FLAGS, ids=str)
def test_triangular_solve_conjugate(flags):
    ls, lo, ta, ca = flags
    rng = np.random.default_rng(3)
    a = general(rng, (2, 3, 3))
    b = rect(rng, (2, 3, 2) if ls else (2, 2, 3))
    t = np.tril(a) if lo else np.triu(a)
    t = np.conj(t) if ca else t
    t = np.swapaxes(t, -1, -2) if ta else t
    want = np.linalg.solve(t, b) if ls else np.swapaxes(
        np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    np.testing.assert_allclose(np.asarray(_tsolve(flags)(a, b)), want, rtol=1e-12, atol=1e-12)
    check_grads(_tsolve(flags), [a, b], order=2, modes=("fwd", "rev"))
    # The transpose in b, with the bilinear pairing re(sum(ct * t)) (no conjugation).
    out, f_lin = fg.linearize(lambda b: _tsolve(flags)(a, b), b)
    _, f_vjp = fg.vjp(lambda b: _tsolve(flags)(a, b), b)
    tb, ct = rect(rng, b.shape), rect(rng, np.shape(out))
    lhs = np.real(np.sum(ct * np.asarray(f_lin(tb))))
    rhs = np.real(np.sum(np.asarray(f_vjp(ct)[0]) * tb))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_triangular_solve_unit_diagonal_complex():
    rng = np.random.default_rng(4)
    a, b = general(rng, (3, 3)), rect(rng, (3, 2))
    f = _tsolve((True, True, True, True), unit_diagonal=True)
    t = np.tril(a, -1) + np.eye(3)
    np.testing.assert_allclose(np.asarray(f(a, b)), np.linalg.solve(_np_mh(t), b), rtol=1e-12)
    check_grads(f, [a, b], order=2)


# ---------------------------------------------------------------- known answers and vmap

def test_grad_of_logabsdet_is_inverse_transpose():
    # log|det A| = re(log det A). JAX's grad of a real f is df/dx - i df/dy, which for
    # f = re(g) with g holomorphic is g' itself; g'(A) = A^-T.
    a = general(np.random.default_rng(5), (3, 3))
    g = fg.grad(lambda a: L.slogdet(a).logabsdet)(a)
    np.testing.assert_allclose(np.asarray(g), np.linalg.inv(a).T, rtol=1e-10)
    # |det A|^2 = det A conj(det A): df/dx - i df/dy = 2 conj(det A) (det A)' = 2 |det A|^2 A^-T.
    g = fg.grad(lambda a: fnp.abs(L.det(a)) ** 2)(a)
    want = 2 * np.abs(np.linalg.det(a)) ** 2 * np.linalg.inv(a).T
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-10)


def test_eigenvalue_derivative_is_real_part_of_rayleigh_quotient():
    rng = np.random.default_rng(6)
    a, t = hpd(rng, (3, 3)), rect(rng, (3, 3))
    t = t + _np_mh(t)  # a Hermitian direction
    _, dw = fg.jvp(L.eigvalsh, (a,), (t,))
    _, v = np.linalg.eigh(a)
    want = np.real(np.einsum("ij,ik,kj->j", np.conj(v), t, v))
    assert np.asarray(dw).dtype == F64
    np.testing.assert_allclose(np.asarray(dw), want, rtol=1e-10)


@pytest.mark.parametrize("name", ["inv", "cholesky", "eigh_fn", "svdvals", "qr", "slogdet.sign"])
def test_vmap_matches_loop(name):
    (spec,) = [s for s in SPECS if s[0] == name]
    shape = spec[4][0]
    a = spec[3](np.random.default_rng(7), (3,) + shape)
    got = fg.vmap(spec[1])(a)
    rows = [spec[1](x) for x in a]
    for i, row in enumerate(rows):
        for g, w in zip(got, row) if isinstance(row, tuple) else [(got, row)]:
            np.testing.assert_allclose(np.asarray(g)[i], np.asarray(w), rtol=1e-10, atol=1e-12)


def test_jit_of_complex_factorizations():
    a = hpd(np.random.default_rng(8), (2, 3, 3))

    def f(a):
        w, v = L.eigh(a)
        return L.cholesky(a), w, L.det(a), L.svdvals(a)

    for g, w in zip(fg.jit(f)(a), f(a)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10)


@pytest.mark.parametrize("dtype", [C64, C128], ids=str)
def test_arange_complex_dtype(dtype):
    for args in [(4,), (0.0, 2.0, 0.5), (3, -3, -2)]:
        got = fnp.arange(*args, dtype=dtype)
        want = np.arange(*args, dtype=dtype)
        assert got.dtype == dtype
        np.testing.assert_array_equal(np.asarray(got), want)
