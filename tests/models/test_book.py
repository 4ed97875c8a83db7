"""The course's networks, layer by layer (sizes, activations, names; what `raw=True` adds in
front: raw pixels scaled inside the model, the same outputs as the plain network on scaled
inputs), and what Sequential passes to its layers."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.models import book
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


# -- every network of `ndgrad.models.book` --------------------------------------------------

def _summary(model):
    """(class, units or filters, activation name) of each layer with weights or a shape."""
    out = []
    for layer in model.layers:
        size = getattr(layer, "units", None) or getattr(layer, "filters", None)
        act = getattr(layer, "activation", None)
        out.append((type(layer).__name__, size, getattr(act, "__name__", act)))
    return out


def test_the_mnist_mlp_sizes():
    model = book.mnist_mlp()
    assert model.name == "mnist_mlp"
    assert _summary(model) == [("Dense", 512, "relu"), ("Dense", 10, "softmax")]
    assert model.count_params() == 784 * 512 + 512 + 512 * 10 + 10
    assert model(ndgrad.zeros((2, 784))).shape == (2, 10)


def test_the_mnist_convnet_sizes():
    model = book.mnist_convnet()
    assert model.name == "mnist_convnet"
    assert _summary(model) == [
        ("Conv2D", 32, "relu"), ("MaxPooling2D", None, None), ("Conv2D", 64, "relu"),
        ("MaxPooling2D", None, None), ("Conv2D", 128, "relu"), ("Flatten", None, None),
        ("Dense", 10, "softmax"),
    ]
    convs = [la for la in model.layers if isinstance(la, layers.Conv2D)]
    assert [tuple(c.kernel.shape) for c in convs] == [(3, 3, 1, 32), (3, 3, 32, 64),
                                                      (3, 3, 64, 128)]
    assert model.count_params() == 320 + 18496 + 73856 + 1152 * 10 + 10
    assert model(ndgrad.zeros((2, 28, 28, 1))).shape == (2, 10)


@pytest.mark.parametrize("network", [book.mnist_mlp, book.mnist_convnet])
def test_raw_networks_scale_the_pixels_inside(network):
    plain, raw = network(), network(raw=True)
    head = raw.layers[: len(raw.layers) - len(plain.layers)]
    assert isinstance(head[0], layers.Rescaling) and head[0].scale == pytest.approx(1 / 255)
    assert isinstance(head[1], layers.Flatten if network is book.mnist_mlp else layers.Reshape)
    assert _summary(raw)[len(head):] == _summary(plain)
    raw.set_weights(plain.get_weights())
    pixels = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype("float32")
    scaled = (pixels / 255).reshape((3, 784) if network is book.mnist_mlp else (3, 28, 28, 1))
    np.testing.assert_allclose(raw.predict(pixels).numpy(), plain.predict(scaled).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert raw.count_params() == plain.count_params()


def test_the_iris_network_standardizes_with_the_training_statistics():
    x_train = np.random.default_rng(1).normal([5.8, 3.0, 3.7, 1.2], [0.8, 0.4, 1.7, 0.7],
                                              (150, 4)).astype("float32")
    model = book.iris_mlp(x_train)
    assert model.name == "iris"
    assert _summary(model)[1:] == [("Dense", 16, "relu"), ("Dense", 3, "softmax")]
    norm = model.layers[0]
    assert isinstance(norm, layers.Normalization)
    standardized = norm(ndgrad.tensor(x_train)).numpy()
    np.testing.assert_allclose(standardized.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(0), 1, atol=1e-3)
    assert model.count_params() == 4 * 16 + 16 + 16 * 3 + 3 + norm.count_params()


def test_the_dosage_network():
    model = book.dosage_mlp()
    assert model.name == "dosage"
    assert _summary(model) == [("Dense", 8, "tanh"), ("Dense", 1, "sigmoid")]
    assert model.count_params() == 8 + 8 + 8 + 1
    out = model(ndgrad.tensor([[0.0], [0.5], [1.0]])).numpy()
    assert out.shape == (3, 1) and ((out > 0) & (out < 1)).all()
