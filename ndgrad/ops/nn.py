"""Fused operations for networks, each faster or more stable than its composition:
softmax and log-softmax over an axis.
"""

from __future__ import annotations

from typing import Any

from .._shapes import normalize_axis
from .._tensor import Tensor
from ..autograd.op import Op
from .logits import record
from .reduce import sum


class Softmax(Op):
    uses_output = True
    axis: tuple[int, ...]  # one axis, or () for a 0-d tensor

    def forward(self, xp: Any, x: Any) -> Any:
        if x.size == 0:
            return xp.asarray(x, copy=True)
        e = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        e /= self.backend.sum(e, self.axis, True)
        return e

    def backward(self, g: Tensor) -> tuple:
        y = self.out
        return (y * (g - sum(g * y, self.axis, keepdims=True)),)


class LogSoftmax(Op):
    uses_output = True
    axis: tuple[int, ...]  # one axis, or () for a 0-d tensor

    def forward(self, xp: Any, x: Any) -> Any:
        if x.size == 0:
            return xp.asarray(x, copy=True)
        z = x - xp.max(x, axis=self.axis, keepdims=True)
        return z - xp.log(self.backend.sum(xp.exp(z), self.axis, True))

    def backward(self, g: Tensor) -> tuple:
        return (g - self.out.exp() * sum(g, self.axis, keepdims=True),)


def _axis(x: Tensor, axis: int, op: str) -> tuple[int, ...]:
    a = normalize_axis(axis, x.ndim, op)
    return (a,) if x.ndim else ()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`: probabilities that sum to 1, of x's shape ((2, 3)
    gives (2, 3), each row summing to 1 with the default ``axis=-1``)."""
    axes = _axis(x, axis, "softmax")
    out = Softmax.apply(x, axis=axes)
    if x.ndim and axes == (x.ndim - 1,):
        record(out, "softmax", x)  # for a cross-entropy of the probabilities (losses.py)
    return out


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) along `axis`, computed stably; of x's shape."""
    return LogSoftmax.apply(x, axis=_axis(x, axis, "log_softmax"))
