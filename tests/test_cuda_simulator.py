"""Runs tests/cuda on Numba's CUDA simulator in a child process (Numba reads
NUMBA_ENABLE_CUDASIM once, when it is imported, so these tests cannot share this process).

The child starts as soon as collection has finished (``start`` is called from conftest), so it
runs alongside the rest of the suite: the simulator spends most of its time waiting on its
per-thread Python threads, which leaves the CPU to the other tests.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_ID = "tests/test_cuda_simulator.py::test_cuda_suite_passes_on_the_simulator"
_child: list = []


def start():
    """Starts the child pytest on tests/cuda (once)."""
    if _child:
        return
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONUNBUFFERED="1")
    env.pop("FUNCGRAD_TEST_CUDA", None)
    _child.append(subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         os.path.join(ROOT, "tests", "cuda")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))


def test_cuda_suite_passes_on_the_simulator():
    pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")
    start()
    proc = _child[0]
    try:
        out, _ = proc.communicate(timeout=1200)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"tests/cuda on the simulator took over 20 minutes:\n{out[-6000:]}")
    print(out[-6000:])
    # 5: no tests collected (every module skipped) counts as a failure too.
    assert proc.returncode == 0, f"tests/cuda failed on the CUDA simulator:\n{out[-6000:]}"
