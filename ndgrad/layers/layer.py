"""`Layer`, the Keras-style building block: weights made on first call, then `call`.

Subclass it as in Keras: create weights in ``build(input_shape)`` with ``self.add_weight``,
compute in ``call(inputs)`` (add a ``training`` argument when behaviour differs in training).
Layers assigned as attributes (or held in lists) are tracked, so their weights are yours too.
"""

from __future__ import annotations

import contextvars
import inspect
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from .. import initializers
from .._limits import check_weight
from .._tensor import Tensor
from ..backends.registry import get_backend
from ..creation import tensor
from ..errors import ShapeError

Shape = tuple[int | None, ...]
_counters: defaultdict[str, itertools.count] = defaultdict(itertools.count)
#: the training flag for layers called without an explicit `training` (set by `fit`)
learning_phase: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ndgrad_training", default=False
)


def snake_case(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("2_d", "2d").replace("1_d", "1d")


def unique_name(base: str) -> str:
    n = next(_counters[base])
    return base if n == 0 else f"{base}_{n}"


class Layer:
    """Base class of every layer; callable on Tensors: ``y = layer(x)``."""

    _layers: dict[str, Layer]  # the sublayers among its attributes, by attribute name
    _output_shape: Shape  # set by the Sequential model that builds it (for `summary`)

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: str = "float32",
    ) -> None:
        object.__setattr__(self, "_layers", {})
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = trainable
        self.dtype = dtype
        self.built = False
        self._params: list[tuple[str, Tensor, bool]] = []
        self._build_shape: Shape | None = None
        self._accepts_training = "training" in inspect.signature(self.call).parameters
        self.device = get_backend(None).name

    # -- tracking --------------------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, Layer) and key != "_parent":
            self._layers[key] = value
        elif (
            isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value)
        ):
            for i, v in enumerate(value):
                self._layers[f"{key}.{i}"] = v
        object.__setattr__(self, key, value)

    def sublayers(self) -> list[Layer]:
        """Directly tracked child layers, in the order they were assigned."""
        return list(self._layers.values())

    def named_weights(self, prefix: str = "") -> Iterator[tuple[str, Tensor, bool]]:
        """(path, tensor, trainable) for this layer's weights, then its sublayers'."""
        for name, w, trainable in self._params:
            yield prefix + name, w, trainable and self.trainable
        for key, layer in self._layers.items():
            for path, w, trainable in layer.named_weights(f"{prefix}{key}."):
                yield path, w, trainable and self.trainable

    @property
    def weights(self) -> list[Tensor]:
        """Every weight of this layer and its sublayers (empty before `build`)."""
        return [w for _, w, _ in self.named_weights()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer updates (a Dense layer's kernel and bias)."""
        return [w for _, w, t in self.named_weights() if t]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer leaves alone (BatchNormalization's moving statistics)."""
        return [w for _, w, t in self.named_weights() if not t]

    def count_params(self) -> int:
        """How many numbers the weights hold: Dense(10) on 784 inputs has 784 * 10 + 10."""
        return sum(w.size for w in self.weights)

    # -- building and calling --------------------------------------------------------------
    def add_weight(
        self,
        shape: Shape,
        initializer: Any = "glorot_uniform",
        trainable: bool = True,
        name: str | None = None,
        dtype: str | None = None,
    ) -> Tensor:
        """Create a weight tensor of `shape` (requires grad when trainable) and track it."""
        init = initializers.get(initializer)
        check_weight(shape, f"layer '{self.name}'")  # bounded while load_model builds
        w = init(tuple(shape), dtype=dtype or self.dtype, device=self.device)
        if not isinstance(w, Tensor):
            w = tensor(w, dtype=dtype or self.dtype, device=self.device)
        w.requires_grad_(trainable)
        self._params.append((name or f"weight_{len(self._params)}", w, trainable))
        return w

    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of `input_shape` (batch axis first, may be None)."""

    def call(self, inputs: Tensor) -> Tensor:
        """The layer's computation on a batch, `inputs` of shape (batch, ...): what
        ``layer(x)`` runs after building. A subclass may take ``training`` too (Dropout)."""
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for `input_shape`, found by a dry run on zeros (override if cheap).

        Unknown axes (None) are tried at two sizes: an output axis whose size follows them is
        unknown too (``Reshape((-1,))`` of ``(None, None, 6)`` is ``(None, None)``).
        """
        from ..autograd.grad_mode import no_grad
        from ..creation import zeros

        unknown = any(s is None for s in input_shape[1:])
        shapes = []
        with no_grad():
            for fill in (2, 3) if unknown else (2,):
                x = zeros([fill if s is None else s for s in input_shape], device=self.device)
                shapes.append(self(x).shape)
        sizes = [a if a == b else None for a, b in zip(shapes[0], shapes[-1])]
        return (input_shape[0], *sizes[1:])

    def _ensure_built(self, shape: Shape) -> None:
        if not self.built:
            made = len(self._params)
            try:
                self.build(shape)
            except BaseException:
                del self._params[made:]  # no half-built weights: a retry starts clean
                raise
            self._build_shape = tuple(shape)
            self.built = True

    def _check_input(self, x: Tensor) -> None:
        expected = self._build_shape
        if expected is None or not expected:
            return
        if x.ndim != len(expected) or expected[-1] is not None and x.shape[-1] != expected[-1]:
            shown = (None, *expected[1:])
            raise ShapeError(
                f"layer '{self.name}' ({type(self).__name__}) was built for inputs of shape "
                f"{shown}; received shape {x.shape}"
            )

    def __call__(self, inputs: Any, training: bool | None = None) -> Any:
        if not isinstance(inputs, Tensor):
            inputs = tensor(inputs, device=self.device)
        elif not self.built and inputs.backend.name != self.device and not self.weights:
            self._set_device(inputs.backend.name)  # a lazy build makes weights where data is
        self._ensure_built(inputs.shape)
        self._check_input(inputs)
        if self._accepts_training:
            call: Callable[..., Any] = self.call  # this subclass's call takes `training`
            return call(inputs, training=learning_phase.get() if training is None else training)
        return self.call(inputs)

    # -- devices and configs ---------------------------------------------------------------
    def to(self, device: str) -> Layer:
        """Move every weight to `device` in place (tensor objects keep their identity)."""
        target = get_backend(device)
        for _, w, _ in self.named_weights():
            if w.backend is not target:
                w.data = target.transfer(w.data, w.backend)
                w.backend = target
                w.grad = None
        self._set_device(target.name)
        return self

    def _set_device(self, name: str) -> None:
        object.__setattr__(self, "device", name)
        for layer in self._layers.values():
            layer._set_device(name)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (without weights)."""
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """A new layer (no weights) from `get_config` output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"
