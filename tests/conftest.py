"""Shared test configuration: hypothesis profiles, the `backend` fixture and the `gpu` marker.

Profiles: "ci" (the default, and always when the CI environment variable is set) is
derandomized with a bounded number of examples and no deadline, so the suite is reproducible
and fast; "dev" (``HYPOTHESIS_PROFILE=dev``) explores more examples with fresh randomness.
How large the generated shapes are (axes up to 64 for elementwise and reduction ops and up to
16 for the others, within a budget of elements; one example in 8 tiny: 0-d, empty or single
elements) is set in tests/ops/catalog.py (``SIZES``, ``STRUCTURED_SIZES``).

`backend` is parametrized over the NumPy device ("cpu"), the array-api-strict device
("strict") and the first GPU ("cuda:0", marked `gpu`), so every op, autograd, layer, loss,
optimizer and fit test that takes it runs on each device this machine has.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import ndgrad
from ndgrad.backends.registry import cuda_missing

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=20,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "ci"))

try:  # keep torch (the oracle) from fighting pytest-xdist workers for cores
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a dev dependency
    pass

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One BLAS thread per xdist worker: spinning BLAS threads of two workers on two cores
    # slow matrix products by an order of magnitude.
    from threadpoolctl import threadpool_limits

    _blas_limit = threadpool_limits(1)
    ndgrad.set_num_threads(1)  # and one thread for the compiled kernels

BACKENDS = ("cpu", "strict", pytest.param("cuda:0", marks=pytest.mark.gpu))


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """A device name: "cpu" (NumPy), "strict" (array-api-strict on Device("device1")) and
    "cuda:0" (CuPy; a `gpu` test, skipped where no GPU is usable)."""
    return request.param


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests (``@pytest.mark.gpu``, or ``gpu(devices=2)`` for multi-GPU ones) on
    machines with fewer usable GPUs, saying why: the only skips the suite allows."""
    count = ndgrad.cuda.device_count()
    missing = cuda_missing()
    for item in items:
        marker = item.get_closest_marker("gpu")
        needed = marker.kwargs.get("devices", 1) if marker else 0
        if count >= needed:
            continue
        if count:
            reason = f"needs {needed} CUDA devices; this machine has {count}"
        else:
            reason = "no CUDA device" + (f" ({missing})" if missing else "")
        item.add_marker(pytest.mark.skip(reason=reason))
