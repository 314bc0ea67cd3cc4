"""The CUDA tests: on Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``; started by
tests/test_cuda_simulator.py with tiny shapes) or on a real GPU (``FUNCGRAD_TEST_CUDA=1``).

Tests marked ``gpu`` need a real device: passing the simulator proves the arithmetic, not that
the kernel compiles for a GPU (tests/test_cuda_ptx.py compiles every kernel to PTX for that).
"""
import os

import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"

numba_cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed: "
                                 "pip install \"funcgrad[cuda]\"")

if not SIMULATOR:
    from numba import cuda

    if not cuda.is_available():
        pytest.skip("FUNCGRAD_TEST_CUDA=1 but no CUDA GPU is present (set "
                    "NUMBA_ENABLE_CUDASIM=1 to run these tests on the simulator)",
                    allow_module_level=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a real CUDA device (skipped on the simulator)")
    if SIMULATOR:  # simulated kernels compute on NumPy scalars, which warn where a GPU wraps
        config.addinivalue_line("filterwarnings", "ignore::RuntimeWarning")


def pytest_collection_modifyitems(config, items):
    if SIMULATOR:
        skip = pytest.mark.skip(reason="needs a real CUDA device, not the simulator")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
