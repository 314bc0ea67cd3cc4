"""Vectorising map: the batching trace, its rule table and rule constructors, and ``vmap``.

A ``BatchTracer`` carries a value with one extra dimension, the batch dimension ``bdim`` (an
int, or ``None`` when the value is the same for every example). A rule receives the unboxed
values and their batch dimensions and returns the batched result and its batch dimension:

    rules[prim](vals, dims, **params) -> (out, out_dim)      # lists for multiple_results

Rules run with the parent trace current and bind ordinary primitives, so vmap never loops over
the batch in Python, and it composes with every other transformation.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from funcgrad import core, errors, source_info, tree_util
from funcgrad.core import ShapedArray, Tracer

not_mapped = None

# prim -> rule(vals, dims, **params) -> (out, out_dim); for multiple_results (outs, out_dims).
rules: dict[core.Primitive, Callable] = {}


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self):
        aval = core.get_aval(self.val)
        if self.bdim is None:
            return aval
        shape = aval.shape[:self.bdim] + aval.shape[self.bdim + 1:]
        return ShapedArray(shape, aval.dtype, aval.weak_type)

    def unwrap(self):
        return self.val

    def to_concrete_value(self):
        if self.bdim is not None:
            return None
        v = self.val
        return v.to_concrete_value() if isinstance(v, Tracer) else v


class BatchTrace(core.Trace):
    name = "vmap"

    def __init__(self, parent, axis_size: int):
        super().__init__(parent)
        self.axis_size = axis_size

    def to_val_dim(self, x):
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.bdim
        return x, not_mapped

    def process_primitive(self, prim, args, params):
        vals, dims = zip(*map(self.to_val_dim, args)) if args else ((), ())
        if all(d is None for d in dims):
            with core.set_current_trace(self.parent):
                return prim.bind(*vals, **params)
        rule = rules.get(prim)
        if rule is None:
            from funcgrad.transforms.jvp import missing_rule_error
            raise missing_rule_error("vmap", prim)
        with core.set_current_trace(self.parent):
            out, out_dim = rule(list(vals), list(dims), **params)
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return BatchTracer(self, out, out_dim)

    def describe_dependence(self, tracer) -> str:
        return " The value differs between the examples of the batch."


# ------------------------------------------------------------------------ moving batch dims

def moveaxis(x, src: int, dst: int):
    """``x`` with dimension ``src`` moved to position ``dst`` (a transpose when needed)."""
    from funcgrad.primitives import structural as st
    nd = core.get_aval(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return st.transpose_p.bind(x, permutation=tuple(perm))


def broadcast_batch(x, size: int, dim: int):
    """An unbatched ``x`` with a new batch dimension of ``size`` inserted at ``dim``."""
    from funcgrad.primitives import structural as st
    aval = core.get_aval(x)
    shape = list(aval.shape)
    shape.insert(dim, size)
    bdims = tuple(i if i < dim else i + 1 for i in range(aval.ndim))
    return st.broadcast_in_dim_p.bind(x, shape=tuple(shape), broadcast_dimensions=bdims)


def matchaxis(x, src, dst: int, size: int):
    """``x`` (batch dimension ``src``, possibly None) with its batch dimension at ``dst``."""
    if src is None:
        return broadcast_batch(x, size, dst)
    return moveaxis(x, src, dst)


def bdim_at_front(x, dim, size: int):
    return matchaxis(x, dim, 0, size)


def batch_size(vals, dims) -> int:
    for v, d in zip(vals, dims):
        if d is not None:
            return core.get_aval(v).shape[d]
    raise AssertionError("batch_size: nothing is batched")


# ------------------------------------------------------------------------ rule constructors

def defvectorized(prim):
    """Unary rules for primitives that act independently on each element (or along axes
    given as params that do not change): the batch dimension passes through."""
    def rule(vals, dims, **params):
        (x,), (d,) = vals, dims
        return prim.bind(x, **params), d
    rules[prim] = rule


def defbroadcasting(prim):
    """n-ary elementwise primitives whose operands have equal shapes (scalars allowed where the
    primitive allows them): batched operands are aligned, unbatched ones broadcast."""
    def rule(vals, dims, **params):
        size = batch_size(vals, dims)
        batched = [d for d in dims if d is not None]
        ranks = {core.get_aval(v).ndim - (d is not None) for v, d in zip(vals, dims)}
        if len(set(batched)) == 1 and len(batched) == len(dims) and len(ranks) == 1:
            # All batched at the same dimension: nothing to move.
            return prim.bind(*vals, **params), batched[0]
        full_rank = max(ranks)
        out = []
        for v, d in zip(vals, dims):
            rank = core.get_aval(v).ndim - (d is not None)
            if rank < full_rank and rank == 0:
                # A scalar operand (clamp bounds, select_n's predicate): broadcast it fully.
                target = [size] + list(_full_shape(vals, dims))
                out.append(_broadcast_scalar(v, d, tuple(target)))
            else:
                out.append(bdim_at_front(v, d, size))
        return prim.bind(*out, **params), 0
    rules[prim] = rule


def _full_shape(vals, dims):
    best = ()
    for v, d in zip(vals, dims):
        shape = core.get_aval(v).shape
        if d is not None:
            shape = shape[:d] + shape[d + 1:]
        if len(shape) > len(best):
            best = shape
    return best


def _broadcast_scalar(v, d, target):
    from funcgrad.primitives import structural as st
    bdims = () if d is None else (0,)
    return st.broadcast_in_dim_p.bind(v, shape=target, broadcast_dimensions=bdims)


def defreducer(prim, axes_param: str = "axes"):
    """Reductions over ``axes``: shift the axes past the batch dimension, which survives at
    its position among the remaining dimensions."""
    def rule(vals, dims, **params):
        (x,), (d,) = vals, dims
        axes = params[axes_param]
        single = isinstance(axes, int)
        axes_t = (axes,) if single else tuple(axes)
        new_axes = tuple(a + (a >= d) for a in axes_t)
        params = dict(params, **{axes_param: new_axes[0] if single else new_axes})
        out_dim = d - sum(a < d for a in axes_t)
        return prim.bind(x, **params), out_dim
    rules[prim] = rule


def shift_axis(axis: int, bdim: int) -> int:
    """An operand axis (non-negative) seen in the batched value whose batch dim is ``bdim``."""
    return axis + (axis >= bdim)


# ------------------------------------------------------------------------ the API

def _mapped_size_error(names, shapes, axes, sizes) -> ValueError:
    lines = [f"  {n}: shape {s}, in_axes {a} -> size {z}"
             for n, s, a, z in zip(names, shapes, axes, sizes) if a is not None]
    return ValueError(errors.message(
        "vmap", "the mapped arguments have different sizes along their mapped axes:\n"
        + "\n".join(lines), "give every mapped argument the same batch size, or map fewer "
        "arguments (in_axes=None for the shared ones).", ValueError))


def _flatten_axes(what: str, tree, axes, treedef, argnames) -> list:
    """Broadcasts a pytree prefix of axes (ints or None) to the leaves of ``treedef``."""
    try:
        prefix = tree_util.tree_structure(axes, is_leaf=lambda x: x is None)
        leaves = []
        subtrees = prefix.flatten_up_to(tree)
        for ax, sub in zip(tree_util.tree_leaves(axes, is_leaf=lambda x: x is None), subtrees):
            n = len(tree_util.tree_leaves(sub))
            leaves.extend([ax] * n)
        return leaves
    except (ValueError, TypeError) as e:
        raise ValueError(errors.message(
            "vmap", f"{what} must be an int, None, or a pytree prefix of the arguments; got "
            f"{what}={axes!r} for arguments of structure {treedef}. ({e})",
            f"give one entry per argument, e.g. {what}=(0, None) for f(x, y).",
            ValueError)) from None


def vmap_flat(flat_fun, vals: Sequence, dims: Sequence, size: int, out_axes_fn: Callable,
              name: str = "vmap"):
    """Runs ``flat_fun`` on batched leaves; ``out_axes_fn(out_dims_count)`` gives out axes."""
    trace = BatchTrace(core.current_trace(), size)
    trace.transform_name = name
    tracers = [BatchTracer(trace, v, d) if d is not None else v for v, d in zip(vals, dims)]
    try:
        with core.set_current_trace(trace), source_info.transform_scope(name):
            outs = flat_fun(*tracers)
        out_vals, out_dims = zip(*map(trace.to_val_dim, outs)) if outs else ((), ())
        axes = out_axes_fn(len(out_vals))
        result = []
        for v, d, ax, i in zip(out_vals, out_dims, axes, range(len(out_vals))):
            if ax is None:
                if d is not None:
                    raise ValueError(errors.message(
                        "vmap", f"output {i} is batched but out_axes gives None for it.",
                        "map that output (out_axes=0), or make it independent of the mapped "
                        "arguments.", ValueError))
                result.append(v)
                continue
            nd = core.get_aval(v).ndim + (d is None)
            if not -nd <= ax < nd:
                raise ValueError(errors.message(
                    "vmap", f"out_axes {ax} is out of range for output {i} of rank {nd} "
                    "(batch dimension included).", f"use an axis in [{-nd}, {nd}).",
                    ValueError))
            with core.set_current_trace(trace.parent):
                v = core.canonicalize_scalar(v) if not core.is_arraylike(v) else v
                result.append(matchaxis(v, d, ax % nd, size))
        return result
    finally:
        trace.invalidate()


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_size: int | None = None) -> Callable:
    """Vectorises ``fun`` over a batch dimension of its arguments.

    Args:
      fun: a function of arrays (pytrees allowed) written for one example.
      in_axes: an int, None, or a pytree prefix of the positional arguments giving, per
        argument (or leaf), the dimension that is mapped over; None leaves it unmapped.
        Negative axes count from the end.
      out_axes: where the batch dimension goes in each output (int, None, or a pytree prefix
        of the output); None only for outputs that do not depend on mapped inputs.
      axis_size: the batch size, needed only when no argument is mapped.

    Returns:
      A function with ``fun``'s signature whose arguments carry the extra batch dimension.

    Example:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.vmap(lambda w, x: fnp.dot(w, x), in_axes=(None, 0))(fnp.ones(3), fnp.ones((4, 3)))
        Array([3., 3., 3., 3.], dtype=float32)

    Keyword arguments are always mapped along axis 0.
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)

    @functools.wraps(fun)
    @source_info.api_boundary
    def vmap_f(*args, **kwargs):
        from funcgrad.transforms.staging import argument_names, flatten_fun
        name = f"vmap({source_info.fun_name(fun)})"
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        names = argument_names(fun, args, kwargs)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(errors.message(
                "vmap", f"in_axes has {len(in_axes)} entries but the function was called with "
                f"{len(args)} positional arguments (in_axes={in_axes!r}).",
                "give one in_axes entry per positional argument.", ValueError))
        arg_axes = _flatten_axes("in_axes", args, in_axes, in_tree, names)
        kw_axes = [0] * len(tree_util.tree_leaves(kwargs))
        axes = arg_axes + kw_axes
        dims, sizes, shapes = [], [], []
        for leaf, ax, n in zip(leaves, axes, names):
            aval = core.get_aval(leaf)
            shapes.append(aval.str_short())
            if ax is None:
                dims.append(None)
                sizes.append(None)
                continue
            if not isinstance(ax, int):
                raise TypeError(f"vmap: in_axes entries must be int or None, got {ax!r} for "
                                f"`{n}`")
            if not -aval.ndim <= ax < aval.ndim:
                raise ValueError(errors.message(
                    "vmap", f"in_axes {ax} is out of range for argument `{n}` of shape "
                    f"{aval.str_short()} (rank {aval.ndim}).",
                    f"use an axis in [{-aval.ndim}, {aval.ndim}) or None to leave it unmapped."
                    if aval.ndim else "use None for scalar arguments (they cannot be mapped).",
                    ValueError))
            dims.append(ax % aval.ndim)
            sizes.append(aval.shape[ax])
        mapped = {s for s in sizes if s is not None}
        if len(mapped) > 1:
            raise _mapped_size_error(names, shapes, axes, sizes)
        if not mapped:
            if axis_size is None:
                raise ValueError(errors.message(
                    "vmap", "no argument is mapped (every in_axes entry is None), so the "
                    "batch size is unknown.", "pass axis_size=..., or map an argument.",
                    ValueError))
            size = axis_size
        else:
            size = mapped.pop()
            if axis_size is not None and axis_size != size:
                raise ValueError(f"vmap: axis_size={axis_size} but the mapped arguments have "
                                 f"size {size}")
        leaves = [core.canonicalize_scalar(x) for x in leaves]
        flat_fun, out_tree = flatten_fun(fun, in_tree)

        def out_axes_fn(n):
            out_axes_leaves = _flatten_axes(
                "out_axes", _dummy_tree(out_tree.val), out_axes, out_tree.val, None)
            return out_axes_leaves
        outs = vmap_flat(flat_fun, leaves, dims, size, out_axes_fn, name)
        return tree_util.tree_unflatten(out_tree.val, outs)

    return vmap_f


def _dummy_tree(treedef):
    return tree_util.tree_unflatten(treedef, [0] * treedef.num_leaves)


@functools.lru_cache(maxsize=1024)
def vmap_jaxpr(jaxpr: core.Jaxpr, dims: tuple, size: int, name: str):
    """The batched form of an open ``jaxpr`` as a jaxpr, for higher-order primitives (jit,
    custom rules, checkpoint): input ``i`` carries a batch dimension at ``dims[i]`` (or none),
    every output at 0. Returns ``(jaxpr, consts)``, the consts being its leading inputs.
    Memoised on the jaxpr object."""
    from funcgrad.transforms.staging import trace_to_open_jaxpr
    avals = []
    for v, d in zip(jaxpr.invars, dims):
        shape = list(v.aval.shape)
        if d is not None:
            shape.insert(d, size)
        avals.append(ShapedArray(tuple(shape), v.aval.dtype, v.aval.weak_type))

    def f(*xs):
        return vmap_flat(lambda *a: core.eval_jaxpr(jaxpr, (), *a), xs, list(dims), size,
                         lambda n: [0] * n, name)
    new, consts = trace_to_open_jaxpr(f, avals, name)
    return new, tuple(consts)
