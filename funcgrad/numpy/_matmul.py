"""Products and contractions: matmul, dot, vdot, inner, outer, tensordot, einsum, kron and
matrix_transpose.

Each function promotes its operands to a common dtype, checks shapes with messages that name
the function, and lowers to one ``dot_general`` plus the transposes, reshapes and reductions
needed to put the result in NumPy's layout.
"""
from __future__ import annotations

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.numpy._util import (
    asarray,
    aval_of,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote_args,
    promote_dtypes,
)
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import reductions as red
from funcgrad.primitives import structural as st
from funcgrad.primitives.linalg import dot_general

# ---------------------------------------------------------------- internal helpers
# (shared with funcgrad.numpy.linalg)


def _transpose(x, perm):
    perm = tuple(perm)
    return x if perm == tuple(range(len(perm))) else st.transpose(x, perm)


def _sum(x, axes):
    """Sum over ``axes`` (a sequence of non-negative ints), removing them."""
    axes = tuple(sorted(axes))
    return red.reduce_sum(x, axes) if axes else x


def _extreme(x, axis: int, kind: str):
    """Max (``kind="max"``) or min over one axis, removing it."""
    return (red.reduce_max if kind == "max" else red.reduce_min)(x, (axis,))


def _index(x, axis: int, i: int):
    """``x[..., i, ...]`` along ``axis`` (static ``i``), removing the axis."""
    aval = aval_of(x)
    start = [0] * aval.ndim
    limit = list(aval.shape)
    start[axis], limit[axis] = i, i + 1
    out = st.slice(x, start, limit)
    return st.reshape(out, aval.shape[:axis] + aval.shape[axis + 1:])


def _full(value, dtype, shape=()):
    return st.full(tuple(shape), value, dtype)


def _eye_mask(shape, axis1: int, axis2: int, offset: int = 0):
    """A boolean array of ``shape`` that is True where ``index[axis2] - index[axis1] ==
    offset``."""
    i = st.broadcasted_iota(dtypes.int32, shape, axis1)
    j = st.broadcasted_iota(dtypes.int32, shape, axis2)
    if offset:
        i = ew.add_p.bind(i, _full(offset, dtypes.int32, shape))
    return ew.eq_p.bind(i, j)


def _diagonal_sum(x, axis1: int, axis2: int, offset: int = 0):
    """Keeps only the (offset) diagonal of ``axis1``/``axis2`` and sums away ``axis2``.

    Masking with select (rather than multiplying by an identity) keeps infs and NaNs off the
    diagonal from leaking into the result."""
    aval = aval_of(x)
    mask = _eye_mask(aval.shape, axis1, axis2, offset)
    x = ew.select_n_p.bind(mask, _full(0, aval.dtype, aval.shape), x)
    return _sum(x, (axis2,))


def _contract(op, a, b, adims, bdims, pet=None, batch=((), ())):
    """``dot_general`` after checking the contracted sizes, with errors that name ``op``."""
    aa, ba = aval_of(a), aval_of(b)
    for da, db in zip(adims, bdims):
        if aa.shape[da] != ba.shape[db]:
            raise errors.shape_error(
                op, f"contracting dimensions differ: {aa.str_short()} dim {da} "
                f"({aa.shape[da]}) vs {ba.str_short()} dim {db} ({ba.shape[db]}).",
                "check the operand shapes, or transpose an operand (funcgrad.numpy.swapaxes "
                "or .T).")
    return dot_general(a, b, ((tuple(adims), tuple(bdims)), batch),
                       preferred_element_type=pet)


def _pet(preferred_element_type):
    return None if preferred_element_type is None else dtypes.canonicalize(
        preferred_element_type)


def _multiply(op, a, b, pet):
    out = ew.mul_p.bind(*promote_args(op, a, b))
    return out if pet is None else ew.convert_element_type(out, pet)


def _ravel(x):
    aval = aval_of(x)
    return x if aval.ndim == 1 else st.reshape(x, (aval.size,))


# ---------------------------------------------------------------- matmul and friends

def matmul(a, b, /, *, precision=None, preferred_element_type=None):
    """Matrix product with NumPy's rules: the last two axes are matrices and leading axes are
    broadcast batch axes; a 1-D ``a`` is a row vector and a 1-D ``b`` a column vector (the
    added axis is removed from the result).

    Args:
      a, b: arrays of rank >= 1.
      precision: accepted for JAX compatibility and ignored.
      preferred_element_type: dtype of the result (and of the accumulation).

    Example:
        >>> fnp.matmul(fnp.ones((2, 3)), fnp.ones(3))
        Array([3., 3.], dtype=float32)
    """
    check_arraylike("matmul", a, b)
    a_in, b_in = aval_of(a), aval_of(b)
    if a_in.ndim == 0 or b_in.ndim == 0:
        raise errors.shape_error("matmul", f"operands must have rank >= 1, got "
                                 f"{a_in.str_short()} and {b_in.str_short()}.",
                                 "use multiply (*) for scalars.")
    a, b = promote_dtypes("matmul", a, b)
    pet = _pet(preferred_element_type)
    a_vec, b_vec = a_in.ndim == 1, b_in.ndim == 1
    ka, kb = a_in.ndim - 1, (0 if b_vec else b_in.ndim - 2)
    if a_in.shape[ka] != b_in.shape[kb]:
        raise errors.shape_error(
            "matmul", f"contracting dimensions differ: {a_in.str_short()} dim {ka} "
            f"({a_in.shape[ka]}) vs {b_in.str_short()} dim {kb} ({b_in.shape[kb]}).",
            "the last axis of a must match the second-to-last axis of b; transpose an operand "
            "(.T or funcgrad.numpy.swapaxes) or check the layer sizes.")
    a_batch = () if a_vec else a_in.shape[:-2]
    b_batch = () if b_vec else b_in.shape[:-2]
    batch = broadcast_shapes("matmul", a_batch, b_batch)
    out_shape = (batch + (() if a_vec else (a_in.shape[-2],))
                 + (() if b_vec else (b_in.shape[-1],)))
    if all(d == 1 for d in b_batch) and len(b_batch) <= len(a_batch) or not b_batch:
        # b is a single matrix (or vector): contract directly, a's batch axes are free axes.
        if b_batch:
            b = st.reshape(b, b_in.shape[-2:])
        out = dot_general(a, b, (((ka,), (0,)), ((), ())), preferred_element_type=pet)
    elif a_vec:
        out = dot_general(b, a, (((kb,), (0,)), ((), ())), preferred_element_type=pet)
    else:
        nb = len(batch)
        a = broadcast_to_shape(a, batch + a_in.shape[-2:])
        b = broadcast_to_shape(b, batch + b_in.shape[-2:]) if not b_vec else b
        bdims = tuple(range(nb))
        out = dot_general(a, b, (((nb + 1,), (nb,)), (bdims, bdims)),
                          preferred_element_type=pet)
    return out if aval_of(out).shape == out_shape else st.reshape(out, out_shape)


def matrix_transpose(x, /):
    """Swaps the last two axes of ``x`` (rank >= 2)."""
    check_arraylike("matrix_transpose", x)
    nd = aval_of(x).ndim
    if nd < 2:
        raise errors.shape_error("matrix_transpose", f"operand {aval_of(x).str_short()} must "
                                 "have rank >= 2.", "use transpose for vectors (a no-op).")
    return _transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def dot(a, b, *, precision=None, preferred_element_type=None):
    """NumPy's ``dot``: a product for scalars, the inner product for vectors, and otherwise a
    contraction of the last axis of ``a`` with the second-to-last axis of ``b`` (the last one
    when ``b`` is 1-D); the result has ``a``'s free axes then ``b``'s."""
    check_arraylike("dot", a, b)
    pet = _pet(preferred_element_type)
    a_in, b_in = aval_of(a), aval_of(b)
    if a_in.ndim == 0 or b_in.ndim == 0:
        return _multiply("dot", a, b, pet)
    a, b = promote_dtypes("dot", a, b)
    kb = 0 if b_in.ndim == 1 else b_in.ndim - 2
    return _contract("dot", a, b, (a_in.ndim - 1,), (kb,), pet)


def vdot(a, b, /, *, precision=None, preferred_element_type=None):
    """Dot product of the flattened arrays, conjugating ``a`` when complex."""
    check_arraylike("vdot", a, b)
    a, b = promote_dtypes("vdot", a, b)
    if aval_of(a).dtype.kind == "c":
        from funcgrad import numpy as fnp
        a = fnp.conj(a)
    a, b = _ravel(a), _ravel(b)
    return _contract("vdot", a, b, (0,), (0,), _pet(preferred_element_type))


def inner(a, b, /, *, precision=None, preferred_element_type=None):
    """Inner product over the last axes (a product when either operand is a scalar)."""
    check_arraylike("inner", a, b)
    pet = _pet(preferred_element_type)
    a_in, b_in = aval_of(a), aval_of(b)
    if a_in.ndim == 0 or b_in.ndim == 0:
        return _multiply("inner", a, b, pet)
    a, b = promote_dtypes("inner", a, b)
    return _contract("inner", a, b, (a_in.ndim - 1,), (b_in.ndim - 1,), pet)


def outer(a, b, out=None):
    """Outer product of the flattened arrays: ``result[i, j] = a[i] * b[j]``."""
    check_arraylike("outer", a, b)
    if out is not None:
        raise TypeError("outer: the out argument is not supported (arrays are immutable).")
    a, b = promote_dtypes("outer", a, b)
    return dot_general(_ravel(a), _ravel(b), (((), ()), ((), ())))


def _axes_list(op, axes, ndim, which):
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for ax in axes:
        if not -ndim <= int(ax) < ndim:
            raise errors.shape_error(op, f"axis {ax} is out of bounds for {which} of rank {ndim}.",
                                     f"use axes in [{-ndim}, {ndim}).")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise errors.shape_error(op, f"repeated axis in {axes} for {which}.",
                                 "list each axis once.")
    return out


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """Contracts ``a`` and ``b`` over ``axes``: an int ``N`` (the last ``N`` axes of ``a`` with
    the first ``N`` of ``b``) or a pair ``(axes_a, axes_b)`` of ints or sequences. The result
    has ``a``'s remaining axes, then ``b``'s."""
    check_arraylike("tensordot", a, b)
    a, b = promote_dtypes("tensordot", a, b)
    a_in, b_in = aval_of(a), aval_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a_in.ndim or n > b_in.ndim:
            raise errors.shape_error("tensordot", f"axes={n} is invalid for {a_in.str_short()} "
                                     f"and {b_in.str_short()}.",
                                     "use 0 <= axes <= the rank of both operands.")
        adims, bdims = list(range(a_in.ndim - n, a_in.ndim)), list(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: axes must be an int or a pair of sequences, got "
                            f"{axes!r}.") from None
        adims = _axes_list("tensordot", axes_a, a_in.ndim, "a")
        bdims = _axes_list("tensordot", axes_b, b_in.ndim, "b")
        if len(adims) != len(bdims):
            raise errors.shape_error("tensordot", f"axes {axes} pair {len(adims)} axes of a "
                                     f"with {len(bdims)} axes of b.",
                                     "give the same number of axes for both operands.")
    return _contract("tensordot", a, b, adims, bdims, _pet(preferred_element_type))


def kron(a, b, /):
    """Kronecker product: blocks ``a[i, j] * b`` (operands of unequal rank get leading
    size-1 axes)."""
    check_arraylike("kron", a, b)
    a, b = promote_dtypes("kron", a, b)
    sa, sb = aval_of(a).shape, aval_of(b).shape
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    # Interleave the axes: a on even axes, b on odd ones; multiply; merge each pair.
    full = tuple(d for pair in zip(sa, sb) for d in pair)
    a = st.broadcast_in_dim(st.reshape(a, sa), full, tuple(range(0, 2 * nd, 2)))
    b = st.broadcast_in_dim(st.reshape(b, sb), full, tuple(range(1, 2 * nd, 2)))
    return st.reshape(ew.mul_p.bind(a, b), tuple(x * y for x, y in zip(sa, sb)))


# ---------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_term(term: str, where: str, subscripts: str):
    """Labels of one term: letters, and ``None`` standing for the ellipsis."""
    labels = []
    rest = term
    while rest:
        if rest.startswith("..."):
            if None in labels:
                raise ValueError(f"einsum: more than one ellipsis in {where} of "
                                 f"'{subscripts}'.")
            labels.append(None)
            rest = rest[3:]
        elif rest[0] in _LETTERS:
            labels.append(rest[0])
            rest = rest[1:]
        else:
            raise ValueError(f"einsum: invalid character {rest[0]!r} in {where} of "
                             f"'{subscripts}'; use letters a-z, A-Z and '...'.")
    return labels


def _interleaved_to_subscripts(args):
    # einsum(op0, sublist0, op1, sublist1, ..., [sublist_out]) -> "subscripts", operands
    def term(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    args = list(args)
    out = term(args.pop()) if len(args) % 2 == 1 else None
    ops, subs = args[0::2], [term(s) for s in args[1::2]]
    return ",".join(subs) + ("" if out is None else "->" + out), ops


def einsum(subscripts, /, *operands, out=None, optimize="auto", precision=None,
           preferred_element_type=None):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", x, y)``.

    Supports explicit (``->``) and implicit outputs (labels that occur once, in alphabetical
    order), ``...`` for broadcast axes, repeated labels within an operand (diagonals and
    traces), size-1 broadcasting and any number of operands (contracted pairwise, left to
    right). The interleaved form ``einsum(x, [0, 1], y, [1, 2])`` is also accepted.

    Example:
        >>> fnp.einsum("ii", fnp.eye(3))
        Array(3., dtype=float32)
    """
    if out is not None:
        raise TypeError("einsum: the out argument is not supported (arrays are immutable).")
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_subscripts((subscripts,) + operands)
    check_arraylike("einsum", *operands)
    if not operands:
        raise ValueError("einsum: at least one operand is required.")
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: more than one '->' in '{subscripts}'.")
    lhs, explicit_out = spec.split("->") if "->" in spec else (spec, None)
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: subscripts '{subscripts}' name {len(terms)} operand(s) but "
                         f"{len(operands)} were given.")
    operands = [asarray(o) for o in promote_dtypes("einsum", *operands)]
    pet = _pet(preferred_element_type)
    if pet is not None:
        operands = [ew.convert_element_type(o, pet) for o in operands]
    avals = [aval_of(o) for o in operands]

    # Replace each ellipsis by integer labels, right-aligned across operands.
    parsed = [_parse_term(t, f"operand {i}", subscripts) for i, t in enumerate(terms)]
    n_ell = []
    for i, (labels, aval) in enumerate(zip(parsed, avals)):
        named = len(labels) - (None in labels)
        if named > aval.ndim or (None not in labels and named != aval.ndim):
            raise errors.shape_error("einsum", f"operand {i} {aval.str_short()} has rank "
                                     f"{aval.ndim} but its subscripts '{terms[i]}' name "
                                     f"{named} axes.", "give one letter per axis (or use "
                                     "'...').")
        n_ell.append(aval.ndim - named)
    max_ell = max(n_ell)
    ops = []
    for labels, e, x in zip(parsed, n_ell, operands):
        full_labels = []
        for lab in labels:
            full_labels.extend(range(max_ell - e, max_ell) if lab is None else [lab])
        ops.append([x, full_labels])

    if explicit_out is None:
        counts = {}
        for _, labels in ops:
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        out_labels = list(range(max_ell)) + sorted(
            lab for lab, c in counts.items() if c == 1 and isinstance(lab, str))
    else:
        out_parsed = _parse_term(explicit_out, "the output", subscripts)
        if None not in out_parsed and max_ell:
            raise ValueError(f"einsum: the operands have '...' axes but the output of "
                             f"'{subscripts}' has no '...'; add it to the output.")
        out_labels = []
        for lab in out_parsed:
            out_labels.extend(range(max_ell) if lab is None else [lab])
        in_labels = {lab for _, labels in ops for lab in labels}
        for lab in out_labels:
            if out_labels.count(lab) > 1:
                raise ValueError(f"einsum: output label {lab!r} repeated in '{subscripts}'.")
            if lab not in in_labels and isinstance(lab, str):
                raise ValueError(f"einsum: output label {lab!r} does not occur in the inputs of "
                                 f"'{subscripts}'.")

    # Sizes: equal, or 1 (broadcast). A size-1 axis facing a larger one is dropped.
    sizes: dict = {}
    for i, (x, labels) in enumerate(ops):
        for ax, lab in enumerate(labels):
            d = aval_of(x).shape[ax]
            if d != 1 and sizes.get(lab, 1) not in (1, d):
                raise errors.shape_error(
                    "einsum", f"label {_label_str(lab)} has size {sizes[lab]} in one operand "
                    f"but {d} in operand {i} {aval_of(x).str_short()} ('{subscripts}').",
                    "labels must name axes of equal size (or size 1).")
            sizes[lab] = d if sizes.get(lab, 1) == 1 else sizes[lab]
    for op_ in ops:
        x, labels = op_
        shape = aval_of(x).shape
        drop = [ax for ax, lab in enumerate(labels) if shape[ax] == 1 and sizes[lab] != 1]
        if drop:
            op_[0] = st.reshape(x, [d for ax, d in enumerate(shape) if ax not in drop])
            op_[1] = [lab for ax, lab in enumerate(labels) if ax not in drop]

    # Repeated labels inside one operand: take diagonals.
    for op_ in ops:
        x, labels = op_
        while len(set(labels)) != len(labels):
            lab = next(lab for lab in labels if labels.count(lab) > 1)
            i = labels.index(lab)
            j = labels.index(lab, i + 1)
            x = _diagonal_sum(x, i, j)
            labels = labels[:j] + labels[j + 1:]
        op_[0], op_[1] = x, labels

    # Contract left to right; sum away labels no later operand or the output needs.
    def needed_after(k):
        need = set(out_labels)
        for _, labels in ops[k:]:
            need.update(labels)
        return need

    def sum_unneeded(x, labels, keep):
        axes = [ax for ax, lab in enumerate(labels) if lab not in keep]
        return _sum(x, axes), [lab for lab in labels if lab in keep]

    x, labels = ops[0]
    for k in range(1, len(ops)):
        y, ylabels = ops[k]
        later = needed_after(k + 1)
        x, labels = sum_unneeded(x, labels, later | set(ylabels))
        y, ylabels = sum_unneeded(y, ylabels, later | set(labels))
        shared = [lab for lab in labels if lab in ylabels]
        batch = [lab for lab in shared if lab in later]
        contract = [lab for lab in shared if lab not in later]
        dn = (([labels.index(lab) for lab in contract], [ylabels.index(lab) for lab in contract]),
              ([labels.index(lab) for lab in batch], [ylabels.index(lab) for lab in batch]))
        x = dot_general(x, y, dn)
        labels = (batch + [lab for lab in labels if lab not in shared]
                  + [lab for lab in ylabels if lab not in shared])
    x, labels = sum_unneeded(x, labels, set(out_labels))
    return _transpose(x, [labels.index(lab) for lab in out_labels])


def _label_str(lab):
    return repr(lab) if isinstance(lab, str) else "'...'"


__all__ = ["matmul", "matrix_transpose", "dot", "vdot", "inner", "outer", "tensordot", "kron",
           "einsum"]
