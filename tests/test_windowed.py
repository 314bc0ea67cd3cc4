"""Windowed reductions (lax.reduce_window and its primitives) against slow NumPy loops.

The references below visit every output element and every window element in Python and map
each back to its source operand element, so they share no code (and no strided-view tricks)
with the impls. Hypothesis draws 1-D to 4-D shapes (size-0 axes included), windows, strides,
paddings ('VALID', 'SAME' or explicit pairs) and both dilations.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from funcgrad.primitives import windowed as W
from tests import harness as H
from tests.harness import BOOL, F32, F64, I32, Spec

KINDS = ("sum", "max", "min")
COMPUTATION = {"sum": lax.add, "max": lax.max, "min": lax.min}
NATURAL_INIT = {"sum": 0.0, "max": -np.inf, "min": np.inf}  # the identity, as users write it


# ---------------------------------------------------------------- slow references

def np_identity(kind, dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dtype)[()]
    if dtype == BOOL:
        return kind == "min"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return dtype.type(info.min if kind == "max" else info.max)
    return dtype.type(-np.inf if kind == "max" else np.inf)


def np_pads(shape, window, strides, padding, window_dilation):
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    if padding == "VALID":
        return [(0, 0)] * len(shape)
    pads = []  # SAME: ceil(d / s) outputs, the extra split low-first
    for d, w, s, wd in zip(shape, window, strides, window_dilation):
        extent = (w - 1) * wd + 1
        total = max((math.ceil(d / s) - 1) * s + extent - d, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def np_geometry(shape, window_dimensions, window_strides, padding, base_dilation=None,
                window_dilation=None):
    nd = len(shape)
    bdil = base_dilation or (1,) * nd
    wdil = window_dilation or (1,) * nd
    pads = np_pads(shape, window_dimensions, window_strides, padding, wdil)
    out_shape = []
    for d, w, s, (lo, hi), bd, wd in zip(shape, window_dimensions, window_strides, pads,
                                         bdil, wdil):
        size = ((d - 1) * bd + 1 if d else 0) + lo + hi
        extent = (w - 1) * wd + 1
        out_shape.append((size - extent) // s + 1 if size >= extent else 0)

    def source(o, k):
        """The operand index read by window element ``k`` of output ``o``, or None."""
        src = []
        for ax in range(nd):
            p = o[ax] * window_strides[ax] + k[ax] * wdil[ax] - pads[ax][0]
            if p % bdil[ax] or not 0 <= p // bdil[ax] < shape[ax]:
                return None
            src.append(p // bdil[ax])
        return tuple(src)
    return tuple(out_shape), source


def np_reduce_window(x, kind, window_dimensions, window_strides, padding, base_dilation=None,
                     window_dilation=None, init=None):
    x = np.asarray(x)
    out_shape, source = np_geometry(x.shape, window_dimensions, window_strides, padding,
                                    base_dilation, window_dilation)
    op = {"sum": np.add, "max": np.maximum, "min": np.minimum}[kind]
    out = np.empty(out_shape, x.dtype)
    for o in np.ndindex(*out_shape):
        acc = np_identity(kind, x.dtype)
        for k in np.ndindex(*window_dimensions):
            src = source(o, k)
            if src is not None:
                acc = op(acc, x[src])
        out[o] = acc if init is None else op(acc, init)
    return out


def np_selected(x, select, o, window_dimensions, source):
    """The operand index chosen by output ``o``'s window: its first maximum (minimum) in
    row-major window order, padding counting as the identity; None when that is padding."""
    better = np.greater if select == "max" else np.less
    best, chosen = None, None
    for k in np.ndindex(*window_dimensions):
        src = source(o, k)
        v = np_identity(select, x.dtype) if src is None else x[src]
        if best is None or better(v, best):
            best, chosen = v, src
    return chosen


def np_select_and_gather_add(t, x, select, window_dimensions, **geometry):
    out_shape, source = np_geometry(x.shape, window_dimensions, **geometry)
    out = np.zeros(out_shape, t.dtype)
    for o in np.ndindex(*out_shape):
        src = np_selected(x, select, o, window_dimensions, source)
        if src is not None:
            out[o] = t[src]
    return out


def np_select_and_scatter_add(ct, x, select, window_dimensions, **geometry):
    out_shape, source = np_geometry(x.shape, window_dimensions, **geometry)
    out = np.zeros(x.shape, ct.dtype)
    for o in np.ndindex(*out_shape):
        src = np_selected(x, select, o, window_dimensions, source)
        if src is not None:
            out[src] += ct[o]
    return out


# ---------------------------------------------------------------- strategies

@st.composite
def window_params(draw, shape, string_padding=True, max_window=3):
    """reduce_window keyword arguments for an operand of ``shape``."""
    nd = len(shape)
    ints = lambda lo, hi: tuple(draw(st.integers(lo, hi)) for _ in range(nd))  # noqa: E731
    kw = dict(window_dimensions=ints(1, max_window), window_strides=ints(1, 3))
    choices = ["explicit"] + (["VALID", "SAME"] if string_padding else [])
    padding = draw(st.sampled_from(choices))
    kw["padding"] = tuple(zip(ints(0, 2), ints(0, 2))) if padding == "explicit" else padding
    if draw(st.booleans()):
        kw["base_dilation"] = ints(1, 2)
    if draw(st.booleans()):
        kw["window_dilation"] = ints(1, 2)
    return kw


@st.composite
def shapes_1_to_4d(draw, min_side=0):
    nd = draw(st.integers(1, 4))
    max_side = {1: 9, 2: 7, 3: 5, 4: 4}[nd]  # the references are Python loops
    shape = [draw(st.integers(1, max_side)) for _ in range(nd)]
    if min_side == 0 and draw(st.integers(0, 7)) == 0:  # sometimes one empty axis
        shape[draw(st.integers(0, nd - 1))] = 0
    return tuple(shape)


@st.composite
def distinct_values(draw, shape, dtype=F64):
    """A random permutation of well-separated values: no ties in any window, and no value
    within finite-difference reach of another."""
    n = math.prod(shape)
    seed = draw(st.integers(0, 2**31 - 1))
    vals = np.random.default_rng(seed).permutation(n) * 0.25 - n * 0.125
    return vals.reshape(shape).astype(dtype)


@st.composite
def tied_values(draw, shape, dtype=F64):
    """Small integers as floats: many ties, to pin down which element a window selects."""
    seed = draw(st.integers(0, 2**31 - 1))
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(dtype)


# ---------------------------------------------------------------- forward: spec table

def _reduce_spec(kind, init=None, name=None, dtypes=(F32, F64, I32)):
    comp = COMPUTATION[kind]
    fg_init = NATURAL_INIT[kind] if init is None else init
    return Spec(name or f"reduce_window_{kind}",
                lambda x, **kw: lax.reduce_window(x, fg_init, comp, **kw),
                lambda x, **kw: np_reduce_window(x, kind, init=init, **kw),
                dtypes=dtypes, expected_dtype=lambda dt: dt)


def _wrapper_spec(kind):
    fn = getattr(lax, f"reduce_window_{kind}")
    return Spec(f"lax.reduce_window_{kind}", lambda x, **kw: fn(x, **kw),
                lambda x, **kw: np_reduce_window(x, kind, **kw), dtypes=(F32, I32),
                expected_dtype=lambda dt: dt)


FORWARD_SPECS = [
    _reduce_spec("sum"), _reduce_spec("max", dtypes=(F32, F64, I32, BOOL)),
    _reduce_spec("min", dtypes=(F32, F64, I32, BOOL)),
    # A non-identity init_value is combined once with each window's result.
    _reduce_spec("sum", init=1.5, name="reduce_window_sum(init=1.5)", dtypes=(F32, F64)),
    _reduce_spec("max", init=0.0, name="reduce_window_max(init=0)", dtypes=(F32, F64)),
    _reduce_spec("min", init=0, name="reduce_window_min(init=0)", dtypes=(F32, I32)),
    _wrapper_spec("sum"), _wrapper_spec("max"), _wrapper_spec("min"),
]


@pytest.mark.parametrize("spec_", FORWARD_SPECS, ids=repr)
@settings(max_examples=H.scaled(25))
@given(data=st.data())
def test_forward_against_loops(spec_, data):
    """Values vs the loop reference, dtype, abstract eval, staged and jit vs eager."""
    dtype = data.draw(st.sampled_from(spec_.dtypes))
    shape = data.draw(shapes_1_to_4d())
    x = data.draw(H.arrays(shape, dtype))
    kw = data.draw(window_params(shape))
    H.check_spec(spec_, [x], kw)


@pytest.mark.parametrize("select", ["max", "min"])
@settings(max_examples=H.scaled(25))
@given(data=st.data())
def test_select_primitives_against_loops(select, data):
    """Both selection primitives pick the first extremum in row-major window order (ties are
    frequent here), and never a padding element while an operand element is as good."""
    shape = data.draw(shapes_1_to_4d())
    x = data.draw(tied_values(shape))
    kw = W._window_params("test", x, **data.draw(window_params(shape)))
    t = data.draw(H.arrays(shape, F64))
    geometry = {k: v for k, v in kw.items() if k != "window_dimensions"}
    got = W.select_and_gather_add_p.bind(t, x, select=select, **kw)
    want = np_select_and_gather_add(t, x, select, kw["window_dimensions"], **geometry)
    np.testing.assert_array_equal(np.asarray(got), want)
    ct = data.draw(H.arrays(want.shape, F64))
    got = W.select_and_scatter_add_p.bind(ct, x, select=select, **kw)
    want = np_select_and_scatter_add(ct, x, select, kw["window_dimensions"], **geometry)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


@settings(max_examples=H.scaled(20))
@given(data=st.data())
def test_large_windows_against_loops(data):
    """Windows of up to 8x8 on 2-D operands: few large windows take a vectorised path (the
    windows copied out and reduced at once), many overlapping ones the per-offset loop."""
    shape = tuple(data.draw(st.integers(1, 9)) for _ in range(2))
    kw = data.draw(window_params(shape, max_window=8))
    x = data.draw(tied_values(shape))
    for kind in KINDS:
        got = lax.reduce_window(x, NATURAL_INIT[kind], COMPUTATION[kind], **kw)
        np.testing.assert_allclose(np.asarray(got), np_reduce_window(x, kind, **kw),
                                   rtol=1e-12)
    params = W._window_params("test", x, **kw)
    geometry = {k: v for k, v in params.items() if k != "window_dimensions"}
    select = data.draw(st.sampled_from(["max", "min"]))
    t = data.draw(H.arrays(shape, F64))
    got = W.select_and_gather_add_p.bind(t, x, select=select, **params)
    want = np_select_and_gather_add(t, x, select, params["window_dimensions"], **geometry)
    np.testing.assert_array_equal(np.asarray(got), want)
    ct = data.draw(H.arrays(want.shape, F64))
    got = W.select_and_scatter_add_p.bind(ct, x, select=select, **params)
    want = np_select_and_scatter_add(ct, x, select, params["window_dimensions"], **geometry)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("window", [(2, 2), (5, 7)], ids=["loop", "vectorised"])
def test_nan_is_never_selected(window):
    """The forward max propagates NaN; its derivative goes to the largest other element (to
    the first element only when the whole window is NaN)."""
    x = np.arange(35.0).reshape(5, 7) % 11
    x[0, 0], x[0, 1] = np.nan, 100.0  # the maximum follows the NaN
    f = lambda v: lax.reduce_window_max(v, window, window)  # noqa: E731
    out, f_vjp = fg.vjp(f, x)
    assert np.isnan(np.asarray(out)[0, 0])
    (g,) = f_vjp(np.ones(out.shape))
    win = x[:window[0], :window[1]]
    want = np.zeros_like(x)
    want[np.unravel_index(np.nanargmax(win), win.shape)] = 1.0
    np.testing.assert_array_equal(np.asarray(g)[:window[0], :window[1]], want[:window[0],
                                                                            :window[1]])
    all_nan = np.full((2, 2), np.nan)
    (g,) = fg.vjp(lambda v: lax.reduce_window_max(v, (2, 2)), all_nan)[1](np.ones((1, 1)))
    np.testing.assert_array_equal(np.asarray(g), [[1.0, 0.0], [0.0, 0.0]])


def test_global_pooling():
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7).astype(F64)
    for kind, reduce in [("max", np.max), ("min", np.min), ("sum", np.sum)]:
        got = lax.reduce_window(x, NATURAL_INIT[kind], COMPUTATION[kind], (1, 1, 6, 7),
                                (1, 1, 1, 1), "VALID")
        np.testing.assert_array_equal(np.asarray(got), reduce(x, axis=(2, 3), keepdims=True))
    for spec_ in GRAD_SPECS.values():
        H.check_spec_grads(spec_, [x], dict(window_dimensions=(1, 1, 6, 7),
                                            window_strides=(1, 1, 1, 1), padding="VALID"))


# ---------------------------------------------------------------- derivatives

# Max/min use a finite init_value: windows lying wholly in padding or dilation holes would
# otherwise give +-inf, whose finite differences are NaN.
GRAD_SPECS = {
    "sum": Spec("reduce_window_sum", lambda x, **kw: lax.reduce_window(x, 0.0, lax.add, **kw),
                None),
    "max": Spec("reduce_window_max",
                lambda x, **kw: lax.reduce_window(x, -1e3, lax.max, **kw), None),
    "min": Spec("reduce_window_min", lambda x, **kw: lax.reduce_window(x, 1e3, fnp.minimum,
                                                                      **kw), None),
    "sin_of_sum": Spec("sin_of_sum", lambda x, **kw: fnp.sin(lax.reduce_window_sum(x, **kw)),
                None),
}


@pytest.mark.parametrize("kind", sorted(GRAD_SPECS))
@settings(max_examples=H.scaled(12))
@given(data=st.data())
def test_order2_derivatives(kind, data):
    """Forward and reverse mode, to order 2, vs float64 central differences; max/min inputs
    are distinct values, so no window has a tie or a near-tie."""
    shape = data.draw(shapes_1_to_4d(min_side=1))
    x = data.draw(distinct_values(shape))
    kw = data.draw(window_params(shape))
    H.check_spec_grads(GRAD_SPECS[kind], [x], kw, order=2)


def _vdot(a, b) -> float:
    return float(np.vdot(np.asarray(a, F64), np.asarray(b, F64)))


@settings(max_examples=H.scaled(20))
@given(data=st.data())
def test_linear_primitives_transpose(data):
    """``<ct, L t> == <L^T ct, t>`` for reduce_window_sum (``L^T`` from vjp, i.e. its
    transpose rule) and for the selection pair, each the other's transpose, on inputs with
    ties (the pair must agree on the selected element)."""
    shape = data.draw(shapes_1_to_4d())
    kw = W._window_params("test", np.zeros(shape), **data.draw(window_params(shape)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    t = rng.standard_normal(shape)
    out, f_vjp = fg.vjp(lambda v: W.reduce_window_sum_p.bind(v, **kw), t)
    ct = rng.standard_normal(out.shape)
    np.testing.assert_allclose(_vdot(ct, out), _vdot(f_vjp(ct)[0], t), rtol=1e-10, atol=1e-10)

    x = data.draw(tied_values(shape))
    select = data.draw(st.sampled_from(["max", "min"]))
    gathered = W.select_and_gather_add_p.bind(t, x, select=select, **kw)
    scattered = W.select_and_scatter_add_p.bind(ct, x, select=select, **kw)
    np.testing.assert_allclose(_vdot(ct, gathered), _vdot(scattered, t), rtol=1e-10,
                               atol=1e-10)
    # The registered transpose rules map each to the other.
    (via_vjp,) = fg.vjp(lambda v: W.select_and_gather_add_p.bind(v, x, select=select, **kw),
                        t)[1](ct)
    np.testing.assert_allclose(np.asarray(via_vjp), np.asarray(scattered), rtol=1e-12)
    (via_vjp,) = fg.vjp(lambda c: W.select_and_scatter_add_p.bind(c, x, select=select, **kw),
                        ct)[1](t)
    np.testing.assert_allclose(np.asarray(via_vjp), np.asarray(gathered), rtol=1e-12)


def test_max_derivative_goes_to_the_first_tied_element():
    z = np.array([1.0, 3.0, 3.0, 0.0])
    g = fg.grad(lambda z: lax.reduce_window(z, -fnp.inf, lax.max, (3,), (1,), "VALID").sum())
    np.testing.assert_array_equal(np.asarray(g(z)), [0.0, 2.0, 0.0, 0.0])
    g = fg.grad(lambda z: lax.reduce_window(z, fnp.inf, lax.min, (2,), (1,), "VALID").sum())
    np.testing.assert_array_equal(np.asarray(g(np.array([2.0, 2.0, 2.0]))), [1.0, 1.0, 0.0])


@pytest.mark.parametrize("strides,dilation", [((1,), (1,)), ((2,), (2,))])
def test_overlapping_windows_accumulate_on_a_shared_maximum(strides, dilation):
    # Stride 1, or stride 2 with a dilated window (extent 3): both windows pick element 2.
    x = np.array([0.0, 1.0, 5.0, 1.0, 0.0])
    window = (3,) if dilation == (1,) else (2,)
    f = lambda v: lax.reduce_window(v, -fnp.inf, lax.max, window, strides, "VALID",  # noqa: E731
                                    window_dilation=dilation)
    out, f_vjp = fg.vjp(f, x)
    ct = np.arange(1.0, out.shape[0] + 1.0)
    np.testing.assert_array_equal(np.asarray(f_vjp(ct)[0]), [0, 0, ct.sum(), 0, 0])


def test_derivative_wrt_traced_init_value():
    x = np.arange(6.0)
    g = fg.grad(lambda c: lax.reduce_window(x, c, lax.add, (2,), (2,), "VALID").sum())(0.0)
    assert float(g) == 3.0  # three windows, each adds the init once
    g = fg.grad(lambda c: lax.reduce_window(x, c, lax.max, (2,), (2,), "VALID").sum())(3.5)
    assert float(g) == 2.0  # the maxima 1 and 3 are below the init, 5 is above


# ---------------------------------------------------------------- vmap

def _prim_fn(prim, kw, select=None):
    extra = {} if select is None else {"select": select}
    return lambda *a: prim.bind(*a, **kw, **extra)


@pytest.mark.parametrize("prim", [W.reduce_window_sum_p, W.reduce_window_max_p,
                                  W.reduce_window_min_p], ids=lambda p: p.name)
@settings(max_examples=H.scaled(15))
@given(data=st.data())
def test_vmap_reduce(prim, data):
    shape = data.draw(shapes_1_to_4d())
    x = data.draw(H.arrays(shape, data.draw(st.sampled_from([F32, I32]))))
    kw = W._window_params("test", x, **data.draw(window_params(shape)))
    in_axes = H.draw_in_axes(data.draw, [x], allow_unmapped=False)
    H.check_vmap(_prim_fn(prim, kw), [x], in_axes, data.draw(st.sampled_from([0, 1, 3])),
                 name=prim.name)


@pytest.mark.parametrize("prim", [W.select_and_gather_add_p, W.select_and_scatter_add_p],
                         ids=lambda p: p.name)
@settings(max_examples=H.scaled(15))
@given(data=st.data())
def test_vmap_select(prim, data):
    """Either operand batched (at any axis) or unmapped."""
    shape = data.draw(shapes_1_to_4d())
    x = data.draw(tied_values(shape, F32))
    kw = W._window_params("test", x, **data.draw(window_params(shape)))
    first_shape = shape if prim is W.select_and_gather_add_p else \
        np_geometry(shape, kw["window_dimensions"], kw["window_strides"], kw["padding"],
                    kw["base_dilation"], kw["window_dilation"])[0]
    first = data.draw(H.arrays(first_shape, F32))
    in_axes = H.draw_in_axes(data.draw, [first, x])
    H.check_vmap(_prim_fn(prim, kw, data.draw(st.sampled_from(["max", "min"]))), [first, x],
                 in_axes, data.draw(st.sampled_from([0, 1, 3])), name=prim.name)


def test_vmap_of_max_pool_gradient():
    rng = np.random.default_rng(1)
    xs = rng.permutation(3 * 4 * 6).reshape(3, 4, 6).astype(F64)

    def pool_grad(x):
        return fg.grad(lambda v: (lax.reduce_window(v, -fnp.inf, lax.max, (2, 3), (2, 3),
                                                    "VALID") ** 2).sum())(x)
    got = fg.vmap(pool_grad, in_axes=1, out_axes=2)(xs.transpose(1, 0, 2))
    want = np.stack([np.asarray(pool_grad(x)) for x in xs], axis=2)
    np.testing.assert_array_equal(np.asarray(got), want)


# ---------------------------------------------------------------- named cases

def np_pool_2x2(x, reduce):
    n, c, h, w = x.shape
    return reduce(x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2),
                  axis=(3, 5))


def max_pool(x):
    return lax.reduce_window(x, -fnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def avg_pool(x):
    return lax.reduce_window(x, 0.0, lax.add, (1, 1, 2, 2), (1, 1, 2, 2), "VALID") / 4.0


@pytest.mark.parametrize("dtype", [F32, F64])
def test_max_pool_2x2_stride2_nchw(dtype):
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8).astype(dtype)  # odd H drops a row
    np.testing.assert_array_equal(np.asarray(max_pool(x)), np_pool_2x2(x, np.max))
    ct = rng.standard_normal((2, 3, 3, 4)).astype(dtype)
    (g,) = fg.vjp(max_pool, x)[1](ct)
    # The cotangent lands on each window's maximum; everything else gets 0.
    want = np.zeros_like(x)
    for i in np.ndindex(ct.shape):
        n, c, h, w = i
        win = x[n, c, 2 * h:2 * h + 2, 2 * w:2 * w + 2]
        dh, dw = np.unravel_index(np.argmax(win), (2, 2))
        want[n, c, 2 * h + dh, 2 * w + dw] = ct[i]
    np.testing.assert_array_equal(np.asarray(g), want)
    assert g.dtype == dtype
    jitted = fg.jit(lambda x, ct: fg.vjp(max_pool, x)[1](ct)[0])(x, ct)
    np.testing.assert_array_equal(np.asarray(jitted), want)


def test_average_pool_nchw():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 4)).astype(F32)
    np.testing.assert_allclose(np.asarray(avg_pool(x)), np_pool_2x2(x.astype(F64), np.mean),
                               rtol=1e-6, atol=1e-6)
    ct = rng.standard_normal((2, 3, 3, 2)).astype(F32)
    (g,) = fg.vjp(avg_pool, x)[1](ct)
    want = np.repeat(np.repeat(ct, 2, axis=2), 2, axis=3) / 4.0
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6)
    H.check_spec_grads(Spec("avg_pool", avg_pool, None), [x], {}, order=2)


def test_jit_matches_eager_for_pooling_gradients():
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6).astype(F32)

    def loss(x):
        y = lax.reduce_window(x, -fnp.inf, lax.max, (1, 1, 3, 3), (1, 1, 2, 2), "SAME")
        return (y * y).sum() + avg_pool(x).sum()
    eager = fg.grad(loss)(x)
    compiled = fg.jit(fg.grad(loss))(x)
    np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), rtol=1e-6)


# ---------------------------------------------------------------- semantics pinned to JAX

def test_values_pinned_to_jax():
    """Values computed with JAX 0.10 (lax.reduce_window) for the same arguments."""
    x = np.arange(1.0, 8.0)
    np.testing.assert_array_equal(
        np.asarray(lax.reduce_window(x, 1.0, lax.add, (3,), (2,), ((1, 2),))),
        [4.0, 10.0, 16.0, 14.0])
    np.testing.assert_array_equal(
        np.asarray(lax.reduce_window(x, 1.0, lax.add, (3,), (1,), ((0, 0),),
                                     base_dilation=(2,))),
        [4.0, 3.0, 6.0, 4.0, 8.0, 5.0, 10.0, 6.0, 12.0, 7.0, 14.0])
    y = np.arange(10.0)
    np.testing.assert_array_equal(
        np.asarray(lax.reduce_window(y, 0.0, lax.add, (3,), (2,), "SAME",
                                     window_dilation=(2,))), [4.0, 9.0, 15.0, 21.0, 16.0])
    # SAME pads for the undilated operand, then applies them to the dilated one.
    assert lax.reduce_window(y, 0.0, lax.add, (3,), (2,), "SAME", base_dilation=(2,),
                             window_dilation=(2,)).shape == (9,)


@settings(max_examples=H.scaled(25))
@given(shape=shapes_1_to_4d(), data=st.data())
def test_same_padding_gives_ceil_outputs(shape, data):
    nd = len(shape)
    window = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    strides = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    out = lax.reduce_window_max(np.zeros(shape, F32), window, strides, "SAME")
    assert out.shape == tuple(-(-d // s) for d, s in zip(shape, strides))


def test_integer_pooling_uses_the_dtype_extremes():
    x = np.array([[-7, 3], [5, -2]], np.int32)
    got = lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 1), ((1, 1), (1, 1)))
    np.testing.assert_array_equal(np.asarray(got), [[-7, 3, 3], [5, 5, 3], [5, 5, -2]])
    got = lax.reduce_window(x, np.inf, lax.min, (2, 2), (1, 1), ((0, 1), (0, 1)))
    np.testing.assert_array_equal(np.asarray(got), [[-7, -2], [-2, -2]])
    assert got.dtype == I32


def test_identity_init_is_one_equation():
    closed = fg.make_jaxpr(lambda x: lax.reduce_window(x, -fnp.inf, lax.max, (2,), (2,),
                                                       "VALID"))(np.ones(4, F32))
    assert [e.prim.name for e in closed.jaxpr.eqns] == ["reduce_window_max"]


def test_impls_return_fresh_buffers():
    x = np.arange(6.0).reshape(2, 3)
    out = W.reduce_window_sum_p.impl(x, window_dimensions=(1, 1), window_strides=(1, 1),
                                     padding=((0, 0), (0, 0)), base_dilation=(1, 1),
                                     window_dilation=(1, 1))
    assert out is not x and not np.shares_memory(out, x)
    np.testing.assert_array_equal(out, x)


# ---------------------------------------------------------------- errors

X = np.ones((2, 3), F32)
RW = lax.reduce_window
ERRORS = [
    (lambda: RW(X, 0.0, lax.add, (2,), (1,), "VALID"), errors.ShapeError,
     r"reduce_window_sum: window_dimensions=\(2,\) must have one entry per axis of operand "
     r"f32\[2,3\] \(rank 2\)"),
    (lambda: RW(X, 0.0, lax.add, (2, 0), (1, 1), "VALID"), errors.ShapeError,
     r"reduce_window_sum: window_dimensions=\(2, 0\) must hold positive ints"),
    (lambda: RW(X, 0.0, lax.max, (2, 2), (1, -1), "SAME"), errors.ShapeError,
     r"reduce_window_max: window_strides=\(1, -1\) must hold positive ints"),
    (lambda: RW(X, 0.0, lax.max, (2, 2), (1, 1), "VALID", window_dilation=(0, 1)),
     errors.ShapeError, r"window_dilation=\(0, 1\) must hold positive ints"),
    (lambda: RW(X, 0.0, lax.add, (2, 2), (1, 1), "FULL"), errors.ShapeError,
     r"(?s)reduce_window: padding='FULL' is not a known padding type.*Fix: pass 'VALID', 'SAME'"),
    (lambda: RW(X, 0.0, lax.add, (2, 2), (1, 1), ((0, 0),)), errors.ShapeError,
     r"padding=\(\(0, 0\),\) must have one entry per axis"),
    (lambda: RW(X, 0.0, lax.add, (2, 2), (1, 1), ((0, -1), (0, 0))), errors.ShapeError,
     r"padding=\(\(0, -1\), \(0, 0\)\) must be one \(low, high\) pair of non-negative ints"),
    (lambda: RW(X, 0.0, lax.add, (2, 2), (1, 1), ((0, 1, 2), (0, 0))), errors.ShapeError,
     r"is neither 'VALID', 'SAME' nor \(low, high\) pairs"),
    (lambda: RW(X, np.float64(0.0), lax.add, (2, 2), (1, 1), "VALID"), errors.DTypeError,
     r"reduce_window: init_value f64\[\] and operand f32\[2,3\] have different dtypes"),
    (lambda: RW(X, np.zeros(2, F32), lax.add, (2, 2), (1, 1), "VALID"), errors.ShapeError,
     r"reduce_window: init_value must be a scalar, got f32\[2\]"),
    (lambda: RW(X.astype(I32), 0.5, lax.max, (2, 2), (1, 1), "VALID"), errors.DTypeError,
     r"init_value 0.5 cannot be represented in the operand's dtype \(i32\[2,3\]\)"),
    (lambda: RW(X, 1.0, lax.mul, (2, 2), (1, 1), "VALID"), errors.InvalidArgumentError,
     r"reduce_window: computation .* is not supported; funcgrad reduces windows with "
     r"lax.add, lax.max or lax.min"),
    (lambda: RW(X, 0.0, lambda a, b: a + b, (2, 2), (1, 1), "VALID"),
     errors.InvalidArgumentError, r"is not supported"),
    (lambda: RW(X.astype(np.complex64), 0.0, lax.max, (2, 2), (1, 1), "VALID"),
     errors.DTypeError, r"reduce_window_max: operand has dtype complex64"),
    (lambda: W.select_and_gather_add_p.bind(
        X.astype(F64), X, select="max", **W._window_params("t", X, (2, 2), (1, 1), "VALID",
                                                           None, None)),
     errors.DTypeError, r"select_and_gather_add: tangent and operand must have equal dtypes"),
    (lambda: W.select_and_scatter_add_p.bind(
        X, X, select="max", **W._window_params("t", X, (2, 2), (1, 1), "VALID", None, None)),
     errors.ShapeError, r"select_and_scatter_add: cotangent f32\[2,3\] must have the window "
     r"output shape \(1, 2\)"),
]


@pytest.mark.parametrize("fn,exc,pattern", ERRORS, ids=[p[2][:40] for p in ERRORS])
def test_error_messages(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_errors_are_raised_while_staging():
    with pytest.raises(errors.ShapeError, match=r"reduce_window_max: window_dimensions"):
        fg.make_jaxpr(lambda x: lax.reduce_window(x, -fnp.inf, lax.max, (2,), (1,),
                                                  "VALID"))(X)
