"""Stochastic gradient descent, with optional (Nesterov) momentum, in Keras 3's formulation.

>>> import ndgrad
>>> from ndgrad.optimizers import SGD
>>> w = ndgrad.tensor([1.0])
>>> opt = SGD(learning_rate=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.apply([ndgrad.tensor([0.5])], [w])
>>> round(w.item(), 4)  # 1 - 0.05, then - (0.9 * 0.05 + 0.05)
0.855
"""

from __future__ import annotations

from typing import Any

from .optimizer import LearningRate, Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with momentum.

    Update rule (Keras 3), with gradient ``g``, learning rate ``lr`` and velocity ``m``
    (initially 0):

    - ``momentum == 0``: ``w = w - lr * g``
    - otherwise: ``m = momentum * m - lr * g``, then ``w = w + m``, or with
      ``nesterov=True``: ``w = w + momentum * m - lr * g`` (using the new ``m``).

    Compared with ``torch.optim.SGD(lr, momentum, nesterov=...)``: PyTorch keeps
    ``buf = momentum * buf + g`` (first step ``buf = g``) and steps ``w -= lr * buf``
    (Nesterov: ``w -= lr * (g + momentum * buf)``). Keras's velocity is ``-lr * buf``: the sign
    is flipped and the learning rate is folded in at each step. With a constant learning rate
    the two give the same weights; with a schedule, Keras scales each gradient by the rate of
    its own step while PyTorch scales the whole buffer by the current rate. PyTorch's
    ``dampening`` has no Keras counterpart (it is 0 here).

    `weight_decay` is decoupled (``w -= lr * wd * w`` before the step). PyTorch's SGD
    ``weight_decay`` is an L2 term added to the gradient (``g += wd * w``); the two agree
    without momentum and differ with it.
    """

    _default_name = "SGD"
    _scratch_count = 1

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)  # weight_decay, clipping, name: Optimizer
        if isinstance(momentum, bool) or not (
            isinstance(momentum, (int, float)) and 0 <= momentum <= 1
        ):
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum else ()

    def update(
        self, xp: Any, w: Any, g: Any, state: dict, scratch: tuple, learning_rate: float
    ) -> None:
        (s,) = scratch
        s[...] = g
        s *= learning_rate  # s = lr * g
        if not self.momentum:
            w -= s
            return
        m, momentum = state["momentum"], self.momentum
        m *= momentum
        m -= s  # m = momentum * m - lr * g
        if self.nesterov:
            w -= s
            s[...] = m
            s *= momentum
            w += s  # w += momentum * m - lr * g
        else:
            w += m

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
