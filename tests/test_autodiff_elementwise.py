"""Derivatives of the elementwise family (autodiff is in progress: issue 3).

Every differentiable elementwise funcgrad.numpy function is checked against float64 finite
differences at order 2, forward and reverse, on hypothesis-drawn values in its domain.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import funcgrad.numpy as fnp
from funcgrad.primitives import elementwise as ew
from funcgrad.testing import GradCheckError, arrays, check_grads
from funcgrad.transforms import autodiff as ad
from funcgrad.transforms import jvp

UNARY = [  # (function, domain)
    ("sin", "real"), ("cos", "real"), ("tan", "small"), ("arcsin", "unit"), ("arccos", "unit"),
    ("arctan", "real"), ("sinh", "small"), ("cosh", "small"), ("tanh", "real"),
    ("arcsinh", "real"), ("arccosh", "ge1"), ("arctanh", "unit"), ("exp", "small"),
    ("exp2", "small"), ("expm1", "small"), ("log", "positive"), ("log1p", "positive"),
    ("sqrt", "positive"), ("cbrt", "positive"), ("abs", "nonzero"), ("negative", "real"),
    ("square", "real"), ("reciprocal", "nonzero"), ("log2", "positive"), ("log10", "positive"),
]
BINARY = [
    ("add", "real"), ("subtract", "real"), ("multiply", "real"), ("divide", "nonzero"),
    ("power", "positive"), ("arctan2", "nonzero"), ("hypot", "nonzero"),
    ("logaddexp", "real"), ("maximum", "real"), ("minimum", "real"),
]


@pytest.mark.parametrize("name, domain", UNARY)
@settings(max_examples=5)
@given(data=st.data())
def test_unary_grads(name, domain, data):
    x = data.draw(arrays("float64", shape=st.sampled_from([(), (3,), (2, 3)]), domain=domain))
    check_grads(getattr(fnp, name), (x,), order=2)


@pytest.mark.parametrize("name, domain", BINARY)
@settings(max_examples=5)
@given(data=st.data())
def test_binary_grads(name, domain, data):
    shape = data.draw(st.sampled_from([(), (3,), (2, 3)]))
    x = data.draw(arrays("float64", shape=shape, domain=domain))
    y = data.draw(arrays("float64", shape=shape, domain=domain))
    # Away from ties: max/min (and logaddexp/hypot, built on them) are not twice
    # differentiable where x == y, so finite differences mean nothing there.
    assume(np.all(np.abs(x - y) > 0.05))
    check_grads(getattr(fnp, name), (x, y), order=2)


def test_python_control_flow_under_grad():
    def f(v1):
        v2 = fnp.exp(v1)
        v3 = v2 + 1
        v4 = v2 * v3
        return v4 * v3 if v4 > 0.5 else 2 * v4
    for x in (0.3, -3.0):
        e = np.exp(x)
        want = e * (e + 1) ** 2 + 2 * e * e * (e + 1) if e * (e + 1) > 0.5 else 2 * (e + 2 * e * e)
        np.testing.assert_allclose(float(ad.grad(f)(x)), want, rtol=1e-5)


def test_max_splits_ties_evenly():
    g = ad.grad(lambda x, y: fnp.maximum(x, y), argnums=(0, 1))(1.0, 1.0)
    assert [float(v) for v in g] == [0.5, 0.5]


def test_check_grads_catches_slightly_wrong_rules(monkeypatch):
    x = np.array([0.3, 1.2, -0.7])
    # A 1% error in d sin: caught at order 1, fwd and rev.
    monkeypatch.setitem(jvp.rules, ew.sin_p, jvp.rules[ew.sin_p])
    jvp.defjvp(ew.sin_p, lambda t, ans, x: ew.mul_p.bind(t, fnp.multiply(ew.cos_p.bind(x), 1.01)))
    for mode in ("fwd", "rev"):
        with pytest.raises(GradCheckError, match="derivative order 1"):
            check_grads(fnp.sin, (x,), order=1, modes=(mode,))
    monkeypatch.undo()
    # A 1% error in d cos only shows in the second derivative of sin: caught at order 2.
    monkeypatch.setitem(jvp.rules, ew.cos_p, jvp.rules[ew.cos_p])
    jvp.defjvp(ew.cos_p, lambda t, ans, x: ew.mul_p.bind(
        t, fnp.multiply(ew.neg_p.bind(ew.sin_p.bind(x)), 1.01)))
    check_grads(fnp.sin, (x,), order=1)
    for mode in ("fwd", "rev"):
        with pytest.raises(GradCheckError, match="derivative order 2"):
            check_grads(fnp.sin, (x,), order=2, modes=(mode,))


def test_grad_errors():
    with pytest.raises(TypeError, match="real scalar output, got f32\\[3\\]"):
        ad.grad(fnp.sin)(fnp.ones(3))
    with pytest.raises(TypeError, match="argument `n` has dtype int32"):
        ad.grad(lambda x, n: x * n, argnums=1)(1.0, np.int32(2))
