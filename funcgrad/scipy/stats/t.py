"""Student's t distribution with ``df`` degrees of freedom (``jax.scipy.stats.t``)."""
from __future__ import annotations

import math

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf"]


def logpdf(x, df, loc=0, scale=1):
    """Log of the Student's t density at ``x``.

    ``log Gamma((df+1)/2) - log Gamma(df/2) - log(pi df scale**2)/2
    - (df+1)/2 log(1 + z**2/df)`` with ``z = (x - loc) / scale``.

    Example:
        >>> t.logpdf(0.0, 1.0)   # the Cauchy density at 0: 1/pi
        Array(-1.1447299, dtype=float32)
    """
    x, df, loc, scale = promote_floats("scipy.stats.t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    half = 0.5 * df
    norm_term = (special.gammaln(half) - special.gammaln(half + 0.5)
                 + 0.5 * fnp.log(df * scale * scale) + 0.5 * math.log(math.pi))
    return -norm_term - (half + 0.5) * fnp.log1p(z * z / df)


def pdf(x, df, loc=0, scale=1):
    """The Student's t density at ``x``: ``exp(logpdf(x, df, loc, scale))``."""
    return fnp.exp(logpdf(x, df, loc, scale))
