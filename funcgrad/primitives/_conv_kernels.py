"""Numba kernels for the common 2-D convolution: no groups, no lhs dilation, window stride 1.

Both kernels copy one example at a time into a zero-padded buffer and index it flattened, so
every kernel tap is a constant offset and every inner loop runs over one long contiguous
stretch of a flattened (padded row x width) plane. Outputs past the end of a row are computed
and dropped (direct) or multiplied by zeros (kernel gradient), which costs a few percent and
buys loops that LLVM vectorises. Examples run in parallel (``prange``); each writes only its
own slice, so results do not depend on the thread count.

``njit`` is applied lazily by ``kernels()``: importing funcgrad must not import numba.
"""
from __future__ import annotations

import numpy as np

_compiled = None


def _direct(x, w, out, lo_h, lo_w, dil_h, dil_w):
    """``out[n, o, y, x] = sum_{c, kh, kw} xpad[n, c, y + kh*dil_h, x + kw*dil_w] *
    w[o, c, kh, kw]``, with ``xpad`` = ``x`` padded by ``lo_h``/``lo_w`` at the start and
    as needed at the end (the high padding is implied by ``out``'s shape)."""
    n_batch, n_in, height, width = x.shape
    n_out, _, k_h, k_w = w.shape
    out_h, out_w = out.shape[2], out.shape[3]
    pad_h = out_h + (k_h - 1) * dil_h
    pad_w = out_w + (k_w - 1) * dil_w
    plane = pad_h * pad_w
    span = (out_h - 1) * pad_w + out_w   # flattened extent of the output positions
    n_taps = n_in * k_h * k_w
    offsets = np.empty(n_taps, np.int64)
    t = 0
    for c in range(n_in):
        for kh in range(k_h):
            for kw in range(k_w):
                offsets[t] = c * plane + kh * dil_h * pad_w + kw * dil_w
                t += 1
    # Rows of x that land inside the padded plane (negative padding was cropped by the caller).
    rows = min(height, pad_h - lo_h)
    cols = min(width, pad_w - lo_w)
    for n in prange(n_batch):
        xp = np.zeros(n_in * plane, x.dtype)
        for c in range(n_in):
            for r in range(rows):
                base = c * plane + (r + lo_h) * pad_w + lo_w
                for q in range(cols):
                    xp[base + q] = x[n, c, r, q]
        acc0 = np.empty(span, x.dtype)
        acc1 = np.empty(span, x.dtype)
        # Two output features per pass share each load of x (an odd last one pairs with itself).
        for o_pair in range((n_out + 1) // 2):
            o0 = 2 * o_pair
            o1 = min(o0 + 1, n_out - 1)
            u, v = w[o0].ravel(), w[o1].ravel()
            acc0[:] = 0
            acc1[:] = 0
            t = 0
            # Four taps per pass: six loads and two stores per eight multiply-adds.
            while t + 4 <= n_taps:
                # Slices, not xp[b + p]: an index LLVM cannot prove non-negative gets Numba's
                # wraparound select, which stops vectorisation.
                x0 = xp[offsets[t]:offsets[t] + span]
                x1 = xp[offsets[t + 1]:offsets[t + 1] + span]
                x2 = xp[offsets[t + 2]:offsets[t + 2] + span]
                x3 = xp[offsets[t + 3]:offsets[t + 3] + span]
                u0, u1, u2, u3 = u[t], u[t + 1], u[t + 2], u[t + 3]
                v0, v1, v2, v3 = v[t], v[t + 1], v[t + 2], v[t + 3]
                for p in range(span):
                    e0, e1, e2, e3 = x0[p], x1[p], x2[p], x3[p]
                    acc0[p] += (u0 * e0 + u1 * e1) + (u2 * e2 + u3 * e3)
                    acc1[p] += (v0 * e0 + v1 * e1) + (v2 * e2 + v3 * e3)
                t += 4
            while t < n_taps:
                x0 = xp[offsets[t]:offsets[t] + span]
                u0, v0 = u[t], v[t]
                for p in range(span):
                    acc0[p] += u0 * x0[p]
                    acc1[p] += v0 * x0[p]
                t += 1
            for y in range(out_h):
                for q in range(out_w):
                    out[n, o0, y, q] = acc0[y * pad_w + q]
                    out[n, o1, y, q] = acc1[y * pad_w + q]


def _kernel_grad(x, g, partial, lo_h, lo_w):
    """The kernel gradient in the layout of its operands: ``x`` (batch, in, H, W) and ``g``
    (batch, out, GH, GW), ``partial[n, c, o, ky, kx] = sum_{h, w} xpad[n, c, ky + h, kx + w] *
    g[n, o, h, w]`` (one example per entry; the caller sums over ``n``)."""
    n_batch, n_in, height, width = x.shape
    n_out, g_h, g_w = g.shape[1], g.shape[2], g.shape[3]
    k_h, k_w = partial.shape[3], partial.shape[4]
    pad_h = g_h + k_h - 1
    pad_w = g_w + k_w - 1
    plane = pad_h * pad_w
    span = (g_h - 1) * pad_w + g_w
    rows = min(height, pad_h - lo_h)
    cols = min(width, pad_w - lo_w)
    zero = np.zeros(1, x.dtype)[0]
    for n in prange(n_batch):
        xp = np.zeros(n_in * plane, x.dtype)
        for c in range(n_in):
            for r in range(rows):
                base = c * plane + (r + lo_h) * pad_w + lo_w
                for q in range(cols):
                    xp[base + q] = x[n, c, r, q]
        g_size = g_h * pad_w
        gp = np.zeros(n_out * g_size, x.dtype)   # g's rows, each padded to pad_w
        for o in range(n_out):
            for h in range(g_h):
                base = (o * g_h + h) * pad_w
                for q in range(g_w):
                    gp[base + q] = g[n, o, h, q]
        # Blocks of four output features by three taps: seven loads per twelve multiply-adds.
        # Blocks are clamped to end at the last feature / tap, so with more than four / three
        # the last block overlaps the one before it (recomputing equal values) and with fewer
        # it repeats its last index.
        n_tb = (k_h * k_w + 2) // 3
        for c in range(n_in):
            for tb in range(n_tb):
                t0 = max(min(3 * tb, k_h * k_w - 3), 0)
                t1, t2 = min(t0 + 1, k_h * k_w - 1), min(t0 + 2, k_h * k_w - 1)
                y0, y1, y2 = t0 // k_w, t1 // k_w, t2 // k_w
                x0, x1, x2 = t0 % k_w, t1 % k_w, t2 % k_w
                b0 = c * plane + y0 * pad_w + x0
                b1 = c * plane + y1 * pad_w + x1
                b2 = c * plane + y2 * pad_w + x2
                xs0, xs1, xs2 = xp[b0:b0 + span], xp[b1:b1 + span], xp[b2:b2 + span]
                for ob in range((n_out + 3) // 4):
                    o0 = max(min(4 * ob, n_out - 4), 0)
                    o1, o2, o3 = min(o0 + 1, n_out - 1), min(o0 + 2, n_out - 1), \
                        min(o0 + 3, n_out - 1)
                    q0 = gp[o0 * g_size:o0 * g_size + span]
                    q1 = gp[o1 * g_size:o1 * g_size + span]
                    q2 = gp[o2 * g_size:o2 * g_size + span]
                    q3 = gp[o3 * g_size:o3 * g_size + span]
                    s00 = s01 = s02 = s10 = s11 = s12 = zero
                    s20 = s21 = s22 = s30 = s31 = s32 = zero
                    for p in range(span):
                        e0, e1, e2 = xs0[p], xs1[p], xs2[p]
                        f0, f1, f2, f3 = q0[p], q1[p], q2[p], q3[p]
                        s00 += e0 * f0
                        s01 += e1 * f0
                        s02 += e2 * f0
                        s10 += e0 * f1
                        s11 += e1 * f1
                        s12 += e2 * f1
                        s20 += e0 * f2
                        s21 += e1 * f2
                        s22 += e2 * f2
                        s30 += e0 * f3
                        s31 += e1 * f3
                        s32 += e2 * f3
                    partial[n, c, o0, y0, x0] = s00
                    partial[n, c, o0, y1, x1] = s01
                    partial[n, c, o0, y2, x2] = s02
                    partial[n, c, o1, y0, x0] = s10
                    partial[n, c, o1, y1, x1] = s11
                    partial[n, c, o1, y2, x2] = s12
                    partial[n, c, o2, y0, x0] = s20
                    partial[n, c, o2, y1, x1] = s21
                    partial[n, c, o2, y2, x2] = s22
                    partial[n, c, o3, y0, x0] = s30
                    partial[n, c, o3, y1, x1] = s31
                    partial[n, c, o3, y2, x2] = s32


prange = range  # numba.prange once kernels() compiles


def kernels():
    """The compiled (direct, kernel_grad) pair; compiles or loads from Numba's disk cache."""
    global _compiled
    if _compiled is None:
        import numba
        globals()["prange"] = numba.prange
        # contract: fused multiply-adds; reassoc: lets LLVM vectorise the kernel gradient's
        # dot products (a fixed summation order per compiled kernel, so still deterministic).
        opts = dict(parallel=True, cache=True, nogil=True, error_model="numpy")
        _compiled = (numba.njit(fastmath={"contract"}, **opts)(_direct),
                     numba.njit(fastmath={"contract", "reassoc"}, **opts)(_kernel_grad))
    return _compiled
