"""The CuPy backend's nn family: network primitives: im2col and its adjoint col2im, sliding
windows, max pooling and its gradient route, bias + relu in place, the relu mask, softmax cross-
entropy. CuPy's own kernels where the Array-API fallbacks would be slow or differ from NumPy.
"""

from __future__ import annotations

from typing import Any

from cupy.lib.stride_tricks import as_strided

from ..array_api.nn import NN


class CupyNN(NN):
    def windows(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        n, h, w, c = x.shape
        kh, kw = size
        sh, sw = strides
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        s = x.strides
        return as_strided(x, (n, oh, ow, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))
