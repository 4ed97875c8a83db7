"""The CuPy backend's random family: random numbers: the device's generator, seeded by
`manual_seed`. CuPy's own kernels where the Array-API fallbacks would be slow or differ from
NumPy.
"""

from __future__ import annotations

from typing import Any

import cupy

from ..._dtypes import DType
from ..array_api.random import Random


class CupyRandom(Random):
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
