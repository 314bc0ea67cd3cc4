"""The Poisson distribution with mean ``mu`` (``jax.scipy.stats.poisson``)."""
from __future__ import annotations

import numpy as np

import funcgrad.numpy as fnp
from funcgrad.scipy import special
from funcgrad.scipy._util import promote_floats

__all__ = ["logpmf", "pmf", "cdf"]


def logpmf(k, mu, loc=0):
    """``log P(K = k) = (k - loc) log(mu) - mu - log((k - loc)!)``; ``-inf`` where ``k - loc``
    is negative or not an integer. Differentiable in ``mu`` (and, as a formula, in ``k``).
    ``k - loc == 0`` gives ``-mu`` (also for ``mu == 0``, through ``xlogy``).

    Example:
        >>> poisson.logpmf(0, 2.0)
        Array(-2., dtype=float32)
    """
    k, mu, loc = promote_floats("scipy.stats.poisson.logpmf", k, mu, loc)
    x = k - loc
    log_prob = special.xlogy(x, mu) - special.gammaln(x + 1) - mu
    invalid = (x < 0) | (fnp.round(x) != x)
    return fnp.where(invalid, fnp.full_like(log_prob, -np.inf), log_prob)


def pmf(k, mu, loc=0):
    """``P(K = k)``: ``exp(logpmf(k, mu, loc))``."""
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    """``P(K <= k) = gammaincc(floor(k - loc) + 1, mu)``; 0 for ``k < loc``.

    Differentiable in ``mu`` (``d/dmu = -pmf(floor(k - loc), mu)``); piecewise constant in
    ``k``.

    Example:
        >>> poisson.cdf(1, 2.0)   # 3 exp(-2)
        Array(0.40600586, dtype=float32)
    """
    k, mu, loc = promote_floats("scipy.stats.poisson.cdf", k, mu, loc)
    x = k - loc
    below = x < 0
    # floor(x) + 1 >= 1 wherever it is used; the branch not taken gets 1 (finite derivatives).
    count = fnp.where(below, fnp.ones_like(x), fnp.floor(x) + 1)
    p = special.gammaincc(count, mu)
    return fnp.where(below, fnp.zeros_like(p), p)
