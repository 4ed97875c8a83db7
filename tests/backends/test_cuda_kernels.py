"""The CuPy backend's own kernels (`backends/cupy/kernels.py`) against the NumPy reference:
fused optimizer steps against each optimizer's array-API `update` run on NumPy arrays, and
col2im, the winning pooling tap and the gradient route against the Array-API fallbacks run on
the CPU. GPU tests: skipped with "no CUDA device" where CUDA is not usable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.backends import get_backend
from ndgrad.backends.array_api.nn import NN

pytestmark = pytest.mark.gpu

OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "sgd nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "rmsprop momentum centered": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "rmsprop centered": lambda: optimizers.RMSprop(0.01, centered=True),
    "adam": lambda: optimizers.Adam(0.01),
    "adam amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
}
TOLERANCE = {"float32": 2e-6, "float64": 1e-13}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fused_steps_match_the_update_on_numpy(
    name: str, dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpu = get_backend("cpu")
    monkeypatch.setattr(type(cpu), "fused_updates", {})  # the array-API `update`: the reference
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((37, 5)).astype(dtype)
    grads = [rng.standard_normal((37, 5)).astype(dtype) for _ in range(4)]
    results = {}
    for device in ("cpu", "cuda"):
        w = ndgrad.tensor(w0, dtype=dtype, device=device)
        opt = OPTIMIZERS[name]()
        for g in grads:
            opt.apply([ndgrad.tensor(g, dtype=dtype, device=device).data], [w])
        state = [ndgrad.tensor(a, device=device).numpy() for a in opt.variables]
        results[device] = (w.numpy(), state)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=tol, atol=tol)
    for got, want in zip(results["cuda"][1], results["cpu"][1]):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_fused_steps_are_one_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    from ndgrad.backends.cupy import kernels

    calls: list[str] = []
    adam = kernels.adam

    def counting(amsgrad: bool) -> Any:
        kernel = adam(amsgrad)

        def launch(*args: Any) -> Any:
            calls.append(kernel.name)
            return kernel(*args)

        return launch

    monkeypatch.setattr(kernels, "adam", counting)
    w = ndgrad.ones(10, 10, device="cuda")
    opt = optimizers.Adam()
    opt.apply([ndgrad.ones(10, 10, device="cuda").data], [w])
    assert calls == ["ndgrad_adam"]
    h = ndgrad.ones(4, dtype="float16", device="cuda")  # float16: the array-API update
    optimizers.Adam().apply([ndgrad.ones(4, dtype="float16", device="cuda").data], [h])
    assert calls == ["ndgrad_adam"] and h.dtype.name == "float16"


GEOMETRIES = [((2, 7, 9, 3), (3, 3), (1, 1)), ((1, 8, 8, 4), (2, 2), (2, 2)),
              ((3, 9, 6, 2), (3, 2), (2, 1)), ((1, 5, 5, 1), (5, 5), (1, 1))]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("shape", "size", "strides"), GEOMETRIES)
def test_col2im_and_the_pooling_route_match_the_fallbacks(
    shape: tuple, size: tuple, strides: tuple, dtype: str, cupy: Any
) -> None:
    gpu, cpu = get_backend("cuda"), get_backend("cpu")
    rng = np.random.default_rng(1)
    (kh, kw), (sh, sw) = size, strides
    oh, ow = (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1
    cols = rng.standard_normal((shape[0] * oh * ow, kh * kw * shape[3])).astype(dtype)
    want = NN.col2im(cpu, cols, shape, size, strides)
    got = gpu.col2im(cupy.asarray(cols), shape, size, strides)
    np.testing.assert_array_equal(got.get(), want)  # the same adds in the same order

    x = rng.integers(-3, 3, shape).astype(dtype)  # ties: the first tap must win
    x.reshape(-1)[::17] = np.nan
    y, _ = NN.max_pool(cpu, x, size, strides)
    arg = NN.max_pool_arg(cpu, x, y, size, strides)
    got_arg = gpu.max_pool_arg(cupy.asarray(x), cupy.asarray(y), size, strides)
    assert got_arg.dtype == arg.dtype
    np.testing.assert_array_equal(got_arg.get(), arg)

    g = rng.standard_normal(y.shape).astype(dtype)
    want = NN.route_scatter(cpu, g, arg, size, strides, shape)
    got = gpu.route_scatter(cupy.asarray(g), cupy.asarray(arg), size, strides, shape)
    np.testing.assert_array_equal(got.get(), want)
    want = NN.route_gather(cpu, x, arg, size, strides)
    got = gpu.route_gather(cupy.asarray(x), cupy.asarray(arg), size, strides)
    np.testing.assert_array_equal(got.get(), want)


@pytest.fixture
def cupy() -> Any:
    import cupy

    return cupy
