"""The building blocks, aliases and schedules of ``funcgrad.optim`` (see its docstring)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import tree_util as tu

__all__ = [
    "GradientTransformation",
    "EmptyState",
    "ScaleByScheduleState",
    "TraceState",
    "ScaleByAdamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "identity",
    "apply_updates",
    "global_norm",
    "chain",
    "scale",
    "scale_by_schedule",
    "scale_by_learning_rate",
    "add_decayed_weights",
    "clip",
    "clip_by_global_norm",
    "trace",
    "scale_by_adam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_trust_ratio",
    "sgd",
    "adam",
    "adamw",
    "rmsprop",
    "adagrad",
    "lamb",
    "constant_schedule",
    "linear_schedule",
    "cosine_decay_schedule",
    "exponential_decay",
    "piecewise_constant_schedule",
    "join_schedules",
    "warmup_cosine_decay_schedule",
]

Schedule = Callable[[Any], Any]
ScalarOrSchedule = float | Schedule


class GradientTransformation(NamedTuple):
    """A pair of pure functions that together transform gradients into updates.

    Attributes:
        init: ``init(params) -> state``; builds the initial state (a pytree of arrays).
        update: ``update(updates, state, params=None) -> (updates, new_state)``.

    Example:
        >>> opt = chain(clip_by_global_norm(1.0), scale(-0.1))
        >>> state = opt.init({"w": np.zeros(2)})
    """

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


class ScaleByScheduleState(NamedTuple):
    count: Any  # int32 scalar: the number of updates done so far


class TraceState(NamedTuple):
    trace: Any


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


# ----------------------------------------------------------------------------- helpers


def _zeros_like(tree):
    return tu.tree_map(lambda p: fnp.zeros_like(fnp.asarray(p)), tree)


def _full_like(tree, value):
    return tu.tree_map(lambda p: fnp.full_like(fnp.asarray(p), value), tree)


def _count0():
    return fnp.asarray(0, dtype=fnp.int32)


def _check_state(state, cls, who):
    # A state built by another transformation's init would otherwise fail deep inside tree_map.
    if not isinstance(state, cls):
        raise TypeError(
            f"{who}.update got a state of type {type(state).__name__}, but expects "
            f"{cls.__name__}. Pass the state returned by this transformation's own init "
            f"(or by the previous call to its update).")


def _check_tree(updates, state_tree, who):
    u_tree = tu.tree_structure(updates)
    s_tree = tu.tree_structure(state_tree)
    if u_tree != s_tree:
        raise ValueError(
            f"{who}.update: the updates do not have the structure of the params the state "
            f"was built for.\n  updates: {u_tree}\n  state:   {s_tree}\n"
            "Call init with params of the same structure as the gradients.")


def _increment(count):
    # Saturate rather than wrap to a negative step count after 2**31 - 1 updates.
    count = fnp.asarray(count)
    return count + (count < np.iinfo(np.int32).max).astype(count.dtype)


def _leaf_dtype(x):
    return getattr(x, "dtype", None)


def _times(u, factor):
    # Scale a leaf without promoting it: schedules are computed in float64.
    factor = fnp.asarray(factor)
    dt = _leaf_dtype(u)
    if dt is not None and factor.dtype != dt:
        factor = factor.astype(dt)
    return u * factor


# ----------------------------------------------------------------------------- core


def apply_updates(params, updates):
    """Adds ``updates`` to ``params`` leaf by leaf, keeping each parameter's dtype.

    Args:
        params: a pytree of arrays.
        updates: a pytree with the same structure (as returned by ``update``).

    Returns:
        The new parameters, a pytree with the structure of ``params``.

    Example:
        >>> apply_updates({"w": np.ones(2)}, {"w": np.full(2, -0.5)})["w"]
        Array([0.5, 0.5], dtype=float64)
    """
    p_tree = tu.tree_structure(params)
    u_tree = tu.tree_structure(updates)
    if p_tree != u_tree:
        raise ValueError(
            "apply_updates: params and updates have different tree structures.\n"
            f"  params:  {p_tree}\n  updates: {u_tree}\n"
            "Updates must come from an optimizer whose init was given these params.")

    def add(p, u):
        p = fnp.asarray(p)
        return (p + u).astype(p.dtype)

    return tu.tree_map(add, params, updates)


def global_norm(tree):
    """The L2 norm of all leaves of ``tree`` taken together, as a scalar array.

    Example:
        >>> float(global_norm({"a": np.array([3.0]), "b": np.array([4.0])}))
        5.0
    """
    leaves = tu.tree_leaves(tree)
    if not leaves:
        return fnp.asarray(0.0)
    total = sum(fnp.sum(fnp.square(fnp.asarray(x))) for x in leaves)
    return fnp.sqrt(total)


def identity() -> GradientTransformation:
    """A transformation that returns the updates unchanged."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Applies ``transforms`` one after the other; the state is the tuple of their states.

    Args:
        *transforms: ``GradientTransformation`` objects, applied left to right.

    Returns:
        A ``GradientTransformation``.

    Example:
        >>> opt = chain(clip_by_global_norm(1.0), scale_by_adam(), scale_by_learning_rate(1e-3))
    """
    inits = tuple(t.init for t in transforms)
    updates_fns = tuple(t.update for t in transforms)

    def init(params):
        return tuple(fn(params) for fn in inits)

    def update(updates, state, params=None):
        # States of single transformations are NamedTuples; a chain's is a plain tuple.
        if type(state) is not tuple or len(state) != len(updates_fns):
            raise TypeError(
                f"chain.update expects a tuple of {len(updates_fns)} states (one per "
                f"transformation), got {type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
                + ". Pass the state returned by this chain's own init.")
        new_states = []
        for fn, s in zip(updates_fns, state):
            updates, s = fn(updates, s, params)
            new_states.append(s)
        return updates, tuple(new_states)

    return GradientTransformation(init, update)


def scale(step_size: float) -> GradientTransformation:
    """Multiplies every update by the constant ``step_size``.

    Example:
        >>> opt = scale(-0.1)   # plain gradient descent with learning rate 0.1
    """

    def init(params):
        return EmptyState()

    def update(updates, state, params=None):
        _check_state(state, EmptyState, "scale")
        return tu.tree_map(lambda u: u * step_size, updates), state

    return GradientTransformation(init, update)


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiplies the updates by ``step_size_fn(count)``; ``count`` = number of updates so far.

    Args:
        step_size_fn: a schedule, ``count -> scalar``; ``count`` is an int32 array.

    Example:
        >>> opt = scale_by_schedule(linear_schedule(1.0, 0.0, 100))
    """

    def init(params):
        return ScaleByScheduleState(count=_count0())

    def update(updates, state, params=None):
        _check_state(state, ScaleByScheduleState, "scale_by_schedule")
        step = step_size_fn(state.count)
        updates = tu.tree_map(lambda u: _times(u, step), updates)
        return updates, ScaleByScheduleState(count=_increment(state.count))

    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule, *,
                           flip_sign: bool = True) -> GradientTransformation:
    """Scales the updates by the learning rate, negated by default (updates are added to params).

    Args:
        learning_rate: a float, or a schedule ``count -> learning rate``.
        flip_sign: multiply by ``-learning_rate`` (the default) rather than ``learning_rate``.

    Example:
        >>> opt = chain(scale_by_adam(), scale_by_learning_rate(1e-3))
    """
    sign = -1.0 if flip_sign else 1.0
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


def add_decayed_weights(weight_decay: float = 0.0, mask=None) -> GradientTransformation:
    """Adds ``weight_decay * params`` to the updates (decoupled weight decay, as in AdamW).

    Args:
        weight_decay: the decay coefficient.
        mask: optional pytree of Python bools with the structure of the params (or a
            function ``params -> such a pytree``); leaves marked False are not decayed.

    Example:
        >>> opt = add_decayed_weights(1e-4, mask=lambda p: {k: k != "b" for k in p})
    """

    def init(params):
        return EmptyState()

    def update(updates, state, params=None):
        _check_state(state, EmptyState, "add_decayed_weights")
        if params is None:
            raise ValueError(
                "add_decayed_weights needs params: call update(updates, state, params).")
        if mask is None:
            return tu.tree_map(lambda u, p: u + weight_decay * p, updates, params), state
        m = mask(params) if callable(mask) else mask
        return tu.tree_map(lambda u, p, keep: u + weight_decay * p if keep else u,
                           updates, params, m), state

    return GradientTransformation(init, update)


def clip(max_delta: float) -> GradientTransformation:
    """Clips every element of the updates to ``[-max_delta, max_delta]``."""

    def init(params):
        return EmptyState()

    def update(updates, state, params=None):
        _check_state(state, EmptyState, "clip")
        return tu.tree_map(lambda u: fnp.clip(u, -max_delta, max_delta), updates), state

    return GradientTransformation(init, update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescales the updates so that their global norm is at most ``max_norm``.

    Updates whose global norm is below ``max_norm`` pass unchanged; otherwise every leaf
    is multiplied by ``max_norm / global_norm(updates)``.

    Example:
        >>> opt = chain(clip_by_global_norm(1.0), sgd(0.1))
    """

    def init(params):
        return EmptyState()

    def update(updates, state, params=None):
        _check_state(state, EmptyState, "clip_by_global_norm")
        g_norm = global_norm(updates)
        small = g_norm < max_norm
        # Guard the division so a zero norm never produces nan in the unused branch.
        factor = max_norm / fnp.where(small, 1.0, g_norm)
        return tu.tree_map(lambda u: fnp.where(small, u, _times(u, factor)), updates), state

    return GradientTransformation(init, update)


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: keeps ``t = g + decay * t`` and returns it (or ``g + decay * t`` if nesterov).

    Example:
        >>> opt = chain(trace(0.9), scale_by_learning_rate(0.01))
    """

    def init(params):
        return TraceState(trace=_zeros_like(params))

    def update(updates, state, params=None):
        _check_state(state, TraceState, "trace")
        _check_tree(updates, state.trace, "trace")
        new_trace = tu.tree_map(lambda g, t: g + decay * t, updates, state.trace)
        if nesterov:
            updates = tu.tree_map(lambda g, t: g + decay * t, updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(trace=new_trace)

    return GradientTransformation(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                  eps_root: float = 0.0) -> GradientTransformation:
    """Scales updates by Adam's bias-corrected moment estimates.

    With ``m, v`` the running first and second moments and ``k`` the step (from 1),
    the update is ``m_hat / (sqrt(v_hat + eps_root) + eps)`` where
    ``m_hat = m / (1 - b1**k)`` and ``v_hat = v / (1 - b2**k)``.

    Example:
        >>> opt = chain(scale_by_adam(), scale_by_learning_rate(1e-3))
    """

    def init(params):
        return ScaleByAdamState(count=_count0(), mu=_zeros_like(params), nu=_zeros_like(params))

    def update(updates, state, params=None):
        _check_state(state, ScaleByAdamState, "scale_by_adam")
        _check_tree(updates, state.mu, "scale_by_adam")
        mu = tu.tree_map(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = tu.tree_map(lambda g, v: b2 * v + (1 - b2) * g * g, updates, state.nu)
        count = _increment(state.count)

        def step(m, v):
            k = count.astype(m.dtype)
            m_hat = m / (1 - fnp.power(b1, k))
            v_hat = v / (1 - fnp.power(b2, k))
            return m_hat / (fnp.sqrt(v_hat + eps_root) + eps)

        return tu.tree_map(step, mu, nu), ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
                 eps_in_sqrt: bool = True) -> GradientTransformation:
    """Divides updates by the root of a running mean of their squares: ``g / sqrt(v + eps)``.

    Args:
        decay: the decay of the running mean ``v = decay * v + (1 - decay) * g**2``.
        eps: added to ``v`` under the root, or to the root itself if ``eps_in_sqrt`` is False.
        initial_scale: the initial value of ``v``.
        eps_in_sqrt: where ``eps`` goes (see above).

    Example:
        >>> opt = chain(scale_by_rms(), scale_by_learning_rate(1e-3))
    """

    def init(params):
        return ScaleByRmsState(nu=_full_like(params, initial_scale))

    def update(updates, state, params=None):
        _check_state(state, ScaleByRmsState, "scale_by_rms")
        _check_tree(updates, state.nu, "scale_by_rms")
        nu = tu.tree_map(lambda g, v: decay * v + (1 - decay) * g * g, updates, state.nu)
        if eps_in_sqrt:
            updates = tu.tree_map(lambda g, v: g / fnp.sqrt(v + eps), updates, nu)
        else:
            updates = tu.tree_map(lambda g, v: g / (fnp.sqrt(v) + eps), updates, nu)
        return updates, ScaleByRmsState(nu=nu)

    return GradientTransformation(init, update)


def scale_by_rss(initial_accumulator_value: float = 0.1,
                 eps: float = 1e-7) -> GradientTransformation:
    """Divides updates by the root of the running *sum* of their squares (Adagrad).

    Elements whose accumulated sum is zero get a zero update.
    """

    def init(params):
        return ScaleByRssState(sum_of_squares=_full_like(params, initial_accumulator_value))

    def update(updates, state, params=None):
        _check_state(state, ScaleByRssState, "scale_by_rss")
        _check_tree(updates, state.sum_of_squares, "scale_by_rss")
        ss = tu.tree_map(lambda g, s: s + g * g, updates, state.sum_of_squares)

        def step(g, s):
            inv = fnp.where(s > 0, 1.0 / fnp.sqrt(fnp.where(s > 0, s, 1.0) + eps), 0.0)
            return g * inv.astype(g.dtype)

        return tu.tree_map(step, updates, ss), ScaleByRssState(sum_of_squares=ss)

    return GradientTransformation(init, update)


def scale_by_trust_ratio() -> GradientTransformation:
    """Scales each leaf's update by ``||param|| / ||update||`` (the layer-wise trust ratio of LAMB).

    Leaves where either norm is zero keep their update unchanged. Norms are L2 norms of
    whole leaves.

    Example:
        >>> opt = chain(scale_by_adam(), scale_by_trust_ratio(), scale_by_learning_rate(1e-3))
    """

    def init(params):
        return EmptyState()

    def update(updates, state, params=None):
        _check_state(state, EmptyState, "scale_by_trust_ratio")
        if params is None:
            raise ValueError(
                "scale_by_trust_ratio needs params: call update(updates, state, params).")

        def step(u, p):
            p_norm = fnp.sqrt(fnp.sum(fnp.square(fnp.asarray(p))))
            u_norm = fnp.sqrt(fnp.sum(fnp.square(u)))
            degenerate = (p_norm == 0) | (u_norm == 0)
            ratio = fnp.where(degenerate, 1.0, p_norm / fnp.where(degenerate, 1.0, u_norm))
            return _times(u, ratio)

        return tu.tree_map(step, updates, params), state

    return GradientTransformation(init, update)


# ----------------------------------------------------------------------------- aliases


def sgd(learning_rate: ScalarOrSchedule, momentum: float | None = None,
        nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Args:
        learning_rate: a float or a schedule.
        momentum: the momentum decay, or None for plain SGD.
        nesterov: use Nesterov momentum.

    Returns:
        ``chain(trace(momentum, nesterov), scale_by_learning_rate(learning_rate))``.

    Example:
        >>> opt = sgd(0.1, momentum=0.9)
    """
    return chain(trace(momentum, nesterov) if momentum is not None else identity(),
                 scale_by_learning_rate(learning_rate))


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, eps_root: float = 0.0) -> GradientTransformation:
    """Adam: ``chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(lr))``.

    Example:
        >>> opt = adam(1e-3)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, eps_root: float = 0.0, weight_decay: float = 1e-4,
          mask=None) -> GradientTransformation:
    """Adam with decoupled weight decay: the update is ``-lr * (adam_direction + wd * params)``.

    Args:
        learning_rate: a float or a schedule.
        b1, b2, eps, eps_root: as in :func:`scale_by_adam`.
        weight_decay: the decay coefficient.
        mask: which params to decay, as in :func:`add_decayed_weights`.

    Example:
        >>> opt = adamw(1e-3, weight_decay=1e-2)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root),
                 add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8,
            initial_scale: float = 0.0, eps_in_sqrt: bool = True, momentum: float | None = None,
            nesterov: bool = False) -> GradientTransformation:
    """RMSProp: ``chain(scale_by_rms, scale_by_learning_rate, trace(momentum))``.

    Example:
        >>> opt = rmsprop(1e-3, momentum=0.9)
    """
    return chain(scale_by_rms(decay, eps, initial_scale, eps_in_sqrt),
                 scale_by_learning_rate(learning_rate),
                 trace(momentum, nesterov) if momentum is not None else identity())


def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformation:
    """Adagrad: ``chain(scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(lr))``.

    Example:
        >>> opt = adagrad(0.1)
    """
    return chain(scale_by_rss(initial_accumulator_value, eps),
                 scale_by_learning_rate(learning_rate))


def lamb(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-6, eps_root: float = 0.0, weight_decay: float = 0.0,
         mask=None) -> GradientTransformation:
    """LAMB: the AdamW direction, rescaled per leaf by the trust ratio, then by ``-lr``.

    Returns:
        ``chain(scale_by_adam, add_decayed_weights, scale_by_trust_ratio,
        scale_by_learning_rate)``.

    Example:
        >>> opt = lamb(1e-3, weight_decay=1e-2)
    """
    return chain(scale_by_adam(b1, b2, eps, eps_root),
                 add_decayed_weights(weight_decay, mask),
                 scale_by_trust_ratio(),
                 scale_by_learning_rate(learning_rate))


# ----------------------------------------------------------------------------- schedules


def _as_float(count):
    return fnp.asarray(count).astype(fnp.float64)


def constant_schedule(value: float) -> Schedule:
    """A schedule that always returns ``value``."""
    return lambda count: fnp.full_like(_as_float(count), value)


def linear_schedule(init_value: float, end_value: float, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """Goes linearly from ``init_value`` to ``end_value`` over ``transition_steps`` steps,
    starting at step ``transition_begin``, and stays at ``end_value`` afterwards.

    Example:
        >>> float(linear_schedule(1.0, 0.0, 10)(5))
        0.5
    """
    if transition_steps <= 0:
        return constant_schedule(init_value)

    def schedule(count):
        k = fnp.clip(_as_float(count) - transition_begin, 0, transition_steps)
        return init_value + (end_value - init_value) * (k / transition_steps)

    return schedule


def cosine_decay_schedule(init_value: float, decay_steps: int, alpha: float = 0.0,
                          exponent: float = 1.0) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps`` steps.

    ``value(k) = init_value * ((1 - alpha) * c(k)**exponent + alpha)`` with
    ``c(k) = 0.5 * (1 + cos(pi * k / decay_steps))`` and ``k`` clipped to ``decay_steps``.

    Example:
        >>> float(cosine_decay_schedule(1.0, 10)(10))
        0.0
    """
    if decay_steps <= 0:
        raise ValueError(f"cosine_decay_schedule: decay_steps must be positive, got {decay_steps}")

    def schedule(count):
        k = fnp.minimum(_as_float(count), decay_steps)
        cosine = 0.5 * (1 + fnp.cos(math.pi * k / decay_steps))
        return init_value * ((1 - alpha) * fnp.power(cosine, exponent) + alpha)

    return schedule


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value: float | None = None) -> Schedule:
    """``init_value * decay_rate ** ((count - transition_begin) / transition_steps)``.

    Before ``transition_begin`` the value is ``init_value``; ``staircase`` floors the exponent;
    ``end_value`` bounds the result (below when decaying, above when growing).

    Example:
        >>> float(exponential_decay(1.0, 10, 0.5)(20))
        0.25
    """
    if transition_steps <= 0:
        return constant_schedule(init_value)

    def schedule(count):
        k = _as_float(count) - transition_begin
        p = k / transition_steps
        if staircase:
            p = fnp.floor(p)
        value = fnp.where(k <= 0, init_value, init_value * fnp.power(decay_rate, p))
        if end_value is not None:
            bound = fnp.maximum if decay_rate < 1 else fnp.minimum
            value = bound(value, end_value)
        return value

    return schedule


def piecewise_constant_schedule(init_value: float,
                                boundaries_and_scales: dict[int, float] | None = None) -> Schedule:
    """Starts at ``init_value``; from step ``b`` on, the value is multiplied by ``scales[b]``.

    Example:
        >>> float(piecewise_constant_schedule(1.0, {10: 0.1, 20: 0.5})(25))
        0.05
    """
    items = sorted((boundaries_and_scales or {}).items())

    def schedule(count):
        k = _as_float(count)
        value = fnp.full_like(k, init_value)
        for boundary, s in items:
            value = fnp.where(k >= boundary, value * s, value)
        return value

    return schedule


def join_schedules(schedules: list[Schedule], boundaries: list[int]) -> Schedule:
    """Runs ``schedules[i + 1]`` from step ``boundaries[i]`` on, restarting its count at 0.

    Example:
        >>> s = join_schedules([constant_schedule(1.0), constant_schedule(2.0)], [5])
        >>> float(s(4)), float(s(5))
        (1.0, 2.0)
    """
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(f"join_schedules: expected {len(boundaries) + 1} schedules for "
                         f"{len(boundaries)} boundaries, got {len(schedules)}")

    def schedule(count):
        count = fnp.asarray(count)
        value = schedules[0](count)
        for boundary, fn in zip(boundaries, schedules[1:]):
            value = fnp.where(count < boundary, value, fn(count - boundary))
        return value

    return schedule


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: int,
                                 decay_steps: int, end_value: float = 0.0,
                                 exponent: float = 1.0) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps``, then cosine
    decay to ``end_value``; ``decay_steps`` counts the warmup too.

    Example:
        >>> s = warmup_cosine_decay_schedule(0.0, 1.0, 10, 110)
        >>> float(s(10)), float(s(110))
        (1.0, 0.0)
    """
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules(
        [linear_schedule(init_value, peak_value, warmup_steps),
         cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent)],
        [warmup_steps])

