"""Pooling on channels-last images (N, H, W, C): `max_pool2d` and `avg_pool2d`.

Average pooling with stride == pool size is a crop, a reshape and a mean (no copy forward);
overlapping average pooling copies its windows (`Windows`). Max pooling's forward is the
backend's `max_pool`: the maximum of KH*KW strided views (a backend may also return each
window's winning tap, ``i * KW + j``; otherwise backward finds the winners with `max_pool_arg`,
a compiled pass on the CPU). The gradient goes to one maximum per window, the
first in row-major order (as PyTorch), through `RouteScatter`; its adjoint `RouteGather` makes
the rule differentiable again.
"""

from __future__ import annotations

from typing import Any

from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..autograd.op import Op
from ..creation import ones
from . import reduce as _reduce
from .shape import reshape
from .windows import Windows, out_size, pair, prepare


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


def max_pool2d(
    x: Tensor, pool_size: Any = 2, strides: Any = None, padding: str = "valid"
) -> Tensor:
    """Max over pool_size windows of (N, H, W, C) images; strides default to pool_size.

    'same' padding never wins a window (it is -inf for floats), as in Keras.
    """
    fill = float("-inf") if x.dtype.is_floating else (x.min().item() if x.size else 0)
    size = pair(pool_size, "pool_size")
    s = size if strides is None else pair(strides, "strides")
    x = prepare(x, size, s, padding, "max_pool2d", fill)
    return MaxPool2D.apply(x, size=size, strides=s)


def _avg_pool(x: Tensor, pool_size: Any, strides: Any, padding: str) -> Tensor:
    size = pair(pool_size, "pool_size")
    s = size if strides is None else pair(strides, "strides")
    x = prepare(x, size, s, padding, "avg_pool2d")
    n, h, w, c = x.shape
    oh, ow = out_size(h, size[0], s[0]), out_size(w, size[1], s[1])
    if s == size:  # non-overlapping: crop, reshape (no copy) and reduce
        if (oh * size[0], ow * size[1]) != (h, w):
            x = x[:, : oh * size[0], : ow * size[1], :]
        blocks = reshape(x, (n, oh, size[0], ow, size[1], c))
        return _reduce.mean(blocks, (2, 4))
    return _reduce.mean(Windows.apply(x, size=size, strides=s), (3, 4))


def avg_pool2d(
    x: Tensor, pool_size: Any = 2, strides: Any = None, padding: str = "valid"
) -> Tensor:
    """Mean over pool_size windows of (N, H, W, C) images.

    With 'same' padding each window averages only the image positions it covers (padding is
    not counted), as in Keras.
    """
    out = _avg_pool(x, pool_size, strides, padding)
    if padding != "same" or x.ndim != 4:
        return out
    with no_grad():  # the fraction of each window that lies on the image: a constant
        inside = _avg_pool(
            ones((1, *x.shape[1:3], 1), dtype=out.dtype, device=x.backend),
            pool_size,
            strides,
            padding,
        )
    return out / inside
