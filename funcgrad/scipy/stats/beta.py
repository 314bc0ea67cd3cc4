"""The beta distribution on ``[loc, loc + scale]`` (``jax.scipy.stats.beta``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, a, b, loc=0, scale=1):
    """Log of the beta density ``y**(a-1) (1-y)**(b-1) / B(a, b) / scale`` at
    ``y = (x - loc) / scale``; ``-inf`` outside ``[loc, loc + scale]``.

    As in JAX, ``xlogy``/``xlog1py`` make the boundary values exact when ``a == 1`` or
    ``b == 1`` (``0 * log 0 == 0``).

    Example:
        >>> beta.logpdf(0.5, 2.0, 2.0)   # density 1.5
        Array(0.4054651, dtype=float32)
    """
    x, a, b, loc, scale = promote_floats("scipy.stats.beta.logpdf", x, a, b, loc, scale)
    y = (x - loc) / scale
    log_density = (special.xlogy(a - 1, y) + special.xlog1py(b - 1, -y)
                   - special.betaln(a, b) - fnp.log(scale))
    outside = (x < loc) | (x > loc + scale)
    return fnp.where(outside, fnp.full_like(log_density, -np.inf), log_density)


def pdf(x, a, b, loc=0, scale=1):
    """The beta density at ``x``: ``exp(logpdf(x, a, b, loc, scale))``."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


def _standardized(op, x, a, b, loc, scale):
    """``(a, b, y, below, above)``: ``y = (x - loc) / scale`` inside ``(0, 1)``, else 1/2 (so
    that the branch not taken has finite derivatives), and where ``x`` is below or above the
    support."""
    x, a, b, loc, scale = promote_floats(f"scipy.stats.beta.{op}", x, a, b, loc, scale)
    y = (x - loc) / scale
    below, above = y <= 0, y >= 1
    return a, b, fnp.where(below | above, fnp.full_like(y, 0.5), y), below, above


def cdf(x, a, b, loc=0, scale=1):
    """``P(X <= x) = betainc(a, b, (x - loc) / scale)``; 0 below ``loc``, 1 above
    ``loc + scale``.

    Differentiable in ``x``, ``a``, ``b``, ``loc`` and ``scale``.

    Example:
        >>> beta.cdf(0.5, 2.0, 3.0)
        Array(0.6875, dtype=float32)
    """
    a, b, y, below, above = _standardized("cdf", x, a, b, loc, scale)
    p = special.betainc(a, b, y)
    return fnp.where(below, fnp.zeros_like(p), fnp.where(above, fnp.ones_like(p), p))


def logcdf(x, a, b, loc=0, scale=1):
    """``log P(X <= x)``; ``-inf`` below ``loc``."""
    return fnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    """The survival function ``P(X > x) = betainc(b, a, 1 - y)``, computed directly
    (accurate where it is tiny); 1 below ``loc``, 0 above ``loc + scale``.

    Example:
        >>> beta.sf(0.5, 2.0, 3.0)
        Array(0.3125, dtype=float32)
    """
    a, b, y, below, above = _standardized("sf", x, a, b, loc, scale)
    q = special.betainc(b, a, 1 - y)
    return fnp.where(below, fnp.ones_like(q), fnp.where(above, fnp.zeros_like(q), q))


def logsf(x, a, b, loc=0, scale=1):
    """``log P(X > x)``; ``-inf`` above ``loc + scale``."""
    return fnp.log(sf(x, a, b, loc, scale))
