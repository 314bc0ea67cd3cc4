"""The training program end to end: a few steps through the CLI, metrics and checkpoint
outputs, and resume-equals-uninterrupted."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from funcgrad import checkpoints, train
from funcgrad.tree_util import tree_leaves

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tmp_path, name, *extra):
    out = tmp_path / name
    metrics = train.main(["--out", str(out), "--quiet", "--batch-size", "128", *extra])
    return out, metrics


def test_cli_runs_a_few_steps(tmp_path):
    out = tmp_path / "cli"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "funcgrad.train", "--max-steps", "3",
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["config"]["model"] == "mlp"
    assert 0.0 <= metrics["final_test_accuracy"] <= 1.0
    assert checkpoints.latest_step(out / "checkpoints") == 3


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_resume_equals_uninterrupted(tmp_path, model):
    # 11 steps per epoch at batch 128; the interrupted run stops mid-way through epoch 2.
    args = ["--model", model, "--epochs", "2", "--seed", "3"]
    full_dir, full = _run(tmp_path, "full", *args)
    part_dir, part = _run(tmp_path, "part", *args, "--max-steps", "15")
    assert part["steps"] == 15
    _, resumed = _run(tmp_path, "part", *args, "--resume")
    assert resumed["steps"] == full["steps"] == 22
    a = checkpoints.restore_train_state(full_dir / "checkpoints")
    b = checkpoints.restore_train_state(part_dir / "checkpoints")
    assert int(a.step) == int(b.step) == 22
    for x, y in zip(tree_leaves((a.params, a.opt_state)), tree_leaves((b.params, b.opt_state))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert resumed["final_test_accuracy"] == full["final_test_accuracy"]
    assert [e["step"] for e in resumed["epochs"]] == [11, 15, 22]


def test_learns(tmp_path):
    _, metrics = _run(tmp_path, "learn", "--epochs", "8")
    losses = [e["train_loss"] for e in metrics["epochs"]]
    assert losses[-1] < 0.5 * losses[0]
    assert metrics["final_test_accuracy"] > 0.9


def test_errors(tmp_path):
    with pytest.raises(SystemExit, match="found no checkpoint"):
        _run(tmp_path, "none", "--resume")
    with pytest.raises(SystemExit):
        train.parse_args(["--dataset", "mnist"])  # needs --data-dir


def test_plot_is_skipped_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    out = tmp_path / "noplot"
    train.main(["--out", str(out), "--max-steps", "2", "--batch-size", "128"])
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert (out / "metrics.json").exists() and not (out / "curves.png").exists()
