"""The NumPy backend's random family: random numbers: the device's generator, seeded by
`manual_seed`. Fast paths over the Array-API fallbacks (`super()`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._dtypes import DType
from ..array_api.random import Random


class NumpyRandom(Random):
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
