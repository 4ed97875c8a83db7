"""Iris species from four flower measurements: a small dense network.

Run: python examples/iris.py
"""

from __future__ import annotations

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.datasets import iris


def main(epochs: int = 100, verbose: int = 0) -> float:
    ndgrad.manual_seed(0)
    (x_train, y_train), (x_test, y_test) = iris.load_data()
    mean = ndgrad.tensor(x_train).mean(axis=0)
    std = ndgrad.tensor(x_train).std(axis=0)
    model = Sequential(
        [
            layers.Input((4,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=ndgrad.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        (ndgrad.tensor(x_train) - mean) / std,
        y_train,
        epochs=epochs,
        batch_size=16,
        verbose=verbose,
    )
    _, accuracy = model.evaluate((ndgrad.tensor(x_test) - mean) / std, y_test, verbose=0)
    print(f"iris test accuracy: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main(verbose=1)
