"""funcgrad.distributed: single-process fallbacks in this process, and 2-process jobs on
loopback through mpirun (collectives, data-parallel equivalence, failure handling,
funcgrad-train --distributed). Every mpirun gets a timeout, so no test can hang."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import funcgrad as fg
from funcgrad import checkpoints, train
from funcgrad import distributed as dist
from funcgrad.errors import InvalidArgumentError
from funcgrad.tree_util import tree_leaves

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "distributed_scripts")
LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                 "PMIX_SIZE", "PMIX_RANK")


def _find_mpirun():
    here = os.path.dirname(sys.executable)  # pip's mpich puts mpirun next to python
    for name in ("mpirun", "mpiexec"):
        path = os.path.join(here, name)
        if os.access(path, os.X_OK):
            return path
    return shutil.which("mpirun") or shutil.which("mpiexec")


MPIRUN = _find_mpirun()
needs_mpi = pytest.mark.skipif(
    MPIRUN is None or importlib.util.find_spec("mpi4py") is None,
    reason="2-process tests need mpirun/mpiexec and mpi4py: pip install -e '.[test]' "
           "(or pip install mpi4py mpich)")


def _mpirun(n, args, timeout=120):
    """Runs ``mpirun -n n python args...``; returns (returncode, combined output, seconds)."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [MPIRUN, "-n", str(n)]
    version = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        cmd += ["--oversubscribe", "--allow-run-as-root"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd + [sys.executable, *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


@pytest.fixture
def fresh(monkeypatch):
    """The module as it is before initialize(), outside any launcher."""
    for name in LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(dist, "_state", dist._State())
    return dist


# ------------------------------------------------------------------ one process, no MPI

def test_importing_funcgrad_does_not_import_mpi4py():
    code = ("import sys, funcgrad, funcgrad.distributed, funcgrad.train; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'")
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_single_process_collectives_are_identities(fresh):
    fresh.initialize()
    assert fresh.is_initialized() and fresh.process_index() == 0
    assert fresh.process_count() == 1
    tree = {"w": fg.numpy.ones((2, 3)), "b": np.arange(3, dtype=np.float64),
            "n": np.int32(4)}
    assert fresh.psum(tree) is tree
    floats = {"w": tree["w"], "b": tree["b"]}
    assert fresh.pmean(floats) is floats
    assert fresh.broadcast(tree) is tree
    assert fresh.broadcast_object({"a": 1}) == {"a": 1}
    assert fresh.average_gradients(floats) is floats
    gathered = fresh.all_gather(tree)
    assert isinstance(gathered["w"], fg.Array) and gathered["w"].shape == (1, 2, 3)
    assert gathered["n"].shape == (1,) and gathered["n"].dtype == np.int32
    assert fresh.all_gather({"b": tree["b"]}, tiled=True)["b"].shape == (3,)
    assert fresh.comm_stats()["allreduce_calls"] == 0
    step = fresh.data_parallel_step(lambda p, x: (p * x, x), lambda p, s, g: (p - g, s + 1))
    assert step(2.0, 0, 3.0) == (-1.0, 1, 6.0)


@pytest.mark.parametrize("call, match", [
    (lambda d: d.pmean({"n": np.arange(3)}), r"pmean: the leaf at \['n'\] is int64\[3\]"),
    (lambda d: d.psum([np.zeros(2, bool)]), r"psum: the leaf at \[0\] is bool\[2\]"),
    (lambda d: d.psum({"s": "text"}), "not an array"),
    (lambda d: d.broadcast(np.ones(2), root=1), "root=1 is not a process index"),
    (lambda d: d.all_gather(np.float32(1), tiled=True), "tiled=True concatenates"),
    (lambda d: fg.jit(lambda x: d.psum(x))(np.ones(2, np.float32)), "call psum outside fg.jit"),
])
def test_single_process_errors_name_the_problem(fresh, call, match):
    fresh.initialize()
    with pytest.raises(InvalidArgumentError, match=match):
        call(fresh)


def test_missing_mpi4py_gives_the_install_command(fresh, monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes "from mpi4py import MPI" fail
    with pytest.raises(dist.DistributedError, match=r'pip install "funcgrad\[distributed\]"'):
        fresh.initialize(require_mpi=True)
    monkeypatch.setenv("PMI_SIZE", "2")  # as if started by mpirun
    with pytest.raises(dist.DistributedError, match="started by an MPI launcher"):
        fresh.initialize()
    with pytest.raises(dist.DistributedError, match=r"initialize\(\) has not been called"):
        fresh.process_count()
    with pytest.raises(dist.DistributedError, match=r'funcgrad\[distributed\]'):
        train.main(["--distributed", "--quiet", "--max-steps", "1"])


def test_timeout_must_be_positive(fresh, monkeypatch):
    with pytest.raises(InvalidArgumentError, match="timeout=0.0 seconds is not positive"):
        fresh.initialize(timeout=0)
    monkeypatch.setenv(dist.TIMEOUT_ENV, "soon")
    with pytest.raises(InvalidArgumentError, match="FUNCGRAD_DISTRIBUTED_TIMEOUT='soon'"):
        fresh.initialize()


# ------------------------------------------------------------------- two processes (MPI)

@needs_mpi
def test_collectives_on_pytrees_of_several_dtypes():
    rc, out, _ = _mpirun(2, [os.path.join(SCRIPTS, "collectives.py")])
    assert rc == 0, out
    assert "collectives ok on process 0 of 2" in out
    assert "collectives ok on process 1 of 2" in out


@needs_mpi
def test_data_parallel_steps_match_one_process_on_the_combined_batch():
    rc, out, _ = _mpirun(2, [os.path.join(SCRIPTS, "data_parallel.py")])
    assert rc == 0, out
    assert "data parallel matches one process" in out
    assert "data parallel ok on process 1" in out


@needs_mpi
@pytest.mark.parametrize("mode, timeout, message", [
    ("raise", "60", "process 1 of 2 failed (ZeroDivisionError: simulated failure on process 1)"
                    " while process 0 waited for it in pmean"),
    ("hang", "2", "process 0 of 2 waited 2 s for the other processes in pmean"),
])
def test_a_failed_process_stops_the_job_with_a_clear_error(mode, timeout, message):
    rc, out, seconds = _mpirun(2, [os.path.join(SCRIPTS, "failure.py"), mode, timeout],
                               timeout=60)
    assert rc != 0, out
    assert message in out, out
    assert "DistributedError" in out and "unreachable" not in out
    if mode == "raise":
        assert "ZeroDivisionError: simulated failure on process 1" in out
    assert seconds < 30, (seconds, out)  # the surviving process did not wait for its timeout


@needs_mpi
def test_train_distributed_matches_one_process(tmp_path):
    # The CNN has no dropout, so 2 processes on 32 examples each must reach the parameters
    # of 1 process on the 64-example batches (augmentation included).
    args = ["--model", "cnn", "--max-steps", "3", "--batch-size", "64", "--seed", "5",
            "--quiet"]
    one = train.main(args + ["--out", str(tmp_path / "one")])
    rc, out, _ = _mpirun(2, ["-m", "funcgrad.train", "--distributed", *args,
                             "--out", str(tmp_path / "two")], timeout=300)
    assert rc == 0, out
    a = checkpoints.restore_train_state(tmp_path / "one" / "checkpoints")
    b = checkpoints.restore_train_state(tmp_path / "two" / "checkpoints")
    assert int(a.step) == int(b.step) == 3
    for x, y in zip(tree_leaves((a.params, a.opt_state)), tree_leaves((b.params, b.opt_state))):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert two["processes"] == 2 and two["allreduce_calls_per_step"] == 1
    n_bytes = sum(np.asarray(p).nbytes for p in tree_leaves(a.params)) + 4  # grads + loss
    assert two["allreduce_bytes_per_step"] == n_bytes
    assert abs(two["epochs"][-1]["train_loss"] - one["epochs"][-1]["train_loss"]) < 1e-4
    assert b.data_state["position"] == {"index": 3}


@needs_mpi
def test_train_distributed_prints_once_and_resumes(tmp_path):
    out_dir = str(tmp_path / "run")
    base = ["-m", "funcgrad.train", "--distributed", "--max-steps", "2", "--batch-size", "64",
            "--out", out_dir, "--no-augment"]
    rc, out, _ = _mpirun(2, base, timeout=300)
    assert rc == 0, out
    assert out.count("funcgrad-train: mlp") == 1, out  # only process 0 talks
    assert "data-parallel on 2 processes, 32 examples each" in out
    rc, out, _ = _mpirun(2, [*base[:4], "4", *base[5:], "--resume", "--quiet"], timeout=300)
    assert rc == 0, out
    assert checkpoints.latest_step(os.path.join(out_dir, "checkpoints")) == 4
    metrics = json.loads(open(os.path.join(out_dir, "metrics.json")).read())
    assert metrics["steps"] == 4 and [e["step"] for e in metrics["epochs"]] == [2, 4]
    rc, out, _ = _mpirun(2, ["-m", "funcgrad.train", "--distributed", "--batch-size", "63",
                             "--out", out_dir], timeout=300)
    assert rc != 0 and "does not split evenly across 2 processes" in out, out
