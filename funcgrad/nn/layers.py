"""The layers: frozen dataclasses of hyperparameters with ``init`` and ``forward``.

Conventions follow PyTorch's modules (names, argument order, NCHW images, default
initialisation), so a model description ports line by line; the parameters are plain
pytrees. Every layer accepts extra leading batch dimensions, so ``fg.vmap(model.apply)``
works too.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import funcgrad.lax as lax
import funcgrad.numpy as fnp
from funcgrad import dtypes, errors
from funcgrad import random as fr
from funcgrad.nn import functions as F
from funcgrad.nn import initializers as init_lib
from funcgrad.nn.module import Module
from funcgrad.primitives.elementwise import stop_gradient

__all__ = ["Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d",
           "BatchNorm2d", "LayerNorm", "Embedding", "ReLU", "GELU", "Tanh", "Sigmoid", "SiLU",
           "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "Softplus", "Identity"]


def _frozen(cls):
    return dataclasses.dataclass(frozen=True)(cls)


def _param(params, key: str, layer: Module):
    try:
        return params[key]
    except (KeyError, TypeError):
        have = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise errors.InvalidArgumentError(errors.message(
            f"nn.{type(layer).__name__}.apply", f"the parameters have no {key!r} entry "
            f"(got {have})", "pass the pytree returned by this layer's init (for a "
            "Sequential, the whole params dict).", errors.InvalidArgumentError)) from None


def _check_dim(layer: Module, x, axis: int, expected: int, what: str, min_ndim: int):
    name = type(layer).__name__
    if x.ndim < min_ndim:
        raise errors.shape_error(f"nn.{name}", f"expects at least {min_ndim} dimensions, got "
                                 f"input of shape {x.shape}.",
                                 "check the layer order, or add a batch dimension.")
    if x.shape[axis] != expected:
        raise errors.shape_error(
            f"nn.{name}", f"expects {expected} {what} (axis {axis}), got input of shape "
            f"{x.shape}.", f"make the previous layer produce {x.shape[axis]} {what}s "
            f"match, or construct {name} with {x.shape[axis]}.")


def _uniform_fan_in(fan_in: float) -> init_lib.Initializer:
    # PyTorch's default for Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
    # weight (variance 1/(3 fan_in)) and for the bias.
    bound = 1.0 / math.sqrt(max(fan_in, 1.0))

    def init(key, shape, dtype=dtypes.float32):
        return fr.uniform(key, tuple(shape), dtype, -bound, bound)
    return init


def _pair(v, what: str, layer: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(a) for a in v)
    if len(t) != 2:
        raise errors.InvalidArgumentError(errors.message(
            f"nn.{layer}", f"{what} must be an int or a pair of ints, got {v!r}",
            f"pass e.g. {what}=3 or {what}=(3, 3).", errors.InvalidArgumentError))
    return t


def _flatten_leading(x, keep: int):
    """``x`` reshaped to exactly one leading batch dim before the last ``keep`` dims (adding
    one to an unbatched input), and a function restoring the original leading dims."""
    lead = x.shape[:x.ndim - keep]
    if len(lead) == 1:
        return x, lambda y: y
    flat = fnp.reshape(x, (math.prod(lead),) + x.shape[x.ndim - keep:])
    return flat, lambda y: fnp.reshape(y, lead + y.shape[1:])


# -------------------------------------------------------------------------- dense layers


@_frozen
class Linear(Module):
    """``y = x @ w + b`` over the last axis of ``x``.

    Args:
        in_features, out_features: the sizes of the last axis of the input and the output.
        bias: whether to add a bias.
        w_init, b_init: initialisers (``init(key, shape, dtype)``). The default, as in
            PyTorch, draws both from ``U(-1/sqrt(in_features), 1/sqrt(in_features))``.

    Parameters: ``{"w": (in_features, out_features), "b": (out_features,)}``.

    Example:
        >>> layer = nn.Linear(3, 2)
        >>> y = layer.apply(layer.init(fg.random.PRNGKey(0)), fnp.ones((5, 3)))  # (5, 2)
    """

    in_features: int
    out_features: int
    bias: bool = True
    w_init: Callable | None = None
    b_init: Callable | None = None

    def init(self, key):
        kw, kb = fr.split(key)
        default = _uniform_fan_in(self.in_features)
        params = {"w": (self.w_init or default)(kw, (self.in_features, self.out_features))}
        if self.bias:
            params["b"] = (self.b_init or default)(kb, (self.out_features,))
        return params

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        _check_dim(self, x, -1, self.in_features, "input features", 1)
        y = fnp.matmul(x, _param(params, "w", self))
        if self.bias:
            y = y + _param(params, "b", self)
        return y, state


@_frozen
class Embedding(Module):
    """A lookup table: integer ids ``(...)`` to vectors ``(..., embedding_dim)``.

    Args:
        num_embeddings: the number of ids.
        embedding_dim: the size of each vector.
        embedding_init: the table's initialiser; default ``normal(stddev=1.0)``, as in
            PyTorch.

    Parameters: ``{"embedding": (num_embeddings, embedding_dim)}``.
    """

    num_embeddings: int
    embedding_dim: int
    embedding_init: Callable | None = None

    def init(self, key):
        fn = self.embedding_init or init_lib.normal(1.0)
        return {"embedding": fn(key, (self.num_embeddings, self.embedding_dim))}

    def forward(self, params, x, state, train, rng):
        ids = fnp.asarray(x)
        if not dtypes.is_integer(ids.dtype):
            raise errors.dtype_error("nn.Embedding", f"expects integer ids, got {ids.dtype} "
                                     f"with shape {ids.shape}.",
                                     "convert them with ids.astype('int32').")
        return fnp.take(_param(params, "embedding", self), ids, axis=0), state


# -------------------------------------------------------------------------- convolution


def _conv_padding(padding, kernel, dilation, layer):
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0), (0, 0))
        if mode == "same":
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise errors.InvalidArgumentError(errors.message(
            f"nn.{layer}", f"unknown padding {padding!r}",
            "use an int, a pair of ints, 'same' or 'valid'.", errors.InvalidArgumentError))
    ph, pw = _pair(padding, "padding", layer)
    return ((ph, ph), (pw, pw))


@_frozen
class Conv2d(Module):
    """A 2-D convolution (cross-correlation) of NCHW images with an OIHW kernel.

    Args:
        in_channels, out_channels: channel counts of the input and output.
        kernel_size, stride, dilation: ints or (height, width) pairs.
        padding: an int, a pair, ``"same"`` (output size = input size at stride 1) or
            ``"valid"``; zeros are padded.
        groups: split the channels into this many independent groups (``in_channels`` for a
            depthwise convolution).
        bias: whether to add a per-channel bias.
        w_init, b_init: initialisers. The default, as in PyTorch, draws both from
            ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with
            ``fan_in = in_channels / groups * kernel height * kernel width``.

    Parameters: ``{"w": (out_channels, in_channels // groups, kh, kw), "b": (out_channels,)}``.

    Input ``(..., in_channels, H, W)``; output ``(..., out_channels, H', W')``.

    Example:
        >>> conv = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        >>> y = conv.apply(conv.init(key), fnp.ones((64, 1, 28, 28)))  # (64, 8, 28, 28)
    """

    in_channels: int
    out_channels: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: int | tuple | str = 0
    dilation: int | tuple = 1
    groups: int = 1
    bias: bool = True
    w_init: Callable | None = None
    b_init: Callable | None = None

    def __post_init__(self):
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise errors.InvalidArgumentError(errors.message(
                "nn.Conv2d", f"in_channels={self.in_channels} and out_channels="
                f"{self.out_channels} must both be divisible by groups={self.groups}",
                "choose channel counts that are multiples of groups.",
                errors.InvalidArgumentError))
        kernel = _pair(self.kernel_size, "kernel_size", "Conv2d")
        _conv_padding(self.padding, kernel, _pair(self.dilation, "dilation", "Conv2d"), "Conv2d")

    def init(self, key):
        kh, kw = _pair(self.kernel_size, "kernel_size", "Conv2d")
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        default = _uniform_fan_in(shape[1] * kh * kw)
        k_w, k_b = fr.split(key)
        params = {"w": (self.w_init or default)(k_w, shape)}
        if self.bias:
            params["b"] = (self.b_init or default)(k_b, (self.out_channels,))
        return params

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        _check_dim(self, x, -3, self.in_channels, "input channels", 3)
        kernel = _pair(self.kernel_size, "kernel_size", "Conv2d")
        dilation = _pair(self.dilation, "dilation", "Conv2d")
        flat, restore = _flatten_leading(x, 3)
        w = _param(params, "w", self)
        y = lax.conv_general_dilated(
            flat, w.astype(flat.dtype), _pair(self.stride, "stride", "Conv2d"),
            _conv_padding(self.padding, kernel, dilation, "Conv2d"), rhs_dilation=dilation,
            dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=self.groups)
        if self.bias:
            y = y + fnp.reshape(_param(params, "b", self), (self.out_channels, 1, 1))
        return restore(y), state


# -------------------------------------------------------------------------- pooling


def _pool_geometry(layer, x):
    kh, kw = _pair(layer.kernel_size, "kernel_size", type(layer).__name__)
    stride = layer.kernel_size if layer.stride is None else layer.stride
    sh, sw = _pair(stride, "stride", type(layer).__name__)
    ph, pw = _pair(layer.padding, "padding", type(layer).__name__)
    if ph * 2 > kh or pw * 2 > kw:
        raise errors.InvalidArgumentError(errors.message(
            f"nn.{type(layer).__name__}", f"padding {(ph, pw)} must be at most half the "
            f"kernel size {(kh, kw)}", "use a smaller padding.", errors.InvalidArgumentError))
    if x.ndim < 2:
        raise errors.shape_error(f"nn.{type(layer).__name__}",
                                 f"expects (..., H, W) input, got shape {x.shape}.")
    lead = (1,) * (x.ndim - 2)
    return (lead + (kh, kw), lead + (sh, sw),
            ((0, 0),) * (x.ndim - 2) + ((ph, ph), (pw, pw)))


@_frozen
class MaxPool2d(Module):
    """The maximum over ``kernel_size`` windows of the last two axes.

    Args:
        kernel_size: an int or a (height, width) pair.
        stride: defaults to ``kernel_size``.
        padding: implicit ``-inf`` padding on each side (at most half the kernel).

    Example:
        >>> nn.MaxPool2d(2).apply({}, fnp.ones((8, 16, 28, 28))).shape
        (8, 16, 14, 14)
    """

    kernel_size: int | tuple = 2
    stride: int | tuple | None = None
    padding: int | tuple = 0

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        window, strides, pads = _pool_geometry(self, x)
        return lax.reduce_window(x, -fnp.inf, lax.max, window, strides, pads), state


@_frozen
class AvgPool2d(Module):
    """The mean over ``kernel_size`` windows of the last two axes.

    Args:
        kernel_size: an int or a (height, width) pair.
        stride: defaults to ``kernel_size``.
        padding: implicit zero padding on each side (at most half the kernel).
        count_include_pad: divide by the full window size (True, PyTorch's default) or by
            the number of unpadded elements in each window.
    """

    kernel_size: int | tuple = 2
    stride: int | tuple | None = None
    padding: int | tuple = 0
    count_include_pad: bool = True

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        window, strides, pads = _pool_geometry(self, x)
        total = lax.reduce_window(x, 0.0, lax.add, window, strides, pads)
        if self.count_include_pad or not any(p != (0, 0) for p in pads):
            return total / math.prod(window), state
        counts = lax.reduce_window(fnp.ones(x.shape[-2:], x.dtype), 0.0, lax.add,
                                   window[-2:], strides[-2:], pads[-2:])
        return total / counts, state


@_frozen
class Flatten(Module):
    """Merges axes ``start_dim`` to ``end_dim`` (inclusive) into one.

    The default ``start_dim=1`` keeps a leading batch axis, as in PyTorch; use
    ``start_dim=-3`` for a layer that also works on single (C, H, W) examples under vmap.
    """

    start_dim: int = 1
    end_dim: int = -1

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        if x.ndim == 0:
            return fnp.reshape(x, (1,)), state
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        if start > end:
            raise errors.shape_error("nn.Flatten", f"start_dim={self.start_dim} comes after "
                                     f"end_dim={self.end_dim} for input of shape {x.shape}.")
        shape = x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
        return fnp.reshape(x, shape), state


# -------------------------------------------------------------------------- regularisation


@_frozen
class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the rest by
    ``1 / (1 - p)``; the identity at inference.

    Training mode needs ``rng``; the same key always drops the same elements.
    """

    p: float = 0.5
    needs_rng = True

    def __post_init__(self):
        if not 0.0 <= self.p < 1.0:
            raise errors.InvalidArgumentError(errors.message(
                "nn.Dropout", f"p={self.p} must be in [0, 1)",
                "pass the drop probability, e.g. Dropout(0.1).", errors.InvalidArgumentError))

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        if not train or self.p == 0.0:
            return x, state
        keep = fr.bernoulli(rng, 1.0 - self.p, x.shape)
        return fnp.where(keep, x / (1.0 - self.p), fnp.zeros_like(x)), state


# -------------------------------------------------------------------------- normalisation


class _BatchNorm(Module):
    """Shared body of BatchNorm1d/2d: statistics over every axis except the channel axis 1."""

    _ndims: tuple = ()

    @property
    def needs_state(self):
        return self.track_running_stats

    def init(self, key):
        if not self.affine:
            return {}
        return {"scale": fnp.ones((self.num_features,)), "bias": fnp.zeros((self.num_features,))}

    def init_state(self):
        if not self.track_running_stats:
            return {}
        return {"mean": fnp.zeros((self.num_features,)), "var": fnp.ones((self.num_features,))}

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        name = type(self).__name__
        if x.ndim not in self._ndims:
            raise errors.shape_error(f"nn.{name}", f"expects input with "
                                     f"{' or '.join(map(str, self._ndims))} dimensions "
                                     f"(N, C, ...), got shape {x.shape}.")
        _check_dim(self, x, 1, self.num_features, "channels", 2)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, self.num_features) + (1,) * (x.ndim - 2)
        if train or not self.track_running_stats:
            mean = fnp.mean(x, axis=axes)
            var = fnp.mean(fnp.square(x - fnp.reshape(mean, bshape)), axis=axes)
            if train and self.track_running_stats:
                n = x.size // self.num_features
                m = self.momentum
                unbiased = var * (n / max(n - 1, 1))
                state = {"mean": (1 - m) * state["mean"] + m * stop_gradient(mean),
                         "var": (1 - m) * state["var"] + m * stop_gradient(unbiased)}
        else:
            mean, var = state["mean"], state["var"]
        y = (x - fnp.reshape(mean, bshape)) * fnp.reshape(lax.rsqrt(var + self.eps), bshape)
        if self.affine:
            y = y * fnp.reshape(_param(params, "scale", self), bshape) + \
                fnp.reshape(_param(params, "bias", self), bshape)
        return y, state


@_frozen
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` input over all axes but C.

    In training mode it normalises with the batch's statistics and updates the running ones
    (``new = (1 - momentum) * old + momentum * batch``, the variance unbiased); in eval mode
    it uses the running statistics. Parameters ``{"scale": ones(C), "bias": zeros(C)}``;
    state ``{"mean": zeros(C), "var": ones(C)}``.

    Example:
        >>> bn = nn.BatchNorm1d(16)
        >>> y, state = bn.apply(bn.init(key), x, state=bn.init_state(), train=True)
    """

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    track_running_stats: bool = True
    _ndims = (2, 3)


@_frozen
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` input over N, H and W (see BatchNorm1d)."""

    num_features: int
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    track_running_stats: bool = True
    _ndims = (4,)


@_frozen
class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` axes of each example.

    Args:
        normalized_shape: an int or the tuple of trailing dimensions to normalise over.
        eps: added to the variance.
        elementwise_affine: learn a per-element scale (ones) and bias (zeros).
    """

    normalized_shape: int | tuple
    eps: float = 1e-5
    elementwise_affine: bool = True

    @property
    def _shape(self):
        s = self.normalized_shape
        return (s,) if isinstance(s, int) else tuple(s)

    def init(self, key):
        if not self.elementwise_affine:
            return {}
        return {"scale": fnp.ones(self._shape), "bias": fnp.zeros(self._shape)}

    def forward(self, params, x, state, train, rng):
        x = fnp.asarray(x)
        shape = self._shape
        if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
            raise errors.shape_error("nn.LayerNorm", f"expects input ending in {shape}, got "
                                     f"shape {x.shape}.",
                                     "set normalized_shape to the input's trailing dims.")
        axes = tuple(range(x.ndim - len(shape), x.ndim))
        y = F.standardize(x, axis=axes, epsilon=self.eps)
        if self.elementwise_affine:
            y = y * _param(params, "scale", self) + _param(params, "bias", self)
        return y, state


# -------------------------------------------------------------------------- activations


class _Activation(Module):
    def forward(self, params, x, state, train, rng):
        return self.fn(x), state


@_frozen
class Identity(_Activation):
    """Returns its input."""

    def fn(self, x):
        return fnp.asarray(x)


@_frozen
class ReLU(_Activation):
    """``nn.relu`` as a layer."""

    def fn(self, x):
        return F.relu(x)


@_frozen
class GELU(_Activation):
    """``nn.gelu`` as a layer (``approximate=True``, the tanh form, by default)."""

    approximate: bool = True

    def fn(self, x):
        return F.gelu(x, self.approximate)


@_frozen
class Tanh(_Activation):
    """``tanh`` as a layer."""

    def fn(self, x):
        return F.tanh(x)


@_frozen
class Sigmoid(_Activation):
    """``nn.sigmoid`` as a layer."""

    def fn(self, x):
        return F.sigmoid(x)


@_frozen
class SiLU(_Activation):
    """``nn.silu`` as a layer."""

    def fn(self, x):
        return F.silu(x)


@_frozen
class LeakyReLU(_Activation):
    """``nn.leaky_relu`` as a layer."""

    negative_slope: float = 0.01

    def fn(self, x):
        return F.leaky_relu(x, self.negative_slope)


@_frozen
class ELU(_Activation):
    """``nn.elu`` as a layer."""

    alpha: float = 1.0

    def fn(self, x):
        return F.elu(x, self.alpha)


@_frozen
class Softplus(_Activation):
    """``nn.softplus`` as a layer."""

    def fn(self, x):
        return F.softplus(x)


@_frozen
class Softmax(_Activation):
    """``nn.softmax`` over ``axis`` as a layer."""

    axis: int = -1

    def fn(self, x):
        return F.softmax(x, self.axis)


@_frozen
class LogSoftmax(_Activation):
    """``nn.log_softmax`` over ``axis`` as a layer."""

    axis: int = -1

    def fn(self, x):
        return F.log_softmax(x, self.axis)
