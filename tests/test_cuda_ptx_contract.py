"""Every kernel of funcgrad.lowering.cuda_contract compiles to PTX for sm_90, with the argument
types its lowerings actually launch it with, for every dtype they accept (the simulator
checks no types). The lowerings run here on host arrays with the kernels replaced by
recorders; each recorded launch is then compiled from the kernel's Python function."""
import numpy as np
import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

import numba  # noqa: E402

import funcgrad as fg  # noqa: E402
from funcgrad.lowering import cuda_contract, cuda_runtime  # noqa: E402
from funcgrad.primitives import windowed  # noqa: E402
from tests import cuda_ptx  # noqa: E402
from tests.harness import THOROUGH  # noqa: E402

KERNELS = {name: getattr(cuda_contract, name) for name in (
    "_permute_kernel", "_matmul_kernel", "_conv3d_kernel", "_sum_splits_kernel",
    "_reduce_window_kernel", "_select_and_gather_kernel", "_select_kernel", "_scatter_kernel")}

INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
# The default profile compiles one integer width of each kind that behaves differently (int8
# wraps and widens, int32, uint8 unsigned); the thorough profile compiles every dtype.
ALL = [np.bool_] + (INTS if THOROUGH else [np.int8, np.int32, np.uint8]) + FLOATS


def _eqn(fun, *args):
    (eqn,) = fg.make_jaxpr(fun)(*args).jaxpr.eqns
    return eqn


def _dot_cases(dtype):
    a, b = np.zeros((2, 3, 4), dtype), np.zeros((4, 2, 5), dtype)
    dims = (((2,), (0,)), ((0,), (1,)))
    yield _eqn(lambda a, b: fg.lax.dot_general(a, b, dims), a, b)
    wider = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float64,
             np.dtype(np.int8): np.int32}.get(np.dtype(dtype))
    if wider is not None:
        yield _eqn(lambda a, b: fg.lax.dot_general(a, b, dims, preferred_element_type=wider),
                   a, b)


def _conv_cases(dtype):
    x, w = np.zeros((2, 5, 4, 4), dtype), np.zeros((2, 3, 2, 6), dtype)
    yield _eqn(lambda x, w: fg.lax.conv_general_dilated(
        x, w, (1, 2), ((1, 1), (0, 2)), (1, 2), (2, 1), ("NHWC", "HWIO", "NCHW"),
        feature_group_count=2), x, w)
    x1, w1 = np.zeros((2, 3, 7), dtype), np.zeros((4, 3, 2), dtype)
    yield _eqn(lambda x, w: fg.lax.conv_general_dilated(x, w, (1,), "VALID"), x1, w1)
    # Few outputs, long sums (a kernel gradient): split into partial sums.
    xs, ws = np.zeros((1, 128, 8, 8), dtype), np.zeros((2, 128, 8, 8), dtype)
    yield _eqn(lambda x, w: fg.lax.conv_general_dilated(x, w, (1, 1), "VALID"), xs, ws)


def _window_cases(dtype):
    x = np.zeros((2, 3, 6, 5), dtype)
    kinds = ["max", "min"] + ([] if dtype == np.bool_ else ["sum"])
    for kind in kinds:
        f = getattr(fg.lax, f"reduce_window_{kind}")
        yield _eqn(lambda x, f=f: f(x, (1, 1, 3, 2), (1, 1, 2, 1), "SAME"), x)
        if dtype == np.float32:  # another rank (the window tuples' length)
            yield _eqn(lambda x, f=f: f(x, (3,), (2,), "VALID"), np.zeros((7,), dtype))
    params = windowed._window_params("test", x, (1, 1, 3, 3), (1, 1, 2, 2), "SAME")
    out = np.zeros(windowed._out_shape(x.shape, **params), dtype)
    for select in ("max", "min"):
        yield _eqn(lambda t, x, select=select: windowed.select_and_gather_add_p.bind(
            t, x, select=select, **params), x, x)
        yield _eqn(lambda c, x, select=select: windowed.select_and_scatter_add_p.bind(
            c, x, select=select, **params), out, x)


class _Recorder:
    def __init__(self, name, launches):
        self.name, self.launches = name, launches

    def __getitem__(self, config):
        return lambda *args: self.launches.append(
            (self.name, tuple(numba.typeof(a) for a in args)))


def _launches(eqns, monkeypatch):
    """The distinct (kernel name, Numba signature) pairs the lowerings of ``eqns`` launch."""
    launches = []
    with monkeypatch.context() as m:
        m.setattr(cuda_runtime, "empty", lambda shape, dtype: np.empty(shape, dtype))
        for name in KERNELS:
            m.setattr(cuda_contract, name, _Recorder(name, launches))
        for eqn in eqns:
            run = cuda_contract.LOWERINGS[eqn.prim.name](eqn)
            assert run is not None, eqn
            out = run(*(np.zeros(v.aval.shape, v.aval.dtype) for v in eqn.invars))
            assert out.shape == eqn.outvars[0].aval.shape
            assert out.dtype == eqn.outvars[0].aval.dtype
    return sorted(set(launches), key=str)


def _compile_all(launches):
    assert launches
    for name, signature in launches:
        ptx = cuda_ptx.compile_ptx(KERNELS[name].py_func, signature)
        assert ".entry" in ptx, (name, signature)


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: np.dtype(d).name)
def test_dot_general_kernels_compile(dtype, monkeypatch):
    cuda_ptx.require_ptx()
    _compile_all(_launches(_dot_cases(dtype), monkeypatch))


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: np.dtype(d).name)
def test_conv_kernels_compile(dtype, monkeypatch):
    cuda_ptx.require_ptx()
    _compile_all(_launches(_conv_cases(dtype), monkeypatch))


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: np.dtype(d).name)
def test_window_kernels_compile(dtype, monkeypatch):
    cuda_ptx.require_ptx()
    _compile_all(_launches(_window_cases(dtype), monkeypatch))


def test_the_cases_launch_every_kernel(monkeypatch):
    eqns = [e for dt in (np.float32, np.float16) for cases in (_dot_cases, _conv_cases,
                                                                 _window_cases)
            for e in cases(dt)]
    assert {name for name, _ in _launches(eqns, monkeypatch)} == set(KERNELS)
