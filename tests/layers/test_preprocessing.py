"""`Normalization`: standardization inside the model (adapt, fixed statistics, saving)."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers


def test_adapt_standardizes_each_feature(backend):
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((50, 3)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]).astype("float32")
    norm = layers.Normalization()
    with ndgrad.device(backend):
        norm.adapt(data)
        out = norm(ndgrad.tensor(data)).numpy()
    np.testing.assert_allclose(out, (data - data.mean(0)) / data.std(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1.0, rtol=1e-4)
    assert norm.trainable_weights == [] and norm.count_params() == 6
    assert norm.mean.device == backend


def test_adapt_reduces_every_axis_but_the_last():
    data = np.arange(24, dtype="float32").reshape(2, 3, 4)
    norm = layers.Normalization()
    norm.adapt(data)
    np.testing.assert_allclose(norm.mean.numpy(), data.reshape(-1, 4).mean(0))
    np.testing.assert_allclose(norm.variance.numpy(), data.reshape(-1, 4).var(0))


def test_given_statistics_and_a_zero_variance():
    norm = layers.Normalization(mean=[1.0, 2.0], variance=4.0)
    x = ndgrad.tensor([[3.0, 2.0]])
    np.testing.assert_array_equal(norm(x).numpy(), [[1.0, 0.0]])
    constant = layers.Normalization(mean=0.0, variance=0.0, epsilon=0.5)
    np.testing.assert_array_equal(constant(ndgrad.tensor([[1.0]])).numpy(), [[2.0]])


def test_integer_inputs_become_float32():
    norm = layers.Normalization(mean=1.0, variance=1.0)
    out = norm(ndgrad.tensor([[3, 4]]))
    assert out.dtype == ndgrad.float32 and out.tolist() == [[2.0, 3.0]]


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="both mean and variance"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ndgrad.ShapeError, match=r"one per feature \(3\).*\(2,\)"):
        layers.Normalization(mean=[1.0, 2.0], variance=1.0)(ndgrad.ones((1, 3)))
    with pytest.raises(ndgrad.ShapeError, match="non-empty"):
        layers.Normalization().adapt(np.zeros((0, 3), "float32"))


def test_config_and_saved_model_round_trip(tmp_path):
    norm = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], name="norm")
    again = layers.Normalization.from_config(norm.get_config())
    assert again.get_config() == norm.get_config()

    adapted = layers.Normalization()
    model = Sequential([layers.Input((2,)), adapted, layers.Dense(1)])
    adapted.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], "float32"))
    model.save(str(tmp_path / "m.ndgrad"))
    loaded = ndgrad.load_model(str(tmp_path / "m.ndgrad"))
    np.testing.assert_array_equal(loaded.layers[0].mean.numpy(), [1.0, 20.0])
    x = np.array([[5.0, -3.0]], "float32")
    np.testing.assert_array_equal(loaded.predict(x).numpy(), model.predict(x).numpy())
