"""funcgrad.numpy.fft and the ``fft`` primitive: forward values against numpy.fft on drawn
shapes, axes, lengths and norms; round trips; derivatives against finite differences; the
transpose property of each fft_type; vmap against a loop; jit against eager; errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from funcgrad.testing import check_grads
from tests.harness import check_vmap, scaled

# Real parts are taken with convert_element_type (complex -> real keeps the real part),
# which NumPy reports with a ComplexWarning.
pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")

F32, F64, C64, C128 = (np.dtype(t) for t in ("float32", "float64", "complex64", "complex128"))
NORMS = (None, "backward", "ortho", "forward")

# name -> kind: c2c (any input, complex out), r2c (real in), c2r (real out, half input)
KINDS = {"fft": "c2c", "ifft": "c2c", "fft2": "c2c", "ifft2": "c2c", "fftn": "c2c",
         "ifftn": "c2c", "rfft": "r2c", "irfft": "c2r", "rfft2": "r2c", "irfft2": "c2r",
         "rfftn": "r2c", "irfftn": "c2r", "hfft": "c2r", "ihfft": "r2c"}
ONE_D = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
TWO_D = ("fft2", "ifft2", "rfft2", "irfft2")


def _random(shape, dtype, rng):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _expected_dtype(name, in_dtype):
    double = in_dtype in (F64, C128)
    if KINDS[name] == "c2r":
        return F64 if double else F32
    return C128 if double else C64


@st.composite
def _cases(draw, name):
    """(input array, kwargs) for ``name``: shape, dtype, axis/axes, n/s and norm."""
    kind = KINDS[name]
    min_nd = 2 if name in TWO_D else 1
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=min_nd, max_size=3)))
    nd = len(shape)
    dtypes_ = (F32, F64) if kind == "r2c" else (F32, F64, C64, C128)
    dtype = draw(st.sampled_from(dtypes_))
    kwargs = {"norm": draw(st.sampled_from(NORMS))}
    if name in ONE_D:
        kwargs["axis"] = draw(st.integers(-nd, nd - 1))
        n = draw(st.one_of(st.none(), st.integers(1, 8)))
        if n is not None:
            kwargs["n"] = n
    else:
        if name in TWO_D:
            axes = draw(st.one_of(st.none(), st.permutations(range(nd)).map(lambda p: p[:2])))
            k = 2
        else:
            axes = draw(st.one_of(st.none(), st.lists(st.integers(0, nd - 1), min_size=1,
                                                      max_size=nd, unique=True)))
            k = nd if axes is None else len(axes)
        if axes is not None:
            kwargs["axes"] = tuple(axes)
        if axes is not None or name in TWO_D:
            # NumPy 2 deprecates s without axes (except for the 2-D functions).
            s = draw(st.one_of(st.none(), st.lists(st.integers(1, 6), min_size=k, max_size=k)))
            if s is not None:
                kwargs["s"] = tuple(s)
    seed = draw(st.integers(0, 2**16))
    return _random(shape, dtype, np.random.default_rng(seed)), kwargs


def _tolerance(dtype, ref):
    scale = max(1.0, float(np.max(np.abs(ref)))) if np.size(ref) else 1.0
    return (1e-4, 1e-4 * scale) if dtype in (F32, C64) else (1e-10, 1e-10 * scale)


def _default_length_is_zero(name, x, kwargs):
    """irfft-like transforms default to n = 2 * (m - 1), which is 0 for one input entry."""
    if KINDS[name] != "c2r":
        return False
    if name in ONE_D:
        return "n" not in kwargs and x.shape[kwargs["axis"]] == 1
    if "s" in kwargs:
        return False
    axes = kwargs.get("axes", (-2, -1) if name in TWO_D else tuple(range(x.ndim)))
    return x.shape[axes[-1]] == 1


_COMPILED: set = set()


def _check_forward(name, x, kwargs):
    fg_fn, np_fn = getattr(fnp.fft, name), getattr(np.fft, name)
    if _default_length_is_zero(name, x, kwargs):
        with pytest.raises(ValueError):
            np_fn(x, **kwargs)
        with pytest.raises(errors.ShapeError, match="invalid number of FFT data points"):
            fg_fn(x, **kwargs)
        return
    ref = np_fn(x.astype(C128 if x.dtype.kind == "c" else F64), **kwargs)
    out = fg_fn(x, **kwargs)
    assert isinstance(out, fg.Array)
    assert out.dtype == _expected_dtype(name, x.dtype), (name, x.dtype, out.dtype)
    assert out.shape == ref.shape, (name, out.shape, ref.shape)
    rtol, atol = _tolerance(out.dtype, ref)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=rtol, atol=atol, err_msg=name)
    # jit: the first example of each (function, dtype) compiles with Numba; later ones run the
    # generated driver as Python, as tests.harness does.
    key = (name, x.dtype)
    backend = "numba-py" if key in _COMPILED else "numba-cpu"
    _COMPILED.add(key)
    got = fg.jit(lambda a: fg_fn(a, **kwargs), backend=backend)(x)
    assert got.dtype == out.dtype and got.shape == out.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(out), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(KINDS))
@settings(max_examples=scaled(15))
@given(data=st.data())
def test_forward_matches_numpy(name, data):
    x, kwargs = data.draw(_cases(name))
    _check_forward(name, x, kwargs)


@pytest.mark.parametrize("name,kwargs", [
    ("fftn", {"axes": (1, 1)}), ("ifftn", {"axes": (0, 1, 0), "s": (3, 2, 4)}),
    ("rfftn", {"axes": (1, 0, 1)}), ("irfftn", {"axes": (0, 1, 0), "s": (3, 4, 5)}),
])
def test_repeated_axes_transform_once_per_mention(name, kwargs):
    x = _random((3, 4), C128 if KINDS[name] != "r2c" else F64, np.random.default_rng(1))
    _check_forward(name, x, kwargs)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_integer_and_bool_inputs_use_default_dtypes(dtype):
    x = np.arange(6).astype(dtype)
    assert fnp.fft.fft(x).dtype == C64
    assert fnp.fft.rfft(x).dtype == C64
    np.testing.assert_allclose(np.asarray(fnp.fft.rfft(x)), np.fft.rfft(x), atol=1e-5)


# ------------------------------------------------------------------------ round trips

@settings(max_examples=scaled(20))
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
       dtype=st.sampled_from([F32, F64]), norm=st.sampled_from(NORMS),
       seed=st.integers(0, 2**16))
def test_round_trips(shape, dtype, norm, seed):
    rng = np.random.default_rng(seed)
    x = _random(shape, dtype, rng)
    xc = _random(shape, C64 if dtype == F32 else C128, rng)
    atol = 1e-5 if dtype == F32 else 1e-12
    n = shape[-1]
    np.testing.assert_allclose(np.asarray(fnp.fft.ifft(fnp.fft.fft(xc, norm=norm), norm=norm)),
                               xc, atol=atol)
    np.testing.assert_allclose(np.asarray(fnp.fft.ifftn(fnp.fft.fftn(xc, norm=norm),
                                                        norm=norm)), xc, atol=atol)
    np.testing.assert_allclose(
        np.asarray(fnp.fft.irfft(fnp.fft.rfft(x, norm=norm), n, norm=norm)), x, atol=atol)
    np.testing.assert_allclose(
        np.asarray(fnp.fft.irfftn(fnp.fft.rfftn(x, norm=norm), shape, norm=norm)), x,
        atol=atol)
    np.testing.assert_allclose(
        np.asarray(fnp.fft.hfft(fnp.fft.ihfft(x, norm=norm), n, norm=norm)), x, atol=atol)


# ------------------------------------------------------------------------ derivatives

def _complex(re, im):
    return (lax.convert_element_type(re, np.complex128)
            + lax.convert_element_type(im, np.complex128) * 1j)


def _real_part(z):
    return lax.convert_element_type(z, np.float64)


# (name, input shape, kwargs): every function, with padding, cropping and axes.
GRAD_CASES = [
    ("fft", (3, 4), {"n": 6, "norm": "ortho"}),
    ("ifft", (3, 4), {"n": 3, "axis": 0}),
    ("fft2", (2, 3, 4), {"s": (4, 2), "norm": "forward"}),
    ("ifft2", (3, 4), {"axes": (1, 0)}),
    ("fftn", (2, 3, 4), {"axes": (2, 0), "s": (3, 3)}),
    ("ifftn", (2, 3, 2), {"norm": "ortho"}),
    ("rfft", (3, 5), {"axis": 0, "n": 4}),
    ("rfft", (2, 6), {}),
    ("irfft", (2, 4), {"n": 7}),
    ("irfft", (3, 4), {"axis": 0, "norm": "ortho"}),
    ("rfft2", (3, 4), {"s": (2, 5)}),
    ("irfft2", (3, 3), {"s": (4, 4), "norm": "forward"}),
    ("rfftn", (2, 3, 4), {"axes": (2, 0)}),
    ("irfftn", (2, 3, 3), {"s": (2, 3, 5), "axes": (0, 1, 2)}),
    ("hfft", (2, 4), {"n": 5}),
    ("ihfft", (3, 5), {"axis": 0, "norm": "ortho"}),
]


@pytest.mark.parametrize("name,shape,kwargs", GRAD_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(GRAD_CASES)])
def test_derivatives_against_finite_differences(name, shape, kwargs):
    """Order-1 and order-2, forward and reverse, on a real function of the real (and
    imaginary) parts: Re(transform(x) * w) for fixed complex weights ``w``."""
    rng = np.random.default_rng(0)
    fg_fn = getattr(fnp.fft, name)
    out_shape = getattr(np.fft, name)(np.zeros(shape, C128 if KINDS[name] != "r2c" else F64),
                                      **kwargs).shape
    w = _random(out_shape, C128, rng)
    if KINDS[name] == "r2c":
        def f(x):
            return _real_part(fg_fn(x, **kwargs) * w)
        args = [rng.standard_normal(shape)]
    else:
        def f(re, im):
            y = fg_fn(_complex(re, im), **kwargs)
            return _real_part(y * w) if KINDS[name] == "c2c" else y * w.real
        args = [rng.standard_normal(shape), rng.standard_normal(shape)]
    check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_grad_of_jit_and_jit_of_grad():
    x = np.random.default_rng(2).standard_normal((3, 8))
    w = _random((3, 5), C128, np.random.default_rng(3))

    def loss(x):
        spec = fnp.fft.rfft(x * x)
        return fnp.sum(_real_part(spec * w))
    eager = fg.grad(loss)(x)
    np.testing.assert_allclose(np.asarray(fg.jit(fg.grad(loss))(x)), np.asarray(eager),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(fg.grad(fg.jit(loss))(x)), np.asarray(eager),
                               rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------ transposes

def _inner(a, b):
    # funcgrad's (JAX's) cotangent pairing: bilinear, no conjugate.
    return float(np.real(np.sum(np.asarray(a, C128) * np.asarray(b, C128))))


@st.composite
def _transpose_cases(draw):
    fft_type = draw(st.sampled_from(["FFT", "IFFT", "RFFT", "IRFFT"]))
    lengths = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    double = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return fft_type, lengths, batch, double, seed


@settings(max_examples=scaled(40))
@given(case=_transpose_cases())
def test_transpose_property(case):
    """<ct, L t> == <L^T ct, t> with <a, b> = Re(sum(a * b)), for each fft_type."""
    fft_type, lengths, batch, double, seed = case
    rng = np.random.default_rng(seed)
    in_last = lengths[-1] // 2 + 1 if fft_type == "IRFFT" else lengths[-1]
    in_shape = batch + lengths[:-1] + (in_last,)
    real_in = fft_type == "RFFT"
    in_dtype = (F64 if double else F32) if real_in else (C128 if double else C64)

    def linear(t):
        return lax.fft(t, fft_type, lengths)
    t = _random(in_shape, in_dtype, rng)
    out, pullback = fg.vjp(linear, _random(in_shape, in_dtype, rng))
    ct = _random(out.shape, out.dtype, rng)
    (ct_in,) = pullback(ct)
    assert ct_in.dtype == in_dtype and ct_in.shape == in_shape
    lhs, rhs = _inner(ct, linear(t)), _inner(ct_in, t)
    tol = 1e-9 if double else 1e-3
    assert abs(lhs - rhs) <= tol * max(1.0, abs(lhs)), (fft_type, lengths, lhs, rhs)


@pytest.mark.parametrize("fft_type", ["FFT", "IFFT"])
def test_fft_and_ifft_transpose_to_themselves(fft_type):
    # The DFT matrix and its inverse are symmetric: the backward pass is the same transform.
    def pullback(ct):
        return fg.vjp(lambda t: lax.fft(t, fft_type, (4,)), np.zeros(4, C64))[1](ct)
    jaxpr = fg.make_jaxpr(pullback)(np.zeros(4, C64))
    types = [e.params["fft_type"] for e in jaxpr.jaxpr.eqns if e.prim.name == "fft"]
    assert types == [fft_type, fft_type]  # forward, then its transpose


# ------------------------------------------------------------------------ vmap and jit

VMAP_CASES = [
    ("fft", {"n": 5}, C64), ("ifft", {"axis": 0, "norm": "ortho"}, C128),
    ("fftn", {"axes": (1, 0), "s": (2, 4)}, F32), ("ifft2", {}, C64),
    ("rfft", {"axis": 0}, F64), ("irfft", {"n": 5}, C128), ("rfftn", {"s": (3, 4),
                                                                    "axes": (0, 1)}, F32),
    ("irfft2", {"norm": "forward"}, C64), ("hfft", {}, C128), ("ihfft", {"n": 3}, F64),
]


@pytest.mark.parametrize("name,kwargs,dtype", VMAP_CASES, ids=[c[0] for c in VMAP_CASES])
@settings(max_examples=scaled(4))
@given(in_axis=st.integers(-3, 2), size=st.sampled_from([0, 1, 3]))
def test_vmap_matches_loop(name, kwargs, dtype, in_axis, size):
    x = _random((3, 4), dtype, np.random.default_rng(4))
    fn = getattr(fnp.fft, name)
    atol = 1e-4 if dtype in (F32, C64) else 1e-10
    check_vmap(lambda a: fn(a, **kwargs), [x], [in_axis], size, atol=atol, rtol=atol, name=name)


def test_vmap_of_lax_fft_at_every_batch_dim():
    x = _random((2, 3, 4), C64, np.random.default_rng(5))
    for d in range(3):
        got = fg.vmap(lambda a: lax.fft(a, "FFT", (a.shape[-1],)), in_axes=d)(x)
        want = np.stack([np.fft.fft(np.take(x, i, axis=d), axis=-1) for i in range(x.shape[d])])
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_jit_runs_fft_as_a_library_step_and_matches_eager():
    x = np.random.default_rng(6).standard_normal((4, 6)).astype(np.float32)

    def f(x):
        spec = fnp.fft.rfft2(x, s=(4, 8), norm="ortho")
        return fnp.fft.irfft2(spec * spec, s=(4, 8))
    jitted = fg.jit(f)
    got = jitted(x)
    assert got.dtype == F32
    np.testing.assert_allclose(np.asarray(got), np.asarray(f(x)), rtol=1e-5, atol=1e-5)
    # The compiled driver calls the primitive's NumPy impl (np.fft) as a library step.
    from funcgrad import lowering
    closed = fg.make_jaxpr(f)(x)
    plan = lowering.compile(closed.jaxpr, "numba-cpu").plan
    assert "library step(s) (" in plan.summary() and "fft" in plan.summary()


# ------------------------------------------------------------------------ frequencies, shifts

@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.25, 3])
def test_fftfreq_and_rfftfreq_match_numpy(n, d):
    for name in ("fftfreq", "rfftfreq"):
        got = getattr(fnp.fft, name)(n, d)
        assert got.dtype == F32
        np.testing.assert_allclose(np.asarray(got), getattr(np.fft, name)(n, d), rtol=1e-6)
        assert getattr(fnp.fft, name)(n, d, dtype=np.float64).dtype == F64


def test_fftfreq_with_traced_spacing():
    got = fg.jit(lambda d: fnp.fft.fftfreq(6, d))(np.float32(0.5))
    np.testing.assert_allclose(np.asarray(got), np.fft.fftfreq(6, 0.5), rtol=1e-6)
    check_grads(lambda d: fnp.fft.rfftfreq(5, d, dtype=np.float64), [np.float64(0.7)], order=2)


@pytest.mark.parametrize("shape", [(5,), (4,), (3, 4), (2, 5, 3)])
@pytest.mark.parametrize("axes", [None, 0, -1, (0, -1)])
def test_fftshift_and_ifftshift_match_numpy(shape, axes):
    x = np.arange(np.prod(shape)).reshape(shape)
    for name in ("fftshift", "ifftshift"):
        got = getattr(fnp.fft, name)(x, axes=axes)
        np.testing.assert_array_equal(np.asarray(got), getattr(np.fft, name)(x, axes=axes))
    np.testing.assert_array_equal(
        np.asarray(fnp.fft.ifftshift(fnp.fft.fftshift(x, axes), axes)), x)


# ------------------------------------------------------------------------ errors

def test_errors_name_op_values_and_fix():
    with pytest.raises(errors.ShapeError, match=r"fft: invalid number of FFT data points n=0"):
        fnp.fft.fft(np.ones(3), n=0)
    with pytest.raises(errors.ShapeError, match=r"invalid number of FFT data points"):
        fnp.fft.fft(np.ones(0))
    with pytest.raises(errors.DTypeError, match=r"rfft: takes a real input, got c64\[3\]"):
        fnp.fft.rfft(np.ones(3, C64))
    with pytest.raises(errors.ShapeError, match=r"(?s)ifft: invalid norm='bogus'.*ortho"):
        fnp.fft.ifft(np.ones(3), norm="bogus")
    with pytest.raises(errors.ShapeError, match=r"fftn: s=\(2,\) and axes=\(0, 1\)"):
        fnp.fft.fftn(np.ones((2, 2)), s=(2,), axes=(0, 1))
    with pytest.raises(errors.ShapeError, match=r"axis 2 is out of bounds"):
        fnp.fft.fft(np.ones((2, 2)), axis=2)
    with pytest.raises(errors.DTypeError, match=r"fft: FFT takes a complex64 or complex128 "
                                                r"operand, got f32\[4\]"):
        lax.fft(np.ones(4, F32), "FFT", (4,))
    with pytest.raises(errors.ShapeError, match=r"needs trailing dimensions \(3,\), got "
                                                r"operand c64\[2,4\]"):
        lax.fft(np.ones((2, 4), C64), "IRFFT", (5,))
    with pytest.raises(errors.ShapeError, match=r"unknown fft_type='DCT'"):
        lax.fft(np.ones(4, C64), "DCT", (4,))
    with pytest.raises(errors.ShapeError, match=r"fewer than the 2 transformed axes"):
        lax.fft(np.ones(4, C64), "FFT", (2, 2))


def test_lax_fft_staged_dtypes():
    jaxpr = fg.make_jaxpr(lambda x: lax.fft(x, "RFFT", (6,)))(np.ones((2, 6), F32))
    assert str(jaxpr.out_avals[0].str_short()) == "c64[2,4]"
    jaxpr = fg.make_jaxpr(lambda x: lax.fft(x, "IRFFT", (6,)))(np.ones((2, 4), C128))
    assert str(jaxpr.out_avals[0].str_short()) == "f64[2,6]"

