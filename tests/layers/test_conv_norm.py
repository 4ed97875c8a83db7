"""Conv2D, pooling and BatchNormalization layers, and "one optimizer step lowers the loss" for
every layer with weights, on both backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ndgrad
from ndgrad import Sequential, layers


def _data(shape, backend, seed=0, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return ndgrad.tensor((rng.standard_normal(shape) * scale + shift).astype("float32"),
                         device=backend)


# -- Conv2D ----------------------------------------------------------------------------------

@pytest.mark.parametrize("strides, padding", [(1, "valid"), (2, "same"), ((2, 1), "valid")])
def test_conv2d_layer_matches_torch(backend, strides, padding):
    with ndgrad.device(backend):
        layer = layers.Conv2D(5, (3, 2), strides=strides, padding=padding, activation="relu")
        x = _data((2, 7, 6, 3), backend)
        y = layer(x)
    assert layer.kernel.shape == (3, 2, 3, 5) and layer.bias.shape == (5,)
    assert layer.count_params() == 3 * 2 * 3 * 5 + 5
    t = torch.from_numpy(x.numpy()).permute(0, 3, 1, 2)
    if padding == "same":  # these shapes need no asymmetric padding: (1, 1) rows, (0, 1) cols
        t = F.pad(t, (0, 1, 1, 1))
    want = F.relu(F.conv2d(t, torch.from_numpy(layer.kernel.numpy()).permute(3, 2, 0, 1),
                           torch.from_numpy(layer.bias.numpy()), stride=strides))
    np.testing.assert_allclose(y.numpy(), want.permute(0, 2, 3, 1).numpy(), rtol=1e-4,
                               atol=1e-5)


def test_pooling_layers_compute_their_op(backend):
    x = _data((2, 6, 6, 3), backend)
    a = x.numpy().reshape(2, 3, 2, 3, 2, 3)
    np.testing.assert_allclose(layers.MaxPooling2D()(x).numpy(), a.max(axis=(2, 4)))
    np.testing.assert_allclose(layers.AveragePooling2D()(x).numpy(), a.mean(axis=(2, 4)),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layers.GlobalAveragePooling2D()(x).numpy(),
                               x.numpy().mean(axis=(1, 2)), rtol=1e-6, atol=1e-7)
    assert layers.MaxPooling2D().weights == []


# -- BatchNormalization ----------------------------------------------------------------------

def test_batchnorm_weights_trainable_and_not():
    bn = layers.BatchNormalization()
    bn(ndgrad.zeros(2, 4, 4, 3))
    names = [n for n, _, _ in bn.named_weights()]
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert bn.trainable_weights == [bn.gamma, bn.beta]
    assert bn.non_trainable_weights == [bn.moving_mean, bn.moving_variance]
    assert not bn.moving_mean.requires_grad
    assert bn.count_params() == 12
    model = Sequential([layers.Input((4, 4, 3)), layers.BatchNormalization()])
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 6" in lines and "Non-trainable params: 6" in lines


def test_batchnorm_training_uses_batch_statistics_and_updates_moving_ones(backend):
    with ndgrad.device(backend):
        bn = layers.BatchNormalization(momentum=0.9)
    x = _data((64, 3), backend, scale=3.0, shift=2.0)
    xn = x.numpy().astype("float64")
    y = bn(x, training=True).numpy()
    mean, var = xn.mean(0), xn.var(0)  # Keras: the biased batch variance
    np.testing.assert_allclose(y, (xn - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    assert bn.moving_mean.device == backend


def test_batchnorm_inference_uses_moving_statistics(backend):
    with ndgrad.device(backend):
        bn = layers.BatchNormalization()
    x = _data((8, 2), backend, scale=2.0, shift=1.0)
    bn(x)  # build
    bn.moving_mean.data = ndgrad.tensor([1.0, -1.0], device=backend).data
    bn.moving_variance.data = ndgrad.tensor([4.0, 0.25], device=backend).data
    bn.gamma.data = ndgrad.tensor([2.0, 1.0], device=backend).data
    bn.beta.data = ndgrad.tensor([0.5, 0.0], device=backend).data
    before = bn.moving_mean.numpy().copy()
    y = bn(x).numpy()  # training=False by default
    want = (x.numpy() - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) * [2, 1] + [0.5, 0]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)  # untouched at inference


def test_batchnorm_training_matches_torch_values_and_gradients(backend):
    """torch.nn.functional.batch_norm in training mode, on channels-last conv features."""
    with ndgrad.device(backend):
        bn = layers.BatchNormalization(epsilon=1e-3)
    xa = np.random.default_rng(3).standard_normal((4, 3, 3, 2)).astype("float32") * 2 + 1
    x = ndgrad.tensor(xa, device=backend, requires_grad=True)
    y = bn(x, training=True)
    g = np.cos(np.arange(y.size, dtype="float32")).reshape(y.shape)
    (y * ndgrad.tensor(g, device=backend)).sum().backward()

    tx = torch.from_numpy(xa.copy()).requires_grad_(True)
    gamma = torch.ones(2, requires_grad=True)
    beta = torch.zeros(2, requires_grad=True)
    running_mean, running_var = torch.zeros(2), torch.ones(2)
    ty = F.batch_norm(tx.permute(0, 3, 1, 2), running_mean, running_var, gamma, beta,
                      training=True, momentum=0.01, eps=1e-3).permute(0, 2, 3, 1)
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), running_mean.numpy(), rtol=1e-5)
    # torch's running variance uses the unbiased batch variance, Keras's the biased one
    keras_var = 0.99 + 0.01 * xa.reshape(-1, 2).var(0)
    np.testing.assert_allclose(bn.moving_variance.numpy(), keras_var, rtol=1e-5)
    unbiased = 0.99 + 0.01 * xa.reshape(-1, 2).var(0, ddof=1)
    np.testing.assert_allclose(running_var.numpy(), unbiased, rtol=1e-5)


def test_batchnorm_gamma_beta_gradients_match_torch(backend):
    with ndgrad.device(backend):
        bn = layers.BatchNormalization()
    xa = np.random.default_rng(4).standard_normal((16, 3)).astype("float32")
    x = ndgrad.tensor(xa, device=backend)
    bn(x)  # build
    y = bn(x, training=True)
    g = np.sin(np.arange(48, dtype="float32")).reshape(16, 3)
    (y * ndgrad.tensor(g, device=backend)).sum().backward()
    gamma = torch.ones(3, requires_grad=True)
    beta = torch.zeros(3, requires_grad=True)
    ty = F.batch_norm(torch.from_numpy(xa), None, None, gamma, beta, training=True, eps=1e-3)
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(bn.gamma.grad.numpy(), gamma.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.beta.grad.numpy(), beta.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_batchnorm_axis_one(backend):
    with ndgrad.device(backend):
        bn = layers.BatchNormalization(axis=1)
    x = _data((8, 3, 5), backend, scale=2.0)
    y = bn(x, training=True).numpy()
    assert bn.gamma.shape == (3,)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-5)


# -- one optimizer step lowers the loss, for every layer with weights ------------------------

class Affine(layers.Layer):
    """A custom layer: y = x * w + b per feature."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", name="w")
        self.b = self.add_weight((input_shape[-1],), "zeros", name="b")

    def call(self, inputs):
        return inputs * self.w + self.b


STEP_CASES = {
    "Dense": ((6,), lambda: [layers.Dense(3)], (3,)),
    "Dense-relu": ((6,), lambda: [layers.Dense(3, activation="relu")], (3,)),
    "Conv2D": ((6, 6, 2), lambda: [layers.Conv2D(3, 3, padding="same")], (6, 6, 3)),
    "Conv2D-strided": ((7, 7, 1), lambda: [layers.Conv2D(2, 3, strides=2)], (3, 3, 2)),
    "BatchNormalization": ((4,), lambda: [layers.BatchNormalization()], (4,)),
    "custom": ((5,), lambda: [Affine()], (5,)),
    "Conv2D+pool+Dense": ((8, 8, 1), lambda: [layers.Conv2D(2, 3, activation="relu"),
                                               layers.MaxPooling2D(),
                                               layers.Flatten(), layers.Dense(3)], (3,)),
}


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adam"])
@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_one_optimizer_step_lowers_the_loss(backend, case, optimizer):
    in_shape, make, out_shape = STEP_CASES[case]
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input(in_shape), *make()]).to(backend)
    model.compile(optimizer=ndgrad.optimizers.get(optimizer).from_config(
        {**ndgrad.optimizers.get(optimizer).get_config(), "learning_rate": 0.01}), loss="mse")
    x = _data((16, *in_shape), backend, seed=1)
    y = _data((16, *out_shape), backend, seed=2)
    before = model.get_weights()
    first = model.train_on_batch(x, y)  # the loss before the update
    second = model.train_on_batch(x, y)  # after one update
    assert second < first, (first, second)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert all(changed[i] for i, w in enumerate(model.weights) if w.requires_grad)
    assert all(w.device == backend for w in model.weights)


# -- Conv2D: arguments, weights, a linear activation ---------------------------------------------

def test_conv2d_linear_matches_torch(backend):
    ndgrad.manual_seed(0)
    with ndgrad.device(backend):
        layer = layers.Conv2D(4, 3, strides=(1, 2), bias_initializer="random_normal")
        x = _data((2, 6, 7, 2), backend)
        y = layer(x).numpy()
    want = F.conv2d(torch.from_numpy(x.numpy()).permute(0, 3, 1, 2),
                    torch.from_numpy(layer.kernel.numpy()).permute(3, 2, 0, 1),
                    torch.from_numpy(layer.bias.numpy()), stride=(1, 2)).permute(0, 2, 3, 1)
    assert (want < 0).any()  # no relu on a linear layer
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-4, atol=1e-5)


def test_conv2d_weights_and_the_initializers_it_is_given():
    layer = layers.Conv2D(3, (2, 1), kernel_initializer="ones", bias_initializer="ones")
    y = layer(ndgrad.ones(1, 3, 3, 2))
    assert [(n, w.shape) for n, w, _ in layer.named_weights()] == [
        ("kernel", (2, 1, 2, 3)), ("bias", (3,))]
    np.testing.assert_array_equal(layer.kernel.numpy(), np.ones((2, 1, 2, 3)))
    np.testing.assert_array_equal(layer.bias.numpy(), np.ones(3))
    np.testing.assert_array_equal(y.numpy(), np.full((1, 2, 3, 3), 5.0))  # 2 * 2 ones + 1


def test_conv2d_without_bias():
    layer = layers.Conv2D(3, 2, use_bias=False, kernel_initializer="ones")
    y = layer(ndgrad.ones(1, 3, 3, 1))
    assert layer.bias is None and [n for n, _, _ in layer.named_weights()] == ["kernel"]
    assert layer.count_params() == 12
    np.testing.assert_array_equal(y.numpy(), np.full((1, 2, 2, 3), 4.0))


def test_conv2d_config_names_its_defaults_and_round_trips():
    config = layers.Conv2D(8, 3).get_config()
    assert config["kernel_initializer"] == "glorot_uniform"
    assert config["bias_initializer"] == "zeros"
    assert config["kernel_size"] == [3, 3] and config["strides"] == [1, 1]
    full = layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu",
                         use_bias=False, kernel_initializer="he_normal",
                         bias_initializer="ones", name="c", trainable=False)
    again = layers.Conv2D.from_config(full.get_config())
    assert again.get_config() == full.get_config()
    assert (again.kernel_size, again.strides, again.padding) == ((3, 2), (2, 1), "same")
    assert again.name == "c" and again.trainable is False and again.use_bias is False


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 0}, r"^kernel_size must be a positive int or a pair of them. Received 0"),
    ({"kernel_size": (3, 3, 3)}, r"^kernel_size must be .* Received \(3, 3, 3\)"),
    ({"kernel_size": 3, "strides": 0}, r"^strides must be a positive int or a pair .* 0"),
    ({"kernel_size": 3, "strides": (1, 2, 1)}, r"^strides must be .* \(1, 2, 1\)"),
])
def test_conv2d_argument_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.Conv2D(2, **kwargs)


# -- pooling: arguments ----------------------------------------------------------------------

@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
def test_pooling_argument_errors_name_the_argument(cls):
    with pytest.raises(ValueError, match=r"^pool_size must be a positive int .* Received 0"):
        cls(0)
    with pytest.raises(ValueError, match=r"^pool_size must be .* Received \(2, 2, 2\)"):
        cls((2, 2, 2))
    with pytest.raises(ValueError, match=r"^strides must be a positive int .* Received 0"):
        cls(2, strides=0)
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: padding must be 'valid' or 'same'"):
        cls(2, padding="causal")


def test_pooling_strides_default_to_the_pool_size_and_are_used(backend):
    x = _data((1, 5, 5, 2), backend)
    t = torch.from_numpy(x.numpy()).permute(0, 3, 1, 2)
    pool = layers.MaxPooling2D((3, 2), strides=(1, 2))
    assert pool.strides == (1, 2) and layers.MaxPooling2D((3, 2)).strides == (3, 2)
    np.testing.assert_allclose(pool(x).numpy(),
                               F.max_pool2d(t, (3, 2), (1, 2)).permute(0, 2, 3, 1).numpy())
    avg = layers.AveragePooling2D(2, strides=1)
    np.testing.assert_allclose(avg(x).numpy(),
                               F.avg_pool2d(t, 2, 1).permute(0, 2, 3, 1).numpy(), rtol=1e-6,
                               atol=1e-7)


# -- BatchNormalization: center/scale, moving statistics over steps, inference by default ----

def test_batchnorm_flags_of_its_weights():
    bn = layers.BatchNormalization()
    bn(ndgrad.zeros(2, 3))
    assert [t for _, _, t in bn.named_weights()] == [True, True, False, False]
    frozen = layers.BatchNormalization(center=False, scale=False)
    frozen(ndgrad.zeros(2, 3))
    assert frozen.trainable_weights == []
    assert [t for _, _, t in frozen.named_weights()] == [False, False, False, False]
    only_beta = layers.BatchNormalization(scale=False)
    only_beta(ndgrad.zeros(2, 3))
    assert only_beta.trainable_weights == [only_beta.beta]
    only_gamma = layers.BatchNormalization(center=False)
    only_gamma(ndgrad.zeros(2, 3))
    assert only_gamma.trainable_weights == [only_gamma.gamma]


def test_batchnorm_initial_weights():
    bn = layers.BatchNormalization()
    bn(ndgrad.zeros(2, 3))
    for w, value in zip(bn.weights, [1.0, 0.0, 0.0, 1.0]):
        np.testing.assert_array_equal(w.numpy(), np.full(3, value))


def test_batchnorm_moving_statistics_follow_the_keras_recurrence(backend):
    momentum = 0.8
    with ndgrad.device(backend):
        bn = layers.BatchNormalization(momentum=momentum, epsilon=0.01)
    mean, var = np.zeros(2), np.ones(2)
    for step in range(3):
        x = _data((32, 2), backend, seed=step, scale=2.0 + step, shift=1.0 - step)
        bn(x, training=True)
        xn = x.numpy().astype("float64")
        mean = mean * momentum + xn.mean(0) * (1 - momentum)
        var = var * momentum + xn.var(0) * (1 - momentum)
        np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-5)
    x = _data((4, 2), backend, seed=9)
    np.testing.assert_allclose(bn(x).numpy(), (x.numpy() - mean) / np.sqrt(var + 0.01),
                               rtol=1e-4, atol=1e-5)


def test_batchnorm_call_defaults_to_inference():
    """A subclass calling ``super().call(inputs)`` without `training` uses the moving stats."""

    class Plus(layers.BatchNormalization):
        def call(self, inputs):
            return super().call(inputs) + 0.0

    bn = Plus(epsilon=0.0)
    x = _data((16, 3), "cpu", scale=3.0, shift=5.0)
    np.testing.assert_allclose(bn(x).numpy(), x.numpy(), rtol=1e-6)  # moving: mean 0, var 1
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3))
