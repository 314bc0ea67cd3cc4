"""Transposition of linear jaxprs: the backward pass of reverse mode.

A linear jaxpr (from ``linearize``) maps tangents to tangents; every equation in it has at
least one linear input. ``backward_pass`` walks the equations in reverse, calling
``rules[prim](ct, *args, **params)`` with ``UndefPrimal(aval)`` for linear inputs, accumulates
fan-out with ``add_any`` and skips symbolic zeros. It binds primitives, so under jit the
backward pass is staged and under an outer grad it is differentiated.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from funcgrad import core
from funcgrad.core import Literal, ShapedArray
from funcgrad.transforms.jvp import Zero, add_tangents, missing_rule_error

# prim -> rule(ct, *args, **params) -> one cotangent (or None/Zero) per argument; linear
# arguments are UndefPrimal.
rules: dict[core.Primitive, Callable] = {}


class UndefPrimal:
    """Marks a linear input of an equation being transposed."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"UndefPrimal({self.aval.str_short()})"


def is_undefined(x) -> bool:
    return type(x) is UndefPrimal


def backward_pass(jaxpr: core.Jaxpr, consts: Sequence, cts_out: Sequence,
                  args: Sequence | None = None) -> list:
    """Cotangents of ``jaxpr``'s invars given cotangents of its outvars (``Zero`` allowed).

    ``args`` gives, per invar, either a known value or ``UndefPrimal`` (a linear input); by
    default every invar is linear. Equations with no linear input (the recomputed primal part
    of a rematerialised jaxpr, say) are evaluated forwards first; the rest are transposed.
    """
    known = dict(zip(jaxpr.constvars, consts))
    if args is not None:
        known.update((v, a) for v, a in zip(jaxpr.invars, args) if not is_undefined(a))
    ct_env: dict[core.Var, object] = {}

    def add_ct(v, ct):
        if type(v) is Literal or ct is None or type(ct) is Zero:
            return
        ct_env[v] = add_tangents(ct_env[v], ct) if v in ct_env else ct

    def read(v):
        if type(v) is Literal:
            return v.val
        if v in known:
            return known[v]
        return UndefPrimal(v.aval)

    linear_eqns = []
    for eqn in jaxpr.eqns:
        if any(type(v) is not Literal and v not in known for v in eqn.invars):
            linear_eqns.append(eqn)
            continue
        outs = eqn.prim.bind(*[read(v) for v in eqn.invars], **eqn.params)
        known.update(zip(eqn.outvars, outs if eqn.prim.multiple_results else [outs]))

    for v, ct in zip(jaxpr.outvars, cts_out):
        add_ct(v, ct)
    for eqn in reversed(linear_eqns):
        cts = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(c is None for c in cts):
            continue
        if eqn.prim.multiple_results:
            cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outvars, cts)]
        else:
            cts = cts[0]
        rule = rules.get(eqn.prim)
        if rule is None:
            raise missing_rule_error("transpose", eqn.prim)
        args_ = [read(v) for v in eqn.invars]
        cts_in = rule(cts, *args_, **eqn.params)
        for v, a, ct in zip(eqn.invars, args_, cts_in):
            if is_undefined(a):
                add_ct(v, ct)
    return [ct_env.get(v, Zero(v.aval)) if type(v) is not Literal else Zero(v.aval)
            for v in jaxpr.invars]


# ------------------------------------------------------------------------ rule constructors

def deflinear(prim, transpose_rule):
    """Registers both the jvp (``prim`` applied to tangents) and the transpose of a primitive
    linear in all its operands. ``transpose_rule(ct, *args, **params)`` returns cotangents."""
    from funcgrad.transforms import jvp
    jvp.deflinear(prim)
    rules[prim] = transpose_rule


def linear_transpose_unary(transpose_fn):
    """Transpose rule of a unary linear primitive: ``ct -> [transpose_fn(ct, aval, **p)]``."""
    def rule(ct, x, **params):
        if type(ct) is Zero:
            return [Zero(x.aval)]
        return [transpose_fn(ct, x.aval, **params)]
    return rule
