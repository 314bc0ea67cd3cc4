"""fused_elementwise: memory-bound elementwise chains, where fusion decides the speed.

Two functions over float32 vectors of 1e6 and 1e7 elements:
  * ``gelu``: the tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  * ``chain8``: eight arithmetic ops, ((((x a + b) x - c) x + d) x - e), Horner style.
Reported: time per call and effective bandwidth, counting the input read once and the output
written once (8 bytes per element), against NumPy's measured copy bandwidth (``np.copyto`` of 1e7
float32 into a preallocated buffer), which is as fast as any single pass over memory gets.

GPU rows (entries ``<system>.gpu``, skipped with the reason where no GPU is usable) run the same
functions on 1e7 and 1e8 elements resident on the device (1e6 is launch-bound there), each call
waiting for the GPU, against a device-to-device copy of the same bytes (numba's
``copy_to_device``, a cuMemcpyDtoD, and torch's ``dst.copy_(src)``; the faster is the reference).
"""
from __future__ import annotations

import math

import numpy as np

from benchmarks.harness import (
    FG_GPU_VARIANT,
    GPU_CASE_SUFFIX,
    Bench,
    funcgrad_gpu_bench,
    funcgrad_variants,
    jax_gpu,
    require,
    torch_gpu,
    torch_synced,
    torch_threads,
)

TITLE = "GELU (tanh) and an 8-op arithmetic chain over float32 vectors; GB/s = 8 bytes/element"
A, B, C, D, E = 0.5, 0.25, 1.5, 0.75, 0.125
K_GELU = math.sqrt(2.0 / math.pi)
GPU_SIZES = (10**7, 10**8)  # 1e6 float32 is launch-bound on a GPU
GPU_SKIPPED = "gelu, chain8, copy" + GPU_CASE_SUFFIX  # the case a skipped GPU entry reports
NUMBA_COPY = "copy_to_device (numba, cuMemcpyDtoD)"
TORCH_COPY = "dst.copy_(src)"
COPY_VARIANTS = ("np.copyto", NUMBA_COPY, TORCH_COPY)  # the bandwidth references


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


def _case(name, n, gpu=False):
    return f"{name} n={n:.0e}" + (GPU_CASE_SUFFIX if gpu else "")


def _cases(b: Bench, make_fn, variant, primary, to_input=None, block=None, gpu=False,
           bench=None):
    """Times ``make_fn(name)`` on every size; ``block`` waits for asynchronous results."""
    bench = bench or b.bench
    for n in GPU_SIZES if gpu else sizes(b):
        x = _x(n)
        xin = to_input(x) if to_input else x
        for name in ("gelu", "chain8"):
            ref = numpy_ref(name, x)
            f = make_fn(name)
            run = (lambda f=f, xin=xin: block(f(xin))) if block else (lambda f=f, xin=xin: f(xin))
            row = bench(_case(name, n, gpu), variant, run, ref=ref, primary=primary,
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
    _torch_builtin_gelu(b, torch, sizes(b), torch.from_numpy)


def _torch_builtin_gelu(b: Bench, torch, ns, to_input, block=None, gpu=False):
    builtin = lambda name: (lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
    for n in ns:
        x = _x(n)
        xt = to_input(x)
        run = lambda xt=xt: builtin("gelu")(xt)
        row = b.bench(_case("gelu", n, gpu), "F.gelu(approximate='tanh')",
                      (lambda run=run: block(run())) if block else run,
                      ref=numpy_ref("gelu", x), budget_s=1.5 if b.quick else 5.0)
        if row is not None:
            row["gbps"] = 8.0 * n / row["median_s"] / 1e9


# ------------------------------------------------------------------------------ GPU


def _gpu_copies(b: Bench, variant, make_copy, device_name):
    """Bandwidth reference rows: ``make_copy(x)`` returns ``(copy, result)``, where ``copy()``
    copies ``x``'s bytes from one device buffer to another and waits for the GPU."""
    for n in GPU_SIZES:
        x = _x(n)
        copy, result = make_copy(x)
        row = b.bench(_case("copy", n, gpu=True), variant, copy, check=result, ref=x,
                      budget_s=1.5 if b.quick else 5.0)
        if row is not None:
            row["gbps"] = 8.0 * n / row["median_s"] / 1e9
            row["device"] = device_name
            row["note"] = f"bandwidth reference on {device_name} (device to device)"


def run_funcgrad_gpu(b: Bench):
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")
    if not b.gpu_or_skip(GPU_SKIPPED, FG_GPU_VARIANT, NUMBA_COPY):
        return
    gpu = fg.devices("cuda")[0]
    fns = {"gelu": fg.jit(_gelu(fnp.tanh)), "chain8": fg.jit(_chain8)}
    _cases(b, fns.__getitem__, FG_GPU_VARIANT, primary=True,
           to_input=lambda x: fg.device_put(x, gpu), block=lambda y: y.block_until_ready(),
           gpu=True, bench=funcgrad_gpu_bench(b))
    from numba import cuda

    def numba_copy(x):
        src = cuda.to_device(x)
        dst = cuda.device_array_like(src)

        def copy():
            dst.copy_to_device(src)
            cuda.synchronize()

        return copy, dst.copy_to_host

    _gpu_copies(b, NUMBA_COPY, numba_copy, gpu.device_kind)


def run_jax_gpu(b: Bench):
    jax, jnp = require("jax"), require("jax.numpy")
    if not b.gpu_or_skip(GPU_SKIPPED, "jax.jit"):
        return
    gpu = jax_gpu(jax)
    fns = {"gelu": jax.jit(_gelu(jnp.tanh)), "chain8": jax.jit(_chain8)}
    _cases(b, fns.__getitem__, "jax.jit", primary=False, to_input=lambda x: jax.device_put(x, gpu),
           block=jax.block_until_ready, gpu=True)


def _synchronize(torch):
    """A ``block`` for :func:`_cases`: waits for the GPU and returns the result unchanged."""

    def block(y):
        torch.cuda.synchronize()
        return y

    return block


def run_torch_gpu(b: Bench):
    torch = require("torch")
    if not b.gpu_or_skip(GPU_SKIPPED, "eager", "F.gelu(approximate='tanh')", TORCH_COPY):
        return
    torch_threads(torch, b.threads)
    gpu = torch_gpu(torch)
    to_gpu = lambda x: torch.from_numpy(x).to(gpu)
    fns = {"gelu": _gelu(torch.tanh), "chain8": _chain8}
    _cases(b, fns.__getitem__, "eager", primary=False, to_input=to_gpu,
           block=_synchronize(torch), gpu=True)
    _torch_builtin_gelu(b, torch, GPU_SIZES, to_gpu, block=_synchronize(torch), gpu=True)

    def torch_copy(x):
        src = to_gpu(x)
        dst = torch.empty_like(src)
        return torch_synced(torch, lambda: dst.copy_(src)), lambda: dst

    _gpu_copies(b, TORCH_COPY, torch_copy, torch.cuda.get_device_name(gpu))


def run_torch_compile_gpu(b: Bench):
    torch = require("torch")
    if not b.gpu_or_skip(GPU_SKIPPED, "torch.compile (inductor)"):
        return
    torch_threads(torch, b.threads)
    gpu = torch_gpu(torch)
    fns = {"gelu": torch.compile(_gelu(torch.tanh)), "chain8": torch.compile(_chain8)}
    _cases(b, fns.__getitem__, "torch.compile (inductor)", primary=False,
           to_input=lambda x: torch.from_numpy(x).to(gpu), block=_synchronize(torch), gpu=True)


def _size_key(case):
    """``"gelu n=1e+07 on gpu"`` -> ``"n=1e+07 on gpu"``: rows with the same bandwidth reference."""
    return case.partition(" ")[2]


def header(rows):
    """Adds each row's fraction of the copy bandwidth at its size (on its device: the fastest
    reference there); returns the header lines."""
    copies = {}
    for r in rows:
        if r["variant"] in COPY_VARIANTS and r["status"] == "ok":
            key = _size_key(r["case"])
            if key not in copies or r["gbps"] > copies[key]["gbps"]:
                copies[key] = r
    for r in rows:
        copy = copies.get(_size_key(r["case"]))
        if r.get("gbps") is not None and copy is not None and r is not copy:
            r["copy_fraction"] = r["gbps"] / copy["gbps"]
    cpu = {k: r for k, r in copies.items() if r["variant"] == "np.copyto"}
    gpu = {k: r for k, r in copies.items() if r["variant"] != "np.copyto"}
    lines = [f"measured copy bandwidth (np.copyto into a preallocated buffer), {size}: "
             f"{r['gbps']:.1f} GB/s" for size, r in sorted(cpu.items())]
    if lines:
        lines.append("1e6 float32 (4 MB in, 4 MB out) largely stays in the CPU caches; 1e7 goes "
                     "to DRAM, and each call's fresh 40 MB output is page-faulted in")
    lines += [f"measured GPU memory bandwidth ({r['variant']}, device to device, on "
              f"{r['device']}), {size}: {r['gbps']:.1f} GB/s" for size, r in sorted(gpu.items())]
    if gpu:
        lines.append("GPU rows: inputs and outputs stay on the device; every timed call waits "
                     "for the GPU (block_until_ready, torch.cuda.synchronize)")
    return lines


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch,
           "funcgrad.gpu": run_funcgrad_gpu, "jax.gpu": run_jax_gpu, "torch.gpu": run_torch_gpu,
           "torch.compile.gpu": run_torch_compile_gpu}
# Entries that may take long; they get their own time limit and are left out of --quick.
OPTIONAL = {"torch.compile.gpu": 400}
