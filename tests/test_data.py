"""funcgrad.data: determinism, exact resumption at every position, shuffle, shard, prefetch,
augmentations and error messages."""
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funcgrad import tree_util
from funcgrad.data import (
    DataError,
    Dataset,
    IndexShuffle,
    UnknownLengthError,
    augment,
    datasets,
    index_shuffle,
)
from tests.harness import scaled

# ----------------------------------------------------------------------------- helpers


def _source(n=11):
    return Dataset.from_arrays({"x": np.arange(n, dtype=np.float32) * 0.5,
                                "y": np.arange(n, dtype=np.int32)})


def _take(it, n=None):
    out = []
    while n is None or len(out) < n:
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def _same(a, b):
    """Exact equality of two streams of pytrees (values, dtypes, structure)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        lx, tx = tree_util.tree_flatten(x)
        ly, ty = tree_util.tree_flatten(y)
        if tx != ty or not all(np.asarray(u).dtype == np.asarray(v).dtype
                               and np.array_equal(u, v) for u, v in zip(lx, ly)):
            return False
    return True


def _noise(ex, rng):
    return {**ex, "noise": rng.integers(0, 1 << 30)}


def _even(ex):
    return int(np.asarray(ex["y"]).ravel()[0]) % 2 == 0


def _small_x(ex):
    return float(np.asarray(ex["x"]).ravel()[0]) < 3.0


# Finite pipelines covering each kind of step; every one is checkpointed at every position.
FINITE = {
    "plain": lambda: _source(),
    "shuffle": lambda: _source().shuffle(seed=3),
    "shuffle_repeat": lambda: _source().shuffle(seed=3).repeat(3),
    "repeat_shuffle": lambda: _source().repeat(3).shuffle(seed=3),
    "repeat_batch_across_epochs": lambda: _source().shuffle(seed=1).repeat(3).batch(4),
    "batch_repeat": lambda: _source().shuffle(seed=1).batch(4).repeat(2),
    "batch_drop": lambda: _source().shuffle(seed=1).repeat(2).batch(4, drop_remainder=True),
    "filter": lambda: _source().shuffle(seed=2).filter(_even).repeat(2),
    "filter_batch": lambda: _source().shuffle(seed=2).repeat(3).filter(_even).batch(3),
    "filter_batch_drop": lambda: _source().repeat(2).filter(_even).batch(4, True),
    "random_map_batch": lambda: _source().shuffle(seed=4).repeat(2).random_map(_noise, seed=5)
    .batch(4, drop_remainder=True),
    "sequential_chain": lambda: _source().shuffle(seed=2).repeat(2).filter(_even).batch(2)
    .map(lambda b: {**b, "x": b["x"] * 2}).random_map(_noise, seed=1).filter(_small_x),
    "prefetch_index": lambda: _source().shuffle(seed=1).repeat(2).batch(3)
    .prefetch(3, num_threads=2),
    "prefetch_filter": lambda: _source().shuffle(seed=1).filter(_even).repeat(2)
    .prefetch(4, num_threads=3),
    "prefetch_sequential": lambda: _source().shuffle(seed=2).repeat(2).filter(_even).batch(3)
    .random_map(_noise, seed=9).prefetch(2),
    "prefetch_in_middle": lambda: _source().shuffle(seed=2).repeat(2).filter(_even).batch(2)
    .prefetch(2).batch(2).prefetch(1),
    "shard_then_shuffle": lambda: _source().shard(1, 3).shuffle(seed=2).repeat(2),
    "shuffle_then_shard": lambda: _source().shuffle(seed=2).shard(0, 2).repeat(2)
    .map(lambda ex: {**ex, "y": ex["y"] * 10}),
}

INFINITE = {
    "repeat_forever": lambda: _source().shuffle(seed=3).repeat(),
    "repeat_forever_batch": lambda: _source().shuffle(seed=3).repeat()
    .random_map(_noise, seed=2).batch(4, drop_remainder=True),
    "repeat_forever_filter_batch_prefetch": lambda: _source().shuffle(seed=3).repeat()
    .filter(_even).batch(3).prefetch(2),
    "repeat_forever_batch_prefetch": lambda: _source().shuffle(seed=3).repeat().batch(5)
    .prefetch(4, num_threads=2),
}


def _roundtrip(state):
    return json.loads(json.dumps(state))


# ----------------------------------------------------------------------------- determinism

@pytest.mark.parametrize("name", sorted(FINITE))
def test_iteration_is_deterministic(name):
    ds = FINITE[name]()
    first, second = _take(iter(ds)), _take(iter(ds))
    assert first and _same(first, second)
    assert _same(first, _take(iter(FINITE[name]())))  # a pipeline built again: same stream


def _perm(n, seed, epoch):
    return [index_shuffle(p, n, seed, epoch) for p in range(n)]


def _chunks(xs, b, drop=False):
    out = [xs[k:k + b] for k in range(0, len(xs), b)]
    return [c for c in out if len(c) == b] if drop else out


def _draw(i, rng):
    return int(i), int(rng.integers(1 << 40))


def _drawn(seed, epoch, position):
    rng = np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(epoch, position))))
    return int(rng.integers(1 << 40))


N = 11
# Streams of Dataset.range(N) pipelines, against the semantics written out by hand.
REFERENCE = [
    (lambda: Dataset.range(N).shuffle(seed=4).repeat(3),
     _perm(N, 4, 0) + _perm(N, 4, 1) + _perm(N, 4, 2)),
    (lambda: Dataset.range(N).shuffle(seed=4).repeat(3).batch(4),  # batches span epochs
     _chunks(_perm(N, 4, 0) + _perm(N, 4, 1) + _perm(N, 4, 2), 4)),
    (lambda: Dataset.range(N).shuffle(seed=4).batch(4).repeat(2),  # epochs of batches
     _chunks(_perm(N, 4, 0), 4) + _chunks(_perm(N, 4, 1), 4)),
    (lambda: Dataset.range(N).shuffle(seed=4).batch(4, True).repeat(2),
     _chunks(_perm(N, 4, 0), 4, True) + _chunks(_perm(N, 4, 1), 4, True)),
    (lambda: Dataset.range(N).shuffle(seed=4).repeat(2).filter(lambda i: i % 3).batch(3),
     _chunks([i for i in _perm(N, 4, 0) + _perm(N, 4, 1) if i % 3], 3)),
    (lambda: Dataset.range(N).shard(1, 3).shuffle(seed=2).repeat(2),
     [[1, 4, 7, 10][p] for e in range(2) for p in _perm(4, 2, e)]),
    (lambda: Dataset.range(N).shuffle(seed=2).shard(2, 3).repeat(2),
     [_perm(N, 2, e)[k] for e in range(2) for k in (2, 5, 8)]),
    (lambda: Dataset.range(N).repeat(2).shard(0, 4, drop_remainder=True),
     [0, 4, 0, 4]),
    (lambda: Dataset.range(N).batch(4).shuffle(seed=3).repeat(2),
     [_chunks(list(range(N)), 4)[p] for e in range(2) for p in _perm(3, 3, e)]),
    (lambda: Dataset.range(N).shuffle(seed=1).shuffle(seed=2).repeat(2),
     [_perm(N, 1, e)[q] for e in range(2) for q in _perm(N, 2, e)]),
    # random_map before shuffle: keyed by the epoch and position it sees, (e, perm_e(p)).
    (lambda: Dataset.range(N).random_map(_draw, seed=5).shuffle(seed=1).repeat(2),
     [(q, _drawn(5, e, q)) for e in range(2) for q in _perm(N, 1, e)]),
]


@pytest.mark.parametrize("k", range(len(REFERENCE)))
def test_stream_semantics_against_reference(k):
    make, expected = REFERENCE[k]
    got = [np.asarray(x).tolist() for x in make()]
    assert got == [np.asarray(x).tolist() for x in expected]
    assert got == [np.asarray(x).tolist() for x in make().prefetch(3, num_threads=2)]


@pytest.mark.parametrize("name", sorted(FINITE))
def test_checkpoint_at_every_position(name):
    ds = FINITE[name]()
    full = _take(iter(ds))
    assert len(full) >= 3
    for k in range(len(full) + 1):
        it = iter(ds)
        assert _same(_take(it, k), full[:k])
        state = _roundtrip(it.get_state())
        assert _same(_take(it), full[k:]), f"saving the state disturbed the stream at {k}"
        resumed = iter(ds)
        resumed.set_state(state)
        assert _same(_take(resumed), full[k:]), f"resume at position {k}"


@pytest.mark.parametrize("name", sorted(INFINITE))
def test_checkpoint_infinite_streams(name):
    ds = INFINITE[name]()
    full = _take(iter(ds), 30)
    assert len(full) == 30
    for k in range(0, 26):
        it = iter(ds)
        _take(it, k)
        resumed = iter(ds)
        resumed.set_state(_roundtrip(it.get_state()))
        assert _same(_take(resumed, 30 - k), full[k:]), f"resume at position {k}"


@pytest.mark.parametrize("name", ["shuffle_repeat", "prefetch_index", "prefetch_sequential",
                                  "prefetch_in_middle", "filter_batch"])
def test_restore_backwards_on_the_same_iterator(name):
    ds = FINITE[name]()
    full = _take(iter(ds))
    it = iter(ds)
    _take(it, 2)
    state = it.get_state()
    _take(it, 3)  # prefetch threads have run further ahead by now
    it.set_state(state)
    assert _same(_take(it), full[2:])


def test_state_is_small_and_records_consumed_position_under_prefetch():
    ds = _source().shuffle(seed=0).repeat().batch(4).prefetch(8, num_threads=2)
    it = iter(ds)
    _take(it, 3)
    state = it.get_state()
    assert state["position"] == {"index": 3}  # consumed, though up to 8 more are computed
    assert len(json.dumps(state)) < 400
    # A sequential prefetch reports what the same pipeline without prefetch would.
    seq = iter(_source().shuffle(seed=0).repeat().filter(_even).batch(2).prefetch(8))
    _take(seq, 2)
    plain = iter(_source().shuffle(seed=0).repeat().filter(_even).batch(2))
    _take(plain, 2)
    assert seq.get_state()["position"] == plain.get_state()["position"]
    assert seq.get_state() == plain.get_state()  # prefetch does not enter the fingerprint


def test_close_stops_threads_and_iteration_continues():
    def prefetch_threads():
        return sum(t.name.startswith("fg-prefetch") for t in threading.enumerate())

    for ds in (FINITE["prefetch_index"](), FINITE["prefetch_sequential"]()):
        with iter(ds) as it:
            full = _take(it)
        assert prefetch_threads() == 0
        it = iter(ds)
        head = _take(it, 3)
        assert prefetch_threads() > 0
        it.close()
        assert prefetch_threads() == 0
        assert _same(head + _take(it), full)
        it.close()


def test_exhausted_iterator_state():
    ds = FINITE["filter_batch"]()
    it = iter(ds)
    _take(it)
    resumed = iter(ds)
    resumed.set_state(it.get_state())
    assert _take(resumed) == []


# ----------------------------------------------------------------------------- shuffle

def test_shuffle_order_is_pinned():
    # Golden values: these must never change, or resumed runs would see a different order.
    assert [index_shuffle(i, 10, seed=0) for i in range(10)] == [8, 4, 6, 3, 9, 1, 0, 2, 5, 7]
    assert [index_shuffle(i, 10, 0, epoch=1) for i in range(10)] == [3, 7, 1, 2, 8, 5, 4, 9, 0, 6]
    assert [index_shuffle(i, 10, seed=1) for i in range(10)] == [3, 0, 4, 7, 5, 6, 2, 9, 1, 8]
    assert [index_shuffle(i, 1797, 42, 3) for i in range(10)] == [
        1147, 1399, 94, 27, 1233, 1125, 876, 527, 1134, 1069]
    ys = [int(ex) for ex in Dataset.range(10).shuffle(seed=0).repeat(2)]
    assert ys == [8, 4, 6, 3, 9, 1, 0, 2, 5, 7] + [3, 7, 1, 2, 8, 5, 4, 9, 0, 6]


@settings(max_examples=scaled(30))
@given(n=st.integers(0, 400), seed=st.integers(0, 2**64 - 1), epoch=st.integers(0, 10**6))
def test_index_shuffle_is_a_permutation(n, seed, epoch):
    perm = IndexShuffle(n, seed, epoch)
    assert sorted(perm(i) for i in range(n)) == list(range(n))


def test_shuffle_is_a_permutation_each_epoch_and_differs_across_epochs():
    for n in (8, 101, 1438):
        ds = Dataset.range(n).shuffle(seed=7).repeat(4)
        stream = [int(x) for x in ds]
        epochs = [tuple(stream[e * n:(e + 1) * n]) for e in range(4)]
        for order in epochs:
            assert sorted(order) == list(range(n))
        assert len(set(epochs)) == 4
        assert epochs[0] != tuple(range(n))
    # shuffle before and after repeat give the same stream (the epoch keys the permutation)
    assert list(Dataset.range(9).shuffle(seed=2).repeat(3)) == list(
        Dataset.range(9).repeat(3).shuffle(seed=2))
    assert list(Dataset.range(9).shuffle(seed=2)) != list(Dataset.range(9).shuffle(seed=3))


def test_shuffle_is_roughly_uniform():
    # Where position 0 and position 3 land, over 2,000 seeds: each of 5 indices about 400 times.
    for pos in (0, 3):
        counts = np.bincount([index_shuffle(pos, 5, seed) for seed in range(2000)], minlength=5)
        assert counts.min() > 320 and counts.max() < 480, counts
    # Pairs: consecutive positions should not be correlated (each ordered pair ~ 1/20).
    pairs = np.zeros((5, 5), int)
    for seed in range(2000):
        pairs[index_shuffle(0, 5, seed), index_shuffle(1, 5, seed)] += 1
    off = pairs[~np.eye(5, dtype=bool)]
    assert np.all(np.diag(pairs) == 0) and off.min() > 60 and off.max() < 145, pairs


# ----------------------------------------------------------------------------- random_map

def test_random_map_is_independent_of_order_and_threads():
    ds = Dataset.range(20).shuffle(seed=1).repeat(2).random_map(
        lambda i, rng: (int(i), int(rng.integers(1 << 40))), seed=3)
    forward = [ds[k] for k in range(len(ds))]
    backward = [ds[k] for k in reversed(range(len(ds)))][::-1]
    assert forward == backward == list(ds)
    assert list(ds.prefetch(5, num_threads=4)) == forward
    # Each epoch draws fresh numbers for the same underlying element.
    by_epoch = [dict(forward[:20]), dict(forward[20:])]
    assert all(by_epoch[0][i] != by_epoch[1][i] for i in range(20))
    other = Dataset.range(20).shuffle(seed=1).repeat(2).random_map(
        lambda i, rng: (int(i), int(rng.integers(1 << 40))), seed=4)
    assert [v for _, v in other] != [v for _, v in forward]


def test_random_map_key_is_seed_epoch_position():
    ds = Dataset.range(5).repeat(2).random_map(lambda x, rng: int(rng.integers(2**62)), seed=7)
    expected = np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(7, spawn_key=(1, 1)))).integers(2**62)
    assert ds[6] == expected


# ----------------------------------------------------------------------------- shard

@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("where", ["before_shuffle", "after_shuffle"])
def test_shard_partitions_every_epoch(count, where):
    n, epochs = 11, 3

    def build(i):
        base = Dataset.range(n)
        if where == "before_shuffle":
            return base.shard(i, count).shuffle(seed=5).repeat(epochs)
        return base.shuffle(seed=5).shard(i, count).repeat(epochs)

    streams = [[int(x) for x in build(i)] for i in range(count)]
    per_epoch = [len(build(i)) // epochs for i in range(count)]
    assert sum(per_epoch) == n and max(per_epoch) - min(per_epoch) <= 1
    subsets = []
    for e in range(epochs):
        parts = [s[e * m:(e + 1) * m] for s, m in zip(streams, per_epoch)]
        assert sorted(x for p in parts for x in p) == list(range(n))
        subsets.append([frozenset(p) for p in parts])
    if count > 1:
        if where == "before_shuffle":  # a fixed subset per worker
            assert all(s == subsets[0] for s in subsets)
        else:  # the epoch's permutation is dealt out: subsets change
            assert any(s != subsets[0] for s in subsets)


def test_shard_drop_remainder_equal_sizes():
    sizes = [len(Dataset.range(11).shard(i, 4, drop_remainder=True)) for i in range(4)]
    assert sizes == [2, 2, 2, 2]
    got = sorted(int(x) for i in range(4) for x in Dataset.range(11).shard(i, 4, True))
    assert len(set(got)) == 8


# ----------------------------------------------------------------------------- prefetch

@pytest.mark.parametrize("buffer_size,num_threads", [(1, 1), (2, 1), (3, 2), (7, 3)])
def test_prefetch_equals_no_prefetch(buffer_size, num_threads):
    for make in (FINITE["random_map_batch"], FINITE["filter_batch"], FINITE["filter"]):
        plain = _take(iter(make()))
        fetched = _take(iter(make().prefetch(buffer_size, num_threads)))
        assert _same(plain, fetched)


def test_failed_element_is_retried_by_the_next_call():
    for prefetch in (False, True):
        failed = set()

        def flaky(b, failed=failed):  # fails the first time it meets the batch holding y=4
            if 4 in b["y"].tolist() and not failed:
                failed.add(1)
                raise OSError("transient read error")
            return b

        ds = _source().shuffle(seed=0).filter(_even).batch(2).map(flaky)
        ds = ds.prefetch(2) if prefetch else ds
        expected = _take(iter(_source().shuffle(seed=0).filter(_even).batch(2)))
        it, got, errors = iter(ds), [], 0
        while True:
            try:
                got.append(next(it))
            except StopIteration:
                break
            except OSError:
                errors += 1
        assert errors == 1 and _same(got, expected)


def test_prefetch_raises_errors_at_their_position():
    def explode(ex):
        if int(ex["y"]) == 5:
            raise RuntimeError("bad element 5")
        return ex

    for ds in (_source().map(explode).prefetch(3, num_threads=2),
               _source().filter(lambda ex: True).batch(1).map(
                   lambda b: explode({"y": b["y"][0]})).prefetch(3),
               _source().map(explode)):
        it = iter(ds)
        assert len(_take(it, 5)) == 5
        with pytest.raises(RuntimeError, match="bad element 5"):
            next(it)
        assert it.get_state()["position"] in ({"index": 5},)
        it.close()


# ----------------------------------------------------------------------------- vectorised batches

def _images(n=23):
    r = np.random.default_rng(0)
    return Dataset.from_arrays({"image": r.random((n, 1, 5, 5)).astype(np.float32),
                                "label": np.arange(n, dtype=np.int32)})


def _scaled_noise(ex, rng):
    return {**ex, "image": ex["image"] * np.float32(rng.random()), "n": rng.normal(size=2)}


def _must_not_write(ex):
    ex["image"][...] = 0  # examples are read-only views on both paths
    return ex


# Pipelines a batch can gather in one go; each is compared with the element-by-element path.
VECTORISED = {
    "shuffle_repeat_batch": lambda: _images().shuffle(seed=3).repeat(3).batch(4),
    "shuffle_repeat_batch_drop": lambda: _images().shuffle(seed=3).repeat(3).batch(5, True),
    "batch_repeat": lambda: _images().shuffle(seed=1).batch(6).repeat(2),
    "batch_drop_repeat": lambda: _images().shuffle(seed=1).batch(6, True).repeat(2),
    "forever": lambda: _images().shuffle(seed=3).repeat().batch(7, drop_remainder=True),
    "shuffle_shard": lambda: _images().shuffle(seed=2).shard(1, 3).repeat(3).batch(3),
    "shard_shuffle_drop": lambda: _images().shard(2, 4, drop_remainder=True).shuffle(seed=2)
    .repeat(4).batch(4, True),
    "two_shuffles": lambda: _images().shuffle(seed=1).repeat(2).shuffle(seed=2).batch(9),
    "crop": lambda: _images().shuffle(seed=0).repeat(3)
    .random_map(augment.random_crop(1), seed=1).batch(8),
    "map_random_map": lambda: _images().map(augment.normalize(0.5, 0.25)).shuffle(seed=4)
    .repeat(2).random_map(_scaled_noise, seed=2**70 + 5).batch(6, True),
    "random_map_then_shuffle": lambda: _images().random_map(_scaled_noise, seed=7)
    .shuffle(seed=1).shard(0, 2).repeat(3).batch(5),
    "batch_of_batches": lambda: _images().shuffle(seed=5).repeat().batch(3)
    .random_map(augment.random_crop(1), seed=3).batch(2),
    "batch_shuffle_batch": lambda: _images().batch(4, True).shuffle(seed=3).repeat(2).batch(2),
    "single_array": lambda: Dataset.from_arrays(np.arange(13.0)).shuffle(seed=1).repeat(2)
    .map(lambda x: x * 2).batch(4),
    "range_source": lambda: Dataset.range(13).shuffle(seed=1).repeat(2)
    .random_map(_draw, seed=3).batch(4),
    "unsorted_keys": lambda: Dataset.from_arrays({"y": np.arange(9), "x": np.arange(9.0)})
    .shuffle(seed=2).repeat(2).random_map(_noise, seed=1).batch(4),
    "unsorted_keys_gather": lambda: Dataset.from_arrays({"y": np.arange(9), "x": np.arange(9.0)})
    .shuffle(seed=2).repeat(2).batch(4),
    "digits": lambda: Dataset.from_arrays(datasets.load_digits()["train"]).shuffle(seed=0)
    .repeat().random_map(augment.random_crop(1), seed=1).batch(64, drop_remainder=True),
}


@pytest.mark.parametrize("table_max", [1 << 20, 4])  # per-epoch tables, or per-batch Feistel
@pytest.mark.parametrize("name", sorted(VECTORISED))
def test_vectorised_batches_equal_element_by_element(name, table_max, monkeypatch):
    from funcgrad.data import dataset
    monkeypatch.setattr(dataset, "_TABLE_MAX", table_max)
    ds = VECTORISED[name]()
    fast = _take(iter(ds), 60)
    monkeypatch.setattr(dataset, "_VECTORISED", False)
    reference = _take(iter(ds), 60)
    assert _same(fast, reference) and len(fast) >= 3
    assert [list(b) for b in fast if isinstance(b, dict)] == [  # same key order
        list(b) for b in reference if isinstance(b, dict)]


def test_vectorised_path_reads_arrays_by_gather_only(monkeypatch):
    from funcgrad.data import dataset
    ds = VECTORISED["digits"]()
    expected = _take(iter(ds), 25)  # crosses the end of the first epoch (22.5 batches)

    def one_by_one(self, i):
        raise AssertionError("element-by-element read under batch")

    monkeypatch.setattr(dataset._ArraySource, "_getitem", one_by_one)
    monkeypatch.setattr(dataset._RandomMap, "_getitem", one_by_one)
    assert _same(_take(iter(ds), 25), expected)
    with pytest.raises(ValueError, match="read-only"):
        next(iter(_images().map(_must_not_write).batch(2)))
    assert next(iter(_images().batch(2)))["image"].flags.writeable  # a fresh batch, as before


@settings(max_examples=scaled(30))
@given(n=st.integers(0, 600), seed=st.integers(0, 2**64 - 1), epoch=st.integers(0, 10**6))
def test_vectorised_shuffle_matches_scalar(n, seed, epoch):
    perm = IndexShuffle(n, seed, epoch)
    expected = [perm(p) for p in range(n)]
    assert perm.to_array().tolist() == expected
    assert perm.positions_to_indices(np.arange(n)[::-1]).tolist() == expected[::-1]
    with pytest.raises(IndexError):
        perm.positions_to_indices(np.array([n]))


@pytest.mark.parametrize("seed", [0, 1, 7, 2**32 - 1, 2**32, 2**64 - 1, 2**127 + 3, 2**200 + 9])
def test_keyed_generators_match_seed_sequence(seed):
    from funcgrad.data.seeding import KeyedGenerators
    r = np.random.default_rng(seed % 2**32)
    keys = np.stack([r.integers(0, 2**32, 20), r.integers(0, 2**32, 20)], axis=1)
    keys[:3] = [[0, 0], [2**32 - 1, 2**32 - 1], [1, 0]]
    for ks in (keys, np.concatenate([keys, [[2**32, 5]]])):  # the last: two words per entry
        for (e, p), rng in zip(ks.tolist(), KeyedGenerators(seed).generators(ks)):
            ref = np.random.Generator(np.random.PCG64(
                np.random.SeedSequence(seed, spawn_key=(e, p))))
            assert rng.bit_generator.state == ref.bit_generator.state
            assert rng.integers(1 << 62, size=4).tolist() == ref.integers(
                1 << 62, size=4).tolist()
            assert rng.bit_generator.seed_seq.spawn_key == (e, p)
    child, ref_child = rng.spawn(1)[0], ref.spawn(1)[0]
    assert child.integers(1 << 62) == ref_child.integers(1 << 62)


# ----------------------------------------------------------------------------- batch, len

def test_batch_stacks_structures():
    ds = Dataset.from_source([({"a": np.full(2, i, np.float32)}, i) for i in range(5)])
    batches = list(ds.batch(2))
    assert len(batches) == 3
    feats, labels = batches[0]
    assert feats["a"].shape == (2, 2) and feats["a"].dtype == np.float32
    np.testing.assert_array_equal(labels, [0, 1])
    assert batches[2][0]["a"].shape == (1, 2)  # the remainder
    assert len(list(ds.batch(2, drop_remainder=True))) == 2


def test_lengths():
    src = _source(10)
    assert len(src) == 10 and len(src.shuffle(seed=0).map(lambda e: e)) == 10
    assert len(src.repeat(3)) == 30 and len(src.repeat(0)) == 0
    assert len(src.batch(4)) == 3 and len(src.batch(4, drop_remainder=True)) == 2
    assert len(src.repeat(3).batch(4)) == 8
    assert len(src.prefetch(2)) == 10
    assert len(src.batch(4).prefetch(2).batch(2)) == 2
    for ds, match in ((src.repeat(), "infinite: repeat\\(None\\)"),
                      (src.filter(_even), "unknown: filter\\(_even\\)"),
                      (src.filter(_even).batch(2), "unknown: filter\\(_even\\)")):
        with pytest.raises(TypeError, match=match) as info:
            len(ds)
        assert isinstance(info.value, UnknownLengthError) and "Fix:" in str(info.value)
    assert sum(1 for _ in src.filter(_even)) == 5


def test_getitem_and_readonly_examples():
    src = _source(10)
    assert int(src[-1]["y"]) == 9 and int(src.repeat()[25]["y"]) == 5
    with pytest.raises(IndexError):
        src[10]
    images = np.zeros((3, 2, 2))
    with pytest.raises(ValueError, match="read-only"):
        Dataset.from_arrays({"image": images})[0]["image"][...] = 1.0
    assert images.flags.writeable  # the caller's array is left alone
    with pytest.raises(DataError, match="no random access: it contains filter"):
        src.filter(_even)[0]


def test_from_arrays_single_array_and_source():
    x = np.arange(12).reshape(6, 2)
    assert _same(list(Dataset.from_arrays(x).batch(3)), [x[:3], x[3:]])
    assert [int(v) for v in Dataset.from_source([3, 1, 2]).map(lambda v: v * 2)] == [6, 2, 4]


def test_digits_pipeline():
    train = datasets.load_digits()["train"]
    ds = (Dataset.from_arrays(train).shuffle(seed=0).repeat()
          .random_map(augment.random_crop(1), seed=1).batch(128, drop_remainder=True).prefetch(2))
    it = iter(ds)
    batch = next(it)
    assert batch["image"].shape == (128, 1, 8, 8) and batch["image"].dtype == np.float32
    assert batch["label"].shape == (128,) and batch["label"].dtype == np.int32
    epoch = list(Dataset.from_arrays(train).shuffle(seed=0))
    assert sorted(int(e["label"]) for e in epoch) == sorted(train["label"].tolist())


# ----------------------------------------------------------------------------- errors

def _message(exc_info):
    msg = str(exc_info.value)
    assert "Fix:" in msg and "See docs/errors.md#" in msg
    return msg


def test_error_different_lengths():
    with pytest.raises(DataError) as info:
        Dataset.from_arrays({"image": np.zeros((5, 2)), "label": np.zeros(4)})
    msg = _message(info)
    assert "'image': 5, 'label': 4" in msg and "Dataset.from_arrays" in msg


def test_error_missing_seed():
    with pytest.raises(DataError) as info:
        _source().shuffle()
    assert "ds.shuffle(seed=0)" in _message(info)
    with pytest.raises(DataError) as info:
        _source().random_map(_noise)
    assert "ds.random_map(fn, seed=0)" in _message(info)
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(DataError, match="non-negative integer"):
            _source().shuffle(seed=bad)


def test_error_state_from_another_pipeline():
    state = iter(_source().shuffle(seed=0).batch(4)).get_state()
    with pytest.raises(DataError) as info:
        iter(_source().shuffle(seed=1).batch(4)).set_state(state)
    msg = _message(info)
    assert "step 1 is shuffle(seed=0) in the state but shuffle(seed=1) in this pipeline" in msg
    assert "step 2" not in msg
    with pytest.raises(DataError, match="step 2 is batch\\(4, drop_remainder=False\\) in the "
                                        "state but batch\\(5"):
        iter(_source().shuffle(seed=0).batch(5)).set_state(state)
    with pytest.raises(DataError, match="this pipeline has map\\(<lambda>\\) at step 3, which "
                                        "the state lacks"):
        iter(_source().shuffle(seed=0).batch(4).map(lambda b: b)).set_state(state)
    with pytest.raises(DataError) as info:  # an inserted step is named alone
        iter(_source().shuffle(seed=0).random_map(_noise, seed=1).batch(4)).set_state(state)
    assert str(info.value).splitlines()[0].endswith(
        "different pipeline: this pipeline has random_map(_noise, seed=1) at step 2, which the "
        "state lacks")
    with pytest.raises(DataError, match="the state has shuffle\\(seed=0\\) at step 1, which "
                                        "this pipeline lacks"):
        iter(_source().batch(4)).set_state(state)
    with pytest.raises(DataError, match="from_arrays"):
        iter(_source(12).shuffle(seed=0).batch(4)).set_state(state)
    # prefetch settings are free to change
    iter(_source().shuffle(seed=0).batch(4).prefetch(3)).set_state(state)


def test_error_malformed_state():
    ds = _source()
    good = iter(ds).get_state()
    for bad, match in ((None, "expected a dict"), ({"position": {}}, "expected a dict"),
                       ({**good, "version": 99}, "version 99"),
                       ({**good, "position": {"index": 12}}, "integer in \\[0, 11\\]"),
                       ({**good, "position": {"index": -1}}, "integer in \\[0, 11\\]"),
                       ({**good, "position": {}}, "'index'")):
        with pytest.raises(DataError, match=match):
            iter(ds).set_state(bad)
    seq = _source().filter(_even).batch(2).random_map(_noise, seed=0)
    with pytest.raises(DataError, match="'count'"):
        iter(seq).set_state({**iter(seq).get_state(), "position": {"index": 0}})


def test_error_batch_size_and_shard_index():
    for bad in (0, -3, 2.0, None):
        with pytest.raises(DataError) as info:
            _source().batch(bad)
        assert "batch_size must be a positive integer" in _message(info)
    with pytest.raises(DataError) as info:
        _source().shard(3, 3)
    assert "index 3 is out of range for count 3" in _message(info)
    assert "0..2" in str(info.value)
    with pytest.raises(DataError, match="index -1 is out of range"):
        _source().shard(-1, 2)
    with pytest.raises(DataError, match="count must be a positive integer"):
        _source().shard(0, 0)


def test_error_misplaced_steps():
    seq = _source().filter(_even).batch(2)
    for step in (lambda d: d.shuffle(seed=0), lambda d: d.repeat(), lambda d: d.shard(0, 2)):
        with pytest.raises(DataError, match="before filter/batch/prefetch"):
            step(seq)
    with pytest.raises(DataError, match="batch of an infinite repeat"):
        _source().repeat().batch(2).shuffle(seed=0)
    with pytest.raises(DataError, match="empty data set forever"):
        Dataset.range(0).repeat()
    with pytest.raises(DataError, match="expected a function"):
        _source().map(3)
    with pytest.raises(DataError, match="has no __len__ and __getitem__"):
        Dataset.from_source(iter([1, 2]))
    with pytest.raises(DataError, match="0-d array"):
        Dataset.from_arrays({"a": np.float32(1)})
    with pytest.raises(DataError, match=r"cannot stack \['a'\]: the examples hold "
                                        r"float64\[2\], float64\[3\]"):
        list(Dataset.from_source([{"a": np.zeros(2)}, {"a": np.zeros(3)}]).batch(2))


def test_no_numba_import():
    code = "import sys, funcgrad.data as d; d.datasets.load_digits(); "\
           "list(d.Dataset.range(3).prefetch(2)); assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- augmentations

def _shift_of(out, image, p, fill=0):
    """The offsets (dy, dx) whose crop of the padded image equals ``out``."""
    h, w = image.shape[-2:]
    padded = np.full(image.shape[:-2] + (h + 2 * p, w + 2 * p), fill, image.dtype)
    padded[..., p:p + h, p:p + w] = image
    return [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
            if np.array_equal(padded[..., dy:dy + h, dx:dx + w], out)]


def test_random_crop_single_examples():
    image = np.random.default_rng(0).integers(1, 255, (3, 6, 5)).astype(np.uint8)
    crop = augment.random_crop(2)
    seen = set()
    for seed in range(200):
        out = crop({"image": image, "label": 7}, np.random.default_rng(seed))
        assert out["label"] == 7 and out["image"].shape == image.shape
        assert out["image"].dtype == np.uint8
        shifts = _shift_of(out["image"], image, 2)
        assert len(shifts) == 1
        seen.add(shifts[0])
    assert seen == {(dy, dx) for dy in range(5) for dx in range(5)}
    hw = image[0]
    out = augment.random_crop(1, fill=9)(hw, np.random.default_rng(1))
    assert len(_shift_of(out, hw, 1, fill=9)) == 1
    np.testing.assert_array_equal(augment.random_crop(0)(hw, np.random.default_rng(0)), hw)


def test_random_crop_equals_the_padded_window():
    # Crops without building the padded image: same pixels and the same draws as cropping the
    # padded image at rng.integers(0, 2p+1, size=2), for shifts past the image too.
    r = np.random.default_rng(0)
    for shape, dtype, p, fill in [((8, 8), np.float32, 1, 0), ((1, 8, 8), np.uint8, 2, 7),
                                  ((3, 5, 4), np.int64, 3, 0), ((2, 1, 3), np.float32, 5, 2.5),
                                  ((1, 1), np.uint8, 9, 1)]:
        image = (r.random(shape) * 100).astype(dtype)
        h, w = shape[-2:]
        padded = np.full(shape[:-2] + (h + 2 * p, w + 2 * p), fill, dtype)
        padded[..., p:p + h, p:p + w] = image
        for seed in range(30):
            rng, ref_rng = np.random.default_rng(seed), np.random.default_rng(seed)
            out = augment.random_crop(p, fill=fill)(image, rng)
            dy, dx = ref_rng.integers(0, 2 * p + 1, size=2)
            expected = padded[..., dy:dy + h, dx:dx + w]
            assert out.dtype == expected.dtype and np.array_equal(out, expected)
            assert rng.bit_generator.state == ref_rng.bit_generator.state


def test_random_crop_batch_draws_per_image():
    images = np.random.default_rng(0).random((64, 2, 5, 5)).astype(np.float32) + 1
    out = augment.random_crop(1)((images, np.arange(64)), np.random.default_rng(3))
    assert isinstance(out, tuple) and out[0].shape == images.shape
    shifts = [_shift_of(o, i, 1) for o, i in zip(out[0], images)]
    assert all(len(s) == 1 for s in shifts)
    assert len({s[0] for s in shifts}) == 9


def test_random_flip():
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    outs = [augment.random_flip({"image": image}, np.random.default_rng(s))["image"]
            for s in range(40)]
    flipped = [np.array_equal(o, image[..., ::-1]) for o in outs]
    assert all(f or np.array_equal(o, image) for f, o in zip(flipped, outs))
    assert 5 < sum(flipped) < 35
    batch = np.stack([image] * 50)
    out = augment.random_flip(batch, np.random.default_rng(0))
    flips = [np.array_equal(o, image[..., ::-1]) for o in out]
    assert all(f or np.array_equal(o, image) for f, o in zip(flips, out))
    assert 10 < sum(flips) < 40
    np.testing.assert_array_equal(batch, np.stack([image] * 50))  # input untouched


def test_normalize_and_to_float():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = augment.normalize([1.0, 2.0], [2.0, 4.0])({"image": image})["image"]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], (image[0] - 1.0) / 2.0)
    np.testing.assert_allclose(out[1], (image[1] - 2.0) / 4.0)
    batch = np.stack([image, image])
    np.testing.assert_allclose(augment.normalize([1.0, 2.0], [2.0, 4.0])(batch)[1], out)
    np.testing.assert_allclose(augment.normalize(0.5, 0.25)(image[0]), (image[0] - 0.5) / 0.25)
    f = augment.to_float({"image": np.array([[0, 51, 255]], np.uint8), "label": 1})
    assert f["image"].dtype == np.float32 and f["label"] == 1
    np.testing.assert_allclose(f["image"], [[0.0, 0.2, 1.0]])


def test_augment_errors():
    with pytest.raises(DataError, match="padding must be a non-negative integer, got -1"):
        augment.random_crop(-1)
    with pytest.raises(DataError, match=r"got float32\[4\]"):
        augment.random_crop(1)(np.zeros(4, np.float32), np.random.default_rng(0))
    with pytest.raises(DataError, match="no 'image' entry \\(its keys: 'x', 'y'\\)"):
        augment.random_flip({"x": np.zeros((2, 2)), "y": 1}, np.random.default_rng(0))
    with pytest.raises(DataError, match="std must be positive"):
        augment.normalize(0.0, [1.0, 0.0])
    with pytest.raises(DataError, match="2 per-channel values for an image float32\\[3, 4, 4\\]"):
        augment.normalize([0, 0], [1, 1])(np.zeros((3, 4, 4), np.float32))
    with pytest.raises(DataError) as info:
        augment.to_float(np.zeros((2, 2), np.float32))
    assert "expected a uint8 image" in _message(info)


def test_augment_in_pipeline_is_deterministic_and_named():
    train = {"image": np.random.default_rng(0).integers(0, 256, (20, 1, 6, 6)).astype(np.uint8),
             "label": np.arange(20)}
    ds = (Dataset.from_arrays(train).map(augment.to_float).shuffle(seed=0)
          .random_map(augment.random_crop(1), seed=1).random_map(augment.random_flip, seed=2)
          .batch(8).random_map(augment.random_crop(2), seed=3)
          .map(augment.normalize(0.5, 0.5)))
    assert _same(list(ds), list(ds.prefetch(3, num_threads=2)))
    assert "random_crop(padding=1, key='image', fill=0), seed=1" in repr(ds)
    other = Dataset.from_arrays(train).map(augment.to_float).random_map(
        augment.random_crop(2), seed=1)
    state = iter(other).get_state()
    with pytest.raises(DataError, match="random_crop\\(padding=2"):
        iter(Dataset.from_arrays(train).map(augment.to_float).random_map(
            augment.random_crop(1), seed=1)).set_state(state)
