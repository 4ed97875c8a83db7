"""`clipnorm` and `global_clipnorm` take one of two paths, by `Backend.host_reads_free`: a
host backend (cpu, strict) reads the scale and hands a gradient that needs no clipping on as
it is; a device (CuPy; here `_Device`, the CPU standing in for one) never reads a number and
scales every gradient, by 1 where it needs no clipping. Both give the same bits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.backends.numpy import NumpyBackend


class _Device(NumpyBackend):
    """The CPU standing in for a device on which reading a number waits for the device
    (`host_reads_free` False, as CuPy), counting its reads; with the CPU's fused kernels."""

    kind = "device"
    host_reads_free = False

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def to_numpy(self, array: Any) -> np.ndarray:
        self.reads += 1
        return super().to_numpy(array)


_Device.fused_updates = NumpyBackend.fused_updates  # the same updates as the CPU's


class _Seeing(optimizers.SGD):
    """SGD noting each gradient array that its update is handed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Any] = []

    def update(self, xp: Any, w: Any, g: Any, state: dict, scratch: tuple, lr: float) -> None:
        self.seen.append(g)
        super().update(xp, w, g, state, scratch, lr)


def _seen(device: Any, **clipping: float) -> tuple[list[Any], list[Any]]:
    """(the gradient arrays given to apply, those the update was handed): norms 5 and 1,
    jointly sqrt(26)."""
    grads = [ndgrad.tensor([3.0, 4.0], device=device), ndgrad.tensor([1.0], device=device)]
    opt = _Seeing(1.0, **clipping)
    opt.apply(grads, [ndgrad.zeros(2, device=device), ndgrad.zeros(1, device=device)])
    return [g.data for g in grads], opt.seen


@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_a_host_backend_hands_on_the_gradients_that_need_no_clipping(device: str) -> None:
    assert ndgrad.zeros(1, device=device).backend.host_reads_free
    given, seen = _seen(device, clipnorm=10.0)
    assert seen[0] is given[0] and seen[1] is given[1]  # no pass over them
    given, seen = _seen(device, clipnorm=2.0)  # the first is clipped, the second is not
    assert seen[0] is not given[0] and seen[1] is given[1]
    given, seen = _seen(device, global_clipnorm=6.0)
    assert seen[0] is given[0] and seen[1] is given[1]
    given, seen = _seen(device, global_clipnorm=5.0)  # all are scaled together
    assert seen[0] is not given[0] and seen[1] is not given[1]


def test_a_device_scales_every_gradient_and_reads_nothing() -> None:
    dev = _Device()
    for clipping in ({"clipnorm": 10.0}, {"global_clipnorm": 6.0}):
        dev.reads = 0
        given, seen = _seen(dev, **clipping)
        assert dev.reads == 0  # a GPU never waits for the clipping
        assert all(s is not g for s, g in zip(seen, given))  # scaled, by 1
        np.testing.assert_array_equal(seen[0], given[0])


def test_both_paths_give_the_same_bits() -> None:
    """Adam over four steps of gradients from far below to far above the limits (one NaN),
    float32 (a weight large enough for the compiled kernel) and float64, on the CPU and on
    the stand-in device (which scales every gradient, as clipping always did)."""
    shapes = [(300, 70), (70,), (5, 3), ()]
    for dtype in ("float32", "float64"):
        for clipping in (
            {"clipnorm": 0.01},
            {"clipnorm": 50.0},
            {"global_clipnorm": 0.01},
            {"global_clipnorm": 5.0},
            {"global_clipnorm": 1e9},
        ):
            results = []
            for device in ("cpu", _Device()):
                rng = np.random.default_rng(1)
                ws = [ndgrad.tensor(rng.standard_normal(s), dtype=dtype, device=device)
                      for s in shapes]  # fmt: skip
                opt = optimizers.Adam(0.01, **clipping)
                for scale in (1e-3, 1.0, 30.0, 1e5):
                    gs = [scale * rng.standard_normal(s) for s in shapes]
                    gs[2][0, 0] = np.nan if scale == 30.0 else gs[2][0, 0]
                    opt.apply([ndgrad.tensor(g, dtype=dtype, device=device) for g in gs], ws)
                results.append([w.numpy() for w in ws])
            for cpu, dev in zip(*results):
                assert cpu.tobytes() == dev.tobytes(), (dtype, clipping)
