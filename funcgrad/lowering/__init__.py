"""jit's back end: jaxpr -> Executable.

``compile(jaxpr, backend)`` simplifies the jaxpr (``passes``), groups its equations into fused
kernels and library steps (``fusion``), generates a Python driver plus Numba kernels
(``codegen``/``numba_cpu``) and returns an ``Executable``. Backends:

* ``"numba-cpu"``: fused ``numba.njit`` kernels, each cached on disk as its own module.
* ``"numba-py"``: the same generated module, calling each kernel's ``py_func`` (no compiling).
* ``"interpret"``: each equation's NumPy ``impl``; the reference.
* ``"numba-cuda"``: ``numba.cuda`` kernels and a host driver over device arrays
  (``numba_cuda``; the ``cuda`` extra). Its executables take device or host arrays and return
  device arrays.

Executables are memoised in memory on the jaxpr's fingerprint, the backend and the options that
change the generated code. ``stats`` counts compiles and cache hits (tests assert on it).
"""
from __future__ import annotations

import logging
import sys
import time

import numpy as np

from funcgrad import config, core, pretty
from funcgrad.lowering import interpret, passes

BACKENDS = ("numba-cpu", "interpret", "numba-py", "numba-cuda")

_log = logging.getLogger("funcgrad.jit")


class Stats:
    """Counters of the lowering caches: ``compiles`` (Executables built), ``memory_hits``,
    ``kernels_compiled`` (Numba compilations run in this process), ``kernel_disk_hits``
    (kernels whose machine code Numba loaded from its disk cache)."""

    FIELDS = ("compiles", "memory_hits", "kernels_compiled", "kernel_disk_hits")

    def __init__(self):
        self.reset()

    def reset(self):
        for f in self.FIELDS:
            setattr(self, f, 0)

    def __getitem__(self, name):
        return getattr(self, name)

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.FIELDS}

    def __repr__(self):
        return f"Stats({self.as_dict()})"


stats = Stats()


class Executable:
    """A compiled jaxpr: call it with NumPy values of exactly ``in_avals``; it returns a list of
    fresh NumPy arrays of exactly ``out_avals`` (never aliasing an input or each other)."""

    __slots__ = ("in_avals", "out_avals", "backend", "source", "plan", "fingerprint", "_run")

    def __init__(self, in_avals, out_avals, backend, source, plan, run, fingerprint=""):
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        self.backend = backend
        self.source = source
        self.plan = plan
        self.fingerprint = fingerprint
        self._run = run

    def __call__(self, *args) -> list[np.ndarray]:
        return self._run(*args)

    @property
    def run(self):
        """The driver function itself (one call less than ``__call__``)."""
        return self._run

    def __repr__(self):
        ins = ", ".join(a.str_short() for a in self.in_avals)
        outs = ", ".join(a.str_short() for a in self.out_avals)
        return f"Executable[{self.backend}]({ins}) -> ({outs})"


_memory_cache: dict = {}


def codegen_options() -> tuple:
    """The flag values that change generated code (part of every cache key)."""
    v = config.values
    return (bool(v.fastmath), int(config.values.parallel_threshold))


def compile(jaxpr: core.Jaxpr, backend: str = "numba-cpu") -> Executable:  # noqa: A001
    """Compiles a constvar-free jaxpr for ``backend``; memoised on its fingerprint.

    Args:
      jaxpr: an open ``Jaxpr`` with no constvars (constants are leading invars).
      backend: one of ``BACKENDS``.

    Returns:
      An ``Executable``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"funcgrad.lowering.compile: unknown backend {backend!r}; "
                         f"choose one of {', '.join(BACKENDS)}")
    if jaxpr.constvars:
        raise ValueError("funcgrad.lowering.compile: the jaxpr has constvars; pass constants "
                         "as leading invars")
    fp = pretty.fingerprint(core.ClosedJaxpr(jaxpr, ()))
    # The printed text omits weak types, which the caller may read from out_avals.
    weak = tuple(v.aval.weak_type for v in jaxpr.invars) + \
        tuple(a.aval.weak_type for a in jaxpr.outvars)
    key = (fp, weak, backend, codegen_options())
    exe = _memory_cache.get(key)
    if exe is not None:
        stats.memory_hits += 1
        return exe
    t0 = time.perf_counter()
    exe = _build(jaxpr, backend, fp)
    stats.compiles += 1
    _memory_cache[key] = exe
    if config.values.log_compiles:
        _log_compile(exe, time.perf_counter() - t0)
    return exe


def _build(jaxpr, backend, fp) -> Executable:
    in_avals = [v.aval for v in jaxpr.invars]
    out_avals = [a.aval for a in jaxpr.outvars]
    if backend == "interpret":
        inlined = passes.inline_calls(jaxpr)
        return Executable(in_avals, out_avals, backend, pretty.pp_jaxpr(inlined), None,
                          interpret.make_runner(inlined), fp)
    if backend == "numba-cuda":
        from funcgrad.lowering import numba_cuda
        run, source, plan = numba_cuda.build(passes.simplify(jaxpr))
        return Executable(in_avals, out_avals, backend, source, plan, run, fp)
    from funcgrad.lowering import numba_cpu
    run, source, plan = numba_cpu.build(passes.simplify(jaxpr), py_kernels=backend == "numba-py")
    return Executable(in_avals, out_avals, backend, source, plan, run, fp)


def _log_compile(exe: Executable, seconds: float):
    plan = exe.plan
    summary = plan.summary() if plan is not None else "interpreted"
    msg = (f"funcgrad.jit: compiled {exe.fingerprint[:12]} for {exe.backend} in "
           f"{seconds * 1e3:.1f} ms ({summary})")
    _log.info(msg)
    print(msg, file=sys.stderr)


def clear_memory_cache() -> None:
    """Forgets every Executable built in this process (kernels stay loaded)."""
    _memory_cache.clear()
    try:
        from funcgrad.lowering import numba_cpu
    except ImportError:
        return
    numba_cpu.clear_memory_cache()


def clear_disk_cache() -> None:
    """Deletes the kernel library under ``config.cache_dir`` (``<cache_dir>/numba``)."""
    from funcgrad.lowering import disk_cache
    disk_cache.clear()


__all__ = ["BACKENDS", "compile", "Executable", "stats", "clear_memory_cache",
           "clear_disk_cache"]
