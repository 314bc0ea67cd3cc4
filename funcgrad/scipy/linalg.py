"""Dense linear algebra with SciPy's names and JAX's semantics (``jax.scipy.linalg``).

Built on the ``cholesky``, ``lu`` and ``triangular_solve`` primitives (which have jvp,
transpose and vmap rules) and on matmuls, so everything is differentiable, vmappable and
jittable. Inputs are promoted to a floating dtype; leading batch axes are allowed and
broadcast. SciPy's ``overwrite_*`` and ``check_finite`` arguments are accepted and ignored,
as in JAX.
"""
from __future__ import annotations

import math
import operator

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import errors
from funcgrad.numpy._util import aval_of, promote_dtypes
from funcgrad.numpy.linalg import _prep
from funcgrad.primitives import linalg as lp
from funcgrad.primitives.elementwise import stop_gradient
from funcgrad.scipy._util import promote_floats

__all__ = ["solve_triangular", "cho_factor", "cho_solve", "lu", "lu_factor", "lu_solve",
           "expm", "block_diag"]


def _matrix(op: str, a):
    """``a`` as a real float (batch of) square matrices, with errors naming ``op``."""
    return _prep(op, *promote_floats(op, a), square=True)


def _trans_flag(op: str, trans) -> bool:
    """SciPy's ``trans`` (0/'N', 1/'T', 2/'C') as "solve with the transpose" (real inputs:
    'C' is 'T')."""
    codes = {0: False, 1: True, 2: True, "N": False, "T": True, "C": True}
    key = trans.upper() if isinstance(trans, str) else trans
    if key not in codes:
        raise errors.InvalidArgumentError(errors.message(
            op, f"trans must be one of 0, 1, 2, 'N', 'T', 'C', got {trans!r}.",
            "pass trans=0 (a x = b) or trans=1 (a^T x = b).", errors.InvalidArgumentError))
    return codes[key]


def _rhs(op: str, a, b):
    """``(a, b, unflatten)``: ``a`` [..., n, n] and ``b`` as [..., n, k] with batch axes
    broadcast; ``b`` is a vector (shape [..., n]) when it has one axis fewer than ``a``."""
    a, b = promote_floats(op, a, b, broadcast=False)
    n = a.shape[-1]
    vector = b.ndim == a.ndim - 1
    if b.ndim < 1 or b.shape[-1 if vector else -2] != n:
        raise errors.shape_error(op, f"b of shape {b.shape} does not fit a of shape {a.shape}: "
                                 f"b needs {n} rows.",
                                 "pass b of shape [..., n] or [..., n, k] for a [..., n, n].")
    if vector:
        b = fnp.expand_dims(b, -1)
    batch = fnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = fnp.broadcast_to(a, batch + a.shape[-2:])
    b = fnp.broadcast_to(b, batch + b.shape[-2:])
    return a, b, (lambda x: fnp.squeeze(x, -1)) if vector else (lambda x: x)


# ---------------------------------------------------------------- triangular and Cholesky

def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     debug=None, check_finite=True):
    """Solves ``a x = b`` (``trans=0``) or ``a^T x = b`` (``trans=1`` or ``2``) for a
    triangular ``a``; only the ``lower`` (or upper) triangle of ``a`` is read.

    Args:
        a: a (batch of) triangular ``[..., n, n]`` matrices.
        b: right-hand sides ``[..., n]`` (a vector per matrix) or ``[..., n, k]``.
        trans: 0 / 'N', 1 / 'T' or 2 / 'C' (the same as 'T' for real inputs).
        lower: read the lower triangle of ``a`` (default: the upper one).
        unit_diagonal: take the diagonal of ``a`` as ones (it is not read).

    Returns:
        ``x``, with ``b``'s shape (batch axes broadcast).

    Example:
        >>> linalg.solve_triangular(fnp.array([[2.0, 1.0], [0.0, 4.0]]), fnp.array([3.0, 4.0]))
        Array([1., 1.], dtype=float32)
    """
    op = "scipy.linalg.solve_triangular"
    a, b, back = _rhs(op, _matrix(op, a), b)
    return back(lp.triangular_solve(a, b, left_side=True, lower=bool(lower),
                                    transpose_a=_trans_flag(op, trans),
                                    unit_diagonal=bool(unit_diagonal)))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """The Cholesky factor of a symmetric positive-definite ``a``, as the pair
    ``(c, lower)`` that ``cho_solve`` takes.

    ``c`` is the lower factor ``L`` (``a = L L^T``) when ``lower`` and the upper factor
    ``U = L^T`` otherwise; unlike SciPy, its other triangle is zero (as in JAX).

    Example:
        >>> c, low = linalg.cho_factor(fnp.array([[4.0, 2.0], [2.0, 5.0]]))
        >>> c
        Array([[2., 1.],
               [0., 2.]], dtype=float32)
    """
    a = _matrix("scipy.linalg.cho_factor", a)
    return fnp.linalg.cholesky(a, upper=not lower), bool(lower)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """Solves ``a x = b`` given ``(c, lower) = cho_factor(a)``: two triangular solves.

    Example:
        >>> a = fnp.array([[4.0, 2.0], [2.0, 5.0]])
        >>> linalg.cho_solve(linalg.cho_factor(a), fnp.array([6.0, 7.0]))
        Array([1., 1.], dtype=float32)
    """
    op = "scipy.linalg.cho_solve"
    c, lower = c_and_lower
    c, b, back = _rhs(op, _matrix(op, c), b)
    # With L = c (lower) or L = c^T (upper): solve L y = b, then L^T x = y.
    y = lp.triangular_solve(c, b, left_side=True, lower=bool(lower), transpose_a=not lower)
    x = lp.triangular_solve(c, y, left_side=True, lower=bool(lower), transpose_a=bool(lower))
    return back(x)


# ---------------------------------------------------------------- LU

def _lu_factors(lu_packed):
    """Unit-lower ``L`` [..., m, k] and upper ``U`` [..., k, n] from a packed LU."""
    m, n = lu_packed.shape[-2:]
    k = min(m, n)
    lower = fnp.tril(lu_packed[..., :, :k], -1) + fnp.eye(m, k, dtype=lu_packed.dtype)
    return lower, fnp.triu(lu_packed[..., :k, :])


def _one_hot_rows(perm, dtype):
    """``Q`` with ``Q[..., i, r] = (perm[..., i] == r)``, so ``Q @ b == b[..., perm, :]``."""
    m = perm.shape[-1]
    return (fnp.expand_dims(perm, -1) == fnp.arange(m, dtype=perm.dtype)).astype(dtype)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """LU decomposition with partial pivoting: ``a = P @ L @ U``.

    Args:
        a: a (batch of) ``[..., m, n]`` matrices.
        permute_l: return ``(P @ L, U)`` instead of ``(P, L, U)``.

    Returns:
        ``P`` [..., m, m] (a permutation matrix), ``L`` [..., m, k] (unit lower
        triangular) and ``U`` [..., k, n] (upper triangular), ``k = min(m, n)``.

    Example:
        >>> p, l, u = linalg.lu(fnp.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> p
        Array([[0., 1.],
               [1., 0.]], dtype=float32)
    """
    op = "scipy.linalg.lu"
    (a,) = promote_floats(op, a)
    if a.ndim < 2:
        raise errors.shape_error(op, f"a of shape {a.shape} must be a (batch of) matrices.",
                                 "pass an array of shape [..., m, n].")
    packed, _, perm = lp.lu(a)
    lower, upper = _lu_factors(packed)
    p = fnp.swapaxes(_one_hot_rows(perm, a.dtype), -1, -2)  # P[r, i] = (perm[i] == r)
    if permute_l:
        return fnp.matmul(p, lower), upper
    return p, lower, upper


def lu_factor(a, overwrite_a=False, check_finite=True):
    """LU factorization in LAPACK's packed form, for ``lu_solve``.

    Returns:
        ``(lu, piv)``: ``lu`` holds ``U`` and the strict lower part of the unit-lower ``L``;
        ``piv[i]`` (int32) is the row swapped with row ``i`` at step ``i``.

    Example:
        >>> lu, piv = linalg.lu_factor(fnp.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> piv
        Array([1, 1], dtype=int32)
    """
    a = _matrix("scipy.linalg.lu_factor", a)
    packed, pivots, _ = lp.lu(a)
    return packed, pivots


def _pivots_to_permutation(pivots, m: int):
    """The row order ``perm`` (``a[perm] = L U``) from sequential swaps ``pivots``."""
    idx = fnp.arange(m, dtype=pivots.dtype)
    perm = fnp.broadcast_to(idx, pivots.shape[:-1] + (m,))
    for i in range(pivots.shape[-1]):
        p = pivots[..., i:i + 1]
        at_p = idx == p
        perm_i, perm_p = perm[..., i:i + 1], fnp.sum(fnp.where(at_p, perm, 0), axis=-1,
                                                       keepdims=True)
        perm = fnp.where(idx == i, perm_p, fnp.where(at_p, perm_i, perm))
    return perm


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """Solves ``a x = b`` (``trans=0``) or ``a^T x = b`` (``trans=1``/``2``) given
    ``(lu, piv) = lu_factor(a)``.

    Example:
        >>> a = fnp.array([[1.0, 2.0], [3.0, 4.0]])
        >>> linalg.lu_solve(linalg.lu_factor(a), fnp.array([3.0, 7.0]))
        Array([1., 1.], dtype=float32)
    """
    op = "scipy.linalg.lu_solve"
    packed, pivots = lu_and_piv
    packed = _matrix(op, packed)
    transpose = _trans_flag(op, trans)
    pivots = fnp.asarray(pivots)
    if pivots.dtype.kind not in "iu" or pivots.shape != packed.shape[:-1]:
        raise errors.shape_error(op, f"piv ({pivots.dtype}{list(pivots.shape)}) must be "
                                 f"integers of shape {packed.shape[:-1]} for lu of shape "
                                 f"{packed.shape}.", "pass the pair returned by lu_factor.")
    packed, b, back = _rhs(op, packed, b)
    perm = fnp.broadcast_to(_pivots_to_permutation(pivots.astype(np.int32), packed.shape[-1]),
                            packed.shape[:-1])
    q = _one_hot_rows(perm, packed.dtype)
    if not transpose:  # L U x = b[perm]
        y = lp.triangular_solve(packed, fnp.matmul(q, b), left_side=True, lower=True,
                                unit_diagonal=True)
        return back(lp.triangular_solve(packed, y, left_side=True, lower=False))
    # a^T = U^T L^T Q: solve U^T w = b, L^T z = w, then x = Q^T z.
    w = lp.triangular_solve(packed, b, left_side=True, lower=False, transpose_a=True)
    z = lp.triangular_solve(packed, w, left_side=True, lower=True, transpose_a=True,
                            unit_diagonal=True)
    return back(fnp.matmul(fnp.swapaxes(q, -1, -2), z))


# ---------------------------------------------------------------- expm

# Higham (2005), "The scaling and squaring method for the matrix exponential revisited":
# the [13/13] Pade approximant is accurate to double precision for ||A||_1 <= theta_13.
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
           1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
           33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def expm(A, *, upper_triangular=False, max_squarings=16):  # noqa: N803 - SciPy's name
    """The matrix exponential, by scaling and squaring with a [13/13] Padé approximant.

    ``A`` is scaled by ``2**-s`` so that its 1-norm is at most 5.37, the approximant is
    evaluated (six matmuls and one solve), and the result is squared ``s`` times. The
    derivative is that of this algorithm (matmuls and a solve), with ``s`` held fixed.

    Args:
        A: a (batch of) square ``[..., n, n]`` matrices.
        upper_triangular: accepted for JAX compatibility (no special path).
        max_squarings: the most squarings done; a matrix needing more (1-norm above
            ``5.37 * 2**max_squarings``) gives NaN, as in JAX.

    Returns:
        ``exp(A)``, with ``A``'s shape.

    Example:
        >>> linalg.expm(fnp.zeros((2, 2)))
        Array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    op = "scipy.linalg.expm"
    a = _matrix(op, A)
    max_squarings = operator.index(max_squarings)
    n = a.shape[-1]
    if n == 0:
        return a
    norm = stop_gradient(fnp.max(fnp.sum(fnp.abs(a), axis=-2), axis=-1))
    with np.errstate(divide="ignore"):
        s = fnp.maximum(fnp.ceil(fnp.log2(norm / _THETA13)), 0.0)
    s = fnp.where(fnp.isfinite(s), s, 0.0)
    scale = fnp.exp2(-s)[..., None, None]
    x = a * scale
    b = _PADE13
    eye = fnp.broadcast_to(fnp.eye(n, dtype=a.dtype), a.shape)
    x2 = fnp.matmul(x, x)
    x4 = fnp.matmul(x2, x2)
    x6 = fnp.matmul(x4, x2)
    u = fnp.matmul(x, fnp.matmul(x6, b[13] * x6 + b[11] * x4 + b[9] * x2)
                   + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
    v = (fnp.matmul(x6, b[12] * x6 + b[10] * x4 + b[8] * x2)
         + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye)
    r = fnp.linalg.solve(v - u, v + u)
    # Square s times: a fixed number of steps, each kept only where it is still needed (s
    # differs across a batch and is data-dependent under jit).
    for i in range(max_squarings):
        r = fnp.where((s > i)[..., None, None], fnp.matmul(r, r), r)
    too_big = (s > max_squarings) | ~fnp.isfinite(norm)
    return fnp.where(too_big[..., None, None], fnp.full_like(r, math.nan), r)


# ---------------------------------------------------------------- block_diag

def block_diag(*arrs):
    """A block-diagonal matrix with the given blocks along the diagonal.

    Blocks of rank 0 count as ``1 x 1`` and of rank 1 as one row, as in SciPy; dtypes are
    promoted (integers stay integers).

    Example:
        >>> linalg.block_diag(fnp.array([[1, 2]]), 3)
        Array([[1, 2, 0],
               [0, 0, 3]], dtype=int32)
    """
    op = "scipy.linalg.block_diag"
    if not arrs:
        return fnp.zeros((1, 0))
    blocks = []
    for i, blk in enumerate(promote_dtypes(op, *arrs)):
        if blk.ndim > 2:
            raise errors.shape_error(op, f"block {i} has shape {blk.shape}; blocks must have "
                                     "rank 2 or less.", "reshape it to a matrix first.")
        blocks.append(fnp.reshape(blk, (1, -1) if blk.ndim < 2 else blk.shape))
    dtype = aval_of(blocks[0]).dtype
    total = sum(blk.shape[1] for blk in blocks)
    rows, col = [], 0
    for blk in blocks:
        r, c = blk.shape
        rows.append(fnp.concatenate([fnp.zeros((r, col), dtype), blk,
                                     fnp.zeros((r, total - col - c), dtype)], axis=1))
        col += c
    return fnp.concatenate(rows, axis=0)
