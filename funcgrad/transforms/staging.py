"""Staging: trace a Python function into a jaxpr (omnistaging: every bind made while a
``StagingTrace`` is current becomes an equation, constant-only ones included)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcgrad import config, core, errors, source_info, tree_util
from funcgrad.core import Literal, ShapedArray, Tracer, Var


class StagingTracer(Tracer):
    __slots__ = ("_aval", "_var")  # not "var": that is the array method x.var()

    def __init__(self, trace: StagingTrace, aval: ShapedArray, var: Var):
        self._trace = trace
        self._aval = aval
        self._var = var

    @property
    def aval(self):
        return self._aval


class StagingTrace(core.Trace):
    """Records every primitive bound while it is current as an equation."""

    name = "make_jaxpr"

    def __init__(self, parent, transform_name: str = "make_jaxpr"):
        super().__init__(parent)
        self.transform_name = transform_name
        self.eqns: list[core.Eqn] = []
        self.invars: list[Var] = []
        self.arg_names: dict[Var, str] = {}
        self._consts: dict[int, tuple[Var, Any]] = {}  # id(value) -> (constvar, value)

    def new_arg(self, aval: ShapedArray, name: str | None = None) -> StagingTracer:
        v = Var(aval)
        self.invars.append(v)
        if name is not None:
            self.arg_names[v] = name
        return StagingTracer(self, aval, v)

    def to_atom(self, x):
        if isinstance(x, StagingTracer) and x._trace is self:
            return x._var
        if not isinstance(x, Tracer) and np.ndim(x) == 0:
            from funcgrad.array import Array
            aval = core.get_aval(x)
            val = x if isinstance(x, Array) else Array(np.array(core.to_numpy(x)))
            return Literal(val, aval)
        entry = self._consts.get(id(x))
        if entry is None:
            # Keep the value alive with its var so that id(x) cannot be reused while tracing.
            entry = self._consts[id(x)] = (Var(core.get_aval(x)), x)
        return entry[0]

    def process_primitive(self, prim, args, params):
        avals = [core.get_aval(a) for a in args]
        out_avals = prim.abstract_eval(*avals, **params)
        invars = [self.to_atom(a) for a in args]
        outs_avals = out_avals if prim.multiple_results else [out_avals]
        outs = [StagingTracer(self, a, Var(a)) for a in outs_avals]
        self.eqns.append(core.Eqn(prim, invars, [t._var for t in outs], params,
                                  source_info.user_frame()))
        return outs if prim.multiple_results else outs[0]

    def to_closed_jaxpr(self, out_tracers: Sequence) -> core.ClosedJaxpr:
        outvars = [self.to_atom(t) for t in out_tracers]
        constvars, consts = zip(*self._consts.values()) if self._consts else ((), ())
        jaxpr = core.Jaxpr(constvars, self.invars, self.eqns, outvars)
        if config.values.enable_checks:
            core.check_jaxpr(jaxpr)
        return core.ClosedJaxpr(jaxpr, consts)

    def describe_dependence(self, tracer) -> str:
        """Names the arguments a tracer's value depends on, for concretization errors."""
        producer = {v: e for e in self.eqns for v in e.outvars}
        seen, todo, found = set(), [tracer._var], []
        while todo:
            v = todo.pop()
            if type(v) is Literal or v in seen:
                continue
            seen.add(v)
            if v in self.arg_names:
                found.append(self.arg_names[v])
            elif v in producer:
                todo.extend(producer[v].invars)
        if not found:
            return " The value does not depend on any argument."
        names = ", ".join(f"`{n}`" for n in sorted(set(found)))
        return f" The value depends on argument{'s' if len(found) > 1 else ''} {names}."


def trace_to_jaxpr(flat_fun: Callable, in_avals: Sequence[ShapedArray], *,
                   transform_name: str = "make_jaxpr",
                   arg_names: Sequence[str] | None = None) -> core.ClosedJaxpr:
    """Traces ``flat_fun`` (a function of a flat list of arrays returning a flat list) on
    abstract inputs and returns the closed jaxpr."""
    trace = StagingTrace(core.current_trace(), transform_name)
    names = arg_names if arg_names is not None else [None] * len(in_avals)
    tracers = [trace.new_arg(a, n) for a, n in zip(in_avals, names)]
    try:
        with core.set_current_trace(trace), source_info.transform_scope(transform_name):
            outs = flat_fun(*tracers)
        return trace.to_closed_jaxpr(outs)
    finally:
        trace.invalidate()


class Store:
    """A one-shot box: the output tree of a flattened function, known only after it runs."""

    __slots__ = ("_val",)
    _EMPTY = object()

    def __init__(self):
        self._val = Store._EMPTY

    def store(self, val):
        if self._val is not Store._EMPTY:
            raise AssertionError("Store written twice")
        self._val = val

    @property
    def val(self):
        if self._val is Store._EMPTY:
            raise AssertionError("Store read before the function ran")
        return self._val


def flatten_fun(f: Callable, in_tree) -> tuple[Callable, Store]:
    """Wraps ``f(*args, **kwargs)`` as a function of flat leaves returning flat leaves."""
    out_store = Store()

    def flat_f(*leaves):
        args, kwargs = tree_util.tree_unflatten(in_tree, leaves)
        out = f(*args, **kwargs)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_store.store(out_tree)
        return out_leaves
    return flat_f, out_store


def argument_names(f: Callable, args: tuple, kwargs: dict) -> list[str]:
    """Readable names of every leaf of ``(args, kwargs)``: ``params['w']``, ``x``, ``args[2]``."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = []
    for path, _ in tree_util.tree_flatten_with_path((args, kwargs))[0]:
        top, rest = path[0], path[1:]
        if top.idx == 0:
            i = rest[0].idx
            head = positional[i] if i < len(positional) else f"args[{i}]"
        else:
            head = str(rest[0].key)
        names.append(head + tree_util.keystr(rest[1:]))
    return names


def abstractify(x, name: str) -> ShapedArray:
    try:
        return core.get_aval(x)
    except errors.InvalidArgumentError:
        raise errors.InvalidArgumentError(errors.message(
            "make_jaxpr", f"argument `{name}` is a {type(x).__name__} ({x!r:.40}), not an array.",
            "pass arrays (or pytrees of arrays), and mark other arguments static with "
            "static_argnums.", errors.InvalidArgumentError)) from None


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = (),
               return_shape: bool = False):
    """Returns a function that traces ``fun`` and gives its jaxpr, a ``ClosedJaxpr``.

    Args:
      fun: the function to trace; its arguments and outputs may be pytrees of arrays.
      static_argnums: indices of positional arguments that are passed through as Python values
        (not traced); they may be used in Python control flow.
      return_shape: if True, also return a pytree of ``ShapedArray`` describing the outputs.

    Returns:
      A function with ``fun``'s signature returning the ``ClosedJaxpr`` (and the output shapes).

    Example:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> print(fg.make_jaxpr(lambda a, b: fnp.sin(a) * b)(fnp.ones(3), fnp.ones(3)))
        { lambda ; a:f32[3] b:f32[3]. let c:f32[3] = sin a; d:f32[3] = mul c b in (d,) }

    See also: ``funcgrad.jit``.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @source_info.api_boundary
    @functools.wraps(fun)
    def make_jaxpr_f(*args, **kwargs):
        nargs = len(args)
        static_idx = {i % nargs if nargs else i for i in static}
        for i in static_idx:
            if not 0 <= i < nargs:
                raise ValueError(f"make_jaxpr: static_argnums {static} out of range for "
                                 f"{nargs} positional arguments")
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_idx)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, kwargs))
        all_names = _dynamic_names(fun, args, kwargs, static_idx)
        avals = [abstractify(x, n) for x, n in zip(leaves, all_names)]

        def with_static(*dyn, **kw):
            it = iter(dyn)
            full = [a if i in static_idx else next(it) for i, a in enumerate(args)]
            return fun(*full, **kw)

        flat_f, out_tree = flatten_fun(with_static, in_tree)
        closed = trace_to_jaxpr(flat_f, avals,
                                transform_name=f"make_jaxpr({source_info.fun_name(fun)})",
                                arg_names=all_names)
        if return_shape:
            shapes = tree_util.tree_unflatten(out_tree.val, closed.out_avals)
            return closed, shapes
        return closed

    return make_jaxpr_f


def _dynamic_names(fun, args, kwargs, static_idx) -> list[str]:
    """Names of the leaves of the non-static arguments."""
    names = argument_names(fun, args, kwargs)
    if not static_idx:
        return names
    leaves_per_arg = [len(tree_util.tree_leaves(a)) for a in args]
    out, pos = [], 0
    for i, n in enumerate(leaves_per_arg):
        if i not in static_idx:
            out.extend(names[pos:pos + n])
        pos += n
    out.extend(names[pos:])
    return out


def trace_to_open_jaxpr(flat_fun: Callable, in_avals: Sequence[ShapedArray],
                        transform_name: str) -> tuple[core.Jaxpr, list]:
    """Traces ``flat_fun`` and returns ``(jaxpr, consts)`` where the jaxpr has no constvars:
    the captured values (arrays, or tracers of enclosing transforms) are its leading invars,
    to be passed as operands. Higher-order primitives use this so that enclosing transforms
    see every value the body depends on."""
    closed = trace_to_jaxpr(flat_fun, in_avals, transform_name=transform_name)
    j = closed.jaxpr
    return (core.Jaxpr((), (*j.constvars, *j.invars), j.eqns, j.outvars, j.debug_info),
            list(closed.consts))
