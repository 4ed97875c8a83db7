"""`Sequential`: layers applied one after another, the book's way of building a network.

>>> from ndgrad import Sequential, layers
>>> model = Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
...                     layers.Dense(10, activation="softmax")])
>>> model.count_params()
407050
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._tensor import Tensor
from ..errors import ShapeError
from ..layers.core import Input
from ..layers.layer import Layer, Shape
from .model import Model


class Sequential(Model):
    """A plain stack of layers; builds eagerly when it starts with `Input(shape)`."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.layers: list[Layer] = []
        self._input: Input | None = None  # not a tracked sublayer: it has no weights
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append a layer (an `Input` first fixes the input shape and builds the model)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer. Received {type(layer).__name__}")
        if isinstance(layer, Input):
            if self.layers or self._input is not None:
                raise ValueError("Sequential: Input must be the first layer")
            object.__setattr__(self, "_input", layer)
            self.build((None, *layer.shape))
            return
        self.layers.append(layer)
        self._layers[f"layers.{len(self.layers) - 1}"] = layer
        if self._input is not None or self.built:
            self._build_layer(layer)

    def _build_layer(self, layer: Layer) -> None:
        previous = self.layers[-2]._output_shape if len(self.layers) > 1 else self._build_shape
        assert previous is not None  # called once built (or given an Input): shapes are known
        _build_chain(layer, previous)

    def build(self, input_shape: Shape) -> None:
        shape = tuple(input_shape)
        self._build_shape = shape
        for layer in self.layers:
            shape = _build_chain(layer, shape)
        self.built = True

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        """The layers in order, each on the output of the one before."""
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def _check_input(self, x: Tensor) -> None:
        expected = self._build_shape
        if expected and (
            x.ndim != len(expected)
            or any(e is not None and s != e for s, e in zip(x.shape[1:], expected[1:]))
        ):
            raise ShapeError(
                f"model '{self.name}' expects inputs of shape {(None, *expected[1:])}; "
                f"received shape {x.shape}"
            )

    def get_config(self) -> dict[str, Any]:
        from ..saving import layer_config

        cfg: dict[str, Any] = {"name": self.name, "layers": [layer_config(l) for l in self.layers]}
        if self._build_shape is not None:
            cfg["input_shape"] = list(self._build_shape[1:])
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new model with the layers of `get_config` output (fresh weights: `load_model`
        restores saved ones)."""
        from ..saving import layer_from_config

        layers = [layer_from_config(c) for c in config["layers"]]
        if "input_shape" in config:
            layers.insert(0, Input(tuple(config["input_shape"])))
        return cls(layers, name=config.get("name"))


def _build_chain(layer: Layer, shape: Shape) -> Shape:
    """Build `layer` for inputs of `shape` and record its output shape (for summary)."""
    layer._ensure_built(shape)
    out = layer.compute_output_shape(shape)
    layer._output_shape = out
    return out
