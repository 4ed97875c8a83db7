"""The course's networks, layer by layer, and what Sequential passes to its layers."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.models.book import mnist_convnet, mnist_mlp


def _activations(model):
    return [
        (type(layer).__name__, layer.get_config().get("activation"))
        for layer in model.layers
        if "activation" in layer.get_config()
    ]


def test_the_book_mlp():
    model = mnist_mlp()
    assert model.name == "mnist_mlp"
    assert _activations(model) == [("Dense", "relu"), ("Dense", "softmax")]
    assert [layer.units for layer in model.layers if isinstance(layer, layers.Dense)] == [512, 10]


def test_the_book_convnet():
    model = mnist_convnet()
    assert model.name == "mnist_convnet"
    assert _activations(model) == [("Conv2D", "relu")] * 3 + [("Dense", "softmax")]


def test_sequential_passes_training_to_its_layers():
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((8,)), layers.Dropout(0.5)])
    x = ndgrad.ones((4, 8))
    np.testing.assert_array_equal(model(x, training=False).numpy(), x.numpy())
    dropped = model(x, training=True).numpy()
    assert (dropped == 0).any() and set(np.unique(dropped)) <= {0.0, 2.0}


@pytest.mark.parametrize("shape", [(2, 5), (2, 4, 4)])
def test_a_built_sequential_rejects_other_feature_shapes(shape):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    with pytest.raises(ndgrad.ShapeError, match=r"expects inputs of shape \(None, 4\)"):
        model(ndgrad.ones(shape))
    assert model(ndgrad.ones((7, 4))).shape == (7, 2)  # any batch size


def test_summary_layout_exactly():
    """Columns two spaces wider than their longest entry, rules as wide as all columns."""
    model = Sequential(
        [layers.Input((784,)), layers.Dense(512, activation="relu", name="hidden"),
         layers.Dense(10, name="out")],
        name="mlp",
    )  # fmt: skip
    lines = []
    model.summary(print_fn=lines.append)
    assert lines == [
        'Model: "mlp"',
        "-" * 39,
        "Layer (type)    Output Shape  Param #",
        "=" * 39,
        "hidden (Dense)  (None, 512)   401,920",
        "out (Dense)     (None, 10)    5,130",
        "-" * 39,
        "Total params: 407,050",
        "Trainable params: 407,050",
        "Non-trainable params: 0",
    ]
    lazy = Sequential([layers.Dense(2, name="later")], name="lazy")
    lines.clear()
    lazy.summary(print_fn=lines.append)
    assert lines[4] == "later (Dense)  ?             0"
