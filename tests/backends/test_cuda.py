"""CUDA through CuPy: run where ``ndgrad.cuda.is_available()``; skipped (the one allowed skip)
with the reason "no CUDA device" elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers

pytestmark = pytest.mark.gpu


def test_ops_and_gradients_match_the_cpu() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    results = {}
    for device in ("cpu", "cuda"):
        x = ndgrad.tensor(a, dtype="float64", device=device, requires_grad=True)
        w = ndgrad.tensor(b, dtype="float64", device=device, requires_grad=True)
        loss = ndgrad.softmax(ndgrad.relu(x @ w), -1)[:, [0, 0, 2]].sum()
        loss.backward()
        results[device] = (loss.item(), x.grad.numpy(), w.grad.numpy())
    assert results["cuda"][0] == pytest.approx(results["cpu"][0])
    np.testing.assert_allclose(results["cuda"][1], results["cpu"][1], rtol=1e-10)
    np.testing.assert_allclose(results["cuda"][2], results["cpu"][2], rtol=1e-10)


def test_to_and_device_errors() -> None:
    t = ndgrad.ones(3).to("cuda")
    assert t.device == "cuda:0"
    with pytest.raises(ndgrad.DeviceError, match="cpu, cuda:0"):
        ndgrad.ones(3) + t
    assert t.cpu().device == "cpu"


def test_model_trains_on_the_gpu() -> None:
    ndgrad.manual_seed(0)
    x = ndgrad.rand(256, 8)
    y = (x.sum(axis=1) > 4).astype("int64")
    model = Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                        layers.Dense(2, activation="softmax")]).to("cuda")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert all(w.device == "cuda:0" for w in model.weights)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_convolution_on_the_gpu_matches_the_cpu() -> None:
    rng = np.random.default_rng(1)
    img, k = rng.standard_normal((2, 9, 9, 3)), rng.standard_normal((3, 3, 3, 4))
    out = {}
    for device in ("cpu", "cuda"):
        x = ndgrad.tensor(img, dtype="float64", device=device)
        w = ndgrad.tensor(k, dtype="float64", device=device)
        out[device] = ndgrad.max_pool2d(ndgrad.conv2d(x, w, padding="same")).numpy()
    np.testing.assert_allclose(out["cuda"], out["cpu"], rtol=1e-10)
