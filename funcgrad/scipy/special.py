"""Special functions with SciPy's names and JAX's semantics (``jax.scipy.special``).

Inputs are promoted to a floating dtype (integers and booleans to the default float) and
broadcast against each other. Every function is differentiable to any order, vmappable and
jittable. Conventions at the edges follow JAX: ``xlogy(0, y) == 0`` with derivative ``log(y)``
in ``x`` and ``0`` in ``y`` there, ``logit(0) == -inf``, ``logit(1) == inf``.
"""
from __future__ import annotations

import math
import operator

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import errors
from funcgrad.nn import functions as _nn
from funcgrad.numpy._util import aval_of, promote_args_inexact
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import special as sp
from funcgrad.primitives.custom_derivatives import custom_jvp
from funcgrad.scipy._util import promote_floats

__all__ = ["logsumexp", "expit", "logit", "erf", "erfc", "erfinv", "gammaln", "digamma", "psi",
           "polygamma", "betaln", "gammainc", "gammaincc", "betainc", "xlogy", "xlog1py", "entr",
           "ndtr", "log_ndtr", "ndtri", "softmax", "log_softmax"]


def _floats(op: str, *args):
    return promote_floats(f"scipy.special.{op}", *args)


def _unary(op: str, prim, x):
    (x,) = _floats(op, x)
    return prim.bind(x)


# ---------------------------------------------------------------- log-sum-exp and softmax

def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False):
    """``log(sum(b * exp(a), axis))`` computed without overflow.

    Args:
        a: the input array.
        axis: an int, a tuple of ints, or None (all axes).
        b: optional weights, broadcastable against ``a``; they may be negative or zero.
        keepdims: keep the reduced axes with size 1.
        return_sign: also return the sign of the sum. Without it, a negative sum gives NaN
            (as in JAX and SciPy).

    Returns:
        ``log|sum|``, or the pair ``(log|sum|, sign)`` when ``return_sign`` is true.

    Example:
        >>> special.logsumexp(fnp.array([0.0, 0.0]), b=fnp.array([1.0, -0.5]))
        Array(-0.6931472, dtype=float32)

    See also: ``funcgrad.nn.logsumexp``.
    """
    if b is None:
        (a,) = _floats("logsumexp", a)
    else:
        a, b = promote_args_inexact("logsumexp", a, b)
        _floats("logsumexp", a)
    out, sign = _nn.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    if return_sign:
        return out, sign
    if b is None:
        return out
    return fnp.where(sign < 0, fnp.full_like(out, np.nan), out)


def softmax(x, axis=None):
    """``exp(x) / sum(exp(x), axis)`` (SciPy's default ``axis=None`` normalises over all
    entries).

    Example:
        >>> special.softmax(fnp.array([0.0, 0.0]))
        Array([0.5, 0.5], dtype=float32)

    See also: ``funcgrad.nn.softmax`` (default ``axis=-1``).
    """
    (x,) = _floats("softmax", x)
    return _nn.softmax(x, axis=axis)


def log_softmax(x, axis=None):
    """``x - logsumexp(x, axis, keepdims=True)`` (SciPy's default ``axis=None``).

    Example:
        >>> special.log_softmax(fnp.array([0.0, 0.0]))
        Array([-0.6931472, -0.6931472], dtype=float32)
    """
    (x,) = _floats("log_softmax", x)
    return _nn.log_softmax(x, axis=axis)


# ---------------------------------------------------------------- logistic and error functions

def expit(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise, stable for any ``x``.

    Example:
        >>> special.expit(0.0)
        Array(0.5, dtype=float32)
    """
    return _unary("expit", ew.logistic_p, x)


def logit(p):
    """``log(p / (1 - p))``, the inverse of ``expit``; ``-inf`` at 0, ``inf`` at 1 and NaN
    outside ``[0, 1]``.

    Example:
        >>> special.logit(0.5)
        Array(0., dtype=float32)
    """
    (p,) = _floats("logit", p)
    return fnp.log(p) - fnp.log1p(-p)


def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt``, elementwise.

    Example:
        >>> special.erf(0.0)
        Array(0., dtype=float32)
    """
    return _unary("erf", ew.erf_p, x)


def erfc(x):
    """``1 - erf(x)``, accurate where it is tiny (large ``x``), elementwise.

    Example:
        >>> special.erfc(0.0)
        Array(1., dtype=float32)
    """
    return _unary("erfc", sp.erfc_p, x)


def erfinv(y):
    """The inverse of ``erf`` on ``(-1, 1)`` (``±inf`` at ``±1``, NaN outside).

    Example:
        >>> special.erfinv(0.0)
        Array(0., dtype=float32)
    """
    return _unary("erfinv", ew.erfinv_p, y)


def ndtr(x):
    """The standard normal CDF ``(1 + erf(x / sqrt(2))) / 2``, accurate in both tails.

    Example:
        >>> special.ndtr(0.0)
        Array(0.5, dtype=float32)
    """
    (x,) = _floats("ndtr", x)
    # erfc(-x / sqrt(2)) / 2 keeps relative accuracy in the lower tail; for the upper tail
    # the same expression is 1 - erfc(x / sqrt(2)) / 2 to rounding.
    return 0.5 * sp.erfc_p.bind(x * (-1 / math.sqrt(2)))


def log_ndtr(x):
    """``log(ndtr(x))``, accurate far into both tails (no underflow to ``-inf`` for very
    negative ``x``, where an asymptotic series takes over).

    Example:
        >>> special.log_ndtr(0.0)
        Array(-0.6931472, dtype=float32)
    """
    (x,) = _floats("log_ndtr", x)
    # Three branches, each fed only arguments inside its own range (so the branches not taken
    # have finite derivatives and add no NaN in reverse mode): log1p(-ndtr(-x)) above 0,
    # log(ndtr(x)) down to where ndtr would underflow, then the asymptotic series
    # -x**2/2 - log(-x) - log(2 pi)/2 + log(1 + sum_k (-1)**k (2k-1)!! / x**(2k)).
    # The switch point keeps ndtr(x)**2 representable (second derivatives of log(ndtr) divide
    # by it) while the series, truncated after 10 terms, is accurate to rounding.
    low_edge = -20.0 if aval_of(x).dtype == np.float64 else -7.0
    upper, lower = x > 0, x < low_edge
    middle = ~upper & ~lower
    xu = fnp.where(upper, x, fnp.ones_like(x))
    xm = fnp.where(middle, x, fnp.zeros_like(x))
    xl = fnp.where(lower, x, fnp.full_like(x, 2 * low_edge))
    inv2 = 1.0 / (xl * xl)
    series, term = fnp.zeros_like(x), fnp.ones_like(x)
    for k in range(1, 11):
        term = term * (-(2 * k - 1)) * inv2
        series = series + term
    tail = -0.5 * xl * xl - fnp.log(-xl) - 0.5 * math.log(2 * math.pi) + fnp.log1p(series)
    return fnp.where(upper, fnp.log1p(-ndtr(-xu)),
                     fnp.where(middle, fnp.log(ndtr(xm)), tail))


def ndtri(p):
    """The inverse of ``ndtr``: ``sqrt(2) * erfinv(2 p - 1)`` (``±inf`` at 0 and 1).

    Example:
        >>> special.ndtri(0.5)
        Array(0., dtype=float32)
    """
    (p,) = _floats("ndtri", p)
    return math.sqrt(2) * ew.erfinv_p.bind(2.0 * p - 1.0)


# ---------------------------------------------------------------- gamma family

def gammaln(x):
    """``log|Gamma(x)|``, elementwise (``inf`` at the poles ``0, -1, -2, ...``).

    Example:
        >>> special.gammaln(5.0)   # log(4!)
        Array(3.1780539, dtype=float32)
    """
    return _unary("gammaln", sp.lgamma_p, x)


def digamma(x):
    """``psi(x) = d/dx log Gamma(x)``, elementwise.

    Example:
        >>> special.digamma(1.0)   # -Euler's constant
        Array(-0.5772157, dtype=float32)
    """
    return _unary("digamma", sp.digamma_p, x)


psi = digamma


def polygamma(n, x):
    """The ``n``-th derivative of ``digamma`` at ``x``, elementwise.

    ``n`` is an integer: a Python int, or an integer array broadcasting against ``x`` (it may
    be traced, e.g. under ``jit`` or ``vmap``). Orders that are negative give NaN when they
    are only known at run time. Differentiable in ``x`` to any order, not in ``n``.

    Example:
        >>> special.polygamma(1, 1.0)   # pi**2 / 6
        Array(1.644934, dtype=float32)
        >>> special.polygamma(fnp.array([0, 1]), 1.0)
        Array([-0.5772157,  1.644934 ], dtype=float32)
    """
    op = "scipy.special.polygamma"
    if type(n) is int or isinstance(n, np.integer):
        order = operator.index(n)
        if order < 0:
            raise errors.InvalidArgumentError(errors.message(
                op, f"the order n must be >= 0, got {order}.",
                "pass n >= 0 (n = 0 is digamma).", errors.InvalidArgumentError))
        (x,) = _floats("polygamma", x)
        return sp.digamma_p.bind(x) if order == 0 else sp.polygamma_p.bind(x, n=order)
    n_dtype = getattr(n, "dtype", None) if not isinstance(n, (list, tuple)) else None
    if n_dtype is None or np.dtype(n_dtype).kind not in "iu":
        raise errors.InvalidArgumentError(errors.message(
            op, f"the order n must be an integer or an integer array, got "
            f"{type(n).__name__} {n!r:.40}.", "pass n as a Python int, e.g. polygamma(1, x), or "
            "as an integer array, e.g. polygamma(fnp.array([0, 1, 2]), x).",
            errors.InvalidArgumentError))
    n, x = _floats("polygamma", n, x)
    return sp.polygamma_array_p.bind(n, x)


def _gammaln_difference(x, h):
    """``gammaln(x + h) - gammaln(x)`` for ``x > 0`` and ``0 <= h <= 1``, without the
    cancellation of the two ``gammaln`` for large ``x``: from 10 on, Stirling's formula takes
    the difference analytically, ``h log(x + h) + (x - 1/2) log1p(h / x) - h + r(x + h)
    - r(x)`` with ``r`` the remainder of Stirling's series."""
    big = x >= 10
    xb = fnp.where(big, x, fnp.full_like(x, 10.0))
    xs = fnp.where(big, fnp.ones_like(x), x)

    def remainder(y):
        inv2, acc = 1.0 / (y * y), fnp.zeros_like(y)
        for k in range(len(sp._BERNOULLI), 0, -1):
            acc = acc * inv2 + sp._BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
        return acc / y

    stirling = (h * fnp.log(xb + h) + (xb - 0.5) * fnp.log1p(h / xb) - h + remainder(xb + h)
                - remainder(xb))
    return fnp.where(big, stirling, gammaln(xs + h) - gammaln(xs))


def betaln(a, b):
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``, elementwise.

    Example:
        >>> special.betaln(1.0, 1.0)
        Array(0., dtype=float32)
    """
    a, b = _floats("betaln", a, b)
    return sp.lgamma_p.bind(a) + sp.lgamma_p.bind(b) - sp.lgamma_p.bind(a + b)


# ---------------------------------------------------------------- incomplete gamma and beta

def gammainc(a, x):
    """The regularised lower incomplete gamma function
    ``P(a, x) = integral_0^x t**(a-1) exp(-t) dt / Gamma(a)``, elementwise.

    Differentiable in ``x`` and in ``a`` to any order (the derivatives in ``a`` come from
    differentiating the series and continued fraction themselves). ``a < 0`` or ``x < 0``
    give NaN; ``P(0, x) = 1`` for ``x > 0``.

    Example:
        >>> special.gammainc(1.0, 2.0)   # 1 - exp(-2)
        Array(0.86466473, dtype=float32)

    See also: ``gammaincc``, ``funcgrad.scipy.stats.gamma.cdf``.
    """
    a, x = _floats("gammainc", a, x)
    return sp.igamma_p.bind(a, x)


def gammaincc(a, x):
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, computed
    directly, so it keeps its relative accuracy where it is tiny.

    Example:
        >>> special.gammaincc(1.0, 2.0)   # exp(-2)
        Array(0.13533528, dtype=float32)
    """
    a, x = _floats("gammaincc", a, x)
    return sp.igammac_p.bind(a, x)


def betainc(a, b, x):
    """The regularised incomplete beta function
    ``I_x(a, b) = integral_0^x t**(a-1) (1-t)**(b-1) dt / B(a, b)``, elementwise.

    Differentiable in ``x``, ``a`` and ``b`` to any order (JAX differentiates it in ``x``
    only). ``x`` outside ``[0, 1]`` and negative ``a`` or ``b`` give NaN.

    Example:
        >>> special.betainc(2.0, 3.0, 0.5)
        Array(0.6875, dtype=float32)

    See also: ``funcgrad.scipy.stats.beta.cdf``, ``funcgrad.scipy.stats.t.cdf``.
    """
    a, b, x = _floats("betainc", a, b, x)
    return sp.betainc_p.bind(a, b, x)


# ---------------------------------------------------------------- x log y and entropy

def _safe_product(x, y, log_fn):
    # Where x == 0 the result is 0 (NaN if y is NaN), and the log never sees y there, so no
    # inf * 0 appears in the value.
    x_ok = x != 0
    safe_y = fnp.where(x_ok, y, fnp.ones_like(y))
    zero = fnp.where(fnp.isnan(y), y, fnp.zeros_like(x))
    return fnp.where(x_ok, x * log_fn(safe_y), zero)


def _product_jvp(log_fn, dlog_fn, fn, primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    # d/dy x log(y) = x / y, taken as 0 where x == 0 (the function is 0 along that line).
    x_ok = x != 0
    dy = fnp.where(x_ok, x / fnp.where(x_ok, dlog_fn(y), fnp.ones_like(y)), fnp.zeros_like(x))
    return fn(x, y), tx * log_fn(y) + ty * dy


@custom_jvp
def _xlogy(x, y):
    return _safe_product(x, y, fnp.log)


@custom_jvp
def _xlog1py(x, y):
    return _safe_product(x, y, fnp.log1p)


_xlogy.defjvp(lambda p, t: _product_jvp(fnp.log, lambda y: y, _xlogy, p, t))
_xlog1py.defjvp(lambda p, t: _product_jvp(fnp.log1p, lambda y: 1 + y, _xlog1py, p, t))


def xlogy(x, y):
    """``x * log(y)``, with the value 0 where ``x == 0`` (even for ``y == 0``).

    Derivatives (JAX's convention): ``log(y)`` in ``x`` and ``x / y`` in ``y``, the latter
    taken as 0 where ``x == 0``, so ``grad`` in ``y`` is finite at ``(0, 0)``.

    Example:
        >>> special.xlogy(0.0, 0.0)
        Array(0., dtype=float32)
    """
    return _xlogy(*_floats("xlogy", x, y))


def xlog1py(x, y):
    """``x * log1p(y)``, with the value 0 where ``x == 0`` (even for ``y == -1``).

    Example:
        >>> special.xlog1py(0.0, -1.0)
        Array(0., dtype=float32)
    """
    return _xlog1py(*_floats("xlog1py", x, y))


@custom_jvp
def _entr(x):
    pos = x > 0
    safe = fnp.where(pos, x, fnp.ones_like(x))
    rest = fnp.where(x == 0, fnp.zeros_like(x), fnp.full_like(x, -np.inf))
    return fnp.where(pos, -safe * fnp.log(safe), fnp.where(fnp.isnan(x), x, rest))


@_entr.defjvp
def _entr_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    # d/dx (-x log x) = -(1 + log x): +inf at 0, as in JAX.
    return _entr(x), -t * (1 + fnp.log(x))


def entr(x):
    """The elementwise entropy term: ``-x log(x)`` for ``x > 0``, 0 at 0, ``-inf`` below.

    Example:
        >>> special.entr(1.0)
        Array(-0., dtype=float32)
    """
    (x,) = _floats("entr", x)
    return _entr(x)
