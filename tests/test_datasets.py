"""funcgrad.data.datasets: the bundled digits (content, split, layout) and the IDX/MNIST reader."""
import gzip
import os

import numpy as np
import pytest

from funcgrad.data import DataError, datasets

CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # of the 1,797 UCI digits


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits()


def test_digits_layout(digits):
    assert set(digits) == {"train", "test"}
    for split, n in (("train", 1438), ("test", 359)):
        image, label = digits[split]["image"], digits[split]["label"]
        assert set(digits[split]) == {"image", "label"}
        assert image.shape == (n, 1, 8, 8) and image.dtype == np.float32
        assert label.shape == (n,) and label.dtype == np.int32
        assert image.min() == 0.0 and image.max() == 1.0
        # Pixels are counts 0..16 divided by 16, exactly.
        np.testing.assert_array_equal(image * 16, np.round(image * 16))
        assert set(np.unique(label)) == set(range(10))


def test_digits_counts_and_stratification(digits):
    train, test = np.bincount(digits["train"]["label"]), np.bincount(digits["test"]["label"])
    np.testing.assert_array_equal(train + test, CLASS_COUNTS)
    assert train.sum() + test.sum() == 1797
    # Each class contributes round(20%) of its images to the test set.
    np.testing.assert_array_equal(test, [int(c * 0.2 + 0.5) for c in CLASS_COUNTS])


def test_digits_content_pinned(digits):
    # The first image of the UCI file (a zero), as printed in the CSV, lands in the training set.
    first = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0,
             0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0,
             0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]
    np.testing.assert_array_equal(digits["train"]["image"][0, 0].ravel() * 16, first)
    assert digits["train"]["label"][0] == 0
    # The split itself is pinned: its first labels and the pixel totals of each side.
    assert digits["train"]["label"][:10].tolist() == [0, 2, 3, 5, 7, 8, 9, 1, 3, 5]
    assert digits["test"]["label"][:10].tolist() == [1, 4, 6, 0, 2, 4, 6, 1, 5, 8]
    assert float(digits["train"]["image"].sum() * 16) == 449437.0
    assert float(digits["test"]["image"].sum() * 16) == 112281.0


def test_digits_splits_are_disjoint_and_complete(digits):
    raw = np.load(os.path.join(os.path.dirname(datasets.__file__), "digits.npz"))
    rows = lambda img, lab: sorted(map(bytes, np.concatenate(
        [np.round(img.reshape(len(img), 64) * 16).astype(np.uint8), lab[:, None].astype(np.uint8)],
        axis=1)))
    both = rows(np.concatenate([digits["train"]["image"], digits["test"]["image"]]),
                np.concatenate([digits["train"]["label"], digits["test"]["label"]]))
    assert both == rows(raw["image"].astype(np.float32) / 16, raw["label"])


def test_digits_fresh_arrays_each_call():
    a = datasets.load_digits()
    a["train"]["image"][...] = -1.0
    b = datasets.load_digits()
    assert b["train"]["image"].min() == 0.0


# ----------------------------------------------------------------------------- IDX / MNIST

def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write(path, payload: bytes):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)
    return path


@pytest.mark.parametrize("dtype,code", [("uint8", 0x08), ("int8", 0x09), ("int16", 0x0B),
                                        ("int32", 0x0C), ("float32", 0x0D), ("float64", 0x0E)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_roundtrip(tmp_path, dtype, code, suffix):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = _write(tmp_path / f"x-idx3{suffix}", _idx_bytes(array, code))
    out = datasets.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_big_endian_header(tmp_path):
    # Dimensions above 255 need more than one byte: a little-endian reader would get them wrong.
    array = np.arange(300 * 2, dtype=np.int16).reshape(300, 2) - 200
    out = datasets.read_idx(_write(tmp_path / "big", _idx_bytes(array, 0x0B)))
    assert out.shape == (300, 2)
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("payload,match", [
    (b"", "magic number is \\(empty file\\)"),
    (b"\x01\x00\x08\x01" + b"\x00" * 8, "magic number is 01 00 08 01"),
    (b"\x00\x00\x07\x01" + b"\x00" * 8, "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00", "declares 3 dimensions"),
    (_idx_bytes(np.zeros((2, 3), np.uint8), 0x08)[:-1], r"shape \(2, 3\) of uint8 \(18 bytes"),
    (_idx_bytes(np.zeros((2, 3), np.uint8), 0x08) + b"\x00", "file has 19 bytes"),
])
def test_read_idx_errors(tmp_path, payload, match):
    path = _write(tmp_path / "bad-idx", payload)
    with pytest.raises(DataError, match=match) as info:
        datasets.read_idx(path)
    assert "read_idx('bad-idx')" in str(info.value) and "Fix:" in str(info.value)


def _mnist_dir(tmp_path, n_train=5, n_test=3, gz=("train-images-idx3-ubyte",), side=4):
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        img_name, lab_name = datasets.MNIST_FILES[split]
        arrays[split] = (rng.integers(0, 256, (n, side, side)).astype(np.uint8),
                         rng.integers(0, 10, n).astype(np.uint8))
        for name, array in zip((img_name, lab_name), arrays[split]):
            suffix = ".gz" if name in gz else ""
            _write(tmp_path / (name + suffix), _idx_bytes(array, 0x08))
    return arrays


def test_load_mnist_raw_and_gz(tmp_path):
    arrays = _mnist_dir(tmp_path, gz=("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    out = datasets.load_mnist(tmp_path)
    for split, (images, labels) in arrays.items():
        assert out[split]["image"].shape == (len(images), 1, 4, 4)
        assert out[split]["image"].dtype == np.float32 and out[split]["label"].dtype == np.int32
        np.testing.assert_array_equal(out[split]["image"][:, 0] * 255, images)
        np.testing.assert_array_equal(out[split]["label"], labels)
    assert 0.0 <= out["train"]["image"].min() and out["train"]["image"].max() <= 1.0


def test_load_mnist_missing_files_named(tmp_path):
    _mnist_dir(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(DataError) as info:
        datasets.load_mnist(str(tmp_path))
    msg = str(info.value)
    assert "missing t10k-labels-idx1-ubyte (raw, or with .gz)" in msg
    assert str(tmp_path) in msg and "train-images-idx3-ubyte.gz" in msg  # what it did find
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in msg


def test_load_mnist_missing_directory(tmp_path):
    with pytest.raises(DataError, match="which does not exist"):
        datasets.load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no directory was given"):
        datasets.load_mnist(None)


def test_load_mnist_count_mismatch(tmp_path):
    _mnist_dir(tmp_path)
    _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(np.zeros(4, np.uint8), 0x08))
    with pytest.raises(DataError, match="train split has 5 images in .* but 4 labels"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_wrong_kind_of_file(tmp_path):
    _mnist_dir(tmp_path)
    # Labels where the images should be: rank 1, not [N, H, W].
    _write(tmp_path / "t10k-images-idx3-ubyte", _idx_bytes(np.zeros(3, np.uint8), 0x08))
    with pytest.raises(DataError, match=r"uint8\[3\], expected uint8 images \[N, H, W\]"):
        datasets.load_mnist(tmp_path)
    _mnist_dir(tmp_path)
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx_bytes(np.zeros(3, np.float32), 0x0D))
    with pytest.raises(DataError, match="float32\\[3\\], expected uint8 labels"):
        datasets.load_mnist(tmp_path)
