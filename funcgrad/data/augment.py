"""Image augmentations for ``Dataset.map`` / ``Dataset.random_map``, in NumPy.

Each accepts an example that is a dict (the image under ``"image"``, or under ``key`` where
the function takes one; other entries pass through), a tuple or list (the image first), or a
bare image array, and returns a new example of the same kind; inputs are never modified.

Image layouts, by number of dimensions:
  * ``(H, W)`` or ``(C, H, W)``: one image;
  * ``(N, C, H, W)``: a batch, where random augmentations draw independently per image (use
    them after ``batch``; a batch of single-channel images must keep its channel axis).

Example::

    ds = (Dataset.from_arrays(train)
          .random_map(augment.random_crop(2), seed=1)
          .random_map(augment.random_flip, seed=2)
          .map(augment.normalize(0.5, 0.25)))
"""
from __future__ import annotations

import numbers

import numpy as np

from funcgrad.data.errors import data_error

__all__ = ["random_crop", "random_flip", "normalize", "to_float"]


def _apply(op, example, key, fn):
    """Applies ``fn`` to the image inside ``example`` and rebuilds the example around it."""
    if isinstance(example, dict):
        if key not in example:
            raise data_error(op, f"the example has no {key!r} entry (its keys: "
                             f"{', '.join(map(repr, example))})",
                             f"pass key=... naming the image entry, e.g. {op}(..., key='x')")
        return {**example, key: fn(np.asarray(example[key]))}
    if isinstance(example, (tuple, list)):
        if not example:
            raise data_error(op, "the example is an empty sequence", "pass (image, ...)")
        return type(example)([fn(np.asarray(example[0])), *example[1:]])
    return fn(np.asarray(example))


def _check_layout(op, image):
    if image.ndim not in (2, 3, 4):
        raise data_error(op, f"expected an image (H, W) or (C, H, W), or a batch "
                         f"(N, C, H, W); got {image.dtype.name}{list(image.shape)}",
                         "reshape the image, e.g. add a channel axis with image[None]")


def _named(fn, name):
    # Shows in the pipeline description (and so in the state fingerprint) with its parameters.
    fn.__name__ = fn.__qualname__ = name
    return fn


def random_crop(padding: int, *, key: str = "image", fill=0):
    """Pads the image by ``padding`` on each side, then crops back to its size at a random offset.

    Equivalently, shifts the image by up to ``padding`` pixels in each direction, filling the
    uncovered border with ``fill``.

    Args:
      padding: the maximum shift in pixels, a non-negative integer.
      key: the dict entry holding the image.
      fill: the value of the padding.

    Returns:
      A function ``fn(example, rng)`` for ``Dataset.random_map``: same shape and dtype out.

    Example::

        ds.random_map(augment.random_crop(2), seed=0)
    """
    op = "augment.random_crop"
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise data_error(op, f"padding must be a non-negative integer, got {padding!r}",
                         "pass the maximum shift in pixels, e.g. random_crop(2)")
    p = int(padding)

    def crop_image(image, rng):
        _check_layout(op, image)
        if p == 0:
            return image.copy()
        h, w = image.shape[-2:]
        if image.ndim < 4:
            # Two scalar draws give the numbers of rng.integers(0, 2p+1, size=2) (the same
            # bounded-integer routine on the same bit stream) at half the call overhead.
            dy, dx = rng.integers(0, 2 * p + 1), rng.integers(0, 2 * p + 1)
            # The window of the padded image, without building it: fill, then copy the overlap.
            sy, sx = int(dy) - p, int(dx) - p
            out = np.full(image.shape, fill, image.dtype)
            y0, y1, x0, x1 = max(0, -sy), min(h, h - sy), max(0, -sx), min(w, w - sx)
            if y0 < y1 and x0 < x1:
                out[..., y0:y1, x0:x1] = image[..., y0 + sy:y1 + sy, x0 + sx:x1 + sx]
            return out
        padded = np.full(image.shape[:-2] + (h + 2 * p, w + 2 * p), fill, image.dtype)
        padded[..., p:p + h, p:p + w] = image
        n, c = image.shape[:2]
        offsets = rng.integers(0, 2 * p + 1, size=(n, 2))
        rows = offsets[:, 0, None] + np.arange(h)  # (n, h): each image's window rows
        cols = offsets[:, 1, None] + np.arange(w)
        return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                      rows[:, None, :, None], cols[:, None, None, :]]

    def crop(example, rng):
        return _apply(op, example, key, lambda image: crop_image(image, rng))

    return _named(crop, f"random_crop(padding={p}, key={key!r}, fill={fill!r})")


def random_flip(example, rng):
    """Flips the image horizontally (mirrors the last axis) with probability 1/2.

    Args:
      example: a dict with an ``"image"`` entry, a tuple ``(image, ...)`` or an image.
      rng: a ``numpy.random.Generator`` (``Dataset.random_map`` passes one).

    Returns:
      The example with the image flipped or not (each image of a batch independently).

    Example::

        ds.random_map(augment.random_flip, seed=0)
    """
    def flip(image):
        _check_layout("augment.random_flip", image)
        if image.ndim < 4:
            return np.ascontiguousarray(image[..., ::-1] if rng.random() < 0.5 else image)
        out = image.copy()
        flips = rng.random(len(image)) < 0.5
        out[flips] = image[flips][..., ::-1]
        return out

    return _apply("augment.random_flip", example, "image", flip)


def normalize(mean, std, *, key: str = "image"):
    """Standardises the image: ``(image - mean) / std``, per channel.

    Args:
      mean: a number, or one number per channel (the ``C`` of ``(C, H, W)``/``(N, C, H, W)``).
      std: likewise; every entry positive.
      key: the dict entry holding the image.

    Returns:
      A function ``fn(example)`` for ``Dataset.map``; the image comes out float32.

    Example::

        ds.map(augment.normalize(mean=0.1307, std=0.3081))    # MNIST's statistics
    """
    op = "augment.normalize"
    mean_arr = np.asarray(mean, np.float32).reshape(-1)
    std_arr = np.asarray(std, np.float32).reshape(-1)
    if mean_arr.size == 0 or std_arr.size == 0 or (
            mean_arr.size != std_arr.size and 1 not in (mean_arr.size, std_arr.size)):
        raise data_error(op, f"mean has {mean_arr.size} entries and std {std_arr.size}",
                         "pass one number, or one per channel, for each")
    if not np.all(std_arr > 0):
        raise data_error(op, f"std must be positive, got {std!r}",
                         "pass the standard deviation of the pixels (per channel)")
    channels = max(mean_arr.size, std_arr.size)

    def norm_image(image):
        _check_layout(op, image)
        if channels == 1:
            m, s = mean_arr[0], std_arr[0]
        else:
            c = image.shape[-3] if image.ndim >= 3 else None
            if c != channels:
                raise data_error(op, f"{channels} per-channel values for an image "
                                 f"{image.dtype.name}{list(image.shape)} with "
                                 f"{c or 'no'} channels", "pass one value per channel, or a "
                                 "single number")
            m, s = (np.broadcast_to(a, (channels,)).reshape(channels, 1, 1)
                    for a in (mean_arr, std_arr))
        return (image.astype(np.float32) - m) / s

    def norm(example):
        return _apply(op, example, key, norm_image)

    return _named(norm, f"normalize(mean={mean!r}, std={std!r}, key={key!r})")


def to_float(example):
    """Converts a uint8 image (0..255) to float32 in [0, 1].

    Args:
      example: a dict with an ``"image"`` entry, a tuple ``(image, ...)`` or an image.

    Returns:
      The example with ``image.astype(float32) / 255``.

    Example::

        ds.map(augment.to_float)
    """
    def convert(image):
        if image.dtype != np.uint8:
            raise data_error("augment.to_float", f"expected a uint8 image (0..255), got "
                             f"{image.dtype.name}{list(image.shape)}", "drop to_float for "
                             "images that are already floats (load_digits and load_mnist "
                             "return float32 in [0, 1])")
        return image.astype(np.float32) / np.float32(255.0)

    return _apply("augment.to_float", example, "image", convert)
