"""funcgrad-train: train an MLP or a small CNN on a real image data set, end to end.

The whole training loop is funcgrad's own parts put together: a ``funcgrad.data`` pipeline
(shuffled each epoch, augmented, batched, prefetched on background threads) feeds one
``fg.jit``-compiled step (``value_and_grad`` of a ``funcgrad.nn`` model's loss, then a
``funcgrad.optim`` update); each epoch ends with a test-set evaluation and an atomic checkpoint
of everything needed to resume (parameters, optimiser state, PRNG key, step and the data
iterator's position).

Run ``funcgrad-train`` (or ``python -m funcgrad.train``) with no arguments to train an MLP on
the bundled 8x8 digits; ``funcgrad-train --help`` lists the options.

Resuming (``--resume``) continues from the last checkpoint in ``--checkpoint-dir`` and ends with
exactly the parameters an uninterrupted run would have: the data order depends only on (seed,
epoch, position), dropout keys on (seed, step), and the compiled step is deterministic.

Data-parallel training on several processes or machines: ``mpirun -n 2 funcgrad-train
--distributed``. Each process reads its ``1 / N`` of every global batch (``--batch-size`` is the
global batch), gradients are averaged in one fused MPI Allreduce per step, and only process 0
prints and writes files. See docs/distributed.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np

import funcgrad as fg
from funcgrad import checkpoints, nn, optim
from funcgrad import data as fdata
from funcgrad.data import augment, datasets

__all__ = ["main", "build_model", "make_optimizer", "parse_args"]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "lamb")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="funcgrad-train",
        description="Train an MLP or a CNN with funcgrad on digits (bundled) or MNIST.")
    p.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                   help="digits: the bundled 8x8 UCI digits; mnist: IDX files in --data-dir")
    p.add_argument("--data-dir", default=None,
                   help="directory holding the MNIST IDX files (raw or .gz)")
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--epochs", type=int, default=None,
                   help="passes over the training set (default: 40 for digits, 3 for mnist)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default: 3e-3 for the MLP, 1e-2 for the CNN, "
                        "0.05 with sgd)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crops of the training images (default: on for the CNN)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="where checkpoints go (default: <out>/checkpoints)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--out", default="funcgrad-train-out",
                   help="directory for metrics.json and curves.png")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many steps in total (for smoke tests)")
    p.add_argument("--keep", type=int, default=3, help="checkpoints to keep")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training under mpirun/mpiexec (needs "
                        "pip install 'funcgrad[distributed]'): --batch-size is the global "
                        "batch, split across the processes; see docs/distributed.md")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 40 if args.dataset == "digits" else 3
    if args.lr is None:
        args.lr = 0.05 if args.optimizer == "sgd" else (1e-2 if args.model == "cnn" else 3e-3)
    if args.augment is None:
        args.augment = args.model == "cnn"
    if args.checkpoint_dir is None:
        args.checkpoint_dir = os.path.join(args.out, "checkpoints")
    if args.dataset == "mnist" and not args.data_dir:
        p.error("--dataset mnist needs --data-dir, the directory holding the MNIST IDX files")
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be positive")
    return args


def build_model(kind: str, image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """The MLP or CNN for images of ``image_shape`` = (channels, height, width)."""
    c, h, w = image_shape
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 256), nn.ReLU(),
                             nn.Dropout(0.1), nn.Linear(256, num_classes))
    # Two conv + pool stages; padding keeps each stage's size so the flatten size is exact.
    c1, c2 = (16, 32) if h <= 16 else (8, 16)
    flat = c2 * (h // 4) * (w // 4)
    return nn.Sequential(
        nn.Conv2d(c, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, num_classes))


def make_optimizer(name: str, lr: float, total_steps: int) -> optim.GradientTransformation:
    """``name`` with a warmup-cosine learning rate schedule over ``total_steps``."""
    warmup = min(100, max(total_steps // 10, 1))
    schedule = optim.warmup_cosine_decay_schedule(0.0, lr, warmup, max(total_steps, warmup + 1),
                                                  end_value=lr * 0.01)
    if name == "sgd":
        base = optim.sgd(schedule, momentum=0.9, nesterov=True)
    elif name == "adamw":
        base = optim.adamw(schedule, weight_decay=1e-4)
    else:
        base = getattr(optim, name)(schedule)
    return optim.chain(optim.clip_by_global_norm(5.0), base)


def _load(args) -> dict:
    if args.dataset == "digits":
        return datasets.load_digits()
    return datasets.load_mnist(args.data_dir)


def _examples(train: dict, args, epochs: int | None) -> fdata.Dataset:
    """The shuffled (and, with ``--augment``, randomly cropped) stream of training examples."""
    ds = fdata.Dataset.from_arrays(train).shuffle(seed=args.seed).repeat(epochs)
    if args.augment:
        pad = 1 if train["image"].shape[-1] <= 16 else 2
        ds = ds.random_map(augment.random_crop(pad), seed=args.seed + 1)
    return ds


def _train_pipeline(train: dict, args) -> fdata.Dataset:
    return _examples(train, args, None).batch(args.batch_size, drop_remainder=True).prefetch(2)


def _distributed_pipeline(train: dict, args, rank: int, count: int) -> fdata.Dataset:
    """Process ``rank``'s part of the same global stream ``_train_pipeline`` yields: global
    batch ``j`` is split into ``count`` consecutive local batches, and this process reads
    local batch ``j * count + rank``. ``repeat`` is finite so that ``shard`` (which deals
    whole local batches out) sees one long epoch; it covers every step of the run."""
    local = args.batch_size // count
    return _examples(train, args, args.epochs).batch(local, drop_remainder=True).shard(
        rank, count, drop_remainder=True).prefetch(2)


class _Trainer:
    """The model, optimiser and the two compiled functions (a training step and a batch of
    predictions)."""

    def __init__(self, model: nn.Module, opt: optim.GradientTransformation,
                 fold_rank: bool = False):
        self.model, self.opt = model, opt

        def loss_fn(params, batch, rng):
            logits = model.apply(params, batch["image"], train=True, rng=rng)
            return nn.losses.softmax_cross_entropy_with_integer_labels(
                logits, batch["label"]).mean()

        def step(params, opt_state, batch, key, step):
            # The dropout key of a step is derived inside the compiled step: it depends only
            # on (seed, step), which is what makes a resumed run identical.
            rng = fg.random.fold_in(key, step)
            loss, grads = fg.value_and_grad(loss_fn)(params, batch, rng)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optim.apply_updates(params, updates), opt_state, loss

        def predict(params, images):
            return fg.numpy.argmax(model.apply(params, images), axis=-1)

        self.step = fg.jit(step)
        self.predict = fg.jit(predict)

        # Data-parallel: the step split around the gradient Allreduce (distributed.py).
        def grads(params, batch, key, step, rank):
            rng = fg.random.fold_in(key, step)
            if fold_rank:  # independent dropout masks on each process's rows
                rng = fg.random.fold_in(rng, rank)
            return fg.value_and_grad(loss_fn)(params, batch, rng)

        def update(params, opt_state, grads):
            updates, opt_state = opt.update(grads, opt_state, params)
            return optim.apply_updates(params, updates), opt_state

        self.grads = fg.jit(grads)
        self.update = fg.jit(update)

    def accuracy(self, params, split: dict, batch_size: int = 500) -> float:
        images, labels = split["image"], split["label"]
        n = len(labels)
        correct = 0
        for start in range(0, n, batch_size):
            chunk = images[start:start + batch_size]
            k = len(chunk)
            if k < batch_size and n > batch_size:  # pad the last chunk: one compiled shape
                chunk = np.concatenate([chunk, np.zeros((batch_size - k,) + chunk.shape[1:],
                                                        chunk.dtype)])
            pred = np.asarray(self.predict(params, chunk))[:k]
            correct += int((pred == labels[start:start + k]).sum())
        return correct / n


def _progress(total: int, desc: str, quiet: bool):
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency; this only guards broken installs
        return None
    return tqdm(total=total, desc=desc, unit="step", leave=True, dynamic_ncols=True)


def _plot(metrics: dict, path: str) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ("matplotlib is not installed, so no plot was drawn "
                "(pip install 'funcgrad[plot]' to get curves.png)")
    epochs = [e["epoch"] for e in metrics["epochs"]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(epochs, [e["train_loss"] for e in metrics["epochs"]], marker="o")
    a.set_xlabel("epoch")
    a.set_ylabel("training loss")
    a.set_yscale("log")
    b.plot(epochs, [100 * e["test_accuracy"] for e in metrics["epochs"]], marker="o",
           color="C1")
    b.set_xlabel("epoch")
    b.set_ylabel("test accuracy (%)")
    fig.suptitle(f"funcgrad-train: {metrics['config']['model']} on "
                 f"{metrics['config']['dataset']}")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return None


def _write_json(obj: Any, path: str):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def _start_distributed(args):
    """Joins the MPI job; returns the distributed module, this process's rank and the count."""
    from funcgrad import distributed as dist
    dist.initialize(require_mpi=True)
    rank, count = dist.process_index(), dist.process_count()
    local = dist.local_process_count()
    if local > 1:
        # Processes on one machine share its cores: without a cap each would start a thread
        # per core and they would oversubscribe them (a small CNN's step on 2 cores: 22 ms
        # at 2 processes x 2 threads, 4.7 ms at 2 x 1). Numba is not imported yet, so the
        # variable still counts; the user's own setting wins.
        threads = max(1, (os.cpu_count() or 1) // local)
        os.environ.setdefault("NUMBA_NUM_THREADS", str(threads))
        from funcgrad.lowering import blas_threads
        set_blas_threads, _ = blas_threads.controls()
        if set_blas_threads is not None and "OPENBLAS_NUM_THREADS" not in os.environ:
            set_blas_threads(threads)
    if args.batch_size % count:
        raise SystemExit(f"funcgrad-train: --batch-size {args.batch_size} (the global batch) "
                         f"does not split evenly across {count} processes; use a multiple of "
                         f"{count}, e.g. --batch-size {args.batch_size // count * count or count}"
                         f".")
    return dist, rank, count


def _resume_distributed(args, dist, params, opt_state, dropout_key):
    """Process 0 reads the latest checkpoint (the others may not see its files) and sends
    what it holds to the others: parameters, optimiser state, key, step, history and the
    data position (every process's iterator is at the same local batch index)."""
    state = None
    if dist.process_index() == 0 and checkpoints.latest_step(args.checkpoint_dir) is not None:
        state = checkpoints.restore_train_state(args.checkpoint_dir)
        params, opt_state, dropout_key = state.params, state.opt_state, state.rng
    meta = dist.broadcast_object(None if state is None else {
        "step": int(state.step), "position": (state.data_state or {}).get("position"),
        "history": list((state.extra or {}).get("history", []))})
    if meta is None:
        raise SystemExit(f"funcgrad-train: --resume found no checkpoint in "
                         f"{args.checkpoint_dir!r}; run without --resume first, or point "
                         f"--checkpoint-dir at the earlier run's checkpoints.")
    return params, opt_state, dropout_key, meta


def main(argv=None) -> dict:
    """Runs the training program; returns the metrics it also writes to ``<out>/metrics.json``."""
    args = parse_args(argv)
    t_start = time.perf_counter()
    dist, rank, count = _start_distributed(args) if args.distributed else (None, 0, 1)
    is_main = rank == 0  # only process 0 prints and writes files
    if not is_main:
        args.quiet = True
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    splits = _load(args)
    train, test = splits["train"], splits["test"]
    image_shape = tuple(train["image"].shape[1:])
    num_classes = int(max(train["label"].max(), test["label"].max())) + 1
    steps_per_epoch = len(train["label"]) // args.batch_size
    if steps_per_epoch == 0:
        raise SystemExit(f"funcgrad-train: --batch-size {args.batch_size} is larger than the "
                         f"training set ({len(train['label'])} examples); use a smaller one.")
    total_steps = steps_per_epoch * args.epochs

    model = build_model(args.model, image_shape, num_classes)
    opt = make_optimizer(args.optimizer, args.lr, total_steps)
    trainer = _Trainer(model, opt, fold_rank=count > 1)
    key = fg.random.PRNGKey(args.seed)
    init_key, dropout_key = fg.random.split(key)
    params = model.init(init_key)
    opt_state = opt.init(params)
    iterator = iter(_distributed_pipeline(train, args, rank, count) if dist
                    else _train_pipeline(train, args))
    step, history = 0, []

    if args.resume and dist:
        params, opt_state, dropout_key, meta = _resume_distributed(args, dist, params,
                                                                   opt_state, dropout_key)
        step, history = meta["step"], meta["history"]
        if meta["position"] is not None:
            data_state = iterator.get_state()
            data_state["position"] = meta["position"]
            iterator.set_state(data_state)
        log(f"resumed from step {step} (epoch {step // steps_per_epoch})")
    elif args.resume:
        latest = checkpoints.latest_step(args.checkpoint_dir)
        if latest is None:
            raise SystemExit(f"funcgrad-train: --resume found no checkpoint in "
                             f"{args.checkpoint_dir!r}; run without --resume first, or point "
                             f"--checkpoint-dir at the earlier run's checkpoints.")
        state = checkpoints.restore_train_state(args.checkpoint_dir)
        params, opt_state, step = state.params, state.opt_state, int(state.step)
        dropout_key = state.rng
        iterator.set_state(state.data_state)
        history = list((state.extra or {}).get("history", []))
        log(f"resumed from step {step} (epoch {step // steps_per_epoch})")

    if dist:  # every process starts from process 0's parameters
        params, opt_state, dropout_key = dist.broadcast((params, opt_state, dropout_key))
        dist.reset_comm_stats()
    n_params = sum(int(np.size(p)) for p in fg.tree_util.tree_leaves(params))
    log(f"funcgrad-train: {args.model} ({n_params:,} parameters) on {args.dataset}: "
        f"{len(train['label'])} train / {len(test['label'])} test images {image_shape}, "
        f"{args.epochs} epochs of {steps_per_epoch} steps, batch {args.batch_size}, "
        f"{args.optimizer} lr {args.lr}"
        + (f"; data-parallel on {count} processes, {args.batch_size // count} examples each"
           if dist else ""))

    start = step
    last_step = total_steps if args.max_steps is None else min(total_steps, args.max_steps)
    wait_s = compute_s = comm_s = 0.0
    first_step_s = None
    while step < last_step:
        epoch = step // steps_per_epoch
        epoch_end = min((epoch + 1) * steps_per_epoch, last_step)
        bar = _progress(epoch_end - step, f"epoch {epoch + 1}/{args.epochs}", args.quiet)
        losses, t_epoch, seen = [], time.perf_counter(), 0
        while step < epoch_end:
            t0 = time.perf_counter()
            batch = next(iterator)
            t1 = time.perf_counter()
            if dist:
                loss, grads = trainer.grads(params, batch, dropout_key, np.int32(step),
                                            np.int32(rank))
                tc = time.perf_counter()
                grads, loss = dist.average_gradients(grads, loss)  # one fused Allreduce
                tc = time.perf_counter() - tc
                params, opt_state = trainer.update(params, opt_state, grads)
            else:
                params, opt_state, loss = trainer.step(params, opt_state, batch, dropout_key,
                                                       np.int32(step))
            loss = float(loss)
            t2 = time.perf_counter()
            if first_step_s is None:
                first_step_s = t2 - t1  # includes compilation
            else:
                compute_s += t2 - t1
                wait_s += t1 - t0
                comm_s += tc if dist else 0.0
            if not math.isfinite(loss):
                raise SystemExit(f"funcgrad-train: the loss became {loss} at step {step}; "
                                 f"lower --lr (now {args.lr}).")
            losses.append(loss)
            step += 1
            seen += args.batch_size
            if bar is not None:
                rate = seen / max(time.perf_counter() - t_epoch, 1e-9)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", ex_s=f"{rate:,.0f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        complete = step % steps_per_epoch == 0
        acc = trainer.accuracy(params, test)
        record = {"epoch": epoch + 1 if complete else epoch + step % steps_per_epoch
                  / steps_per_epoch, "step": step, "train_loss": float(np.mean(losses)),
                  "test_accuracy": acc,
                  "examples_per_s": seen / max(time.perf_counter() - t_epoch, 1e-9)}
        history.append(record)
        log(f"epoch {record['epoch']:g}: train loss {record['train_loss']:.4f}, "
            f"test accuracy {100 * acc:.2f}%")
        if is_main:
            checkpoints.save_train_state(
                args.checkpoint_dir, step, params=params, opt_state=opt_state, rng=dropout_key,
                data_state=iterator.get_state(), extra={"history": history}, keep=args.keep)
    iterator.close()  # stops the prefetch threads; main() may run many times in one process

    if is_main:
        os.makedirs(args.out, exist_ok=True)
    timed_steps = max(step - 1, 1)
    metrics = {
        "config": {k: v for k, v in vars(args).items()},
        "parameters": n_params,
        "epochs": history,
        "final_test_accuracy": history[-1]["test_accuracy"] if history else None,
        "steps": step,
        "wall_s": time.perf_counter() - t_start,
        "first_step_s": first_step_s,
        "step_ms": 1e3 * compute_s / timed_steps,
        "data_wait_ms": 1e3 * wait_s / timed_steps,
    }
    if dist:
        stats = dist.comm_stats()
        metrics["processes"] = count
        metrics["allreduce_ms"] = 1e3 * comm_s / timed_steps
        metrics["allreduce_bytes_per_step"] = stats["allreduce_bytes"] // max(step - start, 1)
        metrics["allreduce_calls_per_step"] = stats["allreduce_calls"] / max(step - start, 1)
    if not is_main:
        return metrics
    _write_json(metrics, os.path.join(args.out, "metrics.json"))
    note = _plot(metrics, os.path.join(args.out, "curves.png")) if history else None
    if note:
        log(note)
    if history:
        log(f"done in {metrics['wall_s']:.1f} s: test accuracy "
            f"{100 * metrics['final_test_accuracy']:.2f}%; step {metrics['step_ms']:.2f} ms, "
            f"waiting for data {metrics['data_wait_ms']:.3f} ms per step; wrote "
            f"{os.path.join(args.out, 'metrics.json')} and the checkpoint in "
            f"{args.checkpoint_dir}")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
