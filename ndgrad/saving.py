"""Saving and loading: weights as safetensors (or .npz without pickle), architecture as JSON.

A model file (`model.save`) is a zip archive: ``config.json`` (architecture, compile settings,
the optimizer's variables), the weights (``model.safetensors``) and, once the optimizer has
made a step, its state (``optimizer.safetensors``: each slot per weight and the step count), so
training resumes where it stopped. ndgrad reads and writes safetensors itself
(`ndgrad._safetensors`, NumPy only), so a file written by one install loads in every other;
files of earlier versions holding ``model.npz`` load too. Every write goes to a temporary file
in the target folder and is then renamed over the target, so a crash mid-save leaves the
previous file intact. Nothing is ever pickled: a file that is not what it should be raises a
`ModelFileError` naming it.

Reading is bounded: the declared and inflated size of every member against `max_bytes`
(default `MAX_MODEL_BYTES`, 1 GiB, or ``$NDGRAD_MAX_MODEL_BYTES``), config.json's size and
nesting, and the weights the architecture may create (no more than the file holds), so a
hostile file is refused in one line instead of exhausting memory.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from . import _safetensors
from . import layers as _layers
from ._files import atomic_write
from ._limits import WeightBudgetError, weight_budget
from ._registry import Registry
from ._tensor import bump_version
from .backends import registry
from .errors import ModelFileError, ShapeError
from .models.sequential import Sequential

#: default cap on the bytes of a model or weights file, each member once inflated
MAX_MODEL_BYTES = 1 << 30
MAX_CONFIG_BYTES = 16 << 20  # config.json: architectures are a few kB
MAX_NESTING = 64  # JSON levels in config.json (a Sequential inside a Sequential ... adds 4)

#: The classes `load_model` rebuilds by name: the built-in layers, Sequential and the classes
#: registered with `register`.
_REGISTRY: Registry[type] = Registry(
    "layer class",
    {**{name: getattr(_layers, name) for name in _layers.__all__}, "Sequential": Sequential},
    normalize=None,
    message="unknown {kind} {name}; register custom classes with ndgrad.saving.register. "
    "Known: {names}",
)

_MODEL_FILE = (
    "expected an ndgrad model written by model.save: a zip archive holding config.json and "
    "model.safetensors"
)
_WEIGHTS_FILE = "expected weights written by save_weights (safetensors, or .npz without pickle)"


def register(cls: type) -> type:
    """Make a custom Layer or Model class loadable by `load_model` (use as a decorator)."""
    _REGISTRY[cls.__name__] = cls
    return cls


def layer_config(layer: Any) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def layer_from_config(config: dict[str, Any]) -> Any:
    cls: Any = _REGISTRY.lookup(config["class_name"])
    return cls.from_config(config["config"])


def _weights_dict(model: Any) -> dict[str, np.ndarray]:
    if not model.built:
        raise ValueError(
            f"model '{model.name}' has no weights yet: build it first (call it on "
            f"data, or start a Sequential with layers.Input(shape))"
        )
    return {path: np.ascontiguousarray(w.numpy()) for path, w, _ in model.named_weights()}


def _encode(arrays: dict[str, np.ndarray], fmt: str) -> bytes:
    if fmt == "safetensors":
        return _safetensors.save(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle in **kwds
    return buf.getvalue()


def _decode(data: bytes, fmt: str, where: str, expected: str) -> dict[str, np.ndarray]:
    """The arrays in `data`; a ModelFileError naming `where` when they cannot be read."""
    try:
        if fmt == "safetensors":
            return _safetensors.load(data)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as e:  # safetensors' SafetensorError, NumPy's ValueError/BadZipFile ...
        raise ModelFileError(f"{where}: cannot read the arrays ({_reason(e)}); {expected}") from e


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _format(path: str) -> str:
    if path.endswith(".safetensors"):
        return "safetensors"
    if path.endswith(".npz"):
        return "npz"
    raise ValueError(f"weights path must end in .safetensors or .npz. Received {path!r}")


def _check_arrays(
    named: dict[str, Any], arrays: dict[str, np.ndarray], what: str, in_model_file: bool
) -> None:
    """Every name of `named` in `arrays`, nothing else, each a float array of the right shape.

    A mismatch inside one model file means the file is broken (ModelFileError); between a
    model and a weights file, that they differ (ValueError, ShapeError).
    """
    missing, unexpected = sorted(set(named) - set(arrays)), sorted(set(arrays) - set(named))
    if missing or unexpected:
        error = ModelFileError if in_model_file else ValueError
        raise error(f"{what} do not match: missing {missing}, unexpected {unexpected}")
    for path, w in named.items():
        a = arrays[path]
        if a.dtype.kind != "f":
            raise ModelFileError(f"{what}: {path!r} has dtype {a.dtype}, expected floating point")
        if tuple(a.shape) != tuple(w.shape):
            error = ModelFileError if in_model_file else ShapeError
            raise error(
                f"{what}: {path!r} has shape {tuple(w.shape)} in the model, "
                f"{tuple(a.shape)} in the file"
            )


def _assign(model: Any, arrays: dict[str, np.ndarray], where: str, in_model_file: bool) -> None:
    """Check every name and shape first, then assign all (nothing changes on a mismatch)."""
    named = {path: w for path, w, _ in model.named_weights()}
    _check_arrays(named, arrays, f"{where}: the weights of model '{model.name}'", in_model_file)
    for path, w in named.items():
        w.data = w.backend.from_numpy(arrays[path].astype(w.dtype.name, copy=True))
        bump_version(w)


def save_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """Write the model's weights to `path` (.safetensors or .npz), atomically."""
    path = os.fspath(path)
    data = _encode(_weights_dict(model), _format(path))
    atomic_write(path, lambda f: f.write(data))


def load_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """Load weights written by `save_weights` into a built model with the same layers."""
    path = os.fspath(path)
    if not model.built:
        raise ValueError(
            f"load_weights: build model '{model.name}' first (call it on data, or "
            f"start a Sequential with layers.Input(shape))"
        )
    fmt = _format(path)
    cap = _max_bytes(None)
    size = os.path.getsize(path)
    if size > cap:
        raise ModelFileError(
            f"load_weights: {path}: {size} bytes, more than the limit of {cap} "
            "(pass a larger limit with NDGRAD_MAX_MODEL_BYTES)"
        )
    with open(path, "rb") as f:
        data = f.read()
    _assign(model, _decode(data, fmt, f"load_weights: {path}", _WEIGHTS_FILE), path, False)


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write architecture, compile settings, weights and optimizer state to one zip file."""
    fmt = "safetensors"
    config = {
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "weights": f"model.{fmt}",
        "ndgrad_version": _version(),
        "device": model.device,  # where load_model puts it back, when this machine has it
    }
    _check_loadable(model, config)
    members = {config["weights"]: _encode(_weights_dict(model), fmt)}
    if model.optimizer is not None:
        config["compile"] = {
            "optimizer": {
                "class_name": type(model.optimizer).__name__,
                "config": model.optimizer.get_config(),
            },
            "loss": _loss_config(model.loss),
            "metrics": [_metric_name(m) for m in model.compiled_metrics],
        }
        if model.optimizer.built:
            variables, arrays = _optimizer_arrays(model)
            config["optimizer_state"] = {"file": f"optimizer.{fmt}", "variables": variables}
            members[f"optimizer.{fmt}"] = _encode(arrays, fmt)

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("config.json", json.dumps(config, indent=2))
            for name, data in members.items():
                z.writestr(name, data)

    atomic_write(path, write)


def _optimizer_arrays(model: Any) -> tuple[list[str], dict[str, np.ndarray]]:
    """The optimizer's variables as weight paths, and its state as ``slot/path`` arrays."""
    optimizer = model.optimizer
    paths = {id(w): path for path, w, _ in model.named_weights()}
    unknown = [i for i, v in enumerate(optimizer._trainable_variables) if id(v) not in paths]
    if unknown:
        raise ValueError(
            f"save: the optimizer updates variables {unknown} that are not weights of model "
            f"'{model.name}', so its state cannot be saved with it"
        )
    variables = [paths[id(v)] for v in optimizer._trainable_variables]
    state = optimizer.get_state()
    arrays = {"iterations": np.array(state["iterations"], dtype=np.int64)}
    for slot, values in state["slots"].items():
        arrays.update((f"{slot}/{p}", np.ascontiguousarray(a)) for p, a in zip(variables, values))
    return variables, arrays


def _check_loadable(model: Any, config: dict[str, Any]) -> None:
    """Refuse at save time what `load_model` could not rebuild."""
    name = config["class_name"]
    if name not in _REGISTRY:
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
    if isinstance(name, str) and name in losses.LOSSES and getattr(losses, name, None) is loss:
        return {"class_name": losses.LOSSES[name].__name__, "config": {}}
    raise ValueError(
        f"save: the loss {loss!r} has no name load_model knows; compile with a "
        f"loss name or an ndgrad.losses class to save the model"
    )


def _metric_name(metric: Any) -> str:
    """The name `metrics.get` rebuilds `metric` from; only ndgrad's own metrics have one (a
    function of the user's called "mae" would silently come back as ndgrad's)."""
    from . import metrics

    fn = metrics.METRICS.get(metric.name, False)
    accuracies = (
        None,
        metrics.binary_accuracy,
        metrics.sparse_categorical_accuracy,
        metrics.categorical_accuracy,
    )
    if fn is False or not (metric.fn is fn or fn is None and metric.fn in accuracies):
        raise ValueError(
            f"save: the metric {metric.name!r} is not one load_model knows "
            f"({', '.join(sorted(metrics.METRICS))}); compile with one of these names to save"
        )
    return metric.name


def _loss_from_config(config: dict[str, Any]) -> Any:
    from . import losses

    classes = {cls.__name__: cls for cls in losses.LOSSES.values()}
    return classes[config["class_name"]](**config["config"])


def _max_bytes(max_bytes: int | None) -> int:
    if max_bytes is not None:
        return max_bytes
    text = os.environ.get("NDGRAD_MAX_MODEL_BYTES", "").strip()
    try:
        return int(text) if text else MAX_MODEL_BYTES
    except ValueError:
        raise ValueError(
            f"NDGRAD_MAX_MODEL_BYTES must be a number of bytes. Received {text!r}"
        ) from None


def _read_member(z: zipfile.ZipFile, name: str, path: str, cap: int) -> bytes:
    """One member, its declared size checked first and its inflated size while reading."""
    info = z.getinfo(name)
    if info.file_size > cap or info.compress_size > cap:
        raise ModelFileError(
            f"load_model: {path}: {name} declares {max(info.file_size, info.compress_size)} "
            f"bytes, more than the limit of {cap} (a larger limit: load_model(path, "
            "max_bytes=...) or NDGRAD_MAX_MODEL_BYTES)"
        )
    with z.open(info) as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ModelFileError(f"load_model: {path}: {name} inflates beyond the limit of {cap} bytes")
    return data


def _depth(value: Any) -> int:
    """How deeply `value` (parsed JSON) nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def _check_sizes(value: Any, cap: int, path: str) -> None:
    """Every integer and every list of integers (a shape) in the architecture within `cap`
    values, so building it cannot ask for more memory than the file may hold."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            ints = [x for x in v if isinstance(x, int) and not isinstance(x, bool)]
            if ints and len(ints) == len(v) and math.prod(abs(x) for x in ints) > cap:
                raise ModelFileError(
                    f"load_model: {path}: config.json asks for a size of {v} "
                    f"({math.prod(abs(x) for x in ints)} values), more than the "
                    f"limit of {cap}"
                )
            stack.extend(v)
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) > cap:
            raise ModelFileError(
                f"load_model: {path}: config.json asks for a size of {v}, more "
                f"than the limit of {cap}"
            )


def _read_members(path: str, cap: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """config.json (parsed) and the other members of a model file, or a ModelFileError."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "config.json" not in names:
                raise ModelFileError(
                    f"load_model: {path} is a zip archive without config.json; {_MODEL_FILE}"
                )
            raw = _read_member(z, "config.json", path, min(cap, MAX_CONFIG_BYTES))
            try:
                config = json.loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                detail = "nested too deeply" if isinstance(e, RecursionError) else str(e)
                raise ModelFileError(
                    f"load_model: {path}: config.json is not valid JSON ({detail}); {_MODEL_FILE}"
                ) from None
            if _depth(config) > MAX_NESTING:
                raise ModelFileError(
                    f"load_model: {path}: config.json nests {_depth(config)} levels deep, more "
                    f"than the limit of {MAX_NESTING}"
                )
            if not isinstance(config, dict) or not isinstance(config.get("weights"), str):
                raise ModelFileError(
                    f"load_model: {path}: config.json does not name the weights file "
                    f"(no 'weights' entry); {_MODEL_FILE}"
                )
            wanted = [config["weights"]]
            state = config.get("optimizer_state")
            if isinstance(state, dict) and isinstance(state.get("file"), str):
                wanted.append(state["file"])
            for name in wanted:
                if name not in names:
                    raise ModelFileError(
                        f"load_model: {path} has no {name} (config.json names it); the file "
                        f"is incomplete. {_MODEL_FILE}"
                    )
            members = {name: _read_member(z, name, path, cap) for name in wanted}
            total = sum(len(m) for m in members.values())
            if total > cap:
                raise ModelFileError(
                    f"load_model: {path}: the members hold {total} bytes, "
                    f"more than the limit of {cap}"
                )
            return config, members
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        detail = "empty file" if os.path.getsize(path) == 0 else _reason(e)
        raise ModelFileError(
            f"load_model: {path} is not a readable ndgrad model ({detail}); {_MODEL_FILE}"
        ) from e


def _member_format(name: str, path: str) -> str:
    fmt = name.rsplit(".", 1)[-1]
    if fmt not in ("safetensors", "npz"):
        raise ModelFileError(
            f"load_model: {path}: config.json names {name!r}, not a .safetensors or .npz "
            f"file; {_MODEL_FILE}"
        )
    return fmt


def load_model(
    path: str | os.PathLike[str], *, device: str | None = None, max_bytes: int | None = None
) -> Any:
    """Rebuild a model saved with `model.save`: weights, compile settings, optimizer state.

    `device`: where to put the model and its optimizer state. Default: the device it was
    saved from (recorded in the file) when this machine has it, else the default device
    (`ndgrad.device`), as for files written before the device was recorded. An explicit
    device that is not available raises `DeviceError`.

    Raises `ModelFileError` (naming the file) when the file is not such a model, is
    truncated, holds weights that do not fit its architecture, or exceeds the limits:
    `max_bytes` per member once inflated (default: ``$NDGRAD_MAX_MODEL_BYTES``, else
    `MAX_MODEL_BYTES`, 1 GiB), config.json's size and nesting, and no more weights built than
    the file holds.
    """
    path = os.fspath(path)
    cap = _max_bytes(max_bytes)
    config, members = _read_members(path, cap)
    _check_sizes({k: v for k, v in config.items() if k != "compile"}, cap, path)
    with registry.device(_load_device(config, device, path)):
        return _rebuild(config, members, path)


def _load_device(config: dict[str, Any], device: str | None, path: str) -> str:
    """The device `load_model` builds on: `device`, else the saved one if offered here."""
    if device is not None:
        return registry.get_backend(device).name
    saved = config.get("device")
    if saved is not None and not isinstance(saved, str):
        raise ModelFileError(
            f"load_model: {path}: config.json's device must be a device name such as "
            f"'cuda:0'. Received {saved!r}; {_MODEL_FILE}"
        )
    if saved is not None and saved in registry.devices():
        return saved
    return registry.default_backend().name


def _rebuild(config: dict[str, Any], members: dict[str, bytes], path: str) -> Any:
    """The model of a read file, its weights, compile settings and optimizer state."""
    name = config["weights"]
    where = f"load_model: {path}: {name}"
    weights = _decode(members[name], _member_format(name, path), where, _MODEL_FILE)
    # no more weight values built than the file holds (the slack lets a small mismatch reach
    # the check that names the missing weights)
    values = sum(a.size for a in weights.values()) + (1 << 20)
    try:
        with weight_budget(values):
            model = layer_from_config(config)
    except WeightBudgetError as e:
        raise ModelFileError(f"load_model: {path}: {e}; {_MODEL_FILE}") from None
    except (MemoryError, RecursionError) as e:
        what = "too much memory" if isinstance(e, MemoryError) else "too deep a nesting"
        raise ModelFileError(
            f"load_model: {path}: the architecture in config.json needs {what} to build"
        ) from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ModelFileError(
            f"load_model: {path}: the architecture in config.json does not parse "
            f"({_reason(e)}); {_MODEL_FILE}"
        ) from e
    if not getattr(model, "built", False):
        raise ModelFileError(
            f"load_model: {path}: the saved model has no input shape, so it cannot be rebuilt"
        )
    _assign(model, weights, f"load_model: {path}", True)
    if "compile" in config:
        _compile(model, config, path)
        if "optimizer_state" in config:
            _restore_optimizer(model, config["optimizer_state"], members, path)
    return model


def _compile(model: Any, config: dict[str, Any], path: str) -> None:
    from . import optimizers

    try:
        c = config["compile"]
        model.compile(
            optimizer=optimizers.get(c["optimizer"]),
            loss=_loss_from_config(c["loss"]),
            metrics=c["metrics"],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ModelFileError(
            f"load_model: {path}: the compile settings in config.json do not parse "
            f"({_reason(e)}); {_MODEL_FILE}"
        ) from e


def _restore_optimizer(
    model: Any, entry: dict[str, Any], members: dict[str, bytes], path: str
) -> None:
    """Build the optimizer for the saved variables and load its slots and step count."""
    named = {p: w for p, w, _ in model.named_weights()}
    variables = entry.get("variables") if isinstance(entry, dict) else None
    if (
        not isinstance(variables, list)
        or not isinstance(entry.get("file"), str)
        or any(not isinstance(p, str) or p not in named for p in variables)
    ):
        raise ModelFileError(
            f"load_model: {path}: config.json's optimizer_state must name the state file and "
            f"the model's weights the optimizer updates. Received {entry!r}"
        )
    name = entry["file"]
    where = f"load_model: {path}: {name}"
    arrays = _decode(members[name], _member_format(name, path), where, _MODEL_FILE)
    optimizer = model.optimizer
    optimizer.build([named[p] for p in variables])
    slots = list(optimizer._slots)
    expected = {f"{s}/{p}": named[p] for s in slots for p in variables}
    iterations = arrays.pop("iterations", None)
    if iterations is None or iterations.shape != () or iterations.dtype.kind not in "iu":
        raise ModelFileError(f"{where}: no integer 'iterations' (the optimizer's step count)")
    _check_arrays(expected, arrays, f"{where}: the optimizer state", True)
    optimizer.set_state(
        {
            "iterations": int(iterations),
            "slots": {s: [arrays[f"{s}/{p}"] for p in variables] for s in slots},
        }
    )


def _version() -> str:
    from . import __version__

    return __version__
