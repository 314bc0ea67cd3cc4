"""funcgrad.scipy: differentiable counterparts of a subset of SciPy, following the semantics
documented for ``jax.scipy``.

* ``funcgrad.scipy.special``: logsumexp, expit, logit, erf, erfc, erfinv, gammaln, digamma,
  polygamma, betaln, gammainc, gammaincc, betainc, xlogy, xlog1py, entr, ndtr, log_ndtr,
  ndtri, softmax, log_softmax.
* ``funcgrad.scipy.stats``: norm, t, beta, gamma, poisson, bernoulli, dirichlet,
  multivariate_normal (logpdf/pdf/logpmf/pmf/cdf/logcdf/sf/logsf where they apply).
* ``funcgrad.scipy.linalg``: solve_triangular, cho_factor, cho_solve, lu, lu_factor, lu_solve,
  expm, block_diag.

Everything is built from funcgrad primitives, so it works under grad, jvp, vmap and jit.
SciPy itself is not imported (it is only a test dependency).
"""
from funcgrad.scipy import linalg, special, stats  # noqa: F401

__all__ = ["linalg", "special", "stats"]
