"""funcgrad: composable function transformations (grad, vmap, jit) of NumPy programs.

Write pure functions with ``funcgrad.numpy``, then transform them::

    import funcgrad as fg, funcgrad.numpy as fnp
    print(fg.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3)))

This module only re-exports; it must not import numba (it is imported lazily, at first compile).
"""
__version__ = "0.1.0"

from funcgrad import config, dtypes, errors, source_info, tree_util  # noqa: F401
from funcgrad.array import Array  # noqa: F401
from funcgrad.core import ClosedJaxpr, Jaxpr, ShapedArray  # noqa: F401
from funcgrad.primitives import elementwise as _elementwise  # noqa: F401
from funcgrad import numpy, lax  # noqa: F401,E402
from funcgrad.transforms.staging import make_jaxpr  # noqa: F401
from funcgrad.primitives.elementwise import stop_gradient  # noqa: F401
from funcgrad.transforms.autodiff import (  # noqa: F401
    grad, hessian, jacfwd, jacrev, jvp, linearize, value_and_grad, vjp)
from funcgrad.primitives.custom_derivatives import (  # noqa: F401
    checkpoint, custom_jvp, custom_vjp, remat)
from funcgrad.transforms.vmap import vmap  # noqa: F401
from funcgrad.transforms.jit import disable_jit, jit  # noqa: F401
from funcgrad import optim, random  # noqa: F401,E402
from funcgrad.devices import (  # noqa: F401
    CudaArray, Device, device_get, device_put, devices)

# The libraries on top load on first use (`fg.nn`, `from funcgrad import data`), so that
# `import funcgrad` does not pay for them (about 55 ms together) in programs that never use
# them.
_LAZY_SUBMODULES = frozenset({"checkpoints", "data", "distributed", "nn", "scipy"})


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        module = importlib.import_module(f"funcgrad.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'funcgrad' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY_SUBMODULES)
