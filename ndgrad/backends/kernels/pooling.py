"""Max pooling's gradient route on channels-last images, one pass each, channels innermost.

`arg` (N, OH, OW, C), int8 or int32, holds for every window the tap (``p * KW + q``) that
holds its maximum (found by the backend's `max_pool_arg`). `route_scatter` adds g at those
positions of a zeroed (N, H, W, C); `route_gather` (its adjoint) reads them.
"""

from __future__ import annotations

import numba


@numba.njit(parallel=True, fastmath=False, cache=True)
def route_scatter(g, arg, kw, sh, sw, out):  # pragma: no cover - compiled
    n, oh, ow, c = g.shape
    for b in numba.prange(n):  # a thread owns whole images: no two add into one pixel
        out[b] = 0
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    t = arg[b, i, j, ch]
                    p = t // kw
                    out[b, i * sh + p, j * sw + t - p * kw, ch] += g[b, i, j, ch]
    return out


@numba.njit(fastmath=False, cache=True)
def route_gather(x, arg, kw, sh, sw, out):  # pragma: no cover - compiled
    n, oh, ow, c = out.shape
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    t = arg[b, i, j, ch]
                    p = t // kw
                    out[b, i, j, ch] = x[b, i * sh + p, j * sw + t - p * kw, ch]
    return out
