"""Reductions, cumulative ops and sorting: the primitives (funcgrad.lax) and funcgrad.numpy.

Spec tables are checked against NumPy on hypothesis-drawn shapes (incl. (), size 0/1, awkward
sizes), every kind of axis (None, int, negative, tuple) and keepdims, with NaNs sprinkled in
where NaN handling matters and ties where stability matters. Their derivatives and batching
are checked in ``test_autodiff_reductions``.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from tests.harness import (
    BOOL,
    F32,
    F64,
    I32,
    U8,
    Spec,
    _values,
    check_spec,
    shapes,
)

I8, I64, F16 = np.dtype("int8"), np.dtype("int64"), np.dtype("float16")


# ---------------------------------------------------------------- strategies

@dataclasses.dataclass
class R:
    """A reduction-style spec: a harness Spec plus how to draw its shape-dependent kwargs."""
    spec: Spec
    axes: str = "multi"         # "multi" (None/int/tuple), "single" (None/int), "int", "lax"
    keepdims: bool = True
    empty_tuple: bool = True    # may draw axis=()
    nan: bool = False           # sprinkle NaNs into float inputs
    ties: bool = False          # round floats so that equal values occur
    extra: Callable[[tuple], Any] | None = None  # shape -> strategy of extra kwargs
    min_dims: int = 0
    # dtype -> (rtol, atol), overriding the harness defaults
    tol: dict = dataclasses.field(default_factory=dict)
    raises_like_numpy: bool = True  # where NumPy raises ValueError/IndexError, so must we

    def __repr__(self):
        return self.spec.name


def _axis_strategy(ndim: int, mode: str, empty_tuple: bool):
    ints = st.integers(-ndim, ndim - 1) if ndim else st.nothing()
    if mode == "int":
        return ints
    if mode == "single":
        return st.one_of(st.none(), ints)
    tuples = st.lists(st.integers(0, ndim - 1), unique=True,
                      min_size=0 if empty_tuple else 1, max_size=ndim).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes])) \
        if ndim else (st.just(()) if empty_tuple else st.nothing())
    if mode == "lax":
        return tuples.map(lambda t: tuple(sorted(a % ndim for a in t)) if ndim else ())
    return st.one_of(st.none(), ints, tuples)


@st.composite
def reduction_case(draw, r: R, shape_strategy=None):
    dtype = draw(st.sampled_from(r.spec.dtypes))
    shape = draw(shape_strategy if shape_strategy is not None else shapes(min_dims=r.min_dims))
    domain = r.spec.domain if isinstance(r.spec.domain, str) else r.spec.domain[0]
    x = _values(shape, dtype, domain, draw(st.integers(0, 2**31 - 1)))
    if x.dtype.kind == "f":
        if r.ties:
            x = (np.round(x * 2) / 2).astype(x.dtype)
        if r.nan and x.size and draw(st.booleans()):
            rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
            x = np.where(rng.random(shape) < 0.2, np.nan, x).astype(x.dtype)
    kwargs = {}
    if r.axes is not None:
        axis_key = "axes" if r.axes == "lax" else "axis"
        axis = draw(_axis_strategy(len(shape), r.axes, r.empty_tuple))
        if axis is not None or r.axes != "int":
            kwargs[axis_key] = axis
    if r.keepdims:
        kwargs["keepdims"] = draw(st.booleans())
    if r.extra is not None:
        kwargs.update(draw(r.extra(shape)))
    return [x], kwargs


def run_case(r: R, args, kwargs):
    """check_spec, after matching NumPy's errors (e.g. max of an empty axis)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            with np.errstate(all="ignore"):
                r.spec.np_fn(*[a.astype(F64) if a.dtype == F32 else a for a in args], **kwargs)
        except (ValueError, IndexError) as e:
            if not r.raises_like_numpy:
                raise
            with pytest.raises((ValueError, IndexError)):
                r.spec.fg_fn(*args, **kwargs)
            return str(e)
        dtype = args[0].dtype
        spec = r.spec
        if dtype.kind not in "fc" and spec.expected_dtype is not None and \
                spec.expected_dtype(dtype) == F32:
            dtype = F32  # integer input, float32 result: float32 tolerances
            spec = dataclasses.replace(spec, rtol=2e-5, atol=1e-5)
        if dtype in r.tol:
            spec = dataclasses.replace(spec, rtol=r.tol[dtype][0], atol=r.tol[dtype][1])
        check_spec(spec, args, kwargs)


# ---------------------------------------------------------------- expected dtypes (JAX's)

def sum_dtype(dt):
    dt = np.dtype(dt)
    if dt == BOOL or (dt.kind == "i" and dt.itemsize < 4):
        return I32
    if dt.kind == "u" and dt.itemsize < 4:
        return np.dtype("uint32")
    return dt


def float_dtype(dt):
    return np.dtype(dt) if np.dtype(dt).kind in "fc" else F32


def same(dt):
    return np.dtype(dt)


def int32(*_):
    return I32


def boolean(*_):
    return BOOL


# ---------------------------------------------------------------- NumPy references

def np_sum_like(fn):
    # NumPy widens small ints to int64; funcgrad (like JAX) to int32, which can wrap.
    def ref(x, **kw):
        if x.dtype.kind in "iub":
            kw = dict(kw, dtype=sum_dtype(x.dtype))
        return fn(x, **kw)
    return ref


def np_cumulative(fn):
    def ref(x, axis=None):
        return fn(x, axis=axis, dtype=sum_dtype(x.dtype) if x.dtype.kind in "iub" else None)
    return ref


def np_lax_reduce(fn, identity=None):
    def ref(x, axes):
        if identity is not None:
            return fn(x, axis=axes, initial=identity(x.dtype))
        return np.asarray(fn(x, axis=axes, dtype=x.dtype))
    return ref


def lowest(dt):
    return -np.inf if dt.kind == "f" else (np.iinfo(dt).min if dt.kind in "iu" else False)


def highest(dt):
    return np.inf if dt.kind == "f" else (np.iinfo(dt).max if dt.kind in "iu" else True)


def np_scan(ufunc):
    def ref(x, axis, reverse):
        src = np.flip(x, axis) if reverse else x
        out = ufunc.accumulate(src, axis=axis, dtype=x.dtype)
        return np.flip(out, axis) if reverse else out
    return ref


def sum_tol(r32=2e-5, a32=1e-3):
    return {F32: (r32, a32), F64: (1e-11, 1e-9)}


SUM_DTYPES = (F32, F64, I32, I8, U8, BOOL)
ORDERED = (F32, F64, I32, U8, BOOL)

SPECS = [
    # ---- funcgrad.numpy reductions
    R(Spec("sum", fnp.sum, np_sum_like(np.sum), dtypes=SUM_DTYPES, expected_dtype=sum_dtype),
      tol=sum_tol()),
    R(Spec("prod", fnp.prod, np_sum_like(np.prod), dtypes=(F32, F64, I32, I8, BOOL),
           domain="unit", expected_dtype=sum_dtype), tol=sum_tol(1e-4, 1e-6)),
    R(Spec("max", fnp.max, np.max, dtypes=ORDERED, expected_dtype=same), nan=True),
    R(Spec("min", fnp.min, np.min, dtypes=ORDERED, expected_dtype=same), nan=True),
    R(Spec("amax", fnp.amax, np.amax, dtypes=(F32, I32), expected_dtype=same)),
    R(Spec("amin", fnp.amin, np.amin, dtypes=(F32, I32), expected_dtype=same)),
    R(Spec("ptp", fnp.ptp, np.ptp, dtypes=(F32, F64, I32), expected_dtype=same), nan=True),
    R(Spec("argmax", fnp.argmax, np.argmax, dtypes=ORDERED, expected_dtype=int32),
      axes="single", nan=True, ties=True),
    R(Spec("argmin", fnp.argmin, np.argmin, dtypes=ORDERED, expected_dtype=int32),
      axes="single", nan=True, ties=True),
    R(Spec("all", fnp.all, np.all, dtypes=(F32, I32, BOOL), expected_dtype=boolean), nan=True),
    R(Spec("any", fnp.any, np.any, dtypes=(F32, I32, BOOL), expected_dtype=boolean), nan=True),
    R(Spec("count_nonzero", fnp.count_nonzero, np.count_nonzero, dtypes=(F32, I32, BOOL),
           expected_dtype=int32)),
    R(Spec("mean", fnp.mean, np.mean, dtypes=(F32, F64, I32, BOOL), expected_dtype=float_dtype),
      tol=sum_tol(2e-5, 1e-5)),
    R(Spec("var", fnp.var, np.var, dtypes=(F32, F64, I32), expected_dtype=float_dtype),
      extra=lambda s: st.fixed_dictionaries({"ddof": st.integers(0, 2)}),
      tol=sum_tol(1e-4, 1e-5)),
    R(Spec("std", fnp.std, np.std, dtypes=(F32, F64, I32), expected_dtype=float_dtype),
      extra=lambda s: st.fixed_dictionaries({"ddof": st.integers(0, 2)}),
      tol=sum_tol(1e-4, 1e-5)),
    R(Spec("median", fnp.median, np.median, dtypes=(F32, F64, I32),
           expected_dtype=float_dtype), nan=True, empty_tuple=False),
    R(Spec("quantile", fnp.quantile, np.quantile, dtypes=(F32, F64, I32),
           expected_dtype=float_dtype), nan=True, empty_tuple=False, tol=sum_tol(1e-4, 1e-5),
      extra=lambda s: st.fixed_dictionaries({"q": st.one_of(
          st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0]),
          st.lists(st.floats(0, 1), min_size=1, max_size=3).map(np.array))})),
    R(Spec("percentile", fnp.percentile, np.percentile, dtypes=(F32, F64),
           expected_dtype=float_dtype), empty_tuple=False, tol=sum_tol(1e-4, 1e-5),
      extra=lambda s: st.fixed_dictionaries({"q": st.floats(0, 100)})),
    R(Spec("average", fnp.average, np.average, dtypes=(F32, F64, I32),
           expected_dtype=float_dtype), tol=sum_tol(2e-5, 1e-5),
      extra=lambda s: st.fixed_dictionaries({"returned": st.booleans()})),
    R(Spec("nansum", fnp.nansum, np_sum_like(np.nansum), dtypes=(F32, F64, I32),
           expected_dtype=sum_dtype), nan=True, tol=sum_tol()),
    R(Spec("nanprod", fnp.nanprod, np_sum_like(np.nanprod), dtypes=(F32, F64), domain="unit",
           expected_dtype=sum_dtype), nan=True, tol=sum_tol(1e-4, 1e-6)),
    R(Spec("nanmax", fnp.nanmax, np.nanmax, dtypes=(F32, F64, I32), expected_dtype=same),
      nan=True),
    R(Spec("nanmin", fnp.nanmin, np.nanmin, dtypes=(F32, F64, I32), expected_dtype=same),
      nan=True),
    R(Spec("nanmean", fnp.nanmean, np.nanmean, dtypes=(F32, F64),
           expected_dtype=float_dtype), nan=True, tol=sum_tol(2e-5, 1e-5)),
    R(Spec("nanvar", fnp.nanvar, np.nanvar, dtypes=(F32, F64), expected_dtype=float_dtype),
      nan=True, tol=sum_tol(1e-4, 1e-5),
      extra=lambda s: st.fixed_dictionaries({"ddof": st.integers(0, 2)})),
    R(Spec("nanstd", fnp.nanstd, np.nanstd, dtypes=(F32, F64), expected_dtype=float_dtype),
      nan=True, tol=sum_tol(1e-4, 1e-5)),
    # ---- cumulative (funcgrad.numpy)
    R(Spec("cumsum", fnp.cumsum, np_cumulative(np.cumsum), dtypes=SUM_DTYPES,
           expected_dtype=sum_dtype), axes="single", keepdims=False, tol=sum_tol(1e-4, 2e-3)),
    R(Spec("cumprod", fnp.cumprod, np_cumulative(np.cumprod), dtypes=(F32, F64, I32, BOOL),
           domain="unit", expected_dtype=sum_dtype), axes="single", keepdims=False,
      tol=sum_tol(1e-4, 1e-6)),
    R(Spec("cumulative_sum", fnp.cumulative_sum, np.cumulative_sum, dtypes=(F32, F64, I32),
           expected_dtype=sum_dtype), axes="int", keepdims=False, min_dims=1,
      tol=sum_tol(1e-4, 2e-3),
      extra=lambda s: st.fixed_dictionaries({"include_initial": st.booleans()})),
    # ---- sorting (funcgrad.numpy)
    R(Spec("sort", fnp.sort, np.sort, dtypes=ORDERED, expected_dtype=same),
      axes="single", keepdims=False, nan=True, ties=True, min_dims=1),
    R(Spec("argsort", fnp.argsort, lambda x, axis: np.argsort(x, axis=axis, kind="stable"),
           dtypes=ORDERED, expected_dtype=int32),
      axes="single", keepdims=False, nan=True, ties=True, min_dims=1),
    # ---- primitives (funcgrad.lax): the dtype is kept; empty reductions give identities
    R(Spec("lax.reduce_sum", lax.reduce_sum, np_lax_reduce(np.sum),
           dtypes=(F32, F64, I32, I8), expected_dtype=same), axes="lax", keepdims=False,
      tol=sum_tol()),
    R(Spec("lax.reduce_prod", lax.reduce_prod, np_lax_reduce(np.prod), dtypes=(F32, I32, U8),
           domain="unit", expected_dtype=same), axes="lax", keepdims=False,
      tol=sum_tol(1e-4, 1e-6)),
    R(Spec("lax.reduce_max", lax.reduce_max, np_lax_reduce(np.max, lowest), dtypes=ORDERED,
           expected_dtype=same), axes="lax", keepdims=False, nan=True),
    R(Spec("lax.reduce_min", lax.reduce_min, np_lax_reduce(np.min, highest), dtypes=ORDERED,
           expected_dtype=same), axes="lax", keepdims=False, nan=True),
    R(Spec("lax.reduce_and", lax.reduce_and,
           lambda x, axes: np.bitwise_and.reduce(x, axis=axes, initial=highest(x.dtype)
                                                 if x.dtype == BOOL else np.array(-1, x.dtype)),
           dtypes=(BOOL, I32), expected_dtype=same), axes="lax", keepdims=False),
    R(Spec("lax.reduce_or", lax.reduce_or,
           lambda x, axes: np.bitwise_or.reduce(x, axis=axes, initial=np.zeros((), x.dtype)),
           dtypes=(BOOL, I32, U8), expected_dtype=same), axes="lax", keepdims=False),
]

LAX_SCANS = [
    ("cumsum", lax.cumsum, np_scan(np.add), (F32, F64, I32, I8), "real"),
    ("cumprod", lax.cumprod, np_scan(np.multiply), (F32, F64, I32), "unit"),
    ("cummax", lax.cummax, np_scan(np.maximum), ORDERED, "real"),
    ("cummin", lax.cummin, np_scan(np.minimum), ORDERED, "real"),
    ("cumlogsumexp", lax.cumlogsumexp, np_scan(np.logaddexp), (F32, F64), "real"),
]
for _name, _fn, _ref, _dts, _dom in LAX_SCANS:
    SPECS.append(R(Spec(f"lax.{_name}", _fn, _ref, dtypes=_dts, domain=_dom,
                        expected_dtype=same), axes="int", keepdims=False, min_dims=1,
                   nan=_name in ("cummax", "cummin"), tol=sum_tol(1e-4, 2e-3),
                   extra=lambda s: st.fixed_dictionaries({"reverse": st.booleans()})))


@pytest.mark.parametrize("r", SPECS, ids=repr)
@settings(max_examples=20)
@given(data=st.data())
def test_spec(r, data):
    args, kwargs = data.draw(reduction_case(r))
    run_case(r, args, kwargs)


# ---------------------------------------------------------------- argmax/argmin primitives

@pytest.mark.parametrize("name", ["argmax", "argmin"])
@settings(max_examples=20)
@given(data=st.data())
def test_lax_arg_reductions(name, data):
    shape = data.draw(shapes(min_dims=1, min_side=1))
    dtype = data.draw(st.sampled_from([F32, F64, I32, BOOL]))
    x = _values(shape, dtype, "real", data.draw(st.integers(0, 2**31)))
    if dtype.kind == "f" and data.draw(st.booleans()):
        x = np.where(np.random.default_rng(0).random(shape) < 0.3, np.nan, x).astype(dtype)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    index_dtype = data.draw(st.sampled_from([I32, I64]))
    spec = Spec(f"lax.{name}", getattr(lax, name),
                lambda a, axis, index_dtype: getattr(np, name)(a, axis=axis).astype(index_dtype),
                expected_dtype=lambda *_: index_dtype)
    check_spec(spec, [x], {"axis": axis, "index_dtype": index_dtype})


# ---------------------------------------------------------------- multi-operand sort

def _py_sort_reference(operands, dimension, num_keys):
    """An independent reference: Python's stable sort of each 1-D slice on tuple keys, with
    NaN after every number."""
    if operands[0].size == 0:
        return list(operands)
    moved = [np.moveaxis(o, dimension, -1) for o in operands]
    shape = moved[0].shape
    flat = [m.reshape(-1, shape[-1]) for m in moved]
    out = [np.empty_like(f) for f in flat]

    def key_of(v):
        v = v.item()
        return (1, 0) if isinstance(v, float) and np.isnan(v) else (0, v)

    for row in range(flat[0].shape[0]):
        order = sorted(range(shape[-1]),
                       key=lambda i: tuple(key_of(f[row, i]) for f in flat[:num_keys]))
        for f, o in zip(flat, out):
            o[row] = f[row, order]
    return [np.moveaxis(o.reshape(shape), -1, dimension) for o in out]


@settings(max_examples=25)
@given(data=st.data())
def test_lax_sort_multi_operand(data):
    shape = data.draw(shapes(min_dims=1, max_side=6))
    k1 = _values(shape, I32, "real", data.draw(st.integers(0, 2**31)))
    k2 = (np.round(_values(shape, F32, "real", data.draw(st.integers(0, 2**31)))) / 2
          ).astype(F32)
    if k2.size and data.draw(st.booleans()):
        k2 = np.where(np.random.default_rng(1).random(shape) < 0.3, np.nan, k2).astype(F32)
    payload = np.arange(int(np.prod(shape))).reshape(shape).astype(F64)
    num_keys = data.draw(st.integers(1, 2))
    dimension = data.draw(st.integers(-len(shape), len(shape) - 1))
    spec = Spec("lax.sort", lambda a, b, c, **kw: lax.sort([a, b, c], **kw),
                lambda a, b, c, **kw: _py_sort_reference([a, b, c], **kw))
    check_spec(spec, [k1, k2, payload], {"dimension": dimension, "num_keys": num_keys})


def test_lax_sort_single_operand_and_key_val():
    x = np.array([[3.0, np.nan, 1.0], [2.0, 2.0, -np.inf]], F32)
    np.testing.assert_array_equal(lax.sort(x), np.sort(x))
    np.testing.assert_array_equal(lax.sort(x, dimension=0), np.sort(x, axis=0))
    k, v = lax.sort_key_val(np.array([2, 1, 2, 0]), np.array([0.0, 1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(k, [0, 1, 2, 2])
    np.testing.assert_array_equal(v, [3.0, 1.0, 0.0, 2.0])


# ---------------------------------------------------------------- sorting (numpy level)

def _desc_reference(x, axis, arg):
    """Stable descending order with NaNs first (the reverse of NumPy's order)."""
    if x.size == 0:
        return np.zeros(x.shape, np.int64) if arg else x
    moved = np.moveaxis(x, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = np.empty(flat.shape, np.int64 if arg else x.dtype)
    for row in range(flat.shape[0]):
        order = sorted(range(flat.shape[1]), key=lambda i: (
            0 if np.isnan(flat[row, i]) else 1, -float(flat[row, i])
            if not np.isnan(flat[row, i]) else 0.0))
        out[row] = order if arg else flat[row, order]
    return np.moveaxis(out.reshape(moved.shape), -1, axis)


@pytest.mark.parametrize("arg", [False, True])
@settings(max_examples=20)
@given(data=st.data())
def test_sort_descending(arg, data):
    shape = data.draw(shapes(min_dims=1, max_side=6))
    dtype = data.draw(st.sampled_from([F32, F64, I32]))
    x = _values(shape, dtype, "real", data.draw(st.integers(0, 2**31)))
    if dtype.kind == "f":
        x = (np.round(x) / 2).astype(dtype)
        if x.size and data.draw(st.booleans()):
            x = np.where(np.random.default_rng(2).random(shape) < 0.3, np.nan, x).astype(dtype)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    fn = fnp.argsort if arg else fnp.sort
    spec = Spec("argsort-desc" if arg else "sort-desc",
                lambda a, axis: fn(a, axis=axis, descending=True),
                lambda a, axis: _desc_reference(a, axis, arg))
    check_spec(spec, [x], {"axis": axis})


def test_sort_axis_none_flattens_and_methods():
    x = np.array([[3, 1], [2, 0]], np.int32)
    np.testing.assert_array_equal(fnp.sort(x, axis=None), [0, 1, 2, 3])
    np.testing.assert_array_equal(fnp.argsort(x, axis=None), [3, 1, 2, 0])
    np.testing.assert_array_equal(fnp.asarray(x).sort(), np.sort(x))
    np.testing.assert_array_equal(fnp.asarray(x).argsort(axis=0), np.argsort(x, axis=0))


def test_argsort_is_stable_with_ties():
    x = np.array([1, 0, 1, 0, 1, 0, 0, 1] * 5, np.int32)
    got = np.asarray(fnp.argsort(x))
    np.testing.assert_array_equal(got, np.argsort(x, kind="stable"))
    assert got.dtype == I32
    # equal floats, including -0.0 == 0.0, keep their input order
    y = np.array([0.0, -0.0, 0.0, np.nan, -0.0, np.nan], F32)
    np.testing.assert_array_equal(fnp.argsort(y), [0, 1, 2, 4, 3, 5])


@settings(max_examples=20)
@given(data=st.data())
def test_lexsort(data):
    shape = data.draw(shapes(min_dims=1, max_dims=2, max_side=6))
    nkeys = data.draw(st.integers(1, 3))
    keys = [_values(shape, I32, "real", data.draw(st.integers(0, 2**31))) // 3
            for _ in range(nkeys)]
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    if data.draw(st.booleans()):  # keys as one array whose first axis indexes them
        spec = Spec("lexsort", lambda ks, axis: fnp.lexsort(ks, axis=axis),
                    lambda ks, axis: np.lexsort(ks, axis=axis), expected_dtype=int32)
        check_spec(spec, [np.stack(keys)], {"axis": axis})
    else:
        spec = Spec("lexsort", lambda *ks, axis: fnp.lexsort(ks, axis=axis),
                    lambda *ks, axis: np.lexsort(ks, axis=axis), expected_dtype=int32)
        check_spec(spec, keys, {"axis": axis})


@pytest.mark.parametrize("side", ["left", "right"])
@settings(max_examples=20)
@given(data=st.data())
def test_searchsorted(side, data):
    n = data.draw(st.integers(0, 12))
    dtype = data.draw(st.sampled_from([F32, F64, I32]))
    a = _values((n,), dtype, "real", data.draw(st.integers(0, 2**31)))
    v = _values(data.draw(shapes(max_dims=2)), dtype, "real", data.draw(st.integers(0, 2**31)))
    if dtype.kind == "f":
        a, v = (np.round(a) / 2).astype(dtype), (np.round(v) / 2).astype(dtype)
        if n and data.draw(st.booleans()):
            a[-1] = np.nan
            v = np.where(np.random.default_rng(3).random(v.shape) < 0.2, np.nan, v).astype(dtype)
    if data.draw(st.booleans()):
        spec = Spec("searchsorted", lambda a, v, s: fnp.searchsorted(a, v, side, sorter=s),
                    lambda a, v, s: np.searchsorted(a, v, side, sorter=s),
                    expected_dtype=int32)
        check_spec(spec, [a, v, np.argsort(a, kind="stable").astype(I32)], {})
    else:
        spec = Spec("searchsorted", lambda a, v: fnp.searchsorted(a, v, side),
                    lambda a, v: np.searchsorted(a, v, side), expected_dtype=int32)
        check_spec(spec, [np.sort(a), v], {})


# ---------------------------------------------------------------- unique

@settings(max_examples=25)
@given(data=st.data())
def test_unique_matches_numpy(data):
    shape = data.draw(shapes(max_dims=2, max_side=7))
    dtype = data.draw(st.sampled_from([F32, F64, I32, BOOL]))
    x = _values(shape, dtype, "real", data.draw(st.integers(0, 2**31)))
    if dtype.kind == "f":
        x = (np.round(x) / 2).astype(dtype)
        if x.size and data.draw(st.booleans()):
            x = np.where(np.random.default_rng(4).random(shape) < 0.3, np.nan, x).astype(dtype)
    flags = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    got = fnp.unique(x, *flags)
    want = np.unique(x, *flags)
    got, want = (got, want) if any(flags) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(np.asarray(g), w)
        assert g.dtype == (x.dtype if w is want[0] else I32)


@settings(max_examples=25)
@given(data=st.data())
def test_unique_with_size_under_tracing(data):
    shape = data.draw(shapes(max_dims=2, max_side=7))
    x = _values(shape, I32, "real", data.draw(st.integers(0, 2**31)))
    size = data.draw(st.integers(0, 12))
    fill = data.draw(st.one_of(st.none(), st.integers(-9, 9)))
    u, idx, inv, cnt = np.unique(x, True, True, True)
    k = len(u)
    want_vals = np.full(size, (x.min() if x.size else 0) if fill is None else fill, I32)
    want_vals[:min(k, size)] = u[:size]
    want_idx = np.full(size, np.argsort(x.ravel(), kind="stable")[0] if x.size else 0)
    want_idx[:min(k, size)] = idx[:size]
    want_cnt = np.zeros(size, np.int64)
    want_cnt[:min(k, size)] = cnt[:size]

    def f(a):
        return fnp.unique(a, return_index=True, return_inverse=True, return_counts=True,
                          size=size, fill_value=fill)
    for out in (f(x), fg.make_jaxpr(f)(x)(x)):
        for g, w in zip(out, (want_vals, want_idx, inv, want_cnt)):
            np.testing.assert_array_equal(np.asarray(g), w)


def test_unique_equal_nan_and_errors():
    x = np.array([np.nan, 1.0, np.nan], F32)
    np.testing.assert_array_equal(fnp.unique(x), [1.0, np.nan])
    np.testing.assert_array_equal(fnp.unique(x, equal_nan=False), [1.0, np.nan, np.nan])
    with pytest.raises(errors.ConcretizationError, match=r"unique: .*f32\[3\][\s\S]*size="):
        fg.make_jaxpr(lambda a: fnp.unique(a))(x)
    with pytest.raises(NotImplementedError, match="unique: axis=0"):
        fnp.unique(x, axis=0)


# ---------------------------------------------------------------- dtypes of results (JAX's)

@pytest.mark.parametrize("fn, in_dtype, out_dtype", [
    (fnp.sum, I8, I32), (fnp.sum, np.dtype("int16"), I32), (fnp.sum, U8, np.dtype("uint32")),
    (fnp.sum, BOOL, I32), (fnp.sum, I64, I64), (fnp.sum, F16, F16), (fnp.sum, F64, F64),
    (fnp.prod, I8, I32), (fnp.prod, BOOL, I32), (fnp.cumsum, I8, I32), (fnp.cumsum, BOOL, I32),
    (fnp.cumprod, U8, np.dtype("uint32")), (fnp.mean, I32, F32), (fnp.mean, BOOL, F32),
    (fnp.mean, F16, F16), (fnp.mean, F64, F64), (fnp.var, I8, F32), (fnp.std, I32, F32),
    (fnp.median, I32, F32), (fnp.max, BOOL, BOOL), (fnp.max, I8, I8), (fnp.argmax, F64, I32),
    (fnp.argmin, I8, I32), (fnp.all, F32, BOOL), (fnp.any, I32, BOOL),
    (fnp.count_nonzero, F64, I32), (fnp.nansum, F32, F32), (fnp.ptp, I32, I32),
])
def test_result_dtypes(fn, in_dtype, out_dtype):
    x = np.ones((2, 3), in_dtype)
    assert fn(x).dtype == out_dtype
    assert fg.make_jaxpr(fn)(x).out_avals[0].dtype == out_dtype


def test_dtype_argument():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert fnp.sum(x, dtype=np.float64).dtype == F64
    assert fnp.sum(x, dtype="int8").dtype == I8
    assert fnp.mean(x, dtype=np.float64).dtype == F64
    assert fnp.cumsum(x, axis=1, dtype=np.float32).dtype == F32
    np.testing.assert_array_equal(fnp.sum(np.array([True, True]), dtype=bool), True)


# ---------------------------------------------------------------- NaN handling

def test_nan_handling():
    x = np.array([1.0, np.nan, 3.0, np.nan], F32)
    assert np.isnan(fnp.max(x)) and np.isnan(fnp.min(x))
    assert int(fnp.argmax(x)) == 1 and int(fnp.argmin(x)) == 1  # the first NaN wins
    assert float(fnp.nanmax(x)) == 3.0 and float(fnp.nanmin(x)) == 1.0
    assert np.isnan(fnp.median(x)) and float(fnp.nanmean(x)) == 2.0
    np.testing.assert_array_equal(fnp.sort(x), [1.0, 3.0, np.nan, np.nan])
    np.testing.assert_array_equal(fnp.argsort(x), [0, 2, 1, 3])
    assert np.isnan(fnp.nanmax(np.array([np.nan, np.nan], F32)))
    np.testing.assert_array_equal(fnp.cumsum(x), np.cumsum(x))
    np.testing.assert_array_equal(lax.cummax(x), [1.0, np.nan, np.nan, np.nan])


# ---------------------------------------------------------------- where= and initial=

@settings(max_examples=20)
@given(data=st.data())
def test_where_and_initial(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=1))
    x = _values(shape, F64, "real", data.draw(st.integers(0, 2**31)))
    mask_shape = data.draw(st.sampled_from([shape, shape[-1:], ()]))
    mask = np.random.default_rng(data.draw(st.integers(0, 2**31))).random(mask_shape) < 0.6
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    init = data.draw(st.floats(-2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, kw in [("sum", {"initial": init}), ("sum", {}), ("prod", {"initial": init}),
                         ("max", {"initial": init}), ("min", {"initial": init}),
                         ("mean", {}), ("var", {}), ("std", {"ddof": 1}), ("all", {}),
                         ("any", {}), ("nansum", {}), ("nanmean", {})]:
            want = getattr(np, name)(x, axis=axis, where=mask, **kw)
            got = getattr(fnp, name)(x, axis=axis, where=mask, **kw)
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12,
                                       err_msg=name)
            fn = getattr(fnp, name)
            staged = fg.make_jaxpr(lambda a, m, fn=fn, kw=kw: fn(a, axis=axis, where=m, **kw))(
                x, mask)
            np.testing.assert_array_equal(staged(x, mask)[0], got)
    np.testing.assert_allclose(fnp.max(x, initial=100.0), 100.0)


def test_misc_numpy_functions():
    x = np.arange(12.0).reshape(3, 4)
    w = np.array([1.0, 2.0, 0.5, 0.0])
    np.testing.assert_allclose(fnp.average(x, axis=1, weights=w),
                               np.average(x, axis=1, weights=w))
    avg, scl = fnp.average(x, axis=0, weights=np.ones((3, 4)), returned=True, keepdims=True)
    want_avg, want_scl = np.average(x, axis=0, weights=np.ones((3, 4)), returned=True,
                                    keepdims=True)
    np.testing.assert_allclose(avg, want_avg)
    np.testing.assert_allclose(scl, want_scl)
    np.testing.assert_allclose(fnp.var(x, axis=0, correction=1), np.var(x, axis=0, ddof=1))
    np.testing.assert_allclose(fnp.cumulative_prod(x, axis=1, include_initial=True),
                               np.cumulative_prod(x, axis=1, include_initial=True))
    np.testing.assert_allclose(fnp.cumsum(np.float64(3.0), axis=0), [3.0])
    q = fg.make_jaxpr(lambda a, q: fnp.quantile(a, q, axis=1))(x, np.array([0.25, 0.9]))
    np.testing.assert_allclose(q(x, np.array([0.25, 0.9]))[0],
                               np.quantile(x, [0.25, 0.9], axis=1))
    np.testing.assert_allclose(fnp.median(x, axis=(0, 1), keepdims=True),
                               np.median(x, axis=(0, 1), keepdims=True))


def test_array_methods():
    x = fnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    xn = np.asarray(x)
    np.testing.assert_allclose(x.sum(axis=0, keepdims=True), xn.sum(axis=0, keepdims=True))
    np.testing.assert_allclose(x.mean(axis=1), xn.mean(axis=1))
    np.testing.assert_allclose(x.var(ddof=1), xn.var(ddof=1), rtol=1e-6)
    np.testing.assert_allclose(x.std(axis=0), xn.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(x.prod(axis=1), xn.prod(axis=1))
    np.testing.assert_array_equal(x.max(axis=1, keepdims=True), xn.max(1, keepdims=True))
    np.testing.assert_array_equal(x.min(), xn.min())
    np.testing.assert_array_equal(x.argmax(axis=0, keepdims=True),
                                  xn.argmax(axis=0, keepdims=True))
    np.testing.assert_array_equal(x.argmin(), xn.argmin())
    assert not bool(x.all()) and bool(x.any())
    np.testing.assert_array_equal(x.cumsum(axis=1, dtype=np.float64), xn.cumsum(1))
    np.testing.assert_array_equal(x.cumprod(axis=0), xn.cumprod(0))


# ---------------------------------------------------------------- errors

def test_axis_out_of_range_names_op_axis_and_rank():
    x = np.ones((2, 3), F32)
    for name in ["sum", "mean", "max", "var", "median", "any"]:
        with pytest.raises(errors.ShapeError, match=rf"{name}: axis 2 .* rank 2"):
            getattr(fnp, name)(x, axis=2)
    with pytest.raises(errors.ShapeError, match=r"argmax: axis -3 .* rank 2"):
        fnp.argmax(x, axis=-3)
    with pytest.raises(errors.ShapeError, match=r"cumsum: axis 5 .* rank 2"):
        fnp.cumsum(x, axis=5)
    with pytest.raises(errors.ShapeError, match=r"sort: axis 2 .* rank 2"):
        fnp.sort(x, axis=2)
    with pytest.raises(errors.ShapeError, match=r"sum: repeated axis"):
        fnp.sum(x, axis=(0, -2))


def test_empty_reductions_raise_like_numpy():
    x = np.zeros((0, 3), F32)
    with pytest.raises(ValueError, match=r"max: zero-size reduction .*f32\[0,3\]"):
        fnp.max(x, axis=0)
    with pytest.raises(ValueError, match=r"min: zero-size .*f32\[0,3\][\s\S]*initial="):
        fnp.min(x)
    assert fnp.max(x, axis=1).shape == (0,)
    np.testing.assert_array_equal(fnp.max(x, axis=0, initial=-1.0), [-1.0] * 3)
    with pytest.raises(ValueError, match=r"argmax: .*empty.*f32\[0\]"):
        fnp.argmax(x)
    with pytest.raises(ValueError, match=r"max: where= needs initial="):
        fnp.max(np.ones(3), where=np.array([True, False, True]))
    with pytest.raises(ValueError, match=r"quantile: .*empty"):
        fnp.quantile(x, 0.5)


def test_primitive_errors_name_op_avals_and_fix():
    x = np.ones((2, 3), F32)
    with pytest.raises(errors.ShapeError, match=r"reduce_sum: axes=\(0, 2\) .*f32\[2,3\]"):
        lax.reduce_sum(x, (0, 2))
    with pytest.raises(errors.ShapeError, match=r"reduce_max: axes=\(1, 1\)[\s\S]*Fix"):
        lax.reduce_max(x, (1, 1))
    with pytest.raises(errors.DTypeError, match=r"reduce_and: .*c64\[2\]"):
        lax.reduce_and(np.ones(2, np.complex64), (0,))
    with pytest.raises(errors.DTypeError, match=r"reduce_sum: .*bool\[3\]"):
        lax.reduce_sum(np.ones(3, bool), (0,))
    with pytest.raises(errors.DTypeError, match=r"cumlogsumexp: .*i32\[3\]"):
        lax.cumlogsumexp(np.ones(3, np.int32))
    with pytest.raises(errors.ShapeError, match=r"cumsum: axis=3 .*f32\[2,3\]"):
        lax.cumsum(x, 3)
    with pytest.raises(errors.ShapeError, match=r"argmax: axis 0 of operand f32\[0,2\]"):
        lax.argmax(np.ones((0, 2), F32), 0, np.int32)
    with pytest.raises(errors.ShapeError, match=r"sort: operands must have equal shapes, got "
                                                r"f32\[2,3\], f32\[3\]"):
        lax.sort([x, np.ones(3, F32)])
    with pytest.raises(errors.ShapeError, match=r"sort: num_keys=3 .*\[1, 2\]"):
        lax.sort([x, x], num_keys=3)
    with pytest.raises(errors.ShapeError, match=r"sort: dimension=.* f32\[\]"):
        lax.sort(np.float32(1.0))
    # staged mode reports the same errors
    with pytest.raises(errors.ShapeError, match=r"reduce_sum: axes=\(0, 2\)"):
        fg.make_jaxpr(lambda a: lax.reduce_sum(a, (0, 2)))(x)


def test_numpy_level_argument_errors():
    x = np.ones((2, 3), F32)
    with pytest.raises(TypeError, match=r"sum: out= is not supported"):
        fnp.sum(x, out=np.empty(()))
    with pytest.raises(ValueError, match=r"quantile: q must be in \[0, 1\]"):
        fnp.quantile(x, 1.5)
    with pytest.raises(ValueError, match=r"percentile: q must be in \[0, 100\]"):
        fnp.percentile(x, -1.0)
    with pytest.raises(NotImplementedError, match=r"quantile: method='nearest'"):
        fnp.quantile(x, 0.5, method="nearest")
    with pytest.raises(ValueError, match=r"searchsorted: side must be"):
        fnp.searchsorted(np.ones(3), 1.0, side="middle")
    with pytest.raises(errors.ShapeError, match=r"searchsorted: a must be 1-D, got f32\[2,3\]"):
        fnp.searchsorted(x, 1.0)
    with pytest.raises(errors.ShapeError, match=r"cumulative_sum: axis is required .* rank 2"):
        fnp.cumulative_sum(x)
    with pytest.raises(errors.ShapeError, match=r"average: weights of shape \(2,\)"):
        fnp.average(x, axis=1, weights=np.ones(2))
    with pytest.raises(errors.ShapeError, match=r"sum: shapes \[4\], \[2,3\] cannot be broad"):
        fnp.sum(x, where=np.ones(4, bool))
    with pytest.raises(errors.ShapeError, match=r"mean: where= of shape \(2, 2, 3\)"):
        fnp.mean(x, where=np.ones((2, 2, 3), bool))
    with pytest.raises(errors.ShapeError, match=r"lexsort: all keys need the same shape"):
        fnp.lexsort([np.ones(3), np.ones(4)])
    with pytest.raises(errors.DTypeError, match=r"sort: complex operand c64\[2\]"):
        fnp.sort(np.ones(2, np.complex64))
    with pytest.raises(ValueError, match=r"var: ddof and correction"):
        fnp.var(x, ddof=1, correction=1)
