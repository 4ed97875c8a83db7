"""The default CPU backend: NumPy arrays, BLAS matmuls, zero-copy sliding windows, and compiled
kernels (`kernels/`, numba) for the memory-bound work around them: col2im, max pooling's
gradient route, bias + relu, relu masks, softmax cross-entropy and optimizer steps. Each
primitive falls back to its NumPy code (the reference) when the kernels are off
(``NDGRAD_KERNELS=numpy``, or no numba), for dtypes other than float32/float64, and for
arrays too small to be worth a kernel call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._dtypes import DType
from . import kernels
from .base import Backend, _is_basic

# float32 only, C-contiguous only: the specializations loaded at start-up, so a kernel never
# compiles in the middle of a computation (float64, e.g. gradient checks, takes the NumPy path).
_FLOAT32 = np.dtype(np.float32)
_MIN = kernels.MIN_PARALLEL
_LOCK = kernels.LOCK


def _fast(*arrays: np.ndarray) -> bool:
    """Whether the kernels take these arrays: kernels on, float32, C-contiguous, the first
    array big enough (then they are loaded first)."""
    if not (
        kernels.ENABLED
        and arrays[0].size >= _MIN
        and all(a.dtype == _FLOAT32 and a.flags.c_contiguous for a in arrays)
    ):
        return False
    # The first large array starts loading the kernels and waits for them: from then on
    # every call takes the same path, so a seeded run gives the same numbers every time.
    return kernels.wait()


def _int8(arg: np.ndarray) -> bool:
    return arg.dtype == np.int8 and arg.flags.c_contiguous


class NumpyBackend(Backend):
    kind = "cpu"
    xp = np

    def _native_device(self) -> Any:
        return "cpu"

    def _native_dtype_named(self, name: str) -> np.dtype:
        return np.dtype(name)

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def asarray(self, data: Any, dtype: DType | None = None, copy: bool | None = None) -> Any:
        native = None if dtype is None else self.to_native[dtype]
        return np.array(data, dtype=native, copy=copy)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def astype(self, array: np.ndarray, dtype: DType) -> np.ndarray:
        return array.astype(self.to_native[dtype])

    def coerce(self, result: Any) -> np.ndarray:
        return np.asarray(result)

    def getitem(self, array: np.ndarray, index: tuple) -> np.ndarray:
        return array[index]

    def scatter_add(self, shape: tuple[int, ...], index: tuple, values: np.ndarray) -> np.ndarray:
        out = np.zeros(shape, dtype=values.dtype)
        if _is_basic(index):  # slices and ints never repeat a position: plain assignment
            out[index] = values
        else:
            np.add.at(out, index, values)
        return out

    def setitem(self, array: np.ndarray, index: tuple, values: np.ndarray) -> None:
        array[index] = values

    def sum(self, x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        return x.sum(axis=axes, keepdims=keepdims)  # the method skips np.sum's dispatch

    def expand(self, g: np.ndarray, kept: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=g.dtype)  # a writable array, cheaper than broadcast_to
        out[...] = g.reshape(kept)
        return out

    def masked(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return values * mask  # branch-free: np.where on a random mask is ~10x slower

    def relu_(self, array: np.ndarray) -> None:
        np.maximum(array, 0, out=array)

    def add_into(self, out: np.ndarray, index: tuple, values: np.ndarray) -> None:
        view = out[index]
        # A contiguous copy first: adding a strided source with short inner runs is slower.
        np.add(view, np.ascontiguousarray(values), out=view)

    def pad(self, array: np.ndarray, pad_width: tuple, value: float = 0) -> np.ndarray:
        return np.pad(array, pad_width, constant_values=value)

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

    def windows(self, x: np.ndarray, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        w = sliding_window_view(x, size, axis=(1, 2))  # (N, H', W', C, KH, KW), a view
        w = w[:, :: strides[0], :: strides[1]]
        return w.transpose(0, 1, 2, 4, 5, 3)

    def einsum(self, subscripts: str, *arrays: np.ndarray) -> np.ndarray:
        return np.asarray(np.einsum(subscripts, *arrays, optimize=True))

    def erf(self, x: np.ndarray) -> np.ndarray:
        return super().erf(x).astype(x.dtype, copy=False)

    def random(self, kind: str, shape: tuple[int, ...], dtype: DType, **kw: Any) -> np.ndarray:
        rng = self.rng
        native = self.to_native[dtype]
        if kind == "uniform" and dtype.kind == "f" and dtype.itemsize >= 4:
            out = rng.random(shape, dtype=native)
            if (kw["low"], kw["high"]) != (0.0, 1.0):
                out *= kw["high"] - kw["low"]
                out += kw["low"]
            return out
        if kind == "normal" and dtype.kind == "f" and dtype.itemsize >= 4:
            out = rng.standard_normal(shape, dtype=native)
            if (kw["mean"], kw["std"]) != (0.0, 1.0):
                out *= kw["std"]
                out += kw["mean"]
            return out
        return super().random(kind, shape, dtype, **kw)
