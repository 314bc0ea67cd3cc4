"""Data-parallel training across processes and machines, on MPI through mpi4py.

funcgrad does not ship a communication engine of its own: it runs on MPI, as mpi4jax does for
JAX. Launch N copies of a program with ``mpirun -n N python train.py``; each copy calls
:func:`initialize` and then knows its :func:`process_index` and the :func:`process_count`.
The collectives here (:func:`psum`, :func:`pmean`, :func:`all_gather`, :func:`broadcast`) work
on pytrees of concrete arrays *between* jit-compiled steps; they are not traced and are not
primitives. Every collective packs all leaves into one contiguous buffer (one per dtype for
reductions, one byte buffer otherwise) and sends one MPI message, so a step's gradients cost
one ``Allreduce``, not one per parameter.

Without mpi4py, or when the program was not started by ``mpirun``/``mpiexec``, everything
degrades to one process: ``process_count() == 1`` and the collectives return their inputs.
mpi4py is imported only by :func:`initialize`, never by ``import funcgrad``.

A process that fails must not leave the others waiting forever. Collectives therefore wait on
non-blocking requests against a deadline (``timeout``, default 600 s, or the environment
variable ``FUNCGRAD_DISTRIBUTED_TIMEOUT``), and :func:`initialize` installs an exception hook
that, on an uncaught exception, tells the other processes which process failed and why, then
calls ``MPI_Abort``. A process waiting in a collective raises :class:`DistributedError` naming
the failed process instead of hanging.

Example (``mpirun -n 2 python example.py``)::

    import numpy as np
    from funcgrad import distributed as dist

    dist.initialize()
    x = {"w": np.full(3, dist.process_index() + 1.0, np.float32)}
    print(dist.process_index(), dist.psum(x)["w"])   # [3. 3. 3.] on both processes

See docs/distributed.md for launching on one machine and on several.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from funcgrad import errors
from funcgrad.array import Array
from funcgrad.errors import InvalidArgumentError
from funcgrad.tree_util import keystr, tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = [
    "DistributedError", "initialize", "is_initialized", "process_index", "process_count",
    "local_process_count", "psum", "pmean", "all_gather", "broadcast", "average_gradients",
    "data_parallel_step",
    "broadcast_object", "comm_stats", "reset_comm_stats", "abort",
]

INSTALL_HINT = 'pip install "funcgrad[distributed]"'
DEFAULT_TIMEOUT_S = 600.0
TIMEOUT_ENV = "FUNCGRAD_DISTRIBUTED_TIMEOUT"

# Environment variables that MPI launchers set in the processes they start: MPICH/Hydra and
# Intel MPI (PMI_*), Open MPI (OMPI_*), PMIx-based launchers and Slurm's srun (PMIX_*).
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
_LAUNCHER_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_SPIN_S = 0.02  # how long a collective polls without sleeping
_FAIL_TAG = 7301  # on a private duplicate of COMM_WORLD, so it never meets user messages


DistributedError = errors.DistributedError


class _State:
    initialized = False
    mpi = None          # the mpi4py.MPI module once initialized with more than one process
    comm = None         # COMM_WORLD
    fail_comm = None    # a duplicate of COMM_WORLD for failure notices
    rank, size = 0, 1
    local_size = 1      # processes of this job on this machine
    timeout = DEFAULT_TIMEOUT_S
    failure_sent = False
    heard: set = set()  # processes whose failure notice has arrived
    prev_excepthook = None


_state = _State()
# Communication buffers are kept and reused: MPI moving a freshly allocated buffer costs far
# more than the copy out of a kept one (a 4 MB Iallreduce on 2 local processes: 2.8 ms with
# a fresh buffer each call, 0.6 ms reusing one).
_scratch_buffers: dict[tuple[str, np.dtype], np.ndarray] = {}


def _scratch(name: str, dtype, size: int) -> np.ndarray:
    dtype = np.dtype(dtype)
    buf = _scratch_buffers.get((name, dtype))
    if buf is None or buf.size < size:
        buf = _scratch_buffers[(name, dtype)] = np.empty(max(size, 1024), dtype)
    return buf[:size]


_stats = {"allreduce_calls": 0, "allreduce_bytes": 0, "allgather_calls": 0,
          "allgather_bytes": 0, "broadcast_calls": 0, "broadcast_bytes": 0}


def _launcher_size() -> int | None:
    """The process count a launcher announced in the environment, or None outside one."""
    for name in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(name)
        if value and value.strip().isdigit():
            return int(value)
    if any(os.environ.get(name) for name in _LAUNCHER_RANK_VARS):
        return 2  # a rank without a size: some launcher started us; MPI will tell the size
    return None


def _default_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise InvalidArgumentError(
            f"funcgrad.distributed.initialize: {TIMEOUT_ENV}={raw!r} is not a number of "
            f"seconds.\nFix: set it to a positive number, e.g. {TIMEOUT_ENV}=900") from None
    return value


def initialize(*, timeout: float | None = None, require_mpi: bool = False) -> None:
    """Joins the MPI job this process was launched in (or sets up a single process).

    Call it once, at the start of the program, before any other function of this module.
    Under ``mpirun``/``mpiexec`` it imports mpi4py, which initializes MPI, and installs the
    failure handling described in the module docstring. Started without a launcher, it
    imports nothing and the program runs as process 0 of 1. Calling it again does nothing.

    Args:
      timeout: seconds a collective waits for the other processes before it raises
        :class:`DistributedError` (default 600, or ``$FUNCGRAD_DISTRIBUTED_TIMEOUT``).
      require_mpi: raise if mpi4py cannot be imported, even for a single process (for
        programs that were asked explicitly to run distributed).

    Returns:
      None. Read the result with :func:`process_index` and :func:`process_count`.

    Raises:
      DistributedError: launched by an MPI launcher (or ``require_mpi``) but mpi4py is not
        installed; the message says ``pip install "funcgrad[distributed]"``.

    Example::

        from funcgrad import distributed as dist
        dist.initialize()
        ds = ds.shard(dist.process_index(), dist.process_count())
    """
    if _state.initialized:
        return
    timeout = _default_timeout() if timeout is None else float(timeout)
    if not timeout > 0:
        raise InvalidArgumentError(
            f"funcgrad.distributed.initialize: timeout={timeout!r} seconds is not positive.\n"
            f"Fix: pass a positive number of seconds, e.g. initialize(timeout=900)")
    launched = _launcher_size()
    if (launched is None or launched == 1) and not require_mpi:
        _state.initialized, _state.timeout = True, timeout
        return
    try:
        from mpi4py import MPI
    except ImportError as e:
        where = ("this process was started by an MPI launcher" if launched is not None
                 else "MPI was requested (require_mpi=True, or --distributed)")
        raise DistributedError(
            f"funcgrad.distributed.initialize: {where}, but mpi4py cannot be imported "
            f"({e}). Without it every process would train alone and overwrite the others' "
            f"outputs.\nFix: {INSTALL_HINT} (mpi4py and the MPICH library; it also puts "
            f"mpirun next to python), or run without mpirun.") from e
    comm = MPI.COMM_WORLD
    _state.rank, _state.size = comm.Get_rank(), comm.Get_size()
    _state.timeout, _state.initialized = timeout, True
    if _state.size > 1:
        _state.mpi, _state.comm = MPI, comm
        _state.fail_comm = comm.Dup()
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        _state.local_size = node.Get_size()
        node.Free()
        _state.prev_excepthook = sys.excepthook
        sys.excepthook = _excepthook


def is_initialized() -> bool:
    """Whether :func:`initialize` has run in this process."""
    return _state.initialized


def _check_initialized(op: str):
    if not _state.initialized and (_launcher_size() or 1) > 1:
        raise DistributedError(
            f"funcgrad.distributed.{op}: this process was started by an MPI launcher "
            f"(mpirun) but funcgrad.distributed.initialize() has not been called, so it "
            f"cannot know its rank.\nFix: call funcgrad.distributed.initialize() at the start "
            f"of the program.")


def process_index() -> int:
    """This process's rank, ``0 <= process_index() < process_count()``; 0 without MPI.

    Returns:
      The rank in ``MPI.COMM_WORLD``.

    Example::

        if dist.process_index() == 0:
            print("only the first process prints")
    """
    _check_initialized("process_index")
    return _state.rank


def process_count() -> int:
    """The number of processes in the job; 1 without MPI or outside ``mpirun``.

    Returns:
      The size of ``MPI.COMM_WORLD``.

    Example::

        local_batch = global_batch // dist.process_count()
    """
    _check_initialized("process_count")
    return _state.size


def local_process_count() -> int:
    """How many processes of this job run on this machine (1 without MPI).

    Processes on one machine share its cores: give each ``os.cpu_count() //
    local_process_count()`` threads (``NUMBA_NUM_THREADS``, BLAS threads) rather than all of
    them, or they oversubscribe the cores (funcgrad-train --distributed does this itself).

    Returns:
      The size of the shared-memory communicator this process belongs to.

    Example::

        os.environ.setdefault("NUMBA_NUM_THREADS",
                              str(max(1, os.cpu_count() // dist.local_process_count())))
    """
    _check_initialized("local_process_count")
    return _state.local_size


def comm_stats() -> dict:
    """Counts of collective calls and payload bytes in this process since the last reset.

    Returns:
      A dict with ``allreduce_calls``, ``allreduce_bytes`` (the bytes each process
      contributes to reductions), ``allgather_calls``/``allgather_bytes`` and
      ``broadcast_calls``/``broadcast_bytes``. Single-process runs count nothing.

    Example::

        dist.reset_comm_stats(); grads = dist.average_gradients(grads)
        print(dist.comm_stats()["allreduce_bytes"])
    """
    return dict(_stats)


def reset_comm_stats() -> None:
    """Sets every counter of :func:`comm_stats` to zero."""
    for k in _stats:
        _stats[k] = 0


# ----------------------------------------------------------------------- failure handling

def _send_failure_notices(summary: str):
    if _state.failure_sent or _state.fail_comm is None:
        return []
    _state.failure_sent = True
    reqs = []
    for dest in range(_state.size):
        if dest != _state.rank:
            try:
                reqs.append(_state.fail_comm.isend(summary, dest=dest, tag=_FAIL_TAG))
            except Exception:  # best effort: the job is being torn down anyway
                pass
    return reqs


def _pending_failure():
    """(rank, summary) of a failure notice from another process, or None."""
    MPI = _state.mpi
    status = MPI.Status()
    if not _state.fail_comm.Iprobe(source=MPI.ANY_SOURCE, tag=_FAIL_TAG, status=status):
        return None
    src = status.Get_source()
    summary = _state.fail_comm.recv(source=src, tag=_FAIL_TAG)
    _state.heard.add(src)
    return src, summary


def abort(exc: BaseException | None = None, *, grace_s: float = 2.0) -> None:
    """Ends the whole MPI job now, telling the other processes why (never returns there).

    The other processes that are waiting in a collective raise :class:`DistributedError`
    naming this process and ``exc``; then ``MPI_Abort`` stops every process. Uncaught
    exceptions do this automatically after :func:`initialize`; call it yourself when you catch
    an error that makes this process unable to continue. With one process it raises ``exc``
    (or ``SystemExit(1)``).

    Args:
      exc: the reason, shown to the other processes.
      grace_s: how long to wait for the other processes to report before aborting.

    Example::

        try:
            batch = next(iterator)
        except OSError as e:
            dist.abort(e)
    """
    if _state.comm is None:
        if exc is not None:
            raise exc
        raise SystemExit(1)
    summary = "aborted" if exc is None else f"{type(exc).__name__}: {exc}"
    _send_failure_notices(summary)
    # Give the waiting processes a moment to print their own error before MPI_Abort, which
    # kills them: each reports back with its own notice as it goes down.
    deadline = time.monotonic() + grace_s
    while len(_state.heard) < _state.size - 1 and time.monotonic() < deadline:
        try:
            if _pending_failure() is None:
                time.sleep(0.01)
        except Exception:
            break
    sys.stdout.flush()
    sys.stderr.flush()
    _state.comm.Abort(1)


def _excepthook(exc_type, exc, tb):
    hook = _state.prev_excepthook or sys.__excepthook__
    try:
        hook(exc_type, exc, tb)
    except Exception:
        traceback.print_exception(exc_type, exc, tb)
    sys.stderr.write(f"funcgrad.distributed: process {_state.rank} of {_state.size} stops "
                     f"the job after an uncaught {exc_type.__name__} (MPI_Abort).\n")
    sys.stderr.flush()
    # After a timeout the others are presumably stuck, so there is little point waiting.
    abort(exc, grace_s=0.5 if getattr(exc, "timed_out", False) else 2.0)


def _wait(request, op: str, nbytes: int):
    """Polls a non-blocking request until done, a failure notice arrives, or the deadline."""
    start = time.monotonic()
    deadline = start + _state.timeout
    spins = 0
    while not request.Test():
        # A non-blocking collective advances only inside Test, so poll hard at first (a
        # sleep between polls stalls multi-round algorithms: 4 MB took 10x longer); after
        # SPIN_S of waiting, the other processes are busy, so poll every 0.1 ms to free
        # the core.
        spins += 1
        now = time.monotonic()
        if now - start > _SPIN_S:
            time.sleep(1e-4)
        if spins % 64 == 0:
            failed = _pending_failure()
            if failed is not None:
                src, summary = failed
                raise DistributedError(
                    f"funcgrad.distributed.{op}: process {src} of {_state.size} failed "
                    f"({summary}) while process {_state.rank} waited for it in {op} "
                    f"({nbytes:,} bytes); stopping this process too instead of waiting "
                    f"forever.\nFix: see process {src}'s error above and fix it there.\n"
                    f"See docs/distributed.md#failures")
            if now > deadline:
                err = DistributedError(
                    f"funcgrad.distributed.{op}: process {_state.rank} of {_state.size} "
                    f"waited {_state.timeout:g} s for the other processes in {op} "
                    f"({nbytes:,} bytes); one of them is stuck, far slower, or took a "
                    f"different code path (every process must call the same collectives "
                    f"in the same order with the same shapes).\nFix: make the processes "
                    f"call the same collectives; if steps are legitimately this slow, "
                    f"raise the limit: initialize(timeout=...) or {TIMEOUT_ENV}.\n"
                    f"See docs/distributed.md#failures")
                err.timed_out = True
                raise err


# --------------------------------------------------------------------------- collectives

def _leaves(op: str, tree):
    leaves, treedef = tree_flatten(tree)
    arrays = []
    for leaf in leaves:
        if isinstance(leaf, (str, bytes)) or leaf is None:
            raise InvalidArgumentError(
                f"funcgrad.distributed.{op}: a leaf is {leaf!r}, not an array.\nFix: pass a "
                f"pytree whose leaves are funcgrad Arrays, NumPy arrays or numbers.")
        try:
            a = np.asarray(leaf)
        except Exception as e:
            raise InvalidArgumentError(
                f"funcgrad.distributed.{op}: a leaf of type {type(leaf).__name__} cannot be "
                f"read as an array ({e}); collectives run between jit-compiled steps, on "
                f"concrete values.\nFix: call {op} outside fg.jit/grad/vmap, on the values "
                f"the compiled step returned.") from e
        if a.dtype == object:
            raise InvalidArgumentError(
                f"funcgrad.distributed.{op}: a leaf of type {type(leaf).__name__} is not a "
                f"numeric array.\nFix: pass a pytree of funcgrad Arrays or NumPy arrays.")
        arrays.append(a)
    return leaves, treedef, arrays


def _rewrap(original, value: np.ndarray):
    return Array(value) if isinstance(original, Array) else value


def _check_reducible(op: str, tree, arrays, *, mean: bool):
    def bad(a):
        return a.dtype == np.bool_ or (mean and not np.issubdtype(a.dtype, np.inexact))

    if not any(bad(a) for a in arrays):
        return
    for (path, _), a in zip(tree_flatten_with_path(tree)[0], arrays):
        if bad(a):
            what = "bool" if a.dtype == np.bool_ else str(a.dtype)
            fix = ("convert it first, e.g. x.astype('int32') for a count, or "
                   "x.astype('float32') for a mean" if a.dtype == np.bool_ else
                   "use psum for integer counts, or convert to a float dtype before pmean")
            raise InvalidArgumentError(
                f"funcgrad.distributed.{op}: the leaf at {keystr(path) or '<root>'} is "
                f"{what}{list(a.shape)}, which {op} cannot "
                f"{'average' if mean else 'sum'}.\nFix: {fix}.")


def _allreduce_sum(arrays: list[np.ndarray], op: str) -> list[np.ndarray]:
    """Sums every array across processes: one fused buffer and one Iallreduce per dtype."""
    MPI = _state.mpi
    groups: dict[np.dtype, list[int]] = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    out: list[Any] = [None] * len(arrays)
    for dtype, idx in groups.items():
        # MPI has no half-precision sum in the standard; reduce those in float32.
        wire = np.dtype(np.float32) if dtype == np.float16 else dtype
        sizes = [arrays[i].size for i in idx]
        buf = _scratch("reduce", wire, sum(sizes))
        offset = 0
        for i, n in zip(idx, sizes):
            buf[offset:offset + n] = arrays[i].reshape(-1)
            offset += n
        _stats["allreduce_calls"] += 1
        _stats["allreduce_bytes"] += buf.nbytes
        _wait(_state.comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM), op, buf.nbytes)
        buf = buf.copy()  # the results must not alias the kept buffer
        offset = 0
        for i, n in zip(idx, sizes):
            out[i] = buf[offset:offset + n].reshape(arrays[i].shape).astype(dtype, copy=False)
            offset += n
    return out


def psum(tree):
    """Sums a pytree of arrays over all processes; every process gets the sum.

    Not traced: call it between jit-compiled steps. All leaves of one dtype travel in one
    buffer, so the whole tree costs one ``Allreduce`` per dtype. Every process must pass the
    same tree structure, shapes and dtypes.

    Args:
      tree: a pytree of funcgrad Arrays, NumPy arrays or numbers, of numeric (not bool) dtype.

    Returns:
      A pytree of the same structure; funcgrad Array leaves come back as Arrays, others as
      NumPy arrays, each with its input's dtype. With one process, ``tree`` itself.

    Example::

        counts = dist.psum({"correct": np.int64(n_correct), "seen": np.int64(n)})
    """
    _check_initialized("psum")
    leaves, treedef, arrays = _leaves("psum", tree)
    _check_reducible("psum", tree, arrays, mean=False)
    if _state.comm is None:
        return tree
    summed = _allreduce_sum(arrays, "psum")
    return tree_unflatten(treedef, [_rewrap(x, s) for x, s in zip(leaves, summed)])


def pmean(tree):
    """Averages a pytree of floating-point arrays over all processes (one fused buffer).

    Args:
      tree: a pytree of floating-point funcgrad Arrays / NumPy arrays (the mean of integers
        is not an integer: use :func:`psum` and divide yourself).

    Returns:
      A pytree of the same structure and dtypes holding the mean; with one process, ``tree``.

    Example::

        loss, grads = dist.pmean((loss, grads))
    """
    _check_initialized("pmean")
    leaves, treedef, arrays = _leaves("pmean", tree)
    _check_reducible("pmean", tree, arrays, mean=True)
    if _state.comm is None:
        return tree
    summed = _allreduce_sum(arrays, "pmean")
    n = _state.size
    means = [(s / np.asarray(n, s.dtype)).astype(s.dtype, copy=False) for s in summed]
    return tree_unflatten(treedef, [_rewrap(x, m) for x, m in zip(leaves, means)])


def _pack_bytes(arrays):
    sizes = [a.nbytes for a in arrays]
    buf = _scratch("send", np.uint8, sum(sizes))
    offset = 0
    for a, n in zip(arrays, sizes):
        buf[offset:offset + n] = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
        offset += n
    return buf, sizes


def all_gather(tree, *, tiled: bool = False):
    """Collects every process's pytree; leaves gain a leading axis of ``process_count()``.

    All leaves travel in one byte buffer (one ``Allgather``). Every process must pass the same
    structure, shapes and dtypes.

    Args:
      tree: a pytree of funcgrad Arrays, NumPy arrays or numbers (any dtype).
      tiled: concatenate along the existing first axis instead of stacking on a new one
        (leaves must then have at least one dimension).

    Returns:
      A pytree of the same structure: leaf ``x`` becomes ``stack([x_0, ..., x_{n-1}])``
      (or their concatenation if ``tiled``), with process ``i``'s value at index ``i``.
      With one process, ``x[None]`` (or ``x`` if ``tiled``).

    Example::

        sizes = dist.all_gather(np.int64(len(my_shard)))    # one entry per process
    """
    _check_initialized("all_gather")
    leaves, treedef, arrays = _leaves("all_gather", tree)
    if tiled:
        for a in arrays:
            if a.ndim == 0:
                raise InvalidArgumentError(
                    f"funcgrad.distributed.all_gather: tiled=True concatenates along the "
                    f"first axis, but a leaf is a scalar ({a.dtype}[]).\nFix: use "
                    f"tiled=False (stacks on a new axis), or reshape the leaf to (1,).")
    n = _state.size
    if _state.comm is None:
        gathered = [a[None] for a in arrays]
    else:
        send, sizes = _pack_bytes(arrays)
        recv = _scratch("recv", np.uint8, n * send.size).reshape(n, send.size)
        _stats["allgather_calls"] += 1
        _stats["allgather_bytes"] += send.nbytes
        _wait(_state.comm.Iallgather(send, recv), "all_gather", send.nbytes)
        gathered, offset = [], 0
        for a, nb in zip(arrays, sizes):
            part = recv[:, offset:offset + nb].copy()  # never alias the kept buffer
            gathered.append(part.view(a.dtype).reshape((n,) + a.shape))
            offset += nb
    if tiled:
        gathered = [g.reshape((-1,) + g.shape[2:]) for g in gathered]
    return tree_unflatten(treedef, [_rewrap(x, g) for x, g in zip(leaves, gathered)])


def broadcast(tree, root: int = 0):
    """Every process gets process ``root``'s pytree (one byte buffer, one ``Bcast``).

    Use it to start all processes from identical parameters. The other processes pass a tree
    of the same structure, shapes and dtypes (for example their own initialisation), whose
    values are replaced.

    Args:
      tree: a pytree of funcgrad Arrays, NumPy arrays or numbers.
      root: the process whose values everyone receives.

    Returns:
      A pytree of the same structure with ``root``'s values (funcgrad Array leaves stay
      Arrays). With one process, ``tree``.

    Example::

        params = dist.broadcast(model.init(key))
    """
    _check_initialized("broadcast")
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not (
            0 <= root < _state.size):
        raise InvalidArgumentError(
            f"funcgrad.distributed.broadcast: root={root!r} is not a process index of this "
            f"job of {_state.size}.\nFix: pass an index in 0..{_state.size - 1}, e.g. root=0.")
    leaves, treedef, arrays = _leaves("broadcast", tree)
    if _state.comm is None:
        return tree
    buf, sizes = _pack_bytes(arrays)
    _stats["broadcast_calls"] += 1
    _stats["broadcast_bytes"] += buf.nbytes
    _wait(_state.comm.Ibcast(buf, root=int(root)), "broadcast", buf.nbytes)
    out, offset = [], 0
    for x, a, nb in zip(leaves, arrays, sizes):
        value = buf[offset:offset + nb].view(a.dtype).reshape(a.shape).copy()
        out.append(_rewrap(x, value))
        offset += nb
    return tree_unflatten(treedef, out)


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Every process gets process ``root``'s picklable Python object (small metadata only).

    Example::

        step = dist.broadcast_object(latest_step if dist.process_index() == 0 else None)
    """
    _check_initialized("broadcast_object")
    if _state.comm is None:
        return obj
    payload = (np.frombuffer(pickle.dumps(obj), np.uint8) if _state.rank == root
               else np.empty(0, np.uint8))
    size = broadcast(np.array([payload.size], np.int64), root)[0]
    buf = payload if _state.rank == root else np.empty(int(size), np.uint8)
    buf = broadcast(buf, root)
    return pickle.loads(buf.tobytes())


# ------------------------------------------------------------------------- data parallel

def average_gradients(grads, *extra):
    """Averages gradients (and any extra values, such as the loss) over all processes.

    The data-parallel step's one collective: all leaves are flattened into one contiguous
    buffer per dtype and reduced with one ``Allreduce``, then split back. Equivalent to
    :func:`pmean` of ``(grads, *extra)``.

    Args:
      grads: a pytree of floating-point gradients from this process's part of the batch.
      *extra: more floating-point pytrees to average in the same message (e.g. the loss).

    Returns:
      ``grads`` averaged, or ``(grads, *extra)`` averaged when extras are given.

    Example::

        loss, grads = grad_fn(params, local_batch)          # a jit-compiled function
        grads, loss = dist.average_gradients(grads, loss)
        params, opt_state = update_fn(params, opt_state, grads)
    """
    if not extra:
        return pmean(grads)
    return pmean((grads, *extra))


def data_parallel_step(grad_fn: Callable, update_fn: Callable) -> Callable:
    """Builds a data-parallel training step from a gradient function and an update function.

    The step computes this process's loss and gradients, averages both over all processes in
    one fused ``Allreduce``, then applies the update. If every process starts from the same
    parameters (see :func:`broadcast`) and reads its own ``1 / process_count()`` of each
    global batch (``Dataset.shard(process_index(), process_count())``), every process ends
    each step with the parameters a single process would reach on the whole batch (up to
    floating-point summation order) -- for losses that are means over the batch.

    Args:
      grad_fn: ``(params, *args) -> (loss, grads)``, usually
        ``fg.jit(fg.value_and_grad(loss_fn))``.
      update_fn: ``(params, opt_state, grads) -> (params, opt_state)``, usually a jit-compiled
        optimizer update followed by ``optim.apply_updates``.

    Returns:
      ``step(params, opt_state, *args) -> (params, opt_state, loss)``, where ``loss`` is the
      mean over all processes.

    Example::

        step = dist.data_parallel_step(fg.jit(fg.value_and_grad(loss_fn)), fg.jit(update))
        params = dist.broadcast(params)
        for batch in ds.shard(dist.process_index(), dist.process_count()).batch(32):
            params, opt_state, loss = step(params, opt_state, batch)
    """
    def step(params, opt_state, *args):
        loss, grads = grad_fn(params, *args)
        grads, loss = average_gradients(grads, loss)
        params, opt_state = update_fn(params, opt_state, grads)
        return params, opt_state, loss

    return step
