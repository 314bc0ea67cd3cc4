"""nn activation functions and losses against NumPy references, with order-2 derivative checks
in both modes, and their behaviour at extreme inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, nn
from funcgrad.testing import check_grads
from tests import harness as H

F64 = np.float64


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _np_lse(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m


# name, funcgrad function, NumPy reference, value domain ("kink" = keep away from 0)
ELEMENTWISE = [
    ("relu", nn.relu, lambda x: np.maximum(x, 0), "kink"),
    ("relu6", nn.relu6, lambda x: np.clip(x, 0, 6), "kink"),
    ("sigmoid", nn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), "real"),
    ("log_sigmoid", nn.log_sigmoid, lambda x: -np.log1p(np.exp(-x)), "real"),
    ("softplus", nn.softplus, lambda x: np.log1p(np.exp(x)), "real"),
    ("silu", nn.silu, lambda x: x / (1 + np.exp(-x)), "real"),
    ("tanh", nn.tanh, np.tanh, "real"),
    ("gelu", nn.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi)
                                                         * (x + 0.044715 * x ** 3))), "real"),
    ("gelu_exact", lambda x: nn.gelu(x, approximate=False),
     lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), "real"),
    ("elu", nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), "kink"),
    ("leaky_relu", nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x), "kink"),
]


def _draw_values(draw, shape, domain):
    x = draw(H.arrays(shape, np.dtype(F64), "real"))
    if domain == "kink":  # away from the kink at 0, where finite differences straddle it
        x = np.where(np.abs(x) < 0.1, 0.1 + np.abs(x), x)
    return x


@pytest.mark.parametrize("name,fn,ref,domain", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
@settings(max_examples=H.scaled(10))
@given(data=st.data())
def test_elementwise_forward_and_grads(name, fn, ref, domain, data):
    shape = data.draw(H.shapes(max_dims=2, max_side=4))
    x = _draw_values(data.draw, shape, domain)
    H.assert_close(fn(x), ref(x), 1e-12, 1e-12, err_msg=name)
    x32 = x.astype(np.float32)
    out32 = fn(x32)
    assert out32.dtype == np.float32
    H.assert_close(out32, ref(x), 2e-6, 2e-6, err_msg=name)
    check_grads(fn, [x], order=2)


def test_relu_derivative_at_zero_is_zero():
    assert float(fg.grad(nn.relu)(0.0)) == 0.0
    assert float(fg.grad(nn.relu)(2.0)) == 1.0


@pytest.mark.parametrize("fn,ref", [
    (nn.softmax, lambda x, a: np.exp(x - _np_lse(x, a))),
    (nn.log_softmax, lambda x, a: x - _np_lse(x, a)),
    (lambda x, axis: nn.logsumexp(x, axis=axis),
     lambda x, a: np.squeeze(_np_lse(x, a), axis=a)),
    (lambda x, axis: nn.standardize(x, axis=axis),
     lambda x, a: (x - x.mean(a, keepdims=True)) / np.sqrt(x.var(a, keepdims=True) + 1e-5)),
], ids=["softmax", "log_softmax", "logsumexp", "standardize"])
@settings(max_examples=H.scaled(10))
@given(data=st.data())
def test_normalisers_forward_and_grads(fn, ref, data):
    shape = data.draw(H.shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(H.arrays(shape, np.dtype(F64), "real"))
    H.assert_close(fn(x, axis=axis), ref(x, axis), 1e-10, 1e-10)
    check_grads(lambda v: fn(v, axis=axis), [x], order=2)


def test_logsumexp_weights_and_sign():
    a = np.array([0.0, 1.0, 2.0])
    b = np.array([1.0, -2.0, 0.5])
    out, sign = nn.logsumexp(a, b=b, return_sign=True)
    s = np.sum(b * np.exp(a))
    np.testing.assert_allclose(float(out), np.log(abs(s)), rtol=1e-6)
    assert float(sign) == np.sign(s)
    check_grads(lambda v: nn.logsumexp(v, b=b), [a], order=2)


def test_stable_at_extreme_logits():
    x = fnp.array([0.0, 1e4, -1e4], dtype="float32")
    assert np.all(np.isfinite(np.asarray(nn.log_softmax(x))))
    np.testing.assert_allclose(nn.log_softmax(x), [-1e4, 0.0, -2e4], rtol=1e-6)
    np.testing.assert_allclose(nn.logsumexp(x), 1e4)
    g = fg.grad(lambda v: nn.log_softmax(v)[0])(x)
    np.testing.assert_allclose(g, [1.0, -1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(nn.softplus(fnp.array([-1e4, 1e4])), [0.0, 1e4])
    np.testing.assert_allclose(fg.grad(lambda v: nn.softplus(v).sum())(fnp.array([-1e4, 1e4])),
                               [0.0, 1.0])
    # All -inf: the log of an empty sum, and no NaN in the gradient.
    neg = fnp.array([-np.inf, -np.inf])
    assert float(nn.logsumexp(neg)) == -np.inf
    assert not np.any(np.isnan(np.asarray(nn.softmax(fnp.array([-np.inf, 0.0])))))


def test_one_hot():
    got = nn.one_hot(fnp.array([[0, 2], [1, 5]]), 3)
    want = np.eye(3, dtype=np.float32)[[[0, 2], [1, 0]]]
    want[1, 1] = 0  # out of range: an all-zero row
    np.testing.assert_array_equal(got, want)
    assert nn.one_hot(fnp.array([1, 0]), 2, axis=0).shape == (2, 2)
    np.testing.assert_array_equal(nn.one_hot(fnp.array([1, 0]), 2, axis=0), [[0, 1], [1, 0]])
    with pytest.raises(errors.DTypeError, match="integer class indices"):
        nn.one_hot(fnp.array([0.5]), 3)


def test_integer_input_is_a_clear_error():
    with pytest.raises(errors.DTypeError, match=r"(?s)nn.relu.*int32.*astype"):
        nn.relu(fnp.array([1, 2], dtype="int32"))


# ------------------------------------------------------------------------------ losses


def _logits_and_labels(draw, n_max=4, c_max=5):
    n = draw(st.integers(1, n_max))
    c = draw(st.integers(1, c_max))
    logits = draw(H.arrays((n, c), np.dtype(F64), "real"))
    labels = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)),
                        np.int32)
    return logits, labels


@settings(max_examples=H.scaled(15))
@given(data=st.data())
def test_cross_entropies(data):
    logits, labels = _logits_and_labels(data.draw)
    c = logits.shape[1]
    want = (_np_lse(logits, -1)[:, 0] - logits[np.arange(len(labels)), labels])
    got = nn.losses.softmax_cross_entropy_with_integer_labels(logits, labels)
    H.assert_close(got, want, 1e-10, 1e-10)
    onehot = np.eye(c)[labels]
    H.assert_close(nn.losses.softmax_cross_entropy(logits, onehot), want, 1e-10, 1e-10)
    check_grads(lambda z: nn.losses.softmax_cross_entropy_with_integer_labels(z, labels),
                [logits], order=2)
    soft = np.abs(data.draw(H.arrays(logits.shape, np.dtype(F64), "positive")))
    soft = soft / soft.sum(-1, keepdims=True)
    check_grads(nn.losses.softmax_cross_entropy, [logits, soft], order=2)


def test_cross_entropy_at_extreme_logits():
    logits = fnp.array([[0.0, 1e4], [1e4, -1e4]], dtype="float32")
    labels = fnp.array([0, 0])
    loss = nn.losses.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(loss, [1e4, 0.0])
    g = fg.grad(lambda z: nn.losses.softmax_cross_entropy_with_integer_labels(z, labels).sum())(
        logits)
    np.testing.assert_allclose(g, [[-1.0, 1.0], [0.0, 0.0]], atol=1e-6)
    bce = nn.losses.sigmoid_binary_cross_entropy(fnp.array([1e4, -1e4, 1e4]),
                                                 fnp.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(bce, [0.0, 0.0, 1e4])
    gb = fg.grad(lambda z: nn.losses.sigmoid_binary_cross_entropy(
        z, fnp.array([0.0, 1.0])).sum())(fnp.array([1e4, -1e4]))
    np.testing.assert_allclose(gb, [1.0, -1.0])


@settings(max_examples=H.scaled(15))
@given(data=st.data())
def test_regression_losses(data):
    shape = data.draw(H.shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    p = data.draw(H.arrays(shape, np.dtype(F64), "real"))
    t = data.draw(H.arrays(shape, np.dtype(F64), "real"))
    d = p - t
    H.assert_close(nn.losses.squared_error(p, t), d ** 2, 1e-12, 1e-12)
    H.assert_close(nn.losses.l2_loss(p, t), 0.5 * d ** 2, 1e-12, 1e-12)
    H.assert_close(nn.losses.l2_loss(p), 0.5 * p ** 2, 1e-12, 1e-12)
    delta = 0.7
    huber = np.where(np.abs(d) <= delta, 0.5 * d ** 2, delta * (np.abs(d) - 0.5 * delta))
    H.assert_close(nn.losses.huber_loss(p, t, delta=delta), huber, 1e-12, 1e-12)
    labels = (t > 0).astype(F64)
    bce = -labels * np.log(1 / (1 + np.exp(-p))) - (1 - labels) * np.log(1 / (1 + np.exp(p)))
    H.assert_close(nn.losses.sigmoid_binary_cross_entropy(p, labels), bce, 1e-10, 1e-10)
    check_grads(lambda a, b: nn.losses.squared_error(a, b), [p, t], order=2)
    check_grads(lambda a: nn.losses.sigmoid_binary_cross_entropy(a, labels), [p], order=2)
    away = np.where(np.abs(np.abs(d) - delta) < 0.05, d + 0.2, d)  # off the Huber seam
    check_grads(lambda a: nn.losses.huber_loss(a, fnp.zeros_like(a), delta=delta), [away],
                order=2)
    if np.all(np.linalg.norm(p, axis=-1) > 0.1) and np.all(np.linalg.norm(t, axis=-1) > 0.1):
        cos = np.sum(p * t, -1) / np.linalg.norm(p, axis=-1) / np.linalg.norm(t, axis=-1)
        H.assert_close(nn.losses.cosine_similarity(p, t), cos, 1e-10, 1e-10)
        H.assert_close(nn.losses.cosine_distance(p, t), 1 - cos, 1e-10, 1e-10)
        check_grads(nn.losses.cosine_similarity, [p, t], order=2)


def test_loss_errors():
    with pytest.raises(errors.DTypeError, match="labels must be integer"):
        nn.losses.softmax_cross_entropy_with_integer_labels(fnp.zeros((2, 3)), fnp.zeros(2))
    with pytest.raises(errors.ShapeError, match=r"labels of shape \(2,\), got \(3,\)"):
        nn.losses.softmax_cross_entropy_with_integer_labels(fnp.zeros((2, 3)),
                                                            fnp.zeros(3, dtype="int32"))
    with pytest.raises(errors.ShapeError, match=r"\(2, 3\) and targets \(3, 2\)"):
        nn.losses.squared_error(fnp.zeros((2, 3)), fnp.zeros((3, 2)))
