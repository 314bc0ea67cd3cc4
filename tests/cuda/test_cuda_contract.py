"""cuda_contract's lowerings against the primitives' NumPy impls: dot_general, convolution,
window reductions and the max/min pooling derivatives, over tables of awkward cases (tiny
shapes: on the simulator every CUDA thread is Python). Exact for integers and booleans, to
float rounding for floats; ``select_and_scatter_add`` is exact (same summation order)."""
import hypothesis
import hypothesis.strategies as hs
import numpy as np
import pytest

import funcgrad as fg
from funcgrad.lowering import cuda_contract, cuda_runtime
from funcgrad.primitives import windowed

RTOL = {np.float16: 2e-3, np.float32: 2e-5, np.float64: 1e-12}


def _values(rng, shape, dtype, nan=False):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.kind in "iu":  # small, so that no sum overflows (the simulator refuses to wrap)
        lo = 0 if dtype.kind == "u" else -3
        return np.asarray(rng.integers(lo, 4, shape)).astype(dtype)
    x = np.asarray(rng.standard_normal(shape))
    if nan and x.size:
        x.flat[rng.choice(x.size, max(1, x.size // 5), replace=False)] = np.nan
    return x.astype(dtype)


def _run_lowering(fun, *args):
    """``(got, want)``: the lowering of ``fun``'s single equation on device copies of
    ``args``, and its impl on ``args``."""
    jaxpr = fg.make_jaxpr(fun)(*args).jaxpr
    assert len(jaxpr.eqns) == 1, jaxpr
    eqn = jaxpr.eqns[0]
    run = cuda_contract.LOWERINGS[eqn.prim.name](eqn)
    assert run is not None, f"{eqn.prim.name} fell back to the host for {eqn}"
    device = [cuda_runtime.to_device(a) for a in args]
    out = run(*device)
    aval = eqn.outvars[0].aval
    assert all(out is not d for d in device)
    assert out.shape == aval.shape and out.dtype == aval.dtype, (out.shape, out.dtype, aval)
    for d, a in zip(device, args):  # operands untouched
        np.testing.assert_array_equal(d.copy_to_host(), a)
    return out.copy_to_host(), np.asarray(eqn.prim.impl(*args, **eqn.params))


def _check(fun, *args, exact=False):
    got, want = _run_lowering(fun, *args)
    assert got.shape == want.shape and got.dtype == want.dtype
    if exact or got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL[got.dtype.type],
                                   atol=RTOL[got.dtype.type])


# ---------------------------------------------------------------- dot_general

DOT_CASES = [
    # lhs shape, rhs shape, ((lc, rc), (lb, rb))
    ((5, 7), (7, 6), (((1,), (0,)), ((), ()))),
    ((9, 10), (10, 11), (((1,), (0,)), ((), ()))),                 # several tiles each way
    ((2, 5, 7), (2, 7, 6), (((2,), (1,)), ((0,), (0,)))),
    ((7, 5), (6, 7), (((0,), (1,)), ((), ()))),                    # both operands transposed
    ((5, 2, 7), (7, 6, 2), (((2,), (0,)), ((1,), (2,)))),          # batch axes not leading
    ((3, 4, 5), (4, 3, 2), (((0, 1), (1, 0)), ((), ()))),          # two contracting axes
    ((2, 3, 4, 2), (3, 2, 5, 2), (((1,), (0,)), ((0, 3), (1, 3)))),  # two batch axes
    ((3,), (4,), (((), ()), ((), ()))),                            # outer product
    ((6,), (6,), (((0,), (0,)), ((), ()))),                        # to a scalar
    ((), (), (((), ()), ((), ()))),                                # scalars
    ((3, 0), (0, 4), (((1,), (0,)), ((), ()))),                    # K = 0: zeros
    ((0, 3), (3, 4), (((1,), (0,)), ((), ()))),                    # empty result
    ((1, 6), (6, 1), (((1,), (0,)), ((), ()))),
]


@pytest.mark.parametrize("lhs_shape, rhs_shape, dims", DOT_CASES)
def test_dot_general_shapes(lhs_shape, rhs_shape, dims, rng):
    a, b = _values(rng, lhs_shape, np.float32), _values(rng, rhs_shape, np.float32)
    _check(lambda a, b: fg.lax.dot_general(a, b, dims), a, b)


@pytest.mark.parametrize("dtype, preferred", [
    (np.float64, None), (np.int32, None), (np.int8, None), (np.uint8, None), (np.int64, None),
    (np.bool_, None), (np.float16, None), (np.int8, np.int32), (np.float32, np.float64),
    (np.int16, np.float32), (np.float16, np.float32)])
def test_dot_general_dtypes(dtype, preferred, rng):
    dims = (((2,), (1,)), ((0,), (0,)))
    a, b = _values(rng, (2, 5, 6), dtype), _values(rng, (2, 6, 3), dtype)
    _check(lambda a, b: fg.lax.dot_general(a, b, dims, preferred_element_type=preferred),
           a, b)


def test_dot_general_complex_falls_back():
    a = np.ones((2, 2), np.complex64)
    eqn = fg.make_jaxpr(lambda a: fg.lax.dot_general(a, a, (((1,), (0,)), ((), ()))))(
        a).jaxpr.eqns[0]
    assert cuda_contract.LOWERINGS["dot_general"](eqn) is None


# ---------------------------------------------------------------- conv_general_dilated

CONV_CASES = [
    # lhs shape, rhs shape, keyword arguments of lax.conv_general_dilated
    ((2, 3, 7), (4, 3, 3), dict(window_strides=(1,), padding=((1, 1),))),
    ((1, 2, 6, 5), (3, 2, 3, 2), dict(window_strides=(2, 1), padding=((1, 0), (1, 2)))),
    ((1, 2, 6, 5), (3, 2, 2, 2), dict(window_strides=(1, 2), padding=((-1, 2), (0, -1)))),
    ((1, 2, 4, 3), (2, 2, 2, 2), dict(window_strides=(1, 1), padding=((1, 1), (0, 1)),
                                      lhs_dilation=(2, 1), rhs_dilation=(1, 2))),
    ((1, 2, 5, 4), (2, 2, 3, 2), dict(window_strides=(2, 3), padding=((2, 1), (1, 1)),
                                      lhs_dilation=(2, 3), rhs_dilation=(2, 1))),
    ((2, 5, 4, 3), (2, 3, 3, 4), dict(window_strides=(1, 1), padding="SAME",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ((3, 4, 2, 5), (2, 2, 3, 2), dict(window_strides=(1, 1), padding=((0, 1), (1, 0)),
                                      dimension_numbers=("HNCW", "WHOI", "CWNH"))),
    ((2, 4, 5, 4), (6, 2, 2, 3), dict(window_strides=(1, 1), padding="VALID",
                                      feature_group_count=2)),
    ((2, 6, 5), (6, 1, 3), dict(window_strides=(1,), padding="SAME",
                                feature_group_count=6)),                   # depthwise
    ((4, 3, 5, 4), (6, 3, 2, 2), dict(window_strides=(1, 2), padding=((1, 0), (0, 1)),
                                      batch_group_count=2)),
    ((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), dict(window_strides=(1, 2, 1),
                                            padding=((1, 0), (0, 1), (1, 1)),
                                            rhs_dilation=(1, 1, 2))),
    ((3, 4), (5, 4), dict(window_strides=(), padding=())),              # no spatial axes
    ((2, 3, 3), (4, 3, 5), dict(window_strides=(1,), padding="VALID")),  # empty output
    ((2, 0, 5), (3, 0, 2), dict(window_strides=(1,), padding="VALID")),  # no input features
]


@pytest.mark.parametrize("lhs_shape, rhs_shape, kw", CONV_CASES)
def test_conv_cases(lhs_shape, rhs_shape, kw, rng):
    x, w = _values(rng, lhs_shape, np.float32), _values(rng, rhs_shape, np.float32)
    _check(lambda x, w: fg.lax.conv_general_dilated(x, w, **kw), x, w)


@pytest.mark.parametrize("dtype, preferred", [
    (np.float64, None), (np.int32, None), (np.int8, np.int32), (np.uint8, None),
    (np.float16, None), (np.bool_, None), (np.float32, np.float64)])
def test_conv_dtypes(dtype, preferred, rng):
    x, w = _values(rng, (2, 4, 5, 4), dtype), _values(rng, (4, 2, 2, 3), dtype)
    _check(lambda x, w: fg.lax.conv_general_dilated(
        x, w, (1, 2), ((1, 0), (1, 1)), rhs_dilation=(2, 1), feature_group_count=2,
        preferred_element_type=preferred), x, w)


@hypothesis.settings(max_examples=8)
@hypothesis.given(hs.data())
def test_conv_drawn(data):
    nsp = data.draw(hs.integers(1, 2))
    small = hs.integers(1, 3)
    groups = data.draw(hs.sampled_from([1, 2]))
    batch_groups = 1 if groups > 1 else data.draw(hs.sampled_from([1, 2]))
    n, i, o = data.draw(small) * batch_groups, data.draw(small), groups * batch_groups
    sp = tuple(data.draw(hs.integers(1, 5)) for _ in range(nsp))
    k = tuple(data.draw(small) for _ in range(nsp))
    kw = dict(window_strides=tuple(data.draw(small) for _ in range(nsp)),
              padding=tuple((data.draw(hs.integers(-1, 2)), data.draw(hs.integers(-1, 2)))
                            for _ in range(nsp)),
              lhs_dilation=tuple(data.draw(small) for _ in range(nsp)),
              rhs_dilation=tuple(data.draw(small) for _ in range(nsp)),
              feature_group_count=groups, batch_group_count=batch_groups)
    rng = np.random.default_rng(data.draw(hs.integers(0, 2**16)))
    x = _values(rng, (n, i * groups) + sp, np.float64)
    w = _values(rng, (o, i) + k, np.float64)
    try:
        fg.make_jaxpr(lambda x, w: fg.lax.conv_general_dilated(x, w, **kw))(x, w)
    except fg.errors.FuncgradError:  # padding cropping past the input: not a convolution
        hypothesis.reject()
    _check(lambda x, w: fg.lax.conv_general_dilated(x, w, **kw), x, w)


def test_conv_with_few_outputs_splits_its_sums(rng):
    # A kernel gradient's shape: few outputs, each a long sum, shared out over partial sums.
    x, w = _values(rng, (3, 6, 5, 2), np.float64), _values(rng, (2, 6, 4, 2), np.float64)
    assert cuda_contract._conv_splits(3 * 2 * 2, 6, 4 * 2) > 1
    _check(lambda x, w: fg.lax.conv_general_dilated(x, w, (1, 1), ((0, 1), (0, 0))), x, w)
    xi, wi = _values(rng, (3, 6, 5, 2), np.int16), _values(rng, (2, 6, 4, 2), np.int16)
    _check(lambda x, w: fg.lax.conv_general_dilated(x, w, (1, 1), ((0, 1), (0, 0))), xi, wi)


def test_conv_more_than_three_spatial_axes_falls_back():
    x, w = np.ones((1, 1, 2, 2, 2, 2), np.float32), np.ones((1, 1, 1, 1, 1, 1), np.float32)
    eqn = fg.make_jaxpr(lambda x, w: fg.lax.conv_general_dilated(x, w, (1,) * 4, "VALID"))(
        x, w).jaxpr.eqns[0]
    assert cuda_contract.LOWERINGS["conv_general_dilated"](eqn) is None


# ---------------------------------------------------------------- windows

WINDOW_CASES = [
    # operand shape, window_dimensions, keyword arguments of lax.reduce_window_*
    ((7,), (3,), dict(window_strides=(2,))),
    ((2, 3, 5, 6), (1, 1, 2, 2), dict(window_strides=(1, 1, 2, 2))),
    ((2, 5, 4, 3), (1, 3, 3, 1), dict(window_strides=(1, 2, 1, 1), padding="SAME")),  # NHWC
    ((3, 5), (2, 3), dict(window_strides=(1, 2), padding=((1, 2), (2, 0)),
                          base_dilation=(2, 1), window_dilation=(1, 2))),
    ((2, 4, 5), (2, 2, 3), dict(window_strides=(1, 3, 1), padding=((0, 1), (1, 1), (0, 0)),
                                window_dilation=(1, 2, 1))),
    ((4, 4), (2, 2), dict(window_strides=(1, 1), base_dilation=(3, 2),
                          padding=((1, 1), (0, 0)))),   # some windows only holes
    ((), (), dict()),
    ((2, 3), (3, 1), dict()),                            # window past the operand: empty
    ((0, 3), (1, 2), dict()),
]


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("shape, window, kw", WINDOW_CASES)
def test_reduce_window_cases(kind, shape, window, kw, rng):
    f = getattr(fg.lax, f"reduce_window_{kind}")
    x = _values(rng, shape, np.float32, nan=kind != "sum")
    _check(lambda x: f(x, window, **kw), x)


@pytest.mark.parametrize("kind", ["sum", "max", "min"])
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int8, np.uint8,
                                   np.bool_])
def test_reduce_window_dtypes(kind, dtype, rng):
    if kind == "sum" and dtype == np.bool_:
        pytest.skip("reduce_window_sum takes no booleans")
    f = getattr(fg.lax, f"reduce_window_{kind}")
    x = _values(rng, (3, 5), dtype, nan=True)
    _check(lambda x: f(x, (2, 3), (1, 2), ((1, 0), (1, 1)), window_dilation=(1, 2)), x)


def _select_fn(prim, select, shape, window, kw):
    params = windowed._window_params("test", np.zeros(shape), window,
                                     kw.get("window_strides"), kw.get("padding", "VALID"),
                                     kw.get("base_dilation"), kw.get("window_dilation"))
    return (lambda t, x: prim.bind(t, x, select=select, **params)), params


def _pooling_operand(rng, shape, dtype):
    # Few distinct values (ties), NaNs (floats) and one all-NaN corner.
    x = _values(rng, shape, dtype)
    if np.dtype(dtype).kind == "f":
        x = np.asarray(np.round(x), dtype)
        if x.size:
            x.flat[rng.choice(x.size, max(1, x.size // 4), replace=False)] = np.nan
            x[(slice(0, 2),) * x.ndim] = np.nan
    return x


@pytest.mark.parametrize("select", ["max", "min"])
@pytest.mark.parametrize("shape, window, kw", WINDOW_CASES)
def test_select_and_gather_add_cases(select, shape, window, kw, rng):
    f, _ = _select_fn(windowed.select_and_gather_add_p, select, shape, window, kw)
    x = _pooling_operand(rng, shape, np.float32)
    _check(f, _values(rng, shape, np.float32), x, exact=True)


@pytest.mark.parametrize("select", ["max", "min"])
@pytest.mark.parametrize("shape, window, kw", WINDOW_CASES + [
    ((5, 6), (3, 3), dict(window_strides=(1, 2), padding="SAME")),   # overlapping windows
    ((6,), (4,), dict(window_strides=(1,), window_dilation=(2,), padding=((3, 3),))),
])
def test_select_and_scatter_add_cases(select, shape, window, kw, rng):
    f, params = _select_fn(windowed.select_and_scatter_add_p, select, shape, window, kw)
    x = _pooling_operand(rng, shape, np.float32)
    out_shape = windowed._out_shape(shape, **params)
    _check(f, _values(rng, out_shape, np.float32), x, exact=True)


@pytest.mark.parametrize("prim", [windowed.select_and_gather_add_p,
                                  windowed.select_and_scatter_add_p])
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.uint8, np.bool_])
def test_select_dtypes(prim, dtype, rng):
    shape, window, kw = (4, 5), (2, 3), dict(window_strides=(1, 1), padding="SAME")
    f, params = _select_fn(prim, "max", shape, window, kw)
    x = _pooling_operand(rng, shape, dtype)
    first = shape if prim is windowed.select_and_gather_add_p else \
        windowed._out_shape(shape, **params)
    _check(f, _values(rng, first, dtype), x, exact=dtype != np.float16)
