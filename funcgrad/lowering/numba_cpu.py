"""The CPU backend: a plain-Python driver per jaxpr that calls fused ``numba.njit`` kernels.

Each ``KernelStep`` of the plan becomes one kernel module (``kernel`` and, where the outermost
loop axis is not reduced, ``kernel_par`` using ``prange``), content-addressed on disk so that
Numba's cache works across processes and identical kernels are shared by every function. Loop
bounds are arguments, so one compiled kernel serves every size. The driver allocates outputs
with ``np.empty``, calls kernels and runs library steps (``dot_general`` through NumPy's BLAS,
anything else through the primitive's NumPy ``impl``), then returns fresh arrays.
"""
from __future__ import annotations

import contextvars
import dataclasses
import math

import numpy as np

from funcgrad import config, core
from funcgrad.lowering import blas_threads, codegen, disk_cache, fusion, interpret

BLOCK = 256  # elements per block of a blocked floating-point sum

# source -> KernelModule (loaded once per process)
_kernel_modules: dict = {}


def clear_memory_cache():
    _kernel_modules.clear()


# ------------------------------------------------------------------------------------------
# Kernels


@dataclasses.dataclass
class KernelCode:
    source: str                 # the whole module text
    body: str                   # the two functions, without the import header
    header: str
    bounds: tuple               # static loop bounds (the driver passes them)
    in_shapes: list             # per input: kernel-side shape (() = passed as a scalar)
    out_shapes: list            # per full-space output: kernel-side shape
    red_shapes: list            # per reduction: kernel-side shape
    parallel_ok: bool
    signature: tuple = ()


def _decorator(parallel: bool) -> str:
    fm = "True" if getattr(config.values, "fastmath", False) else '{"contract"}'
    par = ", parallel=True" if parallel else ""
    return f'@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={fm}{par})'


def kernel_code(step: fusion.KernelStep) -> KernelCode:
    """Generates the kernel module for one fused step."""
    groups, in_axes, reduced = codegen.collapse(step)
    rank = len(groups)
    bounds = codegen.group_shape(step.space, groups, range(rank))
    kept = [g for g in range(rank) if g not in reduced]
    trail = rank
    while trail > 0 and (trail - 1) in reduced:
        trail -= 1
    outer_reduced = any(g < trail for g in reduced)
    parallel_ok = rank > 0 and 0 not in reduced

    params = [f"n{g}" for g in range(rank)]
    params += [f"x{i}" for i in range(len(step.inputs))]
    params += [f"o{i}" for i in range(len(step.outputs))]
    params += [f"r{i}" for i in range(len(step.reductions))]

    def idx(axes):
        return ", ".join(f"i{g}" for g in axes) if axes else "()"

    # Value names and levels (loop depth at which a value is first computable).
    names: dict = {}
    level: dict = {}
    by_level: dict = {d: [] for d in range(rank + 1)}
    for i, axes in enumerate(in_axes):
        if not axes:
            names[("in", i)], level[("in", i)] = f"x{i}", 0
        else:
            names[("in", i)], level[("in", i)] = f"a{i}", max(axes) + 1
            by_level[max(axes) + 1].append(f"a{i} = x{i}[{idx(axes)}]")

    def ref(a):
        if type(a) is core.Var and a in names:
            return names[a], level[a]
        r = step.reads[a]
        if type(r) is core.Literal:
            return codegen.literal(r.val, r.aval.dtype), 0
        return names[("in", r)], level[("in", r)]

    nvals = 0
    red_of = {}
    for eqn in step.eqns:
        if eqn.prim.name in fusion.REDUCE_NAMES:
            red_of[eqn] = ref(eqn.invars[0])[0]
            continue
        ops = [ref(a) for a in eqn.invars]
        lvl = max([lv for _, lv in ops], default=0)
        expr = codegen.emit(eqn, [n for n, _ in ops])
        v = eqn.outvars[0]
        names[v], level[v] = f"v{nvals}", lvl
        nvals += 1
        by_level[lvl].append(f"{names[v]} = {expr}")

    stores = [f"o{i}[{idx(range(rank))}] = {names[v]}" for i, v in enumerate(step.outputs)]
    accs = []
    for j, red in enumerate(step.reductions):
        name, dt = red.eqn.prim.name, red.out.aval.dtype
        accs.append((f"acc{j}", codegen.reduction_init(name, dt), name, dt, red_of[red.eqn]))

    # Floating sums over the innermost loop are blocked: each block of values goes to a small
    # buffer (a vectorisable loop) that a reassociating helper sums (vectorised, and far more
    # accurate than one running sum); blocks are accumulated in float64.
    blocked = trail < rank and any(a[2] == "reduce_sum" and np.dtype(a[3]).kind == "f"
                                   for a in accs)
    block_sums = {j for j, a in enumerate(accs)
                  if blocked and a[2] == "reduce_sum" and np.dtype(a[3]).kind == "f"}
    helper_dtypes = sorted({np.dtype(accs[j][3]).name for j in block_sums})

    def acc_init(j):
        return "np.float64(0.0)" if j in block_sums else accs[j][1]

    def acc_final(j):
        return f"np.{np.dtype(accs[j][3]).name}({accs[j][0]})" if j in block_sums \
            else accs[j][0]

    def body(parallel: bool) -> list[str]:
        w = codegen.SourceWriter()
        w(_decorator(parallel))
        w(f"def {'kernel_par' if parallel else 'kernel'}({', '.join(params)}):")
        w.indent()
        if accs and (outer_reduced or trail == rank):
            for j, (_, init, *_rest) in enumerate(accs):
                w(f"r{j}.fill({init})")
        buf_level = 1 if parallel else 0
        for d in range(rank + 1):
            if d == buf_level:
                for j in sorted(block_sums):
                    w(f"buf{j} = np.empty({BLOCK}, np.{np.dtype(accs[j][3]).name})")
            for line in by_level[d]:
                w(line)
            if accs and d == trail and trail < rank:
                for j, (acc, *_) in enumerate(accs):
                    w(f"{acc} = {acc_init(j)}")
            if d < rank - 1 or (d == rank - 1 and not blocked):
                rng = "numba.prange" if parallel and d == 0 else "range"
                w(f"for i{d} in {rng}(n{d}):")
                w.indent()
            elif d == rank - 1:
                w(f"for b{d} in range(0, n{d}, {BLOCK}):")
                w.indent()
                w(f"w{d} = min({BLOCK}, n{d} - b{d})")
                w(f"for j{d} in range(w{d}):")
                w.indent()
                # unsigned: Numba then skips the negative-index wraparound that blocks SIMD
                w(f"i{d} = np.uint64(b{d} + j{d})")
        for line in stores:
            w(line)
        for j, (acc, _, name, dt, v) in enumerate(accs):
            if j in block_sums:
                w(f"buf{j}[j{rank - 1}] = {v}")
            elif trail < rank:
                w(f"{acc} = {codegen.reduction_combine(name, dt, acc, v)}")
            else:
                r = f"r{j}[{idx(kept)}]"
                w(f"{r} = {codegen.reduction_combine(name, dt, r, v)}")
        if not (stores or accs or any(by_level.values())):
            w("pass")
        for d in range(rank - 1, -1, -1):
            w.dedent()
            if blocked and d == rank - 1:
                for j in sorted(block_sums):
                    dt = np.dtype(accs[j][3]).name
                    w(f"{accs[j][0]} = {accs[j][0]} + _block_sum_{dt}(buf{j}, w{d})")
                w.dedent()
            if accs and d == trail and trail < rank:
                for j, (_acc, _, name, dt, _v) in enumerate(accs):
                    r = f"r{j}[{idx(kept)}]"
                    val = codegen.reduction_combine(name, dt, r, acc_final(j)) \
                        if outer_reduced else acc_final(j)
                    w(f"{r} = {val}")
        w.dedent()
        return w.lines

    lines = []
    for dt in helper_dtypes:
        lines += [
            '@numba.njit(cache=True, nogil=True, error_model="numpy", '
            'fastmath={"reassoc", "contract"})',
            f"def _block_sum_{dt}(buf, n):",
            f"    s = np.{dt}(0.0)",
            "    for i in range(n):",
            "        s += buf[i]",
            "    return s", "", ""]
    lines += body(False)
    if parallel_ok:
        lines += ["", ""] + body(True)
    fn_text = "\n".join(lines) + "\n"
    header = "\n".join([f"# funcgrad kernel (generated). {codegen.library_versions()}",
                        "import numba", *codegen.imports()]) + "\n\n\n"
    in_shapes = [codegen.group_shape(step.space, groups, axes) for axes in in_axes]
    out_shapes = [bounds] * len(step.outputs)
    red_shapes = [codegen.group_shape(step.space, groups, kept)] * len(step.reductions)
    code = KernelCode(header + fn_text, fn_text, header, bounds, in_shapes, out_shapes,
                      red_shapes, parallel_ok)
    code.signature = _signature_types(step, code)
    return code


def _signature_types(step, code):
    # (dtype, ndim, or None for a scalar) per argument after the bounds.
    sig = [(inp.var.aval.dtype, len(s) or None) for inp, s in zip(step.inputs, code.in_shapes)]
    sig += [(v.aval.dtype, len(s)) for v, s in zip(step.outputs, code.out_shapes)]
    sig += [(r.out.aval.dtype, len(s)) for r, s in zip(step.reductions, code.red_shapes)]
    return tuple(sig)


class _PyVmath:
    """Stands in for the vmath module under numba-py: each njit function's ``py_func``."""

    def __init__(self, mod):
        self._mod = mod

    def __getattr__(self, name):
        f = getattr(self._mod, name)
        return getattr(f, "py_func", f)


class _PyNumba:
    prange = range

    @staticmethod
    def njit(*args, **kw):
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


def load_kernel(code: KernelCode, parallel: bool, py: bool):
    """The callable for ``code``: a compiled dispatcher, or its Python function for numba-py."""
    from funcgrad.lowering import stats
    fname = "kernel_par" if parallel else "kernel"
    if py:
        ns: dict = {"__name__": "funcgrad_py_kernel"}
        exec(code.header, ns)  # noqa: S102 - our own generated source
        ns["numba"] = _PyNumba
        if "vmath" in ns:
            ns["vmath"] = _PyVmath(ns["vmath"])
        exec(code.body, ns)  # noqa: S102
        return ns[fname]
    mod = _kernel_modules.get(code.source)
    if mod is None:
        mod = _kernel_modules[code.source] = disk_cache.module_for(code.source)
    disp = getattr(mod, fname)
    sig = _numba_signature(code)
    if sig not in disp.overloads:
        hits = sum(disp.stats.cache_hits.values())
        disp.compile(sig)
        if sum(disp.stats.cache_hits.values()) > hits:
            stats.kernel_disk_hits += 1
        else:
            stats.kernels_compiled += 1
    return disp


def _numba_signature(code: KernelCode):
    import numba
    from numba import types
    args = [types.intp] * len(code.bounds)
    for dt, ndim in code.signature:
        nb = numba.from_dtype(dt)
        args.append(nb if ndim is None else types.Array(nb, ndim, "C"))
    return tuple(args)


# ------------------------------------------------------------------------------------------
# The driver


BLAS_PARALLEL_THRESHOLD = 2 ** 22

# The backend of the compiled driver whose library step is running, or None outside one:
# control-flow primitives compile their bodies for it (and interpret them when eager).
driver_backend: contextvars.ContextVar = contextvars.ContextVar("driver_backend", default=None)
_HIGHER_ORDER = frozenset({"cond", "scan", "while"})


def build(jaxpr: core.Jaxpr, py_kernels: bool = False):
    """Returns ``(run, source, plan)`` for a simplified, first-order ``jaxpr``."""
    plan = fusion.plan(jaxpr, codegen.can_fuse)
    backend = "numba-py" if py_kernels else "numba-cpu"
    threshold = int(config.values.parallel_threshold)
    if any(type(s) is fusion.LibraryStep and s.eqn.prim.name == "dot_general"
           for s in plan.steps):
        # BLAS's worker threads keep spinning for a while after each call and compete with a
        # parallel kernel's threads (measured: a 784x512 SGD update took 2.4 ms in parallel
        # after a matmul, against 0.15 ms serially); only very large kernels go parallel here.
        threshold = max(threshold, BLAS_PARALLEL_THRESHOLD)
    g: dict = {"np": np, "_own": _own}
    w = codegen.SourceWriter()
    names: dict = {}
    for i, v in enumerate(jaxpr.invars):
        names[v] = f"a{i}"
    args_tuple = "(" + "".join(f"a{i}, " for i in range(len(jaxpr.invars))) + ")"
    w(f"def run({', '.join(names[v] for v in jaxpr.invars)}):")
    w.indent()
    consts = {}

    def atom(a):
        if type(a) is core.Literal:
            key = (pp_lit(a))
            if key not in consts:
                consts[key] = f"_c{len(consts)}"
                g[consts[key]] = np.asarray(a.val, a.aval.dtype)[()]
            return consts[key]
        return names[a]

    producer_kind = {}
    kernel_sources = []
    ntemps = 0
    for si, step in enumerate(plan.steps):
        if type(step) is fusion.KernelStep:
            code = kernel_code(step)
            kernel_sources.append(code.source)
            size = int(np.prod(step.space, dtype=np.int64))
            parallel = code.parallel_ok and size >= threshold and not py_kernels
            kname = f"_k{si}"
            g[kname] = load_kernel(code, parallel, py_kernels)
            call = [str(b) for b in code.bounds]
            for inp, shape in zip(step.inputs, code.in_shapes):
                v = atom(inp.var)
                if producer_kind.get(inp.var) in (fusion.Kind.LAYOUT, fusion.Kind.BROADCAST):
                    v = f"np.ascontiguousarray({v})"
                if not shape:
                    nd = inp.var.aval.ndim
                    call.append(f"{v}[{', '.join(['0'] * nd) if nd else '()'}]")
                elif tuple(shape) != inp.var.aval.shape:
                    call.append(f"{v}.reshape({shape})")
                else:
                    call.append(v)
            for v, shape in [(v, s) for v, s in zip(step.outputs, code.out_shapes)] + \
                    [(r.out, s) for r, s in zip(step.reductions, code.red_shapes)]:
                t = names[v] = f"t{ntemps}"
                ntemps += 1
                w(f"{t} = np.empty({v.aval.shape}, np.{v.aval.dtype.name})")
                call.append(t if tuple(shape) == v.aval.shape else f"{t}.reshape({shape})")
            w(f"{kname}({', '.join(call)})")
        else:
            eqn = step.eqn
            outs = []
            for v in eqn.outvars:
                names[v] = f"t{ntemps}"
                producer_kind[v] = step.kind
                ntemps += 1
                outs.append(names[v])
            lhs = ", ".join(outs) + ("," if len(outs) == 1 and eqn.prim.multiple_results
                                     else "")
            w(f"{lhs} = {_library_call(eqn, step.kind, si, g, atom, backend)}")
        dead = [names[v] for v in step.consumes
                if plan.last_use.get(v) == si and v not in jaxpr.invars and v in names]
        if dead and si < len(plan.steps) - 1:
            w(f"del {', '.join(sorted(set(dead)))}")
    rets, seen = [], set()
    kernel_made = {v for s in plan.steps if type(s) is fusion.KernelStep for v in s.produces}
    for a in jaxpr.outvars:
        if type(a) is core.Literal:
            rets.append(f"np.array({atom(a)})")
        elif a in jaxpr.invars:
            rets.append(f"np.array({names[a]})")
        elif a in seen:
            rets.append(f"{names[a]}.copy()")
        elif a in kernel_made:
            rets.append(names[a])
        else:
            rets.append(f"_own({names[a]}, {args_tuple})")
        if type(a) is core.Var:
            seen.add(a)
    w(f"return [{', '.join(rets)}]")
    driver = w.text()
    exec(compile(driver, "<funcgrad driver>", "exec"), g)  # noqa: S102
    const_lines = [f"# {name} = {key}" for key, name in consts.items()]
    source = "\n".join(["# ---- driver", *const_lines, driver] +
                       [f"# ---- kernel {i}\n{s}" for i, s in enumerate(kernel_sources)])
    run = g["run"]
    if py_kernels:  # NumPy scalars warn on overflow where compiled kernels wrap silently
        compiled_run = run

        def run(*args):
            with np.errstate(all="ignore"):
                return compiled_run(*args)
    return run, source, plan


def pp_lit(a):
    from funcgrad import pretty
    return pretty.pp_literal(a)


def _own(x, args):
    """``x`` as a fresh array owned by the caller (library results may be views or inputs)."""
    if x.base is not None or not x.flags.writeable or any(x is a for a in args):
        return x.copy()
    return x


def _library_call(eqn, kind, si, g, atom, backend) -> str:
    args = [atom(a) for a in eqn.invars]
    if eqn.prim.name == "dot_general":
        fast = _matmul_call(eqn, args, g)
        if fast is not None:
            return fast
    fname = f"_l{si}"
    g[fname] = _library_fn(eqn, backend)
    return f"{fname}({', '.join(args)})"


def _library_fn(eqn, backend):
    impl, params = eqn.prim.impl, eqn.params
    avals = [v.aval for v in eqn.outvars]
    if eqn.prim.name in _HIGHER_ORDER:
        # Control flow runs its bodies compiled for this driver's backend (see driver_backend).
        raw = impl

        def impl(*args, **params):
            token = driver_backend.set(backend)
            try:
                return raw(*args, **params)
            finally:
                driver_backend.reset(token)
    if eqn.prim.multiple_results:
        def call(*args):
            with np.errstate(all="ignore"):
                outs = impl(*args, **params)
            return [interpret.as_aval(o, a) for o, a in zip(outs, avals)]
    else:
        aval = avals[0]

        def call(*args):
            with np.errstate(all="ignore"):
                return interpret.as_aval(impl(*args, **params), aval)
    call.__name__ = eqn.prim.name
    return call


def _matmul_call(eqn, args, g):
    """``np.matmul`` on (transposed) operands for plain matrix/vector products, else None.

    Small products run on one BLAS thread (see ``blas_threads``)."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = (a.aval for a in eqn.invars)
    pet = eqn.params["preferred_element_type"]
    if lb or rb or len(lc) != 1 or lhs.ndim > 2 or rhs.ndim > 2 or \
            (pet is not None and np.dtype(pet) != lhs.dtype) or lhs.dtype.kind not in "fiu":
        return None
    a = args[0] if lhs.ndim == 1 or lc == (1,) else f"{args[0]}.T"
    b = args[1] if rhs.ndim == 1 or rc == (0,) else f"{args[1]}.T"
    if lhs.ndim == 1 and rhs.ndim == 1:
        return f"np.asarray(np.dot({a}, {b}))"
    macs = math.prod(eqn.outvars[0].aval.shape) * lhs.shape[lc[0]]
    if macs < blas_threads.SERIAL_MAX_MACS and blas_threads.controls()[0] is not None:
        g["_serial"] = blas_threads.serial
        return f"_serial(np.matmul, {a}, {b})"
    return f"np.matmul({a}, {b})"
