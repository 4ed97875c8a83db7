"""RMSprop: divide the gradient by a running root-mean-square of recent gradients (Keras 3).

>>> import ndgrad
>>> from ndgrad.optimizers import RMSprop
>>> w = ndgrad.tensor([1.0])
>>> RMSprop(learning_rate=0.1).apply([ndgrad.tensor([0.5])], [w])
>>> round(w.item(), 5)  # 1 - 0.1 * 0.5 / sqrt(0.1 * 0.5**2 + 1e-7)
0.68377
"""

from __future__ import annotations

from typing import Any

from .optimizer import LearningRate, Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum.

    Update rule (Keras 3), with gradient ``g`` and learning rate ``lr``; ``v``, ``a`` and ``m``
    start at 0::

        v = rho * v + (1 - rho) * g**2
        a = rho * a + (1 - rho) * g                  # centered=True only
        d = v - a**2 + epsilon   if centered   else   v + epsilon
        increment = lr * g / sqrt(d)
        m = momentum * m + increment;  w = w - m    # momentum > 0
        w = w - increment                           # momentum == 0

    Compared with ``torch.optim.RMSprop(lr, alpha=rho, eps, momentum, centered)``:

    - epsilon: Keras adds it *inside* the square root, ``sqrt(v + eps)``; PyTorch adds it
      outside, ``sqrt(v) + eps``. With the defaults (1e-7 here, 1e-8 in PyTorch) the difference
      matters only where ``v`` is tiny (e.g. rarely-active weights): there Keras's denominator
      is at least ``sqrt(1e-7) ~ 3e-4``, PyTorch's ``1e-8``. With ``epsilon=0`` both agree.
    - momentum buffer: PyTorch keeps ``buf = momentum * buf + g / denominator`` and steps
      ``w -= lr * buf``; Keras's ``m`` already contains the learning rate (``m = lr * buf``).
      Identical for a constant learning rate; with a schedule Keras scales each increment by
      the rate of its own step.
    - defaults: ``rho=0.9`` here, ``alpha=0.99`` in PyTorch; learning rate 0.001 vs 0.01.
    """

    _default_name = "rmsprop"
    _scratch_count = 2

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)  # weight_decay, clipping, name: Optimizer
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def slot_names(self) -> tuple[str, ...]:
        return (
            "velocity",
            *(("momentum",) if self.momentum > 0 else ()),
            *(("average_gradient",) if self.centered else ()),
        )

    def update(
        self, xp: Any, w: Any, g: Any, state: dict, scratch: tuple, learning_rate: float
    ) -> None:
        rho, v = self.rho, state["velocity"]
        s, t = scratch
        s[...] = g
        s *= g
        s *= 1.0 - rho
        v *= rho
        v += s  # v = rho * v + (1 - rho) * g**2
        s[...] = v
        if self.centered:
            a = state["average_gradient"]
            t[...] = g
            t *= 1.0 - rho
            a *= rho
            a += t  # a = rho * a + (1 - rho) * g
            t[...] = a
            t *= a
            s -= t  # v - a**2
        s += self.epsilon
        s **= 0.5  # sqrt(d)
        t[...] = g
        t /= s
        t *= learning_rate  # increment = lr * g / sqrt(d)
        if self.momentum > 0:
            m = state["momentum"]
            m *= self.momentum
            m += t
            w -= m
        else:
            w -= t

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
