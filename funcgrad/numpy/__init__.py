"""funcgrad.numpy: NumPy's API over funcgrad arrays, usable under every transformation.

NumPy's names and semantics, with JAX's where they differ: creation functions default to
float32, NumPy inputs keep their dtype, and Python scalars are weakly typed, so ``x32 * 2.0``
stays float32.
"""
from __future__ import annotations

import numpy as _np

from funcgrad import _array_methods
from funcgrad.array import Array as ndarray  # noqa: F401
from funcgrad.numpy import (_creation, _indexing, _matmul, _reductions, _shape, _sorting,
                            _ufuncs, fft, linalg)
from funcgrad.numpy._creation import *  # noqa: F401,F403
from funcgrad.numpy._indexing import *  # noqa: F401,F403
from funcgrad.numpy._matmul import *  # noqa: F401,F403
from funcgrad.numpy._reductions import *  # noqa: F401,F403
from funcgrad.numpy._shape import *  # noqa: F401,F403
from funcgrad.numpy._sorting import *  # noqa: F401,F403
from funcgrad.numpy._ufuncs import *  # noqa: F401,F403
from funcgrad.numpy._util import array, asarray  # noqa: F401

# dtype objects, as in NumPy
bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
dtype, finfo, iinfo = _np.dtype, _np.finfo, _np.iinfo
pi, e, inf, nan, newaxis, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, None, _np.euler_gamma
integer, floating, inexact, number = _np.integer, _np.floating, _np.inexact, _np.number
signedinteger, unsignedinteger, complexfloating = (_np.signedinteger, _np.unsignedinteger,
                                                   _np.complexfloating)

_array_methods.fnp = __import__(__name__, fromlist=["_"])
