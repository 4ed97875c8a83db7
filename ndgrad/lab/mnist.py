"""The course's lab on MNIST: the data split and the model builder that `ndgrad lab` uses.

`mnist_data` holds out the last sixth of the training images (10,000 of 60,000) for
validation, so the test images stay unseen while hyperparameters are chosen. `MnistBuild`
makes the book's first network (or its convnet) and compiles it with an optimizer configured
by the cell: ``MnistBuild("rmsprop")({"learning_rate": 1e-3, "momentum": 0.9})``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from .runner import Data

MODELS = ("mlp", "convnet")


def mnist_data(
    path: str | None = None, subset: int | None = None, model: str = "mlp"
) -> tuple[Data, str, list[str]]:
    """(Data, where it came from, notes) for the lab: float32 pixels in [0, 1], shaped for
    `model`; `subset` keeps the first `subset` training images (validation: a fifth as many,
    at most the held-out sixth)."""
    import numpy as np

    from ..datasets import mnist

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset must be a positive number of images. Received {subset}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = mnist.load(path)
    notes = [str(w.message) for w in caught]
    x, y = data.x_train, data.y_train
    n_val = min(10_000, len(x) // 6)
    if subset is not None:
        n_val = min(n_val, max(1, subset // 5))
    x_val, y_val = x[len(x) - n_val :], y[len(y) - n_val :]
    x_train, y_train = x[: len(x) - n_val], y[: len(y) - n_val]
    if subset is not None:
        if subset > len(x_train):
            notes.append(f"subset {subset} > the {len(x_train)} training images: using all")
        x_train, y_train = x_train[:subset], y_train[:subset]
    shape = (-1, 28 * 28) if model == "mlp" else (-1, 28, 28, 1)

    def pixels(a: Any) -> Any:
        return (a.reshape(shape).astype(np.float32) / np.float32(255)).astype(np.float32)

    prepared = Data(pixels(x_train), y_train.astype(np.int64), pixels(x_val),
                    y_val.astype(np.int64))
    return prepared, data.source, notes


def optimizer_parameters(name: str) -> dict[str, Any]:
    """The optimizer's configurable parameters and their defaults."""
    from .. import optimizers

    config = optimizers.get(name).get_config()
    config.pop("name", None)
    return config


def coerce_config(optimizer: str, config: dict[str, Any]) -> dict[str, Any]:
    """`config` with each value as the optimizer's parameter type (momentum 0 -> 0.0);
    a ValueError names unknown parameters and lists the known ones."""
    known = optimizer_parameters(optimizer)
    out = {}
    for key, value in config.items():
        if key not in known:
            raise ValueError(
                f"{optimizer} has no parameter {key!r}; its parameters are "
                f"{', '.join(sorted(known))}"
            )
        default = known[key]
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[key] = value
    return out


@dataclass(frozen=True)
class MnistBuild:
    """A cell's model: the book's `model` compiled with `optimizer` configured by the cell
    (and `fixed` parameters shared by every cell)."""

    optimizer: str = "rmsprop"
    model: str = "mlp"
    fixed: dict[str, Any] = field(default_factory=dict)

    def __call__(self, config: dict[str, Any]) -> Any:
        from .. import optimizers
        from ..models import book

        params = coerce_config(self.optimizer, {**self.fixed, **config})
        opt = optimizers.get(self.optimizer)
        opt = type(opt).from_config({**opt.get_config(), **params})
        net = book.mnist_mlp() if self.model == "mlp" else book.mnist_convnet()
        net.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return net

    def __repr__(self) -> str:
        fixed = ", ".join(f"{k}={v}" for k, v in sorted(self.fixed.items()))
        return f"MnistBuild({self.optimizer}, {self.model}" + (f", {fixed})" if fixed else ")")
