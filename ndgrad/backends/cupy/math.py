"""The CuPy backend's math family: math the Array API standard leaves out or words differently:
sums and products with NumPy's dtypes, masks, in-place relu, clip, sign, einsum, erf. CuPy's
own kernels where the Array-API fallbacks would be slow or differ from NumPy.
"""

from __future__ import annotations

from typing import Any

import cupy

from ..array_api.math import Math


class CupyMath(Math):
    # CuPy's own reductions: NumPy's dtypes (float32 stays float32, small integers and bools
    # go to int64), whatever array-api-compat's version (before 1.9 its sum and prod return
    # float64 for float32).
    def sum(self, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return cupy.sum(x, axis=axes, keepdims=keepdims)

    def prod(self, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        return cupy.prod(x, axis=axes, keepdims=keepdims)

    def masked(self, values: Any, mask: Any) -> Any:
        return values * mask

    def relu_(self, array: Any) -> None:
        cupy.maximum(array, 0, out=array)

    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any:
        # array-api-compat's clip assigns through boolean masks (host syncs); CuPy's is a kernel.
        if lo is None:
            return cupy.minimum(x, hi)
        if hi is None:
            return cupy.maximum(x, lo)
        return cupy.clip(x, lo, hi)

    def sign(self, x: Any) -> Any:
        # CuPy's sign maps NaN to 0 (array-api-compat fixes that with a masked assignment).
        out = cupy.sign(x)
        return cupy.where(cupy.isnan(x), x, out) if x.dtype.kind == "f" else out

    def einsum(self, subscripts: str, *arrays: Any) -> Any:
        return cupy.einsum(subscripts, *arrays, optimize=True)  # else a fixed order

    def erf(self, x: Any) -> Any:
        from cupyx.scipy.special import erf

        return erf(x).astype(x.dtype, copy=False)  # CuPy 14 computes float16 as float64
