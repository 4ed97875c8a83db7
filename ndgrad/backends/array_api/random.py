"""Random numbers: the device's generator, seeded by `manual_seed`. The Array-API fallbacks:
standard functions only, used by every backend that does not override them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._dtypes import DType
from ..family import Family


class Random(Family):
    """The random family, written with the standard's functions only."""

    rng: np.random.Generator  # made by `seed`

    # -- random numbers: a NumPy generator on the host, results moved here -----------------
    def seed(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    def random(self, kind: str, shape: tuple[int, ...], dtype: DType, **kw: Any) -> Any:
        """Draw `kind` ('uniform', 'normal', 'integers', 'permutation') with this device's rng."""
        rng = self.rng
        host: np.ndarray
        if kind == "uniform":
            host = rng.uniform(kw["low"], kw["high"], size=shape)
        elif kind == "normal":
            host = rng.normal(kw["mean"], kw["std"], size=shape)
        elif kind == "integers":
            host = rng.integers(kw["low"], kw["high"], size=shape)
        else:
            host = rng.permutation(kw["n"])
        return self.asarray(host.astype(dtype.name, copy=False))
