"""The NumPy backend's nn family: network primitives: im2col and its adjoint col2im, sliding
windows, max pooling (the maximum and its winning tap in one pass) and its gradient route,
bias + relu in place, the relu mask, softmax cross-entropy. Fast paths over the Array-API
fallbacks (`super()`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..array_api.nn import NN
from . import _FLOAT32, _LOCK, _big, _fast, _int8, kernels
from .kernels import winograd as wino

#: Winograd's output tile: F(4x4, 3x3) (4x fewer multiplies than im2col; its float32 error
#: bound is in kernels/winograd.py).
WINOGRAD_M = 4


class NumpyNN(NN):
    def im2col(self, x: np.ndarray, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        if x.shape[3] >= 8:
            return super().im2col(x, size, strides)
        # Few channels (a first layer): copying tap by tap beats one copy of a window view,
        # whose innermost run is only C elements long.
        (kh, kw), (sh, sw) = size, strides
        n, h, w, c = x.shape
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        out = np.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                out[:, :, :, i, j, :] = x[
                    :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :
                ]
        return out.reshape(n * oh * ow, kh * kw * c)

    def col2im(
        self, cols: np.ndarray, shape: tuple[int, ...], size: tuple, strides: tuple
    ) -> np.ndarray:
        if not _fast(cols):
            return super().col2im(cols, shape, size, strides)
        (kh, kw), (sh, sw) = size, strides
        oh, ow = (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1
        out = np.empty(shape, dtype=cols.dtype)
        with _LOCK:
            return kernels.conv.col2im(cols, kh, kw, sh, sw, oh, ow, out)

    def max_pool(self, x: np.ndarray, size: tuple, strides: tuple) -> tuple:
        """The maximum of each window and its winning tap (int8), in one compiled pass."""
        (kh, kw), (sh, sw) = size, strides
        if kh * kw > 127 or not _fast(x):
            return super().max_pool(x, size, strides)
        n, h, w, c = x.shape
        shape = (n, (h - kh) // sh + 1, (w - kw) // sw + 1, c)
        out, arg = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int8)
        with _LOCK:
            kernels.pooling.max_pool(x, kh, kw, sh, sw, out, arg)
        return out, arg

    def max_pool_arg(self, x: np.ndarray, y: np.ndarray, size: tuple, strides: tuple) -> Any:
        (kh, kw), (sh, sw) = size, strides
        if kh * kw > 127 or not _fast(x, y):
            return super().max_pool_arg(x, y, size, strides)
        arg = np.empty(y.shape, dtype=np.int8)
        with _LOCK:
            return kernels.pooling.max_pool_arg(x, y, kh, kw, sh, sw, arg)

    def route_scatter(
        self, g: np.ndarray, arg: np.ndarray, size: tuple, strides: tuple, shape: tuple
    ) -> np.ndarray:
        if not (_int8(arg) and _fast(g)):
            return super().route_scatter(g, arg, size, strides, shape)
        out = np.empty(shape, dtype=g.dtype)
        (kh, kw), (sh, sw) = size, strides
        with _LOCK:
            return kernels.pooling.route_scatter(g, arg, kh, kw, sh, sw, out)

    def route_gather(self, x: np.ndarray, arg: np.ndarray, size: tuple, strides: tuple) -> Any:
        if not (_int8(arg) and _fast(x)):
            return super().route_gather(x, arg, size, strides)
        out = np.empty(arg.shape, dtype=x.dtype)
        (kh, kw), (sh, sw) = size, strides
        with _LOCK:
            return kernels.pooling.route_gather(x, arg, kh, kw, sh, sw, out)

    def bias_act_(self, y: np.ndarray, b: np.ndarray | None, relu: bool) -> None:
        if b is None or y.ndim < 1 or not y.flags.c_contiguous or not _fast(y, b):
            super().bias_act_(y, b, relu)
            return
        with _LOCK:
            kernels.fused.bias_act(y.reshape(-1, y.shape[-1]), b, relu)  # a view: y is contiguous

    def relu_mask(self, g: np.ndarray, y: np.ndarray) -> np.ndarray:
        if g.shape != y.shape or not _fast(g, y):
            return g * (y > 0)  # as the base class, without its two calls (small arrays)
        out = np.empty(g.shape, dtype=g.dtype)
        rows = g.shape[0] if g.ndim else 1
        flat = (rows, g.size // rows) if rows else (0, 0)
        with _LOCK:
            kernels.fused.relu_mask(g.reshape(flat), y.reshape(flat), out.reshape(flat))
        return out

    def softmax_xent(self, logits: np.ndarray, labels: np.ndarray) -> tuple:
        if not (
            kernels.ENABLED
            and kernels.started()  # by the first large array (_fast): the same path always
            and logits.ndim == 2
            and logits.dtype == _FLOAT32
            and logits.flags.c_contiguous
            and labels.dtype == np.int64
            and labels.flags.c_contiguous
        ):  # one row-wise pass: no size threshold, it is single-threaded
            return super().softmax_xent(logits, labels)
        probs = np.empty(logits.shape, dtype=logits.dtype)
        loss = np.empty(logits.shape[0], dtype=logits.dtype)
        kernels.fused.softmax_xent(logits, labels, probs, loss)
        return loss, probs

    # Winograd F(4x4, 3x3) for 3x3, stride-1 convolutions (kernels/winograd.py): float32 only
    # (float64, e.g. gradient checks, takes im2col), with the kernels on (NDGRAD_KERNELS=numpy:
    # im2col, the reference), from 8 channels in and out (a first layer's one or three
    # channels make products too thin for the tiles to pay) and 8 x 8 outputs (on smaller
    # images most of each 4 x 4 tile is padding: 5 x 5 -> 3 x 3 took twice im2col's time).
    def winograd(self, x: np.ndarray, filters: int) -> bool:
        return (
            kernels.ENABLED
            and x.dtype == _FLOAT32
            and x.shape[3] >= 8
            and filters >= 8
            and (x.shape[1] - 2) * (x.shape[2] - 2) >= 64
            and _big(x)
            and kernels.wait()
        )

    def winograd_conv(self, x: np.ndarray, w: np.ndarray, b: Any, relu: bool) -> tuple:
        """(relu(conv(x, w) + b), saved): the output, and the transformed input and kernel
        for the gradients (`saved`, passed back to `winograd_*_grad`)."""
        x = np.ascontiguousarray(x)
        with _LOCK:
            y, v, u = wino.forward(x, w, WINOGRAD_M, b, relu, self._compiled(x, w, b))
        return y, (v, u)

    def winograd_grad_tiles(self, g: np.ndarray) -> np.ndarray:
        g = np.ascontiguousarray(g)
        with _LOCK:
            return wino.grad_tiles(g, WINOGRAD_M, self._compiled(g))

    def winograd_input_grad(
        self, g: np.ndarray, w: np.ndarray, dm: Any = None, saved: Any = None
    ) -> np.ndarray:
        g = np.ascontiguousarray(g)
        u = None if saved is None else saved[1]
        with _LOCK:
            return wino.input_grad(g, w, WINOGRAD_M, self._compiled(g, w), dm, u)

    def winograd_kernel_grad(
        self, x: np.ndarray, g: np.ndarray, dm: Any = None, saved: Any = None
    ) -> np.ndarray:
        x, g = np.ascontiguousarray(x), np.ascontiguousarray(g)
        v = None if saved is None else saved[0]
        with _LOCK:
            return wino.kernel_grad(x, g, WINOGRAD_M, self._compiled(x, g), v, dm)

    @staticmethod
    def _compiled(*arrays: Any) -> bool:
        """The tile transforms compiled (float32, loaded kernels) or in NumPy."""
        return (
            kernels.ENABLED
            and kernels.READY.is_set()
            and all(a is None or a.dtype == _FLOAT32 for a in arrays)
        )

    def windows(self, x: np.ndarray, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        w = sliding_window_view(x, size, axis=(1, 2))  # (N, H', W', C, KH, KW), a view
        w = w[:, :: strides[0], :: strides[1]]
        return w.transpose(0, 1, 2, 4, 5, 3)
