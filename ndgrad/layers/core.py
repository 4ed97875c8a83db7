"""Core layers: Input, Dense, Flatten, Dropout, Activation, Rescaling, Reshape."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import activations, initializers, ops
from .. import random as _random
from .._tensor import Tensor
from ..ops.fused import linear
from .layer import Layer, Shape


class Input(Layer):
    """Declares the input shape (without the batch axis) so that a model builds eagerly."""

    def __init__(self, shape: Shape, name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = tuple(shape)

    def call(self, inputs: Tensor) -> Tensor:
        return inputs

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "name": self.name}


InputLayer = Input


class Dense(Layer):
    """``activation(x @ kernel + bias)``: kernel (in, units), bias (units,); x (..., in)."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"Dense: units must be a positive integer. Received units={units}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        initializers.get(kernel_initializer), initializers.get(bias_initializer)  # fail early
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape: Shape) -> None:
        self.kernel = self.add_weight(
            (input_shape[-1], self.units), self.kernel_initializer, name="kernel"
        )
        self.bias = (
            self.add_weight((self.units,), self.bias_initializer, name="bias")
            if self.use_bias
            else None
        )

    def _check_input(self, x: Tensor) -> None:
        """Any number of leading axes (as Keras: min_ndim=2); the last must match the kernel."""
        if x.ndim >= 2 and x.shape[-1] == self.kernel.shape[0]:
            return
        super()._check_input(x)

    def call(self, inputs: Tensor) -> Tensor:
        if self.activation is activations.relu:  # fused: relu in place on the product
            return linear(inputs, self.kernel, self.bias, relu=True)
        return self.activation(linear(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.name_of(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _name(self.kernel_initializer),
            "bias_initializer": _name(self.bias_initializer),
        }


def _name(init: Any) -> Any:
    return init if isinstance(init, str) else getattr(init, "__name__", init)


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def call(self, inputs: Tensor) -> Tensor:
        return inputs if inputs.ndim == 2 else ops.reshape(inputs, (inputs.shape[0], -1))

    def _check_input(self, x: Tensor) -> None:
        """Flatten takes any shape."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        known = [s for s in input_shape[1:] if s is not None]
        return (input_shape[0], math.prod(known) if len(known) == len(input_shape) - 1 else None)


class Dropout(Layer):
    """Zero a fraction `rate` of inputs during training, scaling the rest by 1 / (1 - rate)."""

    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1). Received rate={rate}")
        self.rate = float(rate)

    def _check_input(self, x: Tensor) -> None:
        """Dropout takes any shape."""

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        keep = _random.uniform(inputs.shape, dtype=inputs.dtype, device=inputs.device) >= self.rate
        return inputs * (keep.astype(inputs.dtype) * (1.0 / (1.0 - self.rate)))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


class Activation(Layer):
    """Apply an activation by name or function."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def _check_input(self, x: Tensor) -> None:
        """Activations take any shape."""

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.name_of(self.activation)}


class Rescaling(Layer):
    """``inputs * scale + offset``, e.g. ``Rescaling(1 / 255)`` for pixels: integer inputs
    become the layer's dtype (float32 by default), floating inputs keep theirs."""

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def _check_input(self, x: Tensor) -> None:
        """Rescaling takes any shape."""

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs if inputs.dtype.is_floating else inputs.astype(self.dtype)
        return x * self.scale + self.offset if self.offset else x * self.scale

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Reshape(Layer):
    """Reshape each sample to `target_shape` (the batch axis is kept)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def _check_input(self, x: Tensor) -> None:
        """Reshape checks sizes itself."""

    def call(self, inputs: Tensor) -> Tensor:
        return ops.reshape(inputs, (inputs.shape[0], *self.target_shape))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
