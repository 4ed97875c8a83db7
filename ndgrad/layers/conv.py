"""Conv2D on channels-last images (batch, height, width, channels), as Keras."""

from __future__ import annotations

import math
from typing import Any

from .. import activations, initializers
from .._tensor import Tensor
from ..ops.conv import conv2d
from ..ops.windows import pair as _pair
from .core import _name
from .layer import Layer, Shape


class Conv2D(Layer):
    """`filters` kernels of `kernel_size` slid over the image: im2col + one matrix product.

    kernel (KH, KW, in_channels, filters), bias (filters,).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: Any = 1,
        padding: str = "valid",
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same'. Received {padding!r}")
        self.padding = padding
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        initializers.get(kernel_initializer), initializers.get(bias_initializer)  # fail early
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 4:
            from ..errors import ShapeError

            raise ShapeError(
                f"Conv2D '{self.name}': expected inputs (batch, height, width, channels). "
                f"Received shape {input_shape}"
            )
        self.kernel = self.add_weight(
            (*self.kernel_size, input_shape[-1], self.filters),
            self.kernel_initializer,
            name="kernel",
        )
        self.bias = (
            self.add_weight((self.filters,), self.bias_initializer, name="bias")
            if self.use_bias
            else None
        )

    def call(self, inputs: Tensor) -> Tensor:
        if self.activation is activations.relu:  # fused: relu in place on the product
            return conv2d(inputs, self.kernel, self.bias, self.strides, self.padding, relu=True)
        return self.activation(conv2d(inputs, self.kernel, self.bias, self.strides, self.padding))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        n, h, w, _ = input_shape
        return (
            n,
            *(
                _out(s, k, st, self.padding)
                for s, k, st in zip((h, w), self.kernel_size, self.strides)
            ),
            self.filters,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _name(self.kernel_initializer),
            "bias_initializer": _name(self.bias_initializer),
        }


def _out(size: int | None, k: int, s: int, padding: str) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return math.ceil(size / s)
    return (size - k) // s + 1
