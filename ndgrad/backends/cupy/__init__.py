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
from ..base import Backend, host_array
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
        if isinstance(data, cupy.ndarray):
            if data.device.id != self.index:  # GPU to GPU, not through the host
                data, copy = peer_copy(data, data.device.id, self.index), False
        elif not isinstance(data, (list, tuple, int, float, bool)):
            data = host_array(data, dtype)  # cast on the host: float64 is not uploaded
        with self.activate():
            return cupy.array(data, dtype=native, copy=True if copy is None else copy)

    def from_numpy(self, array: np.ndarray) -> Any:
        with self.activate():
            return cupy.asarray(array)

    def transfer(self, array: Any, source: Backend) -> Any:
        if not isinstance(source, CupyBackend):
            return super().transfer(array, source)
        return peer_copy(array, source.index, self.index)

    def to_numpy(self, array: Any) -> np.ndarray:
        return cupy.asnumpy(array)

    def astype(self, array: Any, dtype: DType) -> Any:
        with self.activate():
            return array.astype(self.to_native[dtype])

    def synchronize(self) -> None:
        cupy.cuda.Device(self.index).synchronize()


def peer_copy(array: Any, source: int, target: int) -> Any:
    """A C-contiguous copy on GPU `target` of `array`, an array on GPU `source`, ordered with
    the work of both: the copy (queued on the target's current stream) waits for the work
    already queued on the source's current stream (which may still be writing `array`), and
    the source's later work waits for the copy (which may still be reading it)."""
    with cupy.cuda.Device(source):
        source_stream = cupy.cuda.get_current_stream()
        written = source_stream.record()
    with cupy.cuda.Device(target):
        stream = cupy.cuda.get_current_stream()
        stream.wait_event(written)
        out = array.copy(order="C")  # a peer copy from the source GPU
        read = stream.record()
    with cupy.cuda.Device(source):
        source_stream.wait_event(read)
    return out
