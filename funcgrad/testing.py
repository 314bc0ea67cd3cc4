"""funcgrad.testing: gradient checks against finite differences, and hypothesis strategies.

``check_grads(f, args, order=2)`` compares forward- and reverse-mode derivatives of ``f`` with
central finite differences computed in float64, along random directions, one argument at a
time (so a failure names the argument), and recursively up to ``order``. It also checks that
forward and reverse mode agree (``<ct, J t> == <J^T ct, t>``).

Complex arguments are perturbed along random complex directions (real and imaginary parts
together), and the pairing of a cotangent with a tangent is JAX's ``re(sum(ct * t))``, without
conjugation, which is the convention funcgrad's transposes follow.

The strategies need ``hypothesis`` (a test dependency), imported only when they are used.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from funcgrad import dtypes, tree_util

_DEFAULT_TOL = {np.dtype("float32"): 2e-2, np.dtype("float64"): 1e-5}
_DEFAULT_EPS = {np.dtype("float32"): 1e-3, np.dtype("float64"): 1e-6}


def _ad():
    from funcgrad.transforms import autodiff
    return autodiff


def _to64(x):
    a = np.asarray(x)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def _flat_out(f, args):
    out = f(*args)
    leaves = tree_util.tree_leaves(out)
    return [np.asarray(o) for o in leaves]


def _inner(xs, ys) -> float:
    # re(sum(x * y)): the real dot product of the real and imaginary parts of x and conj(y).
    return float(sum(np.real(np.sum(_to64(x) * _to64(y)))
                     for x, y in zip(xs, ys) if _is_float(x) and _is_float(y)))


def _is_float(x) -> bool:
    return np.asarray(x).dtype.kind in "fc"


_FLOAT0 = np.dtype([("float0", "V", 0)])


def _float0_zeros(x):
    return np.zeros(np.shape(x), dtype=_FLOAT0)


def _random_cotangent(o, rng):
    """A random cotangent for a float output; the float0 zero for an integer or bool one."""
    if not _is_float(o):
        return _float0_zeros(o)
    return _random_normal(np.shape(o), np.asarray(o).dtype, rng)


def _random_normal(shape, dtype, rng):
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def numerical_jvp(f: Callable, args: Sequence, tangents: Sequence, eps: float) -> list:
    """Central-difference directional derivative of ``f`` at ``args`` along ``tangents``,
    as a flat list of arrays (float64 where the outputs are floats)."""
    plus = [a + eps * t if t is not None else a for a, t in zip(args, tangents)]
    minus = [a - eps * t if t is not None else a for a, t in zip(args, tangents)]
    fp, fm = _flat_out(f, plus), _flat_out(f, minus)
    # Integer and boolean outputs have no derivative: their entry is a float0 zero.
    return [(_to64(p) - _to64(m)) / (2 * eps) if _is_float(p) else _float0_zeros(p)
            for p, m in zip(fp, fm)]


def _random_like(x, rng):
    a = np.asarray(x)
    return _random_normal(a.shape, a.dtype, rng) if a.dtype.kind in "fc" else None


def _tolerances(args, atol, rtol, eps):
    # complex64 has float32's precision, complex128 float64's.
    dts = [dtypes.real_dtype(np.asarray(a).dtype) for a in args
           if np.asarray(a).dtype.kind in "fc"]
    worst = np.dtype("float32") if np.dtype("float32") in dts else np.dtype("float64")
    return (atol if atol is not None else _DEFAULT_TOL[worst],
            rtol if rtol is not None else _DEFAULT_TOL[worst],
            eps if eps is not None else _DEFAULT_EPS[worst])


class GradCheckError(AssertionError):
    """A derivative disagrees with finite differences (or fwd with rev mode)."""


def _compare(what, name, got, want, atol, rtol):
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = _to64(np.asarray(g)), _to64(np.asarray(w))
        if g.shape != w.shape:
            raise GradCheckError(f"{what} for {name}: output {k} has shape {g.shape}, "
                                 f"finite differences give {w.shape}")
        err = np.abs(g - w)
        bound = atol + rtol * np.abs(w)
        if not np.all(err <= bound):
            i = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
            raise GradCheckError(
                f"{what} for {name}, output {k}: max abs error {err.max():.3g} "
                f"(at index {tuple(int(j) for j in i)}: got {g[i]:.6g}, expected {w[i]:.6g}); "
                f"atol={atol:g}, rtol={rtol:g}")


def check_jvp(f: Callable, args: Sequence, *, atol=None, rtol=None, eps=None, seed=0):
    """Checks ``jvp(f)`` against central differences, one argument at a time."""
    args = [np.asarray(a) if not hasattr(a, "aval") else a for a in args]
    atol, rtol, eps = _tolerances(args, atol, rtol, eps)
    rng = np.random.default_rng(seed)
    for i, a in enumerate(args):
        t = _random_like(a, rng)
        if t is None:
            continue
        tangents = [t if j == i else np.zeros_like(np.asarray(b)) for j, b in enumerate(args)]
        tangents = [tt if _is_float(b) else _float0_zeros(b) for tt, b in zip(tangents, args)]
        p_out, t_out = _ad().jvp(f, tuple(args), tuple(tangents))
        got = [np.asarray(o) for o in tree_util.tree_leaves(t_out)]
        want = numerical_jvp(f, args, [t if j == i else None for j in range(len(args))], eps)
        # Integer and boolean outputs are not differentiable: their tangents must be float0.
        floats = [_is_float(o) for o in tree_util.tree_leaves(p_out)]
        for k, (g, is_f) in enumerate(zip(got, floats)):
            if not is_f and g.dtype != _FLOAT0:
                raise GradCheckError(f"jvp for argument {i}: output {k} is not a float, so its "
                                     f"tangent must be float0, got {g.dtype}")
        _compare("jvp", f"argument {i}", [g for g, is_f in zip(got, floats) if is_f],
                 [w for w, is_f in zip(want, floats) if is_f], atol, rtol)


def check_vjp(f: Callable, args: Sequence, *, atol=None, rtol=None, eps=None, seed=0):
    """Checks ``vjp(f)`` via ``<ct, J t>`` (finite differences) ``== <J^T ct, t>``."""
    args = [np.asarray(a) if not hasattr(a, "aval") else a for a in args]
    atol, rtol, eps = _tolerances(args, atol, rtol, eps)
    rng = np.random.default_rng(seed + 1)
    out, f_vjp = _ad().vjp(f, *args)
    out_leaves, out_tree = tree_util.tree_flatten(out)
    cts = [_random_cotangent(o, rng) for o in out_leaves]
    cts_in = f_vjp(tree_util.tree_unflatten(out_tree, cts))
    for i, a in enumerate(args):
        t = _random_like(a, rng)
        if t is None:
            continue
        jt = numerical_jvp(f, args, [t if j == i else None for j in range(len(args))], eps)
        want = _inner(cts, jt)
        got = _inner([cts_in[i]], [t])
        scale = max(1.0, abs(want))
        _compare("vjp", f"argument {i}", [got / scale], [want / scale], atol, rtol)


def check_grads(f: Callable, args: Sequence, order: int = 2, modes=("fwd", "rev"),
                atol=None, rtol=None, eps=None, seed: int = 0, *, _depth: int = 1):
    """Checks derivatives of ``f`` up to ``order`` against finite differences.

    Args:
      f: a function of arrays returning an array or a pytree of arrays.
      args: the point (a sequence of arrays or pytrees of arrays) at which to check.
      order: the highest derivative order to check (each order differentiates the previous
        order's jvp/vjp function along a fixed random direction).
      modes: any of ``"fwd"`` and ``"rev"``.
      atol, rtol: tolerances (defaults depend on the dtype: 1e-5 for float64).
      eps: the finite-difference step (defaults: 1e-6 for float64, 1e-3 for float32).
      seed: seed of the random directions.

    Raises:
      GradCheckError: naming the mode, order, argument and the size of the error.

    Example:
        >>> check_grads(fnp.sin, (np.array([0.5, 1.0]),), order=2)
    """
    args = list(args)
    if order < 1:
        return
    leaves, tree = tree_util.tree_flatten(args)
    if tree != tree_util.tree_structure([0] * len(args)):
        # Pytree arguments: check the function of the flat leaves (failures name leaf indices).
        def flat_f(*ls):
            return f(*tree_util.tree_unflatten(tree, ls))
        return check_grads(flat_f, leaves, order, modes, atol, rtol, eps, seed, _depth=_depth)
    rng = np.random.default_rng(seed + 100 * order)
    try:
        if "fwd" in modes:
            check_jvp(f, args, atol=atol, rtol=rtol, eps=eps, seed=seed)
        if "rev" in modes:
            check_vjp(f, args, atol=atol, rtol=rtol, eps=eps, seed=seed)
    except GradCheckError as e:
        raise GradCheckError(f"derivative order {_depth} ({'/'.join(modes)} mode): {e}") from None
    if order == 1:
        return
    if "fwd" in modes:
        tangents = tuple(_random_like(a, rng) if _is_float(a) else _float0_zeros(a)
                         for a in args)

        def f_jvp(*xs):
            return _ad().jvp(f, xs, tangents)[1]
        check_grads(f_jvp, args, order - 1, ("fwd",), atol, rtol, eps, seed + 1,
                    _depth=_depth + 1)
    if "rev" in modes:
        out = f(*args)
        cts = tree_util.tree_map(lambda o: _random_cotangent(o, rng), out)

        def f_vjp(*xs):
            return _ad().vjp(f, *xs)[1](cts)
        check_grads(f_vjp, args, order - 1, ("rev",), atol, rtol, eps, seed + 1,
                    _depth=_depth + 1)


# ------------------------------------------------------------------------ hypothesis strategies

# Domains of elementwise functions: name -> (low, high). Keep away from singularities so that
# finite differences are accurate.
DOMAINS = {
    "real": (-3.0, 3.0), "positive": (0.1, 4.0), "unit": (-0.9, 0.9), "ge1": (1.1, 4.0),
    "small": (-1.2, 1.2), "nonzero": (0.3, 3.0),
    # Complex values whose real and imaginary parts both have magnitude in [0.2, 1.4] (random
    # signs), which keeps them away from every branch cut of the elementwise functions (on the
    # axes) and from the poles of tan and tanh.
    "complex": (0.2, 1.4),
}


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 5):
    """Strategy of array shapes."""
    from hypothesis import strategies as st
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


def broadcastable_shapes(shape: tuple, min_dims: int = 0, max_dims: int | None = None):
    """Strategy of shapes that broadcast with ``shape`` (dims dropped or set to 1)."""
    from hypothesis import strategies as st
    nd = len(shape)
    max_dims = nd if max_dims is None else max_dims

    def build(draw):
        k = draw(st.integers(min(min_dims, nd), min(max_dims, nd)))
        tail = shape[nd - k:] if k else ()
        return tuple(draw(st.sampled_from([d, 1])) for d in tail)
    return st.composite(lambda draw: build(draw))()


def elements(domain: str = "real"):
    """Strategy of floats in a named domain (see ``DOMAINS``)."""
    from hypothesis import strategies as st
    lo, hi = DOMAINS[domain]
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def arrays(dtype="float64", shape=None, domain: str = "real"):
    """Strategy of NumPy arrays of ``dtype`` and ``shape`` (a shape or a strategy) with values
    in ``domain``; non-zero domains get random signs. For complex dtypes both the real and
    the imaginary part are drawn from the domain."""
    from hypothesis import strategies as st
    shape_st = shapes() if shape is None else (
        shape if hasattr(shape, "example") else st.just(tuple(shape)))

    def build(draw):
        shp = draw(shape_st)
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        lo, hi = DOMAINS[domain]

        def part():
            vals = rng.uniform(lo, hi, size=shp)
            if domain in ("nonzero", "complex"):
                vals = vals * rng.choice([-1.0, 1.0], size=shp)
            return vals

        vals = part()
        if np.dtype(dtype).kind == "c":
            vals = vals + 1j * part()
        return vals.astype(dtype)
    return st.composite(lambda draw: build(draw))()


def pytrees(leaves, max_depth: int = 2):
    """Strategy of nested dicts/lists/tuples whose leaves are drawn from ``leaves``."""
    from hypothesis import strategies as st
    keys = st.text("abcdefgh", min_size=1, max_size=3)
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, max_size=3), st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=3)), max_leaves=2 ** (max_depth + 1))
