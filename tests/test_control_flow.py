"""Traced control flow (cond, switch, scan, while_loop, fori_loop, map): values against Python
loops, derivatives against finite differences, vmap against per-example loops, jit against
eager, and the error messages."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from funcgrad.testing import check_grads
from funcgrad.tree_util import tree_flatten

RNG = np.random.default_rng(3)


def _rand(*shape):
    return RNG.standard_normal(shape)


def _close(a, b, rtol=1e-7, atol=1e-8):
    a, b = (np.asarray(v) if isinstance(v, list) else v for v in (a, b))
    la, lb = tree_flatten(a)[0], tree_flatten(b)[0]
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- programs and references

def cond_prog(x, y):
    return lax.cond(fnp.sum(x) > 0, lambda a, b: fnp.sin(a) * b, lambda a, b: a * a - b, x, y)


def cond_ref(x, y):
    return np.sin(x) * y if x.sum() > 0 else x * x - y


def switch_prog(i, x):
    return lax.switch(i, [lambda v: fnp.sin(v), lambda v: v * v, lambda v: fnp.exp(v) * 0.5], x)


def switch_ref(i, x):
    return [np.sin, lambda v: v * v, lambda v: np.exp(v) * 0.5][min(max(int(i), 0), 2)](x)


def rnn_prog(w, h0, xs):
    def step(h, x):
        h = fnp.tanh(w @ h + x)
        return h, fnp.sum(h * h)
    return lax.scan(step, h0, xs)


def rnn_ref(w, h0, xs):
    h, ys = h0, []
    for x in xs:
        h = np.tanh(w @ h + x)
        ys.append(np.sum(h * h))
    return h, np.array(ys)


def while_prog(x):
    return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, fnp.sin(c[1]) * 1.5), (0, x))


def while_ref(x):
    i, v = 0, x
    while i < 5:
        i, v = i + 1, np.sin(v) * 1.5
    return i, v


# ---------------------------------------------------------------- values

def test_cond_values_both_branches_and_python_pred():
    x, y = _rand(3), _rand(3)
    _close(cond_prog(np.abs(x), y), cond_ref(np.abs(x), y))
    _close(cond_prog(-np.abs(x), y), cond_ref(-np.abs(x), y))
    assert float(lax.cond(True, lambda: 1.0, lambda: 2.0)) == 1.0
    assert float(lax.cond(0, lambda: 1.0, lambda: 2.0)) == 2.0
    assert float(lax.cond(np.int32(3), lambda: 1.0, lambda: 2.0)) == 1.0


@pytest.mark.parametrize("i", [-3, 0, 1, 2, 7])
def test_switch_clamps_index(i):
    x = _rand(4)
    _close(switch_prog(i, x), switch_ref(i, x))
    _close(switch_prog(np.int32(i), x), switch_ref(i, x))
    _close(fg.jit(switch_prog)(i, x), switch_ref(i, x))


def test_scan_values_reverse_and_pytrees():
    w, h0, xs = _rand(3, 3) * 0.5, _rand(3), _rand(5, 3)
    _close(rnn_prog(w, h0, xs), rnn_ref(w, h0, xs))

    def f(c, x):
        return {"s": c["s"] + x["a"], "n": c["n"] + 1}, (x["a"] * c["s"], x["b"])
    xs2 = {"a": _rand(4), "b": _rand(4, 2)}
    carry, (ys, bs) = lax.scan(f, {"s": np.float64(0.0), "n": np.int32(0)}, xs2, reverse=True)
    s, want = 0.0, []
    for a in xs2["a"][::-1]:
        want.append(a * s)
        s += a
    _close(carry["s"], s)
    assert int(carry["n"]) == 4
    _close(ys, np.array(want[::-1]))
    _close(bs, xs2["b"])


def test_scan_without_xs_and_weak_init():
    carry, ys = lax.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=4)
    assert float(carry) == 16.0
    _close(ys, [1.0, 2.0, 4.0, 8.0])
    # A Python-scalar init takes the body's dtype.
    carry, _ = lax.scan(lambda c, x: (c + x, None), 0.0, np.arange(3.0))
    assert carry.dtype == np.float64 and float(carry) == 3.0


def test_while_fori_map_values():
    x = _rand(3)
    _close(while_prog(x), while_ref(x))
    assert float(lax.fori_loop(0, 5, lambda i, v: v + i, 0.0)) == 10.0
    # traced bounds: a while_loop
    assert float(fg.jit(lambda n: lax.fori_loop(0, n, lambda i, v: v + i, 0.0))(5)) == 10.0
    xs = _rand(4, 3)
    _close(lax.map(lambda r: fnp.sum(fnp.sin(r)), xs), np.sin(xs).sum(1))
    _close(lax.map(lambda r: (r["a"] * 2.0, r["b"]), {"a": xs, "b": xs[:, 0]}),
           (xs * 2.0, xs[:, 0]))


# ---------------------------------------------------------------- derivatives

def test_cond_grads_order2_both_modes():
    x, y = _rand(3), _rand(3)
    for xx in (np.abs(x) + 0.1, -np.abs(x) - 0.1):
        check_grads(cond_prog, (xx, y), order=2, modes=("fwd", "rev"))


def test_cond_grad_under_jit_with_traced_pred():
    x, y = np.abs(_rand(3)) + 0.1, _rand(3)
    g = fg.grad(lambda x, y: fnp.sum(cond_prog(x, y)))
    _close(fg.jit(g)(x, y), g(x, y))
    _close(g(x, y), np.cos(x) * y)
    gn = fg.jit(fg.grad(lambda x, y: fnp.sum(cond_prog(-x, y)), argnums=(0, 1)))
    _close(gn(x, y), (2 * x, -np.ones(3)))


@pytest.mark.parametrize("i", [0, 1, 2])
def test_switch_grads_order2(i):
    check_grads(lambda x: switch_prog(i, x), (_rand(3),), order=2, modes=("fwd", "rev"))
    g = fg.jit(fg.grad(lambda i, x: fnp.sum(switch_prog(i, x)), argnums=1))
    _close(g(i, np.ones(3)), fg.grad(lambda x: fnp.sum(switch_ref_fg(i, x)))(np.ones(3)))


def switch_ref_fg(i, x):
    return [fnp.sin, lambda v: v * v, lambda v: fnp.exp(v) * 0.5][i](x)


def test_scan_grads_order2_both_modes():
    w, h0, xs = _rand(3, 3) * 0.5, _rand(3), _rand(4, 3)

    def f(w, h0, xs):
        h, ys = rnn_prog(w, h0, xs)
        return fnp.sum(h) + fnp.sum(ys)
    check_grads(f, (w, h0, xs), order=2, modes=("fwd", "rev"))
    check_grads(lambda x: lax.scan(lambda c, x: (c * x, c + x), 1.0, x, reverse=True)[1],
                (_rand(4),), order=2, modes=("fwd", "rev"))


def test_scan_grad_under_jit_matches_eager():
    w, h0, xs = _rand(3, 3) * 0.5, _rand(3), _rand(4, 3)

    def loss(w, h0, xs):
        h, ys = rnn_prog(w, h0, xs)
        return fnp.sum(h) + fnp.sum(ys)
    g = fg.grad(loss, argnums=(0, 1, 2))
    _close(fg.jit(g)(w, h0, xs), g(w, h0, xs), rtol=1e-6)


def test_while_and_fori_forward_mode():
    x = _rand(3)
    check_grads(lambda x: while_prog(x)[1], (x,), order=2, modes=("fwd",))
    n = fnp.asarray(3, dtype=np.int32)  # an Array bound: a while_loop
    check_grads(lambda x: lax.fori_loop(0, n, lambda i, v: fnp.sin(v) * x, x),
                (x,), order=1, modes=("fwd",))
    _close(fg.jacfwd(lambda x: while_prog(x)[1])(x), np.diag(_while_derivative(x)))


def _while_derivative(x):
    d, v = np.ones_like(x), x
    for _ in range(5):
        d, v = d * np.cos(v) * 1.5, np.sin(v) * 1.5
    return d


def test_reverse_mode_through_while_errors():
    with pytest.raises(errors.MissingRuleError, match="reverse-mode differentiation does not "
                       "support while_loop; use scan or fori_loop with static bounds"):
        fg.grad(lambda x: while_prog(x)[1].sum())(_rand(3))
    with pytest.raises(errors.MissingRuleError, match="while_loop"):
        n = fnp.asarray(2, dtype=np.int32)
        fg.grad(lambda x: lax.fori_loop(0, n, lambda i, v: v * 2.0, x))(1.0)


def test_fori_loop_static_bounds_reverse_mode():
    def f(x):
        return lax.fori_loop(1, 4, lambda i, v: fnp.sin(v) * x + i, x)
    check_grads(f, (np.float64(0.7),), order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------- vmap

def test_vmap_cond_batched_pred_and_operands():
    xs, ys = _rand(5, 3), _rand(5, 3)
    out = fg.vmap(cond_prog)(xs, ys)
    _close(out, np.stack([cond_ref(x, y) for x, y in zip(xs, ys)]))
    # unbatched predicate, batched operand
    out = fg.vmap(lambda y: cond_prog(np.ones(3), y))(ys)
    _close(out, np.stack([cond_ref(np.ones(3), y) for y in ys]))
    out = fg.vmap(switch_prog, in_axes=(0, None))(np.array([-1, 0, 1, 2, 5]), xs[0])
    _close(out, np.stack([switch_ref(i, xs[0]) for i in [-1, 0, 1, 2, 5]]))


def test_vmap_scan_batched_xs_and_carries():
    w, h0s, xss = _rand(3, 3) * 0.5, _rand(2, 3), _rand(2, 4, 3)
    out = fg.vmap(rnn_prog, in_axes=(None, 0, 0))(w, h0s, xss)
    want = [rnn_ref(w, h, x) for h, x in zip(h0s, xss)]
    _close(out, (np.stack([a for a, _ in want]), np.stack([b for _, b in want])))
    # only xs batched, at axis 1: the carry becomes batched through the fixpoint
    out = fg.vmap(rnn_prog, in_axes=(None, None, 1))(w, h0s[0], np.swapaxes(xss, 0, 1))
    want = [rnn_ref(w, h0s[0], x) for x in xss]
    _close(out, (np.stack([a for a, _ in want]), np.stack([b for _, b in want])))
    # only the weights batched
    ws = _rand(2, 3, 3) * 0.5
    out = fg.vmap(rnn_prog, in_axes=(0, None, None))(ws, h0s[0], xss[0])
    want = [rnn_ref(w_, h0s[0], xss[0]) for w_ in ws]
    _close(out, (np.stack([a for a, _ in want]), np.stack([b for _, b in want])))


def test_vmap_while_batched_predicate():
    def f(x, n):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5 + 1.0),
                              (0, x))
    xs, ns = _rand(4), np.array([0, 3, 1, 5], np.int32)
    out = fg.vmap(f)(xs, ns)
    want = []
    for x, n in zip(xs, ns):
        i, v = 0, x
        while i < n:
            i, v = i + 1, v * 1.5 + 1.0
        want.append((i, v))
    _close(out[0], [w[0] for w in want])
    _close(out[1], [w[1] for w in want])
    # batched carry, unbatched predicate
    _close(fg.vmap(lambda x: while_prog(x)[1])(_rand(2, 3)).shape, (2, 3))


def test_vmap_fori_and_map():
    xs = _rand(3, 2)
    out = fg.vmap(lambda x: lax.fori_loop(0, 3, lambda i, v: fnp.sin(v) + i, x))(xs)
    want = xs.copy()
    for i in range(3):
        want = np.sin(want) + i
    _close(out, want)
    out = fg.vmap(lambda x: lax.map(lambda r: r * fnp.sum(r), x))(_rand(2, 3, 4))
    assert out.shape == (2, 3, 4)


def test_vmap_of_grad_through_scan_and_cond():
    xs = np.abs(_rand(3, 3)) + 0.1
    g = fg.grad(lambda x: fnp.sum(cond_prog(x, x)))
    _close(fg.vmap(g)(xs), np.stack([g(x) for x in xs]))
    h = fg.grad(lambda x: lax.scan(lambda c, x: (fnp.sin(c) * x, c), 1.0, x)[0])
    _close(fg.vmap(h)(xs), np.stack([h(x) for x in xs]))


# ---------------------------------------------------------------- jit

def test_jit_matches_eager_for_each():
    x, y = _rand(3), _rand(3)
    w, h0, xs = _rand(3, 3) * 0.5, _rand(3), _rand(4, 3)
    cases = [(cond_prog, (x, y)), (lambda x: switch_prog(1, x), (x,)),
             (rnn_prog, (w, h0, xs)), (while_prog, (x,)),
             (lambda x: lax.fori_loop(0, 3, lambda i, v: v * 2.0 + i, x), (x,)),
             (lambda xs: lax.map(fnp.sin, xs), (xs,))]
    for f, args in cases:
        _close(fg.jit(f)(*args), f(*args))


def test_rnn_scan_1000_steps_compiles_once():
    w, h0, xs = _rand(8, 8) * 0.3, _rand(8), _rand(1000, 8)
    jitted = fg.jit(rnn_prog)
    h, ys = jitted(w, h0, xs)
    h2, ys2 = jitted(w, h0 * 0.5, xs)
    assert jitted.trace_count == 1
    assert ys.shape == (1000,)
    _close((h, ys), rnn_ref(w, h0, xs), rtol=1e-6)
    _close((h2, ys2), rnn_ref(w, h0 * 0.5, xs), rtol=1e-6)


def test_make_jaxpr_prints_nested_bodies():
    text = str(fg.make_jaxpr(rnn_prog)(_rand(3, 3), _rand(3), _rand(4, 3)))
    assert "scan[length=4" in text and "body:" in text and "tanh" in text
    text = str(fg.make_jaxpr(cond_prog)(_rand(3), _rand(3)))
    assert "branch 0:" in text and "branch 1:" in text and "sin" in text
    text = str(fg.make_jaxpr(while_prog)(_rand(3)))
    assert "while[" in text and "cond:" in text and "body:" in text


# ---------------------------------------------------------------- errors

def test_branch_mismatch_errors():
    x = np.ones(3)
    with pytest.raises(errors.ShapeError, match=r"cond: the branches must return the same.*"
                       r"true_fun returns f64\[3\] but false_fun returns f64\[2\]"):
        lax.cond(True, lambda v: v, lambda v: v[:2], x)
    with pytest.raises(errors.ShapeError, match=r"true_fun returns \(f64\[3\], f64\[3\]\) "
                       r"but false_fun returns f64\[3\]"):
        lax.cond(True, lambda v: (v, v), lambda v: v, x)
    with pytest.raises(errors.ShapeError, match=r"f64\[3\] but false_fun returns f32\[3\]"):
        lax.cond(True, lambda v: v, lambda v: v.astype(np.float32), x)
    with pytest.raises(errors.ShapeError, match=r"switch: .*branches\[0\] returns f64\[3\] but "
                       r"branches\[1\] returns i32\[3\]"):
        lax.switch(0, [lambda v: v, lambda v: v.astype(np.int32)], x)


def test_carry_type_errors():
    with pytest.raises(errors.ShapeError, match=r"scan: .*input carry f64\[3\] but output "
                       r"carry f64\[2\]"):
        lax.scan(lambda c, x: (c[:2], x), np.ones(3), np.ones(4))
    with pytest.raises(errors.ShapeError, match=r"while_loop: .*input carry f64\[\] but output "
                       r"carry f32\[\]"):
        lax.while_loop(lambda c: c < 3, lambda c: c.astype(np.float32), np.float64(0))
    with pytest.raises(errors.ShapeError, match=r"scan: the body must return a pair"):
        lax.scan(lambda c, x: c, np.ones(3), np.ones(4))


def test_predicate_errors():
    with pytest.raises(errors.ShapeError, match=r"cond: the predicate must be a scalar, got "
                       r"bool\[2\]"):
        lax.cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(errors.DTypeError, match=r"cond: the predicate must be a boolean or "
                       r"integer scalar, got f64\[\]"):
        lax.cond(np.float64(1.0), lambda: 1.0, lambda: 2.0)
    with pytest.raises(errors.DTypeError, match=r"switch: the index must be an integer"):
        lax.switch(True, [lambda: 1.0], )
    with pytest.raises(errors.DTypeError, match=r"while_loop: cond_fun must return a boolean "
                       r"scalar"):
        lax.while_loop(lambda c: c, lambda c: c, np.float64(1.0))


def test_xs_length_errors():
    with pytest.raises(errors.ShapeError, match=r"scan: the leaves of xs have different leading "
                       r"lengths \[3, 4\]"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.ones(3), np.ones(4)))
    with pytest.raises(errors.ShapeError, match=r"scan: length=5 is inconsistent with xs"):
        lax.scan(lambda c, x: (c, x), 0.0, np.ones(3), length=5)
    with pytest.raises(ValueError, match=r"scan: length is required"):
        lax.scan(lambda c, x: (c, x), 0.0, None)


def test_scan_reverse_mode_does_not_stack_loop_invariant_weights():
    w, h0, xs = _rand(4, 4), _rand(4), _rand(3, 4)
    text = str(fg.make_jaxpr(fg.grad(lambda w: fnp.sum(rnn_prog(w, h0, xs)[1])))(w))
    assert "f64[3,4,4]" not in text  # w is a const of the backward scan, not a stacked residual


def test_nested_control_flow_grads_and_hessian():
    x = _rand(4)

    def f(x):
        def body(c, xi):
            c = lax.cond(c > 0, lambda a: fnp.sin(a) * xi, lambda a: a * a + xi, c)
            return c, c * xi
        c, ys = lax.scan(body, 0.3, x)
        return c + fnp.sum(ys)
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))
    _close(fg.jit(fg.grad(f))(x), fg.grad(f)(x))
    _close(fg.jit(fg.hessian(f))(x), fg.hessian(f)(x))

    def g(x):
        return lax.cond(fnp.sum(x) > 0, lambda v: lax.scan(lambda c, y: (c * y, c), 1.0, v)[0],
                        lambda v: fnp.sum(v), x)
    check_grads(g, (np.abs(x),), order=2, modes=("fwd", "rev"))
    y, lin = fg.linearize(f, x)
    _close(lin(np.ones(4)), fg.jvp(f, (x,), (np.ones(4),))[1])


def test_cond_branch_returning_python_scalar_or_constant():
    x = np.array([1.0, 2.0, 3.0])
    g = lambda x: lax.cond(x[0] > 0, lambda v: 3.0, lambda v: v[1], x)  # noqa: E731
    assert g(x).dtype == np.float64  # the Python scalar takes the other branch's dtype
    _close(fg.jit(fg.grad(g))(x), [0.0, 0.0, 0.0])
    _close(fg.jit(fg.grad(g))(-x), [0.0, 1.0, 0.0])
    _close(fg.vmap(g)(np.array([[1.0, 2.0], [-1.0, 5.0]])), [3.0, 5.0])
    f = lambda x: fnp.sum(lax.cond(x[0] > 0, lambda v: v * 2.0, lambda v: np.ones(3), x))  # noqa
    _close(fg.jit(fg.grad(f))(x), [2.0, 2.0, 2.0])
    _close(fg.jit(fg.grad(f))(-x), [0.0, 0.0, 0.0])


def test_docstring_examples():
    import doctest

    from funcgrad.primitives import control_flow
    result = doctest.testmod(control_flow, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 6
