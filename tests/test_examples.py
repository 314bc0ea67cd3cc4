"""The README's main job must keep working: run the example program as a user would."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quickstart_runs():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "{ lambda ; a:f32[5] b:f32[5]. let c:f32[5] = sin a; d:f32[5] = mul c b in (d,) }" \
        in out.stdout
    assert "least squares" in out.stdout
