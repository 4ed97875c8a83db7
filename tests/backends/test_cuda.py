"""CUDA through CuPy: run where ``ndgrad.cuda.is_available()``; skipped (the one allowed skip)
with the reason "no CUDA device" elsewhere. Tests marked ``gpu(devices=2)`` need a second GPU
(``cuda:1``) and say so where there is only one.

The whole op, autograd, layer, loss, optimizer and fit suite also runs on ``cuda:0`` through
the `backend` fixture; the tests here cover what only a GPU has: CuPy's own kernels in place of
array-api-compat's host-synchronising ones, the device-side generator, and work for ``cuda:1``
staying on GPU 1 while GPU 0 is current.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, optimizers
from ndgrad.backends import get_backend
from ndgrad.backends.base import Backend
from ndgrad.ops.fused import sparse_softmax_cross_entropy

pytestmark = pytest.mark.gpu


@pytest.fixture
def cupy() -> Any:
    import cupy

    return cupy


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("this slow path must not be taken on a GPU")


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
                        layers.Dropout(0.1), layers.Dense(2, activation="softmax")]).to("cuda")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    ndgrad.cuda.synchronize()
    assert all(w.device == "cuda:0" for w in model.weights)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_convolution_on_the_gpu_matches_the_cpu() -> None:
    """Values and gradients (of the image, kernel and bias, through the fused relu and a
    max-pool, for a random cotangent) agree with the CPU's."""
    rng = np.random.default_rng(1)
    img, k = rng.standard_normal((2, 9, 9, 3)), rng.standard_normal((3, 3, 3, 4))
    bias, cotangent = rng.standard_normal(4), rng.standard_normal((2, 4, 4, 4))
    out, grads = {}, {}
    for device in ("cpu", "cuda"):
        x, w, b = (
            ndgrad.tensor(a, dtype="float64", device=device, requires_grad=True)
            for a in (img, k, bias)
        )
        y = ndgrad.max_pool2d(ndgrad.conv2d(x, w, b, padding="same", relu=True))
        (y * ndgrad.tensor(cotangent, dtype="float64", device=device)).sum().backward()
        out[device] = y.numpy()
        grads[device] = [t.grad.numpy() for t in (x, w, b)]
    np.testing.assert_allclose(out["cuda"], out["cpu"], rtol=1e-10)
    for got, want in zip(grads["cuda"], grads["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# -- CuPy's own kernels ----------------------------------------------------------------------
def test_clip_and_sign_use_cupys_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    xp = get_backend("cuda").xp  # array-api-compat's versions assign through masks (host syncs)
    monkeypatch.setattr(xp, "clip", _boom)
    monkeypatch.setattr(xp, "sign", _boom)
    values = [-2.5, -0.0, 0.0, 0.5, 3.0, np.nan, -np.inf]
    for dtype in ("float16", "float32", "float64"):
        a = np.array(values, dtype=dtype)
        t = ndgrad.tensor(a, dtype=dtype, device="cuda")
        for lo, hi in ((-1.0, 1.0), (None, 0.25), (-0.5, None)):
            got = ndgrad.clip(t, lo, hi)
            assert got.dtype.name == dtype
            np.testing.assert_array_equal(got.numpy(), np.clip(a, lo, hi))
        got = ndgrad.sign(t)
        assert got.dtype.name == dtype
        np.testing.assert_array_equal(got.numpy(), np.sign(a))  # NaN stays NaN
    ints = np.array([-3, 0, 7], dtype="int32")
    got = ndgrad.sign(ndgrad.tensor(ints, device="cuda"))
    assert got.dtype.name == "int32" and got.tolist() == [-1, 0, 1]
    x = ndgrad.tensor([-2.0, 0.5, 2.0], device="cuda", requires_grad=True)
    ndgrad.clip(x, -1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_erf_uses_cupyx_and_keeps_the_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Backend, "erf", _boom)  # the 31-kernel polynomial
    a = np.linspace(-4, 4, 101)
    for dtype, rtol in (("float16", 2e-3), ("float32", 1e-6), ("float64", 1e-12)):
        got = ndgrad.erf(ndgrad.tensor(a, dtype=dtype, device="cuda"))
        assert got.dtype.name == dtype
        want = np.array([math.erf(v) for v in a])
        np.testing.assert_allclose(got.numpy().astype("float64"), want, rtol=rtol, atol=rtol)


def test_einsum_lets_cupy_choose_the_contraction_order(
    monkeypatch: pytest.MonkeyPatch, cupy: Any
) -> None:
    calls: list[dict] = []
    einsum = cupy.einsum

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return einsum(*args, **kwargs)

    monkeypatch.setattr(cupy, "einsum", recording)
    rng = np.random.default_rng(2)
    a, b, c = rng.standard_normal((3, 40)), rng.standard_normal((40, 50)), rng.standard_normal(50)
    operands = [ndgrad.tensor(v, "float64", device="cuda") for v in (a, b, c)]
    got = ndgrad.einsum("ij,jk,k->i", *operands)
    np.testing.assert_allclose(got.numpy(), a @ b @ c, rtol=1e-10)
    assert calls and all(kw.get("optimize") is True for kw in calls)


def test_label_range_check_reads_the_labels_once(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = get_backend("cuda")
    reads: list[tuple] = []
    to_numpy = backend.to_numpy

    def counting(array: Any) -> np.ndarray:
        reads.append(array.shape)
        return to_numpy(array)

    monkeypatch.setattr(backend, "to_numpy", counting)
    logits = ndgrad.randn(64, 10, device="cuda")
    labels = ndgrad.randint(0, 10, (64,), device="cuda")
    sparse_softmax_cross_entropy(logits, labels)
    assert reads == [(2,)]  # min and max together: one transfer, one wait
    with ndgrad.ops.fused.labels_checked():  # checked once by the caller, as fit does: no wait
        sparse_softmax_cross_entropy(logits, labels)
    assert reads == [(2,)]
    with pytest.raises(ValueError, match=r"out-of-range labels \[-1, 10\]"):
        sparse_softmax_cross_entropy(logits[:3], ndgrad.tensor([10, -1, 3], device="cuda"))


# -- random numbers on the device ------------------------------------------------------------
def test_random_numbers_are_drawn_on_the_gpu(monkeypatch: pytest.MonkeyPatch, cupy: Any) -> None:
    backend = get_backend("cuda")
    assert isinstance(backend.rng, cupy.random.Generator)
    monkeypatch.setattr(backend, "from_numpy", _boom)  # no host draws copied over
    monkeypatch.setattr(backend, "asarray", _boom)
    ndgrad.manual_seed(3)
    u = ndgrad.rand(100_000, device="cuda")
    n = ndgrad.normal(100_000, mean=2.0, std=3.0, device="cuda")
    h = ndgrad.randn(1000, dtype="float16", device="cuda")
    i = ndgrad.randint(-3, 4, (10_000,), device="cuda")
    p = ndgrad.permutation(1000, device="cuda")
    assert (u.dtype.name, n.dtype.name, h.dtype.name) == ("float32", "float32", "float16")
    assert all(isinstance(t.data, cupy.ndarray) for t in (u, n, h, i, p))
    su, sn, si = u.numpy(), n.numpy(), i.numpy()
    assert su.min() >= 0.0 and su.max() < 1.0 and abs(su.mean() - 0.5) < 0.01
    assert abs(sn.mean() - 2.0) < 0.05 and abs(sn.std() - 3.0) < 0.05
    assert set(np.unique(si).tolist()) == set(range(-3, 4)) and i.dtype.name == "int64"
    assert sorted(p.numpy().tolist()) == list(range(1000))
    ndgrad.manual_seed(3)
    assert np.array_equal(ndgrad.rand(100_000, device="cuda").numpy(), su)  # reproducible


# -- several GPUs: work for cuda:1 happens on GPU 1 ------------------------------------------
@pytest.fixture
def gpu0_current(cupy: Any) -> Iterator[None]:
    """GPU 0 is CuPy's current device, as in any program that has not switched."""
    with cupy.cuda.Device(0):
        yield
        assert cupy.cuda.runtime.getDevice() == 0  # every context was left


def _on(t: Any, index: int) -> bool:
    return t.data.device.id == index and t.device == f"cuda:{index}"


@pytest.mark.gpu(devices=2)
def test_creation_and_random_numbers_for_cuda1_are_on_gpu1(gpu0_current: None) -> None:
    d = "cuda:1"
    made = [
        ndgrad.tensor([1.0, 2.0], device=d), ndgrad.zeros(2, 3, device=d), ndgrad.ones(2, device=d),
        ndgrad.full((2,), fill_value=7, device=d), ndgrad.arange(5, device=d),
        ndgrad.linspace(0.0, 1.0, 4, device=d), ndgrad.eye(3, device=d),
        ndgrad.zeros_like(ndgrad.ones(2, device=d)), ndgrad.rand(3, device=d),
        ndgrad.randn(3, device=d), ndgrad.randint(0, 9, (4,), device=d),
        ndgrad.permutation(6, device=d), ndgrad.uniform(2, low=-1.0, high=1.0, device=d),
    ]  # fmt: skip
    assert [t.device for t in made if not _on(t, 1)] == []
    with ndgrad.device(d):
        assert _on(ndgrad.zeros(2), 1) and _on(ndgrad.rand(2), 1)


@pytest.mark.gpu(devices=2)
def test_ops_gradients_and_optimizer_state_for_cuda1_stay_on_gpu1(gpu0_current: None) -> None:
    rng = np.random.default_rng(4)
    img, k = rng.standard_normal((2, 8, 8, 3)), rng.standard_normal((3, 3, 3, 4))
    results = {}
    for device, index in (("cpu", None), ("cuda:1", 1)):
        x = ndgrad.tensor(img, "float64", device=device, requires_grad=True)
        w = ndgrad.tensor(k, "float64", device=device, requires_grad=True)
        h = ndgrad.max_pool2d(ndgrad.relu(ndgrad.conv2d(x, w, padding="same")))
        logits = h.reshape(2, -1)[:, [0, 3, 3, 9, 12]]
        labels = ndgrad.tensor([4, 0], device=device)
        loss = sparse_softmax_cross_entropy(logits, labels).sum()
        loss = loss + ndgrad.erf(logits).sum() + ndgrad.clip(logits, -0.5, 0.5).sum()
        loss = loss + ndgrad.einsum("ij,ij->", logits, ndgrad.sign(logits)) + logits.std()
        loss.backward()
        if index is not None:
            assert all(_on(t, 1) for t in (h, logits, loss, x.grad, w.grad))
        results[device] = (loss.item(), x.grad.numpy(), w.grad.numpy())
    # the CPU's erf is a fit good to 1.2e-7; cupyx's is exact to a few ulp
    assert results["cuda:1"][0] == pytest.approx(results["cpu"][0], rel=1e-6)
    np.testing.assert_allclose(results["cuda:1"][1], results["cpu"][1], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(results["cuda:1"][2], results["cpu"][2], rtol=1e-8, atol=1e-12)

    t = ndgrad.zeros(4, device="cuda:1")
    t[[1, 1, 3]] = ndgrad.tensor([1.0, 2.0, 3.0], device="cuda:1")
    assert t.tolist() == [0.0, 2.0, 0.0, 3.0] and _on(t, 1)
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
        t[[4]]

    layer = layers.Dense(3, activation="relu")
    layer(ndgrad.ones(2, 5)).sum()
    layer.to("cuda:1")
    for opt in (optimizers.Adam(amsgrad=True), optimizers.SGD(momentum=0.9, clipnorm=0.1),
                optimizers.RMSprop(centered=True, global_clipnorm=1.0)):
        for _ in range(2):
            with ndgrad.GradientTape() as tape:
                loss = (layer(ndgrad.randn(4, 5, device="cuda:1")) ** 2).sum()
            opt.apply(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights)
        assert opt.variables and all(a.device.id == 1 for a in opt.variables)
    assert all(_on(w, 1) for w in layer.weights)


@pytest.mark.gpu(devices=2)
def test_copies_between_gpus_do_not_pass_through_the_host(
    monkeypatch: pytest.MonkeyPatch, cupy: Any, gpu0_current: None
) -> None:
    x = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda:0", requires_grad=True)
    layer = layers.Dense(2)
    layer(ndgrad.ones(1, 2, device="cuda:0"))
    opt = optimizers.Adam()
    opt.build(layer.trainable_weights)
    monkeypatch.setattr(cupy, "asnumpy", _boom)
    y = x.T.to("cuda:1")  # a non-contiguous source
    assert _on(y, 1) and isinstance(y.data, cupy.ndarray)
    (y * y).sum().backward()  # the gradient goes back GPU to GPU as well
    assert _on(x.grad, 0)
    z = ndgrad.tensor(y, device="cuda:0")
    layer.to("cuda:1")
    opt.to("cuda:1")
    monkeypatch.undo()
    assert y.tolist() == [[1.0, 3.0], [2.0, 4.0]] and x.grad.tolist() == [[2.0, 4.0], [6.0, 8.0]]
    assert _on(z, 0) and z.tolist() == y.tolist()
    assert all(_on(w, 1) for w in layer.weights) and all(a.device.id == 1 for a in opt.variables)


@pytest.mark.gpu(devices=2)
def test_arrays_of_gpu1_are_recognised(cupy: Any) -> None:
    with cupy.cuda.Device(1):
        a = cupy.arange(3.0)
    t = ndgrad.tensor(a)
    assert _on(t, 1) and t.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.gpu(devices=2)
def test_a_model_trains_on_cuda1(gpu0_current: None) -> None:
    ndgrad.manual_seed(0)
    x = ndgrad.rand(256, 8)
    y = (x.sum(axis=1) > 4).astype("int64")
    model = Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"),
                        layers.Dropout(0.1), layers.Dense(2, activation="softmax")]).to("cuda:1")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert all(_on(w, 1) for w in model.weights)
    assert all(a.device.id == 1 for a in model.optimizer.variables)
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- uploads, copies, synchronisation ---------------------------------------------------------
def test_float64_host_data_is_cast_on_the_host(monkeypatch: pytest.MonkeyPatch, cupy: Any) -> None:
    uploaded: list[str] = []
    array = cupy.array

    def recording(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, np.ndarray):
            uploaded.append(data.dtype.name)
        return array(data, *args, **kwargs)

    monkeypatch.setattr(cupy, "array", recording)
    t = ndgrad.tensor(np.linspace(0.0, 1.0, 5), device="cuda")
    u = ndgrad.tensor(np.linspace(0.0, 1.0, 5), dtype="float64", device="cuda")
    assert (t.dtype.name, u.dtype.name) == ("float32", "float64")
    assert uploaded == ["float32", "float64"]


def test_a_model_loads_back_on_its_gpu(tmp_path: Any) -> None:
    model = Sequential([layers.Input((4,)), layers.Dense(3)]).to("cuda")
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 3), "float32"), verbose=0)
    path = str(tmp_path / "m.ndgrad")
    model.save(path)
    loaded = ndgrad.load_model(path)
    assert loaded.device == "cuda:0" and all(w.device == "cuda:0" for w in loaded.weights)
    assert ndgrad.load_model(path, device="cpu").device == "cpu"


@pytest.mark.gpu(devices=2)
def test_cuda_synchronize_waits_for_both_gpus(cupy: Any) -> None:
    a = ndgrad.randn(2048, 2048, device="cuda:0")
    b = ndgrad.randn(2048, 2048, device="cuda:1")
    for _ in range(3):
        a, b = a @ a, b @ b
    ndgrad.cuda.synchronize()
    for index in (0, 1):
        with cupy.cuda.Device(index):
            assert cupy.cuda.get_current_stream().done


@pytest.mark.gpu(devices=2)
def test_copies_between_gpus_are_ordered_with_both_gpus_work(gpu0_current: None) -> None:
    x = ndgrad.randn(2048, 2048, device="cuda:0") / 45.0
    for _ in range(3):
        z = x @ x @ x  # queued on GPU 0, still running when the copy is asked for
        y = z.to("cuda:1")
        z.data *= 0  # GPU 0's next work: must not overwrite what the copy still reads
        assert _on(y, 1)
        np.testing.assert_array_equal(y.numpy(), (x @ x @ x).numpy())
