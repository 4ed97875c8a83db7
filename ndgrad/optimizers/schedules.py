"""Learning-rate schedules: objects that map the optimizer's step count to a learning rate.

A schedule is called with the number of updates already applied (``optimizer.iterations``,
starting at 0) and returns a Python float. Pass one as ``learning_rate=`` to any optimizer; a
plain function ``f(step) -> float`` works too (but cannot be saved in a config). Formulas follow
Keras 3 (``keras.optimizers.schedules``).

>>> from ndgrad.optimizers import schedules
>>> decay = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> decay(0), decay(10), decay(20)
(0.1, 0.05, 0.025)
"""

from __future__ import annotations

import math
from typing import Any

from .._registry import Registry

__all__ = ["CosineDecay", "ExponentialDecay", "LearningRateSchedule", "deserialize", "serialize"]

_REGISTRY: Registry[type[LearningRateSchedule]] = Registry(
    "learning-rate schedule",
    normalize=None,
    message="Unknown {kind} {name}. Known schedules: {names}",
)


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float`` and ``get_config()``.

    Subclasses register themselves by class name, so `deserialize` rebuilds them from a config.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this schedule."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """A new schedule from `get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is floored, so the rate drops every `decay_steps` steps.

    Examples:
        >>> s = ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5, staircase=True)
        >>> [s(k) for k in (0, 3, 4, 8)]
        [1.0, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ) -> None:
        _positive("decay_steps", decay_steps)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate**p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay from `initial_learning_rate` to ``alpha * initial_learning_rate``.

    ``lr(step) = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * t / decay_steps)) + alpha)`` with
    ``t = min(step, decay_steps)``. With `warmup_target` set, the rate first rises linearly from
    `initial_learning_rate` to `warmup_target` over `warmup_steps` steps, then decays from
    `warmup_target` (Keras 3's "linear warmup, then cosine decay").

    Examples:
        >>> s = CosineDecay(1.0, decay_steps=10, alpha=0.1)
        >>> [round(s(k), 4) for k in (0, 5, 10, 20)]
        [1.0, 0.55, 0.1, 0.1]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ) -> None:
        _positive("decay_steps", decay_steps)
        if warmup_steps < 0:
            raise ValueError(f"Argument `warmup_steps` must be >= 0. Received: {warmup_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + delta * step / self.warmup_steps
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": {...}}``, JSON-ready."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """The schedule `serialize` described (any registered `LearningRateSchedule` subclass)."""
    cls = _REGISTRY.lookup(config.get("class_name"))
    return cls.from_config(config.get("config", {}))
