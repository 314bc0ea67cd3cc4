"""Every fused kernel the CUDA backend generates for a corpus of programs compiles to PTX for
sm_90 (the simulator, which runs tests/cuda, checks no types). Skips, saying why, where no
CUDA toolchain is installed (see tests/cuda_ptx.py)."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from tests import test_compositions as C
from tests.cuda_ptx import compile_ptx, require_ptx

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")


def _reductions(dt):
    def f(x):
        outs = [x.sum(axis=0), x.sum(axis=1), x.max(axis=1), x.min(axis=0)]
        if np.dtype(dt).kind != "b":
            outs += [x.prod(axis=1), (x * x).sum()]
        if np.dtype(dt).kind in "iub":
            outs += [lax.reduce_and(x, (1,)), lax.reduce_or(x, (0,))]
        return outs
    return f, (np.ones((3, 4), dt),)


def _mlp_step():
    nn = fg.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 3))
    params = model.init(fg.random.PRNGKey(0))
    opt = fg.optim.adamw(1e-3)

    def step(p, s, x, y, key):
        def loss(p):
            logits = model.apply(p, x, train=True, rng=key)
            return nn.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        val, g = fg.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return fg.optim.apply_updates(p, u), s, val
    return step, (params, opt.init(params), np.ones((5, 4), np.float32),
                  np.zeros(5, np.int32), fg.random.PRNGKey(1))


def _cnn_step():
    nn = fg.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    params = model.init(fg.random.PRNGKey(0))
    state = model.init_state()

    def step(p, st, x, y):
        def loss(p):
            logits, st2 = model.apply(p, x, train=True, state=st)
            return nn.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean(), st2
        (val, st2), g = fg.value_and_grad(loss, has_aux=True)(p)
        return fg.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g), st2, val
    return step, (params, state, np.ones((2, 1, 4, 4), np.float32), np.zeros(2, np.int32))


PROGRAMS = {f"corpus_{k}": (lambda f=f: fg.grad(f)) for k, (f, _) in C.PROGRAMS.items()
            if not k.startswith("python_branch")}
ARGS = {f"corpus_{k}": mk for k, (_, mk) in C.PROGRAMS.items()}
CASES = {
    **{f"reductions_{dt}": _reductions(dt) for dt in
       ("float32", "float64", "int32", "int64", "uint8", "bool")},
    "complex": (lambda z: (z * fnp.conj(z) + 1j, (z * z).sum(), fnp.real(z).max()),
                (np.ones(3, np.complex64),)),
    "broadcasting": (lambda x, y: fnp.exp(x[:, None] * y[None, :]).mean(axis=0) / x.sum(),
                     (np.ones(3, np.float32), np.ones(4, np.float32))),
    "random": (lambda k: (fg.random.normal(k, (3, 2)), fg.random.randint(k, (4,), 0, 9),
                          fg.random.bernoulli(k, 0.5, (3,))), (fg.random.PRNGKey(0),)),
    "mlp_step": _mlp_step(),
    "cnn_step": _cnn_step(),
}


def _kernels(fn, args):
    """``(name, pyfunc, signature)`` of every fused kernel of ``fn`` on the CUDA backend."""
    import numba
    from numba import types

    from funcgrad.lowering import codegen, cuda_runtime, fusion, numba_cuda, passes
    closed = fg.make_jaxpr(fn)(*args)
    j = closed.jaxpr
    j = passes.simplify(fg.core.Jaxpr((), (*j.constvars, *j.invars), j.eqns, j.outvars))
    plan = fusion.plan(j, codegen.can_fuse)
    out = []
    for step in plan.steps:
        if type(step) is not fusion.KernelStep:
            continue
        code = numba_cuda.kernel_code(step, cuda_runtime.threads_per_block())
        mod = numba_cuda.load(code)
        sig = [types.intp] * len(code.bounds)
        for inp, shape in zip(step.inputs, code.in_shapes):
            sig.append(types.Array(numba.from_dtype(inp.var.aval.dtype), len(shape), "C"))
        for v, shape in zip(step.outputs, code.out_shapes):
            sig.append(types.Array(numba.from_dtype(v.aval.dtype), len(shape), "C"))
        for r, shape in zip(step.reductions, code.red_shapes):
            sig.append(types.Array(numba.from_dtype(r.out.aval.dtype), len(shape), "C"))
        names = ["kernel_block", "kernel_thread"] if step.reductions else ["kernel"]
        out += [(n, getattr(mod, n).py_func, tuple(sig)) for n in names]
    return out


@pytest.mark.parametrize("name", sorted(CASES) + sorted(PROGRAMS))
def test_every_generated_kernel_compiles_for_sm90(name):
    require_ptx()
    if name in CASES:
        fn, args = CASES[name]
    else:
        fn, args = PROGRAMS[name](), (ARGS[name](),)
    kernels = _kernels(fn, args)
    assert kernels or name.startswith("corpus_"), f"{name}: no fused kernels"
    for kname, pyfunc, sig in kernels:
        ptx = compile_ptx(pyfunc, sig)
        assert ".target sm_90" in ptx, (name, kname)
