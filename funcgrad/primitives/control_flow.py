"""Traced control flow: ``cond``/``switch``, ``scan``, ``while_loop``, ``fori_loop`` and ``map``.

Branches and bodies are traced once, on the operands' abstract values, to open jaxprs whose
captured values are leading inputs (consts travel as operands). Three primitives carry them:

* ``cond(index, *args, branches)``: runs ``branches[index]``; every branch takes all ``args``
  (the consts of all branches joined, then the operands), so one binder list serves them all.
* ``scan(*consts, *init, *xs, jaxpr, num_consts, num_carry, length, reverse)``: the body maps
  ``(consts, carry, x) -> (carry, y)``; the ``y``s are stacked along a new leading axis.
* ``while(*cond_consts, *body_consts, *init, cond_jaxpr, body_jaxpr, ...)``.

Every transformation rule transforms the inner jaxprs (traced once per pattern and cached) and
binds the primitive again, so the loops stay loops under jvp, linearize/grad, vmap and jit.

Running: the ``impl`` loops (or branches) in Python over the body's compiled ``Executable``.
Inside a jit-compiled driver the body is compiled with the default backend, so a jitted loop is
a driver-level loop over one compiled body, never unrolled. Called eagerly, the body runs on
the ``interpret`` backend instead: a small eager body would otherwise pay a Numba compile
(about a second) to save microseconds per step.
"""
from __future__ import annotations

import functools

import numpy as np

from funcgrad import core, dtypes, errors, pretty, source_info, tree_util
from funcgrad.core import Primitive, ShapedArray, Var
from funcgrad.transforms import jvp as _ad
from funcgrad.transforms import partial_eval as _pe
from funcgrad.transforms import transpose as _tr
from funcgrad.transforms import vmap as _vm
from funcgrad.transforms.staging import StagingTrace, trace_to_open_jaxpr

Zero = _ad.Zero

# ------------------------------------------------------------------------------------------
# Shared helpers


def _executable(jaxpr: core.Jaxpr):
    """The body's executable: compiled for the backend of the compiled driver running this
    equation, else (eager) interpreted: a compile costs about a second, which a small eager
    body never earns back."""
    from funcgrad.lowering import numba_cpu
    from funcgrad.transforms import jit as _jit
    return _jit._executable(jaxpr, numba_cpu.driver_backend.get() or "interpret")


def _sig(tree, avals) -> str:
    """A readable signature: the pytree with each leaf shown as its short aval."""
    return str(tree_util.tree_unflatten(tree, [a.str_short() for a in avals])).replace("'", "")


def _same_types(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype
                                    for x, y in zip(a, b))


def _strong(aval: ShapedArray) -> ShapedArray:
    return ShapedArray(aval.shape, aval.dtype, False)


def _trace_fun(fun, in_tree, avals, name):
    """Traces ``fun`` (on pytree arguments) to ``(open jaxpr, consts, out_tree)``."""
    out_trees = []

    def flat(*leaves):
        out = fun(*tree_util.tree_unflatten(in_tree, leaves))
        out_leaves, t = tree_util.tree_flatten(out)
        out_trees.append(t)
        return [core.canonicalize_scalar(x) for x in out_leaves]
    jaxpr, consts = trace_to_open_jaxpr(flat, avals, name)
    return jaxpr, consts, out_trees[0]


def _flatten_operands(tree):
    leaves, treedef = tree_util.tree_flatten(tree)
    leaves = [core.canonicalize_scalar(x) for x in leaves]
    return leaves, treedef, [core.get_aval(x) for x in leaves]


def _join(jaxprs_and_leads):
    """Jaxprs with leading inputs of their own (consts, residuals) rewritten to all take every
    leading input, in order, followed by their shared remaining inputs."""
    lead_avals = [[core.get_aval(c) if not isinstance(c, ShapedArray) else c for c in lead]
                  for _, lead in jaxprs_and_leads]
    out = []
    for i, (j, lead) in enumerate(jaxprs_and_leads):
        n = len(lead)
        before = [Var(a) for avals in lead_avals[:i] for a in avals]
        after = [Var(a) for avals in lead_avals[i + 1:] for a in avals]
        out.append(core.Jaxpr((), [*before, *j.invars[:n], *after, *j.invars[n:]], j.eqns,
                              j.outvars, j.debug_info))
    return tuple(out)


def _reorder(jaxpr, invars=None, outvars=None):
    return core.Jaxpr((), jaxpr.invars if invars is None else invars, jaxpr.eqns,
                      jaxpr.outvars if outvars is None else outvars, jaxpr.debug_info)


def _eval(jaxpr):
    return lambda *a: core.eval_jaxpr(jaxpr, (), *a)


def _pick(xs, mask, want=True):
    return [x for x, m in zip(xs, mask) if m == want]


def _merge(mask, if_true, if_false):
    t, f = iter(if_true), iter(if_false)
    return [next(t) if m else next(f) for m in mask]


def _zeros(aval):
    return _ad.zeros_like_aval(aval)


def _jvp_jaxpr(jaxpr, nonzeros: tuple, instantiate: tuple):
    return _ad.jvp_jaxpr(jaxpr, nonzeros, instantiate, "jvp(control flow)")


def _pe_jaxpr(jaxpr, unknown_in: tuple, instantiate: tuple):
    return _pe.partial_eval_jaxpr(jaxpr, unknown_in, instantiate, "partial_eval(control flow)")


@functools.lru_cache(maxsize=1024)
def _batch_jaxpr(jaxpr, in_batched: tuple, size: int, force: tuple):
    """Batches ``jaxpr`` (batched inputs and outputs at dim 0); an output is batched when it
    depends on a batched input or ``force`` asks for it. Returns (jaxpr, consts, out_batched)."""
    out_batched = []

    def f(*xs):
        trace = _vm.BatchTrace(core.current_trace(), size)
        trace.transform_name = "vmap(control flow)"
        tracers = [_vm.BatchTracer(trace, x, 0) if b else x for x, b in zip(xs, in_batched)]
        try:
            with core.set_current_trace(trace):
                outs = core.eval_jaxpr(jaxpr, (), *tracers)
            vals, dims = zip(*[trace.to_val_dim(o) for o in outs]) if outs else ((), ())
        finally:
            trace.invalidate()
        out_batched[:] = [d is not None or fb for d, fb in zip(dims, force)]
        return [_vm.matchaxis(v, d, 0, size) if b else v
                for v, d, b in zip(vals, dims, out_batched)]
    avals = []
    for v, b in zip(jaxpr.invars, in_batched):
        a = v.aval
        avals.append(ShapedArray((size, *a.shape), a.dtype, a.weak_type) if b else a)
    new, consts = trace_to_open_jaxpr(f, avals, "vmap(control flow)")
    return new, tuple(consts), tuple(out_batched)


def _backward_cts(jaxpr, args, cts):
    """Cotangents of the inputs of ``jaxpr`` (zeros instantiated for the linear ones)."""
    cts_in = _tr.backward_pass(jaxpr, (), cts, args=args)
    return [(_ad.instantiate(ct) if ct is not None else _zeros(v.aval))
            if _tr.is_undefined(a) else None for v, a, ct in zip(jaxpr.invars, args, cts_in)]


@functools.lru_cache(maxsize=1024)
def _transpose_jaxpr(jaxpr, undefined: tuple, ct_zero: tuple):
    """``(known inputs, nonzero cotangents) -> cotangents of every linear input``."""
    n_known = undefined.count(False)

    def f(*xs):
        known, cts = iter(xs[:n_known]), iter(xs[n_known:])
        args = [_tr.UndefPrimal(v.aval) if u else next(known)
                for v, u in zip(jaxpr.invars, undefined)]
        cts_out = [Zero(a.aval.to_tangent_aval()) if z else next(cts)
                   for a, z in zip(jaxpr.outvars, ct_zero)]
        return _pick(_backward_cts(jaxpr, args, cts_out), undefined)
    avals = [v.aval for v, u in zip(jaxpr.invars, undefined) if not u]
    avals += [a.aval.to_tangent_aval() for a, z in zip(jaxpr.outvars, ct_zero) if not z]
    new, consts = trace_to_open_jaxpr(f, avals, "transpose(control flow)")
    return new, tuple(consts)


def _pp_eqn_with(eqn, names, header: str, jaxprs: dict):
    lhs = " ".join(names.binder(v) for v in eqn.outvars) or "_"
    rhs = " ".join(names(a) for a in eqn.invars)
    lines = [f"{lhs} = {header} {rhs}".rstrip()]
    for label, j in jaxprs.items():
        body = pretty.pp_jaxpr(j).replace("\n", "\n      ")
        lines.append(f"    {label}: {body}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# cond / switch


def _cond_impl(index, *args, branches):
    i = min(max(int(index), 0), len(branches) - 1)
    return _executable(branches[i])(*args)


def _check_inputs(op, jaxpr, avals):
    if not _same_types(jaxpr.in_avals, avals):
        raise errors.shape_error(op, "internal: the body takes ("
                                 f"{', '.join(a.str_short() for a in jaxpr.in_avals)}) but is "
                                 f"applied to ({', '.join(a.str_short() for a in avals)}).",
                                 "this is a bug in a transformation rule; please report it.")


def _cond_abstract_eval(index, *args, branches):
    if index.shape != () or index.dtype not in dtypes.INTS:
        raise errors.dtype_error("cond", f"the branch index must be an integer scalar, got "
                                 f"{index.str_short()}.")
    for br in branches:
        _check_inputs("cond", br, args)
    outs = [br.out_avals for br in branches]
    return [ShapedArray(a.shape, a.dtype, all(o[k].weak_type for o in outs))
            for k, a in enumerate(outs[0])]


cond_p = Primitive("cond", impl=_cond_impl, abstract_eval=_cond_abstract_eval,
                   multiple_results=True)


def _check_predicate(op, what, x, allow_bool: bool):
    aval = core.get_aval(x)
    kinds = "a boolean or integer" if allow_bool else "an integer"
    if aval.shape != ():
        raise errors.shape_error(op, f"the {what} must be a scalar, got {aval.str_short()}.",
                                 "reduce it to one value (e.g. fnp.all), or use "
                                 "fnp.where for elementwise selection.")
    ok = aval.dtype in dtypes.INTS or (allow_bool and aval.dtype == dtypes.bool_)
    if not ok:
        raise errors.dtype_error(op, f"the {what} must be {kinds} scalar, got "
                                 f"{aval.str_short()}.", "compare to get a boolean, e.g. x > 0.")
    return aval


def _promote_weak_outputs(traced, funs, in_tree, avals, op):
    """Weakly typed branch outputs (Python scalars) take the dtype the other branches agree
    on, as in JAX; the branches that need it are traced again with a cast."""
    trees = {t for _, _, t in traced}
    outs = [j.out_avals for j, _, _ in traced]
    if len(trees) != 1 or len({len(o) for o in outs}) != 1:
        return traced
    targets = []
    for k in range(len(outs[0])):
        strong = {(o[k].shape, o[k].dtype) for o in outs if not o[k].weak_type}
        targets.append(strong.pop()[1] if len(strong) == 1 else None)

    def cast(fun, casts):
        from funcgrad.primitives import elementwise as el

        def f(*args):
            leaves, tree = tree_util.tree_flatten(fun(*args))
            leaves = [el.convert_element_type(x, dt) if dt is not None else x
                      for x, dt in zip(leaves, casts)]
            return tree_util.tree_unflatten(tree, leaves)
        return f
    new = []
    for (j, c, t), fun, o in zip(traced, funs, outs):
        casts = [dt if a.weak_type and dt is not None and a.dtype != dt else None
                 for a, dt in zip(o, targets)]
        if any(dt is not None for dt in casts):
            j, c, t = _trace_fun(cast(fun, casts), in_tree, avals,
                                 f"{op}({source_info.fun_name(fun)})")
        new.append((j, c, t))
    return new


def _bind_branches(op, index, funs, operands):
    leaves, in_tree, avals = _flatten_operands(operands)
    traced = [_trace_fun(f, in_tree, avals, f"{op}({source_info.fun_name(f)})") for f in funs]
    traced = _promote_weak_outputs(traced, funs, in_tree, avals, op)
    j0, _, t0 = traced[0]
    for k, (j, _, t) in enumerate(traced[1:], 1):
        if t != t0 or not _same_types(j.out_avals, j0.out_avals):
            first, other = ("true_fun", "false_fun") if op == "cond" else \
                ("branches[0]", f"branches[{k}]")
            if op == "cond":  # branches are (false_fun, true_fun)
                j0, t0, j, t = j, t, j0, t0
            raise errors.shape_error(
                op, f"the branches must return the same structure, shapes and dtypes: "
                f"{first} returns {_sig(t0, j0.out_avals)} but {other} returns "
                f"{_sig(t, j.out_avals)}.",
                "make every branch return the same pytree of arrays with equal shapes and "
                "dtypes (cast with .astype, or broadcast explicitly).")
    branches = _join([(j, c) for j, c, _ in traced])
    consts = [c for _, cs, _ in traced for c in cs]
    outs = cond_p.bind(index, *consts, *leaves, branches=branches)
    return tree_util.tree_unflatten(t0, outs)


def cond(pred, true_fun, false_fun, *operands):
    """Runs ``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one traced
    operation: both branches are traced (to jaxprs on the operands' shapes), only one runs.

    Args:
      pred: a boolean or integer scalar (nonzero means true); may be traced.
      true_fun, false_fun: functions of ``operands`` returning pytrees of arrays with the same
        structure, shapes and dtypes.
      *operands: pytrees of arrays passed to the branch taken.

    Returns:
      The taken branch's output.

    Differentiable in forward and reverse mode (the cotangent flows through the taken branch);
    under ``vmap`` with a batched ``pred`` both branches run and the results are selected.
    A concrete Python ``pred`` still builds the ``cond`` primitive (as JAX does), so the branches
    are type-checked against each other either way.

    Example:
        >>> from funcgrad import lax
        >>> lax.cond(3.0 > 0, lambda v: v * 2.0, lambda v: -v, 3.0)
        Array(6., dtype=float32, weak_type=True)

    See also: ``switch``, ``funcgrad.numpy.where``.
    """
    from funcgrad.primitives import elementwise as el
    pred = core.canonicalize_scalar(pred)
    aval = _check_predicate("cond", "predicate", pred, allow_bool=True)
    if aval.dtype != dtypes.bool_:
        pred = el.convert_element_type(pred, np.bool_)
    index = el.convert_element_type(pred, np.int32)
    return _bind_branches("cond", index, (false_fun, true_fun), operands)


def switch(index, branches, *operands):
    """Runs ``branches[index](*operands)``, with ``index`` clamped into ``[0, len(branches))``.

    Args:
      index: an integer scalar; may be traced.
      branches: a sequence of functions of ``operands`` returning the same pytree type.
      *operands: pytrees of arrays passed to the branch taken.

    Returns:
      The taken branch's output.

    Example:
        >>> from funcgrad import lax
        >>> lax.switch(5, [lambda v: v, lambda v: v * 2.0], 3.0)   # index clamped to 1
        Array(6., dtype=float32, weak_type=True)

    See also: ``cond``.
    """
    from funcgrad.primitives import elementwise as el
    branches = tuple(branches)
    if not branches:
        raise ValueError(errors.message("switch", "branches is empty.",
                                        "give at least one branch.", ValueError))
    index = core.canonicalize_scalar(index)
    _check_predicate("switch", "index", index, allow_bool=False)
    if not isinstance(index, core.Tracer):
        i = int(np.clip(int(core.to_numpy(index)), 0, len(branches) - 1))
        index = np.int32(i)
    else:
        index = el.convert_element_type(index, np.int32)
        index = el.clamp(np.int32(0), index, np.int32(len(branches) - 1))
    return _bind_branches("switch", index, branches, operands)


def _cond_jvp(primals, tangents, *, branches):
    index, args = primals[0], primals[1:]
    nz = tuple(type(t) is not Zero for t in tangents[1:])
    n_out = len(branches[0].outvars)
    out_nz = [False] * n_out
    for br in branches:
        kept = _jvp_jaxpr(br, nz, (False,) * n_out)[2]
        out_nz = [a or b for a, b in zip(out_nz, kept)]
    new = [_jvp_jaxpr(br, nz, tuple(out_nz)) for br in branches]
    jaxprs = _join([(j, c) for j, c, _ in new])
    consts = [c for _, cs, _ in new for c in cs]
    nz_t = [t for t in tangents[1:] if type(t) is not Zero]
    outs = cond_p.bind(index, *consts, *args, *nz_t, branches=jaxprs)
    t_out = _merge(out_nz, outs[n_out:],
                   [Zero(a.to_tangent_aval()) for a in branches[0].out_avals])
    return outs[:n_out], t_out


def _cond_partial_eval(trace, args, params):
    branches = params["branches"]
    index, ops = args[0], args[1:]
    if trace.is_unknown(index):
        return StagingTrace.process_primitive(trace, cond_p, args, params)
    if not isinstance(index, core.Tracer):  # known now: only the taken branch is linearized
        i = min(max(int(core.to_numpy(index)), 0), len(branches) - 1)
        with core.set_current_trace(trace):
            return core.eval_jaxpr(branches[i], (), *ops)
    unknown_in = tuple(trace.is_unknown(a) for a in ops)
    n_out = len(branches[0].outvars)
    uk = [False] * n_out
    for br in branches:
        uk = [a or b for a, b in zip(uk, _pe_jaxpr(br, unknown_in, (False,) * n_out)[3])]
    splits = [_pe_jaxpr(br, unknown_in, tuple(uk)) for br in branches]
    n_known_out = uk.count(False)

    # Known branches all return every branch's residuals: their own, and zeros for the others.
    known_traced = []
    for i, (known, kconsts, _, _, _) in enumerate(splits):
        def f(*xs, known=known, i=i):
            outs = core.eval_jaxpr(known, (), *xs)
            res = []
            for j, s in enumerate(splits):
                res += outs[n_known_out:] if j == i else [_zeros(a) for a in s[4]]
            return [*outs[:n_known_out], *res]
        j, c = trace_to_open_jaxpr(f, known.in_avals, "partial_eval(cond)")
        known_traced.append((j, [*c, *kconsts]))
    known_jaxprs = _join(known_traced)
    known_consts = [c for _, cs in known_traced for c in cs]
    with core.set_current_trace(trace.parent):
        kouts = cond_p.bind(index, *known_consts, *_pick(ops, unknown_in, False),
                            branches=known_jaxprs)
    known_outs, res = kouts[:n_known_out], kouts[n_known_out:]
    unknown_jaxprs = _join([(s[2], s[4]) for s in splits])
    staged = StagingTrace.process_primitive(
        trace, cond_p, [index, *res, *_pick(ops, unknown_in)], dict(branches=unknown_jaxprs))
    return _merge(uk, staged, known_outs)


def _cond_transpose(cts, index, *args, branches):
    undefined = tuple(_tr.is_undefined(a) for a in args)
    cts = list(cts)
    ct_zero = tuple(type(c) is Zero for c in cts)
    new = [_transpose_jaxpr(br, undefined, ct_zero) for br in branches]
    jaxprs = _join(new)
    consts = [c for _, cs in new for c in cs]
    outs = cond_p.bind(index, *consts, *_pick(args, undefined, False),
                       *[c for c in cts if type(c) is not Zero], branches=jaxprs)
    return [None, *_merge(undefined, outs, [None] * len(args))]


def _cond_vmap(vals, dims, *, branches):
    from funcgrad.primitives import elementwise as el
    from funcgrad.primitives import structural as st
    size = _vm.batch_size(vals, dims)
    index, idim = vals[0], dims[0]
    args = [_vm.bdim_at_front(a, d, size) if d is not None else a
            for a, d in zip(vals[1:], dims[1:])]
    in_b = tuple(d is not None for d in dims[1:])
    n_out = len(branches[0].outvars)
    if idim is None:
        out_b = [False] * n_out
        for br in branches:
            out_b = [a or b for a, b in zip(out_b, _batch_jaxpr(br, in_b, size,
                                                                (False,) * n_out)[2])]
        new = [_batch_jaxpr(br, in_b, size, tuple(out_b)) for br in branches]
        jaxprs = _join([(j, c) for j, c, _ in new])
        consts = [c for _, cs, _ in new for c in cs]
        outs = cond_p.bind(index, *consts, *args, branches=jaxprs)
        return outs, [0 if b else None for b in out_b]
    # A batched index: every branch runs on the whole batch and the results are selected.
    results = []
    for br in branches:
        j, c, _ = _batch_jaxpr(br, in_b, size, (True,) * n_out)
        results.append(core.eval_jaxpr(j, (), *c, *args))
    index = _vm.moveaxis(index, idim, 0)
    index = el.clamp(np.int32(0), index, np.int32(len(branches) - 1))
    outs = []
    for k in range(n_out):
        shape = core.get_aval(results[0][k]).shape
        which = st.broadcast_in_dim(index, shape, (0,))
        outs.append(el.select_n(which, *[r[k] for r in results]))
    return outs, [0] * n_out


def _pp_cond(eqn, names):
    return _pp_eqn_with(eqn, names, "cond",
                        {f"branch {i}": j for i, j in enumerate(eqn.params["branches"])})


def _check_inner(eqn):
    """Typechecks the jaxprs an equation carries in its params."""
    for v in eqn.params.values():
        for j in v if isinstance(v, tuple) else (v,):
            if isinstance(j, core.Jaxpr):
                core.check_jaxpr(j)


# ------------------------------------------------------------------------------------------
# scan


def _scan_impl(*args, jaxpr, num_consts, num_carry, length, reverse):
    exe = _executable(jaxpr)
    consts, carry = list(args[:num_consts]), list(args[num_consts:num_consts + num_carry])
    xs = [np.asarray(x) for x in args[num_consts + num_carry:]]
    ys = [np.empty((length, *a.shape), a.dtype) for a in jaxpr.out_avals[num_carry:]]
    for step in range(length):
        i = length - 1 - step if reverse else step
        outs = exe(*consts, *carry, *[x[i] for x in xs])
        carry = outs[:num_carry]
        for y, o in zip(ys, outs[num_carry:]):
            y[i] = o
    return [*carry, *ys]


def _scan_abstract_eval(*avals, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    xs = avals[nc + nk:]
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise errors.shape_error("scan", f"xs {x.str_short()} must have leading "
                                     f"dimension length={length}.")
    slices = [ShapedArray(x.shape[1:], x.dtype, x.weak_type) for x in xs]
    _check_inputs("scan", jaxpr, [*avals[:nc + nk], *slices])
    if not _same_types(jaxpr.out_avals[:nk], jaxpr.in_avals[nc:nc + nk]):
        raise errors.shape_error("scan", "internal: the body's carry changes type.")
    carry = [_strong(a) if not b.weak_type else a
             for a, b in zip(jaxpr.out_avals[:nk], avals[nc:nc + nk])]
    ys = [ShapedArray((length, *a.shape), a.dtype, a.weak_type)
          for a in jaxpr.out_avals[nk:]]
    return [*carry, *ys]


scan_p = Primitive("scan", impl=_scan_impl, abstract_eval=_scan_abstract_eval,
                   multiple_results=True)


def _carry_error(op, in_tree, in_avals, out_tree, out_avals):
    return errors.shape_error(
        op, f"the body must return a carry of the same type as its input carry: input carry "
        f"{_sig(in_tree, in_avals)} but output carry {_sig(out_tree, out_avals)}.",
        "keep the carry's structure, shapes and dtypes fixed across iterations (cast with "
        ".astype; give the initial value the dtype the body produces).")


def _promote_weak_carry(init_leaves, out_tree, init_tree, out_avals):
    """A weakly typed initial carry (from a Python scalar) takes the dtype the body gives it,
    as in JAX; returns the new leaves and whether anything changed."""
    from funcgrad.primitives import elementwise as el
    if out_tree != init_tree:
        return init_leaves, False
    new, changed = [], False
    for x, out in zip(init_leaves, out_avals):
        a = core.get_aval(x)
        if a.weak_type and a.shape == out.shape and a.dtype != out.dtype:
            x, changed = el.convert_element_type(x, out.dtype, weak_type=out.weak_type), True
        new.append(x)
    return new, changed


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loops ``f`` over the leading axis of ``xs`` carrying a state, as one traced operation.

    Semantics (with ``ys`` stacked along a new leading axis)::

        carry = init
        for x in xs:            # reversed(xs) if reverse
            carry, y = f(carry, x)
        return carry, stack(ys)

    Args:
      f: ``(carry, x) -> (carry, y)``; the carry keeps its pytree type (structure, shapes and
        dtypes) across iterations.
      init: the initial carry (a pytree of arrays).
      xs: a pytree of arrays with a common leading length, or None (then ``x`` is None).
      length: the number of iterations; required when ``xs`` is None, else checked.
      reverse: iterate from the last element to the first (``ys`` keep xs's order).
      unroll: accepted for compatibility; the loop always runs one body per iteration.

    Returns:
      ``(final carry, stacked ys)``.

    The body is traced once; under ``jit`` the loop runs in the generated driver over one
    compiled body. Differentiable in both modes (reverse mode stores the residuals of every
    iteration); batches under ``vmap``.

    Example:
        >>> import funcgrad.numpy as fnp
        >>> from funcgrad import lax
        >>> total, cums = lax.scan(lambda c, x: (c + x, c + x), 0.0, fnp.arange(4.0))
        >>> total, cums
        (Array(6., dtype=float32), Array([0., 1., 3., 6.], dtype=float32))

    See also: ``fori_loop``, ``map``, ``while_loop``.
    """
    del unroll
    init_leaves, init_tree, init_avals = _flatten_operands(init)
    xs_leaves, xs_tree, xs_avals = _flatten_operands(xs)
    lengths = {a.shape[0] if a.shape else None for a in xs_avals}
    if None in lengths:
        bad = [a.str_short() for a in xs_avals if not a.shape]
        raise errors.shape_error("scan", f"every leaf of xs needs a leading axis to scan over; "
                                 f"got scalars {bad} in xs {_sig(xs_tree, xs_avals)}.",
                                 "pass per-iteration values as arrays with a leading axis.")
    if len(lengths) > 1:
        raise errors.shape_error("scan", f"the leaves of xs have different leading lengths "
                                 f"{sorted(lengths)}: xs {_sig(xs_tree, xs_avals)}.",
                                 "give every leaf of xs the same leading axis length.")
    if lengths:
        n = lengths.pop()
        if length is not None and int(length) != n:
            raise errors.shape_error("scan", f"length={length} is inconsistent with xs "
                                     f"{_sig(xs_tree, xs_avals)} of leading length {n}.",
                                     "drop length, or make it equal to xs's leading length.")
        length = n
    elif length is None:
        raise ValueError(errors.message("scan", "length is required when xs is None (or has "
                                        "no leaves).", "pass length=number of iterations.",
                                        ValueError))
    length = int(length)
    x_avals = [ShapedArray(a.shape[1:], a.dtype, a.weak_type) for a in xs_avals]
    xs_value = tree_util.tree_unflatten(xs_tree, xs_leaves)

    def trace_body(init_leaves):
        in_tree = tree_util.tree_structure((tree_util.tree_unflatten(init_tree, init_leaves),
                                            xs_value))
        return _trace_fun(lambda c, x: f(c, x), in_tree,
                          [*[core.get_aval(x) for x in init_leaves], *x_avals],
                          f"scan({source_info.fun_name(f)})")
    jaxpr, consts, out_tree = trace_body(init_leaves)
    children = out_tree.children()
    if len(children) != 2 or (out_tree.node_data() or (None,))[0] not in (tuple, list):
        raise errors.shape_error("scan", f"the body must return a pair (carry, y); it returned "
                                 f"{_sig(out_tree, jaxpr.out_avals)}.",
                                 "return (new_carry, y); use None for y if there is none.")
    nk = len(init_leaves)
    init_leaves, retrace = _promote_weak_carry(init_leaves, children[0], init_tree,
                                               jaxpr.out_avals[:children[0].num_leaves])
    if retrace:
        jaxpr, consts, out_tree = trace_body(init_leaves)
    carry_tree, ys_tree = out_tree.children()
    carry_avals = [core.get_aval(x) for x in init_leaves]
    if carry_tree != init_tree or not _same_types(jaxpr.out_avals[:nk], carry_avals):
        raise _carry_error("scan", init_tree, carry_avals, carry_tree,
                           jaxpr.out_avals[:carry_tree.num_leaves])
    outs = scan_p.bind(*consts, *init_leaves, *xs_leaves, jaxpr=jaxpr,
                       num_consts=len(consts), num_carry=nk, length=length,
                       reverse=bool(reverse))
    return (tree_util.tree_unflatten(carry_tree, outs[:nk]),
            tree_util.tree_unflatten(ys_tree, outs[nk:]))


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    n_out = len(jaxpr.outvars)
    nz = [type(t) is not Zero for t in tangents]
    const_nz, carry_nz, xs_nz = nz[:nc], nz[nc:nc + nk], nz[nc + nk:]
    while True:  # fixpoint: a carry tangent is nonzero if any iteration can make it so
        kept = _jvp_jaxpr(jaxpr, tuple(const_nz + carry_nz + xs_nz),
                          tuple(carry_nz + [False] * (n_out - nk)))[2]
        new = [a or b for a, b in zip(carry_nz, kept[:nk])]
        if new == carry_nz:
            break
        carry_nz = new
    j, jconsts, kept = _jvp_jaxpr(jaxpr, tuple(const_nz + carry_nz + xs_nz),
                                  tuple(carry_nz + [False] * (n_out - nk)))
    # The jvp jaxpr takes (consts, primals, tangents): regroup as consts, carry, xs.
    J, n, n_tc, n_tk = len(jconsts), len(jaxpr.invars), sum(const_nz), sum(carry_nz)
    iv, ov = j.invars, j.outvars
    p, t = iv[J:J + n], iv[J + n:]
    body = _reorder(j, [*iv[:J], *p[:nc], *t[:n_tc], *p[nc:nc + nk], *t[n_tc:n_tc + n_tk],
                        *p[nc + nk:], *t[n_tc + n_tk:]],
                    [*ov[:nk], *ov[n_out:n_out + n_tk], *ov[nk:n_out], *ov[n_out + n_tk:]])
    t_consts = [x for x in tangents[:nc] if type(x) is not Zero]
    t_init = [_ad.instantiate(x) for x, z in zip(tangents[nc:nc + nk], carry_nz) if z]
    t_xs = [x for x in tangents[nc + nk:] if type(x) is not Zero]
    outs = scan_p.bind(*jconsts, *primals[:nc], *t_consts, *primals[nc:nc + nk], *t_init,
                       *primals[nc + nk:], *t_xs, jaxpr=body, num_consts=J + nc + n_tc,
                       num_carry=nk + n_tk, length=length, reverse=reverse)
    primal_out = [*outs[:nk], *outs[nk + n_tk:n_out + n_tk]]
    zeros = [Zero(core.get_aval(o).to_tangent_aval()) for o in primal_out]
    t_out = [*_merge(carry_nz, outs[nk:nk + n_tk], zeros[:nk]),
             *_merge(kept[nk:], outs[n_out + n_tk:], zeros[nk:])]
    return primal_out, t_out


def _scan_partial_eval(trace, args, params):
    jaxpr, nc, nk = params["jaxpr"], params["num_consts"], params["num_carry"]
    length, reverse = params["length"], params["reverse"]
    n_out = len(jaxpr.outvars)
    uk = [trace.is_unknown(a) for a in args]
    const_uk, carry_uk, xs_uk = uk[:nc], uk[nc:nc + nk], uk[nc + nk:]
    while True:  # fixpoint: a carry is unknown if any iteration can make it so
        out_uk = _pe_jaxpr(jaxpr, tuple(const_uk + carry_uk + xs_uk),
                           tuple(carry_uk + [False] * (n_out - nk)))[3]
        new = [a or b for a, b in zip(carry_uk, out_uk[:nk])]
        if new == carry_uk:
            break
        carry_uk = new
    unknown_in = const_uk + carry_uk + xs_uk
    known, kconsts, unk, out_uk, res_avals = _pe_jaxpr(
        jaxpr, tuple(unknown_in), tuple(carry_uk + [False] * (n_out - nk)))
    consts, init, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
    n_known_out = out_uk.count(False)
    # Residuals that are loop-invariant inputs (weights, say) are passed to the unknown scan
    # as consts rather than stacked once per iteration.
    known_consts = [*kconsts, *_pick(consts, const_uk, False)]
    position = {v: i for i, v in enumerate(known.invars[:len(known_consts)])}
    res_vars = known.outvars[n_known_out:]
    fwd = [known_consts[position[v]] if type(v) is Var and v in position else None
           for v in res_vars]
    stacked = [f is None for f in fwd]
    known = _reorder(known, outvars=[*known.outvars[:n_known_out], *_pick(res_vars, stacked)])
    with core.set_current_trace(trace.parent):
        kouts = scan_p.bind(*known_consts, *_pick(init, carry_uk, False),
                            *_pick(xs, xs_uk, False), jaxpr=known,
                            num_consts=len(known_consts), num_carry=carry_uk.count(False),
                            length=length, reverse=reverse)
    known_outs, res = kouts[:n_known_out], kouts[n_known_out:]
    # The unknown body takes (residuals, unknown inputs); as a scan, forwarded residuals are
    # consts and the stacked ones are xs.
    R, iv = len(res_avals), unk.invars
    n_uc, n_uk = const_uk.count(True), carry_uk.count(True)
    rest = iv[R:]
    body = _reorder(unk, [*_pick(iv[:R], stacked, False), *rest[:n_uc + n_uk],
                          *_pick(iv[:R], stacked), *rest[n_uc + n_uk:]])
    n_fwd = stacked.count(False)
    staged = StagingTrace.process_primitive(
        trace, scan_p, [*[f for f in fwd if f is not None], *_pick(consts, const_uk),
                        *_pick(init, carry_uk), *res, *_pick(xs, xs_uk)],
        dict(jaxpr=body, num_consts=n_fwd + n_uc, num_carry=n_uk, length=length,
             reverse=reverse))
    return _merge(out_uk, staged, known_outs)


@functools.lru_cache(maxsize=1024)
def _transpose_scan_body(jaxpr, nc, nk, const_lin: tuple, xs_lin: tuple):
    """The body of the transposed scan: (known consts; const-cotangent accumulators, carry
    cotangents; known xs, y cotangents) -> (accumulators, carry cotangents; x cotangents)."""
    n_known_c, n_lin_c = const_lin.count(False), const_lin.count(True)
    n_known_x = xs_lin.count(False)
    ivs = jaxpr.invars

    def f(*vals):
        it = iter(vals)
        kc = [next(it) for _ in range(n_known_c)]
        acc = [next(it) for _ in range(n_lin_c)]
        ct_carry = [next(it) for _ in range(nk)]
        kx = [next(it) for _ in range(n_known_x)]
        ct_ys = list(it)
        args = [*_merge(const_lin, [_tr.UndefPrimal(v.aval) for v in _pick(ivs[:nc],
                                                                             const_lin)], kc),
                *[_tr.UndefPrimal(v.aval) for v in ivs[nc:nc + nk]],
                *_merge(xs_lin, [_tr.UndefPrimal(v.aval) for v in _pick(ivs[nc + nk:],
                                                                          xs_lin)], kx)]
        cts = _backward_cts(jaxpr, args, [*ct_carry, *ct_ys])
        new_acc = [_ad.add_tangents(a, c) for a, c in zip(acc, _pick(cts[:nc], const_lin))]
        return [*new_acc, *cts[nc:nc + nk], *_pick(cts[nc + nk:], xs_lin)]
    avals = [v.aval for v, lin in zip(ivs[:nc], const_lin) if not lin]
    avals += [v.aval for v, lin in zip(ivs[:nc], const_lin) if lin]
    avals += [v.aval for v in ivs[nc:nc + nk]]
    avals += [v.aval for v, lin in zip(ivs[nc + nk:], xs_lin) if not lin]
    avals += [a.aval.to_tangent_aval() for a in jaxpr.outvars[nk:]]
    new, consts = trace_to_open_jaxpr(f, avals, "transpose(scan)")
    return new, tuple(consts)


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    consts, xs = args[:nc], args[nc + nk:]
    const_lin = tuple(_tr.is_undefined(c) for c in consts)
    xs_lin = tuple(_tr.is_undefined(x) for x in xs)
    body, tconsts = _transpose_scan_body(jaxpr, nc, nk, const_lin, xs_lin)
    cts = [_ad.instantiate(c) for c in cts]
    acc0 = [_zeros(c.aval) for c in _pick(consts, const_lin)]
    outs = scan_p.bind(*tconsts, *_pick(consts, const_lin, False), *acc0, *cts[:nk],
                       *_pick(xs, xs_lin, False), *cts[nk:], jaxpr=body,
                       num_consts=len(tconsts) + const_lin.count(False),
                       num_carry=len(acc0) + nk, length=length, reverse=not reverse)
    ct_consts, ct_init, ct_xs = outs[:len(acc0)], outs[len(acc0):len(acc0) + nk], \
        outs[len(acc0) + nk:]
    ct_init = [c if _tr.is_undefined(a) else None for a, c in zip(args[nc:nc + nk], ct_init)]
    return [*_merge(const_lin, ct_consts, [None] * nc), *ct_init,
            *_merge(xs_lin, ct_xs, [None] * len(xs))]


def _scan_vmap(vals, dims, *, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    size = _vm.batch_size(vals, dims)
    n_out = len(jaxpr.outvars)
    b = [d is not None for d in dims]
    const_b, carry_b, xs_b = b[:nc], b[nc:nc + nk], b[nc + nk:]
    while True:
        out_b = _batch_jaxpr(jaxpr, tuple(const_b + carry_b + xs_b), size,
                             tuple(carry_b + [False] * (n_out - nk)))[2]
        new = [x or y for x, y in zip(carry_b, out_b[:nk])]
        if new == carry_b:
            break
        carry_b = new
    body, bconsts, out_b = _batch_jaxpr(jaxpr, tuple(const_b + carry_b + xs_b), size,
                                        tuple(carry_b + [False] * (n_out - nk)))
    consts = [_vm.bdim_at_front(v, d, size) if d is not None else v
              for v, d in zip(vals[:nc], dims[:nc])]
    init = [_vm.bdim_at_front(v, d, size) if cb else v
            for v, d, cb in zip(vals[nc:nc + nk], dims[nc:nc + nk], carry_b)]
    xs = [_vm.moveaxis(v, d, 1) if d is not None else v
          for v, d in zip(vals[nc + nk:], dims[nc + nk:])]
    outs = scan_p.bind(*bconsts, *consts, *init, *xs, jaxpr=body,
                       num_consts=len(bconsts) + nc, num_carry=nk, length=length,
                       reverse=reverse)
    out_dims = [0 if x else None for x in out_b[:nk]] + [1 if x else None for x in out_b[nk:]]
    return outs, out_dims


def _pp_scan(eqn, names):
    p = eqn.params
    return _pp_eqn_with(eqn, names, f"scan[length={p['length']} reverse={p['reverse']} "
                        f"num_consts={p['num_consts']} num_carry={p['num_carry']}]",
                        {"body": p["jaxpr"]})


# ------------------------------------------------------------------------------------------
# while_loop


def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cond_exe, body_exe = _executable(cond_jaxpr), _executable(body_jaxpr)
    cc = args[:cond_nconsts]
    bc = args[cond_nconsts:cond_nconsts + body_nconsts]
    carry = list(args[cond_nconsts + body_nconsts:])
    while cond_exe(*cc, *carry)[0]:
        carry = body_exe(*bc, *carry)
    return carry


def _while_abstract_eval(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    carry = avals[cond_nconsts + body_nconsts:]
    _check_inputs("while_loop", cond_jaxpr, [*avals[:cond_nconsts], *carry])
    _check_inputs("while_loop", body_jaxpr,
                  [*avals[cond_nconsts:cond_nconsts + body_nconsts], *carry])
    if not _same_types(body_jaxpr.out_avals, carry):
        raise errors.shape_error("while_loop", "internal: the body's carry changes type.")
    return [a if b.weak_type else _strong(a) for a, b in zip(body_jaxpr.out_avals, carry)]


while_p = Primitive("while", impl=_while_impl, abstract_eval=_while_abstract_eval,
                    multiple_results=True)


def while_loop(cond_fun, body_fun, init_val):
    """Runs ``body_fun`` on a carried value while ``cond_fun`` of it is true, as one traced
    operation::

        val = init_val
        while cond_fun(val):
            val = body_fun(val)
        return val

    Args:
      cond_fun: ``carry -> bool scalar``.
      body_fun: ``carry -> carry`` of the same pytree type (structure, shapes, dtypes).
      init_val: the initial carry.

    Returns:
      The final carry.

    Forward-mode differentiable (``jvp``, ``jacfwd``) and batchable (a batched predicate runs
    until every example is done, freezing finished ones). Reverse mode is not supported, since
    the number of iterations is not known in advance: use ``scan``, or ``fori_loop`` with
    static bounds.

    Example:
        >>> from funcgrad import lax
        >>> lax.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, 1.0)
        Array(16., dtype=float32, weak_type=True)

    See also: ``fori_loop``, ``scan``.
    """
    leaves, tree, avals = _flatten_operands(init_val)
    bj, bconsts, btree = _trace_fun(body_fun, _single_arg_tree(tree), avals,
                                    f"while_loop({source_info.fun_name(body_fun)})")
    leaves, retrace = _promote_weak_carry(leaves, btree, tree, bj.out_avals)
    avals = [core.get_aval(x) for x in leaves]
    if retrace:
        bj, bconsts, btree = _trace_fun(body_fun, _single_arg_tree(tree), avals,
                                        f"while_loop({source_info.fun_name(body_fun)})")
    cj, cconsts, ctree = _trace_fun(cond_fun, _single_arg_tree(tree), avals,
                                    f"while_loop({source_info.fun_name(cond_fun)})")
    if ctree.num_leaves != 1 or cj.out_avals[0].shape != () or \
            cj.out_avals[0].dtype != dtypes.bool_:
        raise errors.dtype_error(
            "while_loop", f"cond_fun must return a boolean scalar, got "
            f"{_sig(ctree, cj.out_avals)}.", "return a comparison such as `i < n` (reduce "
            "arrays with fnp.all / fnp.any).")
    if btree != tree or not _same_types(bj.out_avals, avals):
        raise _carry_error("while_loop", tree, avals, btree, bj.out_avals)
    outs = while_p.bind(*cconsts, *bconsts, *leaves, cond_jaxpr=cj, body_jaxpr=bj,
                        cond_nconsts=len(cconsts), body_nconsts=len(bconsts))
    return tree_util.tree_unflatten(tree, outs)


def _single_arg_tree(tree):
    """The tree of a one-argument call ``(x,)`` whose argument has structure ``tree``."""
    dummy = tree_util.tree_unflatten(tree, [0] * tree.num_leaves)
    return tree_util.tree_structure((dummy,))


def fori_loop(lower, upper, body_fun, init_val):
    """``for i in range(lower, upper): val = body_fun(i, val)``, as one traced operation.

    With concrete bounds (Python or NumPy integers) this is a ``scan`` of ``upper - lower``
    steps, so it is differentiable in reverse mode; with traced bounds it is a ``while_loop``
    (forward mode only).

    Args:
      lower, upper: integer loop bounds.
      body_fun: ``(i, val) -> val`` with ``val`` keeping its pytree type; ``i`` is int32.
      init_val: the initial value.

    Returns:
      The final value.

    Example:
        >>> from funcgrad import lax
        >>> lax.fori_loop(0, 5, lambda i, v: v + i, 0.0)
        Array(10., dtype=float32, weak_type=True)

    See also: ``scan``, ``while_loop``.
    """
    static = all(isinstance(b, (int, np.integer)) and not isinstance(b, bool)
                 for b in (lower, upper))
    if static:
        lo, n = int(lower), max(int(upper) - int(lower), 0)

        def step(carry, _):
            i, val = carry
            return (i + np.int32(1), body_fun(i, val)), None
        (_, val), _ = scan(step, (np.int32(lo), init_val), None, length=n)
        return val
    from funcgrad.primitives import elementwise as el
    lower = el.convert_element_type(core.canonicalize_scalar(lower), np.int32)
    upper = el.convert_element_type(core.canonicalize_scalar(upper), np.int32)

    def body(carry):
        i, hi, val = carry
        return i + np.int32(1), hi, body_fun(i, val)
    _, _, val = while_loop(lambda c: c[0] < c[1], body, (lower, upper, init_val))
    return val


def map(f, xs):  # noqa: A001 - lax's name
    """``stack([f(x) for x in xs])`` over the leading axis of the pytree ``xs``, as a scan.

    Example:
        >>> import funcgrad.numpy as fnp
        >>> from funcgrad import lax
        >>> lax.map(lambda r: r @ r, fnp.ones((4, 3)))
        Array([3., 3., 3., 3.], dtype=float32)

    See also: ``funcgrad.vmap`` (vectorised rather than looped).
    """
    _, ys = scan(lambda c, x: (c, f(x)), None, xs)
    return ys


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    cc, bc, init = primals[:ncc], primals[ncc:ncc + nbc], primals[ncc + nbc:]
    nz = [type(t) is not Zero for t in tangents]
    bc_nz, carry_nz = nz[ncc:ncc + nbc], nz[ncc + nbc:]
    nk = len(init)
    while True:
        kept = _jvp_jaxpr(body_jaxpr, tuple(bc_nz + carry_nz), tuple(carry_nz))[2]
        new = [a or b for a, b in zip(carry_nz, kept)]
        if new == carry_nz:
            break
        carry_nz = new
    j, jconsts, _ = _jvp_jaxpr(body_jaxpr, tuple(bc_nz + carry_nz), tuple(carry_nz))
    J, n = len(jconsts), len(body_jaxpr.invars)
    iv = j.invars
    p, t = iv[J:J + n], iv[J + n:]
    n_tb = sum(bc_nz)
    body = _reorder(j, [*iv[:J], *p[:nbc], *t[:n_tb], *p[nbc:], *t[n_tb:]])
    t_carry_avals = [v.aval for v in t[n_tb:]]
    cond = _reorder(cond_jaxpr, [*cond_jaxpr.invars, *[Var(a) for a in t_carry_avals]])
    tb = [x for x in tangents[ncc:ncc + nbc] if type(x) is not Zero]
    t_init = [_ad.instantiate(x) for x, z in zip(tangents[ncc + nbc:], carry_nz) if z]
    outs = while_p.bind(*cc, *jconsts, *bc, *tb, *init, *t_init, cond_jaxpr=cond,
                        body_jaxpr=body, cond_nconsts=ncc, body_nconsts=J + nbc + len(tb))
    zeros = [Zero(core.get_aval(x).to_tangent_aval()) for x in init]
    return outs[:nk], _merge(carry_nz, outs[nk:], zeros)


def _while_partial_eval(trace, args, params):
    raise errors.MissingRuleError(errors.message(
        "while_loop", "reverse-mode differentiation does not support while_loop; use scan or "
        "fori_loop with static bounds.",
        "write the loop with lax.scan (or lax.fori_loop with Python int bounds), or use "
        "forward mode (jvp, jacfwd).", errors.MissingRuleError))


def _while_vmap(vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    from funcgrad.primitives import elementwise as el
    from funcgrad.primitives import reductions as red
    from funcgrad.primitives import structural as st
    ncc, nbc = cond_nconsts, body_nconsts
    size = _vm.batch_size(vals, dims)
    vals = [_vm.bdim_at_front(v, d, size) if d is not None else v for v, d in zip(vals, dims)]
    b = [d is not None for d in dims]
    cc_b, bc_b, carry_b = b[:ncc], b[ncc:ncc + nbc], b[ncc + nbc:]
    nk = len(carry_b)
    while True:
        out_b = _batch_jaxpr(body_jaxpr, tuple(bc_b + carry_b), size, tuple(carry_b))[2]
        new = [x or y for x, y in zip(carry_b, out_b)]
        if new == carry_b:
            break
        carry_b = new
    pred_b = _batch_jaxpr(cond_jaxpr, tuple(cc_b + carry_b), size, (False,))[2][0]
    if pred_b:
        carry_b = [True] * nk
    cc, bc, init = vals[:ncc], vals[ncc:ncc + nbc], vals[ncc + nbc:]
    init = [_vm.broadcast_batch(x, size, 0) if cb and not ib else x
            for x, cb, ib in zip(init, carry_b, b[ncc + nbc:])]
    cj, cconsts, _ = _batch_jaxpr(cond_jaxpr, tuple(cc_b + carry_b), size, (False,))
    bj, bconsts, _ = _batch_jaxpr(body_jaxpr, tuple(bc_b + carry_b), size, tuple(carry_b))
    if not pred_b:
        outs = while_p.bind(*cconsts, *cc, *bconsts, *bc, *init, cond_jaxpr=cj, body_jaxpr=bj,
                            cond_nconsts=len(cconsts) + ncc, body_nconsts=len(bconsts) + nbc)
        return outs, [0 if x else None for x in carry_b]
    # A batched predicate: loop while any example is running; finished ones keep their carry.
    carry_avals = [core.get_aval(x) for x in init]
    cc_avals = [core.get_aval(x) for x in (*cconsts, *cc)]
    bc_avals = [core.get_aval(x) for x in (*bconsts, *bc)]

    def any_cond(*xs):
        (p,) = core.eval_jaxpr(cj, (), *xs)
        return [red.reduce_or(p, (0,))]

    def masked_body(*xs):
        c, bb, carry = xs[:len(cc_avals)], xs[len(cc_avals):len(cc_avals) + len(bc_avals)], \
            xs[len(cc_avals) + len(bc_avals):]
        (p,) = core.eval_jaxpr(cj, (), *c, *carry)
        new = core.eval_jaxpr(bj, (), *bb, *carry)
        outs = []
        for old, nw in zip(carry, new):
            shape = core.get_aval(old).shape
            which = st.broadcast_in_dim(p, shape, (0,))
            outs.append(el.select_n(which, old, nw))
        return outs
    new_cj, new_cconsts = trace_to_open_jaxpr(any_cond, [*cc_avals, *carry_avals],
                                              "vmap(while_loop)")
    new_bj, new_bconsts = trace_to_open_jaxpr(masked_body,
                                              [*cc_avals, *bc_avals, *carry_avals],
                                              "vmap(while_loop)")
    cond_ops = [*new_cconsts, *cconsts, *cc]
    body_ops = [*new_bconsts, *cconsts, *cc, *bconsts, *bc]
    outs = while_p.bind(*cond_ops, *body_ops, *init, cond_jaxpr=new_cj, body_jaxpr=new_bj,
                        cond_nconsts=len(cond_ops), body_nconsts=len(body_ops))
    return outs, [0] * nk


def _pp_while(eqn, names):
    p = eqn.params
    return _pp_eqn_with(eqn, names, f"while[cond_nconsts={p['cond_nconsts']} "
                        f"body_nconsts={p['body_nconsts']}]",
                        {"cond": p["cond_jaxpr"], "body": p["body_jaxpr"]})


# ------------------------------------------------------------------------------------------
# Registration

_ad.rules[cond_p] = _cond_jvp
_pe.rules[cond_p] = _cond_partial_eval
_tr.rules[cond_p] = _cond_transpose
_vm.rules[cond_p] = _cond_vmap
pretty.pp_rules[cond_p] = _pp_cond
core.typecheck_rules[cond_p] = _check_inner

_ad.rules[scan_p] = _scan_jvp
_pe.rules[scan_p] = _scan_partial_eval
_tr.rules[scan_p] = _scan_transpose
_vm.rules[scan_p] = _scan_vmap
pretty.pp_rules[scan_p] = _pp_scan
core.typecheck_rules[scan_p] = _check_inner

_ad.rules[while_p] = _while_jvp
_pe.rules[while_p] = _while_partial_eval
_vm.rules[while_p] = _while_vmap
pretty.pp_rules[while_p] = _pp_while
core.typecheck_rules[while_p] = _check_inner

__all__ = ["cond", "switch", "scan", "while_loop", "fori_loop", "map"]
