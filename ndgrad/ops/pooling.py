"""Max pooling through backend primitives: the window maxima, and the tap that won each window.

Forward is the backend's `max_pool`: the maximum of KH*KW strided views (a backend may also
return each window's winning tap, ``i * KW + j``; otherwise backward finds the winners with
`max_pool_arg`, a compiled pass on the CPU). The gradient goes to one maximum per window, the
first in row-major order (as PyTorch), through `RouteScatter`; its adjoint `RouteGather` makes
the rule differentiable again.
"""

from __future__ import annotations

from typing import Any

from .._tensor import Tensor
from ..autograd.op import Op


class MaxPool2D(Op):
    """(N, H, W, C) -> (N, OH, OW, C): the maximum of each window."""

    uses_output = True
    size: tuple[int, int]
    strides: tuple[int, int]

    def forward(self, xp: Any, x: Any) -> Any:
        out, self.arg = self.backend.max_pool(x, self.size, self.strides)
        return out

    def backward(self, g: Tensor) -> tuple:
        x = self.inputs[0].data
        arg = self.arg
        if arg is None:
            arg = self.backend.max_pool_arg(x, self.out.data, self.size, self.strides)
        return (
            RouteScatter.apply(
                g, arg=arg, size=self.size, strides=self.strides, shape=tuple(x.shape)
            ),
        )


class RouteScatter(Op):
    """g (N, OH, OW, C) added at the input position of each window's winning tap `arg`."""

    arg: Any
    size: tuple[int, int]
    strides: tuple[int, int]
    shape: tuple[int, ...]

    def forward(self, xp: Any, g: Any) -> Any:
        return self.backend.route_scatter(g, self.arg, self.size, self.strides, self.shape)

    def backward(self, gg: Tensor) -> tuple:
        return (RouteGather.apply(gg, arg=self.arg, size=self.size, strides=self.strides),)


class RouteGather(Op):
    """The adjoint of RouteScatter: each output pixel reads the input position it routes to."""

    arg: Any
    size: tuple[int, int]
    strides: tuple[int, int]

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.route_gather(x, self.arg, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        shape = tuple(self.inputs[0].data.shape)
        return (
            RouteScatter.apply(g, arg=self.arg, size=self.size, strides=self.strides, shape=shape),
        )
