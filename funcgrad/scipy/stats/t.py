"""Student's t distribution with ``df`` degrees of freedom (``jax.scipy.stats.t``)."""
from __future__ import annotations

import math

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpdf", "pdf", "cdf"]


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
    norm_term = (-special._gammaln_difference(half, 0.5)
                 + 0.5 * fnp.log(df * scale * scale) + 0.5 * math.log(math.pi))
    return -norm_term - (half + 0.5) * fnp.log1p(z * z / df)


def pdf(x, df, loc=0, scale=1):
    """The Student's t density at ``x``: ``exp(logpdf(x, df, loc, scale))``."""
    return fnp.exp(logpdf(x, df, loc, scale))


# Terms of the series used for z**2 < min(1, df / 16), where they fall by 16x (small df) or
# like 2**-k / k! (large df): 18 reach float64 rounding.
_CENTER_TERMS = 18


def cdf(x, df, loc=0, scale=1):
    """``P(X <= x)`` for Student's t, through the incomplete beta function.

    With ``z = (x - loc) / scale``, ``v = df / (df + z**2)`` and ``w = z**2 / (df + z**2)``:
    the tails are ``betainc(df/2, 1/2, v) / 2`` (or one minus it); where ``v`` is near 1
    (``z**2 < df``), ``1/2 + sign(z) betainc(1/2, df/2, w) / 2`` is used instead (below the
    centre only while it is above 1e-3), as ``w`` stays exact there; and around ``z = 0``,
    where ``betainc(1/2, ., w)`` has an infinite derivative in ``w``, the power series
    ``1/2 + z pdf(0) 2F1(1/2, (df+1)/2; 3/2; -z**2/df)``. Differentiable in ``x``, ``df``,
    ``loc`` and ``scale``. Relative accuracy in float64: about 1e-13 for ``df <= 100``,
    degrading like ``1e-16 * df`` in the lower tail beyond.

    Example:
        >>> t.cdf(1.0, 1.0)   # the Cauchy CDF: 1/2 + atan(1)/pi
        Array(0.75, dtype=float32)
    """
    x, df, loc, scale = promote_floats("scipy.stats.t.cdf", x, df, loc, scale)
    z = (x - loc) / scale
    z2 = z * z
    near = (z2 < 1) & (16 * z2 < df)
    middle = ~near & (z2 < df)
    # Each branch sees only its own points; the others get a harmless stand-in, so that their
    # (unused) derivatives stay finite.
    root = fnp.sqrt(df)
    zn = fnp.where(near, z, fnp.zeros_like(z))
    zm = fnp.where(middle, z, 0.5 * root)  # w = 1/5
    zt = fnp.where(near | middle, 2 * root, z)

    half = 0.5 * (df + 1)
    u = -zn * zn / df
    term, series = fnp.ones_like(z), fnp.ones_like(z)
    for k in range(1, _CENTER_TERMS):
        term = term * (half + (k - 1)) / k * u
        series = series + term / (2 * k + 1)
    density0 = fnp.exp(special._gammaln_difference(0.5 * df, 0.5) - 0.5 * fnp.log(math.pi * df))
    center = 0.5 + zn * density0 * series

    zm2 = zm * zm
    inner = 0.5 * special.betainc(0.5, 0.5 * df, zm2 / (df + zm2))
    lower_inner = 0.5 - inner
    lower_tail = 0.5 * special.betainc(0.5 * df, 0.5, df / (df + zm2))
    lower = fnp.where(lower_inner >= 1e-3, lower_inner, lower_tail)
    middle_cdf = fnp.where(zm > 0, 0.5 + inner, lower)

    tail = 0.5 * special.betainc(0.5 * df, 0.5, df / (df + zt * zt))
    outer = fnp.where(zt < 0, tail, 1 - tail)
    return fnp.where(near, center, fnp.where(middle, middle_cdf, outer))
