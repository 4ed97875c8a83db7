"""The CuPy backend's nn family: network primitives: im2col and its adjoint col2im, sliding
windows, max pooling and its gradient route, bias + relu in place, the relu mask, softmax cross-
entropy. CuPy's own kernels where the Array-API fallbacks would be slow or differ from NumPy:
strided windows, and one launch each (`kernels.py`) for col2im, the winning tap of each
pooling window and the gradient route, in float32 and float64 (other dtypes: the fallbacks).
"""

from __future__ import annotations

from typing import Any

import cupy
from cupy.lib.stride_tricks import as_strided

from ..array_api.nn import NN
from . import kernels

_FLOATS = (cupy.dtype(cupy.float32), cupy.dtype(cupy.float64))


def _geometry(shape: tuple, size: tuple, strides: tuple, out_hw: tuple) -> tuple:
    """The kernels' geometry arguments: h, w, c, kh, kw, sh, sw, oh, ow."""
    return (shape[1], shape[2], shape[3], *size, *strides, *out_hw)


class CupyNN(NN):
    def windows(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        n, h, w, c = x.shape
        kh, kw = size
        sh, sw = strides
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        s = x.strides
        return as_strided(x, (n, oh, ow, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))

    def col2im(
        self, cols: Any, shape: tuple[int, ...], size: tuple[int, int], strides: tuple[int, int]
    ) -> Any:
        if cols.dtype not in _FLOATS:
            return super().col2im(cols, shape, size, strides)
        (kh, kw), (sh, sw) = size, strides
        out_hw = ((shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1)
        with self.activate():
            out = cupy.empty(shape, dtype=cols.dtype)
            cols = cupy.ascontiguousarray(cols)
            kernels.col2im()(cols, *_geometry(shape, size, strides, out_hw), out)
        return out

    def max_pool_arg(self, x: Any, y: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        if x.dtype not in _FLOATS:
            return super().max_pool_arg(x, y, size, strides)
        dtype = cupy.int8 if size[0] * size[1] <= 127 else cupy.int32
        with self.activate():
            arg = cupy.empty(y.shape, dtype=dtype)
            x = cupy.ascontiguousarray(x)
            kernels.max_pool_arg()(y, x, *_geometry(x.shape, size, strides, y.shape[1:3]), arg)
        return arg

    def route_scatter(
        self, g: Any, arg: Any, size: tuple[int, int], strides: tuple[int, int], shape: tuple
    ) -> Any:
        if g.dtype not in _FLOATS:
            return super().route_scatter(g, arg, size, strides, shape)
        with self.activate():
            out = cupy.empty(shape, dtype=g.dtype)
            g, arg = cupy.ascontiguousarray(g), cupy.ascontiguousarray(arg)
            geometry = _geometry(shape, size, strides, g.shape[1:3])
            kernels.route_scatter()(g, arg, *geometry, out)
        return out

    def route_gather(
        self, x: Any, arg: Any, size: tuple[int, int], strides: tuple[int, int]
    ) -> Any:
        if x.dtype not in _FLOATS:
            return super().route_gather(x, arg, size, strides)
        with self.activate():
            out = cupy.empty(arg.shape, dtype=x.dtype)
            x = cupy.ascontiguousarray(x)
            kernels.route_gather()(arg, x, *_geometry(x.shape, size, strides, arg.shape[1:3]), out)
        return out
