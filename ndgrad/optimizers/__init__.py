"""Optimizers: SGD, RMSprop, Adam, AdamW (Keras 3 semantics, in-place updates), schedules.

`get` resolves what ``model.compile(optimizer=...)`` accepts: a name (``"adam"``, any case), an
`Optimizer` instance (returned as is) or a ``{"class_name": ..., "config": {...}}`` dict.

>>> from ndgrad import optimizers
>>> optimizers.get("RMSprop")
<RMSprop name='rmsprop' learning_rate=0.001 iterations=0>
>>> optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.1}}).learning_rate
0.1
"""

from __future__ import annotations  # noqa: I001  (the imports below are not sorted)

from typing import Any

# Not sorted: the order the optimizers register their names in, which errors list.
from .optimizer import OPTIMIZERS, Optimizer
from .sgd import SGD
from .rmsprop import RMSprop
from .adam import Adam, AdamW
from . import schedules
from .schedules import CosineDecay, ExponentialDecay, LearningRateSchedule

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineDecay",
    "ExponentialDecay",
    "LearningRateSchedule",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": ..., "config": optimizer.get_config()}``."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """A new optimizer from `serialize` output (the class name is matched case-insensitively)."""
    if "class_name" not in config:
        raise ValueError(
            "Could not interpret optimizer config: expected {'class_name': ..., 'config': {...}}. "
            f"Received: {config!r}"
        )
    cls = OPTIMIZERS.lookup(config["class_name"], what="class_name")
    return cls.from_config(config.get("config", {}))


def get(identifier: str | dict[str, Any] | Optimizer) -> Optimizer:
    """An optimizer from a name, a serialized config or an instance.

    >>> get("adam").get_config()["beta_1"]
    0.9
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return OPTIMIZERS.lookup(identifier, what="identifier").from_config({})  # defaults
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}. Pass a name "
        f"({OPTIMIZERS.quoted()}), an Optimizer or a config dict"
    )
