"""Tests of funcgrad.checkpoints: round trips, `like` checks, atomic writes, train-state dirs."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import checkpoints, optim
from funcgrad import tree_util as tu
from funcgrad.checkpoints import CheckpointFormatError, CheckpointMismatchError


class Point(NamedTuple):
    x: object
    y: object


class Outer(NamedTuple):
    inner: object
    tag: object = None


def _params():
    return {"dense": {"w": fnp.ones((3, 4)), "b": fnp.zeros(4)},
            "out": {"w": fnp.full((4, 2), 0.5), "b": fnp.zeros(2)}}


def _trees():
    """(name, tree) pairs covering every supported node and leaf kind."""
    params = _params()
    return [
        ("nested", {"a": [fnp.arange(3.0), (fnp.ones((2, 2)), {"b": fnp.zeros(())})],
                    "c": {"d": {"e": fnp.full((1, 1, 1), 7.0)}}}),
        ("namedtuples", Outer(Point(fnp.ones(2), [fnp.zeros(1)]), tag=None)),
        ("none_and_empty", {"n": None, "l": [], "t": (), "d": {}, "x": [None, (None,)]}),
        ("python_scalars", {"f": 1.5, "i": -3, "b": True, "c": 1 + 2j}),
        ("numpy_scalars", [np.float64(2.5), np.int8(-4), np.uint32(7), np.bool_(False)]),
        ("dtypes", {dt: np.arange(6).astype(dt).reshape(2, 3) for dt in
                    ["float32", "float64", "float16", "int32", "int64", "int8", "uint8",
                     "uint32", "bool", "complex64"]}),
        ("zero_d_and_size_0", [np.array(3.0, np.float32), np.zeros((0,), np.int32),
                               np.zeros((3, 0, 2), np.float64), fnp.zeros((0, 5))]),
        ("ordered_dict_and_int_keys", {"od": OrderedDict([("z", 1.0), ("a", 2.0)]),
                                       "ik": {3: fnp.ones(1), 10: fnp.zeros(1)}}),
        ("adam_state", {"params": params, "opt_state": optim.adam(1e-3).init(params)}),
        ("prng_key", {"key": fg.random.PRNGKey(42), "keys": fg.random.split(
            fg.random.PRNGKey(1), 3)}),
        ("single_leaf", fnp.arange(4, dtype="uint32")),
        ("only_none", None),
    ]


def _assert_same(restored, original):
    assert tu.tree_structure(restored) == tu.tree_structure(original)
    for (path, r), o in zip(tu.tree_leaves_with_path(restored), tu.tree_leaves(original)):
        where = tu.keystr(path)
        assert type(r) is fg.Array, where
        o_arr = np.asarray(o)
        if type(o) in (bool, int, float, complex):  # not NumPy scalars, which subclass them
            o_arr = np.asarray(o, fg.dtypes.python_scalar_dtype(o))
            assert r.weak_type == (not isinstance(o, bool)), where
        else:
            assert r.weak_type == bool(getattr(o, "weak_type", False)), where
        assert r.dtype == o_arr.dtype and r.shape == o_arr.shape, where
        np.testing.assert_array_equal(np.asarray(r), o_arr, err_msg=where)


def _listdir(d):
    return sorted(os.listdir(d))


# --------------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("name,tree", _trees(), ids=[n for n, _ in _trees()])
def test_round_trip(tmp_path, name, tree):
    path = tmp_path / "t.ckpt"
    checkpoints.save(path, tree)
    _assert_same(checkpoints.restore(path), tree)
    # with like, the same result comes back
    _assert_same(checkpoints.restore(str(path), like=tree), tree)
    assert _listdir(tmp_path) == ["t.ckpt"]  # no temp files left behind


def test_restored_dict_order_and_namedtuple_class(tmp_path):
    tree = {"b": Point(1.0, 2.0), "a": OrderedDict([("z", 1.0), ("a", 2.0)])}
    checkpoints.save(tmp_path / "t.ckpt", tree)
    out = checkpoints.restore(tmp_path / "t.ckpt")
    assert type(out["b"]) is Point and type(out["a"]) is OrderedDict
    assert list(out["a"]) == ["z", "a"]


def test_restored_optimizer_state_keeps_working(tmp_path):
    params = _params()
    opt = optim.adam(1e-2)
    state = opt.init(params)
    grads = tu.tree_map(fnp.ones_like, params)
    updates, state = opt.update(grads, state, params)
    checkpoints.save(tmp_path / "s.ckpt", {"params": params, "opt_state": state})
    back = checkpoints.restore(tmp_path / "s.ckpt")
    assert back["opt_state"][0].count.dtype == np.int32
    assert int(back["opt_state"][0].count) == 1
    u1, s1 = opt.update(grads, state, params)
    u2, s2 = opt.update(grads, back["opt_state"], back["params"])
    for a, b in zip(tu.tree_leaves((u1, s1)), tu.tree_leaves((u2, s2))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_restored_key_is_a_usable_key(tmp_path):
    key = fg.random.PRNGKey(7)
    checkpoints.save(tmp_path / "k.ckpt", key)
    back = checkpoints.restore(tmp_path / "k.ckpt")
    assert back.dtype == np.uint32 and back.shape == (2,)
    np.testing.assert_array_equal(np.asarray(fg.random.normal(back, (3,))),
                                  np.asarray(fg.random.normal(key, (3,))))


def test_file_is_a_plain_npz_with_a_json_header(tmp_path):
    path = tmp_path / "t.ckpt"
    checkpoints.save(path, {"w": np.arange(3, dtype=np.float32), "p": Point(1, None)})
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__funcgrad__", "leaf_0", "leaf_1"]
        header = json.loads(bytes(npz["__funcgrad__"]).decode())
        np.testing.assert_array_equal(npz["leaf_1"], [0, 1, 2])
    assert header["format"] == "funcgrad-checkpoint" and header["version"] == 1
    tree = header["tree"]
    assert tree["kind"] == "dict" and tree["keys"] == ["p", "w"]
    p = tree["children"][0]
    assert p["kind"] == "namedtuple" and p["type"] == f"{__name__}:Point"
    assert p["fields"] == ["x", "y"] and p["children"][1] == {"kind": "none"}
    assert p["children"][0] == {"kind": "leaf", "index": 0, "dtype": "int32", "shape": [],
                                "weak": True}


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "t.ckpt"
    checkpoints.save(path, {"a": fnp.ones(3)})
    checkpoints.save(path, [fnp.zeros(2, dtype="int32")])
    _assert_same(checkpoints.restore(path), [np.zeros(2, np.int32)])
    assert _listdir(tmp_path) == ["t.ckpt"]


# --------------------------------------------------------------------------- NamedTuple import

def test_unimportable_namedtuple_needs_like(tmp_path):
    class Local(NamedTuple):
        a: object

    path = tmp_path / "t.ckpt"
    checkpoints.save(path, {"s": Local(fnp.ones(2))})
    with pytest.raises(CheckpointFormatError) as e:
        checkpoints.restore(path)
    msg = str(e.value)
    assert "test_unimportable_namedtuple_needs_like.<locals>.Local" in msg
    assert "['s']" in msg and "like=" in msg
    out = checkpoints.restore(path, like={"s": Local(np.zeros(2, np.float32))})
    assert type(out["s"]) is Local
    np.testing.assert_array_equal(np.asarray(out["s"].a), [1.0, 1.0])


def test_namedtuple_whose_fields_changed(tmp_path):
    path = tmp_path / "t.ckpt"
    checkpoints.save(path, Point(1.0, 2.0))
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["__funcgrad__"]).decode())
    header["tree"]["fields"] = ["x", "z"]
    arrays["__funcgrad__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(CheckpointFormatError, match=r"fields \['x', 'z'\].*fields \['x', 'y'\]"):
        checkpoints.restore(tmp_path / "edited.npz")


# ------------------------------------------------------------------------------- like checks

def _mismatch(tmp_path, saved, like):
    path = tmp_path / "m.ckpt"
    checkpoints.save(path, saved)
    with pytest.raises(CheckpointMismatchError) as e:
        checkpoints.restore(path, like=like)
    return str(e.value)


def test_like_shape_mismatch_names_the_key_path(tmp_path):
    saved = {"params": {"dense": {"w": np.zeros((3, 4), np.float32)}}}
    like = {"params": {"dense": {"w": np.zeros((4, 4), np.float32)}}}
    msg = _mismatch(tmp_path, saved, like)
    assert "['params']['dense']['w']: saved f32[3,4], expected f32[4,4]" in msg
    assert "1 difference" in msg and "Fix:" in msg and "m.ckpt" in msg


def test_like_dtype_mismatch(tmp_path):
    msg = _mismatch(tmp_path, {"count": np.int32(0), "k": fg.random.PRNGKey(0)},
                    {"count": np.float32(0), "k": np.zeros(2, np.int32)})
    assert "['count']: saved i32[], expected f32[]" in msg
    assert "['k']: saved u32[2], expected i32[2]" in msg
    assert "2 differences" in msg


def test_like_missing_and_extra_keys_all_reported(tmp_path):
    saved = {"a": fnp.ones(2), "old": fnp.ones(1), "sub": {"x": fnp.ones(3)}}
    like = {"a": fnp.ones(2), "new": fnp.ones(5), "sub": {"x": fnp.ones(3), "y": 1.0}}
    msg = _mismatch(tmp_path, saved, like)
    assert "['new']: missing from the checkpoint (expected f32[5])" in msg
    assert "['sub']['y']: missing from the checkpoint (expected f32[])" in msg
    assert "['old']: in the checkpoint (f32[1]) but not in like" in msg
    assert "3 differences" in msg


@pytest.mark.parametrize("saved,like,expected", [
    ([1.0, 2.0], (1.0, 2.0), "<root>: saved a list of 2 elements, expected a tuple of 2"),
    ({"a": [1.0]}, {"a": [1.0, 2.0]},
     "['a']: saved a list of 1 element, expected a list of 2 elements"),
    ({"a": Point(1.0, 2.0)}, {"a": Outer(1.0, 2.0)},
     f"['a']: saved a NamedTuple {__name__}:Point, expected a NamedTuple {__name__}:Outer"),
    ({"a": None}, {"a": 1.0}, "['a']: saved None, expected f32[]"),
    ({"a": {"b": 1.0}}, {"a": 1.0}, "['a']: saved a dict with keys ['b'], expected f32[]"),
    (Point([1.0], 2.0), Point([1.0], np.zeros(3)), ".y: saved f32[], expected f64[3]"),
    (OrderedDict([("a", 1.0), ("b", 2.0)]), OrderedDict([("b", 2.0), ("a", 1.0)]),
     "<root>: key order differs: saved ['a', 'b'], expected ['b', 'a']"),
])
def test_like_structure_mismatch(tmp_path, saved, like, expected):
    assert expected in _mismatch(tmp_path, saved, like)


def test_like_accepts_shape_dtype_structs_and_uses_its_classes(tmp_path):
    checkpoints.save(tmp_path / "t.ckpt", {"p": Point(np.ones((2, 3), np.float32), 2)})
    like = {"p": Point(fg.ShapedArray((2, 3), np.dtype("float32")), 0)}
    out = checkpoints.restore(tmp_path / "t.ckpt", like=like)
    assert type(out["p"]) is Point and out["p"].x.shape == (2, 3)
    assert out["p"].y.dtype == np.int32


# -------------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("tree,pattern", [
    ({"a": {"name": "adam"}}, r"\['a'\]\['name'\] is a str, not an array"),
    ({"a": [np.array(["x"])]}, r"\['a'\]\[0\] has dtype <U1"),
    ({(1, 2): 1.0}, r"the key \(1, 2\) of type tuple"),
    ({"p": tu.Partial(len, 1.0)}, r"the node at \['p'\] is a Partial"),
    ({"big": 2 ** 40}, r"\['big'\] does not fit in int32"),
])
def test_save_rejects_what_it_cannot_record(tmp_path, tree, pattern):
    with pytest.raises(fg.errors.InvalidArgumentError, match=pattern):
        checkpoints.save(tmp_path / "t.ckpt", tree)
    assert _listdir(tmp_path) == []


def test_missing_file(tmp_path):
    path = tmp_path / "nope.ckpt"
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*nope.ckpt") as e:
        checkpoints.restore(path)
    assert "Fix:" in str(e.value)


def test_directory_and_foreign_and_truncated_files(tmp_path):
    with pytest.raises(CheckpointFormatError, match="(?s)is a directory.*restore_train_state"):
        checkpoints.restore(tmp_path)
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointFormatError, match="junk.ckpt"):
        checkpoints.restore(tmp_path / "junk.ckpt")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(CheckpointFormatError, match="no __funcgrad__ entry"):
        checkpoints.restore(tmp_path / "plain.npz")
    good = tmp_path / "good.ckpt"
    checkpoints.save(good, {"w": np.arange(5000, dtype=np.float64)})
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 10):
        (tmp_path / "cut.ckpt").write_bytes(data[:cut])
        with pytest.raises(CheckpointFormatError, match="damaged"):
            checkpoints.restore(tmp_path / "cut.ckpt")


def test_flipped_bytes_are_detected(tmp_path):
    path = tmp_path / "t.ckpt"
    checkpoints.save(path, {"w": np.zeros(4096, np.float32)})
    data = bytearray(path.read_bytes())
    data[2048] ^= 0xFF  # inside leaf_0's payload: zip's CRC check must catch it
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointFormatError):
        checkpoints.restore(path)


# -------------------------------------------------------------------------------- atomicity

OLD = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.int32(1)}
NEW = {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float64), "step": np.int32(2)}


def _raise_on_call(n, exc):
    real = np.lib.format.write_array
    calls = []

    def write_array(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise exc
        return real(*args, **kwargs)
    return write_array


@pytest.mark.parametrize("where", ["second_leaf", "header", "fsync", "replace", "interrupt"])
def test_failed_write_keeps_old_checkpoint_and_no_temp_files(tmp_path, monkeypatch, where):
    path = tmp_path / "t.ckpt"
    checkpoints.save(path, OLD)
    before = path.read_bytes()
    exc = KeyboardInterrupt() if where == "interrupt" else OSError("disk full")
    if where in ("second_leaf", "interrupt"):
        monkeypatch.setattr(np.lib.format, "write_array", _raise_on_call(2, exc))
    elif where == "header":  # three leaves, then the header is the fourth array
        monkeypatch.setattr(np.lib.format, "write_array", _raise_on_call(4, exc))
    elif where == "fsync":
        def fsync(fd):
            raise exc
        monkeypatch.setattr(os, "fsync", fsync)
    else:
        def replace(src, dst):
            assert os.path.getsize(src) > 0  # the full new file existed under a temp name
            raise exc
        monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(type(exc)):
        checkpoints.save(path, NEW)
    monkeypatch.undo()
    assert _listdir(tmp_path) == ["t.ckpt"]
    assert path.read_bytes() == before
    _assert_same(checkpoints.restore(path), OLD)


_KILL_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from funcgrad import checkpoints
    d = sys.argv[1]
    checkpoints.save_train_state(d, 1, params={"w": np.arange(8, dtype=np.float32)},
                                 data_state={"position": 1})
    real = np.lib.format.write_array
    def slow_write_array(*args, **kwargs):  # a slow disk: the parent kills us mid-write
        real(*args, **kwargs)
        time.sleep(0.1)
    np.lib.format.write_array = slow_write_array
    big = {f"w{i:02d}": np.full(2 ** 19, i, np.float32) for i in range(32)}  # 64 MiB
    print("writing", flush=True)
    checkpoints.save_train_state(d, 2, params=big, data_state={"position": 2})
    print("finished", flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_leaves_previous_checkpoint(tmp_path):
    d = tmp_path / "ckpts"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(d)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        deadline = time.monotonic() + 20
        temp = None
        while time.monotonic() < deadline:  # wait until a few leaves are on disk
            temps = [n for n in os.listdir(d) if ".tmp-" in n]
            if temps and os.path.getsize(d / temps[0]) > 4 * 2 ** 21:
                temp = temps[0]
                break
            time.sleep(0.005)
        assert temp is not None, "the child never got into the middle of its write"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stdout.read() == ""  # it never finished
    # the half-written file exists, but only under its temporary name, which nothing reads
    assert sorted(os.listdir(d)) == sorted(["step_00000001.ckpt", temp])
    assert checkpoints.all_steps(d) == [1] and checkpoints.latest_step(d) == 1
    state = checkpoints.restore_train_state(d)
    assert state.step == 1 and state.data_state == {"position": 1}
    np.testing.assert_array_equal(np.asarray(state.params["w"]), np.arange(8))
    # the next save succeeds and clears the leftover
    checkpoints.save_train_state(d, 3, params={"w": np.zeros(2, np.float32)})
    assert sorted(os.listdir(d)) == ["step_00000001.ckpt", "step_00000003.ckpt"]


# ---------------------------------------------------------------------- train-state directories

def _save_steps(d, steps, keep=3):
    for s in steps:
        checkpoints.save_train_state(d, s, params={"w": np.full(2, s, np.float32)},
                                     data_state={"position": s}, keep=keep)


def test_train_state_round_trip(tmp_path):
    params = _params()
    opt = optim.adam(1e-3)
    opt_state = opt.init(params)
    rng = fg.random.PRNGKey(3)
    data_state = {"epoch": 2, "position": np.int64(17), "seed": 0,
                  "shard": {"index": 0, "count": 1}, "done": False, "order": [3, 1, 2]}
    extra = {"history": [{"loss": 0.5, "acc": None}], "name": "mlp"}
    path = checkpoints.save_train_state(tmp_path, 123, params=params, opt_state=opt_state,
                                        rng=rng, data_state=data_state, extra=extra)
    assert os.path.basename(path) == "step_00000123.ckpt"
    state = checkpoints.restore_train_state(tmp_path)
    assert isinstance(state, checkpoints.TrainState)
    assert state.step == 123 and type(state.step) is int
    _assert_same(state.params, params)
    _assert_same(state.opt_state, opt_state)
    _assert_same(state.rng, rng)
    assert state.data_state == {**data_state, "position": 17}
    assert state.extra == extra
    # and with like, the same values come back
    like = checkpoints.TrainState(0, params, opt_state, rng)
    again = checkpoints.restore_train_state(tmp_path, like=like)
    _assert_same(again.opt_state, opt_state)
    assert again.data_state == state.data_state


def test_train_state_optional_parts_default_to_none(tmp_path):
    checkpoints.save_train_state(tmp_path, 0, params={"w": fnp.ones(1)})
    state = checkpoints.restore_train_state(tmp_path)
    assert state.step == 0
    assert (state.opt_state, state.rng, state.data_state, state.extra) == (None,) * 4


def test_train_state_like_mismatch_is_prefixed_by_field(tmp_path):
    checkpoints.save_train_state(tmp_path, 5, params={"dense": {"w": np.zeros((3, 4),
                                                                               np.float32)}},
                                 rng=fg.random.PRNGKey(0))
    like = {"params": {"dense": {"w": np.zeros((4, 4), np.float32)}},
            "rng": np.zeros(2, np.int32)}
    with pytest.raises(CheckpointMismatchError) as e:
        checkpoints.restore_train_state(tmp_path, like=like)
    msg = str(e.value)
    assert "params['dense']['w']: saved f32[3,4], expected f32[4,4]" in msg
    assert "rng: saved u32[2], expected i32[2]" in msg
    assert "step_00000005.ckpt" in msg


def test_keep_last_n(tmp_path):
    _save_steps(tmp_path, range(1, 6), keep=2)
    assert checkpoints.all_steps(tmp_path) == [4, 5]
    _save_steps(tmp_path, [6, 7], keep=None)
    assert checkpoints.all_steps(tmp_path) == [4, 5, 6, 7]
    _save_steps(tmp_path, [8], keep=1)
    assert checkpoints.all_steps(tmp_path) == [8]
    assert _listdir(tmp_path) == ["step_00000008.ckpt"]


def test_keep_always_keeps_the_checkpoint_just_written(tmp_path):
    _save_steps(tmp_path, [10, 20, 30], keep=3)
    _save_steps(tmp_path, [5], keep=2)  # e.g. a restart from an earlier step
    assert checkpoints.all_steps(tmp_path) == [5, 30]
    assert checkpoints.restore_train_state(tmp_path, step=5).data_state == {"position": 5}


def test_failed_save_deletes_nothing(tmp_path, monkeypatch):
    _save_steps(tmp_path, [1, 2, 3], keep=3)
    monkeypatch.setattr(np.lib.format, "write_array", _raise_on_call(1, OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        _save_steps(tmp_path, [4], keep=1)
    monkeypatch.undo()
    assert _listdir(tmp_path) == [f"step_0000000{s}.ckpt" for s in (1, 2, 3)]


def test_same_step_is_overwritten(tmp_path):
    _save_steps(tmp_path, [4])
    checkpoints.save_train_state(tmp_path, 4, params={"w": np.zeros(3, np.int32)})
    state = checkpoints.restore_train_state(tmp_path, step=4)
    assert state.params["w"].dtype == np.int32 and state.data_state is None
    assert checkpoints.all_steps(tmp_path) == [4]


def test_restore_given_step_and_missing_step(tmp_path):
    _save_steps(tmp_path, [3, 7, 11])
    assert checkpoints.restore_train_state(tmp_path).step == 11
    state = checkpoints.restore_train_state(tmp_path, step=7)
    assert state.step == 7 and state.data_state == {"position": 7}
    np.testing.assert_array_equal(np.asarray(state.params["w"]), [7.0, 7.0])
    with pytest.raises(FileNotFoundError, match=r"no checkpoint for step 8 .*\[3, 7, 11\]"):
        checkpoints.restore_train_state(tmp_path, step=8)


def test_latest_step_on_empty_missing_and_cluttered_dirs(tmp_path):
    assert checkpoints.latest_step(tmp_path) is None
    assert checkpoints.latest_step(tmp_path / "missing") is None
    assert checkpoints.all_steps(tmp_path / "missing") == []
    with pytest.raises(FileNotFoundError, match="no checkpoint .* does not exist"):
        checkpoints.restore_train_state(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"no checkpoint \(step_\*\.ckpt\)"):
        checkpoints.restore_train_state(tmp_path)
    for name in ["notes.txt", "step_12.ckpt.bak", ".step_00000099.ckpt.tmp-1-ab", "step_x.ckpt"]:
        (tmp_path / name).write_text("x")
    _save_steps(tmp_path, [2, 100000000])
    assert checkpoints.all_steps(tmp_path) == [2, 100000000]
    assert checkpoints.latest_step(tmp_path) == 100000000
    assert checkpoints.restore_train_state(tmp_path).data_state == {"position": 100000000}


def test_plain_checkpoint_is_not_a_train_state(tmp_path):
    checkpoints.save(tmp_path / "step_00000001.ckpt", {"params": fnp.ones(1)})
    with pytest.raises(CheckpointFormatError, match="not a training state"):
        checkpoints.restore_train_state(tmp_path)


@pytest.mark.parametrize("kwargs,pattern", [
    ({"step": -1}, "step must be >= 0, got -1"),
    ({"step": 1.5}, "step must be an integer, got 1.5"),
    ({"data_state": {"pos": np.ones(2)}}, "data_state must be JSON-able"),
    ({"extra": {"f": len}}, "extra must be JSON-able"),
    ({"keep": 0}, "keep must be an int >= 1 or None, got 0"),
])
def test_save_train_state_bad_arguments(tmp_path, kwargs, pattern):
    args = {"step": 1, "params": {"w": np.ones(1)}, **kwargs}
    with pytest.raises(fg.errors.InvalidArgumentError, match=pattern):
        checkpoints.save_train_state(tmp_path, **args)
    assert checkpoints.all_steps(tmp_path) == []


def test_step_may_be_an_integer_array(tmp_path):
    checkpoints.save_train_state(tmp_path, np.int64(9), params={})
    checkpoints.save_train_state(tmp_path, fnp.asarray(10, dtype="int32"), params={})
    assert checkpoints.all_steps(tmp_path) == [9, 10]
