"""Placeholder for the on-disk kernel library."""
from __future__ import annotations

import os
import shutil

from funcgrad import config


def directory() -> str:
    return os.path.join(config.values.cache_dir, "numba")


def clear() -> None:
    shutil.rmtree(directory(), ignore_errors=True)
