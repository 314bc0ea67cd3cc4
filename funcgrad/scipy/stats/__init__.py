"""Probability distributions with ``jax.scipy.stats``' functions and signatures.

Each distribution is a module of plain functions, e.g. ``norm.logpdf(x, loc=0, scale=1)``;
arguments broadcast against each other and are promoted to a floating dtype. Everything is
differentiable (in ``x`` and in the parameters), vmappable and jittable. Outside the support
the log-density is ``-inf`` (density 0).

Example:
    >>> from funcgrad.scipy.stats import norm
    >>> norm.logpdf(0.0)
    Array(-0.9189385, dtype=float32)
"""
from funcgrad.scipy.stats import (  # noqa: F401
    bernoulli,
    beta,
    dirichlet,
    gamma,
    multivariate_normal,
    norm,
    poisson,
    t,
)

__all__ = ["bernoulli", "beta", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson",
           "t"]
