"""vmap: the API (in_axes/out_axes forms, axis_size, keyword arguments, nesting), its errors,
composition with jvp/vjp/grad/jacobians, and that it emits batched primitives (no loop)."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors

RNG = np.random.default_rng(0)


def _loop(f, in_axes, args, size):
    outs = []
    for k in range(size):
        ex = [a if ax is None else np.take(a, k, axis=ax) for a, ax in zip(args, in_axes)]
        outs.append(np.asarray(f(*ex)))
    return np.stack(outs)


@pytest.mark.parametrize("in_axes", [(0, 0), (1, None), (None, -1), (-2, 0)])
def test_in_axes_forms_match_a_loop(in_axes):
    def f(a, b):
        return fnp.sin(a) * b.sum() + a * 2.0
    a = RNG.standard_normal((4, 4))
    b = RNG.standard_normal((4, 4))
    got = fg.vmap(f, in_axes=in_axes)(a, b)
    np.testing.assert_allclose(got, _loop(f, in_axes, (a, b), 4), rtol=1e-12)


def test_pytree_prefix_in_axes_and_out_axes():
    def f(p, x):
        return {"y": p["w"] * x + p["b"], "shared": p["b"] * 2.0}
    p = {"w": RNG.standard_normal(3), "b": RNG.standard_normal(3)}
    xs = RNG.standard_normal((5, 3))
    out = fg.vmap(f, in_axes=({"w": None, "b": None}, 0),
                  out_axes={"y": 1, "shared": None})(p, xs)
    assert out["y"].shape == (3, 5) and out["shared"].shape == (3,)
    np.testing.assert_allclose(out["y"], (p["w"] * xs + p["b"]).T, rtol=1e-12)
    # A None at the top maps nothing in that argument; a list is accepted like a tuple.
    out2 = fg.vmap(f, in_axes=[None, 0])(p, xs)
    np.testing.assert_allclose(out2["shared"], np.broadcast_to(p["b"] * 2, (5, 3)))


def test_out_axes_negative_and_unbatched_outputs_are_broadcast():
    f = fg.vmap(lambda x: (x * 2.0, fnp.ones(2)), out_axes=(-1, 0))
    a, b = f(np.ones((3, 4)))
    assert a.shape == (4, 3) and b.shape == (3, 2)


def test_axis_size_when_nothing_is_mapped_and_kwargs_are_mapped():
    out = fg.vmap(lambda x: x + 1.0, in_axes=None, axis_size=3)(np.ones(2))
    assert out.shape == (3, 2)
    out = fg.vmap(lambda x, *, y: x * y, in_axes=None)(2.0, y=np.arange(3.0))
    np.testing.assert_allclose(out, [0.0, 2.0, 4.0])


def test_nested_vmap_is_an_outer_product():
    f = fg.vmap(fg.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))
    a, b = np.arange(3.0), np.arange(4.0)
    np.testing.assert_allclose(f(a, b), np.outer(a, b))


def test_size_zero_and_one_batches():
    for n in (0, 1):
        x = RNG.standard_normal((n, 3))
        out = fg.vmap(lambda r: fnp.exp(r) * 2.0)(x)
        assert out.shape == (n, 3)
        np.testing.assert_allclose(out, np.exp(x) * 2.0)


def test_mismatched_sizes_name_every_argument():
    with pytest.raises(ValueError) as info:
        fg.vmap(lambda params, batch: params["w"] * batch["x"])(
            {"w": np.ones(3)}, {"x": np.ones((4, 3))})
    msg = str(info.value)
    assert "params['w']" in msg and "f64[3]" in msg and "size 3" in msg
    assert "batch['x']" in msg and "f64[4,3]" in msg and "size 4" in msg


def test_in_axes_structure_errors():
    with pytest.raises(ValueError, match="in_axes has 1 entries but the function was called "
                                         "with 2"):
        fg.vmap(lambda a, b: a + b, in_axes=(0,))(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"(?s)in_axes must be an int, None, or a pytree "
                                         r"prefix.*PyTreeDef"):
        fg.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": np.ones(2)})


def test_axis_out_of_range_and_scalars():
    with pytest.raises(ValueError, match=r"(?s)in_axes 2 is out of range for argument `x` "
                                         r"of shape f64\[3,4\]"):
        fg.vmap(lambda x: x, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="use None for scalar arguments"):
        fg.vmap(lambda x: x)(1.0)
    with pytest.raises(ValueError, match="(?s)output 0 is batched but out_axes gives None"):
        fg.vmap(lambda x: x, out_axes=None)(np.ones(3))


def test_python_control_flow_on_batched_values_is_a_clear_error():
    def f(x):
        return x if x > 0 else -x
    with pytest.raises(errors.ConcretizationError, match="differs between the examples"):
        fg.vmap(f)(np.array([1.0, -1.0]))


def _logistic_loss(w, x, y):
    z = fnp.dot(x, w)
    return fnp.logaddexp(0.0, -y * z)


def test_per_example_gradients_equal_a_loop_of_grads():
    w = RNG.standard_normal(10)
    xs = RNG.standard_normal((16, 10))
    ys = np.sign(RNG.standard_normal(16))
    got = fg.vmap(fg.grad(_logistic_loss), in_axes=(None, 0, 0))(w, xs, ys)
    want = np.stack([fg.grad(_logistic_loss)(w, x, y) for x, y in zip(xs, ys)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # The batched program has as many equations as the per-example one: no loop.
    per_example = fg.make_jaxpr(fg.grad(_logistic_loss))(w, xs[0], ys[0])
    batched = fg.make_jaxpr(fg.vmap(fg.grad(_logistic_loss), in_axes=(None, 0, 0)))(w, xs, ys)
    assert len(batched.eqns) <= 2 * len(per_example.eqns)


def test_vmap_composes_with_jvp_and_vjp_both_ways():
    x = RNG.standard_normal((3, 4))
    t = RNG.standard_normal((3, 4))
    f = lambda r: fnp.tanh(r) * r.sum()  # noqa: E731
    _, t1 = fg.jvp(fg.vmap(f), (x,), (t,))
    t2 = fg.vmap(lambda a, b: fg.jvp(f, (a,), (b,))[1])(x, t)
    np.testing.assert_allclose(t1, t2, rtol=1e-12)
    ct = RNG.standard_normal((3, 4))
    g1 = fg.vjp(fg.vmap(f), x)[1](ct)[0]
    g2 = fg.vmap(lambda a, c: fg.vjp(f, a)[1](c)[0])(x, ct)
    np.testing.assert_allclose(g1, g2, rtol=1e-12)


def test_jacobians_built_on_vmap_match_their_definitions():
    def f(x):
        return fnp.sin(x) * x[::-1]
    x = RNG.standard_normal(4)
    jf, jr = np.asarray(fg.jacfwd(f)(x)), np.asarray(fg.jacrev(f)(x))
    eye = np.eye(4)
    cols = np.stack([fg.jvp(f, (x,), (eye[i],))[1] for i in range(4)], axis=1)
    rows = np.stack([fg.vjp(f, x)[1](eye[i])[0] for i in range(4)])
    np.testing.assert_allclose(jf, cols, rtol=1e-12)
    np.testing.assert_allclose(jr, rows, rtol=1e-12)
    h = np.asarray(fg.hessian(lambda v: (f(v) ** 2).sum())(x))
    h_loop = np.stack([fg.jvp(fg.grad(lambda v: (f(v) ** 2).sum()), (x,), (eye[i],))[1]
                       for i in range(4)])
    np.testing.assert_allclose(h, h_loop, rtol=1e-10)


def test_leaked_batch_tracer():
    leaked = []
    fg.vmap(lambda x: leaked.append(x) or x)(np.ones(2))
    with pytest.raises(errors.TracerLeakError, match="vmap"):
        fnp.sin(leaked[0])
