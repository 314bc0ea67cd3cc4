"""Indexing: x[idx], x.at[idx].<op>(v), nonzero/argwhere/flatnonzero, and the gather/scatter
primitives, checked against NumPy (eager, staged with make_jaxpr, and abstract eval)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.numpy._indexing import IndexUpdateHelper, getitem
from tests.harness import F32, F64, I32, Spec, arrays, assert_close, check_spec, shapes

_rng = np.random.default_rng(0)
M0 = np.array([True, False, False, True])                  # axis 0 of (4, 5, 6), 2 trues
M01 = _rng.random((4, 5)) < 0.4
M2 = np.array([False, True, True, False, False, True])     # axis 2 of (4, 5, 6)
M2B = np.array([False, True, False, False, True, False])   # axis 2, 2 trues
MALL = _rng.random((4, 5, 6)) < 0.3

S = (4, 5, 6)
# (shape, index) pairs: every form of index NumPy knows, alone and combined.
CASES = [
    # integers
    (S, 0), (S, -1), (S, (1, 2)), (S, (-1, -2, -3)), (S, (3, 4, 5)), (S, np.int64(2)),
    (S, np.array(1)),
    # slices, with steps and negative steps, out-of-range bounds
    (S, slice(None)), (S, slice(1, 3)), (S, slice(None, None, 2)), (S, slice(None, None, -1)),
    (S, slice(3, 0, -2)), (S, slice(-2, None)), (S, slice(10, 20)), (S, slice(2, 2)),
    (S, (slice(None), slice(1, None, 3))), (S, (Ellipsis, slice(None, None, -2))),
    (S, (slice(-1, -6, -1), slice(None, 1), slice(4, 1, -3))),
    # None and Ellipsis
    (S, None), (S, (None, 0)), (S, (0, None, slice(1, 3), None)), (S, (Ellipsis, None)),
    (S, (None, Ellipsis, None)), (S, Ellipsis), (S, (Ellipsis, 0)), (S, (0, Ellipsis)),
    (S, (0, Ellipsis, 1)), (S, ()),
    # integer arrays in one axis
    (S, np.array([0, 3, 1])), (S, [0, -1]), (S, np.array([[0, 1], [2, 3]])),
    (S, (slice(None), [4, 0])), (S, (Ellipsis, [5, 0, 5])), (S, []), (S, np.array([], int)),
    # several axes: adjacent, separated (by a slice, None or Ellipsis), broadcast, with ints
    (S, ([0, 1], [1, 2])), (S, ([0, 1], slice(None), [1, 2])), (S, (0, slice(None), [0, 1])),
    (S, ([[0], [1]], [0, 1, 2])), (S, (slice(1, 3), [0, 1], [2, 3])),
    (S, ([0, 1], None, [0, 1])), (S, (None, [0, 1], None, [0, 1])),
    (S, (slice(None), [0, 1], Ellipsis, [0, 1])), (S, ([0, 1], Ellipsis, [0, 1])),
    (S, (None, 0, None, slice(None), [1, 2])), (S, ([1, 2, 3], [4, 0, -1], [-6, 5, 0])),
    # boolean masks
    (S, M0), (S, M01), (S, (slice(None), M01[0])), (S, MALL), (S, (Ellipsis, M2)),
    (S, True), (S, False), (S, (np.True_, [0, 1])), (S, (1, np.array(True))),
    (S, (M0, [1, 2])), (S, (M0, slice(None), M2B)), (S, [True, False, False, True]),
    (S, (Ellipsis, None, [0, 1])), (S, fnp.asarray(np.array([1, 3]))), (S, fnp.asarray(M0)),
    # combinations
    (S, (slice(None, None, -1), [0, 2], None)), (S, ([1, -1], slice(None, None, 2), 0)),
    (S, (slice(None, None, -2), [3, 3], slice(1, None))),
    # small, empty and 0-d operands
    ((0, 3), [[]]), ((0, 3), (slice(None), 1)), ((0, 3), (Ellipsis, [0, 2])),
    ((3, 0), [0, 2]), ((3, 0), (slice(None), slice(None, None, -1))), ((), ()), ((), None),
    ((), Ellipsis), ((), True), ((1,), 0), ((5,), slice(None, None, -3)),
]
DUPLICATES = [(S, np.array([0, 0, 2, 0])), (S, ([1, 1], [2, 2])), (S, (slice(None), [3, 3, 3])),
              (S, (Ellipsis, [[1, 1], [1, 1]]))]


def _ids(cases):
    return [f"{s}-{i!r:.60}".replace("\n", " ") for s, i in cases]


def _values(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(-20, 20, size=shape).astype(dtype)


# ---------------------------------------------------------------- getitem

@pytest.mark.parametrize("dtype", [F32, I32])
@pytest.mark.parametrize("shape,idx", CASES, ids=_ids(CASES))
def test_getitem_table(shape, idx, dtype):
    a = _values(shape, dtype)
    spec = Spec("getitem", lambda x: getitem(x, idx), lambda x: x[idx],
                expected_dtype=lambda d: d)
    check_spec(spec, [a], {})
    out = fnp.asarray(a)[idx]          # through Array.__getitem__
    assert isinstance(out, fg.Array) and out.dtype == dtype
    np.testing.assert_array_equal(out, a[idx])


def test_getitem_basic_indices_stage_no_gather():
    a = np.zeros(S, np.float32)
    for idx in [0, (1, slice(None, None, -2)), (None, Ellipsis, 3), (slice(1, 3), None, -1)]:
        jaxpr = fg.make_jaxpr(lambda x, idx=idx: x[idx])(a)
        names = {e.prim.name for e in jaxpr.eqns}
        assert names <= {"slice", "rev", "reshape"}, (idx, names)
    jaxpr = fg.make_jaxpr(lambda x, i: x[i, ::-1])(a, np.int32(1))
    assert "dynamic_slice" in {e.prim.name for e in jaxpr.eqns}
    assert "gather" not in {e.prim.name for e in jaxpr.eqns}
    jaxpr = fg.make_jaxpr(lambda x: x[:, [0, 2]])(a)
    assert [e.prim.name for e in jaxpr.eqns] == ["gather"]


def test_getitem_identity_returns_input():
    x = fnp.asarray(np.ones(3, np.float32))
    assert x[...] is x and x[:] is x


def test_getitem_weak_type_and_numpy_input():
    x = fnp.asarray(2.0)
    assert x[None].weak_type and x[None].shape == (1,)
    np.testing.assert_array_equal(getitem(np.arange(5), slice(1, None, 2)), [1, 3])


@pytest.mark.parametrize("shape,idx", [(S, 3), (S, -2), (S, (1, -1)), (S, (2, slice(None), 0))])
def test_getitem_traced_scalar_index(shape, idx):
    a = _values(shape, F32)
    ints = idx if isinstance(idx, tuple) else (idx,)
    pos = [k for k, i in enumerate(ints) if isinstance(i, int)]

    def f(x, *traced):
        full = list(ints)
        for k, t in zip(pos, traced):
            full[k] = t
        return x[tuple(full)]
    args = [np.int32(ints[k]) for k in pos]
    closed = fg.make_jaxpr(f)(a, *args)
    np.testing.assert_array_equal(closed(a, *args)[0], a[idx])


@given(st.data())
@settings(max_examples=15)
def test_getitem_traced_indices_clamp(data):
    """Traced indices count from the end once, then clamp (as in JAX); no IndexError."""
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    ishape = data.draw(st.sampled_from([(), (3,), (2, 2)]))
    i = data.draw(arrays(ishape, I32)).astype(np.int32) * 2  # [-10, 10]: some out of range
    a = _values(shape, F64, seed=1)
    pre = (slice(None),) * axis
    out = fg.make_jaxpr(lambda x, j: x[pre + (j,)])(a, i)(a, i)[0]
    ref_i = np.clip(np.where(i < 0, i + n, i), 0, n - 1)
    np.testing.assert_array_equal(out, a[pre + (ref_i,)])


def test_getitem_list_of_traced_scalars():
    a = _values(S, F32)
    out = fg.make_jaxpr(lambda x, i, j: x[[i, j], 1])(a, np.int32(3), np.int32(-4))
    np.testing.assert_array_equal(out(a, np.int32(3), np.int32(-4))[0], a[[3, -4], 1])


def test_getitem_concrete_mask_under_make_jaxpr():
    # A concrete NumPy mask inside a traced function is fine (only traced masks are refused).
    a = _values(S, F32)
    closed = fg.make_jaxpr(lambda x: x[M01])(a)
    np.testing.assert_array_equal(closed(a)[0], a[M01])


# ---------------------------------------------------------------- random index expressions

@st.composite
def index_exprs(draw):
    """A shape and a random NumPy index for it: ints, slices, None, Ellipsis, int arrays."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=5))
    batch = draw(st.sampled_from([(2,), (3,), (2, 1), (1, 3), ()]))
    groups = []  # one group per axis: [maybe None, the axis' index]
    for n in shape:
        kinds = ["slice", "full"] + (["int", "array", "array"] if n else [])
        kind = draw(st.sampled_from(kinds))
        group = [None] if draw(st.integers(0, 3)) == 0 else []
        if kind == "int":
            group.append(draw(st.integers(-n, n - 1)))
        elif kind == "array":
            b = batch[draw(st.integers(0, len(batch))):]
            vals = draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(b)),
                                 max_size=int(np.prod(b))))
            group.append(np.asarray(vals, dtype=np.int64).reshape(b))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            step = st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -3]))
            group.append(slice(draw(bound), draw(bound), draw(step)))
        else:
            group.append(slice(None))
        groups.append(group)
    lo = draw(st.integers(0, len(groups)))
    hi = draw(st.integers(lo, len(groups)))
    if draw(st.booleans()):       # an Ellipsis standing for axes lo..hi-1 (maybe none)
        groups[lo:hi] = [[Ellipsis]]
    else:                         # leave the trailing axes implicit
        groups = groups[:hi]
    return shape, tuple(e for g in groups for e in g)


@given(index_exprs(), st.sampled_from([F32, I32]))
@settings(max_examples=60)
def test_getitem_random(expr, dtype):
    shape, idx = expr
    a = _values(shape, dtype)
    spec = Spec("getitem", lambda x: getitem(x, idx), lambda x: x[idx],
                expected_dtype=lambda d: d)
    check_spec(spec, [a], {})


@given(index_exprs(), st.sampled_from([np.int32, np.int64, np.uint8]))
@settings(max_examples=40)
def test_getitem_and_update_random_traced_indices(expr, index_dtype):
    """The same expressions with every int and int array passed as a traced argument."""
    shape, idx = expr
    pos = [k for k, i in enumerate(idx) if isinstance(i, (int, np.ndarray))]
    if index_dtype == np.uint8:  # unsigned: trace the non-negative indices only
        pos = [k for k in pos if np.all(np.asarray(idx[k]) >= 0)]
    a = _values(shape, F32)
    args = [np.asarray(idx[k]).astype(index_dtype) for k in pos]

    def full(traced):
        out = list(idx)
        for k, t in zip(pos, traced):
            out[k] = t
        return tuple(out)
    closed = fg.make_jaxpr(lambda x, *t: x[full(t)])(a, *args)
    np.testing.assert_array_equal(closed(a, *args)[0], a[idx])
    v = _values(a[idx].shape, F32, seed=5)
    closed = fg.make_jaxpr(lambda x, u, *t: x.at[full(t)].add(u))(a, v, *args)
    assert_close(closed(a, v, *args)[0], np_update(a, idx, v, "add"), 1e-6, 1e-6)


@given(index_exprs(), st.sampled_from(["set", "add", "min"]))
@settings(max_examples=40)
def test_update_random(expr, op):
    shape, idx = expr
    a = _values(shape, F64)
    v = _values(a[idx].shape, F64, seed=3)
    check_spec(_update_spec(op, idx), [a, v], {})


# ---------------------------------------------------------------- x.at[idx]

_UFUNC_AT = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def np_update(a, idx, v, op):
    """Reference: the flat positions NumPy's own getitem selects, updated with ufunc.at (so
    duplicates accumulate); for set, flat assignment (the last duplicate wins)."""
    pos = np.arange(a.size).reshape(a.shape)[idx]
    v = np.broadcast_to(v, pos.shape)
    flat = np.array(a).ravel()
    if op == "set":
        flat[pos.ravel()] = v.ravel()
    else:
        _UFUNC_AT[op].at(flat, pos.ravel(), v.ravel())
    return flat.reshape(a.shape)


def _update_spec(op, idx):
    if op == "get":
        return Spec("at.get", lambda x, v: IndexUpdateHelper(x)[idx].get(), lambda x, v: x[idx],
                    nargs=2, expected_dtype=lambda d, _: d)
    return Spec(f"at.{op}", lambda x, v: getattr(IndexUpdateHelper(x)[idx], op)(v),
                lambda x, v: np_update(x, idx, v, op), nargs=2, expected_dtype=lambda d, _: d)


@pytest.mark.parametrize("op", ["set", "add", "multiply", "min", "max", "get"])
@pytest.mark.parametrize("shape,idx", CASES + DUPLICATES, ids=_ids(CASES + DUPLICATES))
def test_update_table(shape, idx, op):
    for dtype in (F32, I32):
        a = _values(shape, dtype)
        v = _values(a[idx].shape, dtype, seed=1)
        check_spec(_update_spec(op, idx), [a, v], {})


@pytest.mark.parametrize("op", ["set", "add", "multiply", "min", "max"])
def test_update_bool_dtype(op):
    a = _values((3, 4), np.bool_)
    v = _values((2, 4), np.bool_, seed=2)
    idx = np.array([2, 2])
    check_spec(_update_spec(op, idx), [a, v], {})


def test_update_duplicates_accumulate():
    x = fnp.zeros(5)
    out = x.at[np.array([0, 0, 3, 0])].add(1.0)
    np.testing.assert_array_equal(out, [3, 0, 0, 1, 0])
    out = fnp.ones(3).at[np.array([1, 1, 1])].multiply(2.0)
    np.testing.assert_array_equal(out, [1, 8, 1])
    out = fnp.zeros(3).at[np.array([1, 1, 1])].set(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out, [0, 3, 0])  # set: the last duplicate wins


def test_update_broadcasts_and_converts_values():
    a = np.zeros((3, 4), np.int32)
    x = fnp.asarray(a)
    out = x.at[:, 1].set(2.7)                       # float -> x's int dtype, truncated
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out[:, 1], [2, 2, 2])
    out = x.at[1:].add(np.array([1, 2, 3, 4]))      # (4,) broadcast to (2, 4)
    np.testing.assert_array_equal(out, a + np.array([[0] * 4, [1, 2, 3, 4], [1, 2, 3, 4]]))
    out = x.at[0].set(np.ones((1, 1, 4), np.int32))  # extra leading 1s are allowed, as in NumPy
    np.testing.assert_array_equal(out[0], [1, 1, 1, 1])
    y = fnp.asarray(np.zeros(3, np.float32))
    assert y.at[0].set(1.0).dtype == np.float32 and y.at[0].set(np.float64(1.0)).dtype == F32


def test_update_is_functional():
    a = np.arange(6.0).reshape(2, 3)
    x = fnp.asarray(a)
    y = x.at[0].set(100.0)
    z = x.at[:, [0, 0]].add(1.0)
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    assert float(y[0, 0]) == 100.0 and float(z[1, 0]) == 5.0
    assert x is not y


def test_update_out_of_bounds_modes():
    x = fnp.asarray(np.arange(4.0))
    np.testing.assert_array_equal(x.at[np.array([1, 9])].set(-1.0), [0, -1, 2, 3])   # dropped
    np.testing.assert_array_equal(x.at[-9].add(5.0), [0, 1, 2, 3])
    np.testing.assert_array_equal(x.at[10**30].set(5.0), [0, 1, 2, 3])
    np.testing.assert_array_equal(x.at[np.array([1, 9])].set(-1.0, mode="clip"), [0, -1, 2, -1])
    np.testing.assert_array_equal(x.at[-1].set(7.0), [0, 1, 2, 7])
    np.testing.assert_array_equal(x.at[np.array([1, 9, -1])].get(mode="fill", fill_value=-5.0),
                                  [1, -5, 3])
    assert np.isnan(np.asarray(x.at[7].get(mode="fill"))).all()
    np.testing.assert_array_equal(x.at[np.array([1, 9])].get(mode="clip"), [1, 3])
    xi = fnp.asarray(np.arange(3, dtype=np.int32))
    assert int(xi.at[5].get(mode="fill")) == np.iinfo(np.int32).min
    with pytest.raises(ValueError, match="unknown mode 'wrap'"):
        x.at[0].set(1.0, mode="wrap")


def test_update_traced_index_drops_out_of_range():
    a = np.arange(5.0)
    closed = fg.make_jaxpr(lambda x, i, v: x.at[i].add(v))(a, np.array([0, 1]), np.ones(2))
    for i in ([0, 0], [-1, 7], [-6, 4], [2, -2]):
        i = np.array(i)
        n = np.where(i < 0, i + 5, i)
        keep = (n >= 0) & (n < 5)
        ref = a.copy()
        np.add.at(ref, n[keep], 1.0)
        np.testing.assert_array_equal(closed(a, i, np.ones(2))[0], ref)


def test_update_traced_scalar_index_and_values():
    a = np.zeros((3, 4))
    closed = fg.make_jaxpr(lambda x, i, v: x.at[i, 1:].set(v))(a, np.int32(0), 1.0)
    out = closed(a, np.int32(-1), 2.5)[0]
    ref = a.copy()
    ref[-1, 1:] = 2.5
    np.testing.assert_array_equal(out, ref)


def test_update_subtract_divide_power():
    a = np.arange(1.0, 7.0).reshape(2, 3)
    x = fnp.asarray(a)
    idx = (slice(None), np.array([0, 0, 2]))
    r = a.copy()
    np.subtract.at(r, idx, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.at[idx].subtract(np.array([1.0, 2.0, 3.0])), r)
    r = a.copy()
    np.divide.at(r, idx, 2.0)
    np.testing.assert_allclose(x.at[idx].divide(2.0), r)
    r = a.copy()
    r[:, [0, 2]] = r[:, [0, 2]] ** np.array([4.0, 2.0])   # duplicates: x**(2*2)
    np.testing.assert_allclose(x.at[idx].power(2.0), r)
    u = fnp.asarray(np.array([5, 5, 5], np.uint8))
    np.testing.assert_array_equal(u.at[np.array([1, 1])].subtract(2), [5, 1, 5])
    with pytest.raises(TypeError, match=r"at\[\].divide.*i32\[2\]"):
        fnp.asarray(np.array([1, 2], np.int32)).at[0].divide(2)


def test_update_mul_alias_and_repr():
    x = fnp.asarray(np.ones(3))
    np.testing.assert_array_equal(x.at[1].mul(3.0), x.at[1].multiply(3.0))
    assert "IndexUpdateRef" in repr(x.at[1])


# ---------------------------------------------------------------- errors

def test_error_int_out_of_range_names_axis_and_size():
    x = fnp.zeros((2, 3))
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds for axis 1 with "
                                         r"size 3"):
        x[1, 5]
    with pytest.raises(IndexError, match=r"index -3 is out of bounds for axis 0 with size 2"):
        x[-3]
    with pytest.raises(IndexError, match=r"index 2 is out of bounds for axis 0 with size 2"):
        x[np.array([0, 2])]
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 2"):
        fg.make_jaxpr(lambda v: v[7])(np.zeros((2, 3)))


def test_error_bool_mask_under_make_jaxpr():
    with pytest.raises(fg.errors.ConcretizationError,
                       match=r"(?s)getitem: a traced boolean mask bool\[3\].*make_jaxpr.*"
                             r"fnp.nonzero\(mask, size=N\)"):
        fg.make_jaxpr(lambda x: x[x > 0])(np.ones(3))


def test_error_misc():
    x = fnp.zeros((2, 3))
    with pytest.raises(IndexError, match=r"too many indices for an array of rank 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(IndexError, match="valid indices; got float"):
        x[1.5]
    with pytest.raises(IndexError, match="valid indices; got an array of dtype float"):
        x[np.array([0.0])]
    with pytest.raises(IndexError, match=r"boolean index of shape \(3,\) does not match the "
                                         r"indexed axis 0 of shape \(2,\)"):
        x[np.ones(3, bool)]
    with pytest.raises(IndexError, match="slice bounds must be static"):
        fg.make_jaxpr(lambda v, i: v[i:])(np.zeros(3), np.int32(1))
    with pytest.raises(fg.errors.ShapeError, match=r"at\[\].set: values f32\[5\] cannot be "
                                                   r"broadcast to the indexed shape \(3,\)"):
        x.at[0].set(np.ones(5, np.float32))
    with pytest.raises(fg.errors.ShapeError, match="getitem: shapes"):
        x[np.array([0, 1]), np.array([0, 1, 2])]
    with pytest.raises(IndexError, match="cannot index axis 0 of size 0"):
        fg.make_jaxpr(lambda v, i: v[i])(np.zeros((0, 2)), np.int32(0))


# ---------------------------------------------------------------- nonzero and friends

@given(shapes(min_dims=1, max_dims=3), st.sampled_from([F32, I32, np.dtype(bool)]),
       st.integers(0, 2**31 - 1))
@settings(max_examples=20)
def test_nonzero_argwhere_flatnonzero(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 3, size=shape) * (rng.random(shape) < 0.5)).astype(dtype)
    for got, ref in zip(fnp.nonzero(a), np.nonzero(a)):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(fnp.argwhere(a), np.argwhere(a))
    assert fnp.argwhere(a).shape == np.argwhere(a).shape
    np.testing.assert_array_equal(fnp.flatnonzero(a), np.flatnonzero(a))
    # Traced, with a static size: the first `size` indices, padded with the fill value.
    for size in (0, 3, a.size + 2):
        closed = fg.make_jaxpr(lambda v, n=size: fnp.nonzero(v, size=n, fill_value=-1))(a)
        for got, ref in zip(closed(a), np.nonzero(a)):
            want = np.concatenate([ref[:size], np.full(max(size - len(ref), 0), -1)])
            np.testing.assert_array_equal(got, want)
        concrete = fnp.nonzero(a, size=size, fill_value=-1)
        for c, s in zip(concrete, closed(a)):
            np.testing.assert_array_equal(c, s)
        aw = fg.make_jaxpr(lambda v, n=size: fnp.argwhere(v, size=n))(a)(a)[0]
        assert aw.shape == (size, a.ndim)
        np.testing.assert_array_equal(np.asarray(aw)[:len(np.argwhere(a))],
                                      np.argwhere(a)[:size])


def test_nonzero_edge_cases():
    assert fnp.argwhere(np.array(3.0)).shape == (1, 0)
    assert fnp.argwhere(np.array(0.0)).shape == (0, 0)
    with pytest.raises(ValueError, match="nonzero: a 0-d array"):
        fnp.nonzero(np.array(1.0))
    got = fnp.nonzero(np.array([[0, 1], [1, 0]]), size=3, fill_value=(7, 8))
    np.testing.assert_array_equal(got[0], [0, 1, 7])
    np.testing.assert_array_equal(got[1], [1, 0, 8])
    with pytest.raises(fg.errors.ConcretizationError, match=r"(?s)nonzero.*f64\[3\].*size="):
        fg.make_jaxpr(lambda v: fnp.nonzero(v))(np.ones(3))
    x = fnp.asarray(np.array([0.0, 2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(x.nonzero()[0], [1, 3])
    np.testing.assert_array_equal(x[x.nonzero()], [2.0, 3.0])


# ---------------------------------------------------------------- primitives

def test_gather_primitive_modes():
    x = np.arange(12.0).reshape(3, 4)
    dn = lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                    start_index_map=(0,))
    idx = np.array([[2], [-1], [5]])
    np.testing.assert_array_equal(lax.gather(x, idx, dn, (1, 4), mode="clip"), x[[2, 0, 2]])
    out = np.asarray(lax.gather(x, idx, dn, (1, 4), mode="fill"))
    np.testing.assert_array_equal(out[0], x[2])
    assert np.isnan(out[1:]).all()
    out = lax.gather(x, idx, dn, (1, 4), mode="fill", fill_value=-1)
    np.testing.assert_array_equal(np.asarray(out)[1:], -1)
    # Windows: a 2x2 window per index vector; clip keeps the window inside the operand.
    dn2 = lax.GatherDimensionNumbers(offset_dims=(1, 2), collapsed_slice_dims=(),
                                     start_index_map=(0, 1))
    out = lax.gather(x, np.array([[0, 0], [2, 3]]), dn2, (2, 2), mode="clip")
    np.testing.assert_array_equal(out, np.stack([x[0:2, 0:2], x[1:3, 2:4]]))
    out = np.asarray(lax.gather(x, np.array([[0, 0], [2, 3]]), dn2, (2, 2)))
    assert np.isnan(out[1]).all()        # a window partly out of bounds is filled entirely


def test_gather_batching_dims_match_take_along_axis():
    x = np.arange(12.0).reshape(3, 4)
    i = np.array([[3], [0], [1]])
    dn = lax.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(1,),
                                    start_index_map=(1,), operand_batching_dims=(0,),
                                    start_indices_batching_dims=(0,))
    out = lax.gather(x, i, dn, (1, 1))
    np.testing.assert_array_equal(out, np.take_along_axis(x, i, axis=1)[:, 0])
    closed = fg.make_jaxpr(lambda a, b: lax.gather(a, b, dn, (1, 1)))(x, i)
    np.testing.assert_array_equal(closed(x, i)[0], out)


def test_scatter_primitives_duplicates_and_drop():
    x = np.zeros(4, np.float32)
    dn = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    idx = np.array([[1], [1], [3], [9]])
    upd = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    np.testing.assert_array_equal(lax.scatter_add(x, idx, upd, dn), [0, 3, 0, 3])
    np.testing.assert_array_equal(lax.scatter(x, idx, upd, dn), [0, 2, 0, 3])
    np.testing.assert_array_equal(lax.scatter_max(x - 5, idx, upd, dn), [-5, 2, -5, 3])
    np.testing.assert_array_equal(lax.scatter_min(x + 5, idx, upd, dn), [5, 1, 5, 3])
    np.testing.assert_array_equal(lax.scatter_mul(x + 2, idx, upd, dn), [2, 4, 2, 6])
    np.testing.assert_array_equal(lax.scatter_add(x, idx, upd, dn, mode="clip"), [0, 3, 0, 7])
    # scatter-add of a window, with operand batching dims
    y = np.zeros((2, 3))
    dnb = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(1,),
                                      scatter_dims_to_operand_dims=(1,),
                                      operand_batching_dims=(0,),
                                      scatter_indices_batching_dims=(0,))
    out = lax.scatter_add(y, np.array([[2], [0]]), np.array([5.0, 7.0]), dnb)
    np.testing.assert_array_equal(out, [[0, 0, 5], [7, 0, 0]])


def test_gather_scatter_shape_errors():
    x = np.zeros((3, 4), np.float32)
    dn = lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                    start_index_map=(0,))
    with pytest.raises(fg.errors.ShapeError, match=r"gather: the last axis of indices "
                                                   r"i32\[2,2\].*size 1"):
        lax.gather(x, np.zeros((2, 2), np.int32), dn, (1, 4))
    with pytest.raises(fg.errors.ShapeError, match=r"gather: slice_sizes=\(1, 5\)"):
        lax.gather(x, np.zeros((2, 1), np.int32), dn, (1, 5))
    with pytest.raises(fg.errors.DTypeError, match=r"gather: indices must be integers"):
        lax.gather(x, np.zeros((2, 1), np.float32), dn, (1, 4))
    with pytest.raises(fg.errors.ShapeError, match=r"gather: offset_dims=\(\)"):
        lax.gather(x, np.zeros((2, 1), np.int32), dn._replace(offset_dims=()), (1, 4))
    sdn = lax.ScatterDimensionNumbers((1,), (0,), (0,))
    with pytest.raises(fg.errors.DTypeError, match=r"scatter_add: operand f32\[3,4\] and "
                                                   r"updates f64\[2,4\]"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.zeros((2, 4)), sdn)
    with pytest.raises(fg.errors.ShapeError, match=r"scatter: the non-window axes of updates "
                                                   r"f32\[3,4\]"):
        lax.scatter(x, np.zeros((2, 1), np.int32), np.zeros((3, 4), np.float32), sdn)
    with pytest.raises(ValueError, match="gather: unknown mode"):
        lax.gather(x, np.zeros((2, 1), np.int32), dn, (1, 4), mode="bogus")


@given(shapes(min_dims=1, max_dims=3, min_side=1), st.sampled_from([F32, F64, I32]),
       st.integers(0, 2**31 - 1))
@settings(max_examples=15)
def test_scatter_add_is_transpose_of_gather(shape, dtype, seed):
    """<gather(x), u> == <x, scatter_add(0, u)> with the same dimension numbers."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    axis = int(rng.integers(0, len(shape)))
    idx = rng.integers(0, shape[axis], size=(4, 1))
    offset = tuple(range(1, len(shape)))
    dn = lax.GatherDimensionNumbers(offset_dims=offset, collapsed_slice_dims=(axis,),
                                    start_index_map=(axis,))
    sizes = tuple(1 if d == axis else n for d, n in enumerate(shape))
    g = np.asarray(lax.gather(x, idx, dn, sizes))
    u = rng.integers(-3, 4, size=g.shape).astype(dtype)
    sdn = lax.ScatterDimensionNumbers(offset, (axis,), (axis,))
    s = np.asarray(lax.scatter_add(np.zeros_like(x), idx, u, sdn))
    assert_close(np.sum(g * u), np.sum(x * s), 1e-6, 1e-6)
