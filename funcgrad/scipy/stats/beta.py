"""The beta distribution on ``[loc, loc + scale]`` (``jax.scipy.stats.beta``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf"]


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
