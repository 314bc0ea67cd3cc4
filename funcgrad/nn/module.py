"""``Module`` and ``Sequential``: layers as pairs of pure functions.

A module object holds hyperparameters only. Its parameters are a pytree the caller owns::

    params = layer.init(key)                  # nested dicts of arrays, readable names
    y = layer.apply(params, x)                # inference
    y = layer.apply(params, x, train=True, rng=key)

Layers with state (BatchNorm's running statistics) keep it in a second pytree::

    state = layer.init_state()
    y, state = layer.apply(params, x, state=state, train=True)

Modules are frozen dataclasses and registered as static pytree nodes, so they compare by
value, hash, and can be passed to ``fg.jit`` functions as arguments without becoming traced.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from funcgrad import errors, tree_util
from funcgrad import random as fr

__all__ = ["Module", "Sequential"]


class Module:
    """The base of every layer: ``init``, ``init_state`` and ``apply``.

    Subclasses are frozen dataclasses of hyperparameters and implement ``init(key)`` (when
    they have parameters), ``init_state()`` (when they keep state) and
    ``forward(params, x, state, train, rng) -> (y, new_state)``.

    Attributes:
        needs_state: whether ``apply`` needs ``state=`` (true for BatchNorm and for
            containers holding one).
        needs_rng: whether ``apply(..., train=True)`` draws random numbers (Dropout).
    """

    needs_state = False
    needs_rng = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        tree_util.register_static(cls)

    def init(self, key) -> Any:
        """Returns freshly initialised parameters (``{}`` for layers without any)."""
        return {}

    def init_state(self) -> Any:
        """Returns the initial state (``{}`` for stateless layers)."""
        return {}

    def forward(self, params, x, state, train: bool, rng):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def apply(self, params, x, *, train: bool = False, rng=None, state=None):
        """Runs the layer.

        Args:
            params: the pytree returned by ``init``.
            x: the input array.
            train: training mode (Dropout drops, BatchNorm uses and updates batch statistics).
            rng: a PRNG key, needed in training mode by layers that draw random numbers.
            state: the layer's state, needed by stateful layers (see ``init_state``).

        Returns:
            The output, or ``(output, new_state)`` when ``state`` is passed.
        """
        name = type(self).__name__
        if state is None and self.needs_state:
            raise errors.InvalidArgumentError(errors.message(
                f"nn.{name}.apply", f"{name} keeps running statistics, so it needs its state",
                "pass state=model.init_state() (and keep the returned one): "
                "y, state = model.apply(params, x, state=state, train=True)",
                errors.InvalidArgumentError))
        if train and rng is None and self.needs_rng:
            raise errors.InvalidArgumentError(errors.message(
                f"nn.{name}.apply", f"{name} draws random numbers in training mode, but no "
                f"rng was given", "pass rng=key, e.g. model.apply(params, x, train=True, "
                "rng=fg.random.fold_in(key, step))", errors.InvalidArgumentError))
        y, new_state = self.forward(params, x, {} if state is None else state, train, rng)
        return y if state is None else (y, new_state)


def _layer_name(index: int, layer: Module) -> str:
    return f"{type(layer).__name__.lower()}_{index}"


@dataclasses.dataclass(frozen=True, init=False)
class Sequential(Module):
    """Layers applied one after another.

    Parameters and state are dicts keyed ``"<layer class>_<index>"`` (for example
    ``"linear_0"``, ``"batchnorm2d_1"``), holding only the layers that have any. ``init``
    splits the key once per layer, and in training mode each layer gets
    ``fold_in(rng, index)``.

    Example:
        >>> model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        >>> params = model.init(fg.random.PRNGKey(0))
        >>> sorted(params)
        ['linear_0', 'linear_2']
    """

    layers: tuple

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise errors.InvalidArgumentError(errors.message(
                    "nn.Sequential", f"layer {i} is a {type(layer).__name__}, not a Module",
                    "pass layer objects such as nn.Linear(4, 2) or nn.ReLU() (note the "
                    "parentheses).", errors.InvalidArgumentError))
        object.__setattr__(self, "layers", tuple(layers))

    @property
    def needs_state(self):
        return any(layer.needs_state for layer in self.layers)

    @property
    def needs_rng(self):
        return any(layer.needs_rng for layer in self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def init(self, key):
        keys = fr.split(key, max(len(self.layers), 1))
        params = {}
        for i, layer in enumerate(self.layers):
            p = layer.init(keys[i])
            if tree_util.tree_leaves(p):
                params[_layer_name(i, layer)] = p
        return params

    def init_state(self):
        state = {}
        for i, layer in enumerate(self.layers):
            s = layer.init_state()
            if tree_util.tree_leaves(s):
                state[_layer_name(i, layer)] = s
        return state

    def forward(self, params, x, state, train, rng):
        new_state = {}
        for i, layer in enumerate(self.layers):
            name = _layer_name(i, layer)
            layer_rng = fr.fold_in(rng, i) if (train and rng is not None
                                               and layer.needs_rng) else None
            x, s = layer.forward(params.get(name, {}), x, state.get(name, {}), train,
                                 layer_rng)
            if name in state:
                new_state[name] = s
        return x, new_state
