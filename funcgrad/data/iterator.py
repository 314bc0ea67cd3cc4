"""Iteration over a ``Dataset``: ``DatasetIterator`` and the per-step stages behind it.

A pipeline is iterated by a chain of small stages, one per sequential step. A random-access
part of the pipeline (everything up to the first ``filter(...).batch(...)`` or ``prefetch``) is a
single stage whose whole state is the next index into it, ``{"index": i}``: the epoch is
``i // epoch_length``, so nothing else is needed. Sequential steps wrap their parent's state
(a ``random_map`` after a sequential step adds the count of elements it has seen).
Prefetching stages report the state *after the last consumed element*, which has exactly the
shape the same pipeline without prefetch reports.
"""
from __future__ import annotations

import collections
import difflib
import hashlib
import json
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from funcgrad.data.errors import data_error

SKIP = object()  # what a filtered-out slot of a random-access data set holds

STATE_VERSION = 1
_STATE_FIX = ("restore a state taken from an iterator of this same pipeline "
              "(same steps and parameters; prefetch settings may differ)")


def _bad_position(what):
    return data_error("DatasetIterator.set_state", f"the state's position {what}", _STATE_FIX)


def _int_field(state, key, lo=0, hi=None):
    value = state.get(key) if isinstance(state, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (
            hi is not None and value > hi):
        bound = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        raise _bad_position(f"{state!r} needs {key!r} to be {bound}")
    return value


class IndexStage:
    """Walks a random-access data set in index order, skipping filtered-out slots."""

    def __init__(self, ds):
        self.ds, self.index = ds, 0

    def next(self):
        ds, size = self.ds, self.ds._size
        while size is None or self.index < size:
            x = ds._getitem(self.index)
            self.index += 1  # only after success: a failing element is retried, not skipped
            if x is not SKIP:
                return x
        raise StopIteration

    def state(self):
        return {"index": self.index}

    def restore(self, state):
        self.index = _int_field(state, "index", 0, self.ds._size)

    def close(self, wait=True):
        pass


class PrefetchIndexStage(IndexStage):
    """``IndexStage`` with elements computed ahead, in order, on a pool of threads.

    Random access lets every worker compute any index, so the order and values cannot
    depend on the number of threads; ``index`` only advances as elements are consumed.
    """

    def __init__(self, ds, buffer_size, num_threads):
        super().__init__(ds)
        self.buffer_size, self.num_threads = buffer_size, num_threads
        self._pool = None
        self._pending = collections.deque()  # (index, future), in index order
        self._submitted = 0

    def next(self):
        size = self.ds._size
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="fg-prefetch")
            self._submitted = self.index
        while True:
            while len(self._pending) < self.buffer_size and (
                    size is None or self._submitted < size):
                i = self._submitted
                self._pending.append((i, self._pool.submit(self.ds._getitem, i)))
                self._submitted += 1
            if not self._pending:
                raise StopIteration
            i, future = self._pending[0]
            x = future.result()  # re-raises a worker's exception, at the right position
            self._pending.popleft()
            self.index = i + 1
            if x is not SKIP:
                return x

    def restore(self, state):
        index = _int_field(state, "index", 0, self.ds._size)
        self._drop_pending()
        self.index = self._submitted = index

    def _drop_pending(self):
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()

    def close(self, wait=True):
        self._drop_pending()
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None


class MapStage:
    """``map(fn)`` after a sequential step."""

    def __init__(self, parent, fn):
        self.parent, self.fn = parent, fn

    def next(self):
        return self.fn(self.parent.next())

    def state(self):
        return self.parent.state()

    def restore(self, state):
        self.parent.restore(state)

    def close(self, wait=True):
        self.parent.close(wait)


class FilterStage(MapStage):
    def next(self):
        while True:
            x = self.parent.next()
            if self.fn(x):
                return x


class RandomMapStage(MapStage):
    """``random_map`` after a sequential step: the rng is keyed by the count of inputs seen."""

    def __init__(self, parent, fn, seed):
        super().__init__(parent, fn)
        self.seed, self.count = seed, 0

    def next(self):
        x = self.parent.next()
        rng = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(self.seed, spawn_key=(self.count,))))
        self.count += 1
        return self.fn(x, rng)

    def state(self):
        return {"count": self.count, "parent": self.parent.state()}

    def restore(self, state):
        count = _int_field(state, "count")
        if "parent" not in state:
            raise _bad_position(f"{state!r} has no 'parent' entry")
        self.parent.restore(state["parent"])
        self.count = count


class BatchStage:
    """``batch`` after ``filter`` or another sequential step: groups the next elements.

    A batch is consumed whole, so the parent's state between batches is this stage's state.
    """

    def __init__(self, parent, batch_size, drop_remainder, stack):
        self.parent, self.batch_size, self.drop_remainder = parent, batch_size, drop_remainder
        self.stack = stack

    def next(self):
        items = []
        while len(items) < self.batch_size:
            try:
                items.append(self.parent.next())
            except StopIteration:
                break
        if not items or (self.drop_remainder and len(items) < self.batch_size):
            raise StopIteration
        return self.stack(items)

    def state(self):
        return self.parent.state()

    def restore(self, state):
        self.parent.restore(state)

    def close(self, wait=True):
        self.parent.close(wait)


_END = object()


class PrefetchStage:
    """Runs a sequential parent stage on a background thread, ``buffer_size`` elements ahead.

    Each element travels with the parent's state just after it, so ``state()`` is the state
    after the last *consumed* element. The thread starts at the first ``next()``, and stops
    before ``restore`` touches the parent.
    """

    def __init__(self, parent, buffer_size):
        self.parent, self.buffer_size = parent, buffer_size
        self._state = parent.state()
        self._thread = None
        self._queue = None
        self._stop = None
        self._done = False

    def _produce(self, q, stop):
        while not stop.is_set():
            try:
                item = (self.parent.next(), self.parent.state(), None)
            except StopIteration:
                item = (_END, None, None)
            except BaseException as e:  # handed to the consumer, raised at its position
                item = (_END, None, e)
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
            if item[0] is _END:
                return

    def next(self):
        if self._done:
            raise StopIteration
        if self._thread is None:
            self._queue, self._stop = queue.Queue(self.buffer_size), threading.Event()
            self._thread = threading.Thread(target=self._produce, args=(self._queue, self._stop),
                                            name="fg-prefetch", daemon=True)
            self._thread.start()
        x, state, error = self._queue.get()
        if x is _END:
            self._stop_thread()
            if error is not None:
                raise error
            self._done = True
            raise StopIteration
        self._state = state
        return x

    def state(self):
        return self._state

    def _stop_thread(self):
        if self._thread is not None:
            self._stop.set()
            try:  # make room, so that a producer blocked on a full queue sees the stop at once
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join()
            self._thread = None
            # The thread ran ahead of the consumer: rewind to the last consumed element, so a
            # later next() (after close() or an error) continues from there.
            self.parent.restore(self._state)

    def restore(self, state):
        self._stop_thread()
        self.parent.restore(state)
        self._state, self._done = self.parent.state(), False

    def close(self, wait=True):
        self._stop_thread()
        self.parent.close(wait)


def fingerprint(pipeline: list[str]) -> str:
    """A short hash of a pipeline's description (its steps and their parameters)."""
    return hashlib.sha256(json.dumps(pipeline).encode()).hexdigest()[:16]


class DatasetIterator:
    """An iterator over a ``Dataset`` whose position can be saved and restored exactly.

    Created by ``iter(dataset)``. ``get_state()`` returns a small JSON-able dict; passing it to
    ``set_state`` on an iterator of the same pipeline (in this process or another one)
    continues with exactly the elements that would have followed, mid-epoch included.

    Example::

        it = iter(ds)
        next(it)
        state = it.get_state()          # {"version": 1, "fingerprint": ..., "position": ...}
        a = next(it)
        it2 = iter(ds)
        it2.set_state(state)
        b = next(it2)                   # equal to a

    If computing an element raises, the iterator stays where it was: the next call computes
    that element again (drop bad elements with ``filter`` instead).

    The iterator holds background threads when the pipeline prefetches; ``close()`` (or a
    ``with`` block) stops them early, otherwise they stop when the iterator is collected.
    """

    def __init__(self, stage, pipeline: list[str]):
        self._stage, self._pipeline = stage, pipeline
        self._fingerprint = fingerprint(pipeline)

    def __iter__(self):
        return self

    def __next__(self):
        # An element that raises is retried by the next call, as if the call had not happened:
        # sequential steps may have consumed inputs before the error, so rewind them.
        state = self._stage.state()
        try:
            return self._stage.next()
        except StopIteration:
            raise
        except BaseException:
            self._stage.restore(state)
            raise

    def get_state(self) -> dict:
        """The position after the last element returned, as a JSON-able dict.

        Returns:
          ``{"version", "fingerprint", "pipeline", "position"}``: ``pipeline`` lists the steps
          (so a mismatch can be explained), ``position`` is a few integers.
        """
        return {"version": STATE_VERSION, "fingerprint": self._fingerprint,
                "pipeline": list(self._pipeline), "position": self._stage.state()}

    def set_state(self, state: dict) -> None:
        """Moves the iterator to ``state``, taken by ``get_state`` of the same pipeline.

        Args:
          state: a dict from ``get_state`` (possibly after a JSON round trip).

        Raises:
          DataError: the state comes from a different pipeline (the message names the steps
            that differ) or is malformed.
        """
        op = "DatasetIterator.set_state"
        if not isinstance(state, dict) or not {"version", "fingerprint", "position"} <= set(
                state):
            raise data_error(op, f"expected a dict from DatasetIterator.get_state(), with keys "
                             f"version, fingerprint, pipeline and position; got {state!r:.200}",
                             _STATE_FIX)
        if state["version"] != STATE_VERSION:
            raise data_error(op, f"the state has version {state['version']!r}; this funcgrad "
                             f"reads version {STATE_VERSION}", _STATE_FIX)
        theirs = state.get("pipeline")
        if state["fingerprint"] != self._fingerprint or (
                theirs is not None and list(theirs) != self._pipeline):
            raise data_error(op, "the state comes from a different pipeline: "
                             + _describe_difference(theirs, self._pipeline), _STATE_FIX)
        self._stage.restore(state["position"])

    def close(self) -> None:
        """Stops any prefetching threads; the iterator can still be restored and resumed."""
        self._stage.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self._stage.close(wait=False)
        except Exception:  # noqa: BLE001  (interpreter shutdown: nothing left to stop)
            pass


def _describe_difference(theirs, ours) -> str:
    if not isinstance(theirs, list):
        return ("its fingerprint differs, and it carries no step list; this pipeline is "
                + " -> ".join(ours))
    diffs = []
    matcher = difflib.SequenceMatcher(a=theirs, b=ours, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:
            diffs += [f"step {j} is {theirs[i]} in the state but {ours[j]} in this pipeline"
                      for i, j in zip(range(i1, i2), range(j1, j2))]
        elif tag != "equal":
            if i2 > i1:
                diffs.append(f"the state has {', '.join(theirs[i1:i2])} at step {i1}, which "
                             "this pipeline lacks")
            if j2 > j1:
                diffs.append(f"this pipeline has {', '.join(ours[j1:j2])} at step {j1}, which "
                             "the state lacks")
    return "; ".join(diffs) if diffs else "the fingerprints differ"
