"""nn.initializers: the statistics each promises, fan computation, determinism and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import errors
from funcgrad.nn import initializers as I

KEY = fg.random.PRNGKey(0)
SHAPE = (300, 400)  # fan_in 300, fan_out 400; 120,000 draws


def _var_tol(var, n=SHAPE[0] * SHAPE[1]):
    # The sample variance of n draws has relative standard error about sqrt(2 / n) (0.4%);
    # five standard errors.
    return 5 * var * math.sqrt(2.0 / n) + 1e-12


# initialiser, expected variance, bound on |w| (None: unbounded normal tail)
VARIANCE_CASES = [
    ("kaiming_normal", I.kaiming_normal(), 2 / 300, 2 * math.sqrt(2 / 300) / 0.8796256610),
    ("kaiming_uniform", I.kaiming_uniform(), 2 / 300, math.sqrt(3 * 2 / 300)),
    ("xavier_normal", I.xavier_normal(), 2 / 700, 2 * math.sqrt(2 / 700) / 0.8796256610),
    ("xavier_uniform", I.xavier_uniform(), 2 / 700, math.sqrt(3 * 2 / 700)),
    ("lecun_normal", I.lecun_normal(), 1 / 300, 2 * math.sqrt(1 / 300) / 0.8796256610),
    ("lecun_uniform", I.lecun_uniform(), 1 / 300, math.sqrt(3 / 300)),
    ("fan_out_normal", I.variance_scaling(1.0, "fan_out", "normal"), 1 / 400, None),
    ("normal", I.normal(0.05), 0.05 ** 2, None),
    ("uniform", I.uniform(0.3), 0.3 ** 2 / 12, None),
    ("truncated_normal", I.truncated_normal(0.1), 0.01 * 0.8796256610 ** 2, 0.2),
]


@pytest.mark.parametrize("name,init,var,bound", VARIANCE_CASES,
                         ids=[c[0] for c in VARIANCE_CASES])
def test_variance_and_bounds(name, init, var, bound):
    w = np.asarray(init(KEY, SHAPE))
    assert w.shape == SHAPE and w.dtype == np.float32
    centre = 0.15 if name == "uniform" else 0.0
    assert abs(w.mean() - centre) < 5 * math.sqrt(var / w.size)
    assert abs(w.var() - var) < _var_tol(var), (w.var(), var)
    if bound is not None:
        assert np.abs(w - centre).max() <= bound * (1 + 1e-6)
        assert np.abs(w - centre).max() > 0.9 * bound  # the whole range is used
    np.testing.assert_array_equal(w, init(KEY, SHAPE))  # deterministic per key
    assert not np.array_equal(w, init(fg.random.PRNGKey(1), SHAPE))


def test_uniform_range():
    w = np.asarray(I.uniform(0.3)(KEY, SHAPE))
    assert w.min() >= 0.0 and w.max() < 0.3


def test_zeros_ones_constant_and_dtype():
    np.testing.assert_array_equal(I.zeros(KEY, (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(I.ones(KEY, (2,)), np.ones(2))
    c = I.constant(0.25)(KEY, (3,), "float64")
    assert c.dtype == np.float64
    np.testing.assert_array_equal(c, [0.25] * 3)
    assert I.kaiming_uniform()(KEY, (4, 5), "float64").dtype == np.float64


def test_compute_fans():
    assert I.compute_fans((3, 4)) == (3.0, 4.0)
    assert I.compute_fans((5,)) == (5.0, 5.0)
    assert I.compute_fans((3, 3, 8, 16)) == (72.0, 144.0)  # HWIO
    assert I.compute_fans((16, 8, 3, 3), in_axis=1, out_axis=0) == (72.0, 144.0)  # OIHW
    assert I.compute_fans((10, 3, 4), batch_axis=0) == (3.0, 4.0)


def test_conv_layout_variance():
    w = np.asarray(I.kaiming_normal(in_axis=1, out_axis=0)(KEY, (64, 32, 5, 5)))
    var = 2 / (32 * 25)
    assert abs(w.var() - var) < _var_tol(var, w.size)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 3, 2, 8)])
def test_orthogonal(shape):
    w = np.asarray(I.orthogonal(scale=2.0)(KEY, shape, "float64"))
    m = np.moveaxis(w, -1, -1).reshape(-1, shape[-1])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-10)


def test_errors():
    with pytest.raises(errors.DTypeError, match="floating parameters only"):
        I.normal()(KEY, (2,), "int32")
    with pytest.raises(errors.InvalidArgumentError, match="unknown mode 'fan_inn'"):
        I.variance_scaling(1.0, "fan_inn", "normal")
    with pytest.raises(errors.InvalidArgumentError, match="unknown distribution"):
        I.variance_scaling(1.0, "fan_in", "gaussian")
    with pytest.raises(errors.ShapeError, match="at least two dimensions"):
        I.orthogonal()(KEY, (4,))
