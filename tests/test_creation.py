"""Tests of funcgrad.numpy's creation functions: values against NumPy, dtypes per JAX's rules,
staged programs without large constants, error messages, and (for the functions that take
arrays) derivatives and batching."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors
from tests.harness import (
    BOOL,
    F32,
    F64,
    I32,
    I64,
    U8,
    Spec,
    args_strategy,
    assert_close,
    check_spec,
    check_spec_grads,
    check_spec_vmap,
    check_vmap,
    scaled,
    shapes,
)
from tests.test_autodiff_elementwise import check_zero_derivatives

C64 = np.dtype("complex64")
I8 = np.dtype("int8")


def check_created(thunk, expected, dtype, weak=False, rtol=0.0, atol=0.0):
    """``thunk()`` eagerly and staged: a funcgrad Array of ``dtype``/``weak`` equal to
    ``expected``; the staged jaxpr has no constants and reproduces the eager value."""
    out = thunk()
    outs = out if isinstance(out, tuple) else (out,)
    exps = expected if isinstance(expected, tuple) else (expected,)
    dts = dtype if isinstance(dtype, tuple) else (dtype,) * len(outs)
    for o, e, dt in zip(outs, exps, dts):
        assert isinstance(o, fg.Array), type(o)
        assert o.dtype == np.dtype(dt), (o.dtype, dt)
        assert o.shape == np.shape(e), (o.shape, np.shape(e))
        assert_close(o, np.asarray(e), rtol, atol, err_msg="eager vs NumPy")
    assert outs[0].weak_type == weak
    closed = fg.make_jaxpr(thunk)()
    assert len(closed.consts) == 0, closed
    assert [(a.shape, a.dtype) for a in closed.out_avals] == [(o.shape, o.dtype) for o in outs]
    assert closed.out_avals[0].weak_type == weak
    for s, o in zip(closed(), outs):
        assert_close(s, o, 0, 0, err_msg="staged vs eager")
    return out


DTYPES = st.sampled_from([None, F32, F64, I32, I64, U8, BOOL, C64])


def _default(dtype, default=F32):
    return np.dtype(default if dtype is None else dtype)


# ---------------------------------------------------------------- zeros, ones, empty, full

@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@given(shape=shapes(max_dims=4), dtype=DTYPES, as_int=st.booleans())
def test_zeros_ones_empty(name, shape, dtype, as_int):
    shape_arg = shape[0] if as_int and len(shape) == 1 else shape
    expected = (np.ones if name == "ones" else np.zeros)(shape, _default(dtype))
    check_created(lambda: getattr(fnp, name)(shape_arg, dtype), expected, _default(dtype))


def test_shape_forms():
    for s in [3, (3,), [2, 3], np.int64(3), (np.int32(2), 3), fnp.asarray([2, 3]),
              np.array([2, 3]), ()]:
        assert fnp.zeros(s).shape == np.zeros(np.asarray(s).tolist()).shape


def test_python_type_dtypes_are_defaults():
    # As in JAX: Python's own types mean the default dtypes, not NumPy's 64-bit ones.
    assert fnp.zeros(2, dtype=float).dtype == F32
    assert fnp.ones(2, dtype=int).dtype == I32
    assert fnp.arange(3, dtype=float).dtype == F32
    assert fnp.eye(2, dtype=bool).dtype == BOOL
    assert fnp.zeros(2, dtype="float64").dtype == F64


FILLS = st.one_of(
    st.integers(-100, 100), st.floats(-1e3, 1e3, width=32), st.booleans(),
    st.floats(-10, 10).map(np.float64), st.integers(-5, 5).map(np.int8),
    st.floats(-10, 10, width=32).map(lambda v: fnp.asarray(np.float32(v))))


def _fill_dtype(v):
    """JAX's dtype and weak type of ``full``'s result for a scalar fill value."""
    if type(v) is bool:
        return BOOL, False
    if type(v) is int:
        return I32, True
    if type(v) is float:
        return F32, True
    return np.asarray(v).dtype, False


@given(shape=shapes(max_dims=3), fill=FILLS, dtype=st.sampled_from([None, F32, F64, I64]))
def test_full_scalar(shape, fill, dtype):
    dt, weak = _fill_dtype(fill)
    if dtype is not None:
        dt, weak = dtype, False
    expected = np.full(shape, np.asarray(fill), dtype=dt)
    check_created(lambda: fnp.full(shape, fill, dtype), expected, dt, weak)


@given(shape=shapes(min_dims=1, max_dims=3), k=st.integers(0, 3), seed=st.integers(0, 99),
       dtype=st.sampled_from([None, F64, I32]))
def test_full_array_fill(shape, k, seed, dtype):
    k = min(k, len(shape))
    fill_shape = tuple(1 if d % 2 else s for d, s in enumerate(shape[len(shape) - k:]))
    fill = np.random.default_rng(seed).normal(size=fill_shape).astype(F32)
    dt = F32 if dtype is None else dtype
    out = fnp.full(shape, fill, dtype)
    assert out.dtype == dt and not out.weak_type
    assert_close(out, np.full(shape, fill, dt), 0, 0)
    closed = fg.make_jaxpr(lambda f: fnp.full(shape, f, dtype))(fill)
    assert closed.out_avals[0].shape == shape and len(closed.consts) == 0
    assert_close(closed(fill)[0], out, 0, 0)
    if fill.size:  # nested lists too (an empty list would lose the fill's shape)
        assert_close(fnp.full(shape, fill.tolist(), dtype), np.full(shape, fill, dt), 0, 0)


def test_full_traced_fill_value():
    closed = fg.make_jaxpr(lambda v: fnp.full((2, 3), v))(np.float64(2.5))
    assert closed.out_avals[0].shape == (2, 3) and closed.out_avals[0].dtype == F64
    assert [e.prim.name for e in closed.eqns] == ["broadcast_in_dim"]
    np.testing.assert_array_equal(closed(np.float64(-1.0))[0], np.full((2, 3), -1.0))


# ---------------------------------------------------------------- *_like

LIKE_SPECS = [
    Spec("zeros_like", fnp.zeros_like, np.zeros_like, dtypes=(F32, F64, I32, BOOL),
         expected_dtype=lambda d: d),
    Spec("ones_like", fnp.ones_like, np.ones_like, dtypes=(F32, F64, I64, BOOL),
         expected_dtype=lambda d: d),
    Spec("empty_like", fnp.empty_like, np.zeros_like, dtypes=(F32, I32),
         expected_dtype=lambda d: d),
    Spec("full_like", lambda a: fnp.full_like(a, 3), lambda a: np.full_like(a, 3),
         dtypes=(F32, F64, I32, U8), expected_dtype=lambda d: d),
    Spec("zeros_like_dtype", lambda a: fnp.zeros_like(a, dtype=I64),
         lambda a: np.zeros_like(a, dtype=I64), expected_dtype=lambda d: I64),
    Spec("ones_like_shape", lambda a: fnp.ones_like(a, shape=(2, 1)),
         lambda a: np.ones_like(a, shape=(2, 1)), expected_dtype=lambda d: d),
    Spec("full_like_array", lambda a: fnp.full_like(a, a, dtype=F64),
         lambda a: np.full_like(a, a, dtype=F64), expected_dtype=lambda d: F64),
    Spec("full_like_row", lambda a: fnp.full_like(a, np.arange(a.shape[-1]) if a.ndim else 2),
         lambda a: np.full_like(a, np.arange(a.shape[-1]) if a.ndim else 2),
         dtypes=(F32, I32), expected_dtype=lambda d: d),
]


@pytest.mark.parametrize("spec", LIKE_SPECS, ids=repr)
@given(data=st.data())
def test_like(spec, data):
    args, kwargs = data.draw(args_strategy(spec))
    check_spec(spec, args, kwargs)


def test_like_weak_type_and_no_data_dependence():
    assert fnp.zeros_like(2.0).weak_type and fnp.zeros_like(2.0).dtype == F32
    assert fnp.ones_like(3).weak_type and fnp.ones_like(3).dtype == I32
    assert not fnp.zeros_like(2.0, dtype=F32).weak_type
    assert fnp.full_like(2.0, 7).weak_type
    assert repr(fnp.full_like(2.0, 7)) == "Array(7., dtype=float32, weak_type=True)"
    assert not fnp.full_like(np.float32(2.0), 7).weak_type
    assert fnp.zeros_like([1, 2]).dtype == I32 and fnp.zeros_like([1.0]).dtype == F32
    # zeros_like(x) of a traced x does not depend on x's value: one broadcast of a literal.
    closed = fg.make_jaxpr(lambda x: fnp.zeros_like(x) + fnp.ones_like(x, dtype=F64))(
        np.ones((3, 2), F32))
    assert closed.out_avals[0].dtype == F64 and len(closed.consts) == 0
    closed = fg.make_jaxpr(fnp.full_like)(np.ones(4, I32), np.float32(2.5))
    assert closed.out_avals[0].dtype == I32 and closed.out_avals[0].shape == (4,)
    np.testing.assert_array_equal(closed(np.ones(4, I32), np.float32(2.5))[0], [2, 2, 2, 2])


# ---------------------------------------------------------------- arange


def _arange_dtype(args, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    if any(isinstance(a, (np.generic, np.ndarray)) for a in args):
        return np.result_type(*[a if isinstance(a, np.generic) else
                                (np.float32(0) if isinstance(a, float) else np.int8(0))
                                for a in args])
    return F32 if any(isinstance(a, float) for a in args) else I32


ARANGE_INT = st.integers(-30, 30)
ARANGE_ARGS = st.one_of(
    st.tuples(ARANGE_INT),
    st.tuples(ARANGE_INT, ARANGE_INT),
    st.tuples(ARANGE_INT, ARANGE_INT, ARANGE_INT.filter(bool)),
    st.tuples(st.floats(-30, 30).map(lambda v: round(v, 2))),
    st.tuples(st.floats(-30, 30), st.floats(-30, 30)),
    st.tuples(st.floats(-30, 30), st.floats(-30, 30),
              st.floats(0.05, 7).flatmap(lambda v: st.sampled_from([v, -v]))),
    st.tuples(ARANGE_INT, st.floats(-30, 30), st.sampled_from([1, 2, -1, 0.5])),
    st.tuples(st.integers(0, 30).map(np.int64)),
    st.tuples(st.integers(-9, 9).map(np.int8), st.integers(-9, 9).map(np.int8)),
    st.tuples(st.floats(-5, 5).map(np.float64), st.integers(-5, 20)),
)


@given(args=ARANGE_ARGS, dtype=st.sampled_from([None, None, F32, F64, I32, I64]))
def test_arange(args, dtype):
    dt = _arange_dtype(args, dtype)
    expected = np.arange(*args, dtype=dt)
    # Element i is first + i * (second - first) computed in dtype, as in NumPy's fill loop
    # (which stores the second element directly, so that one may differ by an ulp).
    scale = max([1.0] + [abs(float(a)) for a in args])
    atol = 0.0 if dt.kind in "iu" else float(np.finfo(dt).eps) * scale * 2
    check_created(lambda: fnp.arange(*args, dtype=dtype), expected, dt, atol=atol)


def test_arange_defaults_and_dtypes():
    assert repr(fnp.arange(4)) == "Array([0, 1, 2, 3], dtype=int32)"
    assert fnp.arange(4.0).dtype == F32 and fnp.arange(0, 1, 0.5).dtype == F32
    assert fnp.arange(np.float64(3)).dtype == F64
    assert fnp.arange(fnp.asarray(3)).dtype == I32
    assert fnp.arange(5, dtype=F64).dtype == F64
    np.testing.assert_array_equal(fnp.arange(0.5, 5.5, 0.5, dtype=I32),
                                  np.arange(0.5, 5.5, 0.5, dtype=I32))
    np.testing.assert_array_equal(fnp.arange(10, 0, -3), [10, 7, 4, 1])
    assert fnp.arange(5, 2).shape == (0,) and fnp.arange(0).shape == (0,)
    np.testing.assert_array_equal(fnp.arange(2**31 - 3, 2**31 - 1), [2**31 - 3, 2**31 - 2])


def test_arange_stages_an_iota():
    closed = fg.make_jaxpr(lambda: fnp.arange(1000))()
    assert [e.prim.name for e in closed.eqns] == ["iota"] and len(closed.consts) == 0
    closed = fg.make_jaxpr(lambda: fnp.arange(-3.0, 997.0, 1.0))()
    assert len(closed.consts) == 0 and closed.out_avals[0].shape == (1000,)
    # Concrete arguments inside a traced function are fine.
    closed = fg.make_jaxpr(lambda x: x + fnp.arange(x.shape[0]))(np.ones(5, F32))
    np.testing.assert_array_equal(closed(np.ones(5, F32))[0], np.arange(5) + 1.0)


def test_arange_errors():
    with pytest.raises(errors.ConcretizationError, match=r"(?s)arange: `stop` is a traced "
                       r"i32\[\].*depends on argument `n`.*static"):
        fg.make_jaxpr(lambda n: fnp.arange(n))(3)
    with pytest.raises(errors.ConcretizationError, match=r"(?s)arange: `step`.*argument `s`"):
        fg.make_jaxpr(lambda s: fnp.arange(0, 10, s))(2.0)
    with pytest.raises(ValueError, match="arange: step must not be zero"):
        fnp.arange(0, 5, 0)
    with pytest.raises(ValueError, match="arange: cannot compute the length"):
        fnp.arange(0, float("inf"))
    with pytest.raises(ValueError, match=r"arange: `start` must be a scalar, .*\(2,\)"):
        fnp.arange(np.arange(2), 5)
    with pytest.raises(TypeError, match="arange: `stop` is complex"):
        fnp.arange(0, 1j)
    with pytest.raises(TypeError, match="arange: dtype bool"):
        fnp.arange(2, dtype=bool)
    with pytest.raises(OverflowError, match=r"arange: .*does not fit in int32"):
        fnp.arange(2**31 - 2, 2**31 + 2)
    with pytest.raises(TypeError, match="arange: got step without stop"):
        fnp.arange(5, step=2)


# ---------------------------------------------------------------- linspace, logspace, geomspace

SPACE_SCALAR = st.one_of(st.integers(-20, 20), st.floats(-20, 20, width=32),
                         st.floats(-5, 5).map(np.float64))


def _space_dtype(args, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    return F64 if any(isinstance(a, np.float64) for a in args) else F32


def _space_tol(dt, *vals):
    scale = max([1.0] + [abs(float(v)) for v in vals])
    return (2e-6, 4e-6 * scale) if dt == F32 else (1e-12, 1e-12 * scale)


@given(start=SPACE_SCALAR, stop=SPACE_SCALAR, num=st.integers(0, 12), endpoint=st.booleans(),
       dtype=st.sampled_from([None, None, F32, F64, I32]))
def test_linspace(start, stop, num, endpoint, dtype):
    dt = _space_dtype((start, stop), dtype)
    expected, step = np.linspace(start, stop, num, endpoint, retstep=True, dtype=dt)
    rtol, atol = _space_tol(dt, start, stop) if dt.kind == "f" else (0, 0)
    out = np.asarray(check_created(lambda: fnp.linspace(start, stop, num, endpoint, dtype=dtype),
                                   expected, dt, rtol=rtol, atol=atol))
    if endpoint and num > 0:
        assert out[-1] == expected[-1]  # the end point is exact
    if num > 0:
        assert out[0] == expected[0]
    _, fstep = fnp.linspace(start, stop, num, endpoint, retstep=True, dtype=dtype)
    step_tol = _space_tol(F32 if dt.kind == "f" else F64, start, stop)
    np.testing.assert_allclose(fstep, step, rtol=step_tol[0], atol=step_tol[1])


def _space_args(draw, nargs):
    a_shape = draw(shapes(max_dims=2, max_side=3))
    b_shape = a_shape[draw(st.integers(0, len(a_shape))):]
    return a_shape, b_shape


def _space_spec(name, fn, np_fn, domain="real", **kw):
    def shapes_pair():
        return st.tuples(shapes(max_dims=2, max_side=3), st.integers(0, 2)).map(
            lambda t: (t[0], t[0][min(t[1], len(t[0])):]))
    kwargs = st.fixed_dictionaries({
        "num": st.integers(0, 7), "endpoint": st.booleans(),
        "axis": st.sampled_from([0, -1])})
    return Spec(name, fn, np_fn, nargs=2, dtypes=(F32, F64), shapes=shapes_pair(),
                kwargs=kwargs, expected_dtype=lambda a, b: a, domain=domain,
                rtol=1e-5, atol=2e-5, **kw)


SPACE_SPECS = [
    _space_spec("linspace", fnp.linspace, np.linspace),
    _space_spec("logspace", fnp.logspace, np.logspace),
    _space_spec("logspace_base2", lambda a, b, **k: fnp.logspace(a, b, base=2.0, **k),
                lambda a, b, **k: np.logspace(a, b, base=2.0, **k)),
]
GEOMSPACE_SPEC = _space_spec("geomspace", fnp.geomspace, np.geomspace, domain="positive")


@pytest.mark.parametrize("spec", SPACE_SPECS, ids=repr)
@given(data=st.data())
def test_space_arrays(spec, data):
    # Array endpoints (broadcast together), the samples axis first or last, traced endpoints.
    args, kwargs = data.draw(args_strategy(spec))
    check_spec(spec, args, kwargs)


@given(data=st.data())
def test_geomspace_arrays(data):
    # Concrete end points take their log10 on the host (exact for powers of ten), traced ones
    # in the program, so eager and staged results may differ by an ulp: compare both to NumPy.
    spec = GEOMSPACE_SPEC
    args, kwargs = data.draw(args_strategy(spec))
    ref = np.geomspace(*args, **kwargs)
    out = fnp.geomspace(*args, **kwargs)
    assert out.dtype == args[0].dtype
    closed = fg.make_jaxpr(lambda a, b: fnp.geomspace(a, b, **kwargs))(*args)
    rtol = 2e-6 if args[0].dtype == F32 else 1e-13
    for got in (out, closed(*args)[0]):
        assert_close(got, ref, rtol, 0, err_msg=f"geomspace {kwargs}")


@given(start=st.floats(-3, 3), stop=st.floats(-3, 3), num=st.integers(0, 9),
       endpoint=st.booleans(), base=st.sampled_from([10.0, 2.0, np.e, 0.5]),
       dtype=st.sampled_from([None, F64]))
def test_logspace(start, stop, num, endpoint, base, dtype):
    dt = _space_dtype((start, stop), dtype)
    expected = np.logspace(start, stop, num, endpoint, base, dtype=dt)
    check_created(lambda: fnp.logspace(start, stop, num, endpoint, base, dtype=dtype),
                  expected, dt, rtol=1e-5 if dt == F32 else 1e-12)


@given(start=st.floats(0.01, 1e4), stop=st.floats(0.01, 1e4), negative=st.booleans(),
       num=st.integers(0, 9), endpoint=st.booleans(), dtype=st.sampled_from([None, F64]))
def test_geomspace(start, stop, negative, num, endpoint, dtype):
    if negative:
        start, stop = -start, -stop
    dt = _space_dtype((start, stop), dtype)
    expected = np.geomspace(start, stop, num, endpoint, dtype=dt)
    out = np.asarray(check_created(lambda: fnp.geomspace(start, stop, num, endpoint, dtype=dtype),
                                   expected, dt, rtol=2e-5 if dt == F32 else 1e-12))
    if num:
        assert out[0] == expected[0]
    if num > 1 and endpoint:
        assert out[-1] == expected[-1]


def test_space_integer_and_exact_results():
    for fn, args in [(fnp.linspace, (0, 10, 11)), (fnp.linspace, (0, 14, 7)),
                     (fnp.linspace, (-7, 3, 6)), (fnp.logspace, (0, 3, 4)),
                     (fnp.geomspace, (1, 1000, 4)), (fnp.geomspace, (-1, -1000, 4)),
                     (fnp.geomspace, (2, 1024, 10))]:
        got = fn(*args, dtype=I32)
        assert got.dtype == I32
        np.testing.assert_array_equal(got, getattr(np, fn.__name__)(*args, dtype=I32))
    np.testing.assert_array_equal(fnp.geomspace(1.0, 1000.0, 4), [1, 10, 100, 1000])
    np.testing.assert_array_equal(fnp.logspace(0.0, 3.0, 4), [1, 10, 100, 1000])
    assert fnp.linspace(0, 1, 4).dtype == F32  # ints -> the default float, as in JAX
    assert fnp.linspace(np.float64(0), 1, 4).dtype == F64
    assert fnp.linspace(fnp.zeros(2, I32), 1, 4).dtype == F32
    out, step = fnp.linspace(0.0, 1.0, 1, retstep=True)
    assert out.shape == (1,) and np.isnan(step)
    out, step = fnp.linspace(0.0, 1.0, 0, retstep=True)
    assert out.shape == (0,) and out.dtype == F32 and np.isnan(step)


def test_space_traced_endpoints():
    closed = fg.make_jaxpr(lambda a, b: fnp.linspace(a, b, 1000))(np.float32(0), np.float32(1))
    assert len(closed.consts) == 0 and closed.out_avals[0].shape == (1000,)
    np.testing.assert_allclose(closed(np.float32(-1), np.float32(1))[0],
                               np.linspace(-1, 1, 1000), rtol=1e-6, atol=1e-6)
    closed = fg.make_jaxpr(lambda a: fnp.geomspace(a, a * 100.0, 3))(np.float32(1))
    np.testing.assert_allclose(closed(np.float32(-2))[0], [-2, -20, -200], rtol=1e-6)
    # Signs differ: nan inside, the end points as given (NumPy's answer).
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(fnp.geomspace(-1.0, 100.0, 3),
                                      np.geomspace(-1.0, 100.0, 3).astype(F32))


def test_space_errors():
    with pytest.raises(ValueError, match="linspace: number of samples num=-1"):
        fnp.linspace(0, 1, -1)
    with pytest.raises(errors.ConcretizationError, match=r"(?s)linspace: num .*argument `n`"):
        fg.make_jaxpr(lambda n: fnp.linspace(0, 1, n))(3)
    with pytest.raises(ValueError, match=r"linspace: shapes \[2\], \[3\] cannot be broadcast"):
        fnp.linspace(np.zeros(2), np.ones(3), 4)
    with pytest.raises(ValueError, match="linspace: axis 2 is out of bounds"):
        fnp.linspace(np.zeros(2), 1.0, 4, axis=2)
    with pytest.raises(ValueError, match="geomspace: a geometric sequence cannot include zero"):
        fnp.geomspace(0.0, 10.0, 3)
    with pytest.raises(ValueError, match="geomspace: .*stop=\\[1.0, 0.0\\]"):
        fnp.geomspace(1.0, np.array([1.0, 0.0]), 3)
    with pytest.raises(TypeError, match="logspace: num must be an integer"):
        fnp.logspace(0, 1, 2.5)


# ---------------------------------------------------------------- eye, identity, tri

@given(n=st.integers(0, 7), m=st.one_of(st.none(), st.integers(0, 7)), k=st.integers(-9, 9),
       dtype=st.sampled_from([None, F64, I32, BOOL, C64]))
def test_eye_tri(n, m, k, dtype):
    dt = _default(dtype)
    check_created(lambda: fnp.eye(n, m, k, dtype), np.eye(n, m, k, dt), dt)
    check_created(lambda: fnp.tri(n, m, k, dtype), np.tri(n, m, k, dt), dt)
    check_created(lambda: fnp.identity(n, dtype), np.identity(n, dt), dt)


def test_eye_extreme_diagonals():
    np.testing.assert_array_equal(fnp.eye(3, k=2**40), np.zeros((3, 3)))
    np.testing.assert_array_equal(fnp.tri(3, k=-2**40), np.zeros((3, 3)))
    np.testing.assert_array_equal(fnp.tri(3, k=2**40), np.ones((3, 3)))
    assert fnp.eye(np.int64(2), fnp.asarray(3)).shape == (2, 3)


# ---------------------------------------------------------------- staging: no big constants

@pytest.mark.parametrize("make", [
    lambda: fnp.zeros(1000), lambda: fnp.ones((1000,), F64), lambda: fnp.empty(1000),
    lambda: fnp.full(1000, 2.0), lambda: fnp.arange(1000), lambda: fnp.arange(0.0, 100.0, 0.1),
    lambda: fnp.eye(1000), lambda: fnp.identity(1000), lambda: fnp.tri(1000),
    lambda: fnp.linspace(0.0, 1.0, 1000), lambda: fnp.logspace(0.0, 1.0, 1000),
    lambda: fnp.geomspace(1.0, 2.0, 1000), lambda: fnp.zeros_like(np.empty(1000)),
], ids=["zeros", "ones", "empty", "full", "arange", "arange_float", "eye", "identity", "tri",
        "linspace", "logspace", "geomspace", "zeros_like"])
def test_staged_without_constants(make):
    closed = fg.make_jaxpr(make)()
    assert len(closed.consts) == 0, closed
    assert closed.out_avals[0].size >= 1000
    eager = make()
    assert_close(closed()[0], eager, 0, 0)


def test_zeros_is_one_broadcast_of_a_literal():
    closed = fg.make_jaxpr(lambda: fnp.zeros((1000, 3), I32))()
    assert [e.prim.name for e in closed.eqns] == ["broadcast_in_dim"]
    assert str(closed).count("0:i32[]") == 1


# ---------------------------------------------------------------- shape errors

@pytest.mark.parametrize("name,call", [
    ("zeros", lambda: fnp.zeros((2, -1))), ("ones", lambda: fnp.ones((2, -1))),
    ("empty", lambda: fnp.empty((2, -1))), ("full", lambda: fnp.full((2, -1), 1.0)),
    ("zeros_like", lambda: fnp.zeros_like(np.ones(2), shape=(2, -1))),
    ("ones_like", lambda: fnp.ones_like(np.ones(2), shape=(2, -1))),
    ("full_like", lambda: fnp.full_like(np.ones(2), 0, shape=(2, -1))),
    ("empty_like", lambda: fnp.empty_like(np.ones(2), shape=(2, -1))),
])
def test_negative_shape(name, call):
    with pytest.raises(ValueError, match=rf"{name}: negative dimensions are not allowed: "
                       r"shape \(2, -1\)"):
        call()


def test_negative_sizes_eye_tri():
    with pytest.raises(ValueError, match=r"eye: negative dimensions .*N=-1, M=-1"):
        fnp.eye(-1)
    with pytest.raises(ValueError, match=r"tri: negative dimensions .*N=2, M=-3"):
        fnp.tri(2, -3)
    with pytest.raises(ValueError, match=r"identity|eye: negative"):
        fnp.identity(-2)


def test_shape_type_errors():
    with pytest.raises(TypeError, match=r"zeros: shape entry 1 of \(2, 2.5\) must be an "
                       r"integer, got float"):
        fnp.zeros((2, 2.5))
    with pytest.raises(TypeError, match="ones: shape must be an int or a sequence"):
        fnp.ones(2.0)
    with pytest.raises(TypeError, match="ones: shape must be an int or a 1-d sequence"):
        fnp.ones(np.ones((2, 2), int))
    with pytest.raises(TypeError, match="eye: N must be an integer"):
        fnp.eye(3.0)
    with pytest.raises(errors.ConcretizationError, match=r"(?s)zeros: shape entry 0 of "
                       r"\(i32\[\], 2\) is a traced i32\[\].*argument `n`"):
        fg.make_jaxpr(lambda n: fnp.zeros((n, 2)))(3)
    with pytest.raises(errors.ConcretizationError, match=r"(?s)eye: N .*argument `n`"):
        fg.make_jaxpr(lambda n: fnp.eye(n))(3)
    with pytest.raises(TypeError, match="not supported"):
        fnp.zeros(3, dtype=object)


def test_full_errors():
    with pytest.raises(ValueError, match=r"full: fill_value f32\[3\] cannot be broadcast to "
                       r"shape \(2, 2\)"):
        fnp.full((2, 2), np.ones(3, F32))
    with pytest.raises(OverflowError, match="300"):
        fnp.full(3, 300, dtype=U8)
    with pytest.raises(TypeError, match=r"(?s)zeros_like.*not a valid array|str"):
        fnp.zeros_like("abc")
    assert fnp.full(3, -1, dtype=I8).dtype == I8


# ---------------------------------------------------------------- derivatives and batching

# Functions of an array's shape and dtype only (or of a constant fill): zero derivatives.
# The others are differentiable in their array arguments (fill value, end points).
LIKE_ZERO = {"zeros_like", "ones_like", "empty_like", "full_like", "zeros_like_dtype",
             "ones_like_shape", "full_like_row"}
ARRAY_SPECS = LIKE_SPECS + SPACE_SPECS + [GEOMSPACE_SPEC]


def _floats_only(spec):
    floats = tuple(d for d in spec.dtypes if np.dtype(d).kind == "f")
    return dataclasses.replace(spec, dtypes=floats)


@pytest.mark.parametrize("spec", [s for s in ARRAY_SPECS if s.name not in LIKE_ZERO], ids=repr)
@settings(max_examples=scaled(5))
@given(data=st.data())
def test_array_inputs_grads(spec, data):
    # Order 2, forward and reverse, in float64 (geomspace on positive end points).
    args, kwargs = data.draw(args_strategy(_floats_only(spec)))
    check_spec_grads(spec, args, kwargs)


@pytest.mark.parametrize("spec", [s for s in LIKE_SPECS if s.name in LIKE_ZERO], ids=repr)
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_like_zero_derivatives(spec, data):
    args, kwargs = data.draw(args_strategy(_floats_only(spec)))
    check_zero_derivatives(lambda *a: spec.fg_fn(*a, **kwargs), args)


@pytest.mark.parametrize("spec", ARRAY_SPECS, ids=repr)
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_array_inputs_vmap(spec, data):
    # Every dtype; a *_like of a batched array is the same for every example (broadcast).
    args, kwargs = data.draw(args_strategy(spec))
    check_spec_vmap(spec, args, kwargs, data)


def test_full_fill_value_grads_and_vmap():
    from funcgrad.testing import check_grads
    fill = np.array([0.5, -1.0, 2.0])
    check_grads(lambda f: fnp.full((2, 3), f), (fill,), order=2)
    check_grads(lambda f: fnp.full((4, 2, 3), f, dtype=F64), (fill[:2, None],), order=2)
    check_vmap(lambda f: fnp.full((2, 3), f), [fill], (0,), 3)
    # derivative of the sum of the filled array: the number of copies
    g = fg.grad(lambda f: fnp.full((4, 5), f).sum())(np.float64(2.0))
    assert float(g) == 20.0


def test_constants_inside_transformations():
    # Functions without array inputs are constants: zero derivative, unbatched under vmap.
    def f(x):
        return (x * fnp.eye(3)[0] + fnp.tri(3)[1] * x + fnp.arange(3.0) + fnp.identity(3)[2]
                + fnp.linspace(0.0, 1.0, 3) * fnp.ones(3) + fnp.full(3, 2.0) * fnp.zeros(3))
    x = np.array([0.5, -1.0, 2.0], np.float32)
    check_vmap(f, [x], (0,), 3)
    _, t = fg.jvp(f, (x,), (np.ones(3, np.float32),))
    np.testing.assert_array_equal(np.asarray(t), [2.0, 1.0, 0.0])  # eye[0] + tri[1]
