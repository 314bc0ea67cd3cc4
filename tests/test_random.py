"""funcgrad.random: known answers (Random123 and JAX's default threefry scheme), determinism,
split independence, distributions, and agreement under jit and vmap."""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.random as fr
from funcgrad import errors


def _np(x):
    return np.asarray(x)


# ---------------------------------------------------------------- known answers

# Random123's threefry2x32_20 known-answer vectors: (key, counter, output).
THREEFRY_KATS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("k, x, expected", THREEFRY_KATS)
def test_threefry2x32_known_answers(k, x, expected):
    out = fr.threefry2x32(*(np.uint32(v) for v in k + x))
    assert tuple(int(v) for v in out) == expected


def test_threefry2x32_is_elementwise_over_counters():
    x0 = np.array([0, 0xFFFFFFFF, 0x243F6A88], np.uint32)
    x1 = np.array([0, 0xFFFFFFFF, 0x85A308D3], np.uint32)
    k0, k1 = np.uint32(0x13198A2E), np.uint32(0x03707344)
    y0, y1 = fr.threefry2x32(k0, k1, x0, x1)
    for i in range(3):
        z0, z1 = fr.threefry2x32(k0, k1, x0[i], x1[i])
        assert (int(y0[i]), int(y1[i])) == (int(z0), int(z1))


# Values drawn by JAX's default threefry implementation.
KEY_KATS = [
    (lambda: fr.PRNGKey(0), [0, 0]),
    (lambda: fr.key(1), [0, 1]),
    (lambda: fr.PRNGKey(-1), [0, 4294967295]),
    (lambda: fr.PRNGKey(2 ** 31), [0, 2147483648]),
    (lambda: fr.PRNGKey(2 ** 40 + 5), [256, 5]),
    (lambda: fr.PRNGKey(-2 ** 40), [4294967040, 0]),
    (lambda: fr.PRNGKey(2 ** 63 - 1), [2147483647, 4294967295]),
    (lambda: fr.split(fr.PRNGKey(0)), [[1797259609, 2579123966], [928981903, 3453687069]]),
    (lambda: fr.split(fr.PRNGKey(0), 3),
     [[1797259609, 2579123966], [928981903, 3453687069], [4146024105, 2718843009]]),
    (lambda: fr.split(fr.PRNGKey(0), 1), [[1797259609, 2579123966]]),
    (lambda: fr.fold_in(fr.PRNGKey(0), 7), [2716826189, 292468403]),
    (lambda: fr.fold_in(fr.PRNGKey(0), 2 ** 31), [917456828, 636652529]),
    (lambda: fr.fold_in(fr.PRNGKey(0), 2 ** 32 - 1), [743310391, 3789761811]),
    (lambda: fr.bits(fr.PRNGKey(0), (2,)), [4070199207, 4202968722]),
    (lambda: fr.bits(fr.PRNGKey(0), (2, 2)), [[4070199207, 4202968722],
                                             [1427181096, 2012915765]]),
    (lambda: fr.bits(fr.PRNGKey(0)), 4070199207),
    (lambda: fr.bits(fr.PRNGKey(0), (3,), fnp.uint8), [167, 146, 40]),
    (lambda: fr.bits(fr.PRNGKey(0), (2,), fnp.uint16), [20391, 13970]),
    (lambda: fr.bits(fr.PRNGKey(0), (2,), fnp.uint64),
     [7719171245655871230, 3989946895414531357]),
]


@pytest.mark.parametrize("i", range(len(KEY_KATS)))
def test_key_known_answers(i):
    fn, expected = KEY_KATS[i]
    out = _np(fn())
    assert out.dtype.kind == "u"
    np.testing.assert_array_equal(out, np.asarray(expected, out.dtype))


FLOAT_KATS = [
    (lambda: fr.uniform(fr.PRNGKey(0), (3,)), np.float32, [0.947667, 0.9785799, 0.33229148]),
    (lambda: fr.normal(fr.PRNGKey(0), (3,)), np.float32, [1.6226422, 2.0252647, -0.43359444]),
    (lambda: fr.uniform(fr.PRNGKey(0), (3,), fnp.float64), np.float64,
     [0.41845711171638644, 0.21629545460551136, 0.9653214611189975]),
]


@pytest.mark.parametrize("i", range(len(FLOAT_KATS)))
def test_float_known_answers(i):
    fn, dtype, expected = FLOAT_KATS[i]
    out = _np(fn())
    assert out.dtype == dtype
    # uniform is exact; normal goes through erfinv, which may differ from JAX's by an ulp or two.
    np.testing.assert_allclose(out, np.asarray(expected, dtype), rtol=1e-6 if dtype ==
                               np.float32 else 1e-14)


def test_traced_seed_matches_python_seed():
    for seed in [0, 5, -1, 2 ** 31 - 1]:
        np.testing.assert_array_equal(_np(fr.PRNGKey(fnp.asarray(np.int32(seed)))),
                                      _np(fr.PRNGKey(seed)))
    np.testing.assert_array_equal(_np(fr.PRNGKey(fnp.asarray(np.int64(2 ** 40 + 5)))), [256, 5])
    np.testing.assert_array_equal(_np(fg.jit(fr.PRNGKey)(fnp.asarray(np.int32(7)))), [0, 7])


# ---------------------------------------------------------------- determinism and independence

def test_determinism():
    k = fr.PRNGKey(42)
    np.testing.assert_array_equal(_np(fr.uniform(k, (10,))), _np(fr.uniform(k, (10,))))
    np.testing.assert_array_equal(_np(fr.split(k, 4)), _np(fr.split(fr.PRNGKey(42), 4)))


def test_split_gives_distinct_keys_and_streams():
    keys = _np(fr.split(fr.PRNGKey(3), 1000))
    assert keys.shape == (1000, 2)
    assert len({tuple(k) for k in keys}) == 1000
    parent = _np(fr.PRNGKey(3))
    assert not any((k == parent).all() for k in keys)
    a, b = fr.split(fr.PRNGKey(3))
    xa, xb = _np(fr.bits(a, (256,))), _np(fr.bits(b, (256,)))
    assert (xa != xb).mean() > 0.99
    # Nearly uncorrelated streams.
    ua, ub = _np(fr.uniform(a, (2000,))), _np(fr.uniform(b, (2000,)))
    assert abs(np.corrcoef(ua, ub)[0, 1]) < 0.1


def test_split_shape_and_fold_in_distinct():
    assert fr.split(fr.PRNGKey(0), (2, 3)).shape == (2, 3, 2)
    np.testing.assert_array_equal(_np(fr.split(fr.PRNGKey(0), (2, 3))).reshape(6, 2),
                                  _np(fr.split(fr.PRNGKey(0), 6)))
    folded = {tuple(_np(fr.fold_in(fr.PRNGKey(0), i))) for i in range(200)}
    assert len(folded) == 200


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("bad, needle", [
    (0, "PRNGKey(seed)"),
    (np.zeros(2, np.float32), "uint32[2]"),
    (np.zeros(3, np.uint32), "uint32[2]"),
    (np.zeros((4, 2), np.uint32), "vmap"),
    ("key", "PRNGKey"),
])
def test_bad_key_errors(bad, needle):
    with pytest.raises(errors.InvalidArgumentError, match=r"random\.uniform") as info:
        fr.uniform(bad, (2,))
    assert needle in str(info.value)


def test_bad_shape_errors():
    with pytest.raises(errors.ShapeError, match="broadcast-compatible"):
        fr.uniform(fr.PRNGKey(0), (3,), minval=np.zeros(4))
    with pytest.raises(errors.ShapeError, match="negative"):
        fr.uniform(fr.PRNGKey(0), (-1,))
    with pytest.raises(errors.DTypeError, match="float"):
        fr.uniform(fr.PRNGKey(0), (2,), dtype=fnp.int32)
    with pytest.raises(errors.DTypeError, match="unsigned"):
        fr.bits(fr.PRNGKey(0), (2,), dtype=fnp.int32)
    with pytest.raises(errors.InvalidArgumentError, match="seed"):
        fr.PRNGKey(1.5)
