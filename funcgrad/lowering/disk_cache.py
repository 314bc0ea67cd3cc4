"""The on-disk kernel library: one importable module per kernel, named by its content hash.

Numba's ``cache=True`` needs a real source file that a later process imports by the same name,
so each kernel module is written to ``<cache_dir>/numba/fgk_<sha>.py`` (atomically: a temporary
file, then ``os.replace``) and imported with ``importlib``. A file is never rewritten: Numba keys
its index on the file's timestamp. Numba's own ``.nbi``/``.nbc`` files land in ``__pycache__``
beside it.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile

from funcgrad import config

PREFIX = "fgk_"
_on_path: set[str] = set()
_modules: dict[str, object] = {}


def directory() -> str:
    return os.path.join(config.values.cache_dir, "numba")


def key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def module_for(source: str):
    """Imports (writing it first if needed) the module whose text is ``source``."""
    name = PREFIX + key(source)
    mod = _modules.get(name)
    if mod is not None:
        return mod
    d = directory()
    path = os.path.join(d, name + ".py")
    if not os.path.exists(path):
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        if not os.path.exists(path):  # another process may have won the race meanwhile
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
        importlib.invalidate_caches()
    if d not in _on_path:
        sys.path.insert(0, d)
        _on_path.add(d)
        importlib.invalidate_caches()
    mod = sys.modules.get(name)
    if mod is None:
        mod = importlib.import_module(name)
    _modules[name] = mod
    return mod


def clear() -> None:
    """Deletes the kernel library of the current ``cache_dir`` (modules stay loaded)."""
    shutil.rmtree(directory(), ignore_errors=True)
