"""Global configuration flags.

Each flag has a default, and an environment variable ``FUNCGRAD_<NAME>`` that overrides it at
import time. Change a flag at run time with ``funcgrad.config.update(name, value)`` or for a
block with ``with funcgrad.config.override(name=value): ...``.

Example:
    >>> import funcgrad as fg
    >>> fg.config.update("enable_checks", True)
    >>> fg.config.enable_checks
    True
"""
from __future__ import annotations

import contextlib
import os


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"cannot read {s!r} as a boolean (use 1/0, true/false, on/off)")


# name -> (default, parser, help)
_FLAGS = {
    "enable_checks": (False, _parse_bool,
                      "typecheck every jaxpr a transformation produces (slow; tests set it)"),
    "debug_nans": (False, _parse_bool, "raise at the first primitive that produces a NaN"),
    "default_float": ("float32", str, "dtype of Python floats and of creation functions"),
    "default_int": ("int32", str, "dtype of Python ints and of integer creation functions"),
    "traceback_filtering": (True, _parse_bool,
                            "hide funcgrad's own frames from tracebacks of user errors"),
    "check_leaks": (False, _parse_bool, "check for leaked tracers eagerly at transform exit"),
    "disable_jit": (False, _parse_bool, "run jit-decorated functions eagerly"),
    "log_compiles": (False, _parse_bool, "log every trace and compile with its reason"),
    "cache_dir": (os.path.join(os.path.expanduser("~"), ".cache", "funcgrad"), str,
                  "where compiled kernels are cached on disk"),
    "max_retraces": (8, int, "warn when a jitted function has been traced more often"),
    "default_backend": ("numba-cpu", str,
                        "jit's backend: numba-cpu, interpret (NumPy reference) or numba-py"),
    "fastmath": (False, _parse_bool, "compile kernels with full fastmath (only FMA contraction "
                 "is on by default)"),
    "parallel_threshold": (2**18, int, "elements from which a fused kernel runs its outer loop "
                           "in parallel (prange); programs that call BLAS use at least 2**22, "
                           "since BLAS threads spinning after a call compete with the kernel's"),
}


class _Values:
    """Attribute access to the current flag values (cheap: used on hot paths)."""

    def __init__(self):
        for name, (default, parse, _) in _FLAGS.items():
            env = os.environ.get("FUNCGRAD_" + name.upper())
            setattr(self, name, parse(env) if env is not None else default)


values = _Values()


def update(name: str, value) -> None:
    """Sets flag ``name`` to ``value``.

    Args:
      name: a flag name, e.g. ``"debug_nans"``; the prefix ``"funcgrad_"`` is accepted.
      value: the new value.
    """
    name = name.removeprefix("funcgrad_")
    if name not in _FLAGS:
        raise AttributeError(f"funcgrad.config has no flag {name!r}; flags: {', '.join(_FLAGS)}")
    default = _FLAGS[name][0]
    if isinstance(default, bool):
        value = _parse_bool(value) if isinstance(value, str) else bool(value)
    setattr(values, name, value)


@contextlib.contextmanager
def override(**flags):
    """Temporarily sets flags for the duration of a ``with`` block."""
    old = {k: getattr(values, k) for k in flags}
    try:
        for k, v in flags.items():
            update(k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(values, k, v)


def describe() -> str:
    """Returns a table of every flag, its value and what it does."""
    return "\n".join(f"{n:<20} {getattr(values, n)!r:<12} {h}" for n, (_, _, h) in _FLAGS.items())


def __getattr__(name):
    if name in _FLAGS:
        return getattr(values, name)
    raise AttributeError(f"funcgrad.config has no flag {name!r}")
