"""Convolution on channels-last images (N, H, W, C), as Keras lays them out.

`conv2d` of a 3x3 kernel with stride 1 takes the backend's Winograd path when it has one
(`ops/winograd.py`: the NumPy backend, float32, kernels on); every other convolution, and
that one with ``NDGRAD_KERNELS=numpy``, is im2col + one matrix product (`ops/windows.py`):
`Im2Col` copies every KH x KW window into a row and the kernel becomes a
(KH*KW*C, F) matrix. A first layer's input gets no gradient work at all.
"""

from __future__ import annotations

from .._tensor import Tensor
from ..errors import ShapeError
from .fused import linear
from .pooling import avg_pool2d, max_pool2d  # noqa: F401  (importable from here, as before)
from .shape import reshape
from .windows import Im2Col, out_size, pair, prepare
from .winograd import Conv3x3, Conv3x3Relu


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
    s = pair(strides, "strides")
    x = prepare(x, (kh, kw), s, padding, "conv2d")
    n, h, w, _ = x.shape
    if (kh, kw, *s) == (3, 3, 1, 1) and x.backend.winograd(x.data, f):
        op = Conv3x3Relu if relu else Conv3x3  # Winograd: im2col stays the reference
        return op.apply(x, kernel) if bias is None else op.apply(x, kernel, bias)
    cols = Im2Col.apply(x, size=(kh, kw), strides=s)
    out = linear(cols, reshape(kernel, (kh * kw * c, f)), bias, relu=relu)
    return reshape(out, (n, out_size(h, kh, s[0]), out_size(w, kw, s[1]), f))
