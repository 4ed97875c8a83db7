"""CUDA GPUs through CuPy (extra ``ndgrad[cuda]``): cuBLAS matmuls, device-side indexing,
random numbers and special functions.

`xp` is array-api-compat's wrapper of CuPy: CuPy's own functions do not all take the
standard's keywords (``device=``), the wrapper does. Neither places a new array on the device
of its inputs or of ``device=``: both use CuPy's *current* device. So work for ``cuda:N`` runs
inside `activate()`, which makes GPU N current: Op.apply, creation, random numbers, the engine
and the optimizers enter it, and the primitives below that are also called outside those
(conversion, assignment, scatter) enter it themselves.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import array_api_compat.cupy
import cupy
import cupyx
import numpy as np
from cupy.lib.stride_tricks import as_strided

from .._dtypes import DType
from .base import Backend


class CupyBackend(Backend):
    kind = "cuda"
    xp = array_api_compat.cupy
    needs_activation = True

    def _native_device(self) -> Any:
        return cupy.cuda.Device(self.index)

    def activate(self) -> contextlib.AbstractContextManager:
        # A new Device per use: each keeps the device to restore, so threads do not share it.
        return cupy.cuda.Device(self.index)

    def _native_dtype_named(self, name: str) -> Any:
        return cupy.dtype(name)  # arrays report dtype objects, not scalar types

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, cupy.ndarray) and obj.device.id == self.index

    def asarray(self, data: Any, dtype: DType | None = None, copy: bool | None = None) -> Any:
        native = None if dtype is None else self.native_dtype(dtype)
        with self.activate():
            if isinstance(data, cupy.ndarray) and data.device.id != self.index:
                data, copy = data.copy(order="C"), False  # GPU to GPU, not through the host
            return cupy.array(data, dtype=native, copy=True if copy is None else copy)

    def from_numpy(self, array: np.ndarray) -> Any:
        with self.activate():
            return cupy.asarray(array)

    def transfer(self, array: Any, source: Backend) -> Any:
        if not isinstance(source, CupyBackend):
            return super().transfer(array, source)
        with self.activate():
            return array.copy(order="C")  # a peer copy from the source GPU

    def to_numpy(self, array: Any) -> np.ndarray:
        return cupy.asnumpy(array)

    def astype(self, array: Any, dtype: DType) -> Any:
        with self.activate():
            return array.astype(self.to_native[dtype])

    def getitem(self, array: Any, index: tuple) -> Any:
        return array[index]

    def scatter_add(self, shape: tuple[int, ...], index: tuple, values: Any) -> Any:
        with self.activate():
            out = cupy.zeros(shape, dtype=values.dtype)
            cupyx.scatter_add(out, index, values)
        return out

    def setitem(self, array: Any, index: tuple, values: Any) -> None:
        with self.activate():
            if isinstance(values, cupy.ndarray) and any(
                isinstance(i, cupy.ndarray) and i.dtype.kind in "iu" for i in index
            ):
                values = self._last_writes(array, index, values)
            array[index] = values

    def _last_writes(self, array: Any, index: tuple, values: Any) -> Any:
        """`values` as ``array[index]`` is shaped, each replaced by the value of the last write
        to its position: CuPy keeps an arbitrary one of repeated positions, NumPy the last."""
        shape = array[index].shape
        n = math.prod(shape)
        order = cupy.int32 if n < 2**31 - 1 else cupy.uint64  # types scatter_max supports
        last = cupy.zeros(array.shape, dtype=order)
        cupyx.scatter_max(last, index, cupy.arange(1, n + 1, dtype=order).reshape(shape))
        flat = cupy.broadcast_to(values, shape).reshape(-1)
        return flat[last[index] - 1]

    def masked(self, values: Any, mask: Any) -> Any:
        return values * mask

    def relu_(self, array: Any) -> None:
        cupy.maximum(array, 0, out=array)

    def add_into(self, out: Any, index: tuple, values: Any) -> None:
        view = out[index]
        cupy.add(view, values, out=view)

    def pad(self, array: Any, pad_width: tuple, value: float = 0) -> Any:
        return cupy.pad(array, pad_width, constant_values=value)

    def windows(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        n, h, w, c = x.shape
        kh, kw = size
        sh, sw = strides
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        s = x.strides
        return as_strided(x, (n, oh, ow, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3]))

    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any:
        # array-api-compat's clip assigns through boolean masks (host syncs); CuPy's is a kernel.
        if lo is None:
            return cupy.minimum(x, hi)
        if hi is None:
            return cupy.maximum(x, lo)
        return cupy.clip(x, lo, hi)

    def sign(self, x: Any) -> Any:
        # CuPy's sign maps NaN to 0 (array-api-compat fixes that with a masked assignment).
        out = cupy.sign(x)
        return cupy.where(cupy.isnan(x), x, out) if x.dtype.kind == "f" else out

    def einsum(self, subscripts: str, *arrays: Any) -> Any:
        return cupy.einsum(subscripts, *arrays, optimize=True)  # else a fixed order

    def erf(self, x: Any) -> Any:
        from cupyx.scipy.special import erf

        return erf(x).astype(x.dtype, copy=False)  # CuPy 14 computes float16 as float64

    # -- random numbers: CuPy's generator, drawn on the GPU -------------------------------------
    def seed(self, seed: int | None) -> None:
        with self.activate():  # the generator's state lives on this GPU
            self.rng = cupy.random.default_rng(seed)

    def random(self, kind: str, shape: tuple[int, ...], dtype: DType, **kw: Any) -> Any:
        rng, native = self.rng, self.to_native[dtype]
        real = cupy.float64 if dtype.name == "float64" else cupy.float32
        if kind == "uniform":
            out = rng.random(shape, dtype=real)
            if (kw["low"], kw["high"]) != (0.0, 1.0):
                out *= kw["high"] - kw["low"]
                out += kw["low"]
        elif kind == "normal":
            out = rng.standard_normal(shape, dtype=real)
            if (kw["mean"], kw["std"]) != (0.0, 1.0):
                out *= kw["std"]
                out += kw["mean"]
        elif kind == "integers":
            out = rng.integers(kw["low"], kw["high"], size=shape, dtype=cupy.int64)
        else:  # a permutation: the order of n uniform draws
            out = cupy.argsort(rng.random(kw["n"], dtype=cupy.float64))
        return out.astype(native, copy=False)

    def synchronize(self) -> None:
        cupy.cuda.Device(self.index).synchronize()
