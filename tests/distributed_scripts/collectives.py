"""Run under mpirun: every collective on pytrees of several dtypes, checked on each process."""
import numpy as np

import funcgrad as fg
from funcgrad import distributed as dist

dist.initialize(timeout=60)
r, n = dist.process_index(), dist.process_count()
assert n >= 2, n

DTYPES = (np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.complex64)


def local(rank):
    # Values depend on the rank, so every result is predictable from the formula.
    tree = {f"x_{np.dtype(d).name}": (np.arange(6).reshape(2, 3) + rank).astype(d)
            for d in DTYPES}
    tree["nested"] = [fg.numpy.ones((2,), dtype="float32") * (rank + 1),
                      (np.int64(rank), np.float32(0.5 * rank))]
    return tree


def check(name, got, want):
    gl, gt = fg.tree_util.tree_flatten(got)
    wl, wt = fg.tree_util.tree_flatten(want)
    assert gt == wt, (name, gt, wt)
    for g, w in zip(gl, wl):
        assert type(g) is (fg.Array if isinstance(w, fg.Array) else np.ndarray), (name, type(g))
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (name, g.dtype, w.dtype, g.shape)
        np.testing.assert_allclose(g, w, rtol=1e-6, err_msg=name)


mine = local(r)
everyone = [local(k) for k in range(n)]
stack = lambda *xs: np.stack([np.asarray(x) for x in xs])
rewrap = lambda like, v: fg.Array(v) if isinstance(like, fg.Array) else np.asarray(v)

want_sum = fg.tree_util.tree_map(
    lambda like, *xs: rewrap(like, stack(*xs).sum(0).astype(np.asarray(like).dtype)),
    mine, *everyone)
dist.reset_comm_stats()
check("psum", dist.psum(mine), want_sum)
# One fused buffer and one Allreduce per dtype, not one per leaf.
n_dtypes = len({np.asarray(x).dtype for x in fg.tree_util.tree_leaves(mine)})
assert dist.comm_stats()["allreduce_calls"] == n_dtypes, (dist.comm_stats(), n_dtypes)

floats = {k: v for k, v in mine.items() if k.startswith(("x_float", "x_complex"))}
want_mean = {k: (stack(*[e[k] for e in everyone]).mean(0)).astype(v.dtype)
             for k, v in floats.items()}
check("pmean", dist.pmean(floats), want_mean)

check("all_gather", dist.all_gather(mine),
      fg.tree_util.tree_map(lambda like, *xs: rewrap(like, stack(*xs)), mine, *everyone))
tiled = {k: v for k, v in mine.items() if k.startswith("x_")}
check("all_gather tiled", dist.all_gather(tiled, tiled=True),
      {k: np.concatenate([e[k] for e in everyone]) for k in tiled})

for root in range(n):
    check(f"broadcast root {root}", dist.broadcast(mine, root=root), everyone[root])
assert dist.broadcast_object({"rank": r, "s": "x" * r}, root=n - 1) == {
    "rank": n - 1, "s": "x" * (n - 1)}

grads = {"w": np.full((4, 3), r, np.float32), "b": np.full(3, 2.0 * r, np.float32)}
dist.reset_comm_stats()
avg, loss = dist.average_gradients(grads, np.float32(r))
assert dist.comm_stats() == {**dist.comm_stats(), "allreduce_calls": 1,
                             "allreduce_bytes": (12 + 3 + 1) * 4}, dist.comm_stats()
np.testing.assert_allclose(avg["w"], np.full((4, 3), (n - 1) / 2))
np.testing.assert_allclose(loss, (n - 1) / 2)
print(f"collectives ok on process {r} of {n}", flush=True)
