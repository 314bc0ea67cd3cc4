"""Placeholder: numba-cpu runs through the interpreter until the kernel generator lands."""
from __future__ import annotations

from funcgrad import pretty
from funcgrad.lowering import interpret


def build(jaxpr, py_kernels=False):
    return interpret.make_runner(jaxpr), pretty.pp_jaxpr(jaxpr), None


def clear_memory_cache():
    pass
