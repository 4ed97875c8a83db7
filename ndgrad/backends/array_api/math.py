"""Math the Array API standard leaves out or words differently: sums and products with NumPy's
dtypes, masks, in-place relu, clip, sign, einsum, erf. The Array-API fallbacks: standard
functions only, used by every backend that does not override them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..family import Family


class Math(Family):
    """The math family, written with the standard's functions only."""

    def sum(self, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        """Sum over `axes` (NumPy's result dtypes: small integers and bools sum as int64,
        floats keep their dtype). The dtype is passed for floats: array-api-compat before
        1.9 sums float32 as float64, as the standard's 2022 edition asked."""
        return self.xp.sum(x, axis=axes, keepdims=keepdims, dtype=self._float_dtype(x))

    def prod(self, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        """Product over `axes`, with the result dtypes of `sum`."""
        return self.xp.prod(x, axis=axes, keepdims=keepdims, dtype=self._float_dtype(x))

    def _float_dtype(self, x: Any) -> Any:
        """x's dtype when it is a floating-point one (kept by reductions), else None."""
        dtype = self.from_native.get(x.dtype)
        return x.dtype if dtype is not None and dtype.kind == "f" else None

    def matmul(self, x: Any, y: Any) -> Any:
        """The matrix product with NumPy's rules (1-D operands, batch axes broadcast)."""
        return self.xp.matmul(x, y)

    def masked(self, values: Any, mask: Any) -> Any:
        """`values` where the bool `mask` holds, else 0."""
        return self.xp.where(mask, values, 0.0)

    def relu_(self, array: Any) -> None:
        """``array = max(array, 0)`` in place."""
        array[...] = self.xp.maximum(array, 0)

    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any:
        """`x` limited to [lo, hi] (either may be None), NaN kept."""
        return self.xp.clip(x, lo, hi)

    def sign(self, x: Any) -> Any:
        """-1, 0 or 1 by the sign of x; NaN stays NaN."""
        return self.xp.sign(x)

    def einsum(self, subscripts: str, *arrays: Any) -> Any:
        host = [self.to_numpy(a) for a in arrays]
        return self.from_numpy(np.asarray(np.einsum(subscripts, *host, optimize=True)))

    def erf(self, x: Any) -> Any:
        """The error function (Numerical Recipes' erfc Chebyshev fit; relative error < 1.2e-7)."""
        xp = self.xp
        z = xp.abs(x)
        t = 1.0 / (1.0 + 0.5 * z)
        poly = -1.26551223 + t * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t
                            * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
        erfc = t * xp.exp(-z * z + poly)
        return xp.where(x >= 0, 1.0 - erfc, erfc - 1.0)
