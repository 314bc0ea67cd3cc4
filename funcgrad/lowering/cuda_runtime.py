"""What every CUDA-side module of the lowering shares: whether the simulator is on, launch
sizes, and device allocation. Importing this module imports ``numba.cuda`` (from the
numba-cuda package, the ``cuda`` extra); nothing else in funcgrad imports it eagerly.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba is imported) every
kernel runs as Python, one thread at a time, so launches use small blocks there.
"""
from __future__ import annotations

import functools
import math

import numpy as np

try:
    from numba import cuda
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "funcgrad's CUDA backend needs numba-cuda: pip install \"funcgrad[cuda]\"") from e


@functools.cache
def simulator() -> bool:
    """Whether kernels run on Numba's CUDA simulator."""
    from numba import config
    return bool(getattr(config, "ENABLE_CUDASIM", 0))


def _serialise_simulated_shared_allocation():
    """numba-cuda's simulator gives each block its shared arrays lazily, by a check-then-create
    on a dict that the block's threads (real Python threads) race on: two threads can each
    create their own array and then never see each other's writes (seen as wrong matmul tiles
    under load). Holding a lock around that allocation makes it what CUDA guarantees: one
    array per block and call site."""
    import threading

    from numba.cuda.simulator import kernelapi
    shared = kernelapi.FakeCUDAShared
    if getattr(shared.array, "_funcgrad_locked", False):
        return
    import sys

    from numba.np import numpy_support
    lock = threading.Lock()
    unlocked = shared.array

    def array(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0:  # errors, and dynamic shared memory
            return unlocked(self, shape, dtype, alignment)
        if not isinstance(dtype, np.dtype) and hasattr(dtype, "name"):
            dtype = numpy_support.as_dtype(dtype)
        caller = sys._getframe(1)  # one array per call site, as the simulator intends
        key = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            res = self._allocations.get(key)
            if res is None:
                res = self._allocations[key] = np.empty(shape, dtype)
        return res
    array._funcgrad_locked = True
    shared.array = array


if simulator():
    _serialise_simulated_shared_allocation()


def threads_per_block() -> int:
    """Threads per block of a one-dimensional launch (8 under the simulator, where each thread
    is a Python thread)."""
    return 8 if simulator() else 256


def grid(n: int, block: int | None = None) -> tuple[int, int]:
    """``(blocks, threads)`` covering ``n`` elements, one thread each (at least one block)."""
    t = block or threads_per_block()
    return max(1, math.ceil(n / t)), t


def empty(shape, dtype):
    """A fresh, uninitialised C-contiguous device array."""
    return cuda.device_array(tuple(shape), dtype=np.dtype(dtype))


def to_device(x):
    """``x`` as a C-contiguous device array (device arrays pass through unchanged)."""
    if is_device_array(x):
        return x
    x = np.asarray(x)
    return cuda.to_device(x if x.flags.c_contiguous else x.copy(order="C"))


def is_device_array(x) -> bool:
    """Whether ``x`` lives on the GPU (a Numba device array, real or simulated)."""
    return hasattr(x, "__cuda_array_interface__") or hasattr(x, "copy_to_host")
