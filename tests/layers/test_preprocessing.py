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


def test_weights_are_named_frozen_and_start_as_the_identity():
    norm = layers.Normalization()
    model = Sequential([layers.Input((3,)), norm])
    assert [(n, w.shape, t) for n, w, t in norm.named_weights()] == [
        ("mean", (3,), False), ("variance", (3,), False)]
    assert not norm.mean.requires_grad and not norm.variance.requires_grad
    np.testing.assert_array_equal(norm.mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(norm.variance.numpy(), np.ones(3))
    x = np.array([[1.5, -2.0, 7.0]], "float32")
    np.testing.assert_array_equal(model.predict(x).numpy(), x)  # not adapted yet: unchanged


def test_adapt_one_dimensional_data_as_keras():
    """(features,) data: the single axis is the feature axis; nothing is reduced."""
    norm = layers.Normalization()
    norm.adapt([1.0, 2.0, 4.0])
    np.testing.assert_array_equal(norm.mean.numpy(), [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(norm.variance.numpy(), [0.0, 0.0, 0.0])
    with pytest.raises(ndgrad.ShapeError, match=r"non-empty array. Received \(\)"):
        layers.Normalization().adapt(3.0)


def test_adapt_on_another_device_puts_the_statistics_there():
    data = np.array([[0.0, 10.0], [2.0, 30.0]], "float32")
    norm = layers.Normalization()  # made on cpu, adapted with strict data outside any context
    norm.adapt(ndgrad.tensor(data, device="strict"))
    assert norm.device == "strict"
    assert norm.mean.device == "strict" and norm.variance.device == "strict"
    y = norm(ndgrad.tensor([[1.0, 20.0]], device="strict"))
    assert y.device == "strict"
    np.testing.assert_allclose(y.numpy(), [[0.0, 0.0]], atol=1e-6)
    # a built layer stays where it is: the data comes to it
    norm.adapt(ndgrad.tensor([[4.0, 0.0], [6.0, 2.0]]))
    assert norm.mean.device == "strict"
    np.testing.assert_array_equal(norm.mean.numpy(), [5.0, 1.0])


@pytest.mark.parametrize("backend_name", ["cpu", "strict"])
def test_given_statistics_on_the_layers_device(backend_name):
    norm = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    y = norm(ndgrad.tensor([[3.0, 8.0]], device=backend_name))  # built outside any context
    assert norm.mean.device == backend_name and y.device == backend_name
    np.testing.assert_array_equal(y.numpy(), [[1.0, 2.0]])
    np.testing.assert_array_equal(norm.variance.numpy(), [4.0, 9.0])


def test_the_layer_dtype_is_the_dtype_of_its_statistics():
    norm = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], dtype="float64")
    y = norm(ndgrad.tensor([[3.0, 8.0]], dtype="float64"))
    assert norm.mean.dtype == ndgrad.float64 and norm.variance.dtype == ndgrad.float64
    assert y.dtype == ndgrad.float64
    wide = layers.Normalization(dtype="float64")
    wide.adapt(ndgrad.tensor([[0.1], [0.2]], dtype="float64"))
    assert wide.mean.dtype == ndgrad.float64
    assert wide.mean.numpy()[0] == np.mean([0.1, 0.2])  # float64 precision, not float32's


def test_float64_inputs_stay_float64():
    """ndgrad's dtype rule (README): float64 appears when an input is float64, and it stays."""
    norm = layers.Normalization(mean=0.5, variance=1.0)
    y = norm(ndgrad.tensor([[1.0 + 1e-12]], dtype="float64"))
    assert y.dtype == ndgrad.float64 and y.numpy()[0, 0] == np.float64(1.0 + 1e-12) - 0.5


def test_statistics_errors_name_the_statistic():
    with pytest.raises(ndgrad.ShapeError,
                       match=r"^Normalization: mean must be one number or one per feature \(3\)"):
        layers.Normalization(mean=[1.0, 2.0], variance=1.0)(ndgrad.ones((1, 3)))
    with pytest.raises(ndgrad.ShapeError,
                       match=r"^Normalization: variance must be one number or one per feature "
                             r"\(3\). Received shape \(4,\)"):
        layers.Normalization(mean=1.0, variance=[1.0] * 4)(ndgrad.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^Normalization: give both mean and variance, or "
                                         r"neither \(then call adapt\). Received mean=None, "
                                         r"variance=2.0"):
        layers.Normalization(variance=2.0)


def test_the_feature_axis_must_be_known():
    with pytest.raises(ndgrad.ShapeError, match=r"known size. Received input shape \(None, "
                                                 r"None\)"):
        Sequential([layers.Input((None,)), layers.Normalization()])
    with pytest.raises(ndgrad.ShapeError, match=r"known size. Received input shape \(\)"):
        layers.Normalization(mean=0.0, variance=1.0)(ndgrad.tensor(2.0))


def test_adapting_again_invalidates_a_graph_that_used_the_old_statistics():
    norm = layers.Normalization()
    norm.adapt(np.array([[0.0], [2.0]], "float32"))
    x = ndgrad.ones(2, 1, requires_grad=True)
    y = norm(x)
    norm.adapt(np.array([[1.0], [5.0]], "float32"))  # changes mean and variance in place
    with pytest.raises(ndgrad.GraphError, match="modified in place"):
        y.sum().backward()


def test_adapt_computes_in_the_layers_dtype_from_numpy_data():
    """float64 NumPy data adapts a float64 layer without a float32 detour."""
    norm = layers.Normalization(dtype="float64")
    norm.adapt(np.array([[0.1], [0.2]]))
    assert norm.mean.numpy().tolist() == [np.mean([0.1, 0.2])]
