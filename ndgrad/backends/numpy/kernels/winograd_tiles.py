"""Winograd's tile transforms in one compiled pass each (numba), for `kernels/winograd.py`.

`tile_transform`: cut images (N, H, W, C) into k x k tiles starting every `m` pixels (zeros
past the image's edge) and transform each, ``T d T^T`` with T (a, k), into rows of
(a*a, N*TH*TW, C): the input transform (T = B^T, k = a) and the output gradient's (T = A,
k = m). `untile_transform`: the way back, ``T M T^T`` with T (k, a) for each tile of
(a*a, N*TH*TW, F), written into images (N, OH, OW, F) cropped at the edge: the output
transform (T = A^T, k = m, each pixel written once, then bias and relu) and the input
gradient's (T = B, k = a, overlapping tiles added). Each thread owns whole images; the
transform matrices' zero entries are skipped.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, fastmath=False, cache=True)
def tile_transform(x, t, m, th, tw, out):  # pragma: no cover - compiled
    n, h, w, c = x.shape
    a, k = t.shape
    for b in numba.prange(n):
        d = np.empty((k, k, c), dtype=x.dtype)
        t1 = np.empty((a, k, c), dtype=x.dtype)
        for ti in range(th):
            for tj in range(tw):
                p = (b * th + ti) * tw + tj
                for i in range(k):
                    r = ti * m + i
                    for j in range(k):
                        q = tj * m + j
                        if r < h and q < w:
                            for ch in range(c):
                                d[i, j, ch] = x[b, r, q, ch]
                        else:
                            for ch in range(c):
                                d[i, j, ch] = 0
                for u in range(a):  # t1 = T d, over the tile's rows
                    for j in range(k):
                        for ch in range(c):
                            t1[u, j, ch] = 0
                        for i in range(k):
                            coef = t[u, i]
                            if coef != 0:
                                for ch in range(c):
                                    t1[u, j, ch] += coef * d[i, j, ch]
                for u in range(a):  # out = t1 T^T, over the tile's columns
                    for v in range(a):
                        row = out[u * a + v, p]
                        for ch in range(c):
                            row[ch] = 0
                        for j in range(k):
                            coef = t[v, j]
                            if coef != 0:
                                for ch in range(c):
                                    row[ch] += coef * t1[u, j, ch]
    return out


@numba.njit(parallel=True, fastmath=False, cache=True)
def untile_transform(mm, t, m, th, tw, bias, relu, add, out):  # pragma: no cover - compiled
    n, oh, ow, f = out.shape
    k, a = t.shape
    has_bias = bias.shape[0] > 0
    for b in numba.prange(n):
        if add:
            out[b] = 0
        t1 = np.empty((k, a, f), dtype=mm.dtype)
        y = np.empty(f, dtype=mm.dtype)
        for ti in range(th):
            for tj in range(tw):
                p = (b * th + ti) * tw + tj
                for i in range(k):  # t1 = T M, over the tile's rows
                    for v in range(a):
                        for ch in range(f):
                            t1[i, v, ch] = 0
                        for u in range(a):
                            coef = t[i, u]
                            if coef != 0:
                                src = mm[u * a + v, p]
                                for ch in range(f):
                                    t1[i, v, ch] += coef * src[ch]
                for i in range(k):  # y = t1 T^T, over the tile's columns
                    r = ti * m + i
                    if r >= oh:
                        break
                    for j in range(k):
                        q = tj * m + j
                        if q >= ow:
                            break
                        for ch in range(f):
                            y[ch] = 0
                        for v in range(a):
                            coef = t[j, v]
                            if coef != 0:
                                for ch in range(f):
                                    y[ch] += coef * t1[i, v, ch]
                        dst = out[b, r, q]
                        if add:
                            for ch in range(f):
                                dst[ch] += y[ch]
                        else:
                            for ch in range(f):
                                v2 = y[ch] + bias[ch] if has_bias else y[ch]
                                if relu and not v2 > 0 and v2 == v2:
                                    v2 = 0
                                dst[ch] = v2
    return out


# -- F(4x4, 3x3) -----------------------------------------------------------------------------
# The same four transforms for m = 4 (the backend's tile), written out: each 1-D transform is a
# few adds of six (or four) values held in registers, and every loop over channels is one
# straight body that the compiler vectorises (the generic kernels above read their
# coefficients from the matrix and run scalar). Factoring a sum by 2, 4 or 8 (powers of two)
# rounds exactly like the generic sums, so the error bound of kernels/winograd.py holds.
_2, _4, _5, _8 = np.float32(2), np.float32(4), np.float32(5), np.float32(8)


@numba.njit(inline="always")
def _bt(d0, d1, d2, d3, d4, d5):  # pragma: no cover - compiled
    """B^T d: the input transform's rows."""
    return (
        _4 * d0 - _5 * d2 + d4,
        d3 + d4 - _4 * (d1 + d2),
        d4 - d3 + _4 * (d1 - d2),
        d4 - d2 + _2 * (d3 - d1),
        d4 - d2 - _2 * (d3 - d1),
        _4 * d1 - _5 * d3 + d5,
    )


@numba.njit(inline="always")
def _b(w0, w1, w2, w3, w4, w5):  # pragma: no cover - compiled
    """B w: the input gradient's (the adjoint of `_bt`)."""
    return (
        _4 * w0,
        _4 * (w2 - w1 + w5) + _2 * (w4 - w3),
        -_5 * w0 - _4 * (w1 + w2) - w3 - w4,
        w1 - w2 + _2 * (w3 - w4) - _5 * w5,
        w0 + w1 + w2 + w3 + w4,
        w5,
    )


@numba.njit(inline="always")
def _a(y0, y1, y2, y3):  # pragma: no cover - compiled
    """A y: the output gradient's transform (4 values to 6)."""
    return (
        y0,
        y0 + y1 + y2 + y3,
        y0 - y1 + y2 - y3,
        y0 + _2 * y1 + _4 * y2 + _8 * y3,
        y0 - _2 * y1 + _4 * y2 - _8 * y3,
        y3,
    )


@numba.njit(inline="always")
def _at(m0, m1, m2, m3, m4, m5):  # pragma: no cover - compiled
    """A^T m: the output transform (6 values to 4)."""
    return (
        m0 + m1 + m2 + m3 + m4,
        m1 - m2 + _2 * (m3 - m4),
        m1 + m2 + _4 * (m3 + m4),
        m1 - m2 + _8 * (m3 - m4) + m5,
    )


@numba.njit(parallel=True, fastmath=False, cache=True)
def input_tiles4(x, th, tw, out):  # pragma: no cover - compiled
    """`tile_transform(x, B^T, 4, th, tw, out)`: V = B^T d B of every 6 x 6 tile."""
    n, h, w, c = x.shape
    zero = np.float32(0)
    for b in numba.prange(n):
        t1 = np.empty((6, 6, c), dtype=x.dtype)  # B^T d, column by column
        rows = np.empty(6, dtype=np.int64)
        for ti in range(th):
            for i in range(6):
                rows[i] = min(ti * 4 + i, h - 1)  # past the edge: read, then replaced by 0
            k1, k2, k3 = ti * 4 + 1 < h, ti * 4 + 2 < h, ti * 4 + 3 < h
            k4, k5 = ti * 4 + 4 < h, ti * 4 + 5 < h
            full = k5
            for tj in range(tw):
                p = (b * th + ti) * tw + tj
                for j in range(6):
                    q = tj * 4 + j
                    if q >= w:
                        t1[:, j, :] = 0
                        continue
                    s0, s1, s2 = x[b, rows[0], q], x[b, rows[1], q], x[b, rows[2], q]
                    s3, s4, s5 = x[b, rows[3], q], x[b, rows[4], q], x[b, rows[5], q]
                    if full:
                        for ch in range(c):
                            v = _bt(s0[ch], s1[ch], s2[ch], s3[ch], s4[ch], s5[ch])
                            t1[0, j, ch], t1[1, j, ch], t1[2, j, ch] = v[0], v[1], v[2]
                            t1[3, j, ch], t1[4, j, ch], t1[5, j, ch] = v[3], v[4], v[5]
                    else:
                        for ch in range(c):
                            v = _bt(
                                s0[ch],
                                s1[ch] if k1 else zero,
                                s2[ch] if k2 else zero,
                                s3[ch] if k3 else zero,
                                s4[ch] if k4 else zero,
                                s5[ch] if k5 else zero,
                            )
                            t1[0, j, ch], t1[1, j, ch], t1[2, j, ch] = v[0], v[1], v[2]
                            t1[3, j, ch], t1[4, j, ch], t1[5, j, ch] = v[3], v[4], v[5]
                for u in range(6):
                    s = t1[u]
                    o0, o1, o2 = out[u * 6, p], out[u * 6 + 1, p], out[u * 6 + 2, p]
                    o3, o4, o5 = out[u * 6 + 3, p], out[u * 6 + 4, p], out[u * 6 + 5, p]
                    for ch in range(c):
                        v = _bt(s[0, ch], s[1, ch], s[2, ch], s[3, ch], s[4, ch], s[5, ch])
                        o0[ch], o1[ch], o2[ch] = v[0], v[1], v[2]
                        o3[ch], o4[ch], o5[ch] = v[3], v[4], v[5]
    return out


@numba.njit(parallel=True, fastmath=False, cache=True)
def grad_tiles4(gy, th, tw, out):  # pragma: no cover - compiled
    """`tile_transform(gy, A, 4, th, tw, out)`: dM = A dY A^T of every 4 x 4 tile."""
    n, oh, ow, f = gy.shape
    zero = np.float32(0)
    for b in numba.prange(n):
        t1 = np.empty((6, 4, f), dtype=gy.dtype)  # A dY, column by column
        rows = np.empty(4, dtype=np.int64)
        for ti in range(th):
            for i in range(4):
                rows[i] = min(ti * 4 + i, oh - 1)
            k1, k2, k3 = ti * 4 + 1 < oh, ti * 4 + 2 < oh, ti * 4 + 3 < oh
            for tj in range(tw):
                p = (b * th + ti) * tw + tj
                for j in range(4):
                    q = tj * 4 + j
                    if q >= ow:
                        t1[:, j, :] = 0
                        continue
                    s0, s1 = gy[b, rows[0], q], gy[b, rows[1], q]
                    s2, s3 = gy[b, rows[2], q], gy[b, rows[3], q]
                    if k3:
                        for ch in range(f):
                            v = _a(s0[ch], s1[ch], s2[ch], s3[ch])
                            t1[0, j, ch], t1[1, j, ch], t1[2, j, ch] = v[0], v[1], v[2]
                            t1[3, j, ch], t1[4, j, ch], t1[5, j, ch] = v[3], v[4], v[5]
                    else:
                        for ch in range(f):
                            v = _a(
                                s0[ch],
                                s1[ch] if k1 else zero,
                                s2[ch] if k2 else zero,
                                s3[ch] if k3 else zero,
                            )
                            t1[0, j, ch], t1[1, j, ch], t1[2, j, ch] = v[0], v[1], v[2]
                            t1[3, j, ch], t1[4, j, ch], t1[5, j, ch] = v[3], v[4], v[5]
                for u in range(6):
                    s = t1[u]
                    o0, o1, o2 = out[u * 6, p], out[u * 6 + 1, p], out[u * 6 + 2, p]
                    o3, o4, o5 = out[u * 6 + 3, p], out[u * 6 + 4, p], out[u * 6 + 5, p]
                    for ch in range(f):
                        v = _a(s[0, ch], s[1, ch], s[2, ch], s[3, ch])
                        o0[ch], o1[ch], o2[ch] = v[0], v[1], v[2]
                        o3[ch], o4[ch], o5[ch] = v[3], v[4], v[5]
    return out


@numba.njit(parallel=True, fastmath=False, cache=True)
def output_tiles4(mm, th, tw, bias, relu, out):  # pragma: no cover - compiled
    """`untile_transform(mm, A^T, 4, th, tw, bias, relu, False, out)`: Y = A^T M A of every
    tile, cropped at the edge, then + bias and relu."""
    n, oh, ow, f = out.shape
    has_bias = bias.shape[0] > 0
    for b in numba.prange(n):
        t1 = np.empty((4, 6, f), dtype=mm.dtype)  # A^T M, column by column
        y = np.empty((4, f), dtype=mm.dtype)
        for ti in range(th):
            for tj in range(tw):
                p = (b * th + ti) * tw + tj
                for v in range(6):
                    s0, s1, s2 = mm[v, p], mm[6 + v, p], mm[12 + v, p]
                    s3, s4, s5 = mm[18 + v, p], mm[24 + v, p], mm[30 + v, p]
                    for ch in range(f):
                        r = _at(s0[ch], s1[ch], s2[ch], s3[ch], s4[ch], s5[ch])
                        t1[0, v, ch], t1[1, v, ch], t1[2, v, ch], t1[3, v, ch] = r
                for i in range(4):
                    row = ti * 4 + i
                    if row >= oh:
                        break
                    s = t1[i]
                    for ch in range(f):
                        r = _at(s[0, ch], s[1, ch], s[2, ch], s[3, ch], s[4, ch], s[5, ch])
                        y[0, ch], y[1, ch], y[2, ch], y[3, ch] = r
                    for j in range(4):
                        q = tj * 4 + j
                        if q >= ow:
                            break
                        dst, src = out[b, row, q], y[j]
                        if has_bias or relu:
                            for ch in range(f):
                                v2 = src[ch] + bias[ch] if has_bias else src[ch]
                                if relu and not v2 > 0 and v2 == v2:
                                    v2 = 0
                                dst[ch] = v2
                        else:
                            dst[:] = src
    return out


@numba.njit(parallel=True, fastmath=False, cache=True)
def input_grad_tiles4(dv, th, tw, out):  # pragma: no cover - compiled
    """`untile_transform(dv, B, 4, th, tw, none, False, True, out)`: B dV B^T of every tile,
    added into the (overlapping) input positions of a zeroed `out`."""
    n, h, w, c = out.shape
    for b in numba.prange(n):
        out[b] = 0
        t1 = np.empty((6, 6, c), dtype=dv.dtype)  # B dV, column by column
        y = np.empty((6, c), dtype=dv.dtype)
        for ti in range(th):
            for tj in range(tw):
                p = (b * th + ti) * tw + tj
                for v in range(6):
                    s0, s1, s2 = dv[v, p], dv[6 + v, p], dv[12 + v, p]
                    s3, s4, s5 = dv[18 + v, p], dv[24 + v, p], dv[30 + v, p]
                    for ch in range(c):
                        r = _b(s0[ch], s1[ch], s2[ch], s3[ch], s4[ch], s5[ch])
                        t1[0, v, ch], t1[1, v, ch], t1[2, v, ch] = r[0], r[1], r[2]
                        t1[3, v, ch], t1[4, v, ch], t1[5, v, ch] = r[3], r[4], r[5]
                for i in range(6):
                    row = ti * 4 + i
                    if row >= h:
                        break
                    s = t1[i]
                    for ch in range(c):
                        r = _b(s[0, ch], s[1, ch], s[2, ch], s[3, ch], s[4, ch], s[5, ch])
                        y[0, ch], y[1, ch], y[2, ch] = r[0], r[1], r[2]
                        y[3, ch], y[4, ch], y[5, ch] = r[3], r[4], r[5]
                    for j in range(6):
                        q = tj * 4 + j
                        if q >= w:
                            break
                        dst, src = out[b, row, q], y[j]
                        for ch in range(c):
                            dst[ch] += src[ch]
    return out
