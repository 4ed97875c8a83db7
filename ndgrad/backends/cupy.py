"""CUDA GPUs through CuPy (extra ``ndgrad[cuda]``): cuBLAS matmuls, device-side scatter-add.

`xp` is array-api-compat's wrapper of CuPy: CuPy's own functions do not all take the
standard's keywords (``device=``), the wrapper does.
"""

from __future__ import annotations

from typing import Any

import array_api_compat.cupy
import cupy
import numpy as np
from cupy.lib.stride_tricks import as_strided

from .._dtypes import DType
from .base import Backend


class CupyBackend(Backend):
    kind = "cuda"
    xp = array_api_compat.cupy

    def _native_device(self) -> Any:
        return cupy.cuda.Device(self.index)

    def _native_dtype_named(self, name: str) -> Any:
        return cupy.dtype(name)  # arrays report dtype objects, not scalar types

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, cupy.ndarray)

    def asarray(self, data: Any, dtype: DType | None = None, copy: bool | None = None) -> Any:
        native = None if dtype is None else self._to_native[dtype]
        with self.native_device:
            return cupy.array(data, dtype=native, copy=True if copy is None else copy)

    def from_numpy(self, array: np.ndarray) -> Any:
        with self.native_device:
            return cupy.asarray(array)

    def to_numpy(self, array: Any) -> np.ndarray:
        return cupy.asnumpy(array)

    def astype(self, array: Any, dtype: DType) -> Any:
        return array.astype(self._to_native[dtype])

    def getitem(self, array: Any, index: tuple) -> Any:
        return array[index]

    def scatter_add(self, shape: tuple[int, ...], index: tuple, values: Any) -> Any:
        import cupyx

        with self.native_device:
            out = cupy.zeros(shape, dtype=values.dtype)
            cupyx.scatter_add(out, index, values)
        return out

    def setitem(self, array: Any, index: tuple, values: Any) -> None:
        array[index] = values

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

    def einsum(self, subscripts: str, *arrays: Any) -> Any:
        return cupy.einsum(subscripts, *arrays)

    def synchronize(self) -> None:
        cupy.cuda.Device(self.index).synchronize()
