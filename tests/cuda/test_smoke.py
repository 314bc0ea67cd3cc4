"""The CUDA test setup itself: a kernel runs, and device arrays keep 0-d shapes."""
import numpy as np
from numba import cuda

from funcgrad.lowering import cuda_runtime


# The simulator swaps the module-level name ``cuda`` inside kernels: kernels must refer to
# numba.cuda through a module global, never a local import.
@cuda.jit
def _double(x, o):
    i = cuda.grid(1)
    if i < x.size:
        o[i] = x[i] * 2


def test_a_kernel_runs_and_zero_d_arrays_keep_their_shape():
    x = cuda_runtime.to_device(np.arange(5, dtype=np.float32))
    o = cuda_runtime.empty((5,), np.float32)
    _double[cuda_runtime.grid(5)](x, o)
    np.testing.assert_array_equal(o.copy_to_host(), np.arange(5) * 2)
    assert cuda_runtime.to_device(np.float32(3)).shape == ()
