"""The 784-512-512-10 MLP training step shared by ``mlp_step`` and ``compile_time``.

ReLU hidden layers, softmax cross-entropy on integer labels (mean over the batch), plain SGD.
Every system gets the same float32 parameters and batch from :func:`init`; each builder returns
``step(params, x, y) -> (new_params, loss)`` with ``params = [(w1, b1), (w2, b2), (w3, b3)]``.
"""
from __future__ import annotations

import numpy as np

SIZES = (784, 512, 512, 10)
BATCH = 128
LR = 0.01
# Update deltas are compared (max-norm relative) instead of the new parameters, whose size would
# hide an error in lr * grad; the float32 rounding of p - lr * g still leaves this margin.
DELTA_TOL = 1e-3


def init(batch: int = BATCH, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        w = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
        b = (0.01 * rng.standard_normal(n_out)).astype(np.float32)
        params.append((w, b))
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=batch).astype(np.int32)
    return params, x, y


def check_output(old_params, new_params, loss):
    """``[loss, per-leaf update deltas]`` in float64, the thing compared across systems."""
    from benchmarks.harness import to_numpy

    old, new = to_numpy(old_params), to_numpy(new_params)
    deltas = [o.astype(np.float64) - n.astype(np.float64) for o, n in zip(old, new)]
    return [to_numpy(loss)[0].astype(np.float64), deltas]


# ------------------------------------------------------------------------------------------------
# NumPy: forward and backward by hand


def numpy_step(params, x, y):
    lr = np.float32(LR)
    (w1, b1), (w2, b2), (w3, b3) = params
    n = x.shape[0]
    rows = np.arange(n)
    z1 = x @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3 + b3
    m = z3.max(axis=1, keepdims=True)
    e = np.exp(z3 - m)
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - z3[rows, y])
    dz3 = e / s                      # softmax - onehot, over the batch mean
    dz3[rows, y] -= 1
    dz3 *= np.float32(1.0 / n)
    dw3, db3 = h2.T @ dz3, dz3.sum(axis=0)
    dz2 = (dz3 @ w3.T) * (z2 > 0)
    dw2, db2 = h1.T @ dz2, dz2.sum(axis=0)
    dz1 = (dz2 @ w2.T) * (z1 > 0)
    dw1, db1 = x.T @ dz1, dz1.sum(axis=0)
    new = [(w1 - lr * dw1, b1 - lr * db1), (w2 - lr * dw2, b2 - lr * db2),
           (w3 - lr * dw3, b3 - lr * db3)]
    return new, np.float32(loss)


# ------------------------------------------------------------------------------------------------
# funcgrad: layers written by hand with funcgrad.numpy (funcgrad.nn does not exist yet)


def funcgrad_step(fg, fnp):
    n_classes = SIZES[-1]

    def loss_fn(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = fnp.matmul(h, w) + b
            if i < len(params) - 1:
                h = fnp.maximum(h, 0.0)
        m = fg.stop_gradient(fnp.max(h, axis=1, keepdims=True))
        lse = fnp.log(fnp.sum(fnp.exp(h - m), axis=1)) + m[:, 0]
        onehot = fnp.equal(fnp.asarray(y)[:, None], fnp.arange(n_classes)).astype(fnp.float32)
        return fnp.mean(lse - fnp.sum(onehot * h, axis=1))

    def step(params, x, y):
        loss, grads = fg.value_and_grad(loss_fn)(params, x, y)
        new = [(w - LR * gw, b - LR * gb) for (w, b), (gw, gb) in zip(params, grads)]
        return new, loss

    return step


# ------------------------------------------------------------------------------------------------
# JAX


def jax_step(jax, jnp):
    def loss_fn(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jnp.maximum(h, 0.0)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        new = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
        return new, loss

    return step


# ------------------------------------------------------------------------------------------------
# PyTorch (eager; the step updates the leaf tensors in place, as optimizers do)


def torch_params(torch, params, device=None):
    return [torch.tensor(a, requires_grad=True, device=device) for wb in params for a in wb]


def torch_loss(torch, flat, x, y):
    h = x
    for i in range(0, len(flat), 2):
        h = torch.addmm(flat[i + 1], h, flat[i])
        if i < len(flat) - 2:
            h = torch.relu(h)
    return torch.nn.functional.cross_entropy(h, y)


def torch_step(torch, loss_fn=None):
    loss_fn = loss_fn or (lambda flat, x, y: torch_loss(torch, flat, x, y))

    def step(flat, x, y):
        loss = loss_fn(flat, x, y)
        grads = torch.autograd.grad(loss, flat)
        with torch.no_grad():
            torch._foreach_add_(flat, grads, alpha=-LR)
        return loss.detach()

    return step


def torch_pairs(flat):
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
