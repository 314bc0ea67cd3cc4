"""Contraction and linear-algebra primitives: dot_general, cholesky, eigh, svd, qr, lu and
triangular_solve.

Matrix primitives act on the last two dimensions and are batched over every leading dimension;
all operands share one set of batch dimensions (funcgrad.numpy broadcasts). The impls are plain
NumPy (BLAS/LAPACK through np.matmul and np.linalg), so no SciPy is needed. Like JAX, failures
are values rather than exceptions: a matrix that is not positive definite gives a NaN Cholesky
factor, and a singular triangle gives inf/NaN solutions.
"""
from __future__ import annotations

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import check_dtype, fmt

# dot_general accepts every dtype NumPy's matmul does; factorizations are real floating only.
DOT_DTYPES = dtypes.NUMERIC + (dtypes.bool_,)
LINALG_DTYPES = (dtypes.float32, dtypes.float64)


def _check_matrix(op: str, x: ShapedArray, *, square: bool = False, what: str = "operand"):
    check_dtype(op, x, LINALG_DTYPES, what)
    if x.ndim < 2:
        raise errors.shape_error(op, f"{what} {x.str_short()} must have rank >= 2 (a batch of "
                                 "matrices).", "reshape it to [..., m, n].")
    if square and x.shape[-1] != x.shape[-2]:
        raise errors.shape_error(op, f"{what} {x.str_short()} must be a batch of square "
                                 "matrices.", "pass matrices of shape [..., n, n].")


def _as_batch(x: np.ndarray) -> np.ndarray:
    return x.reshape((int(np.prod(x.shape[:-2], dtype=np.int64)),) + x.shape[-2:])


# ---------------------------------------------------------------- dot_general

def _check_dims(op, name, aval, dims):
    for d in dims:
        if not 0 <= d < aval.ndim:
            raise errors.shape_error(op, f"{name} dimension {d} is out of bounds for "
                                     f"{aval.str_short()}.",
                                     f"use dimensions in [0, {aval.ndim}).")


def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers, preferred_element_type):
    op = "dot_general"
    (lc, rc), (lb, rb) = dimension_numbers
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise errors.shape_error(op, f"dimension_numbers {dimension_numbers} pair "
                                 f"{len(lc)} lhs with {len(rc)} rhs contracting and {len(lb)} "
                                 f"lhs with {len(rb)} rhs batch dimensions.",
                                 "give the same number of dimensions for lhs and rhs.")
    for name, aval, c, b in (("lhs", lhs, lc, lb), ("rhs", rhs, rc, rb)):
        _check_dims(op, name, aval, c + b)
        if len(set(c + b)) != len(c + b):
            raise errors.shape_error(op, f"{name} {aval.str_short()} has a repeated dimension in "
                                     f"contracting {c} / batch {b}.",
                                     "list each dimension at most once.")
    for kind, ldims, rdims in (("contracting", lc, rc), ("batch", lb, rb)):
        for ld, rd in zip(ldims, rdims):
            if lhs.shape[ld] != rhs.shape[rd]:
                raise errors.shape_error(
                    op, f"{kind} dimensions differ: lhs {lhs.str_short()} dim {ld} "
                    f"({lhs.shape[ld]}) vs rhs {rhs.str_short()} dim {rd} ({rhs.shape[rd]}).",
                    "check the operand shapes, or transpose an operand "
                    "(funcgrad.numpy.swapaxes).")
    if lhs.dtype != rhs.dtype:
        raise errors.dtype_error(op, f"operands must have equal dtypes, got {fmt(lhs, rhs)}.",
                                 "convert one operand (funcgrad.lax.convert_element_type), or "
                                 "use funcgrad.numpy.matmul/einsum, which promote.")
    check_dtype(op, lhs, DOT_DTYPES)
    lfree = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rfree = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    shape = ([lhs.shape[d] for d in lb] + [lhs.shape[d] for d in lfree]
             + [rhs.shape[d] for d in rfree])
    out_dtype = lhs.dtype if preferred_element_type is None else preferred_element_type
    weak = lhs.weak_type and rhs.weak_type and preferred_element_type is None
    return ShapedArray(shape, out_dtype, weak)


def _dot_general_impl(lhs, rhs, *, dimension_numbers, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    out_dtype = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    if out_dtype != lhs.dtype:
        lhs, rhs = lhs.astype(out_dtype), rhs.astype(out_dtype)  # accumulate in the wider type
    lfree = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rfree = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    bshape = [lhs.shape[d] for d in lb]
    lshape = [lhs.shape[d] for d in lfree]
    rshape = [rhs.shape[d] for d in rfree]
    size = lambda s: int(np.prod(s, dtype=np.int64))
    nb, m, n, k = size(bshape), size(lshape), size(rshape), size([lhs.shape[d] for d in lc])
    # One batched BLAS call: lhs -> [B, M, K], rhs -> [B, K, N].
    a = lhs.transpose(list(lb) + lfree + list(lc)).reshape(nb, m, k)
    b = rhs.transpose(list(rb) + list(rc) + rfree).reshape(nb, k, n)
    out = np.matmul(a[0], b[0])[None] if nb == 1 else np.matmul(a, b)
    return out.reshape(bshape + lshape + rshape).astype(out_dtype, copy=False)


dot_general_p = Primitive("dot_general", impl=_dot_general_impl,
                          abstract_eval=_dot_general_abstract_eval)


def _dims_tuple(dims, ndim):
    # Negative dimensions count from the end; out-of-range ones are left for the shape check.
    return tuple(int(d) + ndim if -ndim <= int(d) < 0 else int(d) for d in dims)


def dot_general(lhs, rhs, dimension_numbers, preferred_element_type=None):
    """General tensor contraction.

    ``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))``. The result
    has the batch dimensions first, then the free dimensions of ``lhs``, then those of ``rhs``
    (each in their original order). Operands must have equal dtypes.
    """
    from funcgrad.core import get_aval
    ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((_dims_tuple(lc, ln), _dims_tuple(rc, rn)), (_dims_tuple(lb, ln), _dims_tuple(rb, rn)))
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, preferred_element_type=pet)


# ---------------------------------------------------------------- cholesky

def _cholesky_abstract_eval(x):
    _check_matrix("cholesky", x, square=True)
    return x.strip_weak_type()


def _cholesky_impl(x):
    # Reads the lower triangle only. Matrices that are not positive definite give NaN factors
    # (as in JAX) instead of NumPy's LinAlgError for the whole batch.
    xb = _as_batch(x)
    try:
        out = np.linalg.cholesky(xb)
    except np.linalg.LinAlgError:
        out = np.empty_like(xb)
        for i, m in enumerate(xb):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                out[i] = np.nan
    return out.reshape(x.shape).astype(x.dtype, copy=False)


cholesky_p = Primitive("cholesky", impl=_cholesky_impl, abstract_eval=_cholesky_abstract_eval)


def cholesky(x):
    """The lower Cholesky factor ``L`` of each matrix (``x = L @ L.T``); only the lower
    triangle of ``x`` is read. Not positive definite -> NaN."""
    return cholesky_p.bind(x)


# ---------------------------------------------------------------- eigh

def _eigh_abstract_eval(x, *, lower):
    _check_matrix("eigh", x, square=True)
    return [x.strip_weak_type(), ShapedArray(x.shape[:-1], x.dtype)]


def _eigh_impl(x, *, lower):
    w, v = np.linalg.eigh(x, UPLO="L" if lower else "U")
    return [v.astype(x.dtype, copy=False), w.astype(x.dtype, copy=False)]


eigh_p = Primitive("eigh", impl=_eigh_impl, abstract_eval=_eigh_abstract_eval,
                   multiple_results=True)


def eigh(x, lower: bool = True):
    """Eigen-decomposition of symmetric matrices: returns ``(v, w)`` with eigenvectors in the
    columns of ``v`` and eigenvalues ``w`` in ascending order. Reads the ``lower`` (or upper)
    triangle only."""
    v, w = eigh_p.bind(x, lower=bool(lower))
    return v, w


# ---------------------------------------------------------------- svd

def _svd_abstract_eval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x)
    *batch, m, n = x.shape
    k = min(m, n)
    s = ShapedArray((*batch, k), x.dtype)
    if not compute_uv:
        return [s]
    u = ShapedArray((*batch, m, m if full_matrices else k), x.dtype)
    vh = ShapedArray((*batch, n if full_matrices else k, n), x.dtype)
    return [s, u, vh]


def _svd_impl(x, *, full_matrices, compute_uv):
    if not compute_uv:
        return [np.linalg.svd(x, compute_uv=False).astype(x.dtype, copy=False)]
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    return [a.astype(x.dtype, copy=False) for a in (s, u, vh)]


svd_p = Primitive("svd", impl=_svd_impl, abstract_eval=_svd_abstract_eval,
                  multiple_results=True)


def svd(x, full_matrices: bool = True, compute_uv: bool = True):
    """Singular value decomposition ``x = u @ diag(s) @ vh`` with ``s`` descending. Returns
    ``(u, s, vh)``, or ``s`` alone when ``compute_uv=False``."""
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return outs[0]
    s, u, vh = outs
    return u, s, vh


# ---------------------------------------------------------------- qr

def _qr_abstract_eval(x, *, full_matrices):
    _check_matrix("qr", x)
    *batch, m, n = x.shape
    k = m if full_matrices else min(m, n)
    return [ShapedArray((*batch, m, k), x.dtype), ShapedArray((*batch, k, n), x.dtype)]


def _qr_impl(x, *, full_matrices):
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q.astype(x.dtype, copy=False), r.astype(x.dtype, copy=False)]


qr_p = Primitive("qr", impl=_qr_impl, abstract_eval=_qr_abstract_eval, multiple_results=True)


def qr(x, full_matrices: bool = False):
    """QR decomposition ``x = q @ r``: ``q`` has orthonormal columns, ``r`` is upper
    triangular. Returns ``(q, r)``."""
    q, r = qr_p.bind(x, full_matrices=bool(full_matrices))
    return q, r


# ---------------------------------------------------------------- lu

def _lu_abstract_eval(x):
    _check_matrix("lu", x)
    *batch, m, n = x.shape
    return [x.strip_weak_type(), ShapedArray((*batch, min(m, n)), dtypes.int32),
            ShapedArray((*batch, m), dtypes.int32)]


def _lu_impl(x, block=32):
    # Blocked right-looking LU with partial pivoting, vectorised over the whole batch: each
    # panel of `block` columns is factored column by column (whole rows are swapped), then the
    # rows to its right are solved and the trailing matrix gets one matmul update. A zero pivot
    # column is left unscaled (LAPACK's getrf does the same).
    *batch, m, n = x.shape
    k = min(m, n)
    a = np.array(_as_batch(x), dtype=x.dtype, order="C")
    nb = a.shape[0]
    rows = np.arange(nb)
    pivots = np.zeros((nb, k), np.int32)
    perm = np.tile(np.arange(m, dtype=np.int32), (nb, 1))
    with np.errstate(all="ignore"):
        for j0 in range(0, k, block):
            j1 = min(j0 + block, k)
            for j in range(j0, j1):
                p = j + np.argmax(np.abs(a[:, j:, j]), axis=1)
                pivots[:, j] = p
                if np.any(p != j):
                    row_j, perm_j = a[:, j, :].copy(), perm[:, j].copy()
                    a[:, j, :], perm[:, j] = a[rows, p, :], perm[rows, p]
                    a[rows, p, :], perm[rows, p] = row_j, perm_j
                piv = a[:, j, j]
                a[:, j + 1:, j] /= np.where(piv == 0, 1, piv)[:, None]
                a[:, j + 1:, j + 1:j1] -= a[:, j + 1:, j, None] * a[:, j, None, j + 1:j1]
            if j1 < n:  # U12 = L11^-1 A12 (unit lower: only the strict lower part is read)
                a[:, j0:j1, j1:] = _solve_lower(a[:, j0:j1, j0:j1], a[:, j0:j1, j1:], True)
                if j1 < m:
                    a[:, j1:, j1:] -= np.matmul(a[:, j1:, j0:j1], a[:, j0:j1, j1:])
    return [a.reshape(x.shape), pivots.reshape((*batch, k)), perm.reshape((*batch, m))]


lu_p = Primitive("lu", impl=_lu_impl, abstract_eval=_lu_abstract_eval, multiple_results=True)


def lu(x):
    """LU decomposition with partial pivoting. Returns ``(lu, pivots, permutation)``: ``lu``
    packs the unit-lower ``L`` (below the diagonal) and ``U``; ``pivots[i]`` is the row swapped
    with row ``i`` at step ``i``; ``x[..., permutation, :] == L @ U``."""
    out, pivots, perm = lu_p.bind(x)
    return out, pivots, perm


# ---------------------------------------------------------------- triangular_solve

def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    op = "triangular_solve"
    _check_matrix(op, a, square=True, what="a")
    _check_matrix(op, b, what="b")
    if a.dtype != b.dtype:
        raise errors.dtype_error(op, f"a and b must have equal dtypes, got {fmt(a, b)}.",
                                 "convert one of them first.")
    if a.shape[:-2] != b.shape[:-2]:
        raise errors.shape_error(op, f"a {a.str_short()} and b {b.str_short()} must have equal "
                                 "batch dimensions.", "broadcast the batch dimensions first.")
    m = a.shape[-1]
    dim = -2 if left_side else -1
    if b.shape[dim] != m:
        raise errors.shape_error(op, f"b {b.str_short()} dim {b.ndim + dim} ({b.shape[dim]}) "
                                 f"must equal the size of a {a.str_short()} ({m}) when "
                                 f"left_side={left_side}.",
                                 "check the operand shapes or the left_side flag.")
    return b.strip_weak_type()


def _solve_lower(lmat, b, unit_diagonal, block=64):
    # Blocked forward substitution for L x = b (batched): substitution row by row inside a
    # block, then one matmul updates everything below it. Zero pivots give inf/NaN.
    x = b.copy()
    m = lmat.shape[-1]
    for i0 in range(0, m, block):
        i1 = min(i0 + block, m)
        for i in range(i0, i1):
            if i > i0:
                x[..., i, :] -= np.matmul(lmat[..., i, None, i0:i], x[..., i0:i, :])[..., 0, :]
            if not unit_diagonal:
                x[..., i, :] /= lmat[..., i, i, None]
        if i1 < m:
            x[..., i1:, :] -= np.matmul(lmat[..., i1:, i0:i1], x[..., i0:i1, :])
    return x


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    t = np.tril(a) if lower else np.triu(a)
    if transpose_a:
        t, lower = np.swapaxes(t, -1, -2), not lower
    if not left_side:  # x t = b  <=>  t^T x^T = b^T
        t, b, lower = np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2), not lower
    if not lower:  # reverse rows and columns: an upper triangle becomes a lower one
        t, b = t[..., ::-1, ::-1], b[..., ::-1, :]
    t = np.ascontiguousarray(t)  # BLAS-friendly layout for the block updates
    with np.errstate(all="ignore"):
        x = _solve_lower(t, np.array(b, dtype=a.dtype, order="C"), unit_diagonal)
    if not lower:
        x = x[..., ::-1, :]
    if not left_side:
        x = np.swapaxes(x, -1, -2)
    return np.ascontiguousarray(x)


triangular_solve_p = Primitive("triangular_solve", impl=_triangular_solve_impl,
                               abstract_eval=_triangular_solve_abstract_eval)


def triangular_solve(a, b, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, unit_diagonal: bool = False):
    """Solves ``op(a) @ x = b`` (``left_side=True``) or ``x @ op(a) = b`` for ``x``, where
    ``a`` is triangular (only its ``lower`` or upper triangle is read) and ``op`` transposes
    when ``transpose_a``. ``unit_diagonal`` assumes ones on the diagonal of ``a``."""
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a),
                                   unit_diagonal=bool(unit_diagonal))


__all__ = ["dot_general", "cholesky", "eigh", "svd", "qr", "lu", "triangular_solve"]
