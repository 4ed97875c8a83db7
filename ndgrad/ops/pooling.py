"""Max pooling by kernel taps: the max of KH*KW strided views, no window copies.

Forward is ``maximum`` over the taps (each tap is the view of one window position for every
output pixel). The gradient goes to one maximum per window, the first in row-major order (as
PyTorch), through `RouteScatter`; its adjoint `RouteGather` makes the rule differentiable again.
"""

from __future__ import annotations

from typing import Any

from .._tensor import Tensor
from ..autograd.op import Op


def _tap_index(i: int, j: int, out: tuple[int, int], strides: tuple[int, int]) -> tuple:
    (oh, ow), (sh, sw) = out, strides
    rows, cols = slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)
    return (slice(None), rows, cols, slice(None))


def _taps(size: tuple[int, int]) -> list[tuple[int, int]]:
    return [(i, j) for i in range(size[0]) for j in range(size[1])]


class MaxPool2D(Op):
    """(N, H, W, C) -> (N, OH, OW, C): the maximum of each window."""

    uses_output = True
    size: tuple[int, int]
    strides: tuple[int, int]

    def forward(self, xp: Any, x: Any) -> Any:
        (kh, kw), (sh, sw) = self.size, self.strides
        self.out_hw = ((x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1)
        out = None
        for i, j in _taps(self.size):
            tap = x[_tap_index(i, j, self.out_hw, self.strides)]
            out = xp.asarray(tap, copy=True) if out is None else xp.maximum(out, tap)
        return out

    def backward(self, g: Tensor) -> tuple:
        xp, x, y = self.backend.xp, self.inputs[0].data, self.out.data
        routes, taken = [], None
        for i, j in _taps(self.size):
            hit = x[_tap_index(i, j, self.out_hw, self.strides)] == y
            if taken is not None:
                hit = xp.logical_and(hit, xp.logical_not(taken))
                taken = xp.logical_or(taken, hit)
            else:
                taken = hit
            routes.append(hit)
        return (
            RouteScatter.apply(
                g, routes=routes, size=self.size, strides=self.strides, shape=tuple(x.shape)
            ),
        )


class RouteScatter(Op):
    """g (N, OH, OW, C) sent to the input position each route (one bool mask per tap) names."""

    routes: list[Any]
    size: tuple[int, int]
    strides: tuple[int, int]
    shape: tuple[int, ...]

    def forward(self, xp: Any, g: Any) -> Any:
        out = xp.zeros(self.shape, dtype=g.dtype, device=g.device)
        hw = tuple(g.shape[1:3])
        overlap = self.strides[0] < self.size[0] or self.strides[1] < self.size[1]
        for (i, j), route in zip(_taps(self.size), self.routes):
            index = _tap_index(i, j, hw, self.strides)
            part = self.backend.masked(g, route)
            if overlap:
                self.backend.add_into(out, index, part)
            else:
                out[index] = part
        return out

    def backward(self, gg: Tensor) -> tuple:
        return (RouteGather.apply(gg, routes=self.routes, size=self.size, strides=self.strides),)


class RouteGather(Op):
    """The adjoint of RouteScatter: each output pixel reads the input position it routes to."""

    routes: list[Any]
    size: tuple[int, int]
    strides: tuple[int, int]

    def forward(self, xp: Any, x: Any) -> Any:
        hw = tuple(self.routes[0].shape[1:3])
        out = None
        for (i, j), route in zip(_taps(self.size), self.routes):
            tap = x[_tap_index(i, j, hw, self.strides)]
            part = self.backend.masked(tap, route)
            out = part if out is None else out + part
        return out

    def backward(self, g: Tensor) -> tuple:
        shape = tuple(self.inputs[0].data.shape)
        return (
            RouteScatter.apply(
                g, routes=self.routes, size=self.size, strides=self.strides, shape=shape
            ),
        )
