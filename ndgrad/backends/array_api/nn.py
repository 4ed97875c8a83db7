"""Network primitives: im2col and its adjoint col2im, sliding windows, max pooling and its gradient
route, bias + relu in place, the relu mask, softmax cross-entropy. The Array-API fallbacks:
standard functions only, used by every backend that does not override them.
"""

from __future__ import annotations

from typing import Any

from ..family import Family


class NN(Family):
    """The nn family, written with the standard's functions only."""

    def im2col(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        """(N, H, W, C) images as rows (N*OH*OW, KH*KW*C): each row one window, copied."""
        w = self.windows(x, size, strides)
        n, oh, ow, kh, kw, c = w.shape  # no -1: it is ambiguous for an empty batch
        return self.xp.reshape(w, (n * oh * ow, kh * kw * c))

    def winograd(self, x: Any, filters: int) -> bool:
        """Whether a 3x3, stride-1 convolution of images `x` (N, H, W, C) into `filters` channels
        takes this backend's Winograd path (`winograd_conv`, `winograd_grad_tiles`,
        `winograd_input_grad`, `winograd_kernel_grad`: the NumPy backend's); the fallback has
        none, so convolutions take im2col (the reference)."""
        return False

    def windows(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        """Sliding windows of (N, H, W, C) as (N, OH, OW, KH, KW, C): stacked strided taps."""
        xp = self.xp
        kh, kw = size
        sh, sw = strides
        oh = (x.shape[1] - kh) // sh + 1
        ow = (x.shape[2] - kw) // sw + 1
        taps = [
            x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
            for i in range(kh)
            for j in range(kw)
        ]
        out = xp.stack(taps, axis=3)
        return xp.reshape(out, (x.shape[0], oh, ow, kh, kw, x.shape[3]))

    def col2im(
        self, cols: Any, shape: tuple[int, ...], size: tuple[int, int], strides: tuple[int, int]
    ) -> Any:
        """The adjoint of `im2col`: rows (N*OH*OW, KH*KW*C) added back into (N, H, W, C)."""
        n, h, w, c = shape
        (kh, kw), (sh, sw) = size, strides
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        cols = self.xp.reshape(cols, (n, oh, ow, kh, kw, c))
        out = self.xp.zeros(shape, dtype=cols.dtype, device=self.native_device)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i, i + sh * (oh - 1) + 1, sh)
                columns = slice(j, j + sw * (ow - 1) + 1, sw)
                self.add_into(
                    out, (slice(None), rows, columns, slice(None)), cols[:, :, :, i, j, :]
                )
        return out

    def max_pool(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> tuple:
        """Max over windows of (N, H, W, C): (out (N, OH, OW, C), arg or None).

        `arg` names the winning tap of each window (``i * KW + j``, the first in row-major
        order); None when this backend leaves it to `max_pool_arg`, computed in backward.
        """
        out = None
        for tap in self._pool_taps(x.shape, size, strides):
            out = (
                self.xp.asarray(x[tap], copy=True) if out is None else self.xp.maximum(out, x[tap])
            )
        return out, None

    def max_pool_arg(self, x: Any, y: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        """The winning tap of each window (int8 or int32, shaped like `y`) from x and y = max."""
        xp = self.xp
        dtype = xp.int8 if size[0] * size[1] <= 127 else xp.int32
        arg = xp.zeros(y.shape, dtype=dtype, device=self.native_device)
        taken = None
        for t, tap in enumerate(self._pool_taps(x.shape, size, strides)):
            hit = x[tap] == y
            if taken is not None:
                hit = xp.logical_and(hit, xp.logical_not(taken))
                taken = xp.logical_or(taken, hit)
            else:
                taken = hit
            if t:
                arg = xp.where(hit, xp.asarray(t, dtype=dtype, device=self.native_device), arg)
        return arg

    def route_scatter(
        self, g: Any, arg: Any, size: tuple[int, int], strides: tuple[int, int], shape: tuple
    ) -> Any:
        """Zeros of `shape` (N, H, W, C) with each g (N, OH, OW, C) added at its window's `arg`."""
        xp = self.xp
        out = xp.zeros(shape, dtype=g.dtype, device=self.native_device)
        for t, tap in enumerate(self._pool_taps(shape, size, strides, g.shape[1:3])):
            self.add_into(out, tap, self.masked(g, arg == t))
        return out

    def route_gather(
        self, x: Any, arg: Any, size: tuple[int, int], strides: tuple[int, int]
    ) -> Any:
        """The adjoint of `route_scatter`: each window's `arg` position of x (N, H, W, C)."""
        out = None
        for t, tap in enumerate(self._pool_taps(x.shape, size, strides, arg.shape[1:3])):
            part = self.masked(x[tap], arg == t)
            out = part if out is None else out + part
        return out

    @staticmethod
    def _pool_taps(
        shape: tuple, size: tuple[int, int], strides: tuple[int, int], out_hw: Any = None
    ) -> list[tuple]:
        """One basic index per window tap: the view of that tap for every output pixel."""
        (kh, kw), (sh, sw) = size, strides
        oh, ow = out_hw or ((shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1)
        return [
            (
                slice(None),
                slice(i, i + sh * (oh - 1) + 1, sh),
                slice(j, j + sw * (ow - 1) + 1, sw),
                slice(None),
            )
            for i in range(kh)
            for j in range(kw)
        ]

    def bias_act_(self, y: Any, b: Any, relu: bool) -> None:
        """``y += b`` (b may be None) then, if `relu`, ``y = max(y, 0)``, in place on y (M, N)."""
        if b is not None:
            y += b
        if relu:
            self.relu_(y)

    def relu_mask(self, g: Any, y: Any) -> Any:
        """g where y > 0, else 0: relu's gradient read from its output y."""
        return self.masked(g, y > 0)

    def softmax_xent(self, logits: Any, labels: Any) -> tuple[Any, Any]:
        """Per-row ``log(sum(exp(z))) - z[label]`` of logits (N, C) and the softmax (N, C)."""
        xp = self.xp
        z = logits - xp.max(logits, axis=-1, keepdims=True)
        e = xp.exp(z)
        s = self.sum(e, (-1,), True)
        picked = xp.take_along_axis(z, xp.reshape(labels, (-1, 1)), axis=-1)
        return xp.reshape(xp.log(s) - picked, (-1,)), e / s
