"""The multivariate normal distribution (``jax.scipy.stats.multivariate_normal``)."""
from __future__ import annotations

import math

import funcgrad.numpy as fnp
from funcgrad import errors
from funcgrad.primitives import linalg as lp
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf"]


def logpdf(x, mean, cov, allow_singular=None):
    """Log of the multivariate normal density ``N(mean, cov)`` at ``x``.

    Args:
        x: points, shape ``[..., n]`` (or any shape when ``mean`` is a scalar).
        mean: the mean, shape ``[..., n]``, or a scalar for the one-dimensional case.
        cov: a (batch of) positive-definite ``[..., n, n]`` matrices, or a scalar variance
            (the isotropic case ``cov * I``). Batch axes of ``x``, ``mean`` and ``cov``
            broadcast.
        allow_singular: not supported (as in JAX); pass None or False.

    Returns:
        The log-density, shape the broadcast batch shape (``x``'s shape for a scalar mean).

    Example:
        >>> multivariate_normal.logpdf(fnp.zeros(2), fnp.zeros(2), fnp.eye(2))
        Array(-1.837877, dtype=float32)
    """
    op = "scipy.stats.multivariate_normal.logpdf"
    if allow_singular:
        raise errors.InvalidArgumentError(errors.message(
            op, "allow_singular=True is not supported.",
            "pass a positive-definite cov (add a small multiple of the identity).",
            errors.InvalidArgumentError))
    x_in, mean_in, cov_in = fnp.asarray(x), fnp.asarray(mean), fnp.asarray(cov)
    x, mean, cov = promote_floats(op, x_in, mean_in, cov_in, broadcast=False)
    log2pi = math.log(2 * math.pi)
    if mean.ndim == 0:
        y = x - mean
        return -0.5 * y * y / cov - 0.5 * (log2pi + fnp.log(cov))
    n = mean.shape[-1]
    if x.ndim == 0 or x.shape[-1] != n:
        raise errors.shape_error(op, f"x of shape {x.shape} does not fit mean of shape "
                                 f"{mean.shape}: the last axes must both be {n}.",
                                 "put the coordinates of each point on the last axis of x.")
    y = x - mean
    if cov.ndim == 0:
        return -0.5 * fnp.sum(y * y, axis=-1) / cov - 0.5 * n * (log2pi + fnp.log(cov))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise errors.shape_error(op, f"cov of shape {cov.shape} does not fit mean of shape "
                                 f"{mean.shape}: expected a scalar or [..., {n}, {n}].",
                                 "pass a covariance matrix matching the mean's size.")
    batch = fnp.broadcast_shapes(y.shape[:-1], cov.shape[:-2])
    chol = fnp.broadcast_to(fnp.linalg.cholesky(cov), batch + (n, n))
    y = fnp.broadcast_to(y, batch + (n,))
    # Whitened residual L^-1 (x - mean): one triangular solve with y as a column.
    z = lp.triangular_solve(chol, fnp.expand_dims(y, -1), left_side=True, lower=True)
    maha = fnp.sum(fnp.squeeze(z, -1) ** 2, axis=-1)
    log_det_half = fnp.sum(fnp.log(fnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return -0.5 * maha - log_det_half - 0.5 * n * log2pi


def pdf(x, mean, cov):
    """The multivariate normal density at ``x``: ``exp(logpdf(x, mean, cov))``."""
    return fnp.exp(logpdf(x, mean, cov))
