"""Whether CUDA is offered depends on everything the CUDA backend imports, checked on any machine.

A stand-in `cupy` module that reports one GPU takes the place of the real one; hiding
array-api-compat (None in ``sys.modules`` makes its import fail) must then withdraw the
device, and asking for it must say what is missing.
"""

from __future__ import annotations

import sys
import types

import pytest

import ndgrad
from ndgrad.backends import registry


def _fake_cupy(monkeypatch: pytest.MonkeyPatch, gpus: int = 1) -> None:
    monkeypatch.setattr(registry, "_instances", {})  # forget backends made by earlier tests
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: gpus))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))


def _fake_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    compat = types.ModuleType("array_api_compat")
    compat.cupy = types.ModuleType("array_api_compat.cupy")
    monkeypatch.setitem(sys.modules, "array_api_compat", compat)
    monkeypatch.setitem(sys.modules, "array_api_compat.cupy", compat.cupy)


def test_the_stand_in_gpu_is_offered_when_everything_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_cupy(monkeypatch, gpus=2)
    _fake_compat(monkeypatch)
    assert ndgrad.devices()[-2:] == ["cuda:0", "cuda:1"]
    assert ndgrad.cuda.is_available() and ndgrad.cuda.device_count() == 2


@pytest.mark.parametrize(
    ("hidden", "package"),
    [(("array_api_compat", "array_api_compat.cupy"), "array-api-compat"), (("cupyx",), "cupy")],
)
def test_cuda_is_not_offered_when_a_dependency_does_not_import(
    monkeypatch: pytest.MonkeyPatch, hidden: tuple[str, ...], package: str
) -> None:
    _fake_cupy(monkeypatch)
    _fake_compat(monkeypatch)
    for module in hidden:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    assert not ndgrad.cuda.is_available() and ndgrad.cuda.device_count() == 0
    assert ndgrad.devices() == ["cpu", "strict"]
    with pytest.raises(ndgrad.DeviceError) as info:
        ndgrad.zeros(2, device="cuda")
    message = str(info.value)
    assert f"{package} does not import" in message and hidden[0] in message
    assert "ndgrad[cuda]" in message and "Available devices: cpu, strict" in message


def test_a_cupy_without_a_driver_offers_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cupy(monkeypatch)
    _fake_compat(monkeypatch)

    def no_driver() -> int:
        raise RuntimeError("cudaErrorInsufficientDriver")

    sys.modules["cupy"].cuda.runtime.getDeviceCount = no_driver
    assert ndgrad.devices() == ["cpu", "strict"] and not ndgrad.cuda.is_available()
    with pytest.raises(ndgrad.DeviceError, match="0 CUDA device"):
        ndgrad.zeros(2, device="cuda:0")
