"""Every kernel of funcgrad.lowering.cuda_layout compiles to PTX for sm_90, for each dtype it is
launched with (the simulator checks no types).

Data-movement kernels only ever see the raw bits (uint8/16/32/64, complex128 as itself: see
the module docstring), so those are the dtypes compiled for them; kernels that compute (atomics,
comparisons, iota) are compiled for the value dtypes they serve.
"""
import types as pytypes

import pytest

from tests.cuda_ptx import compile_ptx, require_ptx

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed")

from numba import types as nt  # noqa: E402


@pytest.fixture(autouse=True)
def _device_functions_without_a_device(monkeypatch):
    # Compiling a kernel compiles the device functions it calls for the *current* device's
    # compute capability, which needs a driver: pretend an sm_90 device for those.
    require_ptx()
    from numba.cuda import dispatcher
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: pytypes.SimpleNamespace(compute_capability=(9, 0)))


def A(t):
    return nt.Array(t, 1, "C")


def T(r, t=nt.int64):
    return nt.UniTuple(t, r)


I64, B = nt.int64, nt.boolean
BITS = [nt.uint8, nt.uint16, nt.uint32, nt.uint64, nt.complex128]
INDEX = [nt.int8, nt.int32, nt.int64, nt.uint32, nt.uint64]
ATOMIC = [nt.int32, nt.int64, nt.uint32, nt.uint64, nt.float32, nt.float64]
ORDERED = [nt.boolean, nt.int8, nt.int16, nt.int32, nt.int64, nt.uint8, nt.uint16, nt.uint32,
           nt.uint64, nt.float32, nt.float64]
NUMERIC = [nt.int8, nt.int16, nt.int32, nt.int64, nt.uint8, nt.uint16, nt.uint32, nt.uint64,
           nt.float32, nt.float64, nt.complex64, nt.complex128]


def _plan(r, nvec):
    # shape, op_strides, idx_strides, vec_strides, vec_hi, nvec
    return (T(r), T(r), T(r), T(nvec), T(nvec), I64)


def _signatures():
    sigs = []
    for t in BITS:
        sigs += [("_copy_in", (A(t), A(t), I64)), ("_copy_out", (A(t), A(t), I64))]
        for r in (1, 3):
            sigs += [(k, (A(t), A(t), T(r), T(r), I64))
                     for k in ("_gather_strided", "_scatter_strided")]
        sigs.append(("_pad", (A(t), A(t), A(t), T(2), T(2), T(2), T(2), T(2))))
        for k in ("_dynamic_slice", "_dynamic_update"):
            sigs.append((k, (A(t), A(t), T(2, A(nt.int32)), T(2), T(2), T(2))))
        sigs.append(("_gather", (A(t), A(nt.int32), A(t), *_plan(2, 1), B, t)))
        sigs.append(("_scatter_set", (A(t), A(nt.int32), A(t), A(I64), T(2), T(2), T(2), T(2),
                                      T(1), T(1), I64, B)))
        if t != nt.complex128:
            sigs.append(("_transpose_tiled", (A(t), A(t), I64, I64)))
    for ix in INDEX:
        for k in ("_dynamic_slice", "_dynamic_update"):
            sigs.append((k, (A(nt.uint32), A(nt.uint32), T(3, A(ix)), T(3), T(3), T(3))))
        sigs.append(("_stage_start", (A(ix), A(I64), I64, I64)))
        sigs.append(("_gather", (A(nt.uint64), A(ix), A(nt.uint64), *_plan(3, 2), B,
                                 nt.uint64)))
        sigs.append(("_scatter_claim", (A(ix), A(I64), T(2), T(2), T(2), T(2), T(2), T(2), I64,
                                        B)))
        sigs.append(("_scatter_add", (A(nt.float32), A(ix), A(nt.float32), *_plan(2, 2), B,
                                      I64)))
    for t in ATOMIC:
        sigs.append(("_scatter_add", (A(t), A(nt.int32), A(t), *_plan(2, 1), B, I64)))
        sigs.append(("_scatter_max", (A(t), A(nt.int32), A(t), *_plan(2, 1), B, B)))
        if t in (nt.int32, nt.int64, nt.uint32, nt.uint64):
            sigs.append(("_scatter_mul", (A(t), A(nt.int32), A(t), *_plan(2, 1), B)))
    for t in NUMERIC:
        sigs.append(("_iota", (A(t), I64, I64)))
    sigs.append(("_fill", (A(I64), I64)))
    for t in ORDERED:
        for out in (nt.int32, nt.int64) if t == nt.float32 else (nt.int32,):
            sigs.append(("_arg_lines", (A(t), A(out), I64, I64, B)))
            sigs.append(("_arg_rows", (A(t), A(out), I64, B)))
    return sigs


SIGNATURES = _signatures()

SCAN_DTYPES = {
    "cumsum": [nt.int8, nt.int32, nt.int64, nt.uint32, nt.float32, nt.float64, nt.complex64],
    "cumprod": [nt.int8, nt.int32, nt.int64, nt.uint32, nt.float32, nt.float64, nt.complex64],
    "cummax": [nt.boolean, nt.int32, nt.uint32, nt.float32, nt.float64],
    "cummin": [nt.boolean, nt.int32, nt.uint32, nt.float32, nt.float64],
    "cumlogsumexp": [nt.float32, nt.float64],
}
SCANS = [(name, t) for name, ts in SCAN_DTYPES.items() for t in ts]


def test_every_kernel_has_signatures():
    from numba.cuda.dispatcher import CUDADispatcher

    from funcgrad.lowering import cuda_layout
    kernels = {name for name, v in vars(cuda_layout).items()
               if isinstance(v, CUDADispatcher) and not v.targetoptions.get("device")}
    assert kernels == {name for name, _ in SIGNATURES}
    assert set(cuda_layout._SCANS) == set(SCAN_DTYPES)


@pytest.mark.parametrize("name,sig", SIGNATURES,
                         ids=[f"{n}-{'-'.join(str(a) for a in s[:2])}" for n, s in SIGNATURES])
def test_kernel_compiles_to_ptx(name, sig):
    from funcgrad.lowering import cuda_layout
    ptx = compile_ptx(getattr(cuda_layout, name).py_func, sig)
    assert ".visible .entry" in ptx


@pytest.mark.parametrize("name,t", SCANS, ids=[f"{n}-{t}" for n, t in SCANS])
def test_scan_kernels_compile_to_ptx(name, t):
    from funcgrad.lowering import cuda_layout
    k = cuda_layout._SCANS[name]
    for kernel, sig in [(k.lines, (A(t), A(t), I64, I64, B)),
                        (k.totals, (A(t), A(t), I64, I64, I64, B)),
                        (k.carry, (A(t), I64)),
                        (k.finish, (A(t), A(t), A(t), I64, I64, I64, B))]:
        assert ".visible .entry" in compile_ptx(kernel.py_func, sig)
