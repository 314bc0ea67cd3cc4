"""Special functions as elementwise primitives: ``lgamma``, ``digamma``, ``polygamma``, ``erfc``.

The impls are vectorised NumPy (no SciPy): the gamma family shifts its argument upwards with
the recurrence ``f(x) = f(x + 1) - (term)`` until an asymptotic (Stirling) series is accurate
to float64 rounding, and reflects negative arguments through ``x -> 1 - x``. Each derivative
is the next member of the family (``lgamma' = digamma``, ``digamma' = polygamma(1)``,
``polygamma(n)' = polygamma(n + 1)``), so every order of differentiation is available. None of
them is lowered to a kernel: under jit they run as library steps through these impls.
"""
from __future__ import annotations

import math

import numpy as np

from funcgrad import dtypes, errors
from funcgrad.core import Primitive
from funcgrad.primitives._helpers import check_dtype, standard_elementwise

FLOATS = dtypes.FLOATS

# Bernoulli numbers B_2, B_4, ..., B_20 of the asymptotic series.
_BERNOULLI = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330]
_SHIFT = 16.0  # arguments are raised to at least this before the asymptotic series


def _in_float64(f):
    # Computed in float64 (float32 inputs too, then rounded once); domain errors give
    # inf/NaN silently, as for the other elementwise primitives.
    def impl(x, **params):
        with np.errstate(all="ignore"):
            return np.asarray(f(np.asarray(x, np.float64), **params), dtype=x.dtype)
    impl.__name__ = f.__name__
    return impl


def _frac_pi(x):
    """``(sin(pi x), cos(pi x))`` with the argument reduced first, so large ``x`` stays exact."""
    r = x - 2.0 * np.floor(x / 2.0)  # in [0, 2): exact in floating point
    return np.sin(np.pi * r), np.cos(np.pi * r)


def _shift_up(x, term):
    """``(y, acc)`` with ``y = x + k >= _SHIFT`` and ``acc = sum_{j<k} term(x + j)``."""
    y = x.copy()
    acc = np.zeros_like(x)
    low = y < _SHIFT
    while np.any(low):
        acc = acc + np.where(low, term(np.where(low, y, 1.0)), 0.0)
        y = np.where(low, y + 1.0, y)
        low = y < _SHIFT
    return y, acc


# ---------------------------------------------------------------- lgamma

def _lgamma_positive(x):
    # lgamma(x) = lgamma(x + k) - log(x (x + 1) ... (x + k - 1)); Stirling's series at x + k.
    y, log_prod = _shift_up(x, np.log)
    inv, inv2 = 1.0 / y, 1.0 / (y * y)
    series = np.zeros_like(y)
    for k in range(len(_BERNOULLI), 0, -1):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
    stirling = (y - 0.5) * np.log(y) - y + 0.5 * math.log(2 * math.pi) + series * inv
    return stirling - log_prod


@_in_float64
def _lgamma(x):
    neg = x < 0.5
    pos = _lgamma_positive(np.where(neg, 1.0 - x, x))
    sin_pix, _ = _frac_pi(x)
    # Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x); log|Gamma| at the poles is inf.
    reflected = math.log(math.pi) - np.log(np.abs(sin_pix)) - pos
    out = np.where(neg, reflected, pos)
    out = np.where(neg & (x == np.floor(x)), np.inf, out)
    return np.where(np.isposinf(x), np.inf, out)


# ---------------------------------------------------------------- digamma, polygamma

def _digamma_positive(x):
    y, acc = _shift_up(x, lambda v: 1.0 / v)
    inv2 = 1.0 / (y * y)
    series = np.zeros_like(y)
    for k in range(len(_BERNOULLI), 0, -1):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k)
    return np.log(y) - 0.5 / y - series * inv2 - acc


@_in_float64
def _digamma(x):
    neg = x < 0
    pos = _digamma_positive(np.where(neg, 1.0 - x, x))
    sin_pix, cos_pix = _frac_pi(x)
    # Reflection: psi(x) = psi(1 - x) - pi cot(pi x); poles at the non-positive integers.
    out = np.where(neg, pos - np.pi * cos_pix / sin_pix, pos)
    out = np.where(x == 0, np.copysign(np.inf, -x), out)
    out = np.where(neg & (x == np.floor(x)), np.nan, out)
    return np.where(np.isposinf(x), np.inf, out)


def _polygamma_positive(x, n):
    # psi^(n)(x) = (-1)^(n+1) n! sum_k 1 / (x + k)^(n+1); the tail from y = x + k on is the
    # asymptotic series (-1)^(n+1) [(n-1)!/y^n + n!/(2 y^(n+1))
    #                                + sum_k B_2k (2k+n-1)!/(2k)! / y^(2k+n)].
    sign = -1.0 if n % 2 == 0 else 1.0
    y, acc = _shift_up(x, lambda v: v ** -(n + 1.0))
    inv2 = 1.0 / (y * y)
    series = np.zeros_like(y)
    for k in range(len(_BERNOULLI), 0, -1):
        coef = _BERNOULLI[k - 1] * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series = series * inv2 + coef
    tail = (math.factorial(n - 1) / y ** n + math.factorial(n) / (2.0 * y ** (n + 1))
            + series * inv2 / y ** n)
    return sign * (tail + math.factorial(n) * acc)


def _cot_derivative_poly(n):
    """Coefficients (lowest first) of ``P_n`` with ``d^n/dx^n cot(pi x) = pi^n P_n(cot(pi x))``."""
    p = np.polynomial.Polynomial([0.0, 1.0])
    for _ in range(n):
        p = -np.polynomial.Polynomial([1.0, 0.0, 1.0]) * p.deriv()
    return p


@_in_float64
def _polygamma(x, *, n):
    neg = x < 0
    pos = _polygamma_positive(np.where(neg, 1.0 - x, x), n)
    sin_pix, cos_pix = _frac_pi(x)
    # Differentiating the reflection n times: psi^(n)(x) = (-1)^n psi^(n)(1 - x)
    #                                                     - pi^(n+1) P_n(cot(pi x)).
    cot = cos_pix / sin_pix
    reflected = (-1.0) ** n * pos - np.pi ** (n + 1) * _cot_derivative_poly(n)(cot)
    out = np.where(neg, reflected, pos)
    pole = (x <= 0) & (x == np.floor(x))
    return np.where(pole, np.inf if n % 2 else np.nan, out)


# ---------------------------------------------------------------- erfc

_erfc_scalar = np.frompyfunc(math.erfc, 1, 1)


def _erfc(x):
    return np.asarray(_erfc_scalar(x), dtype=x.dtype) if x.size else x.copy()


# ---------------------------------------------------------------- primitives

lgamma_p = standard_elementwise("lgamma", _lgamma, nargs=1, allowed=FLOATS)
digamma_p = standard_elementwise("digamma", _digamma, nargs=1, allowed=FLOATS)
erfc_p = standard_elementwise("erfc", _erfc, nargs=1, allowed=FLOATS)


def _polygamma_abstract_eval(x, *, n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise errors.InvalidArgumentError(errors.message(
            "polygamma", f"the order n must be a Python int >= 1, got {n!r}.",
            "use digamma for n = 0, or pass the order as a Python int.",
            errors.InvalidArgumentError))
    check_dtype("polygamma", x, FLOATS)
    return x


polygamma_p = Primitive("polygamma", impl=_polygamma, abstract_eval=_polygamma_abstract_eval)


def lgamma(x):
    """``log|Gamma(x)|``, elementwise (``x`` a float array)."""
    return lgamma_p.bind(x)


def digamma(x):
    """``d/dx log Gamma(x)``, elementwise (``x`` a float array)."""
    return digamma_p.bind(x)


def polygamma(x, n: int):
    """The ``n``-th derivative of ``digamma`` (``n >= 1``, a Python int), elementwise."""
    return polygamma_p.bind(x, n=int(n))


def erfc(x):
    """``1 - erf(x)`` without cancellation for large ``x``, elementwise."""
    return erfc_p.bind(x)


__all__ = ["lgamma", "digamma", "polygamma", "erfc"]


# ---------------------------------------------------------------- registration
from funcgrad.primitives import elementwise as _ew  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402


def _erfc_jvp(t, ans, x):
    scale = _ew._const(x, -2.0 / math.sqrt(math.pi))
    return _ew.mul_p.bind(t, _ew.mul_p.bind(scale, _ew.exp_p.bind(_ew.neg_p.bind(
        _ew.mul_p.bind(x, x)))))


_ad.defjvp(lgamma_p, lambda t, ans, x: _ew.mul_p.bind(t, digamma_p.bind(x)))
_ad.defjvp(digamma_p, lambda t, ans, x: _ew.mul_p.bind(t, polygamma_p.bind(x, n=1)))
_ad.defjvp(polygamma_p, lambda t, ans, x, *, n: _ew.mul_p.bind(t, polygamma_p.bind(x, n=n + 1)))
_ad.defjvp(erfc_p, _erfc_jvp)
for _p in (lgamma_p, digamma_p, polygamma_p, erfc_p):
    _vm.defvectorized(_p)
