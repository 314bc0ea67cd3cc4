"""Contraction and linear-algebra primitives: dot_general, cholesky, eigh, svd, qr, lu and
triangular_solve.

Matrix primitives act on the last two dimensions and are batched over every leading dimension;
all operands share one set of batch dimensions (funcgrad.numpy broadcasts). The impls are plain
NumPy (BLAS/LAPACK through np.matmul and np.linalg), so no SciPy is needed. Like JAX, failures
are values rather than exceptions: a matrix that is not positive definite gives a NaN Cholesky
factor, and a singular triangle gives inf/NaN solutions.

The end of the file registers the jvp, transpose and vmap rules of every primitive here.
"""
from __future__ import annotations

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import check_dtype, fmt

# dot_general accepts every dtype NumPy's matmul does; factorizations take inexact dtypes.
DOT_DTYPES = dtypes.NUMERIC + (dtypes.bool_,)
LINALG_DTYPES = (dtypes.float32, dtypes.float64, dtypes.complex64, dtypes.complex128)


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
    """The lower Cholesky factor ``L`` of each matrix (``x = L @ L^H``, ``L^H`` the conjugate
    transpose); only the lower triangle of ``x`` (and the real part of its diagonal) is read.
    Not positive definite -> NaN."""
    return cholesky_p.bind(x)


# ---------------------------------------------------------------- eigh

def _eigh_abstract_eval(x, *, lower):
    _check_matrix("eigh", x, square=True)
    return [x.strip_weak_type(), ShapedArray(x.shape[:-1], dtypes.real_dtype(x.dtype))]


def _eigh_impl(x, *, lower):
    w, v = np.linalg.eigh(x, UPLO="L" if lower else "U")
    return [v.astype(x.dtype, copy=False), w.astype(dtypes.real_dtype(x.dtype), copy=False)]


eigh_p = Primitive("eigh", impl=_eigh_impl, abstract_eval=_eigh_abstract_eval,
                   multiple_results=True)


def eigh(x, lower: bool = True):
    """Eigen-decomposition of symmetric (Hermitian) matrices: returns ``(v, w)`` with
    eigenvectors in the columns of ``v`` and real eigenvalues ``w`` in ascending order. Reads
    the ``lower`` (or upper) triangle only, and the real part of the diagonal."""
    v, w = eigh_p.bind(x, lower=bool(lower))
    return v, w


# ---------------------------------------------------------------- svd

def _svd_abstract_eval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x)
    *batch, m, n = x.shape
    k = min(m, n)
    s = ShapedArray((*batch, k), dtypes.real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    u = ShapedArray((*batch, m, m if full_matrices else k), x.dtype)
    vh = ShapedArray((*batch, n if full_matrices else k, n), x.dtype)
    return [s, u, vh]


def _svd_impl(x, *, full_matrices, compute_uv):
    real = dtypes.real_dtype(x.dtype)
    if not compute_uv:
        return [np.linalg.svd(x, compute_uv=False).astype(real, copy=False)]
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    return [s.astype(real, copy=False), u.astype(x.dtype, copy=False),
            vh.astype(x.dtype, copy=False)]


svd_p = Primitive("svd", impl=_svd_impl, abstract_eval=_svd_abstract_eval,
                  multiple_results=True)


def svd(x, full_matrices: bool = True, compute_uv: bool = True):
    """Singular value decomposition ``x = u @ diag(s) @ vh`` with real ``s`` descending (for
    complex ``x``, ``vh`` is the conjugate transpose of ``v``). Returns
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
    """QR decomposition ``x = q @ r``: ``q`` has orthonormal (unitary) columns, ``r`` is upper
    triangular with a real diagonal. Returns ``(q, r)``."""
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

def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, conjugate_a,
                                    unit_diagonal):
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


def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a,
                           unit_diagonal):
    t = np.tril(a) if lower else np.triu(a)
    if conjugate_a:
        t = np.conj(t)
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
                     transpose_a: bool = False, unit_diagonal: bool = False, *,
                     conjugate_a: bool = False):
    """Solves ``op(a) @ x = b`` (``left_side=True``) or ``x @ op(a) = b`` for ``x``, where
    ``a`` is triangular (only its ``lower`` or upper triangle is read) and ``op`` transposes
    when ``transpose_a`` and conjugates when ``conjugate_a`` (both: the conjugate transpose
    ``a^H``; ``conjugate_a`` does nothing to real ``a``). ``unit_diagonal`` assumes ones on
    the diagonal of ``a``."""
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a), conjugate_a=bool(conjugate_a),
                                   unit_diagonal=bool(unit_diagonal))


__all__ = ["dot_general", "cholesky", "eigh", "svd", "qr", "lu", "triangular_solve"]


# ================================================================ transformation rules
# dot_general is bilinear: its jvp is the sum of the two one-sided products, and its transpose
# with respect to either operand is another dot_general (contracting the cotangent with the
# other operand over their shared free dimensions) followed by a transpose into the operand's
# layout. The factorizations and triangular_solve get jvp rules written with primitives only
# (dot_general, triangular_solve, select_n, ...), so they are themselves differentiable and
# reverse mode follows by transposing those primitives.
#
# Semantics are JAX's: eigh and svd derivatives assume distinct eigen/singular values (svd also
# nonzero ones when a factor is rectangular); qr is differentiable when the leading square
# block of r is invertible, except full_matrices=True on a tall matrix (the extra columns of q
# are not unique); svd with full_matrices=True only for square matrices; lu's pivots and
# permutation are integers with zero tangents. Factorizations that read one triangle
# (cholesky, eigh) are differentiated as functions of that triangle.
#
# Batching: the matrix primitives act on the last two dimensions and batch over the leading
# ones, so a batch dimension is left where it is when it is already leading and moved to the
# front otherwise; every rule binds its primitive once for the whole batch.

from funcgrad import core  # noqa: E402
from funcgrad.primitives import elementwise as ew  # noqa: E402
from funcgrad.primitives import structural as st  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402

Zero = _ad.Zero


def _aval(x):
    return x.aval if _tr.is_undefined(x) else core.get_aval(x)


def _is_zero(t) -> bool:
    return type(t) is Zero


def _is_float(x) -> bool:
    return core.get_aval(x).dtype.kind in "fc"


# ---------------------------------------------------------------- batched matrix helpers
# Operands share their leading (batch) dimensions; matrices are the last two.

def _batch_dims(nd: int) -> tuple[int, ...]:
    return tuple(range(nd - 2))


def _mm(a, b):
    """``a @ b`` over equal batch dimensions."""
    nb = core.get_aval(a).ndim - 2
    bd = tuple(range(nb))
    return dot_general_p.bind(a, b, dimension_numbers=(((nb + 1,), (nb,)), (bd, bd)),
                              preferred_element_type=None)


def _mT(x):  # noqa: N802 - the usual name of the matrix transpose
    nd = core.get_aval(x).ndim
    return st.transpose_p.bind(x, permutation=_batch_dims(nd) + (nd - 1, nd - 2))


def _is_complex(x) -> bool:
    return core.get_aval(x).dtype.kind == "c"


def _conj(x):
    """Complex conjugate (the identity on real values, binding nothing)."""
    return ew.conj_p.bind(x) if _is_complex(x) else x


def _real(x):
    return ew.real_p.bind(x) if _is_complex(x) else x


def _mH(x):  # noqa: N802 - the conjugate transpose, A^H
    return _conj(_mT(x))


def _like(x, y):
    """Real ``x`` converted to ``y``'s (complex) dtype where they differ."""
    return ew.convert_element_type(x, core.get_aval(y).dtype)


def _diag_part(x):
    """The diagonal of the last two dims as a matrix, zeros elsewhere."""
    return _mask_tri(_mask_tri(x, lower=True), lower=False)


def _i_imag_diag(x):
    """``i im(diag(x))`` as a matrix: the imaginary diagonal of a complex ``x``."""
    diag = _diag_part(x)
    return ew.sub_p.bind(diag, _like(_real(diag), diag))


def _col_dots(a, b):
    """``sum_i a[..., i, j] * b[..., i, j]``: the diagonal of ``a^T b`` without forming it."""
    nb = core.get_aval(a).ndim - 2
    bd = tuple(range(nb)) + (nb + 1,)
    return dot_general_p.bind(a, b, dimension_numbers=(((nb,), (nb,)), (bd, bd)),
                              preferred_element_type=None)


def _const(array, like_shape, dtype):
    """A NumPy constant for the last dims, broadcast over the leading dims of ``like_shape``."""
    array = np.asarray(array, dtype=dtype)
    if array.shape == tuple(like_shape):
        return array
    lead = len(like_shape) - array.ndim
    return st.broadcast_in_dim_p.bind(array, shape=tuple(like_shape),
                                      broadcast_dimensions=tuple(range(lead, len(like_shape))))


def _zeros(shape, dtype):
    return _const(np.zeros((), dtype), shape, dtype)


def _mask_tri(x, lower: bool, k: int = 0):
    """``tril(x, k)`` (``lower``) or ``triu(x, k)`` of the last two dims, by select (so infs or
    NaNs outside the triangle do not leak in)."""
    aval = core.get_aval(x)
    m, n = aval.shape[-2:]
    keep = np.tril(np.ones((m, n), bool), k) if lower else np.triu(np.ones((m, n), bool), k)
    return ew.select_n_p.bind(_const(keep, aval.shape, bool), _zeros(aval.shape, aval.dtype), x)


def _scale(x, v, axis: int):
    """``x`` times the vector ``v`` along matrix axis ``axis`` (-1: ``x * v[..., None, :]``,
    scaling columns; -2: ``x * v[..., :, None]``, scaling rows)."""
    shape = core.get_aval(x).shape
    nd = len(shape)
    vb = st.broadcast_in_dim_p.bind(v, shape=shape, broadcast_dimensions=_batch_dims(nd)
                                    + (nd + axis,))
    return ew.mul_p.bind(x, vb)


def _scale_cols(x, v):
    return _scale(x, v, -1)


def _scale_rows(x, v):
    return _scale(x, v, -2)


def _inv_gaps(w):
    """``F[..., i, j] = 1 / (w[j] - w[i])`` off the diagonal and 0 on it (eigen/singular value
    gaps; infinite where two values coincide, which the derivative then assumes away)."""
    aval = core.get_aval(w)
    n = aval.shape[-1]
    shape = aval.shape + (n,)
    nb = aval.ndim - 1
    wj = st.broadcast_in_dim_p.bind(w, shape=shape, broadcast_dimensions=tuple(range(nb))
                                    + (nb + 1,))
    wi = st.broadcast_in_dim_p.bind(w, shape=shape, broadcast_dimensions=tuple(range(nb + 1)))
    eye = _const(np.eye(n, dtype=bool), shape, bool)
    ones = _const(np.ones((), aval.dtype), shape, aval.dtype)
    gap = ew.select_n_p.bind(eye, ew.sub_p.bind(wj, wi), ones)
    return ew.select_n_p.bind(eye, ew.div_p.bind(ones, gap), _zeros(shape, aval.dtype))


def _slice_last2(x, rows, cols):
    """``x[..., :rows, :cols]`` (no-op when nothing is cut)."""
    shape = core.get_aval(x).shape
    if shape[-2:] == (rows, cols):
        return x
    nd = len(shape)
    return st.slice_p.bind(x, start_indices=(0,) * nd, limit_indices=shape[:-2] + (rows, cols),
                           strides=(1,) * nd)


def _pad_last2(x, rows, cols):
    """``x`` padded with zeros at the end of its last two dims to ``(rows, cols)``."""
    aval = core.get_aval(x)
    m, n = aval.shape[-2:]
    if (m, n) == (rows, cols):
        return x
    config = ((0, 0, 0),) * (aval.ndim - 2) + ((0, rows - m, 0), (0, cols - n, 0))
    return st.pad_p.bind(x, np.zeros((), aval.dtype), padding_config=config)


def _tsolve(a, b, *, left_side, lower, transpose_a=False, conjugate_a=False,
            unit_diagonal=False):
    return triangular_solve_p.bind(a, b, left_side=left_side, lower=lower,
                                   transpose_a=transpose_a, conjugate_a=conjugate_a,
                                   unit_diagonal=unit_diagonal)


def _no_derivative(op, what, fix):
    return errors.MissingRuleError(errors.message(
        f"jvp of {op}", what, fix, errors.MissingRuleError))


# ---------------------------------------------------------------- dot_general

def _dot_general_jvp(primals, tangents, *, dimension_numbers, preferred_element_type):
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    params = dict(dimension_numbers=dimension_numbers,
                  preferred_element_type=preferred_element_type)
    out = dot_general_p.bind(lhs, rhs, **params)
    t_out = Zero.from_primal(out)
    if not (_is_float(lhs) and _is_float(out)):  # integer products carry no derivative
        return out, t_out
    if not _is_zero(t_lhs):
        t_out = _ad.add_tangents(t_out, dot_general_p.bind(t_lhs, rhs, **params))
    if not _is_zero(t_rhs):
        t_out = _ad.add_tangents(t_out, dot_general_p.bind(lhs, t_rhs, **params))
    return out, t_out


def _dot_operand_ct(ct, y, x_aval, x_contract, x_batch, y_contract, y_batch, ct_x_free,
                    ct_y_free, y_free):
    """Cotangent of operand ``x`` of a dot_general with the other operand ``y`` known.

    ``ct`` has the layout batch + (x free) + (y free) (or with x and y swapped): contracting its
    y-free dimensions with those of ``y`` and sharing the batch dimensions leaves batch +
    (x free) + (y's contracting dims, ascending); each of those maps back to an x dimension.
    """
    ct_dtype = core.get_aval(ct).dtype
    if core.get_aval(y).dtype != ct_dtype:  # preferred_element_type widened the product
        y = ew.convert_element_type(y, ct_dtype)
    nb = len(x_batch)
    dn = ((tuple(ct_y_free), tuple(y_free)), (tuple(range(nb)), tuple(y_batch)))
    out = dot_general_p.bind(ct, y, dimension_numbers=dn, preferred_element_type=None)
    x_free = [d for d in range(x_aval.ndim) if d not in x_contract and d not in x_batch]
    order = (list(x_batch) + x_free
             + [x_contract[list(y_contract).index(d)] for d in sorted(y_contract)])
    perm = tuple(int(i) for i in np.argsort(order))
    if perm != tuple(range(len(perm))):
        out = st.transpose_p.bind(out, permutation=perm)
    if core.get_aval(out).dtype != x_aval.dtype:
        out = ew.convert_element_type(out, x_aval.dtype)
    return out


def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, preferred_element_type):
    if _tr.is_undefined(lhs) and _tr.is_undefined(rhs):
        raise AssertionError("dot_general is linear in one operand at a time")
    if _is_zero(ct):
        return [Zero(lhs.aval) if _tr.is_undefined(lhs) else None,
                Zero(rhs.aval) if _tr.is_undefined(rhs) else None]
    (lc, rc), (lb, rb) = dimension_numbers
    la, ra = _aval(lhs), _aval(rhs)
    lfree = [d for d in range(la.ndim) if d not in lc and d not in lb]
    rfree = [d for d in range(ra.ndim) if d not in rc and d not in rb]
    nb = len(lb)
    ct_lfree = list(range(nb, nb + len(lfree)))
    ct_rfree = list(range(nb + len(lfree), nb + len(lfree) + len(rfree)))
    if _tr.is_undefined(lhs):
        return [_dot_operand_ct(ct, rhs, la, lc, lb, rc, rb, ct_lfree, ct_rfree, rfree), None]
    return [None, _dot_operand_ct(ct, lhs, ra, rc, rb, lc, lb, ct_rfree, ct_lfree, lfree)]


def _dot_general_batch(vals, dims, *, dimension_numbers, preferred_element_type):
    (lhs, rhs), (ld, rd) = vals, dims
    (lc, rc), (lb, rb) = dimension_numbers
    def shift(ds, bdim):
        return tuple(ds) if bdim is None else tuple(_vm.shift_axis(d, bdim) for d in ds)
    lc2, lb2, rc2, rb2 = shift(lc, ld), shift(lb, ld), shift(rc, rd), shift(rb, rd)
    params = dict(preferred_element_type=preferred_element_type)
    if ld is not None and rd is not None:
        # Both batched: the batch dimension becomes the first dot_general batch dimension.
        dn = ((lc2, rc2), ((ld,) + lb2, (rd,) + rb2))
        return dot_general_p.bind(lhs, rhs, dimension_numbers=dn, **params), 0
    # One side batched: its batch dimension is one more free dimension of that operand.
    out = dot_general_p.bind(lhs, rhs, dimension_numbers=((lc2, rc2), (lb2, rb2)), **params)
    lnd, rnd = core.get_aval(lhs).ndim, core.get_aval(rhs).ndim
    lfree = [d for d in range(lnd) if d not in lc2 and d not in lb2]
    if ld is not None:
        return out, len(lb) + lfree.index(ld)
    rfree = [d for d in range(rnd) if d not in rc2 and d not in rb2]
    return out, len(lb) + len(lfree) + rfree.index(rd)


# ---------------------------------------------------------------- cholesky

def _symmetrize_triangle(t, lower: bool):
    """The symmetric (Hermitian) matrix a factorization reading only one triangle of ``t``
    sees: LAPACK also reads only the real part of a complex diagonal."""
    strict = _mask_tri(t, lower, -1 if lower else 1)
    diag = _diag_part(t)
    if _is_complex(t):
        diag = _like(_real(diag), t)
    return ew.add_p.bind(ew.add_p.bind(strict, _mH(strict)), diag)


def _cholesky_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    chol = cholesky_p.bind(x)
    # x = L L^H  =>  L^-1 dx L^-H = L^-1 dL + (L^-1 dL)^H, and L^-1 dL is lower triangular
    # with a real diagonal (L's stays real and positive): dL = L phi(L^-1 dx L^-H), phi
    # keeping the strict lower triangle and half the (real) diagonal.
    dx = _symmetrize_triangle(t, lower=True)
    inner = _tsolve(chol, _tsolve(chol, dx, left_side=True, lower=True), left_side=False,
                    lower=True, transpose_a=True, conjugate_a=True)
    aval = core.get_aval(x)
    n = aval.shape[-1]
    phi = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    return chol, _mm(chol, ew.mul_p.bind(inner, _const(phi, aval.shape, aval.dtype)))


# ---------------------------------------------------------------- eigh

def _eigh_jvp(primals, tangents, *, lower):
    (x,), (t,) = primals, tangents
    v, w = eigh_p.bind(x, lower=lower)
    # x = V diag(w) V^H with distinct w: C = V^H dx V (Hermitian), dw = diag(C) (real),
    # dV = V (F o C). Complex eigenvectors have a free phase each; this is JAX's choice
    # (no change of phase along the diagonal of V^H dV).
    tv = _mm(_symmetrize_triangle(t, lower), v)
    dw = _real(_col_dots(_conj(v), tv))
    dv = _mm(v, ew.mul_p.bind(_like(_inv_gaps(w), v), _mm(_mH(v), tv)))
    return [v, w], [dv, dw]


# ---------------------------------------------------------------- svd

def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (x,), (t,) = primals, tangents
    *_, m, n = core.get_aval(x).shape
    if compute_uv and full_matrices and m != n:
        raise _no_derivative(
            "svd", f"the derivative of svd(full_matrices=True) of a {m}x{n} matrix is not "
            "defined: the extra columns of the larger factor are not unique.",
            "use full_matrices=False (funcgrad.numpy.linalg.svd(a, full_matrices=False)).")
    s, u, vh = svd_p.bind(x, full_matrices=False, compute_uv=True)
    v = _mH(vh)
    k = min(m, n)
    # x = U diag(s) V^H: with dS = U^H dx V, ds = re(diag(dS)); the rotations of U and V
    # inside their column spaces come from the anti-Hermitian parts (F_ij = 1 / (s_j^2 -
    # s_i^2)). For complex x the imaginary diagonal of dS (a phase shared by a column of U
    # and of V) goes to U, as in JAX.
    tv = _mm(t, v)
    ds = _real(_col_dots(_conj(u), tv))
    if not compute_uv:
        return [s], [ds]
    d_s = _mm(_mH(u), tv)
    f = _like(_inv_gaps(ew.mul_p.bind(s, s)), x)
    s_c = _like(s, x)
    dss = _scale_cols(d_s, s_c)
    sds = _scale_rows(d_s, s_c)
    inner_u = ew.mul_p.bind(f, ew.add_p.bind(dss, _mH(dss)))
    if m != n or _is_complex(x):
        s_aval = core.get_aval(s)
        s_inv = _like(ew.div_p.bind(_const(np.ones((), s_aval.dtype), s_aval.shape,
                                           s_aval.dtype), s), x)
    if _is_complex(x):  # i im(diag(dS)) / s
        inner_u = ew.add_p.bind(inner_u, _scale_cols(_i_imag_diag(d_s), s_inv))
    du = _mm(u, inner_u)
    dv = _mm(v, ew.mul_p.bind(f, ew.add_p.bind(sds, _mH(sds))))
    if m > k:  # the part of dx V outside U's column space: (I - U U^H) dx V S^-1
        du = ew.add_p.bind(du, _scale_cols(ew.sub_p.bind(tv, _mm(u, d_s)), s_inv))
    if n > k:  # likewise (I - V V^H) dx^H U S^-1
        tu = _mm(_mH(t), u)
        dv = ew.add_p.bind(dv, _scale_cols(ew.sub_p.bind(tu, _mm(v, _mH(d_s))), s_inv))
    return [s, u, vh], [ds, du, _mH(dv)]


# ---------------------------------------------------------------- qr

def _qr_jvp(primals, tangents, *, full_matrices):
    (x,), (t,) = primals, tangents
    *_, m, n = core.get_aval(x).shape
    if full_matrices and m > n:
        raise _no_derivative(
            "qr", f"the derivative of qr(full_matrices=True) of a tall {m}x{n} matrix is not "
            "defined: the last columns of q are not unique.",
            "use the reduced factorization (funcgrad.numpy.linalg.qr(a, mode='reduced')).")
    q, r = qr_p.bind(x, full_matrices=full_matrices)
    k = min(m, n)
    # With A1 = x[..., :k] = Q R1 (R1 invertible): C = Q^H dA1 R1^-1 = Q^H dQ + dR1 R1^-1, the
    # first anti-Hermitian and the second upper triangular with a real diagonal (R's stays
    # real), so Q^H dQ = W = tril(C, -1) - tril(C, -1)^H + i im(diag(C)). Then
    # dR = Q^H dx - W R, and dQ = Q W (+ the part of dA1 R1^-1 outside the column space of Q
    # when x is tall).
    x1 = _tsolve(_slice_last2(r, k, k), _slice_last2(t, m, k), left_side=False, lower=False)
    c = _mm(_mH(q), x1)
    low = _mask_tri(c, lower=True, k=-1)
    w = ew.sub_p.bind(low, _mH(low))
    if _is_complex(x):
        w = ew.add_p.bind(w, _i_imag_diag(c))
    dq = _mm(q, w)
    if m > k:
        dq = ew.add_p.bind(dq, ew.sub_p.bind(x1, _mm(q, c)))
    dr = ew.sub_p.bind(_mm(_mH(q), t), _mm(w, r))
    return [q, r], [dq, dr]


# ---------------------------------------------------------------- lu

def _permutation_matrix(perm, dtype):
    """One-hot ``P[..., i, j] = (perm[..., i] == j)``, so that ``P @ b == b[..., perm, :]``."""
    aval = core.get_aval(perm)
    m = aval.shape[-1]
    shape = aval.shape + (m,)
    rows = st.broadcast_in_dim_p.bind(perm, shape=shape,
                                      broadcast_dimensions=tuple(range(aval.ndim)))
    cols = st.iota_p.bind(dtype=aval.dtype, shape=shape, dimension=aval.ndim)
    return ew.convert_element_type(ew.eq_p.bind(rows, cols), dtype)


def _lu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    lu, pivots, perm = lu_p.bind(x)
    aval = core.get_aval(x)
    *_, m, n = aval.shape
    k = min(m, n)
    # P x = L U. With dA = P dx: L^-1 dA U^-1 = L^-1 dL + dU U^-1, strictly lower plus upper
    # (on the leading k x k block; the rectangular remainder follows from it).
    da = _mm(_permutation_matrix(perm, aval.dtype), t)
    sq = _slice_last2(lu, k, k)
    low = ew.add_p.bind(_mask_tri(_slice_last2(lu, m, k), lower=True, k=-1),
                        _const(np.eye(m, k), aval.shape[:-2] + (m, k), aval.dtype))
    up = _mask_tri(_slice_last2(lu, k, n), lower=False)
    if m >= n:
        # z = dA U^-1 = dL + L (dU U^-1); its top block gives X = L1^-1 z1.
        z = _tsolve(sq, da, left_side=False, lower=False)
        xu = _mask_tri(_tsolve(sq, _slice_last2(z, k, k), left_side=True, lower=True,
                               unit_diagonal=True), lower=False)
        dl = ew.sub_p.bind(z, _mm(low, xu))
        du = _pad_last2(_mm(xu, up), m, n)
    else:
        # z = L^-1 dA = (L^-1 dL) U + dU; its left block gives X = z1 U1^-1.
        z = _tsolve(sq, da, left_side=True, lower=True, unit_diagonal=True)
        xl = _mask_tri(_tsolve(sq, _slice_last2(z, k, k), left_side=False, lower=False),
                       lower=True, k=-1)
        dl = _pad_last2(_mm(low, xl), m, n)
        du = ew.sub_p.bind(z, _mm(xl, up))
    strict_lower = _const(np.tril(np.ones((m, n), bool), -1), aval.shape, bool)
    d_lu = ew.select_n_p.bind(strict_lower, du, dl)
    return [lu, pivots, perm], [d_lu, Zero.from_primal(pivots), Zero.from_primal(perm)]


# ---------------------------------------------------------------- triangular_solve

def _triangular_solve_jvp(primals, tangents, *, left_side, lower, transpose_a, conjugate_a,
                          unit_diagonal):
    (a, b), (t_a, t_b) = primals, tangents
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    out = triangular_solve_p.bind(a, b, **params)
    t_out = Zero.from_primal(out)
    if not _is_zero(t_b):
        t_out = _ad.add_tangents(t_out, triangular_solve_p.bind(a, t_b, **params))
    if not _is_zero(t_a):
        # op(a) x = b  =>  dx = -op(a)^-1 op(da) x  (and x op(a) = b  =>  dx = -x op(da) op(a)^-1),
        # with da restricted to the entries the solve reads.
        k = (-1 if lower else 1) if unit_diagonal else 0
        op_da = _mask_tri(t_a, lower, k)
        if conjugate_a:
            op_da = _conj(op_da)
        if transpose_a:
            op_da = _mT(op_da)
        rhs = _mm(op_da, out) if left_side else _mm(out, op_da)
        t_out = _ad.add_tangents(t_out, ew.neg_p.bind(triangular_solve_p.bind(a, rhs, **params)))
    return out, t_out


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                unit_diagonal):
    if _tr.is_undefined(a):
        raise AssertionError("triangular_solve is linear in b only")
    if _is_zero(ct):
        return [None, Zero(b.aval)]
    # x = op(a)^-1 b (or b op(a)^-1) is linear in b; its transpose (for the bilinear pairing,
    # no conjugation) solves with op(a)^T.
    return [None, triangular_solve_p.bind(a, ct, left_side=left_side, lower=lower,
                                          transpose_a=not transpose_a,
                                          conjugate_a=conjugate_a,
                                          unit_diagonal=unit_diagonal)]


def _triangular_solve_batch(vals, dims, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal):
    (a, b), (da, db) = vals, dims
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    size = _vm.batch_size(vals, dims)
    if da is None:
        # Only b varies: fold its batch into the right-hand sides (columns for a left solve,
        # rows for a right solve), so one solve against the shared a serves the whole batch.
        b_shape = core.get_aval(b).shape
        nd = len(b_shape)  # batched rank
        if left_side:
            b = _vm.moveaxis(b, db, nd - 1)
            *lead, m, k, _ = core.get_aval(b).shape
            out = triangular_solve_p.bind(a, st.reshape_p.bind(b, new_sizes=(*lead, m, k * size)),
                                          **params)
            return st.reshape_p.bind(out, new_sizes=(*lead, m, k, size)), nd - 1
        b = _vm.moveaxis(b, db, nd - 3)
        *lead, _, k, m = core.get_aval(b).shape
        out = triangular_solve_p.bind(a, st.reshape_p.bind(b, new_sizes=(*lead, size * k, m)),
                                      **params)
        return st.reshape_p.bind(out, new_sizes=(*lead, size, k, m)), nd - 3
    a = _vm.bdim_at_front(a, da, size)
    b = _vm.bdim_at_front(b, db, size)
    return triangular_solve_p.bind(a, b, **params), 0


# ---------------------------------------------------------------- batching of factorizations

def _matrix_batch(prim):
    """Batch rule of a primitive acting on the last two dims of its one operand: a leading
    batch dimension stays put (the outputs keep the operand's leading dims), a matrix one
    moves to the front."""
    def rule(vals, dims, **params):
        (x,), (d,) = vals, dims
        if d >= core.get_aval(x).ndim - 2:
            x, d = _vm.moveaxis(x, d, 0), 0
        out = prim.bind(x, **params)
        return (out, [d] * len(out)) if prim.multiple_results else (out, d)
    return rule


# ---------------------------------------------------------------- registration

_ad.rules[dot_general_p] = _dot_general_jvp
_ad.rules[cholesky_p] = _cholesky_jvp
_ad.rules[eigh_p] = _eigh_jvp
_ad.rules[svd_p] = _svd_jvp
_ad.rules[qr_p] = _qr_jvp
_ad.rules[lu_p] = _lu_jvp
_ad.rules[triangular_solve_p] = _triangular_solve_jvp

_tr.rules[dot_general_p] = _dot_general_transpose
_tr.rules[triangular_solve_p] = _triangular_solve_transpose

_vm.rules[dot_general_p] = _dot_general_batch
_vm.rules[triangular_solve_p] = _triangular_solve_batch
for _p in (cholesky_p, eigh_p, svd_p, qr_p, lu_p):
    _vm.rules[_p] = _matrix_batch(_p)
