"""User-defined derivatives (``custom_jvp``, ``custom_vjp``) and rematerialisation
(``checkpoint``), as higher-order primitives.

Each decorated call traces the primal function to a jaxpr (its captured values become leading
operands) and binds a primitive whose params hold that jaxpr and the user's rules, wrapped to
work on flat lists of leaves:

* ``custom_jvp_call``: evaluation and staging use the primal jaxpr; the JVP rule calls the
  user's ``jvp``; vmap batches both.
* ``custom_vjp_call``: the JVP rule (reached only inside reverse mode) runs the user's ``fwd``
  now and binds ``custom_lin`` on the tangents: linear, so partial evaluation stages it, and
  its transpose rule calls the user's ``bwd``. Pure forward mode reaches ``custom_lin``'s impl,
  which says that custom_vjp functions support reverse mode only.
* ``remat``: the JVP rule rebinds ``remat`` on the JVP jaxpr; under partial evaluation the
  known outputs are computed now but only the *inputs* are saved, and the transpose rule
  recomputes the forward pass before transposing (``backward_pass`` evaluates non-linear
  equations first).
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence

from funcgrad import core, errors, source_info, tree_util
from funcgrad.core import Primitive
from funcgrad.transforms import jvp as _ad
from funcgrad.transforms import partial_eval as _pe
from funcgrad.transforms import transpose as _tr
from funcgrad.transforms import vmap as _vm
from funcgrad.transforms.staging import StagingTrace, trace_to_open_jaxpr

# ------------------------------------------------------------------------ shared plumbing


def _resolve_args(fun, name, args, kwargs) -> tuple:
    """Keyword arguments become positional (rules are called with positional tuples)."""
    if not kwargs:
        return args
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{name}: {e}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError(f"{name}: keyword-only arguments are not supported by custom "
                        f"derivatives; got {sorted(bound.kwargs)}.")
    return bound.args


def _split_nondiff(args, nondiff_argnums):
    nd = {i % len(args) for i in nondiff_argnums} if args else set()
    for i in nondiff_argnums:
        if not -len(args) <= i < len(args):
            raise ValueError(f"nondiff_argnums {tuple(nondiff_argnums)} out of range for "
                             f"{len(args)} arguments")
    static = [args[i] for i in sorted(nd)]
    dyn = tuple(a for i, a in enumerate(args) if i not in nd)

    def merge(dyn_args):
        it = iter(dyn_args)
        return tuple(args[i] if i in nd else next(it) for i in range(len(args)))
    return static, dyn, merge


def _trace_primal(fun, merge, in_tree, leaves, name):
    """Traces ``fun`` on the avals of ``leaves``; returns (jaxpr, consts, out_tree store)."""
    out_trees = []

    def flat_fun(*ls):
        out = fun(*merge(tree_util.tree_unflatten(in_tree, ls)))
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_trees.append(out_tree)
        return out_leaves
    avals = [core.get_aval(x) for x in leaves]
    jaxpr, consts = trace_to_open_jaxpr(flat_fun, avals, name)
    return jaxpr, consts, out_trees[0]


def _rule_error(rule_name, what, fix="") -> TypeError:
    return TypeError(errors.message(
        rule_name, what, fix or "make the rule return values with the primal outputs' "
        "structure, shapes and dtypes.", TypeError))


def _check_leaves(rule_name, what, got, want_avals, tangent=False):
    """Checks a rule's flat outputs against the expected avals (shape and dtype)."""
    if len(got) != len(want_avals):
        raise _rule_error(rule_name, f"{what}: expected {len(want_avals)} arrays, got "
                          f"{len(got)}.")
    for i, (g, w) in enumerate(zip(got, want_avals)):
        ga = core.get_aval(g)
        want = w.to_tangent_aval() if tangent else w
        if ga.shape != want.shape:
            raise _rule_error(rule_name, f"{what}: output {i} has shape {ga.str_short()} but "
                              f"{want.str_short()} was expected (shapes must match).")
        if ga.dtype != want.dtype and not (ga.dtype.kind == want.dtype.kind == "f"):
            raise _rule_error(rule_name, f"{what}: output {i} has dtype {ga.str_short()} but "
                              f"{want.str_short()} was expected.")


def _closure_error(name, kind):
    return TypeError(errors.message(
        name, f"the function closes over a value that is being differentiated; a {kind} rule "
        "cannot see derivatives with respect to captured values.",
        "pass the value as an explicit argument of the decorated function.", TypeError))


def _batch_all(vals, dims):
    size = _vm.batch_size(vals, dims)
    return [_vm.bdim_at_front(v, d, size) for v, d in zip(vals, dims)], size


def _vmap_jaxpr(jaxpr, size, name):
    """``vmap`` of ``jaxpr`` with every input and output batched at 0."""
    return _vm.vmap_jaxpr(jaxpr, (0,) * len(jaxpr.invars), size, name)


def _vmap_flat_fn(fn, size, name):
    """Batches a rule working on lists of leaves (all inputs and outputs batched at 0)."""
    def batched(*lists):
        flat, tree = tree_util.tree_flatten(lists)
        outs_tree = []

        def g(*leaves):
            out = fn(*tree_util.tree_unflatten(tree, leaves))
            leaves_out, t = tree_util.tree_flatten(out)
            outs_tree.append(t)
            return leaves_out
        res = _vm.vmap_flat(g, flat, [0] * len(flat), size, lambda n: [0] * n, name)
        return tree_util.tree_unflatten(outs_tree[0], res)
    batched.__name__ = getattr(fn, "__name__", "rule")
    return batched


def _eval_impl(*args, jaxpr, **_):
    return [core.to_numpy(o) for o in core.eval_jaxpr(jaxpr, (), *args)]


def _out_avals(*avals, jaxpr, **_):
    return [v.aval for v in jaxpr.outvars]


# ------------------------------------------------------------------------ custom_jvp

custom_jvp_call_p = Primitive("custom_jvp_call", impl=_eval_impl, abstract_eval=_out_avals,
                              multiple_results=True)


class custom_jvp:  # noqa: N801 - the public name, as a decorator
    """Gives a function a user-defined forward-mode derivative (reverse mode follows).

    Example:
        >>> @fg.custom_jvp
        ... def log1pexp(x):
        ...     return fnp.log1p(fnp.exp(x))
        >>> @log1pexp.defjvp
        ... def log1pexp_jvp(primals, tangents):
        ...     (x,), (t,) = primals, tangents
        ...     return log1pexp(x), t * fg.lax.logistic(x)
        >>> fg.grad(log1pexp)(100.0)
        Array(1., dtype=float32, weak_type=True)

    The rule ``jvp(primals, tangents) -> (primal_out, tangent_out)`` receives tuples of the
    differentiable arguments; with ``nondiff_argnums`` those arguments come first:
    ``jvp(*nondiff_args, primals, tangents)``. Tangents of integer arguments are float0 zeros.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None

    def defjvp(self, jvp: Callable) -> Callable:
        self.jvp = jvp
        return jvp

    def defjvps(self, *per_arg: Callable | None) -> None:
        """One rule per argument, ``rule(t, ans, *args) -> contribution``, summed."""
        def jvp(primals, tangents):
            ans = self(*primals)
            out = None
            for r, t in zip(per_arg, tangents):
                if r is None:
                    continue
                c = r(t, ans, *primals)
                out = c if out is None else tree_util.tree_map(lambda a, b: a + b, out, c)
            if out is None:
                out = tree_util.tree_map(lambda a: a * 0, ans)
            return ans, out
        self.jvp = jvp

    def __call__(self, *args, **kwargs):
        name = f"custom_jvp({source_info.fun_name(self.fun)})"
        if self.jvp is None:
            raise AttributeError(f"{name}: no JVP rule defined; decorate one with "
                                 f"@{source_info.fun_name(self.fun)}.defjvp.")
        args = _resolve_args(self.fun, name, args, kwargs)
        static, dyn, merge = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = tree_util.tree_flatten(dyn)
        leaves = [core.canonicalize_scalar(x) for x in leaves]
        jaxpr, consts, out_tree = _trace_primal(self.fun, merge, in_tree, leaves, name)
        user_jvp, rule_name = self.jvp, f"{name}.defjvp rule"
        out_avals = [v.aval for v in jaxpr.outvars]

        def jvp_flat(primal_leaves, tangent_leaves):
            primals = tree_util.tree_unflatten(in_tree, primal_leaves)
            tangents = tree_util.tree_unflatten(in_tree, tangent_leaves)
            res = user_jvp(*static, tuple(primals), tuple(tangents))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise _rule_error(rule_name, "the rule must return a pair "
                                  "(primal_out, tangent_out).")
            p_leaves, p_tree = tree_util.tree_flatten(res[0])
            t_leaves, t_tree = tree_util.tree_flatten(res[1])
            if p_tree != out_tree or t_tree != out_tree:
                raise _rule_error(rule_name, f"the rule returned primal structure {p_tree} "
                                  f"and tangent structure {t_tree}; the function returns "
                                  f"{out_tree}.")
            _check_leaves(rule_name, "primal_out", p_leaves, out_avals)
            _check_leaves(rule_name, "tangent_out", t_leaves, out_avals, tangent=True)
            return p_leaves, t_leaves
        jvp_flat.__name__ = getattr(user_jvp, "__name__", "jvp")
        outs = custom_jvp_call_p.bind(*consts, *leaves, jaxpr=jaxpr, jvp=jvp_flat,
                                      num_consts=len(consts), name=name)
        return tree_util.tree_unflatten(out_tree, outs)


def _custom_jvp_call_jvp(primals, tangents, *, jaxpr, jvp, num_consts, name):
    if any(type(t) is not _ad.Zero for t in tangents[:num_consts]):
        raise _closure_error(name, "custom_jvp")
    args = primals[num_consts:]
    targs = [_ad.instantiate(t) for t in tangents[num_consts:]]
    return jvp(list(args), targs)


def _custom_jvp_call_vmap(vals, dims, *, jaxpr, jvp, num_consts, name):
    vals, size = _batch_all(vals, dims)
    new_jaxpr, new_consts = _vmap_jaxpr(jaxpr, size, f"vmap({name})")
    outs = custom_jvp_call_p.bind(*new_consts, *vals, jaxpr=new_jaxpr,
                                  jvp=_vmap_flat_fn(jvp, size, name),
                                  num_consts=len(new_consts) + num_consts, name=name)
    return outs, [0] * len(outs)


# ------------------------------------------------------------------------ custom_vjp

custom_vjp_call_p = Primitive("custom_vjp_call", impl=_eval_impl, abstract_eval=_out_avals,
                              multiple_results=True)


def _custom_lin_impl(*args, **params):
    raise TypeError(errors.message(
        params["name"], "forward-mode differentiation (jvp, jacfwd) of a custom_vjp function "
        "is not supported: it defines only a reverse-mode rule.",
        "use grad/vjp/jacrev, or define the derivative with custom_jvp instead.", TypeError))


custom_lin_p = Primitive("custom_lin", impl=_custom_lin_impl,
                         abstract_eval=lambda *avals, out_avals, **_: list(out_avals),
                         multiple_results=True)


class custom_vjp:  # noqa: N801 - the public name, as a decorator
    """Gives a function a user-defined reverse-mode derivative.

    ``f.defvjp(fwd, bwd)``: ``fwd(*args) -> (out, residuals)`` runs in the forward pass;
    ``bwd(residuals, ct_out) -> tuple`` returns one cotangent per differentiable argument
    (None for a zero cotangent). With ``nondiff_argnums`` those arguments are passed first
    to ``bwd``: ``bwd(*nondiff_args, residuals, ct_out)``, and ``fwd`` gets every argument.

    Example:
        >>> @fg.custom_vjp
        ... def clip_gradient(x):
        ...     return x
        >>> clip_gradient.defvjp(lambda x: (x, None),
        ...                      lambda res, g: (fnp.clip(g, -1.0, 1.0),))
        >>> fg.grad(lambda x: 5.0 * clip_gradient(x))(2.0)
        Array(1., dtype=float32, weak_type=True)
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args, **kwargs):
        name = f"custom_vjp({source_info.fun_name(self.fun)})"
        if self.fwd is None:
            raise AttributeError(f"{name}: no VJP rule defined; call "
                                 f"{source_info.fun_name(self.fun)}.defvjp(fwd, bwd) first.")
        args = _resolve_args(self.fun, name, args, kwargs)
        static, dyn, merge = _split_nondiff(args, self.nondiff_argnums)
        leaves, in_tree = tree_util.tree_flatten(dyn)
        leaves = [core.canonicalize_scalar(x) for x in leaves]
        jaxpr, consts, out_tree = _trace_primal(self.fun, merge, in_tree, leaves, name)
        out_avals = [v.aval for v in jaxpr.outvars]
        in_avals = [core.get_aval(x) for x in leaves]
        user_fwd, user_bwd = self.fwd, self.bwd
        fwd_name, bwd_name = f"{name} fwd rule", f"{name} bwd rule"
        res_trees = []

        def fwd_flat(arg_leaves):
            res = user_fwd(*merge(tree_util.tree_unflatten(in_tree, arg_leaves)))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise _rule_error(fwd_name, "fwd must return a pair (out, residuals).")
            o_leaves, o_tree = tree_util.tree_flatten(res[0])
            if o_tree != out_tree:
                raise _rule_error(fwd_name, f"fwd's output has structure {o_tree}; the "
                                  f"function returns {out_tree}.")
            _check_leaves(fwd_name, "out", o_leaves, out_avals)
            r_leaves, r_tree = tree_util.tree_flatten(res[1])
            res_trees.append(r_tree)
            return o_leaves, [core.canonicalize_scalar(r) for r in r_leaves]

        def bwd_flat(res_leaves, ct_leaves):
            res = tree_util.tree_unflatten(res_trees[-1], res_leaves)
            cts = user_bwd(*static, res, tree_util.tree_unflatten(out_tree, ct_leaves))
            if not isinstance(cts, (tuple, list)) or len(cts) != len(dyn):
                raise _rule_error(bwd_name, f"bwd must return a tuple with one cotangent per "
                                  f"differentiable argument ({len(dyn)}), got "
                                  f"{type(cts).__name__}"
                                  f"{f' of length {len(cts)}' if isinstance(cts, tuple) else ''}.")
            flat = []
            for i, (c, a) in enumerate(zip(cts, dyn)):
                a_leaves, a_tree = tree_util.tree_flatten(a)
                if c is None:
                    flat.extend([None] * len(a_leaves))
                    continue
                c_leaves, c_tree = tree_util.tree_flatten(c, is_leaf=lambda x: x is None)
                if c_tree != a_tree:
                    raise _rule_error(bwd_name, f"cotangent {i} has structure {c_tree} but "
                                      f"argument {i} has {a_tree}.")
                flat.extend(c_leaves)
            for j, (c, a) in enumerate(zip(flat, in_avals)):
                if c is not None and core.get_aval(c).shape != a.shape:
                    raise _rule_error(bwd_name, f"cotangent leaf {j} has shape "
                                      f"{core.get_aval(c).str_short()} but its argument is "
                                      f"{a.str_short()} (shapes must match).")
            return flat
        fwd_flat.__name__ = getattr(user_fwd, "__name__", "fwd")
        bwd_flat.__name__ = getattr(user_bwd, "__name__", "bwd")
        outs = custom_vjp_call_p.bind(*consts, *leaves, jaxpr=jaxpr, fwd=fwd_flat,
                                      bwd=bwd_flat, num_consts=len(consts), name=name)
        return tree_util.tree_unflatten(out_tree, outs)


def _custom_vjp_call_jvp(primals, tangents, *, jaxpr, fwd, bwd, num_consts, name):
    if any(type(t) is not _ad.Zero for t in tangents[:num_consts]):
        raise _closure_error(name, "custom_vjp")
    out, res = fwd(list(primals[num_consts:]))
    targs = [_ad.instantiate(t) for t in tangents[num_consts:]]
    t_avals = tuple(core.get_aval(o).to_tangent_aval().strip_weak_type() for o in out)
    t_out = custom_lin_p.bind(*res, *targs, num_res=len(res), bwd=bwd, out_avals=t_avals,
                              name=name)
    return out, t_out


def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals, name):
    res, targs = args[:num_res], args[num_res:]
    cts = [_ad.instantiate(c) for c in cts]
    cts_in = bwd(list(res), cts)
    out = [None] * num_res
    for c, a in zip(cts_in, targs):
        if c is None or not _tr.is_undefined(a):
            out.append(None)
        elif a.aval.dtype.kind not in "fc":
            out.append(None)  # integer arguments have no cotangent
        else:
            out.append(c)
    return out


def _custom_vjp_call_vmap(vals, dims, *, jaxpr, fwd, bwd, num_consts, name):
    vals, size = _batch_all(vals, dims)
    new_jaxpr, new_consts = _vmap_jaxpr(jaxpr, size, f"vmap({name})")
    outs = custom_vjp_call_p.bind(*new_consts, *vals, jaxpr=new_jaxpr,
                                  fwd=_vmap_flat_fn(fwd, size, name),
                                  bwd=_vmap_flat_fn(_bwd_zeros(bwd, vals[num_consts:]), size,
                                                    name),
                                  num_consts=len(new_consts) + num_consts, name=name)
    return outs, [0] * len(outs)


def _bwd_zeros(bwd, batched_args):
    """bwd with None cotangents replaced by zeros (vmap needs an array per output)."""
    avals = [core.get_aval(a) for a in batched_args]

    def f(res, cts):
        out = bwd(res, cts)
        return [_ad.zeros_like_aval(core.ShapedArray(a.shape[1:], a.dtype))
                if c is None else c for c, a in zip(out, avals)]
    f.__name__ = getattr(bwd, "__name__", "bwd")
    return f


# ------------------------------------------------------------------------ checkpoint (remat)

remat_p = Primitive("remat", impl=_eval_impl, abstract_eval=_out_avals, multiple_results=True)


def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy=None) -> Callable:
    """Rematerialisation: under reverse mode, save only ``fun``'s inputs and recompute its
    intermediate values during the backward pass, trading compute for memory.

    Example:
        >>> f = fg.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
        >>> fg.grad(f)(1.0)          # same value as without checkpoint
        Array(0.3600832, dtype=float32, weak_type=True)

    ``fun`` is traced to a jaxpr on abstract values, so Python control flow on its traced
    arguments is not allowed inside it (use ``lax.cond``/``fnp.where``). ``policy`` is not
    supported (everything is recomputed) and must be None.
    """
    if policy is not None:
        raise NotImplementedError("checkpoint: policies are not supported; every intermediate "
                                  "value is recomputed (policy=None).")

    @functools.wraps(fun)
    def remat_f(*args, **kwargs):
        name = f"checkpoint({source_info.fun_name(fun)})"
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        leaves = [core.canonicalize_scalar(x) for x in leaves]
        out_trees = []

        def flat_fun(*ls):
            a, kw = tree_util.tree_unflatten(in_tree, ls)
            out_leaves, t = tree_util.tree_flatten(fun(*a, **kw))
            out_trees.append(t)
            return out_leaves
        jaxpr, consts = trace_to_open_jaxpr(flat_fun, [core.get_aval(x) for x in leaves], name)
        outs = remat_p.bind(*consts, *leaves, jaxpr=jaxpr, prevent_cse=prevent_cse, name=name)
        return tree_util.tree_unflatten(out_trees[0], outs)
    return remat_f


remat = checkpoint


def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse, name):
    nz = tuple(type(t) is not _ad.Zero for t in tangents)
    m = len(jaxpr.outvars)
    jvp_jaxpr, consts, _ = _ad.jvp_jaxpr(jaxpr, nz, (True,) * m, f"jvp({name})")
    nz_t = [t for t in tangents if type(t) is not _ad.Zero]
    outs = remat_p.bind(*consts, *primals, *nz_t, jaxpr=jvp_jaxpr, prevent_cse=prevent_cse,
                        name=name)
    return outs[:m], outs[m:]


def _dependent_outputs(jaxpr, unknown_in) -> list[bool]:
    unknown = {v for v, u in zip(jaxpr.invars, unknown_in) if u}
    for eqn in jaxpr.eqns:
        if any(type(v) is core.Var and v in unknown for v in eqn.invars):
            unknown.update(eqn.outvars)
    return [type(v) is core.Var and v in unknown for v in jaxpr.outvars]


def _restrict_outputs(jaxpr, keep) -> core.Jaxpr:
    outs = [v for v, k in zip(jaxpr.outvars, keep) if k]
    return _pe.dce_jaxpr(core.Jaxpr((), jaxpr.invars, jaxpr.eqns, outs, jaxpr.debug_info))


def _remat_partial_eval(trace, args, params):
    """Known outputs are computed now; unknown ones are staged as a remat of the whole
    computation they need, whose only residuals are the known inputs."""
    jaxpr = params["jaxpr"]
    unknown_in = [trace.is_unknown(a) for a in args]
    unknown_out = _dependent_outputs(jaxpr, unknown_in)
    known_jaxpr = _restrict_outputs(jaxpr, [not u for u in unknown_out])
    with core.set_current_trace(trace.parent):
        known_outs = core.eval_jaxpr(known_jaxpr, (),
                                     *[None if u else a for a, u in zip(args, unknown_in)])
    staged_jaxpr = _restrict_outputs(jaxpr, unknown_out)
    staged = StagingTrace.process_primitive(trace, remat_p, args,
                                            dict(params, jaxpr=staged_jaxpr))
    k, s = iter(known_outs), iter(staged)
    return [next(s) if u else next(k) for u in unknown_out]


def _remat_transpose(cts, *args, jaxpr, prevent_cse, name):
    cts_in = _tr.backward_pass(jaxpr, (), cts, args=args)
    return [ct if _tr.is_undefined(a) else None for a, ct in zip(args, cts_in)]


def _remat_vmap(vals, dims, *, jaxpr, prevent_cse, name):
    vals, size = _batch_all(vals, dims)
    new_jaxpr, new_consts = _vmap_jaxpr(jaxpr, size, f"vmap({name})")
    outs = remat_p.bind(*new_consts, *vals, jaxpr=new_jaxpr, prevent_cse=prevent_cse,
                        name=name)
    return outs, [0] * len(outs)


# ------------------------------------------------------------------------ registration

_ad.rules[custom_jvp_call_p] = _custom_jvp_call_jvp
_vm.rules[custom_jvp_call_p] = _custom_jvp_call_vmap
_ad.rules[custom_vjp_call_p] = _custom_vjp_call_jvp
_vm.rules[custom_vjp_call_p] = _custom_vjp_call_vmap
_tr.rules[custom_lin_p] = _custom_lin_transpose
_ad.rules[remat_p] = _remat_jvp
_pe.rules[remat_p] = _remat_partial_eval
_tr.rules[remat_p] = _remat_transpose
_vm.rules[remat_p] = _remat_vmap
