"""Special functions as elementwise primitives: ``lgamma``, ``digamma``, ``polygamma`` (a
static order, or ``polygamma_array`` with orders as an operand), ``erfc``, the regularised
incomplete gamma functions ``igamma``/``igammac``, the regularised incomplete beta function
``betainc``, and their derivatives in the shape parameters, ``igamma_grad_a`` and
``betainc_grad``.

The impls are vectorised NumPy (no SciPy): the gamma family shifts its argument upwards with
the recurrence ``f(x) = f(x + 1) - (term)`` until an asymptotic (Stirling) series is accurate
to float64 rounding, and reflects negative arguments through ``x -> 1 - x``. Each derivative
is the next member of the family (``lgamma' = digamma``, ``digamma' = polygamma(1)``,
``polygamma(n)' = polygamma(n + 1)``), so every order of differentiation is available.

The incomplete functions take a power series or a continued fraction (Lentz's method) by
region, form their prefactors so that no large terms cancel (Stirling's formula for large
parameters, ``Gamma(1 + a)`` for small ones), and compute the complements directly where they
are small. Their derivatives in ``x`` are the integrands, built from primitives; those in the
shape parameters run the same series on truncated Taylor series (``_Taylor``), so every order
is available too. None of these is lowered to a kernel: under jit they run as library steps
through their impls.
"""
from __future__ import annotations

import functools
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


# ---------------------------------------------------------------- truncated Taylor series
#
# The incomplete gamma and beta functions and their derivatives in the shape parameters share
# one code path: the series and continued fractions run on truncated Taylor series in the
# parameters (forward-mode differentiation inside the iteration), so a derivative converges
# together with its value and needs no finite differences. With no variables the series is a
# plain array and the arithmetic is NumPy's.

_EPS = np.finfo(np.float64).eps / 2
_TINY = 1e-300  # Lentz's stand-in for a zero denominator


@functools.cache
def _product_table(dims):
    """Per multi-index ``i`` below ``dims`` (lexicographic order) the pairs ``(p, i - p)``."""
    return tuple((idx, tuple((p, tuple(i - j for i, j in zip(idx, p)))
                             for p in np.ndindex(*(i + 1 for i in idx))))
                 for idx in np.ndindex(*dims))


class _Taylor:
    """A Taylor series in ``len(dims)`` variables, truncated at degree ``dims[v] - 1`` in
    variable ``v``, at each point of a 1-D batch: ``c[i_1, ..., i_k, n]`` is the coefficient
    of ``d_1**i_1 ... d_k**i_k`` at point ``n``."""

    __slots__ = ("c", "dims")
    __array_ufunc__ = None  # ndarray (op) _Taylor defers to _Taylor's reflected operators

    def __init__(self, c, dims):
        self.c, self.dims = c, dims

    @staticmethod
    def constant(value, dims):
        c = np.zeros(dims + np.shape(value))
        c[(0,) * len(dims)] = value
        return _Taylor(c, dims)

    @staticmethod
    def variable(value, dims, which):
        t = _Taylor.constant(value, dims)
        if dims and dims[which] > 1:
            t.c[tuple(int(v == which) for v in range(len(dims)))] = 1.0
        return t

    @property
    def value(self):
        return self.c[(0,) * len(self.dims)]

    @property
    def degree(self):
        return sum(self.dims) - len(self.dims)

    def __getitem__(self, mask):
        return _Taylor(self.c[..., mask], self.dims)

    def _plus_constant(self, other):
        c = self.c.copy()
        c[(0,) * len(self.dims)] += other
        return _Taylor(c, self.dims)

    def __add__(self, other):
        if isinstance(other, _Taylor):
            return _Taylor(self.c + other.c, self.dims)
        return self._plus_constant(other)

    __radd__ = __add__

    def __neg__(self):
        return _Taylor(-self.c, self.dims)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self)._plus_constant(other)

    def __mul__(self, other):
        if not isinstance(other, _Taylor):
            return _Taylor(self.c * other, self.dims)
        if not self.dims:
            return _Taylor(self.c * other.c, ())
        out = np.empty(self.c.shape)
        for idx, pairs in _product_table(self.dims):
            out[idx] = sum(self.c[p] * other.c[q] for p, q in pairs)
        return _Taylor(out, self.dims)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if not isinstance(other, _Taylor):
            return _Taylor(self.c / other, self.dims)
        if not self.dims:
            return _Taylor(self.c / other.c, ())
        # Solve other * out = self coefficient by coefficient, lowest first.
        out = np.empty(self.c.shape)
        lead = other.value
        for idx, pairs in _product_table(self.dims):
            acc = self.c[idx]
            for p, q in pairs:
                if any(p):
                    acc = acc - other.c[p] * out[q]
            out[idx] = acc / lead
        return _Taylor(out, self.dims)

    def __rtruediv__(self, other):
        return _Taylor.constant(np.broadcast_to(other, self.value.shape), self.dims) / self

    def exp(self):
        if not self.dims:
            return _Taylor(np.exp(self.c), ())
        # d_v exp(L) = exp(L) d_v L, matched coefficient by coefficient.
        out = np.empty(self.c.shape)
        for idx, pairs in _product_table(self.dims):
            if not any(idx):
                out[idx] = np.exp(self.c[idx])
                continue
            v = next(k for k, i in enumerate(idx) if i)
            out[idx] = sum(p[v] * self.c[p] * out[q] for p, q in pairs if p[v]) / idx[v]
        return _Taylor(out, self.dims)

    def expm1(self):
        out = self.exp()
        out.c[(0,) * len(self.dims)] = np.expm1(self.value)
        return out

    def log(self):
        if not self.dims:
            return _Taylor(np.log(self.c), ())
        # d_v B = B d_v log(B), solved for the highest coefficient of log(B).
        out = np.empty(self.c.shape)
        lead = self.value
        for idx, pairs in _product_table(self.dims):
            if not any(idx):
                out[idx] = np.log(lead)
                continue
            v = next(k for k, i in enumerate(idx) if i)
            acc = idx[v] * self.c[idx]
            for p, q in pairs:
                if p[v] and p != idx:
                    acc = acc - p[v] * out[p] * self.c[q]
            out[idx] = acc / (idx[v] * lead)
        return _Taylor(out, self.dims)

    def log1p(self):
        out = (self + 1.0).log()
        out.c[(0,) * len(self.dims)] = np.log1p(self.value)
        return out

    def apply(self, derivatives):
        """``f(self)`` from ``derivatives[k]``, the k-th derivative of ``f`` at ``self.value``
        (``k = 0 .. self.degree``)."""
        out = _Taylor.constant(derivatives[0], self.dims)
        step = _Taylor(self.c.copy(), self.dims)
        step.c[(0,) * len(self.dims)] = 0.0
        power = step
        for k in range(1, self.degree + 1):
            out = out + power * (derivatives[k] / math.factorial(k))
            power = power * step
        return out

    def guarded(self):
        """Lentz's guard: a value that is exactly (or nearly) zero becomes tiny."""
        out = _Taylor(self.c.copy(), self.dims)
        v = out.value
        v[np.abs(v) < _TINY] = _TINY
        return out


def _absolute(t):
    return _Taylor(np.abs(t.c), t.dims)


def _all_points(condition):
    """Per point: whether ``condition`` (an array of Taylor coefficients) holds for all."""
    return np.all(condition.reshape(-1, condition.shape[-1]), axis=0)


def _sum_series(first, step, limit):
    """``first + sum_n term_n`` with ``term_n = step(n, term_{n-1})``, until every new term
    is below the rounding of the sum of the terms' magnitudes."""
    total, magnitude, term = first, np.abs(first.c), first
    for n in range(1, limit):
        term = step(n, term)
        total = total + term
        magnitude = magnitude + np.abs(term.c)
        if np.all(np.abs(term.c) <= _EPS * magnitude):
            break
    return total


def _lentz(b0, fraction_terms, limit):
    """``b0 + a1 / (b1 + a2 / (b2 + ...))`` by the modified Lentz method, with
    ``(a_n, b_n) = fraction_terms(n)``. A point stops once its step factor equals 1 to within
    that factor's own rounding, so that no rounding noise accumulates afterwards."""
    dims = b0.dims
    f = b0
    c, d = b0.guarded(), _Taylor.constant(np.zeros_like(b0.value), dims)
    active = np.ones(b0.value.shape, bool)
    for n in range(1, limit):
        an, bn = fraction_terms(n)
        d = 1.0 / (bn + an * d).guarded()
        c = (bn + an / c).guarded()
        delta = c * d
        f = _Taylor(np.where(active, (f * delta).c, f.c), dims)
        off = np.abs(delta.c)
        off[(0,) * len(dims)] = np.abs(delta.value - 1.0)
        active &= ~_all_points(off <= 8 * _EPS * (_absolute(c) * _absolute(d)).c)
        if not np.any(active):
            break
    return f


def _by_case(dims, cases, *args):
    """Assembles a Taylor series over the batch from ``cases``: ``(mask, fn)`` pairs with
    disjoint masks covering the batch, ``fn`` getting the masked ``args``."""
    size = next(np.shape(a.value if isinstance(a, _Taylor) else a)[0] for a in args
                if isinstance(a, _Taylor) or np.ndim(a))
    out = np.full(dims + (size,), np.nan)
    for mask, fn in cases:
        if np.any(mask):
            part = fn(*[a[mask] if isinstance(a, _Taylor) or np.ndim(a) else a for a in args])
            out[..., mask] = part.c
    return _Taylor(out, dims)


def _iteration_limit(shape_param):
    # Series and continued fractions near the transition point need O(sqrt(a)) steps.
    return int(200 + 30 * math.sqrt(float(np.max(shape_param, initial=1.0))))


# ---------------------------------------------------------------- gamma-function pieces


def _zeta(s):
    """Riemann's zeta(s), s >= 2, by Euler-Maclaurin summation from n = 10 on."""
    n = 10
    total = math.fsum(k ** -s for k in range(1, n)) + n ** (1 - s) / (s - 1) + 0.5 * n ** -s
    rising = s  # s (s + 1) ... (s + 2j - 2)
    for j, b in enumerate(_BERNOULLI, start=1):
        total += b / math.factorial(2 * j) * rising * n ** (-s - 2 * j + 1)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    return total


# log Gamma(1 + a) = -euler a + sum_k (-1)**k zeta(k) a**k / k, for |a| <= 1/2 (56 terms reach
# float64 rounding there).
_EULER = 0.57721566490153286
_LGAMMA1P_COEFS = [(-1) ** k * _zeta(k) / k for k in range(2, 58)]


@_in_float64
def _lgamma1p_small(a):
    """``log Gamma(1 + a)`` for ``|a| <= 1/2`` without the cancellation of ``lgamma(1 + a)``."""
    acc = np.zeros_like(a)
    for coef in reversed(_LGAMMA1P_COEFS):
        acc = acc * a + coef
    return a * (acc * a - _EULER)


def _lgamma_derivatives(z, degree):
    """The derivatives of ``log Gamma`` at ``z`` of orders 1 to ``degree``."""
    return ([_digamma(z)] if degree else []) + [_polygamma(z, n=k) for k in range(1, degree)]


def _lgamma_t(z):
    """``log Gamma(z)`` (``z > 0``) as a Taylor series."""
    return z.apply([_lgamma(z.value)] + _lgamma_derivatives(z.value, z.degree))


def _lgamma1p_t(a):
    """``log Gamma(1 + a)`` (``a > 0``) as a Taylor series, accurate near ``a = 0``."""
    def small(a):
        return a.apply([_lgamma1p_small(a.value)] + _lgamma_derivatives(1.0 + a.value, a.degree))

    near = a.value <= 0.5
    return _by_case(a.dims, [(near, small), (~near, lambda a: _lgamma_t(a + 1.0))], a)


def _stirling_t(z):
    """The remainder of Stirling's formula, ``log Gamma(z) - (z - 1/2) log z + z
    - log(2 pi) / 2``, for ``z >= 10`` (where 10 terms of its asymptotic series reach float64
    rounding), as a Taylor series."""
    inv = 1.0 / z
    inv2 = inv * inv
    acc = inv2 * 0.0
    for k in range(len(_BERNOULLI), 0, -1):
        acc = acc * inv2 + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
    return acc * inv


def _lgamma_difference_t(p, q):
    """``log Gamma(q + p) - log Gamma(q)`` (``p, q > 0``) as a Taylor series, accurate
    relative to its size when ``p`` is small: ``q`` is shifted to 10 or more with
    ``Gamma(q + 1) = q Gamma(q)`` (a sum of ``log1p(p / (q + j))``), then Stirling's formula
    takes the difference analytically."""
    shift = np.ceil(np.maximum(10.0 - q.value, 0.0))
    below = _Taylor.constant(np.zeros_like(shift), q.dims)
    for j in range(int(np.max(shift, initial=0.0))):
        below = below + (p / (q + float(j))).log1p() * (j < shift)
    q = q + shift
    return (p * (q + p).log() + (q - 0.5) * (p / q).log1p() - p + _stirling_t(q + p)
            - _stirling_t(q) - below)


def _log1pmx_t(t, ratio):
    """``log(1 + t) - t``; ``ratio`` is ``1 + t`` formed without cancellation (a quotient),
    used where ``|t| >= 1/2``."""
    def near(t, ratio):
        # With u = t / (2 + t): log(1 + t) = 2 atanh(u) = 2u + 2u (u**2/3 + u**4/5 + ...),
        # and 2u - t = -t**2 / (2 + t); |u| <= 1/3 here, so 20 terms reach rounding.
        u = t / (t + 2.0)
        u2 = u * u
        acc = u2 * 0.0
        for k in range(20, 0, -1):
            acc = (acc + 1.0 / (2 * k + 1)) * u2
        return 2.0 * u * acc - t * t / (t + 2.0)

    small = np.abs(t.value) < 0.5
    return _by_case(t.dims, [(small, near), (~small, lambda t, ratio: ratio.log() - t)],
                    t, ratio)


# ---------------------------------------------------------------- incomplete gamma


def _gamma_prefactor(a, x):
    """``x**a exp(-x) / Gamma(a + 1)`` as a Taylor series in ``a`` (``x`` a plain array).

    It is smooth at ``a = 0``; dividing ``x**a exp(-x) / Gamma(a)`` by ``a`` instead would
    cancel large Taylor coefficients there (those of ``log Gamma(a) ~ -log a``)."""
    def stirling(a, x):
        # With Stirling's formula for Gamma(a), and 1 + t = x / a, the logarithm of
        # x**a exp(-x) / Gamma(a) is a (log(1 + t) - t) + log(a / (2 pi)) / 2 - stirling(a):
        # no large terms cancel.
        log_lead = (a * _log1pmx_t((x - a) / a, x / a) + 0.5 * (a * (1 / (2 * math.pi))).log()
                    - _stirling_t(a))
        return log_lead.exp() / a

    def direct(a, x):
        return (a * np.log(x) - x - _lgamma1p_t(a)).exp()

    big = a.value >= 10
    return _by_case(a.dims, [(big, stirling), (~big, direct)], a, x)


def _igamma_series(a, x):
    """``P(a, x) = x**a e**-x / Gamma(a + 1) * sum_n x**n / ((a + 1) ... (a + n))``; its
    terms are positive, and it is used for ``x < a + 1``, where they decrease."""
    total = _sum_series(_Taylor.constant(np.ones_like(x), a.dims),
                        lambda n, term: term * x / (a + float(n)), _iteration_limit(a.value))
    return _gamma_prefactor(a, x) * total


def _igammac_continued_fraction(a, x):
    """``Q(a, x) = x**a e**-x / Gamma(a) / f`` with the continued fraction
    ``f = (x + 1 - a) - 1 (1 - a) / ((x + 3 - a) - 2 (2 - a) / ((x + 5 - a) - ...))``,
    evaluated by Lentz's method; used for ``x >= a + 1``, where it converges quickly."""
    f = _lentz((x + 1.0) - a, lambda n: ((a - float(n)) * float(n), (x + (2.0 * n + 1.0)) - a),
               _iteration_limit(a.value))
    return a * _gamma_prefactor(a, x) / f


def _igammac_small_a(a, x):
    """``Q(a, x)`` for ``a < 1/2``, ``x < a + 1`` without the cancellation of ``1 - P``:
    ``P = x**a / Gamma(1 + a) (1 + a T)`` with ``T = sum_{n>=1} (-x)**n / (n! (a + n))``, so
    ``Q = -expm1(L) - exp(L) a T`` with ``L = a log x - log Gamma(1 + a)``."""
    log_lead = a * np.log(x) - _lgamma1p_t(a)
    total = _sum_series(-x / (a + 1.0), lambda n, term: term * ((a + float(n)) / (a + (n + 1.0)))
                        * (-x / (n + 1)), 200)
    return -log_lead.expm1() - log_lead.exp() * a * total


def _igamma_taylor(a, x, order, upper):
    """Taylor coefficients in ``a`` (to ``order``) of ``P(a, x)``, or of ``Q = 1 - P`` when
    ``upper``, at points with ``0 < a, x < inf`` (1-D float64 arrays)."""
    dims = (order + 1,) if order else ()
    series = x < a + 1
    small = series & (a < 0.5) & upper

    def lower(a, x):
        p = _igamma_series(a, x)
        return 1.0 - p if upper else p

    def upper_cf(a, x):
        q = _igammac_continued_fraction(a, x)
        return q if upper else 1.0 - q

    return _by_case(dims, [(series & ~small, lower), (~series, upper_cf),
                           (small, _igammac_small_a)], _Taylor.variable(a, dims, 0), x)


def _incomplete_gamma(a, x, *, order=0, upper=False):
    """``P(a, x)`` (``Q`` when ``upper``), or for ``order >= 1`` the order-th derivative of
    ``P`` in ``a``, elementwise, in float64 whatever the dtype."""
    dtype, shape = a.dtype, a.shape
    a, x = np.asarray(a, np.float64).ravel(), np.asarray(x, np.float64).ravel()
    with np.errstate(all="ignore"):
        regular = (a > 0) & (x > 0) & (a < np.inf) & (x < np.inf)
        # Limits: P = 1 for a == 0 (x > 0) and for x == inf; P = 0 for x == 0 and a == inf.
        # The rest (negative, NaN, 0/0, inf/inf) is NaN.
        at_zero = ((x == 0) & (a > 0)) | ((a == np.inf) & (x >= 0) & (x < np.inf))
        at_one = ((a == 0) & (x > 0)) | ((x == np.inf) & (a >= 0) & (a < np.inf))
        out = np.full(a.shape, np.nan)
        if order == 0:
            out[at_zero] = 1.0 if upper else 0.0
            out[at_one] = 0.0 if upper else 1.0
        else:
            out[at_zero | (at_one & (a > 0))] = 0.0  # constant there; at a == 0 one-sided
        if np.any(regular):
            t = _igamma_taylor(a[regular], x[regular], order, upper)
            out[regular] = t.c[order] * math.factorial(order) if order else t.c
    return out.reshape(shape).astype(dtype)


# ---------------------------------------------------------------- incomplete beta


def _logs_of_pair(x, y):
    """``(log x, log y)`` for ``x + y == 1``, where the smaller of the two is exact (it is the
    argument given, or its complement formed without rounding): each log comes from it."""
    small = x <= y
    with np.errstate(divide="ignore"):
        return (np.where(small, np.log(x), np.log1p(-y)),
                np.where(small, np.log1p(-x), np.log(y)))


def _beta_prefactor(a, b, x, y):
    """``x**a y**b / (a B(a, b))`` with ``y = 1 - x``, as a Taylor series in ``a`` and
    ``b``, for ``x`` below the mean (where the continued fraction is used).

    ``1 / (a B(a, b)) = b Gamma(a + b) / (Gamma(a + 1) Gamma(b + 1))`` keeps it smooth as
    ``a`` or ``b`` goes to 0, and Stirling's formula cancels the large terms of
    ``log Gamma`` analytically where an argument is 10 or more."""
    def both_large(a, b, x, y, log_x, log_y):
        # log(x0**a y0**b / B(a, b)) with x0 = a / (a + b), y0 = b / (a + b), plus
        # a log(x / x0) + b log(y / y0), whose parts linear in x - x0 cancel exactly.
        s = a + b
        x0, y0 = a / s, b / s
        delta = _Taylor(np.where(x <= y, (x - x0).c, (y0 - y).c), a.dims)
        log_lead = (a * _log1pmx_t(delta / x0, x / x0) + b * _log1pmx_t(-delta / y0, y / y0)
                    + 0.5 * (a * b / (s * (2 * math.pi))).log() - _stirling_t(a)
                    - _stirling_t(b) + _stirling_t(s))
        return log_lead.exp() / a

    def a_small(a, b, x, y, log_x, log_y):
        return (a * log_x + b * log_y + _lgamma_difference_t(a, b) - _lgamma1p_t(a)).exp()

    def b_small(a, b, x, y, log_x, log_y):
        return b * (a * log_x + b * log_y + _lgamma_difference_t(b, a) - a.log()
                    - _lgamma1p_t(b)).exp()

    def both_small(a, b, x, y, log_x, log_y):
        return b * (a * log_x + b * log_y + _lgamma_t(a + b) - _lgamma1p_t(a)
                    - _lgamma1p_t(b)).exp()

    a_big, b_big = a.value >= 10, b.value >= 10
    return _by_case(a.dims, [(a_big & b_big, both_large), (~a_big & b_big, a_small),
                             (a_big & ~b_big, b_small), (~a_big & ~b_big, both_small)],
                    a, b, x, y, *_logs_of_pair(x, y))


def _betainc_continued_fraction(a, b, x, y):
    """``I_x(a, b) = x**a y**b / (a B(a, b)) / f`` (``y = 1 - x``) with the continued fraction
    ``f = 1 + d1 / (1 + d2 / (1 + ...))``, ``d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)
    (a + 2m + 1))``, ``d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))``, by Lentz's method;
    used for ``x < (a + 1) / (a + b + 2)``, where it converges quickly."""
    def fraction_terms(n):
        m = float(n // 2)
        if n % 2:
            return -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + (2 * m + 1))), 1.0
        return (b - m) * (m * x) / ((a + (2 * m - 1)) * (a + 2 * m)), 1.0

    f = _lentz(_Taylor.constant(np.ones_like(x), a.dims), fraction_terms,
               2 * _iteration_limit(np.maximum(a.value, b.value)))
    return _beta_prefactor(a, b, x, y) / f


def _betainc_complement_small(p, q, y, x):
    """``1 - I_y(p, q)`` (``x = 1 - y``) for ``p < 1/2`` and ``y`` below the mean, without
    the cancellation of ``1 - I`` (``I`` is near 1 there): ``I = K (1 + p T)`` with
    ``K = y**p / (p B(p, q))`` and ``T = sum_{n>=1} (1 - q)_n y**n / (n! (p + n))``, so
    ``1 - I = -expm1(log K) - K p T``."""
    log_k = p * _logs_of_pair(y, x)[0] + _lgamma_difference_t(p, q) - _lgamma1p_t(p)
    total = _sum_series((1.0 - q) * y / (p + 1.0),
                        lambda n, term: term * ((p + float(n)) / (p + (n + 1.0)))
                        * ((n + 1.0) - q) * (y / (n + 1)), _iteration_limit(q.value))
    return -log_k.expm1() - log_k.exp() * p * total


def _betainc_taylor(a, b, x, dims):
    """Taylor coefficients in ``(a, b)`` of ``I_x(a, b)`` at points with ``0 < a, b < inf``
    and ``0 < x < 1``; beyond the mean the symmetry ``I_x(a, b) = 1 - I_{1-x}(b, a)`` keeps
    the continued fraction in its fast region."""
    swap = x > (a + 1) / (a + b + 2)
    small_b = b < 0.5
    return _by_case(dims, [
        (~swap, lambda a, b, x: _betainc_continued_fraction(a, b, x, 1.0 - x)),
        (swap & ~small_b,
         lambda a, b, x: 1.0 - _betainc_continued_fraction(b, a, 1.0 - x, x)),
        (swap & small_b, lambda a, b, x: _betainc_complement_small(b, a, 1.0 - x, x)),
    ], _Taylor.variable(a, dims, 0), _Taylor.variable(b, dims, 1 if dims else 0), x)


def _incomplete_beta(a, b, x, *, da=0, db=0):
    """``I_x(a, b)``, or its ``(da, db)``-th partial derivative in ``(a, b)``, elementwise, in
    float64 whatever the dtype."""
    dtype, shape = x.dtype, x.shape
    a, b, x = (np.asarray(v, np.float64).ravel() for v in (a, b, x))
    with np.errstate(all="ignore"):
        valid = (a >= 0) & (b >= 0) & (x >= 0) & (x <= 1) & ~((a == 0) & (b == 0))
        valid &= ~((a == np.inf) & (b == np.inf))
        regular = valid & (a > 0) & (b > 0) & (a < np.inf) & (b < np.inf) & (x > 0) & (x < 1)
        # Limits: I = 0 at x == 0, for b == 0 and for a == inf; I = 1 at x == 1, for a == 0
        # and for b == inf (the mass sits at one end).
        at_zero = valid & ((x == 0) | (((b == 0) | (a == np.inf)) & (x < 1)))
        at_one = valid & ~at_zero & ((x == 1) | (a == 0) | (b == np.inf))
        out = np.full(x.shape, np.nan)
        if da == db == 0:
            out[at_zero], out[at_one] = 0.0, 1.0
        else:
            # Constant in (a, b) nearby, except at a == 0 or b == 0 (one-sided).
            out[(at_zero | at_one) & (a > 0) & (b > 0)] = 0.0
        if np.any(regular):
            dims = (da + 1, db + 1) if da or db else ()
            t = _betainc_taylor(a[regular], b[regular], x[regular], dims)
            scale = math.factorial(da) * math.factorial(db)
            out[regular] = t.c[da, db] * scale if dims else t.c
    return out.reshape(shape).astype(dtype)


# ---------------------------------------------------------------- polygamma, orders as an array


def _polygamma_array(n, x):
    # Each distinct order is one call of the static-order impl; NaN for orders that are not
    # non-negative integers.
    n64, x64 = np.asarray(n, np.float64), np.asarray(x, np.float64)
    out = np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore"):
        ok = (n64 >= 0) & (n64 == np.floor(n64)) & (n64 < 1000)
    for order in np.unique(n64[ok]):
        sel = ok & (n64 == order)
        out[sel] = _digamma(x64[sel]) if order == 0 else _polygamma(x64[sel], n=int(order))
    return out.astype(x.dtype)


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


def _igamma(a, x):
    return _incomplete_gamma(a, x)


def _igammac(a, x):
    return _incomplete_gamma(a, x, upper=True)


def _igamma_grad_a(a, x, *, order):
    return _incomplete_gamma(a, x, order=order)


def _betainc(a, b, x):
    return _incomplete_beta(a, b, x)


def _betainc_grad(a, b, x, *, da, db):
    return _incomplete_beta(a, b, x, da=da, db=db)


def _with_derivative_orders(prim, names, least):
    """Wraps ``prim``'s abstract eval with a check of its derivative-order params: Python
    ints >= 0 adding up to at least ``least``."""
    check_operands = prim.abstract_eval

    def abstract_eval(*avals, **params):
        orders = [params[k] for k in names]
        if (any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in orders)
                or sum(orders) < least):
            got = ", ".join(f"{k}={params[k]!r}" for k in names)
            raise errors.InvalidArgumentError(errors.message(
                prim.name, f"derivative orders must be Python ints >= 0 adding up to at least "
                f"{least}, got {got}.", f"pass {' and '.join(names)} as Python ints.",
                errors.InvalidArgumentError))
        return check_operands(*avals)
    prim.abstract_eval = abstract_eval
    return prim


igamma_p = standard_elementwise("igamma", _igamma, nargs=2, allowed=FLOATS)
igammac_p = standard_elementwise("igammac", _igammac, nargs=2, allowed=FLOATS)
igamma_grad_a_p = _with_derivative_orders(
    standard_elementwise("igamma_grad_a", _igamma_grad_a, nargs=2, allowed=FLOATS),
    ("order",), 1)
betainc_p = standard_elementwise("betainc", _betainc, nargs=3, allowed=FLOATS)
betainc_grad_p = _with_derivative_orders(
    standard_elementwise("betainc_grad", _betainc_grad, nargs=3, allowed=FLOATS),
    ("da", "db"), 1)
polygamma_array_p = standard_elementwise("polygamma_array", _polygamma_array, nargs=2,
                                         allowed=FLOATS)


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


def igamma(a, x):
    """The regularised lower incomplete gamma function ``P(a, x)``, elementwise (equal
    shapes and float dtypes)."""
    return igamma_p.bind(a, x)


def igammac(a, x):
    """The regularised upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``, accurate
    where it is small."""
    return igammac_p.bind(a, x)


def igamma_grad_a(a, x, order: int = 1):
    """The ``order``-th derivative of ``P(a, x)`` in ``a``."""
    return igamma_grad_a_p.bind(a, x, order=order)


def betainc(a, b, x):
    """The regularised incomplete beta function ``I_x(a, b)``, elementwise."""
    return betainc_p.bind(a, b, x)


def betainc_grad(a, b, x, da: int = 1, db: int = 0):
    """The partial derivative of ``I_x(a, b)`` of order ``da`` in ``a`` and ``db`` in ``b``."""
    return betainc_grad_p.bind(a, b, x, da=da, db=db)


def polygamma_array(n, x):
    """``polygamma`` with the orders as an array operand (float, like ``x``; NaN where an
    order is not a non-negative integer)."""
    return polygamma_array_p.bind(n, x)


__all__ = ["lgamma", "digamma", "polygamma", "erfc", "igamma", "igammac", "igamma_grad_a",
           "betainc", "betainc_grad", "polygamma_array"]


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


# Derivatives of the incomplete gamma and beta functions. In x they are the integrands,
# built from primitives (so they differentiate further); in the shape parameters they are the
# *_grad primitives of the next order, computed by the Taylor-series impls above.

_mul = _ew._mul


def _add(a, b):
    return _ew.add_p.bind(a, b)


def _sub(a, b):
    return _ew.sub_p.bind(a, b)


def _times_log(c, x, log_fn, singular_at):
    """``c * log_fn(x)``, taken as 0 where ``c == 0`` and ``x`` is at the log's singularity
    (the integrands' ``0**0 == 1``)."""
    both = _ew.and_p.bind(_ew.eq_p.bind(c, _ew._const(c, 0.0)),
                          _ew.eq_p.bind(x, _ew._const(x, singular_at)))
    safe = _ew.select_n_p.bind(both, x, _ew._const(x, 0.5))
    return _mul(c, log_fn(safe))


def _digamma_family(x, k):
    """The k-th derivative of digamma (k >= 0)."""
    return digamma_p.bind(x) if k == 0 else polygamma_p.bind(x, n=k)


def _exp_partial(idx, h, memo):
    """``d^idx exp(H)`` (a multi-index over the shape parameters) from ``memo[(0, ...)] =
    exp(H)`` and ``h(m) = d^m H``, by Leibniz's rule on ``d_v exp(H) = exp(H) d_v H``."""
    if idx not in memo:
        v = next(k for k, i in enumerate(idx) if i)
        base = idx[:v] + (idx[v] - 1,) + idx[v + 1:]
        total = None
        for p in np.ndindex(*(i + 1 for i in base)):
            coef = math.prod(math.comb(i, j) for i, j in zip(base, p))
            term = _mul(h(p[:v] + (p[v] + 1,) + p[v + 1:]),
                        _exp_partial(tuple(i - j for i, j in zip(base, p)), h, memo))
            if coef != 1:
                term = _mul(_ew._const(term, float(coef)), term)
            total = term if total is None else _add(total, term)
        memo[idx] = total
    return memo[idx]


def _igamma_dx(a, x, order=0):
    """``d^order/da^order`` of ``dP/dx = x**(a-1) exp(-x) / Gamma(a)``."""
    log_density = _sub(_sub(_times_log(_sub(a, _ew._const(a, 1.0)), x, _ew.log_p.bind, 0.0), x),
                       lgamma_p.bind(a))

    def h(m):  # d^m/da^m of the log-density, m >= 1
        (k,) = m
        if k == 1:
            return _sub(_ew.log_p.bind(x), digamma_p.bind(a))
        return _ew.neg_p.bind(_digamma_family(a, k - 1))

    return _exp_partial((order,), h, {(0,): _ew.exp_p.bind(log_density)})


def _betainc_dx(a, b, x, da=0, db=0):
    """``d^da/da^da d^db/db^db`` of ``dI/dx = x**(a-1) (1-x)**(b-1) / B(a, b)``."""
    one = _ew._const(a, 1.0)
    ab = _add(a, b)
    log_density = _add(_times_log(_sub(a, one), x, _ew.log_p.bind, 0.0),
                       _times_log(_sub(b, one), _ew.neg_p.bind(x), _ew.log1p_p.bind, -1.0))
    log_density = _add(log_density, _sub(lgamma_p.bind(ab),
                                         _add(lgamma_p.bind(a), lgamma_p.bind(b))))

    def h(m):  # partial derivatives of the log-density, |m| >= 1
        i, j = m
        if (i, j) == (1, 0):
            return _sub(_ew.log_p.bind(x), _sub(digamma_p.bind(a), digamma_p.bind(ab)))
        if (i, j) == (0, 1):
            return _sub(_ew.log1p_p.bind(_ew.neg_p.bind(x)),
                        _sub(digamma_p.bind(b), digamma_p.bind(ab)))
        out = _digamma_family(ab, i + j - 1)
        if j == 0:
            out = _sub(out, _digamma_family(a, i - 1))
        if i == 0:
            out = _sub(out, _digamma_family(b, j - 1))
        return out

    return _exp_partial((da, db), h, {(0, 0): _ew.exp_p.bind(log_density)})


def _polygamma_array_jvp_n(t, ans, n, x):
    raise errors.InvalidArgumentError(errors.message(
        "polygamma", "the order n is an integer: polygamma is not differentiable in it.",
        "differentiate with respect to x only (pass n as an integer array, or wrap it in "
        "stop_gradient).", errors.InvalidArgumentError))


_ad.defjvp(igamma_p, lambda t, ans, a, x: _mul(t, igamma_grad_a_p.bind(a, x, order=1)),
           lambda t, ans, a, x: _mul(t, _igamma_dx(a, x)))
_ad.defjvp(igammac_p,
           lambda t, ans, a, x: _ew.neg_p.bind(_mul(t, igamma_grad_a_p.bind(a, x, order=1))),
           lambda t, ans, a, x: _ew.neg_p.bind(_mul(t, _igamma_dx(a, x))))
_ad.defjvp(igamma_grad_a_p,
           lambda t, ans, a, x, *, order: _mul(t, igamma_grad_a_p.bind(a, x, order=order + 1)),
           lambda t, ans, a, x, *, order: _mul(t, _igamma_dx(a, x, order)))
_ad.defjvp(betainc_p,
           lambda t, ans, a, b, x: _mul(t, betainc_grad_p.bind(a, b, x, da=1, db=0)),
           lambda t, ans, a, b, x: _mul(t, betainc_grad_p.bind(a, b, x, da=0, db=1)),
           lambda t, ans, a, b, x: _mul(t, _betainc_dx(a, b, x)))
_ad.defjvp(betainc_grad_p,
           lambda t, ans, a, b, x, *, da, db: _mul(t, betainc_grad_p.bind(a, b, x, da=da + 1,
                                                                         db=db)),
           lambda t, ans, a, b, x, *, da, db: _mul(t, betainc_grad_p.bind(a, b, x, da=da,
                                                                         db=db + 1)),
           lambda t, ans, a, b, x, *, da, db: _mul(t, _betainc_dx(a, b, x, da, db)))
_ad.defjvp(polygamma_array_p, _polygamma_array_jvp_n,
           lambda t, ans, n, x: _mul(t, polygamma_array_p.bind(_add(n, _ew._const(n, 1.0)), x)))
for _p in (igamma_p, igammac_p, igamma_grad_a_p, betainc_p, betainc_grad_p, polygamma_array_p):
    _vm.defbroadcasting(_p)
