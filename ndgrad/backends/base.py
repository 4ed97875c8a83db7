"""The Backend contract, in one place: a small core every backend writes, plus optional
families with Array-API fallbacks.

Ops, the engine and the optimizers call only `backend.xp` (an Array-API namespace) and the
methods below, so a backend whose arrays are not NumPy arrays (array-api-strict, CuPy) runs
the same op code.

Core (this class; each backend writes these for its library): `kind`, `xp`, `activate` and
`needs_activation`, `host_reads_free`, `synchronize`, the dtype tables (`to_native`, `from_native`,
`native_dtype`, `dtype_of`, `array_type`, `is_array`) and conversion (`asarray`,
`from_numpy`, `to_numpy`, `transfer`, `astype`, `coerce`, `format`).

Families (optional: `backends/array_api/` implements each with standard functions only, and
a backend overrides what its library does faster, in a module of the same name in its own
folder, ``backends/<backend>/<family>.py``):

- `creation`: `pad`, `expand`.
- `indexing`: `getitem`, `setitem`, `scatter_add`, `add_into`.
- `math`: `sum`, `prod`, `masked`, `relu_`, `clip`, `sign`, `einsum`, `erf`.
- `nn`: `im2col`, `col2im`, `windows`, `max_pool`, `max_pool_arg`, `route_scatter`,
  `route_gather`, `bias_act_`, `relu_mask`, `softmax_xent`.
- `random`: `seed`, `random`.
- `optimizers`: fused updates registered by optimizer class with `Backend.fuses` (without
  them each optimizer runs its own array-API `update`).

A new backend: a package ``backends/<name>/`` whose class subclasses `Backend` (the core plus
all the fallbacks) and writes the core, a row in `kinds.py`, then family modules as speed
requires.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from .. import _dtypes
from .._dtypes import DType
from ..errors import DTypeError
from .array_api.creation import Creation
from .array_api.indexing import Indexing
from .array_api.math import Math
from .array_api.nn import NN
from .array_api.random import Random
from .family import Family
from .kinds import KINDS

_NO_CONTEXT = contextlib.nullcontext()


def host_array(data: Any, dtype: DType | None) -> np.ndarray:
    """Host data (a NumPy array or another buffer) as a NumPy array, converted to `dtype` on
    the host: float64 data for a float32 tensor crosses to a device as float32 (half the
    bytes, and no float64 copy on the device to cast there).

    >>> host_array(np.zeros(2), _dtypes.float32).dtype
    dtype('float32')
    """
    host = np.asarray(data)
    if dtype is not None and host.dtype.name != dtype.name:
        host = host.astype(dtype.name)
    return host


class Core(Family):
    """One device kind: `kind` ('cpu', 'strict', 'cuda'), `index`, `name` and namespace `xp`."""

    kind: str = ""
    xp: Any = None
    #: `activate` does something: hot paths (Op.apply, the engine) skip the `with` when False
    needs_activation: bool = False
    #: reading a number back (`to_numpy` of a 0-d array) costs no wait for queued device work,
    #: as on the CPU: code may then read a value to skip work (the optimizers read the
    #: clipping norm and leave unclipped gradients alone). False, the safe default, for a
    #: device (CuPy): the code keeps its work on the device and never reads.
    host_reads_free: bool = False
    #: optimizer class -> fused update ``fn(optimizer, w, g, state, learning_rate, keep)
    #: -> bool`` (False: it declines these arrays, the optimizer's own `update` runs; `keep`:
    #: see `fuses`). One table per backend class, filled by its optimizers module with `fuses`.
    fused_updates: dict[type, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.fused_updates = {}

    @classmethod
    def fuses(cls, optimizer_class: type) -> Any:
        """Register the decorated function as this backend's fused update for
        `optimizer_class` (and its subclasses that keep its `update`).

        The function is called as ``fn(optimizer, w, g, state, learning_rate, keep)`` and
        returns False, having changed nothing, when it does not take these arrays (then the
        optimizer's own `update` runs); `keep` is None or where to copy the values it
        overwrites (`ndgrad.optimizers.optimizer.Keep`).
        """

        def register(fn: Any) -> Any:
            cls.fused_updates[optimizer_class] = fn
            return fn

        return register

    def __init__(self, index: int = 0) -> None:
        self.index = index
        known = KINDS.get(self.kind)  # a kind outside the table (tests' own) is numbered
        self.name = known.device_name(index) if known else f"{self.kind}:{index}"
        self.native_device = self._native_device()
        native = {d: self._native_dtype_named(d.name) for d in _dtypes.ALL}
        # A dtype the library lacks (array-api-strict has no float16) is simply not offered.
        self.to_native = {d: n for d, n in native.items() if n is not None}
        self.from_native = {v: k for k, v in self.to_native.items()}
        self.bool_native = self.to_native[_dtypes.bool_]
        self.array_type = type(self.xp.asarray(0, device=self.native_device))
        self.seed(None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def _native_device(self) -> Any:
        return None

    def activate(self) -> contextlib.AbstractContextManager:
        """A context in which this device is the one the library allocates and computes on.

        Everything that makes or computes arrays of this backend runs inside it (Op.apply,
        creation, random numbers, the engine, optimizers). A no-op on cpu and strict; CuPy
        otherwise works on the *current* GPU, whatever device the arrays are on.
        """
        return _NO_CONTEXT

    def _native_dtype_named(self, name: str) -> Any:
        return getattr(self.xp, name, None)

    # -- dtypes and conversion -------------------------------------------------------------
    def native_dtype(self, dtype: DType) -> Any:
        """This library's dtype for `dtype`; a DTypeError when the device does not offer it."""
        native = self.to_native.get(dtype)
        if native is None:
            offered = ", ".join(d.name for d in self.to_native)
            raise DTypeError(
                f"dtype {dtype.name} is not available on device {self.name!r}. "
                f"Available dtypes: {offered}"
            )
        return native

    def dtype_of(self, array: Any) -> DType:
        return self.from_native[array.dtype]

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, self.array_type)

    def asarray(self, data: Any, dtype: DType | None = None, copy: bool | None = None) -> Any:
        """`data` (nested lists, scalars, NumPy arrays, this backend's arrays) as an array here."""
        native = None if dtype is None else self.native_dtype(dtype)
        if not self.is_array(data) and not isinstance(data, (list, tuple, int, float, bool)):
            data = host_array(data, dtype)  # NumPy arrays and other buffers go through the host
            if native is None and data.dtype.name in _dtypes.BY_NAME:
                native = self.native_dtype(_dtypes.BY_NAME[data.dtype.name])  # offered here?
        return self.xp.asarray(data, dtype=native, device=self.native_device, copy=copy)

    def from_numpy(self, array: np.ndarray) -> Any:
        return self.xp.asarray(array, device=self.native_device)

    def transfer(self, array: Any, source: Backend) -> Any:
        """A copy here of `array`, an array of the backend `source` (another device)."""
        return self.from_numpy(source.to_numpy(array))

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.asarray(array.to_device(self.xp.Device()))

    def astype(self, array: Any, dtype: DType) -> Any:
        return self.xp.astype(array, self.native_dtype(dtype))

    def coerce(self, result: Any) -> Any:
        """An op's result as an array of this backend (NumPy returns scalars for 0-d results)."""
        raise TypeError(f"{self.name}: an op returned {type(result).__name__}, not an array")

    def format(self, array: Any, prefix: str = "") -> str:
        """The values of `array` as text, NumPy style."""
        return np.array2string(self.to_numpy(array), separator=", ", prefix=prefix)

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on CPU)."""


class Backend(Creation, Indexing, Math, NN, Random, Core):
    """The core contract plus every family's Array-API fallback: correct on any Array-API
    library, not fast. Every backend subclasses it and overrides what its library does faster."""
