"""The networks of the course material (Chollet, *Deep Learning with Python*)."""

from __future__ import annotations

from .. import layers
from .sequential import Sequential


def mnist_mlp() -> Sequential:
    """The book's first network: 784 -> Dense(512, relu) -> Dense(10, softmax)."""
    return Sequential(
        [
            layers.Input((28 * 28,)),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="mnist_mlp",
    )


def mnist_convnet() -> Sequential:
    """The book's convnet: Conv2D 32/64/128 3x3 relu, two 2x2 max-pools, Flatten, Dense 10."""
    return Sequential(
        [
            layers.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ],
        name="mnist_convnet",
    )
