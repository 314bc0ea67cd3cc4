"""Activation and normalisation functions: plain compositions of ``funcgrad.numpy``.

Everything here is differentiable, vmappable and jittable because it is built from
primitives that are. Numerically delicate functions (softplus, log_softmax, logsumexp) are
written in their stable forms, and their gradients stay finite at extreme inputs.
"""
from __future__ import annotations

import math

import funcgrad.lax as lax
import funcgrad.numpy as fnp
from funcgrad import dtypes, errors
from funcgrad.primitives.elementwise import stop_gradient

__all__ = ["relu", "relu6", "gelu", "sigmoid", "log_sigmoid", "softplus", "silu", "swish",
           "elu", "leaky_relu", "tanh", "log_softmax", "softmax", "logsumexp", "one_hot",
           "standardize"]


def _float_input(op: str, x, what: str = "x"):
    """``x`` as an array, or a DTypeError naming ``nn.<op>`` when it is not floating."""
    x = fnp.asarray(x)
    if not dtypes.is_float(x.dtype):
        raise errors.dtype_error(
            f"nn.{op}", f"{what} must be floating, got {x.dtype} with shape {x.shape}.",
            f"convert it first, e.g. {what}.astype('float32').")
    return x


def relu(x):
    """The rectified linear unit ``max(x, 0)``, with derivative 0 at ``x == 0``.

    Example:
        >>> nn.relu(fnp.array([-1.0, 0.0, 2.0]))
        Array([0., 0., 2.], dtype=float32)
    """
    x = _float_input("relu", x)
    # where (not maximum) so the derivative at 0 is 0, as in the usual convention,
    # instead of maximum's even split between the tied branches.
    return fnp.where(x > 0, x, fnp.zeros_like(x))


def relu6(x):
    """``min(max(x, 0), 6)``."""
    x = _float_input("relu6", x)
    return fnp.where(x > 0, fnp.where(x < 6, x, fnp.full_like(x, 6)), fnp.zeros_like(x))


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``."""
    return lax.logistic(_float_input("sigmoid", x))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, finite for large negative ``x``."""
    return -softplus(-_float_input("log_sigmoid", x))


def softplus(x):
    """``log(1 + exp(x))`` in a form that neither overflows nor loses precision.

    Example:
        >>> nn.softplus(fnp.array([-100.0, 0.0, 100.0]))
        Array([0.       , 0.6931472, 100.       ], dtype=float32)
    """
    x = _float_input("softplus", x)
    return fnp.logaddexp(x, fnp.zeros_like(x))


def silu(x):
    """The sigmoid-weighted linear unit ``x * sigmoid(x)`` (also called swish)."""
    x = _float_input("silu", x)
    return x * lax.logistic(x)


swish = silu


def tanh(x):
    """The hyperbolic tangent."""
    return fnp.tanh(_float_input("tanh", x))


def gelu(x, approximate: bool = True):
    """The Gaussian error linear unit ``x * Phi(x)``.

    Args:
        x: a floating array.
        approximate: use the tanh approximation (the default, as in JAX); ``False`` gives the
            exact form through ``erf`` (PyTorch's default).

    Returns:
        An array like ``x``.
    """
    x = _float_input("gelu", x)
    if approximate:
        c = math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + fnp.tanh(c * (x + 0.044715 * (x * x * x))))
    return 0.5 * x * (1.0 + lax.erf(x * (1.0 / math.sqrt(2.0))))


def elu(x, alpha: float = 1.0):
    """``x`` for positive inputs, ``alpha * (exp(x) - 1)`` otherwise."""
    x = _float_input("elu", x)
    # expm1 of the clamped value, so the unused branch cannot overflow (and send NaN
    # cotangents through where).
    negative = fnp.where(x > 0, fnp.zeros_like(x), x)
    return fnp.where(x > 0, x, alpha * fnp.expm1(negative))


def leaky_relu(x, negative_slope: float = 0.01):
    """``x`` for positive inputs, ``negative_slope * x`` otherwise."""
    x = _float_input("leaky_relu", x)
    return fnp.where(x >= 0, x, negative_slope * x)


def _axis_max(x, axis, keepdims=True):
    # The shift is a constant for the derivative (it cancels exactly), and a non-finite max
    # (all -inf) is replaced by 0 so that -inf - -inf does not make NaN.
    m = stop_gradient(fnp.max(x, axis=axis, keepdims=keepdims))
    return fnp.where(fnp.isfinite(m), m, fnp.zeros_like(m))


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False):
    """``log(sum(b * exp(a), axis))`` computed without overflow.

    Args:
        a: a floating array.
        axis: an int, a tuple of ints, or None (all axes).
        b: optional weights broadcastable against ``a``.
        keepdims: keep the reduced axes with size 1.
        return_sign: also return the sign of the sum (needed when ``b`` has negative values).

    Returns:
        The log of the (absolute) sum, and its sign when ``return_sign`` is true.

    Example:
        >>> nn.logsumexp(fnp.array([1000.0, 1000.0]))
        Array(1000.6931, dtype=float32)
    """
    a = _float_input("logsumexp", a)
    m = _axis_max(a, axis)
    e = fnp.exp(a - m)
    if b is not None:
        e = e * fnp.asarray(b, dtype=a.dtype)
    s = fnp.sum(e, axis=axis, keepdims=True)
    sign = fnp.sign(s)
    out = fnp.log(fnp.abs(s)) + m
    if not keepdims:
        out = fnp.squeeze(out, axis=_normalise_axes(axis, a.ndim))
        sign = fnp.squeeze(sign, axis=_normalise_axes(axis, a.ndim))
    return (out, sign) if return_sign else out


def _normalise_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim if ndim else a for a in axes)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis, keepdims=True)``: log-probabilities, stable for any logits.

    Example:
        >>> nn.log_softmax(fnp.array([0.0, 1000.0]))
        Array([-1000.,     0.], dtype=float32)
    """
    x = _float_input("log_softmax", x)
    shifted = x - _axis_max(x, axis)
    return shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)``, computed on shifted logits so it cannot overflow."""
    x = _float_input("softmax", x)
    e = fnp.exp(x - _axis_max(x, axis))
    return e / fnp.sum(e, axis=axis, keepdims=True)


def one_hot(x, num_classes: int, *, dtype=dtypes.float32, axis: int = -1):
    """One-hot encodes integer labels along a new axis.

    Args:
        x: an integer array of class indices; out-of-range indices give all-zero rows.
        num_classes: the number of classes (the size of the new axis).
        dtype: the result dtype.
        axis: where the new axis goes.

    Returns:
        An array of shape ``x.shape`` with a ``num_classes`` axis inserted at ``axis``.

    Example:
        >>> nn.one_hot(fnp.array([0, 2]), 3)
        Array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    x = fnp.asarray(x)
    if not dtypes.is_integer(x.dtype):
        raise errors.dtype_error(
            "nn.one_hot", f"expects integer class indices, got {x.dtype} with shape {x.shape}.",
            "convert the labels first, e.g. labels.astype('int32').")
    num_classes = int(num_classes)
    out_axis = axis % (x.ndim + 1)
    classes = lax.broadcasted_iota(x.dtype, x.shape[:out_axis] + (num_classes,)
                                   + x.shape[out_axis:], out_axis)
    return (fnp.expand_dims(x, out_axis) == classes).astype(dtype)


def standardize(x, axis=-1, mean=None, variance=None, epsilon: float = 1e-5):
    """``(x - mean) / sqrt(variance + epsilon)``, with mean and variance over ``axis`` by default.

    Args:
        x: a floating array.
        axis: the axis or axes the statistics are taken over.
        mean, variance: precomputed statistics (broadcastable against ``x``).
        epsilon: added to the variance.

    Returns:
        An array like ``x``.
    """
    x = _float_input("standardize", x)
    if mean is None:
        mean = fnp.mean(x, axis=axis, keepdims=True)
    if variance is None:
        centred = x - mean
        variance = fnp.mean(centred * centred, axis=axis, keepdims=True)
    return (x - mean) * lax.rsqrt(variance + epsilon)
