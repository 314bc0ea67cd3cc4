"""Run under mpirun -n 2: data-parallel SGD/Adam steps on sharded batches end with the
parameters one process reaches on the combined batches (computed here on process 0)."""
import numpy as np

import funcgrad as fg
from funcgrad import data as fdata
from funcgrad import distributed as dist
from funcgrad import nn, optim
from funcgrad.data import datasets

dist.initialize(timeout=120)
r, n = dist.process_index(), dist.process_count()
GLOBAL_BATCH, STEPS = 32, 5

model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
opt = optim.adam(1e-2)


def loss_fn(params, batch):
    logits = model.apply(params, batch["image"])
    return nn.losses.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()


def update(params, opt_state, grads):
    updates, opt_state = opt.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state


grad_fn, update_fn = fg.jit(fg.value_and_grad(loss_fn)), fg.jit(update)
train = datasets.load_digits()["train"]
base = fdata.Dataset.from_arrays(train).shuffle(seed=0).repeat(2)

# Different initialisations on purpose: broadcast must make them identical.
params = model.init(fg.random.fold_in(fg.random.PRNGKey(0), r))
params = dist.broadcast(params)
gathered = dist.all_gather(params)
for leaf in fg.tree_util.tree_leaves(gathered):
    for k in range(1, n):
        np.testing.assert_array_equal(np.asarray(leaf)[k], np.asarray(leaf)[0])
opt_state = opt.init(params)
start = params

step = dist.data_parallel_step(grad_fn, update_fn)
local = base.batch(GLOBAL_BATCH // n, drop_remainder=True).shard(r, n, drop_remainder=True)
dist.reset_comm_stats()
for batch, _ in zip(local, range(STEPS)):
    params, opt_state, loss = step(params, opt_state, batch)
stats = dist.comm_stats()
assert stats["allreduce_calls"] == STEPS, stats
nbytes = sum(np.asarray(x).nbytes for x in fg.tree_util.tree_leaves(params)) + 4
assert stats["allreduce_bytes"] == STEPS * nbytes, (stats, nbytes)

if r == 0:
    ref, ref_state = start, opt.init(start)
    for batch, _ in zip(base.batch(GLOBAL_BATCH, drop_remainder=True), range(STEPS)):
        ref_loss, grads = grad_fn(ref, batch)
        ref, ref_state = update_fn(ref, ref_state, grads)
    np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-5)
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(fg.tree_util.tree_leaves(params), fg.tree_util.tree_leaves(ref)))
    moved = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                for a, b in zip(fg.tree_util.tree_leaves(params),
                                fg.tree_util.tree_leaves(start)))
    assert diff < 1e-5 and moved > 1e-3, (diff, moved)
    print(f"data parallel matches one process: max |diff| {diff:.2e}, moved {moved:.2e}, "
          f"{nbytes} bytes allreduced per step", flush=True)
final = dist.all_gather(params)  # and every process holds the same parameters
for leaf in fg.tree_util.tree_leaves(final):
    np.testing.assert_array_equal(np.asarray(leaf)[1:], np.asarray(leaf)[:1].repeat(n - 1, 0))
print(f"data parallel ok on process {r}", flush=True)
