"""The NumPy backend's math family: math the Array API standard leaves out or words differently:
sums and products with NumPy's dtypes (a large float sum over every axis but the last, a bias
gradient, as one BLAS product with a vector of ones: 5x faster than NumPy's row-by-row
reduction at (43264, 32) float32; each column sum of n rows is then within gamma_n * sum |x|
of the exact sum, gamma_n = n u / (1 - n u), the bound of any summation order that NumPy's
reduction obeys too; on random data its error measured 2-3x smaller), matrix products (a
transposed product with a long contraction and a small result as a sum of chunked products:
`_split_k`), masks, in-place relu, clip, sign, einsum, erf. Fast paths over the Array-API
fallbacks (`super()`).
"""

from __future__ import annotations

import numpy as np

from ..array_api.math import Math

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ONES: dict[np.dtype, np.ndarray] = {}  # the longest vector of ones used yet, per dtype


def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = _ONES.get(dtype)
    if ones is None or len(ones) < n:
        ones = _ONES[dtype] = np.ones(n, dtype=dtype)
    return ones[:n]


# Split-K: OpenBLAS computes a transposed product x^T y with a long contraction and a small
# result (a kernel gradient of a convolution with few channels: (43264 x 9)^T (43264 x 32) for
# the book convnet's first layer) at a tenth of its speed elsewhere. As products over chunks
# of _SPLIT rows, summed, it is 2-4x faster (measured at 2 threads: that shape 0.74 -> 0.28 ms,
# (4096 x 32)^T (4096 x 32) 0.19 -> 0.05 ms, (100352 x 27)^T (100352 x 64) 5.8 -> 2.6 ms); with
# 64 columns on a side it was about even, with 128 slower, so it is taken up to 64. The chunk
# products are summed _BLOCK at a time: the temporary stays _BLOCK x M x N, whatever K.
_SPLIT = 128
_SPLIT_MIN_ROWS = 16 * _SPLIT
_SPLIT_MAX_SIDE = 64
_BLOCK = 64
_FLOAT32 = np.dtype(np.float32)


class NumpyMath(Math):
    def matmul(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        m, k = x.shape if x.ndim == 2 else (0, 0)
        if (
            k >= _SPLIT_MIN_ROWS
            and y.ndim == 2
            and y.shape[0] == k
            and max(m, y.shape[1]) <= _SPLIT_MAX_SIDE
            and x.dtype == y.dtype == _FLOAT32
            and x.T.flags.c_contiguous  # x^T's rows: the chunks are views
            and y.flags.c_contiguous
        ):
            return _split_k(x.T, y)
        return np.matmul(x, y)

    def sum(self, x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        if (
            x.size >= 16384
            and x.ndim >= 2
            and axes == tuple(range(x.ndim - 1))
            and x.dtype in _FLOATS
            and x.flags.c_contiguous
        ):  # column sums (a bias gradient): ones @ x, one BLAS call
            cols = x.shape[-1]
            out = _ones(x.size // cols, x.dtype) @ x.reshape(-1, cols)
            return out.reshape((1,) * (x.ndim - 1) + (cols,)) if keepdims else out
        return x.sum(axis=axes, keepdims=keepdims)  # the method skips np.sum's dispatch

    def prod(self, x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        return x.prod(axis=axes, keepdims=keepdims)

    def masked(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return values * mask  # branch-free: np.where on a random mask is ~10x slower

    def relu_(self, array: np.ndarray) -> None:
        np.maximum(array, 0, out=array)

    def einsum(self, subscripts: str, *arrays: np.ndarray) -> np.ndarray:
        return np.asarray(np.einsum(subscripts, *arrays, optimize=True))

    def erf(self, x: np.ndarray) -> np.ndarray:
        return super().erf(x).astype(x.dtype, copy=False)


def _split_k(xt: np.ndarray, y: np.ndarray) -> np.ndarray:
    """xt^T @ y for xt (K, M), y (K, N) as the sum of the products of chunks of _SPLIT rows,
    _BLOCK chunks at a time, then the rows left over.

    Each output is the sum of K products, in a different order than one product's: the
    error bound of any summation order, gamma_K * sum |x||y|, holds for it as for BLAS.
    """
    k, m = xt.shape
    n = y.shape[1]
    chunks = k // _SPLIT
    out = np.zeros((m, n), dtype=xt.dtype)
    for first in range(0, chunks, _BLOCK):
        rows = slice(first * _SPLIT, min(chunks, first + _BLOCK) * _SPLIT)
        count = (rows.stop - rows.start) // _SPLIT
        parts = np.matmul(
            xt[rows].reshape(count, _SPLIT, m).transpose(0, 2, 1),
            y[rows].reshape(count, _SPLIT, n),
        )
        out += parts.sum(axis=0)
    main = chunks * _SPLIT
    if main < k:
        out += xt[main:].T @ y[main:]
    return out
