"""Where user code is: the first frame outside funcgrad, the transform name stack, and
traceback filtering at API boundaries."""
from __future__ import annotations

import contextlib
import contextvars
import functools
import linecache
import os
import sys
import types
from dataclasses import dataclass

from funcgrad import config

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_internal(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR)


@dataclass(frozen=True)
class SourceInfo:
    file: str
    line: int
    function: str
    name_stack: tuple[str, ...] = ()

    def source_line(self) -> str:
        # Read lazily: only when an error message or a pretty print needs the text.
        return linecache.getline(self.file, self.line).strip()

    def location(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line} in {self.function}"

    def describe(self) -> str:
        text = self.source_line()
        out = f"  at {self.location()}" + (f":    {text}" if text else "")
        if self.name_stack:
            out += "\n  while tracing: " + "/".join(self.name_stack)
        return out


_name_stack: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "funcgrad_name_stack", default=())


def current_name_stack() -> tuple[str, ...]:
    return _name_stack.get()


@contextlib.contextmanager
def transform_scope(name: str):
    """Pushes ``name`` (e.g. ``"grad(loss)"``) on the name stack used in error messages."""
    token = _name_stack.set(_name_stack.get() + (name,))
    try:
        yield
    finally:
        _name_stack.reset(token)


def user_frame() -> SourceInfo | None:
    """The innermost frame outside the funcgrad package, as a SourceInfo."""
    f = sys._getframe(1)
    while f is not None and _is_internal(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return None
    return SourceInfo(f.f_code.co_filename, f.f_lineno, f.f_code.co_name, _name_stack.get())


def fun_name(f) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def _filter_traceback(tb):
    frames = []
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            frames.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        tb = tb.tb_next
    new = None
    for frame, lasti, lineno in reversed(frames):
        new = types.TracebackType(new, frame, lasti, lineno)
    return new


def api_boundary(fun):
    """Decorates a public API so that funcgrad-internal frames are dropped from tracebacks of
    errors raised inside it (``FUNCGRAD_TRACEBACK_FILTERING=off`` keeps them)."""

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        try:
            return fun(*args, **kwargs)
        except Exception as e:
            if not config.values.traceback_filtering or getattr(e, "_funcgrad_filtered", False):
                raise
            try:
                e._funcgrad_filtered = True
            except AttributeError:
                raise e from None
            raise e.with_traceback(_filter_traceback(e.__traceback__)) from e.__cause__
    return wrapper
