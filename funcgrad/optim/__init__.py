"""Gradient transformations over pytrees: composable optimizers built from pure functions.

An optimizer is a :class:`GradientTransformation`, a pair of pure functions::

    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)

States are NamedTuples of arrays (step counts are int32 arrays), so a whole training step,
gradient, update and all, compiles under ``fg.jit``. Updates are *added* to the parameters:
the aliases (``sgd``, ``adam``, ...) end by scaling with ``-learning_rate``. The aliases hold
no maths of their own; each is a :func:`chain` of building blocks.

Example:
    >>> import numpy as np
    >>> from funcgrad import optim
    >>> opt = optim.sgd(0.1)
    >>> params = {"w": np.array([1.0, 2.0])}
    >>> state = opt.init(params)
    >>> updates, state = opt.update({"w": np.array([1.0, 1.0])}, state, params)
    >>> np.asarray(optim.apply_updates(params, updates)["w"])
    array([0.9, 1.9])
"""

from funcgrad.optim._transforms import *  # noqa: F401,F403
from funcgrad.optim._transforms import __all__ as _transforms_all
from funcgrad.optim._wrappers import *  # noqa: F401,F403
from funcgrad.optim._wrappers import __all__ as _wrappers_all

__all__ = list(_transforms_all) + list(_wrappers_all)
