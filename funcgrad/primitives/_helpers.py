"""Shared constructors and checks for defining primitives.

A primitive's section in its family file is: its impl and rules, then one registration block.
``standard_*`` builders give the common abstract-eval rules so that an elementwise primitive
costs a few lines.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.core import Primitive, ShapedArray


def fmt(*avals) -> str:
    return ", ".join(a.str_short() for a in avals)


def check_dtype(op: str, aval: ShapedArray, allowed: Sequence[np.dtype], what: str = "operand"):
    if aval.dtype not in allowed:
        kinds = _describe_dtypes(allowed)
        raise errors.dtype_error(
            op, f"{what} has dtype {aval.dtype} ({aval.str_short()}); {op} accepts {kinds}.",
            f"convert it first, e.g. x.astype({_suggest(allowed)!r}).")


def _describe_dtypes(allowed) -> str:
    allowed = set(allowed)
    for name, group in (("floating or complex dtypes", dtypes.INEXACT),
                        ("floating dtypes", dtypes.FLOATS), ("integer dtypes", dtypes.INTS),
                        ("integer or boolean dtypes", dtypes.INTS + (dtypes.bool_,)),
                        ("numeric dtypes", dtypes.NUMERIC)):
        if allowed == set(group):
            return name
    return "dtypes " + ", ".join(sorted(d.name for d in allowed))


def _suggest(allowed) -> str:
    for d in (dtypes.float32, dtypes.int32, dtypes.bool_):
        if d in allowed:
            return d.name
    return next(iter(allowed)).name


def check_same_shapes_and_dtypes(op: str, avals: Sequence[ShapedArray]):
    first = avals[0]
    for a in avals[1:]:
        if a.shape != first.shape:
            raise errors.shape_error(
                op, f"operands must have equal shapes, got {fmt(*avals)}.",
                "broadcast explicitly (funcgrad.lax.broadcast_in_dim), or use the "
                "funcgrad.numpy function, which broadcasts.")
        if a.dtype != first.dtype:
            raise errors.dtype_error(
                op, f"operands must have equal dtypes, got {fmt(*avals)}.",
                "convert explicitly (funcgrad.lax.convert_element_type), or use the "
                "funcgrad.numpy function, which promotes.")


def standard_elementwise(name: str, impl: Callable, *, nargs: int,
                         allowed: Sequence[np.dtype], out_dtype=None) -> Primitive:
    """An n-ary elementwise primitive: equal shapes and dtypes in, same shape out.

    ``out_dtype`` (a dtype, or a function of the input dtype) fixes the output dtype, as for
    comparisons (bool). The output is weakly typed only when every input is.
    """
    allowed_set = frozenset(np.dtype(d) for d in allowed)  # a hash lookup on the hot path

    def abstract_eval(*avals, **params):
        if len(avals) != nargs:
            raise TypeError(f"{name} takes {nargs} operands, got {len(avals)}")
        check_same_shapes_and_dtypes(name, avals)
        if avals[0].dtype not in allowed_set:
            check_dtype(name, avals[0], allowed)
        dt = avals[0].dtype if out_dtype is None else (
            out_dtype(avals[0].dtype) if callable(out_dtype) else out_dtype)
        weak = all(a.weak_type for a in avals) and dt == avals[0].dtype
        return ShapedArray._trusted(avals[0].shape, np.dtype(dt), weak)

    return Primitive(name, impl=impl, abstract_eval=abstract_eval)


def canonicalize_axis(op: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise errors.shape_error(op, f"axis {axis} is out of bounds for an array of rank {ndim}.",
                                 f"use an axis in [{-ndim}, {ndim}).")
    return axis % ndim
