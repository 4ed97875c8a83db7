"""Max pooling on channels-last images: loops tap by tap, channels innermost, so every inner
loop is a branch-free (vectorised) pass over contiguous channels.

`arg` (N, OH, OW, C), int8 or int32, holds for every window the tap (``p * KW + q``) that
holds its maximum y, the first in row-major order (as PyTorch; 0 where y is NaN).
`max_pool` computes y and `arg` in one pass over x (the forward); `max_pool_arg` finds `arg`
from x and a given y. `route_scatter` adds g at those positions of a zeroed (N, H, W, C);
`route_gather` (its adjoint) reads them. Threads own whole images, so no two add into the
same pixel.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, fastmath=False, cache=True)
def max_pool(x, kh, kw, sh, sw, out, arg):  # pragma: no cover - compiled
    n, oh, ow, c = out.shape
    for b in numba.prange(n):
        hit = np.empty(c, np.float32)  # the winning tap as a float: the selects vectorise
        for i in range(oh):
            for j in range(ow):
                top = out[b, i, j]
                first = x[b, i * sh, j * sw]
                for ch in range(c):
                    top[ch] = first[ch]
                    hit[ch] = 0
                for t in range(1, kh * kw):  # a later tap wins only if strictly larger
                    p = t // kw
                    src = x[b, i * sh + p, j * sw + t - p * kw]
                    ft = np.float32(t)
                    for ch in range(c):
                        v, m = src[ch], top[ch]
                        take = (v > m) | (v != v)  # NaN wins, and stays (nothing is > NaN)
                        top[ch] = v if take else m
                        hit[ch] = ft if take else hit[ch]
                a = arg[b, i, j]
                for ch in range(c):
                    a[ch] = hit[ch] if top[ch] == top[ch] else 0  # NaN: tap 0, as max_pool_arg
    return out


@numba.njit(parallel=True, fastmath=False, cache=True)
def max_pool_arg(x, y, kh, kw, sh, sw, arg):  # pragma: no cover - compiled
    n, oh, ow, c = y.shape
    for b in numba.prange(n):
        hit = np.empty(c, np.float32)  # the tap as a float: the selects below vectorise
        for i in range(oh):
            for j in range(ow):
                top = y[b, i, j]
                hit[:] = 0
                for t in range(kh * kw - 1, -1, -1):  # backwards: the first tap that hits wins
                    p = t // kw
                    src = x[b, i * sh + p, j * sw + t - p * kw]
                    ft = np.float32(t)
                    for ch in range(c):
                        hit[ch] = ft if src[ch] == top[ch] else hit[ch]
                a = arg[b, i, j]
                for ch in range(c):
                    a[ch] = hit[ch]
    return arg


@numba.njit(parallel=True, fastmath=False, cache=True)
def route_scatter(g, arg, kh, kw, sh, sw, out):  # pragma: no cover - compiled
    n, oh, ow, c = g.shape
    for b in numba.prange(n):
        out[b] = 0
        for t in range(kh * kw):
            p = t // kw
            q = t - p * kw
            for i in range(oh):
                for j in range(ow):
                    o, gg, a = out[b, i * sh + p, j * sw + q], g[b, i, j], arg[b, i, j]
                    for ch in range(c):
                        o[ch] += gg[ch] * (a[ch] == t)  # as the reference: NaN * 0 is NaN
    return out


@numba.njit(parallel=True, fastmath=False, cache=True)
def route_gather(x, arg, kh, kw, sh, sw, out):  # pragma: no cover - compiled
    n, oh, ow, c = out.shape
    for b in numba.prange(n):
        out[b] = 0
        for t in range(kh * kw):
            p = t // kw
            q = t - p * kw
            for i in range(oh):
                for j in range(ow):
                    o, src, a = out[b, i, j], x[b, i * sh + p, j * sw + q], arg[b, i, j]
                    for ch in range(c):
                        o[ch] += src[ch] * (a[ch] == t)
    return out
