"""Convolution and pooling on channels-last images (N, H, W, C), as Keras lays them out.

`conv2d` of a 3x3 kernel with stride 1 takes the backend's Winograd path when it has one
(`ops/winograd.py`: the NumPy backend, float32, kernels on); every other convolution, and
that one with ``NDGRAD_KERNELS=numpy``, is im2col + one matrix product: `Im2Col` copies
every KH x KW window into a row, and its adjoint `Col2Im` adds rows back into image positions
(backend primitives: one compiled pass on the CPU, a loop over the KH*KW kernel taps
elsewhere). Each is the other's gradient, so convolutions are differentiable to any order and
a first layer's input gets no gradient work at all. Average pooling with stride == pool size
is a crop, a reshape and a mean (no copy forward); max pooling is the backend's `max_pool`
primitive (`ops/pooling.py`).
"""

from __future__ import annotations

import math
from typing import Any

from .._tensor import Tensor
from ..autograd.op import Op
from ..errors import ShapeError
from . import reduce as _reduce
from .fused import linear
from .pooling import MaxPool2D
from .shape import pad, reshape
from .winograd import Conv3x3, Conv3x3Relu


def _out_size(n: int, k: int, s: int) -> int:
    return (n - k) // s + 1


class Im2Col(Op):
    """(N, H, W, C) -> (N*OH*OW, KH*KW*C): one row per output pixel."""

    size: tuple[int, int]
    strides: tuple[int, int]

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.im2col(x, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        return (
            Col2Im.apply(g, size=self.size, strides=self.strides, shape=self.inputs[0].data.shape),
        )


class Col2Im(Op):
    """The adjoint of Im2Col: rows (N*OH*OW, KH*KW*C) summed back into (N, H, W, C)."""

    size: tuple[int, int]
    strides: tuple[int, int]
    shape: tuple[int, ...]

    def forward(self, xp: Any, cols: Any) -> Any:
        return self.backend.col2im(cols, self.shape, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        return (Im2Col.apply(g, size=self.size, strides=self.strides),)


def _pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them. Received {v!r}")
    return pair


def _same(n: int, k: int, s: int) -> tuple[int, int]:
    """Keras 'same' padding (before, after): the output has ceil(n / s) positions."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _prepare(
    x: Tensor, size: tuple, strides: tuple, padding: str, op: str, value: float = 0.0
) -> Tensor:
    if x.ndim != 4:
        raise ShapeError(
            f"{op}: expected images (batch, height, width, channels). Received {x.shape}"
        )
    if padding == "same":
        ph, pw = _same(x.shape[1], size[0], strides[0]), _same(x.shape[2], size[1], strides[1])
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


def conv2d(
    x: Tensor,
    kernel: Tensor,
    bias: Tensor | None = None,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
    relu: bool = False,
) -> Tensor:
    """2-D convolution: x (N, H, W, C), kernel (KH, KW, C, F), bias (F,) -> (N, OH, OW, F);
    `relu` applies relu in place on the result (one node)."""
    if kernel.ndim != 4 or x.ndim == 4 and kernel.shape[2] != x.shape[3]:
        raise ShapeError(
            f"conv2d: expected a kernel (KH, KW, {x.shape[-1]}, filters) for inputs with "
            f"{x.shape[-1]} channels. Received x={x.shape}, kernel={kernel.shape}"
        )
    kh, kw, c, f = kernel.shape
    s = _pair(strides, "strides")
    x = _prepare(x, (kh, kw), s, padding, "conv2d")
    n, h, w, _ = x.shape
    if (kh, kw, *s) == (3, 3, 1, 1) and x.backend.winograd(x.data, f):
        op = Conv3x3Relu if relu else Conv3x3  # Winograd: im2col stays the reference
        return op.apply(x, kernel) if bias is None else op.apply(x, kernel, bias)
    cols = Im2Col.apply(x, size=(kh, kw), strides=s)
    out = linear(cols, reshape(kernel, (kh * kw * c, f)), bias, relu=relu)
    return reshape(out, (n, _out_size(h, kh, s[0]), _out_size(w, kw, s[1]), f))


class Windows(Op):
    """(N, H, W, C) -> (N, OH, OW, KH, KW, C) windows (overlapping average pooling); adjoint
    Col2Im."""

    size: tuple[int, int]
    strides: tuple[int, int]

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.windows(x, self.size, self.strides)

    def backward(self, g: Tensor) -> tuple:
        n, oh, ow = g.shape[:3]
        cols = reshape(g, (n * oh * ow, -1))
        return (
            Col2Im.apply(
                cols, size=self.size, strides=self.strides, shape=self.inputs[0].data.shape
            ),
        )


def _avg_pool(x: Tensor, pool_size: Any, strides: Any, padding: str) -> Tensor:
    size = _pair(pool_size, "pool_size")
    s = size if strides is None else _pair(strides, "strides")
    x = _prepare(x, size, s, padding, "avg_pool2d")
    n, h, w, c = x.shape
    oh, ow = _out_size(h, size[0], s[0]), _out_size(w, size[1], s[1])
    if s == size:  # non-overlapping: crop, reshape (no copy) and reduce
        if (oh * size[0], ow * size[1]) != (h, w):
            x = x[:, : oh * size[0], : ow * size[1], :]
        blocks = reshape(x, (n, oh, size[0], ow, size[1], c))
        return _reduce.mean(blocks, (2, 4))
    return _reduce.mean(Windows.apply(x, size=size, strides=s), (3, 4))


def max_pool2d(
    x: Tensor, pool_size: Any = 2, strides: Any = None, padding: str = "valid"
) -> Tensor:
    """Max over pool_size windows of (N, H, W, C) images; strides default to pool_size.

    'same' padding never wins a window (it is -inf for floats), as in Keras.
    """
    fill = float("-inf") if x.dtype.is_floating else (x.min().item() if x.size else 0)
    size = _pair(pool_size, "pool_size")
    s = size if strides is None else _pair(strides, "strides")
    x = _prepare(x, size, s, padding, "max_pool2d", fill)
    return MaxPool2D.apply(x, size=size, strides=s)


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
    from ..autograd.grad_mode import no_grad
    from ..creation import ones

    with no_grad():  # the fraction of each window that lies on the image: a constant
        inside = _avg_pool(
            ones((1, *x.shape[1:3], 1), dtype=out.dtype, device=x.backend),
            pool_size,
            strides,
            padding,
        )
    return out / inside
