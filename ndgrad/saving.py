"""Saving and loading: weights as safetensors (or .npz without pickle), architecture as JSON.

Every write goes to a temporary file in the target folder and is then renamed over the target,
so a crash mid-save leaves the previous file intact. Nothing is ever pickled.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from . import layers as _layers
from ._files import atomic_write
from .errors import ShapeError

_REGISTRY: dict[str, type] = {name: getattr(_layers, name) for name in _layers.__all__}


def register(cls: type) -> type:
    """Make a custom Layer or Model class loadable by `load_model` (use as a decorator)."""
    _REGISTRY[cls.__name__] = cls
    return cls


def layer_config(layer: Any) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def layer_from_config(config: dict[str, Any]) -> Any:
    from .models import Sequential

    registry = {**_REGISTRY, "Sequential": Sequential}
    name = config["class_name"]
    if name not in registry:
        raise ValueError(
            f"unknown layer class {name!r}; register custom classes with "
            f"ndgrad.saving.register. Known: {', '.join(sorted(registry))}"
        )
    return registry[name].from_config(config["config"])


def _weights_dict(model: Any) -> dict[str, np.ndarray]:
    if not model.built:
        raise ValueError(
            f"model '{model.name}' has no weights yet: build it first (call it on "
            f"data, or start a Sequential with layers.Input(shape))"
        )
    return {path: np.ascontiguousarray(w.numpy()) for path, w, _ in model.named_weights()}


def _encode(arrays: dict[str, np.ndarray], fmt: str) -> bytes:
    if fmt == "safetensors":
        from safetensors.numpy import save

        return save(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _decode(data: bytes, fmt: str) -> dict[str, np.ndarray]:
    if fmt == "safetensors":
        from safetensors.numpy import load

        return load(data)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _format(path: str) -> str:
    if path.endswith(".safetensors"):
        return "safetensors"
    if path.endswith(".npz"):
        return "npz"
    raise ValueError(f"weights path must end in .safetensors or .npz. Received {path!r}")


def _assign(model: Any, arrays: dict[str, np.ndarray]) -> None:
    """Check every name and shape first, then assign all (nothing changes on a mismatch)."""
    named = {path: w for path, w, _ in model.named_weights()}
    missing, unexpected = sorted(set(named) - set(arrays)), sorted(set(arrays) - set(named))
    if missing or unexpected:
        raise ValueError(
            f"weights do not match model '{model.name}': missing {missing}, unexpected {unexpected}"
        )
    for path, w in named.items():
        if tuple(arrays[path].shape) != w.shape:
            raise ShapeError(
                f"weight {path!r}: the model has shape {w.shape}, the file "
                f"{tuple(arrays[path].shape)}"
            )
    for path, w in named.items():
        w.data = w.backend.from_numpy(arrays[path].astype(w.dtype.name, copy=True))
        w._version[0] += 1


def save_weights(model: Any, path: str) -> None:
    """Write the model's weights to `path` (.safetensors or .npz), atomically."""
    data = _encode(_weights_dict(model), _format(path))
    atomic_write(path, lambda f: f.write(data))


def load_weights(model: Any, path: str) -> None:
    """Load weights written by `save_weights` into a built model with the same layers."""
    if not model.built:
        raise ValueError(
            f"load_weights: build model '{model.name}' first (call it on data, or "
            f"start a Sequential with layers.Input(shape))"
        )
    with open(path, "rb") as f:
        _assign(model, _decode(f.read(), _format(path)))


def save_model(model: Any, path: str) -> None:
    """Write architecture, compile settings and weights to one zip file, atomically."""
    fmt = "safetensors"
    try:
        import safetensors  # noqa: F401
    except ImportError:
        fmt = "npz"
    config = {
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "weights": f"model.{fmt}",
        "ndgrad_version": _version(),
    }
    _check_loadable(model, config)
    if model.optimizer is not None:
        config["compile"] = {
            "optimizer": {
                "class_name": type(model.optimizer).__name__,
                "config": model.optimizer.get_config(),
            },
            "loss": _loss_config(model.loss),
            "metrics": [_metric_name(m) for m in model.compiled_metrics],
        }
    weights = _encode(_weights_dict(model), fmt)

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("config.json", json.dumps(config, indent=2))
            z.writestr(config["weights"], weights)

    atomic_write(path, write)


def _check_loadable(model: Any, config: dict[str, Any]) -> None:
    """Refuse at save time what `load_model` could not rebuild."""
    name = config["class_name"]
    if name != "Sequential" and name not in _REGISTRY:
        raise ValueError(
            f"save: {name} is not a registered class, so load_model could not rebuild it; "
            f"decorate it with @ndgrad.saving.register (and give it get_config/from_config), "
            f"or save its weights with save_weights"
        )
    if name == "Sequential" and "input_shape" not in config["config"]:
        raise ValueError(
            "save: the model has no input shape yet; start it with "
            "layers.Input(shape) or call it on data first"
        )


def _loss_config(loss: Any) -> dict[str, Any]:
    from . import losses

    if isinstance(loss, losses.Loss) and type(loss) in losses.LOSSES.values():
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = getattr(loss, "__name__", None)
    if name in losses.LOSSES and getattr(losses, name, None) is loss:
        return {"class_name": losses.LOSSES[name].__name__, "config": {}}
    raise ValueError(
        f"save: the loss {loss!r} has no name load_model knows; compile with a "
        f"loss name or an ndgrad.losses class to save the model"
    )


def _metric_name(metric: Any) -> str:
    from . import metrics

    if metric.name not in metrics.METRICS:
        raise ValueError(
            f"save: the metric {metric.name!r} is not one load_model knows "
            f"({', '.join(sorted(metrics.METRICS))})"
        )
    return metric.name


def _loss_from_config(config: dict[str, Any]) -> Any:
    from . import losses

    classes = {cls.__name__: cls for cls in losses.LOSSES.values()}
    return classes[config["class_name"]](**config["config"])


def load_model(path: str) -> Any:
    """Rebuild a model saved with `model.save` (compiled again when it was compiled)."""
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
        weights = z.read(config["weights"])
    model = layer_from_config(config)
    if not model.built:
        raise ValueError("load_model: the saved model has no input shape, so it cannot be rebuilt")
    _assign(model, _decode(weights, config["weights"].rsplit(".", 1)[1]))
    if "compile" in config:
        from . import optimizers

        c = config["compile"]
        model.compile(
            optimizer=optimizers.get(c["optimizer"]),
            loss=_loss_from_config(c["loss"]),
            metrics=c["metrics"],
        )
    return model


def _version() -> str:
    from . import __version__

    return __version__
