"""The default CPU backend: NumPy arrays, BLAS matmuls, zero-copy sliding windows, and compiled
kernels (`kernels/`, numba) for the memory-bound work around them: col2im, max pooling's
gradient route, bias + relu, relu masks, softmax cross-entropy and optimizer updates.

`NumpyBackend` is the core (dtypes, conversion) plus one class per family module, each a fast
path over the Array-API fallback (`backends/array_api/`): `creation`, `indexing`, `math`,
`nn`, `random`; `optimizers` registers fused updates by optimizer class. Each primitive falls
back to its NumPy code (the reference) when the kernels are off
(``NDGRAD_KERNELS=numpy``, or no numba), for dtypes other than float32/float64, and for
arrays too small to be worth a kernel call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._dtypes import DType
from . import kernels

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


def _big(array: np.ndarray) -> bool:
    """Whether `array` is large enough to be worth a kernel call (read at call time)."""
    return array.size >= _MIN


def _int8(arg: np.ndarray) -> bool:
    return arg.dtype == np.int8 and arg.flags.c_contiguous


# The families use the helpers above: imported once they exist.
from ..base import Backend  # noqa: E402
from .creation import NumpyCreation  # noqa: E402
from .indexing import NumpyIndexing  # noqa: E402
from .math import NumpyMath  # noqa: E402
from .nn import NumpyNN  # noqa: E402
from .random import NumpyRandom  # noqa: E402


class NumpyBackend(NumpyCreation, NumpyIndexing, NumpyMath, NumpyNN, NumpyRandom, Backend):
    kind = "cpu"
    xp = np
    host_reads_free = True

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
