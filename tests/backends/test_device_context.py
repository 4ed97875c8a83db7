"""The device context (`Backend.activate`) is entered wherever arrays are made or computed.

CuPy allocates and launches on its *current* GPU, whatever device the arrays or ``device=``
say, so a tensor on ``cuda:1`` computed outside ``with backend.activate():`` lands on GPU 0.
No GPU is needed to check the callers: `Recording` is a NumPy backend whose namespace `xp`
records every function called outside its context, as a second GPU would go wrong there.
`HostSyncs` is a NumPy backend whose arrays refuse implicit conversion to Python numbers (a
GPU would wait there), so the host transfers an op makes are counted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import layers, optimizers
from ndgrad.backends.numpy import NumpyBackend


class _Namespace:
    """NumPy, noting each function its backend's code calls outside `activate()`."""

    def __init__(self, backend: Recording) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        attr = getattr(np, name)
        if not callable(attr) or isinstance(attr, type):  # dtypes, classes, constants
            return attr
        backend = self._backend

        def call(*args: Any, **kwargs: Any) -> Any:
            if backend.armed and not backend.depth:
                backend.outside.append(name)
            return attr(*args, **kwargs)

        return call


class Recording(NumpyBackend):
    """A NumPy backend that behaves like a GPU other than the current one."""

    kind = "recording"
    needs_activation = True
    host_reads_free = False  # a device: reading a number waits for it

    def __init__(self) -> None:
        self.xp = _Namespace(self)
        self.armed, self.depth, self.outside, self.entered = False, 0, [], 0
        super().__init__()
        self.armed = True

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        self.depth += 1
        self.entered += 1
        try:
            yield
        finally:
            self.depth -= 1

    def random(self, kind: str, shape: tuple[int, ...], dtype: Any, **kw: Any) -> Any:
        if not self.depth:
            self.outside.append(f"random({kind})")
        return super().random(kind, shape, dtype, **kw)


@pytest.fixture
def dev() -> Recording:
    return Recording()


def _check(dev: Recording, work: Callable[[], object]) -> None:
    dev.outside.clear()
    work()
    assert dev.outside == [], f"called outside the device context: {dev.outside}"
    assert dev.depth == 0


def test_the_recording_backend_sees_calls_outside_its_context(dev: Recording) -> None:
    dev.xp.zeros(2)
    assert dev.outside == ["zeros"]
    with dev.activate():
        dev.xp.ones(2)
    assert dev.outside == ["zeros"] and dev.depth == 0


CREATION = {
    "tensor": lambda d: ndgrad.tensor([1.0, 2.0], device=d),
    "zeros": lambda d: ndgrad.zeros(2, 3, device=d),
    "ones": lambda d: ndgrad.ones(2, device=d),
    "full": lambda d: ndgrad.full((2,), fill_value=3.0, device=d),
    "zeros_like": lambda d: ndgrad.zeros_like(ndgrad.tensor([1.0], device=d)),
    "arange": lambda d: ndgrad.arange(5, device=d),
    "linspace": lambda d: ndgrad.linspace(0.0, 1.0, 5, device=d),
    "eye": lambda d: ndgrad.eye(3, device=d),
}
RANDOM = {
    "rand": lambda d: ndgrad.rand(2, 3, device=d),
    "randn": lambda d: ndgrad.randn(4, device=d),
    "uniform": lambda d: ndgrad.uniform(3, low=-1.0, high=1.0, device=d),
    "normal": lambda d: ndgrad.normal(3, mean=1.0, std=2.0, device=d),
    "randint": lambda d: ndgrad.randint(0, 5, (3,), device=d),
    "permutation": lambda d: ndgrad.permutation(6, device=d),
}


@pytest.mark.parametrize("name", sorted(CREATION))
def test_creation_runs_inside_the_context(dev: Recording, name: str) -> None:
    _check(dev, lambda: CREATION[name](dev))
    assert CREATION[name](dev).backend is dev


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_numbers_are_drawn_inside_the_context(dev: Recording, name: str) -> None:
    _check(dev, lambda: RANDOM[name](dev))


def test_ops_and_their_gradients_run_inside_the_context(dev: Recording) -> None:
    rng = np.random.default_rng(0)
    x = ndgrad.tensor(rng.standard_normal((2, 6, 6, 3)), device=dev, requires_grad=True)
    k = ndgrad.tensor(rng.standard_normal((3, 3, 3, 4)), device=dev, requires_grad=True)
    labels = ndgrad.tensor([1, 3], device=dev)

    def work() -> None:
        y = ndgrad.max_pool2d(ndgrad.relu(ndgrad.conv2d(x, k)))
        logits = y.reshape(2, -1)[:, [0, 5, 7, 7]]
        loss = ndgrad.ops.fused.sparse_softmax_cross_entropy(logits, labels).sum()
        loss = loss + ndgrad.erf(logits).sum() + ndgrad.clip(logits, -1.0, 1.0).sum()
        loss = loss + ndgrad.sign(logits).sum() + ndgrad.einsum("ij,ij->", logits, logits)
        loss.backward()

    _check(dev, work)
    assert x.grad.backend is dev and k.grad.shape == (3, 3, 3, 4)


def test_the_engine_seeds_and_accumulates_inside_the_context(dev: Recording) -> None:
    a = ndgrad.tensor([1.0, 2.0], device=dev, requires_grad=True)
    b = ndgrad.tensor([3.0, 4.0], device=dev, requires_grad=True)
    _check(dev, lambda: (a * a).sum().backward())  # seed: ones_like
    _check(dev, lambda: (a + b).sum().backward())  # one gradient array, two leaves: a copy
    assert a.grad.tolist() == [3.0, 5.0] and b.grad.tolist() == [1.0, 1.0]


def test_create_graph_accumulates_inside_the_context(dev: Recording) -> None:
    a = ndgrad.tensor([1.0, 2.0], device=dev, requires_grad=True)

    def work() -> None:
        (a * a).sum().backward(create_graph=True)
        (a * a).sum().backward(create_graph=True)  # into the first .grad, recorded

    _check(dev, work)
    assert a.grad.requires_grad and a.grad.tolist() == [4.0, 8.0]
    grad = a.grad
    a.grad = None
    _check(dev, lambda: grad.sum().backward())
    assert a.grad.tolist() == [4.0, 4.0]  # d/da of 2 * sum(2a)


def test_assignment_runs_inside_the_context(dev: Recording) -> None:
    t = ndgrad.zeros(4, device=dev)
    _check(dev, lambda: t.__setitem__([1, 1, 3], ndgrad.tensor([1.0, 2.0, 3.0], device=dev)))
    assert t.tolist() == [0.0, 2.0, 0.0, 3.0]


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_optimizer_state_and_updates_run_inside_the_context(dev: Recording, name: str) -> None:
    ndgrad.manual_seed(0)
    layer = layers.Dense(3)
    layer(ndgrad.ones(2, 4))
    layer.to(dev)
    opt = optimizers.get(name) if name != "sgd" else optimizers.SGD(momentum=0.9)
    opt.clipvalue = 1.0

    def step() -> None:
        with ndgrad.GradientTape() as tape:
            loss = (layer(ndgrad.ones(2, 4, device=dev)) ** 2).sum()
        grads = tape.gradient(loss, layer.trainable_weights)
        opt.apply(grads, layer.trainable_weights)

    _check(dev, step)  # builds the state
    _check(dev, step)
    assert all(a.shape == w.shape for a, w in zip(opt.variables, layer.trainable_weights * 9))


def test_moving_between_devices_copies_device_to_device() -> None:
    a, b = Recording(), Recording()
    copies: list[tuple[str, str]] = []

    def transfer(array: Any, source: Any) -> Any:
        copies.append((source.name, "b"))
        return np.array(array)

    b.transfer = transfer  # type: ignore[method-assign]
    x = ndgrad.tensor([1.0, 2.0], device=a, requires_grad=True)
    y = x.to(b)
    assert copies == [(a.name, "b")] and y.backend is b and y.tolist() == [1.0, 2.0]


# -- host synchronisations ---------------------------------------------------------------------
class _DeviceArray(np.ndarray):
    """An array whose values reach the host only through its backend's `to_numpy`. Results
    computed from it are device arrays too, 0-d ones included (NumPy would hand back scalars,
    which convert to Python numbers silently)."""

    def _sync(self, *args: Any) -> Any:
        raise RuntimeError("an implicit host synchronisation")

    __int__ = __float__ = __bool__ = __index__ = _sync

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        return np.asarray(array).view(type(self))


class HostSyncs(NumpyBackend):
    kind = "hostsyncs"
    host_reads_free = False  # a device: reading a number waits for it

    def __init__(self) -> None:
        super().__init__()
        self.transfers = 0

    def asarray(self, data: Any, dtype: Any = None, copy: bool | None = None) -> Any:
        return super().asarray(data, dtype, copy).view(_DeviceArray)

    def to_numpy(self, array: Any) -> np.ndarray:
        self.transfers += 1
        return np.asarray(array).view(np.ndarray)


def test_label_range_check_costs_one_host_transfer() -> None:
    dev = HostSyncs()
    logits = ndgrad.tensor(np.random.default_rng(0).standard_normal((4, 3)), device=dev)
    labels = ndgrad.tensor([0, 2, 1, 2], device=dev)
    assert isinstance(labels.data, _DeviceArray)
    loss = ndgrad.ops.fused.sparse_softmax_cross_entropy(logits, labels)
    assert dev.transfers == 1 and loss.shape == (4,)
    with ndgrad.ops.fused.labels_checked():  # the caller checked them (as fit does): no read
        ndgrad.ops.fused.sparse_softmax_cross_entropy(logits, labels)
        ndgrad.losses.sparse_categorical_crossentropy(labels, ndgrad.sigmoid(logits))
    assert dev.transfers == 1
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*\[3, 7\]"):
        ndgrad.ops.fused.sparse_softmax_cross_entropy(
            logits, ndgrad.tensor([0, 3, 7, -0], device=dev)
        )


# -- uploads and synchronisation -----------------------------------------------------------------
class _Uploads:
    """array-api-strict, noting the dtype of every host array handed to `asarray`."""

    def __init__(self) -> None:
        import array_api_strict

        self._xp = array_api_strict
        self.dtypes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._xp, name)

    def asarray(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, np.ndarray):
            self.dtypes.append(data.dtype.name)
        return self._xp.asarray(data, **kwargs)


def test_float64_host_data_for_a_float32_tensor_is_cast_on_the_host() -> None:
    from ndgrad.backends.array_api.strict import StrictBackend

    class Uploading(StrictBackend):
        kind = "uploading"
        xp = _Uploads()

    dev = Uploading()
    dev.xp.dtypes.clear()
    t = ndgrad.tensor(np.linspace(0.0, 1.0, 5), dtype="float32", device=dev)
    assert t.dtype is ndgrad.float32 and dev.xp.dtypes == ["float32"]  # never float64
    assert t.tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    dev.xp.dtypes.clear()
    model = layers.Dense(2)
    model(ndgrad.ones(1, 3))
    model.to(dev)
    assert set(dev.xp.dtypes) == {"float32"}
    dev.xp.dtypes.clear()
    t = ndgrad.tensor(np.arange(3.0), device=dev)  # no dtype asked: float32, ndgrad's default
    assert t.dtype is ndgrad.float32 and dev.xp.dtypes == ["float32"]
    dev.xp.dtypes.clear()
    t = ndgrad.tensor(np.arange(3.0), dtype="float64", device=dev)
    assert t.dtype is ndgrad.float64 and dev.xp.dtypes == ["float64"]


def test_host_array_casts_only_when_asked() -> None:
    from ndgrad.backends.base import host_array

    a = np.arange(4.0)
    assert host_array(a, None) is a and host_array(a, ndgrad.float64) is a
    b = host_array(a, ndgrad.float32)
    assert b.dtype == np.float32 and b.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_cuda_synchronize_waits_for_every_gpu_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from ndgrad.backends import registry

    waited: list[str] = []

    class Gpu(NumpyBackend):
        kind = "cuda"

        def synchronize(self) -> None:
            waited.append(self.name)

    gpus = {("cuda", i): Gpu(i) for i in (0, 2)}
    monkeypatch.setattr(registry, "_instances", {("cpu", 0): NumpyBackend(), **gpus})
    ndgrad.cuda.synchronize()
    assert waited == ["cuda:0", "cuda:2"]
    waited.clear()
    monkeypatch.setattr(registry, "_instances", {("cpu", 0): NumpyBackend()})
    ndgrad.cuda.synchronize()  # no GPU used: nothing to wait for
    assert waited == []
