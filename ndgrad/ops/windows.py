"""Windows of channels-last images (N, H, W, C): the shape rules and copies that convolution
and pooling share.

`pair` reads a size or stride argument, `prepare` checks an image batch and pads it for
``padding="same"`` (Keras's rule: ceil(n / stride) output positions), `out_size` gives the
number of window positions. `Im2Col` copies every KH x KW window into a row, and its adjoint
`Col2Im` adds rows back into image positions (backend primitives: one compiled pass on the
CPU, a loop over the KH*KW kernel taps elsewhere); each is the other's gradient, so everything
built on them is differentiable to any order. `Windows` is the same copy kept as
(N, OH, OW, KH, KW, C), for overlapping average pooling.
"""

from __future__ import annotations

import math
from typing import Any

from .._tensor import Tensor
from ..autograd.op import Op
from ..errors import ShapeError
from .shape import pad, reshape


def out_size(n: int, k: int, s: int) -> int:
    """Positions of a window of size `k` moved by stride `s` over `n` (already padded) pixels."""
    return (n - k) // s + 1


def pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    """`v` as (height, width): an int is used for both; `name` is the argument, for errors."""
    both = (v, v) if isinstance(v, int) else tuple(v)
    if len(both) != 2 or min(both) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them. Received {v!r}")
    return both[0], both[1]


def same(n: int, k: int, s: int) -> tuple[int, int]:
    """Keras 'same' padding (before, after): the output has ceil(n / s) positions."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def prepare(
    x: Tensor, size: tuple, strides: tuple, padding: str, op: str, value: float = 0.0
) -> Tensor:
    """`x` (N, H, W, C) checked for the op named `op` and padded with `value` for 'same'."""
    if x.ndim != 4:
        raise ShapeError(
            f"{op}: expected images (batch, height, width, channels). Received {x.shape}"
        )
    if padding == "same":
        ph, pw = same(x.shape[1], size[0], strides[0]), same(x.shape[2], size[1], strides[1])
        if ph != (0, 0) or pw != (0, 0):
            x = pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)
    elif padding != "valid":
        raise ValueError(f"{op}: padding must be 'valid' or 'same'. Received {padding!r}")
    if x.shape[1] < size[0] or x.shape[2] < size[1]:
        raise ShapeError(
            f"{op}: the window {size} is larger than the (padded) image {x.shape[1:3]}; "
            f"use padding='same' or a smaller window"
        )
    return x


class Im2Col(Op):
    """(N, H, W, C) -> (N*OH*OW, KH*KW*C): one row per output pixel."""

    size: tuple[int, int]
    strides: tuple[int, int]
    in_shape: tuple[int, ...]

    def forward(self, xp: Any, x: Any) -> Any:
        self.in_shape = tuple(x.shape)
        return self.backend.im2col(x, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        return (Col2Im.apply(g, size=self.size, strides=self.strides, shape=self.in_shape),)


class Col2Im(Op):
    """The adjoint of Im2Col: rows (N*OH*OW, KH*KW*C) summed back into (N, H, W, C)."""

    size: tuple[int, int]
    strides: tuple[int, int]
    shape: tuple[int, ...]

    def forward(self, xp: Any, cols: Any) -> Any:
        return self.backend.col2im(cols, self.shape, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        return (Im2Col.apply(g, size=self.size, strides=self.strides),)


class Windows(Op):
    """(N, H, W, C) -> (N, OH, OW, KH, KW, C) windows (overlapping average pooling); adjoint
    Col2Im."""

    size: tuple[int, int]
    strides: tuple[int, int]
    in_shape: tuple[int, ...]

    def forward(self, xp: Any, x: Any) -> Any:
        self.in_shape = tuple(x.shape)
        return self.backend.windows(x, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        n, oh, ow = g.shape[:3]
        cols = reshape(g, (n * oh * ow, -1))
        return (Col2Im.apply(cols, size=self.size, strides=self.strides, shape=self.in_shape),)
