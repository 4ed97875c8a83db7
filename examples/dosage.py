"""StatQuest's drug dosage: low and high dosages don't work, medium ones do.

A straight line cannot separate "medium" from "low or high"; two bent lines (a hidden layer)
can: the book's network, `ndgrad.models.book.dosage_mlp` (Dense(8, tanh) -> Dense(1,
sigmoid)). Run: python examples/dosage.py
"""

from __future__ import annotations

import ndgrad
from ndgrad import Sequential
from ndgrad.datasets import dosage
from ndgrad.models import book


def main(epochs: int = 300, verbose: int = 0) -> Sequential:
    ndgrad.manual_seed(0)
    (x_train, y_train), (x_test, y_test) = dosage.load_data()
    model = book.dosage_mlp()
    model.compile(
        optimizer=ndgrad.optimizers.Adam(learning_rate=0.05),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=len(x_train), verbose=verbose)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.2f}")
    for d in (0.0, 0.1, 0.5, 0.9, 1.0):
        p = model.predict([[d]]).item()
        print(f"dosage {d:.1f}: {'effective' if p > 0.5 else 'not effective'} (p={p:.2f})")
    return model


if __name__ == "__main__":
    main()
