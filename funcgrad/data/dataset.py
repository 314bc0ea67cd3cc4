"""``Dataset``: a functional, deterministic, resumable input pipeline on the host.

Every method returns a new ``Dataset``; nothing mutates. Up to the first sequential step
(``batch`` after ``filter``, or ``prefetch``) a pipeline is *random access*: element ``i`` is
computed from ``(seed, epoch, i)`` alone, by walking the steps back to the source. Indices run
on across epochs (``i = epoch * epoch_length + position``), so each step can tell which epoch
an index belongs to without any state: that is how ``shuffle`` reshuffles every epoch of a
``repeat`` and how ``random_map`` keys its randomness. ``filter`` leaves holes (skipped slots)
instead of renumbering, which keeps random access; it makes the length unknown.

Iteration state is therefore one index (plus a count per sequential ``random_map``), whatever
the pipeline: see ``funcgrad.data.iterator``.

A ``batch`` of a random-access pipeline asks its parent for all its elements at once
(``_gather``): ``shuffle``, ``repeat`` and ``shard`` map the whole index array with NumPy, an
array source answers with one fancy-indexing gather per key, and ``map``/``random_map`` still
call their function once per element (on views of one gathered batch, with the per-element
generators built together). The values are exactly those of the element-by-element path,
which stays the reference (``_VECTORISED = False`` selects it; the tests compare the two).
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from funcgrad import tree_util
from funcgrad.data import iterator as _it
from funcgrad.data.errors import data_error, unknown_length_error
from funcgrad.data.seeding import KeyedGenerators
from funcgrad.data.shuffle import IndexShuffle, check_seed

__all__ = ["Dataset"]

_UNKNOWN = "unknown"    # length after filter
_INFINITE = "infinite"  # length after repeat()
_VECTORISED = True      # batches gather their elements together; False: one by one (reference)
_TABLE_MAX = 1 << 20    # shuffle keeps whole per-epoch permutations up to this epoch length


def _fn_name(fn) -> str:
    if isinstance(fn, functools.partial):
        return f"partial({_fn_name(fn.func)})"
    # __name__, not __qualname__: moving a function into another scope keeps old states valid.
    return getattr(fn, "__name__", None) or type(fn).__qualname__


def _check_callable(op, fn, signature):
    if not callable(fn):
        raise data_error(op, f"expected a function {signature}, got {fn!r:.80} "
                         f"({type(fn).__name__})", f"pass a function, e.g. {op}(lambda ...)")


def _check_count(op, name, value, *, minimum, fix):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise data_error(op, f"{name} must be {kind}, got {value!r}", fix)
    return int(value)


def _short(x) -> str:
    a = np.asarray(x)
    return f"{a.dtype.name}{list(a.shape)}"


def _batch_keys(d: dict) -> tuple:
    # The key order of a stacked dict: tree_util's (sorted; insertion order if unorderable).
    try:
        return tuple(sorted(d))
    except TypeError:
        return tuple(d)


def _stack_flat_dicts(examples: list):
    """``stack`` for the common case, dicts of arrays with the same keys; None otherwise."""
    first = examples[0]
    if type(first) is not dict or not all(
            isinstance(v, (np.ndarray, np.generic, int, float, complex)) for v in first.values()):
        return None
    keys = first.keys()
    if not all(type(ex) is dict and ex.keys() == keys for ex in examples):
        return None
    try:
        return {k: np.stack([ex[k] for ex in examples]) for k in _batch_keys(first)}
    except (ValueError, TypeError):  # let the general path name what does not fit
        return None


def stack(examples: list):
    """Stacks a list of examples (pytrees of arrays/scalars) leaf by leaf into one batch."""
    fast = _stack_flat_dicts(examples)
    if fast is not None:
        return fast
    leaves0, treedef = tree_util.tree_flatten(examples[0])
    columns = [[leaf] for leaf in leaves0]
    for k, ex in enumerate(examples[1:], 1):
        leaves, td = tree_util.tree_flatten(ex)
        if td != treedef:
            raise data_error("Dataset.batch", f"example {k} of the batch has structure {td}, "
                             f"but example 0 has {treedef}", "make every example the same "
                             "structure (same dict keys, same tuple lengths)")
        for col, leaf in zip(columns, leaves):
            col.append(leaf)
    out = []
    for (path, _), col in zip(tree_util.tree_flatten_with_path(examples[0])[0], columns):
        try:
            out.append(np.stack(col))
        except ValueError:
            shapes = sorted({_short(x) for x in col})
            where = tree_util.keystr(path) or "the example"
            raise data_error("Dataset.batch", f"cannot stack {where}: the examples hold "
                             f"{', '.join(shapes[:4])}", "make every example's arrays the same "
                             "shape (crop or pad them in a map before batch)") from None
    return tree_util.tree_unflatten(treedef, out)


class Dataset:
    """A data set: a sequence of examples (pytrees of NumPy arrays) built by composing steps.

    Build one from arrays or an indexable object, then chain steps; each returns a new
    ``Dataset``. ``iter(ds)`` gives a ``DatasetIterator`` whose position can be saved with
    ``get_state()`` and restored with ``set_state()``.

    Example::

        splits = funcgrad.data.datasets.load_digits()
        ds = (Dataset.from_arrays(splits["train"])
              .shuffle(seed=0)                       # a fresh order every epoch
              .repeat()                              # forever
              .random_map(augment.random_crop(1), seed=1)
              .batch(128, drop_remainder=True)
              .prefetch(2))
        it = iter(ds)
        batch = next(it)        # {"image": float32 (128, 1, 8, 8), "label": int32 (128,)}
        state = it.get_state()  # resume later with iter(ds).set_state(state)

    Determinism: the same pipeline yields the same stream in every run, whatever the
    prefetching; element ``i`` depends only on the seeds, its epoch and ``i``.
    """

    # Set by every subclass:
    #   _parent       the step before (None for a source)
    #   _random_access  whether _getitem works (a single index is then the whole state)
    #   _size         slots over all epochs; None = infinite (random access only)
    #   _epoch_len    slots per epoch; None where epochs are undefined (batch of an infinite set)
    #   _holes        whether some slots may be filtered out
    _parent: Dataset | None = None
    _random_access = True
    _holes = False

    # ---------------------------------------------------------------- sources

    @staticmethod
    def from_arrays(arrays) -> Dataset:
        """A data set whose example ``i`` is ``{key: array[i]}`` (or ``array[i]``).

        Args:
          arrays: a dict of NumPy arrays (or array-likes) with equal first dimensions, or a
            single array. The arrays are not copied; examples are read-only views into them.

        Returns:
          A random-access ``Dataset`` of ``len(array)`` examples.

        Raises:
          DataError: the arrays have different lengths (the message lists each key's length),
            the dict is empty, or an array is 0-dimensional.

        Example::

            ds = Dataset.from_arrays({"image": np.zeros((10, 1, 8, 8)), "label": np.arange(10)})
            ds[3]["label"]   # 3
        """
        return _ArraySource(arrays)

    @staticmethod
    def from_source(source) -> Dataset:
        """A data set over any object with ``__len__`` and ``__getitem__`` (indices 0..len-1).

        Args:
          source: e.g. a list, or a class reading records from disk. Its length is read once;
            ``source[i]`` must return the same example every time, and may be called from
            several threads at once when the pipeline prefetches.

        Returns:
          A random-access ``Dataset`` of ``len(source)`` examples.

        Example::

            ds = Dataset.from_source([{"x": np.float32(i)} for i in range(5)])
        """
        return _SequenceSource(source)

    @staticmethod
    def range(n: int) -> Dataset:
        """The integers ``0 .. n-1`` as a data set (handy for tests and index pipelines).

        Example::

            list(Dataset.range(3).map(lambda i: i * 10))   # [0, 10, 20]
        """
        n = _check_count("Dataset.range", "n", n, minimum=0, fix="pass a size, e.g. range(10)")
        return _SequenceSource(range(n), name=f"range({n})")

    # ---------------------------------------------------------------- steps

    def map(self, fn) -> Dataset:
        """Applies ``fn(example) -> example`` to every element.

        Args:
          fn: a function; it must not modify its input in place (examples may be views of
            the source arrays, which are read-only).

        Example::

            ds.map(lambda ex: {**ex, "image": ex["image"] * 2.0})
        """
        _check_callable("Dataset.map", fn, "fn(example) -> example")
        return _Map(self, fn) if self._random_access else _Sequential(self, "map", fn)

    def random_map(self, fn, seed=None) -> Dataset:
        """Applies ``fn(example, rng) -> example`` with a per-element ``numpy.random.Generator``.

        The generator of element ``i`` is seeded from ``SeedSequence(seed, spawn_key=(epoch,
        position))``, so the randomness depends on (seed, epoch, position) only: not on the
        order of access, the prefetching or an earlier restore. After a sequential step
        (``filter(...).batch(...)``, ``prefetch``) the key is instead the count of elements
        this step has seen.

        Args:
          fn: a function ``fn(example, rng)``, e.g. ``augment.random_crop(2)``.
          seed: a non-negative integer (required).

        Example::

            ds.random_map(lambda ex, rng: {**ex, "noise": rng.normal(size=3)}, seed=0)
        """
        op = "Dataset.random_map"
        _check_callable(op, fn, "fn(example, rng) -> example")
        seed = check_seed(op, seed, "pass a seed, e.g. ds.random_map(fn, seed=0)")
        if self._random_access:
            return _RandomMap(self, fn, seed)
        return _Sequential(self, "random_map", fn, seed)

    def filter(self, predicate) -> Dataset:
        """Keeps the elements for which ``predicate(example)`` is true.

        The length becomes unknown (``len()`` raises). Steps before the next ``batch`` keep
        random access; a later ``batch`` fills every batch from the surviving elements.

        Example::

            ds.filter(lambda ex: ex["label"] < 5)
        """
        _check_callable("Dataset.filter", predicate, "predicate(example) -> bool")
        if self._random_access:
            return _Filter(self, predicate)
        return _Sequential(self, "filter", predicate)

    def shuffle(self, seed=None) -> Dataset:
        """Permutes the elements of each epoch, with a different permutation every epoch.

        The permutation is a keyed bijection (``funcgrad.data.shuffle.IndexShuffle``):
        O(1) memory, random access, and the same on every platform. Epoch ``e`` of a
        ``repeat`` uses the permutation keyed by ``(seed, e)``, whether ``shuffle`` comes
        before or after ``repeat``.

        Args:
          seed: a non-negative integer (required).

        Raises:
          DataError: no seed, or the data set has no finite epoch (a batch of an infinite
            repeat) or is sequential (after ``filter(...).batch(...)`` or ``prefetch``).

        Example::

            ds.shuffle(seed=0).repeat(3)    # three epochs, three different orders
        """
        op = "Dataset.shuffle"
        seed = check_seed(op, seed, "pass a seed, e.g. ds.shuffle(seed=0); use the same seed "
                          "to get the same order in every run")
        self._require_epochs(op, "shuffle")
        return _Shuffle(self, seed)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> Dataset:
        """Groups consecutive elements, stacking them leaf by leaf (dict/tuple kept).

        Args:
          batch_size: examples per batch, a positive integer.
          drop_remainder: drop a last, smaller batch; use ``True`` under ``jit`` so that
            every batch has the same shape.

        Returns:
          A data set of batches: an example ``{"image": (1, 8, 8), "label": ()}`` becomes
          ``{"image": (batch_size, 1, 8, 8), "label": (batch_size,)}``. After ``repeat``,
          batches run across epoch boundaries.

        Example::

            ds.batch(128, drop_remainder=True)
        """
        op = "Dataset.batch"
        batch_size = _check_count(op, "batch_size", batch_size, minimum=1,
                                  fix="pass the number of examples per batch, e.g. ds.batch(32)")
        if self._random_access and not self._holes:
            return _Batch(self, batch_size, bool(drop_remainder))
        return _SequentialBatch(self, batch_size, bool(drop_remainder))

    def repeat(self, num_epochs: int | None = None) -> Dataset:
        """Repeats the data set ``num_epochs`` times, or forever (``None``).

        Every epoch reshuffles (the epoch enters the keys of ``shuffle`` and ``random_map``).

        Example::

            ds.shuffle(seed=0).repeat()     # an endless stream, in a new order each epoch
        """
        op = "Dataset.repeat"
        if num_epochs is not None:
            num_epochs = _check_count(op, "num_epochs", num_epochs, minimum=0,
                                      fix="pass a number of epochs, or None to repeat forever")
        self._require_epochs(op, "repeat")
        if num_epochs is None and self._epoch_len == 0:
            raise data_error(op, "repeating an empty data set forever would never yield",
                             "check the data set's source; it has no elements")
        return _Repeat(self, num_epochs)

    def shard(self, index: int, count: int, drop_remainder: bool = False) -> Dataset:
        """The part of each epoch that worker ``index`` of ``count`` reads.

        Worker ``index`` gets positions ``index, index + count, index + 2 * count, ...`` of
        every epoch; the ``count`` shards are disjoint and together cover the epoch. The step
        applies where it stands in the chain: ``shard`` *before* ``shuffle`` gives each worker
        a fixed subset that it shuffles itself; ``shard`` *after* ``shuffle`` (with the same
        seed on every worker) deals each epoch's permutation out, so the subsets change every
        epoch and stay disjoint. Both are deterministic.

        Args:
          index: this worker's rank, ``0 <= index < count``.
          count: the number of workers.
          drop_remainder: give every shard exactly ``epoch_length // count`` elements, so
            that all workers take the same number of steps.

        Example::

            ds.shard(rank, world_size).shuffle(seed=0).batch(64)
        """
        op = "Dataset.shard"
        count = _check_count(op, "count", count, minimum=1,
                             fix="pass the number of workers, e.g. ds.shard(rank, 4)")
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not (
                0 <= index < count):
            raise data_error(op, f"index {index!r} is out of range for count {count}",
                             f"pass a worker index in 0..{count - 1}, e.g. ds.shard(0, {count})")
        self._require_epochs(op, "shard")
        return _Shard(self, int(index), count, bool(drop_remainder))

    def prefetch(self, buffer_size: int = 2, num_threads: int = 1) -> Dataset:
        """Computes elements ahead on background threads; the stream is exactly the same.

        On a random-access pipeline, ``num_threads`` workers compute the next ``buffer_size``
        elements in parallel (useful when elements release the GIL, as NumPy does on large
        arrays); otherwise one thread runs the steps before. ``get_state`` records the
        position of the last element *consumed*, not produced. Prefetch settings do not enter
        the state's fingerprint, so they may change between save and restore.

        Args:
          buffer_size: how many elements to compute ahead (positive).
          num_threads: worker threads for a random-access pipeline (positive).

        Example::

            ds.batch(128).prefetch(2)
        """
        op = "Dataset.prefetch"
        buffer_size = _check_count(op, "buffer_size", buffer_size, minimum=1,
                                   fix="pass how many elements to compute ahead, e.g. 2")
        num_threads = _check_count(op, "num_threads", num_threads, minimum=1,
                                   fix="pass a number of threads, e.g. 1")
        return _Prefetch(self, buffer_size, num_threads)

    # ---------------------------------------------------------------- access

    def __iter__(self) -> _it.DatasetIterator:
        return _it.DatasetIterator(self._make_stage(), self._pipeline())

    def __len__(self) -> int:
        n = self._length()
        if n == _UNKNOWN:
            raise unknown_length_error(
                "len(Dataset)", f"the length is unknown: {self._culprit(_is_filter)} drops an "
                "unknown number of elements", "count by iterating, sum(1 for _ in ds), or "
                "take len() of the data set before filter")
        if n == _INFINITE:
            raise unknown_length_error(
                "len(Dataset)", f"the data set is infinite: {self._culprit(_is_endless)} repeats "
                "forever", "pass a number of epochs, repeat(n), or take len() before repeat")
        return n

    def __getitem__(self, index: int):
        """Random access: element ``index`` (negative indices count from the end)."""
        op = "Dataset.__getitem__"
        if not self._random_access or self._holes:
            raise data_error(op, "this data set has no random access: it contains "
                             + ("filter" if self._holes else "a sequential step "
                                "(filter(...).batch(...) or prefetch)"),
                             "iterate over it instead, or index the data set before that step")
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise data_error(op, f"expected an integer index, got {index!r}",
                             "pass an int, e.g. ds[0]")
        size = self._size
        if index < 0 and size is not None:
            index += size
        if index < 0 or (size is not None and index >= size):
            length = "an infinite data set" if size is None else f"length {size}"
            raise IndexError(f"Dataset index {index} is out of range for {length}")
        return self._getitem(int(index))

    def __repr__(self):
        return "Dataset(" + " -> ".join(self._pipeline()) + ")"

    # ---------------------------------------------------------------- internals

    def _getitem(self, i):  # random-access steps override this
        raise NotImplementedError

    def _examples(self, indices: np.ndarray) -> list:
        """The elements at these (non-negative, in range) indices: ``_getitem`` of each."""
        return [self._getitem(i) for i in indices.tolist()]

    def _gather(self, indices: np.ndarray):
        """The elements at these indices stacked into one batch (steps may vectorise it)."""
        return stack(self._examples(indices))

    def _describe(self) -> str | None:  # one step of the fingerprint; None = not included
        raise NotImplementedError

    def _pipeline(self) -> list[str]:
        steps = [] if self._parent is None else self._parent._pipeline()
        d = self._describe()
        return steps + [d] if d is not None else steps

    def _make_stage(self):
        return _it.IndexStage(self)

    def _length(self):
        if self._holes:
            return _UNKNOWN
        return _INFINITE if self._size is None else self._size

    def _culprit(self, predicate) -> str:
        ds = self
        while ds is not None and not predicate(ds):
            ds = ds._parent
        return "a step" if ds is None else ds._describe()

    def _require_epochs(self, op, what):
        if not self._random_access:
            raise data_error(op, f"{what} needs random access, but it comes after a "
                             "sequential step (filter(...).batch(...) or prefetch)",
                             f"move {what}(...) before filter/batch/prefetch in the chain")
        if self._epoch_len is None:
            raise data_error(op, f"{what} needs a finite epoch, but this data set is a batch "
                             "of an infinite repeat", f"move {what}(...) before repeat() or "
                             "batch(...) in the chain")


def _is_filter(ds):
    return isinstance(ds, _Filter) or (isinstance(ds, _Sequential) and ds.kind == "filter")


def _is_endless(ds):
    return isinstance(ds, _Repeat) and ds._num_epochs is None


# ------------------------------------------------------------------------ sources

class _ArraySource(Dataset):
    def __init__(self, arrays):
        op = "Dataset.from_arrays"
        self._single = not isinstance(arrays, dict)
        items = {"": arrays} if self._single else dict(arrays)
        if not items:
            raise data_error(op, "the dict of arrays is empty",
                             "pass e.g. {'image': images, 'label': labels}")
        views = {}
        for key, a in items.items():
            a = np.asarray(a)
            if a.ndim == 0:
                raise data_error(op, f"{'the array' if self._single else repr(key)} is a "
                                 f"0-d array ({_short(a)}); every array needs a first "
                                 "dimension that indexes examples", "pass arrays of shape "
                                 "(num_examples, ...)")
            v = a.view()
            v.flags.writeable = False  # examples are views: a map must not write into them
            views[key] = v
        lengths = {k: len(v) for k, v in views.items()}
        if len(set(lengths.values())) > 1:
            listing = ", ".join(f"{k!r}: {n}" for k, n in lengths.items())
            raise data_error(op, f"the arrays have different lengths ({listing})",
                             "give every array the same first dimension, one entry per example")
        self._arrays = views
        self._gather_keys = _batch_keys(views)  # a gathered batch is ordered like a stacked one
        self._n = self._size = self._epoch_len = next(iter(lengths.values()))

    def _getitem(self, i):
        j = i % self._n
        if self._single:
            return self._arrays[""][j]
        return {k: a[j] for k, a in self._arrays.items()}

    def _gather(self, indices):
        j = indices % self._n
        if self._single:
            return self._arrays[""][j]
        return {k: self._arrays[k][j] for k in self._gather_keys}

    def _examples(self, indices):
        # Views of one gathered batch, read-only like the views _getitem returns.
        batch = self._gather(indices)
        for a in ([batch] if self._single else batch.values()):
            a.flags.writeable = False
        if self._single:
            return list(batch)
        keys = list(self._arrays)  # each example in _getitem's key order
        return [dict(zip(keys, values)) for values in zip(*(batch[k] for k in keys))]

    def _describe(self):
        if self._single:
            return f"from_arrays({_short(self._arrays[''])})"
        return "from_arrays(" + ", ".join(f"{k}:{_short(a)}" for k, a in
                                          self._arrays.items()) + ")"


class _SequenceSource(Dataset):
    def __init__(self, source, name=None):
        op = "Dataset.from_source"
        if not (hasattr(source, "__len__") and hasattr(source, "__getitem__")):
            raise data_error(op, f"{type(source).__name__} has no __len__ and __getitem__",
                             "pass a sequence (list, array, or a class defining __len__ and "
                             "__getitem__); for a dict of arrays use Dataset.from_arrays")
        self._source = source
        self._n = self._size = self._epoch_len = len(source)
        self._name = name or f"from_source({type(source).__qualname__}, n={self._n})"

    def _getitem(self, i):
        return self._source[i % self._n]

    def _describe(self):
        return self._name


# ------------------------------------------------------------------------ random-access steps

class _Step(Dataset):
    def __init__(self, parent: Dataset):
        self._parent = parent
        self._size, self._epoch_len = parent._size, parent._epoch_len
        self._holes = parent._holes


class _Map(_Step):
    def __init__(self, parent, fn):
        super().__init__(parent)
        self._fn = fn

    def _getitem(self, i):
        x = self._parent._getitem(i)
        return x if x is _it.SKIP else self._fn(x)

    def _examples(self, indices):
        fn = self._fn
        return [x if x is _it.SKIP else fn(x) for x in self._parent._examples(indices)]

    def _describe(self):
        return f"map({_fn_name(self._fn)})"


def _epoch_position(i, epoch_len):
    return divmod(i, epoch_len) if epoch_len else (0, i)


class _RandomMap(_Step):
    def __init__(self, parent, fn, seed):
        super().__init__(parent)
        self._fn, self._seed = fn, seed
        self._generators = KeyedGenerators(seed)

    def _getitem(self, i):
        x = self._parent._getitem(i)
        if x is _it.SKIP:
            return x
        key = _epoch_position(i, self._epoch_len)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self._seed,
                                                                         spawn_key=key)))
        return self._fn(x, rng)

    def _examples(self, indices):
        xs = self._parent._examples(indices)
        if self._epoch_len:
            keys = np.stack(np.divmod(indices, self._epoch_len), axis=1)
        else:
            keys = np.stack([np.zeros_like(indices), indices], axis=1)
        rngs = self._generators.generators(keys)
        fn = self._fn
        return [x if x is _it.SKIP else fn(x, rng) for x, rng in zip(xs, rngs)]

    def _describe(self):
        return f"random_map({_fn_name(self._fn)}, seed={self._seed})"


class _Filter(_Step):
    def __init__(self, parent, predicate):
        super().__init__(parent)
        self._pred = predicate
        self._holes = True

    def _getitem(self, i):
        x = self._parent._getitem(i)
        return x if x is _it.SKIP or self._pred(x) else _it.SKIP

    def _describe(self):
        return f"filter({_fn_name(self._pred)})"


class _Shuffle(_Step):
    def __init__(self, parent, seed):
        super().__init__(parent)
        self._seed, self._perms, self._tables = seed, {}, {}

    def _permutation(self, epoch):
        # Round keys of the last few epochs (prefetch threads may straddle an epoch boundary).
        perm = self._perms.get(epoch)
        if perm is None:
            if len(self._perms) >= 4:
                self._perms.clear()
            perm = self._perms[epoch] = IndexShuffle(self._epoch_len, self._seed, epoch)
        return perm

    def _getitem(self, i):
        epoch, pos = divmod(i, self._epoch_len)
        return self._parent._getitem(epoch * self._epoch_len + self._permutation(epoch)(pos))

    def _table(self, epoch):
        # The whole permutation of an epoch: one array pass, then a look-up per element.
        table = self._tables.get(epoch)
        if table is None:
            if len(self._tables) >= 4:
                self._tables.clear()
            table = self._tables[epoch] = self._permutation(epoch).to_array()
        return table

    def _source_indices(self, indices):
        n = self._epoch_len
        epochs, positions = np.divmod(indices, n)
        out = np.empty_like(indices)
        for epoch in np.unique(epochs).tolist():  # a batch spans one or two epochs
            at = epochs == epoch
            out[at] = self._table(epoch)[positions[at]] if n <= _TABLE_MAX else (
                self._permutation(epoch).positions_to_indices(positions[at]))
        return epochs * n + out

    def _examples(self, indices):
        return self._parent._examples(self._source_indices(indices))

    def _gather(self, indices):
        return self._parent._gather(self._source_indices(indices))

    def _describe(self):
        return f"shuffle(seed={self._seed})"


class _Repeat(_Step):
    def __init__(self, parent, num_epochs):
        super().__init__(parent)
        self._num_epochs = num_epochs
        self._size = None if num_epochs is None or parent._size is None else (
            parent._size * num_epochs)

    def _getitem(self, i):
        return self._parent._getitem(i)  # indices past the parent's size are its later epochs

    def _examples(self, indices):
        return self._parent._examples(indices)

    def _gather(self, indices):
        return self._parent._gather(indices)

    def _describe(self):
        return f"repeat({self._num_epochs})"


class _Shard(_Step):
    def __init__(self, parent, index, count, drop_remainder):
        super().__init__(parent)
        self._index, self._count, self._drop = index, count, drop_remainder
        n = parent._epoch_len
        self._epoch_len = n // count if drop_remainder else len(range(index, n, count))
        self._size = None if parent._size is None else (
            parent._size // n * self._epoch_len if n else 0)

    def _getitem(self, i):
        epoch, pos = divmod(i, self._epoch_len)
        return self._parent._getitem(epoch * self._parent._epoch_len + self._index
                                     + pos * self._count)

    def _source_indices(self, indices):
        epochs, positions = np.divmod(indices, self._epoch_len)
        return epochs * self._parent._epoch_len + self._index + positions * self._count

    def _examples(self, indices):
        return self._parent._examples(self._source_indices(indices))

    def _gather(self, indices):
        return self._parent._gather(self._source_indices(indices))

    def _describe(self):
        return f"shard({self._index}, {self._count}, drop_remainder={self._drop})"


class _Batch(_Step):
    """Batch ``j`` holds elements ``[j * b, (j + 1) * b)`` of the parent, cut at its end."""

    def __init__(self, parent, batch_size, drop_remainder):
        super().__init__(parent)
        self._b, self._drop = batch_size, drop_remainder
        s = parent._size
        if s is None:
            self._size = self._epoch_len = None
        else:
            self._size = self._epoch_len = s // batch_size if drop_remainder else (
                -(-s // batch_size))

    def _getitem(self, j):
        b, s = self._b, self._parent._size
        if s is None:
            start, stop = j * b, (j + 1) * b
        else:  # j past the end: the parent's later epochs, as for any index
            epoch, jj = divmod(j, self._epoch_len)
            start, stop = epoch * s + jj * b, epoch * s + min((jj + 1) * b, s)
        if _VECTORISED:
            return self._parent._gather(np.arange(start, stop, dtype=np.int64))
        return stack([self._parent._getitem(k) for k in range(start, stop)])

    def _describe(self):
        return f"batch({self._b}, drop_remainder={self._drop})"


# ------------------------------------------------------------------------ sequential steps

class _SequentialBase(Dataset):
    _random_access = False
    _size = _epoch_len = None

    def __init__(self, parent):
        self._parent = parent


class _Sequential(_SequentialBase):
    """map / random_map / filter after a sequential step."""

    def __init__(self, parent, kind, fn, seed=None):
        super().__init__(parent)
        self.kind, self._fn, self._seed = kind, fn, seed

    def _make_stage(self):
        parent = self._parent._make_stage()
        if self.kind == "map":
            return _it.MapStage(parent, self._fn)
        if self.kind == "filter":
            return _it.FilterStage(parent, self._fn)
        return _it.RandomMapStage(parent, self._fn, self._seed)

    def _length(self):
        return _UNKNOWN if self.kind == "filter" else self._parent._length()

    def _describe(self):
        seed = "" if self._seed is None else f", seed={self._seed}"
        return f"{self.kind}({_fn_name(self._fn)}{seed})"


class _SequentialBatch(_SequentialBase):
    """batch after filter or a sequential step: every batch is full (except perhaps the last)."""

    def __init__(self, parent, batch_size, drop_remainder):
        super().__init__(parent)
        self._b, self._drop = batch_size, drop_remainder

    def _make_stage(self):
        return _it.BatchStage(self._parent._make_stage(), self._b, self._drop, stack)

    def _length(self):
        n = self._parent._length()
        if not isinstance(n, int):
            return n
        return n // self._b if self._drop else -(-n // self._b)

    def _describe(self):
        return f"batch({self._b}, drop_remainder={self._drop})"


class _Prefetch(_SequentialBase):
    def __init__(self, parent, buffer_size, num_threads):
        super().__init__(parent)
        self._buffer, self._threads = buffer_size, num_threads

    def _make_stage(self):
        p = self._parent
        if p._random_access:
            return _it.PrefetchIndexStage(p, self._buffer, self._threads)
        return _it.PrefetchStage(p._make_stage(), self._buffer)

    def _length(self):
        return self._parent._length()

    def _describe(self):
        return None  # prefetching never changes the stream
