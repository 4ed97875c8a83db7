"""Metrics: functions giving per-sample values and stateful `Metric` objects that average
them over an epoch, as Keras. ``"accuracy"`` picks sparse, categorical or binary accuracy from
the shapes it first sees, as Keras does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ops
from ._registry import Registry
from ._tensor import Tensor
from .autograd.grad_mode import no_grad
from .creation import tensor
from .losses import _targets


def _t(y: Any, like: Tensor) -> Tensor:
    return y if isinstance(y, Tensor) else tensor(y, device=like.backend)


def sparse_categorical_accuracy(y_true: Any, y_pred: Tensor) -> Tensor:
    """1.0 where argmax(y_pred) equals the integer label, else 0.0."""
    y_true = _t(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    hit = ops.equal(ops.argmax(y_pred, -1), y_true.astype("int64"))
    return hit.astype("float32")


def categorical_accuracy(y_true: Any, y_pred: Tensor) -> Tensor:
    """1.0 where argmax(y_pred) equals argmax(y_true) (one-hot targets)."""
    return ops.equal(ops.argmax(y_pred, -1), ops.argmax(_t(y_true, y_pred), -1)).astype("float32")


def binary_accuracy(y_true: Any, y_pred: Tensor, threshold: float = 0.5) -> Tensor:
    """Mean over the last axis of (y_pred > threshold) == y_true."""
    y_true = _targets(y_true, y_pred).astype("float32")  # (N,) labels for (N, 1) outputs
    hit = ops.equal((y_pred > threshold).astype("float32"), y_true)
    return ops.mean(hit.astype("float32"), -1)


def mean_absolute_error(y_true: Any, y_pred: Tensor) -> Tensor:
    return ops.mean(ops.abs(_targets(y_true, y_pred) - y_pred), -1)


def mean_squared_error(y_true: Any, y_pred: Tensor) -> Tensor:
    d = _targets(y_true, y_pred) - y_pred
    return ops.mean(d * d, -1)


mae, mse = mean_absolute_error, mean_squared_error


def _accuracy_for(y_true: Tensor, y_pred: Tensor) -> Callable[..., Tensor]:
    """Keras's choice for "accuracy": binary for one output, sparse for integer labels."""
    if y_pred.ndim and y_pred.shape[-1] == 1:
        return binary_accuracy
    if y_true.ndim < y_pred.ndim or y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


class Metric:
    """The running mean of a per-sample metric: `update_state`, `result`, `reset_state`.

    The running sum `total` stays on the device of the values (a 0-d float64 Tensor, None
    before the first update), so `update_state` never waits for a GPU; `result()` reads it.
    `count` (a number of values, known from shapes) lives on the host.
    """

    def __init__(self, fn: Callable[..., Tensor] | None, name: str) -> None:
        self.fn, self.name = fn, name
        self.reset_state()

    def reset_state(self) -> None:
        self.total: Tensor | None = None
        self.count = 0

    def update_state(self, y_true: Any, y_pred: Tensor) -> None:
        with no_grad():
            y_true = _t(y_true, y_pred)
            if self.fn is None:
                self.fn = _accuracy_for(y_true, y_pred)
            values = self.fn(y_true, y_pred)
            # float64: the same sum a Python float made when each batch's sum was read
            batch = ops.sum(values).astype("float64")
            self.total = (self.total if self.total is not None else 0.0) + batch
            self.count += values.size

    def result(self) -> float:
        """The mean so far (0.0 before any value): reads the total from the device."""
        return result_of(self.total.item() if self.total is not None else 0.0, self.count)

    def __repr__(self) -> str:
        return f"<Metric {self.name}={self.result():.4f}>"


def result_of(total: float, count: int) -> float:
    """A metric's mean from its `total` (read from the device) and `count`."""
    return total / count if count else 0.0


METRICS: Registry[Callable[..., Tensor] | None] = Registry(
    "metric",
    {
        "accuracy": None,
        "acc": None,
        "sparse_categorical_accuracy": sparse_categorical_accuracy,
        "categorical_accuracy": categorical_accuracy,
        "binary_accuracy": binary_accuracy,
        "mae": mean_absolute_error,
        "mean_absolute_error": mean_absolute_error,
        "mse": mean_squared_error,
        "mean_squared_error": mean_squared_error,
    },
)


def get(identifier: str | Metric | Callable[..., Tensor]) -> Metric:
    """A fresh Metric for a name ('accuracy', 'mae', ...), a function, or a Metric."""
    if isinstance(identifier, Metric):
        return identifier
    if callable(identifier):
        return Metric(identifier, getattr(identifier, "__name__", "metric"))
    fn, key = METRICS.lookup(identifier), str(identifier).lower()
    return Metric(fn, "accuracy" if key == "acc" else key)
