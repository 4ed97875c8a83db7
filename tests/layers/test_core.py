"""The Layer base class and the core layers: building, shapes, weights, configs, training flags.

Every layer builds lazily on its first call (from the input's shape) or eagerly when a
Sequential starts with `Input(shape)`; its output shape equals `compute_output_shape`; configs
round-trip; a built layer rejects inputs of another shape with a ShapeError naming both.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.layers.layer import learning_phase
from ndgrad.models import book


def _sample(shape, backend, seed=0):
    rng = np.random.default_rng(seed)
    concrete = [2 if s is None else s for s in shape]
    return ndgrad.tensor(rng.standard_normal(concrete).astype("float32"), device=backend)


# every layer, an input shape (batch axis None) and its expected output shape
CASES = [
    (lambda: layers.Dense(5), (None, 3), (None, 5)),
    (lambda: layers.Dense(5, activation="relu"), (None, 4, 3), (None, 4, 5)),
    (lambda: layers.Dense(2, use_bias=False), (None, 7), (None, 2)),
    (lambda: layers.Flatten(), (None, 2, 3, 4), (None, 24)),
    (lambda: layers.Flatten(), (None, 6), (None, 6)),
    (lambda: layers.Flatten(), (None,), (None, 1)),  # as Keras: a feature axis is added
    (lambda: layers.Dropout(0.5), (None, 3, 2), (None, 3, 2)),
    (lambda: layers.Activation("tanh"), (None, 5), (None, 5)),
    (lambda: layers.Rescaling(1 / 255, offset=-0.5), (None, 4), (None, 4)),
    (lambda: layers.Reshape((3, 8)), (None, 4, 6), (None, 3, 8)),
    (lambda: layers.Reshape((-1,)), (None, 4, 6), (None, 24)),
    (lambda: layers.Conv2D(4, 3), (None, 9, 8, 2), (None, 7, 6, 4)),
    (lambda: layers.Conv2D(4, (3, 2), strides=2, padding="same"), (None, 9, 8, 2),
     (None, 5, 4, 4)),
    (lambda: layers.Conv2D(3, 2, strides=(1, 3)), (None, 5, 7, 1), (None, 4, 2, 3)),
    (lambda: layers.MaxPooling2D(2), (None, 9, 8, 2), (None, 4, 4, 2)),
    (lambda: layers.MaxPooling2D(3, 2, padding="same"), (None, 9, 8, 2), (None, 5, 4, 2)),
    (lambda: layers.AveragePooling2D((2, 3)), (None, 6, 7, 1), (None, 3, 2, 1)),
    (lambda: layers.AveragePooling2D(2, 1, padding="same"), (None, 5, 5, 3), (None, 5, 5, 3)),
    (lambda: layers.GlobalAveragePooling2D(), (None, 5, 4, 3), (None, 3)),
    (lambda: layers.BatchNormalization(), (None, 4, 4, 3), (None, 4, 4, 3)),
    (lambda: layers.BatchNormalization(axis=1), (None, 3, 5), (None, 3, 5)),
]
IDS = [f"{make().__class__.__name__}-{i}" for i, (make, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("make, in_shape, out_shape", CASES, ids=IDS)
def test_lazy_build_on_first_call(backend, make, in_shape, out_shape):
    with ndgrad.device(backend):
        layer = make()
    assert not layer.built and layer.weights == []
    x = _sample(in_shape, backend)
    y = layer(x)
    assert layer.built
    assert y.shape == (2, *out_shape[1:]) and y.device == backend
    assert layer.compute_output_shape(in_shape) == out_shape
    assert all(w.device == backend for w in layer.weights)


@pytest.mark.parametrize("make, in_shape, out_shape", CASES, ids=IDS)
def test_eager_build_with_input(backend, make, in_shape, out_shape):
    with ndgrad.device(backend):
        layer = make()
        model = Sequential([layers.Input(in_shape[1:]), layer])
    assert layer.built and model.built
    assert layer._output_shape == out_shape == layer.compute_output_shape(in_shape)
    assert model(_sample(in_shape, backend)).shape == (2, *out_shape[1:])


@pytest.mark.parametrize("make, in_shape, out_shape", CASES, ids=IDS)
def test_config_round_trip(make, in_shape, out_shape):
    layer = make()
    layer(_sample(in_shape, "cpu"))
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert not clone.built
    clone(_sample(in_shape, "cpu"))
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]
    for w, c in zip(layer.weights, clone.weights):  # same weights -> same outputs
        c.data = w.data
    x = _sample(in_shape, "cpu", seed=1)
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy(), rtol=1e-6)


def test_config_is_json_serialisable():
    import json

    for make, _, _ in CASES:
        json.dumps(make().get_config())


# -- weight counts ---------------------------------------------------------------------------

def test_dense_weight_count():
    layer = layers.Dense(512)
    layer(ndgrad.zeros(1, 784))
    assert layer.kernel.shape == (784, 512) and layer.bias.shape == (512,)
    assert layer.count_params() == 401_920
    model = Sequential([layers.Input((784,)), layers.Dense(512, activation="relu")])
    assert model.count_params() == 401_920
    assert layers.Dense(3, use_bias=False)(ndgrad.zeros(1, 4)) is not None


def test_book_networks_have_keras_weight_counts():
    convnet = book.mnist_convnet()
    counts = [layer.count_params() for layer in convnet.layers]
    assert counts == [320, 0, 18_496, 0, 73_856, 0, 11_530]  # Keras's model.summary()
    assert convnet.count_params() == 104_202
    assert book.mnist_mlp().count_params() == 407_050


# -- custom layers ---------------------------------------------------------------------------

class Scale(layers.Layer):
    """y = x * w + c: a trainable scale per feature and a frozen offset."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", name="w")
        self.c = self.add_weight((), "zeros", trainable=False, name="c")

    def call(self, inputs):
        return inputs * self.w + self.c


class Block(layers.Layer):
    """Sublayers as attributes and in a list are tracked."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(4, activation="relu")
        self.rest = [layers.Dense(3), Scale()]

    def call(self, inputs):
        x = self.first(inputs)
        for layer in self.rest:
            x = layer(x)
        return x


def test_custom_layer_with_add_weight(backend):
    with ndgrad.device(backend):
        layer = Scale()
    x = _sample((None, 3), backend)
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), x.numpy())
    assert [w.shape for w in layer.weights] == [(3,), ()]
    assert layer.trainable_weights == [layer.w] and layer.non_trainable_weights == [layer.c]
    assert layer.w.requires_grad and not layer.c.requires_grad
    assert layer.compute_output_shape((None, 3)) == (None, 3)  # the default: a dry run
    assert layer.name.startswith("scale")


def test_sublayers_are_tracked():
    block = Block()
    assert block.sublayers() == [block.first, *block.rest]
    block(ndgrad.zeros(2, 5))
    names = [name for name, _, _ in block.named_weights()]
    assert names == ["first.kernel", "first.bias", "rest.0.kernel", "rest.0.bias", "rest.1.w",
                     "rest.1.c"]
    assert block.count_params() == 5 * 4 + 4 + 4 * 3 + 3 + 3 + 1
    assert len(block.trainable_weights) == 5 and len(block.non_trainable_weights) == 1


def test_trainable_false_freezes_all_weights():
    block = Block(trainable=False)
    block(ndgrad.zeros(2, 5))
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 6
    dense = layers.Dense(2)
    dense(ndgrad.zeros(1, 2))
    dense.trainable = False
    assert dense.trainable_weights == [] and dense.non_trainable_weights == dense.weights


def test_layer_names_are_unique_and_snake_case():
    a, b = layers.MaxPooling2D(), layers.MaxPooling2D()
    assert a.name.startswith("max_pooling2d") and a.name != b.name
    assert layers.Dense(2, name="head").name == "head"


def test_layer_to_moves_weights_in_place():
    layer = layers.Dense(3)
    layer(ndgrad.zeros(1, 2))
    kernel, before = layer.kernel, layer.kernel.numpy().copy()
    layer.to("strict")
    assert layer.kernel is kernel and kernel.device == "strict" and layer.device == "strict"
    np.testing.assert_array_equal(kernel.numpy(), before)
    assert layer(ndgrad.zeros(1, 2, device="strict")).device == "strict"


# -- bad inputs ------------------------------------------------------------------------------

@pytest.mark.parametrize("make, built_for, bad", [
    (lambda: layers.Dense(4), (2, 3), (2, 5)),
    (lambda: layers.Dense(4), (2, 3), (3,)),
    (lambda: layers.Conv2D(2, 3), (1, 8, 8, 1), (1, 8, 8, 3)),
    (lambda: layers.Conv2D(2, 3), (1, 8, 8, 1), (8, 8, 1)),
    (lambda: layers.BatchNormalization(), (4, 3), (4, 5)),
    (lambda: Scale(), (2, 3), (2, 4)),
])
def test_built_layer_rejects_another_shape(backend, make, built_for, bad):
    with ndgrad.device(backend):
        layer = make()
    layer(ndgrad.zeros(built_for, device=backend))
    with pytest.raises(ndgrad.ShapeError) as info:
        layer(ndgrad.zeros(bad, device=backend))
    message = str(info.value)
    assert str((None, *built_for[1:])) in message and str(bad) in message
    assert layer.name in message


def test_dense_accepts_extra_leading_axes():
    layer = layers.Dense(4)
    layer(ndgrad.zeros(2, 3))
    assert layer(ndgrad.zeros(5, 2, 3)).shape == (5, 2, 4)


def test_conv2d_needs_images():
    with pytest.raises(ndgrad.ShapeError, match=r"\(2, 8, 8\)"):
        layers.Conv2D(2, 3)(ndgrad.zeros(2, 8, 8))


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="padding"):
        layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        layers.Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="padding"):
        layers.MaxPooling2D(padding="causal")


# -- layers that behave differently in training ----------------------------------------------

def test_dropout_only_in_training(backend):
    ndgrad.manual_seed(0)
    layer = layers.Dropout(0.25)
    x = ndgrad.ones(200, 50, device=backend)
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())  # inference by default
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    y = layer(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    assert y.mean() == pytest.approx(1.0, abs=0.03)  # the expectation is kept
    token = learning_phase.set(True)  # what fit sets for layers called without `training`
    try:
        assert (layer(x).numpy() == 0).any()
    finally:
        learning_phase.reset(token)
    assert (layer(x).numpy() == 1).all()


def test_dropout_gradient_follows_the_mask(backend):
    x = ndgrad.ones(20, 10, device=backend, requires_grad=True)
    y = layers.Dropout(0.5)(x, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())


def test_rescaling_makes_floats_from_pixels(backend):
    pixels = ndgrad.tensor(np.array([[0, 51, 255]], dtype="uint8"), device=backend)
    y = layers.Rescaling(1 / 255)(pixels)
    assert y.dtype == ndgrad.float32
    np.testing.assert_allclose(y.numpy(), [[0.0, 0.2, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(layers.Rescaling(2.0, offset=-1.0)(y).numpy(), [[-1, -0.6, 1]],
                               rtol=1e-6)


def test_activation_layer(backend):
    x = _sample((None, 4), backend)
    np.testing.assert_allclose(layers.Activation("relu")(x).numpy(), np.maximum(x.numpy(), 0))


def test_dense_matches_torch_linear(backend):
    layer = layers.Dense(3, activation="sigmoid")
    with ndgrad.device(backend):
        x = _sample((4, 5), backend)
        y = layer(x)
    tl = torch.nn.Linear(5, 3)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(layer.kernel.numpy().T))
        tl.bias.copy_(torch.from_numpy(layer.bias.numpy()))
    want = torch.sigmoid(tl(torch.from_numpy(x.numpy()))).detach().numpy()
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)


def test_lazy_build_puts_weights_where_the_first_input_is():
    layer = layers.Dense(3)  # made on the default device (cpu)
    y = layer(ndgrad.zeros(2, 4, device="strict"))
    assert y.device == "strict" and layer.kernel.device == "strict" and layer.device == "strict"


# -- Input ---------------------------------------------------------------------------------------

def test_input_keeps_its_name_and_round_trips():
    inp = layers.Input((4, 3), name="pixels")
    assert inp.name == "pixels" and inp.shape == (4, 3)
    assert inp.get_config() == {"shape": [4, 3], "name": "pixels"}
    again = layers.Input.from_config(inp.get_config())
    assert again.name == "pixels" and again.shape == (4, 3)
    model = Sequential([layers.Input((3,), name="features"), layers.Dense(2)])
    assert model._input.name == "features"


# -- Dense: initializers, use_bias, the fused relu -----------------------------------------------

def test_dense_config_names_its_default_initializers():
    config = layers.Dense(3).get_config()
    assert config["kernel_initializer"] == "glorot_uniform"
    assert config["bias_initializer"] == "zeros"
    assert config["use_bias"] is True and config["activation"] == "linear"


def test_dense_uses_the_initializers_it_is_given():
    layer = layers.Dense(3, kernel_initializer="ones", bias_initializer="ones")
    y = layer(ndgrad.tensor([[1.0, 2.0]]))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(layer.bias.numpy(), np.ones(3))
    np.testing.assert_array_equal(y.numpy(), [[4.0, 4.0, 4.0]])


def test_dense_without_bias_has_only_a_kernel():
    layer = layers.Dense(3, use_bias=False, bias_initializer="ones", kernel_initializer="ones")
    y = layer(ndgrad.tensor([[1.0, -2.0]]))
    assert layer.bias is None
    assert [name for name, _, _ in layer.named_weights()] == ["kernel"]
    assert layer.count_params() == 6
    np.testing.assert_array_equal(y.numpy(), [[-1.0, -1.0, -1.0]])


def test_dense_relu_clips_negative_outputs(backend):
    ndgrad.manual_seed(0)
    with ndgrad.device(backend):
        layer = layers.Dense(4, activation="relu", bias_initializer="random_normal")
        x = _sample((6, 3), backend)
        y = layer(x).numpy()
    pre = x.numpy() @ layer.kernel.numpy() + layer.bias.numpy()
    assert (pre < 0).any() and (pre > 0).any()
    np.testing.assert_allclose(y, np.maximum(pre, 0.0), rtol=1e-5, atol=1e-6)


def test_dense_built_on_sequences_takes_plain_batches_too():
    """As Keras (min_ndim=2): only the last axis must match the kernel."""
    layer = layers.Dense(2)
    layer(ndgrad.zeros(4, 5, 3))
    assert layer(ndgrad.zeros(6, 3)).shape == (6, 2)
    assert layer(ndgrad.zeros(1, 2, 3, 3)).shape == (1, 2, 3, 2)
    with pytest.raises(ndgrad.ShapeError, match=r"\(None, 5, 3\)"):
        layer(ndgrad.zeros(6, 4))


def _halves(shape, dtype="float32", device=None):
    return ndgrad.full(shape, 0.5, dtype=dtype, device=device)


class _Constant:
    """An initializer object (no __name__), as keras.initializers.Constant."""

    def __init__(self, value):
        self.value = value

    def __call__(self, shape, dtype="float32", device=None):
        return ndgrad.full(shape, self.value, dtype=dtype, device=device)


def test_dense_config_names_a_function_initializer():
    config = layers.Dense(2, kernel_initializer=_halves, bias_initializer=_halves).get_config()
    assert config["kernel_initializer"] == "_halves"
    assert config["bias_initializer"] == "_halves"
    conv = layers.Conv2D(2, 3, kernel_initializer=_halves).get_config()
    assert conv["kernel_initializer"] == "_halves" and conv["bias_initializer"] == "zeros"


def test_dense_config_keeps_an_initializer_object_and_rebuilds_with_it():
    const = _Constant(0.25)
    layer = layers.Dense(2, kernel_initializer=const, bias_initializer=_Constant(1.0))
    config = layer.get_config()
    assert config["kernel_initializer"] is const
    clone = layers.Dense.from_config(config)
    clone(ndgrad.zeros(1, 3))
    np.testing.assert_array_equal(clone.kernel.numpy(), np.full((3, 2), 0.25))
    np.testing.assert_array_equal(clone.bias.numpy(), [1.0, 1.0])


# -- Flatten ---------------------------------------------------------------------------------

def test_flatten_three_axes():
    x = ndgrad.tensor(np.arange(24, dtype="float32").reshape(2, 3, 4))
    y = layers.Flatten()(x)
    assert y.shape == (2, 12)
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(2, 12))


def test_flatten_output_shape_with_unknown_axes():
    assert layers.Flatten().compute_output_shape((None, None, 3)) == (None, None)
    assert layers.Flatten().compute_output_shape((8, 4, None)) == (8, None)
    assert layers.Flatten().compute_output_shape((None, 4, 3)) == (None, 12)


# -- Dropout ---------------------------------------------------------------------------------

def test_dropout_rate_zero_is_allowed_and_draws_nothing():
    layer = layers.Dropout(0.0)
    x = ndgrad.ones(5, 4)
    ndgrad.manual_seed(7)
    y = layer(x, training=True)
    after = ndgrad.random.uniform((8,)).numpy()
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    ndgrad.manual_seed(7)
    np.testing.assert_array_equal(ndgrad.random.uniform((8,)).numpy(), after)  # no draws used
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\). Received rate=-0.1"):
        layers.Dropout(-0.1)


def test_dropout_call_defaults_to_inference():
    """A subclass calling ``super().call(inputs)`` without `training` gets inference."""

    class Shifted(layers.Dropout):
        def call(self, inputs):
            return super().call(inputs) + 1.0

    x = ndgrad.ones(50, 40)
    ndgrad.manual_seed(0)
    np.testing.assert_array_equal(Shifted(0.5)(x).numpy(), np.full((50, 40), 2.0))


def test_dropout_is_reproducible_with_a_seed():
    x = ndgrad.ones(30, 30)
    ndgrad.manual_seed(3)
    a = layers.Dropout(0.4)(x, training=True).numpy()
    ndgrad.manual_seed(3)
    b = layers.Dropout(0.4)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a == 0).mean() == pytest.approx(0.4, abs=0.06)
    np.testing.assert_allclose(a[a != 0], 1 / 0.6, rtol=1e-6)


# -- Rescaling and dtypes --------------------------------------------------------------------

def test_rescaling_integers_take_the_layer_dtype():
    pixels = ndgrad.tensor(np.array([[0, 2, 255]], dtype="int32"))
    y = layers.Rescaling(0.5, dtype="float64")(pixels)
    assert y.dtype == ndgrad.float64
    np.testing.assert_array_equal(y.numpy(), [[0.0, 1.0, 127.5]])


def test_rescaling_keeps_float64_inputs_float64():
    """ndgrad's dtype rule (README): float64 appears when an input is float64, and it stays."""
    x = ndgrad.tensor(np.array([[1.0 + 1e-12, 3.0]]), dtype="float64")
    y = layers.Rescaling(2.0)(x)
    assert y.dtype == ndgrad.float64
    assert y.numpy()[0, 0] == 2.0 + 2e-12
