"""Image data sets as dicts of NumPy arrays: the bundled 8x8 digits, and MNIST from IDX files.

Every loader returns ``{"train": split, "test": split}`` where each split is
``{"image": float32 (N, 1, H, W) in [0, 1], "label": int32 (N,)}``, so
``Dataset.from_arrays(split)`` takes it directly.

The digits are the UCI ML "Optical Recognition of Handwritten Digits" data (the 1,797-image
copy that scikit-learn distributes), bundled in ``digits.npz`` next to this file; see
``README.md`` there for its source and licence (CC BY 4.0; Alpaydin & Kaynak, 1998).
"""
from __future__ import annotations

import gzip
import importlib.resources
import os

import numpy as np

from funcgrad.data.errors import data_error
from funcgrad.data.shuffle import IndexShuffle

__all__ = ["load_digits", "load_mnist", "read_idx", "DIGITS_SPLIT_SEED", "MNIST_FILES"]

DIGITS_SPLIT_SEED = 0
_DIGITS_TEST_FRACTION = 0.2


def load_digits() -> dict[str, dict[str, np.ndarray]]:
    """The 1,797 real 8x8 handwritten digits (10 classes), split 80/20 into train and test.

    The split is stratified and fixed: within each class (in file order), the test set takes
    the first ``round(0.2 * class_size)`` positions of the keyed permutation
    ``IndexShuffle(class_size, seed=DIGITS_SPLIT_SEED, epoch=class)`` (the permutation behind
    ``Dataset.shuffle``, which does not depend on the NumPy version); the rest is the training
    set. Both splits keep file order. This gives 1,438 training and 359 test images, with every
    class in the same proportion in both.

    Pixels are the original counts 0..16 (the number of set pixels in a 4x4 block of a 32x32
    bitmap), divided by 16.

    Returns:
      ``{"train": {"image": float32 (1438, 1, 8, 8), "label": int32 (1438,)},
      "test": {"image": float32 (359, 1, 8, 8), "label": int32 (359,)}}``; images in [0, 1],
      labels in 0..9. Each call returns fresh arrays.

    Example::

        splits = load_digits()
        ds = Dataset.from_arrays(splits["train"]).shuffle(seed=0).batch(128)

    See also: ``load_mnist`` for the 28x28 MNIST digits.
    """
    with importlib.resources.files("funcgrad.data").joinpath("digits.npz").open("rb") as f:
        raw = np.load(f)
        images, labels = raw["image"], raw["label"]
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        n_test = int(len(members) * _DIGITS_TEST_FRACTION + 0.5)
        perm = IndexShuffle(len(members), DIGITS_SPLIT_SEED, epoch=c)
        test[members[[perm(k) for k in range(n_test)]]] = True
    images = (images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    labels = labels.astype(np.int32)
    return {"train": {"image": images[~test], "label": labels[~test]},
            "test": {"image": images[test], "label": labels[test]}}


# IDX type codes (the third byte of the magic number) and the big-endian dtype of each.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (the format of the MNIST distribution), raw or gzip-compressed.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    uint32; the data follows in big-endian C order. A ``.gz`` suffix selects gzip.

    Args:
      path: the file's path.

    Returns:
      The array, in native byte order, with the shape given by the header.

    Raises:
      DataError: the file is not IDX (bad magic number or type code), or its size does not
      match the dimensions in its header (truncated or with trailing bytes).

    Example::

        labels = read_idx("mnist/train-labels-idx1-ubyte.gz")   # uint8 (60000,)
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    op = f"read_idx({os.path.basename(path)!r})"
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        head = buf[:4].hex(" ") or "(empty file)"
        raise data_error(op, f"not an IDX file: the magic number is {head}, expected 00 00 "
                         f"<type code: one of {', '.join(f'{c:02x}' for c in _IDX_DTYPES)}> "
                         f"<ndim>", f"check that {path!r} is an uncompressed IDX file, or "
                         f"a gzip-compressed one whose name ends in .gz")
    dtype, ndim = np.dtype(_IDX_DTYPES[buf[2]]), buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise data_error(op, f"the header declares {ndim} dimensions ({header} bytes) but the "
                         f"file has only {len(buf)} bytes", "the file is truncated; "
                         "download it again")
    shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        raise data_error(op, f"the header declares shape {shape} of {dtype.name} "
                         f"({expected} bytes with the header) but the file has {len(buf)} bytes",
                         "the file is truncated or corrupt; download it again")
    data = np.frombuffer(buf, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(directory: str, name: str) -> str | None:
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def load_mnist(directory: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """MNIST (or any data set in its layout, such as Fashion-MNIST) from the four IDX files.

    Args:
      directory: the folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or with ``.gz``.

    Returns:
      ``{"train": {"image": float32 (60000, 1, 28, 28), "label": int32 (60000,)},
      "test": {"image": float32 (10000, 1, 28, 28), "label": int32 (10000,)}}`` for MNIST;
      images are the uint8 pixels divided by 255.

    Raises:
      DataError: a file is missing (the message lists every file expected and where), is not
      valid IDX, or the image and label files of a split disagree in count, type or rank.

    Example::

        splits = load_mnist("~/data/mnist")
        ds = Dataset.from_arrays(splits["train"]).shuffle(seed=0).batch(128)

    See also: ``load_digits`` for the bundled 8x8 digits, ``read_idx`` for single files.
    """
    op = "load_mnist"
    if directory is None:
        raise data_error(op, "no directory was given", "pass the folder holding the MNIST IDX "
                         "files, e.g. load_mnist('~/data/mnist')")
    directory = os.path.expanduser(os.fspath(directory))
    names = [n for pair in MNIST_FILES.values() for n in pair]
    paths = {n: _find(directory, n) for n in names}
    missing = [n for n in names if paths[n] is None]
    if missing:
        where = ("which does not exist" if not os.path.isdir(directory)
                 else "which holds " + (", ".join(sorted(os.listdir(directory))[:10]) or
                                        "nothing"))
        raise data_error(op, f"missing {', '.join(missing)} (raw, or with .gz) in "
                         f"{directory!r}, {where}. Expected these four files there: "
                         f"{', '.join(names)}",
                         "download the four MNIST files into that folder (the .gz files can "
                         "stay compressed), or pass the folder that holds them")
    out = {}
    for split, (image_name, label_name) in MNIST_FILES.items():
        images, labels = read_idx(paths[image_name]), read_idx(paths[label_name])
        if images.ndim != 3 or images.dtype != np.uint8:
            raise data_error(op, f"{paths[image_name]} holds {images.dtype.name}"
                             f"{list(images.shape)}, expected uint8 images [N, H, W]",
                             "check that the file is an MNIST image file (idx3-ubyte)")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise data_error(op, f"{paths[label_name]} holds {labels.dtype.name}"
                             f"{list(labels.shape)}, expected uint8 labels [N]",
                             "check that the file is an MNIST label file (idx1-ubyte)")
        if len(images) != len(labels):
            raise data_error(op, f"the {split} split has {len(images)} images in "
                             f"{paths[image_name]} but {len(labels)} labels in "
                             f"{paths[label_name]}", "the files come from different "
                             "downloads or one is truncated; download both again")
        out[split] = {"image": (images.astype(np.float32) / np.float32(255.0))[:, None],
                      "label": labels.astype(np.int32)}
    return out
