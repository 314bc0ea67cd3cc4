"""A keyed bijection on ``[0, n)``: the permutation behind ``Dataset.shuffle``.

Why not ``rng.permutation(n)``: that needs O(n) memory per epoch and must be computed in full
before the first element. A Feistel network is a bijection on ``[0, 4**k)`` for any round
function, so ``index_shuffle(i, n, seed, epoch)`` maps one position to its source index in
O(1) memory and expected O(1) time (cycle walking: re-apply the network until the value falls
inside ``[0, n)``; ``4**k < 4 * n`` so this takes fewer than 4 steps on average). The round
function is splitmix64 on Python ints, so the order is the same on every platform and NumPy
version (a golden test pins it).
"""
from __future__ import annotations

import numbers

from funcgrad.data.errors import data_error

_MASK64 = (1 << 64) - 1
_ROUNDS = 6  # Luby-Rackoff: 4 rounds already give a pseudorandom permutation; 6 for margin


def _mix64(x: int) -> int:
    # splitmix64's finaliser: a cheap, well-tested 64-bit avalanche.
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


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
