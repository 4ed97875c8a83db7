"""3x3, stride-1 convolutions by the backend's Winograd path (the NumPy backend's
F(4x4, 3x3), `backends/numpy/kernels/winograd.py`), for the backends that have one: three ops,
each the others' gradient, so second derivatives work as through im2col (the reference,
`ops/conv.py`, which every other convolution takes).

- `Conv3x3(x, w[, b])`: ``relu?(conv(x, w) + b)``, x (N, H, W, C), w (3, 3, C, F) ->
  (N, H-2, W-2, F) (padding is applied before, by `conv2d`).
- `Conv3x3InputGrad(g, w)`: the input gradient, g (N, OH, OW, F) -> (N, OH+2, OW+2, C).
- `Conv3x3KernelGrad(x, g)`: the kernel gradient -> (3, 3, C, F).

The forward keeps its transformed input and kernel (`saved`) for the gradients, and the
backward transforms the output gradient once (`dm`) for both: parameters of the gradient ops,
computed from their own inputs, so a gradient op applied again (second order) recomputes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._tensor import Tensor
from ..autograd.op import Op
from .elementwise import ReluGrad
from .reduce import sum

if TYPE_CHECKING:  # the one backend with a Winograd path (conv2d asks `backend.winograd`)
    from ..backends.numpy import NumpyBackend


class Conv3x3(Op):
    """``conv(x, w) + b`` for a 3x3 kernel, stride 1, valid (channels last)."""

    backend: NumpyBackend
    relu = False
    saved: Any = None  # the transformed input and kernel, kept for the gradients

    def forward(self, xp: Any, x: Any, w: Any, b: Any = None) -> Any:
        y, self.saved = self.backend.winograd_conv(x, w, b, self.relu)
        return y

    def backward(self, g: Tensor) -> tuple:
        x, w = self.inputs[:2]
        need = self.needs_grad
        if self.relu:
            g = ReluGrad.apply(g, y=self._out_data)
        dm = self.backend.winograd_grad_tiles(g.data) if need[0] and need[1] else None
        saved = self.saved
        gx = Conv3x3InputGrad.apply(g, w, dm=dm, saved=saved) if need[0] else None
        gw = Conv3x3KernelGrad.apply(x, g, dm=dm, saved=saved) if need[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, sum(g, (0, 1, 2)) if need[2] else None


class Conv3x3Relu(Conv3x3):
    """``relu(conv(x, w) + b)`` in one node: bias and relu applied by the output transform."""

    uses_output = True
    relu = True


class Conv3x3InputGrad(Op):
    """The input gradient of `Conv3x3`: g (N, OH, OW, F), w (3, 3, C, F) -> (N, OH+2, OW+2, C).
    Linear in each input: d/dg is the convolution of the cotangent with w, d/dw the kernel
    gradient of the cotangent and g."""

    backend: NumpyBackend
    dm: Any = None  # g's transformed tiles, when the backward that applied this computed them
    saved: Any = None  # the forward's transformed input and kernel

    def forward(self, xp: Any, g: Any, w: Any) -> Any:
        return self.backend.winograd_input_grad(g, w, self.dm, self.saved)

    def backward(self, h: Tensor) -> tuple:
        g, w = self.inputs
        need = self.needs_grad
        return (
            Conv3x3.apply(h, w) if need[0] else None,
            Conv3x3KernelGrad.apply(h, g) if need[1] else None,
        )


class Conv3x3KernelGrad(Op):
    """The kernel gradient of `Conv3x3`: x (N, H, W, C), g (N, H-2, W-2, F) -> (3, 3, C, F).
    d/dx is the input gradient of g under the cotangent kernel, d/dg the convolution of x
    with it."""

    backend: NumpyBackend
    dm: Any = None  # g's transformed tiles
    saved: Any = None  # the forward's transformed input and kernel

    def forward(self, xp: Any, x: Any, g: Any) -> Any:
        return self.backend.winograd_kernel_grad(x, g, self.dm, self.saved)

    def backward(self, h: Tensor) -> tuple:
        x, g = self.inputs
        need = self.needs_grad
        return (
            Conv3x3InputGrad.apply(g, h) if need[0] else None,
            Conv3x3.apply(x, h) if need[1] else None,
        )
