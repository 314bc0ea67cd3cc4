"""Tests of the funcgrad.Array surface (funcgrad/array.py, funcgrad/_array_methods.py):
operators with every kind of operand, dtypes under JAX's promotion rules, immutability,
properties and methods, Python/NumPy protocols, and the same surface on tracers."""
import copy
import operator
import pickle

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors
from tests.harness import BOOL, F32, F64, I32, I64, U8, assert_close, default_tolerance, shapes
from tests.harness import _values as _harness_values

I8, U16 = np.dtype("int8"), np.dtype("uint16")

# ---------------------------------------------------------------- binary operators


class BinOp:
    def __init__(self, name, fn, np_fn, dtypes, domains=("real", "real"), out=None):
        self.name, self.fn, self.np_fn, self.dtypes = name, fn, np_fn, dtypes
        self.domains = domains
        self.out = out  # None: the operands' common dtype; "bool"; or "inexact"

    def __repr__(self):
        return self.name


NUM = (F32, F64, I32, I64, U8)
BINOPS = [
    BinOp("add", operator.add, np.add, NUM),
    BinOp("sub", operator.sub, np.subtract, (F32, F64, I32, I64)),
    BinOp("mul", operator.mul, np.multiply, NUM),
    BinOp("truediv", operator.truediv, np.true_divide, (F32, F64, I32),
          ("real", "nonzero"), out="inexact"),
    BinOp("floordiv", operator.floordiv, np.floor_divide, (F32, F64, I32, I64),
          ("real", "nonzero")),
    BinOp("mod", operator.mod, np.remainder, (F32, F64, I32, I64), ("real", "nonzero")),
    BinOp("pow", operator.pow, np.power, (F32, F64), ("positive", "real")),
    BinOp("and", operator.and_, np.bitwise_and, (I32, U8, BOOL)),
    BinOp("or", operator.or_, np.bitwise_or, (I32, U8, BOOL)),
    BinOp("xor", operator.xor, np.bitwise_xor, (I32, I64, BOOL)),
    BinOp("lshift", operator.lshift, np.left_shift, (I32, U8), ("real", "shift")),
    BinOp("rshift", operator.rshift, np.right_shift, (I32, I64, U8), ("real", "shift")),
    BinOp("eq", operator.eq, np.equal, (F32, I32, BOOL), out="bool"),
    BinOp("ne", operator.ne, np.not_equal, (F32, I64, BOOL), out="bool"),
    BinOp("lt", operator.lt, np.less, (F32, F64, I32), out="bool"),
    BinOp("le", operator.le, np.less_equal, (F32, I32, U8), out="bool"),
    BinOp("gt", operator.gt, np.greater, (F64, I64), out="bool"),
    BinOp("ge", operator.ge, np.greater_equal, (F32, I32), out="bool"),
]

# The other operand's kind in each mode: funcgrad Array, NumPy array, Python scalar, NumPy
# scalar of a different width.
MODES = ["array_array", "array_numpy", "numpy_array", "array_pyscalar", "pyscalar_array",
         "array_npscalar", "npscalar_array"]
# A NumPy scalar dtype of the same kind and another width, for each array dtype.
OTHER_WIDTH = {F32: F64, F64: F32, I32: I64, I64: I8, U8: U16, BOOL: BOOL}


def _values(dtype, shape, domain, seed):
    if domain == "shift":
        return np.random.default_rng(seed).integers(0, 8, size=shape).astype(dtype)
    return _harness_values(shape, dtype, domain, seed)


def _scalar(array_1elem):
    """A Python scalar of the same kind as a 1-element NumPy array."""
    v = array_1elem.reshape(-1)[0] if array_1elem.size else np.zeros((), array_1elem.dtype)
    return v.item()


def _expected_dtype(op, d_left, d_right):
    """JAX's result dtype: weak Python scalars (d=None) take the array's dtype; NumPy values
    of the same kind promote as NumPy does; bool for comparisons; ints / ints -> float32."""
    d = d_left if d_right is None else d_right if d_left is None else \
        np.promote_types(d_left, d_right)
    if op.out == "bool":
        return BOOL
    if op.out == "inexact" and d.kind not in "fc":
        return F32
    return d


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", BINOPS, ids=repr)
@settings(max_examples=8)
@given(data=st.data())
def test_binary_operator(op, mode, data):
    dt = data.draw(st.sampled_from(op.dtypes))
    shape = data.draw(shapes(max_dims=2, max_side=4))
    seed = data.draw(st.integers(0, 2**31 - 1))
    a = _values(dt, shape, op.domains[0], seed)
    b = _values(dt, shape if "scalar" not in mode else (1,), op.domains[1], seed + 1)
    left, right = mode.split("_")
    other_dt = OTHER_WIDTH[dt]

    def operand(kind, v, is_left):
        if kind == "array":
            return fnp.asarray(v), dt
        if kind == "numpy":
            return v, dt
        if kind == "pyscalar":
            return _scalar(v), None
        return other_dt.type(_scalar(v)), other_dt  # npscalar

    x, dx = operand(left, a, True)
    y, dy = operand(right, b, False)
    out = op.fn(x, y)
    assert isinstance(out, fg.Array), f"{op} {mode} returned {type(out).__name__}"
    want = _expected_dtype(op, dx, dy)
    assert out.dtype == want, f"{op} {mode}: {out.dtype}, expected {want}"
    assert not out.weak_type
    # Reference: NumPy on the operands converted to the computation dtype.
    comp = want if op.out is None else (
        F64 if op.out == "inexact" else np.promote_types(dx or dy, dy or dx))
    ref_in = [np.asarray(v if not isinstance(v, fg.Array) else np.asarray(v)).astype(
        F64 if comp.kind == "f" else comp) for v in (x, y)]
    with np.errstate(all="ignore"):
        ref = op.np_fn(*ref_in)
    rtol, atol = default_tolerance(want if want != BOOL else F64)
    if op.name == "pow":
        rtol, atol = rtol * 10, atol * 10
    if op.name in ("floordiv", "mod") and want.kind == "f":
        # Near-integer quotients may floor differently in float32; compare where they agree.
        q = ref_in[0] / ref_in[1]
        ok = np.abs(q - np.round(q)) > 1e-4
        np.testing.assert_allclose(np.asarray(out, F64)[ok], np.asarray(ref)[ok], rtol=1e-5,
                                   atol=1e-5)
        return
    assert_close(out, np.asarray(ref).astype(want) if want.kind != "f" else ref, rtol, atol,
                 err_msg=f"{op} {mode}")


def test_weak_scalar_promotion():
    x32 = fnp.ones(3, F32)
    assert (x32 * 2.0).dtype == F32 and (2.0 * x32).dtype == F32
    assert (x32 + 1).dtype == F32 and (x32 / 3).dtype == F32
    assert (np.float64(2.0) * x32).dtype == F64 and (x32 * np.float64(2.0)).dtype == F64
    assert (x32 + np.ones(3, F64)).dtype == F64
    i8 = fnp.ones(3, I8)
    assert (i8 + 1).dtype == I8 and (i8 * 2.5).dtype == F32
    assert (fnp.ones(2, I32) / fnp.ones(2, I32)).dtype == F32
    assert (fnp.ones(2, I32) + fnp.ones(2, F32)).dtype == F32
    assert (fnp.ones(2, BOOL) + 1).dtype == I32
    assert (fnp.ones(2, U8) + fnp.ones(2, I8)).dtype == np.dtype("int16")
    # Python scalars with Python scalars stay weak; arrays from them too.
    w = fnp.asarray(2.0) * 3.0
    assert w.dtype == F32 and w.weak_type
    assert (w * fnp.ones(2, np.float16)).dtype == np.float16


def test_matmul_operator():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)).astype(F32), rng.normal(size=(4, 2)).astype(F32)
    v = rng.normal(size=4).astype(F32)
    for x, y in [(fnp.asarray(a), fnp.asarray(b)), (a, fnp.asarray(b)), (fnp.asarray(a), b),
                 (fnp.asarray(v), fnp.asarray(b)), (fnp.asarray(a), v)]:
        out = x @ y
        assert isinstance(out, fg.Array) and out.dtype == F32
        np.testing.assert_allclose(out, np.asarray(x) @ np.asarray(y), rtol=1e-5, atol=1e-6)
    assert (fnp.asarray(a) @ b.astype(F64)).dtype == F64
    with pytest.raises(ValueError, match=r"matmul.*f32\[3,4\].*f32\[3,4\]"):
        fnp.asarray(a) @ fnp.asarray(a)


def test_unary_operators():
    f = np.array([-1.5, 0.0, 2.25], F32)
    i = np.array([-3, 0, 7], I32)
    b = np.array([True, False, True])
    for x in (f, i, f.astype(F64)):
        for fn in (operator.neg, operator.pos, abs):
            out = fn(fnp.asarray(x))
            assert isinstance(out, fg.Array) and out.dtype == x.dtype
            np.testing.assert_array_equal(out, fn(x))
    for x in (i, b, np.array([0, 255], U8)):
        out = ~fnp.asarray(x)
        assert out.dtype == x.dtype
        np.testing.assert_array_equal(out, ~x)
    w = -fnp.asarray(2.0)
    assert w.weak_type and w.dtype == F32
    q, r = divmod(fnp.asarray(i), 2)
    np.testing.assert_array_equal(q, i // 2)
    np.testing.assert_array_equal(r, i % 2)
    q, r = divmod(7, fnp.asarray(i[2:]))
    np.testing.assert_array_equal(q, [1])


# ---------------------------------------------------------------- immutability


def test_buffer_is_read_only():
    x = fnp.arange(4.0)
    view = np.asarray(x)
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 100.0
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(x * 2)[0] = 1.0
    assert np.asarray(x)[0] == 0.0
    # An explicit copy is an ordinary, writeable NumPy array.
    c = np.array(x)
    c[0] = 5.0
    assert np.asarray(x)[0] == 0.0


def test_at_updates_leave_the_array_unchanged():
    x = fnp.asarray([1.0, 2.0, 3.0])
    y = x.at[0].set(10.0)
    z = x.at[1:].add(1.0)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(y, [10.0, 2.0, 3.0])
    np.testing.assert_array_equal(z, [1.0, 3.0, 4.0])
    assert y.dtype == F32 and z.dtype == F32
    with pytest.raises(TypeError):
        x[0] = 5.0  # no item assignment: use x.at[0].set(5.0)


@pytest.mark.parametrize("make", [
    fnp.asarray, fnp.array, lambda a: fnp.asarray(a, dtype=F32),
    lambda a: fnp.reshape(a, (2, 3)), lambda a: fnp.transpose(a),
    lambda a: fnp.broadcast_to(a, (2, 3, 2)), lambda a: fnp.add(a, 0.0),
    lambda a: fnp.squeeze(a[None]), lambda a: fnp.ravel(a),
], ids=["asarray", "array", "asarray_dtype", "reshape", "transpose", "broadcast_to", "add",
        "squeeze", "ravel"])
def test_user_numpy_array_mutated_later(make):
    # Arrays are immutable even when the caller keeps mutating the NumPy array they came from.
    a = np.arange(6, dtype=F32).reshape(3, 2)
    x = make(a)
    before = np.array(x)
    a[...] = -1.0
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------- properties and methods


def test_properties():
    x = fnp.ones((2, 3), F64)
    assert x.shape == (2, 3) and x.dtype == F64 and x.ndim == 2 and x.size == 6
    assert x.T.shape == (3, 2) and isinstance(x.T, fg.Array)
    assert x.nbytes == 48 and x.itemsize == 8
    assert not x.weak_type and fnp.asarray(1.0).weak_type and fnp.asarray(1).weak_type
    assert not fnp.asarray(True).weak_type and not fnp.asarray(np.float32(1)).weak_type
    s = fnp.asarray(3)
    assert s.shape == () and s.ndim == 0 and s.size == 1 and s.dtype == I32
    assert isinstance(x.aval, fg.ShapedArray) and x.aval.str_short() == "f64[2,3]"
    t = fnp.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(t.T, np.arange(24).reshape(2, 3, 4).T)
    np.testing.assert_array_equal(t.mT, np.swapaxes(np.arange(24).reshape(2, 3, 4), -1, -2))


# (name, funcgrad call, NumPy call, expected dtype of an input dtype or None for NumPy's)
METHODS = [
    ("sum", lambda x: x.sum(), lambda a: a.sum(), lambda d: d),
    ("sum_axis", lambda x: x.sum(axis=-1, keepdims=True),
     lambda a: a.sum(axis=-1, keepdims=True), lambda d: d),
    ("mean", lambda x: x.mean(axis=0), lambda a: a.mean(axis=0),
     lambda d: d if d.kind == "f" else F32),
    ("max", lambda x: x.max(), lambda a: a.max(), lambda d: d),
    ("min", lambda x: x.min(axis=1), lambda a: a.min(axis=1), lambda d: d),
    ("argmax", lambda x: x.argmax(), lambda a: a.argmax(), lambda d: I32),
    ("argmin", lambda x: x.argmin(axis=0), lambda a: a.argmin(axis=0), lambda d: I32),
    ("prod", lambda x: x.prod(axis=0), lambda a: a.prod(axis=0), lambda d: d),
    ("var", lambda x: x.var(), lambda a: a.var(), lambda d: d if d.kind == "f" else F32),
    ("std", lambda x: x.std(axis=1, ddof=1), lambda a: a.std(axis=1, ddof=1),
     lambda d: d if d.kind == "f" else F32),
    ("all", lambda x: (x > 0).all(), lambda a: (a > 0).all(), lambda d: BOOL),
    ("any", lambda x: (x > 0).any(axis=0), lambda a: (a > 0).any(axis=0), lambda d: BOOL),
    ("cumsum", lambda x: x.cumsum(axis=1), lambda a: a.cumsum(axis=1), lambda d: d),
    ("cumprod", lambda x: x.cumprod(), lambda a: a.cumprod(), lambda d: d),
    ("reshape_tuple", lambda x: x.reshape((-1,)), lambda a: a.reshape((-1,)), lambda d: d),
    ("reshape_args", lambda x: x.reshape(x.shape[1], x.shape[0]),
     lambda a: a.reshape(a.shape[1], a.shape[0]), lambda d: d),
    ("astype", lambda x: x.astype(F64), lambda a: a.astype(F64), lambda d: F64),
    ("astype_int", lambda x: x.astype("int32"), lambda a: a.astype(I32), lambda d: I32),
    ("transpose", lambda x: x.transpose(), lambda a: a.transpose(), lambda d: d),
    ("transpose_args", lambda x: x.transpose(1, 0), lambda a: a.transpose(1, 0), lambda d: d),
    ("transpose_tuple", lambda x: x.transpose((1, 0)), lambda a: a.transpose((1, 0)),
     lambda d: d),
    ("ravel", lambda x: x.ravel(), lambda a: a.ravel(), lambda d: d),
    ("flatten", lambda x: x.flatten(), lambda a: a.flatten(), lambda d: d),
    ("squeeze", lambda x: x.reshape(1, *x.shape).squeeze(0), lambda a: a, lambda d: d),
    ("swapaxes", lambda x: x.swapaxes(0, 1), lambda a: a.swapaxes(0, 1), lambda d: d),
    ("clip", lambda x: x.clip(-1, 2), lambda a: a.clip(-1, 2), lambda d: d),
    ("clip_min", lambda x: x.clip(0), lambda a: a.clip(0), lambda d: d),
    ("round", lambda x: x.round(), lambda a: a.round(), lambda d: d),
    ("round_decimals", lambda x: x.round(1), lambda a: a.round(1), lambda d: d),
    ("dot", lambda x: x.dot(x.T), lambda a: a.dot(a.T), lambda d: d),
    ("take", lambda x: x.take(np.array([0, 0])), lambda a: a.take(np.array([0, 0])),
     lambda d: d),
    ("repeat", lambda x: x.repeat(2, axis=0), lambda a: a.repeat(2, axis=0), lambda d: d),
    ("sort", lambda x: x.sort(), lambda a: np.sort(a), lambda d: d),
    ("argsort", lambda x: x.argsort(axis=0), lambda a: a.argsort(axis=0, kind="stable"),
     lambda d: I32),
    ("diagonal", lambda x: x.diagonal(), lambda a: a.diagonal(), lambda d: d),
    ("trace", lambda x: x.trace(), lambda a: a.trace(), lambda d: d),
    ("copy", lambda x: x.copy(), lambda a: a.copy(), lambda d: d),
    ("conj", lambda x: x.conj(), lambda a: a.conj(), lambda d: d),
    ("real", lambda x: x.real, lambda a: a.real, lambda d: d),
    ("getitem", lambda x: x[0], lambda a: a[0], lambda d: d),
    ("getitem_slice", lambda x: x[:, ::-1], lambda a: a[:, ::-1], lambda d: d),
]


@pytest.mark.parametrize("name,fg_fn,np_fn,dtype_fn", METHODS, ids=[m[0] for m in METHODS])
@settings(max_examples=10)
@given(dt=st.sampled_from([F32, F64, I32]), shape=shapes(min_dims=2, max_dims=2, min_side=1,
                                                          max_side=4),
       seed=st.integers(0, 2**31 - 1))
def test_methods(name, fg_fn, np_fn, dtype_fn, dt, shape, seed):
    products = name in ("cumprod", "prod")
    assume(not (products and dt.kind == "i"))  # NumPy widens int32 products to int64
    a = _harness_values(shape, dt, "unit" if products else "real", seed)
    x = fnp.asarray(a)
    out = fg_fn(x)
    assert isinstance(out, fg.Array), f"{name} returned {type(out).__name__}"
    want = np.dtype(dtype_fn(dt))
    assert out.dtype == want, f"{name}: {out.dtype}, expected {want}"
    ref = np_fn(a.astype(F64) if dt == F32 else a)
    rtol, atol = default_tolerance(dt)
    if name.startswith("round") and dt.kind == "f":
        atol = 1e-6  # decimal rounding of float32 values: one ulp either way
    if name in ("var", "std", "mean", "cumsum", "sum", "sum_axis", "dot", "trace"):
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-5)
    assert_close(out, np.asarray(ref), rtol, atol, err_msg=name)
    # The method under tracing gives the same aval.
    closed = fg.make_jaxpr(fg_fn)(x)
    assert closed.out_avals[0] == out.aval, (name, closed.out_avals[0], out.aval)


def test_item_and_tolist():
    assert fnp.asarray(2.5).item() == 2.5 and isinstance(fnp.asarray(2.5).item(), float)
    assert fnp.arange(3).tolist() == [0, 1, 2]
    assert fnp.ones((2, 1)).tolist() == [[1.0], [1.0]]
    assert fnp.arange(6).reshape(2, 3).item(4) == 4


# ---------------------------------------------------------------- Python and NumPy protocols


def test_array_protocol():
    x = fnp.asarray([1.5, -2.0])
    a = np.asarray(x)
    assert isinstance(a, np.ndarray) and a.dtype == F32
    np.testing.assert_array_equal(a, [1.5, -2.0])
    assert np.asarray(x, dtype=F64).dtype == F64
    assert np.array(x, copy=True).flags.writeable
    # NumPy functions take funcgrad arrays (and give NumPy results).
    r = np.sin(x)
    assert isinstance(r, np.ndarray) and r.dtype == F32
    assert np.concatenate([x, x]).shape == (4,)


def test_len_and_iter():
    x = fnp.arange(6).reshape(3, 2)
    assert len(x) == 3 and len(fnp.zeros((0, 4))) == 0
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, fg.Array) and r.shape == (2,) for r in rows)
    np.testing.assert_array_equal(np.stack([np.asarray(r) for r in rows]), np.asarray(x))
    assert [int(v) for v in fnp.arange(3)] == [0, 1, 2]
    a, b = fnp.asarray([1.0, 2.0])  # unpacking
    assert float(a) == 1.0 and float(b) == 2.0
    with pytest.raises(TypeError, match="len\\(\\) of unsized object"):
        len(fnp.asarray(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d array"):
        iter(fnp.asarray(1.0))


def test_scalar_conversions():
    assert float(fnp.asarray(2.5)) == 2.5 and int(fnp.asarray(7)) == 7
    assert int(fnp.asarray(2.9)) == 2 and complex(fnp.asarray(1.0)) == 1 + 0j
    assert bool(fnp.asarray(0.0)) is False and bool(fnp.asarray([3])) is True
    assert float(fnp.ones((1, 1))) == 1.0  # one element: fine
    assert operator.index(fnp.asarray(3)) == 3
    assert [10, 20, 30][fnp.asarray(1)] == 20
    assert range(10)[fnp.asarray(np.int64(4))] == 4
    with pytest.raises(TypeError, match="only integer arrays"):
        operator.index(fnp.asarray(1.0))
    for fn in (float, int, bool, complex):
        with pytest.raises(TypeError, match=r"of an array with 3 elements \(f32\[3\]\) is "
                           r"ambiguous"):
            fn(fnp.ones(3))
    with pytest.raises(TypeError, match=r"bool\(\) of an array with 0 elements"):
        bool(fnp.zeros(0))
    if fnp.asarray(1) > 0:  # Python control flow on concrete arrays is fine
        pass


def test_repr_and_str():
    assert repr(fnp.asarray([1.0, 2.0])) == "Array([1., 2.], dtype=float32)"
    assert repr(fnp.asarray(2.0)) == "Array(2., dtype=float32, weak_type=True)"
    assert repr(fnp.asarray(3)) == "Array(3, dtype=int32, weak_type=True)"
    assert repr(fnp.asarray([1, 2])) == "Array([1, 2], dtype=int32)"
    assert repr(fnp.asarray(np.float64(1.5))) == "Array(1.5, dtype=float64)"
    assert repr(fnp.asarray([True, False])) == "Array([ True, False], dtype=bool)"
    assert repr(fnp.zeros((0, 2))) == "Array([], shape=(0, 2), dtype=float32)"
    assert repr(fnp.ones((2, 2), I32)) == "Array([[1, 1],\n       [1, 1]], dtype=int32)"
    assert str(fnp.asarray([1.0, 2.0])) == "[1. 2.]"
    assert f"{fnp.asarray(2.5):.2f}" == "2.50"


def test_pickle_copy_and_hash():
    for x in (fnp.asarray([1.0, 2.0]), fnp.asarray(2.0), fnp.arange(6).reshape(2, 3),
              fnp.zeros((0,), F64)):
        y = pickle.loads(pickle.dumps(x))
        assert isinstance(y, fg.Array) and y.aval == x.aval
        np.testing.assert_array_equal(y, x)
        assert not np.asarray(y).flags.writeable
        assert copy.copy(x) is x and copy.deepcopy(x) is x
        with pytest.raises(TypeError, match="unhashable"):
            hash(x)
    assert fnp.asarray(1.0).block_until_ready() is not None
    x = fnp.ones(2)
    assert x.block_until_ready() is x


# ---------------------------------------------------------------- tracers: the same surface


EXPRESSIONS = [
    lambda x, y: x + y, lambda x, y: y - x, lambda x, y: x * 2.0, lambda x, y: 2.0 * x,
    lambda x, y: x / y, lambda x, y: 1 / x, lambda x, y: x // y, lambda x, y: x % 2.0,
    lambda x, y: x ** 2, lambda x, y: x ** y, lambda x, y: 2.0 ** x, lambda x, y: x @ y,
    lambda x, y: y @ x.T, lambda x, y: -x, lambda x, y: +x, lambda x, y: abs(x),
    lambda x, y: x < y, lambda x, y: x >= 1.0, lambda x, y: x == y, lambda x, y: x != 0,
    lambda x, y: ~(x > 0), lambda x, y: (x > 0) & (y < 1), lambda x, y: (x > 0) | True,
    lambda x, y: (x > 0) ^ (x < 1), lambda x, y: x.astype(I32) << 2,
    lambda x, y: x.astype(I32) >> 1, lambda x, y: x * np.float64(2.0),
    lambda x, y: np.ones(4, F64) + y, lambda x, y: x.T, lambda x, y: x.mT,
    lambda x, y: x.sum(axis=0), lambda x, y: x.mean(), lambda x, y: x.max(axis=1),
    lambda x, y: x.argmax(axis=0), lambda x, y: x.reshape(4, 3), lambda x, y: x.reshape(-1),
    lambda x, y: x.astype(F64), lambda x, y: x.transpose(), lambda x, y: x.ravel(),
    lambda x, y: x[None].squeeze(0), lambda x, y: x.clip(0.0, 1.0), lambda x, y: x.round(),
    lambda x, y: x[1], lambda x, y: x[:, 1:3], lambda x, y: x.at[0].set(y[:4]),
    lambda x, y: x[0, 0] * y, lambda x, y: divmod(x, 2.0)[1],
    lambda x, y: fnp.asarray(2.0) * x, lambda x, y: x.sum() + 1,
]


@pytest.mark.parametrize("i", range(len(EXPRESSIONS)))
def test_tracers_have_the_array_surface(i):
    expr = EXPRESSIONS[i]
    rng = np.random.default_rng(i)
    x = fnp.asarray(rng.uniform(0.5, 2, (3, 4)).astype(F32))
    y = fnp.asarray(rng.uniform(0.5, 2, (4,)).astype(F32))
    eager = expr(x, y)
    closed = fg.make_jaxpr(expr)(x, y)
    assert closed.out_avals[0] == eager.aval, (closed.out_avals[0], eager.aval)
    assert_close(closed(x, y)[0], eager, 0, 0)


def test_tracer_properties_and_protocols():
    seen = {}

    def f(x, w):
        seen.update(shape=x.shape, dtype=x.dtype, ndim=x.ndim, size=x.size,
                    weak=x.weak_type, wweak=w.weak_type, Tshape=x.T.shape, len=len(x),
                    rows=[r.shape for r in x])
        assert isinstance(x, fg.core.Tracer)
        with pytest.raises(TypeError, match="unhashable"):
            hash(x)
        return x

    fg.make_jaxpr(f)(fnp.ones((2, 3), F64), 1.0)
    assert seen == dict(shape=(2, 3), dtype=F64, ndim=2, size=6, weak=False, wweak=True,
                        Tshape=(3, 2), len=2, rows=[(3,), (3,)])


def test_tracer_concretization_errors():
    def branch(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(errors.ConcretizationError,
                       match=r"(?s)bool\(\).*traced bool\[\].*make_jaxpr.*depends on "
                             r"argument `x`.*Fix:.*where"):
        fg.make_jaxpr(branch)(1.0)
    with pytest.raises(errors.ConcretizationError, match=r"(?s)float\(\).*argument `b`"):
        fg.make_jaxpr(lambda a, b: float(b * 2))(1.0, 2.0)
    with pytest.raises(errors.ConcretizationError, match=r"(?s)int\(\).*argument `params\['w'\]`"):
        fg.make_jaxpr(lambda params: int(params["w"].sum()))({"w": np.ones(3, I32)})
    with pytest.raises(errors.ConcretizationError, match="__index__"):
        fg.make_jaxpr(lambda n: [1, 2, 3][n])(1)
    with pytest.raises(errors.ConcretizationError, match=r"item\(\)"):
        fg.make_jaxpr(lambda x: x.item())(1.0)
    # No dependence on any argument: said so.
    with pytest.raises(errors.ConcretizationError, match="does not depend on any argument"):
        fg.make_jaxpr(lambda x: bool(fnp.ones(()) > 0))(1.0)


def test_tracer_numpy_conversion_error():
    with pytest.raises(errors.TracerArrayConversionError,
                       match=r"(?s)numpy: a traced f32\[3\] value .*funcgrad.numpy.sin"):
        fg.make_jaxpr(lambda x: np.sin(x))(np.ones(3, F32))
    with pytest.raises(errors.TracerArrayConversionError):
        fg.make_jaxpr(lambda x: np.asarray(x))(np.ones(3, F32))


def test_leaked_tracer():
    saved = []

    def f(x):
        saved.append(x * 2)
        return x

    fg.make_jaxpr(f)(fnp.ones(3))
    leaked = saved[0]
    assert "Traced<f32[3]>" in repr(leaked)
    for use in (lambda t: t + 1, lambda t: fnp.sin(t), lambda t: t.sum(),
                lambda t: fg.make_jaxpr(lambda y: y + t)(1.0)):
        with pytest.raises(errors.TracerLeakError,
                           match=r"(?s)a tracer f32\[3\] created by make_jaxpr\(f\).*was used "
                                 r"after make_jaxpr\(f\) returned"):
            use(leaked)
