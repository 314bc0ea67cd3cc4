"""The CUDA backend: the same fusion plan as the CPU backend, lowered to numba-cuda kernels,
with a plain-Python host driver that keeps every value on the GPU.

* **Fused kernels.** Each ``KernelStep`` becomes one ``@cuda.jit`` module generated from the
  same scalar templates as the CPU kernels (``scalar.emit``), read through ``cuda_np`` and
  ``cuda_vmath``, which give the NumPy and helper names CUDA meanings (libdevice math).
  Elementwise steps are a grid-stride loop over the flat iteration space. Steps with
  reductions come in two forms, chosen by the driver from the (static) sizes: ``kernel_block``
  gives each output element a block whose threads stride over the reduced elements and combine
  their partial results with a shared-memory tree; ``kernel_thread`` gives each output a thread
  that loops over the reduced elements (for many outputs of short reductions). Float32 sums
  accumulate in float64.
* **Library steps** go to ``cuda_contract`` (dot_general as a tiled shared-memory matmul,
  convolution, pooling windows and their derivatives) and ``cuda_layout`` (transposes,
  slices, pads, concatenation, gather and scatter). Control flow runs on the host, its bodies
  compiled for this backend: ``cond`` and ``while`` read their predicate back (one small
  copy), ``scan`` slices and stacks on the device. A primitive no GPU rule covers runs on the
  host (operands copied back, the NumPy impl, the result copied over); ``stats`` counts such
  steps (``host_steps``) so that tests and benchmarks see them.
* The driver takes device arrays (host arrays are copied over) and returns fresh device
  arrays; nothing is copied back between steps.

Kernel modules are content-addressed files (``disk_cache``), so numba-cuda's ``cache=True``
keeps their PTX across processes; under the simulator they are executed in memory instead.

numba-cuda is the engine because it is the maintained CUDA target of Numba that funcgrad's
CPU backend already uses: one Python-syntax kernel language, one type system and the same
scalar templates for both. Its successor (numba-cuda-mlir) would replace only this module
and the ``cuda_*`` kernel modules: the plan, the templates and the driver interface stay.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os

import numpy as np

from funcgrad import core
from funcgrad.lowering import Stats, codegen, cuda_runtime, disk_cache, fusion
from funcgrad.lowering.cuda_runtime import cuda

BACKEND = "numba-cuda"

class CudaStats(Stats):
    """Counters of this backend: ``kernels_loaded`` (fused kernel modules loaded in this
    process) and ``host_steps`` (equations that the drivers compiled in this process run on
    the host)."""

    FIELDS = ("kernels_loaded", "host_steps")


stats = CudaStats()
_MAX_BLOCKS = 65535 * 32  # blocks per launch; the kernels' grid-stride loops cover the rest
_modules: dict = {}


def clear_memory_cache():
    _modules.clear()


# ------------------------------------------------------------------------------------------
# Kernels


def _header() -> str:
    from funcgrad.lowering import cuda_vmath
    return "import numba\n" + cuda_vmath.IMPORTS + "\n"


@functools.cache
def _versions() -> str:
    """What a kernel's compiled code depends on beyond its text: the CPU templates' versions
    and the CUDA shims that the kernels inline (their content, since Numba's cache does not
    notice changes in imported device functions)."""
    import numba_cuda
    parts = [codegen.library_versions(), f"numba-cuda={numba_cuda.__version__}"]
    here = os.path.dirname(__file__)
    for name in ("cuda_np.py", "cuda_vmath.py"):
        with open(os.path.join(here, name), "rb") as f:
            parts.append(f"{name[:-3]}=" + hashlib.sha256(f.read()).hexdigest()[:16])
    return " ".join(parts)


@dataclasses.dataclass
class CudaKernel:
    source: str
    bounds: tuple               # loop bounds (group sizes)
    kept: list                  # kept loop axes
    reduced: list               # reduced loop axes
    in_shapes: list             # per input: kernel-side shape ((1,) for a scalar read at 0)
    out_shapes: list
    red_shapes: list
    block: int                  # threads per block the block-reduction kernel is built for


def _nb_dtype(dt) -> str:
    dt = np.dtype(dt)
    return "numba.boolean" if dt == np.bool_ else f"numba.{dt.name}"


def kernel_code(step: fusion.KernelStep, block: int) -> CudaKernel:
    """The kernel module of one fused step (see the module docstring for its forms)."""
    groups, in_axes, reduced = codegen.collapse(step)
    rank = len(groups)
    bounds = codegen.group_shape(step.space, groups, range(rank))
    kept = [g for g in range(rank) if g not in reduced]
    red = sorted(reduced)

    def idx(axes):
        return ", ".join(f"i{g}" for g in axes) if axes else "()"

    params = [f"n{g}" for g in range(rank)]
    params += [f"x{i}" for i in range(len(step.inputs))]
    params += [f"o{i}" for i in range(len(step.outputs))]
    params += [f"r{i}" for i in range(len(step.reductions))]

    names: dict = {}
    loads = []
    for i, axes in enumerate(in_axes):
        names[("in", i)] = f"a{i}"
        loads.append(f"a{i} = x{i}[{idx(axes) if axes else '0'}]")

    def ref(a):
        if type(a) is core.Var and a in names:
            return names[a]
        r = step.reads[a]
        if type(r) is core.Literal:
            return codegen.literal(r.val, r.aval.dtype)
        return names[("in", r)]

    body, red_of = [], {}
    for k, eqn in enumerate(step.eqns):
        if eqn.prim.name in fusion.REDUCE_NAMES:
            red_of[eqn] = ref(eqn.invars[0])
            continue
        expr = codegen.emit(eqn, [ref(a) for a in eqn.invars])
        names[eqn.outvars[0]] = f"v{k}"
        body.append(f"v{k} = {expr}")
    body = loads + body + [f"o{i}[{idx(range(rank))}] = {names[v]}"
                           for i, v in enumerate(step.outputs)]

    accs = []  # (name, init, combine(acc, v), final(acc), shared dtype, operand)
    for j, r in enumerate(step.reductions):
        name, dt = r.eqn.prim.name, np.dtype(r.out.aval.dtype)
        wide = name == "reduce_sum" and dt == np.float32
        acc_dt = np.dtype(np.float64) if wide else dt
        accs.append((f"acc{j}", codegen.reduction_init(name, acc_dt),
                     lambda a, v, name=name, acc_dt=acc_dt:
                     codegen.reduction_combine(name, acc_dt, a, v),
                     (lambda a, dt=dt: f"np.{dt.name}({a})") if wide else (lambda a: a),
                     acc_dt, red_of[r.eqn]))

    def unravel(w, lin, axes):
        # row-major: the last axis varies fastest
        if not axes:
            return
        if len(axes) == 1:
            w(f"i{axes[0]} = {lin}")
            return
        w(f"q = {lin}")
        for g in reversed(axes[1:]):
            w(f"i{g} = q % n{g}")
            w(f"q = q // n{g}")
        w(f"i{axes[0]} = q")

    def size(axes):
        return " * ".join(f"n{g}" for g in axes) if axes else "1"

    def accumulate(w, loop):
        # The accumulators over the reduced elements that ``loop`` visits, with the body.
        for a in accs:
            w(f"{a[0]} = {a[1]}")
        w(loop)
        w.indent()
        unravel(w, "rr", red)
        for line in body:
            w(line)
        for a in accs:
            w(f"{a[0]} = {a[2](a[0], a[5])}")
        w.dedent()

    lines = []
    w = codegen.SourceWriter()
    if not accs:
        w("@cuda.jit(cache=CACHE)")
        w(f"def kernel({', '.join(params)}):")
        w.indent()
        w(f"total = {size(range(rank))}")
        w("for lin in range(cuda.grid(1), total, cuda.gridsize(1)):")
        w.indent()
        unravel(w, "lin", list(range(rank)))
        for line in body:
            w(line)
        w.dedent()
        w.dedent()
        lines = w.lines
    else:
        # One block per kept output element; a shared-memory tree combines the threads.
        w("@cuda.jit(cache=CACHE)")
        w(f"def kernel_block({', '.join(params)}):")
        w.indent()
        w("tid = cuda.threadIdx.x")
        for j, a in enumerate(accs):
            w(f"sm{j} = cuda.shared.array({block}, {_nb_dtype(a[4])})")
        w(f"nk = {size(kept)}")
        w(f"nr = {size(red)}")
        w("for k in range(cuda.blockIdx.x, nk, cuda.gridDim.x):")
        w.indent()
        unravel(w, "k", kept)
        accumulate(w, f"for rr in range(tid, nr, {block}):")
        for j, a in enumerate(accs):
            w(f"sm{j}[tid] = {a[0]}")
        w("cuda.syncthreads()")
        w(f"s = {block // 2}")
        w("while s > 0:")
        w.indent()
        w("if tid < s:")
        w.indent()
        for j, a in enumerate(accs):
            w(f"sm{j}[tid] = {a[2](f'sm{j}[tid]', f'sm{j}[tid + s]')}")
        w.dedent()
        w("cuda.syncthreads()")
        w("s = s // 2")
        w.dedent()
        w("if tid == 0:")
        w.indent()
        for j, a in enumerate(accs):
            w(f"r{j}[{idx(kept)}] = {a[3](f'sm{j}[0]')}")
        w.dedent()
        w("cuda.syncthreads()")
        w.dedent()
        w.dedent()
        w("")
        w("")
        # One thread per kept output element, looping over the reduced ones.
        w("@cuda.jit(cache=CACHE)")
        w(f"def kernel_thread({', '.join(params)}):")
        w.indent()
        w(f"nk = {size(kept)}")
        w(f"nr = {size(red)}")
        w("for k in range(cuda.grid(1), nk, cuda.gridsize(1)):")
        w.indent()
        unravel(w, "k", kept)
        accumulate(w, "for rr in range(nr):")
        for j, a in enumerate(accs):
            w(f"r{j}[{idx(kept)}] = {a[3](a[0])}")
        w.dedent()
        w.dedent()
        lines = w.lines
    cache = "False" if cuda_runtime.simulator() else "True"
    source = (f"# funcgrad CUDA kernel (generated). {_versions()}\n"
              + _header() + f"\nCACHE = {cache}\n\n\n" + "\n".join(lines) + "\n")
    in_shapes = [codegen.group_shape(step.space, groups, axes) or (1,) for axes in in_axes]
    return CudaKernel(source, bounds, kept, red, in_shapes, [bounds] * len(step.outputs),
                      [codegen.group_shape(step.space, groups, kept)] * len(step.reductions),
                      block)


def load(code: CudaKernel):
    """The kernel module of ``code`` (written to the kernel library and imported, or executed
    in memory under the simulator, where nothing is compiled)."""
    mod = _modules.get(code.source)
    if mod is None:
        if cuda_runtime.simulator():
            import types
            mod = types.ModuleType("funcgrad_cuda_kernel")
            exec(compile(code.source, "<funcgrad cuda kernel>", "exec"),  # noqa: S102
                 mod.__dict__)
        else:
            mod = disk_cache.module_for(code.source)
        _modules[code.source] = mod
        stats.kernels_loaded += 1
    return mod


# ------------------------------------------------------------------------------------------
# The driver


def _library_lowerings() -> dict:
    from funcgrad.lowering import cuda_contract, cuda_layout
    return {**cuda_layout.LOWERINGS, **cuda_contract.LOWERINGS}


def build(jaxpr: core.Jaxpr):
    """Returns ``(run, source, plan)`` for a simplified, first-order ``jaxpr``: ``run(*args)``
    takes device or host arrays of its input avals and returns fresh device arrays."""
    plan = fusion.plan(jaxpr, codegen.can_fuse)
    block = cuda_runtime.threads_per_block()
    lowerings = _library_lowerings()
    calls = []        # per step: a closure env -> None
    sources = []
    host_steps = []
    names: dict = {}  # var -> slot index
    nslots = 0

    def slot(v):
        nonlocal nslots
        if v not in names:
            names[v] = nslots
            nslots += 1
        return names[v]

    for v in jaxpr.invars:
        slot(v)

    def operand(a):
        if type(a) is core.Literal:
            dev = cuda_runtime.to_device(np.asarray(a.val, a.aval.dtype))
            return lambda env: dev
        i = names[a]
        return lambda env: env[i]

    for si, step in enumerate(plan.steps):
        if type(step) is fusion.KernelStep:
            calls.append(_kernel_call(step, block, operand, slot, sources))
        else:
            eqn = step.eqn
            fn = _library_fn(eqn, lowerings)
            if fn is None:
                host_steps.append(eqn.prim.name)
                fn = _host_fn(eqn)
            ins = [operand(a) for a in eqn.invars]
            outs = [slot(v) for v in eqn.outvars]
            calls.append(_library_call(fn, ins, outs, eqn.prim.multiple_results))
        dead = [names[v] for v in step.consumes
                if plan.last_use.get(v) == si and v not in jaxpr.invars and v in names]
        if dead and si < len(plan.steps) - 1:
            calls.append(_free(sorted(set(dead))))

    out_fns, seen = [], set()
    for a in jaxpr.outvars:
        if type(a) is core.Literal:
            val = np.asarray(a.val, a.aval.dtype)
            out_fns.append(lambda env, val=val: cuda_runtime.to_device(val))
        elif a in jaxpr.invars or a in seen:
            i = names[a]
            out_fns.append(lambda env, i=i: copy(env[i]))
        else:
            i = names[a]
            out_fns.append(lambda env, i=i: env[i])
            seen.add(a)
    nin = len(jaxpr.invars)
    to_device = cuda_runtime.to_device

    def run(*args):
        if len(args) != nin:
            raise TypeError(f"this executable takes {nin} arguments, got {len(args)}")
        env = [None] * nslots
        for i, x in enumerate(args):
            env[i] = to_device(x)
        for c in calls:
            c(env)
        return [f(env) for f in out_fns]

    stats.host_steps += len(host_steps)
    note = f"# host steps: {', '.join(host_steps)}\n" if host_steps else ""
    source = (f"# ---- CUDA driver: {plan.summary()}\n{note}" +
              "\n".join(f"# ---- kernel {i}\n{s}" for i, s in enumerate(sources)))
    return run, source, plan


def _free(slots):
    def free(env):
        for i in slots:
            env[i] = None
    return free


def _kernel_call(step, block, operand, slot, sources):
    code = kernel_code(step, block)
    sources.append(code.source)
    mod = load(code)
    ins = [operand(inp.var) for inp in step.inputs]
    in_fix = [tuple(s) if tuple(s) != inp.var.aval.shape else None
              for inp, s in zip(step.inputs, code.in_shapes)]
    outs = [(slot(v), v.aval, tuple(s)) for v, s in zip(step.outputs, code.out_shapes)]
    outs += [(slot(r.out), r.out.aval, tuple(s))
             for r, s in zip(step.reductions, code.red_shapes)]
    bounds = code.bounds
    nk = math.prod([bounds[g] for g in code.kept])
    nr = math.prod([bounds[g] for g in code.reduced])
    empty = cuda_runtime.empty
    # A block per output for long reductions along the innermost axis (coalesced reads) or
    # when there are too few outputs to fill the GPU with a thread each.
    if step.reductions and nr >= 16 and (code.reduced[-1] == len(bounds) - 1 or nk < 2048):
        kernel, blocks = mod.kernel_block, max(nk, 1)
    else:
        kernel = mod.kernel_thread if step.reductions else mod.kernel
        blocks = cuda_runtime.grid(max(nk, 1), block)[0]
    launcher = kernel[min(blocks, _MAX_BLOCKS), block]

    def call(env):
        args = list(bounds)
        for f, fix in zip(ins, in_fix):
            x = f(env)
            args.append(x if fix is None else x.reshape(fix))
        for i, aval, shape in outs:
            o = env[i] = empty(aval.shape, aval.dtype)
            args.append(o if shape == aval.shape else o.reshape(shape))
        if nk:  # no kept elements: the outputs are empty, nothing to launch
            launcher(*args)
    return call


def _library_call(fn, ins, outs, multiple):
    if multiple:
        def call(env):
            res = fn(*[f(env) for f in ins])
            for i, r in zip(outs, res):
                env[i] = r
    else:
        (o,) = outs

        def call(env):
            env[o] = fn(*[f(env) for f in ins])
    return call


def _library_fn(eqn, lowerings):
    name = eqn.prim.name
    if name == "cond":
        return _cond_fn(eqn)
    if name == "while":
        return _while_fn(eqn)
    if name == "scan":
        return _scan_fn(eqn)
    lower = lowerings.get(name)
    return lower(eqn) if lower is not None else None


def _host_fn(eqn):
    """Runs ``eqn`` as the CPU driver runs a library step (its NumPy impl, results of exactly
    the outvars' avals) on host copies of its operands, and copies the results over."""
    from funcgrad.lowering import numba_cpu
    on_host = numba_cpu._library_fn(eqn, "numba-cpu")
    multiple = eqn.prim.multiple_results

    def host(*args):
        out = on_host(*[a.copy_to_host() for a in args])
        if multiple:
            return [cuda_runtime.to_device(o) for o in out]
        return cuda_runtime.to_device(out)
    host.__name__ = f"host_{eqn.prim.name}"
    return host


def copy(x):
    """A fresh device copy of a device array."""
    y = cuda.device_array_like(x)
    y.copy_to_device(x)
    return y


def _executable(jaxpr):
    from funcgrad.transforms import jit as _jit
    return _jit._executable(jaxpr, BACKEND)


def _to_host_scalar(x):
    return x.copy_to_host()[()] if cuda_runtime.is_device_array(x) else np.asarray(x)[()]


def _row(x, i):
    """Row ``i`` of a C-contiguous device array, as a device view (never a host scalar)."""
    return x[i:i + 1].reshape(x.shape[1:])


def _cond_fn(eqn):
    branches = eqn.params["branches"]
    exes = [_executable(b) for b in branches]

    def cond(index, *args):
        i = min(max(int(_to_host_scalar(index)), 0), len(exes) - 1)
        return exes[i](*args)
    return cond


def _while_fn(eqn):
    p = eqn.params
    cond_exe, body_exe = _executable(p["cond_jaxpr"]), _executable(p["body_jaxpr"])
    nc, nb = p["cond_nconsts"], p["body_nconsts"]

    def while_(*args):
        cc, bc, carry = args[:nc], args[nc:nc + nb], list(args[nc + nb:])
        while bool(_to_host_scalar(cond_exe(*cc, *carry)[0])):
            carry = body_exe(*bc, *carry)
        return carry
    return while_


def _scan_fn(eqn):
    p = eqn.params
    exe = _executable(p["jaxpr"])
    nc, nk, length, reverse = p["num_consts"], p["num_carry"], p["length"], p["reverse"]
    y_avals = p["jaxpr"].out_avals[nk:]

    def scan(*args):
        consts, carry = list(args[:nc]), list(args[nc:nc + nk])
        xs = args[nc + nk:]
        ys = [cuda_runtime.empty((length, *a.shape), a.dtype) for a in y_avals]
        for step in range(length):
            i = length - 1 - step if reverse else step
            outs = exe(*consts, *carry, *[_row(x, i) for x in xs])
            carry = outs[:nk]
            for y, o in zip(ys, outs[nk:]):
                _row(y, i).copy_to_device(o)
        return [*carry, *ys]
    return scan
