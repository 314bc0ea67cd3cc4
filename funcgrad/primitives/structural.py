"""Structural primitives: shapes and layouts (broadcast_in_dim, reshape, ...).

Params are static and hashable (tuples of ints), arrays are positional operands.
"""
from __future__ import annotations

import numpy as np

from funcgrad import errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import fmt  # noqa: F401


# ---------------------------------------------------------------- broadcast_in_dim

def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
    op = "broadcast_in_dim"
    if len(broadcast_dimensions) != x.ndim:
        raise errors.shape_error(op, f"operand {x.str_short()} has rank {x.ndim} but "
                                 f"broadcast_dimensions={broadcast_dimensions} has "
                                 f"{len(broadcast_dimensions)} entries.",
                                 "give one output dimension per operand dimension.")
    if any(b >= len(shape) or b < 0 for b in broadcast_dimensions) or \
            list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise errors.shape_error(op, f"broadcast_dimensions={broadcast_dimensions} must be "
                                 f"strictly increasing and within rank {len(shape)}.",
                                 "list the output dimensions in increasing order.")
    for i, b in enumerate(broadcast_dimensions):
        if x.shape[i] not in (1, shape[b]):
            raise errors.shape_error(op, f"operand {x.str_short()} dimension {i} (size "
                                     f"{x.shape[i]}) cannot be broadcast to size {shape[b]} of "
                                     f"the result shape {shape}.",
                                     "operand dimensions must be 1 or equal to the target.")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, b in enumerate(broadcast_dimensions):
        expanded[b] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


broadcast_in_dim_p = Primitive("broadcast_in_dim", impl=_broadcast_in_dim_impl,
                               abstract_eval=_broadcast_in_dim_abstract_eval)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    """Broadcasts ``x`` to ``shape``; operand dim ``i`` becomes result dim
    ``broadcast_dimensions[i]``."""
    return broadcast_in_dim_p.bind(x, shape=tuple(int(d) for d in shape),
                                   broadcast_dimensions=tuple(int(d) for d in
                                                              broadcast_dimensions))


# ---------------------------------------------------------------- reshape

def _reshape_abstract_eval(x, *, new_sizes):
    if any(d < 0 for d in new_sizes) or int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise errors.shape_error("reshape", f"cannot reshape {x.str_short()} ({x.size} elements) "
                                 f"into shape {new_sizes}.",
                                 "the new shape must have the same number of elements.")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = Primitive("reshape", impl=lambda x, *, new_sizes: x.reshape(new_sizes),
                      abstract_eval=_reshape_abstract_eval)


def reshape(x, new_sizes):
    """Reshapes ``x`` (row-major) to ``new_sizes``, a tuple of non-negative ints."""
    return reshape_p.bind(x, new_sizes=tuple(int(d) for d in new_sizes))


__all__ = ["broadcast_in_dim", "reshape"]
