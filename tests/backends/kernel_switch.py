"""`kernels_on`: force the NumPy backend's compiled kernels on (or off) inside a block.

A plain helper module (not a test module), shared by tests/backends/test_kernels.py and
tests/optimizers/test_kernel_path.py. Importing it needs numba (the kernels are loaded here
even when the suite runs with ``NDGRAD_KERNELS=numpy``): skip with
``pytest.importorskip("numba")`` before importing it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import ndgrad.backends.numpy as npb
from ndgrad.backends.numpy import kernels

__all__ = ["kernels_on"]


@contextlib.contextmanager
def kernels_on(on: bool = True) -> Iterator[None]:
    """Kernels on for arrays of any size (or off), restored afterwards; loaded here when the
    suite runs with ``NDGRAD_KERNELS=numpy``."""
    from ndgrad.backends.numpy.kernels import conv, fused, optimizers, pooling  # noqa: F401

    kernels.wait()
    enabled, ready, minimum = kernels.ENABLED, kernels.READY.is_set(), npb._MIN
    npb._MIN, kernels.ENABLED = 1, on
    kernels.READY.set()
    try:
        yield
    finally:
        kernels.ENABLED, npb._MIN = enabled, minimum
        if not ready:
            kernels.READY.clear()
