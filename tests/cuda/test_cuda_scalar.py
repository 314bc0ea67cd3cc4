"""The scalar templates (lowering/scalar.py) in CUDA kernels, through cuda_np and cuda_vmath,
against each primitive's NumPy impl: every case and dtype of test_lowering_scalar.py, on its
special values, with its tolerances.

One kernel per operand dtype evaluates every case of that dtype (as a fused kernel would). On the
simulator the inputs are the special values once each (tens of threads); on a GPU, every pair of
them. tests/test_cuda_ptx_scalar.py compiles the same cases to PTX and checks their types.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from numba import cuda

from funcgrad.lowering import cuda_np, cuda_runtime, cuda_vmath, scalar, vmath
from tests.test_lowering_scalar import (
    KERNEL_DTYPES,
    _cases,
    _edge_inputs,
    _edge_values,
    _inputs,
    _mismatch,
    _reference,
)

CUDA_IMPORTS = cuda_vmath.IMPORTS
ROLES = ["x", "y", "z", "s", "wb", "wi"]


def _kernel(dt):
    """The kernel of every case of ``dt``, its cases, and each case's (output dtype, row)."""
    cases = _cases(dt)
    out_dts = sorted({np.dtype(c.out_aval.dtype) for c in cases}, key=str)
    rows = {d: 0 for d in out_dts}
    slot = []
    for c in cases:
        d = np.dtype(c.out_aval.dtype)
        slot.append((d, rows[d]))
        rows[d] += 1
    lines = [f"def kernel({', '.join(ROLES + [f'out_{d.name}' for d in out_dts])}):",
             "    i = cuda.grid(1)",
             "    if i < x.shape[0]:"]
    lines += [f"        {r}_ = {r}[i]" for r in ROLES]
    for c, (d, row) in zip(cases, slot):
        expr = scalar.emit(c.prim, c.params, [f"{r}_" for r in c.roles], c.in_avals,
                           c.out_aval)
        lines.append(f"        out_{d.name}[{row}, i] = {expr}")
    ns: dict = {}
    exec(CUDA_IMPORTS, ns)  # noqa: S102
    exec(compile("\n".join(lines) + "\n", f"<cuda scalar kernel {np.dtype(dt).name}>",  # noqa: S102
                 "exec"), ns)
    return cuda.jit(ns["kernel"]), cases, slot, rows


def _small_inputs(dt) -> dict:
    # Each special value once as x, against shifted copies as y and z.
    e = _edge_values(dt)
    return _inputs(dt, e, np.roll(e, 1), np.roll(e, 2))


def _run(dt, ins: dict) -> list:
    kernel, cases, slot, rows = _kernel(dt)
    n = ins["x"].shape[0]
    outs = {d: cuda_runtime.empty((k, n), d) for d, k in rows.items()}
    kernel[cuda_runtime.grid(n)](*[cuda_runtime.to_device(ins[r]) for r in ROLES],
                                 *outs.values())
    host = {d: o.copy_to_host() for d, o in outs.items()}
    return [host[d][row] for d, row in slot], cases


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
def test_templates_in_cuda_kernels_match_impl(dt):
    ins = _small_inputs(dt) if cuda_runtime.simulator() else _edge_inputs(dt)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        results, cases = _run(dt, ins)
    failures = []
    for case, got in zip(cases, results):
        want = _reference(case, ins)
        bad = _mismatch(case, got, want)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            failures.append(f"{case.label}{tuple(ins[r][i] for r in case.roles)}: got "
                            f"{got[i]!r}, impl {want[i]!r} ({int(bad.sum())} mismatches)")
    assert not failures, f"{np.dtype(dt).name}:\n" + "\n".join(failures)


def test_every_name_the_templates_use_exists_for_cuda():
    used_np, used_vmath = set(), set()
    for dt in KERNEL_DTYPES:
        for c in _cases(dt):
            text = scalar.emit(c.prim, c.params, ["a", "b", "c", "d"][:len(c.roles)],
                               c.in_avals, c.out_aval)
            used_vmath |= set(re.findall(r"\bvmath\.(\w+)", text))
            used_np |= set(re.findall(r"(?<![\w.])np\.(\w+)", text))
    assert not [n for n in used_np if not hasattr(cuda_np, n)]
    assert not [n for n in used_vmath if not hasattr(cuda_vmath, n)]
    # and every public helper of vmath's but the bit casts
    helpers = {n for n, v in vars(vmath).items()
               if not n.startswith("_") and hasattr(v, "py_func")}
    assert helpers == set(cuda_vmath.PUBLIC)


# Complex square roots beyond the special values of the kernel test: huge and subnormal parts,
# where a + |z| overflows or loses precision unless scaled (cuda_np's Python code is what the
# GPU compiles).
_PARTS = [0.0, -0.0, 1e-310, -3e-320, 2.5e-300, 1.0, -2.0, 3e10, -7e200, 1.5e308, -1.7e308,
          np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("ct", [np.complex64, np.complex128], ids=str)
def test_complex_sqrt_matches_numpy(ct):
    rng = np.random.default_rng(0)
    n = 200
    drawn = (rng.choice([-1, 1], (2, n)) * 10.0 ** rng.uniform(-320, 308, (2, n)))
    z = np.concatenate([[complex(r, i) for r in _PARTS for i in _PARTS],
                        drawn[0] + 1j * drawn[1]]).astype(ct)
    with np.errstate(all="ignore"):
        got = np.array([cuda_np.sqrt(v) for v in z])
        want = np.sqrt(z)
    assert got.dtype == ct
    rtol = 2e-6 if ct == np.complex64 else 1e-14
    for part in ("real", "imag"):
        g, w = getattr(got, part), getattr(want, part)
        nan = np.isnan(g) & np.isnan(w)
        same = (g == w) & (np.signbit(g) == np.signbit(w))
        with np.errstate(invalid="ignore"):
            close = np.isfinite(w) & (np.abs(g - w) <= rtol * np.maximum(np.abs(want), 1e-300))
        bad = ~(same | nan | close)
        assert not bad.any(), (part, z[bad][:5], got[bad][:5], want[bad][:5])
