"""Random tensors from a seedable generator per device. ``ndgrad.manual_seed(n)`` makes a
whole program (initial weights, dropout, shuffling) reproducible.

Shapes are given as one tuple (``uniform((2, 2), 0.0, 1.0)``, Keras's order: the shape, then
the distribution's parameters) or as separate ints (``randn(2, 3)``, PyTorch's). Keras's
keyword names (`minval`, `maxval`, `stddev`, `seed`) are accepted beside ndgrad's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _dtypes
from ._dtypes import DType
from ._shapes import as_shape
from ._tensor import Tensor
from .backends.registry import get_backend, manual_seed
from .creation import _wrap
from .errors import ShapeError

__all__ = ["manual_seed", "normal", "permutation", "rand", "randint", "randn", "uniform"]


def _draw(
    kind: str,
    shape: tuple[int, ...],
    dtype: Any,
    device: str | None,
    requires_grad: bool,
    seed: int | None = None,
    **kw: Any,
) -> Tensor:
    """Samples of `kind` from the device's generator, or from a fresh one seeded with `seed`
    (the same seed gives the same values, as Keras's integer seeds)."""
    backend = get_backend(device)
    d = _dtypes.as_dtype(dtype)
    saved = backend.rng
    if seed is not None:
        backend.seed(int(seed))
    try:
        with backend.activate():  # CuPy allocates on its current GPU
            array = backend.random(kind, shape, d, **kw)
    finally:
        if seed is not None:
            backend.rng = saved
    return _wrap(array, backend, requires_grad)


def _shape_and_params(op: str, args: tuple, names: tuple[str, str]) -> tuple[tuple, tuple]:
    """Split ``(shape_tuple, *params)`` or ``(*ints)`` into the shape and positional params."""
    if args and isinstance(args[0], Sequence | Tensor) and not isinstance(args[0], str):
        shape, params = as_shape(args[0], op), args[1:]
        if len(params) > len(names):
            raise TypeError(
                f"{op}: takes the shape and at most {len(names)} parameters "
                f"({', '.join(names)}). Received {len(params)}: {params!r}"
            )
        return shape, params
    try:
        return as_shape(args[0] if len(args) == 1 else args, op), ()
    except ShapeError:
        raise ShapeError(
            f"{op}: a shape must be an int or a sequence of ints; to give {' and '.join(names)} "
            f"positionally, pass the shape as one tuple first: {op}((2, 3), ...). "
            f"Received {args!r}"
        ) from None


def _with_shape(op: str, args: tuple, shape: Any) -> tuple:
    """The positional arguments with Keras' ``shape=`` keyword put first."""
    if shape is None:
        return args
    if args and not isinstance(args[0], int | float) or len(args) > 2:
        raise TypeError(f"{op}: the shape given twice, positionally and as shape=. "
                        f"Received {args!r} and shape={shape!r}")
    return (as_shape(shape, op), *args)


def _param(op: str, positional: tuple, i: int, names: dict[str, Any], default: float) -> float:
    """The i-th distribution parameter, given positionally or under one of its names."""
    given = {k: v for k, v in names.items() if v is not None}
    if i < len(positional):
        given = {f"argument {i + 2}": positional[i], **given}
    if len(given) > 1:
        raise TypeError(f"{op}: a parameter given twice, as {' and as '.join(given)}")
    return float(next(iter(given.values()), default))


def uniform(
    *args: Any,
    shape: Any = None,
    low: float | None = None,
    high: float | None = None,
    minval: float | None = None,
    maxval: float | None = None,
    dtype: DType | str = "float32",
    seed: int | None = None,
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples from the uniform distribution on [low, high) (Keras: `minval`, `maxval`).

    >>> import ndgrad
    >>> ndgrad.uniform((2, 2), 0.0, 1.0).shape, ndgrad.uniform(3, low=-1.0, high=1.0).shape
    ((2, 2), (3,))
    """
    given = _with_shape("uniform", args, shape)
    size, params = _shape_and_params("uniform", given, ("low", "high"))
    lo = _param("uniform", params, 0, {"low": low, "minval": minval}, 0.0)
    hi = _param("uniform", params, 1, {"high": high, "maxval": maxval}, 1.0)
    if not hi >= lo:
        raise ValueError(f"uniform: need low <= high. Received low={lo}, high={hi}")
    return _draw("uniform", size, dtype, device, requires_grad, seed, low=lo, high=hi)


def normal(
    *args: Any,
    shape: Any = None,
    mean: float | None = None,
    std: float | None = None,
    stddev: float | None = None,
    dtype: DType | str = "float32",
    seed: int | None = None,
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples from the normal distribution N(mean, std**2) (Keras: `stddev`).

    >>> import ndgrad
    >>> ndgrad.normal((3, 1), 0.0, 1.0).shape, ndgrad.normal(2, 3, std=0.1).shape
    ((3, 1), (2, 3))
    >>> ndgrad.random.normal(shape=(4,), mean=1.0, stddev=0.5).shape  # Keras' spelling
    (4,)
    """
    size, params = _shape_and_params("normal", _with_shape("normal", args, shape), ("mean", "std"))
    mu = _param("normal", params, 0, {"mean": mean}, 0.0)
    sigma = _param("normal", params, 1, {"std": std, "stddev": stddev}, 1.0)
    if not sigma >= 0:
        raise ValueError(f"normal: std must be >= 0. Received std={sigma}")
    return _draw("normal", size, dtype, device, requires_grad, seed, mean=mu, std=sigma)


def rand(
    *shape: Any,
    dtype: DType | str = "float32",
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples on [0, 1). ``rand(2, 3)`` or ``rand((2, 3))``."""
    size = as_shape(shape[0] if len(shape) == 1 else shape, "rand")
    return uniform(size, dtype=dtype, device=device, requires_grad=requires_grad)


def randn(
    *shape: Any,
    dtype: DType | str = "float32",
    device: str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples. ``randn(2, 3)`` or ``randn((2, 3))``."""
    size = as_shape(shape[0] if len(shape) == 1 else shape, "randn")
    return normal(size, dtype=dtype, device=device, requires_grad=requires_grad)


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
    shape = as_shape(size, "randint")
    return _draw("integers", shape, dtype, device, False, low=int(low), high=int(high))


def permutation(n: int, dtype: DType | str = "int64", device: str | None = None) -> Tensor:
    """A random ordering of 0 .. n-1: shape (n,), of `dtype` (int64 by default)."""
    return _draw("permutation", (int(n),), dtype, device, False, n=int(n))
