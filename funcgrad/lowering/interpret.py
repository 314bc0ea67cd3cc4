"""The reference backend: run each equation's NumPy ``impl`` in order.

Call primitives (jit, custom_jvp_call, custom_vjp_call, remat) are inlined first by
``passes.inline_calls``, so every remaining equation is first order.
"""
from __future__ import annotations

import numpy as np

from funcgrad import core


def _read(env, a):
    return a.val if type(a) is core.Literal else env[a]


def run_jaxpr(jaxpr: core.Jaxpr, args) -> list[np.ndarray]:
    """Evaluates a first-order ``jaxpr`` with NumPy impls; returns NumPy values (maybe views)."""
    env = dict(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        with np.errstate(all="ignore"):
            out = eqn.prim.impl(*[_read(env, a) for a in eqn.invars], **eqn.params)
        outs = out if eqn.prim.multiple_results else (out,)
        for v, o in zip(eqn.outvars, outs):
            env[v] = as_aval(o, v.aval)
    return [_read(env, a) for a in jaxpr.outvars]


def as_aval(x, aval: core.ShapedArray) -> np.ndarray:
    """``x`` as a NumPy array of exactly ``aval``'s shape and dtype (impls may return scalars)."""
    x = np.asarray(x)
    if x.dtype != aval.dtype:
        x = x.astype(aval.dtype)
    if x.shape != aval.shape:
        x = x.reshape(aval.shape)
    return x


def fresh(x: np.ndarray, args) -> np.ndarray:
    """``x``, or a copy of it when it may share memory with an input or another buffer."""
    if x.base is not None or not x.flags.writeable or any(x is a for a in args):
        return x.copy()
    return x


def make_runner(jaxpr: core.Jaxpr):
    out_avals = [v.aval for v in jaxpr.outvars]

    def run(*args):
        outs = run_jaxpr(jaxpr, args)
        seen: set[int] = set()
        result = []
        for o, aval in zip(outs, out_avals):
            o = fresh(as_aval(o, aval), args)
            if id(o) in seen:  # the same value returned twice: two independent arrays
                o = o.copy()
            seen.add(id(o))
            result.append(o)
        return result
    return run
