"""The NumPy backend's creation family: new arrays made from others: constant padding and a
broadcast copy. Fast paths over the Array-API fallbacks (`super()`).
"""

from __future__ import annotations

import numpy as np

from ..array_api.creation import Creation


class NumpyCreation(Creation):
    def expand(self, g: np.ndarray, kept: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=g.dtype)  # a writable array, cheaper than broadcast_to
        out[...] = g.reshape(kept)
        return out

    def pad(self, array: np.ndarray, pad_width: tuple, value: float = 0) -> np.ndarray:
        return np.pad(array, pad_width, constant_values=value)
