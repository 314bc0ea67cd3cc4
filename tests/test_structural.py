"""Structural primitives (funcgrad.lax) and funcgrad.numpy's shape functions against NumPy.

Each spec line is checked on hypothesis-drawn shapes (incl. (), size-0 and size-1 dims) and
dtypes: forward values vs NumPy, result dtype, abstract eval vs eager, staged vs eager.
Parameters that depend on the drawn shapes (permutations, slices, axes) are drawn after them.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import errors, lax
from tests import harness as H
from tests.harness import BOOL, F32, F64, I32, Spec, check_spec

ALL4 = (F32, F64, I32, BOOL)


def same_dtype(*dts):
    return dts[0]


def case(spec: Spec, shapes_fn=None, params_fn=None):
    """A spec with a strategy of (args, kwargs): shapes first, then shape-dependent params.

    The strategy is a function of the dtypes to draw from (default: the spec's), so the
    derivative tests can ask for float inputs only."""
    @st.composite
    def strategy(draw, dtypes=None):
        dtype = draw(st.sampled_from(dtypes or spec.dtypes))
        shps = shapes_fn(draw) if shapes_fn else (draw(H.shapes()),) * spec.nargs
        args = [draw(H.arrays(s, dtype)) for s in shps]
        kwargs = params_fn(draw, shps) if params_fn else {}
        return args, kwargs
    return pytest.param(spec, strategy, id=spec.name)


def spec(name, fg_fn, np_fn, nargs=1, dtypes=ALL4, **kw):
    return Spec(name, fg_fn, np_fn, nargs=nargs, dtypes=dtypes, expected_dtype=same_dtype, **kw)


def shapes_of(**kw):
    return lambda draw: (draw(H.shapes(**kw)),)


def axis_param(name="axis", allow_none=False, min_ndim_offset=0):
    """A params_fn drawing one axis (possibly negative) of the first shape."""
    def params(draw, shps):
        nd = len(shps[0]) + min_ndim_offset
        choices = st.integers(-nd, nd - 1) if nd else st.nothing()
        if allow_none:
            choices = st.one_of(st.none(), choices) if nd else st.none()
        return {name: draw(choices)}
    return params


def axes_subset(draw, nd, negative=True):
    axes = draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)) if nd else []
    if negative:
        axes = [a - nd if draw(st.booleans()) else a for a in axes]
    return tuple(axes)


# ---------------------------------------------------------------- NumPy references for lax

def np_lax_pad(x, padding_value, padding_config):
    # Independent of the impl: map every output position back to its source element.
    out_shape, srcs, valids = [], [], []
    for (lo, hi, it), d in zip(padding_config, x.shape):
        n = lo + hi + d + max(d - 1, 0) * it
        p = np.arange(n) - lo
        src = p // (it + 1)
        valid = (p >= 0) & (p % (it + 1) == 0) & (src < d)
        out_shape.append(n)
        srcs.append(np.clip(src, 0, max(d - 1, 0)))
        valids.append(valid)
    out = np.full(out_shape, padding_value, dtype=x.dtype)
    if x.size == 0 or math.prod(out_shape) == 0:
        return out
    mask = np.ones(out_shape, bool)
    for ax, v in enumerate(valids):
        mask &= v.reshape([-1 if i == ax else 1 for i in range(len(out_shape))])
    return np.where(mask, x[np.ix_(*srcs)], out)


def np_clamped_starts(starts, shape, sizes):
    return [int(np.clip(s + d if s < 0 else s, 0, d - n)) for s, d, n in zip(starts, shape, sizes)]


def np_dynamic_slice(x, starts, sizes):
    starts = np_clamped_starts(starts, x.shape, sizes)
    return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]


def np_dynamic_update_slice(x, u, starts):
    starts = np_clamped_starts(starts, x.shape, u.shape)
    out = np.array(x)  # 0-d inputs arrive as NumPy scalars
    out[tuple(slice(s, s + n) for s, n in zip(starts, u.shape))] = u
    return out


# ---------------------------------------------------------------- shape-dependent params

def perm_params(draw, shps):
    return {"permutation": tuple(draw(st.permutations(range(len(shps[0])))))}


def shapes_with_ones(draw):
    shp = draw(H.shapes(max_dims=4))
    return (tuple(1 if draw(st.booleans()) else d for d in shp),)


def squeeze_params(draw, shps):
    ones = [i for i, d in enumerate(shps[0]) if d == 1]
    dims = draw(st.lists(st.sampled_from(ones), unique=True)) if ones else []
    return {"dimensions": tuple(d - len(shps[0]) if draw(st.booleans()) else d for d in dims)}


def expand_params(draw, shps):
    nd = len(shps[0])
    k = draw(st.integers(0, 2))
    dims = draw(st.lists(st.integers(0, nd + k - 1), unique=True, min_size=k,
                         max_size=k)) if nd + k else []
    return {"dimensions": tuple(d - (nd + k) if draw(st.booleans()) else d for d in dims)}


def slice_params(draw, shps):
    start, limit, strides = [], [], []
    for d in shps[0]:
        a, b = sorted(draw(st.integers(0, d)) for _ in range(2))
        start.append(a), limit.append(b), strides.append(draw(st.integers(1, 3)))
    return {"start_indices": tuple(start), "limit_indices": tuple(limit),
            "strides": tuple(strides) if draw(st.booleans()) else None}


def dynamic_slice_params(draw, shps):
    shp = shps[0]
    return {"sizes": tuple(draw(st.integers(0, d)) for d in shp),
            "starts": tuple(draw(st.integers(-d - 2, d + 2)) for d in shp)}


def update_shapes(draw):
    shp = draw(H.shapes())
    return shp, tuple(draw(st.integers(0, d)) for d in shp)


def starts_params(draw, shps):
    return {"starts": tuple(draw(st.integers(-d - 2, d + 2)) for d in shps[0])}


def concat_shapes(draw):
    shp = draw(H.shapes(min_dims=1))
    axis = draw(st.integers(0, len(shp) - 1))
    out = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shp)
        s[axis] = draw(st.integers(0, 4))
        out.append(tuple(s))
    return tuple(out)


def concat_axis(draw, shps):
    if len(shps) == 1:
        return {"axis": draw(st.integers(0, len(shps[0]) - 1))}
    return {"axis": next((i for i in range(len(shps[0]))
                          if len({s[i] for s in shps}) > 1), 0)}


def lax_pad_params(draw, shps):
    config = []
    for d in shps[0]:
        lo, hi, it = draw(st.integers(-3, 3)), draw(st.integers(-3, 3)), draw(st.integers(0, 2))
        if lo + hi + d + max(d - 1, 0) * it < 0:
            lo = hi = 0
        config.append((lo, hi, it))
    return {"padding_config": tuple(config)}


def broadcast_in_dim_params(draw, shps):
    shp = shps[0]
    extra = draw(st.integers(0, 2))
    out_nd = len(shp) + extra
    dims = tuple(sorted(draw(st.lists(st.integers(0, out_nd - 1), unique=True,
                                      min_size=len(shp), max_size=len(shp))))) if out_nd else ()
    out = [draw(st.integers(0, 3)) for _ in range(out_nd)]
    for i, b in enumerate(dims):
        out[b] = shp[i] if shp[i] != 1 else draw(st.sampled_from([1, 3]))
    return {"shape": tuple(out), "broadcast_dimensions": dims}


def reshape_params(draw, shps, allow_minus_one=True):
    shp = shps[0]
    dims = list(draw(st.permutations(list(shp))))
    new = []
    while dims:  # merge random runs of the shuffled sizes, with some extra 1s
        k = draw(st.integers(1, len(dims)))
        new.append(math.prod(dims[:k]))
        dims = dims[k:]
        if draw(st.booleans()):
            new.append(1)
    if new and allow_minus_one and draw(st.booleans()):
        i = draw(st.integers(0, len(new) - 1))
        if math.prod(d for j, d in enumerate(new) if j != i) != 0:
            new[i] = -1
    return {"newshape": tuple(new)}


def np_iota(dtype, shape, dimension):
    return np.indices(shape, dtype=dtype)[dimension]


def iota_params(draw, shps):
    shp = draw(H.shapes(min_dims=1))
    return {"dtype": draw(st.sampled_from([I32, F32, F64])), "shape": shp,
            "dimension": draw(st.integers(-len(shp), len(shp) - 1))}


LAX_CASES = [
    case(spec("lax.broadcast_in_dim", lax.broadcast_in_dim,
              lambda x, shape, broadcast_dimensions: np.broadcast_to(
                  np.expand_dims(x, tuple(i for i in range(len(shape))
                                          if i not in broadcast_dimensions)), shape)),
         params_fn=broadcast_in_dim_params),
    case(spec("lax.reshape", lambda x, newshape: lax.reshape(x, newshape),
              lambda x, newshape: x.reshape(newshape)),
         params_fn=lambda draw, shps: reshape_params(draw, shps, allow_minus_one=False)),
    case(spec("lax.transpose", lax.transpose, lambda x, permutation: x.transpose(permutation)),
         params_fn=perm_params),
    case(spec("lax.squeeze", lax.squeeze, lambda x, dimensions: np.squeeze(x, dimensions)),
         shapes_fn=shapes_with_ones, params_fn=squeeze_params),
    case(spec("lax.expand_dims", lax.expand_dims,
              lambda x, dimensions: np.expand_dims(x, dimensions)), params_fn=expand_params),
    case(spec("lax.rev", lax.rev, lambda x, dimensions: np.flip(x, dimensions)),
         params_fn=lambda draw, shps: {"dimensions": axes_subset(draw, len(shps[0]))}),
    case(spec("lax.slice", lax.slice,
              lambda x, start_indices, limit_indices, strides: x[tuple(
                  slice(a, b, s) for a, b, s in zip(start_indices, limit_indices,
                                                    strides or (1,) * x.ndim))]),
         params_fn=slice_params),
    case(spec("lax.dynamic_slice",
              lambda x, starts, sizes: lax.dynamic_slice(x, [np.int32(s) for s in starts], sizes),
              np_dynamic_slice),
         params_fn=dynamic_slice_params),
    case(spec("lax.dynamic_update_slice",
              lambda x, u, starts: lax.dynamic_update_slice(x, u, starts),
              np_dynamic_update_slice, nargs=2),
         shapes_fn=update_shapes, params_fn=starts_params),
    case(spec("lax.concatenate", lambda *xs, axis: lax.concatenate(xs, axis),
              lambda *xs, axis: np.concatenate(xs, axis)),
         shapes_fn=concat_shapes, params_fn=concat_axis),
    case(spec("lax.pad", lambda x, padding_config: lax.pad(x, np.ones((), x.dtype),
                                                           padding_config),
              lambda x, padding_config: np_lax_pad(x, np.ones((), x.dtype), padding_config)),
         params_fn=lax_pad_params),
    case(spec("lax.pad(value)", lax.pad, np_lax_pad, nargs=2),
         shapes_fn=lambda draw: (draw(H.shapes()), ()), params_fn=lax_pad_params),
    case(Spec("lax.broadcasted_iota", lax.broadcasted_iota, np_iota, nargs=0, dtypes=(I32,)),
         shapes_fn=lambda draw: (), params_fn=iota_params),
    case(Spec("lax.iota", lax.iota, lambda dtype, size: np.arange(size, dtype=dtype), nargs=0,
              dtypes=(I32,)),
         shapes_fn=lambda draw: (),
         params_fn=lambda draw, shps: {"dtype": draw(st.sampled_from([I32, F32])),
                                       "size": draw(st.integers(0, 7))}),
    case(spec("lax.full_like", lambda x, v: lax.full_like(x, v),
              lambda x, v: np.full_like(x, v)),
         params_fn=lambda draw, shps: {"v": draw(st.sampled_from([0, 1, 3]))}),
    case(Spec("lax.full", lax.full, lambda shape, fill_value, dtype: np.full(shape, fill_value,
                                                                            dtype), nargs=0),
         shapes_fn=lambda draw: (),
         params_fn=lambda draw, shps: {"shape": draw(H.shapes()), "dtype": draw(
             st.sampled_from(ALL4)), "fill_value": draw(st.sampled_from([0, 1, 2.5, True]))}),
]


@pytest.mark.parametrize("spec_,strategy", LAX_CASES)
@settings(max_examples=40)
@given(data=st.data())
def test_lax_spec(spec_, strategy, data):
    args, kwargs = data.draw(strategy())
    check_spec(spec_, args, kwargs)


# ---------------------------------------------------------------- funcgrad.numpy specs

def broadcastable(num_shapes):
    def shapes_fn(draw):
        shps = draw(hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=0,
                                                      max_dims=3, min_side=0, max_side=4))
        return shps.input_shapes
    return shapes_fn


def broadcast_to_params(draw, shps):
    shp = shps[0]
    target = [d if d != 1 else draw(st.sampled_from([1, 2, 3])) for d in shp]
    lead = draw(st.lists(st.integers(0, 3), max_size=2))
    return {"shape": tuple(lead) + tuple(target)}


def transpose_params(draw, shps):
    nd = len(shps[0])
    if draw(st.booleans()):
        return {"axes": None}
    perm = draw(st.permutations(range(nd)))
    return {"axes": tuple(p - nd if draw(st.booleans()) else p for p in perm)}


def two_axes(draw, shps, names=("axis1", "axis2"), distinct=False):
    nd = len(shps[0])
    a = draw(st.integers(-nd, nd - 1))
    b = draw(st.sampled_from([b for b in range(-nd, nd) if not distinct or b % nd != a % nd]))
    return dict(zip(names, (a, b)))


def moveaxis_params(draw, shps):
    nd = len(shps[0])
    k = draw(st.integers(0, nd)) if nd else 0
    src = draw(st.lists(st.integers(0, nd - 1), unique=True, min_size=k, max_size=k)) if nd \
        else []
    dst = draw(st.lists(st.integers(0, nd - 1), unique=True, min_size=k, max_size=k)) if nd \
        else []
    if k == 1 and draw(st.booleans()):
        return {"source": src[0], "destination": dst[0] - nd}
    return {"source": tuple(src), "destination": tuple(dst)}


def squeeze_np_params(draw, shps):
    if draw(st.booleans()):
        return {"axis": None}
    p = squeeze_params(draw, shps)["dimensions"]
    return {"axis": p[0] if len(p) == 1 and draw(st.booleans()) else p}


def expand_np_params(draw, shps):
    d = expand_params(draw, shps)["dimensions"]
    return {"axis": d[0] if len(d) == 1 and draw(st.booleans()) else d}


def split_params(even):
    def params(draw, shps):
        shp = shps[0]
        axis = draw(st.integers(-len(shp), len(shp) - 1))
        n = shp[axis]
        if draw(st.booleans()):
            divisors = [k for k in range(1, max(n, 1) + 2) if n % k == 0] if even else \
                list(range(1, n + 3))
            return {"indices_or_sections": draw(st.sampled_from(divisors)), "axis": axis}
        return {"indices_or_sections": draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)),
                "axis": axis}
    return params


def tile_params(draw, shps):
    return {"reps": tuple(draw(st.lists(st.integers(0, 3), max_size=4)))
            if draw(st.booleans()) else draw(st.integers(0, 3))}


def repeat_params(draw, shps):
    shp = shps[0]
    axis = draw(st.one_of(st.none(), st.integers(-len(shp), len(shp) - 1))) if shp else None
    n = math.prod(shp) if axis is None else shp[axis]
    if draw(st.booleans()):
        return {"repeats": draw(st.integers(0, 3)), "axis": axis}
    return {"repeats": np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                                dtype=np.int64), "axis": axis}


def pad_params(draw, shps):
    shp = shps[0]
    nd = len(shp)
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    form = draw(st.sampled_from(["int", "pair", "pairs"])) if nd else "int"
    width = st.integers(0, 4)
    if form == "int":
        pad_width = draw(width)
    elif form == "pair":
        pad_width = (draw(width), draw(width))
    else:
        pad_width = tuple((draw(width), draw(width)) for _ in range(nd))
    if mode != "constant" and 0 in shp:  # NumPy cannot pad empty axes in these modes
        pad_width = tuple((0, 0) if d == 0 else p
                          for d, p in zip(shp, np.broadcast_to(pad_width, (nd, 2)).tolist()))
    kwargs = {"pad_width": pad_width, "mode": mode}
    if mode == "constant" and draw(st.booleans()):
        kwargs["constant_values"] = draw(st.one_of(
            st.integers(-3, 3), st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
            st.just(tuple((i, -i) for i in range(nd))) if nd else st.integers(-3, 3)))
    return kwargs


def roll_params(draw, shps):
    nd = len(shps[0])
    if nd == 0 or draw(st.booleans()):
        return {"shift": draw(st.integers(-7, 7)), "axis": None}
    axes = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=3))
    if len(axes) == 1 and draw(st.booleans()):
        return {"shift": draw(st.integers(-7, 7)), "axis": axes[0]}
    return {"shift": tuple(draw(st.integers(-7, 7)) for _ in axes), "axis": tuple(axes)}


def rot90_params(draw, shps):
    return {"k": draw(st.integers(-5, 5)), "axes": tuple(two_axes(draw, shps, distinct=True)
                                                         .values())}


def take_params(draw, shps):
    shp = shps[0]
    axis = draw(st.one_of(st.none(), st.integers(-len(shp), len(shp) - 1))) if shp else None
    n = math.prod(shp) if axis is None else shp[axis]
    mode = draw(st.sampled_from(["clip", "wrap"])) if n else "clip"
    if not n:
        return {"indices": np.zeros((0,), np.int32), "axis": axis, "mode": mode}
    idx_shape = draw(H.shapes(max_dims=2))
    idx = draw(H.arrays(idx_shape, I32)) * 3  # values in [-15, 15]: some out of range
    return {"indices": idx, "axis": axis, "mode": mode}


def np_take_fill(a, indices, axis=None):
    # JAX's default: negative indices in [-n, 0) wrap, others out of range give NaN (floats).
    if axis is None:
        a, axis = a.ravel(), 0
    axis %= a.ndim
    n = a.shape[axis]
    idx = np.where(indices < 0, indices + n, indices)
    bad = (idx < 0) | (idx >= n)
    out = np.take(a, np.where(bad, 0, idx), axis=axis) if n else \
        np.zeros(a.shape[:axis] + idx.shape + a.shape[axis + 1:], a.dtype)
    bad = bad.reshape((1,) * axis + idx.shape + (1,) * (a.ndim - axis - 1))
    fill = np.nan if a.dtype.kind == "f" else (np.iinfo(a.dtype).min if a.dtype.kind == "i"
                                               else True)
    return np.where(bad, np.asarray(fill).astype(a.dtype), out)


def take_fill_params(draw, shps):
    shp = shps[0]
    axis = draw(st.one_of(st.none(), st.integers(-len(shp), len(shp) - 1))) if shp else None
    return {"indices": draw(H.arrays(draw(H.shapes(max_dims=2)), I32)), "axis": axis}


def take_along_shapes(draw):
    shp = draw(H.shapes(min_dims=1))
    return (shp,)


def take_along_params(draw, shps):
    shp = shps[0]
    axis = draw(st.integers(-len(shp), len(shp) - 1))
    ishape = [d if draw(st.booleans()) or d == 0 else 1 for d in shp]
    ishape[axis] = draw(st.integers(0, 4))
    n = shp[axis]
    if n == 0:
        ishape[axis] = 0
    idx = draw(H.arrays(tuple(ishape), I32)) % max(n, 1)
    if n and draw(st.booleans()):
        idx = idx - n  # negative indices count from the end
    return {"indices": idx, "axis": axis}


def diag_params(draw, shps):
    return {"k": draw(st.integers(-4, 4))}


def diagonal_params(draw, shps):
    return {"offset": draw(st.integers(-4, 4)), **two_axes(draw, shps, distinct=True)}


def join_shapes(draw, min_dims=0):
    shp = draw(H.shapes(min_dims=min_dims))
    return (shp,) * draw(st.integers(1, 3))


def concat_np_shapes(draw):
    if draw(st.booleans()):  # axis=None: any shapes
        return tuple(draw(H.shapes()) for _ in range(draw(st.integers(1, 3))))
    return concat_shapes(draw)


def concat_np_params(draw, shps):
    if any(len(s) != len(shps[0]) for s in shps) or not shps[0]:
        return {"axis": None}
    if sum(len({s[i] for s in shps}) > 1 for i in range(len(shps[0]))) > 1:
        return {"axis": None}  # shapes drawn independently may differ in several axes
    ax = concat_axis(draw, shps)["axis"]
    return {"axis": ax - len(shps[0]) if draw(st.booleans()) else ax}


def hstack_shapes(draw):
    shp = draw(H.shapes())
    out = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shp)
        if len(s) == 1:
            s[0] = draw(st.integers(0, 4))
        elif len(s) >= 2:
            s[1] = draw(st.integers(0, 4))
        out.append(tuple(s))
    return tuple(out)


def vstack_shapes(draw):
    shp = draw(H.shapes(max_dims=3))
    if len(shp) < 2:
        return (shp,) * draw(st.integers(1, 3))
    return tuple((draw(st.integers(0, 3)),) + shp[1:] for _ in range(draw(st.integers(1, 3))))


def dstack_shapes(draw):
    shp = draw(H.shapes(max_dims=3))
    if len(shp) < 3:
        return (shp,) * draw(st.integers(1, 3))
    return tuple(shp[:2] + (draw(st.integers(0, 3)),) for _ in range(draw(st.integers(1, 3))))


def column_stack_shapes(draw):
    n = draw(st.integers(0, 4))
    return tuple((n,) if draw(st.booleans()) else (n, draw(st.integers(0, 3)))
                 for _ in range(draw(st.integers(1, 3))))


def meshgrid_shapes(draw):
    return tuple((draw(st.integers(0, 4)),) for _ in range(draw(st.integers(1, 3))))


def meshgrid_params(draw, shps):
    return {"indexing": draw(st.sampled_from(["xy", "ij"])), "sparse": draw(st.booleans())}


def triangle_shapes(draw):
    return (draw(H.shapes(min_dims=2, max_dims=4)),)


def list_fn(f):
    """Adapts a function of a list of arrays to the harness's positional arguments."""
    return lambda *xs, **kw: f(list(xs), **kw)


NP_CASES = [
    case(spec("reshape", lambda x, newshape: fnp.reshape(x, newshape),
              lambda x, newshape: np.reshape(x, newshape)), params_fn=reshape_params),
    case(spec("ravel", fnp.ravel, np.ravel)),
    case(spec("transpose", fnp.transpose, np.transpose), params_fn=transpose_params),
    case(spec("swapaxes", fnp.swapaxes, np.swapaxes), shapes_fn=shapes_of(min_dims=1),
         params_fn=two_axes),
    case(spec("moveaxis", fnp.moveaxis, np.moveaxis), params_fn=moveaxis_params),
    case(spec("expand_dims", fnp.expand_dims, np.expand_dims), params_fn=expand_np_params),
    case(spec("squeeze", fnp.squeeze, np.squeeze), shapes_fn=shapes_with_ones,
         params_fn=squeeze_np_params),
    case(spec("broadcast_to", fnp.broadcast_to, np.broadcast_to),
         params_fn=broadcast_to_params),
    case(spec("broadcast_arrays", fnp.broadcast_arrays, np.broadcast_arrays, nargs=3),
         shapes_fn=broadcastable(3)),
    case(spec("atleast_1d", fnp.atleast_1d, np.atleast_1d, nargs=2), shapes_fn=broadcastable(2)),
    case(spec("atleast_2d", fnp.atleast_2d, np.atleast_2d)),
    case(spec("atleast_3d", fnp.atleast_3d, np.atleast_3d, nargs=2), shapes_fn=broadcastable(2)),
    case(spec("concatenate", list_fn(fnp.concatenate), list_fn(np.concatenate)),
         shapes_fn=concat_np_shapes, params_fn=concat_np_params),
    case(spec("stack", list_fn(fnp.stack), list_fn(np.stack)), shapes_fn=join_shapes,
         params_fn=axis_param(min_ndim_offset=1)),
    case(spec("hstack", list_fn(fnp.hstack), list_fn(np.hstack)), shapes_fn=hstack_shapes),
    case(spec("vstack", list_fn(fnp.vstack), list_fn(np.vstack)), shapes_fn=vstack_shapes),
    case(spec("dstack", list_fn(fnp.dstack), list_fn(np.dstack)), shapes_fn=dstack_shapes),
    case(spec("column_stack", list_fn(fnp.column_stack), list_fn(np.column_stack)),
         shapes_fn=column_stack_shapes),
    case(spec("split", fnp.split, np.split), shapes_fn=shapes_of(min_dims=1),
         params_fn=split_params(even=True)),
    case(spec("array_split", fnp.array_split, np.array_split), shapes_fn=shapes_of(min_dims=1),
         params_fn=split_params(even=False)),
    case(spec("tile", fnp.tile, np.tile), params_fn=tile_params),
    case(spec("repeat", fnp.repeat, np.repeat), params_fn=repeat_params),
    case(spec("pad", fnp.pad, np.pad), params_fn=pad_params),
    case(spec("flip", fnp.flip, np.flip),
         params_fn=lambda draw, shps: {"axis": draw(st.one_of(st.none(), st.just(
             axes_subset(draw, len(shps[0])))))}),
    case(spec("fliplr", fnp.fliplr, np.fliplr), shapes_fn=shapes_of(min_dims=2)),
    case(spec("flipud", fnp.flipud, np.flipud), shapes_fn=shapes_of(min_dims=1)),
    case(spec("roll", fnp.roll, np.roll), params_fn=roll_params),
    case(spec("rot90", fnp.rot90, np.rot90), shapes_fn=shapes_of(min_dims=2),
         params_fn=rot90_params),
    case(spec("take(clip/wrap)", fnp.take, np.take), params_fn=take_params),
    case(spec("take(fill)", fnp.take, np_take_fill, dtypes=(F32, F64, I32)),
         params_fn=take_fill_params),
    case(spec("take_along_axis", fnp.take_along_axis, np.take_along_axis),
         shapes_fn=take_along_shapes, params_fn=take_along_params),
    case(spec("diag(1-D)", fnp.diag, np.diag), shapes_fn=shapes_of(min_dims=1, max_dims=1),
         params_fn=diag_params),
    case(spec("diag(2-D)", fnp.diag, np.diag), shapes_fn=shapes_of(min_dims=2, max_dims=2),
         params_fn=diag_params),
    case(spec("diagonal", fnp.diagonal, np.diagonal), shapes_fn=shapes_of(min_dims=2),
         params_fn=diagonal_params),
    case(spec("tril", fnp.tril, np.tril), shapes_fn=triangle_shapes, params_fn=diag_params),
    case(spec("triu", fnp.triu, np.triu), shapes_fn=triangle_shapes, params_fn=diag_params),
    case(spec("meshgrid", fnp.meshgrid, np.meshgrid, nargs=2), shapes_fn=meshgrid_shapes,
         params_fn=meshgrid_params),
    case(spec("copy", fnp.copy, np.copy)),
]


@pytest.mark.parametrize("spec_,strategy", NP_CASES)
@settings(max_examples=40)
@given(data=st.data())
def test_numpy_spec(spec_, strategy, data):
    args, kwargs = data.draw(strategy())
    check_spec(spec_, args, kwargs)


@pytest.mark.parametrize("k", range(-4, 5))
def test_rot90_every_k_and_plane(k):
    m = np.arange(24).reshape(2, 3, 4)
    for axes in [(0, 1), (1, 0), (0, 2), (2, 1), (-1, -3)]:
        np.testing.assert_array_equal(fnp.rot90(m, k, axes), np.rot90(m, k, axes))


def test_shape_queries_and_broadcast_shapes():
    x = np.ones((2, 0, 3), np.float32)
    assert fnp.shape(x) == (2, 0, 3) and fnp.ndim(x) == 3 and fnp.size(x) == 0
    assert fnp.size(x, -1) == 3 and fnp.shape(2.0) == () and fnp.ndim(np.float32(1)) == 0
    closed = fg.make_jaxpr(lambda t: fnp.zeros(fnp.shape(t)[::-1]))(x)
    assert closed.out_avals[0].shape == (3, 0, 2)
    for shapes in [((2, 1), (3,)), ((), (4, 1), (1, 5)), ((0,), (1,)), ((1, 0), (3, 1))]:
        assert fnp.broadcast_shapes(*shapes) == np.broadcast_shapes(*shapes)
    with pytest.raises(errors.ShapeError, match=r"broadcast_shapes: shapes \[2\], \[3\]"):
        fnp.broadcast_shapes((2,), (3,))


def test_lax_slice_alias_and_defaults():
    x = np.arange(10.0)
    assert lax.slice_ is lax.slice
    np.testing.assert_array_equal(lax.slice_(x, (2,), (9,), (3,)), x[2:9:3])
    np.testing.assert_array_equal(lax.slice(x, (2,), (5,)), x[2:5])


def test_trace_matches_numpy(rng):
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    for offset, a1, a2 in [(0, 0, 1), (1, 0, 2), (-2, 2, 1), (7, 0, 1)]:
        np.testing.assert_allclose(fnp.trace(x, offset, a1, a2), np.trace(x, offset, a1, a2),
                                   rtol=1e-5)


# ---------------------------------------------------------------- traced operands

@settings(max_examples=15)
@given(shape=H.shapes(min_dims=1), data=st.data())
def test_dynamic_slice_traced_starts(shape, data):
    x = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    sizes = tuple(data.draw(st.integers(0, d)) for d in shape)
    starts = [np.int32(data.draw(st.integers(-d - 3, d + 3))) for d in shape]
    closed = fg.make_jaxpr(lambda x, *s: lax.dynamic_slice(x, s, sizes))(x, *starts)
    assert [e.prim.name for e in closed.eqns].count("dynamic_slice") == 1
    (out,) = closed(x, *starts)
    np.testing.assert_array_equal(out, np_dynamic_slice(x, [int(s) for s in starts], sizes))
    u = -np.ones(sizes, np.float32)
    (out,) = fg.make_jaxpr(lambda x, u, *s: lax.dynamic_update_slice(x, u, s))(x, u, *starts)(
        x, u, *starts)
    np.testing.assert_array_equal(out, np_dynamic_update_slice(x, u, [int(s) for s in starts]))


def test_roll_traced_shift():
    x = np.arange(10.0).reshape(2, 5)
    f = fg.make_jaxpr(lambda x, s: fnp.roll(x, s, axis=1))(x, np.int32(0))
    for s in range(-12, 13):
        np.testing.assert_array_equal(f(x, np.int32(s))[0], np.roll(x, s, axis=1))
    g = fg.make_jaxpr(lambda x, s: fnp.roll(x, s))(x, np.int32(0))
    np.testing.assert_array_equal(g(x, np.int32(-3))[0], np.roll(x, -3))


@pytest.mark.parametrize("mode", [None, "clip", "wrap"])
def test_take_traced_indices(mode):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, -1, 5], [-5, 2, 3]], np.int32)
    closed = fg.make_jaxpr(lambda x, i: fnp.take(x, i, axis=1, mode=mode))(x, idx)
    ref = np_take_fill(x, idx, axis=1) if mode is None else np.take(x, idx, axis=1, mode=mode)
    np.testing.assert_array_equal(closed(x, idx)[0], ref)
    ids = np.array([[2], [0], [3]], np.int32)
    closed = fg.make_jaxpr(lambda x, i: fnp.take_along_axis(x, i, axis=1))(x, ids)
    np.testing.assert_array_equal(closed(x, ids)[0], np.take_along_axis(x, ids, axis=1))


def test_take_fill_value_and_empty_axis():
    x = np.arange(4, dtype=np.int32)
    np.testing.assert_array_equal(fnp.take(x, np.array([0, 9]), fill_value=-7), [0, -7])
    np.testing.assert_array_equal(fnp.take(x, np.array([9])), [np.iinfo(np.int32).min])
    out = fnp.take(np.zeros((2, 0), np.float32), np.array([1, 2]), axis=1)
    assert out.shape == (2, 2) and np.isnan(np.asarray(out)).all()


# ---------------------------------------------------------------- dtypes and weak types

def test_concatenate_promotes_dtypes():
    out = fnp.concatenate([np.ones(2, np.int32), np.ones(3, np.float32)])
    assert out.dtype == np.float32 and out.shape == (5,)
    assert fnp.concatenate([np.ones(2, np.float32), np.ones(1, np.float64)]).dtype == np.float64
    assert fnp.stack([np.ones(2, np.int32), np.ones(2, bool)]).dtype == np.int32
    assert fnp.concatenate([np.ones(2, np.int32)], dtype="float32").dtype == np.float32
    # A Python scalar is weak: it adopts the array's dtype.
    assert fnp.hstack([np.ones(2, np.float32), 2.0]).dtype == np.float32


def test_weak_type_is_preserved():
    w = fnp.asarray(2.0)
    assert w.weak_type
    for f in (lambda x: fnp.reshape(x, (1, 1)), fnp.atleast_3d, lambda x: fnp.tile(x, 3),
              lambda x: lax.pad(x, 0.0, [])):
        assert f(w).weak_type
    assert not fnp.concatenate([fnp.atleast_1d(w), np.ones(1, np.float32)]).weak_type


def test_iota_and_full_dtypes():
    assert lax.iota("int32", 3).dtype == np.int32
    assert lax.broadcasted_iota(np.float32, (2, 3), 1).dtype == np.float32
    assert lax.full((2,), 1.5).dtype == np.float32 and lax.full((2,), 1.5).weak_type
    assert lax.full((2,), 1, "float64").dtype == np.float64
    assert not lax.full((2,), 1, "float64").weak_type
    assert lax.full_like(np.ones(2, np.int32), 7.9).dtype == np.int32
    np.testing.assert_array_equal(lax.full((3,), True), np.ones(3, bool))


def test_staged_programs_are_small():
    """Structured index maps stay slices; a constant take is one gather."""
    def names(f, *a):
        return [e.prim.name for e in fg.make_jaxpr(f)(*a).eqns]
    x = np.arange(5.0)
    assert names(lambda x: fnp.pad(x, 3, mode="reflect"), x).count("slice") <= 4
    assert names(lambda x: fnp.roll(x, 2), x) == ["slice", "slice", "concatenate"]
    assert names(lambda x: fnp.take(x, np.array([4, 0, 3, 1])), x)[-1] == "gather"
    assert names(lambda x: fnp.reshape(x, (5,)), x) == []


# ---------------------------------------------------------------- the Array method surface

def test_array_methods_route_here():
    x = fnp.asarray(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.T.shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.transpose((1, 0)).shape == (3, 2) and x.transpose().shape == (3, 2)
    assert x.ravel().shape == (6,) and x.flatten().shape == (6,)
    assert x.reshape(1, 2, 3).squeeze().shape == (2, 3)
    assert x.reshape(1, 2, 3).squeeze(axis=0).shape == (2, 3)
    assert x.swapaxes(0, 1).shape == (3, 2) and x.mT.shape == (3, 2)
    np.testing.assert_array_equal(x.repeat(2, axis=0), np.repeat(np.asarray(x), 2, axis=0))
    np.testing.assert_array_equal(x.take(np.array([2, 0]), axis=1), np.asarray(x)[:, [2, 0]])
    np.testing.assert_array_equal(x.diagonal(), np.diagonal(np.asarray(x)))
    with pytest.raises(NotImplementedError, match="reshape: order='F'"):
        x.reshape(3, 2, order="F")
    with pytest.raises(NotImplementedError, match="ravel: order='F'"):
        x.ravel(order="F")


# ---------------------------------------------------------------- error messages

ERRORS = [
    # (function, exception, regex naming the op and the short shapes)
    (lambda: fnp.reshape(np.ones(6, np.float32), (4,)), errors.ShapeError,
     r"reshape: cannot reshape f32\[6\] \(6 elements\) into shape \(4,\)"),
    (lambda: lax.reshape(np.ones(6, np.float32), (4,)), errors.ShapeError,
     r"reshape: cannot reshape f32\[6\]"),
    (lambda: fnp.reshape(np.ones(6), (-1, -1)), errors.ShapeError, r"reshape: .*at most one -1"),
    (lambda: fnp.reshape(np.ones(6, np.float32), (4, -1)), errors.ShapeError,
     r"reshape: cannot reshape f32\[6\] .*\(4, -1\)"),
    (lambda: fnp.concatenate([np.ones((2, 3), np.float32), np.ones(3, np.float32)]),
     errors.ShapeError, r"concatenate: .*same rank.*f32\[2,3\], f32\[3\]"),
    (lambda: lax.concatenate([np.ones((2, 3), np.float32), np.ones(3, np.float32)], 0),
     errors.ShapeError, r"concatenate: .*equal ranks.*f32\[2,3\], f32\[3\]"),
    (lambda: fnp.concatenate([np.ones((2, 3)), np.ones((2, 4))]), errors.ShapeError,
     r"concatenate: operands f64\[2,3\], f64\[2,4\] differ in a size other than dimension 0"),
    (lambda: lax.concatenate([np.ones(2, np.float32), np.ones(2)], 0), errors.DTypeError,
     r"concatenate: .*equal dtypes.*f32\[2\], f64\[2\]"),
    (lambda: fnp.concatenate([np.float32(1), np.float32(2)]), errors.ShapeError,
     r"concatenate: zero-dimensional"),
    (lambda: fnp.squeeze(np.ones((1, 3), np.float32), axis=1), errors.ShapeError,
     r"squeeze: cannot squeeze axis 1 of operand f32\[1,3\]: its size is 3"),
    (lambda: lax.squeeze(np.ones((1, 3), np.float32), (1,)), errors.ShapeError,
     r"squeeze: cannot squeeze axis 1 of operand f32\[1,3\]"),
    (lambda: lax.transpose(np.ones((2, 3), np.float32), (0, 0)), errors.ShapeError,
     r"transpose: permutation=\(0, 0\) is not a permutation .* f32\[2,3\]"),
    (lambda: fnp.transpose(np.ones((2, 3), np.float32), (1,)), errors.ShapeError,
     r"transpose: axes=\(1,\) has 1 entries but the array f32\[2,3\] has rank 2"),
    (lambda: fnp.transpose(np.ones((2, 3), np.float32), (0, 2)), errors.ShapeError,
     r"transpose: axis 2 is out of bounds for an array of rank 2"),
    (lambda: lax.slice(np.ones((4,), np.float32), (1,), (5,)), errors.ShapeError,
     r"slice: axis 0 of operand f32\[4\].*limit \(5\) <= size \(4\)"),
    (lambda: lax.dynamic_slice(np.ones(4, np.float32), (np.float32(1),), (2,)),
     errors.DTypeError, r"dynamic_slice: start indices must be integer scalars.*f32\[\]"),
    (lambda: lax.dynamic_slice(np.ones(4, np.float32), (1,), (5,)), errors.ShapeError,
     r"dynamic_slice: slice_sizes=\(5,\) do not fit in operand f32\[4\]"),
    (lambda: lax.dynamic_update_slice(np.ones(4, np.float32), np.ones(5, np.float32), (0,)),
     errors.ShapeError, r"dynamic_update_slice: update f32\[5\] is larger than operand "
     r"f32\[4\]"),
    (lambda: lax.dynamic_update_slice(np.ones(4, np.float32), np.ones(2), (0,)),
     errors.DTypeError, r"dynamic_update_slice: operand f32\[4\] and update f64\[2\]"),
    (lambda: lax.pad(np.ones(3, np.float32), np.float64(0), [(1, 1, 0)]), errors.DTypeError,
     r"pad: operand f32\[3\] and padding_value f64\[\]"),
    (lambda: lax.pad(np.ones(3, np.float32), 0.0, [(-3, -1, 0)]), errors.ShapeError,
     r"pad: padding \(-3, -1, 0\) of axis 0 of f32\[3\]"),
    (lambda: lax.broadcasted_iota("int32", (2, 3), 2), errors.ShapeError,
     r"broadcasted_iota: axis 2 is out of bounds"),
    (lambda: lax.expand_dims(np.ones(3), (0, 0)), errors.ShapeError, r"expand_dims: repeated"),
    (lambda: lax.rev(np.ones((2, 2)), (0, 0)), errors.ShapeError,
     r"rev: dimensions=\(0, 0\) must be distinct axes of operand f64\[2,2\]"),
    (lambda: fnp.split(np.ones(5, np.float32), 2), errors.ShapeError,
     r"split: an axis of size 5 cannot be split into 2 equal sections"),
    (lambda: fnp.stack([np.ones(2, np.float32), np.ones(3, np.float32)]), errors.ShapeError,
     r"stack: all arrays must have the same shape; got f32\[2\], f32\[3\]"),
    (lambda: fnp.broadcast_to(np.ones(3, np.float32), (4,)), errors.ShapeError,
     r"broadcast_to: cannot broadcast f32\[3\] to shape \(4,\)"),
    (lambda: fnp.broadcast_arrays(np.ones(3), np.ones(4)), errors.ShapeError,
     r"broadcast_arrays: shapes \[3\], \[4\] cannot be broadcast"),
    (lambda: fnp.pad(np.ones(3), -1), errors.ShapeError, r"pad: pad_width=-1 has negative"),
    (lambda: fnp.pad(np.ones(3), ((1, 2), (3, 4))), errors.ShapeError,
     r"pad: pad_width=.* cannot be broadcast to one \(before, after\) pair for each of 1"),
    (lambda: fnp.pad(np.ones(3), 1, mode="median"), NotImplementedError,
     r"pad: mode='median' is not supported"),
    (lambda: fnp.pad(np.ones((2, 0)), 1, mode="edge"), errors.ShapeError,
     r"pad: cannot pad the empty axis 1 of f64\[2,0\] in mode 'edge'"),
    (lambda: fnp.repeat(np.ones(3), [1, 2]), errors.ShapeError,
     r"repeat: repeats has shape \(2,\) but axis 0 of f64\[3\] has size 3"),
    (lambda: fnp.take(np.ones(3), np.array([0.5])), errors.DTypeError,
     r"take: indices must be integers"),
    (lambda: fnp.diagonal(np.ones(3)), errors.ShapeError,
     r"diagonal: needs an array of rank >= 2, got f64\[3\]"),
    (lambda: fnp.moveaxis(np.ones((2, 3)), (0, 1), (0,)), errors.ShapeError,
     r"moveaxis: source \(0, 1\) and destination \(0,\) have different lengths"),
    (lambda: fnp.swapaxes(np.ones((2, 3)), 0, 3), errors.ShapeError,
     r"swapaxes: axis 3 is out of bounds for an array of rank 2"),
    (lambda: fnp.reshape([1, 2], (2,)), errors.InvalidArgumentError,
     r"reshape: a is a list"),
]


@pytest.mark.parametrize("fn,exc,pattern", ERRORS, ids=[p[2][:40] for p in ERRORS])
def test_error_messages(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_errors_are_raised_while_staging():
    with pytest.raises(errors.ShapeError, match=r"squeeze: cannot squeeze axis 0 of operand "
                                                r"f32\[2\]"):
        fg.make_jaxpr(lambda x: fnp.squeeze(x, 0))(np.ones(2, np.float32))


def test_concrete_params_are_required():
    with pytest.raises(errors.ConcretizationError, match="repeat: repeats must be concrete"):
        fg.make_jaxpr(lambda x, r: fnp.repeat(x, r))(np.ones(3), np.array([1, 1, 1]))
    with pytest.raises(errors.ConcretizationError, match="reshape: the new shape must be static"):
        fg.make_jaxpr(lambda x, s: fnp.reshape(x, s))(np.ones(4), np.array([2, 2]))


# ---------------------------------------------------------------- derivatives and batching
# Every function here is linear in its float operands (affine for pad's value), so there are
# no kinks to avoid: gradients are checked on the same drawn inputs as the forward values.



def operands(cases):
    """The cases with array operands: iota, broadcasted_iota and full have none, so there is
    nothing to differentiate or map (vmap never sees them batched)."""
    return [c for c in cases if c.values[0].nargs]



def _in_range_take(args, kwargs):
    # take's default mode fills out-of-range positions with NaN, a constant whose finite
    # differences are NaN: keep the indices in range for the derivative checks.
    (a,) = args
    axis = kwargs["axis"]
    n = a.size if axis is None else a.shape[axis]
    idx = kwargs["indices"]
    idx = np.clip(idx, -n, n - 1) if n else np.zeros((0,), idx.dtype)
    return args, dict(kwargs, indices=idx)


GRAD_FIXES = {"take(fill)": _in_range_take}


def _grads(spec_, strategy, data):
    args, kwargs = data.draw(strategy(dtypes=H.FLOATS))
    args, kwargs = GRAD_FIXES.get(spec_.name, lambda a, k: (a, k))(args, kwargs)
    H.check_spec_grads(spec_, args, kwargs, order=2)


# The lax specs are few and each exercises one rule directly: they get more examples.
@pytest.mark.parametrize("spec_,strategy", operands(LAX_CASES))
@settings(max_examples=H.scaled(12))
@given(data=st.data())
def test_lax_spec_grads(spec_, strategy, data):
    _grads(spec_, strategy, data)


@pytest.mark.parametrize("spec_,strategy", operands(NP_CASES))
@settings(max_examples=H.scaled(6))
@given(data=st.data())
def test_numpy_spec_grads(spec_, strategy, data):
    _grads(spec_, strategy, data)


def _vmap(spec_, strategy, data):
    args, kwargs = data.draw(strategy())
    H.check_spec_vmap(spec_, args, kwargs, data)


@pytest.mark.parametrize("spec_,strategy", operands(LAX_CASES))
@settings(max_examples=H.scaled(20))
@given(data=st.data())
def test_lax_spec_vmap(spec_, strategy, data):
    _vmap(spec_, strategy, data)


@pytest.mark.parametrize("spec_,strategy", operands(NP_CASES))
@settings(max_examples=H.scaled(10))
@given(data=st.data())
def test_numpy_spec_vmap(spec_, strategy, data):
    _vmap(spec_, strategy, data)


def _vdot(xs, ys) -> float:
    return float(sum(np.vdot(np.asarray(x, F64), np.asarray(y, F64))
                     for x, y in zip(fg.tree_util.tree_leaves(xs), fg.tree_util.tree_leaves(ys))))


@pytest.mark.parametrize("spec_,strategy", operands(LAX_CASES + NP_CASES))
@settings(max_examples=H.scaled(6))
@given(data=st.data())
def test_spec_transpose(spec_, strategy, data):
    """``<ct, L t> == <L^T ct, t>`` for ``L`` the linearization of the spec's function, with
    ``L^T`` from ``vjp`` (the transpose rules), on random float64 ``t`` and ``ct``."""
    args, kwargs = data.draw(strategy(dtypes=(F64,)))
    args, kwargs = GRAD_FIXES.get(spec_.name, lambda a, k: (a, k))(args, kwargs)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))

    def f(*xs):
        return spec_.fg_fn(*xs, **kwargs)
    _, f_lin = fg.linearize(f, *args)
    out, f_vjp = fg.vjp(f, *args)
    ts = [rng.standard_normal(np.shape(a)) for a in args]
    cts = fg.tree_util.tree_map(lambda o: rng.standard_normal(np.shape(o)), out)
    lhs = _vdot(cts, f_lin(*ts))
    rhs = _vdot(f_vjp(cts), ts)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10, err_msg=spec_.name)


# ---------------------------------------------------------------- batched index operands

@settings(max_examples=H.scaled(10))
@given(shape=H.shapes(min_dims=1, max_side=4), size=st.sampled_from([0, 1, 3]),
       x_axis=st.sampled_from([None, 0, -1]), u_axis=st.sampled_from([None, 0]),
       data=st.data())
def test_dynamic_slice_vmap_batched_starts(shape, size, x_axis, u_axis, data):
    """Per-example start indices (clamped, negative ones wrapped) go through a batched
    gather/scatter; unbatched ones keep the primitive. Checked against a stack of examples."""
    sizes = tuple(data.draw(st.integers(0, d)) for d in shape)
    start_axes = [data.draw(st.sampled_from([None, 0])) for _ in shape]
    if all(a is None for a in start_axes):
        start_axes[0] = 0
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = max(size, 1)
    xs = rng.standard_normal((n,) + shape).astype(np.float32)
    us = rng.standard_normal((n,) + sizes).astype(np.float32)
    starts = [rng.integers(-d - 2, d + 3, size=n).astype(np.int32) for d in shape]

    def batched(vals, axis):
        return vals[0] if axis is None else np.moveaxis(vals[:size], 0, axis)

    def pick(vals, axis, k):
        return vals[0] if axis is None else vals[k]

    s_b = [batched(s, a) for s, a in zip(starts, start_axes)]
    got = fg.vmap(lambda x, *s: lax.dynamic_slice(x, s, sizes), (x_axis, *start_axes))(
        batched(xs, x_axis), *s_b)
    got_u = fg.vmap(lambda x, u, *s: lax.dynamic_update_slice(x, u, s),
                    (x_axis, u_axis, *start_axes))(batched(xs, x_axis), batched(us, u_axis),
                                                   *s_b)
    for j, g in enumerate((got, got_u)):
        want = []
        for k in range(size):
            x, u = pick(xs, x_axis, k), pick(us, u_axis, k)
            st_ = [int(pick(s, a, k)) for s, a in zip(starts, start_axes)]
            want.append(np_dynamic_slice(x, st_, sizes) if j == 0
                        else np_dynamic_update_slice(x, u, st_))
        ref = np.stack(want) if size else np.empty((0,) + np.shape(g)[1:], np.float32)
        H.assert_close(g, ref, 0, 0, err_msg=f"output {j}, starts {start_axes}, size={size}")


@settings(max_examples=H.scaled(5))
@given(shape=H.shapes(min_dims=1, max_dims=2, max_side=4), data=st.data())
def test_dynamic_slice_vjp_under_vmap(shape, data):
    """Reverse mode through the batched-starts path (gather/scatter): per-example vjps of a
    dynamic_slice/dynamic_update_slice program equal those computed one at a time."""
    sizes = tuple(data.draw(st.integers(0, d)) for d in shape)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    xs, us = rng.standard_normal((3,) + shape), rng.standard_normal((3,) + sizes)
    cts = rng.standard_normal((3,) + sizes), rng.standard_normal((3,) + shape)
    starts = [rng.integers(-d - 1, d + 2, size=3).astype(np.int32) for d in shape]

    def pullback(x, u, ct_a, ct_b, *s):
        def f(x, u):
            y = lax.dynamic_update_slice(x * x, u * u, s)
            return lax.dynamic_slice(y * x, s, sizes), y
        return fg.vjp(f, x, u)[1]((ct_a, ct_b))
    got = fg.vmap(pullback)(xs, us, *cts, *starts)
    for k in range(3):
        want = pullback(xs[k], us[k], cts[0][k], cts[1][k], *[s[k] for s in starts])
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g)[k], w, rtol=1e-12, atol=1e-12)


def test_batched_starts_are_one_gather_or_scatter():
    """vmap with per-example starts stages one gather (scatter), not a loop over the batch."""
    x, u, s = np.ones((4, 5), np.float32), np.ones((4, 2), np.float32), np.arange(4)
    names = [e.prim.name for e in fg.make_jaxpr(fg.vmap(
        lambda x, s: lax.dynamic_slice(x, (s,), (2,))))(x, s).eqns]
    assert names.count("gather") == 1 and "dynamic_slice" not in names, names
    names = [e.prim.name for e in fg.make_jaxpr(fg.vmap(
        lambda x, u, s: lax.dynamic_update_slice(x, u, (s,))))(x, u, s).eqns]
    assert names.count("scatter") == 1 and "dynamic_update_slice" not in names, names


# ---------------------------------------------------------------- traced numpy-level operands

def _stacked(f, in_axes, args, size):
    return np.stack([np.asarray(f(*[a if ax is None else np.take(a, k, ax)
                                    for a, ax in zip(args, in_axes)])) for k in range(size)])


@settings(max_examples=H.scaled(6))
@given(shape=H.shapes(min_dims=1, max_dims=2, max_side=4), data=st.data())
def test_pad_traced_constant_values(shape, data):
    """``constant_values`` given as traced scalars (alone or in per-axis pairs) is
    differentiated and batched like the array."""
    nd = len(shape)
    widths = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2)))
                   for _ in range(nd))
    per_axis = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x, c, d = rng.standard_normal(shape), rng.standard_normal(()), rng.standard_normal(())

    def f(x, c, d):
        values = ((c, d),) * nd if per_axis else c * d
        return fnp.pad(x, widths, constant_values=values)
    np.testing.assert_allclose(f(x, c, d), np.pad(x, widths, constant_values=(
        ((c, d),) * nd if per_axis else c * d)), rtol=1e-12)
    H.check_spec_grads(Spec("pad(traced values)", f, None), [x, c, d], {}, order=2)
    xs, cs = rng.standard_normal((3,) + shape), rng.standard_normal(3)
    for in_axes in [(0, 0, None), (None, 0, None), (-1, None, 0)]:
        args = (np.moveaxis(xs, 0, -1) if in_axes[0] == -1 else xs if in_axes[0] == 0 else x,
                cs if in_axes[1] == 0 else c, cs if in_axes[2] == 0 else d)
        got = fg.vmap(f, in_axes)(*args)
        np.testing.assert_allclose(got, _stacked(f, in_axes, args, 3), rtol=1e-12)


@settings(max_examples=H.scaled(6))
@given(shape=H.shapes(min_dims=1, max_dims=2, min_side=1, max_side=4), data=st.data())
def test_roll_traced_shift_grads_and_vmap(shape, data):
    """A traced shift goes through dynamic_slice: derivatives w.r.t. the array, and per-example
    shifts under vmap (a batched gather)."""
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x, xs = rng.standard_normal(shape), rng.standard_normal((3,) + shape)
    shifts = rng.integers(-9, 10, size=3).astype(np.int32)

    def f(x, s):
        return fnp.roll(x, s, axis=axis)
    H.check_spec_grads(Spec("roll(traced)", f, None), [x, shifts[0]], {}, order=2)
    for in_axes, args in [((0, 0), (xs, shifts)), ((None, 0), (x, shifts)),
                          ((0, None), (xs, shifts[1]))]:
        want = _stacked(lambda x, s: np.roll(x, s, axis=axis), in_axes, args, 3)
        np.testing.assert_array_equal(fg.vmap(f, in_axes)(*args), want)


@settings(max_examples=H.scaled(6))
@given(shape=H.shapes(min_dims=2, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_trace_grads_and_vmap(shape, data):
    """fnp.trace (not in the spec tables: a diagonal then a sum)."""
    offset = data.draw(st.integers(-3, 3))
    a1, a2 = two_axes(data.draw, (shape,), distinct=True).values()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))

    def f(x):
        return fnp.trace(x, offset, a1, a2)
    H.check_spec_grads(Spec("trace", f, None), [rng.standard_normal(shape)], {}, order=2)
    H.check_vmap(f, [rng.standard_normal(shape)], [data.draw(st.integers(-3, 2))], 3,
                 name="trace")
