"""Parameter initialisers: each is a function ``init(key, shape, dtype=float32) -> Array``.

``zeros`` and ``ones`` are initialisers themselves; the others are factories that take their
hyperparameters and return one, as in ``normal(stddev=0.02)(key, (3, 4))``.

Fan-in and fan-out (the variance-scaling family) follow the usual rule: for a shape with
``in_axis`` and ``out_axis`` (default ``-2`` and ``-1``, the layout of a ``(in, out)`` dense
kernel), ``fan_in = shape[in_axis] * receptive`` and ``fan_out = shape[out_axis] * receptive``,
where ``receptive`` is the product of every other (non-batch) dimension, such as a
convolution's kernel height and width. A PyTorch-layout ``(out, in, kh, kw)`` convolution
kernel passes ``in_axis=1, out_axis=0``.

Example:
    >>> w = nn.initializers.kaiming_normal()(fg.random.PRNGKey(0), (784, 128))
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import funcgrad.numpy as fnp
from funcgrad import dtypes, errors
from funcgrad import random as fr

__all__ = ["Initializer", "zeros", "ones", "constant", "normal", "uniform", "truncated_normal",
           "variance_scaling", "kaiming_normal", "kaiming_uniform", "he_normal", "he_uniform",
           "xavier_normal", "xavier_uniform", "glorot_normal", "glorot_uniform",
           "lecun_normal", "lecun_uniform", "orthogonal", "compute_fans"]

Initializer = Callable[..., "fnp.ndarray"]

# The standard deviation of a standard normal truncated to (-2, 2): dividing by it makes a
# truncated draw have the requested variance.
_TRUNCATED_STD = 0.87962566103423978


def _shape(op: str, shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise errors.InvalidArgumentError(errors.message(
            f"nn.initializers.{op}", f"shape must be a tuple of ints, got {shape!r}",
            "pass e.g. (in_features, out_features).", errors.InvalidArgumentError)) from None
    if any(d < 0 for d in shape):
        raise errors.shape_error(f"nn.initializers.{op}", f"negative dimension in {shape}.")
    return shape


def _float(op: str, dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if not dtypes.is_float(dt):
        raise errors.dtype_error(f"nn.initializers.{op}",
                                 f"initialises floating parameters only, got dtype {dt}.",
                                 "pass dtype=float32 or float64.")
    return dt


def zeros(key, shape, dtype=dtypes.float32):
    """All zeros (``key`` is ignored)."""
    return fnp.zeros(_shape("zeros", shape), dtype=dtype)


def ones(key, shape, dtype=dtypes.float32):
    """All ones (``key`` is ignored)."""
    return fnp.ones(_shape("ones", shape), dtype=dtype)


def constant(value) -> Initializer:
    """An initialiser filling the array with ``value``.

    Example:
        >>> nn.initializers.constant(0.1)(key, (3,))
    """
    def init(key, shape, dtype=dtypes.float32):
        return fnp.full(_shape("constant", shape), value, dtype=dtype)
    return init


def normal(stddev: float = 1e-2) -> Initializer:
    """Independent normal draws with mean 0 and standard deviation ``stddev``."""
    def init(key, shape, dtype=dtypes.float32):
        dt = _float("normal", dtype)
        return fr.normal(key, _shape("normal", shape), dt) * np.asarray(stddev, dt)
    return init


def uniform(scale: float = 1e-2) -> Initializer:
    """Independent uniform draws on ``[0, scale)``."""
    def init(key, shape, dtype=dtypes.float32):
        dt = _float("uniform", dtype)
        return fr.uniform(key, _shape("uniform", shape), dt, 0.0, scale)
    return init


def truncated_normal(stddev: float = 1e-2, lower: float = -2.0,
                     upper: float = 2.0) -> Initializer:
    """Normal draws truncated to ``[lower, upper]`` standard deviations, times ``stddev``."""
    def init(key, shape, dtype=dtypes.float32):
        dt = _float("truncated_normal", dtype)
        draw = fr.truncated_normal(key, lower, upper, _shape("truncated_normal", shape), dt)
        return draw * np.asarray(stddev, dt)
    return init


def compute_fans(shape: Sequence[int], in_axis=-2, out_axis=-1,
                 batch_axis=()) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a parameter shape (see the module docstring).

    Example:
        >>> nn.initializers.compute_fans((16, 8, 3, 3), in_axis=1, out_axis=0)
        (72.0, 144.0)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    nd = len(shape)

    def axes(a):
        return {i % nd for i in ((a,) if isinstance(a, int) else a)}
    in_axes, out_axes, b_axes = axes(in_axis), axes(out_axis), axes(batch_axis)
    receptive = math.prod(d for i, d in enumerate(shape) if i not in in_axes | out_axes | b_axes)
    fan_in = math.prod(shape[i] for i in in_axes) * receptive
    fan_out = math.prod(shape[i] for i in out_axes) * receptive
    return float(fan_in), float(fan_out)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale: float, mode: str, distribution: str, in_axis=-2, out_axis=-1,
                     batch_axis=()) -> Initializer:
    """Draws with variance ``scale / n``, where ``n`` is the fan-in, fan-out or their mean.

    Args:
        scale: the variance numerator (2.0 for ReLU networks, 1.0 for linear/tanh ones).
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (truncated at two standard deviations and
            rescaled to the requested variance), ``"normal"`` or ``"uniform"`` (on
            ``[-sqrt(3 * variance), sqrt(3 * variance)]``).
        in_axis, out_axis, batch_axis: which axes of the shape are the input, output and
            batch dimensions (see the module docstring).

    Returns:
        An initialiser.
    """
    if mode not in _MODES:
        raise errors.InvalidArgumentError(errors.message(
            "nn.initializers.variance_scaling", f"unknown mode {mode!r}",
            f"use one of {_MODES}.", errors.InvalidArgumentError))
    if distribution not in _DISTRIBUTIONS:
        raise errors.InvalidArgumentError(errors.message(
            "nn.initializers.variance_scaling", f"unknown distribution {distribution!r}",
            f"use one of {_DISTRIBUTIONS}.", errors.InvalidArgumentError))

    def init(key, shape, dtype=dtypes.float32):
        shape = _shape("variance_scaling", shape)
        dt = _float("variance_scaling", dtype)
        fan_in, fan_out = compute_fans(shape, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = scale / max(1.0, n)
        if distribution == "truncated_normal":
            std = math.sqrt(variance) / _TRUNCATED_STD
            return fr.truncated_normal(key, -2.0, 2.0, shape, dt) * np.asarray(std, dt)
        if distribution == "normal":
            return fr.normal(key, shape, dt) * np.asarray(math.sqrt(variance), dt)
        limit = math.sqrt(3.0 * variance)
        return fr.uniform(key, shape, dt, -limit, limit)
    return init


def kaiming_normal(in_axis=-2, out_axis=-1, batch_axis=()) -> Initializer:
    """He et al.: variance ``2 / fan_in``, truncated normal. Suits ReLU networks."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis)


def kaiming_uniform(in_axis=-2, out_axis=-1, batch_axis=()) -> Initializer:
    """He et al.: variance ``2 / fan_in``, uniform."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis)


def xavier_normal(in_axis=-2, out_axis=-1, batch_axis=()) -> Initializer:
    """Glorot and Bengio: variance ``2 / (fan_in + fan_out)``, truncated normal."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis)


def xavier_uniform(in_axis=-2, out_axis=-1, batch_axis=()) -> Initializer:
    """Glorot and Bengio: variance ``2 / (fan_in + fan_out)``, uniform."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=()) -> Initializer:
    """LeCun: variance ``1 / fan_in``, truncated normal."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=()) -> Initializer:
    """LeCun: variance ``1 / fan_in``, uniform."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis)


he_normal, he_uniform = kaiming_normal, kaiming_uniform
glorot_normal, glorot_uniform = xavier_normal, xavier_uniform


def orthogonal(scale: float = 1.0, column_axis: int = -1) -> Initializer:
    """A (semi-)orthogonal matrix times ``scale``, reshaped to the requested shape.

    The shape is viewed as a matrix with ``shape[column_axis]`` columns and everything else as
    rows; the draw has orthonormal rows or columns, whichever are fewer.
    """
    def init(key, shape, dtype=dtypes.float32):
        shape = _shape("orthogonal", shape)
        dt = _float("orthogonal", dtype)
        if len(shape) < 2:
            raise errors.shape_error("nn.initializers.orthogonal",
                                     f"needs at least two dimensions, got shape {shape}.",
                                     "use another initialiser for vectors.")
        axis = column_axis % len(shape)
        n_cols = shape[axis]
        n_rows = math.prod(shape) // max(n_cols, 1)
        a = fr.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dtypes.float64)
        q, r = np.linalg.qr(np.asarray(a))
        q = q * np.sign(np.diag(r))  # makes the draw uniform over orthogonal matrices
        if n_rows < n_cols:
            q = q.T
        rest = shape[:axis] + shape[axis + 1:]
        q = np.moveaxis(q.reshape(rest + (n_cols,)), -1, axis)
        return fnp.asarray((scale * q).astype(dt))
    return init
