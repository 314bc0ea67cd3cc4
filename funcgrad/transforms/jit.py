"""jit: stage a function to a jaxpr once per signature, compile it, and run the compiled code.

``jit(f)`` returns a ``Jitted``. A call flattens the arguments, splits the leaves into dynamic
ones (arrays and Python/NumPy scalars, which are traced) and static ones (everything else, and
the arguments named by ``static_argnums``/``static_argnames``), and looks the signature up in
the trace cache: pytree structure, static values, and each dynamic leaf's shape, dtype and weak
type. On a miss the function is traced to a jaxpr (its captured constants become leading
inputs) and compiled by ``funcgrad.lowering``; on a hit only the compiled code runs.

The staged program is bound as the call primitive ``jit``, whose rules make jit compose with
every transformation, in any order:

* jvp: the JVP of the jaxpr is traced and bound as another ``jit``;
* partial evaluation (linearize, grad): the jaxpr is split into a known part, bound now (so the
  forward pass of ``grad(jit(f))`` runs compiled), and an unknown part staged as a ``jit`` that
  takes the residuals;
* transpose: the backward pass of the jaxpr is traced and bound as a ``jit``;
* vmap: the batched jaxpr is traced and bound as a ``jit``.

At the bottom of the trace stack (no enclosing transformation) a call skips ``bind`` and runs
the compiled code directly; that keeps the cost of a call to a few microseconds.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from funcgrad import config, core, dtypes, errors, pretty, source_info, tree_util
from funcgrad.array import Array
from funcgrad.core import Literal, Primitive, ShapedArray
from funcgrad.transforms import jvp as _ad
from funcgrad.transforms import partial_eval as _pe
from funcgrad.transforms import transpose as _tr
from funcgrad.transforms import vmap as _vm
from funcgrad.transforms.staging import (
    StagingTrace,
    argument_names,
    trace_to_jaxpr,
    trace_to_open_jaxpr,
)

_log = logging.getLogger("funcgrad.jit")

# ------------------------------------------------------------------------------------------
# The call primitive


def _executable(jaxpr: core.Jaxpr, backend: str):
    """The compiled form of ``jaxpr``, memoised on the jaxpr object (the lowering's own cache,
    keyed on the fingerprint, catches equal jaxprs built separately)."""
    key = (id(jaxpr), backend)
    hit = _EXECUTABLES.get(key)
    if hit is not None and hit[0] is jaxpr:
        _EXECUTABLES.move_to_end(key)
        return hit[1]
    from funcgrad import lowering
    exe = lowering.compile(jaxpr, backend)
    _EXECUTABLES[key] = (jaxpr, exe)
    if len(_EXECUTABLES) > 512:
        _EXECUTABLES.popitem(last=False)
    return exe


_EXECUTABLES: OrderedDict = OrderedDict()


def _jit_impl(*args, jaxpr, name, backend):
    outs = _executable(jaxpr, backend)(*args)
    if backend == _CUDA:  # NumPy values in, NumPy values out (CudaArray operands never get here)
        outs = [o.copy_to_host() for o in outs]
    return outs


def _jit_abstract_eval(*avals, jaxpr, name, backend):
    ins = jaxpr.in_avals
    if len(avals) != len(ins) or any(
            a.shape != b.shape or a.dtype != b.dtype for a, b in zip(avals, ins)):
        raise errors.ShapeError(errors.message(
            "jit", f"{name} was compiled for inputs "
            f"({', '.join(a.str_short() for a in ins)}) but is applied to "
            f"({', '.join(a.str_short() for a in avals)}).",
            "this is an internal error in a transformation rule; please report it.",
            errors.ShapeError))
    return [v.aval for v in jaxpr.outvars]


jit_p = Primitive("jit", impl=_jit_impl, abstract_eval=_jit_abstract_eval,
                  multiple_results=True)


def _bind_jit(args, jaxpr, name, backend):
    return jit_p.bind(*args, jaxpr=jaxpr, name=name, backend=backend)


def _jit_jvp(primals, tangents, *, jaxpr, name, backend):
    nonzeros = tuple(type(t) is not _ad.Zero for t in tangents)
    new, consts, kept = _ad.jvp_jaxpr(jaxpr, nonzeros, (False,) * len(jaxpr.outvars),
                                      f"jvp({name})")
    nz_t = [t for t in tangents if type(t) is not _ad.Zero]
    outs = _bind_jit([*consts, *primals, *nz_t], new, name, backend)
    m = len(jaxpr.outvars)
    it = iter(outs[m:])
    t_out = [next(it) if k else _ad.Zero(v.aval.to_tangent_aval())
             for v, k in zip(jaxpr.outvars, kept)]
    return outs[:m], t_out


def _jit_partial_eval(trace, args, params):
    jaxpr, name, backend = params["jaxpr"], params["name"], params["backend"]
    unknown_in = tuple(trace.is_unknown(a) for a in args)
    known, known_consts, unk, unknown_out, _ = _pe.partial_eval_jaxpr(
        jaxpr, unknown_in, (False,) * len(jaxpr.outvars), f"partial_eval({name})")
    known_args = [*known_consts, *[a for a, u in zip(args, unknown_in) if not u]]
    with core.set_current_trace(trace.parent):
        if known.eqns:
            known_res = _bind_jit(known_args, known, name, backend)
        else:  # nothing to compute: the outputs are inputs or literals
            known_res = _forward(known, known_args)
    n_known_out = sum(1 for u in unknown_out if not u)
    known_outs, res = known_res[:n_known_out], known_res[n_known_out:]
    staged = StagingTrace.process_primitive(
        trace, jit_p, [*res, *[a for a, u in zip(args, unknown_in) if u]],
        dict(jaxpr=unk, name=name, backend=backend))
    k, s = iter(known_outs), iter(staged)
    return [next(s) if u else next(k) for u in unknown_out]


def _forward(jaxpr, args):
    """The outputs of an equation-free jaxpr: inputs passed through, or literals."""
    env = dict(zip(jaxpr.invars, args))
    return [v.val if type(v) is Literal else env[v] for v in jaxpr.outvars]


@functools.lru_cache(maxsize=512)
def _transpose_jaxpr(jaxpr, undefined: tuple, ct_zero: tuple, name):
    """The jaxpr of ``(known inputs, nonzero cotangents) -> cotangents of the linear inputs``;
    also returns which of those cotangents are symbolically zero."""
    n_known = sum(1 for u in undefined if not u)
    zero_in = []

    def f(*xs):
        known, cts = iter(xs[:n_known]), iter(xs[n_known:])
        args = [_tr.UndefPrimal(v.aval) if u else next(known)
                for v, u in zip(jaxpr.invars, undefined)]
        cts_out = [_ad.Zero(v.aval.to_tangent_aval()) if z else next(cts)
                   for v, z in zip(jaxpr.outvars, ct_zero)]
        cts_in = _tr.backward_pass(jaxpr, (), cts_out, args=args)
        lin = [ct for ct, u in zip(cts_in, undefined) if u]
        zero_in[:] = [ct is None or type(ct) is _ad.Zero for ct in lin]
        return [ct for ct in lin if not (ct is None or type(ct) is _ad.Zero)]
    avals = [v.aval for v, u in zip(jaxpr.invars, undefined) if not u]
    avals += [v.aval.to_tangent_aval() for v, z in zip(jaxpr.outvars, ct_zero) if not z]
    new, consts = trace_to_open_jaxpr(f, avals, f"transpose({name})")
    return new, tuple(consts), tuple(zero_in)


def _jit_transpose(cts, *args, jaxpr, name, backend):
    undefined = tuple(_tr.is_undefined(a) for a in args)
    ct_zero = tuple(type(c) is _ad.Zero for c in cts)
    new, consts, zero_in = _transpose_jaxpr(jaxpr, undefined, ct_zero, name)
    known = [a for a in args if not _tr.is_undefined(a)]
    outs = iter(_bind_jit([*consts, *known, *[c for c in cts if type(c) is not _ad.Zero]],
                          new, f"transpose({name})", backend))
    lin = iter([None if z else next(outs) for z in zero_in])
    return [next(lin) if u else None for u in undefined]


def _jit_vmap(vals, dims, *, jaxpr, name, backend):
    size = _vm.batch_size(vals, dims)
    new, consts = _vm.vmap_jaxpr(jaxpr, tuple(dims), size, f"vmap({name})")
    outs = _bind_jit([*consts, *vals], new, name, backend)
    return outs, [0] * len(outs)


_ad.rules[jit_p] = _jit_jvp
_pe.rules[jit_p] = _jit_partial_eval
_tr.rules[jit_p] = _jit_transpose
_vm.rules[jit_p] = _jit_vmap


def _pp_jit(eqn, names):
    lhs = " ".join(names.binder(v) for v in eqn.outvars) or "_"
    rhs = " ".join(names(a) for a in eqn.invars)
    body = pretty.pp_jaxpr(eqn.params["jaxpr"]).replace("\n", "\n    ")
    return (f"{lhs} = jit[name={eqn.params['name']} backend={eqn.params['backend']}] {rhs}\n"
            f"    {body}")


pretty.pp_rules[jit_p] = _pp_jit


# ------------------------------------------------------------------------------------------
# The API


_DYNAMIC_SCALARS = (bool, int, float, complex)


def _is_dynamic(x) -> bool:
    return isinstance(x, (Array, np.ndarray, np.generic, core.Tracer)) or \
        type(x) in _DYNAMIC_SCALARS


def _leaf_signature(x):
    """(shape, dtype, weak_type) of a dynamic leaf, cheaply."""
    t = type(x)
    if t is Array:
        v = x._value
        return (v.shape, v.dtype, x._weak_type)
    if t is np.ndarray:
        return (x.shape, x.dtype, False)
    a = core.get_aval(x)
    return (a.shape, a.dtype, a.weak_type)


def _python_scalar_signature(x):
    return ((), dtypes.python_scalar_dtype(x), type(x) is not bool)


# type -> signature, for the types of arguments the fast path of a call accepts.
_FAST_SIGNATURES: dict[type, Callable] = {
    Array: lambda x: (x._value.shape, x._value.dtype, x._weak_type),
    np.ndarray: lambda x: (x.shape, x.dtype, False),
    float: _python_scalar_signature, int: _python_scalar_signature,
    bool: _python_scalar_signature,
}
for _dt in dtypes.ALL:
    _FAST_SIGNATURES[np.dtype(_dt).type] = lambda x: ((), x.dtype, False)


def _hashable(x, what: str, fun_name: str):
    try:
        hash(x)
    except TypeError:
        raise errors.InvalidArgumentError(errors.message(
            f"jit({fun_name})", f"{what} is a {type(x).__name__}, which is not hashable, so it "
            "cannot be part of the compilation cache key.",
            "pass it as an array argument (not static), or make it hashable (e.g. a tuple "
            "instead of a list, a frozen dataclass).", errors.InvalidArgumentError)) from None
    return x


class _Signature:
    """What a trace depends on; also what a retrace message compares."""

    __slots__ = ("treedef", "statics", "avals", "names", "key")

    def __init__(self, treedef, statics, avals, names):
        self.treedef, self.statics, self.avals, self.names = treedef, statics, avals, names
        self.key = (treedef, statics, avals, _config_key())


def _config_key():
    v = config.values
    return (v.default_float, v.default_int, v.enable_checks)


def _fmt_sig(sig) -> str:
    shape, dtype, weak = sig
    return ShapedArray(shape, dtype, weak).str_short()


class Traced:
    """One trace of a jitted function: the jaxpr, its constants and its output structure."""

    __slots__ = ("jaxpr", "consts", "const_values", "out_tree", "signature", "name", "backend",
                 "_exe", "in_avals", "out_weak", "has_tracer_consts", "single_out",
                 "run", "device_consts")

    def __init__(self, jaxpr, consts, out_tree, signature, name, backend):
        self.jaxpr = jaxpr
        self.consts = consts
        self.const_values = [core.to_numpy(c) if not isinstance(c, core.Tracer) else None
                             for c in consts]
        self.out_tree = out_tree
        self.signature = signature
        self.name = name
        self.backend = backend
        self._exe = None
        self.run = None  # the executable's driver, once compiled
        self.device_consts = None  # const_values on the GPU, once run there
        self.in_avals = jaxpr.in_avals[len(consts):]
        self.out_weak = [v.aval.weak_type for v in jaxpr.outvars]
        self.single_out = out_tree == tree_util.tree_structure(0)
        # Constants that are tracers of an enclosing transformation (a closure over a value
        # being differentiated): valid for this call only, so the trace is not cached.
        self.has_tracer_consts = any(isinstance(c, core.Tracer) for c in consts)

    def executable(self):
        if self._exe is None:
            self._exe = _executable(self.jaxpr, self.backend)
            self.run = self._exe.run
        return self._exe


class Lowered:
    """A traced and compilable function: ``as_text()`` is the jaxpr, ``source()`` the
    generated module, ``compile()`` the compiled function."""

    def __init__(self, traced: Traced, jitted: Jitted):
        self._traced = traced
        self._jitted = jitted

    @property
    def jaxpr(self) -> core.ClosedJaxpr:
        t = self._traced
        n = len(t.consts)
        j = t.jaxpr
        return core.ClosedJaxpr(core.Jaxpr(j.invars[:n], j.invars[n:], j.eqns, j.outvars),
                                t.consts)

    def as_text(self) -> str:
        return str(self.jaxpr)

    def source(self) -> str:
        return self._traced.executable().source

    def compile(self) -> Compiled:
        self._traced.executable()
        return Compiled(self._traced, self._jitted)

    def __repr__(self):
        return f"Lowered({self._traced.name})"


class Compiled:
    """A compiled function for one signature; calling it with another signature is an
    error."""

    def __init__(self, traced: Traced, jitted: Jitted):
        self._traced = traced
        self._jitted = jitted

    def __call__(self, *args, **kwargs):
        sig, dyn = self._jitted._signature(args, kwargs)
        if sig.key != self._traced.signature.key:
            raise TypeError(errors.message(
                f"jit({self._traced.name})", "this Compiled function was compiled for "
                f"{_describe(self._traced.signature)} but is called with {_describe(sig)}.",
                "call the jitted function itself (it compiles per signature), or lower it "
                "again for these arguments.", TypeError))
        return self._jitted._run(self._traced, dyn)

    def source(self) -> str:
        return self._traced.executable().source


def _describe(sig: _Signature) -> str:
    names = sig.names or [f"leaf {i}" for i in range(len(sig.avals))]
    return "(" + ", ".join(f"{n}: {_fmt_sig(a)}" for n, a in zip(names, sig.avals)) + ")"


class Jitted:
    """The result of ``jit(fun)``; call it like ``fun``."""

    def __init__(self, fun: Callable, static_argnums=(), static_argnames=(),
                 donate_argnums=(), backend=None):
        if not callable(fun):
            raise TypeError(f"jit: expected a function, got {type(fun).__name__} ({fun!r:.60})")
        self._fun = fun
        self._name = source_info.fun_name(fun)
        functools.update_wrapper(self, fun)
        try:
            self._sig = inspect.signature(fun)
            params = list(self._sig.parameters.values())
        except (TypeError, ValueError):
            self._sig, params = None, []
        positional = [p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        has_varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else \
            tuple(static_argnames)
        for i in nums:
            if not isinstance(i, int):
                raise TypeError(f"jit({self._name}): static_argnums must be ints, got {i!r}")
            if positional and not has_varargs and not -len(positional) <= i < len(positional):
                raise ValueError(
                    f"jit({self._name}): static_argnums={nums} refers to argument {i}, but "
                    f"{self._name} takes {len(positional)} positional arguments "
                    f"({', '.join(positional)}).")
        for n in names:
            if self._sig is not None and n not in self._sig.parameters and not any(
                    p.kind == p.VAR_KEYWORD for p in params):
                raise ValueError(f"jit({self._name}): static_argnames={names} names `{n}`, "
                                 f"which is not a parameter of {self._name}{self._sig}.")
        # As in JAX: a static argument may be passed by position or by name.
        nums = {i % len(positional) if positional and i < 0 else i for i in nums}
        names = set(names)
        for i in list(nums):
            if 0 <= i < len(positional):
                names.add(positional[i])
        for n in list(names):
            if n in positional:
                nums.add(positional.index(n))
        self._static_argnums = frozenset(nums)
        self._static_argnames = frozenset(names)
        dnums = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
        overlap = set(dnums) & self._static_argnums
        if overlap:
            raise ValueError(f"jit({self._name}): arguments {sorted(overlap)} are both static "
                             "and donated; only arrays can be donated.")
        self._donate_argnums = frozenset(dnums)
        if backend is not None:
            from funcgrad import lowering
            backend = _BACKEND_ALIASES.get(backend, backend)
            if backend not in lowering.BACKENDS:
                raise ValueError(f"jit({self._name}): unknown backend {backend!r}; "
                                 f"choose one of {', '.join(lowering.BACKENDS)}.")
        self._backend = backend
        self._cache: OrderedDict = OrderedDict()
        self._fast: dict = {}
        self._has_statics = bool(self._static_argnums or self._static_argnames)
        self._last: _Signature | None = None
        self.trace_count = 0
        self._hits = 0
        self._misses = 0

    # -- signatures

    def _signature(self, args, kwargs) -> tuple[_Signature, list]:
        nums, names = self._static_argnums, self._static_argnames
        if nums or names:
            dyn_args = tuple(_StaticMarker(_hashable(a, f"static argument {i} "
                                                     f"(`{self._arg_name(i)}`)", self._name))
                             if i in nums else a for i, a in enumerate(args))
            dyn_kwargs = {k: _StaticMarker(_hashable(v, f"static argument `{k}`", self._name))
                          if k in names else v for k, v in kwargs.items()}
        else:
            dyn_args, dyn_kwargs = args, kwargs
        leaves, treedef = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        dyn, statics, sigs, static_at = [], [], [], []
        for x in leaves:
            dynamic = _is_dynamic(x)  # False for a _StaticMarker
            static_at.append(not dynamic)
            if dynamic:
                dyn.append(x)
                sigs.append(_leaf_signature(x))
            else:
                statics.append(x.value if type(x) is _StaticMarker else x)
        statics = tuple(statics)
        try:
            hash(statics)
        except TypeError:
            for s in statics:
                _hashable(s, "a non-array leaf of the arguments", self._name)
        sig = _Signature((treedef, tuple(static_at)), statics, tuple(sigs), None)
        return sig, dyn

    def _arg_name(self, i):
        if self._sig is not None:
            ps = list(self._sig.parameters)
            if i < len(ps):
                return ps[i]
        return f"args[{i}]"

    # -- tracing

    def _trace(self, args, kwargs, sig: _Signature) -> Traced:
        nums, names = self._static_argnums, self._static_argnames
        arg_names = argument_names(self._fun, args, kwargs)
        marked, mtree = tree_util.tree_flatten((
            tuple(_StaticMarker(a) if i in nums else a for i, a in enumerate(args)),
            {k: _StaticMarker(v) if k in names else v for k, v in kwargs.items()}))
        is_dyn = [_is_dynamic(x) for x in marked]  # False for a _StaticMarker
        dyn_names = self._dyn_names(args, kwargs, arg_names)
        sig.names = dyn_names
        avals = [ShapedArray(s, d, w) for s, d, w in sig.avals]
        out_store = []
        fun = self._fun

        def flat_fun(*dyn_leaves):
            it = iter(dyn_leaves)
            full = [next(it) if d else (x.value if type(x) is _StaticMarker else x)
                    for x, d in zip(marked, is_dyn)]
            a, kw = tree_util.tree_unflatten(mtree, full)
            out = fun(*a, **kw)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            for o in out_leaves:
                if not core.is_arraylike(o):
                    raise errors.InvalidArgumentError(errors.message(
                        f"jit({self._name})", f"returned a {type(o).__name__} ({o!r:.40}) "
                        "among its outputs; jitted functions return arrays (or pytrees of "
                        "arrays).", "return arrays only; compute other values outside.",
                        errors.InvalidArgumentError))
            out_store.append(out_tree)
            return out_leaves

        t0 = time.perf_counter()
        closed = trace_to_jaxpr(flat_fun, avals, transform_name=f"jit({self._name})",
                                arg_names=dyn_names)
        j = closed.jaxpr
        jaxpr = core.Jaxpr((), (*j.constvars, *j.invars), j.eqns, j.outvars, j.debug_info)
        self.trace_count += 1
        if config.values.log_compiles or self.trace_count > config.values.max_retraces:
            reason = self._retrace_reason(sig)
            msg = (f"jit({self._name}): traced in {(time.perf_counter() - t0) * 1e3:.1f} ms "
                   f"({len(j.eqns)} equations); reason: {reason}")
            if config.values.log_compiles:
                _log.warning(msg)
            if self.trace_count > config.values.max_retraces:
                warnings.warn(errors.FuncgradWarning(
                    f"jit({self._name}) has been traced {self.trace_count} times (more than "
                    f"max_retraces={config.values.max_retraces}); the last reason: {reason}. "
                    "Each new signature (shape, dtype, static value) traces and compiles again; "
                    "keep shapes fixed (e.g. batch(drop_remainder=True)) or mark the changing "
                    "argument static deliberately."), stacklevel=4)
        self._last = sig
        backend = self._backend or _default_backend()
        return Traced(jaxpr, list(closed.consts), out_store[0], sig, self._name, backend)

    def _dyn_names(self, args, kwargs, arg_names):
        """The names of the dynamic leaves, from the names of every leaf of (args, kwargs)
        (in flattening order: positional arguments, then keywords sorted by name)."""
        names = []
        it = iter(arg_names)
        parts = [(i in self._static_argnums, a) for i, a in enumerate(args)]
        parts += [(k in self._static_argnames, kwargs[k]) for k in sorted(kwargs)]
        for static, a in parts:
            leaves = tree_util.tree_leaves(a)
            sub = [next(it, "?") for _ in leaves]
            if not static:
                names.extend(n for n, x in zip(sub, leaves) if _is_dynamic(x))
        return names

    def _retrace_reason(self, sig: _Signature) -> str:
        last = self._last
        if last is None:
            return "first call"
        if last.key[3] != sig.key[3]:
            return f"configuration changed {last.key[3]} -> {sig.key[3]}"
        if last.treedef != sig.treedef:
            return ("the structure of the arguments changed: "
                    f"{last.treedef[0]} -> {sig.treedef[0]}")
        if last.statics != sig.statics:
            diffs = [f"{a!r:.40} -> {b!r:.40}" for a, b in zip(last.statics, sig.statics)
                     if a != b]
            return "a static argument changed: " + "; ".join(diffs)
        diffs = [f"`{n}` changed {_fmt_sig(a)} -> {_fmt_sig(b)}"
                 for n, a, b in zip(sig.names or [], last.avals, sig.avals) if a != b]
        return "; ".join(diffs) or "a new signature"

    def _lookup(self, args, kwargs) -> tuple[Traced, list]:
        sig, dyn = self._signature(args, kwargs)
        traced = self._cache.get(sig.key)
        if traced is None:
            self._misses += 1
            traced = self._trace(args, kwargs, sig)
            if not traced.has_tracer_consts:
                self._cache[sig.key] = traced
                if len(self._cache) > 64:
                    self._cache.popitem(last=False)
        else:
            self._hits += 1
        return traced, dyn

    # -- running

    def _run(self, traced: Traced, dyn):
        """Runs ``traced`` on the dynamic leaves: at the bottom of the trace stack the driver is
        called directly (leaves converted to NumPy of their avals' dtypes); under a
        transformation the ``jit`` primitive is bound."""
        if core.current_trace() is core._EVAL_TRACE and not traced.has_tracer_consts:
            if traced.backend == _CUDA or core._DeviceArray in map(type, dyn):
                return self._run_on_gpu(traced, dyn)
            vals = [x._value if type(x) is Array else
                    x if type(x) is np.ndarray and x.dtype == a.dtype else np.asarray(x, a.dtype)
                    for x, a in zip(dyn, traced.in_avals)]
            run = traced.run or traced.executable().run
            outs = run(*traced.const_values, *vals)
            if traced.single_out:
                return Array(outs[0], traced.out_weak[0])
            flat = [Array(o, w) for o, w in zip(outs, traced.out_weak)]
        else:
            flat = jit_p.bind(*traced.consts, *dyn, jaxpr=traced.jaxpr, name=traced.name,
                              backend=traced.backend)
        return tree_util.tree_unflatten(traced.out_tree, flat)

    def _run_on_gpu(self, traced: Traced, dyn):
        """Runs ``traced`` on the CUDA backend: CudaArray operands are used in place, host
        operands and the trace's constants are copied over (constants once per trace)."""
        from funcgrad.devices import CudaArray
        consts = traced.device_consts
        if consts is None:  # the first run of this trace on the GPU
            from funcgrad.devices import devices
            devices("cuda")  # a clear error when there is no GPU
            from funcgrad.lowering import cuda_runtime
            consts = traced.device_consts = [cuda_runtime.to_device(c)
                                             for c in traced.const_values]
        exe = _executable(traced.jaxpr, _CUDA)
        vals = [x._dev if type(x) is CudaArray else
                np.asarray(x._value if isinstance(x, Array) else x, a.dtype)
                for x, a in zip(dyn, traced.in_avals)]
        flat = [CudaArray(o, w) for o, w in zip(exe(*consts, *vals), traced.out_weak)]
        if traced.single_out:
            return flat[0]
        return tree_util.tree_unflatten(traced.out_tree, flat)

    def __call__(self, *args, **kwargs):
        if config.values.disable_jit:
            return self._fun(*args, **kwargs)
        if kwargs or self._has_statics:
            traced, dyn = self._lookup(args, kwargs)
            return self._run(traced, dyn)
        # The fast path: every argument an array or a scalar, looked up by type and aval
        # without flattening; at the bottom of the trace stack, run the driver directly.
        try:
            # (A Python scalar's signature follows default_float/default_int, so the key
            # changes with the configuration that matters.)
            key = tuple([_FAST_SIGNATURES[type(a)](a) for a in args])
        except KeyError:
            traced, dyn = self._lookup(args, kwargs)
            return self._run(traced, dyn)
        traced = self._fast.get(key)
        if traced is None:
            traced, dyn = self._lookup(args, kwargs)
            if not traced.has_tracer_consts and all(
                    s[1] == a.dtype for s, a in zip(key, traced.in_avals)):
                self._fast[key] = traced
                if len(self._fast) > 64:
                    self._fast.pop(next(iter(self._fast)))
            return self._run(traced, dyn)
        self._hits += 1
        return self._run(traced, args)

    def lower(self, *args, **kwargs) -> Lowered:
        """Traces (or finds in the cache) the function for these arguments."""
        traced, _ = self._lookup(args, kwargs)
        return Lowered(traced, self)

    def eval_shape(self, *args, **kwargs):
        traced, _ = self._lookup(args, kwargs)
        return tree_util.tree_unflatten(traced.out_tree, traced.jaxpr.out_avals)

    def cache_info(self) -> dict:
        """Trace-cache counters: ``traces``, ``hits``, ``misses``, ``size``."""
        return {"traces": self.trace_count, "hits": self._hits, "misses": self._misses,
                "size": len(self._cache)}

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast.clear()
        self._last = None

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<jitted function {self._name}>"


class _StaticMarker:
    """Wraps a static argument so that flattening treats it as one leaf."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return type(other) is _StaticMarker and self.value == other.value

    def __hash__(self):
        return hash(self.value)


_CUDA = "numba-cuda"
_BACKEND_ALIASES = {"cuda": _CUDA, "gpu": _CUDA, "cpu": "numba-cpu"}


def _default_backend() -> str:
    return getattr(config.values, "default_backend", "numba-cpu")


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
        backend: str | None = None):
    """Compiles ``fun``: traced to a jaxpr once per signature, lowered to fused Numba kernels
    and BLAS calls, cached in memory and on disk.

    Args:
      fun: a pure function of arrays (or pytrees of arrays).
      static_argnums, static_argnames: arguments passed as Python values (by position or by
        name): part of the cache key, so they must be hashable, and Python control flow may
        depend on them. Non-array leaves (strings, None, callables) are static too.
      donate_argnums: arguments whose buffers the caller gives up (accepted for JAX
        compatibility; funcgrad does not yet reuse them).
      backend: ``"numba-cpu"`` (default; alias ``"cpu"``), ``"numba-cuda"`` (alias
        ``"cuda"``: CUDA kernels through numba-cuda; results are ``CudaArray``s that stay on the
        GPU), ``"interpret"`` (NumPy, the reference) or ``"numba-py"`` (the generated code run
        as Python, to debug code generation). Without a backend, a call whose arguments
        include a ``CudaArray`` runs on the CUDA backend (placement follows the data).

    Returns:
      A ``Jitted`` callable with ``lower(*args)``, ``trace_count``, ``cache_info()`` and
      ``clear_cache()``. Usable as a decorator, with or without arguments.

    Example:
        >>> @fg.jit
        ... def f(x):
        ...     return fnp.sin(x) * 2.0 + 1.0
        >>> f(fnp.ones(3))
        Array([2.682942, 2.682942, 2.682942], dtype=float32)
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, backend=backend)
    return Jitted(fun, static_argnums, static_argnames, donate_argnums, backend)


@contextlib.contextmanager
def disable_jit(disable: bool = True):
    """Within the block, jitted functions run eagerly (op by op, with Python values), which
    makes ``print`` and debuggers work inside them. ``FUNCGRAD_DISABLE_JIT=1`` does the same
    for a whole process."""
    with config.override(disable_jit=disable):
        yield


__all__ = ["jit", "Jitted", "Lowered", "Compiled", "disable_jit", "jit_p"]
