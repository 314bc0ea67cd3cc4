"""per_example_grads: gradients of a logistic-regression loss, one per example of a batch.

loss(w, x, y) = log(1 + exp(-y <x, w>)), 10 features, batch 256, labels +-1, float32.
  * NumPy: the closed form by hand, -y sigmoid(-y <x, w>) x for every row at once.
  * funcgrad: ``fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))`` eagerly and under ``fg.jit``, and a
    Python loop of ``fg.grad`` over the 256 examples, whose ratio to the eager vmap is the
    speedup vmap buys.
  * JAX: ``jax.vmap(jax.grad(loss))`` eagerly and under ``jax.jit``; PyTorch: ``torch.func``'s
    ``vmap(grad(loss))``.
"""
from __future__ import annotations

import numpy as np

from benchmarks.harness import Bench, require, torch_threads

TITLE = "per-example gradients, logistic regression, 10 features, batch 256, float32"
CASE = "per-example grads"
FEATURES, BATCH = 10, 256


def _inputs():
    rng = np.random.default_rng(3)
    w = rng.standard_normal(FEATURES).astype(np.float32)
    xs = rng.standard_normal((BATCH, FEATURES)).astype(np.float32)
    ys = np.sign(rng.standard_normal(BATCH)).astype(np.float32)
    return w, xs, ys


def numpy_per_example(w, xs, ys):
    z = xs @ w
    s = np.float32(1) / (np.float32(1) + np.exp(ys * z))   # d/dz log(1 + exp(-y z)) = -y s
    return (-ys * s)[:, None] * xs


def run_numpy(b: Bench):
    w, xs, ys = _inputs()
    ref = numpy_per_example(w, xs, ys)
    b.bench(CASE, "closed form by hand", lambda: numpy_per_example(w, xs, ys), ref=ref,
            primary=True)


def run_funcgrad(b: Bench):
    w, xs, ys = _inputs()
    ref = numpy_per_example(w, xs, ys)
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")

    def loss(w, x, y):
        return fnp.logaddexp(0.0, -y * fnp.dot(x, w))

    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))
    grad = fg.grad(loss)
    fw, fxs, fys = fnp.asarray(w), fnp.asarray(xs), fnp.asarray(ys)
    # jit first: the table's funcgrad baseline is the first primary row that ran.
    jitted = fg.jit(per_example)
    b.bench(CASE, "jit(vmap(grad))", lambda: jitted(fw, fxs, fys), ref=ref, primary=True)
    eager = b.bench(CASE, "vmap(grad) eager", lambda: per_example(fw, fxs, fys), ref=ref,
                    primary=True)
    loop = lambda: fnp.stack([grad(fw, x, y) for x, y in zip(xs, ys)])
    row = b.bench(CASE, "Python loop of grad", loop, ref=ref, repeats=3 if b.quick else 7,
                  warmup=1, budget_s=3.0 if b.quick else 10.0)
    if row is not None and eager is not None:
        row["note"] = f"vmap(grad) eager is {row['median_s'] / eager['median_s']:.0f}x faster"


def run_jax(b: Bench):
    w, xs, ys = _inputs()
    ref = numpy_per_example(w, xs, ys)
    jax, jnp = require("jax"), require("jax.numpy")

    def loss(w, x, y):
        return jnp.logaddexp(0.0, -y * jnp.dot(x, w))

    f = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))
    fj = jax.jit(f)
    args = tuple(map(jax.device_put, (w, xs, ys)))
    b.bench(CASE, "vmap(grad) eager", lambda: f(*args).block_until_ready(), ref=ref)
    b.bench(CASE, "jit(vmap(grad))", lambda: fj(*args).block_until_ready(), ref=ref)


def run_torch(b: Bench):
    w, xs, ys = _inputs()
    ref = numpy_per_example(w, xs, ys)
    torch = require("torch")
    torch_threads(torch, b.threads)
    from torch.func import grad, vmap

    def loss(w, x, y):
        return torch.nn.functional.softplus(-y * torch.dot(x, w))

    f = vmap(grad(loss), in_dims=(None, 0, 0))
    args = tuple(torch.from_numpy(a) for a in (w, xs, ys))
    b.bench(CASE, "torch.func vmap(grad)", lambda: f(*args), ref=ref)


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch}
