"""The Dirichlet distribution on the probability simplex (``jax.scipy.stats.dirichlet``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import errors
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf"]

_SIMPLEX_TOL = 1e-6  # |sum(x) - 1| allowed before a point counts as off the simplex


def logpdf(x, alpha):
    """Log of the Dirichlet density at ``x`` with concentrations ``alpha`` (shape ``[K]``).

    ``x`` has shape ``[K, ...]`` (points along the trailing axes, as in SciPy), or
    ``[K - 1, ...]``, in which case the last coordinate ``1 - sum(x)`` is appended. Points off
    the simplex (a negative coordinate, or a sum farther than 1e-6 from 1) give ``-inf``.

    Example:
        >>> dirichlet.logpdf(fnp.array([0.2, 0.3, 0.5]), fnp.array([1.0, 1.0, 1.0]))
        Array(0.6931472, dtype=float32)   # log(2!): the uniform density on the 2-simplex
    """
    op = "scipy.stats.dirichlet.logpdf"
    x_in, alpha_in = fnp.asarray(x), fnp.asarray(alpha)
    if alpha_in.ndim != 1:
        raise errors.shape_error(op, f"alpha must be 1-D (the K concentrations), got shape "
                                 f"{alpha_in.shape}.", "pass alpha of shape [K].")
    k = alpha_in.shape[0]
    if x_in.ndim == 0 or x_in.shape[0] not in (k, k - 1):
        raise errors.shape_error(op, f"x of shape {x_in.shape} does not fit alpha of shape "
                                 f"({k},): its first axis must have size {k} or {k - 1}.",
                                 "put the K coordinates of each point on the first axis of x.")
    x, alpha = promote_floats(op, x_in, alpha_in, broadcast=False)
    if x.shape[0] == k - 1:
        x = fnp.concatenate([x, 1 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    a = fnp.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    log_norm = fnp.sum(special.gammaln(alpha)) - special.gammaln(fnp.sum(alpha))
    log_density = fnp.sum(special.xlogy(a - 1, x), axis=0) - log_norm
    on_simplex = (fnp.min(x, axis=0) >= 0) & (fnp.abs(fnp.sum(x, axis=0) - 1) < _SIMPLEX_TOL)
    return fnp.where(on_simplex, log_density, fnp.full_like(log_density, -np.inf))


def pdf(x, alpha):
    """The Dirichlet density at ``x``: ``exp(logpdf(x, alpha))``."""
    return fnp.exp(logpdf(x, alpha))
