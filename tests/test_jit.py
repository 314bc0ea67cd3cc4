"""jit: the API, the trace cache (counted, never timed), retrace diagnostics, errors, and jit
composed with every transformation, on the composition corpus, against eager."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lowering
from funcgrad.tree_util import tree_flatten, tree_map
from tests.test_compositions import PROGRAMS, REVERSE_ONLY

RNG = np.random.default_rng(1)


def _close(a, b, rtol=1e-6, atol=1e-6, msg=""):
    for x, y in zip(tree_flatten(a)[0], tree_flatten(b)[0]):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol,
                                   err_msg=msg)


# ---------------------------------------------------------------- API


def test_decorator_forms_and_results():
    @fg.jit
    def f(x, y):
        return fnp.sin(x) * y + 1.0

    @fg.jit(static_argnums=1)
    def g(x, n):
        for _ in range(n):
            x = x * 2.0
        return x

    x = np.linspace(-1, 1, 5).astype(np.float32)
    out = f(x, x)
    assert isinstance(out, fg.Array) and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), np.sin(x) * x + 1, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(g(x, 3)), x * 8, rtol=1e-6)
    assert f.__name__ == "f" and "jitted" in repr(f)


def test_pytrees_kwargs_and_non_array_leaves():
    @fg.jit
    def f(params, x, *, mode="tanh", scale=None):
        act = fnp.tanh if mode == "tanh" else fnp.sin
        h = act(params["w"] @ x + params["b"])
        return {"h": h, "n": (h * h).sum() * (1.0 if scale is None else scale)}

    p = {"w": RNG.standard_normal((3, 4)), "b": RNG.standard_normal(3)}
    x = RNG.standard_normal(4)
    for mode in ("tanh", "sin"):
        got = f(p, x, mode=mode)
        act = np.tanh if mode == "tanh" else np.sin
        h = act(p["w"] @ x + p["b"])
        _close(got, {"h": h, "n": (h * h).sum()}, 1e-12, 1e-12)
    assert f.trace_count == 2  # the string is a static leaf: one trace per value
    f(p, x, mode="sin")
    assert f.trace_count == 2


def test_no_retrace_for_the_same_signature_and_retrace_for_new_ones():
    f = fg.jit(lambda x, y: x * y)
    a32 = np.ones((2, 3), np.float32)
    f(a32, a32)
    f(fnp.asarray(a32), a32 + 1)           # Array and ndarray of one aval: same signature
    assert f.trace_count == 1
    f(np.ones((4, 3), np.float32), np.ones((4, 3), np.float32))   # new shape
    assert f.trace_count == 2
    f(a32.astype(np.float64), a32.astype(np.float64))             # new dtype
    assert f.trace_count == 3
    f(2.0, 3.0)                            # Python floats: weakly typed scalars
    f(4.0, 5.0)
    assert f.trace_count == 4
    f(np.float32(2.0), np.float32(3.0))    # a strongly typed scalar is another signature
    assert f.trace_count == 5
    info = f.cache_info()
    assert info["traces"] == 5 and info["hits"] == 2 and info["size"] == 5
    f.clear_cache()
    f(a32, a32)
    assert f.trace_count == 6


def test_weak_types_survive_jit():
    f = fg.jit(lambda x: x * 2)
    out = f(3.0)
    assert out.weak_type == fg.numpy.asarray(3.0).weak_type
    assert fg.jit(lambda x: x + 1.0)(np.ones(2, np.float32)).dtype == np.float32


def test_static_arguments_by_position_and_name():
    def f(x, n, *, k=1):
        return x * n + k

    j = fg.jit(f, static_argnames=("n",))
    x = np.ones(2)
    assert np.allclose(np.asarray(j(x, 3)), 4) and np.allclose(np.asarray(j(x, n=3)), 4)
    j(x, 4)
    assert j.trace_count >= 2
    j2 = fg.jit(f, static_argnums=(1,))
    assert np.allclose(np.asarray(j2(x, n=5, k=2)), 7)   # by name though declared by position


def test_non_hashable_static_argument_is_named():
    f = fg.jit(lambda x, opts: x * len(opts), static_argnums=1)
    with pytest.raises(errors.InvalidArgumentError, match=r"static argument 1 \(`opts`\).*list"):
        f(np.ones(2), [1, 2])


def test_bad_static_argnums_and_backend():
    with pytest.raises(ValueError, match="static_argnums"):
        fg.jit(lambda x: x, static_argnums=3)
    with pytest.raises(ValueError, match="static_argnames.*`y`"):
        fg.jit(lambda x: x, static_argnames="y")
    with pytest.raises(ValueError, match="unknown backend"):
        fg.jit(lambda x: x, backend="tpu")


def test_lower_as_text_source_and_compile():
    @fg.jit
    def f(x):
        return fnp.exp(x) * 2.0 + 1.0

    x = np.ones((2, 3), np.float32)
    low = f.lower(x)
    text = low.as_text()
    assert "exp" in text and "f32[2,3]" in text
    assert isinstance(low.source(), str) and low.source()
    comp = low.compile()
    _close(comp(x), np.exp(x) * 2 + 1)
    with pytest.raises(TypeError, match="compiled for"):
        comp(np.ones((3, 3), np.float32))
    assert f.trace_count == 1  # lower() traced; compile() and the call reused it


def test_outputs_are_immutable_fresh_arrays():
    f = fg.jit(lambda x: (x, x * 1.0))
    x = np.arange(3.0)
    a, b = f(x)
    x[0] = 100.0
    assert float(a[0]) == 0.0 and float(b[0]) == 0.0
    with pytest.raises((ValueError, TypeError)):
        np.asarray(a)[0] = 5.0


def test_closed_over_constants_and_literal_outputs():
    c = np.arange(4.0)
    f = fg.jit(lambda x: (x + c, 3.0 * np.ones(2)))
    a, b = f(np.ones(4))
    _close(a, c + 1)
    _close(b, np.full(2, 3.0))


def test_disable_jit_runs_eagerly():
    seen = []

    @fg.jit
    def f(x):
        seen.append(type(x).__name__)
        return x + 1

    with fg.disable_jit():
        f(np.ones(2))
        f(np.ones(2))
    assert f.trace_count == 0 and len(seen) == 2
    f(np.ones(2))
    assert f.trace_count == 1


def test_disable_jit_environment_variable():
    code = textwrap.dedent("""
        import numpy as np, funcgrad as fg
        f = fg.jit(lambda x: x + 1)
        f(np.ones(2)); print(f.trace_count)
    """)
    env = dict(os.environ, FUNCGRAD_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "0"


def test_log_compiles_names_what_changed(caplog):
    f = fg.jit(lambda batch: batch["x"].sum())
    with fg.config.override(log_compiles=True), caplog.at_level(logging.WARNING,
                                                                 "funcgrad.jit"):
        f({"x": np.ones((32, 4), np.float32)})
        f({"x": np.ones((16, 4), np.float32)})
    text = caplog.text
    assert "first call" in text
    assert "`batch['x']` changed f32[32,4] -> f32[16,4]" in text


def test_too_many_retraces_warn():
    f = fg.jit(lambda x: x + 1)
    with fg.config.override(max_retraces=2):
        f(np.ones(1))
        f(np.ones(2))
        with pytest.warns(errors.FuncgradWarning, match="traced 3 times.*`x` changed"):
            f(np.ones(3))


def test_concretization_error_under_jit():
    @fg.jit
    def f(x, n):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(errors.ConcretizationError) as e:
        f(np.ones(2), 3)
    msg = str(e.value)
    assert "jit(f)" in msg and "`x`" in msg and "static_argnums" in msg

    g = fg.jit(lambda x, n: x * n if n > 0 else -x, static_argnums=1)
    _close(g(np.ones(2), 2), np.full(2, 2.0))


def test_non_array_outputs_are_an_error():
    with pytest.raises(errors.InvalidArgumentError, match="returned a str"):
        fg.jit(lambda x: (x, "label"))(np.ones(2))


# ---------------------------------------------------------------- compositions


def f_mlp(p, x):
    h = fnp.tanh(x @ p["w1"] + p["b1"])
    return fnp.sum((h @ p["w2"]) ** 2)


P = {"w1": RNG.standard_normal((4, 5)), "b1": RNG.standard_normal(5),
     "w2": RNG.standard_normal((5, 2))}
X = RNG.standard_normal((3, 4))


def test_grad_of_jit_and_jit_of_grad():
    want = fg.grad(f_mlp)(P, X)
    _close(fg.grad(fg.jit(f_mlp))(P, X), want, 1e-10, 1e-12)
    jg = fg.jit(fg.grad(f_mlp))
    _close(jg(P, X), want, 1e-10, 1e-12)
    _close(jg(P, X), want, 1e-10, 1e-12)
    assert jg.trace_count == 1
    v, g = fg.jit(fg.value_and_grad(f_mlp))(P, X)
    _close(v, f_mlp(P, X), 1e-12, 1e-12)


def test_grad_of_jit_runs_compiled_forward_and_backward():
    jaxpr = fg.make_jaxpr(fg.grad(fg.jit(f_mlp)))(P, X)
    names = [e.prim.name for e in jaxpr.jaxpr.eqns]
    assert names.count("jit") == 2, names  # the forward (known) part and the backward part


def test_vmap_of_jit_and_jit_of_vmap():
    xs = RNG.standard_normal((6, 3, 4))
    want = np.stack([np.asarray(f_mlp(P, x)) for x in xs])
    _close(fg.vmap(fg.jit(f_mlp), in_axes=(None, 0))(P, xs), want, 1e-10, 1e-12)
    _close(fg.jit(fg.vmap(f_mlp, in_axes=(None, 0)))(P, xs), want, 1e-10, 1e-12)
    # Per-example gradients, compiled.
    pe = fg.jit(fg.vmap(fg.grad(f_mlp), in_axes=(None, 0)))(P, xs)
    for k in range(len(xs)):
        _close(tree_map(lambda a, k=k: np.asarray(a)[k], pe), fg.grad(f_mlp)(P, xs[k]),
               1e-10, 1e-12)


def test_jit_inside_jit_jvp_and_higher_order():
    inner = fg.jit(lambda x: fnp.sin(x) * x)
    outer = fg.jit(lambda x: inner(x) + inner(2 * x))
    x = RNG.standard_normal(3)
    _close(outer(x), np.sin(x) * x + np.sin(2 * x) * 2 * x, 1e-12, 1e-12)
    t = RNG.standard_normal(3)
    _close(fg.jvp(outer, (x,), (t,))[1], fg.jvp(lambda x: fnp.sin(x) * x + fnp.sin(2 * x) * 2
                                                * x, (x,), (t,))[1], 1e-12, 1e-12)
    f = lambda x: fnp.sum(fnp.sin(x) ** 3)  # noqa: E731
    _close(fg.hessian(fg.jit(f))(x), fg.hessian(f)(x), 1e-10, 1e-12)
    _close(fg.jacrev(fg.jit(fg.grad(f)))(x), fg.hessian(f)(x), 1e-10, 1e-12)
    # grad of a jit whose body takes a grad (grad inside jit inside grad).
    _close(fg.grad(fg.jit(lambda y: fg.grad(f)(y).sum()))(x),
           fg.grad(lambda y: fg.grad(f)(y).sum())(x), 1e-10, 1e-12)


def test_jit_of_a_closure_over_a_traced_value():
    # The jitted function captures the value being differentiated: its trace holds a tracer,
    # so it must not be cached across calls.
    def outer(y):
        return fg.jit(lambda x: fnp.sum(x * y))(np.ones(3))

    y = RNG.standard_normal(3)
    _close(fg.grad(outer)(y), np.ones(3), 1e-12, 1e-12)
    _close(fg.grad(outer)(y * 2), np.ones(3), 1e-12, 1e-12)


def test_linearize_and_vjp_through_jit():
    f = fg.jit(lambda x: fnp.tanh(x) * fnp.exp(x))
    x, t = RNG.standard_normal(4), RNG.standard_normal(4)
    y, lin = fg.linearize(f, x)
    _close(lin(t), fg.jvp(f, (x,), (t,))[1], 1e-12, 1e-12)
    _, pull = fg.vjp(f, x)
    ct = RNG.standard_normal(4)
    assert np.isclose(np.vdot(ct, np.asarray(lin(t))), np.vdot(np.asarray(pull(ct)[0]), t))


@pytest.fixture(params=sorted(PROGRAMS))
def program(request):
    f, make = PROGRAMS[request.param]
    return request.param, f, make()


def test_corpus_under_jit(program):
    name, f, x = program
    if name.startswith("python_branch"):
        with pytest.raises(errors.ConcretizationError):
            fg.jit(f)(x)
        return
    _close(fg.jit(f)(x), f(x), 1e-12, 1e-12, name)
    want = fg.grad(f)(x)
    _close(fg.jit(fg.grad(f))(x), want, 1e-10, 1e-12, name)
    _close(fg.grad(fg.jit(f))(x), want, 1e-10, 1e-12, name)
    if name not in REVERSE_ONLY:
        v = tree_map(lambda a: RNG.standard_normal(np.shape(a)), x)
        _close(fg.jit(lambda y: fg.jvp(fg.grad(f), (y,), (v,))[1])(x),
               fg.jvp(fg.grad(f), (x,), (v,))[1], 1e-9, 1e-10, name)


def test_compile_cache_is_shared_between_equal_programs():
    lowering.clear_memory_cache()
    before = lowering.stats.compiles
    f1 = fg.jit(lambda x: fnp.cos(x) + 1.0)
    f2 = fg.jit(lambda y: fnp.cos(y) + 1.0)
    f1(np.ones(3))
    f2(np.ones(3))
    assert f1.trace_count == 1 and f2.trace_count == 1
    assert lowering.stats.compiles - before == 1


def test_a_new_batch_size_compiles_no_new_kernel():
    # The mean's gradient scales by 1/batch: that constant is a kernel argument, not part of
    # the kernel's source, so the second batch size reuses every kernel.
    def loss(w, x):
        return fnp.mean(fnp.tanh(x @ w) ** 2)

    g = fg.jit(fg.grad(loss))
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    g(w, RNG.standard_normal((32, 4)).astype(np.float32))
    before = lowering.stats.kernels_compiled + lowering.stats.kernel_disk_hits
    x16 = RNG.standard_normal((16, 4)).astype(np.float32)
    got = g(w, x16)
    assert lowering.stats.kernels_compiled + lowering.stats.kernel_disk_hits == before
    assert g.trace_count == 2
    _close(got, fg.grad(loss)(w, x16), 1e-5, 1e-6)
