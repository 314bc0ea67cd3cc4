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


# ------------------------------------------------------------------------------------------
# Every backend against the interpret reference

F32, F64, I32 = np.float32, np.float64, np.int32


def _x(shape, dtype=F32, seed=0, lo=-2.0, hi=2.0):
    r = np.random.default_rng(seed).uniform(lo, hi, size=shape)
    return np.asarray(r, dtype=dtype)


def _nested_call(x):
    # A remat (call primitive with an inner jaxpr) that lowering must inline.
    return fg.checkpoint(lambda y: fnp.sin(y) + y)(x)


CORPUS = {
    "chain": (lambda x: fnp.sin(x) * 2.0 + 1.0, [_x((5, 7))]),
    "chain_f64": (lambda x: fnp.exp(x) * x - 0.5, [_x((5, 7), F64)]),
    "broadcast_row_col": (lambda x, b, c: x * b + c[:, None], [_x((4, 6)), _x((6,), seed=1),
                                                                _x((4,), seed=2)]),
    "broadcast_scalar_input": (lambda x, s: x * s - s, [_x((3, 5)), np.float32(1.5)]),
    "sum_epilogue": (lambda x: fnp.sum(fnp.exp(x), axis=1), [_x((4, 6))]),
    "sum_axis0": (lambda x: fnp.sum(x * x, axis=0), [_x((5, 3))]),
    "sum_middle": (lambda x: fnp.sum(x + 1.0, axis=1), [_x((2, 3, 4))]),
    "full_reduce": (lambda x: (x * 2.0).sum(), [_x((3, 4, 5))]),
    "max_min": (lambda x: (fnp.max(x, axis=1), fnp.min(x - 1.0, axis=1)), [_x((4, 5))]),
    "max_nan": (lambda x: fnp.max(x, axis=0), [np.array([[1.0, np.nan], [3.0, 0.0]], F32)]),
    "two_reductions": (lambda x: (fnp.sum(x, axis=1), fnp.sum(x * x, axis=1)), [_x((3, 8))]),
    "softmax": (lambda x: fnp.exp(x - fnp.max(x, axis=1, keepdims=True)) /
                fnp.sum(fnp.exp(x - fnp.max(x, axis=1, keepdims=True)), axis=1,
                        keepdims=True), [_x((3, 5))]),
    "dot": (lambda a, b: a @ b, [_x((3, 4)), _x((4, 2), seed=1)]),
    "dot_t": (lambda a, b: a.T @ b, [_x((4, 3)), _x((4, 2), seed=1)]),
    "dot_vec": (lambda a, b: a @ b, [_x((4,)), _x((4,), seed=1)]),
    "dot_batched": (lambda a, b: fnp.einsum("bij,bjk->bik", a, b),
                    [_x((2, 3, 4)), _x((2, 4, 5), seed=1)]),
    "mlp": (lambda w, b, x: fnp.maximum(x @ w + b, 0.0).sum(),
            [_x((4, 3)), _x((3,), seed=1), _x((5, 4), seed=2)]),
    "transpose_add": (lambda x, y: x.T + y, [_x((3, 4)), _x((4, 3), seed=1)]),
    "layout": (lambda x: fnp.concatenate([x[1:], x[:1]], axis=0).reshape(6, 2)[::2] * 2.0,
               [_x((3, 4))]),
    "multi_output": (lambda x, y: (x + y, x * y, x), [_x((2, 3)), _x((2, 3), seed=1)]),
    "output_twice": (lambda x: (x * 2.0, x * 2.0, x, x), [_x((3,))]),
    "literal_output": (lambda x: (x, 3.0), [_x((2,))]),
    "int_ops": (lambda i, j: (i * j + 3, fnp.maximum(i, j), (i < j).sum(axis=0)),
                [np.arange(12, dtype=I32).reshape(3, 4) - 5,
                 np.arange(12, dtype=I32)[::-1].reshape(3, 4).copy()]),
    "bool_ops": (lambda x: fnp.where(x > 0, x, -x * 0.5), [_x((4, 4))]),
    "int_sum_small": (lambda i: fnp.sum(i, axis=1, dtype=np.int8),
                      [np.full((2, 300), 3, np.int8)]),
    "size0": (lambda x: (x * 2.0, x.sum(axis=0), fnp.max(x, axis=1)),
              [np.zeros((0, 3), F32)]),
    "size1": (lambda x, y: x * y + 1.0, [_x((1, 1)), _x((1, 1), seed=1)]),
    "scalar0d": (lambda x, y: (x * y + 1.0, fnp.sin(x)), [np.float32(0.5), np.array(2.0, F32)]),
    "convert": (lambda x: (x.astype(np.int32), x.astype(np.float64) * 2.0), [_x((3, 3))]),
    "custom_jvp": (lambda x: fg.nn_softplus(x) if hasattr(fg, "nn_softplus") else
                   fnp.logaddexp(x, 0.0) * 2.0, [_x((3,))]),
    "view_outputs": (lambda x: (fnp.broadcast_to(x, (3, 4)), x.reshape(1, 4), x[None, :] + 1.0,
                                fnp.broadcast_to(x, (3, 4)) @ fnp.ones((4, 2), F32)),
                     [_x((4,))]),
    "jit_inlined": (lambda x: _nested_call(x) * 2.0, [_x((3,))]),
    # Clusters that grow after others read them (a regression test for a fusion cycle).
    "jvp_of_grad": (lambda x: fg.jvp(fg.grad(lambda y: (y ** 3).sum() + fnp.sin(y).prod()),
                                     (x,), (fnp.ones_like(x),))[1], [_x((3,), F64)]),
    "closure_const": (lambda x: x * np.arange(4, dtype=F32) + 1.0, [_x((2, 4))]),
}


@pytest.mark.parametrize("backend", ["numba-py", "numba-cpu"])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_backend_matches_interpret(name, backend):
    f, args = CORPUS[name]
    _, ref = run(f, args, "interpret")
    exe, outs = run(f, args, backend)
    assert exe.backend == backend and exe.plan is not None
    for o, r in zip(outs, ref):
        assert o.dtype == r.dtype and o.shape == r.shape
        tol = 1e-5 if o.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(o, r, rtol=tol, atol=tol, err_msg=exe.source)
    outs2 = exe(*([np.asarray(c) for c in open_jaxpr(f, *args)[1]] + list(args)))
    for o, o2 in zip(outs, outs2):  # fresh arrays every call
        assert o is not o2 and not np.shares_memory(o, o2)


# ------------------------------------------------------------------------------------------
# Dtypes, kernel sharing and caches (asserted by counters, never by timing)


def test_float32_kernels_contain_no_float64():
    exe, (y,) = run(lambda x, b: fnp.tanh(x * 0.5 + b) * 3.0 - 1.0,
                    [_x((8, 4)), _x((4,), seed=1)], "numba-cpu")
    assert y.dtype == np.float32
    kernels = exe.source.split("# ---- kernel")[1:]
    assert kernels and not any("float64" in k for k in kernels), exe.source


def test_same_function_at_another_batch_size_compiles_no_kernel():
    f = lambda x, w: fnp.sum(fnp.exp(x * w - 1.0), axis=1)
    run(f, [_x((32, 5)), _x((5,))], "numba-cpu")
    before = lowering.stats.as_dict()
    exe, _ = run(f, [_x((16, 5)), _x((5,))], "numba-cpu")
    after = lowering.stats.as_dict()
    assert after["compiles"] == before["compiles"] + 1      # a new Executable (new shapes)
    assert after["kernels_compiled"] == before["kernels_compiled"]
    assert after["kernel_disk_hits"] == before["kernel_disk_hits"]
    again = lowering.compile(open_jaxpr(f, _x((16, 5)), _x((5,)))[0], "numba-cpu")
    assert again is exe and lowering.stats.memory_hits == after["memory_hits"] + 1


def test_two_functions_with_the_same_pattern_share_a_kernel():
    run(lambda a, b: a * b + a, [_x((6,)), _x((6,))], "numba-cpu")
    before = lowering.stats.kernels_compiled
    # Another function, rank and size; collapsed to the same flat loop over the same pattern.
    run(lambda p, q: p * q + p, [_x((2, 3, 4), seed=3), _x((2, 3, 4), seed=4)], "numba-cpu")
    assert lowering.stats.kernels_compiled == before


def test_clear_memory_cache_rebuilds_without_recompiling_kernels():
    f = lambda x: x * 3.0 - 2.0
    run(f, [_x((4,))], "numba-cpu")
    lowering.clear_memory_cache()
    before = lowering.stats.as_dict()
    run(f, [_x((4,))], "numba-cpu")
    after = lowering.stats.as_dict()
    assert after["compiles"] == before["compiles"] + 1
    assert after["kernels_compiled"] == before["kernels_compiled"]


_CHILD = """
import json, numpy as np, funcgrad as fg, funcgrad.numpy as fnp
from funcgrad import lowering
closed = fg.make_jaxpr(lambda x, y: fnp.sum(fnp.exp(x) * y + 1.0, axis=1))(
    np.ones((3, 4), np.float32), np.ones((3, 4), np.float32))
exe = lowering.compile(closed.jaxpr, "numba-cpu")
out = exe(np.ones((3, 4), np.float32), np.ones((3, 4), np.float32))[0]
print(json.dumps(dict(lowering.stats.as_dict(), out=out.tolist())))
"""


def test_disk_cache_is_hit_by_a_second_process(tmp_path):
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, FUNCGRAD_CACHE_DIR=str(tmp_path))

    def child():
        r = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True,
                           text=True, check=True)
        return json.loads(r.stdout.strip().splitlines()[-1])

    first, second = child(), child()
    assert first["kernels_compiled"] >= 1 and first["kernel_disk_hits"] == 0
    assert second["kernels_compiled"] == 0
    assert second["kernel_disk_hits"] == first["kernels_compiled"]
    assert second["out"] == first["out"]
    assert any(n.startswith("fgk_") for n in os.listdir(tmp_path / "numba"))


# ------------------------------------------------------------------------------------------
# Goldens of generated code (kernel expressions come from the scalar templates, so they are
# replaced by <expr>; loops, loads, stores and accumulators are pinned)


def _skeleton(source: str) -> str:
    import re
    out = []
    for line in source.splitlines()[1:]:
        if line.startswith(("# funcgrad kernel", "import", "from")) or not line.strip():
            continue
        line = line.replace('cache=True, nogil=True, error_model="numpy", fastmath={"contract"}',
                            "OPTS")
        out.append(re.sub(r"^(\s*v\d+ = ).*$", r"\1<expr>", line))
    return "\n".join(out) + "\n"


def _kernels(exe):
    return [_skeleton(k) for k in exe.source.split("# ---- kernel")[1:]]


def _golden(text):
    import textwrap
    return textwrap.dedent(text).lstrip("\n")


def test_golden_chain_is_one_kernel_with_float32_literals():
    exe, _ = run(lambda x: fnp.sin(x) * 2.0 + 1.0, [_x((3, 4))], "numba-cpu")
    assert exe.plan.summary() == "1 kernel(s), 0 library step(s)"
    driver = exe.source.split("# ---- kernel")[0]
    assert driver == _golden("""
        # ---- driver
        # _c0 = 2.0:f32[]
        def run(a0):
            t0 = np.empty((3, 4), np.float32)
            _k0(12, a0.reshape((12,)), _c0[()], t0.reshape((12,)))
            return [t0]

        """)
    # 2.0 is a kernel argument (constants other than 0 and 1 are, so that values derived
    # from shapes do not make new kernels); 1.0 stays in the source as a float32 literal.
    assert _kernels(exe) == [_golden("""
        @numba.njit(OPTS)
        def kernel(n0, x0, x1, o0):
            for i0 in range(n0):
                a0 = x0[i0]
                v0 = <expr>
                v1 = <expr>
                v2 = <expr>
                o0[i0] = v2
        @numba.njit(OPTS, parallel=True)
        def kernel_par(n0, x0, x1, o0):
            for i0 in numba.prange(n0):
                a0 = x0[i0]
                v0 = <expr>
                v1 = <expr>
                v2 = <expr>
                o0[i0] = v2
        """)]
    assert "np.float32(1.0)" in exe.source and "2.0:f32[]" in exe.source


def test_golden_sum_of_exp_is_one_kernel_with_a_reduction_epilogue():
    exe, (y,) = run(lambda x: fnp.sum(fnp.exp(x), axis=1), [_x((3, 4))], "numba-cpu")
    assert exe.plan.summary() == "1 kernel(s), 0 library step(s)"
    # A floating sum is blocked: vectorisable block loop, reassociating block sum, f64 total.
    assert _kernels(exe)[0].split("@numba.njit(OPTS, parallel=True)")[0] == _golden("""
        @numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
        def _block_sum_float32(buf, n):
            s = np.float32(0.0)
            for i in range(n):
                s += buf[i]
            return s
        @numba.njit(OPTS)
        def kernel(n0, n1, x0, r0):
            buf0 = np.empty(256, np.float32)
            for i0 in range(n0):
                acc0 = np.float64(0.0)
                for b1 in range(0, n1, 256):
                    w1 = min(256, n1 - b1)
                    for j1 in range(w1):
                        i1 = np.uint64(b1 + j1)
                        a0 = x0[i0, i1]
                        v0 = <expr>
                        buf0[j1] = v0
                    acc0 = acc0 + _block_sum_float32(buf0, w1)
                r0[i0] = np.float32(acc0)
        """)


def test_long_float32_sum_is_accurate():
    x = np.random.default_rng(0).uniform(0, 1, size=(2, 100_000)).astype(np.float32)
    exe, (s,) = run(lambda x: fnp.sum(x, axis=1), [x], "numba-cpu")
    np.testing.assert_allclose(s, x.astype(np.float64).sum(axis=1), rtol=1e-6)


def test_golden_broadcast_add_reads_the_row_vector_in_place():
    exe, _ = run(lambda x, b: x + b, [_x((3, 4)), _x((4,), seed=1)], "numba-cpu")
    assert exe.plan.summary() == "1 kernel(s), 0 library step(s)"
    assert "broadcast" not in exe.source
    assert _kernels(exe)[0].split("@numba.njit(OPTS, parallel=True)")[0] == _golden("""
        @numba.njit(OPTS)
        def kernel(n0, n1, x0, x1, o0):
            for i0 in range(n0):
                for i1 in range(n1):
                    a0 = x0[i0, i1]
                    a1 = x1[i1]
                    v0 = <expr>
                    o0[i0, i1] = v0
        """)


def test_log_compiles_reports_fingerprint_plan_and_time(caplog, monkeypatch, capsys):
    import logging
    monkeypatch.setattr(fg.config.values, "log_compiles", True)
    with caplog.at_level(logging.INFO, logger="funcgrad.jit"):
        exe, _ = run(lambda x, y: (x @ y) * 2.0 - 1.0, [_x((2, 3)), _x((3, 2))], "numba-cpu")
    (msg,) = [r.getMessage() for r in caplog.records if r.name == "funcgrad.jit"]
    assert exe.fingerprint[:12] in msg and "1 kernel(s), 1 library step(s) (dot_general)" in msg
    assert " ms " in msg and "numba-cpu" in msg


def test_simplification_passes():
    from funcgrad.lowering import passes

    def f(x):
        a = fnp.sin(x) + fnp.sin(x)          # CSE
        unused = fnp.exp(x) * 3.0            # DCE  # noqa: F841
        c = fg.stop_gradient(a) * (2.0 * 3.0)  # identity forwarding
        return fg.checkpoint(lambda y: y + 1.0)(c)  # inlining

    jaxpr, _ = open_jaxpr(f, _x((3,)))
    names = [e.prim.name for e in passes.simplify(jaxpr).eqns]
    assert names.count("sin") == 1 and "exp" not in names and "remat" not in names
    assert "stop_gradient" not in names
