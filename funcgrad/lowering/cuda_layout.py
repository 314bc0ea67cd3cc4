"""CUDA library steps for layout and indexing primitives: transpose, broadcast_in_dim, reshape,
squeeze, copy, slice, rev, pad, concatenate, dynamic_slice, dynamic_update_slice, iota, gather,
the scatter family, argmax/argmin and the cumulative ops (cumsum, cumprod, cummax, cummin,
cumlogsumexp). ``sort`` has no GPU rule here: it runs on the host.

``LOWERINGS[name](eqn)`` returns ``run(*device_operands) -> device_array``, or None where the GPU
case is not supported (the driver then runs the NumPy impl on the host). Every ``run`` returns
a fresh array and never reads a device value on the host: index operands (dynamic_slice starts,
gather and scatter indices) are read by the kernels.

Kernels address arrays as flat 1-D views. Pure data movement (copies, gathers, pads) works on
the raw bits: an element of 1, 2, 4 or 8 bytes is moved as a uint8/16/32/64 (complex128 as
itself), so one compiled kernel serves every dtype of a width. Layout kernels run one thread per
*output* element, so consecutive threads write consecutive addresses; the per-axis strides that
map an output position to an input offset are collapsed first (size-1 axes dropped, contiguous
neighbours merged), so a slice of whole rows is one flat copy and a transpose is a (batched)
2-D transpose, which goes through a shared-memory tile so that reads are coalesced too.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import cuda, types

from funcgrad.lowering import cuda_runtime

# ---------------------------------------------------------------- device helpers


@cuda.jit(device=True, cache=True)
def _clamp(s, hi):
    """``(min(max(s, 0), hi), 0 <= s <= hi)`` as an int64 and a bool, for any integer ``s``."""
    if s < 0:
        return 0, False
    if s > hi:
        return hi, False
    return np.int64(s), True


@cuda.jit(device=True, cache=True)
def _strided_offset(i, shape, strides):
    """``sum(coord_a(i) * strides[a])``, the coordinates of ``i`` row-major over ``shape``."""
    rem = i
    off = 0
    for a in range(len(shape) - 1, -1, -1):
        n = shape[a]
        q = rem // n
        off += (rem - q * n) * strides[a]
        rem = q
    return off


@cuda.jit(device=True, cache=True)
def _start_offset(starts, strides, hi):
    """``sum(clamp(starts[a]) * strides[a])`` for 1-element start arrays, each clamped into
    ``[0, hi[a]]``."""
    off = 0
    for a in range(len(strides)):
        s, _ = _clamp(starts[a][0], hi[a])
        off += s * strides[a]
    return off


@cuda.jit(device=True, cache=True)
def _window_offset(i, indices, shape, op_strides, idx_strides, key_strides, vec_strides,
                   vec_hi, nvec, drop):
    """Where element ``i`` (row-major over ``shape``) of a gather output or scatter update
    lies in the operand, and its position in the scatter order (``key``). Each axis moves the
    operand offset by ``op_strides`` and the index-vector offset by ``idx_strides``; the index
    vector then adds one clamped start per entry. Offset -1: out of bounds and ``drop``."""
    rem = i
    off = 0
    ib = 0
    key = 0
    for a in range(len(shape) - 1, -1, -1):
        n = shape[a]
        q = rem // n
        c = rem - q * n
        rem = q
        off += c * op_strides[a]
        ib += c * idx_strides[a]
        key += c * key_strides[a]
    ok = True
    for k in range(nvec):
        s, inside = _clamp(indices[ib + k], vec_hi[k])
        ok = ok and inside
        off += s * vec_strides[k]
    if drop and not ok:
        off = -1
    return off, key


# ---------------------------------------------------------------- copy kernels


@cuda.jit(cache=True)
def _copy_in(x, out, offset):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[offset + i]


@cuda.jit(cache=True)
def _copy_out(x, out, offset):
    i = cuda.grid(1)
    if i < x.size:
        out[offset + i] = x[i]


@cuda.jit(cache=True)
def _gather_strided(x, out, shape, strides, offset):
    """``out[i] = x[offset + sum(coord_a(i) * strides[a])]``, coordinates over ``shape``."""
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[offset + _strided_offset(i, shape, strides)]


@cuda.jit(cache=True)
def _scatter_strided(x, out, shape, strides, offset):
    """``out[offset + sum(coord_a(i) * strides[a])] = x[i]``, coordinates over ``shape``."""
    i = cuda.grid(1)
    if i < x.size:
        out[offset + _strided_offset(i, shape, strides)] = x[i]


_TILE, _TILE_ROWS = 32, 8


@cuda.jit(cache=True)
def _transpose_tiled(x, out, m, n):
    """``out[b, j, i] = x[b, i, j]`` for ``x`` of shape (B, m, n): a block reads a 32x32 tile
    row by row (coalesced), and writes it column by column from shared memory (coalesced)."""
    tile = cuda.shared.array((32, 33), types.uint64)
    base = cuda.blockIdx.z * m * n
    r0 = cuda.blockIdx.y * 32
    c0 = cuda.blockIdx.x * 32
    tx = cuda.threadIdx.x
    for k in range(cuda.threadIdx.y, 32, cuda.blockDim.y):
        r = r0 + k
        c = c0 + tx
        if r < m and c < n:
            tile[k, tx] = x[base + r * n + c]
    cuda.syncthreads()
    for k in range(cuda.threadIdx.y, 32, cuda.blockDim.y):
        c = c0 + k
        r = r0 + tx
        if r < m and c < n:
            out[base + c * m + r] = tile[tx, k]


@cuda.jit(cache=True)
def _pad(x, pad_value, out, shape, lo, step, size, strides):
    """``out`` position c reads input position (c - lo) / step along each axis where that is
    an integer in [0, size), else the padding value (``step`` = interior + 1)."""
    i = cuda.grid(1)
    if i < out.size:
        rem = i
        src = 0
        inside = True
        for a in range(len(shape) - 1, -1, -1):
            n = shape[a]
            q = rem // n
            j = rem - q * n - lo[a]
            rem = q
            if j < 0:
                inside = False
            else:
                k = j // step[a]
                if k * step[a] != j or k >= size[a]:
                    inside = False
                else:
                    src += k * strides[a]
        out[i] = x[src] if inside else pad_value[0]


@cuda.jit(cache=True)
def _dynamic_slice(x, out, starts, shape, strides, hi):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[_start_offset(starts, strides, hi) + _strided_offset(i, shape, strides)]


@cuda.jit(cache=True)
def _dynamic_update(update, out, starts, shape, strides, hi):
    i = cuda.grid(1)
    if i < update.size:
        out[_start_offset(starts, strides, hi) + _strided_offset(i, shape, strides)] = update[i]


@cuda.jit(cache=True)
def _stage_start(s, dst, k, hi):
    # Start indices of mixed dtypes are first clamped into one int64 array.
    if cuda.grid(1) == 0:
        dst[k], _ = _clamp(s[0], hi)


@cuda.jit(cache=True)
def _iota(out, n, inner):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = (i // inner) % n


@cuda.jit(cache=True)
def _fill(out, value):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = value


# ---------------------------------------------------------------- gather and scatter kernels


@cuda.jit(cache=True)
def _gather(operand, indices, out, shape, op_strides, idx_strides, vec_strides, vec_hi, nvec,
            drop, fill):
    i = cuda.grid(1)
    if i < out.size:
        src, _ = _window_offset(i, indices, shape, op_strides, idx_strides, idx_strides,
                                vec_strides, vec_hi, nvec, drop)
        out[i] = operand[src] if src >= 0 else fill


@cuda.jit(cache=True)
def _scatter_add(updates, indices, out, shape, op_strides, idx_strides, vec_strides, vec_hi,
                 nvec, drop, parts):
    """Atomic adds, ``parts`` per element (2: a complex value as its real and imaginary part
    in a float view). Floating sums are therefore in a nondeterministic order."""
    i = cuda.grid(1)
    if i < updates.size // parts:
        dst, _ = _window_offset(i, indices, shape, op_strides, idx_strides, idx_strides,
                                vec_strides, vec_hi, nvec, drop)
        if dst >= 0:
            for p in range(parts):
                cuda.atomic.add(out, dst * parts + p, updates[i * parts + p])


@cuda.jit(cache=True)
def _scatter_max(updates, indices, out, shape, op_strides, idx_strides, vec_strides, vec_hi,
                 nvec, drop, is_max):
    """Atomic max (min): NaN is stored plainly, since the atomics skip NaN values, and once
    stored no atomic replaces it (NaN propagates, as in np.maximum.at)."""
    i = cuda.grid(1)
    if i < updates.size:
        dst, _ = _window_offset(i, indices, shape, op_strides, idx_strides, idx_strides,
                                vec_strides, vec_hi, nvec, drop)
        if dst >= 0:
            v = updates[i]
            if v != v:
                out[dst] = v
            elif is_max:
                cuda.atomic.max(out, dst, v)
            else:
                cuda.atomic.min(out, dst, v)


@cuda.jit(cache=True)
def _scatter_mul(updates, indices, out, shape, op_strides, idx_strides, vec_strides, vec_hi,
                 nvec, drop):
    """Integer products by compare-and-swap (wrapping products commute: deterministic)."""
    i = cuda.grid(1)
    if i < updates.size:
        dst, _ = _window_offset(i, indices, shape, op_strides, idx_strides, idx_strides,
                                vec_strides, vec_hi, nvec, drop)
        if dst >= 0:
            v = updates[i]
            old = out[dst]
            while True:
                seen = cuda.atomic.cas(out, dst, old, old * v)
                if seen == old:
                    break
                old = seen


@cuda.jit(cache=True)
def _scatter_claim(indices, winner, shape, op_strides, idx_strides, key_strides, vec_strides,
                   vec_hi, nvec, drop):
    i = cuda.grid(1)
    n = 1
    for a in range(len(shape)):
        n *= shape[a]
    if i < n:
        dst, key = _window_offset(i, indices, shape, op_strides, idx_strides, key_strides,
                                  vec_strides, vec_hi, nvec, drop)
        if dst >= 0:
            cuda.atomic.max(winner, dst, key)


@cuda.jit(cache=True)
def _scatter_set(updates, indices, out, winner, shape, op_strides, idx_strides, key_strides,
                 vec_strides, vec_hi, nvec, drop):
    i = cuda.grid(1)
    if i < updates.size:
        dst, key = _window_offset(i, indices, shape, op_strides, idx_strides, key_strides,
                                  vec_strides, vec_hi, nvec, drop)
        if dst >= 0 and winner[dst] == key:
            out[dst] = updates[i]


# ---------------------------------------------------------------- argmax / argmin kernels


@cuda.jit(device=True, cache=True)
def _beats(vb, ib, va, ia, is_max):
    """Whether candidate (vb, ib) wins over (va, ia): NaN first, then the extremum, ties and
    NaNs to the lower index; ``ia`` -1 marks no candidate yet."""
    if ia < 0:
        return True
    a_nan = va != va
    b_nan = vb != vb
    if a_nan or b_nan:
        return (ib < ia) if (a_nan and b_nan) else b_nan
    if vb == va:
        return ib < ia
    return (vb > va) if is_max else (vb < va)


@cuda.jit(cache=True)
def _arg_lines(x, out, n, inner, is_max):
    """One thread per output: scans its line of ``n`` elements ``inner`` apart."""
    i = cuda.grid(1)
    if i < out.size:
        o = i // inner
        base = o * n * inner + (i - o * inner)
        best = x[base]
        bi = 0
        for k in range(1, n):
            v = x[base + k * inner]
            if _beats(v, k, best, bi, is_max):
                best = v
                bi = k
        out[i] = bi


_ROW_THREADS = 256


@cuda.jit(cache=True)
def _arg_rows(x, out, n, is_max):
    """One block per contiguous row: a strided scan per thread, then a tree reduction over
    candidate indices in shared memory (values are re-read from ``x``, so any dtype works)."""
    cand = cuda.shared.array(256, types.int64)
    row = cuda.blockIdx.x
    base = row * n
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    bi = -1
    best = x[base]
    for k in range(t, n, nt):
        v = x[base + k]
        if _beats(v, k, best, bi, is_max):
            best = v
            bi = k
    cand[t] = bi
    cuda.syncthreads()
    s = nt // 2
    while s > 0:
        if t < s:
            ib = cand[t + s]
            ia = cand[t]
            if ib >= 0 and _beats(x[base + ib], ib, x[base + max(ia, 0)], ia, is_max):
                cand[t] = ib
        cuda.syncthreads()
        s //= 2
    if t == 0:
        out[row] = cand[0]


# ---------------------------------------------------------------- cumulative kernels


@cuda.jit(device=True, cache=True)
def _add(a, b):
    return a + b


@cuda.jit(device=True, cache=True)
def _mul(a, b):
    return a * b


@cuda.jit(device=True, cache=True)
def _max(a, b):
    return a if (a != a or a >= b) else b  # NaN propagates, as in np.maximum


@cuda.jit(device=True, cache=True)
def _min(a, b):
    return a if (a != a or a <= b) else b


@cuda.jit(device=True, cache=True)
def _logaddexp(a, b):
    if a != a or b != b:
        return a + b
    if a == b:  # also two infinities of one sign
        return a + 0.6931471805599453
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


class _ScanKernels(NamedTuple):
    lines: object
    totals: object
    carry: object
    finish: object


def _scan_kernels(op) -> _ScanKernels:
    """Kernels of one cumulative op. A line is ``n`` elements ``inner`` apart, scanned from its
    end when ``reverse``. Many lines: a thread scans each (``lines``). Few long lines: a thread
    per chunk of ``chunk`` positions reduces it (``totals``), a thread per line turns the chunk
    totals into carries in (``carry``), and a thread per chunk scans it from its carry
    (``finish``), so floating results are reassociated (to rounding) there."""

    @cuda.jit
    def lines(x, out, n, inner, reverse):
        i = cuda.grid(1)
        if i < x.size // n:
            o = i // inner
            p = o * n * inner + (i - o * inner) + ((n - 1) * inner if reverse else 0)
            step = -inner if reverse else inner
            acc = x[p]
            out[p] = acc
            for _ in range(1, n):
                p += step
                acc = op(acc, x[p])
                out[p] = acc

    @cuda.jit
    def totals(x, part, n, inner, chunk, reverse):
        i = cuda.grid(1)
        nchunks = part.size // (x.size // n)
        if i < part.size:
            line = i // nchunks
            o = line // inner
            base = o * n * inner + (line - o * inner)
            t0 = (i - line * nchunks) * chunk
            acc = x[base + ((n - 1 - t0) if reverse else t0) * inner]
            for t in range(t0 + 1, min(t0 + chunk, n)):
                acc = op(acc, x[base + ((n - 1 - t) if reverse else t) * inner])
            part[i] = acc

    @cuda.jit
    def carry(part, nchunks):
        line = cuda.grid(1)
        if line < part.size // nchunks:
            b = line * nchunks
            run = part[b]
            for c in range(1, nchunks):
                t = part[b + c]
                part[b + c] = run
                run = op(run, t)

    @cuda.jit
    def finish(x, out, part, n, inner, chunk, reverse):
        i = cuda.grid(1)
        nchunks = part.size // (x.size // n)
        if i < part.size:
            line = i // nchunks
            c = i - line * nchunks
            o = line // inner
            base = o * n * inner + (line - o * inner)
            t0 = c * chunk
            p = base + ((n - 1 - t0) if reverse else t0) * inner
            acc = op(part[i], x[p]) if c > 0 else x[p]
            out[p] = acc
            for t in range(t0 + 1, min(t0 + chunk, n)):
                p = base + ((n - 1 - t) if reverse else t) * inner
                acc = op(acc, x[p])
                out[p] = acc

    return _ScanKernels(lines, totals, carry, finish)


_SCANS = {"cumsum": _scan_kernels(_add), "cumprod": _scan_kernels(_mul),
          "cummax": _scan_kernels(_max), "cummin": _scan_kernels(_min),
          "cumlogsumexp": _scan_kernels(_logaddexp)}


# ---------------------------------------------------------------- host helpers

_BITS = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32),
         8: np.dtype(np.uint64)}


def _launch(kernel, n, *args):
    if n:
        kernel[cuda_runtime.grid(n)](*args)


def _flat(a):
    """A 1-D view of a C-contiguous device array (0-d arrays included)."""
    return a if a.ndim == 1 else a.reshape(a.size)


def _bits(a):
    """A 1-D view of ``a`` as unsigned integers of its width (complex128 stays as is)."""
    f = _flat(a)
    t = _BITS.get(f.dtype.itemsize)
    return f if t is None or f.dtype == t else f.view(t)


def _bits_scalar(value, dtype):
    """``value`` converted to ``dtype`` (as the NumPy impls convert it), as the bits scalar
    that kernels working on ``_bits`` views store."""
    dtype = np.dtype(dtype)
    with np.errstate(all="ignore"):
        v = np.asarray(value).astype(dtype)
    t = _BITS.get(dtype.itemsize)
    return v[()] if t is None else v.view(t)[()]


def _strides(shape) -> tuple[int, ...]:
    """C-contiguous strides in elements."""
    out, s = [], 1
    for n in reversed(shape):
        out.append(s)
        s *= n
    return tuple(reversed(out))


def _collapse(shape, strides):
    """``(shape, strides)`` with size-1 axes dropped and neighbours merged where the outer
    one steps over exactly the inner one; at least one axis."""
    dims = []
    for n, s in zip(shape, strides):
        if n == 1:
            continue
        if dims and dims[-1][1] == s * n:
            dims[-1] = (dims[-1][0] * n, s)
        else:
            dims.append((n, s))
    if not dims:
        dims = [(1, 0)]
    return tuple(n for n, _ in dims), tuple(s for _, s in dims)


def _as_batched_transpose(shape, strides, offset):
    """``(B, m, n)`` when reading ``shape``/``strides`` (collapsed) from a contiguous input is
    the transpose of B contiguous (m, n) matrices, else None."""
    if offset != 0 or len(shape) not in (2, 3):
        return None
    b, (n, m) = (shape[0] if len(shape) == 3 else 1), shape[-2:]
    if strides[-2:] != (1, n) or (len(shape) == 3 and strides[0] != m * n):
        return None
    if b > 65535 or math.ceil(m / _TILE) > 65535:
        return None
    return b, m, n


def _gather_copy(dtype, out_shape, strides, offset=0):
    """``run(x)``: a fresh array of ``out_shape`` whose element at coordinates c is
    ``x.flat[offset + sum(c * strides)]`` (planned once, at lowering time)."""
    size = math.prod(out_shape)
    shape, strides = _collapse(out_shape, strides)
    batched = _as_batched_transpose(shape, strides, offset)
    if size == 0:
        launch = None
    elif strides == (1,):
        def launch(xb, ob):
            _launch(_copy_in, size, xb, ob, offset)
    elif batched is not None and np.dtype(dtype).itemsize <= 8:
        b, m, n = batched
        blocks = (math.ceil(n / _TILE), math.ceil(m / _TILE), b)
        threads = (_TILE, 2 if cuda_runtime.simulator() else _TILE_ROWS)

        def launch(xb, ob):
            _transpose_tiled[blocks, threads](xb, ob, m, n)
    else:
        def launch(xb, ob):
            _launch(_gather_strided, size, xb, ob, shape, strides, offset)

    def run(x):
        out = cuda_runtime.empty(out_shape, dtype)
        if launch is not None:
            launch(_bits(x), _bits(out))
        return out
    return run


def _write_block(x_shape, out_strides, offset):
    """``write(x, out)``: copies the contiguous ``x`` of ``x_shape`` into ``out`` at
    ``offset`` with ``out_strides`` per axis."""
    size = math.prod(x_shape)
    shape, strides = _collapse(x_shape, out_strides)

    def write(x, out):
        if size == 0:
            return
        if strides == (1,):
            _launch(_copy_out, size, _bits(x), _bits(out), offset)
        else:
            _launch(_scatter_strided, size, _bits(x), _bits(out), shape, strides, offset)
    return write


def _fresh_copy(x, shape):
    out = cuda_runtime.empty(x.shape, x.dtype)
    _launch(_copy_in, x.size, _bits(x), _bits(out), 0)
    return out.reshape(shape)


def _avals(eqn):
    return [v.aval for v in eqn.invars], eqn.outvars[0].aval


# ---------------------------------------------------------------- layout lowerings


def _lower_reshape(eqn):
    shape = tuple(eqn.outvars[0].aval.shape)
    return lambda x, *_: _fresh_copy(x, shape)


def _lower_transpose(eqn):
    (x,), y = _avals(eqn)
    xs = _strides(x.shape)
    return _gather_copy(y.dtype, y.shape, tuple(xs[p] for p in eqn.params["permutation"]))


def _lower_broadcast_in_dim(eqn):
    (x,), y = _avals(eqn)
    xs = _strides(x.shape)
    strides = [0] * len(y.shape)
    for i, b in enumerate(eqn.params["broadcast_dimensions"]):
        if x.shape[i] == y.shape[b]:
            strides[b] = xs[i]
    return _gather_copy(y.dtype, y.shape, tuple(strides))


def _lower_slice(eqn):
    (x,), y = _avals(eqn)
    p, xs = eqn.params, _strides(x.shape)
    strides = tuple(s * st for s, st in zip(xs, p["strides"]))
    offset = sum(s * lo for s, lo in zip(xs, p["start_indices"]))
    return _gather_copy(y.dtype, y.shape, strides, offset)


def _lower_rev(eqn):
    (x,), y = _avals(eqn)
    xs, dims = _strides(x.shape), eqn.params["dimensions"]
    strides = tuple(-s if a in dims else s for a, s in enumerate(xs))
    offset = sum((x.shape[a] - 1) * xs[a] for a in dims if x.shape[a] > 0)
    return _gather_copy(y.dtype, y.shape, strides, offset)


def _lower_pad(eqn):
    (x, _), y = _avals(eqn)
    xs = _strides(x.shape)
    axes = []  # (out size, low, step, in size, in stride, identity); identity axes merge
    for (lo, hi, it), n_out, n, s in zip(eqn.params["padding_config"], y.shape, x.shape, xs):
        if n_out == 1 and lo == 0:
            continue  # reads input position 0 (or the padding value if the input is empty)
        identity = lo == 0 and hi == 0 and (it == 0 or n <= 1)
        if identity and axes and axes[-1][5] and axes[-1][4] == n * s:
            axes[-1] = (axes[-1][0] * n, 0, 1, axes[-1][3] * n, s, True)
        else:
            axes.append((n_out, lo, it + 1, n, s, identity))
    if x.size == 0 and y.size:
        axes = [(y.size, 1, 1, 0, 0, False)]  # everything is padding: nothing is ever read
    if not axes:
        axes = [(1, 0, 1, 1, 0, True)]
    shape, lo, step, size, strides = (tuple(a[k] for a in axes) for k in range(5))

    def run(x, pad_value):
        out = cuda_runtime.empty(y.shape, y.dtype)
        _launch(_pad, out.size, _bits(x), _bits(pad_value), _bits(out), shape, lo, step, size,
                strides)
        return out
    return run


def _lower_concatenate(eqn):
    xs, y = _avals(eqn)
    dim = eqn.params["dimension"]
    ys = _strides(y.shape)
    offsets = np.cumsum([0] + [x.shape[dim] for x in xs[:-1]]) * ys[dim]
    writes = [_write_block(x.shape, ys, int(off)) for x, off in zip(xs, offsets)]

    def run(*operands):
        out = cuda_runtime.empty(y.shape, y.dtype)
        for write, x in zip(writes, operands):
            write(x, out)
        return out
    return run


def _starts(starts, hi):
    """The 0-d start-index device arrays as a tuple of 1-element views the kernels read (one
    dtype; mixed dtypes are first copied into one int64 array)."""
    if len({s.dtype for s in starts}) == 1:
        return tuple(_flat(s) for s in starts)
    staged = cuda_runtime.empty((len(starts),), np.int64)
    for k, s in enumerate(starts):
        _stage_start[1, 1](_flat(s), staged, k, hi[k])
    return tuple(staged[k:k + 1] for k in range(len(starts)))


def _lower_dynamic_slice(eqn):
    (x, *_), y = _avals(eqn)
    if x.ndim == 0:
        return lambda x: _fresh_copy(x, ())
    strides = _strides(x.shape)
    hi = tuple(d - n for d, n in zip(x.shape, y.shape))

    def run(x, *starts):
        out = cuda_runtime.empty(y.shape, y.dtype)
        _launch(_dynamic_slice, out.size, _bits(x), _bits(out), _starts(starts, hi), y.shape,
                strides, hi)
        return out
    return run


def _lower_dynamic_update_slice(eqn):
    (x, u, *_), _y = _avals(eqn)
    if x.ndim == 0:
        return lambda x, update: _fresh_copy(update, ())
    strides = _strides(x.shape)
    hi = tuple(d - n for d, n in zip(x.shape, u.shape))

    def run(x, update, *starts):
        out = _fresh_copy(x, x.shape)
        _launch(_dynamic_update, update.size, _bits(update), _bits(out), _starts(starts, hi),
                u.shape, strides, hi)
        return out
    return run


def _lower_iota(eqn):
    p = eqn.params
    shape, dim, dtype = tuple(p["shape"]), p["dimension"], np.dtype(p["dtype"])
    if dtype == np.float16:
        return None
    inner = int(np.prod(shape[dim + 1:], dtype=np.int64))

    def run():
        out = cuda_runtime.empty(shape, dtype)
        _launch(_iota, out.size, _flat(out), shape[dim], inner)
        return out
    return run


# ---------------------------------------------------------------- gather / scatter lowerings


def _index_plan(operand, indices, shape, window_axes, batch_axes, index_map, batching,
                window):
    """Per-axis strides of a gather output / scatter update of ``shape``: the operand stride
    of each window axis (``window_axes``: axis position -> operand axis), the indices stride
    of each batch axis (``batch_axes``: axis position -> indices batch axis) plus the operand
    stride where that batch axis is paired with an operand batching axis; and per index-vector
    entry its operand stride and largest in-bounds start."""
    os_, is_ = _strides(operand.shape), _strides(indices.shape)
    paired = {j: d for d, j in batching}
    op_strides, idx_strides = [0] * len(shape), [0] * len(shape)
    for a, d in window_axes.items():
        op_strides[a] = os_[d]
    for a, j in batch_axes.items():
        idx_strides[a] = is_[j]
        if j in paired:
            op_strides[a] = os_[paired[j]]
    vec_strides = tuple(os_[d] for d in index_map) or (0,)
    vec_hi = tuple(operand.shape[d] - window[d] for d in index_map) or (0,)
    return (tuple(shape) or (1,), tuple(op_strides) or (0,), tuple(idx_strides) or (0,),
            vec_strides, vec_hi, len(index_map))


def _lower_gather(eqn):
    (operand, indices), y = _avals(eqn)
    p = eqn.params
    dn, sizes = p["dimension_numbers"], p["slice_sizes"]
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in dropped]
    batch_pos = [a for a in range(len(y.shape)) if a not in dn.offset_dims]
    plan = _index_plan(operand, indices, y.shape, dict(zip(dn.offset_dims, window_dims)),
                       {a: j for j, a in enumerate(batch_pos)}, dn.start_index_map,
                       list(zip(dn.operand_batching_dims, dn.start_indices_batching_dims)),
                       sizes)
    fill = p["fill_value"]
    if fill is None:
        from funcgrad.primitives.indexing import default_fill_value
        fill = default_fill_value(operand.dtype)
    fill = _bits_scalar(fill, operand.dtype)
    drop = p["mode"] == "fill"

    def run(operand, indices):
        out = cuda_runtime.empty(y.shape, y.dtype)
        _launch(_gather, out.size, _bits(operand), _flat(indices), _bits(out), *plan, drop,
                fill)
        return out
    return run


def _scatter_plan(eqn):
    (operand, indices, updates), _ = _avals(eqn)
    dn = eqn.params["dimension_numbers"]
    inserted = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in inserted]
    window = [1] * operand.ndim
    for a, d in zip(dn.update_window_dims, window_dims):
        window[d] = updates.shape[a]
    scatter_pos = [a for a in range(updates.ndim) if a not in dn.update_window_dims]
    plan = _index_plan(operand, indices, updates.shape,
                       dict(zip(dn.update_window_dims, window_dims)),
                       {a: j for j, a in enumerate(scatter_pos)},
                       dn.scatter_dims_to_operand_dims,
                       list(zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims)),
                       window)
    # The NumPy impl assigns in row-major order of (batch axes, window axes): the last wins.
    order = scatter_pos + list(dn.update_window_dims)
    order_strides = _strides([updates.shape[a] for a in order])
    key_strides = [0] * updates.ndim
    for a, s in zip(order, order_strides):
        key_strides[a] = s
    return plan, tuple(key_strides) or (0,), eqn.params["mode"] == "fill"


_ATOMIC = {np.dtype(t) for t in (np.int32, np.int64, np.uint32, np.uint64, np.float32,
                                 np.float64)}
_COMPLEX_PARTS = {np.dtype(np.complex64): np.dtype(np.float32),
                  np.dtype(np.complex128): np.dtype(np.float64)}


def _scatter_run(eqn, launch):
    """``run(operand, indices, updates)``: a fresh copy of the operand, updated in place by
    ``launch(out, indices, updates)`` unless nothing can land (no updates, or an empty operand,
    where clamped starts would point outside it)."""
    (operand_aval, _, updates_aval), _ = _avals(eqn)
    lands = operand_aval.size > 0 and updates_aval.size > 0

    def run(operand, indices, updates):
        out = _fresh_copy(operand, operand.shape)
        if lands:
            launch(out, indices, updates)
        return out
    return run


def _lower_scatter_add(eqn):
    """scatter_add by atomic adds. Floating (and complex) sums are accumulated in whatever
    order the threads arrive, so results may differ between runs in the last bits; integer
    sums are exact."""
    dtype = eqn.outvars[0].aval.dtype
    part = _COMPLEX_PARTS.get(dtype, dtype)
    if part not in _ATOMIC:
        return None
    parts = 2 if dtype in _COMPLEX_PARTS else 1
    plan, _, drop = _scatter_plan(eqn)

    def launch(out, indices, updates):
        _launch(_scatter_add, updates.size, _flat(updates).view(part), _flat(indices),
                _flat(out).view(part), *plan, drop, parts)
    return _scatter_run(eqn, launch)


def _lower_scatter_extremum(is_max):
    def lower(eqn):
        if eqn.outvars[0].aval.dtype not in _ATOMIC:
            return None
        plan, _, drop = _scatter_plan(eqn)

        def launch(out, indices, updates):
            _launch(_scatter_max, updates.size, _flat(updates), _flat(indices), _flat(out),
                    *plan, drop, is_max)
        return _scatter_run(eqn, launch)
    return lower


def _lower_scatter_mul(eqn):
    dtype = eqn.outvars[0].aval.dtype
    if dtype not in _ATOMIC or dtype.kind == "f":
        return None  # no atomic floating product; the host runs it
    plan, _, drop = _scatter_plan(eqn)

    def launch(out, indices, updates):
        _launch(_scatter_mul, updates.size, _flat(updates), _flat(indices), _flat(out), *plan,
                drop)
    return _scatter_run(eqn, launch)


def _lower_scatter(eqn):
    """scatter (set), deterministic with duplicate indices: each update element first claims
    its target with an atomic max of its position in the impl's assignment order, then only
    the claimant (the last in that order) writes."""
    plan, key_strides, drop = _scatter_plan(eqn)
    shape, op_strides, idx_strides, vec_strides, vec_hi, nvec = plan

    def launch(out, indices, updates):
        winner = cuda_runtime.empty((out.size,), np.int64)
        _launch(_fill, out.size, winner, np.int64(-1))
        idx = _flat(indices)
        _launch(_scatter_claim, updates.size, idx, winner, shape, op_strides, idx_strides,
                key_strides, vec_strides, vec_hi, nvec, drop)
        _launch(_scatter_set, updates.size, _bits(updates), idx, _bits(out), winner, shape,
                op_strides, idx_strides, key_strides, vec_strides, vec_hi, nvec, drop)
    return _scatter_run(eqn, launch)


# ---------------------------------------------------------------- argmax / argmin


def _lower_arg(is_max):
    def lower(eqn):
        (x,), y = _avals(eqn)
        if x.dtype.kind not in "biuf" or x.dtype == np.float16:
            return None  # complex (lexicographic) and half precision run on the host
        (axis,) = eqn.params["axes"]
        n = x.shape[axis]
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
        rows = int(np.prod(y.shape, dtype=np.int64))
        row_threads = 32 if cuda_runtime.simulator() else _ROW_THREADS

        def run(x):
            out = cuda_runtime.empty(y.shape, y.dtype)
            if rows == 0:
                return out
            if inner == 1 and n >= row_threads:
                _arg_rows[rows, row_threads](_flat(x), _flat(out), n, is_max)
            else:
                _launch(_arg_lines, rows, _flat(x), _flat(out), n, inner, is_max)
            return out
        return run
    return lower


# ---------------------------------------------------------------- cumulative ops

_SCAN_LINES = 2048   # at least this many lines: one thread per line
_SCAN_CHUNK = 16     # shortest chunk, and lines this short are never chunked
_SCAN_THREADS = 16384


def _lower_cumulative(eqn):
    (x,), _ = _avals(eqn)
    if x.dtype == np.float16:
        return None
    kernels = _SCANS[eqn.prim.name]
    axis, reverse = eqn.params["axis"], eqn.params["reverse"]
    n = x.shape[axis]
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    lines = x.size // n if n else 0
    nchunks = 1
    if 0 < lines < _SCAN_LINES and n > _SCAN_CHUNK:
        nchunks = min(1024, n // _SCAN_CHUNK, -(-_SCAN_THREADS // lines))
    chunk = -(-n // nchunks)
    nchunks = -(-n // chunk) if n else 1

    def run(x):
        out = cuda_runtime.empty(x.shape, x.dtype)
        if out.size == 0:
            return out
        xf, of = _flat(x), _flat(out)
        if nchunks == 1:
            _launch(kernels.lines, lines, xf, of, n, inner, reverse)
            return out
        part = cuda_runtime.empty((lines * nchunks,), x.dtype)
        _launch(kernels.totals, part.size, xf, part, n, inner, chunk, reverse)
        _launch(kernels.carry, lines, part, nchunks)
        _launch(kernels.finish, part.size, xf, of, part, n, inner, chunk, reverse)
        return out
    return run


LOWERINGS = {
    "reshape": _lower_reshape,
    "squeeze": _lower_reshape,
    "copy": _lower_reshape,
    "transpose": _lower_transpose,
    "broadcast_in_dim": _lower_broadcast_in_dim,
    "slice": _lower_slice,
    "rev": _lower_rev,
    "pad": _lower_pad,
    "concatenate": _lower_concatenate,
    "dynamic_slice": _lower_dynamic_slice,
    "dynamic_update_slice": _lower_dynamic_update_slice,
    "iota": _lower_iota,
    "gather": _lower_gather,
    "scatter": _lower_scatter,
    "scatter_add": _lower_scatter_add,
    "scatter_mul": _lower_scatter_mul,
    "scatter_min": _lower_scatter_extremum(False),
    "scatter_max": _lower_scatter_extremum(True),
    "argmax": _lower_arg(True),
    "argmin": _lower_arg(False),
    **{name: _lower_cumulative for name in _SCANS},
}
