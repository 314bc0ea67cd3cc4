"""Runs funcgrad's benchmark workloads against NumPy, JAX and PyTorch and prints one table.

Each (system, workload) pair runs in its own process, so JIT caches, thread pools and peak memory
do not interfere; the parent collects one JSON line from each child, prints medians with IQRs,
ratios to funcgrad and to the NumPy reference, and writes everything as JSON.

    python benchmarks/run.py                       # everything installed in this interpreter
    /tmp/peers/bin/python benchmarks/run.py        # an environment that also has jax and torch
    python benchmarks/run.py --quick --workloads mlp_step,dispatch --json out.json
    python benchmarks/run.py --python jax=/other/venv/bin/python

See benchmarks/README.md for what each workload measures.
"""
# ruff: noqa: E402
import time

_T0 = time.perf_counter()  # compile_time measures "from the first line" from here

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from benchmarks import harness
from benchmarks.workloads import NAMES as WORKLOADS

SYSTEMS = ("numpy", "funcgrad", "jax", "torch")
# The module whose presence makes a system available.
SYSTEM_MODULE = {"numpy": "numpy", "funcgrad": "funcgrad", "jax": "jax", "torch": "torch"}
BUSY_CORES = 0.25  # other processes' load above which a row is flagged
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


def cpu_busy_s() -> float:
    """Seconds of CPU time spent by the whole machine (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load_workload(name: str):
    return importlib.import_module(f"benchmarks.workloads.{name}")


# ------------------------------------------------------------------------------------------------
# Parent: processes


class Runner:
    """Spawns children and keeps what they report."""

    def __init__(self, args, pythons, cache_dir):
        self.args = args
        self.pythons = pythons
        self.cache_dir = cache_dir
        self.children: list[dict] = []
        self.unavailable: dict[str, str] = {}
        self.versions: dict[str, dict] = {}

    def child_env(self, extra=None, gpu=False):
        env = dict(os.environ)
        n = str(self.args.threads)
        for k in THREAD_ENV:
            env[k] = n
        flags = env.get("XLA_FLAGS", "")
        if self.args.threads == 1 and "intra_op_parallelism_threads" not in flags:
            flags += " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = flags.strip()
        if not gpu:  # JAX would otherwise put the CPU rows' arrays on a GPU when there is one
            env.setdefault("JAX_PLATFORMS", "cpu")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["FUNCGRAD_CACHE_DIR"] = self.cache_dir
        env.update(extra or {})
        return env

    def spawn(self, workload, system, entry, params=None, env=None, timeout=None):
        """Runs one entry in a fresh process; returns the child's result dict (with ``wall_s``)."""
        spec = {"workload": workload, "system": system, "entry": entry, "quick": self.args.quick,
                "repeats": self.args.repeats, "threads": self.args.threads,
                "params": params or {}}
        timeout = timeout or self.args.timeout
        label = f"{workload} / {entry}" + (f" {params}" if params else "")
        print(f"  running {label} ...", end="", flush=True, file=sys.stderr)
        spec["t_spawn"] = time.perf_counter()
        cmd = [self.pythons[system], "-u", os.path.abspath(__file__), "--child", json.dumps(spec)]
        busy0, own0 = cpu_busy_s(), children_cpu_s()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env=self.child_env(env, gpu=entry.endswith(".gpu")),
                                  cwd=REPO_ROOT)
            wall = time.perf_counter() - t0
            result = harness.parse_child_output(proc.stdout)
            if result is None:
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
                result = {"error": f"child exited with {proc.returncode} without a result:\n{tail}"}
        except subprocess.TimeoutExpired:
            wall = time.perf_counter() - t0
            result = {"error": f"timed out after {timeout:.0f} s"}
        # CPU time that other processes took while this child ran, in cores: on a small machine
        # that someone else is using, multi-threaded timings (BLAS, OpenMP) are not to be trusted.
        others = max(0.0, (cpu_busy_s() - busy0) - (children_cpu_s() - own0)) / max(wall, 1e-9)
        result.update(workload=workload, system=system, entry=entry, wall_s=wall,
                      params=params or {}, other_load_cores=others)
        result.setdefault("rows", [])
        for row in result["rows"]:
            row["other_load_cores"] = others
        print(f" {wall:.1f} s" + (f" (other processes busy: {others:.1f} cores)"
                                  if others > BUSY_CORES else ""), file=sys.stderr)
        if "unavailable" in result:
            self.unavailable.setdefault(system, result["unavailable"])
            print(f"  skipped {system}: {result['unavailable']}", file=sys.stderr)
        elif "error" in result:
            print(f"  {label} failed: {result['error']}", file=sys.stderr)
            result["rows"].append({"workload": workload, "case": "(process)", "system": system,
                                   "variant": entry, "status": "error",
                                   "note": result["error"].splitlines()[0][:160]})
        if result.get("versions"):
            self.versions.setdefault(system, {}).update(result["versions"])
        self.children.append(result)
        return result

    def available(self, system):
        return system in self.args.system_list and system not in self.unavailable


def on_device(entry: str, device: str) -> bool:
    """Whether ``--device`` selects ``entry``: entries named ``<system>.gpu`` are the GPU rows."""
    return device == "all" or entry.endswith(".gpu") == (device == "gpu")


def default_plan(module, runner: Runner):
    """One process per entry of the workload, for every available system."""
    limits = getattr(module, "OPTIONAL", {})
    name = module.__name__.rsplit(".", 1)[1]
    for entry in module.ENTRIES:
        system = entry.split(".")[0]
        if not runner.available(system) or not on_device(entry, runner.args.device):
            continue
        if entry in limits and runner.args.quick:
            continue
        runner.spawn(name, system, entry, timeout=limits.get(entry))


def probe_systems(args, pythons):
    """Which systems' modules each interpreter can find (no import, so this is fast)."""
    code = ("import importlib.util, json, sys; sys.path.insert(0, sys.argv[1]); "
            "print(json.dumps({m: importlib.util.find_spec(m) is not None "
            "for m in sys.argv[2:]}))")
    found, reasons = {}, {}
    for python in sorted(set(pythons[s] for s in args.system_list)):
        mods = [SYSTEM_MODULE[s] for s in args.system_list if pythons[s] == python] + ["numba"]
        try:
            out = subprocess.run([python, "-c", code, REPO_ROOT, *mods], capture_output=True,
                                 text=True, timeout=60, check=True).stdout
            found[python] = json.loads(out.strip().splitlines()[-1])
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            found[python] = {}
            reasons[python] = f"cannot run {python}: {e}"
    missing = {}
    for s in args.system_list:
        ok = found[pythons[s]].get(SYSTEM_MODULE[s], False)
        if not ok:
            missing[s] = reasons.get(pythons[s],
                                     f"{SYSTEM_MODULE[s]} is not installed in {pythons[s]}")
    return missing, found


# ------------------------------------------------------------------------------------------------
# Parent: the table


def fmt_time(s):
    if s is None:
        return "-"
    if s >= 1.0:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def fmt_ratio(t, base):
    if t is None or base is None or base <= 0:
        return "-"
    r = t / base
    return f"{r:.3g}x"


def row_notes(row):
    notes = []
    if row.get("gbps") is not None:
        s = f"{row['gbps']:.1f} GB/s"
        if row.get("copy_fraction") is not None:
            s += f" ({100 * row['copy_fraction']:.0f}% of copy)"
        notes.append(s)
    if row.get("peak_rss_mib") is not None:
        s = f"peak RSS {row['peak_rss_mib']:.0f} MiB"
        if row.get("import_rss_mib") is not None:
            s += f" (after imports {row['import_rss_mib']:.0f})"
        if row.get("steps"):
            s += f" after {row['steps']} steps"
        notes.append(s)
    fc, med = row.get("first_call_s"), row.get("median_s")
    if fc is not None and med and fc > 5 * med and fc > 0.01:
        notes.append(f"first call {fmt_time(fc)}")
    if row.get("note"):
        notes.append(row["note"])
    if (row.get("other_load_cores") or 0) > BUSY_CORES:
        notes.append(f"BUSY MACHINE: others used {row['other_load_cores']:.1f} cores")
    if row.get("status") not in (None, "ok"):
        notes.insert(0, row["status"].upper())
    return "; ".join(notes)


def print_table(rows, header_lines, out=sys.stdout):
    cols = ("case", "system", "variant", "median", "IQR", "t/funcgrad", "t/numpy", "notes")
    by_workload = {}
    for r in rows:
        by_workload.setdefault(r["workload"], []).append(r)
    for w, wrows in by_workload.items():
        module = load_workload(w)
        print(f"\n== {w}: {getattr(module, 'TITLE', '')}", file=out)
        for line in header_lines.get(w, []):
            print(f"   {line}", file=out)
        table = []
        cases = []
        for r in wrows:
            if r["case"] not in cases:
                cases.append(r["case"])
        order = {s: i for i, s in enumerate(SYSTEMS)}
        for case in cases:
            crows = [r for r in wrows if r["case"] == case]
            crows.sort(key=lambda r: order.get(r["system"], 9))
            fg = next((r.get("median_s") for r in crows if r["system"] == "funcgrad"
                       and r.get("primary") and r["status"] == "ok"), None)
            ref = next((r.get("median_s") for r in crows if r["system"] == "numpy"
                        and r.get("primary") and r["status"] == "ok"), None)
            for r in crows:
                t = r.get("median_s") if r["status"] == "ok" else None
                table.append((case, r["system"], r["variant"], fmt_time(t),
                              fmt_time(r.get("iqr_s")) if t is not None else "-",
                              fmt_ratio(t, fg), fmt_ratio(t, ref), row_notes(r)))
        widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols[:-1])]
        line = "  ".join(c.ljust(wd) for c, wd in zip(cols[:-1], widths)) + "  " + cols[-1]
        print(line, file=out)
        print("-" * len(line), file=out)
        for t in table:
            print("  ".join(v.ljust(wd) for v, wd in zip(t[:-1], widths)) + "  " + t[-1],
                  file=out)


# ------------------------------------------------------------------------------------------------
# Parent: main


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="funcgrad benchmarks against NumPy, JAX and PyTorch (one process per system).")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated subset of " + ",".join(SYSTEMS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed samples per case (default 25, or 5 with --quick)")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for every system (BLAS, OpenMP, Numba, XLA, torch; default 2)")
    ap.add_argument("--device", choices=("all", "cpu", "gpu"), default="all",
                    help="which rows: all (default), cpu, or gpu (only the <system>.gpu entries "
                         "of workloads that have them)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: small sizes, few repeats, optional variants left out")
    ap.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks", "results",
                                                   "latest.json"),
                    help="where to write all results (default benchmarks/results/latest.json)")
    ap.add_argument("--python", action="append", default=[], metavar="SYSTEM=PATH",
                    help="interpreter for one system (default: this one); repeatable")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per child process (default 600, or 150 with --quick)")
    args = ap.parse_args(argv)
    args.system_list = [s for s in args.systems.split(",") if s]
    args.workload_list = [w for w in args.workloads.split(",") if w]
    for s in args.system_list:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}; choose from {', '.join(SYSTEMS)}")
    for w in args.workload_list:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    if args.repeats is None:
        args.repeats = 5 if args.quick else 25
    if args.timeout is None:
        args.timeout = 150.0 if args.quick else 600.0
    return args


def main(argv=None):
    args = parse_args(argv)
    pythons = {s: sys.executable for s in SYSTEMS}
    for item in args.python:
        name, sep, path = item.partition("=")
        if not sep or name not in SYSTEMS:
            sys.exit(f"--python expects SYSTEM=PATH with SYSTEM in {', '.join(SYSTEMS)}")
        pythons[name] = path
    t_start = time.perf_counter()
    n = args.threads
    pin = (f"CPU affinity to {n} of {os.cpu_count()} cores (XLA sizes its pool from it)"
           if n < (os.cpu_count() or n) else "no affinity needed (all cores)")
    print(f"funcgrad benchmarks, {'quick' if args.quick else 'full'} run, {args.repeats} samples "
          f"per case; threads={n}: {'/'.join(k.split('_')[0] for k in THREAD_ENV)}_NUM_THREADS"
          f"={n}, torch.set_num_threads({n}), {pin}", flush=True)
    print(f"load average before the run: {os.getloadavg()[0]:.2f}", flush=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
          flush=True)
    missing, found = probe_systems(args, pythons)
    for s in args.system_list:
        state = f"skipped: {missing[s]}" if s in missing else "available"
        print(f"  {s:9s} {pythons[s]}: {state}", flush=True)
    if "funcgrad" in args.system_list and "funcgrad" not in missing:
        if not found[pythons["funcgrad"]].get("numba", False):
            print("  note: numba is missing in funcgrad's interpreter, so fg.jit (when it exists) "
                  "falls back to its interpreter backend", flush=True)

    cache_dir = tempfile.mkdtemp(prefix="fgbench-cache-")
    runner = Runner(args, pythons, cache_dir)
    runner.unavailable.update(missing)
    header_lines = {}
    try:
        for w in args.workload_list:
            module = load_workload(w)
            if not any(on_device(e, args.device) for e in getattr(module, "ENTRIES", ())):
                print(f"  {w}: no {args.device} rows", file=sys.stderr)
                continue
            if hasattr(module, "orchestrate"):
                module.orchestrate(runner)
            else:
                default_plan(module, runner)
            if hasattr(module, "header"):
                rows = [r for c in runner.children if c["workload"] == w for r in c["rows"]]
                header_lines[w] = module.header(rows)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    rows = [r for c in runner.children for r in c["rows"]]
    print_table(rows, header_lines)
    busy = [c for c in runner.children if c.get("other_load_cores", 0) > BUSY_CORES]
    if busy:
        worst = max(c["other_load_cores"] for c in busy)
        print(f"\nWARNING: other processes used up to {worst:.1f} of {os.cpu_count()} cores "
              f"while {len(busy)} of {len(runner.children)} benchmark processes ran; their "
              "multi-threaded timings (BLAS, OpenMP) are unreliable. Rerun on an idle machine, "
              "or with --threads 1.")
    print("\nt/funcgrad: median time divided by funcgrad's (below 1: faster than funcgrad). "
          "t/numpy: divided by the NumPy reference's. IQR: interquartile range of the samples.")
    print("systems:")
    for s in args.system_list:
        if s in runner.unavailable:
            print(f"  {s:9s} skipped: {runner.unavailable[s]}")
        else:
            versions = ", ".join(f"{k} {v}" for k, v in sorted(runner.versions.get(s, {}).items()))
            print(f"  {s:9s} {pythons[s]} ({versions})")
    elapsed = time.perf_counter() - t_start
    print(f"total {elapsed:.0f} s")
    meta = {"threads": args.threads, "quick": args.quick, "repeats": args.repeats,
            "pythons": {s: pythons[s] for s in args.system_list},
            "unavailable": runner.unavailable, "versions": runner.versions,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "elapsed_s": elapsed,
            "headers": header_lines}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "children": runner.children}, f, indent=1,
                      default=repr)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(harness.child_main(json.loads(sys.argv[2]), _T0, load_workload))
    main()
