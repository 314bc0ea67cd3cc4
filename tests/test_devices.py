"""Devices and placement on a machine without a GPU (the GPU side is tested in tests/cuda):
the CPU device, clear errors when a GPU is asked for, and that nothing else changes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp

NO_GPU = not any(d.platform == "cuda" for d in fg.devices())


def test_the_cpu_device():
    cpu = fg.devices("cpu")
    assert cpu == [fg.Device("cpu", 0, "cpu")] and repr(cpu[0]) == "CpuDevice(id=0)"
    assert fg.devices()[-1] == cpu[0]
    x = fnp.ones(3)
    assert x.device == cpu[0] and x.devices() == {cpu[0]}
    assert fg.device_put(x) is x and fg.device_put(x, "cpu") is x
    y = fg.device_put({"a": np.arange(3), "b": 2.0}, cpu[0])
    assert type(y["a"]) is fg.Array and y["a"].dtype == np.arange(3).dtype
    assert y["b"].weak_type


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
@pytest.mark.parametrize("ask", [
    lambda: fg.devices("cuda"),
    lambda: fg.devices("gpu"),
    lambda: fg.device_put(np.ones(2), "cuda"),
    lambda: fg.device_put(np.ones(2), fg.Device("cuda", 0)),
    lambda: fg.jit(lambda x: x + 1, backend="cuda")(np.ones(2)),
])
def test_asking_for_a_gpu_without_one_says_why_and_what_to_do(ask):
    with pytest.raises(RuntimeError, match=r"no CUDA device is available: .*Fix: "):
        ask()


def test_bad_device_arguments():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        fg.devices("tpu")
    with pytest.raises(TypeError, match="must be a funcgrad Device"):
        fg.device_put(np.ones(2), 3)
    with pytest.raises(ValueError, match="unknown backend"):
        fg.jit(lambda x: x, backend="metal")


def test_jit_accepts_backend_aliases():
    assert fg.jit(lambda x: x * 2, backend="cpu")(np.ones(2)).tolist() == [2.0, 2.0]


def test_import_funcgrad_does_not_import_numba_cuda():
    code = ("import sys, funcgrad as fg, funcgrad.numpy as fnp; fnp.ones(2).device; "
            "fg.devices('cpu'); print('numba.cuda' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_only_the_first_gpu_of_a_process_computes(monkeypatch):
    import importlib
    devices = importlib.import_module("funcgrad.devices")  # fg.devices is the function
    two = (fg.Device("cuda", 0, "x"), fg.Device("cuda", 1, "x"))
    monkeypatch.setattr(devices, "_cuda_devices", lambda: two)
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES=1"):
        fg.device_put(np.ones(2), two[1])
