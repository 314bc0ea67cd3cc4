"""Per-element generators for ``random_map``, for a whole batch at once, with the same streams.

``random_map`` gives element ``(epoch, position)`` the generator
``Generator(PCG64(SeedSequence(seed, spawn_key=(epoch, position))))``. Built one by one, the
``SeedSequence`` costs most of that (about 15 us per element). But its pool mixes the entropy
words in order with data-independent hash constants, and the spawn key comes last: the pool
after the seed's words is the same for every element of a step. ``KeyedGenerators`` mixes it
once, then mixes the two key words and derives PCG64's four seed words for a whole batch with
uint32 array arithmetic. A tiny ``ISeedSequence`` hands those words to ``PCG64``, which seeds
itself exactly as from the real ``SeedSequence`` (the algorithm is NumPy's documented,
version-stable ``SeedSequence``; the tests compare against it).
"""
from __future__ import annotations

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

# numpy.random.SeedSequence's constants (O'Neill's seed_seq_fe), pool of four uint32 words.
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = 16
_MASK32 = 0xFFFFFFFF


def _int_words(n: int) -> list[int]:
    # SeedSequence's coercion of a non-negative int: little-endian uint32 words, [0] for 0.
    words = [n & _MASK32]
    n >>= 32
    while n:
        words.append(n & _MASK32)
        n >>= 32
    return words


class _HashConst:
    """The running hash constant of ``hashmix``: its sequence does not depend on the data."""

    def __init__(self, init, mult):
        self.value, self.mult = init, mult

    def next(self) -> tuple[int, int]:
        # (constant to xor with, constant to multiply by) for the next hashmix
        before = self.value
        self.value = (self.value * self.mult) & _MASK32
        return before, self.value


def _hashmix(value: int, hc: _HashConst) -> int:
    xor, mul = hc.next()
    value = ((value ^ xor) * mul) & _MASK32
    return value ^ (value >> _XSHIFT)


def _mix(x: int, y: int) -> int:
    r = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return r ^ (r >> _XSHIFT)


def _hashmix_rows(value: np.ndarray, hc: _HashConst, rows: int) -> np.ndarray:
    # `rows` successive hashmix calls on the same values, as one (rows, n) array operation.
    xors, muls = zip(*(hc.next() for _ in range(rows)))
    value = (value ^ np.array(xors, np.uint32)[:, None]) * np.array(muls, np.uint32)[:, None]
    return value ^ (value >> np.uint32(_XSHIFT))


class _SeedWords(ISpawnableSeedSequence):
    """Stands in for ``SeedSequence(seed, spawn_key=key)``, whose PCG64 words are known.

    Anything else asked of it (other ``generate_state`` calls, ``spawn``, ``entropy``, ...)
    goes to that real ``SeedSequence``, built on first use.
    """

    __slots__ = ("_words", "_seed", "_key", "_real")

    def __init__(self, words, seed, key):
        self._words, self._seed, self._key, self._real = words, seed, key, None

    def _sequence(self):
        if self._real is None:
            self._real = np.random.SeedSequence(self._seed, spawn_key=self._key)
        return self._real

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words == 4 and np.dtype(dtype) == np.uint64:
            return self._words
        return self._sequence().generate_state(n_words, dtype)

    def spawn(self, n_children):
        return self._sequence().spawn(n_children)

    def __getattr__(self, name):
        return getattr(self._sequence(), name)


class KeyedGenerators:
    """``generators(keys)``: ``Generator(PCG64(SeedSequence(seed, spawn_key=key)))`` per key.

    Args:
      seed: the step's seed, a non-negative integer.

    Example::

        gens = KeyedGenerators(7).generators(np.array([[0, 3], [1, 4]]))
        # gens[1] draws what Generator(PCG64(SeedSequence(7, spawn_key=(1, 4)))) draws
    """

    def __init__(self, seed: int):
        self.seed = seed
        words = _int_words(seed)
        # A spawn key is present, so the seed's words are padded with zeros to the pool size.
        words += [0] * (_POOL_SIZE - len(words))
        hc = _HashConst(_INIT_A, _MULT_A)
        pool = [_hashmix(w, hc) for w in words[:_POOL_SIZE]]
        for i_src in range(_POOL_SIZE):
            for i_dst in range(_POOL_SIZE):
                if i_src != i_dst:
                    pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], hc))
        for w in words[_POOL_SIZE:]:
            for i_dst in range(_POOL_SIZE):
                pool[i_dst] = _mix(pool[i_dst], _hashmix(w, hc))
        self._pool, self._hash_const = pool, hc.value

    def seed_words(self, keys: np.ndarray) -> np.ndarray:
        """PCG64's four uint64 seed words for each row ``(epoch, position)`` of ``keys``.

        Every key entry must be below ``2**32`` (one entropy word each, as SeedSequence
        coerces it).
        """
        words = np.asarray(keys).astype(np.uint32).T  # (key words, n)
        hc = _HashConst(self._hash_const, _MULT_A)
        pool = np.repeat(np.array(self._pool, np.uint32)[:, None], words.shape[1], axis=1)
        for word in words:  # each pool word mixes with its own hashmix of the key word
            y = _hashmix_rows(word[None, :], hc, _POOL_SIZE)
            pool = np.uint32(_MIX_MULT_L) * pool - np.uint32(_MIX_MULT_R) * y
            pool ^= pool >> np.uint32(_XSHIFT)
        # generate_state(4, uint64): eight uint32 words cycling over the pool, paired low-high.
        out = _hashmix_rows(np.concatenate([pool, pool]), _HashConst(_INIT_B, _MULT_B), 8)
        out = out.astype(np.uint64)
        words64 = np.ascontiguousarray((out[0::2] | (out[1::2] << np.uint64(32))).T)
        words64.flags.writeable = False  # rows are handed out as they are, never copied
        return words64

    def generators(self, keys) -> list[np.random.Generator]:
        keys = np.asarray(keys, np.int64).reshape(-1, 2)
        if keys.size and (keys.min() < 0 or keys.max() > _MASK32):  # several words per entry
            return [np.random.Generator(np.random.PCG64(np.random.SeedSequence(
                self.seed, spawn_key=(int(e), int(p))))) for e, p in keys]
        words = self.seed_words(keys)
        return [np.random.Generator(np.random.PCG64(_SeedWords(w, self.seed, (int(e), int(p)))))
                for w, (e, p) in zip(words, keys.tolist())]
