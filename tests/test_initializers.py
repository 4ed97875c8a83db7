"""Initializers: shapes, dtypes, devices, Keras's statistics, seeding, lookup by name."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ndgrad
from ndgrad import initializers

ALL = sorted(initializers.INITIALIZERS)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_shape_dtype_and_device(backend, name, dtype):
    w = initializers.get(name)((3, 3, 2, 4), dtype=dtype, device=backend)
    assert isinstance(w, ndgrad.Tensor)
    assert w.shape == (3, 3, 2, 4) and w.dtype.name == dtype and w.device == backend
    assert np.isfinite(w.numpy()).all()


def test_fans_follow_keras():
    assert initializers._fans((784, 512)) == (784, 512)
    assert initializers._fans((3, 3, 32, 64)) == (9 * 32, 9 * 64)  # receptive field counts
    assert initializers._fans((10,)) == (10, 10)


def test_zeros_and_ones():
    np.testing.assert_array_equal(initializers.zeros((2, 3)).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.ones((4,)).numpy(), np.ones(4))


@pytest.mark.parametrize("name, fan", [("glorot_uniform", "avg"), ("he_uniform", "in"),
                                       ("lecun_uniform", "in")])
@pytest.mark.parametrize("shape", [(400, 300), (3, 3, 16, 32)])
def test_uniform_bounds(name, fan, shape):
    ndgrad.manual_seed(0)
    w = initializers.get(name)(shape).numpy()
    fan_in, fan_out = initializers._fans(shape)
    scale = {"glorot_uniform": 6.0 / (fan_in + fan_out), "he_uniform": 6.0 / fan_in,
             "lecun_uniform": 3.0 / fan_in}[name]
    limit = math.sqrt(scale)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit  # the whole interval is used
    assert abs(w.mean()) < 0.02 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.03)


@pytest.mark.parametrize("name", ["he_normal", "glorot_normal", "lecun_normal"])
@pytest.mark.parametrize("shape", [(500, 200), (3, 3, 16, 32)])
def test_truncated_normals_have_keras_std(name, shape):
    """Keras: truncated at 2 std of the underlying normal, scaled so the std is the target."""
    ndgrad.manual_seed(1)
    w = initializers.get(name)(shape).numpy()
    fan_in, fan_out = initializers._fans(shape)
    std = {"he_normal": math.sqrt(2.0 / fan_in), "lecun_normal": math.sqrt(1.0 / fan_in),
           "glorot_normal": math.sqrt(2.0 / (fan_in + fan_out))}[name]
    assert w.std() == pytest.approx(std, rel=0.03)
    assert abs(w.mean()) < 0.02 * std
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)


def test_random_normal_and_uniform_defaults():
    ndgrad.manual_seed(2)
    n = initializers.random_normal((200, 200)).numpy()
    assert n.std() == pytest.approx(0.05, rel=0.03) and abs(n.mean()) < 0.002
    u = initializers.random_uniform((200, 200)).numpy()
    assert u.min() >= -0.05 and u.max() <= 0.05 and u.max() > 0.049


@pytest.mark.parametrize("name", ALL)
def test_manual_seed_makes_weights_reproducible(backend, name):
    init = initializers.get(name)
    ndgrad.manual_seed(123)
    a = init((20, 10), device=backend).numpy()
    ndgrad.manual_seed(123)
    b = init((20, 10), device=backend).numpy()
    np.testing.assert_array_equal(a, b)
    if name not in ("zeros", "ones"):
        ndgrad.manual_seed(124)
        assert not np.array_equal(a, init((20, 10), device=backend).numpy())


def test_manual_seed_reproduces_a_whole_model():
    def weights():
        ndgrad.manual_seed(7)
        model = ndgrad.Sequential([ndgrad.layers.Input((5,)), ndgrad.layers.Dense(4),
                                   ndgrad.layers.Dense(2, kernel_initializer="he_normal")])
        return model.get_weights()

    for a, b in zip(weights(), weights()):
        np.testing.assert_array_equal(a, b)


def test_layers_accept_names_and_callables():
    def fives(shape, dtype="float32", device=None):
        return ndgrad.full(shape, fill_value=5.0, dtype=dtype, device=device)

    layer = ndgrad.layers.Dense(3, kernel_initializer=fives, bias_initializer="ones")
    layer(ndgrad.zeros(2, 4))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.full((4, 3), 5.0))
    np.testing.assert_array_equal(layer.bias.numpy(), np.ones(3))


def test_unknown_initializer_lists_valid_names():
    with pytest.raises(ValueError, match="unknown initializer 'xavier'") as info:
        initializers.get("xavier")
    for name in ALL:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="glorot_uniform"):
        ndgrad.layers.Dense(3, kernel_initializer="xavier")(ndgrad.zeros(1, 2))
