"""Pooling on channels-last images: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D."""

from __future__ import annotations

from typing import Any

from .. import ops
from .._tensor import Tensor
from ..ops.pooling import avg_pool2d, max_pool2d
from ..ops.windows import pair as _pair
from .conv import _out
from .layer import Layer, Shape


class _Pooling2D(Layer):
    def __init__(
        self, pool_size: Any = 2, strides: Any = None, padding: str = "valid", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "strides")
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same'")
        self.padding = padding

    def _check_input(self, x: Tensor) -> None:
        """Pooling takes any image size."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, h, w, c = input_shape
        return (
            n,
            *(
                _out(s, k, st, self.padding)
                for s, k, st in zip((h, w), self.pool_size, self.strides)
            ),
            c,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class MaxPooling2D(_Pooling2D):
    """The maximum of each pool_size window (strides default to pool_size)."""

    def call(self, inputs: Tensor) -> Tensor:
        return max_pool2d(inputs, self.pool_size, self.strides, self.padding)


class AveragePooling2D(_Pooling2D):
    """The mean of each pool_size window."""

    def call(self, inputs: Tensor) -> Tensor:
        return avg_pool2d(inputs, self.pool_size, self.strides, self.padding)


class GlobalAveragePooling2D(Layer):
    """(batch, H, W, C) -> (batch, C): the mean over all positions."""

    def call(self, inputs: Tensor) -> Tensor:
        return ops.mean(inputs, (1, 2))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], input_shape[-1])
