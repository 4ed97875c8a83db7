"""The course's lab on MNIST: the data split and the model builder that `ndgrad lab` uses.

`mnist_data` holds out the last sixth of the training images (10,000 of 60,000) for
validation, so the test images stay unseen while hyperparameters are chosen; they come with
the data as its test split, on which the chosen configuration is finally measured. `MnistBuild`
makes the book's first network (or its convnet) and compiles it with an optimizer configured
by the cell: ``MnistBuild("rmsprop")({"learning_rate": 1e-3, "momentum": 0.9})``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from .runner import Data

MODELS = ("mlp", "convnet")


def mnist_data(
    path: str | None = None, subset: int | None = None, model: str = "mlp"
) -> tuple[Data, str, list[str]]:
    """(Data, where it came from, notes) for the lab: float32 pixels in [0, 1], shaped for
    `model`; `subset` keeps the first `subset` training images and a fifth as many from the
    end for validation (see `split_sizes`)."""
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
    n_train, n_val = split_sizes(len(x), subset, notes)
    x_val, y_val = x[len(x) - n_val :], y[len(y) - n_val :]
    x_train, y_train = x[:n_train], y[:n_train]
    shape = (-1, 28 * 28) if model == "mlp" else (-1, 28, 28, 1)

    def pixels(a: Any) -> Any:
        return (a.reshape(shape).astype(np.float32) / np.float32(255)).astype(np.float32)

    prepared = Data(pixels(x_train), y_train.astype(np.int64), pixels(x_val),
                    y_val.astype(np.int64), pixels(data.x_test), data.y_test.astype(np.int64))
    return prepared, data.source, notes


def split_sizes(available: int, subset: int | None, notes: list[str]) -> tuple[int, int]:
    """(training, validation) image counts: `subset` and a fifth as many (at least one) when
    `subset` is given and the data hold that many; otherwise the last sixth (at most 10,000)
    held out for validation and the rest for training, with a note when `subset` asked for
    more. The validation images come from the end, the training images from the start: they
    never overlap.

    >>> split_sizes(60_000, None, [])
    (50000, 10000)
    >>> split_sizes(60_000, 1000, [])
    (1000, 200)
    >>> notes = []
    >>> split_sizes(4000, 4000, notes), len(notes)
    ((3334, 666), 1)
    """
    n_val = min(10_000, available // 6)
    default = (available - n_val, n_val)
    if subset is None:
        return default
    want = (subset, max(1, subset // 5))
    if sum(want) <= available:
        return want
    notes.append(
        f"--subset {subset} asks for {want[0]} training and {want[1]} validation images; the "
        f"data hold {available} in all: using {default[0]} and {default[1]}"
    )
    return default


#: ranges the lab checks before any run: (low, high, low included, high included)
_RANGES = {
    "learning_rate": (0.0, None, False, False),
    "momentum": (0.0, 1.0, True, False),
    "rho": (0.0, 1.0, True, False),
    "beta_1": (0.0, 1.0, True, False),
    "beta_2": (0.0, 1.0, True, False),
    "epsilon": (0.0, None, False, False),
    "weight_decay": (0.0, None, True, False),
}


def check_config(optimizer: str, config: dict[str, Any]) -> dict[str, Any]:
    """`config` coerced to the optimizer's parameter types and checked before anything runs:
    numbers finite and in their range (learning rates > 0, momentum in [0, 1), ...), and the
    whole config accepted by the optimizer's own constructor. A ValueError names the value."""
    from .. import optimizers

    config = coerce_config(optimizer, config)
    defaults = optimizer_parameters(optimizer)
    for key, value in config.items():
        default = defaults[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false. Received {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and not number:
            raise ValueError(f"{key} must be a number. Received {value!r}")
        if key not in _RANGES:
            continue
        low, high, low_ok, high_ok = _RANGES[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = number and math.isfinite(value)
        if ok and low is not None:
            ok = value >= low if low_ok else value > low
        if ok and high is not None:
            ok = value <= high if high_ok else value < high
        if not ok:
            lo = "" if low is None else f"{'[' if low_ok else '('}{low:g}"
            hi = "inf)" if high is None else f"{high:g}{']' if high_ok else ')'}"
            raise ValueError(f"{key} must be a finite number in {lo}, {hi}. Received {value!r}")
    opt = optimizers.get(optimizer)
    try:
        type(opt).from_config({**opt.get_config(), **config})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{optimizer} refuses {config}: {e}") from e
    return config


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
