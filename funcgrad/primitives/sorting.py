"""The sort primitive: sorts several same-shaped operands along one dimension, ordered
lexicographically by the first ``num_keys`` of them. ``argsort`` is ``sort`` of ``(x, iota)``.

NaNs sort last, as in NumPy. Operands may have different dtypes; they share one shape.
"""
from __future__ import annotations

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.core import Primitive
from funcgrad.primitives._helpers import fmt

# ---------------------------------------------------------------- sort


def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    op = "sort"
    if not operands:
        raise errors.shape_error(op, "needs at least one operand.", "pass one or more arrays.")
    first = operands[0]
    if any(o.shape != first.shape for o in operands):
        raise errors.shape_error(op, f"operands must have equal shapes, got {fmt(*operands)}.",
                                 "broadcast the operands to one shape first.")
    if not isinstance(dimension, int) or not 0 <= dimension < first.ndim:
        raise errors.shape_error(op, f"dimension={dimension!r} is out of range for operands "
                                 f"{fmt(*operands)} (rank {first.ndim}).",
                                 f"use a dimension in [0, {first.ndim}) (reshape 0-d operands "
                                 "to (1,) first).")
    if not isinstance(num_keys, int) or not 1 <= num_keys <= len(operands):
        raise errors.shape_error(op, f"num_keys={num_keys!r} must be in [1, {len(operands)}] "
                                 f"for operands {fmt(*operands)}.",
                                 "sort by at least one and at most all operands.")
    for k in operands[:num_keys]:
        if k.dtype in dtypes.COMPLEX:
            raise errors.dtype_error(op, f"sort key {k.str_short()} is complex, which has no "
                                     "order here.", "sort by the real part, or by abs().")
    return list(operands)


def _sort_impl(*operands, dimension, is_stable, num_keys):
    moved = [np.moveaxis(o, dimension, -1) for o in operands]
    # np.lexsort is stable, puts NaNs last and takes its primary key last.
    perm = np.lexsort(moved[:num_keys][::-1], axis=-1) if moved[0].size else \
        np.zeros(moved[0].shape, np.intp)
    return [np.moveaxis(np.take_along_axis(m, perm, axis=-1), -1, dimension) for m in moved]


sort_p = Primitive("sort", impl=_sort_impl, abstract_eval=_sort_abstract_eval,
                   multiple_results=True)


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sorts along ``dimension``.

    Args:
      operand: one array, or a sequence of same-shaped arrays that are permuted together.
      dimension: the axis to sort along (negative counts from the end).
      is_stable: keep the input order of equal keys (this implementation always does).
      num_keys: how many leading operands form the lexicographic key.

    Returns:
      The sorted array, or a list of sorted arrays when ``operand`` is a sequence.
    """
    single = not isinstance(operand, (tuple, list))
    operands = [operand] if single else list(operand)
    if not operands:
        raise errors.shape_error("sort", "needs at least one operand.", "pass one or more arrays.")
    ndim = core.get_aval(operands[0]).ndim
    dim = int(dimension)
    dim = dim + ndim if -ndim <= dim < 0 else dim
    out = sort_p.bind(*operands, dimension=dim, is_stable=bool(is_stable), num_keys=int(num_keys))
    return out[0] if single else out


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """Sorts ``keys`` along ``dimension`` and permutes ``values`` the same way."""
    k, v = sort([keys, values], dimension, is_stable, num_keys=1)
    return k, v


__all__ = ["sort", "sort_key_val"]
