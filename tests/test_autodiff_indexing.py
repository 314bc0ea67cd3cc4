"""Derivatives and batching of the indexing family: gather and the scatter family (lax level,
on random dimension numbers with batching dims and both modes), ``x[idx]`` and every
``x.at[idx]`` update (on the spec tables of tests/test_indexing.py).

Checks: float64 finite differences at order 2, forward and reverse; vmap against a stack of
per-example results (operand, updates and indices batched or not, every batch position); and
the transpose property ``<ct, L t> == <L^T ct, t>`` for the linear primitives.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import funcgrad as fg
from funcgrad import lax
from funcgrad.numpy._indexing import IndexUpdateHelper, getitem
from funcgrad.testing import check_grads
from tests.harness import (
    BOOL,
    F32,
    F64,
    I32,
    Spec,
    args_strategy,
    check_spec_grads,
    check_spec_vmap,
    check_vmap,
    draw_in_axes,
    scaled,
)
from tests.test_indexing import CASES, DUPLICATES, _ids, index_exprs

SCATTERS = ["scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max"]


# ---------------------------------------------------------------- random gather/scatter problems

@st.composite
def gather_problems(draw, max_rank=3):
    """An operand shape, gather dimension numbers (every kind of operand axis: batching,
    collapsed, indexed window, plain window), slice sizes, an index array and a mode.

    Drawn from one seed with NumPy (not hypothesis' own draws, which favour the smallest
    problems) so that every example mixes several kinds of axes."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    rank = int(rng.integers(1, max_rank + 1))
    roles = list(rng.choice(["batching", "collapsed", "indexed", "window"], size=rank))
    shape = [int(n) for n in rng.integers(1, 5, size=rank)]
    # The batch axes of the indices: free ones (size 0 now and then), plus one per operand
    # batching axis, at random positions.
    batch = [int(n) for n in rng.choice([0, 1, 2, 3, 3], size=rng.integers(0, 3))]
    batching = [d for d in range(rank) if roles[d] == "batching"]
    idx_batching = []
    for d in batching:
        pos = int(rng.integers(0, len(batch) + 1))
        batch.insert(pos, shape[d])
        idx_batching = [j + (j >= pos) for j in idx_batching] + [pos]
    mapped = [d for d in range(rank) if roles[d] in ("collapsed", "indexed")]
    mapped = [mapped[k] for k in rng.permutation(len(mapped))]
    sizes = [1 if roles[d] in ("batching", "collapsed") else int(rng.integers(1, shape[d] + 1))
             for d in range(rank)]
    window = [d for d in range(rank) if roles[d] in ("indexed", "window")]
    out_rank = len(window) + len(batch)
    offset = sorted(int(k) for k in rng.permutation(out_rank)[:len(window)])
    # Window starts: mostly in bounds, sometimes one past either end.
    cols = [rng.integers(-1, shape[d] - sizes[d] + 2, size=tuple(batch)) for d in mapped]
    indices = np.stack(cols, -1) if cols else np.zeros(tuple(batch) + (0,), np.int64)
    dn = lax.GatherDimensionNumbers(
        offset_dims=tuple(offset),
        collapsed_slice_dims=tuple(d for d in range(rank) if roles[d] == "collapsed"),
        start_index_map=tuple(mapped), operand_batching_dims=tuple(batching),
        start_indices_batching_dims=tuple(idx_batching))
    mode = str(rng.choice(["clip", "fill"]))
    return tuple(shape), dn, tuple(sizes), indices.astype(np.int32), mode


def _scatter_dnums(dn):
    return lax.ScatterDimensionNumbers(
        update_window_dims=dn.offset_dims, inserted_window_dims=dn.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dn.start_index_map,
        operand_batching_dims=dn.operand_batching_dims,
        scatter_indices_batching_dims=dn.start_indices_batching_dims)


def _gather_fn(dn, sizes, mode):
    # A finite fill value, so that finite differences of filled windows are 0, not NaN.
    return lambda x, i: lax.gather(x, i, dn, sizes, mode=mode, fill_value=-1.5)


def _scatter_fn(name, dn, mode):
    sdn = _scatter_dnums(dn)
    return lambda x, i, u: getattr(lax, name)(x, i, u, sdn, mode=mode)


def _updates_shape(shape, dn, sizes, indices):
    return tuple(np.asarray(lax.gather(np.zeros(shape), indices, dn, sizes)).shape)


def _away_from_ties(x, u, name):
    # scatter_min/max are not differentiable where an update ties with the operand or another
    # update; continuous random values tie with probability 0, but stay clear of near-ties.
    if name in ("scatter_min", "scatter_max"):
        vals = np.sort(np.concatenate([x.ravel(), u.ravel()]))
        assume(vals.size < 2 or np.min(np.diff(vals)) > 1e-3)


@given(gather_problems(), st.integers(0, 2**31 - 1))
@settings(max_examples=scaled(25), deadline=None)
def test_gather_grads(problem, seed):
    shape, dn, sizes, indices, mode = problem
    x = np.random.default_rng(seed).standard_normal(shape)
    f = _gather_fn(dn, sizes, mode)
    check_grads(lambda x: f(x, indices), (x,), order=2)


@pytest.mark.parametrize("name", SCATTERS)
@given(problem=gather_problems(), seed=st.integers(0, 2**31 - 1))
@settings(max_examples=scaled(12), deadline=None)
def test_scatter_grads(name, problem, seed):
    shape, dn, sizes, indices, mode = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    u = rng.standard_normal(_updates_shape(shape, dn, sizes, indices))
    _away_from_ties(x, u, name)
    f = _scatter_fn(name, dn, mode)
    check_grads(lambda x, u: f(x, indices, u), (x, u), order=2)


def test_scatter_mul_grads_with_zero_and_duplicate_updates():
    """Updates that are exactly zero, several landing on one element: d/du_k is the product of
    the other updates there (computed without dividing by zero)."""
    dn = lax.ScatterDimensionNumbers((), (0,), (0,))
    x = np.array([1.5, -2.0, 3.0])
    idx = np.array([[0], [0], [0], [1], [1], [2]])
    u = np.array([2.0, 0.0, -3.0, 0.0, 0.0, 4.0])
    ones = np.ones(3)

    def grad_u(u):
        return fg.vjp(lambda u: lax.scatter_mul(x, idx, u, dn), u)[1](ones)[0]
    want = [1.5 * 0.0 * -3.0, 1.5 * 2.0 * -3.0, 1.5 * 2.0 * 0.0, -2.0 * 0.0, -2.0 * 0.0, 3.0]
    np.testing.assert_allclose(grad_u(u), want)
    gx = fg.vjp(lambda x: lax.scatter_mul(x, idx, u, dn), x)[1](ones)[0]
    np.testing.assert_allclose(gx, [0.0, 0.0, 4.0])
    # One zero among duplicates: exact at order 2 as well (d2/du0 du1 = x0 * u2).
    e1 = np.eye(6)[1]
    h = fg.jvp(grad_u, (u,), (e1,))[1]
    np.testing.assert_allclose(h, [1.5 * -3.0, 0.0, 1.5 * 2.0, 0.0, 0.0, 0.0])
    # Away from zeros, every order checks against finite differences.
    u2 = np.array([2.0, 0.5, -3.0, 1.5, -0.7, 4.0])
    check_grads(lambda x, u: lax.scatter_mul(x, idx, u, dn), (x, u2), order=2)


def test_scatter_set_duplicates_follow_the_winner():
    """scatter with duplicate indices: the last update (row-major) wins, and so does its
    derivative; losing updates and overwritten operand elements get zero gradient."""
    dn = lax.ScatterDimensionNumbers((), (0,), (0,))
    x = np.array([1.0, 2.0, 3.0])
    idx = np.array([[1], [1], [2], [1]])
    u = np.array([10.0, 20.0, 30.0, 40.0])
    gx, gu = fg.vjp(lambda x, u: lax.scatter(x, idx, u, dn), x, u)[1](np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(gu, [0.0, 0.0, 3.0, 2.0])


@pytest.mark.parametrize("name", ["scatter_min", "scatter_max"])
def test_scatter_extremum_splits_ties(name):
    dn = lax.ScatterDimensionNumbers((), (0,), (0,))
    x = np.array([1.0, 5.0, 3.0])
    idx = np.array([[0], [0], [2]])
    u = np.array([1.0, 1.0, 7.0 if name == "scatter_min" else -7.0])
    gx, gu = fg.vjp(lambda x, u: getattr(lax, name)(x, idx, u, dn), x, u)[1](np.ones(3))
    # Element 0: the operand and two updates tie, a third each; element 2 keeps the operand.
    np.testing.assert_allclose(gx, [1 / 3, 1.0, 1.0])
    np.testing.assert_allclose(gu, [1 / 3, 1 / 3, 0.0])


# ---------------------------------------------------------------- vmap of the primitives

def _check_vmap_drawn(data, fn, args):
    in_axes = draw_in_axes(data.draw, args)
    size = data.draw(st.sampled_from([0, 1, 3]))
    check_vmap(fn, args, in_axes, size, seed=data.draw(st.integers(0, 2**16)))


@given(gather_problems(), st.data())
@settings(max_examples=scaled(30), deadline=None)
def test_gather_vmap(problem, data):
    shape, dn, sizes, indices, mode = problem
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _check_vmap_drawn(data, _gather_fn(dn, sizes, mode), [x, indices])


@pytest.mark.parametrize("name", SCATTERS)
@given(problem=gather_problems(), data=st.data())
@settings(max_examples=scaled(12), deadline=None)
def test_scatter_vmap(name, problem, data):
    shape, dn, sizes, indices, mode = problem
    rng = np.random.default_rng(1)
    dtype = data.draw(st.sampled_from([np.float32, np.int32]))
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    u = (rng.standard_normal(_updates_shape(shape, dn, sizes, indices)) * 5).astype(dtype)
    _check_vmap_drawn(data, _scatter_fn(name, dn, mode), [x, indices, u])


def test_vmap_emits_one_gather_with_batching_dims():
    x = np.zeros((3, 5), np.float32)
    i = np.zeros((3, 2, 1), np.int32)
    dn = lax.GatherDimensionNumbers((), (0,), (0,))
    closed = fg.make_jaxpr(fg.vmap(lambda x, i: lax.gather(x, i, dn, (1,))))(x, i)
    gathers = [e for e in closed.jaxpr.eqns if e.prim.name == "gather"]
    assert len(gathers) == 1 and len(closed.jaxpr.eqns) == 1
    assert gathers[0].params["dimension_numbers"].operand_batching_dims == (0,)
    sdn = lax.ScatterDimensionNumbers((), (0,), (0,))
    u = np.zeros((3, 2), np.float32)
    closed = fg.make_jaxpr(fg.vmap(lambda x, i, u: lax.scatter_add(x, i, u, sdn)))(x, i, u)
    assert [e.prim.name for e in closed.jaxpr.eqns] == ["scatter_add"]


# ---------------------------------------------------------------- transpose property

def _transpose_property(f, primal, rng):
    """For L = linearize(f) at ``primal``: <ct, L t> == <L^T ct, t>."""
    out, f_jvp = fg.linearize(f, primal)
    t = rng.standard_normal(np.shape(primal))
    ct = rng.standard_normal(np.shape(out))
    lt = np.asarray(f_jvp(t))
    (ltct,) = fg.vjp(f, primal)[1](ct)
    lhs, rhs = float(np.vdot(ct, lt)), float(np.vdot(np.asarray(ltct), t))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@given(gather_problems(), st.integers(0, 2**31 - 1))
@settings(max_examples=scaled(20), deadline=None)
def test_gather_transpose_property(problem, seed):
    shape, dn, sizes, indices, mode = problem
    rng = np.random.default_rng(seed)
    f = _gather_fn(dn, sizes, mode)
    _transpose_property(lambda x: f(x, indices), rng.standard_normal(shape), rng)


@given(gather_problems(), st.integers(0, 2**31 - 1))
@settings(max_examples=scaled(20), deadline=None)
def test_scatter_add_transpose_property(problem, seed):
    shape, dn, sizes, indices, mode = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    u = rng.standard_normal(_updates_shape(shape, dn, sizes, indices))
    f = _scatter_fn("scatter_add", dn, mode)
    _transpose_property(lambda u: f(x, indices, u), u, rng)
    _transpose_property(lambda x: f(x, indices, u), x, rng)


# ---------------------------------------------------------------- x[idx] and x.at[idx]
# Every case of tests/test_indexing.py's tables (CASES, DUPLICATES; boolean masks are concrete
# there, negative indices, slices with steps), for x[idx] and every .at[] method.

ALL = (F32, I32, BOOL)
# op -> (domain of x, domain of the values, dtypes for vmap). Domains keep away from points
# where the function is not differentiable: divide by values away from 0, power of positive
# bases. min/max tie with probability 0 on continuous draws (ties are tested above).
AT_OPS = {
    "set": ("real", "real", ALL), "add": ("real", "real", ALL),
    "subtract": ("real", "real", (F32, I32)), "multiply": ("real", "real", ALL),
    "min": ("real", "real", ALL), "max": ("real", "real", ALL),
    "divide": ("real", "nonzero", (F32,)), "power": ("positive", "real", (F32,)),
    "get": ("real", None, ALL),
}


def _index_spec(op, shape, idx):
    """A harness Spec for ``x[idx]`` (op "getitem") or ``x.at[idx].<op>(values)``."""
    if op == "getitem":
        return Spec("getitem", lambda x: getitem(x, idx), lambda x: x[idx],
                    dtypes=ALL, shapes=st.just((shape,)))
    dom_x, dom_v, dts = AT_OPS[op]
    if op == "get":
        return Spec("at.get", lambda x: IndexUpdateHelper(x)[idx].get(mode="clip"),
                    lambda x: x[idx], dtypes=dts, shapes=st.just((shape,)), domain=dom_x)
    vshape = np.empty(shape)[idx].shape
    return Spec(f"at.{op}", lambda x, v: getattr(IndexUpdateHelper(x)[idx], op)(v),
                lambda x, v: None, nargs=2, dtypes=dts, shapes=st.just((shape, vshape)),
                domain=(dom_x, dom_v))


INDEX_OPS = ["getitem", *AT_OPS]


def _no_near_ties(x, idx, v):
    """True when, at every element x.at[idx].min/max writes, the operand and the values
    landing there are pairwise at least 1e-3 apart (hypothesis may draw x and v from one
    seed, which makes them tie exactly)."""
    pos = np.arange(x.size).reshape(x.shape)[idx].ravel()
    vals = np.broadcast_to(v, np.shape(x[idx])).ravel()
    for p in np.unique(pos):
        group = np.sort(np.concatenate([[x.flat[p]], vals[pos == p]]))
        if group.size > 1 and np.min(np.diff(group)) < 1e-3:
            return False
    return True
TABLE = CASES + DUPLICATES


@pytest.mark.parametrize("op", INDEX_OPS)
@pytest.mark.parametrize("shape,idx", TABLE, ids=_ids(TABLE))
@given(data=st.data())
@settings(max_examples=scaled(1), deadline=None)
def test_index_grads(shape, idx, op, data):
    spec = _index_spec(op, shape, idx)
    spec.dtypes = (F64,)
    args, kwargs = data.draw(args_strategy(spec))
    if op in ("min", "max"):
        assume(_no_near_ties(args[0], idx, args[1]))
    check_spec_grads(spec, args, kwargs)


@pytest.mark.parametrize("op", INDEX_OPS)
@pytest.mark.parametrize("shape,idx", TABLE, ids=_ids(TABLE))
@given(data=st.data())
@settings(max_examples=scaled(4), deadline=None)
def test_index_vmap(shape, idx, op, data):
    spec = _index_spec(op, shape, idx)
    args, kwargs = data.draw(args_strategy(spec))
    check_spec_vmap(spec, args, kwargs, data)


# ---------------------------------------------------------------- traced (and batched) indices

def _traced_index_fn(op, idx):
    """``(f, positions)``: f(x, v, *ints) applies op with the ints and int arrays of ``idx``
    (at ``positions``) passed as arguments, so they are traced (and may be batched)."""
    pos = [k for k, i in enumerate(idx) if isinstance(i, (int, np.ndarray))]

    def f(x, v, *traced):
        full = list(idx)
        for k, t in zip(pos, traced):
            full[k] = t
        if op == "getitem":
            return getitem(x, tuple(full))
        return getattr(IndexUpdateHelper(x)[tuple(full)], op)(v)
    return f, pos


TRACED_OPS = ["getitem", "set", "add", "multiply", "min", "max"]


@given(index_exprs(), st.sampled_from(TRACED_OPS), st.data())
@settings(max_examples=scaled(40), deadline=None)
def test_traced_indices_vmap(expr, op, data):
    """Operand, values and indices each batched or not: per-example results."""
    shape, idx = expr
    f, pos = _traced_index_fn(op, idx)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal(shape).astype(np.float32)
    v = rng.standard_normal(np.empty(shape)[idx].shape).astype(np.float32)
    ints = [np.asarray(idx[k], np.int32) for k in pos]
    _check_vmap_drawn(data, f, [x, v, *ints])


@given(index_exprs(), st.sampled_from(TRACED_OPS), st.integers(0, 2**16))
@settings(max_examples=scaled(25), deadline=None)
def test_traced_indices_grads(expr, op, seed):
    shape, idx = expr
    f, pos = _traced_index_fn(op, idx)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    v = rng.standard_normal(np.empty(shape)[idx].shape)
    if op in ("min", "max"):
        assume(_no_near_ties(x, idx, v))
    ints = [np.asarray(idx[k], np.int32) for k in pos]
    check_grads(lambda x, v: f(x, v, *ints), (x, v), order=2)
    # The same, with the indices as (non-differentiated, traced) arguments.
    check_grads(lambda x, v, *t: f(x, v, *t), (x, v, *ints), order=1)


def test_vmap_of_indexing_is_one_gather_or_scatter():
    """Batched operand and indices: one gather (one scatter for .at[]), never a loop."""
    x = np.zeros((7, 4, 5), np.float32)
    i = np.zeros((7, 3), np.int32)
    for size in (7,):
        closed = fg.make_jaxpr(fg.vmap(lambda x, i: x[:, i]))(x[:size], i[:size])
        names = [e.prim.name for e in closed.jaxpr.eqns]
        assert names.count("gather") == 1, names
        v = np.zeros((7, 4, 3), np.float32)
        closed = fg.make_jaxpr(fg.vmap(lambda x, i, v: x.at[:, i].add(v)))(x, i, v)
        names = [e.prim.name for e in closed.jaxpr.eqns]
        assert names.count("scatter_add") == 1 and "gather" not in names, names


def test_at_power_derivatives_finite_with_negative_elements_not_indexed():
    """x.at[idx].power(v): elements not indexed keep x (even x < 0, where log x is NaN), and
    the derivative of v must not pick up NaN from them, in forward or reverse mode."""
    x = np.array([-1.0, 2.0, -3.0, 0.5])
    v = np.array([2.0, 0.5])
    idx = np.array([1, 3])

    def f(x, v):
        return IndexUpdateHelper(x)[idx].power(v)
    np.testing.assert_allclose(f(x, v), [-1.0, 4.0, -3.0, 0.5 ** 0.5])
    check_grads(f, (x, v), order=2)
