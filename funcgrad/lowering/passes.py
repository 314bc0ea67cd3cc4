"""Jaxpr -> jaxpr simplifications run before fusion: inlining of call primitives, identity
forwarding, folding of scalar literal-only equations, CSE and DCE.

Each pass is a small interpreter over the equations with a substitution env (Var -> Atom).
"""
from __future__ import annotations

import numpy as np

from funcgrad import core, pretty

# Call primitives whose ``jaxpr`` param (open; consts are leading invars) is inlined.
CALL_PRIMITIVES = frozenset({"jit", "custom_jvp_call", "custom_vjp_call", "remat"})
# Primitives that return their operand unchanged (outputs are copied at the boundary anyway).
IDENTITY_PRIMITIVES = frozenset({"stop_gradient", "copy"})


def simplify(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """The standard pipeline: inline, forward identities and fold, CSE, DCE."""
    jaxpr = inline_calls(jaxpr)
    jaxpr = forward_and_fold(jaxpr)
    jaxpr = cse(jaxpr)
    jaxpr = dce(jaxpr)
    jaxpr = outer_products(jaxpr)
    return transposed_products(jaxpr)


def _subst(env, a):
    return a if type(a) is core.Literal else env.get(a, a)


def _inlinable(eqn) -> bool:
    if eqn.prim.name not in CALL_PRIMITIVES:
        return False
    inner = eqn.params.get("jaxpr")
    return type(inner) is core.Jaxpr and not inner.constvars and \
        len(inner.invars) == len(eqn.invars)


def inline_calls(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """Replaces every call-primitive equation by the equations of its body (recursively)."""
    if not any(_inlinable(e) for e in jaxpr.eqns):
        return jaxpr
    env: dict = {}
    eqns: list = []
    _inline_into(jaxpr.eqns, env, eqns, rename=False)
    outvars = [_subst(env, a) for a in jaxpr.outvars]
    return core.Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars, jaxpr.debug_info)


def _inline_into(src_eqns, env, out_eqns, rename: bool):
    for eqn in src_eqns:
        invars = [_subst(env, a) for a in eqn.invars]
        if _inlinable(eqn):
            inner = eqn.params["jaxpr"]
            # A body may be shared by several call sites: give its variables fresh names here.
            inner_env = dict(zip(inner.invars, invars))
            _inline_into(inner.eqns, inner_env, out_eqns, rename=True)
            for v, a in zip(eqn.outvars, inner.outvars):
                env[v] = _subst(inner_env, a)
            continue
        if rename:
            outvars = [core.Var(v.aval, v.suffix) for v in eqn.outvars]
            env.update(zip(eqn.outvars, outvars))
        else:
            outvars = eqn.outvars
        out_eqns.append(eqn.replace(invars=tuple(invars), outvars=tuple(outvars)))


def forward_and_fold(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """Forwards identity equations to their operand, and folds equations whose operands are all
    literals and whose outputs are scalars into literals."""
    env: dict = {}
    eqns = []
    for eqn in jaxpr.eqns:
        invars = [_subst(env, a) for a in eqn.invars]
        ident = _identity_operand(eqn)
        if ident is not None:
            env[eqn.outvars[0]] = invars[ident]
            continue
        if invars and all(type(a) is core.Literal for a in invars) and \
                all(v.aval.shape == () for v in eqn.outvars) and \
                eqn.prim.name not in CALL_PRIMITIVES:
            lits = _fold(eqn, invars)
            if lits is not None:
                env.update(zip(eqn.outvars, lits))
                continue
        eqns.append(eqn if invars == list(eqn.invars) else eqn.replace(invars=tuple(invars)))
    outvars = [_subst(env, a) for a in jaxpr.outvars]
    return core.Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars, jaxpr.debug_info)


def _identity_operand(eqn):
    """The index of the operand an equation returns unchanged, or None."""
    name = eqn.prim.name
    if len(eqn.outvars) != 1 or not eqn.invars:
        return None
    out, x = eqn.outvars[0].aval, eqn.invars[0].aval
    if out.shape != x.shape or out.dtype != x.dtype:
        return None
    if name in IDENTITY_PRIMITIVES or name in ("convert_element_type", "reshape"):
        return 0
    if name == "broadcast_in_dim" and eqn.params["broadcast_dimensions"] == tuple(range(x.ndim)):
        return 0
    if name == "transpose" and eqn.params["permutation"] == tuple(range(x.ndim)):
        return 0
    if name in ("squeeze", "expand_dims") or (name.startswith("reduce_")
                                              and eqn.params.get("axes") == ()):
        return 0
    return None


def _fold(eqn, lits):
    try:
        with np.errstate(all="ignore"):
            out = eqn.prim.impl(*[lt.val for lt in lits], **eqn.params)
    except Exception:  # leave it to run time, where the error surfaces with its context
        return None
    outs = out if eqn.prim.multiple_results else [out]
    res = []
    for v, o in zip(eqn.outvars, outs):
        o = np.asarray(o)
        if o.shape != () or o.dtype != v.aval.dtype:
            return None
        res.append(core.Literal(o[()], v.aval))
    return res


def _atom_key(a):
    if type(a) is core.Literal:
        return ("lit", pretty.pp_literal(a), a.aval.weak_type)
    return a


def cse(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """Merges equations with the same primitive, params and operands."""
    env: dict = {}
    seen: dict = {}
    eqns = []
    for eqn in jaxpr.eqns:
        invars = tuple(_subst(env, a) for a in eqn.invars)
        key = (eqn.prim, tuple(map(_atom_key, invars)),
               tuple((k, pretty.pp_param(v)) for k, v in sorted(eqn.params.items())))
        prev = seen.get(key)
        if prev is not None and [v.aval for v in prev.outvars] == \
                [v.aval for v in eqn.outvars]:
            env.update(zip(eqn.outvars, prev.outvars))
            continue
        eqn = eqn if invars == eqn.invars else eqn.replace(invars=invars)
        seen[key] = eqn
        eqns.append(eqn)
    outvars = [_subst(env, a) for a in jaxpr.outvars]
    return core.Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars, jaxpr.debug_info)


def outer_products(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """A ``dot_general`` that contracts nothing is a broadcast multiply: it becomes two
    ``broadcast_in_dim`` and a ``mul``, which fuse into a kernel (a per-example gradient
    ``delta[:, None] * x`` otherwise runs as a batched BLAS call on 1x1 matrices)."""
    from funcgrad.primitives import elementwise as ew
    from funcgrad.primitives import structural as st
    eqns, changed = [], False
    for eqn in jaxpr.eqns:
        new = _outer_product(eqn, ew, st) if eqn.prim.name == "dot_general" else None
        if new is None:
            eqns.append(eqn)
        else:
            eqns.extend(new)
            changed = True
    if not changed:
        return jaxpr
    return core.Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, jaxpr.outvars, jaxpr.debug_info)


def _outer_product(eqn, ew, st):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    pet = eqn.params["preferred_element_type"]
    lhs, rhs = eqn.invars
    out = eqn.outvars[0]
    if lc or rc or lhs.aval.dtype != out.aval.dtype or lhs.aval.dtype.kind == "b" or (
            pet is not None and np.dtype(pet) != lhs.aval.dtype):
        return None
    nb = len(lb)
    lfree = [d for d in range(lhs.aval.ndim) if d not in lb]
    rfree = [d for d in range(rhs.aval.ndim) if d not in rb]
    ldims = [0] * lhs.aval.ndim
    for j, d in enumerate(lb):
        ldims[d] = j
    for j, d in enumerate(lfree):
        ldims[d] = nb + j
    rdims = [0] * rhs.aval.ndim
    for j, d in enumerate(rb):
        rdims[d] = j
    for j, d in enumerate(rfree):
        rdims[d] = nb + len(lfree) + j
    if ldims != sorted(set(ldims)) or rdims != sorted(set(rdims)):
        return None  # the operand's axes are not in output order: keep the library call
    shape = out.aval.shape
    new_eqns, operands = [], []
    for x, dims in ((lhs, ldims), (rhs, rdims)):
        if tuple(x.aval.shape) == tuple(shape) and dims == list(range(len(shape))):
            operands.append(x)
            continue
        b = core.Var(core.ShapedArray(shape, x.aval.dtype, x.aval.weak_type))
        new_eqns.append(core.Eqn(st.broadcast_in_dim_p, [x], [b],
                                 dict(shape=tuple(shape), broadcast_dimensions=tuple(dims)),
                                 eqn.source))
        operands.append(b)
    new_eqns.append(core.Eqn(ew.mul_p, operands, [out], {}, eqn.source))
    return new_eqns


def transposed_products(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """``transpose(dot_general(a, b))`` of a matrix product (one free dimension per operand, no
    batch dimensions), when the product has no other use, becomes ``dot_general(b, a)``: the
    product is computed in the layout its readers want (a weight gradient ``x.T @ delta``
    otherwise reaches the optimizer's update kernel as a strided, transposed read)."""
    uses: dict = {}
    for eqn in jaxpr.eqns:
        for a in eqn.invars:
            if type(a) is core.Var:
                uses[a] = uses.get(a, 0) + 1
    for a in jaxpr.outvars:
        if type(a) is core.Var:
            uses[a] = uses.get(a, 0) + 1
    producer = {e.outvars[0]: e for e in jaxpr.eqns if e.prim.name == "dot_general"}
    swapped, drop, changed = {}, set(), False
    for eqn in jaxpr.eqns:
        if eqn.prim.name != "transpose" or tuple(eqn.params.get("permutation", ())) != (1, 0):
            continue
        src = eqn.invars[0]
        dot = producer.get(src) if type(src) is core.Var else None
        if dot is None or uses.get(src) != 1:
            continue
        (lc, rc), (lb, rb) = dot.params["dimension_numbers"]
        lhs, rhs = dot.invars
        if lb or rb or lhs.aval.ndim - len(lc) != 1 or rhs.aval.ndim - len(rc) != 1:
            continue
        params = dict(dot.params, dimension_numbers=((tuple(rc), tuple(lc)), ((), ())))
        swapped[eqn] = dot.replace(invars=(rhs, lhs), outvars=eqn.outvars, params=params)
        drop.add(dot)
        changed = True
    if not changed:
        return jaxpr
    # The new product takes the transpose's place (its operands are defined before both).
    eqns = [swapped.get(e, e) for e in jaxpr.eqns if e not in drop]
    return core.Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, jaxpr.outvars, jaxpr.debug_info)


def dce(jaxpr: core.Jaxpr) -> core.Jaxpr:
    """Drops equations none of whose outputs is used (every primitive is pure)."""
    live = {a for a in jaxpr.outvars if type(a) is core.Var}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(a for a in eqn.invars if type(a) is core.Var)
    if len(kept) == len(jaxpr.eqns):
        return jaxpr
    return core.Jaxpr(jaxpr.constvars, jaxpr.invars, kept[::-1], jaxpr.outvars,
                      jaxpr.debug_info)
