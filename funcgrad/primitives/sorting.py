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


# ================================================================ transformation rules
# The jvp sorts an iota along with the operands to get the permutation, then gathers each
# tangent with it (the gradient follows the permutation: a tie goes to the element that
# sorted into that place). Batching moves every batch dimension to the front.

from funcgrad.primitives import reductions as _red  # noqa: E402
from funcgrad.primitives import structural as _st  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shape = core.get_aval(primals[0]).shape
    iota = _st.broadcasted_iota(np.int32, shape, dimension)
    *outs, perm = sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable,
                              num_keys=num_keys)
    t_outs = []
    for o, t in zip(outs, tangents):
        if type(t) is _ad.Zero or core.get_aval(o).dtype.kind not in "fc":
            t_outs.append(_ad.Zero.from_primal(o))
        else:
            t_outs.append(_red.take_along(t, perm, dimension))
    return outs, t_outs


def _sort_batch(vals, dims, *, dimension, is_stable, num_keys):
    size = _vm.batch_size(vals, dims)
    moved = [_vm.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
    outs = sort_p.bind(*moved, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return outs, [0] * len(outs)


_ad.rules[sort_p] = _sort_jvp
_vm.rules[sort_p] = _sort_batch
