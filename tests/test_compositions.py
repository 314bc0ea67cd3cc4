"""A corpus of tricky programs, each checked under every composition of jvp, vjp, grad, vmap and
staging (make_jaxpr), against finite differences and against each other.

Every program is a scalar function of a pytree of float64 arrays. For each one:
  * first and second derivatives against finite differences (``check_grads``, fwd and rev);
  * the Hessian-vector product computed five ways (jvp of grad, grad of jvp, vjp of jvp,
    jvp of vjp, hessian @ v) must agree, and agree with differences of the gradient;
  * ``vmap(grad(f))`` over a batch equals a loop of ``grad(f)``;
  * ``grad(f)`` staged with ``make_jaxpr`` and evaluated equals eager ``grad(f)``.
"""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads
from funcgrad.tree_util import tree_flatten, tree_map, tree_unflatten

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 3)) * 0.5
C = RNG.standard_normal(3)


@fg.custom_jvp
def softplus(x):
    return fnp.logaddexp(x, 0.0)


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t * fg.lax.logistic(x)


@fg.custom_vjp
def scaled_square(x):
    return x * x


def _ss_fwd(x):
    return x * x, x


def _ss_bwd(x, g):
    return (2.0 * x * g,)


scaled_square.defvjp(_ss_fwd, _ss_bwd)


def closure(x):
    return fnp.sin(x * C).sum()


def pytree_io(p):
    h = fnp.tanh(p["w"] @ p["x"] + p["b"])
    return (h * h).sum() + 0.5 * (p["b"] ** 2).sum()


def python_loop(x):
    for _ in range(3):
        x = fnp.tanh(W @ x + 0.1)
    return (x ** 2).sum()


def python_branch(x):
    s = x.sum()
    if s > 0:           # a Python `if` on a concrete value: works under grad, as in JAX
        return (fnp.exp(x) * x).sum()
    return (fnp.cos(x) ** 2).sum()


def inner_grad(x):
    g = fg.grad(lambda y: (y ** 3).sum() + fnp.sin(y).prod())(x)
    return (g * x).sum()


def inner_jvp(x):
    _, t = fg.jvp(lambda y: fnp.sin(y) * y, (x,), (fnp.ones_like(x),))
    return (t ** 2).sum()


def indexing(x):
    x = fnp.asarray(x)
    y = x.at[1].set(x[0] * 2.0).at[2].add(x[1] ** 2)
    return (y[::-1] * fnp.arange(3.0, dtype=x.dtype)).sum() + y[fnp.array([0, 0, 2])].sum() ** 2


def reductions(x):
    m = fnp.max(x)
    return fnp.log(fnp.exp(x - m).sum()) + m + fnp.mean(x ** 2) * fnp.std(x)


def softmax_xent(x):
    logits = W @ x
    logp = logits - fnp.log(fnp.exp(logits).sum())
    return -(logp * fnp.array([0.2, 0.3, 0.5])).sum()


def select_ops(x):
    return (fnp.where(x > 0, x ** 2, fnp.sin(x)) + fnp.clip(x, -0.5, 0.5) * x
            + fnp.maximum(x, 0.1 * x)).sum()


def shapes(x):
    m = fnp.stack([x, 2 * x, x ** 2])                      # (3, 3)
    y = fnp.concatenate([m.reshape(-1), m.T.reshape(-1)])
    return (y[:-1] * y[1:]).sum() + fnp.expand_dims(x, 0).squeeze().sum()


def cumulative(x):
    return (fnp.cumsum(x) ** 2).sum() + (fnp.sort(x * fnp.array([1.0, -2.0, 3.0])) *
                                          fnp.arange(1.0, 4.0, dtype=x.dtype)).sum()


def linalg(x):
    a = W @ W.T + 3.0 * fnp.eye(3) + fnp.outer(x, x) * 0.1
    return fnp.linalg.solve(a, x).sum() + fnp.linalg.slogdet(a)[1]


def custom_jvp_rule(x):
    return (softplus(x) * fnp.sin(x)).sum()


def custom_vjp_rule(x):
    return (fnp.tanh(x) * scaled_square(x)).sum()


def rematerialised(x):
    f = fg.checkpoint(lambda y: fnp.sin(fnp.tanh(y) * y))
    return (f(x) ** 2).sum()


def scan_rnn(x):
    # A traced loop: the carry is a hidden state, the xs the rows of W scaled by x.
    def step(h, w):
        h = fnp.tanh(w * h + x)
        return h, (h * h).sum()
    h, ys = fg.lax.scan(step, x * 0.5, W)
    return ys.sum() + (h * x).sum()


def traced_branch(x):
    # A traced predicate (lax.cond), unlike python_branch's concrete one.
    return fg.lax.cond(x.sum() > 0, lambda y: (fnp.exp(y) * y).sum(),
                       lambda y: (fnp.cos(y) ** 2).sum(), x)


def mixed_args(p):
    x, (a, b) = p
    return (fnp.tanh(a * x + b) ** 2).sum() + (a * b).sum()


PROGRAMS = {
    "closure": (closure, lambda: RNG.standard_normal(3)),
    "pytree_io": (pytree_io, lambda: {"w": RNG.standard_normal((2, 3)),
                                      "x": RNG.standard_normal(3),
                                      "b": RNG.standard_normal(2)}),
    "python_loop": (python_loop, lambda: RNG.standard_normal(3)),
    "python_branch_pos": (python_branch, lambda: np.abs(RNG.standard_normal(3)) + 0.1),
    "python_branch_neg": (python_branch, lambda: -np.abs(RNG.standard_normal(3)) - 0.1),
    "inner_grad": (inner_grad, lambda: RNG.standard_normal(3)),
    "inner_jvp": (inner_jvp, lambda: RNG.standard_normal(3)),
    "indexing": (indexing, lambda: RNG.standard_normal(3)),
    "reductions": (reductions, lambda: RNG.standard_normal(4)),
    "softmax_xent": (softmax_xent, lambda: RNG.standard_normal(3)),
    "select_ops": (select_ops, lambda: np.array([-1.3, -0.2, 0.35, 0.8, 2.0])),
    "shapes": (shapes, lambda: RNG.standard_normal(3)),
    "cumulative": (cumulative, lambda: np.array([0.3, -0.9, 1.4])),
    "linalg": (linalg, lambda: RNG.standard_normal(3)),
    "custom_jvp_rule": (custom_jvp_rule, lambda: RNG.standard_normal(3)),
    "custom_vjp_rule": (custom_vjp_rule, lambda: RNG.standard_normal(3)),
    "rematerialised": (rematerialised, lambda: RNG.standard_normal(3)),
    "scan_rnn": (scan_rnn, lambda: RNG.standard_normal(3)),
    "traced_branch": (traced_branch, lambda: RNG.standard_normal(3)),
    "mixed_args": (mixed_args, lambda: (RNG.standard_normal(2),
                                        (RNG.standard_normal(2), RNG.standard_normal(2)))),
}
# custom_vjp functions support reverse mode only: forward mode over them is an error, by design.
REVERSE_ONLY = {"custom_vjp_rule"}


def _flat(tree):
    leaves, _ = tree_flatten(tree)
    return np.concatenate([np.ravel(np.asarray(x)) for x in leaves])


def _unflat_like(vec, tree):
    leaves, td = tree_flatten(tree)
    out, i = [], 0
    for x in leaves:
        n = np.size(x)
        out.append(vec[i:i + n].reshape(np.shape(x)))
        i += n
    return tree_unflatten(td, out)


@pytest.fixture(params=sorted(PROGRAMS))
def program(request):
    f, make = PROGRAMS[request.param]
    return request.param, f, make()


def test_derivatives_against_finite_differences(program):
    name, f, x = program
    check_grads(f, (x,), order=2, modes=("rev",) if name in REVERSE_ONLY else ("fwd", "rev"))


def test_hessian_vector_product_every_composition(program):
    name, f, x = program
    v = tree_map(lambda a: RNG.standard_normal(np.shape(a)), x)
    hvps = {
        "jvp(grad)": fg.jvp(fg.grad(f), (x,), (v,))[1],
        "jvp(vjp)": fg.jvp(lambda y: fg.vjp(f, y)[1](1.0)[0], (x,), (v,))[1],
        "linearize(grad)": fg.linearize(fg.grad(f), x)[1](v),
    }
    if name not in REVERSE_ONLY:   # these differentiate f itself in forward mode
        hvps["grad(jvp)"] = fg.grad(lambda y: fg.jvp(f, (y,), (v,))[1])(x)
        hvps["vjp(jvp)"] = fg.vjp(lambda y: fg.jvp(f, (y,), (v,))[1], x)[1](1.0)[0]
    eps = 1e-6
    plus = tree_map(lambda a, b: a + eps * b, x, v)
    minus = tree_map(lambda a, b: a - eps * b, x, v)
    fd = (_flat(fg.grad(f)(plus)) - _flat(fg.grad(f)(minus))) / (2 * eps)
    for how, hv in hvps.items():
        np.testing.assert_allclose(_flat(hv), fd, rtol=1e-5, atol=1e-6, err_msg=f"{name}: {how}")
    if not isinstance(x, np.ndarray):
        return
    hess = np.asarray(fg.hessian(f)(x))
    np.testing.assert_allclose(hess @ v, fd, rtol=1e-5, atol=1e-6, err_msg=f"{name}: hessian")
    np.testing.assert_allclose(hess, hess.T, rtol=1e-9, atol=1e-9, err_msg=f"{name}: symmetry")
    if name not in REVERSE_ONLY:
        np.testing.assert_allclose(np.asarray(fg.jacrev(fg.jacfwd(f))(x)), hess, rtol=1e-9,
                                   atol=1e-9, err_msg=f"{name}: jacrev(jacfwd)")


def test_vmap_of_grad_equals_loop(program):
    name, f, x = program
    if name.startswith("python_branch"):
        pytest.skip("a Python `if` on a batched value needs lax.cond (vmap cannot see one "
                    "concrete value)")
    batch = [tree_map(lambda a, k=k: a + 0.05 * k * np.sign(a), x) for k in range(3)]
    stacked = tree_map(lambda *a: np.stack(a), *batch)
    got = fg.vmap(fg.grad(f))(stacked)
    for k, xk in enumerate(batch):
        want = fg.grad(f)(xk)
        np.testing.assert_allclose(_flat(tree_map(lambda a, k=k: np.asarray(a)[k], got)),
                                   _flat(want), rtol=1e-10, atol=1e-12, err_msg=name)


def test_staged_grad_equals_eager(program):
    name, f, x = program
    if name.startswith("python_branch"):
        with pytest.raises(fg.errors.ConcretizationError, match="depends on argument"):
            fg.make_jaxpr(fg.grad(f))(x)
        return
    closed = fg.make_jaxpr(fg.grad(f))(x)
    staged = closed(*tree_flatten(x)[0])
    eager = tree_flatten(fg.grad(f)(x))[0]
    for s, e in zip(staged, eager):
        np.testing.assert_allclose(np.asarray(s), np.asarray(e), rtol=1e-12, atol=1e-14,
                                   err_msg=name)


def test_value_and_grad_pytree_matches_flat(program):
    name, f, x = program
    val, g = fg.value_and_grad(f)(x)
    np.testing.assert_allclose(float(val), float(f(x)), rtol=1e-12)
    vec = _flat(x)
    g_flat = fg.grad(lambda v: f(_unflat_like(v, x)))(vec)
    np.testing.assert_allclose(_flat(g), np.asarray(g_flat), rtol=1e-10, atol=1e-12)


def test_transpose_property_of_the_linearized_gradient(program):
    """For L = linearize(grad f) at x, the transposed program (vjp) satisfies
    <ct, L t> == <L^T ct, t> for random t and ct."""
    name, f, x = program
    g = fg.grad(f)
    t = tree_map(lambda a: RNG.standard_normal(np.shape(a)), x)
    ct = tree_map(lambda a: RNG.standard_normal(np.shape(a)), x)
    _, lin = fg.linearize(g, x)
    _, g_vjp = fg.vjp(g, x)
    lhs = float(_flat(ct) @ _flat(lin(t)))
    rhs = float(_flat(g_vjp(ct)[0]) @ _flat(t))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12), name
