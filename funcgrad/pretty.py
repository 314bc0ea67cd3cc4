"""The jaxpr printer. Names are assigned per jaxpr in order of appearance (a, b, ..., z, ba, ...),
so the text is stable across processes and serves as the jaxpr's fingerprint."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from funcgrad import core, dtypes

# Pretty-print hooks for higher-order primitives: prim -> fn(eqn, names, indent) -> str.
pp_rules: dict = {}

_ONE_LINE_WIDTH = 100


def _name(i: int) -> str:
    s = ""
    while True:
        s = chr(ord("a") + i % 26) + s
        i //= 26
        if i == 0:
            return s


class _Names:
    def __init__(self):
        self._names: dict[core.Var, str] = {}

    def __call__(self, v) -> str:
        if type(v) is core.Literal:
            return pp_literal(v)
        n = self._names.get(v)
        if n is None:
            n = self._names[v] = _name(len(self._names)) + v.suffix
        return n

    def binder(self, v) -> str:
        return f"{self(v)}:{v.aval.str_short()}"


def pp_literal(lit: core.Literal) -> str:
    val = np.asarray(lit.val)
    if val.dtype.kind == "V":  # float0: the tangent type of integers, with no value
        text = "0"
    elif val.dtype == np.bool_:
        text = str(bool(val))
    elif val.dtype.kind == "f":
        text = repr(float(val))
    elif val.dtype.kind == "c":
        text = repr(complex(val))
    else:
        text = str(int(val))
    return f"{text}:{lit.aval.str_short()}"


def pp_param(v) -> str:
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, core.ClosedJaxpr):
        return "{ " + pp_jaxpr(v.jaxpr, v.consts).strip("{} ") + " }"
    if isinstance(v, core.Jaxpr):
        return "{ " + pp_jaxpr(v).strip("{} ") + " }"
    if isinstance(v, tuple):
        inner = ", ".join(pp_param(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return repr(v) if isinstance(v, str) else str(v)


def _pp_params(params: dict) -> str:
    if not params:
        return ""
    return "[" + " ".join(f"{k}={pp_param(v)}" for k, v in params.items()) + "]"


def _pp_eqn(eqn: core.Eqn, names: _Names) -> str:
    rule: Callable | None = pp_rules.get(eqn.prim)
    if rule is not None:
        return rule(eqn, names)
    lhs = " ".join(names.binder(v) for v in eqn.outvars) or "_"
    rhs = " ".join(names(a) for a in eqn.invars)
    return f"{lhs} = {eqn.prim.name}{_pp_params(eqn.params)} {rhs}".rstrip()


def pp_eqn(eqn: core.Eqn) -> str:
    return _pp_eqn(eqn, _Names())


def pp_jaxpr(jaxpr: core.Jaxpr, consts=None) -> str:
    """Prints ``{ lambda consts ; invars. let eqns in (outvars) }``, on one line when short."""
    names = _Names()
    head = " ".join(map(names.binder, jaxpr.constvars))
    args = " ".join(map(names.binder, jaxpr.invars))
    eqns = [_pp_eqn(e, names) for e in jaxpr.eqns]
    outs = ", ".join(names(v) for v in jaxpr.outvars)
    outs = f"({outs},)" if len(jaxpr.outvars) == 1 else f"({outs})"
    start = f"{{ lambda {head}{' ' if head else ''}; {args}. let"
    one = f"{start} {'; '.join(eqns)} in {outs} }}" if eqns else f"{start} in {outs} }}"
    if len(one) <= _ONE_LINE_WIDTH and "\n" not in one:
        return one
    body = "".join(f"\n    {line}" for e in eqns for line in e.split("\n"))
    return f"{start}{body}\n  in {outs} }}"


def fingerprint(closed: core.ClosedJaxpr) -> str:
    """A stable hash of the program: its canonical text plus the avals of its constants."""
    h = hashlib.sha256(pp_jaxpr(closed.jaxpr).encode())
    for c in closed.consts:
        aval = core.get_aval(c)
        h.update(f"{aval.str_short()}{'w' if aval.weak_type else ''};".encode())
    return h.hexdigest()


__all__ = ["pp_jaxpr", "pp_eqn", "pp_literal", "fingerprint", "pp_rules", "dtypes"]
