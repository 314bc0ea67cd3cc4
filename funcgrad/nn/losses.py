"""Losses, one value per example (reduce with ``.mean()`` or ``.sum()`` yourself).

The names and conventions are those of the optax losses, so code ported from there reads the
same. Cross-entropies go through log-softmax / log-sigmoid, so they are finite and have
correct gradients at extreme logits (``1e4`` and beyond).

Example:
    >>> logits = model.apply(params, x)
    >>> loss = nn.losses.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
"""
from __future__ import annotations

import funcgrad.numpy as fnp
from funcgrad import dtypes, errors
from funcgrad.nn.functions import _float_input, log_sigmoid, log_softmax, logsumexp

__all__ = ["softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels",
           "sigmoid_binary_cross_entropy", "l2_loss", "squared_error", "huber_loss",
           "cosine_similarity", "cosine_distance"]


def _check_same_shape(op: str, a, b, names=("predictions", "targets")):
    if a.shape != b.shape:
        raise errors.shape_error(
            f"nn.losses.{op}", f"{names[0]} {a.shape} and {names[1]} {b.shape} must have the "
            f"same shape.", "reshape or broadcast them explicitly before calling the loss.")


def _float(op: str, x, what: str):
    return _float_input(f"losses.{op}", x, what)


def softmax_cross_entropy(logits, labels):
    """Cross-entropy between ``softmax(logits)`` and a distribution ``labels`` over the last axis.

    Args:
        logits: unnormalised log-probabilities, shape ``(..., num_classes)``.
        labels: probabilities (e.g. one-hot or smoothed), the same shape.

    Returns:
        ``-sum(labels * log_softmax(logits), axis=-1)``, shape ``(...)``.
    """
    logits = _float("softmax_cross_entropy", logits, "logits")
    labels = _float("softmax_cross_entropy", labels, "labels")
    _check_same_shape("softmax_cross_entropy", logits, labels, ("logits", "labels"))
    return -fnp.sum(labels * log_softmax(logits, axis=-1), axis=-1)


def softmax_cross_entropy_with_integer_labels(logits, labels):
    """Cross-entropy of ``softmax(logits)`` against integer class labels.

    Args:
        logits: unnormalised log-probabilities, shape ``(..., num_classes)``.
        labels: integer class indices in ``[0, num_classes)``, shape ``(...)``.

    Returns:
        ``logsumexp(logits) - logits[label]``, shape ``(...)``.

    Example:
        >>> softmax_cross_entropy_with_integer_labels(fnp.array([[0.0, 1e4]]), fnp.array([1]))
        Array([0.], dtype=float32)
    """
    op = "softmax_cross_entropy_with_integer_labels"
    logits = _float(op, logits, "logits")
    labels = fnp.asarray(labels)
    if not dtypes.is_integer(labels.dtype):
        raise errors.dtype_error(
            f"nn.losses.{op}", f"labels must be integer class indices, got {labels.dtype} "
            f"with shape {labels.shape}.",
            "for one-hot or soft labels use nn.losses.softmax_cross_entropy.")
    if logits.shape[:-1] != labels.shape:
        raise errors.shape_error(
            f"nn.losses.{op}", f"logits {logits.shape} need labels of shape "
            f"{logits.shape[:-1]}, got {labels.shape}.",
            "pass one integer label per row of logits.")
    chosen = fnp.take_along_axis(logits, fnp.expand_dims(labels, -1), axis=-1)[..., 0]
    return logsumexp(logits, axis=-1) - chosen


def sigmoid_binary_cross_entropy(logits, labels):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``labels`` in ``[0, 1]``, elementwise.

    Returns:
        ``-labels * log_sigmoid(logits) - (1 - labels) * log_sigmoid(-logits)``.
    """
    logits = _float("sigmoid_binary_cross_entropy", logits, "logits")
    labels = fnp.asarray(labels).astype(logits.dtype)
    _check_same_shape("sigmoid_binary_cross_entropy", logits, labels, ("logits", "labels"))
    return -labels * log_sigmoid(logits) - (1.0 - labels) * log_sigmoid(-logits)


def _error(op, predictions, targets):
    predictions = _float(op, predictions, "predictions")
    if targets is None:
        return predictions
    targets = fnp.asarray(targets).astype(predictions.dtype)
    _check_same_shape(op, predictions, targets)
    return predictions - targets


def squared_error(predictions, targets=None):
    """``(predictions - targets) ** 2`` elementwise (``targets`` defaults to zero)."""
    d = _error("squared_error", predictions, targets)
    return d * d


def l2_loss(predictions, targets=None):
    """Half the squared error: ``0.5 * (predictions - targets) ** 2`` elementwise."""
    d = _error("l2_loss", predictions, targets)
    return 0.5 * (d * d)


def huber_loss(predictions, targets=None, delta: float = 1.0):
    """Quadratic for errors up to ``delta``, linear beyond, elementwise.

    Returns:
        ``0.5 * e**2`` where ``|e| <= delta``, else ``delta * (|e| - 0.5 * delta)``.
    """
    d = _error("huber_loss", predictions, targets)
    abs_d = fnp.abs(d)
    quadratic = fnp.minimum(abs_d, delta)
    return 0.5 * quadratic * quadratic + delta * (abs_d - quadratic)


def cosine_similarity(predictions, targets, epsilon: float = 0.0):
    """Cosine of the angle between ``predictions`` and ``targets`` along the last axis.

    Args:
        predictions, targets: floating arrays of the same shape ``(..., d)``.
        epsilon: a lower bound on each vector's norm, avoiding division by zero.

    Returns:
        Values in ``[-1, 1]`` of shape ``(...)``.
    """
    p = _float("cosine_similarity", predictions, "predictions")
    t = fnp.asarray(targets).astype(p.dtype)
    _check_same_shape("cosine_similarity", p, t)

    def unit(v):
        norm = fnp.sqrt(fnp.sum(v * v, axis=-1, keepdims=True))
        return v / fnp.maximum(norm, epsilon) if epsilon else v / norm
    return fnp.sum(unit(p) * unit(t), axis=-1)


def cosine_distance(predictions, targets, epsilon: float = 0.0):
    """``1 - cosine_similarity(predictions, targets, epsilon)``."""
    return 1.0 - cosine_similarity(predictions, targets, epsilon)
