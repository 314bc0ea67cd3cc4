"""The gamma distribution with shape ``a`` (``jax.scipy.stats.gamma``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


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


def _standardized(op, x, a, loc, scale):
    """``(a, y, inside)``: ``y = (x - loc) / scale`` where ``x > loc``, else 1 (so that the
    branch not taken has finite derivatives), with ``inside`` marking ``x > loc``."""
    x, a, loc, scale = promote_floats(f"scipy.stats.gamma.{op}", x, a, loc, scale)
    y = (x - loc) / scale
    inside = y > 0
    return a, fnp.where(inside, y, fnp.ones_like(y)), inside


def cdf(x, a, loc=0, scale=1):
    """``P(X <= x) = gammainc(a, (x - loc) / scale)``; 0 below ``loc``.

    Differentiable in ``x``, ``a``, ``loc`` and ``scale``.

    Example:
        >>> gamma.cdf(2.0, 1.0)   # the exponential CDF 1 - exp(-2)
        Array(0.86466473, dtype=float32)
    """
    a, y, inside = _standardized("cdf", x, a, loc, scale)
    p = special.gammainc(a, y)
    return fnp.where(inside, p, fnp.zeros_like(p))


def logcdf(x, a, loc=0, scale=1):
    """``log P(X <= x)``; ``-inf`` below ``loc``."""
    return fnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    """The survival function ``P(X > x) = gammaincc(a, (x - loc) / scale)``, computed
    directly (accurate where it is tiny); 1 below ``loc``.

    Example:
        >>> gamma.sf(2.0, 1.0)   # exp(-2)
        Array(0.13533528, dtype=float32)
    """
    a, y, inside = _standardized("sf", x, a, loc, scale)
    q = special.gammaincc(a, y)
    return fnp.where(inside, q, fnp.ones_like(q))


def logsf(x, a, loc=0, scale=1):
    """``log P(X > x)``; 0 below ``loc``."""
    return fnp.log(sf(x, a, loc, scale))
