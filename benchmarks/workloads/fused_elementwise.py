"""fused_elementwise: memory-bound elementwise chains, where fusion decides the speed.

Two functions over float32 vectors of 1e6 and 1e7 elements:
  * ``gelu``: the tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  * ``chain8``: eight arithmetic ops, ((((x a + b) x - c) x + d) x - e), Horner style.
Reported: time per call and effective bandwidth, counting the input read once and the output
written once (8 bytes per element), against NumPy's measured copy bandwidth (``np.copyto`` of 1e7
float32 into a preallocated buffer), which is as fast as any single pass over memory gets.
"""
from __future__ import annotations

import math

import numpy as np

from benchmarks.harness import Bench, funcgrad_variants, require, torch_threads

TITLE = "GELU (tanh) and an 8-op arithmetic chain over float32 vectors; GB/s = 8 bytes/element"
A, B, C, D, E = 0.5, 0.25, 1.5, 0.75, 0.125
K_GELU = math.sqrt(2.0 / math.pi)


def sizes(b: Bench):
    return (10**6, 10**7)


def _x(n):
    return np.random.default_rng(1).standard_normal(n).astype(np.float32)


def _gelu(tanh):
    return lambda x: 0.5 * x * (1.0 + tanh(K_GELU * (x + 0.044715 * (x * x * x))))


def _chain8(x):
    return (((x * A + B) * x - C) * x + D) * x - E


def numpy_ref(name, x):
    if name == "gelu":
        f32 = np.float32
        return f32(0.5) * x * (f32(1) + np.tanh(f32(K_GELU) * (x + f32(0.044715) * (x * x * x))))
    return (((x * np.float32(A) + np.float32(B)) * x - np.float32(C)) * x
            + np.float32(D)) * x - np.float32(E)


def _cases(b: Bench, make_fn, variant, primary, to_input=None, block=None):
    """Times ``make_fn(name)`` on every size; ``block`` waits for asynchronous results."""
    for n in sizes(b):
        x = _x(n)
        xin = to_input(x) if to_input else x
        for name in ("gelu", "chain8"):
            ref = numpy_ref(name, x)
            f = make_fn(name)
            run = (lambda f=f, xin=xin: block(f(xin))) if block else (lambda f=f, xin=xin: f(xin))
            row = b.bench(f"{name} n={n:.0e}", variant, run, ref=ref, primary=primary,
                          budget_s=1.5 if b.quick else 5.0)
            if row is not None:
                row["gbps"] = 8.0 * n / row["median_s"] / 1e9
            del ref


def run_numpy(b: Bench):
    _cases(b, lambda name: (lambda x: numpy_ref(name, x)), "ufuncs", primary=True)
    for n in sizes(b):
        src, dst = _x(n), np.empty(n, np.float32)
        row = b.bench(f"copy n={n:.0e}", "np.copyto", lambda src=src, dst=dst: np.copyto(dst, src),
                      budget_s=1.5 if b.quick else 5.0)
        if row is not None:
            row["gbps"] = 8.0 * n / row["median_s"] / 1e9
            row["note"] = "bandwidth reference (read 4 + write 4 bytes per element)"


def run_funcgrad(b: Bench):
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")
    for wrap, variant in funcgrad_variants(fg):
        fns = {"gelu": wrap(_gelu(fnp.tanh)), "chain8": wrap(_chain8)}
        _cases(b, fns.__getitem__, variant, primary=True, to_input=fnp.asarray)


def run_jax(b: Bench):
    jax, jnp = require("jax"), require("jax.numpy")
    fns = {"gelu": jax.jit(_gelu(jnp.tanh)), "chain8": jax.jit(_chain8)}
    _cases(b, fns.__getitem__, "jax.jit", primary=False, to_input=jax.device_put,
           block=jax.block_until_ready)


def run_torch(b: Bench):
    torch = require("torch")
    torch_threads(torch, b.threads)
    fns = {"gelu": _gelu(torch.tanh), "chain8": _chain8}
    _cases(b, fns.__getitem__, "eager", primary=False, to_input=torch.from_numpy)
    builtin = lambda name: (lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
    for n in sizes(b):
        x = _x(n)
        xt = torch.from_numpy(x)
        row = b.bench(f"gelu n={n:.0e}", "F.gelu(approximate='tanh')",
                      lambda xt=xt: builtin("gelu")(xt), ref=numpy_ref("gelu", x),
                      budget_s=1.5 if b.quick else 5.0)
        if row is not None:
            row["gbps"] = 8.0 * n / row["median_s"] / 1e9


def header(rows):
    """Adds each row's fraction of the copy bandwidth at its size; returns the header lines."""
    copies = {r["case"].split()[-1]: r for r in rows
              if r["variant"] == "np.copyto" and r["status"] == "ok"}
    for r in rows:
        copy = copies.get(r["case"].split()[-1])
        if r.get("gbps") is not None and copy is not None and r is not copy:
            r["copy_fraction"] = r["gbps"] / copy["gbps"]
    lines = [f"measured copy bandwidth (np.copyto into a preallocated buffer), {size}: "
             f"{r['gbps']:.1f} GB/s" for size, r in sorted(copies.items())]
    if lines:
        lines.append("1e6 float32 (4 MB in, 4 MB out) largely stays in the CPU caches; 1e7 goes "
                     "to DRAM, and each call's fresh 40 MB output is page-faulted in")
    return lines


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch}
