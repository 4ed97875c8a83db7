"""Preprocessing inside the model: `Normalization` standardizes features, so a saved model
takes raw measurements (``Rescaling`` in `core` does the same for pixels)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import ops
from .._tensor import Tensor, bump_version
from ..creation import tensor
from ..errors import ShapeError
from .layer import Layer, Shape


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), epsilon)`` per feature (the last axis), as Keras.

    Give `mean` and `variance` (one number, or one per feature) or call `adapt(data)` to
    compute them from training data. They are non-trainable weights, saved with the model.

    >>> import ndgrad
    >>> norm = ndgrad.layers.Normalization()
    >>> norm.adapt([[1.0, 10.0], [3.0, 30.0]])
    >>> norm(ndgrad.tensor([[2.0, 50.0]]))
    tensor([[0., 3.]], shape=(1, 2), dtype=float32)
    """

    def __init__(
        self,
        mean: float | Sequence[float] | None = None,
        variance: float | Sequence[float] | None = None,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization: give both mean and variance, or neither (then call adapt). "
                f"Received mean={mean!r}, variance={variance!r}"
            )
        self.mean_value = None if mean is None else _as_list(mean)
        self.variance_value = None if variance is None else _as_list(variance)
        self.epsilon = float(epsilon)

    def build(self, input_shape: Shape) -> None:
        features = input_shape[-1] if input_shape else None
        if features is None:
            raise ShapeError(
                f"Normalization: the last axis (the features) must have a known size. "
                f"Received input shape {tuple(input_shape)}"
            )
        self.mean = self.add_weight((features,), "zeros", trainable=False, name="mean")
        self.variance = self.add_weight((features,), "ones", trainable=False, name="variance")
        if self.mean_value is not None:
            self._set(self.mean_value, self.variance_value)

    def adapt(self, data: Any) -> None:
        """Set mean and variance to those of `data` (samples, ..., features) per feature."""
        x = data.astype(self.dtype) if isinstance(data, Tensor) else tensor(data, dtype=self.dtype)
        if x.ndim < 1 or not x.size:
            raise ShapeError(f"Normalization.adapt: needs a non-empty array. Received {x.shape}")
        if not self.built:  # as a lazy build: the statistics live where the data is
            self._set_device(x.device)
        x = x.to(self.device)
        self._ensure_built(x.shape)
        axes = tuple(range(x.ndim - 1))
        self._set(x.mean(axis=axes).tolist(), x.var(axis=axes).tolist())

    def _set(self, mean: Any, variance: Any) -> None:
        n = self.mean.shape[0]
        values = []
        for name, v in (("mean", mean), ("variance", variance)):
            t = tensor([v] * n if isinstance(v, (int, float)) else v, dtype=self.dtype,
                       device=self.device)
            if t.shape != (n,):
                raise ShapeError(
                    f"Normalization: {name} must be one number or one per feature ({n}). "
                    f"Received shape {t.shape}"
                )
            values.append(t)
        for w, t in zip((self.mean, self.variance), values):
            w.data = t.data
            bump_version(w)

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs if inputs.dtype.is_floating else inputs.astype(self.dtype)
        return (x - self.mean) / ops.maximum(ops.sqrt(self.variance), self.epsilon)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "mean": self.mean_value,
            "variance": self.variance_value,
            "epsilon": self.epsilon,
        }


def _as_list(v: float | Sequence[float]) -> float | list[float]:
    return float(v) if isinstance(v, (int, float)) else [float(x) for x in v]
