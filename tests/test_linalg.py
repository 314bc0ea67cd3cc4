"""Contractions (dot_general, matmul, dot, tensordot, einsum, ...) and funcgrad.numpy.linalg,
checked against NumPy on hypothesis-drawn shapes, dtypes and well-conditioned matrices."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from tests.harness import F32, F64, I32, Spec, arrays, assert_close, check_spec

LETTERS = "abcdefghijklmnopqrstuvwxyz"
side = st.integers(0, 4)


def same_dtype(*ds):
    return ds[0]


def contraction_specs(name, fg_fn, np_fn, shapes, ints=True):
    """One spec per dtype family: float32 (looser: sums of products), float64, int32 (exact)."""
    common = dict(nargs=2, shapes=shapes, expected_dtype=same_dtype)
    specs = [Spec(f"{name}[f32]", fg_fn, np_fn, dtypes=(F32,), rtol=1e-4, atol=1e-4, **common),
             Spec(f"{name}[f64]", fg_fn, np_fn, dtypes=(F64,), **common)]
    if ints:
        specs.append(Spec(f"{name}[i32]", fg_fn, np_fn, dtypes=(I32,), **common))
    return specs


def run_spec(spec, max_examples):
    """Draws one dtype for all operands, then their shapes and values, and checks the spec."""
    @settings(max_examples=max_examples)
    @given(data=st.data())
    def inner(data):
        dtype = data.draw(st.sampled_from(spec.dtypes))
        args = [data.draw(arrays(s, dtype)) for s in data.draw(spec.shapes)]
        kwargs = data.draw(spec.kwargs) if spec.kwargs is not None else {}
        check_spec(spec, args, kwargs)
    inner()


# ---------------------------------------------------------------- dot_general

def dot_general_ref(dn):
    (lc, rc), (lb, rb) = dn

    def ref(lhs, rhs):
        ll = list(LETTERS[:lhs.ndim])
        rl = list(LETTERS[lhs.ndim:lhs.ndim + rhs.ndim])
        for a, b in zip(lc + lb, rc + rb):
            rl[b] = ll[a]
        out = ([ll[d] for d in lb] + [ll[d] for d in range(lhs.ndim) if d not in lc + lb]
               + [rl[d] for d in range(rhs.ndim) if d not in rc + rb])
        return np.einsum(f"{''.join(ll)},{''.join(rl)}->{''.join(out)}", lhs, rhs)
    return ref


@st.composite
def dot_general_shapes(draw, dn, lnd, rnd):
    (lc, rc), (lb, rb) = dn
    ls = [draw(side) for _ in range(lnd)]
    rs = [draw(side) for _ in range(rnd)]
    for a, b in zip(lc + lb, rc + rb):
        rs[b] = ls[a]
    return tuple(ls), tuple(rs)


DOT_GENERAL_CASES = [
    ("matmul", (((1,), (0,)), ((), ())), 2, 2),
    ("batched", (((2,), (1,)), ((0,), (0,))), 3, 3),
    ("outer", (((), ()), ((), ())), 1, 2),
    ("scrambled", (((0, 3), (3, 0)), ((1,), (2,))), 4, 4),
    ("full", (((0, 1), (1, 0)), ((), ())), 2, 2),
    ("batch_only", (((), ()), ((1, 0), (0, 1))), 2, 2),
    ("vector_matrix", (((0,), (1,)), ((), ())), 1, 3),
]
DOT_GENERAL_SPECS = [
    s for name, dn, ln, rn in DOT_GENERAL_CASES for s in contraction_specs(
        f"dot_general_{name}", lambda x, y, dn=dn: lax.dot_general(x, y, dn),
        dot_general_ref(dn), dot_general_shapes(dn, ln, rn))]


@pytest.mark.parametrize("spec", DOT_GENERAL_SPECS, ids=repr)
def test_dot_general(spec):
    run_spec(spec, max_examples=10)


def test_dot_general_preferred_element_type():
    a = np.full((3, 40), 100, np.int8)
    out = lax.dot_general(a, a.T, (((1,), (0,)), ((), ())), preferred_element_type=np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.full((3, 3), 400000, np.int32))
    jaxpr = fg.make_jaxpr(lambda x: lax.dot_general(x, x, (((0,), (0,)), ((), ())),
                                                     preferred_element_type="float64"))(
        np.ones(3, np.float32))
    assert jaxpr.out_avals[0].dtype == np.float64


def test_dot_general_errors():
    x, y = np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(errors.ShapeError, match=r"dot_general: contracting dimensions differ: "
                       r"lhs f32\[2,3\] dim 1 \(3\) vs rhs f32\[4,5\] dim 0 \(4\)"):
        lax.dot_general(x, y, (((1,), (0,)), ((), ())))
    with pytest.raises(errors.ShapeError, match=r"dot_general: batch dimensions differ"):
        lax.dot_general(x, y, (((), ()), ((0,), (0,))))
    with pytest.raises(errors.DTypeError, match=r"dot_general: .*f32\[2,3\], f64\[3,2\]"):
        lax.dot_general(x, np.ones((3, 2)), (((1,), (0,)), ((), ())))
    with pytest.raises(errors.ShapeError, match=r"dot_general: lhs dimension 2 is out of bounds"):
        lax.dot_general(x, y, (((2,), (0,)), ((), ())))
    with pytest.raises(errors.ShapeError, match=r"dot_general: lhs f32\[2,3\] has a repeated"):
        lax.dot_general(x, x, (((0,), (0,)), ((0,), (1,))))
    with pytest.raises(errors.ShapeError, match=r"dot_general: .* pair 1 lhs with 2 rhs"):
        lax.dot_general(x, y, (((1,), (0, 1)), ((), ())))


# ---------------------------------------------------------------- matmul, dot, tensordot, ...

@st.composite
def matmul_shapes(draw):
    m, k, n = draw(side), draw(side), draw(side)
    nb = draw(st.integers(0, 3))
    batch = [draw(st.integers(1, 3)) for _ in range(nb)]
    a_batch = [d if draw(st.booleans()) else 1 for d in batch][draw(st.integers(0, nb)):]
    b_batch = [d if draw(st.booleans()) else 1 for d in batch][draw(st.integers(0, nb)):]
    a = (k,) if draw(st.integers(0, 4)) == 0 else tuple(a_batch) + (m, k)
    b = (k,) if draw(st.integers(0, 4)) == 0 else tuple(b_batch) + (k, n)
    return a, b


@st.composite
def dot_shapes(draw):
    k = draw(side)
    a = draw(st.sampled_from([(), (k,), (2, k), (3, 1, k)]))
    b = draw(st.sampled_from([(), (k,), (k, 2), (2, k, 3), (1, 4, k, 0)]))
    return a, b


@st.composite
def inner_shapes(draw):
    k = draw(side)
    return draw(st.sampled_from([(), (k,), (2, k)])), draw(st.sampled_from([(), (k,), (3, 1, k)]))


@st.composite
def tensordot_case(draw):
    sizes = [draw(side) for _ in range(4)]
    kind = draw(st.sampled_from(["int", "pair"]))
    if kind == "int":
        n = draw(st.integers(0, 2))
        a = (2,) + tuple(sizes[:n])
        b = tuple(sizes[:n]) + (3,)
        return (a, b), {"axes": n}
    a = (sizes[0], 2, sizes[1])
    b = (sizes[1], sizes[0], 3)
    return (a, b), {"axes": draw(st.sampled_from([((0, 2), (1, 0)), ([2, -3], [0, 1]),
                                                  (0, 1), ((), ())]))}


def _tensordot_spec_shapes():
    return tensordot_case().map(lambda c: c[0])


MATMUL_SPECS = (
    contraction_specs("matmul", fnp.matmul, np.matmul, matmul_shapes())
    + contraction_specs("operator@", lambda a, b: fnp.asarray(a) @ b, np.matmul, matmul_shapes())
    + contraction_specs("dot", fnp.dot, np.dot, dot_shapes())
    + contraction_specs("inner", fnp.inner, np.inner, inner_shapes())
    + contraction_specs("vdot", fnp.vdot, np.vdot,
                        st.sampled_from([((0,), (0,)), ((6,), (2, 3)), ((2, 2), (4,))]))
    + contraction_specs("outer", fnp.outer, np.outer,
                        st.tuples(st.sampled_from([(), (3,), (2, 2), (0,)]),
                                  st.sampled_from([(1,), (4,), (2, 1, 2)])))
    + contraction_specs("kron", fnp.kron, np.kron,
                        st.tuples(st.sampled_from([(), (2,), (2, 3), (1, 2, 2)]),
                                  st.sampled_from([(3,), (2, 1), (0, 2), (2, 2, 1)])))
    + [Spec("matrix_transpose", fnp.matrix_transpose, lambda a: np.swapaxes(a, -1, -2),
            dtypes=(F32, F64, I32), expected_dtype=same_dtype,
            shapes=st.tuples(st.sampled_from([(2, 3), (4, 1, 0), (2, 3, 4)])))])


@pytest.mark.parametrize("spec", MATMUL_SPECS, ids=repr)
def test_products(spec):
    run_spec(spec, max_examples=12)


@pytest.mark.parametrize("dtype", [F32, F64, I32])
@settings(max_examples=15)
@given(case=tensordot_case(), seed=st.integers(0, 2**31 - 1))
def test_tensordot(dtype, case, seed):
    (sa, sb), kwargs = case
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(-5, 6, size=s).astype(dtype) for s in (sa, sb))
    spec = Spec("tensordot", fnp.tensordot, np.tensordot, nargs=2, dtypes=(dtype,),
                expected_dtype=same_dtype, rtol=1e-5 if dtype == F32 else None)
    check_spec(spec, [a, b], kwargs)


def test_matmul_promotes_and_preferred_element_type():
    out = fnp.matmul(np.ones((2, 3), np.float32), np.ones((3,), np.float64))
    assert out.dtype == np.float64
    assert fnp.matmul(np.ones((2, 3), np.int32), np.ones((3, 2), np.float32)).dtype == np.float32
    out = fnp.matmul(np.ones((2, 3), np.int8), np.ones((3, 2), np.int8),
                     preferred_element_type=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full((2, 2), 3.0))
    # A Python-scalar-free weak operand keeps the other operand's dtype.
    assert fnp.dot(np.ones(3, np.float32), 2.0).dtype == np.float32


def test_matmul_single_dot_general_for_unbatched_rhs():
    # x[B, n, k] @ W[k, m] is one dot_general: no broadcast of W is materialised.
    jaxpr = fg.make_jaxpr(fnp.matmul)(np.ones((5, 2, 3), np.float32),
                                      np.ones((3, 4), np.float32))
    assert [e.prim.name for e in jaxpr.eqns] == ["dot_general"]


def test_matmul_errors():
    a, b = np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(errors.ShapeError, match=r"matmul: contracting dimensions differ: "
                       r"f32\[2,3\] dim 1 \(3\) vs f32\[4,5\] dim 0 \(4\)"):
        fnp.matmul(a, b)
    with pytest.raises(errors.ShapeError, match=r"matmul: .*f32\[2,3\].*f32\[4,5\]"):
        fnp.asarray(a) @ b
    with pytest.raises(errors.ShapeError, match=r"matmul: operands must have rank >= 1.*f32\[\]"):
        fnp.matmul(np.float32(1), a)
    with pytest.raises(errors.ShapeError, match=r"matmul: shapes \[2\], \[3\] cannot be "
                       r"broadcast"):
        fnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 4)))
    with pytest.raises(errors.ShapeError, match=r"dot: contracting dimensions differ: "
                       r"f64\[2,3\] dim 1 \(3\) vs f64\[4\] dim 0 \(4\)"):
        fnp.dot(np.ones((2, 3)), np.ones(4))
    with pytest.raises(errors.ShapeError, match=r"tensordot: contracting .* f64\[2,3\] dim 1"):
        fnp.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1)
    with pytest.raises(errors.ShapeError, match=r"tensordot: axes=3 is invalid"):
        fnp.tensordot(np.ones((2, 3)), np.ones((2, 3)), 3)
    with pytest.raises(errors.ShapeError, match=r"vdot: contracting .* f64\[3\] dim 0 \(3\) vs "
                       r"f64\[4\]"):
        fnp.vdot(np.ones(3), np.ones((2, 2)))
    with pytest.raises(errors.ShapeError, match=r"matrix_transpose: .*f64\[3\]"):
        fnp.matrix_transpose(np.ones(3))


# ---------------------------------------------------------------- einsum

EINSUM_CASES = [
    "ij,jk->ik", "ij,jk", "ii", "ii->i", "ij->", "ij->ji", "ijk->kji", "i,i", "i,i->i",
    "i,j->ij", "bij,bjk->bik", "...ij,...jk->...ik", "...ij,...jk", "i...->...", "...",
    "ij,jk,kl->il", "ij,ij,ij->", "iij->j", "iji->ij", "aB,Bc", "ba", "ij,kl->ijkl",
    "bhqd,bhkd->bhqk", "i,ij,j", "ii,i->i",
]


@st.composite
def einsum_shapes(draw, subscripts):
    lhs = subscripts.split("->")[0]
    sizes = {c: draw(side) for c in set(lhs) - {".", ","}}
    ell = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    shapes = []
    for term in lhs.split(","):
        shape = []
        for part in term.split("..."):
            shape.append([sizes[c] for c in part])
        if len(shape) == 2:  # an ellipsis: drop leading dims or use size 1 to broadcast
            mine = [d if draw(st.booleans()) else 1 for d in ell][draw(st.integers(0, len(ell))):]
            shape = shape[0] + mine + shape[1]
        else:
            shape = shape[0]
        shapes.append(tuple(shape))
    return tuple(shapes)


@pytest.mark.parametrize("dtype", [F32, F64, I32])
@pytest.mark.parametrize("subscripts", EINSUM_CASES)
@settings(max_examples=6)
@given(data=st.data())
def test_einsum(subscripts, dtype, data):
    shapes = data.draw(einsum_shapes(subscripts))
    args = [data.draw(arrays(s, dtype)) for s in shapes]
    spec = Spec(f"einsum({subscripts})", lambda *a: fnp.einsum(subscripts, *a),
                lambda *a: np.einsum(subscripts, *a), dtypes=(dtype,), expected_dtype=same_dtype,
                rtol=1e-4 if dtype == F32 else None, atol=1e-4 if dtype == F32 else None)
    check_spec(spec, args, {})


def test_einsum_broadcasts_size_one_labels_and_interleaved_form():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(1, 4)
    np.testing.assert_allclose(fnp.einsum("ij,kj->ik", a[:, :1], b),
                               np.einsum("ij,kj->ik", a[:, :1], b))
    np.testing.assert_allclose(fnp.einsum(a, [0, 1], a, [0, 1], [1]),
                               np.einsum(a, [0, 1], a, [0, 1], [1]))
    np.testing.assert_allclose(fnp.einsum(a, [Ellipsis, 1]), np.einsum(a, [Ellipsis, 1]))
    out = fnp.einsum("ij,jk", np.ones((2, 3), np.int8), np.ones((3, 2), np.int8),
                     preferred_element_type=np.float32)
    assert out.dtype == np.float32


def test_einsum_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ij,jk' name 2 operand"):
        fnp.einsum("ij,jk", x)
    with pytest.raises(errors.ShapeError, match=r"einsum: operand 0 f64\[2,3\] has rank 2 but "
                       r"its subscripts 'ijk' name 3"):
        fnp.einsum("ijk", x)
    with pytest.raises(errors.ShapeError, match=r"einsum: label 'j' has size 3 .* but 2 in "
                       r"operand 1 f64\[2,3\]"):
        fnp.einsum("ij,jk", x, x)
    with pytest.raises(ValueError, match=r"einsum: output label 'k' does not occur"):
        fnp.einsum("ij->k", x)
    with pytest.raises(ValueError, match=r"einsum: output label 'i' repeated"):
        fnp.einsum("ij->ii", x)
    with pytest.raises(ValueError, match=r"einsum: invalid character '1'"):
        fnp.einsum("i1", x)
    with pytest.raises(ValueError, match=r"has no '...'"):
        fnp.einsum("...j->j", np.ones((2, 3)))


# ---------------------------------------------------------------- linalg primitives

def _orthogonal(rng, batch, n):
    q, r = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


@st.composite
def well_conditioned(draw, kind="general", min_n=1, max_n=5):
    """Matrices with singular values (or eigenvalues) in [0.5, 2]: ``general`` is
    Q1 diag(+-s) Q2^T, ``spd`` is Q diag(s) Q^T, ``rect`` is an m x n Q1[:, :k] diag(s) Q2[:, :k]^T.
    """
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    n = draw(st.integers(min_n, max_n))
    m = draw(st.integers(min_n, max_n)) if kind == "rect" else n
    dtype = draw(st.sampled_from([F32, F64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    k = min(m, n)
    s = rng.uniform(0.5, 2.0, batch + (k,))
    q1 = _orthogonal(rng, batch, m)[..., :k]
    if kind == "spd":
        q2 = q1
    else:
        q2 = _orthogonal(rng, batch, n)[..., :k]
        s = s * rng.choice([-1.0, 1.0], size=s.shape)
    return np.einsum("...ij,...j,...kj->...ik", q1, s, q2).astype(dtype)


@st.composite
def rectangular(draw, min_side=1):
    batch = draw(st.sampled_from([(), (2,), (2, 1)]))
    m, n = draw(st.integers(min_side, 5)), draw(st.integers(min_side, 5))
    dtype = draw(st.sampled_from([F32, F64]))
    return draw(arrays(batch + (m, n), dtype))


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if np.dtype(dtype) == F32 else dict(rtol=1e-9,
                                                                              atol=1e-11)


def check_linalg(name, fg_fn, np_fn, args, **kwargs):
    t = tol(args[0].dtype)
    spec = Spec(name, fg_fn, np_fn, rtol=t["rtol"], atol=t["atol"],
                expected_dtype=lambda *d: d[0])
    check_spec(spec, list(args), kwargs)


@settings(max_examples=20)
@given(x=rectangular(min_side=0), sing=st.booleans())
def test_lu_primitive(x, sing):
    if sing and x.shape[-1] > 1:
        x = x.copy()
        x[..., 1] = 0.0  # a zero column: a zero pivot, handled without NaN
    lu, pivots, perm = (np.asarray(o) for o in lax.lu(x))
    m, n = x.shape[-2:]
    k = min(m, n)
    assert lu.dtype == x.dtype and pivots.dtype == np.int32 and perm.dtype == np.int32
    low = np.tril(lu, -1)[..., :, :k] + np.eye(m, k, dtype=x.dtype)
    up = np.triu(lu)[..., :k, :]
    assert_close(low @ up, np.take_along_axis(x, perm[..., None].astype(np.int64), -2),
                 **tol(x.dtype))
    assert np.all(np.abs(low) <= 1 + 1e-6)  # partial pivoting bounds the multipliers
    # The permutation is the product of the row swaps recorded in pivots.
    want = np.broadcast_to(np.arange(m), x.shape[:-2] + (m,)).copy()
    for idx in np.ndindex(x.shape[:-2]):
        for i, p in enumerate(pivots[idx]):
            want[idx][[i, p]] = want[idx][[p, i]]
    np.testing.assert_array_equal(perm, want)


@pytest.mark.parametrize("shape", [(2, 70, 50), (50, 70), (66, 66)])
def test_lu_primitive_blocked_sizes(shape, rng):
    # Larger than one panel of the blocked impl; a repeated column makes it singular.
    x = rng.standard_normal(shape)
    x[..., 40] = x[..., 3]
    lu, _, perm = (np.asarray(o) for o in lax.lu(x))
    m, n = shape[-2:]
    k = min(m, n)
    low = np.tril(lu, -1)[..., :, :k] + np.eye(m, k)
    assert_close(low @ np.triu(lu)[..., :k, :], np.take_along_axis(x, perm[..., None], -2),
                 1e-10, 1e-10)


@pytest.mark.parametrize("left_side", [True, False])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("transpose_a", [True, False])
@pytest.mark.parametrize("unit_diagonal", [True, False])
def test_triangular_solve(left_side, lower, transpose_a, unit_diagonal, rng):
    for dtype, batch, m, k in [(F64, (), 4, 3), (F32, (2,), 5, 1), (F64, (2, 1), 70, 2),
                               (F64, (), 0, 2), (F64, (3,), 3, 0)]:
        # Off-diagonal entries O(1/m) keep the triangle well conditioned at every size.
        a = (rng.uniform(-1, 1, batch + (m, m)) / max(m, 1) * 3 + 2 * np.eye(m)).astype(dtype)
        b = rng.standard_normal(batch + ((m, k) if left_side else (k, m))).astype(dtype)
        t = np.tril(a) if lower else np.triu(a)
        if unit_diagonal:
            t = t - np.eye(m) * np.diagonal(t, axis1=-2, axis2=-1)[..., None, :] + np.eye(m)
        t = np.swapaxes(t, -1, -2) if transpose_a else t
        fn = lambda a, b: lax.triangular_solve(a, b, left_side=left_side, lower=lower,
                                               transpose_a=transpose_a,
                                               unit_diagonal=unit_diagonal)
        ref = (lambda a, b, t=t: np.linalg.solve(t, b)) if left_side else (
            lambda a, b, t=t: np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2),
                                                          np.swapaxes(b, -1, -2)), -1, -2))
        check_linalg("triangular_solve", fn, ref, [a, b])


def test_triangular_solve_singular_and_errors():
    out = np.asarray(lax.triangular_solve(np.zeros((2, 2)), np.ones((2, 1)), left_side=True,
                                          lower=True))
    assert not np.isfinite(out).any()
    with pytest.raises(errors.ShapeError, match=r"triangular_solve: b f64\[3,2\] dim 0 \(3\) "
                       r"must equal the size of a f64\[2,2\]"):
        lax.triangular_solve(np.eye(2), np.ones((3, 2)), left_side=True)
    with pytest.raises(errors.ShapeError, match=r"triangular_solve: a f64\[2,2\] and b "
                       r"f64\[3,2,2\] must have equal batch"):
        lax.triangular_solve(np.eye(2), np.ones((3, 2, 2)))
    with pytest.raises(errors.DTypeError, match=r"cholesky: operand has dtype int32"):
        lax.cholesky(np.eye(2, dtype=np.int32))
    with pytest.raises(errors.ShapeError, match=r"eigh: operand f32\[2,3\] must be a batch of "
                       r"square"):
        lax.eigh(np.ones((2, 3), np.float32))
    with pytest.raises(errors.ShapeError, match=r"lu: operand f32\[3\] must have rank >= 2"):
        lax.lu(np.ones(3, np.float32))


# ---------------------------------------------------------------- funcgrad.numpy.linalg

@settings(max_examples=15)
@given(a=well_conditioned(), data=st.data())
def test_solve_inv_det_slogdet(a, data):
    n = a.shape[-1]
    L = fnp.linalg
    check_linalg("inv", L.inv, np.linalg.inv, [a])
    check_linalg("det", L.det, np.linalg.det, [a])
    check_linalg("slogdet", lambda x: tuple(L.slogdet(x)), lambda x: tuple(np.linalg.slogdet(x)),
                 [a])
    batch = a.shape[:-2]
    bshape = data.draw(st.sampled_from([(n,), (n, 2), batch + (n, 1), (3,) + batch + (n, 2)]))
    b = data.draw(arrays(bshape, a.dtype))
    check_linalg("solve", L.solve, np.linalg.solve, [a, b])


@settings(max_examples=15)
@given(a=well_conditioned("spd"))
def test_cholesky_eigh(a):
    L = fnp.linalg
    check_linalg("cholesky", L.cholesky, np.linalg.cholesky, [a])
    check_linalg("cholesky_upper", lambda x: L.cholesky(x, upper=True),
                 lambda x: np.linalg.cholesky(x, upper=True), [a])
    check_linalg("eigvalsh", L.eigvalsh, np.linalg.eigvalsh, [a])
    n = a.shape[-1]
    eye = lambda x: np.broadcast_to(np.eye(n), x.shape)
    for uplo in "LU":
        def recon(x, uplo=uplo):
            w, v = L.eigh(x, uplo)
            return fnp.einsum("...ij,...j,...kj->...ik", v, w, v)
        check_linalg(f"eigh({uplo}) reconstruction", recon, lambda x: x, [a])

        def ortho(x, uplo=uplo):
            v = L.eigh(x, uplo).eigenvectors
            return fnp.matmul(fnp.linalg.matrix_transpose(v), v)
        check_linalg(f"eigh({uplo}) orthogonality", ortho, eye, [a])
    w = np.asarray(L.eigh(a).eigenvalues)
    assert np.all(np.diff(w, axis=-1) >= 0)


@settings(max_examples=20)
@given(x=rectangular(min_side=0), full=st.booleans())
def test_svd_qr(x, full):
    L = fnp.linalg
    m, n = x.shape[-2:]
    k = min(m, n)
    check_linalg("svdvals", L.svdvals, np.linalg.svdvals, [x])
    check_linalg("svd_s", lambda a: L.svd(a, compute_uv=False),
                 lambda a: np.linalg.svd(a, compute_uv=False), [x])

    def svd_recon(a):
        u, s, vh = L.svd(a, full_matrices=full)
        return fnp.einsum("...ij,...j,...jk->...ik", u[..., :, :k], s, vh[..., :k, :])
    check_linalg("svd reconstruction", svd_recon, lambda a: a, [x])
    u, s, vh = L.svd(x, full_matrices=full)
    assert u.shape == x.shape[:-2] + (m, m if full else k)
    assert vh.shape == x.shape[:-2] + (n if full else k, n)
    for q in (np.asarray(u), np.swapaxes(np.asarray(vh), -1, -2)):
        assert_close(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(q.shape[-1]),
                                                                 q.shape[:-2] + (q.shape[-1],) * 2),
                     **tol(x.dtype))
    for mode in ("reduced", "complete"):
        q, r = L.qr(x, mode=mode)
        q, r = np.asarray(q), np.asarray(r)
        kq = m if mode == "complete" else k
        assert q.shape == x.shape[:-2] + (m, kq) and r.shape == x.shape[:-2] + (kq, n)
        assert_close(q @ r, x, **tol(x.dtype))
        assert_close(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(kq), q.shape[:-2]
                                                                 + (kq, kq)), **tol(x.dtype))
        np.testing.assert_array_equal(r, np.triu(r))
    # R alone (signs of its rows are not unique): R^T R == A^T A.
    gram = lambda r: fnp.matmul(fnp.matrix_transpose(r), r)
    check_linalg("qr r", lambda a: gram(L.qr(a, mode="r")),
                 lambda a: np.swapaxes(a, -1, -2) @ a, [x])


@settings(max_examples=15)
@given(x=rectangular(), a=well_conditioned(), r=well_conditioned("rect"), p=st.integers(-3, 4))
def test_pinv_rank_power(x, a, r, p):
    L = fnp.linalg
    check_linalg("pinv", L.pinv, np.linalg.pinv, [a])
    check_linalg("pinv rectangular", L.pinv, np.linalg.pinv, [r])
    check_linalg("matrix_power", lambda y: L.matrix_power(y, p),
                 lambda y: np.linalg.matrix_power(y, p), [a])
    assert np.asarray(L.matrix_rank(a)).tolist() == np.linalg.matrix_rank(a).tolist()
    low = x[..., :, :1] * x[..., :1, :]  # rank <= 1
    assert np.asarray(L.matrix_rank(low)).tolist() == np.linalg.matrix_rank(low).tolist()
    assert L.matrix_rank(a).dtype == np.int32
    assert np.asarray(L.matrix_rank(r)).tolist() == np.linalg.matrix_rank(r).tolist()


VECTOR_ORDS = [None, 0, 1, 2, 3, 0.5, -1, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@settings(max_examples=15)
@given(x=rectangular(), keepdims=st.booleans(), data=st.data())
def test_norms(x, keepdims, data):
    L = fnp.linalg
    vord = data.draw(st.sampled_from(VECTOR_ORDS))
    mord = data.draw(st.sampled_from(MATRIX_ORDS))
    ax = data.draw(st.integers(-x.ndim, x.ndim - 1))
    pair = data.draw(st.sampled_from([(-2, -1), (-1, -2)]))
    check_linalg("norm", lambda a: L.norm(a, keepdims=keepdims),
                 lambda a: np.linalg.norm(a, keepdims=keepdims), [x])
    check_linalg(f"norm vector {vord}", lambda a: L.norm(a, vord, ax, keepdims),
                 lambda a: np.linalg.norm(a, vord, ax, keepdims), [x])
    check_linalg(f"norm matrix {mord}", lambda a: L.norm(a, mord, pair, keepdims),
                 lambda a: np.linalg.norm(a, mord, pair, keepdims), [x])
    check_linalg(f"matrix_norm {mord}",
                 lambda a: L.matrix_norm(a, ord="fro" if mord is None else mord),
                 lambda a: np.linalg.matrix_norm(a, ord="fro" if mord is None else mord), [x])
    check_linalg(f"vector_norm {vord}",
                 lambda a: L.vector_norm(a, ord=2 if vord is None else vord, keepdims=keepdims),
                 lambda a: np.linalg.vector_norm(a, ord=2 if vord is None else vord,
                                                 keepdims=keepdims), [x])
    check_linalg("vector_norm axes", lambda a: L.vector_norm(a, axis=(0, -1)),
                 lambda a: np.linalg.vector_norm(a, axis=(0, -1)), [x])
    if x.ndim == 2:
        check_linalg(f"norm 2-D {mord}", lambda a: L.norm(a, mord),
                     lambda a: np.linalg.norm(a, mord), [x])
        check_linalg(f"norm 1-D {vord}", lambda a: L.norm(a[0], vord),
                     lambda a: np.linalg.norm(a[0], vord), [x])


@settings(max_examples=10)
@given(x=rectangular(min_side=0), offset=st.integers(-3, 3), data=st.data())
def test_trace_diagonal_multi_dot_outer_vecdot(x, offset, data):
    L = fnp.linalg
    check_linalg("trace", lambda a: L.trace(a, offset=offset),
                 lambda a: np.linalg.trace(a, offset=offset), [x])
    check_linalg("diagonal", lambda a: L.diagonal(a, offset=offset),
                 lambda a: np.linalg.diagonal(a, offset=offset), [x])
    v = data.draw(arrays((3,), x.dtype))
    check_linalg("outer", L.outer, np.linalg.outer, [v, x.reshape(-1)])
    y = data.draw(arrays(x.shape[-1:], x.dtype))
    check_linalg("vecdot", lambda a, b: L.vecdot(a, b), lambda a, b: np.linalg.vecdot(a, b),
                 [x, y])
    m, n = x.shape[-2:]
    mats = [data.draw(arrays(s, x.dtype)) for s in [(n,), (n, 3), (3, 1), (1, 4), (4, m)]]
    check_linalg("multi_dot", lambda *a: L.multi_dot(a), lambda *a: np.linalg.multi_dot(a),
                 mats)
    check_linalg("multi_dot 2", lambda *a: L.multi_dot(a), lambda *a: np.linalg.multi_dot(a),
                 mats[1:3])


def test_linalg_singular_and_failure_values():
    L = fnp.linalg
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert float(L.det(sing)) == 0.0
    sign, logabs = L.slogdet(np.zeros((3, 3)))
    assert float(sign) == 0.0 and float(logabs) == -np.inf
    assert not np.isfinite(np.asarray(L.inv(np.zeros((2, 2))))).all()
    assert np.isnan(np.asarray(L.cholesky(np.array([[[1.0, 0], [0, 1]], [[-1.0, 0], [0, 1]]]))
                               [1])).all()
    np.testing.assert_allclose(L.cholesky(np.array([[[1.0, 0], [0, 1]], [[-1.0, 0], [0, 1]]]))[0],
                               np.eye(2))
    assert float(L.det(np.zeros((0, 0)))) == 1.0
    # Integer input becomes float32; NumPy float64 stays float64.
    assert L.det(np.eye(3, dtype=np.int32)).dtype == np.float32
    assert L.inv(np.eye(3)).dtype == np.float64
    assert L.norm(np.arange(3)).dtype == np.float32


def test_linalg_under_make_jaxpr(rng):
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3,))
    L = fnp.linalg

    def f(a, b):
        return (L.solve(a, b), L.det(a), L.slogdet(a).logabsdet, L.inv(a), L.pinv(a),
                L.norm(a, 2, (1, 2)), L.matrix_rank(a), L.eigh(a + fnp.matrix_transpose(a))[0])
    closed = fg.make_jaxpr(f)(a, b)
    prims = {e.prim.name for e in closed.eqns}
    assert {"lu", "triangular_solve", "svd", "eigh"} <= prims
    for staged, eager in zip(closed(a, b), f(a, b)):
        assert_close(staged, eager, 0, 0)


def test_linalg_errors():
    L = fnp.linalg
    with pytest.raises(errors.ShapeError, match=r"solve: a f64\[3,3\] and b f64\[2\] do not fit"):
        L.solve(np.eye(3), np.ones(2))
    with pytest.raises(errors.ShapeError, match=r"solve: shapes \[2\], \[3\] cannot be "
                       r"broadcast"):
        L.solve(np.ones((2, 3, 3)), np.ones((3, 3, 1)))
    with pytest.raises(errors.ShapeError, match=r"inv: operand f64\[2,3\] must be a \(batch "
                       r"of\) square"):
        L.inv(np.ones((2, 3)))
    with pytest.raises(errors.ShapeError, match=r"det: operand f64\[3\] must have rank >= 2"):
        L.det(np.ones(3))
    with pytest.raises(ValueError, match=r"qr: mode='raw'"):
        L.qr(np.eye(2), mode="raw")
    with pytest.raises(ValueError, match=r"norm: invalid norm order 'fro' for vectors"):
        L.norm(np.ones(3), "fro")
    with pytest.raises(ValueError, match=r"norm: invalid norm order 3 for matrices"):
        L.norm(np.ones((3, 3)), 3)
    with pytest.raises(errors.ShapeError, match=r"norm: ord=2 needs a 1-D or 2-D"):
        L.norm(np.ones((2, 2, 2)), 2)
    with pytest.raises(errors.ShapeError, match=r"multi_dot: array 1 f64\[2,2,2\]"):
        L.multi_dot([np.ones(2), np.ones((2, 2, 2)), np.ones(2)])
    with pytest.raises(errors.ShapeError, match=r"matmul: contracting dimensions differ"):
        L.multi_dot([np.ones((2, 3)), np.ones((2, 2))])
    with pytest.raises(TypeError, match=r"matrix_power: the exponent must be an integer"):
        L.matrix_power(np.eye(2), 1.5)
    with pytest.raises(errors.ShapeError, match=r"outer: x1 f64\[2,2\] must be 1-D"):
        L.outer(np.ones((2, 2)), np.ones(2))
