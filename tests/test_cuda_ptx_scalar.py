"""Every scalar template (lowering/scalar.py) compiles for CUDA (PTX for sm_90) through cuda_np and
cuda_vmath, for every case and dtype of test_lowering_scalar.py, with exactly the case's result
dtype.

One device function per operand dtype evaluates every case of that dtype from array elements, as
a fused kernel does, and returns the tuple of results, whose Numba types are the check. The
arithmetic is checked on the simulator (tests/cuda/test_cuda_scalar.py).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

import numba  # noqa: E402

from funcgrad.lowering import cuda_vmath, scalar  # noqa: E402
from tests import cuda_ptx  # noqa: E402
from tests.test_lowering_scalar import KERNEL_DTYPES, _cases  # noqa: E402

CUDA_IMPORTS = cuda_vmath.IMPORTS
ROLES = ["x", "y", "z", "s", "wb", "wi"]


def _role_dtypes(dt) -> dict:
    dt = np.dtype(dt)
    return {"x": dt, "y": dt, "z": dt, "s": dt, "wb": np.dtype(bool), "wi": np.dtype(np.int32)}


def _all_cases_function(dt):
    """A device function computing every case of ``dt`` at element i; returns it and the cases."""
    cases = _cases(dt)
    lines = [f"def all_cases({', '.join(ROLES)}, i):"]
    lines += [f"    {r}_ = {r}[i]" for r in ROLES]
    for k, c in enumerate(cases):
        expr = scalar.emit(c.prim, c.params, [f"{r}_" for r in c.roles], c.in_avals,
                           c.out_aval)
        lines.append(f"    r{k} = {expr}")
    lines.append(f"    return ({', '.join(f'r{k}' for k in range(len(cases)))},)")
    ns: dict = {}
    exec(CUDA_IMPORTS, ns)  # noqa: S102
    exec(compile("\n".join(lines) + "\n", f"<cuda scalar cases {np.dtype(dt).name}>",  # noqa: S102
                 "exec"), ns)
    return ns["all_cases"], cases


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
def test_every_template_compiles_to_ptx_with_its_result_dtype(dt):
    cuda_ptx.require_ptx()
    fn, cases = _all_cases_function(dt)
    sig = tuple(numba.types.Array(numba.from_dtype(d), 1, "C")
                for d in _role_dtypes(dt).values()) + (numba.types.intp,)
    from numba import cuda
    ptx, resty = cuda.compile_ptx(fn, sig, device=True, cc=cuda_ptx.CC)
    assert ".target sm_90" in ptx
    wrong = [f"{c.label}: {t} (want {numba.from_dtype(np.dtype(c.out_aval.dtype))})"
             for c, t in zip(cases, resty.types)
             if t != numba.from_dtype(np.dtype(c.out_aval.dtype))]
    assert not wrong, f"{np.dtype(dt).name}:\n" + "\n".join(wrong)


def test_a_kernel_with_stores_compiles_to_ptx():
    # The fused-kernel shape: a launch index, loads, a template, stores (float32 tanh and the
    # complex64 division, which go through cuda_vmath).
    cuda_ptx.require_ptx()
    ns: dict = {}
    exec(CUDA_IMPORTS + "\n" + (  # noqa: S102
        "def kernel(x, z, o, oc):\n"
        "    i = cuda.grid(1)\n"
        "    if i < x.size:\n"
        "        o[i] = vmath.tanh_float32(np.float32(np.floor(x[i])))\n"
        "        oc[i] = np.complex64(vmath.div_complex64(z[i], np.sqrt(z[i])))\n"), ns)
    f32, c64 = numba.types.float32[::1], numba.types.complex64[::1]
    ptx = cuda_ptx.compile_ptx(ns["kernel"], (f32, c64, f32, c64))
    assert ".entry" in ptx


# Every function of cuda_np, beyond what the templates use, for each operand dtype it takes: the
# CUDA result type is the dtype NumPy gives for the same scalar operands.
_FLOAT_UNARY = ["floor", "ceil", "trunc", "rint", "sqrt", "cbrt", "exp", "exp2", "expm1", "log",
                "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
                "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "abs", "absolute",
                "fabs", "isfinite", "isnan", "isinf"]
_FLOAT_BINARY = ["fmod", "copysign", "nextafter", "arctan2", "hypot", "power"]
_ANY_UNARY = ["abs", "isfinite", "isnan", "isinf"]


def _cuda_np_calls(dt) -> list[str]:
    dt = np.dtype(dt)
    if dt.kind == "f":
        return ([f"np.{f}(a)" for f in _FLOAT_UNARY] + [f"np.{f}(a, b)" for f in _FLOAT_BINARY]
                + [f"np.{f}(a, np.float64(b))" for f in _FLOAT_BINARY])
    if dt.kind == "c":
        return [f"np.{f}(a)" for f in _ANY_UNARY + ["sqrt"]]
    return [f"np.{f}(a)" for f in _ANY_UNARY]


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
def test_cuda_np_result_types_are_numpys(dt):
    cuda_ptx.require_ptx()
    from numba import cuda

    from funcgrad.lowering import cuda_np
    calls = _cuda_np_calls(dt)
    ns: dict = {}
    exec(CUDA_IMPORTS + f"\ndef f(a, b):\n    return ({', '.join(calls)},)\n", ns)  # noqa: S102
    nb = numba.from_dtype(np.dtype(dt))
    _, resty = cuda.compile_ptx(ns["f"], (nb, nb), device=True, cc=cuda_ptx.CC)
    sample = np.ones((), dt)[()]
    with np.errstate(all="ignore"):
        want = [np.asarray(eval(c, {"np": cuda_np, "a": sample, "b": sample})).dtype  # noqa: S307
                for c in calls]
    wrong = [f"{c}: {t} (NumPy: {w})" for c, t, w in zip(calls, resty.types, want)
             if t != numba.from_dtype(w)]
    assert not wrong, "\n".join(wrong)
