"""custom_jvp, custom_vjp and checkpoint: values, derivatives (with the custom rule actually
used), composition with vmap and staging, nondiff_argnums, and the errors for bad rules."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads


@fg.custom_jvp
def log1pexp(x):
    return fnp.log1p(fnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * fg.lax.logistic(x)


def test_custom_jvp_rule_is_used_where_the_primal_overflows():
    # The primal's own derivative is exp(x)/(1+exp(x)) = inf/inf = nan at x = 1000.
    assert float(fg.grad(log1pexp)(1000.0)) == 1.0
    np.testing.assert_allclose(fg.grad(fg.grad(log1pexp))(0.0), 0.25)
    np.testing.assert_allclose(fg.jvp(log1pexp, (1000.0,), (2.0,))[1], 2.0)


def test_custom_jvp_derivatives_and_vmap():
    x = np.array([-2.0, 0.1, 3.0])
    check_grads(lambda a: log1pexp(a), (x,), order=2)
    np.testing.assert_allclose(fg.vmap(fg.grad(log1pexp))(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(fg.grad(lambda a: fg.vmap(log1pexp)(a).sum())(x),
                               1 / (1 + np.exp(-x)))
    _, t = fg.jvp(fg.vmap(log1pexp), (x,), (np.ones(3),))
    np.testing.assert_allclose(t, 1 / (1 + np.exp(-x)))
    # In a jaxpr the call stays one equation holding the primal.
    text = str(fg.make_jaxpr(log1pexp)(1.0))
    assert "custom_jvp_call" in text and "log1p" in text


def test_custom_jvp_nondiff_argnums_and_pytrees():
    @functools.partial(fg.custom_jvp, nondiff_argnums=(0,))
    def apply(fn, p):
        return fn(p["a"]) * p["b"]

    @apply.defjvp
    def apply_jvp(fn, primals, tangents):
        (p,), (tp,) = primals, tangents
        fa = fn(p["a"])
        return fa * p["b"], 3.0 * tp["a"] * p["b"] + fa * tp["b"]   # "3" marks our rule

    g = fg.grad(lambda p: apply(fnp.sin, p))({"a": 0.5, "b": 2.0})
    assert float(g["a"]) == pytest.approx(6.0) and float(g["b"]) == pytest.approx(np.sin(0.5))


def test_custom_jvp_defjvps():
    @fg.custom_jvp
    def f(x, y):
        return x * y

    f.defjvps(lambda t, ans, x, y: 10.0 * t * y, lambda t, ans, x, y: t * x)
    gx, gy = fg.grad(f, argnums=(0, 1))(2.0, 3.0)
    assert float(gx) == 30.0 and float(gy) == 2.0


def test_custom_jvp_rule_with_wrong_shape_is_named():
    @fg.custom_jvp
    def f(x):
        return x * 2

    @f.defjvp
    def f_jvp(primals, tangents):
        return primals[0] * 2, tangents[0].sum()

    with pytest.raises(TypeError, match=r"(?s)custom_jvp\(f\).defjvp rule.*tangent_out.*"
                                        r"f32\[\].*f32\[3\]"):
        fg.jvp(f, (fnp.ones(3),), (fnp.ones(3),))


def test_custom_jvp_errors_without_rule_and_for_closures():
    @fg.custom_jvp
    def f(x):
        return x

    with pytest.raises(AttributeError, match="no JVP rule"):
        f(1.0)

    def outer(c):
        @fg.custom_jvp
        def g(x):
            return x * c

        g.defjvp(lambda p, t: (g(*p), t[0] * c))
        return g(2.0)
    with pytest.raises(TypeError, match="closes over a value that is being differentiated"):
        fg.grad(outer)(3.0)


@fg.custom_vjp
def clip_gradient(x, lo, hi):
    return x


def _clip_fwd(x, lo, hi):
    return x, (lo, hi)


def _clip_bwd(res, g):
    lo, hi = res
    return fnp.clip(g, lo, hi), None, None


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


def test_custom_vjp_rule_is_used():
    g = fg.grad(lambda x: 5.0 * clip_gradient(x, -1.0, 1.0))(2.0)
    assert float(g) == 1.0
    x = np.array([1.0, 0.1])
    np.testing.assert_allclose(fg.vmap(fg.grad(lambda a: 5.0 * clip_gradient(a, -1.0, 1.0)))(x),
                               [1.0, 1.0])
    np.testing.assert_allclose(
        fg.grad(lambda a: fg.vmap(lambda b: 5.0 * clip_gradient(b, -1.0, 1.0))(a).sum())(x),
        [1.0, 1.0])
    np.testing.assert_allclose(fg.jacrev(lambda a: 5.0 * clip_gradient(a, -1.0, 1.0))(x),
                               np.eye(2))


def test_custom_vjp_second_order_differentiates_bwd():
    @fg.custom_vjp
    def cube(x):
        return x ** 3

    cube.defvjp(lambda x: (x ** 3, x), lambda x, g: (3.0 * x ** 2 * g,))
    assert float(fg.grad(fg.grad(cube))(2.0)) == pytest.approx(12.0)
    check_grads(cube, (np.array([0.5, -1.5]),), order=2, modes=("rev",))


def test_custom_vjp_nondiff_argnums():
    @functools.partial(fg.custom_vjp, nondiff_argnums=(0,))
    def scale(k, x):
        return k * x
    scale.defvjp(lambda k, x: (k * x, None), lambda k, res, g: (100.0 * k * g,))
    assert float(fg.grad(lambda x: scale(2.0, x), argnums=0)(1.0)) == 200.0


def test_custom_vjp_forward_mode_is_a_clear_error():
    with pytest.raises(TypeError, match="(?s)forward-mode differentiation.*custom_vjp.*"
                                        "custom_jvp"):
        fg.jvp(lambda x: clip_gradient(x, -1.0, 1.0), (1.0,), (1.0,))


def test_custom_vjp_bad_bwd_is_named():
    @fg.custom_vjp
    def f(x):
        return x * 2

    f.defvjp(lambda x: (x * 2, None), lambda res, g: (g.sum(),))
    with pytest.raises(TypeError, match=r"custom_vjp\(f\) bwd rule: cotangent leaf 0 has "
                                        r"shape f32\[\] but its argument is f32\[3\]"):
        fg.grad(lambda x: f(x).sum())(fnp.ones(3))

    f.defvjp(lambda x: (x * 2, None), lambda res, g: g)
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        fg.grad(lambda x: f(x).sum())(fnp.ones(3))

    f.defvjp(lambda x: (x.sum(), None), lambda res, g: (g,))
    with pytest.raises(TypeError, match=r"fwd rule: out: output 0 has shape f32\[\]"):
        fg.grad(lambda x: f(x).sum())(fnp.ones(3))


def _count(closed, name):
    n = 0
    for e in closed.eqns:
        n += e.prim.name == name
        for v in e.params.values():
            if isinstance(v, fg.Jaxpr):
                n += sum(q.prim.name == name for q in v.eqns)
    return n


def test_checkpoint_recomputes_the_forward_pass():
    def block(x):
        return fnp.sin(fnp.sin(x))
    x = np.array([0.3, 1.2])
    plain = fg.grad(lambda a: block(a).sum())(x)
    remat = fg.grad(lambda a: fg.checkpoint(block)(a).sum())(x)
    np.testing.assert_allclose(remat, plain, rtol=1e-12)
    plain_jaxpr = fg.make_jaxpr(fg.grad(lambda a: block(a).sum()))(x)
    remat_jaxpr = fg.make_jaxpr(fg.grad(lambda a: fg.checkpoint(block)(a).sum()))(x)
    # The inner sin is computed in the forward pass and again in the backward pass.
    assert _count(remat_jaxpr, "sin") > _count(plain_jaxpr, "sin")
    check_grads(lambda a: fg.checkpoint(block)(a), (x,), order=2)


def test_checkpoint_composes_with_vmap_and_pytrees():
    f = fg.checkpoint(lambda p: {"y": fnp.tanh(p["w"] * p["x"])})
    p = {"w": np.array([0.5, -1.0]), "x": np.array([2.0, 0.3])}
    g = fg.grad(lambda q: f(q)["y"].sum())(p)
    np.testing.assert_allclose(g["w"], p["x"] / np.cosh(p["w"] * p["x"]) ** 2)
    vg = fg.vmap(fg.grad(lambda w, x: f({"w": w, "x": x})["y"]))(p["w"], p["x"])
    np.testing.assert_allclose(vg, g["w"])
    with pytest.raises(NotImplementedError, match="policies"):
        fg.checkpoint(lambda x: x, policy=object())
