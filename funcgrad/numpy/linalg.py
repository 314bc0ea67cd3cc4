"""funcgrad.numpy.linalg: NumPy's linear algebra over funcgrad arrays.

Matrix functions act on the last two axes and broadcast over leading (batch) axes. Integer
inputs become float32; float32, float64, complex64 and complex128 are supported, with
derivatives. For complex matrices, as in NumPy and JAX: ``cholesky`` factors Hermitian
matrices (``a = L @ L^H``), ``eigh`` gives real eigenvalues of Hermitian matrices, ``svd``
gives real singular values (``Vh`` is a conjugate transpose), ``slogdet``'s sign is a complex
number of modulus 1, and ``pinv`` uses conjugate transposes. Eigen- and singular vectors of
complex matrices have a free phase each, so only phase-invariant functions of them (such as
``|v|**2`` or ``v @ diag(f(w)) @ v^H``) have meaningful derivatives.

``inv``, ``solve``, ``det`` and ``slogdet`` are built from the ``lu`` and ``triangular_solve``
primitives, so their derivatives follow from those primitives' rules.

Failures are values, as in JAX, because a traced value cannot raise: a singular matrix gives
inf/NaN from ``inv`` and ``solve`` (NumPy raises ``LinAlgError``), ``det`` gives 0 and
``slogdet`` gives ``(0, -inf)`` (as NumPy does), and ``cholesky`` of a matrix that is not
positive definite gives NaN (NumPy raises).
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.numpy._matmul import (
    _diagonal_sum,
    _extreme,
    _eye_mask,
    _full,
    _index,
    _sum,
    _transpose,
    matmul,
    matrix_transpose,
    tensordot,
)
from funcgrad.numpy._util import (
    asarray,
    aval_of,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    convert_to,
    promote_args,
    promote_dtypes,
    promote_dtypes_inexact,
)
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import linalg as lp
from funcgrad.primitives import reductions as red
from funcgrad.primitives import structural as st
from funcgrad.primitives.custom_derivatives import custom_jvp


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


# ---------------------------------------------------------------- helpers

def _prep(op: str, a, square: bool = False):
    """``a`` as a float array of rank >= 2 (square when asked), with errors naming ``op``."""
    check_arraylike(op, a)
    (a,) = promote_dtypes_inexact(op, a)
    aval = aval_of(a)
    if aval.ndim < 2:
        raise errors.shape_error(op, f"operand {aval.str_short()} must have rank >= 2 (a matrix "
                                 "or a batch of matrices).", "reshape it to [..., m, n].")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise errors.shape_error(op, f"operand {aval.str_short()} must be a (batch of) square "
                                 "matrices.", "pass an array of shape [..., n, n].")
    return a


def _mH(x):  # noqa: N802 - the conjugate transpose, A^H
    out = matrix_transpose(x)
    return ew.conj_p.bind(out) if aval_of(out).dtype.kind == "c" else out


def _scalar_like(x, value):
    aval = aval_of(x)
    return _full(value, aval.dtype, aval.shape)


def _eye(n, dtype, batch=()):
    eye = ew.convert_element_type(_eye_mask((n, n), 0, 1), dtype)
    return broadcast_to_shape(eye, tuple(batch) + (n, n)) if batch else eye


def _diag(x):
    """The main diagonal of the last two axes: ``[..., min(m, n)]``."""
    aval = aval_of(x)
    m, n = aval.shape[-2:]
    if m > n:
        x = st.slice(x, (0,) * aval.ndim, aval.shape[:-2] + (n, n))
    return _diagonal_sum(x, aval.ndim - 2, aval.ndim - 1)


def _count(mask, dtype):
    """Number of True entries of ``mask`` along its last axis, as ``dtype``."""
    return _sum(ew.convert_element_type(mask, dtype), (aval_of(mask).ndim - 1,))


def _permute_rows(b, perm):
    """``b[..., perm, :]`` for an int32 ``perm`` of shape ``[..., n]``, as a one-hot matmul."""
    aval = aval_of(b)
    n = aval.shape[-2]
    shape = aval_of(perm).shape + (n,)
    rows = st.broadcast_in_dim(perm, shape, tuple(range(len(shape) - 1)))
    onehot = ew.eq_p.bind(rows, st.broadcasted_iota(dtypes.int32, shape, len(shape) - 1))
    return matmul(ew.convert_element_type(onehot, aval.dtype), b)


def _pivot_sign(pivots, dtype):
    """(-1) ** (number of row swaps) of an LU factorization."""
    aval = aval_of(pivots)
    swaps = ew.ne_p.bind(pivots, st.broadcasted_iota(dtypes.int32, aval.shape, aval.ndim - 1))
    sign = _parity_sign(_count(swaps, dtypes.real_dtype(dtype)))
    return ew.convert_element_type(sign, dtype)


def _parity_sign(count):
    odd = ew.rem_p.bind(count, _scalar_like(count, 2))
    return ew.sub_p.bind(_scalar_like(count, 1), ew.mul_p.bind(_scalar_like(count, 2), odd))


def _lu_diag(a):
    lu, pivots, _ = lp.lu(a)
    dtype = aval_of(a).dtype
    return _diag(lu), _pivot_sign(pivots, dtype)


def _sign_and_log(d):
    """``(prod(sign(d)), sum(log|d|))`` over the last axis of ``d``; for complex ``d`` the
    sign is ``prod(d / |d|)`` (0 when some ``d`` is 0), and the log is real."""
    dtype = aval_of(d).dtype
    zero = _scalar_like(d, 0)
    axis = (aval_of(d).ndim - 1,)
    absd = ew.abs_p.bind(d)
    if dtype.kind == "c":
        is_zero = ew.eq_p.bind(absd, _scalar_like(absd, 0))
        safe = ew.select_n_p.bind(is_zero, absd, _scalar_like(absd, 1))
        unit = ew.div_p.bind(d, ew.convert_element_type(safe, dtype))
        sign = red.reduce_prod(ew.select_n_p.bind(is_zero, unit, zero), axis)
    else:
        sign = _parity_sign(_count(ew.lt_p.bind(d, zero), dtype))
        any_zero = ew.gt_p.bind(_count(ew.eq_p.bind(d, zero), dtype), _scalar_like(sign, 0))
        sign = ew.select_n_p.bind(any_zero, sign, _scalar_like(sign, 0))
    logabs = _sum(ew.log_p.bind(absd), axis)
    return sign, logabs


def _batch_param(v, like):
    """A user tolerance (scalar or array) as an array of ``like``'s shape and dtype."""
    aval = aval_of(like)
    check_arraylike("tolerance", v)
    return broadcast_to_shape(convert_to(v, aval.dtype), aval.shape)


def _keepdims(x, axes, ndim):
    shape = list(aval_of(x).shape)
    for ax in sorted(axes):
        shape.insert(ax, 1)
    return st.reshape(x, shape)


# ---------------------------------------------------------------- solve, inv, det, slogdet

def solve(a, b):
    """Solves ``a @ x = b`` for ``x``.

    ``b`` is a vector when it is 1-D (shape ``[n]``) and otherwise a (batch of) matrices
    ``[..., n, k]`` (NumPy 2 semantics); batch axes broadcast. Uses LU with partial pivoting;
    a singular ``a`` gives inf/NaN entries rather than an exception.

    Example:
        >>> fnp.linalg.solve(fnp.eye(2) * 2.0, fnp.ones(2))
        Array([0.5, 0.5], dtype=float32)
    """
    a = _prep("solve", a, square=True)
    check_arraylike("solve", b)
    a, b = promote_dtypes_inexact("solve", a, b)
    aa, ba = aval_of(a), aval_of(b)
    n = aa.shape[-1]
    vector = ba.ndim == 1
    if ba.ndim == 0 or ba.shape[0 if vector else -2] != n:
        raise errors.shape_error("solve", f"a {aa.str_short()} and b {ba.str_short()} do not "
                                 f"fit: b needs {n} rows.",
                                 "pass b of shape [n] or [..., n, k] for a of shape [..., n, n].")
    if vector:
        b, b_batch = st.reshape(b, (n, 1)), ()
    else:
        b_batch = ba.shape[:-2]
    batch = broadcast_shapes("solve", aa.shape[:-2], b_batch)
    k = aval_of(b).shape[-1]
    a = broadcast_to_shape(a, batch + (n, n))
    b = broadcast_to_shape(b, batch + (n, k))
    lu, _, perm = lp.lu(a)
    y = lp.triangular_solve(lu, _permute_rows(b, perm), left_side=True, lower=True,
                            unit_diagonal=True)
    x = lp.triangular_solve(lu, y, left_side=True, lower=False)
    return st.reshape(x, batch + (n,)) if vector else x


def inv(a):
    """Inverse of each square matrix (LU based; singular matrices give inf/NaN)."""
    a = _prep("inv", a, square=True)
    aval = aval_of(a)
    return solve(a, _eye(aval.shape[-1], aval.dtype, aval.shape[:-2]))


def det(a):
    """Determinant of each square matrix, from an LU factorization."""
    a = _prep("det", a, square=True)
    d, sign = _lu_diag(a)
    return ew.mul_p.bind(sign, red.reduce_prod(d, (aval_of(d).ndim - 1,)))


def slogdet(a):
    """Sign and natural log of the absolute determinant; returns ``SlogdetResult(sign,
    logabsdet)``. A singular matrix gives ``(0, -inf)``."""
    a = _prep("slogdet", a, square=True)
    d, sign = _lu_diag(a)
    dsign, logabs = _sign_and_log(d)
    return SlogdetResult(ew.mul_p.bind(sign, dsign), logabs)


# ---------------------------------------------------------------- factorizations

def cholesky(a, /, *, upper: bool = False):
    """Cholesky factor of each symmetric (Hermitian) positive-definite matrix: lower ``L``
    with ``a = L @ L^H`` (or upper ``U = L^H`` when ``upper``; ``^H`` is the conjugate
    transpose, ``.T`` for real ``a``). Only the lower triangle of ``a`` is read; a matrix that
    is not positive definite gives NaN (NumPy raises)."""
    a = _prep("cholesky", a, square=True)
    out = lp.cholesky(a)
    return _mH(out) if upper else out


def qr(a, mode: str = "reduced"):
    """QR decomposition. ``mode``: ``"reduced"`` (``Q [..., m, k]``, ``R [..., k, n]`` with
    ``k = min(m, n)``), ``"complete"`` (``Q [..., m, m]``, ``R [..., m, n]``) or ``"r"`` (``R``
    only). Returns ``QRResult(Q, R)`` or ``R``."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode={mode!r} is not supported; use 'reduced', 'complete' or "
                         "'r'.")
    a = _prep("qr", a)
    q, r = lp.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def eigh(a, UPLO: str = "L"):  # noqa: N803 - NumPy's name
    """Eigenvalues (real, ascending) and eigenvectors (columns) of symmetric or complex
    Hermitian matrices, reading the ``UPLO`` ("L" or "U") triangle. Returns
    ``EighResult(eigenvalues, eigenvectors)``. Each eigenvector's sign (phase, if complex) is
    arbitrary, so differentiate phase-invariant functions of it.

    Example:
        >>> w, v = fnp.linalg.eigh(fnp.array([[2.0, 1.0], [1.0, 2.0]]))
        >>> w
        Array([1., 3.], dtype=float32)
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}.")
    a = _prep("eigh", a, square=True)
    v, w = lp.eigh(a, lower=UPLO == "L")
    return EighResult(w, v)


def eigvalsh(a, UPLO: str = "L"):  # noqa: N803 - NumPy's name
    """Eigenvalues (real, ascending) of symmetric or Hermitian matrices; see ``eigh``."""
    return eigh(a, UPLO).eigenvalues


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` with real ``S`` descending (for
    complex ``a``, ``Vh`` is the conjugate transpose of ``V``).

    Returns ``SVDResult(U, S, Vh)``, or ``S`` when ``compute_uv=False``. ``hermitian`` is
    accepted for NumPy compatibility (the general algorithm is used)."""
    a = _prep("svd", a)
    if not compute_uv:
        return lp.svd(a, compute_uv=False)
    u, s, vh = lp.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x, /):
    """Singular values (descending) of each matrix."""
    return svd(x, compute_uv=False)


# ---------------------------------------------------------------- derived functions

def matrix_power(a, n):
    """``a`` raised to the integer power ``n`` by repeated squaring; ``n < 0`` inverts first
    and ``n == 0`` gives the identity."""
    check_arraylike("matrix_power", a)
    a = asarray(a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}.") from None
    aval = aval_of(a)
    if aval.ndim < 2 or aval.shape[-1] != aval.shape[-2]:
        raise errors.shape_error("matrix_power", f"operand {aval.str_short()} must be a (batch "
                                 "of) square matrices.", "pass an array of shape [..., n, n].")
    if n == 0:
        return _eye(aval.shape[-1], aval.dtype, aval.shape[:-2])
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """Moore-Penrose pseudo-inverse ``V diag(1/S) U^H`` from the SVD. Singular values at or below
    ``rtol * max(S)`` are treated as zero; the default ``rtol`` is ``10 * max(m, n) * eps``
    (JAX's default; ``rcond`` is an alias of ``rtol``).

    The derivative is that of the pseudo-inverse itself (valid where the rank does not change),
    not of the SVD, so it is finite for matrices with repeated singular values (such as
    orthogonal matrices).
    """
    if rcond is not None:
        if rtol is not None:
            raise ValueError("pinv: pass rtol or rcond, not both.")
        rtol = rcond
    a = _prep("pinv", a)
    aval = aval_of(a)
    *batch, m, n = aval.shape
    if min(m, n) == 0:
        return _full(0, aval.dtype, (*batch, n, m))
    real = dtypes.real_dtype(aval.dtype)
    if rtol is None:
        rtol = 10.0 * max(m, n) * float(np.finfo(real).eps)
    check_arraylike("tolerance", rtol)
    return _pinv(a, broadcast_to_shape(convert_to(rtol, real), tuple(batch)))


@custom_jvp
def _pinv(a, rtol):
    *batch, m, n = aval_of(a).shape
    u, s, vh = lp.svd(a, full_matrices=False)
    s_max = _index(s, len(batch), 0)
    cutoff = ew.mul_p.bind(s_max, rtol)
    cutoff = st.broadcast_in_dim(cutoff, aval_of(s).shape, tuple(range(len(batch))))
    s_inv = ew.select_n_p.bind(ew.gt_p.bind(s, cutoff), _scalar_like(s, 0),
                               ew.div_p.bind(_scalar_like(s, 1), s))
    s_inv = ew.convert_element_type(s_inv, aval_of(a).dtype)
    vs = ew.mul_p.bind(_mH(vh), st.broadcast_in_dim(s_inv, (*batch, n, min(m, n)),
                                                    tuple(range(len(batch))) + (len(batch) + 1,)))
    return matmul(vs, _mH(u))


@_pinv.defjvp
def _pinv_jvp(primals, tangents):
    # The derivative of the pseudo-inverse at constant rank (Golub and Pereyra):
    # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P.
    (a, rtol), (da, _) = primals, tangents
    p = _pinv(a, rtol)
    pt, dat = _mH(p), _mH(da)
    ap, pa = matmul(a, p), matmul(p, a)
    term1 = ew.neg_p.bind(matmul(matmul(p, da), p))
    term2 = matmul(matmul(p, pt), matmul(dat, ew.sub_p.bind(_eye_like(ap), ap)))
    term3 = matmul(ew.sub_p.bind(_eye_like(pa), pa), matmul(dat, matmul(pt, p)))
    return p, ew.add_p.bind(ew.add_p.bind(term1, term2), term3)


def _eye_like(x):
    aval = aval_of(x)
    return _eye(aval.shape[-1], aval.dtype, aval.shape[:-2])


def matrix_rank(A, tol=None, hermitian: bool = False, *, rtol=None):  # noqa: N803
    """Number of singular values above ``tol`` (absolute) or ``rtol * max(S)`` (default
    ``rtol = max(m, n) * eps``); for rank < 2 inputs, 1 unless all entries are zero. Returns
    int32."""
    if tol is not None and rtol is not None:
        raise ValueError("matrix_rank: pass tol or rtol, not both.")
    check_arraylike("matrix_rank", A)
    (A,) = promote_dtypes_inexact("matrix_rank", A)
    aval = aval_of(A)
    if aval.ndim < 2:
        flat = st.reshape(A, (1, aval.size))
        nonzero = _count(ew.ne_p.bind(flat, _scalar_like(flat, 0)), dtypes.int32)
        return st.reshape(ew.convert_element_type(
            ew.gt_p.bind(nonzero, _full(0, dtypes.int32, (1,))), dtypes.int32), ())
    *batch, m, n = aval.shape
    if min(m, n) == 0:
        return _full(0, dtypes.int32, batch)
    s = lp.svd(A, compute_uv=False)
    s_max = _index(s, len(batch), 0)
    if tol is None:
        rel = max(m, n) * float(np.finfo(aval_of(s).dtype).eps) if rtol is None else rtol
        tol = ew.mul_p.bind(s_max, _batch_param(rel, s_max))
    else:
        tol = _batch_param(tol, s_max)
    tol = st.broadcast_in_dim(tol, aval_of(s).shape, tuple(range(len(batch))))
    return _count(ew.gt_p.bind(s, tol), dtypes.int32)


def _chain_order(dims):
    """Optimal parenthesisation of a matrix chain with ``dims[i] x dims[i + 1]`` factors."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = float("inf")
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays, *, precision=None):
    """Product of a chain of matrices, in the order that needs the fewest multiplications. The
    first and last arrays may be 1-D (row and column vectors)."""
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: at least two arrays are required.")
    check_arraylike("multi_dot", *arrays)
    arrays = promote_dtypes("multi_dot", *arrays)
    first_vec, last_vec = aval_of(arrays[0]).ndim == 1, aval_of(arrays[-1]).ndim == 1
    if first_vec:
        arrays[0] = st.reshape(arrays[0], (1,) + aval_of(arrays[0]).shape)
    if last_vec:
        arrays[-1] = st.reshape(arrays[-1], aval_of(arrays[-1]).shape + (1,))
    for i, x in enumerate(arrays):
        if aval_of(x).ndim != 2:
            raise errors.shape_error("multi_dot", f"array {i} {aval_of(x).str_short()} must be "
                                     "2-D (only the first and last may be 1-D).",
                                     "reshape it to a matrix.")
    dims = [aval_of(arrays[0]).shape[0]] + [aval_of(x).shape[1] for x in arrays]
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        k = split[i][j]
        return matmul(product(i, k), product(k + 1, j))

    out = product(0, len(arrays) - 1)
    shape = aval_of(out).shape
    shape = shape[1:] if first_vec else shape
    shape = shape[:-1] if last_vec else shape
    return st.reshape(out, shape) if shape != aval_of(out).shape else out


def trace(x, /, *, offset: int = 0, dtype=None):
    """Sum of the ``offset`` diagonal over the last two axes (NumPy 2's linalg.trace)."""
    check_arraylike("trace", x)
    if dtype is not None:
        x = ew.convert_element_type(x, dtypes.canonicalize(dtype))
    aval = aval_of(x)
    if aval.ndim < 2:
        raise errors.shape_error("trace", f"operand {aval.str_short()} must have rank >= 2.",
                                 "pass a (batch of) matrices.")
    d = _diagonal_sum(x, aval.ndim - 2, aval.ndim - 1, int(offset))
    return _sum(d, (aval.ndim - 2,))


def diagonal(x, /, *, offset: int = 0):
    """The ``offset`` diagonal of the last two axes (NumPy 2's linalg.diagonal)."""
    check_arraylike("diagonal", x)
    aval = aval_of(x)
    if aval.ndim < 2:
        raise errors.shape_error("diagonal", f"operand {aval.str_short()} must have rank >= 2.",
                                 "pass a (batch of) matrices.")
    m, n = aval.shape[-2:]
    offset = int(offset)
    lo = min(max(0, -offset), m)
    hi = max(lo, min(m, n - offset))
    d = _diagonal_sum(x, aval.ndim - 2, aval.ndim - 1, offset)
    batch = aval.shape[:-2]
    return st.slice(d, (0,) * len(batch) + (lo,), batch + (hi,))


def outer(x1, x2, /):
    """Outer product of two vectors (NumPy 2's linalg.outer: 1-D operands only)."""
    check_arraylike("outer", x1, x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if aval_of(x).ndim != 1:
            raise errors.shape_error("outer", f"{name} {aval_of(x).str_short()} must be 1-D.",
                                     "use funcgrad.numpy.outer, which flattens.")
    from funcgrad.numpy._matmul import outer as _outer
    return _outer(x1, x2)


def vecdot(x1, x2, /, *, axis: int = -1):
    """Dot product of vectors along ``axis``, broadcasting the other axes."""
    check_arraylike("vecdot", x1, x2)
    x1, x2 = promote_args("vecdot", x1, x2)
    nd = aval_of(x1).ndim
    if not -nd <= axis < nd:
        raise errors.shape_error("vecdot", f"axis {axis} is out of bounds for rank {nd}.",
                                 f"use an axis in [{-nd}, {nd}).")
    return _sum(ew.mul_p.bind(x1, x2), (axis % nd,))


# ---------------------------------------------------------------- norms

def _abs(x):
    return ew.abs_p.bind(x)


def _abs_sq(x):
    """``|x|**2``, real for complex ``x`` (``re(x conj(x))``)."""
    if aval_of(x).dtype.kind == "c":
        return ew.real_p.bind(ew.mul_p.bind(x, ew.conj_p.bind(x)))
    return ew.mul_p.bind(x, x)


def _vector_norm(x, axes, ord, keepdims):  # noqa: A002 - NumPy's name
    aval = aval_of(x)
    if ord is None or ord == 2:
        out = ew.sqrt_p.bind(_sum(_abs_sq(x), axes))
    elif ord == np.inf or ord == -np.inf:
        out = _abs(x)
        for ax in sorted(axes, reverse=True):
            out = _extreme(out, ax, "max" if ord > 0 else "min")
    elif ord == 0:
        nonzero = ew.ne_p.bind(x, _scalar_like(x, 0))
        out = _sum(ew.convert_element_type(nonzero, dtypes.real_dtype(aval.dtype)), axes)
    elif ord == 1:
        out = _sum(_abs(x), axes)
    elif isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors.")
    else:
        p = float(ord)
        ax = _abs(x)
        powed = ew.pow_p.bind(ax, _scalar_like(ax, p))
        out = _sum(powed, axes)
        out = ew.pow_p.bind(out, _scalar_like(out, 1.0 / p))
    return _keepdims(out, axes, aval.ndim) if keepdims else out


def _matrix_norm(x, axes, ord, keepdims):  # noqa: A002 - NumPy's name
    aval = aval_of(x)
    r, c = axes
    if r == c:
        raise ValueError(f"norm: duplicate axes {axes} for a matrix norm.")
    if ord in (None, "fro"):
        out = ew.sqrt_p.bind(_sum(_abs_sq(x), (r, c)))
    elif ord in ("nuc", 2, -2):
        rest = [ax for ax in range(aval.ndim) if ax not in (r, c)]
        s = lp.svd(_transpose(x, rest + [r, c]), compute_uv=False)
        if ord == "nuc":
            out = _sum(s, (len(rest),))
        else:
            k = aval_of(s).shape[-1]
            out = _index(s, len(rest), 0 if ord == 2 else k - 1)
    elif ord in (1, -1, np.inf, -np.inf):
        summed, kept = (r, c) if ord in (1, -1) else (c, r)
        out = _sum(_abs(x), (summed,))
        kept -= kept > summed
        out = _extreme(out, kept, "max" if ord > 0 else "min")
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices; use None, 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf.")
    return _keepdims(out, (r, c), aval.ndim) if keepdims else out


def _norm_axes(op, axis, ndim):
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= int(ax) < ndim:
            raise errors.shape_error(op, f"axis {ax} is out of bounds for rank {ndim}.",
                                     f"use axes in [{-ndim}, {ndim}).")
        out.append(int(ax) % ndim)
    return tuple(out)


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002 - NumPy's name
    """Vector or matrix norm, with NumPy's rules.

    With ``axis=None``: the 2-norm of the flattened array when ``ord`` is None, otherwise a
    vector norm (1-D ``x``) or a matrix norm (2-D ``x``). An int ``axis`` selects a vector norm,
    a pair of axes a matrix norm.

    Vector orders: None/2, 1, inf, -inf, 0 (count of non-zeros), or any other number ``p``
    (``sum(|x|**p) ** (1/p)``). Matrix orders: None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf.

    Example:
        >>> fnp.linalg.norm(fnp.array([3.0, 4.0]))
        Array(5., dtype=float32)
    """
    check_arraylike("norm", x)
    (x,) = promote_dtypes_inexact("norm", x)
    nd = aval_of(x).ndim
    if axis is None:
        if ord is None:
            return _vector_norm(x, tuple(range(nd)), None, keepdims)
        if nd == 1:
            return _vector_norm(x, (0,), ord, keepdims)
        if nd == 2:
            return _matrix_norm(x, (0, 1), ord, keepdims)
        raise errors.shape_error("norm", f"ord={ord!r} needs a 1-D or 2-D operand, got "
                                 f"{aval_of(x).str_short()}.", "pass axis=... explicitly.")
    axes = _norm_axes("norm", axis, nd)
    if len(axes) == 1:
        return _vector_norm(x, axes, ord, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, axes, ord, keepdims)
    raise errors.shape_error("norm", f"axis={axis} names {len(axes)} axes; a norm takes 1 "
                             "(vector) or 2 (matrix).", "pass one axis or a pair.")


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):  # noqa: A002
    """Vector norm over ``axis`` (all axes, flattened, when None; a tuple of axes is treated
    as one flattened vector). Orders as in ``norm``."""
    check_arraylike("vector_norm", x)
    (x,) = promote_dtypes_inexact("vector_norm", x)
    nd = aval_of(x).ndim
    axes = tuple(range(nd)) if axis is None else _norm_axes("vector_norm", axis, nd)
    if len(set(axes)) != len(axes):
        raise errors.shape_error("vector_norm", f"repeated axis in {axis}.", "list each once.")
    return _vector_norm(x, axes, ord, keepdims)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):  # noqa: A002
    """Matrix norm over the last two axes. Orders as in ``norm``."""
    x = _prep("matrix_norm", x)
    nd = aval_of(x).ndim
    return _matrix_norm(x, (nd - 2, nd - 1), ord, keepdims)


__all__ = ["EighResult", "SVDResult", "QRResult", "SlogdetResult", "solve", "inv", "det",
           "slogdet", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals", "matrix_power",
           "pinv", "matrix_rank", "multi_dot", "trace", "diagonal", "outer", "vecdot", "norm",
           "vector_norm", "matrix_norm", "matmul", "tensordot", "matrix_transpose"]
