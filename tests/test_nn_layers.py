"""nn layers: forward against independent NumPy references, gradients through each layer
(parameters and input, order 2, both modes), vmap, jit, state and rng handling, and errors."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import errors, nn
from funcgrad.testing import check_grads
from funcgrad.tree_util import tree_leaves, tree_map

KEY = fg.random.PRNGKey(0)


def _to64(tree):
    return tree_map(lambda a: np.asarray(a, np.float64), tree)


# ------------------------------------------------------------------ NumPy references


def np_conv2d(x, w, b, stride, padding, dilation, groups):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), x.dtype)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                for ic in range(cg):
                    for a in range(kh):
                        for bb in range(kw):
                            out[:, oc, i, j] += (xp[:, g * cg + ic, i * sh + a * dh,
                                                    j * sw + bb * dw] * w[oc, ic, a, bb])
    if b is not None:
        out += b[None, :, None, None]
    return out


def np_pool(x, k, s, p, op, count_include_pad=True):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    *lead, h, w = x.shape
    fill = -np.inf if op == "max" else 0.0
    xp = np.full(tuple(lead) + (h + 2 * ph, w + 2 * pw), fill)
    xp[..., ph:ph + h, pw:pw + w] = x
    ones = np.zeros((h + 2 * ph, w + 2 * pw))
    ones[ph:ph + h, pw:pw + w] = 1
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros(tuple(lead) + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[..., i * sh:i * sh + kh, j * sw:j * sw + kw]
            if op == "max":
                out[..., i, j] = win.max(axis=(-2, -1))
            else:
                cnt = kh * kw if count_include_pad else \
                    ones[i * sh:i * sh + kh, j * sw:j * sw + kw].sum()
                out[..., i, j] = win.sum(axis=(-2, -1)) / cnt
    return out


# layer, input shape, reference(params, x), input adjustment for derivatives
LAYER_CASES = [
    ("linear", nn.Linear(5, 3), (4, 5), lambda p, x: x @ p["w"] + p["b"]),
    ("linear_nobias_3d", nn.Linear(5, 3, bias=False), (2, 4, 5), lambda p, x: x @ p["w"]),
    ("conv", nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 6),
     lambda p, x: np_conv2d(x, p["w"], p["b"], (1, 1), (1, 1), (1, 1), 1)),
    ("conv_strided_dilated", nn.Conv2d(2, 4, (2, 3), stride=(2, 1), dilation=(1, 2)),
     (1, 2, 7, 8), lambda p, x: np_conv2d(x, p["w"], p["b"], (2, 1), (0, 0), (1, 2), 1)),
    ("conv_groups", nn.Conv2d(4, 6, 3, groups=2, padding="same", bias=False), (2, 4, 5, 5),
     lambda p, x: np_conv2d(x, p["w"], None, (1, 1), (1, 1), (1, 1), 2)),
    ("conv_unbatched", nn.Conv2d(1, 2, 2), (1, 4, 4),
     lambda p, x: np_conv2d(x[None], p["w"], p["b"], (1, 1), (0, 0), (1, 1), 1)[0]),
    ("maxpool", nn.MaxPool2d(2), (2, 3, 6, 5),
     lambda p, x: np_pool(x, (2, 2), (2, 2), (0, 0), "max")),
    ("maxpool_overlap_pad", nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 7, 6),
     lambda p, x: np_pool(x, (3, 3), (2, 2), (1, 1), "max")),
    ("avgpool", nn.AvgPool2d((2, 3)), (2, 2, 4, 6),
     lambda p, x: np_pool(x, (2, 3), (2, 3), (0, 0), "avg")),
    ("avgpool_pad_exclude", nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
     (1, 1, 4, 5), lambda p, x: np_pool(x, (3, 3), (1, 1), (1, 1), "avg", False)),
    ("avgpool_pad_include", nn.AvgPool2d(3, stride=2, padding=1), (1, 1, 5, 5),
     lambda p, x: np_pool(x, (3, 3), (2, 2), (1, 1), "avg")),
    ("flatten", nn.Flatten(), (2, 3, 4, 5), lambda p, x: x.reshape(2, -1)),
    ("flatten_range", nn.Flatten(1, 2), (2, 3, 4, 5), lambda p, x: x.reshape(2, 12, 5)),
    ("layernorm", nn.LayerNorm(6), (3, 6),
     lambda p, x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
     * p["scale"] + p["bias"]),
    ("layernorm_2d", nn.LayerNorm((2, 3), elementwise_affine=False), (4, 2, 3),
     lambda p, x: (x - x.mean((-2, -1), keepdims=True))
     / np.sqrt(x.var((-2, -1), keepdims=True) + 1e-5)),
    ("gelu", nn.GELU(approximate=False), (3, 4), None),
    ("softmax", nn.Softmax(axis=0), (3, 4),
     lambda p, x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    ("logsoftmax", nn.LogSoftmax(), (3, 4),
     lambda p, x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    ("tanh", nn.Tanh(), (3,), lambda p, x: np.tanh(x)),
    ("sigmoid", nn.Sigmoid(), (3,), lambda p, x: 1 / (1 + np.exp(-x))),
    ("silu", nn.SiLU(), (3,), lambda p, x: x / (1 + np.exp(-x))),
    ("relu", nn.ReLU(), (3, 2), lambda p, x: np.maximum(x, 0)),
]
IDS = [c[0] for c in LAYER_CASES]


def _random_params(layer, seed):
    # Random (not default) values everywhere, so that e.g. LayerNorm's scale is exercised.
    rng = np.random.default_rng(seed)
    return tree_map(lambda a: rng.normal(size=np.shape(a)), layer.init(KEY))


def _input(shape, seed, distinct=False):
    rng = np.random.default_rng(seed + 100)
    if distinct:  # well-separated values: no ties or near-ties inside pooling windows
        n = int(np.prod(shape))
        return (rng.permutation(n).reshape(shape) * 0.1 - n * 0.05).astype(np.float64)
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 0.05, 0.3, x)  # away from ReLU's kink


@pytest.mark.parametrize("name,layer,shape,ref", LAYER_CASES, ids=IDS)
def test_forward_against_numpy(name, layer, shape, ref):
    params = _random_params(layer, 0)
    x = _input(shape, 0)
    y = layer.apply(params, x)
    if ref is None:
        return
    np.testing.assert_allclose(y, ref(params, x), rtol=1e-10, atol=1e-10)
    y32 = layer.apply(tree_map(lambda a: a.astype(np.float32), params), x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, ref(params, x), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name,layer,shape,ref", LAYER_CASES, ids=IDS)
def test_grads_through_layer(name, layer, shape, ref):
    params = _random_params(layer, 1)
    x = _input(shape, 1, distinct="pool" in name)
    check_grads(lambda p, v: layer.apply(p, v), [params, x], order=2)


@pytest.mark.parametrize("name,layer,shape,ref",
                         [c for c in LAYER_CASES if not c[0].startswith("flatten")
                          and not c[0].endswith("unbatched")],
                         ids=[i for i in IDS if not i.startswith("flatten")
                              and not i.endswith("unbatched")])
def test_vmap_and_jit(name, layer, shape, ref):
    params = _random_params(layer, 2)
    x = _input((3,) + shape, 2)
    batched = fg.vmap(layer.apply, in_axes=(None, 0))(params, x)
    loop = np.stack([np.asarray(layer.apply(params, xi)) for xi in x])
    np.testing.assert_allclose(batched, loop, rtol=1e-10, atol=1e-10)
    jitted = fg.jit(layer.apply)(params, x[0])
    np.testing.assert_allclose(jitted, layer.apply(params, x[0]), rtol=1e-10, atol=1e-10)


def test_embedding():
    layer = nn.Embedding(10, 4)
    params = layer.init(KEY)
    table = np.asarray(params["embedding"])
    assert table.shape == (10, 4) and abs(table.std() - 1.0) < 0.5
    ids = np.array([[1, 9], [0, 1]], np.int32)
    np.testing.assert_array_equal(layer.apply(params, ids), table[ids])
    g = fg.grad(lambda p: layer.apply(p, ids).sum())(params)["embedding"]
    want = np.zeros((10, 4))
    np.add.at(want, ids.ravel(), 1.0)
    np.testing.assert_array_equal(g, want)
    with pytest.raises(errors.DTypeError, match="integer ids"):
        layer.apply(params, np.zeros(2))


def test_linear_default_init_matches_fan_in_rule():
    params = nn.Linear(400, 300).init(KEY)
    bound = 1 / np.sqrt(400)
    w = np.asarray(params["w"])
    assert w.shape == (400, 300) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.var() - bound ** 2 / 3) < 0.05 * bound ** 2 / 3
    conv = nn.Conv2d(4, 8, 3, groups=2).init(KEY)
    assert conv["w"].shape == (8, 2, 3, 3)
    assert np.abs(np.asarray(conv["w"])).max() <= 1 / np.sqrt(2 * 9)


# ------------------------------------------------------------------ dropout


def test_dropout():
    layer = nn.Dropout(0.25)
    x = np.ones((200, 100), np.float32)
    np.testing.assert_array_equal(layer.apply({}, x), x)  # inference: identity
    k1, k2 = fg.random.split(KEY)
    a = np.asarray(layer.apply({}, x, train=True, rng=k1))
    np.testing.assert_array_equal(a, layer.apply({}, x, train=True, rng=k1))  # per key
    assert not np.array_equal(a, layer.apply({}, x, train=True, rng=k2))
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.01
    assert abs(a.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    g = fg.grad(lambda v: layer.apply({}, v, train=True, rng=k1).sum())(x)
    np.testing.assert_array_equal(g, a)  # the gradient is the mask times the scale
    with pytest.raises(errors.InvalidArgumentError, match="pass rng=key"):
        layer.apply({}, x, train=True)
    with pytest.raises(errors.InvalidArgumentError, match=r"p=1.0 must be in \[0, 1\)"):
        nn.Dropout(1.0)


def test_sequential_splits_keys_and_rngs():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Linear(3, 3), nn.Dropout(0.5))
    params = model.init(KEY)
    assert sorted(params) == ["linear_0", "linear_2"]
    assert not np.array_equal(params["linear_0"]["w"], params["linear_2"]["w"])
    x = np.ones((64, 3), np.float32)
    y1 = model.apply(params, x, train=True, rng=KEY)
    np.testing.assert_array_equal(y1, model.apply(params, x, train=True, rng=KEY))
    # The two dropout layers draw different masks from the one rng.
    h = nn.Dropout(0.5)
    m1 = np.asarray(h.apply({}, x, train=True, rng=fg.random.fold_in(KEY, 1))) == 0
    m3 = np.asarray(h.apply({}, x, train=True, rng=fg.random.fold_in(KEY, 3))) == 0
    assert not np.array_equal(m1, m3)


# ------------------------------------------------------------------ batch norm


def test_batchnorm_train_and_eval():
    layer = nn.BatchNorm2d(3, momentum=0.2)
    params = _random_params(layer, 3)
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(4, 3, 5, 6))
    state = layer.init_state()
    y, new_state = layer.apply(params, x, state=state, train=True)
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3))
    bshape = (1, 3, 1, 1)
    want = ((x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-5)
            * params["scale"].reshape(bshape) + params["bias"].reshape(bshape))
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-10)
    n = 4 * 5 * 6
    np.testing.assert_allclose(new_state["mean"], 0.2 * mean, rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], 0.8 + 0.2 * var * n / (n - 1), rtol=1e-6)
    # Eval mode normalises with the running statistics and leaves them unchanged.
    y_eval, same = layer.apply(params, x, state=new_state)
    rm, rv = (np.asarray(new_state[k], np.float64).reshape(bshape) for k in ("mean", "var"))
    want_eval = ((x - rm) / np.sqrt(rv + 1e-5) * params["scale"].reshape(bshape)
                 + params["bias"].reshape(bshape))
    np.testing.assert_allclose(y_eval, want_eval, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(same["mean"], new_state["mean"])
    # Gradients flow through the batch statistics in training mode.
    check_grads(lambda p, v: layer.apply(p, v, state=_to64(state), train=True)[0],
                [params, x], order=2)
    with pytest.raises(errors.InvalidArgumentError, match="needs its state"):
        layer.apply(params, x)
    with pytest.raises(errors.ShapeError, match=r"expects 3 channels"):
        layer.apply(params, np.zeros((2, 4, 3, 3)), state=state)


def test_batchnorm1d_in_sequential_under_jit():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    params, state = model.init(KEY), model.init_state()
    assert sorted(state) == ["batchnorm1d_1"]
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)

    def loss(p, s):
        y, s = model.apply(p, x, state=s, train=True)
        return (y ** 2).mean(), s

    (l_eager, s_eager) = loss(params, state)
    (l_jit, s_jit) = fg.jit(loss)(params, state)
    np.testing.assert_allclose(l_jit, l_eager, rtol=1e-6)
    for a, b in zip(tree_leaves(s_jit), tree_leaves(s_eager)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    g = fg.grad(lambda p: loss(p, state)[0])(params)
    assert sorted(g) == sorted(params)


# ------------------------------------------------------------------ modules and errors


def test_modules_are_static_and_hashable():
    a, b = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(1, 8, 3, padding=1)
    assert a == b and hash(a) == hash(b) and a != nn.Conv2d(1, 8, 3)
    assert tree_leaves([a, 1.0]) == [1.0]
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    params = model.init(KEY)
    f = fg.jit(lambda m, p, x: m.apply(p, x))
    np.testing.assert_allclose(f(model, params, np.ones((1, 2), np.float32)),
                               model.apply(params, np.ones((1, 2), np.float32)))
    assert "Linear(in_features=2, out_features=2" in repr(model)


def test_layer_errors():
    with pytest.raises(errors.ShapeError, match=r"(?s)nn.Linear.*expects 5 input features"):
        nn.Linear(5, 3).apply(nn.Linear(5, 3).init(KEY), np.zeros((2, 4)))
    with pytest.raises(errors.ShapeError, match=r"expects 2 input channels"):
        c = nn.Conv2d(2, 3, 3)
        c.apply(c.init(KEY), np.zeros((1, 3, 5, 5)))
    with pytest.raises(errors.InvalidArgumentError, match="divisible by groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(errors.InvalidArgumentError, match="not a Module"):
        nn.Sequential(nn.Linear(2, 2), nn.ReLU)
    with pytest.raises(errors.InvalidArgumentError, match=r"no 'w' entry"):
        nn.Linear(2, 2).apply({}, np.zeros((1, 2)))
    with pytest.raises(errors.InvalidArgumentError, match="unknown padding 'full'"):
        nn.Conv2d(1, 1, 3, padding="full")
