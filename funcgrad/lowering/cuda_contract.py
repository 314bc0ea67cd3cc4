"""CUDA library steps for contractions and windows: ``dot_general``, ``conv_general_dilated``,
``reduce_window_{sum,max,min}``, ``select_and_gather_add`` and ``select_and_scatter_add``.

``LOWERINGS[name](eqn)`` is called once per equation when a jaxpr is compiled for the GPU. It
reads the static params and avals, plans every launch (permutations, collapsed window
geometry, launch sizes) and returns ``run(*device_operands) -> fresh device array``, or None
where a case is not supported here (the driver then runs the NumPy impl on the host). Runs
launch kernels only: no copies to the host, no synchronisation.

* ``dot_general`` brings both operands to (batch, M, K) x (batch, K, N) with a permute-copy
  kernel (which also converts to the accumulation dtype), then runs a tiled shared-memory
  matmul with a register micro-tile per thread.
* ``conv_general_dilated`` permutes to (N, C, spatial...) / (O, I, spatial...), pads the
  spatial rank to 3 with unit axes and runs a direct convolution, one thread per output.
* Windows get one thread per output element (reductions, gather) or per operand element
  (``select_and_scatter_add``, which visits every window that can contain its element, so
  the sums are deterministic and in the impl's order: no atomics).

Dtypes follow the impls: results accumulate in the output dtype (float16 products in
float32, as NumPy's matmul and the convolution impl do), integer sums wrap. Complex operands
return None. Kernels refer to numba.cuda through the module global ``cuda`` (the simulator
swaps it), and tile sizes are small under the simulator, where every thread is Python.
"""
from __future__ import annotations

import math

import numpy as np
from numba import types as nbtypes

from funcgrad.lowering import cuda_runtime
from funcgrad.lowering.cuda_runtime import cuda
from funcgrad.primitives.reductions import highest, lowest

# ---------------------------------------------------------------- launch constants

# The matmul tile: a block of _TM x _TN threads computes a _BM x _BN tile of the output, each
# thread an _RM x _RN micro-tile held in registers, stepping through K in slices of _BK.
# Tuning on a real GPU: 128x128 tiles with 8x8 micro-tiles, double-buffered shared tiles
# (cuda.pipeline / cp.async), vectorised loads, and for float16/bfloat16 tensor-core MMA.
if cuda_runtime.simulator():
    _TM, _TN, _RM, _RN, _BK = 2, 2, 2, 2, 4
else:
    _TM, _TN, _RM, _RN, _BK = 16, 16, 4, 4, 16
_BM, _BN = _TM * _RM, _TN * _RN
_THREADS = _TM * _TN
_MAX_GRID_Z = 65535

# Convolutions with fewer outputs than _CONV_THREADS split each sum over the input channels
# into partial sums of at least _CONV_SPLIT_WORK terms (then added in a fixed order). Tuning:
# about 4 x 132 SMs x 256 threads on an H200.
_CONV_THREADS, _CONV_SPLIT_WORK = (32, 8) if cuda_runtime.simulator() else (1 << 17, 4096)

# Window kernels keep per-axis coordinates in local arrays of this length; operands whose
# collapsed window geometry has more axes return None.
_MAX_RANK = 8
_INDEX = nbtypes.int64


def _unsupported(dtype) -> bool:
    return np.dtype(dtype).kind not in "biuf"


def _zero(dtype):
    return np.zeros((), dtype)[()]


# ---------------------------------------------------------------- permute (and convert)

@cuda.jit(cache=True)
def _permute_kernel(src, dst, shape, strides):
    # dst (flat, C order over ``shape``) element i reads src at sum(index_d * strides[d]);
    # the assignment converts to dst's dtype. Consecutive threads write consecutive elements.
    # Tuning: a 32x32 shared-memory tile when the last axis moves, so reads coalesce too.
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < dst.size:
        r = i
        s = 0
        for d in range(len(shape) - 1, -1, -1):
            s += (r % shape[d]) * strides[d]
            r //= shape[d]
        dst[i] = src[s]
        i += step


def _permute_geometry(shape, perm):
    """``(out_shape, src_strides)`` of ``x.transpose(perm)``, with unit axes dropped and axes
    that stay adjacent merged (so most layout changes become rank 2 or 3 copies)."""
    keep = [a for a in range(len(shape)) if shape[a] != 1]
    renum = {a: j for j, a in enumerate(keep)}
    sq_shape = [shape[a] for a in keep]
    sq_perm = [renum[a] for a in perm if shape[a] != 1]
    strides = [math.prod(sq_shape[a + 1:]) for a in range(len(sq_shape))]
    out_shape, src_strides, last = [], [], None
    for a in sq_perm:
        if last is not None and a == last + 1:
            out_shape[-1] *= sq_shape[a]
            src_strides[-1] = strides[a]
        else:
            out_shape.append(sq_shape[a])
            src_strides.append(strides[a])
        last = a
    if not out_shape:
        return (1,), (1,)
    return tuple(out_shape), tuple(src_strides)


class _Permute:
    """``x.transpose(perm).astype(dtype)`` on the device, planned once. Calling it returns
    ``x`` itself where nothing changes (callers only read the result then)."""

    def __init__(self, shape, perm, src_dtype, dtype):
        self.shape = tuple(shape[a] for a in perm)
        self.dtype = np.dtype(dtype)
        self.size = math.prod(shape)
        self.geometry = _permute_geometry(tuple(shape), tuple(perm))
        self.identity = self.geometry[1] == (1,) and np.dtype(src_dtype) == self.dtype

    def __call__(self, x):
        if self.identity:
            return x.reshape(self.shape)
        out = cuda_runtime.empty(self.shape, self.dtype)
        if self.size:
            _permute_kernel[cuda_runtime.grid(self.size)](
                x.reshape(self.size), out.reshape(self.size), *self.geometry)
        return out


# ---------------------------------------------------------------- dot_general

@cuda.jit(cache=True)
def _matmul_kernel(a, b, out, tiles_n):
    # out[z] = a[z] @ b[z] for (Z, M, K) x (Z, K, N). Block (bm, bn) of the flattened grid.x
    # computes the _BM x _BN tile; thread (tx, ty) its rows ty + i*_TM and columns
    # tx + j*_TN, so a warp writes (and reads sb) along consecutive columns. Batches stride
    # over grid.z. Accumulates in out's dtype, as the impl does.
    sa = cuda.shared.array((_BM, _BK), dtype=a.dtype)
    sb = cuda.shared.array((_BK, _BN), dtype=b.dtype)
    acc = cuda.local.array((_RM, _RN), dtype=out.dtype)
    ra = cuda.local.array(_RM, dtype=a.dtype)
    rb = cuda.local.array(_RN, dtype=b.dtype)
    nz, m, k = a.shape
    n = b.shape[2]
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * _TN + tx
    m0 = (cuda.blockIdx.x // tiles_n) * _BM
    n0 = (cuda.blockIdx.x % tiles_n) * _BN
    for z in range(cuda.blockIdx.z, nz, cuda.gridDim.z):
        for i in range(_RM):
            for j in range(_RN):
                acc[i, j] = 0
        for k0 in range(0, k, _BK):
            # Stage the tiles, zero-filled past the edges: consecutive threads read
            # consecutive K (a) and N (b) entries.
            for e in range(tid, _BM * _BK, _THREADS):
                r = e // _BK
                c = e % _BK
                if m0 + r < m and k0 + c < k:
                    sa[r, c] = a[z, m0 + r, k0 + c]
                else:
                    sa[r, c] = 0
            for e in range(tid, _BK * _BN, _THREADS):
                r = e // _BN
                c = e % _BN
                if k0 + r < k and n0 + c < n:
                    sb[r, c] = b[z, k0 + r, n0 + c]
                else:
                    sb[r, c] = 0
            cuda.syncthreads()
            for kk in range(_BK):
                for i in range(_RM):
                    ra[i] = sa[ty + i * _TM, kk]
                for j in range(_RN):
                    rb[j] = sb[kk, tx + j * _TN]
                for i in range(_RM):
                    for j in range(_RN):
                        acc[i, j] += ra[i] * rb[j]
            cuda.syncthreads()
        for i in range(_RM):
            row = m0 + ty + i * _TM
            if row < m:
                for j in range(_RN):
                    col = n0 + tx + j * _TN
                    if col < n:
                        out[z, row, col] = acc[i, j]


def _matmul(a, b, out):
    """Launches ``out[z] = a[z] @ b[z]`` on (Z, M, K), (Z, K, N), (Z, M, N) device arrays."""
    nz, m, _ = a.shape
    n = b.shape[2]
    if nz * m * n == 0:
        return
    tiles_n = -(-n // _BN)
    blocks = (-(-m // _BM) * tiles_n, 1, min(nz, _MAX_GRID_Z))
    _matmul_kernel[blocks, (_TN, _TM)](a, b, out, tiles_n)


def _work_dtype(out_dtype):
    # float16 products accumulate in float32 (as NumPy's float16 matmul and the conv impl).
    return np.dtype(np.float32) if out_dtype == np.float16 else out_dtype


def _lower_dot_general(eqn):
    lhs, rhs = (v.aval for v in eqn.invars)
    out_aval = eqn.outvars[0].aval
    out_dtype = np.dtype(out_aval.dtype)
    if _unsupported(lhs.dtype) or _unsupported(out_dtype):
        return None
    work = _work_dtype(out_dtype)
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lfree = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rfree = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    nz = math.prod(lhs.shape[d] for d in lb)
    m = math.prod(lhs.shape[d] for d in lfree)
    n = math.prod(rhs.shape[d] for d in rfree)
    k = math.prod(lhs.shape[d] for d in lc)
    # Tuning: let the matmul read a transposed operand through strides instead of copying it
    # (the transpose rule's ct @ y.T), and a matrix-vector kernel for M or N == 1.
    to_a = _Permute(lhs.shape, list(lb) + lfree + list(lc), lhs.dtype, work)
    to_b = _Permute(rhs.shape, list(rb) + list(rc) + rfree, rhs.dtype, work)
    cast = _Permute((nz, m, n), (0, 1, 2), work, out_dtype)

    def run(x, y):
        out = cuda_runtime.empty((nz, m, n), work)
        _matmul(to_a(x).reshape(nz, m, k), to_b(y).reshape(nz, k, n), out)
        return cast(out).reshape(out_aval.shape)
    return run


# ---------------------------------------------------------------- conv_general_dilated

@cuda.jit(device=True, inline="always")
def _dilated_source(q, dil, size):
    # The operand position under position q of the operand dilated by ``dil`` (dil - 1 holes
    # between elements), or -1 where q is padding (outside it) or a hole.
    if q < 0:
        return -1
    if dil != 1:
        if q % dil != 0:
            return -1
        q //= dil
    if q >= size:
        return -1
    return q


@cuda.jit(cache=True)
def _conv3d_kernel(x, w, out, strides, lo, lhs_dil, rhs_dil, groups, batch_groups, zero):
    # Canonical x (N, C, D, H, W), w (O, I, KD, KH, KW), out (S, N/batch_groups, O, YD, YH,
    # YW): out[s, nb, o, y] = sum_{i in split s, k} xdil[n, c0 + i, y * stride + k * rhs_dil
    # - lo] * w[o, i, k], xdil being x with lhs_dil - 1 holes between elements (positions off
    # it are padding). The S splits of the input channels are partial sums (S = 1: the
    # result). Output channel o is in group g = o // (O / groups'); feature groups take input
    # channels from g * I, batch groups take batch g * (N / batch_groups) + nb.
    # Tuning: an implicit-GEMM form (input patches and weights staged in shared memory,
    # a register tile of outputs per thread), and 32-bit index maths.
    n_split, nb_out, n_out, yd_out, yh_out, yw_out = out.shape
    n_in = w.shape[1]
    chunk = (n_in + n_split - 1) // n_split
    kd_n, kh_n, kw_n = w.shape[2], w.shape[3], w.shape[4]
    d_n, h_n, w_n = x.shape[2], x.shape[3], x.shape[4]
    per_group = n_out // max(groups, batch_groups)
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < out.size:
        r = i
        yw = r % yw_out
        r //= yw_out
        yh = r % yh_out
        r //= yh_out
        yd = r % yd_out
        r //= yd_out
        o = r % n_out
        r //= n_out
        nb = r % nb_out
        split = r // nb_out
        g = o // per_group
        c0 = (g % groups) * n_in
        n = (g % batch_groups) * nb_out + nb
        ci_lo = split * chunk
        ci_hi = min(ci_lo + chunk, n_in)
        acc = zero
        for kd in range(kd_n):
            pd = _dilated_source(yd * strides[0] + kd * rhs_dil[0] - lo[0], lhs_dil[0], d_n)
            if pd < 0:
                continue
            for kh in range(kh_n):
                ph = _dilated_source(yh * strides[1] + kh * rhs_dil[1] - lo[1], lhs_dil[1], h_n)
                if ph < 0:
                    continue
                for kw in range(kw_n):
                    pw = _dilated_source(yw * strides[2] + kw * rhs_dil[2] - lo[2], lhs_dil[2],
                                         w_n)
                    if pw < 0:
                        continue
                    for ci in range(ci_lo, ci_hi):
                        acc += x[n, c0 + ci, pd, ph, pw] * w[o, ci, kd, kh, kw]
        out[split, nb, o, yd, yh, yw] = acc
        i += step


@cuda.jit(cache=True)
def _sum_splits_kernel(partial, out):
    # out[j] = sum_s partial[s, j], in split order (deterministic).
    j = cuda.grid(1)
    step = cuda.gridsize(1)
    while j < out.size:
        acc = partial[0, j]
        for s in range(1, partial.shape[0]):
            acc += partial[s, j]
        out[j] = acc
        j += step


def _conv_splits(outputs: int, channels: int, taps: int) -> int:
    """How many partial sums over the input channels a convolution's threads compute: 1
    unless there are too few outputs to fill the GPU and long sums to share out (kernel
    gradients: a few thousand outputs, each a sum over batch x image)."""
    if outputs >= _CONV_THREADS or channels * taps < _CONV_SPLIT_WORK:
        return 1
    by_threads = -(-_CONV_THREADS // max(outputs, 1))
    by_work = max(1, channels * taps // _CONV_SPLIT_WORK)
    return max(1, min(channels, by_threads, by_work))


def _lower_conv(eqn):
    lhs, rhs = (v.aval for v in eqn.invars)
    out_aval = eqn.outvars[0].aval
    out_dtype = np.dtype(out_aval.dtype)
    nsp = lhs.ndim - 2
    if nsp > 3 or _unsupported(lhs.dtype) or _unsupported(out_dtype):
        return None
    p = eqn.params
    work = _work_dtype(out_dtype)
    lhs_spec, rhs_spec, out_spec = (tuple(s) for s in p["dimension_numbers"])
    to_x = _Permute(lhs.shape, lhs_spec, lhs.dtype, work)
    to_w = _Permute(rhs.shape, rhs_spec, rhs.dtype, work)
    out_canonical = tuple(out_aval.shape[a] for a in out_spec)
    back = _Permute(out_canonical, tuple(np.argsort(out_spec)), work, out_dtype)
    unit = (1,) * (3 - nsp)

    def as3d(shape):  # leading unit spatial axes: 1-D and 2-D run as 3-D
        return tuple(shape[:2]) + unit + tuple(shape[2:])

    x3, w3, o3 = as3d(to_x.shape), as3d(to_w.shape), as3d(out_canonical)
    geometry = (unit + tuple(p["window_strides"]),
                (0,) * (3 - nsp) + tuple(lo for lo, _ in p["padding"]),
                unit + tuple(p["lhs_dilation"]), unit + tuple(p["rhs_dilation"]),
                p["feature_group_count"], p["batch_group_count"], _zero(work))
    size = math.prod(out_canonical)
    splits = _conv_splits(size, w3[1], math.prod(w3[2:]))

    def run(x, w):
        out = cuda_runtime.empty(out_canonical, work)
        if size:
            xc, wc = to_x(x).reshape(x3), to_w(w).reshape(w3)
            if splits == 1:
                _conv3d_kernel[cuda_runtime.grid(size)](xc, wc, out.reshape((1,) + o3), *geometry)
            else:
                partial = cuda_runtime.empty((splits,) + o3, work)
                _conv3d_kernel[cuda_runtime.grid(splits * size)](xc, wc, partial, *geometry)
                _sum_splits_kernel[cuda_runtime.grid(size)](partial.reshape(splits, size),
                                                            out.reshape(size))
        return back(out)
    return run


# ---------------------------------------------------------------- window geometry

def _dilate(d: int, k: int) -> int:
    return 0 if d == 0 else (d - 1) * k + 1


def _window_geometry(shape, params):
    """The window params with runs of untouched axes (window 1, stride 1, no padding or
    dilation: batch and channel axes) merged into one, as ``(out_shape, in_shape,
    in_strides, window, strides, lo, base_dilation, window_dilation)`` tuples and the window
    size, or None past ``_MAX_RANK`` axes. Flat C-order indices are unchanged by the merge."""
    axes, plain_run = [], False
    for d, size in enumerate(shape):
        w, s, pad = (params["window_dimensions"][d], params["window_strides"][d],
                     params["padding"][d])
        bd, wd = params["base_dilation"][d], params["window_dilation"][d]
        plain = w == 1 and s == 1 and tuple(pad) == (0, 0) and bd == 1
        if plain and plain_run:
            axes[-1][0] *= size
            continue
        axes.append([size, w, s, pad[0], pad[1], bd, wd if w > 1 else 1])
        plain_run = plain
    if not axes:
        axes = [[1, 1, 1, 0, 0, 1, 1]]
    if len(axes) > _MAX_RANK:
        return None
    in_shape = tuple(a[0] for a in axes)
    out_shape = []
    for size, w, s, lo, hi, bd, wd in axes:
        room, extent = _dilate(size, bd) + lo + hi, _dilate(w, wd)
        out_shape.append((room - extent) // s + 1 if room >= extent else 0)
    in_strides = tuple(math.prod(in_shape[d + 1:]) for d in range(len(axes)))
    window = tuple(a[1] for a in axes)
    return ((tuple(out_shape), in_shape, in_strides, window) + tuple(
        tuple(a[j] for a in axes) for j in (2, 3, 5, 6)), math.prod(window))


@cuda.jit(device=True, inline="always")
def _window_start(i, base, k, out_shape, strides, lo):
    # Window i's first position (before dilation holes are skipped) on each axis, in
    # operand coordinates scaled by base dilation; resets the window counter k.
    r = i
    for d in range(len(out_shape) - 1, -1, -1):
        base[d] = (r % out_shape[d]) * strides[d] - lo[d]
        k[d] = 0
        r //= out_shape[d]


@cuda.jit(device=True, inline="always")
def _window_source(base, k, in_shape, in_strides, base_dil, win_dil):
    # The flat operand index under window offset k, or -1 on padding or a dilation hole.
    src = 0
    for d in range(len(in_shape)):
        q = _dilated_source(base[d] + k[d] * win_dil[d], base_dil[d], in_shape[d])
        if q < 0:
            return -1
        src += q * in_strides[d]
    return src


@cuda.jit(device=True, inline="always")
def _next_offset(k, window):
    # Row-major odometer over the window offsets.
    for d in range(len(window) - 1, -1, -1):
        k[d] += 1
        if k[d] < window[d]:
            return
        k[d] = 0


# ---------------------------------------------------------------- reduce_window_*

@cuda.jit(cache=True)
def _reduce_window_kernel(x, out, init, kind, out_shape, in_shape, in_strides, window,
                          strides, lo, base_dil, win_dil, wsize):
    # One thread per output: folds its window in row-major order from ``init`` (the
    # identity; padding and holes contribute nothing). kind 0: sum; 1: max; 2: min, where a
    # NaN wins (as np.maximum/np.minimum propagate it).
    base = cuda.local.array(_MAX_RANK, _INDEX)
    k = cuda.local.array(_MAX_RANK, _INDEX)
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < out.size:
        _window_start(i, base, k, out_shape, strides, lo)
        acc = init
        for _ in range(wsize):
            src = _window_source(base, k, in_shape, in_strides, base_dil, win_dil)
            if src >= 0:
                v = x[src]
                if kind == 0:
                    acc += v
                elif kind == 1:
                    if v > acc or v != v:
                        acc = v
                elif v < acc or v != v:
                    acc = v
            _next_offset(k, window)
        out[i] = acc
        i += step


def _lower_reduce_window(kind):
    code = {"sum": 0, "max": 1, "min": 2}[kind]

    def lower(eqn):
        x_aval = eqn.invars[0].aval
        out_aval = eqn.outvars[0].aval
        if _unsupported(x_aval.dtype):
            return None
        geometry = _window_geometry(x_aval.shape, eqn.params)
        if geometry is None:
            return None
        dims, wsize = geometry
        init = {"sum": _zero, "max": lowest, "min": highest}[kind](x_aval.dtype)
        init = np.asarray(init, x_aval.dtype)[()]
        size = math.prod(out_aval.shape)

        def run(x):
            out = cuda_runtime.empty(out_aval.shape, out_aval.dtype)
            if size:
                _reduce_window_kernel[cuda_runtime.grid(size)](
                    x.reshape(x.size), out.reshape(size), init, code, *dims, wsize)
            return out
        return run
    return lower


# ---------------------------------------------------------------- select_and_{gather,scatter}_add

@cuda.jit(device=True, inline="always")
def _select(x, base, k, fill, is_max, in_shape, in_strides, window, base_dil, win_dil,
            wsize):
    # The flat operand index of the window's first maximum (minimum) in row-major order, or
    # -1 where that is padding: the first element starts the race (a NaN there counts as
    # ``fill``, the dtype's lowest (highest) value), a later one wins only strictly, so a NaN
    # never wins and an all-NaN window selects its first element.
    best = fill
    chosen = -1
    for j in range(wsize):
        src = _window_source(base, k, in_shape, in_strides, base_dil, win_dil)
        v = fill
        if src >= 0:
            v = x[src]
        if j == 0:
            chosen = src
            if v == v:
                best = v
        elif (v > best) if is_max else (v < best):
            best = v
            chosen = src
        _next_offset(k, window)
    return chosen


@cuda.jit(cache=True)
def _select_and_gather_kernel(t, x, out, fill, is_max, out_shape, in_shape, in_strides,
                              window, strides, lo, base_dil, win_dil, wsize):
    base = cuda.local.array(_MAX_RANK, _INDEX)
    k = cuda.local.array(_MAX_RANK, _INDEX)
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < out.size:
        _window_start(i, base, k, out_shape, strides, lo)
        src = _select(x, base, k, fill, is_max, in_shape, in_strides, window, base_dil,
                      win_dil, wsize)
        if src >= 0:
            out[i] = t[src]
        else:
            out[i] = 0
        i += step


@cuda.jit(cache=True)
def _select_kernel(x, chosen, fill, is_max, out_shape, in_shape, in_strides, window, strides,
                   lo, base_dil, win_dil, wsize):
    base = cuda.local.array(_MAX_RANK, _INDEX)
    k = cuda.local.array(_MAX_RANK, _INDEX)
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < chosen.size:
        _window_start(i, base, k, out_shape, strides, lo)
        chosen[i] = _select(x, base, k, fill, is_max, in_shape, in_strides, window, base_dil,
                            win_dil, wsize)
        i += step


@cuda.jit(cache=True)
def _scatter_kernel(ct, chosen, out, zero, out_shape, in_shape, window, strides, lo, base_dil,
                    win_dil, wsize):
    # One thread per operand element e: visits every window that covers e's position (the
    # window offsets taken from the last to the first, i.e. windows in increasing row-major
    # order) and adds the cotangent of those that chose e, accumulating in ``zero``'s dtype
    # (float64 for floats, as the impl's bincount). Deterministic, no atomics.
    pos = cuda.local.array(_MAX_RANK, _INDEX)
    k = cuda.local.array(_MAX_RANK, _INDEX)
    nd = len(in_shape)
    e = cuda.grid(1)
    step = cuda.gridsize(1)
    while e < out.size:
        r = e
        for d in range(nd - 1, -1, -1):
            pos[d] = (r % in_shape[d]) * base_dil[d] + lo[d]
            k[d] = window[d] - 1
            r //= in_shape[d]
        acc = zero
        for _ in range(wsize):
            o = 0
            for d in range(nd):
                t = pos[d] - k[d] * win_dil[d]
                if t < 0 or t % strides[d] != 0 or t // strides[d] >= out_shape[d]:
                    o = -1
                    break
                o = o * out_shape[d] + t // strides[d]
            if o >= 0 and chosen[o] == e:
                acc += ct[o]
            for d in range(nd - 1, -1, -1):  # odometer, counting down
                k[d] -= 1
                if k[d] >= 0:
                    break
                k[d] = window[d] - 1
        out[e] = acc
        e += step


def _lower_select(scatter: bool):
    def lower(eqn):
        t_aval, x_aval = (v.aval for v in eqn.invars)
        out_aval = eqn.outvars[0].aval
        if _unsupported(x_aval.dtype) or _unsupported(t_aval.dtype):
            return None
        params = dict(eqn.params)
        select = params.pop("select")
        geometry = _window_geometry(x_aval.shape, params)
        if geometry is None:
            return None
        (out_shape, in_shape, in_strides, window, strides, lo, bd, wd), wsize = geometry
        is_max = select == "max"
        fill = np.asarray((lowest if is_max else highest)(x_aval.dtype), x_aval.dtype)[()]
        n_windows, n_x = math.prod(out_shape), math.prod(in_shape)

        if not scatter:
            def gather(t, x):
                out = cuda_runtime.empty(out_aval.shape, out_aval.dtype)
                if n_windows:
                    _select_and_gather_kernel[cuda_runtime.grid(n_windows)](
                        t.reshape(n_x), x.reshape(n_x), out.reshape(n_windows), fill, is_max,
                        out_shape, in_shape, in_strides, window, strides, lo, bd, wd, wsize)
                return out
            return gather

        kind = np.dtype(t_aval.dtype).kind
        zero = np.float64(0) if kind == "f" else np.uint64(0) if kind == "u" else np.int64(0)

        def scatter_add(ct, x):
            out = cuda_runtime.empty(out_aval.shape, out_aval.dtype)
            if n_x == 0:
                return out
            chosen = cuda_runtime.empty((n_windows,), np.int64)
            if n_windows:
                _select_kernel[cuda_runtime.grid(n_windows)](
                    x.reshape(n_x), chosen, fill, is_max, out_shape, in_shape, in_strides,
                    window, strides, lo, bd, wd, wsize)
            _scatter_kernel[cuda_runtime.grid(n_x)](
                ct.reshape(n_windows), chosen, out.reshape(n_x), zero, out_shape, in_shape,
                window, strides, lo, bd, wd, wsize)
            return out
        return scatter_add
    return lower


# ---------------------------------------------------------------- the table

LOWERINGS = {
    "dot_general": _lower_dot_general,
    "conv_general_dilated": _lower_conv,
    "reduce_window_sum": _lower_reduce_window("sum"),
    "reduce_window_max": _lower_reduce_window("max"),
    "reduce_window_min": _lower_reduce_window("min"),
    "select_and_gather_add": _lower_select(scatter=False),
    "select_and_scatter_add": _lower_select(scatter=True),
}
