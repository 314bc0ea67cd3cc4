"""Shared benchmark machinery: timing, result checking, rows, and the parent/child protocol.

A *child* process runs one entry (one system, or one variant such as ``torch.compile``) of one
workload. It receives a JSON spec on the command line, builds a :class:`Bench`, calls the entry,
and prints one line ``FGBENCH-RESULT {json}`` on stdout. The parent (``run.py``) collects those
lines, so libraries that print to stdout cannot corrupt the protocol.

Every timed case is checked first: its output is compared with a NumPy reference computed in the
same process on the same inputs, and a case that disagrees is recorded as ``mismatch`` and never
timed.
"""
from __future__ import annotations

import gc
import json
import math
import os
import resource
import statistics
import sys
import time
import traceback

import numpy as np

RESULT_MARKER = "FGBENCH-RESULT "

# Default tolerance: max-norm relative error per output leaf, max|a - b| / max|b|. float32 sums over
# a few hundred terms in another order stay well below it; a wrong rule or a dtype slip does not.
DEFAULT_TOL = 2e-4


class SystemUnavailable(Exception):
    """Raised by an entry when its system (or a required feature of it) cannot be imported."""


def peak_rss_mib() -> float:
    """High-water mark of this process's resident set size, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


# --------------------------------------------------------------------------------------------
# Result checking


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


def to_numpy(tree):
    """Converts every leaf (funcgrad, JAX or torch array, NumPy scalar) to a NumPy array."""
    out = []
    for leaf in _leaves(tree):
        if hasattr(leaf, "detach"):  # torch.Tensor
            leaf = leaf.detach().cpu().numpy()
        out.append(np.asarray(leaf))
    return out


def max_rel_error(out, ref) -> float:
    """Largest over leaves of max|out - ref| / max|ref| (shapes must match; NaN counts as wrong)."""
    got, want = to_numpy(out), to_numpy(ref)
    if len(got) != len(want):
        return math.inf
    worst = 0.0
    for a, b in zip(got, want):
        if a.shape != b.shape:
            return math.inf
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        if not np.all(np.isfinite(a64)):
            return math.inf
        scale = max(float(np.max(np.abs(b64), initial=0.0)), 1e-30)
        worst = max(worst, float(np.max(np.abs(a64 - b64), initial=0.0)) / scale)
    return worst


# --------------------------------------------------------------------------------------------
# Timing


def measure(fn, *, repeats: int, warmup: int, target_sample_s: float, budget_s: float):
    """Per-call seconds of ``fn()``: ``repeats`` samples, each the mean of ``inner`` calls in a row.

    ``inner`` is chosen so that one sample lasts about ``target_sample_s`` (so microsecond calls are
    timed over loops with ``perf_counter_ns``); ``repeats`` is cut (to at least 3) to stay within
    ``budget_s``.
    """
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter_ns()
    fn()
    one = max((time.perf_counter_ns() - t0) * 1e-9, 1e-8)
    inner = max(1, int(target_sample_s / one))
    n = repeats
    if one * inner * n > budget_s:
        n = max(3, int(budget_s / (one * inner)))
    gc.collect()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        for _ in range(inner):
            fn()
        samples.append((clock() - t0) * 1e-9 / inner)
    return samples, inner


def summarize(samples):
    med = statistics.median(samples)
    if len(samples) >= 2:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        iqr = q3 - q1
    else:
        iqr = 0.0
    return med, iqr


# --------------------------------------------------------------------------------------------
# The per-process recorder


class Bench:
    """What an entry sees: options, and methods that check, time and record cases.

    Attributes:
      system: ``numpy``, ``funcgrad``, ``jax`` or ``torch``.
      entry: the entry name (the system, or a variant such as ``torch.compile``).
      quick: smoke-run mode (smaller sizes, fewer repeats).
      repeats: timed samples per case.
      threads: the thread count every system is pinned to.
      params: workload-specific parameters from the parent (e.g. compile_time's phase).
      t_first_line: ``time.perf_counter()`` at the first line of ``run.py`` in this process.
      t_spawn: the parent's ``time.perf_counter()`` just before it started this process (the
        clock is system-wide monotonic, so the difference includes interpreter start-up).
    """

    def __init__(self, spec: dict, t_first_line: float):
        self.workload = spec["workload"]
        self.system = spec["system"]
        self.entry = spec["entry"]
        self.quick = spec["quick"]
        self.repeats = spec["repeats"]
        self.threads = spec["threads"]
        self.params = spec.get("params", {})
        self.t_first_line = t_first_line
        self.t_spawn = spec.get("t_spawn")
        self.rows: list[dict] = []
        self.info: dict = {}
        self.budget_s = 2.0 if self.quick else 8.0
        self.target_sample_s = 0.002 if self.quick else 0.01

    # -- recording ---------------------------------------------------------------------------

    def record(self, case: str, variant: str, status: str = "ok", **fields) -> dict:
        row = {"workload": self.workload, "case": case, "system": self.system,
               "variant": variant, "status": status}
        row.update(fields)
        self.rows.append(row)
        return row

    def skip(self, case: str, variant: str, reason: str) -> dict:
        return self.record(case, variant, "skipped", note=reason)

    def gpu_or_skip(self, case: str, *variants: str) -> bool:
        """Whether this entry's system can compute on a real CUDA GPU; when it cannot, records
        each of ``variants`` of ``case`` as skipped with the reason (see :func:`gpu_unavailable`).
        """
        reason = gpu_unavailable(self.system)
        if reason is not None:
            for variant in variants:
                self.skip(case, variant, f"no usable GPU: {reason}")
        return reason is None

    # -- checking and timing -----------------------------------------------------------------

    def bench(self, case: str, variant: str, fn, *, ref=None, check=None,
              tol: float = DEFAULT_TOL, repeats: int | None = None, warmup: int = 2,
              budget_s: float | None = None, primary: bool = False, **fields) -> dict | None:
        """Checks ``fn()`` against ``ref``, then times it; returns the row (None if not timed).

        The first call is timed on its own (``first_call_s``: tracing and compiling for jitted
        systems), then its output (or ``check()``'s, when given) is compared with ``ref`` (skipped
        when ``ref`` is None), then ``fn`` is timed
        with :func:`measure`. ``primary`` marks the row that ratios in this case are taken against
        (funcgrad's main variant, NumPy's reference).
        """
        try:
            t0 = time.perf_counter()
            out = fn()
            first = time.perf_counter() - t0
            if check is not None:
                out = check()
        except Exception as e:  # a system that cannot run a case is reported, not fatal
            first_line = str(e).splitlines()[0][:160] if str(e) else ""
            self.record(case, variant, "error", primary=primary,
                        note=f"{type(e).__name__}: {first_line}",
                        traceback=traceback.format_exc(limit=6))
            return None
        err = None
        if ref is not None:
            err = max_rel_error(out, ref)
            if not err <= tol:
                self.record(case, variant, "mismatch", primary=primary, max_rel_err=err,
                            note=f"disagrees with the NumPy reference: max rel err {err:.2e} "
                                 f"> {tol:.0e}; not timed")
                return None
        del out
        samples, inner = measure(
            fn, repeats=repeats or self.repeats, warmup=max(0, warmup - 1),
            target_sample_s=self.target_sample_s, budget_s=budget_s or self.budget_s)
        med, iqr = summarize(samples)
        return self.record(case, variant, "ok", primary=primary, median_s=med, iqr_s=iqr,
                           samples=len(samples), inner=inner, first_call_s=first,
                           max_rel_err=err, **fields)


def torch_threads(torch, threads: int) -> None:
    """Pins torch's intra-op pool (env variables alone do not reach it on every build)."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set in this process
        pass


def funcgrad_variants(fg):
    """``[(wrap, variant), ...]`` to time: ``fg.jit`` first, then eager.

    Both rows are marked primary; the table takes the first that ran as funcgrad's baseline, so a
    jit that fails still leaves an eager figure to compare against.
    """
    return [funcgrad_jit(fg), (lambda f: f, "eager")]


def funcgrad_jit(fg):
    """``(jit, variant)``; the variant names jit's backend (``config.default_backend``)."""
    return fg.jit, f"fg.jit [{fg.config.values.default_backend}]"


# --------------------------------------------------------------------------------------------
# GPUs: entries named "<system>.gpu" (run.py lets JAX see the GPU in their processes only)

GPU_CASE_SUFFIX = " on gpu"  # GPU rows form their own cases, so their ratios are GPU to GPU
FG_GPU_VARIANT = "fg.jit [numba-cuda]"


def gpu_unavailable(system: str) -> str | None:
    """Why ``system`` cannot compute on a real CUDA GPU in this process; None when it can.

    funcgrad needs a device from ``fg.devices("cuda")`` that is not Numba's CUDA simulator,
    JAX a ``gpu`` platform (``jax.devices("gpu")``), PyTorch ``torch.cuda.is_available()``.
    Never raises: a missing package or a broken driver is a reason like any other.
    """
    probe = {"funcgrad": _funcgrad_gpu, "jax": _jax_gpu, "torch": _torch_gpu}[system]
    try:
        return probe()
    except Exception as e:  # ImportError, a driver error: each means "no GPU here"
        first_line = str(e).splitlines()[0] if str(e) else ""
        return f"{type(e).__name__}: {first_line}"


def _funcgrad_gpu():
    import funcgrad as fg

    try:
        fg.devices("cuda")
    except RuntimeError as e:  # it says why there is no GPU, then how to get the simulator
        return str(e).split(". Fix:")[0]
    from funcgrad.lowering import cuda_runtime

    if cuda_runtime.simulator():
        return "funcgrad's CUDA device is Numba's simulator (NUMBA_ENABLE_CUDASIM=1), not a GPU"
    return None


def _jax_gpu():
    import jax

    try:
        jax.devices("gpu")
    except Exception as e:  # RuntimeError, or an assertion when JAX_PLATFORMS names a missing one
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"{first_line} (JAX_PLATFORMS={os.environ.get('JAX_PLATFORMS', '(unset)')})"
    return None


def _torch_gpu():
    import torch

    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU-only build"
    return f"torch.cuda.is_available() is False (torch {torch.__version__}, {build})"


def funcgrad_gpu_bench(b: Bench):
    """``b.bench`` for funcgrad's GPU rows, which also notes how many equations the compiled
    programs run on the host (where the CUDA backend has no GPU rule), as they are not GPU time.
    """
    from funcgrad.lowering import numba_cuda

    def bench(case, variant, fn, **kw):
        before = numba_cuda.stats.host_steps
        row = b.bench(case, variant, fn, **kw)
        host = numba_cuda.stats.host_steps - before
        if row is not None and host:
            row["note"] = f"{host} equation(s) of the compiled program run on the host"
        return row

    return bench


def jax_gpu(jax):
    """JAX's first GPU; float32 matmuls and convolutions use full float32 (not TF32), as
    funcgrad's and the NumPy reference's do."""
    jax.config.update("jax_default_matmul_precision", "highest")
    return jax.devices("gpu")[0]


def torch_gpu(torch):
    """The CUDA device, with TF32 off for matmuls and cuDNN convolutions (cuDNN's is on by
    default), so float32 means float32 as for the other systems."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch.device("cuda")


def torch_synced(torch, fn):
    """``fn`` followed by ``torch.cuda.synchronize()``, so a timed call includes the GPU's work."""

    def run():
        out = fn()
        torch.cuda.synchronize()
        return out

    return run


# --------------------------------------------------------------------------------------------
# Child side of the protocol


def child_main(spec: dict, t_first_line: float, load_workload) -> int:
    """Runs one entry and prints its result line; returns the exit status."""
    threads = spec["threads"]
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if threads < len(cpus):
            os.sched_setaffinity(0, cpus[:threads])
    except (AttributeError, OSError):
        pass
    b = Bench(spec, t_first_line)
    result = {"workload": b.workload, "system": b.system, "entry": b.entry}
    rss0 = peak_rss_mib()
    try:
        module = load_workload(b.workload)
        module.ENTRIES[b.entry](b)
    except SystemUnavailable as e:
        result["unavailable"] = str(e)
    except Exception as e:
        result["error"] = f"{type(e).__name__}: {e}"
        result["traceback"] = traceback.format_exc()
    result["rows"] = b.rows
    result["versions"] = _versions()
    result["info"] = b.info
    result["info"].setdefault("peak_rss_mib", peak_rss_mib())
    result["info"].setdefault("start_rss_mib", rss0)
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result, default=_jsonable), flush=True)
    return 0


def _versions():
    out = {"python": sys.version.split()[0]}
    for name in ("numpy", "funcgrad", "numba", "jax", "jaxlib", "torch"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return repr(x)


def parse_child_output(stdout: str):
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    return None


def require(module_name: str):
    """Imports ``module_name`` or raises :class:`SystemUnavailable` naming the interpreter."""
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        raise SystemUnavailable(f"{module_name} is not importable by {sys.executable} ({e})") from e
