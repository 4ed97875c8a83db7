"""Random tensors from a seedable generator per device. ``ndgrad.manual_seed(n)`` makes a
whole program (initial weights, dropout, shuffling) reproducible.
"""

from __future__ import annotations

from typing import Any

from . import _dtypes
from ._dtypes import DType
from ._tensor import Tensor
from .backends.registry import get_backend, manual_seed
from .creation import _shape, _wrap

__all__ = ["manual_seed", "normal", "permutation", "rand", "randint", "randn", "uniform"]


def _draw(
    kind: str, shape: tuple, dtype: Any, device: str | None, requires_grad: bool, **kw: Any
) -> Tensor:
    backend = get_backend(device)
    d = _dtypes.as_dtype(dtype)
    return _wrap(backend.random(kind, _shape(shape), d, **kw), backend, requires_grad)


def uniform(
    *shape: Any,
    low: float = 0.0,
    high: float = 1.0,
    dtype: DType | str = "float32",
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples from the uniform distribution on [low, high)."""
    if not high >= low:
        raise ValueError(f"uniform: need low <= high. Received low={low}, high={high}")
    return _draw("uniform", shape, dtype, device, requires_grad, low=float(low), high=float(high))


def normal(
    *shape: Any,
    mean: float = 0.0,
    std: float = 1.0,
    dtype: DType | str = "float32",
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples from the normal distribution N(mean, std**2)."""
    if std < 0:
        raise ValueError(f"normal: std must be >= 0. Received std={std}")
    return _draw("normal", shape, dtype, device, requires_grad, mean=float(mean), std=float(std))


def rand(
    *shape: Any,
    dtype: DType | str = "float32",
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples on [0, 1)."""
    return uniform(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn(
    *shape: Any,
    dtype: DType | str = "float32",
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples."""
    return normal(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint(
    low: int,
    high: int | None = None,
    size: Any = (),
    dtype: DType | str = "int64",
    device: str | None = None,
) -> Tensor:
    """Random integers in [low, high) (in [0, low) when high is None), as NumPy."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: need low < high. Received low={low}, high={high}")
    size = (size,) if isinstance(size, int) else tuple(size)
    return _draw("integers", (size,), dtype, device, False, low=int(low), high=int(high))


def permutation(n: int, dtype: DType | str = "int64", device: str | None = None) -> Tensor:
    """A random ordering of 0 .. n-1."""
    return _draw("permutation", ((n,),), dtype, device, False, n=int(n))
