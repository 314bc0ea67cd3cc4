"""Source generation shared by the kernel backends: an indent-aware writer, dtype-exact
literals, scalar expressions for elementwise equations, and the collapsing of loop axes.

Generated kernels are specialised on rank, dtypes and broadcast pattern, never on sizes, so
nothing here may depend on an axis length.
"""
from __future__ import annotations

import hashlib
import math
import os

import numpy as np

from funcgrad import core
from funcgrad.lowering import fusion

try:  # the per-primitive scalar templates (written alongside this package)
    from funcgrad.lowering import scalar as _scalar
except ImportError:  # pragma: no cover - only while scalar.py does not exist yet
    _scalar = None

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
    dt = np.dtype(dtype)
    if _scalar is not None and hasattr(_scalar, "literal"):
        return _scalar.literal(value, dt)
    return _own_literal(value, dt)


def _own_literal(value, dt) -> str:
    if dt == np.bool_:
        return "True" if bool(value) else "False"
    if dt.kind == "f":
        v = float(value)
        text = "np.nan" if math.isnan(v) else (("-" if v < 0 else "") + "np.inf") \
            if math.isinf(v) else repr(v)
        return f"np.{dt.name}({text})"
    return f"np.{dt.name}({int(value)})"


def has_rule(prim) -> bool:
    if _scalar is not None:
        return _scalar.has_rule(prim)
    return prim.name in _FALLBACK


def _vmath_available() -> bool:
    global _HAS_VMATH
    if _HAS_VMATH is None:
        import importlib.util
        _HAS_VMATH = importlib.util.find_spec("funcgrad.lowering.vmath") is not None
    return _HAS_VMATH


_HAS_VMATH = None


def can_fuse(eqn) -> bool:
    """Whether an elementwise equation has a scalar template for its dtypes (else it runs as a
    library step through its NumPy impl)."""
    if not has_rule(eqn.prim):
        return False
    if _scalar is None:
        return True
    in_avals = [a.aval for a in eqn.invars]
    out_aval = eqn.outvars[0].aval
    if not _scalar.supports(eqn.prim, in_avals, out_aval):
        return False
    if not _vmath_available():
        try:
            expr = _scalar.emit(eqn.prim, eqn.params, ["x"] * len(in_avals), in_avals, out_aval)
        except NotImplementedError:
            return False
        return "vmath." not in expr
    return True


def emit(eqn, args: list[str]) -> str:
    """The scalar expression of an elementwise equation over operand expressions ``args``."""
    in_avals = [a.aval for a in eqn.invars]
    out_aval = eqn.outvars[0].aval
    if _scalar is not None:
        return _scalar.emit(eqn.prim, eqn.params, args, in_avals, out_aval)
    return _FALLBACK[eqn.prim.name](args, out_aval.dtype, eqn.params)


def imports() -> list[str]:
    if _scalar is None:
        return ["import math", "import numpy as np"]
    imp = _scalar.IMPORTS
    lines = imp.splitlines() if isinstance(imp, str) else list(imp)
    if not _vmath_available():
        lines = [ln for ln in lines if "vmath" not in ln]
    return lines


def library_versions() -> str:
    """Versions of everything a kernel's machine code depends on beyond its own source (Numba's
    cache does not notice changes in imported njit functions)."""
    import numba

    import funcgrad
    parts = [f"funcgrad={funcgrad.__version__}", f"numba={numba.__version__}",
             f"codegen={CODEGEN_VERSION}"]
    if _scalar is not None:
        parts.append(f"scalar={getattr(_scalar, 'VERSION', '?')}")
        vpath = os.path.join(os.path.dirname(__file__), "vmath.py")
        if os.path.exists(vpath):
            with open(vpath, "rb") as f:
                parts.append("vmath=" + hashlib.sha256(f.read()).hexdigest()[:16])
    return " ".join(parts)


def _cast(dt, expr):
    return f"np.{np.dtype(dt).name}({expr})"


# A minimal table used only while scalar.py is absent (basic arithmetic).
_FALLBACK = {
    "add": lambda a, dt, p: _cast(dt, f"{a[0]} + {a[1]}"),
    "add_any": lambda a, dt, p: _cast(dt, f"{a[0]} + {a[1]}"),
    "sub": lambda a, dt, p: _cast(dt, f"{a[0]} - {a[1]}"),
    "mul": lambda a, dt, p: _cast(dt, f"{a[0]} * {a[1]}"),
    "neg": lambda a, dt, p: _cast(dt, f"-{a[0]}"),
    "exp": lambda a, dt, p: _cast(dt, f"np.exp({a[0]})"),
    "sin": lambda a, dt, p: _cast(dt, f"np.sin({a[0]})"),
    "lt": lambda a, dt, p: f"({a[0]} < {a[1]})",
    "gt": lambda a, dt, p: f"({a[0]} > {a[1]})",
    "select_n": lambda a, dt, p: f"({a[2]} if {a[0]} else {a[1]})" if len(a) == 3 else a[1],
    "convert_element_type": lambda a, dt, p: _cast(dt, a[0]),
}


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
