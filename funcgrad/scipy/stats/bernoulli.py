"""The Bernoulli distribution with success probability ``p`` (``jax.scipy.stats.bernoulli``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpmf", "pmf", "cdf", "ppf"]


def logpmf(k, p, loc=0):
    """``log P(K = k)``: ``log(p)`` at ``k - loc == 1``, ``log(1 - p)`` at 0, ``-inf``
    elsewhere (``xlogy`` keeps ``p == 0`` and ``p == 1`` exact).

    Example:
        >>> bernoulli.logpmf(1, 0.25)
        Array(-1.3862944, dtype=float32)
    """
    k, p, loc = promote_floats("scipy.stats.bernoulli.logpmf", k, p, loc)
    x = k - loc
    log_prob = special.xlogy(x, p) + special.xlog1py(1 - x, -p)
    invalid = (x != 0) & (x != 1)
    return fnp.where(invalid, fnp.full_like(log_prob, -np.inf), log_prob)


def pmf(k, p, loc=0):
    """``P(K = k)``: ``exp(logpmf(k, p, loc))``."""
    return fnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    """``P(K <= k)``: 0 below 0, ``1 - p`` on ``[0, 1)``, 1 from 1 on; NaN for ``p`` outside
    ``[0, 1]``.

    Example:
        >>> bernoulli.cdf(0.5, 0.25)
        Array(0.75, dtype=float32)
    """
    k, p = promote_floats("scipy.stats.bernoulli.cdf", k, p)
    out = fnp.where(k < 0, fnp.zeros_like(p), fnp.where(k < 1, 1 - p, fnp.ones_like(p)))
    bad = (p < 0) | (p > 1) | fnp.isnan(k)
    return fnp.where(bad, fnp.full_like(out, np.nan), out)


def ppf(q, p):
    """The smallest ``k`` with ``cdf(k, p) >= q``: 0 for ``q <= 1 - p``, else 1; NaN for
    ``q`` or ``p`` outside ``[0, 1]``."""
    q, p = promote_floats("scipy.stats.bernoulli.ppf", q, p)
    out = fnp.where(q > 1 - p, fnp.ones_like(q), fnp.zeros_like(q))
    bad = (q < 0) | (q > 1) | (p < 0) | (p > 1)
    return fnp.where(bad, fnp.full_like(out, np.nan), out)
