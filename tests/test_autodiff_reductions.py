"""Derivatives and batching of the reductions, cumulative ops and sorting.

Every spec of ``test_reductions`` is differentiated (order 2, fwd and rev, float64 finite
differences) away from its kinks, or checked to have exactly zero derivatives when its result
is integer/boolean or piecewise constant; every spec is batched with vmap on every dtype; unit
tests pin the tie conventions, products with zeros, cumlogsumexp's stability and the
transposes of reduce_sum and cumsum.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.testing import check_grads
from tests.harness import (
    F32,
    F64,
    I32,
    Spec,
    _values,
    check_spec_grads,
    check_spec_vmap,
    check_vmap,
    scaled,
    shapes,
)
from tests.test_reductions import SPECS, R, _axis_strategy, reduction_case

DELTA = 0.01  # distance kept from ties (finite-difference steps are 1e-6)
NONDIFF = {"argmax", "argmin", "all", "any", "count_nonzero", "argsort", "lax.reduce_and",
           "lax.reduce_or"}
# The derivative jumps where two elements tie (which one is the max, the order of a sort).
KINKED = {"max", "min", "amax", "amin", "ptp", "nanmax", "nanmin", "median", "quantile",
          "percentile", "sort", "lax.reduce_max", "lax.reduce_min", "lax.cummax", "lax.cummin"}
PRODUCTS = {"prod", "nanprod", "cumprod", "lax.reduce_prod", "lax.cumprod"}  # zeros injected
NAN_AWARE = {"nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd"}
SMALL_SHAPES = [(), (1,), (4,), (2, 3), (3, 1), (0, 2), (2, 1, 3)]


def _small_shapes(min_dims):
    return st.sampled_from([s for s in SMALL_SHAPES if len(s) >= min_dims])


def _far_from_ties(x) -> bool:
    v = np.sort(np.asarray(x, F64)[~np.isnan(x)].ravel())
    return v.size < 2 or bool(np.min(np.diff(v)) > DELTA)


def _numpy_reference(r: R, args, kwargs):
    """NumPy's result, or None where NumPy raises (e.g. max of an empty axis)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return r.spec.np_fn(*[a.astype(F64) if a.dtype.kind == "f" else a for a in args],
                                **kwargs)
        except (ValueError, IndexError, ZeroDivisionError):
            return None


def _smooth_here(r: R, args, kwargs) -> bool:
    """The spec is differentiable at ``args``: a finite result, no near-ties where ties are
    kinks, and std away from a zero variance (sqrt's derivative is infinite there)."""
    ref = _numpy_reference(r, args, kwargs)
    if ref is None or not all(np.all(np.isfinite(o)) for o in
                              (ref if isinstance(ref, tuple) else (ref,))):
        return False
    if r.spec.name in KINKED and not _far_from_ties(args[0]):
        return False
    if r.spec.name in ("std", "nanstd"):
        var = np.nanvar if r.spec.name == "nanstd" else np.var
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = var(args[0], axis=kwargs.get("axis"), ddof=kwargs.get("ddof", 0))
        return bool(np.all(v > DELTA))
    return True


def _float_only(r: R, nan: bool) -> R:
    floats = tuple(d for d in r.spec.dtypes if np.dtype(d).kind == "f")
    return dataclasses.replace(r, spec=dataclasses.replace(r.spec, dtypes=floats),
                               ties=False, nan=nan)


def _zero_tangent(primal, t, what):
    primal, t = np.asarray(primal), np.asarray(t)
    assert t.shape == primal.shape, f"{what}: shape {t.shape} vs {primal.shape}"
    if primal.dtype.kind == "f":
        assert t.dtype == primal.dtype and np.all(t == 0), f"{what}: {t}"
    else:
        assert t.dtype == fg.dtypes.float0, f"{what}: integer result with tangent {t.dtype}"


def check_zero_derivatives(fn, args, seed=0):
    """jvp and vjp of ``fn`` are exactly zero (float0 for integer and boolean values)."""
    rng = np.random.default_rng(seed)

    def rand(x):
        x = np.asarray(x)
        return rng.standard_normal(x.shape).astype(x.dtype) if x.dtype.kind == "f" \
            else np.zeros(x.shape, fg.dtypes.float0)
    out, t_out = fg.jvp(fn, args, [rand(a) for a in args])
    for k, (o, t) in enumerate(zip(fg.tree_util.tree_leaves(out),
                                   fg.tree_util.tree_leaves(t_out))):
        _zero_tangent(o, t, f"jvp output {k}")
    out, f_vjp = fg.vjp(fn, *args)
    for k, (a, c) in enumerate(zip(args, f_vjp(fg.tree_util.tree_map(rand, out)))):
        _zero_tangent(a, c, f"vjp argument {k}")


GRAD_SPECS = [r for r in SPECS if r.spec.name not in NONDIFF]
ZERO_SPECS = [r for r in SPECS if r.spec.name in NONDIFF
              and any(np.dtype(d).kind == "f" for d in r.spec.dtypes)]


@pytest.mark.parametrize("r", GRAD_SPECS, ids=repr)
@settings(max_examples=scaled(5))
@given(data=st.data())
def test_spec_grads(r, data):
    r = _float_only(r, nan=r.spec.name in NAN_AWARE)
    (x,), kwargs = data.draw(reduction_case(r, _small_shapes(r.min_dims)))
    if r.spec.name in PRODUCTS and x.size and data.draw(st.booleans()):
        # Exact zeros (one or several): the derivative must not divide by the product.
        x = np.where(np.random.default_rng(data.draw(st.integers(0, 99))).random(x.shape) < 0.4,
                     0, x).astype(x.dtype)
    assume(_smooth_here(r, [x], kwargs))
    check_spec_grads(r.spec, [x], kwargs)


@pytest.mark.parametrize("r", ZERO_SPECS, ids=repr)
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_spec_zero_derivatives(r, data):
    # Ties and NaNs included: the derivative is 0 there too.
    r = dataclasses.replace(_float_only(r, nan=r.nan), ties=r.ties)
    (x,), kwargs = data.draw(reduction_case(r, _small_shapes(r.min_dims)))
    assume(_numpy_reference(r, [x], kwargs) is not None)
    check_zero_derivatives(lambda a: r.spec.fg_fn(a, **kwargs), [x])


@pytest.mark.parametrize("r", SPECS, ids=repr)
@settings(max_examples=scaled(6))
@given(data=st.data())
def test_spec_vmap(r, data):
    (x,), kwargs = data.draw(reduction_case(r))
    assume(_numpy_reference(r, [x], kwargs) is not None)
    spec = r.spec
    if x.dtype in r.tol:  # a batched sum may add in another order: the spec's tolerances
        spec = dataclasses.replace(spec, rtol=r.tol[x.dtype][0], atol=r.tol[x.dtype][1])
    check_spec_vmap(spec, [x], kwargs, data)


# ---------------------------------------------------------------- the other spec-driven tests

@pytest.mark.parametrize("name", ["argmax", "argmin"])
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_lax_arg_reductions_zero_derivatives_and_vmap(name, data):
    shape = data.draw(shapes(min_dims=1, min_side=1, max_side=4))
    x = _values(shape, F64, "real", data.draw(st.integers(0, 2**31)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    fn = getattr(lax, name)
    check_zero_derivatives(lambda a: fn(a, axis, np.int32), [x])
    spec = Spec(f"lax.{name}", lambda a: fn(a, axis, np.int32), None)
    check_spec_vmap(spec, [x], {}, data)


def _sort_operands(data, shape):
    k1 = _values(shape, I32, "real", data.draw(st.integers(0, 2**31)))
    k2 = _values(shape, F64, "real", data.draw(st.integers(0, 2**31)))
    payload = _values(shape, F64, "real", data.draw(st.integers(0, 2**31)))
    return k1, k2, payload


@settings(max_examples=scaled(5))
@given(data=st.data())
def test_lax_sort_multi_operand_grads_and_vmap(data):
    shape = data.draw(st.sampled_from([(4,), (2, 3), (3, 1), (1, 2, 3)]))
    k1, k2, payload = _sort_operands(data, shape)
    num_keys = data.draw(st.integers(1, 2))
    dimension = data.draw(st.integers(-len(shape), len(shape) - 1))
    kw = {"dimension": dimension, "num_keys": num_keys}
    spec = Spec("lax.sort", lambda a, b, c, **k: lax.sort([a, b, c], **k), None)
    # Integer first key: ties between its values are broken by k2 or by position, both
    # constant near the point, so the derivative follows the permutation without kinks.
    # (The integer output is left out: finite differences have no float0.)
    float_outs = Spec("lax.sort", lambda a, b, c, **k: lax.sort([a, b, c], **k)[1:], None)
    check_spec_grads(float_outs, [k1, k2, payload], kw, argnums=(1, 2))
    check_spec_vmap(spec, [k1, k2.astype(F32), payload], kw, data)


@pytest.mark.parametrize("arg", [False, True])
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_sort_descending_grads_and_vmap(arg, data):
    shape = data.draw(st.sampled_from([(4,), (2, 3), (3, 1)]))
    x = _values(shape, F64, "real", data.draw(st.integers(0, 2**31)))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    fn = fnp.argsort if arg else fnp.sort
    spec = Spec("sort-desc", lambda a: fn(a, axis=axis, descending=True), None)
    if arg:
        check_zero_derivatives(spec.fg_fn, [x])
    elif _far_from_ties(x):
        check_spec_grads(spec, [x], {})
    check_spec_vmap(spec, [x], {}, data)


@settings(max_examples=scaled(4))
@given(data=st.data())
def test_lexsort_zero_derivatives_and_vmap(data):
    shape = data.draw(shapes(min_dims=1, max_dims=2, max_side=5))
    keys = [(_values(shape, F64, "real", data.draw(st.integers(0, 2**31))) // 2)
            for _ in range(data.draw(st.integers(1, 3)))]
    spec = Spec("lexsort", lambda *ks: fnp.lexsort(ks, axis=-1), None)
    check_zero_derivatives(spec.fg_fn, keys)
    check_spec_vmap(spec, keys, {}, data)


@pytest.mark.parametrize("side", ["left", "right"])
@settings(max_examples=scaled(4))
@given(data=st.data())
def test_searchsorted_zero_derivatives_and_vmap(side, data):
    n = data.draw(st.integers(0, 6))
    a = np.sort(np.round(_values((n,), F64, "real", data.draw(st.integers(0, 2**31)))) / 2)
    v = np.round(_values(data.draw(shapes(max_dims=2, max_side=4)), F64, "real",
                         data.draw(st.integers(0, 2**31)))) / 2
    spec = Spec("searchsorted", lambda a, v: fnp.searchsorted(a, v, side), None)
    check_zero_derivatives(spec.fg_fn, [a, v])
    # A batch of examples permutes a's elements, so a is left unbatched (sorted) here.
    check_vmap(spec.fg_fn, [a, v], [None, data.draw(st.integers(-v.ndim - 1, v.ndim))],
               data.draw(st.sampled_from([0, 1, 3])), name="searchsorted")


# ---------------------------------------------------------------- conventions and edge cases

def _grad(f, x):
    return np.asarray(fg.grad(f)(np.asarray(x, F64)))


def test_reduce_max_min_split_ties_equally():
    x = np.array([1.0, 3.0, -2.0, 3.0, 3.0])
    for f in (fnp.max, lambda a: lax.reduce_max(a, (0,))):
        np.testing.assert_allclose(_grad(f, x), [0, 1 / 3, 0, 1 / 3, 1 / 3], rtol=1e-15)
    np.testing.assert_allclose(_grad(fnp.min, -x), [0, 1 / 3, 0, 1 / 3, 1 / 3], rtol=1e-15)
    np.testing.assert_array_equal(_grad(fnp.ptp, np.array([2.0, 2.0, 0.0])), [0.5, 0.5, -1])
    y = np.array([[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_array_equal(_grad(lambda a: fnp.sum(fnp.max(a, axis=1)), y),
                                  [[0.5, 0.5], [0, 1]])
    # forward mode agrees; a NaN result takes its tangent from the NaN
    _, t = fg.jvp(fnp.max, (x,), (np.arange(5.0),))
    assert float(t) == pytest.approx((1 + 3 + 4) / 3, rel=1e-15)
    np.testing.assert_array_equal(_grad(fnp.max, np.array([1.0, np.nan, 3.0])), [0, 1, 0])
    np.testing.assert_array_equal(_grad(lambda a: fnp.max(a, initial=5.0), np.zeros(0)), [])


def test_cummax_cummin_follow_the_running_extremum():
    x = np.array([1.0, 3.0, 2.0, 3.0, 5.0, 5.0])
    w = np.arange(1.0, 7.0)
    # y = [1, 3, 3, 3, 5, 5]: positions 1, 4 hold the running max (later ties do not move it)
    np.testing.assert_array_equal(_grad(lambda a: fnp.sum(lax.cummax(a) * w), x),
                                  [1, 2 + 3 + 4, 0, 0, 5 + 6, 0])
    # from the end: y = [5, 5, 5, 5, 5, 5], all following position 5
    np.testing.assert_array_equal(_grad(lambda a: fnp.sum(lax.cummax(a, reverse=True) * w), x),
                                  [0, 0, 0, 0, 0, 21])
    np.testing.assert_array_equal(_grad(lambda a: fnp.sum(lax.cummin(-a) * w), x),
                                  [-1, -9, 0, 0, -11, 0])
    # a NaN becomes the running max for good
    z = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(_grad(lambda a: fnp.sum(lax.cummax(a) * w[:3]), z), [1, 5, 0])
    check_grads(lambda a: lax.cummax(a, axis=1), (np.array([[0.3, -1.0, 2.0], [4., 1., 0.]]),))


def test_products_with_zeros_to_order_2():
    # d prod / dx_i = prod_{j != i} x_j, also where x_i or another x_j is 0 (no division).
    for x in ([2.0, 0.0, 3.0, -1.5], [0.0, 0.0, 3.0, 0.5], [0.0], [0.0, 0.0, 0.0]):
        x = np.array(x)
        want = [np.prod(np.delete(x, i)) for i in range(x.size)]
        np.testing.assert_array_equal(_grad(fnp.prod, x), want)
        hess = np.asarray(fg.hessian(fnp.prod)(x))
        want_h = [[np.prod(np.delete(x, [i, j])) if i != j else 0.0 for j in range(x.size)]
                  for i in range(x.size)]
        np.testing.assert_array_equal(hess, want_h)
        check_grads(fnp.prod, (x,), order=3)
        check_grads(lambda a: fnp.cumprod(a), (x,), order=2)
        check_grads(lambda a: lax.cumprod(a, reverse=True), (x,), order=2)
    m = np.array([[0.0, 2.0], [1.5, 0.0], [0.0, 0.0]])
    check_grads(lambda a: lax.reduce_prod(a, (0, 1)), (m,), order=2)
    check_grads(lambda a: fnp.prod(a, axis=0), (m,), order=2)


def test_cumlogsumexp_derivatives_are_stable():
    x = np.array([1000.0, -1000.0, 999.0, 0.0, 1001.0])
    _, t = fg.jvp(lax.cumlogsumexp, (x,), (np.ones(5),))
    np.testing.assert_allclose(np.asarray(t), np.ones(5), rtol=1e-12)  # shift invariance
    g = _grad(lambda a: lax.cumlogsumexp(a)[-1], x)
    sm = np.exp(x - np.logaddexp.reduce(x))
    np.testing.assert_allclose(g, sm, rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(np.asarray(fg.hessian(lambda a: lax.cumlogsumexp(a)[-1])(x))))
    # -inf entries: zero weight, no NaN; an all -inf prefix has tangent 0
    y = np.array([-np.inf, -np.inf, 0.5, -np.inf])
    _, t = fg.jvp(lax.cumlogsumexp, (y,), (np.ones(4),))
    np.testing.assert_array_equal(np.asarray(t), [0, 0, 1, 1])
    check_grads(lambda a: lax.cumlogsumexp(a, axis=0, reverse=True),
                (np.array([[0.5, 30.0], [-40.0, 2.0], [1.0, 1.0]]),), order=2)


def test_sort_gradient_follows_the_permutation():
    x = np.array([3.0, 1.0, 2.0, 1.0])
    w = np.array([10.0, 20.0, 30.0, 40.0])
    # sorted: [1 (from 1), 1 (from 3), 2, 3]; a stable sort keeps tied elements in order
    np.testing.assert_array_equal(_grad(lambda a: fnp.sum(fnp.sort(a) * w), x),
                                  [40, 10, 30, 20])
    k, v = lax.sort_key_val(np.array([2, 0, 1]), np.array([5.0, 6.0, 7.0]))
    _, vjp = fg.vjp(lambda b: lax.sort_key_val(np.array([2, 0, 1]), b)[1], np.ones(3))
    np.testing.assert_array_equal(np.asarray(vjp(np.array([1.0, 2.0, 3.0]))[0]), [3, 1, 2])
    np.testing.assert_array_equal(np.asarray(v), [6, 7, 5])


def test_numpy_functions_outside_the_tables():
    # Arguments the spec tables do not draw: weights, traced q, where=, include_initial, and
    # unique with a static size (its values follow the sort; its counts are integers).
    rng = np.random.default_rng(5)
    x = rng.uniform(-2, 2, (3, 4))
    w = rng.uniform(0.5, 2, (4,))
    mask = x > 0
    check_grads(lambda a, b: fnp.average(a, axis=1, weights=b), (x, w))
    check_grads(lambda a, q: fnp.quantile(a, q, axis=1), (x, np.array([0.3, 0.8])))
    check_grads(lambda a: fnp.cumulative_prod(a, axis=1, include_initial=True), (x,))
    check_grads(lambda a: fnp.sum(a, axis=0, where=mask), (x,))
    check_grads(lambda a: fnp.max(a, axis=0, where=mask, initial=-5.0), (x,))
    check_grads(lambda a: fnp.var(a, axis=1, where=mask | (x < -1)), (x,))
    check_grads(lambda a: fnp.unique(a, size=5), (x[0],))
    check_zero_derivatives(lambda a: fnp.unique(a, return_counts=True, size=3)[1], [x[0]])
    ints = np.array([[1, 1, 2, 0], [3, 3, 3, 3], [2, 0, 2, 1]], np.int32)
    check_vmap(lambda a: fnp.unique(a, return_index=True, return_inverse=True,
                                    return_counts=True, size=3), [ints], [0], 3, name="unique")
    check_vmap(lambda a, q: fnp.quantile(a, q), [x, np.array([0.1, 0.5, 0.9])], [0, 0], 3,
               name="quantile", rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, fn", [
    ("prod", lambda a: fnp.prod(a, axis=1)),
    ("max", lambda a: fnp.max(a, axis=0)),
    ("cumprod", lambda a: lax.cumprod(a, axis=1, reverse=True)),
    ("cummax", lambda a: lax.cummax(a, axis=1)),
    ("cumlogsumexp", lambda a: lax.cumlogsumexp(a, axis=0)),
    ("sort", lambda a: fnp.sort(a, axis=0)),
    ("median", lambda a: fnp.median(a, axis=1)),
])
def test_vmap_of_grad(name, fn):
    # Per-example gradients: the jvp rules' gathers and scans batch too.
    x = np.random.default_rng(3).uniform(-2, 2, (3, 4))
    w = np.random.default_rng(4).normal(size=fn(x).shape)
    g = fg.grad(lambda a: fnp.sum(fn(a) * w))
    for axis in (0, 1, 2):
        check_vmap(g, [x], [axis], 3, name=name, rtol=1e-12, atol=1e-12)
    check_vmap(fg.jacfwd(fn), [x], [0], 3, name=name, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- transposes

def check_transpose_property(fn, args, seed=0):
    """For ``L = linearize(fn)``: ``<ct, L t> == <L^T ct, t>`` for random t and ct."""
    rng = np.random.default_rng(seed)
    out, f_jvp = fg.linearize(fn, *args)
    ts = [rng.standard_normal(np.shape(a)) for a in args]
    ct = rng.standard_normal(np.shape(out))
    lhs = float(np.vdot(ct, np.asarray(f_jvp(*ts), F64)))
    rhs = sum(float(np.vdot(np.asarray(c, F64), t))
              for c, t in zip(fg.vjp(fn, *args)[1](ct), ts))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@settings(max_examples=scaled(8))
@given(data=st.data())
def test_transpose_reduce_sum_and_cumsum(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    x = _values(shape, F64, "real", data.draw(st.integers(0, 2**31)))
    axes = data.draw(_axis_strategy(len(shape), "lax", True))
    axis = data.draw(st.integers(0, len(shape) - 1))
    reverse = data.draw(st.booleans())
    seed = data.draw(st.integers(0, 2**16))
    check_transpose_property(lambda a: lax.reduce_sum(a, axes), [x], seed)
    check_transpose_property(lambda a: lax.cumsum(a, axis, reverse), [x], seed)
    check_transpose_property(lambda a: lax.reduce_sum(lax.cumsum(a * a, axis, reverse), axes),
                             [x], seed)
    # the linear parts of the other jvp rules (gathers, recurrences) transpose as well
    for f in (lambda a: lax.cumprod(a, axis, reverse), lambda a: lax.reduce_prod(a, axes),
              lambda a: lax.cumlogsumexp(a, axis, reverse), lambda a: lax.reduce_max(a, axes),
              lambda a: lax.cummin(a, axis, reverse), lambda a: lax.sort(a, axis)):
        check_transpose_property(f, [x], seed)
