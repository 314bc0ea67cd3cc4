"""Partial evaluation: run what is known now, stage what is unknown into a jaxpr.

``PartialEvalTrace`` is a staging trace that stages only operations touching one of its own
(unknown) tracers; operations on known values are bound in the parent trace, so they are
evaluated eagerly, or staged into an enclosing jit. Known values used by staged equations
become the jaxpr's constvars: the *residuals* of linearization.

Equations are recorded in execution order, which is already a topological order, so unlike a
recipe graph no sort is needed; ``dce_jaxpr`` then drops what the outputs do not use.
"""
from __future__ import annotations

from collections.abc import Callable

from funcgrad import core
from funcgrad.transforms.staging import StagingTrace, StagingTracer

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
