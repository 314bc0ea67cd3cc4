"""The autodiff APIs: jvp, linearize, vjp, grad, value_and_grad, jacfwd, jacrev, hessian;
nesting; Python control flow under grad; errors (non-scalar loss, integer inputs, traced
values in Python control flow, leaked tracers, debug_nans)."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors


def test_jvp_and_linearize_agree():
    x = np.array([0.3, -1.2, 2.0])
    t = np.array([1.0, 0.5, -2.0])
    y, ty = fg.jvp(lambda a: fnp.sin(a) * a, (x,), (t,))
    np.testing.assert_allclose(y, np.sin(x) * x)
    np.testing.assert_allclose(ty, (np.cos(x) * x + np.sin(x)) * t)
    y2, f_jvp = fg.linearize(lambda a: fnp.sin(a) * a, x)
    np.testing.assert_allclose(y2, y)
    np.testing.assert_allclose(f_jvp(t), ty)
    np.testing.assert_allclose(f_jvp(2 * t), 2 * np.asarray(ty))   # linear


def test_vjp_has_aux_and_pytrees():
    def f(p):
        return {"y": p["a"] * p["b"], "z": fnp.exp(p["a"])}, "aux"
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    out, f_vjp, aux = fg.vjp(f, p, has_aux=True)
    assert aux == "aux"
    (g,) = f_vjp({"y": np.ones(2), "z": np.zeros(2)})
    np.testing.assert_allclose(g["a"], [3.0, 4.0])
    np.testing.assert_allclose(g["b"], [1.0, 2.0])


def test_grad_argnums_and_has_aux():
    def f(x, y, z):
        return (x * y * z).sum(), {"norm": (x ** 2).sum()}
    x, y, z = (np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0]))
    gx, aux = fg.grad(f, has_aux=True)(x, y, z)
    np.testing.assert_allclose(gx, y * z)
    np.testing.assert_allclose(aux["norm"], 5.0)
    (gx, gz), _ = fg.grad(f, argnums=(0, -1), has_aux=True)(x, y, z)
    np.testing.assert_allclose(gz, x * y)
    (v, aux), g = fg.value_and_grad(f, argnums=1, has_aux=True)(x, y, z)
    np.testing.assert_allclose(v, (x * y * z).sum())
    np.testing.assert_allclose(g, x * z)


def test_dynamic_graph_example_from_the_issue():
    def f(v1):
        v2 = fnp.exp(v1)
        v3 = v2 + 1
        v4 = v2 * v3
        return v4 * v3 if v4 > 0.5 else 2 * v4
    e = np.exp(0.3)
    np.testing.assert_allclose(fg.grad(f)(0.3), e * (e + 1) ** 2 + 2 * e * e * (e + 1),
                               rtol=1e-5)
    with pytest.raises(errors.ConcretizationError) as info:
        fg.make_jaxpr(fg.grad(f))(0.3)
    msg = str(info.value)
    assert "v1" in msg and "cond" in msg and "where" in msg and "static_argnums" in msg
    assert isinstance(info.value, TypeError)


def test_grad_of_grad_of_grad_and_grad_in_a_python_loop():
    f = lambda x: x ** 4  # noqa: E731
    assert float(fg.grad(fg.grad(fg.grad(f)))(2.0)) == pytest.approx(48.0)
    x = np.float64(1.0)
    for _ in range(5):       # gradient descent on (x - 3)^2 in a Python loop
        x = x - 0.25 * fg.grad(lambda a: (a - 3.0) ** 2)(x)
    assert float(x) == pytest.approx(3.0 - 2.0 * 0.5 ** 5)


def test_jacobians_of_pytrees():
    def f(p):
        return {"s": fnp.sin(p["x"]) * p["y"], "t": (p["x"] ** 2).sum()}
    p = {"x": np.array([0.1, 0.2, 0.3]), "y": np.float64(2.0)}
    jf, jr = fg.jacfwd(f)(p), fg.jacrev(f)(p)
    for out in ("s", "t"):
        for inp in ("x", "y"):
            np.testing.assert_allclose(jf[out][inp], jr[out][inp], rtol=1e-12)
    np.testing.assert_allclose(jf["s"]["x"], np.diag(np.cos(p["x"]) * 2.0))
    assert np.shape(jf["s"]["x"]) == (3, 3) and np.shape(jf["s"]["y"]) == (3,)
    assert np.shape(jf["t"]["x"]) == (3,) and np.shape(jf["t"]["y"]) == ()


def test_jacobian_shapes_and_argnums():
    def f(a, b):
        return a[:, None] * b[None, :]             # (2, 3)
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    for jac in (fg.jacfwd, fg.jacrev):
        ja, jb = jac(f, argnums=(0, 1))(a, b)
        assert np.shape(ja) == (2, 3, 2) and np.shape(jb) == (2, 3, 3)
        np.testing.assert_allclose(np.asarray(ja)[1, 2, 1], b[2])
        np.testing.assert_allclose(np.asarray(jb)[1, 2, 2], a[1])


def test_hessian_against_closed_form():
    a = np.array([[2.0, 0.5], [0.5, 1.0]])

    def f(x):
        return 0.5 * x @ (a @ x) + fnp.sin(x[0]) * x[1]
    x = np.array([0.4, -0.7])
    h = np.asarray(fg.hessian(f)(x))
    want = a + np.array([[-np.sin(x[0]) * x[1], np.cos(x[0])], [np.cos(x[0]), 0.0]])
    np.testing.assert_allclose(h, want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fg.jacfwd(fg.jacrev(f))(x)), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fg.jacrev(fg.jacrev(f))(x)), want, rtol=1e-12)


def test_jacfwd_has_aux():
    jac, aux = fg.jacfwd(lambda x: (x * 2.0, x.sum()), has_aux=True)(np.ones(2))
    np.testing.assert_allclose(jac, 2 * np.eye(2))
    assert float(aux) == 2.0


def test_stop_gradient_and_non_differentiable_outputs():
    g = fg.grad(lambda x: (fg.stop_gradient(x) * x).sum())(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [1.0, 2.0])
    _, t = fg.jvp(lambda x: (fnp.floor(x), x > 0, fnp.argmax(x)), (np.array([0.5, 1.5]),),
                  (np.ones(2),))
    np.testing.assert_array_equal(t[0], [0.0, 0.0])
    assert t[1].dtype == fg.dtypes.float0 and t[2].dtype == fg.dtypes.float0


def test_grad_requires_scalar_output():
    with pytest.raises(TypeError, match=r"(?s)grad requires a real scalar output, got f32\[10\].*"
                                        r"vjp or jacrev"):
        fg.grad(lambda x: x * 2)(fnp.ones(10))


def test_grad_rejects_integer_inputs_naming_the_argument():
    with pytest.raises(TypeError, match=r"argument `count` has dtype int32"):
        fg.grad(lambda w, count: (w * count).sum(), argnums=1)(np.ones(2, np.float32),
                                                                np.array([1, 2], np.int32))
    with pytest.raises(TypeError, match=r"`flag` has dtype bool"):
        fg.grad(lambda flag: flag.sum())(np.array([True]))
    with pytest.raises(TypeError, match="jacfwd requires floating-point"):
        fg.jacfwd(lambda n: n * 2)(np.arange(3))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums 3 out of range for 2"):
        fg.grad(lambda a, b: a * b, argnums=3)(1.0, 2.0)


def test_jvp_argument_errors():
    with pytest.raises(TypeError, match="tuples or lists"):
        fg.jvp(fnp.sin, 1.0, 1.0)
    with pytest.raises(TypeError, match=r"primal 0 is f32\[3\] but its tangent is f32\[2\]"):
        fg.jvp(fnp.sin, (fnp.ones(3),), (fnp.ones(2),))


def test_vjp_cotangent_errors():
    _, f_vjp = fg.vjp(fnp.sin, np.ones(3))
    with pytest.raises(TypeError, match=r"cotangent 0 is f64\[2\]"):
        f_vjp(np.ones(2))


def test_leaked_tracer_names_the_transform():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2
    fg.grad(f)(1.0)
    with pytest.raises(errors.TracerLeakError,
                       match=r"(?s)created by grad\(f\) at test_autodiff.py"):
        fnp.sin(leaked[0])


def test_debug_nans_names_the_primitive_under_grad():
    with fg.config.override(debug_nans=True):
        with pytest.raises(FloatingPointError, match=r"log: produced NaN"):
            fg.grad(lambda x: fnp.log(x) * 2.0)(-1.0)
        # A NaN that appears only in the backward pass: 0 * inf.
        with pytest.raises(FloatingPointError, match="NaN"):
            fg.grad(lambda x: fnp.sqrt(x) * 0.0)(0.0)
    assert np.isnan(float(fg.grad(lambda x: fnp.sqrt(x) * 0.0)(0.0)))


def test_grad_under_make_jaxpr_is_staged():
    closed = fg.make_jaxpr(fg.grad(lambda x: fnp.sin(x) * x))(1.0)
    assert all(e.prim.name != "custom_lin" for e in closed.eqns)
    np.testing.assert_allclose(closed(1.0)[0], np.cos(1.0) + np.sin(1.0), rtol=1e-6)


def test_ties_follow_jax_conventions():
    # abs at 0 has derivative 1 (the x >= 0 branch); maximum at a tie splits the gradient.
    assert float(fg.grad(fnp.abs)(0.0)) == 1.0
    ga, gb = fg.grad(fnp.maximum, argnums=(0, 1))(1.0, 1.0)
    assert float(ga) == float(gb) == 0.5
    # clip is maximum then minimum, so at a bound the tie splits the gradient; where picks the
    # selected branch.
    np.testing.assert_allclose(fg.grad(lambda x: fnp.clip(x, -1.0, 1.0).sum())(
        np.array([-1.0, 0.0, 1.0, 2.0])), [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(fg.grad(lambda x: fnp.where(x > 0, x, 2 * x).sum())(
        np.array([-1.0, 1.0])), [2.0, 1.0])
