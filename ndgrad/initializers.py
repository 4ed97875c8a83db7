"""Weight initializers by name, as Keras: ``Dense(64, kernel_initializer="he_normal")``.

Each is a function ``(shape, dtype, device) -> Tensor`` drawing from ndgrad's seeded generator.
fan_in/fan_out follow Keras: for a kernel (..., in, out) the receptive field multiplies both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from . import creation, ops
from . import random as _random
from ._registry import Registry
from ._tensor import Tensor

Initializer = Callable[..., Tensor]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    field = math.prod(shape[:-2])
    return shape[-2] * field, shape[-1] * field


def zeros(shape: tuple[int, ...], dtype: str = "float32", device: str | None = None) -> Tensor:
    return creation.zeros(shape, dtype=dtype, device=device)


def ones(shape: tuple[int, ...], dtype: str = "float32", device: str | None = None) -> Tensor:
    return creation.ones(shape, dtype=dtype, device=device)


def random_normal(
    shape: tuple[int, ...],
    dtype: str = "float32",
    device: str | None = None,
    mean: float = 0.0,
    stddev: float = 0.05,
) -> Tensor:
    """N(mean, stddev**2), Keras's default stddev 0.05."""
    return _random.normal(shape, mean=mean, std=stddev, dtype=dtype, device=device)


def random_uniform(
    shape: tuple[int, ...],
    dtype: str = "float32",
    device: str | None = None,
    minval: float = -0.05,
    maxval: float = 0.05,
) -> Tensor:
    return _random.uniform(shape, low=minval, high=maxval, dtype=dtype, device=device)


def _uniform_limit(shape: tuple[int, ...], dtype: str, device: str | None, limit: float) -> Tensor:
    return _random.uniform(shape, low=-limit, high=limit, dtype=dtype, device=device)


def _truncated(shape: tuple[int, ...], dtype: str, device: str | None, std: float) -> Tensor:
    """Normal samples redrawn beyond 2 std (Keras's truncated normal), scaled to `std`."""
    x = _random.normal(shape, dtype=dtype, device=device)
    while True:
        bad = x.abs() > 2.0
        if not ops.sum(bad).item():
            return x * (std / 0.87962566103423978)
        x = ops.where(bad, _random.normal(shape, dtype=dtype, device=device), x)


def glorot_uniform(
    shape: tuple[int, ...], dtype: str = "float32", device: str | None = None
) -> Tensor:
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)): Keras's default for kernels."""
    fan_in, fan_out = _fans(shape)
    return _uniform_limit(shape, dtype, device, math.sqrt(6.0 / max(1, fan_in + fan_out)))


def glorot_normal(
    shape: tuple[int, ...], dtype: str = "float32", device: str | None = None
) -> Tensor:
    fan_in, fan_out = _fans(shape)
    return _truncated(shape, dtype, device, math.sqrt(2.0 / max(1, fan_in + fan_out)))


def he_uniform(shape: tuple[int, ...], dtype: str = "float32", device: str | None = None) -> Tensor:
    fan_in, _ = _fans(shape)
    return _uniform_limit(shape, dtype, device, math.sqrt(6.0 / max(1, fan_in)))


def he_normal(shape: tuple[int, ...], dtype: str = "float32", device: str | None = None) -> Tensor:
    fan_in, _ = _fans(shape)
    return _truncated(shape, dtype, device, math.sqrt(2.0 / max(1, fan_in)))


def lecun_normal(
    shape: tuple[int, ...], dtype: str = "float32", device: str | None = None
) -> Tensor:
    fan_in, _ = _fans(shape)
    return _truncated(shape, dtype, device, math.sqrt(1.0 / max(1, fan_in)))


def lecun_uniform(
    shape: tuple[int, ...], dtype: str = "float32", device: str | None = None
) -> Tensor:
    fan_in, _ = _fans(shape)
    return _uniform_limit(shape, dtype, device, math.sqrt(3.0 / max(1, fan_in)))


INITIALIZERS: Registry[Initializer] = Registry(
    "initializer",
    {
        f.__name__: f
        for f in (
            zeros,
            ones,
            random_normal,
            random_uniform,
            glorot_uniform,
            glorot_normal,
            he_uniform,
            he_normal,
            lecun_normal,
            lecun_uniform,
        )
    },
)


def get(identifier: str | Initializer) -> Initializer:
    """The initializer for a name ('glorot_uniform') or a callable."""
    if callable(identifier):
        return identifier
    return INITIALIZERS.lookup(identifier)
