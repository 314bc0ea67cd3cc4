"""dispatch: the fixed cost of one call, where the arithmetic is negligible.

  * ``jit scalar``: a jitted ``x * 2 + 1`` on a float32 scalar (funcgrad ``fg.jit``, ``jax.jit``;
    NumPy and torch run it directly, as they have no tracing jit). JAX results are waited for
    (``block_until_ready``) on every call, so all systems report call-to-result latency.
  * ``eager add (8,)``: ``a + b`` on two float32 vectors of 8 elements, eagerly
    (``funcgrad.numpy.add``, ``np.add``, ``jnp.add``, ``torch.add``).
Times are medians over loops of many calls timed with ``time.perf_counter_ns``; the loop's own
floor (calling an empty lambda) is reported as a row too.
"""
from __future__ import annotations

import numpy as np

from benchmarks.harness import Bench, funcgrad_variants, require, torch_threads

TITLE = "per-call overhead: jitted x*2+1 on a float32 scalar; eager add of two (8,) float32"
SCALAR = "jit scalar x*2+1"
ADD = "eager add (8,)"


def _inputs():
    rng = np.random.default_rng(2)
    x = np.float32(1.5)
    a, b = (rng.standard_normal(8).astype(np.float32) for _ in range(2))
    return x, a, b


def _f(x):
    return x * 2 + 1


def _bench(b: Bench, case, variant, fn, ref, primary=False):
    # Many calls per sample and many samples: these calls take microseconds.
    return b.bench(case, variant, fn, ref=ref, primary=primary, warmup=20,
                   repeats=max(b.repeats, 15), budget_s=1.0 if b.quick else 3.0)


def run_numpy(b: Bench):
    x, a, c = _inputs()
    _bench(b, SCALAR, "direct (no jit)", lambda: _f(x), _f(x), primary=True)
    _bench(b, ADD, "np.add", lambda: np.add(a, c), a + c, primary=True)
    _bench(b, "loop floor", "empty lambda", lambda: None, None, primary=True)


def run_funcgrad(b: Bench):
    x, a, c = _inputs()
    fg, fnp = require("funcgrad"), require("funcgrad.numpy")
    for wrap, variant in funcgrad_variants(fg):
        f = wrap(_f)
        # Jitted functions take the NumPy scalar as users pass it; the eager row needs a funcgrad
        # Array, or it would time NumPy's own scalar arithmetic.
        xin = x if variant.startswith("fg.jit") else fnp.asarray(x)
        _bench(b, SCALAR, variant, lambda f=f, xin=xin: f(xin), _f(x), primary=True)
    fa, fc = fnp.asarray(a), fnp.asarray(c)
    _bench(b, ADD, "fnp.add (eager)", lambda: fnp.add(fa, fc), a + c, primary=True)


def run_jax(b: Bench):
    x, a, c = _inputs()
    jax, jnp = require("jax"), require("jax.numpy")
    f = jax.jit(_f)
    xd = jax.device_put(x)
    _bench(b, SCALAR, "jax.jit", lambda: f(xd).block_until_ready(), _f(x))
    ja, jc = jax.device_put(a), jax.device_put(c)
    _bench(b, ADD, "jnp.add (eager)", lambda: jnp.add(ja, jc).block_until_ready(), a + c)


def run_torch(b: Bench):
    x, a, c = _inputs()
    torch = require("torch")
    torch_threads(torch, b.threads)
    xt = torch.tensor(x)
    _bench(b, SCALAR, "eager (no jit)", lambda: _f(xt), _f(x))
    ta, tc = torch.from_numpy(a), torch.from_numpy(c)
    _bench(b, ADD, "torch.add (eager)", lambda: torch.add(ta, tc), a + c)


ENTRIES = {"numpy": run_numpy, "funcgrad": run_funcgrad, "jax": run_jax, "torch": run_torch}
