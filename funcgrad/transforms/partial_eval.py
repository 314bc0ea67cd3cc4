"""Partial evaluation: run what is known now, stage what is unknown into a jaxpr.

``PartialEvalTrace`` is a staging trace that stages only operations touching one of its own
(unknown) tracers; operations on known values are bound in the parent trace, so they are
evaluated eagerly, or staged into an enclosing jit. Known values used by staged equations
become the jaxpr's constvars: the *residuals* of linearization.

Equations are recorded in execution order, which is already a topological order, so unlike a
recipe graph no sort is needed; ``dce_jaxpr`` then drops what the outputs do not use.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from funcgrad import core
from funcgrad.transforms.staging import StagingTrace, StagingTracer, trace_to_open_jaxpr

# Higher-order primitives register custom partial-eval and DCE rules here.
rules: dict[core.Primitive, Callable] = {}
dce_rules: dict[core.Primitive, Callable] = {}


class PartialEvalTrace(StagingTrace):
    name = "partial_eval"

    def is_unknown(self, x) -> bool:
        return isinstance(x, StagingTracer) and x._trace is self

    def process_primitive(self, prim, args, params):
        if not any(self.is_unknown(a) for a in args):
            with core.set_current_trace(self.parent):
                return prim.bind(*args, **params)
        rule = rules.get(prim)
        if rule is not None:
            return rule(self, args, params)
        return super().process_primitive(prim, args, params)


def dce_jaxpr(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """Removes equations whose outputs are unused (primitives here have no side effects)."""
    live = {v for v in jaxpr.outvars if type(v) is core.Var}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outvars):
            rule = dce_rules.get(eqn.prim)
            if rule is not None:
                eqn = rule(live, eqn)
            kept.append(eqn)
            live.update(v for v in eqn.invars if type(v) is core.Var)
    constvars = [v for v in jaxpr.constvars if v in live]
    return core.Jaxpr(constvars, jaxpr.invars, reversed(kept), jaxpr.outvars,
                      jaxpr.debug_info)


def dce_closed_jaxpr(closed: core.ClosedJaxpr) -> core.ClosedJaxpr:
    jaxpr = dce_jaxpr(closed.jaxpr)
    keep = set(jaxpr.constvars)
    consts = [c for v, c in zip(closed.jaxpr.constvars, closed.consts) if v in keep]
    return core.ClosedJaxpr(jaxpr, consts)


@functools.lru_cache(maxsize=1024)
def partial_eval_jaxpr(jaxpr: core.Jaxpr, unknown_in: tuple, instantiate: tuple, name: str):
    """Splits an open ``jaxpr`` by which inputs are unknown, for higher-order primitives (jit,
    cond, scan). It runs the jaxpr under a nested ``PartialEvalTrace``, so inner higher-order
    equations split by their own rules.

    Returns ``(known, known_consts, unknown, unknown_out, res_avals)``: ``known`` (with
    ``known_consts`` as its leading inputs) maps the known inputs to the known outputs followed
    by the residuals; ``unknown`` maps the residuals, then the unknown inputs, to the unknown
    outputs. An output is unknown when it depends on an unknown input or ``instantiate`` asks
    for it. Memoised on the jaxpr object.
    """
    found = {}

    def known_fn(*known_vals):
        trace = PartialEvalTrace(core.current_trace(), name)
        try:
            it = iter(known_vals)
            ins = [trace.new_arg(v.aval) if u else next(it)
                   for v, u in zip(jaxpr.invars, unknown_in)]
            with core.set_current_trace(trace):
                outs = core.eval_jaxpr(jaxpr, (), *ins)
            unknown_out = [trace.is_unknown(o) or i for o, i in zip(outs, instantiate)]
            closed = dce_closed_jaxpr(trace.to_closed_jaxpr(
                [o for o, u in zip(outs, unknown_out) if u]))
        finally:
            trace.invalidate()
        j = closed.jaxpr
        found["unknown"] = core.Jaxpr((), (*j.constvars, *j.invars), j.eqns, j.outvars)
        found["unknown_out"] = tuple(unknown_out)
        found["res_avals"] = tuple(core.get_aval(c) for c in closed.consts)
        return [*[o for o, u in zip(outs, unknown_out) if not u], *closed.consts]

    avals = [v.aval for v, u in zip(jaxpr.invars, unknown_in) if not u]
    known, known_consts = trace_to_open_jaxpr(known_fn, avals, name)
    return (known, tuple(known_consts), found["unknown"], found["unknown_out"],
            found["res_avals"])
