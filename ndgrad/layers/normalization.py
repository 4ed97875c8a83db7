"""BatchNormalization: normalise each feature by batch statistics while training and by
moving averages at inference, as Keras."""

from __future__ import annotations

from typing import Any

from .. import ops
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from .layer import Layer, Shape


class BatchNormalization(Layer):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` over all axes but `axis`.

    moving = moving * momentum + batch_statistic * (1 - momentum), updated in place.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = center, scale

    def build(self, input_shape: Shape) -> None:
        n = input_shape[self.axis]
        self.gamma = self.add_weight((n,), "ones", name="gamma", trainable=self.scale)
        self.beta = self.add_weight((n,), "zeros", name="beta", trainable=self.center)
        self.moving_mean = self.add_weight((n,), "zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(
            (n,), "ones", name="moving_variance", trainable=False
        )

    def _shape_for(self, x: Tensor) -> list[int]:
        shape = [1] * x.ndim
        shape[self.axis] = x.shape[self.axis]
        return shape

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        axis = self.axis % inputs.ndim
        reduce = tuple(a for a in range(inputs.ndim) if a != axis)
        shape = self._shape_for(inputs)
        if training:
            mean = ops.mean(inputs, reduce, keepdims=True)
            var = ops.var(inputs, reduce, keepdims=True)
            with no_grad():
                m = self.momentum
                self.moving_mean.data = (
                    self.moving_mean * m + ops.reshape(mean, (-1,)) * (1 - m)
                ).data
                self.moving_variance.data = (
                    self.moving_variance * m + ops.reshape(var, (-1,)) * (1 - m)
                ).data
        else:
            mean = ops.reshape(self.moving_mean, shape)
            var = ops.reshape(self.moving_variance, shape)
        x = (inputs - mean) / ops.sqrt(var + self.epsilon)
        return x * ops.reshape(self.gamma, shape) + ops.reshape(self.beta, shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
