"""Which backend serves a device string, and the default device (a context variable).

Device strings: ``"cpu"`` (NumPy), ``"strict"`` (array-api-strict, for portability tests),
``"cuda"`` / ``"cuda:N"`` (CuPy), as the table of device kinds (`kinds.py`) lists them; a
kind's backend is found by its package name there. Backends are created once per device and
cached.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.util
from collections.abc import Iterator
from typing import Any

from ..errors import DeviceError
from .base import Backend
from .kinds import KINDS, device_examples

_default: contextvars.ContextVar[str] = contextvars.ContextVar("ndgrad_device", default="cpu")


def _parse(device: str) -> tuple[str, int]:
    kind, _, index = str(device).partition(":")
    kind = kind.strip().lower()
    known = KINDS.get(kind)
    if (
        known is None
        or (index and not index.isdigit())
        or (index and not known.numbered and index != "0")
    ):
        raise DeviceError(
            f"unknown device {device!r}. Devices look like {device_examples()}; "
            f"this machine has: {', '.join(devices())}"
        )
    return kind, int(index or 0)


#: what the CUDA backend imports, and the package that provides it
_CUDA_NEEDS = (("cupy", "cupy"), ("cupyx", "cupy"), ("array_api_compat.cupy", "array-api-compat"))


def cuda_missing() -> str | None:
    """Why CUDA cannot be used here for lack of software (None when everything it needs
    imports): the package, and the import error."""
    for module, package in _CUDA_NEEDS:
        try:
            importlib.import_module(module)
        except Exception as e:  # ImportError, or CuPy failing to load its CUDA libraries
            return f"{package} does not import ({type(e).__name__}: {e})"
    return None


def cuda_device_count() -> int:
    """How many CUDA devices ndgrad can use here: 0 when CuPy, cupyx or array-api-compat
    does not import, or when there is no driver or GPU."""
    if cuda_missing() is not None:
        return 0
    import cupy

    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # CuPy installed but no driver or no device
        return 0


def devices() -> list[str]:
    """The devices this machine offers, e.g. ``['cpu', 'strict', 'cuda:0']``."""
    found = []
    for kind in KINDS.values():
        found += [kind.device_name(i) for i in range(_available(kind))]
    return found


def _available(kind: Any) -> int:
    """How many devices of `kind` this machine has."""
    if kind.numbered:  # CUDA: its packages must import and find GPUs
        return cuda_device_count()
    return int(kind.library is None or importlib.util.find_spec(kind.library) is not None)


_instances: dict[tuple[str, int], Backend] = {}
_seed: list[int | None] = [None]


def _backend(kind: str, index: int) -> Backend:
    backend = _instances.get((kind, index))
    if backend is None:
        backend = _instances[kind, index] = _create(kind, index)
        backend.seed(_seed[0])
    return backend


def in_use(kind: str) -> list[Backend]:
    """The backends of `kind` this process has used so far (created once, on first use)."""
    return [b for (k, _), b in sorted(_instances.items()) if k == kind]


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device, present and future."""
    _seed[0] = seed
    for backend in _instances.values():
        backend.seed(seed)


def _create(name: str, index: int) -> Backend:
    """The backend of device `index` of kind `name`, from the package the table names."""
    kind = KINDS[name]
    count = _available(kind)
    if index >= count:
        if not kind.numbered:
            raise DeviceError(f"device {name!r} needs {kind.needs}")
        missing = cuda_missing()
        why = (
            f"CUDA needs ndgrad[cuda]: {missing}"
            if missing
            else f"{count} CUDA device(s) found; CUDA needs {kind.needs}"
        )
        raise DeviceError(
            f"device {kind.device_name(index)!r} is not available ({why}). "
            f"Available devices: {', '.join(devices())}"
        )
    module = importlib.import_module(f"{__package__}.{kind.package}")
    _register_fused_updates(module)
    cls = getattr(module, kind.backend)
    return cls(index) if kind.numbered else cls()


def _register_fused_updates(module: Any) -> None:
    """Import the backend package's `optimizers` module, if it has one: it registers the
    backend's fused optimizer updates (`Backend.fuses`). Imported here, when the first device
    of the kind is created, because it imports the backend's library (CuPy)."""
    if not hasattr(module, "__path__"):  # a single module (array_api.strict): no families
        return
    name = f"{module.__name__}.optimizers"
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)


def get_backend(device: str | Backend | None = None) -> Backend:
    """The backend for `device` (default: the current default device)."""
    if isinstance(device, Backend):
        return device
    return _backend(*_parse(device if device is not None else _default.get()))


# Array libraries whose arrays live on a device of their own, by top-level module name.
_DEVICE_LIBRARIES = {k.library: k.name for k in KINDS.values() if k.library is not None}
_DLPACK_CPU, _DLPACK_CUDA, _DLPACK_CUDA_MANAGED = 1, 2, 13


def _library(data: object) -> str | None:
    """The device kind of `data`'s library, from its type's module or its array namespace."""
    kind = _DEVICE_LIBRARIES.get(type(data).__module__.partition(".")[0])
    namespace = getattr(data, "__array_namespace__", None)
    if kind is None and namespace is not None:
        try:
            name = namespace().__name__
        except Exception:  # a broken or version-specific namespace: not one we know
            return None
        kind = _DEVICE_LIBRARIES.get(name.partition(".")[0])
    return kind


def array_backend(data: Any) -> Backend | None:
    """The backend owning a device array (array-api-strict, CuPy, or any DLPack producer on a
    CUDA device), recognised by its library or DLPack device; None for host data."""
    if type(data).__module__.partition(".")[0] == "numpy":
        return None  # host data follows the default device, like nested lists
    for candidate in _instances.values():
        if candidate.kind != "cpu" and candidate.is_array(data):
            return candidate
    kind = _library(data)
    if kind == "strict":
        return _backend("strict", 0)
    if kind == "cuda":
        return _backend("cuda", int(getattr(data.device, "id", 0)))
    if hasattr(data, "__dlpack_device__"):
        device_type, index = data.__dlpack_device__()
        if device_type in (_DLPACK_CUDA, _DLPACK_CUDA_MANAGED):
            return _backend("cuda", int(index))
    return None


def dlpack_backend(data: Any) -> Backend:
    """The backend for an array shared through DLPack: its library's, else by its device."""
    backend = array_backend(data)
    if backend is not None:
        return backend
    device_type, index = data.__dlpack_device__()
    if device_type != _DLPACK_CPU:
        raise DeviceError(
            f"from_dlpack: {type(data).__name__} is on DLPack device type {device_type} "
            f"(index {index}); ndgrad's devices are CPU (type {_DLPACK_CPU}) and CUDA "
            f"(type {_DLPACK_CUDA})"
        )
    return _backend("cpu", 0)


def backend_for(data: object, device: str | Backend | None) -> Backend:
    """Where a new tensor made from `data` lives: `device`, else the device of `data` when it
    is a tensor or a device array (CuPy, array-api-strict, recognised by their namespace, or a
    DLPack producer on a GPU), else the default device."""
    if device is not None:
        return get_backend(device)
    backend = getattr(data, "backend", None)
    if isinstance(backend, Backend):
        return backend
    return array_backend(data) or get_backend(_default.get())


def default_backend() -> Backend:
    """The backend of the current default device (``cpu`` outside ``with ndgrad.device(...)``)."""
    return get_backend(_default.get())


@contextlib.contextmanager
def device(name: str) -> Iterator[Backend]:
    """Make `name` the default device for new tensors inside the block.

    >>> import ndgrad
    >>> with ndgrad.device("cpu"):
    ...     ndgrad.zeros(2).device
    'cpu'
    """
    backend = get_backend(name)
    token = _default.set(backend.name)
    try:
        yield backend
    finally:
        _default.reset(token)
