"""The `Layer` base class: automatic names, `add_weight`, the input check of a built layer,
calling on non-Tensors, devices, and what a subclass that forgets `call` is told."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers

# -- automatic names, as Keras: snake_case of the class, then _1, _2 ... -------------------------


def test_the_first_layer_of_a_class_takes_the_bare_name_then_numbers_follow():
    tag = uuid.uuid4().hex  # a class name no earlier test (or test run) has used
    fresh = type(f"Fresh{tag}Thing", (layers.Layer,), {"call": lambda self, inputs: inputs})
    names = [fresh().name for _ in range(3)]
    base = f"fresh{tag}_thing"
    assert names == [base, f"{base}_1", f"{base}_2"]


def test_snake_case_keeps_1d_and_2d_together():
    class Conv1D(layers.Layer):  # a user's layer named like Keras's Conv1D
        def call(self, inputs):
            return inputs

    class UpSampling2D(layers.Layer):
        def call(self, inputs):
            return inputs

    assert Conv1D().name.split("_")[0] == "conv1d"
    assert UpSampling2D().name.startswith("up_sampling2d")
    assert not UpSampling2D().name.startswith("up_sampling2_d")


def test_an_explicit_name_is_kept():
    assert layers.Dense(2, name="head").name == "head"


# -- the state of a new layer ------------------------------------------------------------------

def test_a_new_layer_is_unbuilt_and_on_the_default_device():
    layer = layers.Dense(2, name="d")
    assert layer.built is False
    assert repr(layer) == "<Dense name='d' built=False>"
    assert layer.device == "cpu"
    with ndgrad.device("strict"):
        assert layers.Dense(2).device == "strict"
    layer(ndgrad.zeros(1, 3))
    assert layer.built is True and repr(layer) == "<Dense name='d' built=True>"


def test_an_unbuilt_sequential_round_trips_unbuilt():
    """No input shape is known before a build: the config carries none, the copy builds lazily."""
    model = Sequential([layers.Dense(2)])
    config = model.get_config()
    assert "input_shape" not in config
    again = Sequential.from_config(config)
    assert not again.built
    assert again(ndgrad.zeros(4, 3)).shape == (4, 2)


# -- add_weight --------------------------------------------------------------------------------

class Plain(layers.Layer):
    """A kernel made with add_weight's defaults (initializer, name)."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], 50))

    def call(self, inputs):
        return inputs @ self.w


def test_add_weight_defaults_to_a_trainable_glorot_uniform_weight():
    ndgrad.manual_seed(0)
    layer = Plain()
    layer(ndgrad.zeros(1, 30))
    w = layer.w.numpy()
    limit = math.sqrt(6 / (30 + 50))
    assert w.dtype == np.float32 and w.shape == (30, 50)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.1)  # uniform on [-l, l]
    assert [name for name, _, _ in layer.named_weights()] == ["weight_0"]
    assert layer.trainable_weights == [layer.w] and layer.w.requires_grad


class FromNumpy(layers.Layer):
    """A weight whose initializer returns a NumPy float64 array, not a Tensor."""

    def __init__(self, weight_dtype=None, **kwargs):
        super().__init__(**kwargs)
        self.weight_dtype = weight_dtype

    def build(self, input_shape):
        def arange(shape, dtype="float32", device=None):
            return np.arange(math.prod(shape), dtype="float64").reshape(shape) / 4

        self.w = self.add_weight((input_shape[-1],), arange, name="w", dtype=self.weight_dtype)

    def call(self, inputs):
        return inputs * self.w


@pytest.mark.parametrize("backend_name", ["cpu", "strict"])
def test_an_initializer_may_return_an_array_it_becomes_a_weight_of_the_layer(backend_name):
    with ndgrad.device(backend_name):
        layer = FromNumpy()
    y = layer(ndgrad.ones(2, 3, device=backend_name))
    assert isinstance(layer.w, ndgrad.Tensor)
    assert layer.w.dtype == ndgrad.float32  # the layer's dtype, not the array's float64
    assert layer.w.device == backend_name and y.device == backend_name
    np.testing.assert_array_equal(layer.w.numpy(), [0.0, 0.25, 0.5])
    assert layer.w.requires_grad


def test_an_array_from_an_initializer_outside_the_device_context_goes_to_the_layer():
    with ndgrad.device("strict"):
        layer = FromNumpy()
    layer(ndgrad.ones(2, 3, device="strict"))  # built outside the context
    assert layer.w.device == "strict"


def test_add_weight_dtype_and_the_layer_dtype():
    layer = FromNumpy(weight_dtype="float64")
    layer(ndgrad.ones(1, 2))
    assert layer.w.dtype == ndgrad.float64
    wide = FromNumpy(dtype="float64")
    wide(ndgrad.ones(1, 2, dtype="float64"))
    assert wide.w.dtype == ndgrad.float64

    class Zeros64(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight((3,), "zeros", dtype="float64", name="w")

        def call(self, inputs):
            return inputs + self.w

    layer = Zeros64()
    assert layer(ndgrad.ones(1, 3, dtype="float64")).dtype == ndgrad.float64
    assert layer.w.dtype == ndgrad.float64


# -- weights made in __init__, a failed build ----------------------------------------------------

class Eager(layers.Layer):
    """A scale made in __init__ (its shape needs no input), a kernel made in build, which
    rejects inputs without a feature axis."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.scale = self.add_weight((), "ones", name="scale")

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1],), "ones", name="kernel")
        if len(input_shape) < 2:
            raise ValueError(f"Eager needs (batch, features). Received {input_shape}")

    def call(self, inputs):
        return inputs * self.kernel * self.scale


def test_a_failed_build_keeps_the_weights_made_before_it():
    layer = Eager()
    with pytest.raises(ValueError, match="Received"):
        layer(ndgrad.ones(3))
    assert not layer.built
    assert [name for name, _, _ in layer.named_weights()] == ["scale"]  # no half-made kernel
    layer(ndgrad.ones(2, 3))
    assert [name for name, _, _ in layer.named_weights()] == ["scale", "kernel"]


def test_a_layer_with_weights_builds_beside_them_not_where_the_input_is():
    layer = Eager()  # its scale is on cpu
    with pytest.raises(ndgrad.DeviceError, match="different devices"):
        layer(ndgrad.ones(2, 3, device="strict"))
    assert {w.device for w in layer.weights} == {"cpu"} and layer.device == "cpu"
    layer.to("strict")
    assert layer(ndgrad.ones(2, 3, device="strict")).device == "strict"


# -- the input check of a built layer ------------------------------------------------------------

class Scale(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", name="w")

    def call(self, inputs):
        return inputs * self.w


class Double(layers.Layer):
    def call(self, inputs):
        return inputs * 2


def test_a_layer_built_with_an_input_shape_checks_the_feature_axis():
    scale = Scale()
    Sequential([layers.Input((None, 3)), scale])  # built for (None, None, 3)
    assert scale(ndgrad.ones(2, 5, 3)).shape == (2, 5, 3)
    assert scale(ndgrad.ones(4, 7, 3)).shape == (4, 7, 3)
    with pytest.raises(ndgrad.ShapeError,
                       match=r"\(Scale\) was built for inputs of shape \(None, None, 3\); "
                             r"received shape \(2, 5, 4\)"):
        scale(ndgrad.ones(2, 5, 4))

    flat = Scale()
    Sequential([layers.Input((3,)), flat])  # built for (None, 3)
    with pytest.raises(ndgrad.ShapeError, match=r"was built for inputs of shape \(None, 3\)"):
        flat(ndgrad.ones(2, 4))


def test_an_unknown_feature_axis_takes_any_size():
    double = Double()
    Sequential([layers.Input((4, None)), double])  # built for (None, 4, None)
    assert double(ndgrad.ones(2, 4, 7)).shape == (2, 4, 7)
    with pytest.raises(ndgrad.ShapeError, match=r"\(None, 4, None\)"):
        double(ndgrad.ones(2, 7))


def test_the_shape_error_names_the_layer_class():
    dense = layers.Dense(3, name="head")
    dense(ndgrad.ones(2, 4))
    with pytest.raises(ndgrad.ShapeError, match=r"layer 'head' \(Dense\) was built for"):
        dense(ndgrad.ones(2, 5))


def test_a_layer_built_on_scalars_takes_scalars_again():
    double = Double()
    assert double(ndgrad.tensor(1.5)).item() == 3.0
    assert double(ndgrad.tensor(-2.0)).item() == -4.0
    assert double(ndgrad.ones(3)).tolist() == [2.0, 2.0, 2.0]  # nothing to check against


# -- calling -------------------------------------------------------------------------------------

def test_a_layer_takes_lists_and_arrays_and_makes_them_tensors_on_its_device():
    dense = layers.Dense(2, kernel_initializer="ones")
    y = dense([[1.0, 2.0, 3.0]])
    assert isinstance(y, ndgrad.Tensor) and y.tolist() == [[6.0, 6.0]]
    assert dense(np.ones((1, 3), "float32")).tolist() == [[3.0, 3.0]]

    on_strict = layers.Dense(2, kernel_initializer="ones").to("strict")
    y = on_strict([[1.0, 2.0, 3.0]])  # converted where the layer is, not on the default device
    assert y.device == "strict" and on_strict.kernel.device == "strict"
    assert y.tolist() == [[6.0, 6.0]]


def test_a_built_layer_without_weights_stays_on_its_device():
    flatten = layers.Flatten()
    flatten(ndgrad.ones(2, 3, 4))
    assert flatten(ndgrad.ones(2, 3, 4, device="strict")).device == "strict"
    assert flatten.device == "cpu"
    assert flatten([[[1.0], [2.0]]]).device == "cpu"


def test_a_layer_without_call_says_so():
    class Forgetful(layers.Layer):
        pass

    with pytest.raises(NotImplementedError, match=r"^Forgetful must define call\(inputs\)"):
        Forgetful()(ndgrad.ones(1, 2))


# -- devices -------------------------------------------------------------------------------------

def test_to_clears_gradients_and_moves_sublayers():
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = layers.Dense(3)
            self.rest = [layers.Dense(2)]

        def call(self, inputs):
            return self.rest[0](self.first(inputs))

    block = Block()
    block(ndgrad.ones(2, 4)).sum().backward()
    assert block.first.kernel.grad is not None
    block.to("strict")
    assert all(w.grad is None for w in block.weights)
    assert block.first.device == "strict" and block.rest[0].device == "strict"

    unbuilt = Block().to("strict")  # sublayers build on the device they were moved to
    assert unbuilt.first.device == "strict" and unbuilt.rest[0].device == "strict"
    y = unbuilt([[1.0, 2.0, 3.0, 4.0]])
    assert y.device == "strict" and {w.device for w in unbuilt.weights} == {"strict"}


def test_the_dry_run_keeps_unknown_axes_unknown():
    """The default compute_output_shape (a dry run): output axes that follow an unknown
    input axis are unknown, as in Keras; the others are exact."""
    assert layers.Reshape((-1,)).compute_output_shape((None, None, 6)) == (None, None)
    assert layers.Reshape((2, -1)).compute_output_shape((None, None, 6)) == (None, 2, None)
    assert layers.Reshape((2, -1)).compute_output_shape((None, 4, 6)) == (None, 2, 12)
    assert layers.Dense(3).compute_output_shape((7, None, 5)) == (7, None, 3)
