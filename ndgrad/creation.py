"""Making tensors: from data (`tensor`, `from_dlpack`), filled (`zeros`, `ones`, `full`,
`*_like`) and ranges (`arange`, `linspace`, `eye`). Shapes may be given as ``zeros(2, 3)`` or
``zeros((2, 3))``; `full` takes the shape then the value, as NumPy, PyTorch and Keras. Floating
results are float32 unless a dtype is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _dtypes
from ._dtypes import DType
from ._shapes import as_shape
from ._tensor import Tensor, wrap
from .backends.registry import dlpack_backend, get_backend
from .errors import DeviceError, DTypeError

if TYPE_CHECKING:
    from .backends.base import Backend

ShapeLike = int | Sequence[int]


def _shape(args: tuple, op: str) -> tuple[int, ...]:
    """A shape given as one argument (an int or a sequence) or as several ints."""
    return as_shape(args[0] if len(args) == 1 else args, op)


def _wrap(array: Any, backend: Any, requires_grad: bool) -> Tensor:
    t = wrap(array, backend)
    if requires_grad:
        t.requires_grad_()
    return t


def tensor(
    data: Any,
    dtype: DType | str | None = None,
    requires_grad: bool = False,
    device: str | Backend | None = None,
) -> Tensor:
    """A new tensor holding a copy of `data` (scalars, nested lists, NumPy arrays, tensors).

    >>> import ndgrad
    >>> ndgrad.tensor([1.0, 2.0, 3.0])
    tensor([1., 2., 3.], shape=(3,), dtype=float32)
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def from_dlpack(x: Any) -> Tensor:
    """A tensor sharing memory with `x` (no copy), an array of any library that speaks DLPack
    (`__dlpack__`: NumPy, PyTorch, JAX, CuPy, array-api-strict), on `x`'s own device.

    >>> import ndgrad, numpy as np
    >>> a = np.zeros(3, dtype=np.float32)
    >>> t = ndgrad.from_dlpack(a)
    >>> a[0] = 5.0
    >>> t.tolist()
    [5.0, 0.0, 0.0]
    """
    if isinstance(x, Tensor):
        return x.detach()
    if not hasattr(x, "__dlpack__"):
        raise TypeError(
            f"from_dlpack: expected an array with __dlpack__ and __dlpack_device__. "
            f"Received {type(x).__name__}; use ndgrad.tensor(x) to copy other data"
        )
    backend = dlpack_backend(x)
    if not backend.is_array(x):
        with backend.activate():
            array = backend.xp.from_dlpack(x)
    elif getattr(x, "device", backend.native_device) == backend.native_device:
        array = x  # already an array of this backend: adopted as it is
    else:
        raise DeviceError(
            f"from_dlpack: the array is on {x.device!r}, not on device {backend.name!r} "
            f"({backend.native_device!r}); ndgrad.tensor(x) copies it there"
        )
    if array.dtype not in backend.from_native:
        valid = ", ".join(d.name for d in backend.to_native)
        raise DTypeError(f"from_dlpack: unsupported dtype {array.dtype}. Valid dtypes: {valid}")
    return _wrap(array, backend, False)


def full(
    shape: ShapeLike,
    fill_value: bool | int | float,
    dtype: DType | str | None = None,
    device: str | Backend | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (dtype from the value by default).

    >>> import ndgrad
    >>> ndgrad.full((2, 3), 7.0).tolist()
    [[7.0, 7.0, 7.0], [7.0, 7.0, 7.0]]
    """
    backend = get_backend(device)
    d = _dtypes.scalar_dtype(fill_value) if dtype is None else _dtypes.as_dtype(dtype)
    with backend.activate():  # CuPy allocates on its current GPU
        array = backend.xp.full(
            as_shape(shape, "full"),
            fill_value,
            dtype=backend.native_dtype(d),
            device=backend.native_device,
        )
    return _wrap(array, backend, requires_grad)


def zeros(
    *shape: Any,
    dtype: DType | str = "float32",
    device: str | Backend | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of zeros. ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return full(_shape(shape, "zeros"), 0, dtype, device, requires_grad)


def ones(
    *shape: Any,
    dtype: DType | str = "float32",
    device: str | Backend | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of ones. ``ones(2, 3)`` or ``ones((2, 3))``."""
    return full(_shape(shape, "ones"), 1, dtype, device, requires_grad)


def full_like(
    t: Tensor,
    fill_value: bool | int | float,
    dtype: DType | str | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Like `t` (shape, dtype, device), filled with `fill_value`."""
    return full(t.shape, fill_value, dtype or t.dtype, t.backend, requires_grad)


def zeros_like(t: Tensor, dtype: DType | str | None = None, requires_grad: bool = False) -> Tensor:
    """Zeros of `t`'s shape, on its device, of its dtype unless `dtype` is given."""
    return full_like(t, 0, dtype, requires_grad)


def ones_like(t: Tensor, dtype: DType | str | None = None, requires_grad: bool = False) -> Tensor:
    """Ones of `t`'s shape, on its device, of its dtype unless `dtype` is given."""
    return full_like(t, 1, dtype, requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: DType | str | None = None,
    device: str | Backend | None = None,
) -> Tensor:
    """Evenly spaced values in [start, stop), as NumPy (empty when the range is empty).

    >>> import ndgrad
    >>> ndgrad.arange(3).tolist()
    [0, 1, 2]
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    backend = get_backend(device)
    if dtype is None:
        is_int = all(isinstance(v, int) for v in (start, stop, step))
        dtype = _dtypes.default_int if is_int else _dtypes.default_float
    d = _dtypes.as_dtype(dtype)
    n = max(0, math.ceil((stop - start) / step))
    with backend.activate():  # CuPy allocates on its current GPU
        array = backend.xp.arange(
            start,
            start + n * step,
            step,
            dtype=backend.native_dtype(d),
            device=backend.native_device,
        )[:n]
    return _wrap(array, backend, False)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    dtype: DType | str | None = None,
    device: str | Backend | None = None,
) -> Tensor:
    """`num` evenly spaced values from start to stop (inclusive unless endpoint=False)."""
    if num < 0:
        raise ValueError(f"linspace: num must be >= 0. Received {num}")
    backend = get_backend(device)
    d = _dtypes.as_dtype(dtype or _dtypes.default_float)
    with backend.activate():  # CuPy allocates on its current GPU
        array = backend.xp.linspace(
            start,
            stop,
            num,
            endpoint=endpoint,
            dtype=backend.native_dtype(d),
            device=backend.native_device,
        )
    return _wrap(array, backend, False)


def eye(
    n: int,
    m: int | None = None,
    k: int = 0,
    dtype: DType | str = "float32",
    device: str | Backend | None = None,
) -> Tensor:
    """An (n, m) matrix with ones on diagonal `k` and zeros elsewhere."""
    backend = get_backend(device)
    rows, cols = as_shape((n, n if m is None else m), "eye")
    with backend.activate():  # CuPy allocates on its current GPU
        array = backend.xp.eye(
            rows,
            cols,
            k=k,
            dtype=backend.native_dtype(_dtypes.as_dtype(dtype)),
            device=backend.native_device,
        )
    return _wrap(array, backend, False)
