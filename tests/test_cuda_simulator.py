"""Runs tests/cuda on Numba's CUDA simulator in a child process (Numba reads
NUMBA_ENABLE_CUDASIM once, when it is imported, so these tests cannot share this process)."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cuda_suite_passes_on_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONUNBUFFERED="1")
    env.pop("FUNCGRAD_TEST_CUDA", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         os.path.join(ROOT, "tests", "cuda")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    print(out[-6000:])
    # 5: no tests collected (every module skipped) counts as a failure too.
    assert proc.returncode == 0, f"tests/cuda failed on the CUDA simulator:\n{out[-6000:]}"
