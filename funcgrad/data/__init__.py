"""funcgrad.data: a functional, deterministic, resumable input pipeline on the host (NumPy only).

Element ``i`` of a pipeline depends only on its seeds, its epoch and ``i``, so a stream is the
same in every run and whatever the prefetching, and an iterator's position is a few integers
(``get_state`` / ``set_state``)::

    from funcgrad.data import Dataset, augment, datasets

    splits = datasets.load_digits()
    ds = (Dataset.from_arrays(splits["train"]).shuffle(seed=0).repeat()
          .random_map(augment.random_crop(1), seed=1)
          .batch(128, drop_remainder=True).prefetch(2))
    it = iter(ds)
    batch = next(it)            # {"image": float32 (128, 1, 8, 8), "label": int32 (128,)}
    state = it.get_state()      # JSON-able; iter(ds).set_state(state) resumes exactly

The pipeline is never traced and does not import numba.
"""
from funcgrad.data import augment, datasets  # noqa: F401
from funcgrad.data.dataset import Dataset  # noqa: F401
from funcgrad.data.errors import DataError, UnknownLengthError  # noqa: F401
from funcgrad.data.iterator import DatasetIterator  # noqa: F401
from funcgrad.data.shuffle import IndexShuffle, index_shuffle  # noqa: F401

__all__ = ["Dataset", "DatasetIterator", "DataError", "UnknownLengthError", "IndexShuffle",
           "index_shuffle", "augment", "datasets"]
