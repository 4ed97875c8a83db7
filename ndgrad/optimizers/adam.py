"""Adam and AdamW: moment estimates with bias correction (Keras 3's formulation).

>>> import ndgrad
>>> from ndgrad.optimizers import Adam
>>> w = ndgrad.tensor([1.0, 1.0])
>>> Adam(learning_rate=0.1).apply([ndgrad.tensor([0.5, -2.0])], [w])
>>> [round(x, 4) for x in w.tolist()]  # the first Adam step is about lr * sign(g)
[0.9, 1.1]
"""

from __future__ import annotations

import math
from typing import Any

from .optimizer import LearningRate, Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), optionally AMSGrad.

    Update rule (Keras 3), at step ``t = iterations + 1`` with gradient ``g``, learning rate
    ``lr``; ``m``, ``v`` (and ``v_hat``) start at 0::

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        v_hat = max(v_hat, v);  v = v_hat             # amsgrad=True only
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - alpha * m / (sqrt(v) + epsilon)

    Compared with ``torch.optim.Adam(lr, betas=(beta_1, beta_2), eps, amsgrad)``: PyTorch
    divides by ``sqrt(v) / sqrt(1 - beta_2**t) + eps``, i.e. it adds epsilon *after* the bias
    correction of ``v``. Keras's epsilon is the paper's "epsilon hat" (section 2's efficient
    version), added before it: Keras with ``epsilon = eps * sqrt(1 - beta_2**t)`` at step ``t``
    equals PyTorch with ``eps`` exactly. With the defaults (1e-7 here, 1e-8 in PyTorch) the
    difference matters only where ``sqrt(v)`` is comparable to epsilon, e.g. for gradients
    that are (nearly) always zero; early in training Keras's effective epsilon is larger
    (``1e-7 / sqrt(1 - 0.999**t)``, ~3e-6 at ``t = 1``).
    """

    _default_name = "adam"
    _scratch_count = 2

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)  # weight_decay, clipping, name: Optimizer
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def slot_names(self) -> tuple[str, ...]:
        return ("momentum", "velocity", *(("velocity_hat",) if self.amsgrad else ()))

    def step_size(self, learning_rate: float) -> float:
        """alpha: the learning rate with both bias corrections of this step folded in."""
        step = self.iterations + 1
        b1, b2 = self.beta_1, self.beta_2
        return learning_rate * math.sqrt(1.0 - b2**step) / (1.0 - b1**step)

    def update(
        self, xp: Any, w: Any, g: Any, state: dict, scratch: tuple, learning_rate: float
    ) -> None:
        b1, b2, alpha = self.beta_1, self.beta_2, self.step_size(learning_rate)
        s, t = scratch
        m, v = state["momentum"], state["velocity"]
        s[...] = g
        s *= 1.0 - b1
        m *= b1
        m += s  # m = b1 * m + (1 - b1) * g
        s[...] = g
        s *= g
        s *= 1.0 - b2
        v *= b2
        v += s  # v = b2 * v + (1 - b2) * g**2
        if self.amsgrad:
            v_hat = state["velocity_hat"]
            v_hat[...] = xp.maximum(v_hat, v)
            v = v_hat
        s[...] = v
        s **= 0.5
        s += self.epsilon  # sqrt(v) + epsilon
        t[...] = m
        t /= s
        t *= alpha
        w -= t  # w -= alpha * m / (sqrt(v) + epsilon)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Before each Adam step: ``w = w - lr * weight_decay * w`` (computed as
    ``w *= 1 - lr * weight_decay``), the same as ``torch.optim.AdamW``'s
    ``p.mul_(1 - lr * weight_decay)``. The learning rate multiplies the decay in both
    libraries (the paper's schedule multiplier ``eta_t`` is the learning rate here). Defaults
    differ: ``weight_decay=0.004`` (Keras) vs 0.01 (PyTorch), and epsilon as for `Adam`.
    """

    _default_name = "adamw"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(
            learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            **kwargs,
        )
