"""Compiling kernels to PTX for sm_90 without a GPU, for the tests that check every generated
kernel type-checks and compiles (the simulator checks no types).

Needs numba-cuda, the NVRTC wheel (``nvidia-cuda-nvrtc``) and a CUDA toolkit with libNVVM
(``CUDA_HOME``; .ci/run sets it where /usr/local/cuda exists). Where any is missing the tests
skip and say which.
"""
from __future__ import annotations

import functools
import os

import pytest

CC = (9, 0)


@functools.cache
def _unavailable() -> str | None:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "PTX cannot be compiled under the CUDA simulator"
    try:
        from numba import cuda
    except ImportError:
        return "numba-cuda is not installed (pip install \"funcgrad[cuda]\")"
    try:
        def probe(x):
            x[0] = 1.0
        import numba
        cuda.compile_ptx(probe, (numba.types.float32[::1],), cc=CC)
    except Exception as e:  # noqa: BLE001 - any failure means no toolchain
        return (f"no CUDA toolchain for compile_ptx ({type(e).__name__}: "
                f"{str(e).splitlines()[0][:160] if str(e) else ''}); install nvidia-cuda-nvrtc "
                "and set CUDA_HOME to a CUDA toolkit with libNVVM")
    return None


def require_ptx():
    """Skips the calling test, saying why, where PTX cannot be compiled here."""
    why = _unavailable()
    if why:
        pytest.skip(why)


def compile_ptx(pyfunc, signature, device: bool = False) -> str:
    """PTX for sm_90 of a Python kernel function (not a dispatcher) and a Numba signature."""
    require_ptx()
    from numba import cuda
    ptx, _ = cuda.compile_ptx(pyfunc, signature, device=device, cc=CC)
    return ptx
