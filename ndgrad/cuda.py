"""CUDA queries: ``ndgrad.cuda.is_available()``, ``device_count()`` and ``synchronize()``."""

from __future__ import annotations

from .backends.registry import cuda_device_count, get_backend


def device_count() -> int:
    """How many CUDA GPUs ndgrad can use (needs ``ndgrad[cuda]`` and a driver)."""
    return cuda_device_count()


def is_available() -> bool:
    """True when at least one CUDA GPU is usable: CuPy, cupyx and array-api-compat import
    and the driver reports a GPU. Creating ``"cuda"`` otherwise raises a DeviceError that
    says what is missing."""
    return cuda_device_count() > 0


def synchronize(device: str = "cuda") -> None:
    """Wait until the work queued on `device` is done (for timing: GPU calls return early)."""
    get_backend(device).synchronize()
