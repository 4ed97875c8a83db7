"""col2im on channels-last images in one parallel pass (im2col stays NumPy's strided copy,
which measured as fast as a compiled loop).

`col2im`: rows (N*OH*OW, KH*KW*C), the row of output pixel (i, j) holding the window whose
corner is (i*SH, j*SW) tap by tap, added back into (N, H, W, C). Each thread owns whole
images, so no two threads add into the same pixel.
"""

from __future__ import annotations

import numba


@numba.njit(parallel=True, fastmath=False, cache=True)
def col2im(cols, kh, kw, sh, sw, oh, ow, out):  # pragma: no cover - compiled
    c = out.shape[3]
    for b in numba.prange(out.shape[0]):
        out[b] = 0
        for i in range(oh):
            for j in range(ow):
                row = (b * oh + i) * ow + j
                for p in range(kh):
                    for q in range(kw):
                        base = (p * kw + q) * c
                        for ch in range(c):
                            out[b, i * sh + p, j * sw + q, ch] += cols[row, base + ch]
    return out
