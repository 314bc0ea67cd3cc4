"""conv_general_dilated (funcgrad.lax) against a direct loop reference.

Configurations are drawn by hypothesis: 1-D, 2-D and 3-D, strides, paddings (names, explicit
and negative), lhs and rhs dilation, feature and batch groups, and layouts (default, NHWC/HWIO
strings, arbitrary axis permutations). For each: forward values vs the reference, staged and
jit vs eager (harness.check_spec), derivatives to order 2 in both modes against finite
differences, the transpose identity for both operands, and vmap against a loop for every
batching case.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
from funcgrad import errors, lax
from tests import harness as H
from tests.harness import F32, F64, Spec

# ---------------------------------------------------------------- the reference


def _dilate(d, r):
    return 0 if d == 0 else (d - 1) * r + 1


def ref_conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
             dimension_numbers=None, feature_group_count=1, batch_group_count=1):
    """The definition, one output position and one kernel tap at a time: output (n, o, y) sums
    lhs[n', g*I + i, x] * rhs[o, i, k] over i and the taps k whose position y*s + k*rd - low
    in the dilated input is a real input element x (a multiple of the lhs dilation)."""
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    x = np.transpose(lhs, dn.lhs_spec).astype(np.float64)
    w = np.transpose(rhs, dn.rhs_spec).astype(np.float64)
    n, c, *sp = x.shape
    o, i, *ksp = w.shape
    nsp = len(sp)
    ld = lhs_dilation or (1,) * nsp
    rd = rhs_dilation or (1,) * nsp
    if isinstance(padding, str):
        padding = _ref_pads(sp, [_dilate(k, r) for k, r in zip(ksp, rd)], window_strides,
                            padding)
    out_sp = []
    for d, k, s, (lo, hi), a, b in zip(sp, ksp, window_strides, padding, ld, rd):
        room = _dilate(d, a) + lo + hi - _dilate(k, b)
        out_sp.append(room // s + 1 if room >= 0 else 0)
    g, bg = feature_group_count, batch_group_count
    nb = n // bg
    out = np.zeros((nb, o) + tuple(out_sp))
    for y in itertools.product(*map(range, out_sp)):
        for k in itertools.product(*map(range, ksp)):
            src = []
            for d in range(nsp):
                p = y[d] * window_strides[d] + k[d] * rd[d] - padding[d][0]
                if p < 0 or p % ld[d] or p // ld[d] >= sp[d]:
                    break
                src.append(p // ld[d])
            else:
                for oo in range(o):
                    grp_f, grp_b = oo // (o // g), oo // (o // bg)
                    xs = x[(slice(grp_b * nb, (grp_b + 1) * nb),
                            slice(grp_f * i, (grp_f + 1) * i)) + tuple(src)]
                    out[(slice(None), oo) + y] += xs @ w[(oo, slice(None)) + k]
    return np.transpose(out, np.argsort(dn.out_spec))


def _ref_pads(sp, ext_k, strides, padding):
    if padding == "VALID":
        return [(0, 0)] * len(sp)
    pads = []
    for d, k, s in zip(sp, ext_k, strides):
        out = -(-d // s)
        total = max((out - 1) * s + k - d, 0)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if padding == "SAME" else (big, small))
    return pads


# ---------------------------------------------------------------- drawn configurations

def _layout(draw, ndim):
    """dimension_numbers: None, layout strings, or axis permutations."""
    kind = draw(st.sampled_from(["default", "strings", "perm"]))
    if kind == "default":
        return None
    if kind == "strings":
        sp = "HWD"[:ndim - 2]
        return ("N" + sp + "C", sp + "IO", "N" + sp + "C")
    return lax.ConvDimensionNumbers(*(tuple(draw(st.permutations(range(ndim))))
                                      for _ in range(3)))


@st.composite
def conv_config(draw, groups, dtypes=(F32, F64), max_side=5):
    """(lhs, rhs) and the keyword arguments of one convolution with ``groups`` "none",
    "feature" or "batch"."""
    nsp = draw(st.sampled_from([1, 1, 2, 2, 2, 3]))
    side = {1: max_side + 2, 2: max_side, 3: 3}[nsp]
    ksp = [draw(st.integers(1, 3)) for _ in range(nsp)]
    sp = [draw(st.integers(0 if d else 1, side)) for d in range(nsp)]
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    rhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    g = draw(st.integers(2, 3)) if groups == "feature" else 1
    b = draw(st.integers(2, 3)) if groups == "batch" else 1
    i = draw(st.integers(1, 3))
    o = max(g, b) * draw(st.integers(1, 2))
    n = b * draw(st.integers(1, 2))
    pad_kind = draw(st.sampled_from(["VALID", "SAME", "SAME_LOWER", "explicit", "explicit"]))
    lhs_dil = None
    if pad_kind == "explicit":
        lhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
        padding = []
        for d, a in zip(sp, lhs_dil):
            lo = draw(st.integers(-2, 3))
            hi = draw(st.integers(-2, 3))
            if _dilate(d, a) + lo + hi < 0:  # at most crop everything
                lo, hi = max(lo, 0), max(hi, 0)
            padding.append((lo, hi))
        padding = tuple(padding)
    else:
        padding = pad_kind
    dn = _layout(draw, nsp + 2)
    canon_lhs, canon_rhs = (n, i * g) + tuple(sp), (o, i) + tuple(ksp)
    spec = lax.conv_dimension_numbers(canon_lhs, canon_rhs, dn)
    lhs_shape, rhs_shape = [0] * (nsp + 2), [0] * (nsp + 2)
    for a, d in zip(spec.lhs_spec, canon_lhs):
        lhs_shape[a] = d
    for a, d in zip(spec.rhs_spec, canon_rhs):
        rhs_shape[a] = d
    dtype = draw(st.sampled_from(dtypes))
    lhs = draw(H.arrays(tuple(lhs_shape), dtype))
    rhs = draw(H.arrays(tuple(rhs_shape), dtype))
    kwargs = dict(window_strides=strides, padding=padding, lhs_dilation=lhs_dil,
                  rhs_dilation=rhs_dil, dimension_numbers=dn, feature_group_count=g,
                  batch_group_count=b)
    return [lhs, rhs], kwargs


def fg_conv(lhs, rhs, **kw):
    return lax.conv_general_dilated(lhs, rhs, **kw)


# Sums of up to ~80 products of values in [-3, 3]: float32 rounding reaches a few 1e-5.
SPECS = {F32: Spec("conv_general_dilated", fg_conv, ref_conv, nargs=2, rtol=1e-5, atol=1e-4),
         F64: Spec("conv_general_dilated", fg_conv, ref_conv, nargs=2)}


# ---------------------------------------------------------------- forward


GROUPS = ["none", "feature", "batch"]


@pytest.mark.parametrize("groups", GROUPS)
@settings(max_examples=H.scaled(30))
@given(data=st.data())
def test_forward_against_reference(groups, data):
    config = data.draw(conv_config(groups))
    args, kwargs = config
    H.check_spec(SPECS[args[0].dtype], args, kwargs)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_target_shapes_against_reference(dtype):
    # The MNIST-style convnet layers: 1 -> 8 and 8 -> 16 channels, 3x3, padding 1.
    rng = np.random.default_rng(0)
    for n, c, o, side in [(3, 1, 8, 7), (2, 8, 16, 6)]:
        x = rng.standard_normal((n, c, side, side)).astype(dtype)
        w = rng.standard_normal((o, c, 3, 3)).astype(dtype)
        got = lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)))
        H.assert_close(got, ref_conv(x, w, (1, 1), ((1, 1), (1, 1))),
                       *H.spec_tolerance(SPECS[np.dtype(dtype)], dtype))


def test_kernel_larger_than_output():
    # Windows larger than the output take the one-row-per-output-position layout.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 9, 8))
    w = rng.standard_normal((6, 2, 7, 6))
    for kw in [dict(feature_group_count=2), dict(batch_group_count=3)]:
        xx = x if "feature_group_count" in kw else x[:, :2]
        args = ((1, 2), ((1, 0), (0, 2)))
        got = lax.conv_general_dilated(xx, w, *args, rhs_dilation=(1, 1), **kw)
        H.assert_close(got, ref_conv(xx, w, *args, **kw), 1e-12, 1e-12)


def test_integer_and_bool_operands():
    rng = np.random.default_rng(2)
    x = rng.integers(-5, 6, (2, 3, 6)).astype(np.int32)
    w = rng.integers(-5, 6, (4, 3, 2)).astype(np.int32)
    got = lax.conv_general_dilated(x, w, (1,), "VALID")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, ref_conv(x, w, (1,), "VALID").astype(np.int32))
    wide = lax.conv_general_dilated(x.astype(np.int8), w.astype(np.int8), (1,), "VALID",
                                    preferred_element_type=np.int32)
    assert wide.dtype == np.int32
    np.testing.assert_array_equal(wide, got)
    xb, wb = x > 0, w > 0
    got_b = lax.conv_general_dilated(xb, wb, (1,), "SAME")
    assert got_b.dtype == np.bool_
    np.testing.assert_array_equal(got_b, ref_conv(xb, wb, (1,), "SAME") > 0)


def test_empty_window_sums_to_zero():
    # No input features: every output is an empty sum.
    out = lax.conv_general_dilated(np.ones((2, 0, 5)), np.ones((3, 0, 2)), (1,), "VALID")
    np.testing.assert_array_equal(out, np.zeros((2, 3, 4)))


def test_preferred_element_type_widens_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    out = lax.conv_general_dilated(x, w, (1,), "SAME", preferred_element_type=np.float64)
    assert out.dtype == np.float64
    H.assert_close(out, ref_conv(x, w, (1,), "SAME"), 1e-12, 1e-12)
    g = fg.grad(lambda w: lax.conv_general_dilated(
        x, w, (1,), "SAME", preferred_element_type=np.float64).sum())(w)
    assert g.dtype == np.float32


def test_same_padding_output_sizes():
    x = np.ones((1, 1, 7, 8))
    for strides in [(1, 1), (2, 3), (3, 2)]:
        for k in [1, 2, 3, 4]:
            w = np.ones((1, 1, k, k))
            for mode in ["SAME", "SAME_LOWER"]:
                out = lax.conv_general_dilated(x, w, strides, mode)
                assert out.shape[2:] == (-(-7 // strides[0]), -(-8 // strides[1]))


def test_layout_strings_choose_spatial_order_from_rhs():
    # "HWIO" vs "WHIO": spatial dimension i is the i-th spatial letter of the rhs layout.
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 6, 3))
    w = rng.standard_normal((2, 3, 3, 4))
    a = lax.conv_general_dilated(x, w, (1, 2), "VALID", dimension_numbers=("NHWC", "HWIO",
                                                                           "NHWC"))
    b = lax.conv_general_dilated(x, np.transpose(w, (1, 0, 2, 3)), (2, 1), "VALID",
                                 dimension_numbers=("NHWC", "WHIO", "NHWC"))
    H.assert_close(a, b, 1e-12, 1e-12)
    assert a.shape == (2, 4, 2, 4)


def test_conv_wrapper_and_conv_transpose():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    H.assert_close(lax.conv(x, w, (2, 1), "SAME"), ref_conv(x, w, (2, 1), "SAME"), 1e-12,
                   1e-12)
    # Known answers (1-D, channels last, stride 2), as JAX documents conv_transpose.
    x1 = np.arange(10.0).reshape(1, 5, 2)
    w1 = np.arange(12.0).reshape(3, 2, 2)
    body = [[10, 11], [6, 7], [48, 54], [26, 31], [88, 102], [46, 55], [128, 150], [66, 79],
            [168, 198], [86, 103]]
    np.testing.assert_array_equal(lax.conv_transpose(x1, w1, (2,), "SAME"), [body])
    np.testing.assert_array_equal(lax.conv_transpose(x1, w1, (2,), "VALID"),
                                  [body + [[18, 35]]])
    np.testing.assert_array_equal(lax.conv_transpose(x1, w1, (2,), [(1, 2)]),
                                  [body[1:] + [[18, 35]]])


@pytest.mark.parametrize("s,k,side,padding", [(2, 3, 8, "SAME"), (2, 4, 8, "SAME"),
                                              (3, 3, 9, "SAME"), (2, 3, 9, "VALID"),
                                              (2, 4, 10, "VALID"), (1, 3, 5, "VALID")])
def test_conv_transpose_with_transposed_kernel_is_the_input_gradient(s, k, side, padding):
    rng = np.random.default_rng(6)
    dn = ("NHWC", "HWIO", "NHWC")
    x = rng.standard_normal((2, side, side, 3))
    w = rng.standard_normal((k, k, 3, 4))
    y, f_vjp = fg.vjp(lambda x: lax.conv_general_dilated(x, w, (s, s), padding,
                                                         dimension_numbers=dn), x)
    ct = rng.standard_normal(y.shape)
    want = f_vjp(ct)[0]
    got = lax.conv_transpose(ct, w, (s, s), padding, dimension_numbers=dn,
                             transpose_kernel=True)
    H.assert_close(got, want, 1e-12, 1e-12)


# ---------------------------------------------------------------- derivatives


@pytest.mark.parametrize("groups", GROUPS)
@settings(max_examples=H.scaled(15))
@given(data=st.data())
def test_derivatives_order_2(groups, data):
    config = data.draw(conv_config(groups, dtypes=(F64,), max_side=4))
    args, kwargs = config
    H.check_spec_grads(SPECS[F64], args, kwargs, order=2, modes=("fwd", "rev"))


def _inner(a, b):
    return float(np.vdot(np.asarray(a, np.float64), np.asarray(b, np.float64)))


@pytest.mark.parametrize("groups", GROUPS)
@settings(max_examples=H.scaled(20))
@given(data=st.data())
def test_transpose_identity_for_both_operands(groups, data):
    config = data.draw(conv_config(groups))
    # <ct, L t> == <L^T ct, t> for L = conv(., rhs) and for L = conv(lhs, .).
    (lhs, rhs), kwargs = config
    rng = np.random.default_rng(0)
    # Relative to the sum of |every product| in <ct, L t>, which bounds the rounding error.
    tol = 1e-4 if lhs.dtype == F32 else 1e-12
    for which in (0, 1):
        def lin(t, which=which, a=lhs, b=rhs):
            return fg_conv(t, b, **kwargs) if which == 0 else fg_conv(a, t, **kwargs)
        primal = (lhs, rhs)[which]
        t = rng.standard_normal(primal.shape).astype(primal.dtype)
        out, f_vjp = fg.vjp(lin, primal)
        ct = rng.standard_normal(out.shape).astype(out.dtype)
        (lt_ct,) = f_vjp(ct)
        assert lt_ct.shape == primal.shape and lt_ct.dtype == primal.dtype
        lhs_side, rhs_side = _inner(ct, lin(t)), _inner(lt_ct, t)
        scale = _inner(np.abs(ct), lin(np.abs(t), a=np.abs(lhs), b=np.abs(rhs)))
        assert abs(lhs_side - rhs_side) <= tol * max(scale, 1.0), (which, lhs_side, rhs_side)


def test_jit_of_gradients_matches_eager():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 1, 9, 9)).astype(np.float32)
    w1 = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)

    def loss(w1, w2, x):
        h = lax.conv_general_dilated(x, w1, (1, 1), ((1, 1), (1, 1)))
        h = fg.numpy.tanh(h)
        h = lax.conv_general_dilated(h, w2, (2, 2), "SAME", feature_group_count=2)
        return (h * h).sum()

    eager = fg.grad(loss, argnums=(0, 1))(w1, w2, x)
    jitted = fg.jit(fg.grad(loss, argnums=(0, 1)))(w1, w2, x)
    for a, b in zip(eager, jitted):
        H.assert_close(a, b, 1e-5, 1e-4)


def test_hessian_vector_product_through_grouped_convolutions():
    # Second order through every transpose combination: feature groups <-> batch groups.
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 6, 5))
    for kw in [dict(feature_group_count=3), dict(batch_group_count=2)]:
        w = rng.standard_normal((6, 2 if "feature_group_count" in kw else 6, 3))

        def f(x, w, kw=kw):
            return fg.numpy.sin(lax.conv_general_dilated(x, w, (2,), [(1, 2)], (1,), (2,),
                                                         **kw)).sum()
        fg.testing.check_grads(f, (x, w), order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------- vmap


@pytest.mark.parametrize("case", ["lhs", "rhs", "both"])
@pytest.mark.parametrize("groups", GROUPS)
@settings(max_examples=H.scaled(8))
@given(data=st.data())
def test_vmap_against_loop(groups, case, data):
    # case: which operands are batched; each at any position, batch sizes 0, 1 and 3.
    (lhs, rhs), kwargs = data.draw(conv_config(groups))
    axes = [data.draw(st.integers(-(a.ndim + 1), a.ndim)) for a in (lhs, rhs)]
    if case == "lhs":
        axes[1] = None
    elif case == "rhs":
        axes[0] = None
    size = data.draw(st.sampled_from([0, 1, 3]))
    rtol, atol = H.spec_tolerance(SPECS[lhs.dtype], lhs.dtype)
    H.check_vmap(lambda a, b: fg_conv(a, b, **kwargs), [lhs, rhs], axes, size,
                 seed=data.draw(st.integers(0, 2**16)), rtol=rtol, atol=atol,
                 name=f"conv vmap {case}")


def test_vmap_of_gradient():
    rng = np.random.default_rng(9)
    xs = rng.standard_normal((3, 2, 4, 6))
    w = rng.standard_normal((4, 2, 3))

    def g(x):
        return fg.grad(lambda w: (lax.conv_general_dilated(
            x, w, (1,), "SAME", feature_group_count=2) ** 2).sum())(w)
    got = fg.vmap(g)(xs)
    want = np.stack([np.asarray(g(x)) for x in xs])
    H.assert_close(got, want, 1e-12, 1e-12)


# ---------------------------------------------------------------- errors

def _raises(exc, match, *args, **kwargs):
    with pytest.raises(exc, match=match):
        lax.conv_general_dilated(*args, **kwargs)


def test_errors():
    x = np.ones((2, 4, 6, 6), np.float32)
    w = np.ones((6, 2, 3, 3), np.float32)
    _raises(errors.ShapeError, r"rhs shape \(2, 3, 3\) must have equal ranks", x, w[0], (1, 1),
            "VALID")
    _raises(errors.ShapeError, r"4 features.*2 input features.*feature_group_count=1", x, w,
            (1, 1), "VALID")
    _raises(errors.ShapeError, r"6 output features, not a multiple of feature_group_count=4",
            np.ones((2, 8, 6, 6), np.float32), w, (1, 1), "VALID", feature_group_count=4)
    _raises(errors.ShapeError, r"batch size 2, not a multiple of batch_group_count=3",
            np.ones((2, 2, 6, 6), np.float32), w, (1, 1), "VALID", batch_group_count=3)
    _raises(errors.ShapeError, r"at most one of feature_group_count",
            x, w, (1, 1), "VALID", feature_group_count=2, batch_group_count=2)
    _raises(errors.DTypeError, r"equal dtypes.*f32\[2,4,6,6\], f64", x, w.astype(np.float64),
            (1, 1), "VALID", feature_group_count=2)
    _raises(errors.ShapeError, r"window_strides=\(1,\) must have one entry per spatial", x, w,
            (1,), "VALID", feature_group_count=2)
    _raises(errors.ShapeError, r"window_strides=\(0, 1\) must be positive", x, w, (0, 1),
            "VALID", feature_group_count=2)
    _raises(errors.ShapeError, r"crops more than", x, w, (1, 1), ((-4, -3), (0, 0)),
            feature_group_count=2)
    _raises(errors.ShapeError, r"not defined with lhs_dilation", x, w, (1, 1), "SAME",
            lhs_dilation=(2, 2), feature_group_count=2)
    _raises(errors.InvalidArgumentError, r"unknown padding 'FULL'", x, w, (1, 1), "FULL",
            feature_group_count=2)
    _raises(errors.ShapeError, r"layout 'NCHX'.*spatial axes", x, w, (1, 1), "VALID",
            dimension_numbers=("NCHX", "OIHW", "NCHW"), feature_group_count=2)
    _raises(errors.ShapeError, r"rhs layout 'OIHH'", x, w, (1, 1), "VALID",
            dimension_numbers=("NCHW", "OIHH", "NCHW"), feature_group_count=2)
    _raises(errors.DTypeError, r"narrower", x, w, (1, 1), "VALID", feature_group_count=2,
            preferred_element_type=np.int32)
    with pytest.raises(errors.ShapeError, match="Fix: "):
        fg.jit(lambda a, b: lax.conv_general_dilated(a, b, (1, 1), "VALID"))(x, w)


# ---------------------------------------------------------------- Numba kernels vs NumPy path

@st.composite
def kernel_config(draw):
    """A 2-D convolution in canonical layout that the Numba kernels serve (stride 1, no lhs
    dilation or groups), as a forward-like call or a kernel-gradient-like one (window larger
    than the output), with padding from cropping to wider than the window."""
    dtype = draw(st.sampled_from([F32, F64]))
    n, c, o = (draw(st.integers(1, 5)) for _ in range(3))
    sp = [draw(st.integers(1, 9)) for _ in range(2)]
    if draw(st.booleans()):  # kernel gradient: window spans most of the input
        ksp = [draw(st.integers(max(d - 2, 1), d + 2)) for d in sp]
        rd = (1, 1)
    else:
        ksp = [draw(st.integers(1, 4)) for _ in range(2)]
        rd = tuple(draw(st.integers(1, 2)) for _ in range(2))
    padding = []
    for d, k, r in zip(sp, ksp, rd):
        lo = draw(st.integers(-1, 3))
        need = max(_dilate(k, r) - d - lo, -1)  # at least an empty output
        hi = draw(st.integers(need, max(need, 3)))
        padding.append((lo, hi))
    lhs = draw(H.arrays((n, c) + tuple(sp), dtype))
    rhs = draw(H.arrays((o, c) + tuple(ksp), dtype))
    return lhs, rhs, dict(window_strides=(1, 1), padding=tuple(padding), rhs_dilation=rd)


@settings(max_examples=H.scaled(40))
@given(config=kernel_config())
def test_numba_kernels_match_numpy_path(config):
    from funcgrad.primitives import convolution as conv_mod
    lhs, rhs, kw = config
    fast = np.asarray(lax.conv_general_dilated(lhs, rhs, **kw))
    conv_mod.USE_NUMBA_KERNELS = False
    try:
        slow = np.asarray(lax.conv_general_dilated(lhs, rhs, **kw))
    finally:
        conv_mod.USE_NUMBA_KERNELS = True
    tol = (1e-5, 1e-4) if lhs.dtype == F32 else (1e-12, 1e-12)
    H.assert_close(fast, slow, *tol)
    H.assert_close(fast, ref_conv(lhs, rhs, **kw), *tol)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_numba_kernels_serve_the_convnet_calls(dtype, monkeypatch):
    # The five convolutions of a conv layer's training step (forward, input gradient, kernel
    # gradient) take the Numba path, in any input layout, and agree with the NumPy path.
    from funcgrad.primitives import _conv_kernels
    from funcgrad.primitives import convolution as conv_mod
    calls = []
    real = _conv_kernels.kernels

    def spy():
        direct, kernel_grad = real()
        return (lambda *a: calls.append("direct") or direct(*a),
                lambda *a: calls.append("kernel_grad") or kernel_grad(*a))

    monkeypatch.setattr(_conv_kernels, "kernels", spy)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 9, 9)).astype(dtype)
    w = rng.standard_normal((6, 4, 3, 3)).astype(dtype)

    def loss(x, w):
        y = lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "OIHW",
                                                                               "NHWC"))
        return (y * y).sum()

    xt = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    fast = fg.grad(loss, argnums=(0, 1))(xt, w)
    assert sorted(set(calls)) == ["direct", "kernel_grad"]
    monkeypatch.setattr(conv_mod, "USE_NUMBA_KERNELS", False)
    slow = fg.grad(loss, argnums=(0, 1))(xt, w)
    tol = (1e-5, 1e-4) if dtype == F32 else (1e-12, 1e-12)
    for a, b in zip(fast, slow):
        H.assert_close(a, b, *tol)
