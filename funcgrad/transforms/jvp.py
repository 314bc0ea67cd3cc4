"""Forward mode: the JVP trace, symbolic zero tangents, the rule table and its constructors.

A ``JVPTracer`` carries a primal and a tangent; a tangent may be ``Zero(aval)``, which flows
symbolically so that the work done tracks what is actually differentiated. Rules run with the
parent trace current, so primal and tangent computations are themselves traced by outer
transforms (this is how grad-of-grad and linearize work).
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from funcgrad import core, dtypes, errors, source_info
from funcgrad.core import ShapedArray, Tracer

# prim -> rule(primals, tangents, **params) -> (primal_out, tangent_out); tangents may be Zero.
rules: dict[core.Primitive, Callable] = {}


class Zero:
    """A symbolic zero tangent of a given aval."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"

    @staticmethod
    def from_primal(x) -> Zero:
        return Zero(core.get_aval(x).to_tangent_aval())


def instantiate(t):
    """A concrete zero array for a symbolic ``Zero``; other tangents pass through."""
    if type(t) is Zero:
        return zeros_like_aval(t.aval)
    return t


def zeros_like_aval(aval: ShapedArray):
    from funcgrad.array import Array
    from funcgrad.primitives import structural as st
    if aval.dtype == dtypes.float0:
        return Array(np.zeros(aval.shape, dtypes.float0))
    zero = Array(np.zeros((), aval.dtype), weak_type=aval.weak_type)
    return st.broadcast_in_dim(zero, aval.shape, ()) if aval.shape else zero


def add_tangents(a, b):
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    return add_any_p.bind(a, b)


def _add_any_abstract_eval(x, y):
    if x.shape != y.shape or x.dtype != y.dtype:
        raise errors.shape_error("add_any", f"cannot add tangents {x.str_short()} and "
                                 f"{y.str_short()}.", None)
    return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)


# add_any adds tangents/cotangents (fan-in in forward mode, fan-out in reverse mode).
add_any_p = core.Primitive("add_any", impl=lambda x, y: np.add(x, y),
                           abstract_eval=_add_any_abstract_eval)


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self):
        return core.get_aval(self.primal)

    def unwrap(self):
        return self.primal

    def to_concrete_value(self):
        p = self.primal
        return p.to_concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(core.Trace):
    name = "jvp"

    def to_primal_tangent(self, x):
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        return x, Zero.from_primal(x)

    def process_primitive(self, prim, args, params):
        primals, tangents = zip(*map(self.to_primal_tangent, args)) if args else ((), ())
        if all(type(t) is Zero for t in tangents):
            with core.set_current_trace(self.parent):
                return prim.bind(*primals, **params)
        rule = rules.get(prim)
        if rule is None:
            raise missing_rule_error("jvp", prim)
        with core.set_current_trace(self.parent):
            out, t_out = rule(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, o, t) for o, t in zip(out, t_out)]
        return JVPTracer(self, out, t_out)


def missing_rule_error(transform: str, prim) -> errors.MissingRuleError:
    return errors.MissingRuleError(errors.message(
        transform, f"funcgrad has no {transform} rule for primitive `{prim.name}`.",
        f"move the {transform} transformation outside this call, or add the rule next to the "
        "primitive's definition in funcgrad/primitives/.", errors.MissingRuleError))


# ------------------------------------------------------------------------ rule constructors

def defjvp(prim, *per_arg_rules):
    """Linear-in-each-tangent rule: ``per_arg_rules[i](t_i, ans, *primals, **params)``
    gives the contribution of input ``i``'s tangent (None: not differentiable)."""
    def rule(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        out = Zero(core.get_aval(ans).to_tangent_aval())
        for r, t in zip(per_arg_rules, tangents):
            if r is not None and type(t) is not Zero:
                out = add_tangents(out, r(t, ans, *primals, **params))
        return ans, out
    rules[prim] = rule


def defjvp_zero(prim):
    """Outputs have zero tangents (comparisons, integer results, argmax, ...)."""
    def rule(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        if prim.multiple_results:
            return ans, [Zero.from_primal(a) for a in ans]
        return ans, Zero.from_primal(ans)
    rules[prim] = rule


def deflinear(prim):
    """``prim`` is linear in all its operands: the tangent is ``prim`` of the tangents."""
    def rule(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        t = prim.bind(*map(instantiate, tangents), **params)
        return ans, t
    rules[prim] = rule


def jvp_flat(flat_fun, primals, tangents, transform_name="jvp"):
    """Pushes tangents through a flat function; returns (primals_out, tangents_out), where
    tangents_out may contain ``Zero``."""
    # A float0 tangent (of an integer or boolean primal) carries no information: it enters as
    # a symbolic Zero so that no rule ever sees a float0 array.
    tangents = [t if type(t) is Zero or core.get_aval(t).dtype != dtypes.float0
                else Zero(core.get_aval(t)) for t in tangents]
    trace = JVPTrace(core.current_trace())
    trace.transform_name = transform_name
    in_tracers = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
    try:
        with core.set_current_trace(trace), source_info.transform_scope(transform_name):
            outs = flat_fun(*in_tracers)
        primal_out, tangent_out = [], []
        for o in outs:
            p, t = trace.to_primal_tangent(o)
            primal_out.append(p)
            tangent_out.append(t)
        return primal_out, tangent_out
    finally:
        trace.invalidate()


rules[add_any_p] = lambda primals, tangents: (add_any_p.bind(*primals),
                                               add_tangents(*tangents))


@functools.lru_cache(maxsize=1024)
def jvp_jaxpr(jaxpr: core.Jaxpr, nonzeros: tuple, instantiate_out: tuple, name: str):
    """The JVP of an open ``jaxpr`` as a jaxpr, for higher-order primitives (jit, cond, scan).

    It maps ``(primals, nonzero tangents)`` (``nonzeros`` marks which inputs have one) to
    ``(primal outputs, kept tangent outputs)``; an output's tangent is kept when it is not
    symbolically zero or ``instantiate_out`` asks for it. Returns ``(jaxpr, consts, kept)``, the
    consts being the new jaxpr's leading inputs. Memoised on the jaxpr object.
    """
    from funcgrad.transforms.staging import trace_to_open_jaxpr
    n = len(jaxpr.invars)
    kept = []

    def f(*xs):
        ps, ts = xs[:n], iter(xs[n:])
        full = [next(ts) if z else Zero(v.aval.to_tangent_aval())
                for v, z in zip(jaxpr.invars, nonzeros)]
        outs, t_out = jvp_flat(lambda *a: core.eval_jaxpr(jaxpr, (), *a), list(ps), full, name)
        kept[:] = [type(t) is not Zero or i for t, i in zip(t_out, instantiate_out)]
        return [*outs, *[instantiate(t) for t, k in zip(t_out, kept) if k]]
    avals = [v.aval for v in jaxpr.invars]
    avals += [v.aval.to_tangent_aval() for v, z in zip(jaxpr.invars, nonzeros) if z]
    new, consts = trace_to_open_jaxpr(f, avals, name)
    return new, tuple(consts), tuple(kept)
