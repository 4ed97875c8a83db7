"""Shared test configuration: hypothesis profiles, the `backend` fixture and the `gpu` marker.

Profiles: "ci" (the default, and always when the CI environment variable is set) is
derandomized with a bounded number of examples and no deadline, so the suite is reproducible
and fast; "dev" (``HYPOTHESIS_PROFILE=dev``) explores more examples with fresh randomness.

`backend` is parametrized over the NumPy device ("cpu") and the array-api-strict device
("strict"), so every op and autograd test that takes it runs on both.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import ndgrad

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

BACKENDS = ("cpu", "strict")


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """A device name: "cpu" (NumPy) or "strict" (array-api-strict on Device("device1"))."""
    return request.param


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ndgrad.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
