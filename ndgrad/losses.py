"""Loss functions (per-sample values) and Keras-style loss classes (the batch mean).

Probabilities from a softmax or sigmoid layer are traced back to the logits that made them, as
Keras does, so ``Dense(10, activation="softmax")`` + ``sparse_categorical_crossentropy`` is
computed in the fused, stable form: no log(0), no overflow for logits of 1e4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ops
from ._registry import Registry
from ._shapes import broadcast_shapes
from ._tensor import Tensor
from .creation import arange, tensor
from .errors import ShapeError
from .ops.fused import check_labels, sparse_softmax_cross_entropy
from .ops.logits import logits_of

EPSILON = 1e-7


def _as_tensor(y: Any, like: Tensor) -> Tensor:
    return y if isinstance(y, Tensor) else tensor(y, device=like.backend)


def _targets(y_true: Any, y_pred: Tensor) -> Tensor:
    """y_true as a tensor of y_pred's dtype, its rank matched to y_pred's as Keras does:
    targets (N,) for predictions (N, 1) get a last axis, targets (N, 1) for (N,) lose it
    (otherwise (N,) - (N, 1) would broadcast to (N, N))."""
    y_true = _as_tensor(y_true, y_pred).astype(y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return ops.expand_dims(y_true, -1)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return ops.squeeze(y_true, -1)
    return y_true


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Tensor, from_logits: bool = False
) -> Tensor:
    """Cross-entropy of integer labels y_true (N,) or (N, 1) and predictions y_pred (N, C)."""
    y_true = _as_tensor(y_true, y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    if y_true.shape != y_pred.shape[:-1]:
        raise ShapeError(
            f"sparse_categorical_crossentropy: labels of shape {y_true.shape} do not match "
            f"predictions of shape {y_pred.shape}; expected labels {y_pred.shape[:-1]}"
        )
    logits = y_pred if from_logits else logits_of(y_pred, "softmax")
    if logits is not None:
        if logits.ndim == 2:  # (N, C) and labels (N,): the op's own shapes, no reshape nodes
            return sparse_softmax_cross_entropy(logits, y_true)
        c = logits.shape[-1]
        return ops.reshape(
            sparse_softmax_cross_entropy(ops.reshape(logits, (-1, c)), ops.reshape(y_true, (-1,))),
            y_true.shape,
        )
    c = y_pred.shape[-1]
    flat = ops.reshape(y_true, (-1,))
    check_labels(flat, c)  # as given (float labels must be whole numbers), before the cast
    flat = flat.astype("int64")
    probs = ops.clip(ops.reshape(y_pred, (-1, c)), EPSILON, 1.0 - EPSILON)
    onehot = ops.equal(ops.reshape(flat, (-1, 1)), arange(c, device=flat.backend))
    return ops.reshape(-ops.sum(ops.where(onehot, ops.log(probs), 0.0), -1), y_true.shape)


def categorical_crossentropy(
    y_true: Any, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy of one-hot (or soft) targets y_true (..., C) and y_pred (..., C)."""
    y_true = _as_tensor(y_true, y_pred).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ShapeError(
            f"categorical_crossentropy: targets {y_true.shape} and predictions {y_pred.shape} "
            f"must have the same shape (one-hot targets; use sparse_categorical_crossentropy "
            f"for integer labels)"
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    logits = y_pred if from_logits else logits_of(y_pred, "softmax")
    if logits is not None:
        return -ops.sum(y_true * ops.log_softmax(logits, -1), -1)
    probs = y_pred / ops.sum(y_pred, -1, keepdims=True)
    return -ops.sum(y_true * ops.log(ops.clip(probs, EPSILON, 1.0 - EPSILON)), -1)


def binary_crossentropy(
    y_true: Any, y_pred: Tensor, from_logits: bool = False, label_smoothing: float = 0.0
) -> Tensor:
    """Binary cross-entropy averaged over the last axis; y_true in {0, 1} (or soft)."""
    y_true = _targets(y_true, y_pred)
    broadcast_shapes(y_true.shape, y_pred.shape, op="binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = y_pred if from_logits else logits_of(y_pred, "sigmoid")
    if logits is not None:  # max(x, 0) - x * y + log(1 + exp(-|x|)), stable for any x
        per = ops.relu(logits) - logits * y_true + ops.softplus(-ops.abs(logits))
    else:
        p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    return ops.mean(per, -1)


def mean_squared_error(y_true: Any, y_pred: Tensor) -> Tensor:
    """Mean of (y_true - y_pred)**2 over the last axis."""
    d = _targets(y_true, y_pred) - y_pred
    return ops.mean(d * d, -1)


def mean_absolute_error(y_true: Any, y_pred: Tensor) -> Tensor:
    """Mean of |y_true - y_pred| over the last axis."""
    return ops.mean(ops.abs(_targets(y_true, y_pred) - y_pred), -1)


def huber(y_true: Any, y_pred: Tensor, delta: float = 1.0) -> Tensor:
    """Quadratic for |error| <= delta, linear beyond; averaged over the last axis."""
    err = ops.abs(_targets(y_true, y_pred) - y_pred)
    quad = ops.minimum(err, delta)
    return ops.mean(quad * quad * 0.5 + (err - quad) * delta, -1)


mse, mae = mean_squared_error, mean_absolute_error


class Loss:
    """A loss object: ``loss(y_true, y_pred, sample_weight=None)`` -> mean over the batch."""

    fn: Callable[..., Tensor]

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        self.name = name or _snake(type(self).__name__)
        self.kwargs = kwargs

    def call(self, y_true: Any, y_pred: Tensor) -> Tensor:
        """Per-sample losses."""
        return type(self).fn(y_true, y_pred, **self.kwargs)

    def __call__(self, y_true: Any, y_pred: Tensor, sample_weight: Any = None) -> Tensor:
        per = self.call(y_true, y_pred)
        if sample_weight is not None:
            per = per * _as_tensor(sample_weight, per).astype(per.dtype)
        return ops.mean(per)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self.kwargs}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _key(identifier: object) -> str:
    """A loss's registered name: class names in snake case, other names in lower case."""
    name = str(identifier)
    return _snake(name) if name[:1].isupper() else name.lower()


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits: bool = False, name: str | None = None) -> None:
        super().__init__(name, from_logits=from_logits)


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)

    def __init__(
        self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None
    ) -> None:
        super().__init__(name, from_logits=from_logits, label_smoothing=label_smoothing)


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)

    def __init__(
        self, from_logits: bool = False, label_smoothing: float = 0.0, name: str | None = None
    ) -> None:
        super().__init__(name, from_logits=from_logits, label_smoothing=label_smoothing)


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)


class Huber(Loss):
    fn = staticmethod(huber)

    def __init__(self, delta: float = 1.0, name: str | None = None) -> None:
        super().__init__(name, delta=delta)


LOSSES: Registry[type[Loss]] = Registry(
    "loss",
    {
        "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
        "categorical_crossentropy": CategoricalCrossentropy,
        "binary_crossentropy": BinaryCrossentropy,
        "mean_squared_error": MeanSquaredError,
        "mse": MeanSquaredError,
        "mean_absolute_error": MeanAbsoluteError,
        "mae": MeanAbsoluteError,
        "huber": Huber,
    },
    normalize=_key,
)


def get(identifier: str | Loss | Callable[..., Tensor]) -> Loss | Callable[..., Tensor]:
    """A loss from a name ('sparse_categorical_crossentropy', 'mse', ...), a Loss or a function."""
    if isinstance(identifier, Loss) or callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    return LOSSES.lookup(identifier)()
