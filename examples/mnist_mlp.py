"""The book's first network (Deep Learning with Python, ch. 2) on MNIST.

Dense(512, relu) -> Dense(10, softmax), RMSprop, sparse categorical cross-entropy,
5 epochs of batches of 128, pixels scaled to [0, 1]. Run: python examples/mnist_mlp.py
"""

from __future__ import annotations

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.datasets import mnist


def main(epochs: int = 5, limit: int | None = None, verbose: int = 1) -> float:
    ndgrad.manual_seed(0)
    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    train_images = ndgrad.tensor(train_images[:limit], dtype="float32").reshape(-1, 28 * 28) / 255
    test_images = ndgrad.tensor(test_images, dtype="float32").reshape(-1, 28 * 28) / 255
    model = Sequential(
        [
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_images, train_labels[:limit], epochs=epochs, batch_size=128, verbose=verbose)
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
    print(f"test_acc: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
