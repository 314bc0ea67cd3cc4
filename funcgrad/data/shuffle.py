"""A keyed bijection on ``[0, n)``: the permutation behind ``Dataset.shuffle``.

Why not ``rng.permutation(n)``: that needs O(n) memory per epoch and must be computed in full
before the first element. A Feistel network is a bijection on ``[0, 4**k)`` for any round
function, so ``index_shuffle(i, n, seed, epoch)`` maps one position to its source index in
O(1) memory and expected O(1) time (cycle walking: re-apply the network until the value falls
inside ``[0, n)``; ``4**k < 4 * n`` so this takes fewer than 4 steps on average). The round
function is splitmix64 on Python ints, so the order is the same on every platform and NumPy
version (a golden test pins it). ``IndexShuffle.positions_to_indices`` runs the same network on
a NumPy uint64 array (wrap-around multiplication is the same arithmetic mod 2**64), so a whole
batch, or a whole epoch, is mapped in a few dozen array operations with identical results.
"""
from __future__ import annotations

import numbers

import numpy as np

from funcgrad.data.errors import data_error

_MASK64 = (1 << 64) - 1
_ROUNDS = 6  # Luby-Rackoff: 4 rounds already give a pseudorandom permutation; 6 for margin


def _mix64(x: int) -> int:
    # splitmix64's finaliser: a cheap, well-tested 64-bit avalanche.
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _mix64_array(x: np.ndarray) -> np.ndarray:
    # _mix64 on a uint64 array: NumPy's uint64 arithmetic wraps modulo 2**64, like `& _MASK64`.
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _round_keys(seed: int, epoch: int) -> tuple[int, ...]:
    key = _mix64(_mix64(seed & _MASK64) ^ (epoch & _MASK64))
    return tuple(_mix64(key ^ r) for r in range(_ROUNDS))


def _half_bits(n: int) -> int:
    # Smallest k >= 1 with 4**k >= n: each Feistel half holds k bits.
    return max(1, ((n - 1).bit_length() + 1) // 2)


class IndexShuffle:
    """The permutation of ``[0, n)`` for one ``(seed, epoch)``, as a callable ``position -> index``.

    Round keys are computed once, so mapping many positions of one epoch is cheap.

    Args:
      n: the size of the permuted range (``n >= 0``).
      seed: a non-negative integer.
      epoch: a non-negative integer; each epoch gives an independent permutation.

    Example::

        perm = IndexShuffle(10, seed=0, epoch=0)
        sorted(perm(i) for i in range(10)) == list(range(10))   # True
    """

    __slots__ = ("n", "_bits", "_mask", "_keys")

    def __init__(self, n: int, seed: int, epoch: int = 0):
        self.n = n
        self._bits = _half_bits(n) if n > 1 else 1
        self._mask = (1 << self._bits) - 1
        self._keys = _round_keys(seed, epoch)

    def __call__(self, position: int) -> int:
        n = self.n
        if not 0 <= position < n:
            raise IndexError(f"index_shuffle: position {position} is outside [0, {n})")
        if n == 1:
            return 0
        bits, mask, keys = self._bits, self._mask, self._keys
        x = position
        while True:
            left, right = x >> bits, x & mask
            for k in keys:
                left, right = right, left ^ (_mix64(k ^ right) & mask)
            x = (left << bits) | right
            if x < n:  # cycle walking: the walk stays on the cycle through `position`
                return x

    def positions_to_indices(self, positions) -> np.ndarray:
        """``self(p)`` for every ``p`` of an integer array, vectorised; returns int64 indices.

        Example::

            perm = IndexShuffle(10, seed=0)
            perm.positions_to_indices(np.arange(10)).tolist() == [perm(p) for p in range(10)]
        """
        positions = np.asarray(positions)
        n = self.n
        if positions.size and (positions.min() < 0 or positions.max() >= n):
            bad = positions[(positions < 0) | (positions >= n)].flat[0]
            raise IndexError(f"index_shuffle: position {bad} is outside [0, {n})")
        if n <= 1:
            return np.zeros(positions.shape, np.int64)
        x = self._feistel(positions.astype(np.uint64))
        walking = x >= n
        while walking.any():  # cycle walking, only for the values still outside [0, n)
            x[walking] = self._feistel(x[walking])
            walking = x >= n
        return x.astype(np.int64)

    def to_array(self) -> np.ndarray:
        """The whole permutation as an int64 array: ``to_array()[p] == self(p)``; O(n) memory.

        One pass of the network over its whole domain ``[0, 4**k)`` (fewer than ``4 * n``
        values), then cycle walking by table look-ups.

        Example::

            IndexShuffle(10, seed=0).to_array().tolist()   # [8, 4, 6, 3, 9, 1, 0, 2, 5, 7]
        """
        n = self.n
        if n <= 1:
            return np.zeros(n, np.int64)
        step = self._feistel(np.arange(1 << (2 * self._bits), dtype=np.uint64)).astype(np.int64)
        x = step[:n].copy()
        walking = np.flatnonzero(x >= n)
        while walking.size:
            x[walking] = step[x[walking]]
            walking = walking[x[walking] >= n]
        return x

    def _feistel(self, x: np.ndarray) -> np.ndarray:
        bits, mask = np.uint64(self._bits), np.uint64(self._mask)
        left, right = x >> bits, x & mask
        for k in self._keys:
            left, right = right, left ^ (_mix64_array(np.uint64(k) ^ right) & mask)
        return (left << bits) | right


def index_shuffle(position: int, n: int, seed: int, epoch: int = 0) -> int:
    """The index that ``position`` maps to in epoch ``epoch``'s permutation of ``[0, n)``.

    Args:
      position: an integer in ``[0, n)``.
      n: the size of the permuted range.
      seed: a non-negative integer.
      epoch: a non-negative integer; each epoch gives an independent permutation.

    Returns:
      An integer in ``[0, n)``; over all positions, each index appears exactly once.

    Example::

        [index_shuffle(i, 5, seed=0) for i in range(5)]   # a permutation of 0..4

    See also: ``Dataset.shuffle``, which applies this permutation to a data set.
    """
    return IndexShuffle(n, seed, epoch)(position)


def check_seed(op: str, seed, fix: str):
    """Returns ``seed`` as an int, or raises the DataError that names ``op`` and the fix."""
    if seed is None:
        raise data_error(op, "no seed was given; the order and randomness of a funcgrad.data "
                         "pipeline are fixed by explicit seeds, never by global state", fix)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise data_error(op, f"seed must be a non-negative integer, got {seed!r} "
                         f"({type(seed).__name__})", fix)
    return int(seed)
