"""The gamma distribution with shape ``a`` (``jax.scipy.stats.gamma``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf"]


def logpdf(x, a, loc=0, scale=1):
    """Log of the gamma density ``y**(a-1) exp(-y) / Gamma(a) / scale`` at
    ``y = (x - loc) / scale``; ``-inf`` below ``loc``.

    Example:
        >>> gamma.logpdf(1.0, 1.0)   # the exponential density exp(-1)
        Array(-1., dtype=float32)
    """
    x, a, loc, scale = promote_floats("scipy.stats.gamma.logpdf", x, a, loc, scale)
    y = (x - loc) / scale
    log_density = special.xlogy(a - 1, y) - y - special.gammaln(a) - fnp.log(scale)
    return fnp.where(x < loc, fnp.full_like(log_density, -np.inf), log_density)


def pdf(x, a, loc=0, scale=1):
    """The gamma density at ``x``: ``exp(logpdf(x, a, loc, scale))``."""
    return fnp.exp(logpdf(x, a, loc, scale))
