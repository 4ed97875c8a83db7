"""Array backends. Only this package imports NumPy, array-api-strict or CuPy."""

from .base import Backend
from .registry import (
    cuda_device_count,
    default_backend,
    device,
    devices,
    get_backend,
    manual_seed,
)

__all__ = [
    "Backend",
    "cuda_device_count",
    "default_backend",
    "device",
    "devices",
    "get_backend",
    "manual_seed",
]
