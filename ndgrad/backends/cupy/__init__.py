"""CUDA GPUs through CuPy (extra ``ndgrad[cuda]``): cuBLAS matmuls, device-side indexing,
random numbers and special functions.

`xp` is array-api-compat's wrapper of CuPy: CuPy's own functions do not all take the
standard's keywords (``device=``), the wrapper does. Neither places a new array on the device
of its inputs or of ``device=``: both use CuPy's *current* device. So work for ``cuda:N`` runs
inside `activate()`, which makes GPU N current: Op.apply, creation, random numbers, the engine
and the optimizers enter it, and the primitives that are also called outside those
(conversion, assignment, scatter) enter it themselves. One module per family, as every backend:
`creation`, `indexing`, `math`, `nn`, `random`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import array_api_compat.cupy
import cupy
import numpy as np

from ..._dtypes import DType
from ..base import Backend
from .creation import CupyCreation
from .indexing import CupyIndexing
from .math import CupyMath
from .nn import CupyNN
from .random import CupyRandom


class CupyBackend(CupyCreation, CupyIndexing, CupyMath, CupyNN, CupyRandom, Backend):
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

    def synchronize(self) -> None:
        cupy.cuda.Device(self.index).synchronize()
