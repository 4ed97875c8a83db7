"""The CuPy backend's creation family: new arrays made from others: constant padding and a
broadcast copy. CuPy's own kernels where the Array-API fallbacks would be slow or differ from
NumPy.
"""

from __future__ import annotations

from typing import Any

import cupy

from ..array_api.creation import Creation


class CupyCreation(Creation):
    def pad(self, array: Any, pad_width: tuple, value: float = 0) -> Any:
        return cupy.pad(array, pad_width, constant_values=value)
