"""Atomic checkpoints of pytrees and of whole training states.

``save(path, tree)`` writes one file; ``restore(path)`` gives the same pytree back, with every
leaf a ``funcgrad.Array`` of the saved dtype and shape. ``save_train_state`` /
``restore_train_state`` keep a directory of per-step checkpoints of everything a training run
needs to resume: parameters, optimizer state, PRNG key, step, the data iterator's state and a
JSON-able ``extra`` dict.

File format (version 1)
    A checkpoint file is an uncompressed NumPy ``.npz`` archive (a zip of ``.npy`` files):

    * ``leaf_<i>.npy``: the i-th leaf in ``tree_flatten`` order (i = 0, 1, ...).
    * ``__funcgrad__.npy``: a ``uint8`` array holding UTF-8 JSON::

          {"format": "funcgrad-checkpoint", "version": 1,
           "tree": <node>, "metadata": <JSON value or null>}

      where ``<node>`` is one of::

          {"kind": "leaf", "index": i, "dtype": "float32", "shape": [3, 4], "weak": false}
          {"kind": "none"}
          {"kind": "list" | "tuple", "children": [<node>, ...]}
          {"kind": "dict" | "ordered_dict", "keys": [k, ...], "children": [<node>, ...]}
          {"kind": "namedtuple", "type": "module:QualName", "fields": [...],
           "children": [<node>, ...]}

      Dict keys are strings or integers. ``weak`` marks leaves that were Python scalars
      (restored as weakly typed 0-d arrays). NamedTuple classes are imported again by
      ``module:qualname`` on restore; pass ``like=`` to rebuild with your own classes instead.

    The archive can be read without funcgrad (``numpy.load``); ``allow_pickle`` is never needed.

Atomicity
    Every file is written to a hidden temporary file in the destination directory, flushed
    and ``fsync``-ed, then moved over the final name with ``os.replace`` and the directory is
    ``fsync``-ed. A crash at any point leaves either the previous checkpoint or the new one under
    the final name, never a partial file. On an exception the temporary file is removed; a
    process killed outright may leave a ``.<name>.tmp-*`` file behind, which is never read
    (``save_train_state`` removes such leftovers from its directory).

Training-state directories
    ``save_train_state(directory, step, ...)`` writes ``directory/step_<step:08d>.ckpt`` (a
    checkpoint file as above whose tree is ``{"params", "opt_state", "rng"}`` and whose metadata
    holds ``{"train_state": 1, "step", "data_state", "extra"}``), then deletes older step
    files so that at most ``keep`` remain. One writer per directory.

Example:
    >>> import os, tempfile, numpy as np
    >>> from funcgrad import checkpoints
    >>> path = os.path.join(tempfile.mkdtemp(), "params.ckpt")
    >>> checkpoints.save(path, {"w": np.ones((2, 3), np.float32), "b": None})
    >>> checkpoints.restore(path)["w"].shape
    (2, 3)
"""
from __future__ import annotations

import importlib
import json
import operator
import os
import re
import secrets
import zipfile
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np

from funcgrad import dtypes, errors, source_info
from funcgrad import tree_util as tu
from funcgrad.array import Array

__all__ = [
    "save",
    "restore",
    "TrainState",
    "save_train_state",
    "restore_train_state",
    "latest_step",
    "all_steps",
    "CheckpointMismatchError",
    "CheckpointFormatError",
]

FORMAT = "funcgrad-checkpoint"
VERSION = 1
_HEADER = "__funcgrad__"
_STEP_RE = re.compile(r"^step_(\d+)\.ckpt$")
_TMP_MARK = ".tmp-"


CheckpointMismatchError = errors.CheckpointMismatchError
CheckpointFormatError = errors.CheckpointFormatError


def _err(cls, op: str, what: str, fix: str | None):
    return cls(errors.message(op, what, fix, cls))


def _not_found(op: str, what: str, fix: str) -> FileNotFoundError:
    # built-in exception: same message shape, without a docs/errors.md section to link to
    src = source_info.user_frame()
    lines = [f"{op}: {what}"] + ([src.describe()] if src is not None else []) + [f"Fix: {fix}"]
    return FileNotFoundError("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Encoding a pytree as (JSON node, leaf arrays)
# --------------------------------------------------------------------------------------------

def _leaf_array(op: str, path, x) -> tuple[np.ndarray, bool]:
    """The NumPy value saved for leaf ``x`` and whether it was a (weakly typed) Python scalar."""
    if isinstance(x, Array):
        return np.asarray(x), bool(x.weak_type)
    if isinstance(x, (np.ndarray, np.generic)):
        value = np.asarray(x)
        weak = False
    elif isinstance(x, (bool, int, float, complex)):
        dt = dtypes.python_scalar_dtype(x)
        try:
            value = np.asarray(x, dtype=dt)
        except OverflowError:
            raise _err(errors.InvalidArgumentError, op,
                       f"the Python int {x!r} at {_where(path)} does not fit in {dt.name}.",
                       "save it as a NumPy array of a wider dtype, e.g. np.int64(x).") from None
        weak = not isinstance(x, bool)
    else:
        raise _err(errors.InvalidArgumentError, op,
                   f"the leaf at {_where(path)} is a {type(x).__name__}, not an array.",
                   "checkpoint leaves must be funcgrad Arrays, NumPy arrays or Python "
                   "numbers; keep other values (strings, objects) out of the tree, e.g. in "
                   "save_train_state(extra=...) when they are JSON-able.")
    if value.dtype.kind not in "biufc":
        raise _err(errors.InvalidArgumentError, op,
                   f"the leaf at {_where(path)} has dtype {value.dtype}, which cannot be "
                   "saved without pickling.",
                   "convert it to a numeric or boolean array first.")
    return value, weak


def _where(path) -> str:
    return tu.keystr(path) or "the root"


def _leaf_spec(x) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``like`` leaf: arrays, ShapedArray-like values or Python scalars."""
    if type(x) in (bool, int, float, complex):  # not np.float64, which subclasses float
        return (), dtypes.python_scalar_dtype(x)
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return tuple(shape), np.dtype(dtype)
    value = np.asarray(x)
    return value.shape, value.dtype


def _class_name(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _encode(op: str, treedef, path: tuple, leaf_fn) -> dict:
    """The JSON node of ``treedef``; ``leaf_fn(path)`` describes the next leaf."""
    data = treedef.node_data()
    if data is None:
        return leaf_fn(path)
    nodetype, aux = data
    children = treedef.children()
    if nodetype is type(None):
        return {"kind": "none"}
    if nodetype in (list, tuple):
        keys = [tu.SequenceKey(i) for i in range(len(children))]
        node = {"kind": nodetype.__name__}
    elif nodetype in (dict, OrderedDict):
        for k in aux:
            if not (isinstance(k, str) or (isinstance(k, int) and not isinstance(k, bool))):
                raise _err(errors.InvalidArgumentError, op,
                           f"the dict at {_where(path)} has the key {k!r} of type "
                           f"{type(k).__name__}; checkpoints store string and integer keys "
                           "only.", "use string keys, e.g. str(key).")
        keys = [tu.DictKey(k) for k in aux]
        node = {"kind": "dict" if nodetype is dict else "ordered_dict", "keys": list(aux)}
    elif isinstance(nodetype, type) and issubclass(nodetype, tuple) \
            and hasattr(nodetype, "_fields"):
        keys = [tu.GetAttrKey(f) for f in nodetype._fields]
        node = {"kind": "namedtuple", "type": _class_name(nodetype),
                "fields": list(nodetype._fields)}
    else:
        raise _err(errors.InvalidArgumentError, op,
                   f"the node at {_where(path)} is a {getattr(nodetype, '__name__', nodetype)}, "
                   "a custom pytree node type that checkpoints cannot record.",
                   "convert it to a dict, list, tuple or NamedTuple before saving (for "
                   "example with a small to_dict / from_dict pair).")
    node["children"] = [_encode(op, c, path + (k,), leaf_fn)
                        for k, c in zip(keys, children)]
    return node


def _encode_tree(op: str, tree) -> tuple[dict, list[np.ndarray]]:
    """``tree`` as a JSON structure plus the NumPy arrays of its leaves, in flatten order."""
    path_leaves, treedef = tu.tree_flatten_with_path(tree)
    arrays: list[np.ndarray] = []
    it = iter(path_leaves)

    def leaf_fn(path):
        _, x = next(it)
        value, weak = _leaf_array(op, path, x)
        arrays.append(value)
        return {"kind": "leaf", "index": len(arrays) - 1, "dtype": value.dtype.name,
                "shape": list(value.shape), "weak": weak}

    return _encode(op, treedef, (), leaf_fn), arrays


def _encode_like(op: str, like) -> dict:
    """The JSON structure a checkpoint of ``like`` would have (no arrays are converted)."""
    path_leaves, treedef = tu.tree_flatten_with_path(like)
    it = iter(path_leaves)

    def leaf_fn(path):
        _, x = next(it)
        shape, dtype = _leaf_spec(x)
        return {"kind": "leaf", "dtype": dtype.name, "shape": list(shape)}

    return _encode(op, treedef, (), leaf_fn), treedef


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

def _import_class(op: str, path: str, name: str, fields: list, where: str):
    module_name, _, qualname = name.partition(":")
    fix = ("make the class importable under that name (define it at module level), or pass "
           "like= with a tree of the same structure to rebuild it with your own classes.")
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as e:  # ImportError, AttributeError, or an error raised by the import
        raise _err(CheckpointFormatError, op,
                   f"{path!r} holds a NamedTuple {name} at {where}, which cannot be imported "
                   f"({type(e).__name__}: {e}).", fix) from None
    if not (isinstance(obj, type) and issubclass(obj, tuple)
            and list(getattr(obj, "_fields", ())) == fields):
        raise _err(CheckpointFormatError, op,
                   f"{path!r} holds a NamedTuple {name} with fields {fields} at {where}, but "
                   f"{name} is now {obj!r} with fields {list(getattr(obj, '_fields', []))}.",
                   fix)
    return obj


def _decode(op: str, path: str, node: dict, leaves: list, where: tuple):
    kind = node["kind"]
    if kind == "leaf":
        return leaves[node["index"]]
    if kind == "none":
        return None
    children = node["children"]
    if kind in ("list", "tuple"):
        out = [_decode(op, path, c, leaves, where + (tu.SequenceKey(i),))
               for i, c in enumerate(children)]
        return out if kind == "list" else tuple(out)
    if kind in ("dict", "ordered_dict"):
        items = [(k, _decode(op, path, c, leaves, where + (tu.DictKey(k),)))
                 for k, c in zip(node["keys"], children)]
        return dict(items) if kind == "dict" else OrderedDict(items)
    if kind == "namedtuple":
        cls = _import_class(op, path, node["type"], node["fields"], _where(where))
        return cls(*[_decode(op, path, c, leaves, where + (tu.GetAttrKey(f),))
                     for f, c in zip(node["fields"], children)])
    raise _err(CheckpointFormatError, op, f"{path!r} has an unknown tree node kind {kind!r}.",
               "it was written by a newer funcgrad; upgrade funcgrad to read it.")


# --------------------------------------------------------------------------------------------
# Comparing a saved structure with the one `like` asks for
# --------------------------------------------------------------------------------------------

def _short(node: dict) -> str:
    kind = node["kind"]
    if kind == "leaf":
        return f"{dtypes.short_name(node['dtype'])}[{','.join(map(str, node['shape']))}]"
    if kind == "none":
        return "None"
    if kind == "namedtuple":
        return f"a NamedTuple {node['type']}"
    n = len(node["children"])
    if kind in ("dict", "ordered_dict"):
        return f"a {kind.replace('_', ' ')} with keys {node['keys']}"
    return f"a {kind} of {n} element{'s' if n != 1 else ''}"


def _diff(saved: dict, expected: dict, where: str, out: list[str]) -> None:
    """Appends one line per difference between two encoded structures."""
    ks, ke = saved["kind"], expected["kind"]
    if ks != ke or (ks == "namedtuple" and saved["type"] != expected["type"]):
        out.append(f"{where or '<root>'}: saved {_short(saved)}, expected {_short(expected)}")
        return
    if ks == "leaf":
        if saved["dtype"] != expected["dtype"] or saved["shape"] != expected["shape"]:
            out.append(f"{where or '<root>'}: saved {_short(saved)}, "
                       f"expected {_short(expected)}")
        return
    if ks == "none":
        return
    cs, ce = saved["children"], expected["children"]
    if ks in ("dict", "ordered_dict"):
        s_keys, e_keys = saved["keys"], expected["keys"]
        for k in e_keys:
            if k not in s_keys:
                out.append(f"{where}[{k!r}]: missing from the checkpoint (expected "
                           f"{_short(ce[e_keys.index(k)])})")
        for k, c in zip(s_keys, cs):
            if k not in e_keys:
                out.append(f"{where}[{k!r}]: in the checkpoint ({_short(c)}) but not in like")
            else:
                _diff(c, ce[e_keys.index(k)], f"{where}[{k!r}]", out)
        if set(s_keys) == set(e_keys) and s_keys != e_keys:
            # leaves are matched by position, so the key order must agree too (it can differ
            # only for OrderedDicts and dicts with unsortable mixed-type keys)
            out.append(f"{where or '<root>'}: key order differs: saved {s_keys}, "
                       f"expected {e_keys}")
        return
    if ks == "namedtuple":
        labels = [f".{f}" for f in expected["fields"]]
    else:
        labels = [f"[{i}]" for i in range(max(len(cs), len(ce)))]
        if len(cs) != len(ce):
            out.append(f"{where or '<root>'}: saved {_short(saved)}, expected {_short(expected)}")
            return
    for label, c, e in zip(labels, cs, ce):
        _diff(c, e, where + label, out)


def _like_problems(op: str, saved: dict, like, root: str, problems: list[str]):
    """Appends the differences between ``saved`` and ``like``; returns ``like``'s treedef."""
    expected, treedef = _encode_like(op, like)
    _diff(saved, expected, root, problems)
    return treedef


def _raise_mismatch(op: str, path: str, problems: list[str]) -> None:
    shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20
                             else [])
    raise _err(CheckpointMismatchError, op,
               f"the checkpoint {path!r} does not match like ({len(problems)} "
               f"difference{'s' if len(problems) != 1 else ''}):\n  " + "\n  ".join(shown),
               "pass a like tree built the way the saved one was (same model and optimizer "
               "configuration), or restore without like to inspect what was saved.")


# --------------------------------------------------------------------------------------------
# Atomic file writing and reading
# --------------------------------------------------------------------------------------------

def _fsync_dir(directory: str) -> None:
    # makes the rename itself durable; not possible (or needed) on every platform
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_array(zf: zipfile.ZipFile, name: str, value: np.ndarray) -> None:
    with zf.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, value, allow_pickle=False)


def _header_array(header: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)


def _atomic_write(path: str, arrays: list[np.ndarray], header: dict) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # os.open (not mkstemp) so that the file gets the usual umask-based permissions
    tmp = os.path.join(directory, f".{os.path.basename(path)}{_TMP_MARK}{os.getpid()}-"
                                  f"{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for i, value in enumerate(arrays):
                    _write_array(zf, f"leaf_{i}", value)
                _write_array(zf, _HEADER, _header_array(header))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _read(op: str, path) -> tuple[dict, list[Array], Any]:
    """(tree node, leaf Arrays, metadata) of the checkpoint file at ``path``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _not_found(
            op, f"no checkpoint file at {path!r}.",
            "check the path; checkpoints.save(path, tree) writes one (for a training "
            "directory use restore_train_state(directory)).")
    if os.path.isdir(path):
        raise _err(CheckpointFormatError, op, f"{path!r} is a directory, not a checkpoint file.",
                   "use checkpoints.restore_train_state(directory) for directories written "
                   "by save_train_state, or pass the path of one .ckpt file.")
    damaged = ("the file is not a funcgrad checkpoint or is damaged; restore an earlier "
               "checkpoint or save it again.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _HEADER not in npz.files:
                raise _err(CheckpointFormatError, op,
                           f"{path!r} has no {_HEADER} entry, so it was not written by "
                           "funcgrad.checkpoints.save.", damaged)
            header = json.loads(bytes(npz[_HEADER]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise _err(CheckpointFormatError, op,
                           f"{path!r} has format {header.get('format')!r}, not {FORMAT!r}.",
                           damaged)
            if header.get("version") != VERSION:
                raise _err(CheckpointFormatError, op,
                           f"{path!r} is a version {header.get('version')!r} checkpoint; "
                           f"this funcgrad reads version {VERSION}.",
                           "upgrade funcgrad to read it.")
            leaves = _read_leaves(op, path, npz, header["tree"])
    except (CheckpointFormatError, FileNotFoundError):
        raise
    except Exception as e:  # zip, npy or JSON errors: a truncated or foreign file
        raise _err(CheckpointFormatError, op,
                   f"cannot read {path!r} ({type(e).__name__}: {e}).", damaged) from e
    return header["tree"], leaves, header.get("metadata")


def _leaf_specs(node: dict, out: list | None = None) -> list[dict]:
    """The leaf nodes of an encoded tree, in flatten order."""
    out = [] if out is None else out
    if node["kind"] == "leaf":
        out.append(node)
    for c in node.get("children", ()):
        _leaf_specs(c, out)
    return out


def _read_leaves(op: str, path: str, npz, tree: dict) -> list[Array]:
    specs = _leaf_specs(tree)
    leaves: list[Array | None] = [None] * len(specs)
    for spec in specs:
        i = spec["index"]
        value = npz[f"leaf_{i}"]
        if value.dtype.name != spec["dtype"] or list(value.shape) != spec["shape"]:
            raise _err(CheckpointFormatError, op,
                       f"{path!r}: leaf_{i} is {value.dtype.name}{list(value.shape)} but the "
                       f"recorded structure says {spec['dtype']}{spec['shape']}.",
                       "the file is damaged; restore an earlier checkpoint.")
        leaves[i] = Array(value, weak_type=bool(spec.get("weak", False)))
    return leaves


# --------------------------------------------------------------------------------------------
# Public API: one pytree per file
# --------------------------------------------------------------------------------------------

def _save(op: str, path, tree, metadata) -> None:
    node, arrays = _encode_tree(op, tree)
    header = {"format": FORMAT, "version": VERSION, "tree": node, "metadata": metadata}
    _atomic_write(path, arrays, header)


def save(path: str | os.PathLike, tree: Any) -> None:
    """Write a pytree of arrays to ``path`` atomically.

    The file is an ``.npz`` archive of the leaves plus the tree structure as JSON (see the
    module docstring). It is written to a temporary file in the same directory, synced and then
    renamed over ``path``, so ``path`` always holds either the previous checkpoint or the new
    one. Missing parent directories are created.

    Args:
        path: the file to write (any name; ``.ckpt`` is a good suffix).
        tree: a pytree of dicts (string or int keys), lists, tuples, NamedTuples and ``None``
            whose leaves are funcgrad Arrays, NumPy arrays or Python numbers.

    Returns:
        None.

    Raises:
        InvalidArgumentError: a leaf is not numeric, a dict key is not a string or integer, or
            the tree holds a custom pytree node type.

    Example:
        >>> import os, tempfile, funcgrad.numpy as fnp
        >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
        >>> save(path, {"w": fnp.ones((2, 2)), "step": 3})
        >>> restore(path)["step"]
        Array(3, dtype=int32, weak_type=True)

    See also: :func:`restore`, :func:`save_train_state`.
    """
    _save("checkpoints.save", path, tree, None)


def restore(path: str | os.PathLike, like: Any = None) -> Any:
    """Read a pytree written by :func:`save`.

    Args:
        path: the checkpoint file.
        like: optional pytree with the expected structure, shapes and dtypes (arrays, or any
            objects with ``.shape`` and ``.dtype``). When given, every difference is reported
            before anything is returned, and the result is rebuilt with ``like``'s node
            classes (so NamedTuples need not be importable).

    Returns:
        The saved pytree; every leaf is a ``funcgrad.Array`` with the saved dtype and shape
        (Python scalars come back as weakly typed 0-d Arrays).

    Raises:
        FileNotFoundError: there is no file at ``path``.
        CheckpointMismatchError: ``like`` differs; the message lists the key path of each
            mismatched leaf (``['dense']['w']: saved f32[3,4], expected f32[4,4]``) and every
            missing or extra key.
        CheckpointFormatError: the file is not a funcgrad checkpoint, is damaged, or holds a
            NamedTuple class that cannot be imported (and no ``like`` was given).

    Example:
        >>> import os, tempfile, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
        >>> save(path, {"w": np.zeros((3, 4), np.float32)})
        >>> restore(path, like={"w": np.zeros((4, 4), np.float32)})
        Traceback (most recent call last):
        ...
        funcgrad.checkpoints.CheckpointMismatchError: ...

    See also: :func:`save`, :func:`restore_train_state`.
    """
    op = "checkpoints.restore"
    node, leaves, _ = _read(op, path)
    if like is not None:
        problems: list[str] = []
        treedef = _like_problems(op, node, like, "", problems)
        if problems:
            _raise_mismatch(op, os.fspath(path), problems)
        return treedef.unflatten(leaves)
    return _decode(op, os.fspath(path), node, leaves, ())


# --------------------------------------------------------------------------------------------
# Public API: training-state directories
# --------------------------------------------------------------------------------------------

class TrainState(NamedTuple):
    """Everything needed to resume training, as returned by :func:`restore_train_state`.

    Attributes:
        step: the step number the checkpoint was saved at (a Python int).
        params: the parameter pytree (leaves are funcgrad Arrays).
        opt_state: the optimizer state pytree, or None.
        rng: the PRNG key (a ``uint32[2]`` Array), or None.
        data_state: the data iterator's state dict (for ``iterator.set_state``), or None.
        extra: the JSON-able ``extra`` value given to :func:`save_train_state`, or None.
    """
    step: int
    params: Any
    opt_state: Any = None
    rng: Any = None
    data_state: Any = None
    extra: Any = None


def _step_path(directory, step: int) -> str:
    return os.path.join(os.fspath(directory), f"step_{step:08d}.ckpt")


def _json_default(x):
    # NumPy scalars (e.g. a position read from an index array) are as good as Python numbers
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    raise TypeError(f"{type(x).__name__} is not JSON-able")


def _to_json(op: str, name: str, value):
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except (TypeError, ValueError) as e:
        raise _err(errors.InvalidArgumentError, op,
                   f"{name} must be JSON-able (dicts, lists, strings, numbers, None), but "
                   f"{e}.", "convert arrays to lists (x.tolist()) or put them in params."
                   ) from None


def _check_step(op: str, step) -> int:
    try:
        step = operator.index(step)
    except TypeError:
        raise _err(errors.InvalidArgumentError, op,
                   f"step must be an integer, got {step!r} of type {type(step).__name__}.",
                   "pass the training step number, e.g. int(step).") from None
    if step < 0:
        raise _err(errors.InvalidArgumentError, op, f"step must be >= 0, got {step}.",
                   "pass the number of training steps done so far.")
    return step


def all_steps(directory: str | os.PathLike) -> list[int]:
    """The steps that have a checkpoint in ``directory``, in increasing order.

    Args:
        directory: a directory written by :func:`save_train_state`.

    Returns:
        A sorted list of ints; empty when the directory is missing or holds no checkpoints.
        Temporary files of unfinished writes are never listed.

    Example:
        >>> import tempfile
        >>> all_steps(tempfile.mkdtemp())
        []
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    steps = []
    for name in names:
        m = _STEP_RE.match(name)
        if m:
            steps.append(int(m.group(1)))
    return sorted(steps)


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest step with a checkpoint in ``directory``, or None when there is none.

    Args:
        directory: a directory written by :func:`save_train_state` (it need not exist).

    Returns:
        An int, or None for a missing or empty directory.

    Example:
        >>> import tempfile
        >>> latest_step(tempfile.mkdtemp()) is None
        True
    """
    steps = all_steps(directory)
    return steps[-1] if steps else None


def _remove_stale_temps(directory: str) -> None:
    for name in os.listdir(directory):
        if name.startswith(".step_") and _TMP_MARK in name:
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def save_train_state(directory: str | os.PathLike, step: int, *, params: Any,
                     opt_state: Any = None, rng: Any = None, data_state: dict | None = None,
                     extra: Any = None, keep: int | None = 3) -> str:
    """Atomically checkpoint a training run at ``step`` and prune old checkpoints.

    Writes ``directory/step_<step:08d>.ckpt`` (replacing an existing checkpoint of the same
    step). Only once it is safely in place are older checkpoints deleted, keeping the new one
    plus the ``keep - 1`` highest other steps.

    Args:
        directory: where the checkpoints live; created if missing. One writer per directory.
        step: the training step (an int >= 0).
        params: the parameter pytree.
        opt_state: the optimizer state pytree (e.g. ``opt.init(params)``), or None.
        rng: a PRNG key (``uint32[2]``), or None.
        data_state: the data iterator's state (``iterator.get_state()``), JSON-able, or None.
        extra: any other JSON-able value (e.g. a metrics history), or None. Tuples come back
            as lists.
        keep: how many checkpoints to keep (>= 1), or None to keep them all.

    Returns:
        The path of the checkpoint written.

    Example:
        >>> import tempfile, numpy as np
        >>> from funcgrad import optim, random
        >>> d = tempfile.mkdtemp()
        >>> params = {"w": np.zeros(3, np.float32)}
        >>> _ = save_train_state(d, 10, params=params, opt_state=optim.adam(1e-3).init(params),
        ...                      rng=random.PRNGKey(0), data_state={"position": 640})
        >>> latest_step(d), restore_train_state(d).data_state
        (10, {'position': 640})

    See also: :func:`restore_train_state`, :func:`latest_step`.
    """
    op = "checkpoints.save_train_state"
    step = _check_step(op, step)
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise _err(errors.InvalidArgumentError, op, f"keep must be an int >= 1 or None, got "
                   f"{keep!r}.", "pass keep=1 or more (None keeps every checkpoint).")
    metadata = {"train_state": 1, "step": step,
                "data_state": _to_json(op, "data_state", data_state),
                "extra": _to_json(op, "extra", extra)}
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temps(directory)
    path = _step_path(directory, step)
    _save(op, path, {"params": params, "opt_state": opt_state, "rng": rng}, metadata)
    if keep is not None:
        others = [s for s in all_steps(directory) if s != step]
        for old in others[:max(len(others) - (keep - 1), 0)]:
            try:
                os.unlink(_step_path(directory, old))
            except FileNotFoundError:
                pass
    return path


def _like_field(like, name: str):
    if isinstance(like, dict):
        return like.get(name)
    return getattr(like, name, None)


def restore_train_state(directory: str | os.PathLike, step: int | None = None,
                        like: Any = None) -> TrainState:
    """Restore a checkpoint written by :func:`save_train_state`.

    Args:
        directory: the checkpoint directory.
        step: the step to restore; the latest one when None.
        like: optional ``TrainState`` (or dict) giving the expected ``params``, ``opt_state``
            and ``rng``; fields that are None are not checked. Differences are reported by key
            path, e.g. ``params['dense']['w']: saved f32[3,4], expected f32[4,4]``.

    Returns:
        A :class:`TrainState` (step, params, opt_state, rng, data_state, extra).

    Raises:
        FileNotFoundError: no checkpoint in ``directory`` (or none for ``step``).
        CheckpointMismatchError: ``like`` differs from what was saved.

    Example:
        >>> import tempfile, numpy as np
        >>> d = tempfile.mkdtemp()
        >>> _ = save_train_state(d, 1, params={"w": np.ones(2, np.float32)})
        >>> _ = save_train_state(d, 2, params={"w": np.zeros(2, np.float32)})
        >>> restore_train_state(d, step=1).params["w"]
        Array([1., 1.], dtype=float32)
    """
    op = "checkpoints.restore_train_state"
    directory = os.fspath(directory)
    steps = all_steps(directory)
    if step is None:
        if not steps:
            raise _not_found(
                op, f"no checkpoint (step_*.ckpt) in {directory!r}"
                + ("" if os.path.isdir(directory) else ", which does not exist") + ".",
                "check the directory, or start training from scratch; use "
                "checkpoints.latest_step(directory) to test for a checkpoint first.")
        step = steps[-1]
    else:
        step = _check_step(op, step)
        if step not in steps:
            raise _not_found(
                op, f"no checkpoint for step {step} in {directory!r}; the steps there are "
                f"{steps}.", "pass one of those steps, or step=None for the latest.")
    path = _step_path(directory, step)
    node, leaves, meta = _read(op, path)
    if not isinstance(meta, dict) or meta.get("train_state") != 1 or node["kind"] != "dict":
        raise _err(CheckpointFormatError, op, f"{path!r} is a plain checkpoint, not a "
                   "training state.", "read it with checkpoints.restore(path).")
    fields, problems = {}, []
    for name, child in zip(node["keys"], node["children"]):
        sub_like = None if like is None else _like_field(like, name)
        if sub_like is None:
            fields[name] = _decode(op, path, child, leaves, (tu.DictKey(name),))
        else:
            treedef = _like_problems(op, child, sub_like, name, problems)
            if not problems:
                # leaf indices are global to the file: rebuild from this field's own leaves
                fields[name] = treedef.unflatten([leaves[s["index"]] for s in _leaf_specs(child)])
    if problems:
        _raise_mismatch(op, path, problems)
    return TrainState(step=meta["step"], params=fields.get("params"),
                      opt_state=fields.get("opt_state"), rng=fields.get("rng"),
                      data_state=meta.get("data_state"), extra=meta.get("extra"))

