"""Source generation shared by the kernel backends: an indent-aware writer, dtype-exact
literals, scalar expressions for elementwise equations, and the collapsing of loop axes.

Generated kernels are specialised on rank, dtypes and broadcast pattern, never on sizes, so
nothing here may depend on an axis length.
"""
from __future__ import annotations

import functools
import hashlib
import os

import numpy as np

from funcgrad import core
from funcgrad.lowering import fusion
from funcgrad.lowering import scalar as _scalar

# Bump when the shape of generated code changes (it is part of every disk-cache key).
CODEGEN_VERSION = "1"


class SourceWriter:
    """Collects lines of Python source with indentation."""

    def __init__(self):
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, line: str = ""):
        self.lines.append("    " * self.depth + line if line else "")

    def indent(self):
        self.depth += 1

    def dedent(self):
        self.depth -= 1

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# ------------------------------------------------------------------------------------------
# Literals and scalar expressions


def literal(value, dtype) -> str:
    """A Numba expression for ``value`` of exactly ``dtype`` (never a bare float, which would
    promote float32 arithmetic to float64)."""
    return _scalar.literal(value, np.dtype(dtype))


def can_fuse(eqn) -> bool:
    """Whether an elementwise equation has a scalar template for its dtypes (else it runs as a
    library step through its NumPy impl)."""
    if not _scalar.has_rule(eqn.prim):
        return False
    return _scalar.supports(eqn.prim, [a.aval for a in eqn.invars], eqn.outvars[0].aval)


def emit(eqn, args: list[str]) -> str:
    """The scalar expression of an elementwise equation over operand expressions ``args``."""
    return _scalar.emit(eqn.prim, eqn.params, args, [a.aval for a in eqn.invars],
                        eqn.outvars[0].aval)


def imports() -> list[str]:
    return _scalar.IMPORTS.splitlines()


@functools.cache
def library_versions() -> str:
    """Versions of everything a kernel's machine code depends on beyond its own source (Numba's
    cache does not notice changes in imported njit functions)."""
    import numba

    import funcgrad
    parts = [f"funcgrad={funcgrad.__version__}", f"numba={numba.__version__}",
             f"codegen={CODEGEN_VERSION}"]
    parts.append(f"scalar={_scalar.VERSION}")
    with open(os.path.join(os.path.dirname(__file__), "vmath.py"), "rb") as f:
        parts.append("vmath=" + hashlib.sha256(f.read()).hexdigest()[:16])
    return " ".join(parts)


def _cast(dt, expr):
    return f"np.{np.dtype(dt).name}({expr})"


# ------------------------------------------------------------------------------------------
# Reductions


def reduction_init(prim_name: str, dtype) -> str:
    dt = np.dtype(dtype)
    if prim_name == "reduce_sum" or prim_name == "reduce_or":
        return literal(0, dt) if dt != np.bool_ else "False"
    if prim_name == "reduce_prod":
        return literal(1, dt) if dt != np.bool_ else "True"
    if prim_name == "reduce_and":
        return "True" if dt == np.bool_ else literal(-1 if dt.kind == "i" else
                                                     np.iinfo(dt).max, dt)
    lo = prim_name == "reduce_max"
    if dt == np.bool_:
        return "False" if lo else "True"
    if dt.kind == "f":
        return literal(-np.inf if lo else np.inf, dt)
    info = np.iinfo(dt)
    return literal(info.min if lo else info.max, dt)


def reduction_combine(prim_name: str, dtype, acc: str, v: str) -> str:
    dt = np.dtype(dtype)
    wrap = (lambda e: _cast(dt, e)) if dt.kind in "iu" else (lambda e: e)
    if prim_name == "reduce_sum":
        return f"{acc} | {v}" if dt == np.bool_ else wrap(f"{acc} + {v}")
    if prim_name == "reduce_prod":
        return f"{acc} & {v}" if dt == np.bool_ else wrap(f"{acc} * {v}")
    if prim_name == "reduce_and":
        return f"{acc} & {v}"
    if prim_name == "reduce_or":
        return f"{acc} | {v}"
    if dt == np.bool_:
        return f"{acc} | {v}" if prim_name == "reduce_max" else f"{acc} & {v}"
    cmp = ">" if prim_name == "reduce_max" else "<"
    if dt.kind == "f":  # NaN wins, as in NumPy
        return f"{v} if ({v} {cmp} {acc} or {v} != {v}) else {acc}"
    return f"{v} if {v} {cmp} {acc} else {acc}"


# ------------------------------------------------------------------------------------------
# Axis collapsing


def collapse(step: fusion.KernelStep):
    """Merges adjacent loop axes that every operand reads alike, so that, e.g., any
    elementwise kernel without broadcasting becomes one flat loop.

    Returns ``(groups, in_axes, reduced)``: ``groups`` lists, per new loop axis, the original
    axes it covers; ``in_axes`` per input the new loop axes it is read along (size-1 axes
    dropped); ``reduced`` the set of new reduced axes."""
    rank = len(step.space)
    red = set(step.axes)
    ins = [[t for t in inp.axes if t is not None] for inp in step.inputs]
    groups = [[k] for k in range(rank)]

    def mergeable(k):  # original axes k and k+1
        if (k in red) != (k + 1 in red):
            return False
        for lst in ins:
            if (k in lst) != (k + 1 in lst):
                return False
            if k in lst and lst.index(k + 1) != lst.index(k) + 1:
                return False
        return True

    merged: list[list[int]] = []
    for k in range(rank):
        if merged and mergeable(k - 1):
            merged[-1].append(k)
        else:
            merged.append([k])
    groups = merged
    new_of = {k: g for g, ks in enumerate(groups) for k in ks}
    in_axes = []
    for lst in ins:
        out: list[int] = []
        for t in lst:
            if not out or out[-1] != new_of[t]:
                out.append(new_of[t])
        in_axes.append(out)
    reduced = {new_of[k] for k in red}
    return groups, in_axes, reduced


def group_shape(space, groups, which) -> tuple[int, ...]:
    return tuple(int(np.prod([space[k] for k in groups[g]], dtype=np.int64)) for g in which)


def atom_key(a):
    return a if type(a) is core.Var else id(a)
