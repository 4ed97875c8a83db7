"""The book's convnet on MNIST: three 3x3 convolutions, two max-pools, a softmax classifier.

Run: python examples/mnist_convnet.py
"""

from __future__ import annotations

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.datasets import mnist


def main(epochs: int = 5, limit: int | None = None, verbose: int = 1) -> float:
    ndgrad.manual_seed(0)
    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    train_images = ndgrad.tensor(train_images[:limit], dtype="float32").reshape(-1, 28, 28, 1) / 255
    test_images = ndgrad.tensor(test_images, dtype="float32").reshape(-1, 28, 28, 1) / 255
    model = Sequential(
        [
            layers.Input((28, 28, 1)),
            layers.Conv2D(filters=32, kernel_size=3, activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Conv2D(filters=64, kernel_size=3, activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Conv2D(filters=128, kernel_size=3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_images, train_labels[:limit], epochs=epochs, batch_size=64, verbose=verbose)
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
    print(f"test_acc: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
