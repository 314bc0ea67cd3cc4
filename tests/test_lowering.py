"""The lowering package: every backend against the interpret reference on a corpus of programs,
plus cache behaviour (by counters), generated-source goldens and the disk cache."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lowering


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory, monkeypatch):
    # Never the user's home: a per-session directory shared by the tests of this module.
    d = tmp_path_factory.getbasetemp() / "lowering-cache"
    monkeypatch.setattr(fg.config.values, "cache_dir", str(d))
    monkeypatch.setenv("FUNCGRAD_CACHE_DIR", str(d))


def open_jaxpr(f, *args):
    """The constvar-free jaxpr of ``f`` and the constants to pass as leading arguments."""
    closed = fg.make_jaxpr(f)(*args)
    j = closed.jaxpr
    jaxpr = fg.core.Jaxpr((), (*j.constvars, *j.invars), j.eqns, j.outvars)
    return jaxpr, [np.asarray(c) for c in closed.consts]


def run(f, args, backend):
    jaxpr, consts = open_jaxpr(f, *args)
    exe = lowering.compile(jaxpr, backend)
    flat = [np.asarray(c) for c in consts] + [np.asarray(a) for a in args]
    outs = exe(*flat)
    assert [o.shape for o in outs] == [a.shape for a in exe.out_avals]
    assert [o.dtype for o in outs] == [a.dtype for a in exe.out_avals]
    for o in outs:
        assert isinstance(o, np.ndarray)
        assert not any(np.shares_memory(o, a) for a in flat if isinstance(a, np.ndarray))
    return exe, outs


def test_interpret_runs_a_small_program():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    exe, (y, s, xo) = run(lambda x: (fnp.sin(x) * 2 + 1, x.sum(), x), [x], "interpret")
    np.testing.assert_allclose(y, np.sin(x) * 2 + 1, rtol=1e-6)
    assert s.dtype == np.float32 and s == x.sum()
    np.testing.assert_array_equal(xo, x)
    assert exe.plan is None and "sin" in exe.source
