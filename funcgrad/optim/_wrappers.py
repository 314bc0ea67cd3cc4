"""Transformations that wrap others: ``masked``, ``multi_transform`` and ``inject_hyperparams``.

``masked`` and ``multi_transform`` run an inner transformation on a subset of the leaves. The
subset is a copy of the tree with the other leaves replaced by ``None`` (an empty subtree), so
the inner transformation's own ``tree_map`` calls simply skip them and its state holds nothing
for them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import tree_util as tu
from funcgrad.core import Tracer
from funcgrad.optim._transforms import (
    EmptyState,
    GradientTransformation,
    _check_state,
    _increment,
)

__all__ = ["MaskedState", "MultiTransformState", "InjectHyperparamsState", "masked",
           "multi_transform", "inject_hyperparams", "set_to_zero"]


class MaskedState(NamedTuple):
    inner_state: Any


class MultiTransformState(NamedTuple):
    inner_states: Any  # a dict: label -> that transformation's state


class InjectHyperparamsState(NamedTuple):
    count: Any          # int32 scalar: the number of updates done so far
    hyperparams: Any    # a dict: name -> the value used by the last update (an array)
    inner_state: Any


def _resolve(spec, params, who: str, what: str):
    tree = spec(params) if callable(spec) else spec
    if params is not None:
        p_tree = tu.tree_structure(params)
        s_tree = tu.tree_structure(tree)
        if p_tree != s_tree:
            raise ValueError(
                f"{who}: the {what} must have the structure of the params.\n"
                f"  params: {p_tree}\n  {what}: {s_tree}\n"
                f"Give one {what[:-1] if what.endswith('s') else what} per parameter leaf, "
                f"or a function params -> such a tree.")
    return tu.tree_leaves(tree)


def _select(tree, keep: list[bool]):
    """``tree`` with the leaves not kept replaced by None (an empty subtree)."""
    if tree is None:
        return None
    leaves, treedef = tu.tree_flatten(tree)
    return tu.tree_unflatten(treedef, [x if k else None for x, k in zip(leaves, keep)])


def _merge(tree, parts: list[tuple[list[bool], Any]]):
    """``tree`` with, for each (keep, sub), the kept leaves taken from ``sub`` in order."""
    leaves, treedef = tu.tree_flatten(tree)
    out = list(leaves)
    for keep, sub in parts:
        new = iter(tu.tree_leaves(sub))
        for i, k in enumerate(keep):
            if k:
                out[i] = next(new)
    return tu.tree_unflatten(treedef, out)


def masked(inner: GradientTransformation, mask) -> GradientTransformation:
    """Applies ``inner`` to the leaves where ``mask`` is True; other updates pass unchanged.

    Args:
        inner: the transformation to apply to the selected leaves.
        mask: a pytree of Python bools with the structure of the params, or a function
            ``params -> such a pytree``.

    Returns:
        A ``GradientTransformation`` whose state is ``MaskedState(inner_state)``; the inner
        state covers the selected leaves only.

    Example:
        >>> opt = chain(masked(add_decayed_weights(1e-4), lambda p: {k: k != "b" for k in p}),
        ...             scale(-0.1))
    """
    def init(params):
        keep = [bool(k) for k in _resolve(mask, params, "masked", "mask")]
        return MaskedState(inner.init(_select(params, keep)))

    def update(updates, state, params=None):
        _check_state(state, MaskedState, "masked")
        keep = [bool(k) for k in _resolve(mask, updates if params is None else params,
                                          "masked", "mask")]
        sub, inner_state = inner.update(_select(updates, keep), state.inner_state,
                                        _select(params, keep))
        return _merge(updates, [(keep, sub)]), MaskedState(inner_state)

    return GradientTransformation(init, update)


def multi_transform(transforms: Mapping[Any, GradientTransformation],
                    param_labels) -> GradientTransformation:
    """Applies a different transformation to each group of leaves.

    Args:
        transforms: a dict mapping each label to a ``GradientTransformation``.
        param_labels: a pytree of labels with the structure of the params, or a function
            ``params -> such a pytree``. Every label must be a key of ``transforms``.

    Returns:
        A ``GradientTransformation`` whose state is ``MultiTransformState({label: state})``.

    Example:
        >>> opt = multi_transform({"adam": adam(1e-3), "frozen": set_to_zero()},
        ...                       lambda p: {k: "frozen" if k == "embed" else "adam" for k in p})
    """
    transforms = dict(transforms)

    def groups(tree):
        labels = _resolve(param_labels, tree, "multi_transform", "labels")
        unknown = sorted({repr(x) for x in labels} - {repr(k) for k in transforms})
        if unknown:
            raise ValueError(
                f"multi_transform: labels {', '.join(unknown)} have no transformation; the "
                f"transformations are labelled {sorted(map(repr, transforms))}. Add them to "
                f"the transforms dict or change param_labels.")
        return {k: [lab == k for lab in labels] for k in transforms}

    def init(params):
        return MultiTransformState({k: t.init(_select(params, keep))
                                    for (k, t), keep in zip(transforms.items(),
                                                            groups(params).values())})

    def update(updates, state, params=None):
        _check_state(state, MultiTransformState, "multi_transform")
        parts, new_states = [], {}
        for k, keep in groups(updates if params is None else params).items():
            sub, new_states[k] = transforms[k].update(_select(updates, keep),
                                                      state.inner_states[k],
                                                      _select(params, keep))
            parts.append((keep, sub))
        return _merge(updates, parts), MultiTransformState(new_states)

    return GradientTransformation(init, update)


def set_to_zero() -> GradientTransformation:
    """Replaces every update by zeros (freezes the parameters it is applied to).

    Example:
        >>> opt = set_to_zero()
        >>> opt.update({"w": np.ones(2)}, opt.init(None))[0]["w"]
        Array([0., 0.], dtype=float64)
    """
    return GradientTransformation(
        lambda params: EmptyState(),
        lambda updates, state, params=None: (
            tu.tree_map(lambda u: fnp.zeros_like(fnp.asarray(u)), updates), state))


def _is_numeric(v) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, (int, float, np.number, np.ndarray, Tracer)) or \
        hasattr(v, "__array__")


def inject_hyperparams(inner_factory: Callable[..., GradientTransformation],
                       static_args: tuple[str, ...] = (), hyperparam_dtype=None):
    """Makes the numeric hyperparameters of an optimizer part of its state.

    ``inject_hyperparams(adam)(learning_rate=1e-3)`` behaves like ``adam(1e-3)``, but its state
    holds ``hyperparams={"learning_rate": ...}``, which can be read (to log a schedule's value)
    or replaced between steps (to change the learning rate of a running optimizer). A
    hyperparameter given as a function of the step count (a schedule) is evaluated at each
    update and its value stored. Booleans, strings, None and the names in ``static_args``
    stay fixed Python values.

    Args:
        inner_factory: a function returning a ``GradientTransformation``, such as ``adam``.
        static_args: names of arguments never to treat as hyperparameters.
        hyperparam_dtype: the dtype the hyperparameters are stored in. By default a Python
            float is stored in the default float dtype (float32), so the updates can differ
            from the plain optimizer's by that rounding (pass ``float64`` to avoid it); a
            schedule's value keeps the schedule's dtype.

    Returns:
        A function with ``inner_factory``'s arguments that returns the wrapped transformation,
        whose state is ``InjectHyperparamsState(count, hyperparams, inner_state)``.

    Example:
        >>> opt = inject_hyperparams(sgd)(learning_rate=linear_schedule(0.1, 0.0, 100))
        >>> state = opt.init({"w": np.zeros(2)})
        >>> float(state.hyperparams["learning_rate"])
        0.1
    """
    def factory(*args, **kwargs) -> GradientTransformation:
        if args:
            import inspect
            names = list(inspect.signature(inner_factory).parameters)
            kwargs = {**dict(zip(names, args)), **kwargs}
        schedules = {k: v for k, v in kwargs.items()
                     if callable(v) and k not in static_args}
        numeric = {k: v for k, v in kwargs.items()
                   if k not in schedules and k not in static_args and _is_numeric(v)}
        fixed = {k: v for k, v in kwargs.items() if k not in schedules and k not in numeric}

        def values(count, stored):
            hp = {k: fnp.asarray(s(count), dtype=hyperparam_dtype) for k, s in schedules.items()}
            hp.update({k: stored[k] for k in numeric})
            return hp

        def init(params):
            count = fnp.asarray(0, dtype=fnp.int32)
            hp = values(count, {k: fnp.asarray(v, dtype=hyperparam_dtype)
                                for k, v in numeric.items()})
            return InjectHyperparamsState(count, hp, inner_factory(**fixed, **hp).init(params))

        def update(updates, state, params=None):
            _check_state(state, InjectHyperparamsState, "inject_hyperparams")
            hp = values(state.count, state.hyperparams)
            updates, inner_state = inner_factory(**fixed, **hp).update(
                updates, state.inner_state, params)
            return updates, InjectHyperparamsState(_increment(state.count), hp, inner_state)

        return GradientTransformation(init, update)

    return factory
