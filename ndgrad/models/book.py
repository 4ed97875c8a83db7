"""The networks of the course material, defined once for the ``ndgrad`` command, the lab and
the examples: Chollet's *Deep Learning with Python* (MNIST), the iris classifier and StatQuest's
dosage network.

The MNIST networks take, by default, what the lab feeds them: 784 floats in [0, 1] per image
(the convnet: 28x28x1). With ``raw=True`` they take raw images, (28, 28) pixels 0..255, and
scale (and reshape) inside the model, so a saved model needs no preprocessing from its users;
the two differ only by those leading layers.

>>> from ndgrad.models import book
>>> book.mnist_mlp().count_params(), book.mnist_mlp(raw=True).count_params()
(407050, 407050)
"""

from __future__ import annotations

from typing import Any

from .. import layers
from .sequential import Sequential


def _raw_pixels(flat: bool) -> list[Any]:
    """Input of raw (28, 28) pixels 0..255, scaled to [0, 1], flattened or given a channel."""
    shape = layers.Flatten() if flat else layers.Reshape((28, 28, 1))
    return [layers.Input((28, 28)), layers.Rescaling(1 / 255), shape]


def mnist_mlp(raw: bool = False) -> Sequential:
    """The book's first network: 784 -> Dense(512, relu) -> Dense(10, softmax).

    Input (batch, 784) floats in [0, 1]; with `raw`, (batch, 28, 28) pixels 0..255.
    """
    head = _raw_pixels(flat=True) if raw else [layers.Input((28 * 28,))]
    return Sequential(
        [*head, layers.Dense(512, activation="relu"), layers.Dense(10, activation="softmax")],
        name="mnist_mlp",
    )


def mnist_convnet(raw: bool = False) -> Sequential:
    """The book's convnet: Conv2D 32/64/128 3x3 relu, two 2x2 max-pools, Flatten, Dense 10.

    Input (batch, 28, 28, 1) floats in [0, 1]; with `raw`, (batch, 28, 28) pixels 0..255.
    """
    head = _raw_pixels(flat=False) if raw else [layers.Input((28, 28, 1))]
    return Sequential(
        [
            *head,
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


def iris_mlp(x_train: Any) -> Sequential:
    """Iris: 4 measurements (cm), standardized inside the model with `x_train`'s statistics
    (a `Normalization` layer), then Dense(16, relu) -> Dense(3, softmax)."""
    norm = layers.Normalization()
    model = Sequential([layers.Input((4,)), norm, layers.Dense(16, activation="relu"),
                        layers.Dense(3, activation="softmax")], name="iris")
    norm.adapt(x_train)
    return model


def dosage_mlp() -> Sequential:
    """StatQuest's dosage network: 1 dosage in [0, 1] -> Dense(8, tanh) -> Dense(1, sigmoid)."""
    return Sequential([layers.Input((1,)), layers.Dense(8, activation="tanh"),
                       layers.Dense(1, activation="sigmoid")], name="dosage")
