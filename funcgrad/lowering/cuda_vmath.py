"""vmath's helpers (lowering/vmath.py) for CUDA kernels, under the same names.

A generated CUDA kernel module imports this module as ``vmath``, next to ``cuda_np`` as ``np``,
and then runs scalar.py's templates unchanged (``vmath.div_int32(a, b)``, ``vmath.cmax(a, b)``,
``vmath.exp_float32(x)``).

* Every helper of vmath's that is plain arithmetic (integer division, remainders and powers,
  NaN-aware max/min, complex orderings and division, erfinv) is vmath's own Python source,
  compiled with ``cuda_np`` in place of NumPy: one algorithm, on the CPU and the GPU.
* vmath's vectorisable approximations (exp, log, tanh, sin, erf, pow, ...) build floats from
  their bits with CPU-only intrinsics and exist because libm calls do not vectorise on a CPU.
  Here they call libdevice through ``cuda_np`` instead, which is accurate (within 2 ulps) and
  fast on a GPU. They follow the impls' formulas: ``logistic`` is NumPy's two-branch formula,
  float32 ``erf`` is float64 erf rounded once (as the impl), float32 ``pow`` is float64 pow
  rounded once (libdevice's powf errs by up to 4 ulps).

Every function keeps the dtype of vmath's (float32 in, float32 out) and is a
``cuda.jit(device=True, inline="always")`` function: Numba inlines it into the calling kernel
before typing, so kernels using it compile to PTX without a GPU, and Numba's CUDA simulator runs
it as Python over NumPy scalars.

vmath's bit-cast helpers (``bits_float32``, ``float32_from_bits``, ...) have no CUDA version:
no template calls them.
"""
from __future__ import annotations

import math
import types

from numba import cuda

from funcgrad.lowering import cuda_np as np
from funcgrad.lowering import vmath

# What every generated CUDA kernel module imports for scalar.py's templates (scalar.IMPORTS is
# the CPU's).
IMPORTS = ("import math\nfrom numba import cuda\n"
           "from funcgrad.lowering import cuda_np as np, cuda_vmath as vmath")


def _device(f):
    return cuda.jit(device=True, inline="always")(f)


# ------------------------------------------------------------------------------------------
# libdevice in place of vmath's approximations


@_device
def exp_float32(x):
    return np.exp(np.float32(x))


@_device
def exp2_float32(x):
    return np.exp2(np.float32(x))


@_device
def expm1_float32(x):
    return np.expm1(np.float32(x))


@_device
def log_float32(x):
    return np.log(np.float32(x))


@_device
def log1p_float32(x):
    return np.log1p(np.float32(x))


@_device
def tanh_float32(x):
    return np.tanh(np.float32(x))


@_device
def sin_float32(x):
    return np.sin(np.float32(x))


@_device
def cos_float32(x):
    return np.cos(np.float32(x))


@_device
def logistic_float32(x):
    x = np.float32(x)
    e = np.exp(-np.abs(x))
    one = np.float32(1)
    return one / (one + e) if x >= np.float32(0) else e / (one + e)


@_device
def erf_float32(x):
    return np.float32(math.erf(np.float64(x)))


@_device
def pow_float32(x, y):
    return np.power(np.float32(x), np.float32(y))  # float64 pow, rounded once (cuda_np)


@_device
def exp_float64(x):
    return np.exp(np.float64(x))


@_device
def expm1_float64(x):
    return np.expm1(np.float64(x))


@_device
def log_float64(x):
    return np.log(np.float64(x))


@_device
def log1p_float64(x):
    return np.log1p(np.float64(x))


@_device
def tanh_float64(x):
    return np.tanh(np.float64(x))


@_device
def logistic_float64(x):
    x = np.float64(x)
    e = np.exp(-np.abs(x))
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)


_REPLACED = {f.__name__: f for f in (
    exp_float32, exp2_float32, expm1_float32, log_float32, log1p_float32, tanh_float32,
    sin_float32, cos_float32, logistic_float32, erf_float32, pow_float32, exp_float64,
    expm1_float64, log_float64, log1p_float64, tanh_float64, logistic_float64)}


# ------------------------------------------------------------------------------------------
# vmath's own source for everything else, with cuda_np as its ``np``

# The globals the ported functions see: vmath's (its constants and helpers), with NumPy
# swapped for cuda_np and every helper for its CUDA version.
_GLOBALS = dict(vmath.__dict__, np=np, __name__=__name__)


def _port(dispatcher):
    py = dispatcher.py_func
    f = types.FunctionType(py.__code__, _GLOBALS, py.__name__, py.__defaults__,
                           py.__closure__)
    f.__qualname__, f.__doc__ = py.__qualname__, py.__doc__
    return _device(f)


def _is_helper(value) -> bool:
    return hasattr(value, "py_func") and getattr(value, "targetoptions", None) is not None


_GLOBALS.update({name: _port(value) for name, value in vars(vmath).items()
                 if _is_helper(value) and name not in _REPLACED})
_GLOBALS.update(_REPLACED)

# The public helpers, under vmath's names (div_int32, rem_uint8, pow_int64, div_complex64, sq,
# max, min, clt, cle, cgt, cge, cmax, cmin, erfinv_float64, and the replacements above).
PUBLIC = sorted(name for name, value in vars(vmath).items()
                if _is_helper(value) and not name.startswith("_"))
globals().update({name: _GLOBALS[name] for name in PUBLIC})
