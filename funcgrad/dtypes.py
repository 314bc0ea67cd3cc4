"""Supported dtypes, weak types and type promotion.

Promotion is the least upper bound on a small lattice of dtypes, as in JAX. Python scalars
(and arrays created from them) are *weakly typed*: they sit at the bottom of their kind, so
``x_f32 * 2.0`` stays float32 and ``x_i8 + 1`` stays int8.
"""
from __future__ import annotations

import functools

import numpy as np

from funcgrad import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

# The tangent type of integer and boolean values: a zero-size "no information" dtype.
float0 = np.dtype([("float0", np.void, 0)])

SIGNED = (int8, int16, int32, int64)
UNSIGNED = (uint8, uint16, uint32, uint64)
INTS = SIGNED + UNSIGNED
FLOATS = (float16, float32, float64)
COMPLEX = (complex64, complex128)
INEXACT = FLOATS + COMPLEX
NUMERIC = INTS + INEXACT
ALL = (bool_,) + NUMERIC

# Lattice nodes: concrete dtypes plus the three weak kinds of Python scalars.


class _WeakKind:
    """A lattice node for weakly typed values of one kind. Not a string: NumPy dtypes compare
    equal to strings such as "float", which would confuse the lattice."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"weak {self.name}"


_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX = _WeakKind("int"), _WeakKind("float"), _WeakKind("complex")
_EDGES = {
    bool_: [_WEAK_INT],
    _WEAK_INT: [uint8, int8],
    uint8: [uint16, int16], uint16: [uint32, int32], uint32: [uint64, int64],
    uint64: [_WEAK_FLOAT],
    int8: [int16], int16: [int32], int32: [int64], int64: [_WEAK_FLOAT],
    _WEAK_FLOAT: [float16, _WEAK_COMPLEX],
    float16: [float32], float32: [float64, complex64], float64: [complex128],
    _WEAK_COMPLEX: [complex64], complex64: [complex128], complex128: [],
}


def _upper_set(node) -> frozenset:
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(_EDGES[n])
    return frozenset(seen)


_UPPER = {n: _upper_set(n) for n in _EDGES}


def _lattice_node(dtype: np.dtype, weak: bool):
    if weak:
        if dtype.kind in "iu":
            return _WEAK_INT
        if dtype.kind == "f":
            return _WEAK_FLOAT
        if dtype.kind == "c":
            return _WEAK_COMPLEX
    return dtype


@functools.cache
def _join(a, b):
    common = _UPPER[a] & _UPPER[b]
    # The least upper bound is the element of `common` that every other element is above.
    for n in common:
        if common <= _UPPER[n]:
            return n
    raise AssertionError(f"dtype lattice has no join for {a} and {b}")


def _node_to_dtype(node) -> tuple[np.dtype, bool]:
    if node is _WEAK_INT:
        return default_int(), True
    if node is _WEAK_FLOAT:
        return default_float(), True
    if node is _WEAK_COMPLEX:
        return default_complex(), True
    return node, False


def result_type(*typed: tuple[np.dtype, bool]) -> tuple[np.dtype, bool]:
    """Promotes ``(dtype, weak_type)`` pairs; returns the result ``(dtype, weak_type)``.

    A weak value whose kind is below a strong value's adopts the strong dtype. When every input
    is weak the result is weak, with the default dtype of the joined kind, unless all inputs
    already share one dtype (a weak float64 stays float64).
    """
    if not typed:
        raise ValueError("result_type requires at least one input")
    node = functools.reduce(_join, (_lattice_node(np.dtype(d), w) for d, w in typed))
    if isinstance(node, _WeakKind):
        dts = {np.dtype(d) for d, _ in typed if _lattice_node(np.dtype(d), True) is node}
        if len(dts) == 1:
            return dts.pop(), True
    return _node_to_dtype(node)


def default_float() -> np.dtype:
    return np.dtype(config.values.default_float)


def default_int() -> np.dtype:
    return np.dtype(config.values.default_int)


def default_complex() -> np.dtype:
    return complex128 if default_float() == float64 else complex64


def canonicalize(dtype) -> np.dtype:
    """Returns ``np.dtype(dtype)``; raises a TypeError naming unsupported dtypes.

    Python's ``float``, ``int`` and ``complex`` mean funcgrad's defaults (float32, int32,
    complex64), as in JAX, not NumPy's 64-bit types.
    """
    if dtype is float:
        return default_float()
    if dtype is int:
        return default_int()
    if dtype is complex:
        return default_complex()
    if dtype is bool:
        return bool_
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"funcgrad: {dtype!r} is not a dtype. Use e.g. 'float32' or "
                        f"funcgrad.numpy.float32.") from e
    if dt not in ALL and dt != float0:
        raise TypeError(f"funcgrad: dtype {dt} is not supported; supported dtypes are "
                        f"{', '.join(str(d) for d in ALL)}.")
    return dt


def python_scalar_dtype(x) -> np.dtype:
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return default_int()
    if isinstance(x, float):
        return default_float()
    if isinstance(x, complex):
        return default_complex()
    raise TypeError(f"{type(x).__name__} is not a Python scalar")


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def is_inexact(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def is_integer(dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def is_complex(dtype) -> bool:
    return np.dtype(dtype).kind == "c"


def real_dtype(dtype) -> np.dtype:
    """The real dtype of matching precision: float32 for complex64, float64 for complex128;
    any other dtype is returned unchanged."""
    dt = np.dtype(dtype)
    return np.dtype(f"float{dt.itemsize * 4}") if dt.kind == "c" else dt


def complex_dtype(dtype) -> np.dtype:
    """The complex dtype holding values of ``dtype``: complex64 for float16 and float32,
    complex128 for float64; complex dtypes are returned unchanged."""
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return dt
    return complex128 if dt == float64 else complex64


def tangent_dtype(dtype) -> np.dtype:
    """The dtype of tangents/cotangents for values of ``dtype`` (float0 for ints and bools)."""
    dt = np.dtype(dtype)
    return dt if dt.kind in "fc" else float0


_SHORT = {
    "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "float16": "f16", "float32": "f32", "float64": "f64",
    "complex64": "c64", "complex128": "c128",
}


def short_name(dtype) -> str:
    dt = np.dtype(dtype)
    if dt == float0:
        return "float0"
    return _SHORT.get(dt.name, dt.name)


def iinfo(dtype):
    return np.iinfo(dtype)


def finfo(dtype):
    return np.finfo(dtype)
