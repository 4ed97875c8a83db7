"""float32 stays float32 on every backend, whatever its array namespace's reductions do.

array-api-compat before 1.9 (the CUDA backend's `xp`) sums and multiplies float32 arrays in
float64, as the standard's 2022 edition asked. `OldCompat` is a NumPy backend whose namespace
does the same and which takes the Array-API fallbacks for `sum` and `prod`: a float32 model's
outputs, loss, gradients and optimizer state must still all be float32 there, so no op, no
loss and not the engine's broadcast reduction calls the namespace's `sum` or `prod` directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, losses
from ndgrad.backends.array_api.math import Math
from ndgrad.backends.numpy import NumpyBackend


class _UpcastingNumpy:
    """NumPy, with array-api-compat 1.8's `sum` and `prod`: float32 in, float64 out."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def _dtype(x: Any, dtype: Any) -> Any:
        return np.float64 if dtype is None and x.dtype == np.float32 else dtype

    def sum(self, x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        return np.sum(x, axis=axis, dtype=self._dtype(x, dtype), keepdims=keepdims)

    def prod(self, x: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
        return np.prod(x, axis=axis, dtype=self._dtype(x, dtype), keepdims=keepdims)


class OldCompat(NumpyBackend):
    kind = "oldcompat"
    xp = _UpcastingNumpy()
    sum = Math.sum  # the fallbacks, as a backend without reductions of its own
    prod = Math.prod


def test_the_stand_in_namespace_upcasts_as_old_array_api_compat() -> None:
    a = np.ones(3, dtype=np.float32)
    assert OldCompat.xp.sum(a).dtype == np.float64 and OldCompat.xp.prod(a).dtype == np.float64


@pytest.mark.parametrize("reduce", ["sum", "prod"])
def test_the_fallback_reductions_keep_float32_and_numpys_integer_rules(reduce: str) -> None:
    dev = OldCompat()
    fn = getattr(dev, reduce)
    assert fn(np.ones((2, 3), dtype=np.float32), (1,), False).dtype == np.float32
    assert fn(np.ones((2, 3), dtype=np.float64), (0, 1), True).dtype == np.float64
    assert fn(np.ones(3, dtype=np.int32), (0,), False).dtype == np.int64  # as NumPy


def _model() -> Sequential:
    ndgrad.manual_seed(0)
    return Sequential([
        layers.Input((6, 6, 2)),
        layers.Conv2D(3, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(5, activation="softmax"),
    ])  # fmt: skip


def test_a_float32_model_computes_in_float32_on_the_stand_in() -> None:
    dev = OldCompat()
    model = _model().to(dev)
    rng = np.random.default_rng(0)
    x = ndgrad.tensor(rng.standard_normal((4, 6, 6, 2)), dtype="float32", device=dev)
    y = ndgrad.tensor([0, 3, 1, 4], device=dev)
    onehot = ndgrad.tensor(np.eye(5)[[0, 3, 1, 4]], dtype="float32", device=dev)
    with ndgrad.GradientTape() as tape:
        probs = model(x)
        logits = model.layers[-1].kernel.sum(axis=0) + probs  # a broadcast: the engine's SumTo
        loss = (
            losses.sparse_categorical_crossentropy(y, probs).mean()
            + losses.categorical_crossentropy(onehot, logits, from_logits=True).mean()
            + ndgrad.log_softmax(logits, -1).max(axis=1).sum()
            + (probs + 1.0).prod(axis=1).sum()
        )
    grads = tape.gradient(loss, model.trainable_weights)
    assert probs.backend is dev
    found = {
        "outputs": probs.dtype.name,
        "loss": loss.dtype.name,
        **{f"gradient {i}": g.dtype.name for i, g in enumerate(grads)},
    }
    assert set(found.values()) == {"float32"}, found


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_training_keeps_weights_and_optimizer_state_in_float32_on_the_stand_in(name: str) -> None:
    dev = OldCompat()
    model = _model().to(dev)
    opt = ndgrad.optimizers.get(name) if name != "sgd" else ndgrad.optimizers.SGD(momentum=0.9)
    rng = np.random.default_rng(1)
    x = ndgrad.tensor(rng.standard_normal((8, 6, 6, 2)), dtype="float32", device=dev)
    y = ndgrad.tensor(rng.integers(0, 5, 8), device=dev)
    for _ in range(2):
        with ndgrad.GradientTape() as tape:
            loss = losses.sparse_categorical_crossentropy(y, model(x)).mean()
        opt.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    assert loss.dtype.name == "float32"
    assert {w.data.dtype.name for w in model.weights} == {"float32"}
    assert {a.dtype.name for a in opt.variables} == {"float32"}
