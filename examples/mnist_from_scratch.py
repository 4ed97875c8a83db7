"""Chapter 2's network rebuilt from raw tensors: a hand-written dense layer, a sequential
container, a batch generator, a GradientTape and a manual weight update.

Run: python examples/mnist_from_scratch.py
"""

from __future__ import annotations

import math

import ndgrad
from ndgrad.datasets import mnist


class NaiveDense:
    """output = activation(dot(input, W) + b)"""

    def __init__(self, input_size: int, output_size: int, activation) -> None:
        self.activation = activation
        limit = math.sqrt(6 / (input_size + output_size))
        self.W = ndgrad.uniform(input_size, output_size, low=-limit, high=limit, requires_grad=True)
        self.b = ndgrad.zeros(output_size, requires_grad=True)

    def __call__(self, inputs: ndgrad.Tensor) -> ndgrad.Tensor:
        return self.activation(ndgrad.matmul(inputs, self.W) + self.b)

    @property
    def weights(self) -> list[ndgrad.Tensor]:
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers: list[NaiveDense]) -> None:
        self.layers = layers

    def __call__(self, inputs: ndgrad.Tensor) -> ndgrad.Tensor:
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self) -> list[ndgrad.Tensor]:
        return [w for layer in self.layers for w in layer.weights]


def batches(images: ndgrad.Tensor, labels: ndgrad.Tensor, batch_size: int = 128):
    for i in range(0, len(images), batch_size):
        yield images[i : i + batch_size], labels[i : i + batch_size]


def one_training_step(
    model: NaiveSequential,
    images: ndgrad.Tensor,
    labels: ndgrad.Tensor,
    learning_rate: float = 1e-3,
) -> float:
    with ndgrad.GradientTape() as tape:
        predictions = model(images)
        per_sample = ndgrad.losses.sparse_categorical_crossentropy(labels, predictions)
        average_loss = per_sample.mean()
    gradients = tape.gradient(average_loss, model.weights)
    with ndgrad.no_grad():  # update the weights in place
        for g, w in zip(gradients, model.weights):
            w -= g * learning_rate
    return average_loss.item()


def main(epochs: int = 5, limit: int | None = None) -> float:
    ndgrad.manual_seed(0)
    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    x = ndgrad.tensor(train_images[:limit], dtype="float32").reshape(-1, 28 * 28) / 255
    y = ndgrad.tensor(train_labels[:limit])
    model = NaiveSequential(
        [
            NaiveDense(28 * 28, 512, activation=ndgrad.relu),
            NaiveDense(512, 10, activation=ndgrad.softmax),
        ]
    )
    for epoch in range(epochs):
        for images, labels in batches(x, y):
            loss = one_training_step(model, images, labels, learning_rate=0.1)
        print(f"epoch {epoch}: loss at last batch {loss:.2f}")
    test_x = ndgrad.tensor(test_images, dtype="float32").reshape(-1, 28 * 28) / 255
    with ndgrad.no_grad():
        predicted = model(test_x).argmax(axis=1)
    accuracy = (predicted == ndgrad.tensor(test_labels)).astype("float32").mean().item()
    print(f"accuracy: {accuracy:.2f}")
    return accuracy


if __name__ == "__main__":
    main()
