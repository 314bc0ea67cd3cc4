"""The normal distribution ``N(loc, scale**2)`` (``jax.scipy.stats.norm``)."""
from __future__ import annotations

import math

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


def _standardize(op, x, loc, scale):
    x, loc, scale = promote_floats(f"scipy.stats.norm.{op}", x, loc, scale)
    return (x - loc) / scale, scale


def logpdf(x, loc=0, scale=1):
    """Log of the normal density at ``x``.

    Example:
        >>> norm.logpdf(1.0, loc=1.0, scale=2.0)
        Array(-1.6120857, dtype=float32)
    """
    z, scale = _standardize("logpdf", x, loc, scale)
    return -0.5 * z * z - fnp.log(scale) - 0.5 * math.log(2 * math.pi)


def pdf(x, loc=0, scale=1):
    """The normal density at ``x``: ``exp(logpdf(x, loc, scale))``."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """``P(X <= x)``, accurate in the lower tail (``special.ndtr``)."""
    z, _ = _standardize("cdf", x, loc, scale)
    return special.ndtr(z)


def logcdf(x, loc=0, scale=1):
    """``log P(X <= x)``, finite far into the lower tail (``special.log_ndtr``)."""
    z, _ = _standardize("logcdf", x, loc, scale)
    return special.log_ndtr(z)


def sf(x, loc=0, scale=1):
    """The survival function ``P(X > x) = cdf(-x)`` for the standardised variable."""
    z, _ = _standardize("sf", x, loc, scale)
    return special.ndtr(-z)


def logsf(x, loc=0, scale=1):
    """``log P(X > x)``."""
    z, _ = _standardize("logsf", x, loc, scale)
    return special.log_ndtr(-z)


def ppf(q, loc=0, scale=1):
    """The quantile function (inverse of ``cdf``): ``loc + scale * ndtri(q)``.

    Example:
        >>> norm.ppf(0.5, loc=3.0)
        Array(3., dtype=float32)
    """
    q, loc, scale = promote_floats("scipy.stats.norm.ppf", q, loc, scale)
    return loc + scale * special.ndtri(q)


def isf(q, loc=0, scale=1):
    """The inverse survival function: ``ppf(1 - q, loc, scale)``."""
    q, loc, scale = promote_floats("scipy.stats.norm.isf", q, loc, scale)
    return loc - scale * special.ndtri(q)
