"""Element-wise passes fused around a matrix product, on 2-D row-major arrays (one thread:
memory-bound single passes, where a parallel launch cost more than it saved on 2 cores).

`bias_act`: ``y += b`` then, optionally, ``y = max(y, 0)``, in place on the product's output.
`relu_mask`: ``g * (y > 0)`` into `out` (relu's gradient from its output, no bool array).
`softmax_xent`: per-row stable ``log(sum(exp(z))) - z[label]`` and the softmax, one pass.
"""

from __future__ import annotations

import math

import numba


@numba.njit(fastmath=False, cache=True)
def bias_act(y, b, relu):  # pragma: no cover - compiled
    rows, cols = y.shape
    for r in range(rows):
        for k in range(cols):
            v = y[r, k] + b[k]
            if relu and not v > 0 and v == v:
                v = 0
            y[r, k] = v
    return y


@numba.njit(fastmath=False, cache=True)
def relu_mask(g, y, out):  # pragma: no cover - compiled
    rows, cols = g.shape
    for r in range(rows):
        for k in range(cols):
            out[r, k] = g[r, k] * (y[r, k] > 0)  # as the reference: NaN * 0 stays NaN
    return out


@numba.njit(fastmath=False, cache=True)
def softmax_xent(z, labels, probs, loss):  # pragma: no cover - compiled
    n, c = z.shape
    for r in range(n):
        m = z[r, 0]
        for k in range(1, c):
            if z[r, k] > m or z[r, k] != z[r, k]:
                m = z[r, k]
        s = 0.0
        for k in range(c):
            e = math.exp(z[r, k] - m)
            probs[r, k] = e
            s += e
        for k in range(c):
            probs[r, k] /= s
        loss[r] = math.log(s) - (z[r, labels[r]] - m)
    return loss
