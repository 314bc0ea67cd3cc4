"""Running small matrix products on one BLAS thread.

OpenBLAS's worker threads keep spinning for a while after each multi-threaded call, and on a
small machine they then compete with whatever runs next: Numba's parallel kernels, or the
convolution kernels. For a product too small to gain from threads, that costs far more than
it saves (measured on 2 cores: a small CNN's training step took 16.6 ms with two BLAS threads
and 9.8 ms with one, while a 784-512-512 MLP step went the other way, 2.7 ms against 4.8 ms).
So the compiled driver calls small products through :func:`serial`, which sets the thread
count to one around the call, and leaves large ones alone.

The thread-count functions are found with ctypes in the OpenBLAS that NumPy loaded (the
``scipy-openblas`` build that NumPy's wheels ship, or a system OpenBLAS). With any other BLAS,
:func:`serial` just calls the function.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

# Products with fewer multiply-adds than this run on one BLAS thread.
SERIAL_MAX_MACS = 2 ** 22

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")
_controls = None  # (set, get) once probed; (None, None) when unavailable


def _candidates():
    root = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".libs/*openblas*", "../scipy_openblas*/lib/*"):
        yield from sorted(glob.glob(os.path.join(root, pattern)))


def _probe():
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
        getter = next((getattr(lib, g) for g in _GETTERS if hasattr(lib, g)), None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            return setter, getter
    return None, None


def controls():
    """``(set_num_threads, get_num_threads)`` of NumPy's OpenBLAS, or ``(None, None)``."""
    global _controls
    if _controls is None:
        _controls = _probe()
    return _controls


def serial(fn, *args):
    """``fn(*args)`` with BLAS limited to one thread for the duration of the call."""
    setter, getter = controls()
    if setter is None:
        return fn(*args)
    n = getter()
    if n <= 1:
        return fn(*args)
    setter(1)
    try:
        return fn(*args)
    finally:
        setter(n)
