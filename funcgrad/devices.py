"""Devices and placement: ``devices()``, ``device_put``, and arrays that live on a GPU.

funcgrad computes on the CPU unless a value is put on a CUDA device::

    gpu = fg.devices("cuda")[0]
    params = fg.device_put(params, gpu)      # copies every leaf over, once
    step = fg.jit(train_step)                 # runs where its inputs live
    params, loss = step(params, batch)        # params stay on the GPU between steps
    float(loss)                               # copies one scalar back

A ``CudaArray`` is a ``funcgrad.Array`` whose buffer is a numba-cuda device array.
``np.asarray(x)`` copies it back (and keeps the copy); eager operations with a ``CudaArray``
operand run on the GPU, each as a one-equation CUDA executable, as jit'd functions do, so
results stay there. Placement is driven by the data: a jit'd function whose inputs include a
``CudaArray`` runs on the CUDA backend (host operands are copied over); ``jit(f,
backend="cuda")`` runs there whatever its inputs. A process computes on its first GPU only
(one GPU per process, as in data-parallel training; ``CUDA_VISIBLE_DEVICES`` picks which).

numba-cuda (``pip install "funcgrad[cuda]"``) is imported only when a GPU is asked for.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from funcgrad import core, tree_util
from funcgrad.array import Array
from funcgrad.core import ShapedArray

CUDA_BACKEND = "numba-cuda"


@dataclasses.dataclass(frozen=True)
class Device:
    """A device: ``platform`` is ``"cpu"`` or ``"cuda"``; ``id`` counts from 0 per platform."""

    platform: str
    id: int = 0
    device_kind: str = ""

    def __repr__(self):
        return f"{'CpuDevice' if self.platform == 'cpu' else 'CudaDevice'}(id={self.id})"


CPU = Device("cpu", 0, "cpu")


@functools.cache
def _cuda_devices() -> tuple[Device, ...]:
    try:
        from numba import cuda
    except ImportError:
        return ()
    try:
        if not cuda.is_available():
            return ()
        from funcgrad.lowering import cuda_runtime
        if cuda_runtime.simulator():
            return (Device("cuda", 0, "CUDA simulator"),)
        out = []
        for i, gpu in enumerate(cuda.gpus):
            name = gpu.name.decode() if isinstance(gpu.name, bytes) else str(gpu.name)
            out.append(Device("cuda", i, name))
        return tuple(out)
    except Exception:  # noqa: BLE001 - a broken driver means no usable GPU
        return ()


def _no_gpu_error(what: str) -> RuntimeError:
    try:
        import numba.cuda  # noqa: F401
        why = "numba-cuda finds no CUDA GPU (numba.cuda.is_available() is False)"
        fix = ("run on a machine with an NVIDIA GPU and driver, or set "
               "NUMBA_ENABLE_CUDASIM=1 before importing funcgrad to use Numba's CUDA simulator")
    except ImportError:
        why = "numba-cuda is not installed"
        fix = 'pip install "funcgrad[cuda]"'
    return RuntimeError(f"{what}: no CUDA device is available: {why}. Fix: {fix}.")


def devices(backend: str | None = None) -> list[Device]:
    """The devices funcgrad can compute on.

    Args:
      backend: ``None`` (every device: CUDA devices first, when there are any, then the CPU),
        ``"cpu"``, or ``"cuda"`` (alias ``"gpu"``), which raises a RuntimeError saying why
        when no GPU is available.
    """
    if backend is None:
        return [*_cuda_devices(), CPU]
    b = backend.lower()
    if b == "cpu":
        return [CPU]
    if b in ("cuda", "gpu"):
        found = list(_cuda_devices())
        if not found:
            raise _no_gpu_error(f"funcgrad.devices({backend!r})")
        return found
    raise ValueError(f"funcgrad.devices: unknown backend {backend!r}; use 'cpu' or 'cuda'")


def _as_device(device) -> Device:
    if device is None:
        return CPU
    if isinstance(device, Device):
        if device.platform == "cuda" and device not in _cuda_devices():
            raise _no_gpu_error(f"funcgrad.device_put(..., {device!r})")
        if device.platform == "cuda" and device.id != 0:
            raise ValueError(
                f"funcgrad.device_put(..., {device!r}): funcgrad computes on the first GPU of a "
                f"process only. Fix: run one process per GPU and select GPU {device.id} with "
                f"CUDA_VISIBLE_DEVICES={device.id} (it is then that process's CudaDevice(id=0)).")
        return device
    if isinstance(device, str):
        return devices(device)[0]
    raise TypeError(f"funcgrad.device_put: device must be a funcgrad Device (from "
                    f"fg.devices()) or 'cpu'/'cuda', got {device!r}")


class CudaArray(Array):
    """A ``funcgrad.Array`` whose buffer lives on a CUDA device (see the module docstring).

    ``np.asarray(x)`` copies the value to the host once and keeps that read-only copy."""

    __slots__ = ("_dev", "_device")

    def __init__(self, dev, weak_type: bool = False, device: Device | None = None):
        # The host copy (Array's _value slot) is filled on first use.
        Array._value.__set__(self, None)
        self._weak_type = weak_type
        self._aval = None
        self._dev = dev
        self._device = device or _cuda_devices()[0]

    @property
    def _value(self) -> np.ndarray:
        v = Array._value.__get__(self)
        if v is None:
            v = self._dev.copy_to_host()
            v.flags.writeable = False
            Array._value.__set__(self, v)
        return v

    @property
    def aval(self) -> ShapedArray:
        a = self._aval
        if a is None:
            d = self._dev
            a = self._aval = ShapedArray._trusted(tuple(d.shape), np.dtype(d.dtype),
                                                  bool(self._weak_type))
        return a

    shape = property(lambda self: tuple(self._dev.shape))
    dtype = property(lambda self: np.dtype(self._dev.dtype))
    ndim = property(lambda self: len(self._dev.shape))
    size = property(lambda self: int(np.prod(self._dev.shape, dtype=np.int64)))
    nbytes = property(lambda self: self.size * self.dtype.itemsize)
    itemsize = property(lambda self: self.dtype.itemsize)

    @property
    def device(self) -> Device:
        return self._device

    def block_until_ready(self) -> CudaArray:
        """Waits until the GPU has finished computing this value; returns self."""
        from numba import cuda
        cuda.synchronize()
        return self

    def __repr__(self):
        return super().__repr__().replace("Array(", "CudaArray(", 1)

    def __reduce__(self):  # pickles as a host Array
        return Array(np.array(self._value), self._weak_type).__reduce__()


def _array_device(self) -> Device:
    return CPU


Array.device = property(_array_device, doc="The device holding this array's buffer.")
Array.devices = lambda self: {self.device}


def _put_leaf(x, dev: Device):
    if isinstance(x, core.Tracer):
        raise TypeError("funcgrad.device_put: cannot move a traced value; call device_put "
                        "outside jit/grad/vmap (a jit'd function runs where its inputs live)")
    if dev.platform == "cpu":
        if type(x) is CudaArray:
            return Array(np.array(x._value), x.weak_type)
        if isinstance(x, Array):
            return x
        aval = core.get_aval(x)
        return Array(np.array(x, dtype=aval.dtype), aval.weak_type)
    from funcgrad.lowering import cuda_runtime
    if type(x) is CudaArray:
        return x
    aval = core.get_aval(x)
    host = np.asarray(x._value if isinstance(x, Array) else x, dtype=aval.dtype)
    return CudaArray(cuda_runtime.to_device(host), aval.weak_type, dev)


def device_put(x, device=None):
    """Copies every array leaf of the pytree ``x`` to ``device`` (a ``Device``, ``"cpu"`` or
    ``"cuda"``; default the CPU). Leaves already there are returned as they are."""
    dev = _as_device(device)
    return tree_util.tree_map(lambda leaf: _put_leaf(leaf, dev), x)


def device_get(x):
    """Copies every ``CudaArray`` leaf of ``x`` back to the host as a NumPy array."""
    return tree_util.tree_map(lambda leaf: np.asarray(leaf) if isinstance(leaf, Array)
                              else leaf, x)


# ------------------------------------------------------------------------------------------
# Eager operations on device arrays


_op_cache: dict = {}


def run_primitive(prim, args, params):
    """Runs one primitive whose operands include a ``CudaArray`` on the GPU (called by the
    eval trace); returns CudaArrays."""
    from funcgrad import lowering
    avals = [core.get_aval(a) for a in args]
    try:
        key = (prim, tuple(avals), tuple(sorted(params.items())))
        hash(key)
    except TypeError:
        key = None
    exe = _op_cache.get(key) if key is not None else None
    if exe is None:
        from funcgrad.transforms.staging import trace_to_open_jaxpr

        def one(*xs):
            out = prim.bind(*xs, **params)
            return list(out) if prim.multiple_results else [out]
        jaxpr, consts = trace_to_open_jaxpr(one, avals, f"{prim.name} on the GPU")
        exe = (lowering.compile(jaxpr, CUDA_BACKEND), [core.to_numpy(c) for c in consts])
        if key is not None:
            _op_cache[key] = exe
    compiled, consts = exe
    vals = [a._dev if type(a) is CudaArray else core.to_numpy(a) for a in args]
    outs = compiled(*consts, *vals)
    wrapped = [CudaArray(o, a.weak_type) for o, a in zip(outs, compiled.out_avals)]
    return wrapped if prim.multiple_results else wrapped[0]


core._DeviceArray = CudaArray
core._device_primitive = run_primitive


def _register_fast_jit_signature():
    # jit's fast path (array arguments looked up by aval, without flattening) knows CudaArrays:
    # a device array has the signature of the host array it stands for.
    from funcgrad.transforms import jit as _jit
    _jit._FAST_SIGNATURES[CudaArray] = lambda x: (tuple(x._dev.shape), np.dtype(x._dev.dtype),
                                                  x._weak_type)


_register_fast_jit_signature()

__all__ = ["Device", "CudaArray", "devices", "device_put", "device_get"]
