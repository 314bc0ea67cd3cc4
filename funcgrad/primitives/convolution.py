"""Convolution: the ``conv_general_dilated`` primitive and its wrappers ``conv`` and
``conv_transpose``.

Like XLA's convolution this is a cross-correlation (the kernel is not flipped) over any number
of spatial dimensions, with window strides, explicit (low, high) padding (negative crops), lhs
("input") and rhs ("kernel") dilation, feature groups and batch groups. Layouts are described by
``ConvDimensionNumbers``: for each operand and the output, the axis of its batch (or output
feature) dimension, of its feature (or input feature) dimension, then of each spatial dimension.

The impl lays the lhs out once (dilated and padded, groups leading), copies its windows into
one patch matrix and does the contraction as one (batched) matmul, so BLAS does the work.
The end of the file registers the jvp (bilinear), transpose (another convolution, for either
operand) and vmap rules.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives._helpers import check_dtype, fmt

CONV_DTYPES = dtypes.ALL


class ConvDimensionNumbers(NamedTuple):
    """Axis positions of each convolution operand, in the canonical order.

    ``lhs_spec = (batch, feature, *spatial)``, ``rhs_spec = (out feature, in feature,
    *spatial)``, ``out_spec = (batch, feature, *spatial)``: each entry is an axis of that
    array. Spatial dimension ``i`` of the three is the same window dimension."""
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


_OP = "conv_general_dilated"


def _dilate(d: int, r: int) -> int:
    return 0 if d == 0 else (d - 1) * r + 1


def _canonical_shape(shape, spec):
    return tuple(shape[a] for a in spec)


def _out_spatial(lhs_sp, rhs_sp, window_strides, padding, lhs_dilation, rhs_dilation):
    out = []
    for d, k, s, (lo, hi), ld, rd in zip(lhs_sp, rhs_sp, window_strides, padding, lhs_dilation,
                                         rhs_dilation):
        room = _dilate(d, ld) + lo + hi - _dilate(k, rd)
        out.append(room // s + 1 if room >= 0 else 0)
    return tuple(out)


# ---------------------------------------------------------------- abstract eval

def _check_spec(name, spec, ndim):
    if sorted(spec) != list(range(ndim)):
        raise errors.shape_error(_OP, f"dimension_numbers give {name} the axes {spec}, which is "
                                 f"not a permutation of the {ndim} axes of {name}.",
                                 "give each axis once (see lax.ConvDimensionNumbers).")


def _conv_abstract_eval(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count,
                        preferred_element_type):
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise errors.shape_error(_OP, f"lhs {lhs.str_short()} and rhs {rhs.str_short()} must "
                                 "have equal ranks of at least 2 (batch, feature, spatial...).",
                                 "reshape the kernel to the input's rank (one spatial axis "
                                 "each).")
    nsp = lhs.ndim - 2
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    for name, spec in (("lhs", lhs_spec), ("rhs", rhs_spec), ("the output", out_spec)):
        _check_spec(name, spec, lhs.ndim)
    for name, v in (("window_strides", window_strides), ("padding", padding),
                    ("lhs_dilation", lhs_dilation), ("rhs_dilation", rhs_dilation)):
        if len(v) != nsp:
            raise errors.shape_error(_OP, f"{name}={v} must have one entry per spatial "
                                     f"dimension ({nsp} for lhs {lhs.str_short()}).",
                                     f"give {nsp} entries.")
    for name, v in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                    ("rhs_dilation", rhs_dilation)):
        if any(s < 1 for s in v):
            raise errors.shape_error(_OP, f"{name}={v} must be positive.", "use values >= 1.")
    g, b = feature_group_count, batch_group_count
    if g < 1 or b < 1:
        raise errors.shape_error(_OP, f"feature_group_count={g} and batch_group_count={b} must "
                                 "be positive.", "use 1 for an ungrouped convolution.")
    if g > 1 and b > 1:
        raise errors.shape_error(_OP, f"at most one of feature_group_count ({g}) and "
                                 f"batch_group_count ({b}) may exceed 1.",
                                 "split the convolution into two.")
    n, c, *lhs_sp = _canonical_shape(lhs.shape, lhs_spec)
    o, i, *rhs_sp = _canonical_shape(rhs.shape, rhs_spec)
    if c != i * g:
        raise errors.shape_error(_OP, f"lhs {lhs.str_short()} has {c} features but rhs "
                                 f"{rhs.str_short()} has {i} input features and "
                                 f"feature_group_count={g}: need lhs features == rhs input "
                                 f"features * feature_group_count ({i * g}).",
                                 "check the layouts in dimension_numbers, or the kernel's "
                                 "input feature count (in_features // groups).")
    if o % g or o % b:
        which, cnt = ("feature_group_count", g) if o % g else ("batch_group_count", b)
        raise errors.shape_error(_OP, f"rhs {rhs.str_short()} has {o} output features, not a "
                                 f"multiple of {which}={cnt}.",
                                 f"use a multiple of {cnt} output features.")
    if n % b:
        raise errors.shape_error(_OP, f"lhs {lhs.str_short()} has batch size {n}, not a "
                                 f"multiple of batch_group_count={b}.",
                                 f"use a batch size that is a multiple of {b}.")
    for k, (d, (lo, hi), ld) in enumerate(zip(lhs_sp, padding, lhs_dilation)):
        if _dilate(d, ld) + lo + hi < 0:
            raise errors.shape_error(_OP, f"padding {(lo, hi)} of spatial dimension {k} crops "
                                     f"more than the (dilated) size {_dilate(d, ld)} of lhs "
                                     f"{lhs.str_short()}.", "crop less (negative padding).")
    if lhs.dtype != rhs.dtype:
        raise errors.dtype_error(_OP, f"operands must have equal dtypes, got {fmt(lhs, rhs)}.",
                                 "convert one operand (x.astype(w.dtype)).")
    check_dtype(_OP, lhs, CONV_DTYPES)
    out_dtype = lhs.dtype
    if preferred_element_type is not None:
        pet = np.dtype(preferred_element_type)
        narrower = (lhs.dtype.kind == pet.kind and pet.itemsize < lhs.dtype.itemsize) or \
            (lhs.dtype.kind in "fc" and pet.kind not in "fc")
        if narrower:
            raise errors.dtype_error(_OP, f"preferred_element_type={pet} is narrower than the "
                                     f"operands' dtype {lhs.dtype}.",
                                     "pass a dtype at least as wide, or None.")
        out_dtype = pet
    out_sp = _out_spatial(lhs_sp, rhs_sp, window_strides, padding, lhs_dilation, rhs_dilation)
    canonical = (n // b, o) + out_sp
    shape = [0] * lhs.ndim
    for axis, size in zip(out_spec, canonical):
        shape[axis] = size
    weak = lhs.weak_type and rhs.weak_type and preferred_element_type is None
    return ShapedArray(tuple(shape), out_dtype, weak)


# ---------------------------------------------------------------- impl

# Scratch buffers reused between calls, per thread and per role. A fresh multi-megabyte
# allocation is page-faulted on every call, which cost 1.5-3.5 ms per small-image convolution,
# several times the arithmetic. Buffers never escape the impl (its result is a fresh array).
_SCRATCH = threading.local()
_SCRATCH_MAX_BYTES = 64 << 20


def _scratch(role: str, shape, dtype, zero: bool = False):
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > _SCRATCH_MAX_BYTES:
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None:
        bufs = _SCRATCH.bufs = {}
    buf = bufs.get(role)
    if buf is None or buf.size < nbytes:
        buf = bufs[role] = np.empty(max(nbytes, 64), np.uint8)
    out = buf[:nbytes].view(dtype).reshape(shape)
    if zero:
        out.fill(0)
    return out


def _padded_lhs(x, groups, batch_groups, padding, lhs_dilation, batch_first):
    """``x`` (canonical N, C, spatial...) dilated and padded, laid out as (groups, in
    features, batch, padded spatial...), or (groups, batch, in features, ...) when
    ``batch_first``, so that the patch copies that follow read long contiguous runs."""
    n, c, *sp = x.shape
    nsp = len(sp)
    if batch_groups > 1:  # batch b*Nb + nb belongs to group b
        xg = x.reshape((batch_groups, n // batch_groups, c) + tuple(sp))
    else:  # feature g*I + i belongs to group g
        xg = x.reshape((n, groups, c // groups) + tuple(sp)).swapaxes(0, 1)
    if not batch_first:
        xg = xg.swapaxes(1, 2)
    padded, dst, src = [], [], []
    for d, (lo, hi), ld in zip(sp, padding, lhs_dilation):
        size = _dilate(d, ld) + lo + hi
        first = -(lo // ld) if lo < 0 else 0                   # ceil(-lo / ld)
        last = max(min(d, (size - 1 - lo) // ld + 1), first)   # one past the last kept entry
        start = lo + first * ld
        padded.append(size)
        src.append(slice(first, last))
        dst.append(slice(start, start + (last - first - 1) * ld + 1 if last > first else start,
                         ld))
    plain = all(p == (0, 0) for p in padding) and all(ld == 1 for ld in lhs_dilation)
    out = _scratch("lhs", xg.shape[:3] + tuple(padded), x.dtype, zero=not plain)
    if nsp == 0 or all(s.stop > s.start for s in src):
        out[(Ellipsis,) + tuple(dst)] = xg[(Ellipsis,) + tuple(src)]
    return out


def _windows(xp, k_sp, window_strides, rhs_dilation, out_sp):
    """The (..., out spatial..., kernel spatial...) view of the windows of ``xp``, whose
    last ``len(k_sp)`` axes are the padded spatial axes."""
    nsp = len(k_sp)
    k_ext = tuple(_dilate(k, rd) for k, rd in zip(k_sp, rhs_dilation))
    axes = tuple(range(xp.ndim - nsp, xp.ndim))
    view = np.lib.stride_tricks.sliding_window_view(xp, k_ext, axis=axes)
    return view[(Ellipsis,) + tuple(slice(0, (y - 1) * s + 1, s)
                                    for y, s in zip(out_sp, window_strides))
                + tuple(slice(None, None, rd) for rd in rhs_dilation)]


def _conv_canonical(x, w, window_strides, padding, lhs_dilation, rhs_dilation, groups,
                    batch_groups, out_sp):
    """The convolution of canonical ``x`` (N, C, spatial) and ``w`` (O, I, spatial); returns
    (groups, O/groups, N/batch_groups, out spatial...), computed with one batched matmul.

    Three layouts of the same sum, chosen by what is cheaper to copy:
      * windows larger than the output (kernel gradients): a patch row per output position;
      * stride 1, fewer output than input features (input gradients): multiply every padded
        position by every kernel tap first, then add the K shifted products ("col2im");
      * otherwise: a patch column per output position ("im2col").
    """
    n, c, *_ = x.shape
    o, i, *k_sp = w.shape
    nsp = len(k_sp)
    ng = max(groups, batch_groups)
    og, nb = o // ng, n // batch_groups
    kp = int(np.prod(k_sp, dtype=np.int64))
    yp = int(np.prod(out_sp, dtype=np.int64))
    wg = w.reshape((ng, og, i) + tuple(k_sp))
    sp_axes = tuple(range(3, 3 + nsp))
    if yp < kp:
        xp = _padded_lhs(x, groups, batch_groups, padding, lhs_dilation, batch_first=True)
        p_sp = xp.shape[3:]
        pstrides = [int(np.prod(p_sp[d + 1:], dtype=np.int64)) for d in range(nsp)]
        taps = sum(np.arange(k).reshape((-1,) + (1,) * (nsp - 1 - d)) * rd * ps
                   for d, (k, rd, ps) in enumerate(zip(k_sp, rhs_dilation, pstrides)))
        span = int(np.max(taps)) + 1
        if span <= 2 * kp:
            # A window, flattened over the padded spatial axes, is one contiguous run of
            # ``span`` entries: copy each output position's run whole, and spread the kernel
            # over the run (zeros between its taps).
            flat = xp.reshape(ng, nb, i, -1)
            rows = _scratch("patches", (ng, nb, yp, i, span), x.dtype)
            for j, idx in enumerate(np.ndindex(*out_sp)):
                off = sum(y * s * ps for y, s, ps in zip(idx, window_strides, pstrides))
                rows[:, :, j] = flat[:, :, :, off:off + span]
            grid = _scratch("kernel", (ng, og, i) + tuple(p_sp), x.dtype, zero=True)
            grid[(Ellipsis,) + tuple(slice(0, _dilate(k, rd), rd)
                                     for k, rd in zip(k_sp, rhs_dilation))] = wg
            kern = grid.reshape(ng, og, i, -1)[..., :span]
            kern, width = kern.reshape(ng, og, i * span), i * span
        else:
            view = _windows(xp, k_sp, window_strides, rhs_dilation, out_sp)  # (G,Nb,I,Y..,K..)
            rows = np.ascontiguousarray(view.transpose(
                (0, 1) + sp_axes + (2,) + tuple(range(3 + nsp, 3 + 2 * nsp))))
            kern, width = wg.reshape(ng, og, i * kp), i * kp
        prod = np.matmul(rows.reshape(ng, nb * yp, width), kern.transpose(0, 2, 1))
        return np.moveaxis(prod.reshape((ng, nb) + tuple(out_sp) + (og,)), -1, 1)
    xp = _padded_lhs(x, groups, batch_groups, padding, lhs_dilation, batch_first=False)
    p_sp = xp.shape[3:]
    if all(s == 1 for s in window_strides):
        # Stride 1: in the flattened (batch, padded spatial) axis each kernel tap is a constant
        # shift, so each tap's rows are one contiguous slice. Columns whose window runs off
        # the end of a padded row are computed and dropped.
        cols = nb * int(np.prod(p_sp, dtype=np.int64))
        flat = xp.reshape(ng, i, cols)
        pstrides = [int(np.prod(p_sp[d + 1:], dtype=np.int64)) for d in range(nsp)]
        offsets = [sum(kk * rd * st for kk, rd, st in zip(idx, rhs_dilation, pstrides))
                   for idx in np.ndindex(*k_sp)]
        m = cols - max(offsets)
        full = _scratch("product", (ng, og, cols), x.dtype)
        if og < i:
            taps = np.moveaxis(wg, 2, -1).reshape((ng, og, kp, i)).swapaxes(1, 2)
            prod = _scratch("patches", (ng, kp * og, cols), x.dtype)
            np.matmul(taps.reshape(ng, kp * og, i), flat, out=prod)
            prod = prod.reshape(ng, kp, og, cols)
            acc = full[:, :, :m]
            np.copyto(acc, prod[:, 0, :, offsets[0]:offsets[0] + m])
            for j, off in enumerate(offsets[1:], 1):
                np.add(acc, prod[:, j, :, off:off + m], out=acc)
        else:
            patches = _scratch("patches", (ng, kp, i, m), x.dtype)
            for j, off in enumerate(offsets):
                patches[:, j] = flat[:, :, off:off + m]
            wm = np.moveaxis(wg, 2, -1).reshape(ng, og, kp * i)
            if ng == 1:
                np.matmul(wm[0], patches.reshape(kp * i, m), out=full[0, :, :m])
            else:
                full[:, :, :m] = np.matmul(wm, patches.reshape(ng, kp * i, m))
        full = full.reshape((ng, og, nb) + tuple(p_sp))
        return full[(Ellipsis,) + tuple(slice(0, y) for y in out_sp)]
    view = _windows(xp, k_sp, window_strides, rhs_dilation, out_sp)  # (G, I, Nb, Y.., K..)
    # (G, I, Nb, Y..., K...) -> (G, K..., I, Nb, Y...)
    perm = (0,) + tuple(range(3 + nsp, 3 + 2 * nsp)) + (1, 2) + sp_axes
    patches = _scratch("patches", tuple(view.shape[a] for a in perm), x.dtype)
    np.copyto(patches, view.transpose(perm))
    patches = patches.reshape(ng, kp * i, nb * yp)
    wm = np.moveaxis(wg, 2, -1).reshape(ng, og, kp * i)
    return np.matmul(wm, patches).reshape((ng, og, nb) + tuple(out_sp))


# The Numba kernels of _conv_kernels serve 2-D float convolutions with no groups, no lhs
# dilation and window stride 1 (CNN layers with stride 1, their input and kernel gradients);
# everything else, and every call while this is False, takes the NumPy path above.
USE_NUMBA_KERNELS = True


def _conv_fast(x, w, window_strides, padding, lhs_dilation, rhs_dilation, groups,
               batch_groups, out_sp):
    """The canonical (N, O, Y...) result from a Numba kernel, or None where none applies."""
    if not USE_NUMBA_KERNELS or x.ndim != 4 or groups != 1 or batch_groups != 1 or \
            x.dtype not in (np.float32, np.float64) or \
            tuple(window_strides) != (1, 1) or tuple(lhs_dilation) != (1, 1):
        return None
    (lo_h, _), (lo_w, _) = padding
    if lo_h < 0 or lo_w < 0:  # crop now: the kernels only pad
        x = x[:, :, max(-lo_h, 0):, max(-lo_w, 0):]
        lo_h, lo_w = max(lo_h, 0), max(lo_w, 0)
    from funcgrad.primitives import _conv_kernels
    direct, kernel_grad = _conv_kernels.kernels()
    k_sp = w.shape[2:]
    if out_sp[0] * out_sp[1] < k_sp[0] * k_sp[1]:
        # Window larger than the output: a kernel gradient. Its operands arrive with batch and
        # features exchanged, so exchanging them back is usually free.
        if tuple(rhs_dilation) != (1, 1):
            return None
        xs, gs = _readonly(x.transpose(1, 0, 2, 3)), _readonly(w.transpose(1, 0, 2, 3))
        partial = np.empty((xs.shape[0], xs.shape[1], gs.shape[1]) + tuple(out_sp), x.dtype)
        kernel_grad(xs, gs, partial, lo_h, lo_w)
        return partial.sum(axis=0)
    out = np.empty((x.shape[0], w.shape[0]) + tuple(out_sp), x.dtype)
    direct(_readonly(x), _readonly(w), out, lo_h, lo_w, *rhs_dilation)
    return out


def _readonly(a):
    # C-contiguous and read-only whatever the caller's flags: Numba types writeable and
    # read-only arrays apart, so this keeps one compiled signature per dtype.
    a = np.ascontiguousarray(a).view()
    a.flags.writeable = False
    return a


def _conv_impl(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count, batch_group_count,
               preferred_element_type):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    out_dtype = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    x = np.asarray(lhs).transpose(lhs_spec)
    w = np.asarray(rhs).transpose(rhs_spec)
    # Work in a dtype matmul handles well: the preferred type, float32 for float16.
    work = np.dtype(np.float32) if out_dtype == np.float16 else out_dtype
    x, w = x.astype(work, copy=False), w.astype(work, copy=False)
    n, c, *lhs_sp = x.shape
    o, i, *k_sp = w.shape
    out_sp = _out_spatial(lhs_sp, k_sp, window_strides, padding, lhs_dilation, rhs_dilation)
    canonical = (n // batch_group_count, o) + out_sp
    final = np.empty(tuple(canonical[list(out_spec).index(a)] for a in range(len(out_spec))),
                     out_dtype)
    if final.size == 0:
        return final
    if i == 0 or 0 in k_sp:  # an empty window: every output is an empty sum
        final[...] = 0
        return final
    fast = _conv_fast(x, w, window_strides, padding, lhs_dilation, rhs_dilation,
                      feature_group_count, batch_group_count, out_sp)
    if fast is not None:  # canonical (N, O, Y...)
        if tuple(out_spec) == tuple(range(len(out_spec))) and fast.dtype == out_dtype:
            return fast
        final.transpose(out_spec)[...] = fast
        return final
    res = _conv_canonical(x, w, window_strides, padding, lhs_dilation, rhs_dilation,
                          feature_group_count, batch_group_count, out_sp)
    # (G, O/G, Nb, Y...) -> canonical (Nb, O, Y...) -> the out_spec layout, in one copy.
    res = np.moveaxis(res, 2, 0).reshape(canonical)
    final.transpose(out_spec)[...] = res
    return final


conv_general_dilated_p = Primitive(_OP, impl=_conv_impl, abstract_eval=_conv_abstract_eval)


# ---------------------------------------------------------------- public wrappers

def _default_specs(ndim):
    spec = tuple(range(ndim))
    return ConvDimensionNumbers(spec, spec, spec)


def _spec_from_string(name, s, batch, feature, spatial_order, ndim):
    if len(s) != ndim or len(set(s)) != ndim or batch not in s or feature not in s:
        raise errors.shape_error(_OP, f"the {name} layout {s!r} must name each of the {ndim} "
                                 f"axes once, including {batch!r} and {feature!r}.",
                                 "use strings such as ('NCHW', 'OIHW', 'NCHW') or ('NHWC', "
                                 "'HWIO', 'NHWC').")
    rest = [ch for ch in s if ch not in (batch, feature)]
    if sorted(rest) != sorted(spatial_order):
        raise errors.shape_error(_OP, f"the {name} layout {s!r} has spatial axes {rest} but the "
                                 f"rhs layout has {list(spatial_order)}.",
                                 "name the same spatial axes in all three layouts.")
    return (s.index(batch), s.index(feature)) + tuple(s.index(ch) for ch in spatial_order)


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """Normalises ``dimension_numbers`` to a hashable ``ConvDimensionNumbers``.

    Args:
        lhs_shape, rhs_shape: the operand shapes (only their ranks are used).
        dimension_numbers: None (lhs ``N, C, spatial...``; rhs ``O, I, spatial...``; output
            like lhs), a ``ConvDimensionNumbers`` or triple of axis tuples, or a triple of
            layout strings such as ``("NHWC", "HWIO", "NHWC")``. With strings, spatial
            dimension ``i`` is the ``i``-th spatial letter of the rhs layout.

    Returns:
        A ``ConvDimensionNumbers`` of int tuples.

    Example:
        >>> conv_dimension_numbers((8, 28, 28, 1), (3, 3, 1, 16), ("NHWC", "HWIO", "NHWC"))
        ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    ndim = len(lhs_shape)
    if len(rhs_shape) != ndim:
        raise errors.shape_error(_OP, f"lhs shape {tuple(lhs_shape)} and rhs shape "
                                 f"{tuple(rhs_shape)} must have equal ranks.",
                                 "give the kernel one axis per input axis.")
    if dimension_numbers is None:
        return _default_specs(ndim)
    if len(dimension_numbers) != 3:
        raise errors.shape_error(_OP, f"dimension_numbers={dimension_numbers!r} must be a "
                                 "triple (lhs, rhs, out).", "pass e.g. ('NCHW', 'OIHW', "
                                 "'NCHW').")
    lhs_s, rhs_s, out_s = dimension_numbers
    if all(isinstance(s, str) for s in dimension_numbers):
        if len(rhs_s) != ndim or "O" not in rhs_s or "I" not in rhs_s or \
                len(set(rhs_s)) != ndim:
            raise errors.shape_error(_OP, f"the rhs layout {rhs_s!r} must name each of the "
                                     f"{ndim} axes once, including 'O' and 'I'.",
                                     "use e.g. 'OIHW' or 'HWIO'.")
        spatial = [ch for ch in rhs_s if ch not in "OI"]
        return ConvDimensionNumbers(_spec_from_string("lhs", lhs_s, "N", "C", spatial, ndim),
                                    _spec_from_string("rhs", rhs_s, "O", "I", spatial, ndim),
                                    _spec_from_string("output", out_s, "N", "C", spatial, ndim))
    return ConvDimensionNumbers(*(tuple(int(a) for a in s) for s in dimension_numbers))


def _padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """Explicit (low, high) pads for a padding name: ``"VALID"`` (none), ``"SAME"`` (output
    size ``ceil(in / stride)``, the odd pad at the end) or ``"SAME_LOWER"`` (at the start)."""
    mode = padding.upper()
    if mode == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if mode not in ("SAME", "SAME_LOWER"):
        raise errors.InvalidArgumentError(errors.message(
            _OP, f"unknown padding {padding!r}.", "use 'VALID', 'SAME', 'SAME_LOWER' or a "
            "sequence of (low, high) pairs.", errors.InvalidArgumentError))
    pads = []
    for d, k, s in zip(in_shape, window_shape, window_strides):
        total = max(0, (-(-d // s) - 1) * s + k - d)
        pads.append((total // 2, total - total // 2) if mode == "SAME"
                    else (total - total // 2, total // 2))
    return tuple(pads)


def _int_tuple(name, v, n):
    if v is None:
        return (1,) * n
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    return tuple(int(a) for a in v)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """General n-dimensional convolution (a cross-correlation: the kernel is not flipped).

    Args:
        lhs: the input, e.g. ``(N, C, H, W)``.
        rhs: the kernel, e.g. ``(O, I, KH, KW)`` with ``C == I * feature_group_count``.
        window_strides: one stride per spatial dimension.
        padding: ``"VALID"``, ``"SAME"``, ``"SAME_LOWER"`` or one ``(low, high)`` pair per
            spatial dimension (negative values crop).
        lhs_dilation: spacing between input elements (``s - 1`` zeros between them: a
            transposed convolution); None for ones.
        rhs_dilation: spacing between kernel taps (atrous convolution); None for ones.
        dimension_numbers: the layouts: None (``N, C, spatial...`` / ``O, I, spatial...``),
            layout strings such as ``("NHWC", "HWIO", "NHWC")`` or a ``ConvDimensionNumbers``.
        feature_group_count: split the input features into this many groups, each convolved
            with its share of the output features (``C`` groups: depthwise).
        batch_group_count: split the batch into this many groups, each convolved with its
            share of the output features (as in the kernel gradient of a grouped convolution).
        precision: accepted for compatibility; funcgrad computes at the operands' precision.
        preferred_element_type: the result dtype (accumulates in it), or None.

    Returns:
        The output, laid out as ``dimension_numbers`` says, with spatial sizes
        ``floor((dilated input + low + high - dilated kernel) / stride) + 1``.

    Example:
        >>> x, w = fnp.ones((64, 1, 28, 28)), fnp.ones((8, 1, 3, 3))
        >>> lax.conv_general_dilated(x, w, (1, 1), "SAME").shape
        (64, 8, 28, 28)

    See also: ``conv``, ``conv_transpose``.
    """
    del precision  # one precision on the CPU: the operands' own
    lhs_aval, rhs_aval = core.get_aval(lhs), core.get_aval(rhs)
    dn = conv_dimension_numbers(lhs_aval.shape, rhs_aval.shape, dimension_numbers)
    nsp = lhs_aval.ndim - 2
    strides = _int_tuple("window_strides", window_strides, nsp)
    lhs_dilation = _int_tuple("lhs_dilation", lhs_dilation, nsp)
    rhs_dilation = _int_tuple("rhs_dilation", rhs_dilation, nsp)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation):
            raise errors.shape_error(_OP, f"padding {padding!r} is not defined with "
                                     f"lhs_dilation={lhs_dilation}.",
                                     "give explicit (low, high) pairs, or use conv_transpose.")
        for spec in dn:
            _check_spec("an operand", spec, lhs_aval.ndim)
        in_sp = _canonical_shape(lhs_aval.shape, dn.lhs_spec)[2:]
        k_sp = _canonical_shape(rhs_aval.shape, dn.rhs_spec)[2:]
        padding = _padtype_to_pads(in_sp, [_dilate(k, r) for k, r in zip(k_sp, rhs_dilation)],
                                  strides, padding)
    else:
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    pet = None if preferred_element_type is None else dtypes.canonicalize(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dn,
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count),
        preferred_element_type=pet)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """``conv_general_dilated`` with ``N, C, spatial...`` inputs and ``O, I, spatial...``
    kernels, and no dilation or groups.

    Args:
        lhs, rhs, window_strides, padding, precision, preferred_element_type: as in
            ``conv_general_dilated``.

    Returns:
        The ``N, O, spatial...`` output.

    Example:
        >>> lax.conv(fnp.ones((2, 3, 8, 8)), fnp.ones((4, 3, 3, 3)), (1, 1), "VALID").shape
        (2, 4, 6, 6)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_pads(k, s, padding):
    # The padding of the stride-s lhs-dilated input that makes conv_transpose the gradient of
    # a forward convolution with that padding name: output size s * in ("SAME") or
    # s * (in - 1) + max(k, s) ("VALID").
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    else:
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    return lo, total - lo


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """Transposed ("fractionally strided", "deconvolution") convolution: the input is dilated
    by ``strides`` and convolved with stride 1.

    Args:
        lhs: the input; rhs: the kernel.
        strides: the upsampling factor per spatial dimension (the lhs dilation).
        padding: ``"SAME"``, ``"VALID"`` or (low, high) pairs of the dilated input.
        rhs_dilation: kernel dilation, or None.
        dimension_numbers: as in ``conv_general_dilated``; None means channels last
            (``"NHC"``/``"HIO"``, ``"NHWC"``/``"HWIO"``, ``"NHWDC"``/``"HWDIO"``).
        transpose_kernel: flip the kernel's spatial axes and swap its feature axes, which
            makes the result the gradient of ``conv_general_dilated`` with the same kernel.
        precision, preferred_element_type: as in ``conv_general_dilated``.

    Returns:
        The upsampled output (``SAME``: spatial sizes ``in * stride``).

    Example:
        >>> lax.conv_transpose(fnp.ones((1, 4, 4, 2)), fnp.ones((3, 3, 2, 5)), (2, 2),
        ...                    "SAME").shape
        (1, 8, 8, 5)
    """
    from funcgrad.primitives import structural as st
    lhs_aval, rhs_aval = core.get_aval(lhs), core.get_aval(rhs)
    ndim = lhs_aval.ndim
    if dimension_numbers is None:
        layouts = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                   4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}
        if ndim not in layouts:
            raise errors.shape_error("conv_transpose", f"no default layout for rank {ndim} "
                                     f"operands {fmt(lhs_aval, rhs_aval)}.",
                                     "pass dimension_numbers.")
        dimension_numbers = layouts[ndim]
    dn = conv_dimension_numbers(lhs_aval.shape, rhs_aval.shape, dimension_numbers)
    nsp = ndim - 2
    strides = _int_tuple("strides", strides, nsp)
    rhs_dilation = _int_tuple("rhs_dilation", rhs_dilation, nsp)
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise errors.InvalidArgumentError(errors.message(
                "conv_transpose", f"unknown padding {padding!r}.",
                "use 'SAME', 'VALID' or (low, high) pairs.", errors.InvalidArgumentError))
        k_sp = _canonical_shape(rhs_aval.shape, dn.rhs_spec)[2:]
        padding = tuple(_conv_transpose_pads(_dilate(k, r), s, padding.upper())
                        for k, r, s in zip(k_sp, rhs_dilation, strides))
    if transpose_kernel:
        rhs = st.rev(rhs, dn.rhs_spec[2:])
        perm = list(range(ndim))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = st.transpose(rhs, perm)
    return conv_general_dilated(lhs, rhs, (1,) * nsp, padding, lhs_dilation=strides,
                                rhs_dilation=rhs_dilation, dimension_numbers=dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


__all__ = ["ConvDimensionNumbers", "conv_dimension_numbers", "conv_general_dilated", "conv",
           "conv_transpose"]


# ================================================================ transformation rules
# conv_general_dilated is bilinear: its jvp is the sum of the two one-sided convolutions, and
# its transpose with respect to either operand is another conv_general_dilated (with strides
# and dilations exchanged, a flipped kernel for the input, and feature groups and batch groups
# exchanged for the kernel), so derivatives of every order come from the same rules.

from funcgrad.primitives import elementwise as _ew  # noqa: E402
from funcgrad.primitives import structural as _st  # noqa: E402
from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402

_Zero = _ad.Zero


def _to_canonical(x, spec, bdim=None):
    """``x`` transposed to (batch dim if any, then the axes of ``spec`` in order); ``spec``
    counts axes without the batch dim."""
    if bdim is None:
        perm = tuple(spec)
    else:
        perm = (bdim,) + tuple(_vm.shift_axis(a, bdim) for a in spec)
    return x if perm == tuple(range(len(perm))) else _st.transpose(x, perm)


def _split_axis(x, axis, sizes):
    shape = list(core.get_aval(x).shape)
    shape[axis:axis + 1] = list(sizes)
    return _st.reshape(x, shape)


def _merge_axes(x, axis, count):
    shape = list(core.get_aval(x).shape)
    shape[axis:axis + count] = [int(np.prod(shape[axis:axis + count], dtype=np.int64))]
    return _st.reshape(x, shape)


def _swap_axes(x, a, b):
    perm = list(range(core.get_aval(x).ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return _st.transpose(x, perm)


def _conv(lhs, rhs, **params):
    return conv_general_dilated_p.bind(lhs, rhs, **params)


# ---------------------------------------------------------------- jvp

def _is_float(x):
    return np.dtype(core.get_aval(x).dtype).kind in "fc"


def _conv_jvp(primals, tangents, **params):
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    out = _conv(lhs, rhs, **params)
    t_out = _Zero.from_primal(out)
    if not (_is_float(lhs) and _is_float(out)):  # integer convolutions carry no derivative
        return out, t_out
    if type(t_lhs) is not _Zero:
        t_out = _ad.add_tangents(t_out, _conv(t_lhs, rhs, **params))
    if type(t_rhs) is not _Zero:
        t_out = _ad.add_tangents(t_out, _conv(lhs, t_rhs, **params))
    return out, t_out


# ---------------------------------------------------------------- transpose

def _dilated_sizes(sizes, dilations):
    return [_dilate(d, r) for d, r in zip(sizes, dilations)]


def _transpose_lhs(ct, rhs, lhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count):
    """The cotangent of the input: the output cotangent, dilated by the strides, convolved
    with the flipped kernel (input and output features exchanged) at stride lhs_dilation."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    ndim = lhs_aval.ndim
    in_sp = _canonical_shape(lhs_aval.shape, lhs_spec)[2:]
    rhs_shape = core.get_aval(rhs).shape
    k_sp = _canonical_shape(rhs_shape, rhs_spec)[2:]
    ct_sp = _canonical_shape(core.get_aval(ct).shape, out_spec)[2:]
    ext_in = _dilated_sizes(in_sp, lhs_dilation)
    ext_k = _dilated_sizes(k_sp, rhs_dilation)
    ext_ct = _dilated_sizes(ct_sp, window_strides)
    # Tap k of the flipped kernel meets input position x when lo' = ext_k - 1 - lo; hi' makes
    # the output exactly as long as the input.
    pads = []
    for (lo, _), ei, ek, ec in zip(padding, ext_in, ext_k, ext_ct):
        lo2 = ek - 1 - lo
        pads.append((lo2, ei + ek - 1 - ec - lo2))
    groups = max(feature_group_count, batch_group_count)
    rhs = _st.rev(rhs, rhs_spec[2:])
    if groups == 1:
        t_rhs_spec = (rhs_spec[1], rhs_spec[0]) + tuple(rhs_spec[2:])
    else:
        # Kernel (G*Og, I, K) -> (G*I, Og, K): the group becomes part of the output features.
        w = _to_canonical(rhs, rhs_spec)
        o, i = core.get_aval(w).shape[:2]
        w = _split_axis(w, 0, (groups, o // groups))
        w = _st.transpose(w, (0, 2, 1) + tuple(range(3, ndim + 1)))
        rhs = _merge_axes(w, 0, 2)
        t_rhs_spec = tuple(range(ndim))
    dn = ConvDimensionNumbers(out_spec, t_rhs_spec, lhs_spec)
    out = _conv(ct, rhs, window_strides=tuple(lhs_dilation), padding=tuple(pads),
                lhs_dilation=tuple(window_strides), rhs_dilation=tuple(rhs_dilation),
                dimension_numbers=dn, feature_group_count=groups, batch_group_count=1,
                preferred_element_type=None)
    if batch_group_count > 1:
        # Output features (B, C) -> batch (B, Nb): group b's rows return to its batch slice.
        out = _to_canonical(out, lhs_spec)
        nb, bc = core.get_aval(out).shape[:2]
        out = _split_axis(out, 1, (batch_group_count, bc // batch_group_count))
        out = _st.transpose(out, (1, 0, 2) + tuple(range(3, ndim + 1)))
        out = _merge_axes(out, 0, 2)
        out = _st.transpose(out, tuple(int(a) for a in np.argsort(lhs_spec)))
    return out


def _transpose_rhs(ct, lhs, rhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                   dimension_numbers, feature_group_count, batch_group_count):
    """The cotangent of the kernel: the input (batch and features exchanged) convolved with
    the output cotangent as the kernel, at stride rhs_dilation and kernel dilation
    window_strides. Feature groups become batch groups and vice versa."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    swap = lambda s: (s[1], s[0]) + tuple(s[2:])  # noqa: E731
    in_sp = _canonical_shape(core.get_aval(lhs).shape, lhs_spec)[2:]
    k_sp = _canonical_shape(rhs_aval.shape, rhs_spec)[2:]
    ct_sp = _canonical_shape(core.get_aval(ct).shape, out_spec)[2:]
    ext_in = _dilated_sizes(in_sp, lhs_dilation)
    ext_k = _dilated_sizes(k_sp, rhs_dilation)
    ext_ct = _dilated_sizes(ct_sp, window_strides)
    # Same low padding; hi' makes the output exactly as long as the kernel.
    pads = tuple((lo, ek - 1 + ec - ei - lo) for (lo, _), ei, ek, ec in
                 zip(padding, ext_in, ext_k, ext_ct))
    dn = ConvDimensionNumbers(swap(lhs_spec), swap(out_spec), swap(rhs_spec))
    return _conv(lhs, ct, window_strides=tuple(rhs_dilation), padding=pads,
                 lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(window_strides),
                 dimension_numbers=dn, feature_group_count=batch_group_count,
                 batch_group_count=feature_group_count, preferred_element_type=None)


def _conv_transpose_rule(ct, lhs, rhs, *, preferred_element_type, **params):
    if _tr.is_undefined(lhs) and _tr.is_undefined(rhs):
        raise AssertionError("conv_general_dilated is linear in one operand at a time")
    undefined, known = (lhs, rhs) if _tr.is_undefined(lhs) else (rhs, lhs)
    if type(ct) is _Zero or 0 in core.get_aval(ct).shape:
        zero = _Zero(undefined.aval) if type(ct) is _Zero else _ad.zeros_like_aval(undefined.aval)
        return [zero, None] if undefined is lhs else [None, zero]
    ct_dtype = core.get_aval(ct).dtype
    if core.get_aval(known).dtype != ct_dtype:  # preferred_element_type widened the result
        known = _ew.convert_element_type(known, ct_dtype)
    if undefined is lhs:
        out = _transpose_lhs(ct, known, lhs.aval, **params)
    else:
        out = _transpose_rhs(ct, known, rhs.aval, **params)
    if core.get_aval(out).dtype != undefined.aval.dtype:
        out = _ew.convert_element_type(out, undefined.aval.dtype)
    return [out, None] if undefined is lhs else [None, out]


# ---------------------------------------------------------------- vmap

def _conv_batch(vals, dims, *, dimension_numbers, feature_group_count, batch_group_count,
                **params):
    (lhs, rhs), (ld, rd) = vals, dims
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    size = _vm.batch_size(vals, dims)
    ndim = len(lhs_spec)
    g, b = feature_group_count, batch_group_count
    if size == 0:  # no examples: an empty result of the right shape
        avals = [core.get_aval(v) for v in vals]
        avals = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                 for a, d in zip(avals, dims)]
        aval = _conv_abstract_eval(*avals, dimension_numbers=dimension_numbers,
                                   feature_group_count=g, batch_group_count=b, **params)
        return _ad.zeros_like_aval(aval.update(shape=(0,) + aval.shape)), 0
    canon = tuple(range(ndim))
    x = _to_canonical(lhs, lhs_spec, ld)   # ([V,] N, C, spatial...)
    w = _to_canonical(rhs, rhs_spec, rd)   # ([V,] O, I, spatial...)
    rest = tuple(range(3, ndim + 1))
    out_f = out_spec[1]
    if rd is None:
        # Examples join the batch; with batch groups they join each group's share of it.
        n = core.get_aval(x).shape[1]
        if b > 1:
            x = _split_axis(x, 1, (b, n // b))                      # (V, B, Nb, ...)
            x = _st.transpose(x, (1, 0) + tuple(range(2, ndim + 2)))
            x = _merge_axes(x, 0, 3)
        else:
            x = _merge_axes(x, 0, 2)
        out = _conv(x, w, dimension_numbers=ConvDimensionNumbers(canon, canon, out_spec),
                    feature_group_count=g, batch_group_count=b, **params)
        nb = core.get_aval(out).shape[out_spec[0]] // size
        return _split_axis(out, out_spec[0], (size, nb)), out_spec[0]
    groups = max(g, b)
    if ld is None:
        # Examples join each group's share of the output features: (G, V, Og).
        o = core.get_aval(w).shape[1]
        if groups > 1:
            w = _split_axis(w, 1, (groups, o // groups))            # (V, G, Og, I, ...)
            w = _st.transpose(w, (1, 0) + tuple(range(2, ndim + 2)))
            w = _merge_axes(w, 0, 3)
        else:
            w = _merge_axes(w, 0, 2)
        out = _conv(x, w, dimension_numbers=ConvDimensionNumbers(canon, canon, out_spec),
                    feature_group_count=g, batch_group_count=b, **params)
        if groups == 1:
            return _split_axis(out, out_f, (size, o)), out_f
        out = _split_axis(out, out_f, (groups, size, o // groups))
        out = _swap_axes(out, out_f, out_f + 1)                     # (V, G, Og)
        return _merge_axes(out, out_f + 1, 2), out_f
    # Both batched: each example is its own set of groups, feature groups when the
    # convolution has none or feature groups, batch groups when it has batch groups.
    w = _merge_axes(w, 0, 2)                                        # (V*O, I, ...)
    if b > 1:
        x = _merge_axes(x, 0, 2)                                    # (V*N, C, ...)
        g2, b2 = g, b * size
    else:
        x = _st.transpose(x, (1, 0, 2) + rest)                      # (N, V, C, ...)
        x = _merge_axes(x, 1, 2)
        g2, b2 = g * size, b
    out = _conv(x, w, dimension_numbers=ConvDimensionNumbers(canon, canon, out_spec),
                feature_group_count=g2, batch_group_count=b2, **params)
    o = core.get_aval(out).shape[out_f] // size
    return _split_axis(out, out_f, (size, o)), out_f


# ---------------------------------------------------------------- registration

_ad.rules[conv_general_dilated_p] = _conv_jvp
_tr.rules[conv_general_dilated_p] = _conv_transpose_rule
_vm.rules[conv_general_dilated_p] = _conv_batch
