"""Derivatives and batching of the linear-algebra family: dot_general and the products built on
it (the spec tables of tests/test_linalg.py, tensordot and every einsum case), the
factorization primitives, and every function of funcgrad.numpy.linalg.

Checks: float64 finite differences at order 2, forward and reverse; vmap against a stack of
per-example results (every in_axes placement, batch sizes 0, 1 and 3) with one batched primitive
call per call of the unbatched function; and the transpose property ``<ct, L t> == <L^T ct, t>``
for dot_general (in each operand) and triangular_solve (in b).

Inputs stay away from the points where derivatives do not exist: eigen/singular values are
separated (and nonzero), matrices are well conditioned, Cholesky inputs are ``A A^T + n I``, and
norms whose value is a max/min or an abs get entries away from 0 and no ties. Eigenvector and
singular-vector outputs are checked through gauge-invariant functions (``V diag(c) V^T``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from funcgrad.dtypes import float0
from funcgrad.testing import GradCheckError, check_grads
from funcgrad.transforms import jvp as jvp_rules
from tests.harness import (
    F32,
    F64,
    Spec,
    arrays,
    assert_close,
    check_spec_grads,
    check_spec_vmap,
    draw_in_axes,
    scaled,
)
from tests.test_linalg import (
    DOT_GENERAL_CASES,
    DOT_GENERAL_SPECS,
    EINSUM_CASES,
    MATMUL_SPECS,
    dot_general_ref,
    dot_general_shapes,
    einsum_shapes,
    tensordot_case,
)

L = fnp.linalg
LINALG_PRIMS = {"dot_general", "cholesky", "eigh", "svd", "qr", "lu", "triangular_solve"}


def _one_per_case(specs):
    # f32 and f64 variants of a spec are the same function once cast to float64.
    return [s for s in specs if F64 in s.dtypes]


def _draw_args(spec, data, dtype):
    return [data.draw(arrays(s, dtype)) for s in data.draw(spec.shapes)]


# ---------------------------------------------------------------- dot_general and products

CONTRACTIONS = DOT_GENERAL_SPECS + MATMUL_SPECS


@pytest.mark.parametrize("spec", _one_per_case(CONTRACTIONS), ids=repr)
@settings(max_examples=scaled(5))
@given(data=st.data())
def test_contraction_grads(spec, data):
    check_spec_grads(spec, _draw_args(spec, data, F64), {})


@pytest.mark.parametrize("spec", CONTRACTIONS, ids=repr)
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_contraction_vmap(spec, data):
    args = _draw_args(spec, data, spec.dtypes[0])
    check_spec_vmap(spec, args, {}, data)
    check_one_call_per_call(spec.fg_fn, args)


TENSORDOT = Spec("tensordot", fnp.tensordot, np.tensordot, nargs=2, rtol=1e-4, atol=1e-4)


@settings(max_examples=scaled(8))
@given(case=tensordot_case(), data=st.data())
def test_tensordot_grads_and_vmap(case, data):
    shapes, kwargs = case
    args = [data.draw(arrays(s, F64)) for s in shapes]
    check_spec_grads(TENSORDOT, args, kwargs)
    dtype = data.draw(st.sampled_from([F32, F64, np.dtype("int32")]))
    check_spec_vmap(TENSORDOT, [a.astype(dtype) for a in args], kwargs, data)
    check_one_call_per_call(lambda a, b: fnp.tensordot(a, b, **kwargs), args)


def _einsum_spec(subscripts):
    return Spec(f"einsum({subscripts})", lambda *a: fnp.einsum(subscripts, *a),
                lambda *a: np.einsum(subscripts, *a), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("subscripts", EINSUM_CASES)
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_einsum_grads_and_vmap(subscripts, data):
    spec = _einsum_spec(subscripts)
    shapes = data.draw(einsum_shapes(subscripts))
    args = [data.draw(arrays(s, F64)) for s in shapes]
    check_spec_grads(spec, args, {})
    dtype = data.draw(st.sampled_from([F32, F64, np.dtype("int32")]))
    check_spec_vmap(spec, [a.astype(dtype) for a in args], {}, data)
    check_one_call_per_call(spec.fg_fn, args)


def _prim_counts(fn, args):
    jaxpr = fg.make_jaxpr(fn)(*args)
    names = [e.prim.name for e in jaxpr.eqns]
    return {p: names.count(p) for p in LINALG_PRIMS}


def check_one_call_per_call(fn, args):
    """vmap (of a batch of two, on axis 0) binds each linear-algebra primitive as often as
    ``fn`` does: one batched call, no loop over the batch."""
    batched = [np.stack([a, a]) for a in args]
    assert _prim_counts(fg.vmap(fn), batched) == _prim_counts(fn, args)


def _inner(xs, ys):
    return sum(float(np.vdot(np.asarray(x, F64), np.asarray(y, F64))) for x, y in zip(xs, ys))


def check_transpose(f, x, rng):
    """``f`` is linear: ``<ct, L t> == <L^T ct, t>`` with ``L`` from linearize and ``L^T`` from
    vjp, for random ``t`` and ``ct``."""
    out, f_lin = fg.linearize(f, x)
    _, f_vjp = fg.vjp(f, x)
    t = rng.standard_normal(np.shape(x))
    ct = rng.standard_normal(np.shape(out))
    lhs = _inner([ct], [f_lin(t)])
    rhs = _inner([f_vjp(ct)[0]], [t])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
    # L^T is the transpose of L, not merely consistent with it: L^T ct also matches the
    # explicit Jacobian built from L (columns L e_i).
    if 0 < np.size(x) <= 64:
        eye = np.eye(np.size(x)).reshape((np.size(x),) + np.shape(x))
        jac = np.stack([np.asarray(f_lin(e)).ravel() for e in eye], axis=1)
        np.testing.assert_allclose(np.asarray(f_vjp(ct)[0]).ravel(), jac.T @ ct.ravel(),
                                   rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", DOT_GENERAL_CASES, ids=lambda c: c[0])
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_dot_general_transpose(case, data):
    name, dn, ln, rn = case
    ls, rs = data.draw(dot_general_shapes(dn, ln, rn))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    x, y = rng.standard_normal(ls), rng.standard_normal(rs)
    check_transpose(lambda x: lax.dot_general(x, y, dn), x, rng)
    check_transpose(lambda y: lax.dot_general(x, y, dn), y, rng)
    ref = dot_general_ref(dn)(x, y)
    assert_close(lax.dot_general(x, y, dn), ref, 1e-12, 1e-12)


def test_dot_general_transpose_with_preferred_element_type():
    x, y = np.arange(6.0, dtype=F32).reshape(2, 3), np.ones((3, 4), F32)
    f = lambda x: lax.dot_general(x, y, (((1,), (0,)), ((), ())), preferred_element_type=F64)
    out, f_vjp = fg.vjp(f, x)
    assert out.dtype == F64
    (ct,) = f_vjp(np.ones((2, 4)))
    assert ct.dtype == F32
    np.testing.assert_allclose(ct, np.full((2, 3), 4.0))
    assert fg.grad(lambda x: f(x).sum())(x).dtype == F32


def test_integer_dot_general_has_zero_tangent():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    out, t = fg.jvp(lambda x: fnp.matmul(x, x.T), (x,), (np.zeros(x.shape, float0),))
    np.testing.assert_array_equal(out, x @ x.T)
    assert t.dtype == float0 and t.shape == (2, 2)
    f = lambda x, w: fnp.sum(fnp.matmul(x, x.T).astype(F64) * w)
    np.testing.assert_allclose(fg.grad(f, argnums=1)(x, 1.0), float((x @ x.T).sum()))


# ---------------------------------------------------------------- matrices for linalg

BATCHES = st.sampled_from([(), (1,), (3,), (2, 2)])


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diagonal(r))


def _spectrum(rng, k, signed):
    """``k`` values in [0.6, 2] at least 0.25 apart (in absolute value), in random order."""
    s = 0.6 + 0.35 * np.arange(k) + rng.uniform(0, 0.1, k)
    s = rng.permutation(s)
    return s * rng.choice([-1.0, 1.0], k) if signed else s


def _one_matrix(rng, m, n, kind):
    k = min(m, n)
    if kind == "spd":  # A A^T + n I
        a = rng.standard_normal((n, n))
        return a @ a.T + n * np.eye(n)
    if kind == "sym":  # separated eigenvalues of both signs
        q = _orthogonal(rng, n)
        return (q * _spectrum(rng, n, True)) @ q.T
    if kind in ("general", "rect"):  # separated singular values in [0.6, 2]
        q1, q2 = _orthogonal(rng, m)[:, :k], _orthogonal(rng, n)[:, :k]
        return (q1 * _spectrum(rng, k, kind == "general")) @ q2.T
    if kind == "nonzero":  # entries away from 0 (abs kinks)
        return rng.uniform(0.3, 3.0, (m, n)) * rng.choice([-1.0, 1.0], (m, n))
    return rng.uniform(-3.0, 3.0, (m, n))


def matrix(rng, batch, m, n, kind):
    out = np.empty(tuple(batch) + (m, n))
    for idx in np.ndindex(*batch):
        out[idx] = _one_matrix(rng, m, n, kind)
    return out


def test_generated_spectra_are_separated(rng):
    # The eigh/svd derivatives divide by gaps between eigen/singular values: the generators
    # keep them at least 0.25 apart (and away from 0).
    for kind, m, n in [("sym", 4, 4), ("general", 4, 4), ("rect", 5, 3), ("rect", 2, 4)]:
        a = matrix(rng, (20,), m, n, kind)
        vals = np.linalg.eigvalsh(a) if kind == "sym" else np.linalg.svd(a, compute_uv=False)
        assert np.all(np.diff(np.sort(vals, -1), axis=-1) > 0.24)
        assert np.all(np.abs(vals) > 0.59)


@dataclasses.dataclass
class LSpec:
    """A funcgrad.numpy.linalg (or lax) function and how to draw its arguments: ``args`` is a
    strategy of ``make(rng, dtype) -> list of arrays`` (the shapes fixed by the draw, so that
    several examples of one batch share them). ``ok(args)`` excludes points where the function
    is not differentiable; ``grad=False`` for integer-valued functions."""
    name: str
    fn: Callable
    args: object
    grad: bool = True
    ok: Callable | None = None

    def __repr__(self):
        return self.name


def _maker(draw_shapes, build):
    @st.composite
    def strategy(draw):
        params = draw_shapes(draw)
        return lambda rng, dtype: [a.astype(dtype) for a in build(rng, *params)]
    return strategy()


def square(kind, n_min=1, n_max=4):
    return _maker(lambda d: (d(BATCHES), d(st.integers(n_min, n_max))),
                  lambda rng, b, n: [matrix(rng, b, n, n, kind)])


def rect(kind, shape=None, min_side=1):
    """``shape``: "tall" (m > n), "wide" (m < n), "square" or None (any)."""
    def shapes(d):
        m, n = d(st.integers(min_side, 4)), d(st.integers(min_side, 4))
        if shape == "square":
            m = n
        elif shape in ("tall", "wide") and m == n:
            m = n + 1
        if (shape == "tall" and m < n) or (shape == "wide" and m > n):
            m, n = n, m
        return d(BATCHES), m, n
    return _maker(shapes, lambda rng, b, m, n: [matrix(rng, b, m, n, kind)])


def solve_args():
    def shapes(d):
        batch, n = d(BATCHES), d(st.integers(1, 4))
        bshape = d(st.sampled_from([(n,), (n, 2), batch + (n, 1), (2,) + batch + (n, 2)]))
        return batch, n, bshape
    return _maker(shapes, lambda rng, b, n, bs: [matrix(rng, b, n, n, "general"),
                                                 rng.standard_normal(bs)])


def vectors(*shapes_):
    return _maker(lambda d: (), lambda rng: [rng.uniform(-3, 3, s) for s in shapes_])


def chain_args():
    def shapes(d):
        return tuple(d(st.integers(1, 4)) for _ in range(4))
    return _maker(shapes, lambda rng, a, b, c, e: [rng.standard_normal(s) for s in
                                                   [(a,), (a, b), (b, c), (c, e), (e,)]])


def _gauge_free(v, c=None):
    """``V diag(c) V^T`` over the last two axes: unchanged by flipping the sign of a column."""
    k = v.shape[-1]
    c = fnp.arange(1.0, k + 1.0) if c is None else c
    return fnp.matmul(v * c, fnp.matrix_transpose(v))


def _eigh_fns(uplo):
    def fn(a):
        w, v = L.eigh(a, uplo)
        # Weighted squared components: sum_j |v_ij|^2 c_j, and a reconstruction with new
        # eigenvalues; both gauge-invariant.
        return w, _gauge_free(v), fnp.sum(v * v * fnp.arange(1.0, w.shape[-1] + 1.0), -1)
    return fn


def _svd_fn(full):
    def fn(a):
        u, s, vh = L.svd(a, full_matrices=full)
        k = s.shape[-1]
        uk, vk = u[..., :, :k], fnp.matrix_transpose(vh)[..., :, :k]
        return (s, _gauge_free(uk), _gauge_free(vk),
                fnp.matmul(uk * (s * s)[..., None, :], fnp.matrix_transpose(vk)))
    return fn


def _qr_fn(mode):
    def fn(a):
        q, r = L.qr(a, mode=mode)
        sign = fnp.sign(fnp.linalg.diagonal(r))  # the positive-diagonal factorization
        k = sign.shape[-1]
        return q[..., :, :k] * sign[..., None, :], r[..., :k, :] * sign[..., :, None]
    return fn


def _gram(r):
    return fnp.matmul(fnp.matrix_transpose(r), r)  # R^T R: independent of R's row signs


def _leading_block_ok(args):
    a = args[0]
    k = min(a.shape[-2:])
    return bool(np.all(np.linalg.cond(a[..., :k, :k]) < 30))


def _separated_svals(args, gap=0.05):
    s = np.linalg.svd(np.asarray(args[0], F64), compute_uv=False)
    return bool(np.all(s > gap) and np.all(np.abs(np.diff(s, axis=-1)) > gap))


def _no_ties(vals, axis=-1, gap=1e-3):
    vals = np.sort(np.asarray(vals), axis=axis)
    return vals.shape[axis] < 2 or bool(np.all(np.diff(vals, axis=axis) > gap))


def _norm_ok(ord_, matrix_):
    def ok(args):
        x = np.abs(args[0])
        if not matrix_:
            return ord_ not in (np.inf, -np.inf) or _no_ties(x)
        if ord_ in (1, -1):
            return _no_ties(x.sum(-2))
        if ord_ in (np.inf, -np.inf):
            return _no_ties(x.sum(-1))
        if ord_ in (2, -2, "nuc"):
            return _separated_svals(args)
        return True
    return ok


VECTOR_ORDS = [None, 0, 1, 2, 3, 0.5, -1, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]

LINALG_SPECS = [
    LSpec("inv", L.inv, square("general")),
    LSpec("det", L.det, square("general")),
    LSpec("slogdet", lambda a: tuple(L.slogdet(a)), square("general")),
    LSpec("solve", L.solve, solve_args()),
    LSpec("cholesky", L.cholesky, square("spd")),
    LSpec("cholesky_upper", lambda a: L.cholesky(a, upper=True), square("spd")),
    LSpec("eigh_L", _eigh_fns("L"), square("sym")),
    LSpec("eigh_U", _eigh_fns("U"), square("sym")),
    LSpec("eigvalsh", L.eigvalsh, square("sym")),
    LSpec("svd_thin", _svd_fn(False), rect("rect")),
    LSpec("svd_full_square", _svd_fn(True), square("general")),
    LSpec("svd_s", lambda a: L.svd(a, compute_uv=False), rect("rect")),
    LSpec("svdvals", L.svdvals, rect("rect")),
    LSpec("qr_reduced_tall", _qr_fn("reduced"), rect("rect", "tall")),
    LSpec("qr_reduced_square", _qr_fn("reduced"), square("general")),
    LSpec("qr_reduced_wide", _qr_fn("reduced"), rect("random", "wide"), ok=_leading_block_ok),
    LSpec("qr_complete_wide", _qr_fn("complete"), rect("random", "wide"), ok=_leading_block_ok),
    LSpec("qr_r", lambda a: _gram(L.qr(a, mode="r")), rect("random"), ok=_leading_block_ok),
    LSpec("pinv", L.pinv, square("general")),
    LSpec("pinv_rect", L.pinv, rect("rect")),
    LSpec("matrix_rank", L.matrix_rank, rect("rect"), grad=False),
    *[LSpec(f"matrix_power[{p}]", lambda a, p=p: L.matrix_power(a, p), square("general"))
      for p in (-2, 0, 1, 3)],
    LSpec("multi_dot", lambda *a: L.multi_dot(a), chain_args()),
    LSpec("trace", lambda a: L.trace(a, offset=1), rect("random")),
    LSpec("diagonal", lambda a: L.diagonal(a, offset=-1), rect("random")),
    LSpec("outer", L.outer, vectors((3,), (4,))),
    LSpec("vecdot", L.vecdot, _maker(lambda d: (d(BATCHES), d(st.integers(0, 4))),
                                     lambda rng, b, n: [rng.standard_normal(b + (n,)),
                                                        rng.standard_normal((n,))])),
    LSpec("matrix_transpose", L.matrix_transpose, rect("random")),
    LSpec("tensordot", lambda a, b: L.tensordot(a, b, 1), vectors((2, 3), (3, 4))),
    LSpec("matmul", L.matmul, vectors((2, 2, 3), (3, 4))),
    LSpec("norm", L.norm, rect("random")),
    *[LSpec(f"norm_vec[{o}]", lambda x, o=o: L.norm(x, o, -1), rect("nonzero"),
            ok=_norm_ok(o, False)) for o in VECTOR_ORDS],
    *[LSpec(f"norm_mat[{o}]", lambda x, o=o: L.norm(x, o, (-2, -1)), rect("nonzero"),
            ok=_norm_ok(o, True)) for o in MATRIX_ORDS],
    LSpec("vector_norm", lambda x: L.vector_norm(x, axis=(0, -1), ord=3), rect("nonzero")),
    LSpec("matrix_norm", lambda x: L.matrix_norm(x, ord="nuc"), rect("rect")),
]


@pytest.mark.parametrize("spec", [s for s in LINALG_SPECS if s.grad], ids=repr)
@settings(max_examples=scaled(6))
@given(make=st.data(), seed=st.integers(0, 2**31 - 1))
def test_linalg_grads(spec, make, seed):
    args = make.draw(spec.args)(np.random.default_rng(seed), F64)
    if spec.ok is not None:
        assume(spec.ok(args))
    check_grads(spec.fn, args, order=2)


def check_vmap_examples(fn, examples, in_axes, name=""):
    """``vmap(fn, in_axes)`` of the examples (a list of argument lists; unmapped arguments are
    taken from the first) equals the stack of per-example results, and batching adds no
    linear-algebra primitive call (each is bound once for the whole batch)."""
    size = len(examples) - 1  # examples[0] is a template when the batch is empty
    exs = examples[1:] if size else examples[:1]
    batched = []
    for i, ax in enumerate(in_axes):
        if ax is None:
            batched.append(examples[0][i])
        elif size:
            batched.append(np.stack([ex[i] for ex in exs], axis=ax))
        else:
            a = np.stack([examples[0][i]], axis=ax)
            batched.append(np.take(a, np.array([], np.intp), axis=ax))
    vf = fg.vmap(fn, in_axes=tuple(in_axes))
    got = fg.tree_util.tree_leaves(vf(*batched))
    per = [[a if ax is None else ex[i] for i, (a, ax) in enumerate(zip(examples[0], in_axes))]
           for ex in exs]
    want = [fg.tree_util.tree_leaves(fn(*p)) for p in per]
    for j, g in enumerate(got):
        w = np.stack([np.asarray(o[j]) for o in want]) if size else \
            np.empty((0,) + np.shape(want[0][j]), np.asarray(want[0][j]).dtype)
        assert np.asarray(g).dtype == w.dtype, name
        f32 = w.dtype == F32
        assert_close(g, w, 1e-4 if f32 else 1e-9, 1e-4 if f32 else 1e-10,
                     err_msg=f"{name}: output {j}, in_axes={in_axes}, size={size}")
    assert _prim_counts(vf, batched) == _prim_counts(fn, examples[0]), name


def check_spec_vmap_examples(spec, data):
    """Draws a dtype, a batch size, independent examples and in_axes for ``spec``."""
    make = data.draw(spec.args)
    dtype = data.draw(st.sampled_from([F32, F64]))
    size = data.draw(st.sampled_from([0, 1, 3]))
    seed = data.draw(st.integers(0, 2**31 - 1))
    examples = [make(np.random.default_rng(seed + k), dtype) for k in range(size + 1)]
    in_axes = draw_in_axes(data.draw, examples[0])
    check_vmap_examples(spec.fn, examples, in_axes, spec.name)


@pytest.mark.parametrize("spec", LINALG_SPECS, ids=repr)
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_linalg_vmap(spec, data):
    check_spec_vmap_examples(spec, data)


# ---------------------------------------------------------------- lax-level primitives

def _tsolve_fn(left_side, lower, transpose_a, unit_diagonal):
    return lambda a, b: lax.triangular_solve(a, b, left_side=left_side, lower=lower,
                                             transpose_a=transpose_a, unit_diagonal=unit_diagonal)


def _tsolve_args(left_side):
    def build(rng, batch, m, k):
        a = rng.uniform(-1, 1, batch + (m, m)) / m + 2 * np.eye(m)
        return [a, rng.standard_normal(batch + ((m, k) if left_side else (k, m)))]
    return _maker(lambda d: (d(BATCHES), d(st.integers(1, 4)), d(st.integers(0, 3))), build)


def _lu_ok(args):
    # Partial pivoting chooses the largest entry of a column: keep clear of ties there.
    a = args[0]
    return _no_ties(np.abs(a[..., :, 0]), gap=1e-2)


PRIM_SPECS = [
    *[LSpec(f"triangular_solve[{'L' if ls else 'R'}{'lo' if lo else 'up'}"
            f"{'T' if ta else ''}{'U' if ud else ''}]", _tsolve_fn(ls, lo, ta, ud),
            _tsolve_args(ls))
      for ls in (True, False) for lo in (True, False) for ta in (True, False)
      for ud in (True, False)],
    LSpec("lax.cholesky", lax.cholesky, square("spd")),
    *[LSpec(f"lax.lu[{shape}]", lambda a: lax.lu(a)[0], rect("random", shape, 2), ok=_lu_ok)
      for shape in ("tall", "square", "wide")],
    LSpec("lax.lu_outputs", lambda a: lax.lu(a), rect("random"), grad=False),
    LSpec("lax.eigh", lambda a: lax.eigh(a)[1], square("sym")),
    LSpec("lax.svd_s", lambda a: lax.svd(a, compute_uv=False), rect("rect")),
    LSpec("lax.qr", lambda a: _qr_fn("reduced")(a), rect("rect", "tall")),
]


@pytest.mark.parametrize("spec", [s for s in PRIM_SPECS if s.grad], ids=repr)
@settings(max_examples=scaled(6))
@given(make=st.data(), seed=st.integers(0, 2**31 - 1))
def test_primitive_grads(spec, make, seed):
    args = make.draw(spec.args)(np.random.default_rng(seed), F64)
    if spec.ok is not None:
        assume(spec.ok(args))
    check_grads(spec.fn, args, order=2)


@pytest.mark.parametrize("spec", PRIM_SPECS, ids=repr)
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_primitive_vmap(spec, data):
    check_spec_vmap_examples(spec, data)


@pytest.mark.parametrize("flags", [(ls, lo, ta, ud) for ls in (True, False) for lo in (True, False)
                                   for ta in (True, False) for ud in (True, False)], ids=str)
def test_triangular_solve_transpose(flags, rng):
    a = rng.uniform(-1, 1, (2, 4, 4)) / 4 + 2 * np.eye(4)
    b = rng.standard_normal((2, 4, 3) if flags[0] else (2, 3, 4))
    check_transpose(lambda b: _tsolve_fn(*flags)(a, b), b, rng)


# ---------------------------------------------------------------- known answers and errors

def test_det_gradient_is_det_times_inverse_transpose(rng):
    a = matrix(rng, (3,), 4, 4, "general")
    g = fg.grad(lambda a: fnp.sum(L.det(a)))(a)
    want = np.linalg.det(a)[:, None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)
    np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)
    g = fg.grad(lambda a: fnp.sum(L.slogdet(a).logabsdet))(a)
    np.testing.assert_allclose(g, np.swapaxes(np.linalg.inv(a), -1, -2), rtol=1e-10, atol=1e-12)


def test_pinv_derivative_at_repeated_singular_values(rng):
    # The SVD's derivative is undefined there, the pseudo-inverse's is not (pinv == inv).
    q = _orthogonal(rng, 3)
    for a in (np.eye(3), q, np.stack([2 * q, q.T])):
        check_grads(L.pinv, (a,), order=2)
        g = fg.grad(lambda a: fnp.sum(L.pinv(a) * a))(a)
        np.testing.assert_allclose(g, fg.grad(lambda a: fnp.sum(L.inv(a) * a))(a), atol=1e-12)
    tall = 2 * q[:, :2]  # orthogonal columns, equal singular values
    check_grads(L.pinv, (tall,), order=2)


def test_eigh_and_svd_derivatives_of_values(rng):
    # dw = diag(V^T dA V) for symmetric dA; ds = diag(U^T dA V).
    a = matrix(rng, (), 4, 4, "sym")
    w, v = np.linalg.eigh(a)
    da = rng.standard_normal((4, 4))
    da = da + da.T
    _, dw = fg.jvp(L.eigvalsh, (a,), (da,))
    np.testing.assert_allclose(dw, np.einsum("ji,jk,ki->i", v, da, v), rtol=1e-10)
    x = matrix(rng, (), 5, 3, "rect")
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    dx = rng.standard_normal((5, 3))
    _, ds = fg.jvp(L.svdvals, (x,), (dx,))
    np.testing.assert_allclose(ds, np.einsum("ji,jk,ik->i", u, dx, vh), rtol=1e-10)


def test_factorization_derivatives_read_one_triangle(rng):
    # cholesky and eigh read only one triangle: perturbing the other one changes nothing.
    a = matrix(rng, (), 4, 4, "spd")
    upper = np.triu(rng.standard_normal((4, 4)), 1)
    for f in (L.cholesky, L.eigvalsh, lambda a: _gauge_free(L.eigh(a).eigenvectors)):
        _, t = fg.jvp(f, (a,), (upper,))
        np.testing.assert_allclose(t, 0, atol=1e-12)
    _, t = fg.jvp(lambda a: L.eigvalsh(a, "U"), (a,), (upper.T,))
    np.testing.assert_allclose(t, 0, atol=1e-12)


def test_lu_pivots_have_zero_tangents(rng):
    a = rng.standard_normal((2, 4, 3))
    _, (t_lu, t_piv, t_perm) = fg.jvp(lax.lu, (a,), (np.ones_like(a),))
    assert t_piv.dtype == float0 and t_perm.dtype == float0
    assert t_lu.shape == a.shape


def test_undefined_derivatives_raise(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(errors.MissingRuleError, match=r"jvp of svd: .*full_matrices=True"):
        fg.grad(lambda x: fnp.sum(L.svd(x, full_matrices=True).U))(x)
    with pytest.raises(errors.MissingRuleError, match=r"jvp of qr: .*tall 4x3"):
        fg.grad(lambda x: fnp.sum(L.qr(x, mode="complete").Q))(x)
    # Square full_matrices svd is the thin one: differentiable.
    sq = matrix(rng, (), 3, 3, "general")
    check_grads(_svd_fn(True), (sq,), order=1)


def test_vmap_of_solve_with_shared_matrix_is_one_solve(rng):
    # Only b batched: the batch is folded into the right-hand sides, a is not broadcast.
    a = matrix(rng, (), 3, 3, "general")
    bs = rng.standard_normal((5, 3, 2))
    f = lambda b: lax.triangular_solve(a, b, left_side=True, lower=True)
    jaxpr = fg.make_jaxpr(fg.vmap(f))(bs)
    assert [e.prim.name for e in jaxpr.eqns].count("triangular_solve") == 1
    assert "broadcast_in_dim" not in [e.prim.name for e in jaxpr.eqns]
    np.testing.assert_allclose(fg.vmap(f)(bs), np.stack([np.asarray(f(b)) for b in bs]))


def test_broken_rules_are_caught(monkeypatch, rng):
    # The checks can fail: a transpose of dot_general off by 1% is caught in reverse mode only
    # (forward mode never transposes), and a jvp of cholesky off by 1% in both.
    from funcgrad.primitives import linalg as rules
    from funcgrad.transforms import transpose as transpose_rules
    a = matrix(rng, (), 3, 3, "spd")
    x = rng.standard_normal((2, 3))

    def bad_transpose(ct, lhs, rhs, **params):
        cts = rules._dot_general_transpose(ct, lhs, rhs, **params)
        return [None if c is None else c * 1.01 for c in cts]
    monkeypatch.setitem(transpose_rules.rules, rules.dot_general_p, bad_transpose)
    check_grads(lambda x: fnp.matmul(x, a), (x,), order=1, modes=("fwd",))
    with pytest.raises(GradCheckError, match="order 1"):
        check_grads(lambda x: fnp.matmul(x, a), (x,), order=1, modes=("rev",))
    monkeypatch.undo()

    def bad_jvp(primals, tangents):
        out, t = rules._cholesky_jvp(primals, tangents)
        return out, t * 1.01
    monkeypatch.setitem(jvp_rules.rules, rules.cholesky_p, bad_jvp)
    for mode in ("fwd", "rev"):
        with pytest.raises(GradCheckError, match="order 1"):
            check_grads(L.cholesky, (a,), order=1, modes=(mode,))
