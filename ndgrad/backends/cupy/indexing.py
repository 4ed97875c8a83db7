"""The CuPy backend's indexing family: reading and writing with NumPy's index rules, and the
scatter-add of indexing's gradient. CuPy's own kernels where the Array-API fallbacks would be
slow or differ from NumPy.
"""

from __future__ import annotations

from typing import Any

import cupy
import cupyx

from ..array_api.indexing import Indexing, last_write_sources


class CupyIndexing(Indexing):
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
        to its position: CuPy keeps an arbitrary one of repeated positions, NumPy the last.
        Temporaries are sized by the index, not by `array` (`last_write_sources`)."""
        src = last_write_sources(cupy, array.shape, index)
        flat = cupy.broadcast_to(values, src.shape).reshape(-1)
        return flat[src.reshape(-1)].reshape(src.shape)

    def add_into(self, out: Any, index: tuple, values: Any) -> None:
        view = out[index]
        cupy.add(view, values, out=view)
