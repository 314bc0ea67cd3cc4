"""The spec-table harness shared by the per-family test files.

A spec names a funcgrad function, its NumPy reference, how to draw its arguments (shapes,
dtypes and a value domain), and tolerances. ``check_spec`` then checks, on hypothesis-drawn
inputs:
  * forward values against the NumPy reference (computed in float64 where the input is float);
  * the result dtype against the expected funcgrad dtype;
  * abstract evaluation (``make_jaxpr`` output avals) against the eager result's shape/dtype,
    and that evaluating the staged jaxpr reproduces the eager result.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import funcgrad as fg

F32, F64 = np.dtype("float32"), np.dtype("float64")
I32, I64, U8, U32 = (np.dtype(t) for t in ("int32", "int64", "uint8", "uint32"))
BOOL = np.dtype("bool")
FLOATS = (F32, F64)
INTS = (I32, I64)

THOROUGH = os.environ.get("FUNCGRAD_TEST_PROFILE") == "thorough"


def scaled(n: int) -> int:
    """``max_examples`` for an expensive test: ``n`` by default, 10x in the thorough profile."""
    return n * 10 if THOROUGH else n


# Awkward shapes always worth trying: scalars, size-1 and size-0 dims, odd sizes.
AWKWARD_SHAPES = [(), (1,), (0,), (3,), (1, 1), (2, 3), (45, 65), (1, 4, 1), (2, 0, 3)]


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=5):
    """Hypothesis strategy: shapes, biased towards the awkward ones."""
    awkward = [s for s in AWKWARD_SHAPES if min_dims <= len(s) <= max_dims
               and all(min_side <= d for d in s) and all(d <= max(max_side, 65) for d in s)]
    drawn = st.lists(st.integers(min_side, max_side), min_size=min_dims,
                     max_size=max_dims).map(tuple)
    return st.one_of(st.sampled_from(awkward), drawn) if awkward else drawn


# Value domains: (low, high) for floats; functions with restricted domains pick one.
DOMAINS = {
    "real": (-3.0, 3.0),
    "positive": (0.1, 4.0),
    "unit": (-0.95, 0.95),        # asin, acos, atanh, erfinv
    "ge1": (1.05, 4.0),           # acosh
    "small": (-1.5, 1.5),         # tan, exp of large values
    "nonzero": (0.2, 3.0),        # divisors (random sign applied)
}


def _values(shape, dtype, domain, data_seed):
    rng = np.random.default_rng(data_seed)
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo, hi = (1, 6) if domain in ("positive", "nonzero", "ge1") else (
            (0, 6) if dtype.kind == "u" else (-5, 6))
        out = rng.integers(lo, hi, size=shape).astype(dtype)
        if domain == "nonzero" and dtype.kind == "i":
            out = out * rng.choice(np.array([-1, 1], dtype), size=shape)
        return out
    lo, hi = DOMAINS[domain]
    out = rng.uniform(lo, hi, size=shape)
    if domain == "nonzero":
        out = out * rng.choice([-1.0, 1.0], size=shape)
    return out.astype(dtype)


def arrays(shape, dtype, domain="real"):
    """Hypothesis strategy: a NumPy array of ``shape``/``dtype`` with values in ``domain``."""
    return st.integers(0, 2**31 - 1).map(lambda seed: _values(shape, dtype, domain, seed))


@dataclasses.dataclass
class Spec:
    """One line of a spec table."""
    name: str
    fg_fn: Callable
    np_fn: Callable
    nargs: int = 1
    dtypes: tuple = FLOATS
    domain: str | tuple = "real"          # one domain, or one per argument
    shapes: Any = None                    # strategy of tuples of shapes; default: broadcastable
    rtol: float | None = None
    atol: float | None = None
    kwargs: Any = None                    # strategy of keyword arguments (static), or None
    expected_dtype: Callable | None = None  # (input dtypes) -> dtype; None: not checked

    def __repr__(self):
        return self.name


def default_tolerance(dtype):
    return {F32: (2e-5, 1e-5), F64: (1e-11, 1e-12)}.get(np.dtype(dtype), (0, 0))


def spec_tolerance(spec: Spec, dtype):
    """``(rtol, atol)`` for a result of ``dtype``: the spec's own where it sets them, else the
    dtype's default."""
    rtol0, atol0 = default_tolerance(dtype)
    return (spec.rtol if spec.rtol is not None else rtol0,
            spec.atol if spec.atol is not None else atol0)


def args_strategy(spec: Spec):
    """Draws ``(args, kwargs)`` for a spec."""
    def build(draw):
        dtype = draw(st.sampled_from(spec.dtypes))
        if spec.shapes is not None:
            shps = draw(spec.shapes)
        else:
            shp = draw(shapes())
            shps = tuple(shp for _ in range(spec.nargs))
        doms = spec.domain if isinstance(spec.domain, tuple) else (spec.domain,) * spec.nargs
        args = [draw(arrays(s, dtype, d)) for s, d in zip(shps, doms)]
        kwargs = draw(spec.kwargs) if spec.kwargs is not None else {}
        return args, kwargs
    return st.composite(lambda draw: build(draw))()


def assert_close(actual, expected, rtol, atol, err_msg=""):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{err_msg}: shape {actual.shape} vs {expected.shape}"
    if expected.dtype.kind in "fc":
        widened = actual.astype(np.float64) if actual.dtype.kind != "c" else actual
        np.testing.assert_allclose(widened, expected, rtol=rtol, atol=atol, err_msg=err_msg,
                                   equal_nan=True)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=err_msg)


def reference(spec: Spec, args, kwargs):
    """The NumPy reference, in float64 for float inputs (so float32 results are checked
    against a more precise answer), cast back to the expected dtype's kind."""
    up = [a.astype(np.float64) if a.dtype == F32 else a for a in args]
    with np.errstate(all="ignore"):
        return spec.np_fn(*up, **kwargs)


def check_spec(spec: Spec, args, kwargs):
    """Forward vs NumPy, dtype, abstract eval vs eager, staged eval vs eager."""
    out = spec.fg_fn(*args, **kwargs)
    ref = reference(spec, args, kwargs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    in_dtypes = [np.asarray(a).dtype for a in args]
    for o, r in zip(outs, refs):
        # Tolerances follow the result's precision (an int input to sin gives float32).
        rtol, atol = spec_tolerance(spec, o.dtype if isinstance(o, fg.Array) else F32)
        assert isinstance(o, fg.Array), f"{spec.name} returned {type(o)}, not a funcgrad Array"
        if spec.expected_dtype is not None:
            want = np.dtype(spec.expected_dtype(*in_dtypes))
            assert o.dtype == want, f"{spec.name}: dtype {o.dtype}, expected {want}"
        assert_close(o, r, rtol, atol, err_msg=f"{spec.name}{tuple(a.shape for a in args)}")
    # Staged mode: the same shapes/dtypes, and evaluating the jaxpr gives the same values.
    closed = fg.make_jaxpr(lambda *a: spec.fg_fn(*a, **kwargs))(*args)
    assert [a.shape for a in closed.out_avals] == [o.shape for o in outs], spec.name
    assert [a.dtype for a in closed.out_avals] == [o.dtype for o in outs], spec.name
    staged = closed(*args)
    for s, o in zip(staged, outs):
        assert_close(s, o, 0, 0, err_msg=f"{spec.name} staged vs eager")
    check_jit_matches_eager(spec, args, kwargs, outs)


_JIT_COMPILED: set = set()


def check_jit_matches_eager(spec: Spec, args, kwargs, outs):
    """The compiled function (``fg.jit``, default backend) gives the eager results: exactly
    for integers and booleans, within the spec's tolerance for floats (kernels may contract
    multiply-adds and use their own approximations of transcendental functions)."""
    # Numba compiles the first example of each (spec, dtypes); later examples run the same
    # generated kernels as Python (numba-py), which checks fusion and code generation without
    # a compile per shape (the thorough profile compiles every one).
    key = (spec.name, tuple(np.asarray(a).dtype.name for a in args))
    backend = "numba-cpu" if THOROUGH or key not in _JIT_COMPILED else "numba-py"
    _JIT_COMPILED.add(key)
    got = fg.jit(lambda *a: spec.fg_fn(*a, **kwargs), backend=backend)(*args)
    got = got if isinstance(got, (tuple, list)) else (got,)
    for g, o in zip(got, outs):
        assert g.dtype == o.dtype and g.shape == o.shape, (spec.name, g.aval, o.aval)
        rtol, atol = spec_tolerance(spec, o.dtype)
        assert_close(g, o, rtol, atol, err_msg=f"{spec.name} jit vs eager")


# ------------------------------------------------------------------------ derivatives

def check_spec_grads(spec: Spec, args, kwargs, order: int = 2, modes=("fwd", "rev"),
                     argnums=None, atol=None, rtol=None):
    """Derivatives of ``spec.fg_fn`` w.r.t. its float arguments (``argnums`` to choose),
    checked in float64 against central differences up to ``order``, forward and reverse."""
    from funcgrad.testing import check_grads
    args64 = [np.asarray(a).astype(F64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in args]
    idx = [i for i, a in enumerate(args64) if a.dtype.kind == "f"] if argnums is None \
        else list(argnums)
    if not idx:
        return

    def f(*diff):
        full = list(args64)
        for i, d in zip(idx, diff):
            full[i] = d
        return spec.fg_fn(*full, **kwargs)
    check_grads(f, [args64[i] for i in idx], order=order, modes=modes, atol=atol, rtol=rtol)


# ------------------------------------------------------------------------ batching

def _variants(a: np.ndarray, size: int, rng) -> list[np.ndarray]:
    """``size`` examples like ``a``: the first is ``a``, the others permute its elements, so
    values stay in the function's domain and index arguments stay in range."""
    out = [a]
    for _ in range(size - 1):
        out.append(rng.permutation(a.reshape(-1)).reshape(a.shape))
    return out[:size]


def _stack(xs, axis, size):
    if size:
        return np.stack(xs[:size], axis=axis)
    return np.take(np.stack(xs[:1], axis=axis), np.array([], np.intp), axis=axis)


def check_vmap(fn, args, in_axes, size: int, seed: int = 0, rtol=None, atol=None,
               name: str = ""):
    """``vmap(fn, in_axes)`` on a batch of ``size`` examples equals stacking ``fn`` applied to
    each example (the batch dimension of each mapped argument at its ``in_axes``)."""
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]
    per_arg = [_variants(a, max(size, 1), rng) if ax is not None else None
               for a, ax in zip(args, in_axes)]
    examples = [[a if ax is None else per_arg[i][k] for i, (a, ax) in
                 enumerate(zip(args, in_axes))] for k in range(size)]
    batched = [a if ax is None else _stack(per_arg[i], ax, size)
               for i, (a, ax) in enumerate(zip(args, in_axes))]
    got = fg.vmap(fn, in_axes=tuple(in_axes))(*batched)
    template = fn(*args)
    got_leaves, got_tree = fg.tree_util.tree_flatten(got)
    t_leaves, t_tree = fg.tree_util.tree_flatten(template)
    assert got_tree == t_tree, f"{name}: vmap output structure {got_tree} vs {t_tree}"
    per_example = [fg.tree_util.tree_leaves(fn(*ex)) for ex in examples]
    for j, (g, t) in enumerate(zip(got_leaves, t_leaves)):
        t = np.asarray(t)
        if size:
            want = np.stack([np.asarray(ex[j]) for ex in per_example])
        else:
            want = np.empty((0,) + t.shape, t.dtype)
        assert np.asarray(g).dtype == t.dtype, f"{name}: vmap dtype {g.dtype} vs {t.dtype}"
        r0, a0 = default_tolerance(t.dtype)
        assert_close(g, want, rtol if rtol is not None else r0,
                     atol if atol is not None else a0,
                     err_msg=f"{name}: vmap output {j}, in_axes={in_axes}, size={size}")


def draw_in_axes(draw, args, allow_unmapped=True):
    """Hypothesis: one in_axes entry per argument (an axis of the batched array, possibly
    negative, or None), with at least one argument mapped."""
    axes = []
    for a in args:
        nd = np.ndim(a) + 1
        choices = st.integers(-nd, nd - 1)
        axes.append(draw(st.one_of(st.none(), choices) if allow_unmapped else choices))
    if all(ax is None for ax in axes):
        i = draw(st.integers(0, len(args) - 1))
        axes[i] = draw(st.integers(-(np.ndim(args[i]) + 1), np.ndim(args[i])))
    return axes


def check_spec_vmap(spec: Spec, args, kwargs, data, sizes=(0, 1, 3)):
    """Draws in_axes and a batch size, then ``check_vmap`` on ``spec.fg_fn``."""
    in_axes = draw_in_axes(data.draw, args)
    size = data.draw(st.sampled_from(sizes))
    rtol0, atol0 = spec.rtol, spec.atol
    check_vmap(lambda *a: spec.fg_fn(*a, **kwargs), args, in_axes, size,
               seed=data.draw(st.integers(0, 2**16)), rtol=rtol0, atol=atol0,
               name=spec.name)
