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

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid

# -- nothing written outside temporary folders ----------------------------------------------
# Before anything is imported: the suite's processes (xdist workers, CLI subprocesses, lab
# workers, Ray) get a home of their own, so caches and configs that libraries write under the
# home folder (matplotlib's font cache, Ray's ~/.ray/auth_token, ndgrad's MNIST cache) land in
# a temporary folder that the session removes at its end.
if not os.environ.get("PYTEST_XDIST_WORKER"):
    _HOME = tempfile.mkdtemp(prefix="ndgrad-test-home-")
    os.environ["NDGRAD_TEST_HOME"] = _HOME
    os.environ["HOME"] = _HOME  # caches and configs under ~ follow (XDG_* left as they are)

import pytest  # noqa: E402
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

# -- no process left behind ------------------------------------------------------------------
# Every process the suite starts inherits this tag in its environment (the xdist workers, the
# lab's drivers and workers, Ray's processes): when the session ends, the controller looks for
# any process still carrying it and fails the run if one outlives a short grace period.
_TAG = "NDGRAD_TEST_SESSION"
if not os.environ.get("PYTEST_XDIST_WORKER"):  # a session's own tag, even inside another's
    os.environ[_TAG] = uuid.uuid4().hex


def tagged_processes(tag: str | None = None) -> dict[int, str]:
    """{pid: command line} of the live processes started under this session's tag."""
    needle = f"{_TAG}={tag or os.environ[_TAG]}".encode()
    found = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                state, ppid = f.read().rsplit(b")", 1)[1].split()[:2]
            if state == b"Z":
                continue  # a zombie: dead, waiting for its parent to read its status
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if int(ppid) == os.getpid() and "multiprocessing.resource_tracker" in cmd:
            continue  # this process's own tracker (without xdist): it ends with this process
        found[int(entry)] = cmd
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller checks, once its workers have gone
    try:
        _check_no_process_left(session)
    finally:
        shutil.rmtree(os.environ["NDGRAD_TEST_HOME"], ignore_errors=True)


def _check_no_process_left(session: pytest.Session) -> None:
    deadline = time.monotonic() + 20
    left = tagged_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = tagged_processes()
    if not left:
        return
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    lines = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in sorted(left.items()))
    sys.stderr.write(f"\nprocesses started by the test suite outlived it (now killed):\n{lines}\n")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
