"""compile_time: how long a fresh process takes to produce its first MLP training step.

The step is ``mlp_step``'s. Each phase is a new process; the figure is the time from the parent
starting the process to the first result (interpreter start-up, imports, Numba start-up, tracing
and compiling included); the notes split it into imports and the first call, and give the whole
subprocess wall time (exit included).
  * funcgrad: ``cold`` with an empty ``FUNCGRAD_CACHE_DIR``; ``warm`` with the same directory
    afterwards; ``warm, batch 64`` in a third process, which must compile no new kernel (kernels
    are specialised on rank and dtype, not sizes). ``funcgrad.lowering.stats`` and the files
    that appear in the cache directory are reported for each.
  * JAX: the same three phases with its persistent compilation cache in an empty directory
    (thresholds at 0 so every executable is cached).
  * NumPy and PyTorch (eager): time to the first step from process start, for scale.
Without ``--quick`` the phases are repeated in 3 rounds (each with a new cache directory).
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time

from benchmarks.harness import Bench, funcgrad_jit, max_rel_error, require, summarize

TITLE = "time from process start to the first MLP training step (batch 128), by cache state"
PHASES = (("cold", 128, "cold cache"), ("warm", 128, "warm cache"),
          ("rebatch", 64, "warm cache, batch 64"))


def cache_files(root):
    """Counts of files by kind under a cache directory."""
    counts = {}
    for _dirpath, _dirs, files in os.walk(root):
        for f in files:
            ext = os.path.splitext(f)[1] or f
            counts[ext] = counts.get(ext, 0) + 1
    return counts


def _new_files(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if after.get(k, 0) != before.get(k, 0)}


def _record(b: Bench, variant, t_import0, t_imported, t_call0, t_done, out, ref, **fields):
    err = max_rel_error(out, ref)
    case = {p: label for p, _, label in PHASES}[b.params.get("phase", "cold")]
    status = "ok" if err <= 1e-3 else "mismatch"
    b.record(case, variant, status, primary=True,
             median_s=t_done - b.t_spawn if b.t_spawn else None,
             since_first_line_s=t_done - b.t_first_line, import_s=t_imported - t_import0,
             first_call_s=t_done - t_call0, max_rel_err=err, **fields)


def _numpy_ref(batch):
    from benchmarks.workloads import _mlp

    params, x, y = _mlp.init(batch)
    return _mlp.check_output(params, *_mlp.numpy_step(params, x, y))


def run_funcgrad(b: Bench):
    t0 = time.perf_counter()
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")
    lowering = None
    try:
        import funcgrad.lowering as lowering
    except ImportError:
        pass
    from benchmarks.workloads import _mlp

    t1 = time.perf_counter()
    batch = b.params.get("batch", 128)
    params, x, y = _mlp.init(batch)
    jit, variant = funcgrad_jit(fg)
    step = jit(_mlp.funcgrad_step(fg, fnp))
    cache = os.environ.get("FUNCGRAD_CACHE_DIR", "")
    files0 = cache_files(cache)
    t2 = time.perf_counter()
    new, loss = step(params, x, y)
    out = _mlp.check_output(params, new, loss)
    t3 = time.perf_counter()
    stats = getattr(lowering, "stats", None)
    if hasattr(stats, "as_dict"):
        stats = stats.as_dict()
    elif stats is not None and not isinstance(stats, dict):
        stats = repr(stats)
    _record(b, variant, t0, t1, t2, t3, out, _numpy_ref(batch), lowering_stats=stats,
            new_cache_files=_new_files(files0, cache_files(cache)),
            trace_count=getattr(step, "trace_count", None))


def run_jax(b: Bench):
    t0 = time.perf_counter()
    jax = require("jax")
    jnp = require("jax.numpy")
    from benchmarks.workloads import _mlp

    cache = b.params["cache_dir"]
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    t1 = time.perf_counter()
    batch = b.params.get("batch", 128)
    params, x, y = _mlp.init(batch)
    step = jax.jit(_mlp.jax_step(jax, jnp))
    files0 = cache_files(cache)
    t2 = time.perf_counter()
    new, loss = jax.block_until_ready(step(params, x, y))
    out = _mlp.check_output(params, new, loss)
    t3 = time.perf_counter()
    _record(b, "jax.jit + persistent cache", t0, t1, t2, t3, out, _numpy_ref(batch),
            new_cache_files=_new_files(files0, cache_files(cache)))


def run_numpy(b: Bench):
    t0 = time.perf_counter()
    from benchmarks.workloads import _mlp

    t1 = time.perf_counter()
    params, x, y = _mlp.init()
    t2 = time.perf_counter()
    out = _mlp.check_output(params, *_mlp.numpy_step(params, x, y))
    t3 = time.perf_counter()
    _record(b, "eager (nothing to compile)", t0, t1, t2, t3, out, _numpy_ref(128))


def run_torch(b: Bench):
    t0 = time.perf_counter()
    torch = require("torch")
    from benchmarks.harness import torch_threads
    from benchmarks.workloads import _mlp

    torch_threads(torch, b.threads)
    t1 = time.perf_counter()
    params, x, y = _mlp.init()
    flat = _mlp.torch_params(torch, params)
    step = _mlp.torch_step(torch)
    t2 = time.perf_counter()
    loss = step(flat, torch.from_numpy(x), torch.from_numpy(y).long())
    out = _mlp.check_output(params, _mlp.torch_pairs(flat), loss)
    t3 = time.perf_counter()
    _record(b, "eager (nothing to compile)", t0, t1, t2, t3, out, _numpy_ref(128))


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch}


# ------------------------------------------------------------------------------------------------
# Parent side: the process plan, and one row per (system, phase) over the rounds


def _note(row):
    parts = [f"from run.py's first line {row['since_first_line_s']:.2f} s",
             f"imports {row['import_s']:.2f} s", f"first call {row['first_call_s']:.2f} s",
             f"process wall {row['subprocess_wall_s']:.2f} s"]
    new = row.get("new_cache_files")
    if new is not None:
        parts.append("new cache files " + (", ".join(f"{v} {k}" for k, v in sorted(new.items()))
                                           or "none"))
    if row.get("lowering_stats") is not None:
        parts.append(f"lowering.stats {row['lowering_stats']}")
    if row.get("phase") == "rebatch" and isinstance(row.get("lowering_stats"), dict):
        n = row["lowering_stats"].get("kernels_compiled")
        if n:
            parts.append(f"EXPECTED NO NEW KERNELS, GOT {n}")
    return "; ".join(parts)


def orchestrate(runner):
    rounds = 1 if runner.args.quick else 3
    for system in ("numpy", "funcgrad", "jax", "torch"):
        if not runner.available(system):
            continue
        phases = PHASES if system in ("funcgrad", "jax") else PHASES[:1]
        by_phase = {p: [] for p, _, _ in phases}
        for _ in range(rounds if len(phases) > 1 else 1):
            cache = tempfile.mkdtemp(prefix=f"fgbench-{system}-cache-")
            try:
                for phase, batch, _label in phases:
                    params = {"phase": phase, "batch": batch, "cache_dir": cache}
                    child = runner.spawn("compile_time", system, system, params=params,
                                         env={"FUNCGRAD_CACHE_DIR": cache})
                    for row in child["rows"]:
                        row["subprocess_wall_s"] = child["wall_s"]
                        row["phase"] = phase
                        if row.get("status") == "ok":
                            by_phase[phase].append(row)
                    child["rows"] = [r for r in child["rows"] if r.get("status") != "ok"]
                    if "unavailable" in child or "error" in child:
                        break
            finally:
                shutil.rmtree(cache, ignore_errors=True)
            if not runner.available(system):
                break
        merged = []
        for rows in by_phase.values():
            if not rows:
                continue
            row = dict(rows[-1])
            times = [r["median_s"] for r in rows]
            row["median_s"], row["iqr_s"] = summarize(times)
            if len(times) < 2:
                row["iqr_s"] = None
            for key in ("import_s", "first_call_s", "subprocess_wall_s", "since_first_line_s"):
                row[key] = statistics.median(r[key] for r in rows)
            row["rounds"] = [{k: r.get(k) for k in ("median_s", "first_call_s",
                                                     "new_cache_files", "lowering_stats")}
                             for r in rows]
            row["samples"] = len(rows)
            row["note"] = _note(row)
            merged.append(row)
        runner.children.append({"workload": "compile_time", "system": system,
                                "entry": "(rounds merged)", "rows": merged})

