"""Small data sets and models shared by the model tests."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers


def blobs(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian blobs in 4-d: x (n, 4) float32, y (n,) int64 in 0..2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype="float32")
    x = centres[y] + rng.standard_normal((n, 4)).astype("float32") * 0.5
    return x.astype("float32"), y.astype("int64")


def classifier(seed: int = 0) -> Sequential:
    ndgrad.manual_seed(seed)
    return Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                       layers.Dense(3, activation="softmax")], name="classifier")


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return blobs()


@pytest.fixture
def compiled(backend):
    model = classifier().to(backend)
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.02),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
