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
