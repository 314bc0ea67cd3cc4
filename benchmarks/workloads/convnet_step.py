"""convnet_step: one SGD training step of a small CNN on 28x28 grey images.

conv 3x3 1->8 (pad 1), ReLU, conv 3x3 8->16 (pad 1), ReLU, 2x2 max pool, dense 3136->10,
softmax cross-entropy on integer labels; float32, batch 64, NCHW. Each call feeds the updated
parameters back in. The NumPy reference does forward and backward by hand (im2col + BLAS);
funcgrad's row is ``funcgrad.nn`` layers under ``fg.jit``.

GPU rows (entries ``<system>.gpu``, case "train step on gpu", skipped with the reason where no GPU
is usable) keep parameters and batch on the device and wait for the GPU in every timed call;
JAX and PyTorch (cuDNN) compute float32 convolutions and matmuls in full float32 there (no TF32).
"""
from __future__ import annotations

import numpy as np

from benchmarks.harness import (
    FG_GPU_VARIANT,
    GPU_CASE_SUFFIX,
    Bench,
    funcgrad_gpu_bench,
    jax_gpu,
    require,
    torch_gpu,
    torch_synced,
    torch_threads,
)

TITLE = "small CNN (conv8, conv16, pool, dense10), one SGD step, batch 64 of 1x28x28, float32"
CASE = "train step"
GPU_CASE = CASE + GPU_CASE_SUFFIX
BATCH, LR = 64, 0.01


def init(seed: int = 0):
    rng = np.random.default_rng(seed)

    def u(shape, fan_in):
        b = 1 / np.sqrt(fan_in)
        return rng.uniform(-b, b, shape).astype(np.float32)

    params = {"w1": u((8, 1, 3, 3), 9), "b1": u((8,), 9), "w2": u((16, 8, 3, 3), 72),
              "b2": u((16,), 72), "w3": u((16 * 14 * 14, 10), 3136), "b3": u((10,), 3136)}
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int32)
    return params, x, y


KEYS = ("w1", "b1", "w2", "b2", "w3", "b3")


def check_output(old, new, loss):
    from benchmarks.harness import to_numpy

    deltas = [np.asarray(old[k], np.float64) - to_numpy(new[k])[0].astype(np.float64)
              for k in KEYS]
    return [to_numpy(loss)[0].astype(np.float64), deltas]


# ------------------------------------------------------------------------------ NumPy


def _patches(xp, k=3):
    # (N, C, H+2, W+2) -> (N, H, W, C, k, k) view of every 3x3 window.
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    return win.transpose(0, 2, 3, 1, 4, 5)


def _conv(x, w, b):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = _patches(xp).reshape(x.shape[0] * x.shape[2] * x.shape[3], -1)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.reshape(x.shape[0], x.shape[2], x.shape[3], -1).transpose(0, 3, 1, 2), cols


def _conv_back(dout, x, w, cols):
    n, o, h, wd = dout.shape
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (d2.T @ cols).reshape(w.shape)
    db = d2.sum(0)
    dcols = (d2 @ w.reshape(o, -1)).reshape(n, h, wd, x.shape[1], 3, 3)
    dxp = np.zeros((n, x.shape[1], h + 2, wd + 2), x.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def numpy_step(p, x, y):
    n = x.shape[0]
    z1, cols1 = _conv(x, p["w1"], p["b1"])
    h1 = np.maximum(z1, 0)
    z2, cols2 = _conv(h1, p["w2"], p["b2"])
    h2 = np.maximum(z2, 0)
    win = h2.reshape(n, 16, 14, 2, 14, 2)
    pooled = win.max(axis=(3, 5))
    flat = pooled.reshape(n, -1)
    logits = flat @ p["w3"] + p["b3"]
    m = logits.max(1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, y])
    dl = e / s
    dl[rows, y] -= 1
    dl *= np.float32(1 / n)
    g = {"w3": flat.T @ dl, "b3": dl.sum(0)}
    dpool = (dl @ p["w3"].T).reshape(pooled.shape)
    # The first maximum of each window takes the cotangent.
    flat_win = win.transpose(0, 1, 2, 4, 3, 5).reshape(n, 16, 14, 14, 4)
    first = np.argmax(flat_win, axis=-1)
    dwin = np.zeros_like(flat_win)
    np.put_along_axis(dwin, first[..., None], dpool[..., None], axis=-1)
    dh2 = dwin.reshape(n, 16, 14, 14, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(h2.shape)
    dz2 = dh2 * (z2 > 0)
    dh1, g["w2"], g["b2"] = _conv_back(dz2, h1, p["w2"], cols2)
    dz1 = dh1 * (z1 > 0)
    _, g["w1"], g["b1"] = _conv_back(dz1, x, p["w1"], cols1)
    return {k: p[k] - np.float32(LR) * g[k] for k in KEYS}, np.float32(loss)


def run_numpy(b: Bench):
    params, x, y = init()
    ref = check_output(params, *numpy_step(params, x, y))
    state = [params]

    def run():
        state[0], loss = numpy_step(state[0], x, y)
        return loss

    b.bench(CASE, "manual backprop (im2col)", run,
            check=lambda: check_output(params, *numpy_step(params, x, y)), ref=ref,
            primary=True)


# ------------------------------------------------------------------------------ funcgrad


def _nn_params(p):
    return {"conv2d_0": {"w": p["w1"], "b": p["b1"]}, "conv2d_2": {"w": p["w2"], "b": p["b2"]},
            "linear_6": {"w": p["w3"], "b": p["b3"]}}


def _flat_params(q):
    return {"w1": q["conv2d_0"]["w"], "b1": q["conv2d_0"]["b"], "w2": q["conv2d_2"]["w"],
            "b2": q["conv2d_2"]["b"], "w3": q["linear_6"]["w"], "b3": q["linear_6"]["b"]}


def _funcgrad_step(fg):
    nn = fg.nn
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 14 * 14, 10))

    def loss_fn(q, x, y):
        logits = model.apply(q, x)
        return nn.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(q, x, y):
        loss, g = fg.value_and_grad(loss_fn)(q, x, y)
        return fg.tree_util.tree_map(lambda a, d: a - LR * d, q, g), loss

    return step


def run_funcgrad(b: Bench):
    params, x, y = init()
    ref = check_output(params, *numpy_step(params, x, y))
    fg = require("funcgrad")
    step = _funcgrad_step(fg)
    for wrap, variant in [(fg.jit, f"fg.jit [{fg.config.values.default_backend}]"),
                          (lambda f: f, "eager")]:
        f = wrap(step)
        state = [_nn_params(params)]

        def run(f=f, state=state):
            state[0], loss = f(state[0], x, y)
            return loss

        def check(f=f):
            new, loss = f(_nn_params(params), x, y)
            return check_output(params, _flat_params(new), loss)

        b.bench(CASE, variant, run, check=check, ref=ref, primary=True)


def run_funcgrad_gpu(b: Bench):
    fg = require("funcgrad")
    if not b.gpu_or_skip(GPU_CASE, FG_GPU_VARIANT):
        return
    params, x, y = init()
    ref = check_output(params, *numpy_step(params, x, y))
    dparams, xd, yd = fg.device_put((_nn_params(params), x, y), fg.devices("cuda")[0])
    f = fg.jit(_funcgrad_step(fg))
    state = [dparams]

    def run():
        state[0], loss = f(state[0], xd, yd)
        return loss.block_until_ready()  # waits for the whole step (the GPU, not one value)

    def check():
        new, loss = f(dparams, xd, yd)
        return check_output(params, _flat_params(new), loss)

    funcgrad_gpu_bench(b)(GPU_CASE, FG_GPU_VARIANT, run, check=check, ref=ref, primary=True)


# ------------------------------------------------------------------------------ JAX


def run_jax(b: Bench):
    _jax_case(b, CASE)


def run_jax_gpu(b: Bench):
    jax = require("jax")
    if b.gpu_or_skip(GPU_CASE, "jax.jit"):
        _jax_case(b, GPU_CASE, jax_gpu(jax))


def _jax_case(b: Bench, case: str, device=None):
    params, x, y = init()
    ref = check_output(params, *numpy_step(params, x, y))
    jax, jnp = require("jax"), require("jax.numpy")

    def conv(h, w, bias):
        out = jax.lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)),
                                           dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + bias[None, :, None, None]

    def loss_fn(p, x, y):
        h = jax.nn.relu(conv(x, p["w1"], p["b1"]))
        h = jax.nn.relu(conv(h, p["w2"], p["b2"]))
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logits = h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        return jax.tree_util.tree_map(lambda a, d: a - LR * d, p, g), loss

    dp, xd, yd = (jax.device_put(a, device) for a in (params, x, y))
    state = [dp]

    def run():
        state[0], loss = step(state[0], xd, yd)
        return jax.block_until_ready(loss)

    b.bench(case, "jax.jit", run, check=lambda: check_output(params, *step(dp, xd, yd)),
            ref=ref)


# ------------------------------------------------------------------------------ PyTorch


def _torch_case(b: Bench, variant: str, compiled: bool, case: str = CASE, device=None):
    params, x, y = init()
    ref = check_output(params, *numpy_step(params, x, y))
    torch = require("torch")
    F = torch.nn.functional
    torch_threads(torch, b.threads)

    def loss_fn(t, x, y):
        h = F.relu(F.conv2d(x, t["w1"], t["b1"], padding=1))
        h = F.relu(F.conv2d(h, t["w2"], t["b2"], padding=1))
        h = F.max_pool2d(h, 2)
        return F.cross_entropy(h.flatten(1) @ t["w3"] + t["b3"], y)

    if compiled:
        loss_fn = torch.compile(loss_fn)

    def fresh():
        return {k: torch.tensor(params[k], requires_grad=True, device=device) for k in KEYS}

    def step(t, x, y):
        loss = loss_fn(t, x, y)
        grads = torch.autograd.grad(loss, [t[k] for k in KEYS])
        with torch.no_grad():
            torch._foreach_add_([t[k] for k in KEYS], grads, alpha=-LR)
        return loss.detach()

    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device).long()
    t = fresh()

    def check():
        f = fresh()
        loss = step(f, xt, yt)
        return check_output(params, f, loss)

    run = lambda: step(t, xt, yt)
    b.bench(case, variant, run if device is None else torch_synced(torch, run), check=check,
            ref=ref)


def run_torch(b: Bench):
    _torch_case(b, "eager", compiled=False)


def run_torch_compile(b: Bench):
    _torch_case(b, "torch.compile (loss fn; inductor)", compiled=True)


def run_torch_gpu(b: Bench):
    torch = require("torch")
    if b.gpu_or_skip(GPU_CASE, "eager"):
        _torch_case(b, "eager", compiled=False, case=GPU_CASE, device=torch_gpu(torch))


def run_torch_compile_gpu(b: Bench):
    torch = require("torch")
    variant = "torch.compile (loss fn; inductor)"
    if b.gpu_or_skip(GPU_CASE, variant):
        _torch_case(b, variant, compiled=True, case=GPU_CASE, device=torch_gpu(torch))


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch,
           "torch.compile": run_torch_compile, "funcgrad.gpu": run_funcgrad_gpu,
           "jax.gpu": run_jax_gpu, "torch.gpu": run_torch_gpu,
           "torch.compile.gpu": run_torch_compile_gpu}
OPTIONAL = {"torch.compile": 240, "torch.compile.gpu": 400}
