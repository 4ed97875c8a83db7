"""Activation functions by name, as Keras: ``Dense(64, activation="relu")``.

`get` resolves a name, a callable or None (linear) to a function Tensor -> Tensor.
"""

from __future__ import annotations

from collections.abc import Callable

from . import ops
from ._registry import Registry
from ._tensor import Tensor

Activation = Callable[[Tensor], Tensor]


def linear(x: Tensor) -> Tensor:
    """The identity: no activation."""
    return x


def softmax(x: Tensor) -> Tensor:
    """Softmax over the last axis."""
    return ops.softmax(x, -1)


def log_softmax(x: Tensor) -> Tensor:
    """Log-softmax over the last axis."""
    return ops.log_softmax(x, -1)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """x for x > 0, else negative_slope * x, with Keras's default slope 0.2
    (``ndgrad.leaky_relu``, like PyTorch, defaults to 0.01)."""
    return ops.leaky_relu(x, negative_slope)


relu, sigmoid, tanh, softplus, elu, gelu = (
    ops.relu,
    ops.sigmoid,
    ops.tanh,
    ops.softplus,
    ops.elu,
    ops.gelu,
)

ACTIVATIONS: Registry[Activation] = Registry(
    "activation",
    {
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "softmax": softmax,
        "log_softmax": log_softmax,
        "softplus": softplus,
        "leaky_relu": leaky_relu,
        "elu": elu,
        "gelu": gelu,
        "linear": linear,
    },
)


def get(identifier: str | Activation | None) -> Activation:
    """The activation for a name ('relu'), a function, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return ACTIVATIONS.lookup(identifier)


def name_of(fn: Activation) -> str:
    """The registered name of an activation function (for configs)."""
    name = ACTIVATIONS.name_of(fn)
    return name if name else str(getattr(fn, "__name__", repr(fn)))
