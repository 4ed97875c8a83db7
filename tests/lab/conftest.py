"""Small real MNIST for the lab's tests: the bundled subset, written as a Keras mnist.npz for
the CLI, and as `Data` for the Python API."""

from __future__ import annotations

import numpy as np
import pytest

from ndgrad.datasets import mnist
from ndgrad.lab import Data, MnistBuild


def small_data(n_train: int = 256, n_val: int = 128) -> Data:
    d = mnist.load_subset()

    def pixels(a):
        return (a.reshape(len(a), -1).astype(np.float32) / np.float32(255)).astype(np.float32)

    return Data(
        pixels(d.x_train[:n_train]), d.y_train[:n_train].astype(np.int64),
        pixels(d.x_train[-n_val:]), d.y_train[-n_val:].astype(np.int64),
    )


@pytest.fixture(scope="session")
def data() -> Data:
    return small_data()


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory) -> str:
    """The bundled subset as a Keras-style mnist.npz (what `--data` takes)."""
    d = mnist.load_subset()
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    np.savez(path, x_train=d.x_train, y_train=d.y_train, x_test=d.x_test, y_test=d.y_test)
    return str(path)


GRID = {"learning_rate": [1e-3, 3e-3], "momentum": [0.0, 0.9]}
BUILD = MnistBuild("rmsprop")


def finals(result) -> dict:
    """{(config, seed): last epoch's metrics without wall time}."""
    out = {}
    for run in result.runs:
        final = {k: v for k, v in run["final"].items() if k != "seconds"}
        out[tuple(sorted(run["config"].items())), run["seed"]] = final
    return out
