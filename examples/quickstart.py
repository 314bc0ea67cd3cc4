"""funcgrad quickstart: arrays, NumPy semantics, tracing to a jaxpr, functional updates, pytrees.

Run: python examples/quickstart.py
"""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def main():
    x = fnp.linspace(0.0, 1.0, 5)                # a funcgrad.Array, float32 by default
    y = fnp.sin(x) * 2.0 + x @ x                 # broadcasting, promotion, weak Python scalars
    print("x =", x)
    print("y =", y)

    def f(a, b):
        return fnp.sin(a) * b

    print("jaxpr of f:", fg.make_jaxpr(f)(x, x))

    z = x.at[0].set(10.0)                        # functional update; x is unchanged
    print("z =", z, "and x is still", x)

    leaves, treedef = fg.tree_util.tree_flatten({"w": x, "b": [y, None]})
    print("pytree:", treedef, "with", len(leaves), "leaves")

    # A least-squares fit, written as NumPy code over funcgrad arrays.
    rng = np.random.default_rng(0)
    features = fnp.asarray(rng.normal(size=(100, 3)).astype(np.float32))
    w_true = fnp.asarray([1.5, -2.0, 0.5])
    targets = features @ w_true + 0.01 * fnp.asarray(rng.normal(size=100).astype(np.float32))
    w_fit = fnp.linalg.solve(features.T @ features, features.T @ targets)
    print("least squares: w =", w_fit, "(true", w_true, ")")
    assert fnp.allclose(w_fit, w_true, atol=0.05)


if __name__ == "__main__":
    main()
