"""The NumPy backend's indexing family: reading and writing with NumPy's index rules, and the
scatter-add of indexing's gradient. Fast paths over the Array-API fallbacks (`super()`).
"""

from __future__ import annotations

import numpy as np

from ..array_api.indexing import Indexing, _is_basic


class NumpyIndexing(Indexing):
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

    def add_into(self, out: np.ndarray, index: tuple, values: np.ndarray) -> None:
        view = out[index]
        # A contiguous copy first: adding a strided source with short inner runs is slower.
        np.add(view, np.ascontiguousarray(values), out=view)
