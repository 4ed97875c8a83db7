"""CUDA queries: ``ndgrad.cuda.is_available()``, ``device_count()`` and ``synchronize()``."""

from __future__ import annotations

from .backends.registry import cuda_device_count, get_backend, in_use


def device_count() -> int:
    """How many CUDA GPUs ndgrad can use (needs ``ndgrad[cuda]`` and a driver)."""
    return cuda_device_count()


def is_available() -> bool:
    """True when at least one CUDA GPU is usable: CuPy, cupyx and array-api-compat import
    and the driver reports a GPU. Creating ``"cuda"`` otherwise raises a DeviceError that
    says what is missing."""
    return cuda_device_count() > 0


def synchronize(device: str | None = None) -> None:
    """Wait until the work queued on `device` is done (for timing: GPU calls return early);
    without a device, on every GPU this process has used (none used: nothing to wait for).

    >>> import ndgrad
    >>> ndgrad.cuda.synchronize()  # no GPU used here: returns at once
    """
    if device is not None:
        get_backend(device).synchronize()
        return
    for backend in in_use("cuda"):
        backend.synchronize()
