"""Sequential: adding layers, eager and lazy building, summary text, configs."""

from __future__ import annotations

import re

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.models import book


def _summary(model) -> list[str]:
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    return lines


def test_add_builds_eagerly_after_input():
    model = Sequential(name="net")
    model.add(layers.Input((784,)))
    assert model.built and model.weights == []
    model.add(layers.Dense(512, activation="relu"))
    assert model.layers[0].built and model.count_params() == 401_920
    model.add(layers.Dense(10, activation="softmax"))
    assert model.count_params() == 407_050
    assert model(ndgrad.zeros(3, 784)).shape == (3, 10)


def test_lazy_sequential_builds_on_first_call():
    model = Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built and model.weights == []
    assert model(ndgrad.zeros(5, 3)).shape == (5, 2)
    assert model.built and model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    model.add(layers.Dense(1))  # added after building: built at once
    assert model.layers[-1].built and model(ndgrad.zeros(1, 3)).shape == (1, 1)


def test_add_rejects_non_layers_and_late_inputs():
    model = Sequential([layers.Dense(2)])
    with pytest.raises(TypeError, match="Layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="Input must be the first layer"):
        model.add(layers.Input((3,)))


def test_summary_text_of_the_book_convnet():
    lines = _summary(book.mnist_convnet())
    text = "\n".join(lines)
    assert lines[0] == 'Model: "mnist_convnet"'
    assert re.search(r"Layer \(type\)\s+Output Shape\s+Param #", text)
    rows = [
        ("conv2d", "Conv2D", "(None, 26, 26, 32)", "320"),
        ("max_pooling2d", "MaxPooling2D", "(None, 13, 13, 32)", "0"),
        ("conv2d", "Conv2D", "(None, 11, 11, 64)", "18,496"),
        ("max_pooling2d", "MaxPooling2D", "(None, 5, 5, 64)", "0"),
        ("conv2d", "Conv2D", "(None, 3, 3, 128)", "73,856"),
        ("flatten", "Flatten", "(None, 1152)", "0"),
        ("dense", "Dense", "(None, 10)", "11,530"),
    ]
    body = [line for line in lines if "(" in line and "Layer (type)" not in line
            and not line.startswith("Model")]
    assert len(body) == len(rows)
    for line, (name, cls, shape, params) in zip(body, rows):
        assert re.match(rf"{name}(_\d+)? \({cls}\)\s+{re.escape(shape)}\s+{params}\s*$", line), line
    assert "Total params: 104,202" in lines
    assert "Trainable params: 104,202" in lines
    assert "Non-trainable params: 0" in lines


def test_summary_counts_non_trainable_weights():
    model = Sequential([layers.Input((5,)), layers.Dense(4), layers.BatchNormalization()])
    model.layers[0].trainable = False
    lines = _summary(model)
    assert "Total params: 40" in lines  # 24 + 16
    assert "Trainable params: 8" in lines  # gamma, beta
    assert "Non-trainable params: 32" in lines


def test_summary_prints_by_default(capsys):
    book.mnist_mlp().summary()
    out = capsys.readouterr().out
    assert "Total params: 407,050" in out and "(None, 512)" in out


def test_config_round_trip():
    model = book.mnist_convnet()
    config = model.get_config()
    clone = Sequential.from_config(config)
    assert clone.get_config() == config
    assert clone.built and clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    x = ndgrad.randn(2, 28, 28, 1)
    np.testing.assert_allclose(clone.predict(x).numpy(), model.predict(x).numpy(), rtol=1e-5)


def test_sequential_rejects_a_wrong_input_shape():
    model = book.mnist_mlp()
    with pytest.raises(ndgrad.ShapeError, match=r"\(None, 784\).*\(2, 28, 28\)"):
        model(ndgrad.zeros(2, 28, 28))


def test_nested_sequential_is_tracked():
    inner = Sequential([layers.Dense(3), layers.Dense(2)])
    outer = Sequential([layers.Input((4,)), inner, layers.Dense(1)])
    assert outer.count_params() == 4 * 3 + 3 + 3 * 2 + 2 + 2 + 1
    assert outer(ndgrad.zeros(2, 4)).shape == (2, 1)
