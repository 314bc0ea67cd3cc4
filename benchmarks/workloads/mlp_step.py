"""mlp_step: one full training step (forward, backward, SGD update) of a 784-512-512-10 MLP.

float32, batch 128, ReLU, softmax cross-entropy on integer labels. Each call feeds the updated
parameters back in, as a training loop does. Reported: median step time, and the process's peak
RSS after all the steps (each system runs in its own process, so the figure includes its imports;
funcgrad's eager row runs after its jit row in the same process, so its peak includes both).

GPU rows (entries ``<system>.gpu``, case "train step on gpu", skipped with the reason where no GPU
is usable) keep parameters and batch on the device and wait for the GPU in every timed call;
JAX and PyTorch compute float32 matmuls in full float32 there (no TF32), as funcgrad does.
"""
from __future__ import annotations

from benchmarks.harness import (
    FG_GPU_VARIANT,
    GPU_CASE_SUFFIX,
    Bench,
    current_rss_mib,
    funcgrad_gpu_bench,
    funcgrad_variants,
    jax_gpu,
    peak_rss_mib,
    require,
    torch_gpu,
    torch_synced,
)
from benchmarks.workloads import _mlp

TITLE = "784-512-512-10 MLP, one SGD training step (fwd + bwd + update), batch 128, float32"
CASE = "train step"
GPU_CASE = CASE + GPU_CASE_SUFFIX


def _reference():
    params, x, y = _mlp.init()
    new, loss = _mlp.numpy_step(params, x, y)
    return params, x, y, _mlp.check_output(params, new, loss)


def _finish(b: Bench, row, rss_import, steps):
    if row is not None:
        row["peak_rss_mib"] = peak_rss_mib()
        row["import_rss_mib"] = rss_import
        row["steps"] = steps


def run_numpy(b: Bench):
    params, x, y, ref = _reference()
    rss = current_rss_mib()
    state = [params, 0]

    def run():
        state[0], loss = _mlp.numpy_step(state[0], x, y)
        state[1] += 1
        return loss

    check = lambda: _mlp.check_output(params, *_mlp.numpy_step(params, x, y))
    row = b.bench(CASE, "manual backprop", run, check=check, ref=ref, primary=True)
    _finish(b, row, rss, state[1])


def run_funcgrad(b: Bench):
    params, x, y, ref = _reference()
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")
    rss = current_rss_mib()
    for wrap, variant in funcgrad_variants(fg):
        step = wrap(_mlp.funcgrad_step(fg, fnp))
        state = [params, 0]

        def run(step=step, state=state):
            state[0], loss = step(state[0], x, y)
            state[1] += 1
            return loss

        check = lambda step=step: _mlp.check_output(params, *step(params, x, y))
        row = b.bench(CASE, variant, run, check=check, ref=ref, primary=True)
        _finish(b, row, rss, state[1])


def run_funcgrad_gpu(b: Bench):
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")
    if not b.gpu_or_skip(GPU_CASE, FG_GPU_VARIANT):
        return
    params, x, y, ref = _reference()
    rss = current_rss_mib()
    dparams, xd, yd = fg.device_put((params, x, y), fg.devices("cuda")[0])
    step = fg.jit(_mlp.funcgrad_step(fg, fnp))
    state = [dparams, 0]

    def run():
        state[0], loss = step(state[0], xd, yd)
        state[1] += 1
        return loss.block_until_ready()  # waits for the whole step (the GPU, not one value)

    check = lambda: _mlp.check_output(params, *step(dparams, xd, yd))
    bench = funcgrad_gpu_bench(b)
    _finish(b, bench(GPU_CASE, FG_GPU_VARIANT, run, check=check, ref=ref, primary=True), rss,
            state[1])


def run_jax(b: Bench):
    _jax_case(b, CASE)


def run_jax_gpu(b: Bench):
    jax = require("jax")
    if b.gpu_or_skip(GPU_CASE, "jax.jit"):
        _jax_case(b, GPU_CASE, jax_gpu(jax))


def _jax_case(b: Bench, case: str, device=None):
    params, x, y, ref = _reference()
    jax = require("jax")
    jnp = require("jax.numpy")
    rss = current_rss_mib()
    step = jax.jit(_mlp.jax_step(jax, jnp))
    dparams = jax.device_put(params, device)
    xd, yd = jax.device_put(x, device), jax.device_put(y, device)
    state = [dparams, 0]

    def run():
        state[0], loss = step(state[0], xd, yd)
        state[1] += 1
        return jax.block_until_ready(loss)

    check = lambda: _mlp.check_output(params, *step(dparams, xd, yd))
    _finish(b, b.bench(case, "jax.jit", run, check=check, ref=ref), rss, state[1])


def _torch_case(b: Bench, variant: str, compile_loss: bool, case: str = CASE, device=None):
    params, x, y, ref = _reference()
    torch = require("torch")
    from benchmarks.harness import torch_threads

    torch_threads(torch, b.threads)
    rss = current_rss_mib()
    loss_fn = None
    if compile_loss:
        loss_fn = torch.compile(lambda flat, x, y: _mlp.torch_loss(torch, flat, x, y))
    step = _mlp.torch_step(torch, loss_fn)
    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device).long()
    flat = _mlp.torch_params(torch, params, device)

    def check():
        fresh = _mlp.torch_params(torch, params, device)
        loss = step(fresh, xt, yt)
        return _mlp.check_output(params, _mlp.torch_pairs(fresh), loss)

    calls = [0]

    def run():
        calls[0] += 1
        return step(flat, xt, yt)

    timed = run if device is None else torch_synced(torch, run)
    _finish(b, b.bench(case, variant, timed, check=check, ref=ref), rss, calls[0])


def run_torch(b: Bench):
    _torch_case(b, "eager", compile_loss=False)


def run_torch_compile(b: Bench):
    _torch_case(b, "torch.compile (loss fn; inductor)", compile_loss=True)


def run_torch_gpu(b: Bench):
    torch = require("torch")
    if b.gpu_or_skip(GPU_CASE, "eager"):
        _torch_case(b, "eager", compile_loss=False, case=GPU_CASE, device=torch_gpu(torch))


def run_torch_compile_gpu(b: Bench):
    torch = require("torch")
    variant = "torch.compile (loss fn; inductor)"
    if b.gpu_or_skip(GPU_CASE, variant):
        _torch_case(b, variant, compile_loss=True, case=GPU_CASE, device=torch_gpu(torch))


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch,
           "torch.compile": run_torch_compile, "funcgrad.gpu": run_funcgrad_gpu,
           "jax.gpu": run_jax_gpu, "torch.gpu": run_torch_gpu,
           "torch.compile.gpu": run_torch_compile_gpu}
# Entries that may fail or take long; they get their own time limit and are left out of --quick.
OPTIONAL = {"torch.compile": 240, "torch.compile.gpu": 400}
