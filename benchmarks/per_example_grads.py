"""Per-example gradients of a logistic-regression loss (10 features, batch 256).

Compares, in one run:
  * funcgrad ``vmap(grad(loss))`` against a Python loop of ``grad(loss)`` calls (the issue's
    target: at least 20x faster);
  * a hand-written NumPy reference (the closed-form per-example gradient);
  * JAX (``vmap(grad)``, eager and jit) and PyTorch (``torch.func.vmap(grad)``) when installed.

Prints one JSON object: median seconds per call and ratios. Run:
    python benchmarks/per_example_grads.py [--batch 256] [--features 10] [--repeats 20]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def timeit(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def funcgrad_cases(w, xs, ys):
    import funcgrad as fg
    import funcgrad.numpy as fnp

    def loss(w, x, y):
        return fnp.logaddexp(0.0, -y * fnp.dot(x, w))
    per_example = fg.vmap(fg.grad(loss), in_axes=(None, 0, 0))
    grad = fg.grad(loss)
    check = np.asarray(per_example(w, xs, ys))
    return {
        "funcgrad_vmap_grad": lambda: per_example(w, xs, ys),
        "funcgrad_loop_grad": lambda: [grad(w, x, y) for x, y in zip(xs, ys)],
    }, check


def numpy_case(w, xs, ys):
    def per_example():
        z = xs @ w
        s = 1.0 / (1.0 + np.exp(ys * z))          # d/dz log(1 + exp(-y z)) = -y * s
        return (-ys * s)[:, None] * xs
    return per_example, per_example()


def jax_cases(w, xs, ys):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}, None

    def loss(w, x, y):
        return jnp.logaddexp(0.0, -y * jnp.dot(x, w))
    f = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))
    fj = jax.jit(f)
    wj, xj, yj = map(jnp.asarray, (w, xs, ys))
    return {
        "jax_vmap_grad_eager": lambda: f(wj, xj, yj).block_until_ready(),
        "jax_vmap_grad_jit": lambda: fj(wj, xj, yj).block_until_ready(),
    }, np.asarray(f(wj, xj, yj))


def torch_cases(w, xs, ys):
    try:
        import torch
        from torch.func import grad, vmap
    except ImportError:
        return {}, None
    torch.set_num_threads(2)

    def loss(w, x, y):
        return torch.nn.functional.softplus(-y * torch.dot(x, w))
    f = vmap(grad(loss), in_dims=(None, 0, 0))
    wt, xt, yt = (torch.tensor(a) for a in (w, xs, ys))
    return {"torch_func_vmap_grad": lambda: f(wt, xt, yt)}, f(wt, xt, yt).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    w = rng.standard_normal(args.features).astype(np.float32)
    xs = rng.standard_normal((args.batch, args.features)).astype(np.float32)
    ys = np.sign(rng.standard_normal(args.batch)).astype(np.float32)

    ref_fn, ref = numpy_case(w, xs, ys)
    cases = {"numpy_reference": ref_fn}
    fg_cases, fg_out = funcgrad_cases(w, xs, ys)
    np.testing.assert_allclose(fg_out, ref, rtol=1e-4, atol=1e-6)
    cases.update(fg_cases)
    for make in (jax_cases, torch_cases):
        extra, out = make(w, xs, ys)
        if out is not None:
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6)
        cases.update(extra)

    seconds = {}
    for name, fn in cases.items():
        reps = max(3, args.repeats // 10) if name == "funcgrad_loop_grad" else args.repeats
        seconds[name] = timeit(fn, reps, warmup=1 if name == "funcgrad_loop_grad" else 2)
    base = seconds["funcgrad_vmap_grad"]
    result = {
        "benchmark": "per_example_grads",
        "batch": args.batch, "features": args.features, "dtype": "float32",
        "seconds_per_call": seconds,
        "speedup_vmap_over_loop": seconds["funcgrad_loop_grad"] / base,
        "ratio_to_funcgrad_vmap": {k: v / base for k, v in seconds.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
