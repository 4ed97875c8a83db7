"""The Tensor: a thin record around a backend array, plus graph bookkeeping.

A tensor has a rank (`ndim`), a `shape` (a tuple: ``(3,)`` for a vector of three numbers) and a
`dtype`. When it `requires_grad`, operations on it are recorded (`_node` is the op that made it)
so that `backward()` can compute gradients.

This module is the bottom of the core: it imports nothing from `ops` or `autograd`. The methods
that compute (``t + u``, ``t.sum()``, ``t.backward()`` ...) are one-liners calling the ops,
attached to `Tensor` from one place, `ndgrad/ops/methods.py`. A tensor made from a backend
array goes through `wrap` (the one private constructor); an in-place change of a tensor's
values goes through `bump_version`, so that backward can tell a saved tensor was modified.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import _dtypes
from ._dtypes import DType
from .backends.registry import array_backend, backend_for
from .errors import DTypeError, GraphError

if TYPE_CHECKING:  # the computing methods `ops/methods.py` attaches at import, for the checker
    from .autograd.op import Op
    from .backends.base import Backend
    from .ops.methods import TensorMethods as _Methods
else:
    _Methods = object

Axis = int | Sequence[int] | None


class Tensor(_Methods):
    """An N-dimensional array that can record its computation for backpropagation.

    >>> import ndgrad
    >>> x = ndgrad.tensor([[1, 2, 3], [4, 5, 6]])
    >>> x.ndim, x.shape, x.dtype
    (2, (2, 3), ndgrad.int64)
    """

    # `_version` is a one-element list shared by views of the same memory; `bump_version`
    # increments it on every in-place change, and backward checks it (saved tensors).
    __slots__ = ("data", "backend", "_requires_grad", "grad", "_node", "_version", "__weakref__")
    __array_priority__ = 1000  # NumPy defers `ndarray + Tensor` to Tensor.__radd__
    data: Any
    """The values: an array of the device's library (a NumPy array on ``cpu``)."""
    backend: Backend
    """The device's `Backend`: its array namespace (``backend.xp``) and primitives."""
    _requires_grad: bool
    grad: Tensor | None
    """The gradient `backward` accumulated here (same shape), or None."""
    _node: Op | None
    _version: list[int]

    def __init__(
        self,
        data: Any,
        dtype: DType | str | None = None,
        requires_grad: bool = False,
        device: str | Backend | None = None,
    ) -> None:
        backend = backend_for(data, device)
        if isinstance(data, Tensor):
            dtype = data.dtype if dtype is None else dtype
            if data.backend is not backend:  # another device: GPU to GPU without the host
                want = _dtypes.as_dtype(dtype)
                backend.native_dtype(want)  # a DTypeError when that device lacks the dtype
                source = data.data
                if data.dtype is not want:
                    with data.backend.activate():  # CuPy converts on the current GPU
                        source = data.backend.astype(source, want)
                data = backend.transfer(source, data.backend)
            else:
                data = data.data
        elif device is not None:  # a device array asked elsewhere: moved by its own backend
            owner = array_backend(data)
            if owner is not None and owner is not backend:
                data = backend.transfer(data, owner)
        target = None if dtype is None else _dtypes.as_dtype(dtype)
        if target is None and _host_float64(data, backend):
            target = _dtypes.default_float  # cast on the host, before it crosses to a device
        array = backend.asarray(data, target, copy=True)
        found = backend.from_native.get(array.dtype)
        if found is None:
            valid = ", ".join(d.name for d in _dtypes.ALL)
            raise DTypeError(f"tensor: unsupported dtype {array.dtype}. Valid dtypes: {valid}")
        if target is None and found is _dtypes.float64:
            array = backend.astype(array, _dtypes.default_float)
        self.data, self.backend, self.grad, self._node, self._version = (
            array,
            backend,
            None,
            None,
            [0],
        )
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_()

    # -- what a tensor is ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The size along each axis, as a tuple: ``()`` scalar, ``(3,)`` vector, ``(2, 3)``."""
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        """The rank: how many axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """How many elements (the product of the shape)."""
        n = 1
        for s in self.data.shape:
            n *= s
        return n

    @property
    def dtype(self) -> DType:
        """The element type: ``ndgrad.float32`` (the default float), ``int64``, ``bool`` ..."""
        return self.backend.from_native[self.data.dtype]

    @property
    def device(self) -> str:
        """Where the values live: ``'cpu'``, ``'cuda:0'``, ``'strict'``."""
        return self.backend.name

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for `backward` (settable on leaves)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user, not by a recorded op."""
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The op that produced this tensor (None for leaves)."""
        return self._node

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        extra = [f"shape={self.shape}", f"dtype={self.dtype.name}"]
        if self.backend.name != "cpu":
            extra.append(f"device='{self.backend.name}'")
        if self._node is not None:
            extra.append(f"grad_fn={self._node!r}")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        body = self.backend.format(self.data, prefix="tensor(")
        sep = ",\n       " if "\n" in body else ", "
        return f"tensor({body}{sep}{', '.join(extra)})"

    # -- conversion -------------------------------------------------------------------------
    def numpy(self) -> Any:
        """The values as a NumPy array (a copy when the tensor lives on a device)."""
        return self.backend.to_numpy(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """A NumPy array of the values; a copy unless ``copy=False`` (``np.asarray(t)``)."""
        host = self.numpy()
        return host.astype(host.dtype if dtype is None else dtype, copy=copy is not False)

    def __dlpack__(self, **kwargs: Any) -> Any:
        """Share the values with another library (``torch.from_dlpack(t)``), without a copy."""
        if self._requires_grad:  # a copy: no other library writes behind the graph's back
            if kwargs.get("copy") is False:
                raise BufferError("__dlpack__: a tensor that requires grad is exported as a "
                                  "copy (copy=False refused); share t.detach() instead")
            return self.backend.xp.asarray(self.data, copy=True).__dlpack__(**kwargs)
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.data.__dlpack_device__()

    def item(self) -> bool | int | float:
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item(): the tensor has {self.size} elements, not 1 ({self.shape})")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        """The values as nested Python lists (a number for a 0-d tensor)."""
        return self.numpy().tolist()

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self.item())

    # -- autograd ---------------------------------------------------------------------------
    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set whether operations on this leaf are recorded; returns the tensor."""
        if flag and not self.dtype.is_floating:
            raise DTypeError(
                f"only floating tensors can require grad. Received dtype={self.dtype.name}; "
                f"convert first with .astype('float32')"
            )
        if not flag and self._node is not None:
            raise GraphError("requires_grad_(False) on a non-leaf tensor; use detach()")
        self._requires_grad = bool(flag)
        return self

    def detach(self) -> Tensor:
        """The same values (shared memory), cut from the graph."""
        return wrap(self.data, self.backend, self._version)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None


_new = object.__new__


def _host_float64(data: Any, backend: Any) -> bool:
    """Whether `data` is a float64 host array (NumPy's, or another with a dtype) that is not
    already an array of `backend`: made a float32 tensor, it is cast before the upload."""
    return str(getattr(data, "dtype", "")) == "float64" and not backend.is_array(data)


def wrap(data: Any, backend: Any, version: list[int] | None = None) -> Tensor:
    """A tensor around the backend array `data` (not copied): no gradient, no node.

    The one way the core makes a Tensor from an array it computed. `version` shares a version
    counter (a view, a detached alias); by default the tensor gets its own.
    """
    t = _new(Tensor)
    t.data = data
    t.backend = backend
    t.grad = None
    t._node = None
    t._version = [0] if version is None else version
    t._requires_grad = False
    return t


def bump_version(t: Tensor) -> None:
    """Record that `t`'s values changed in place (its views share the counter).

    Backward compares the version every saved tensor had when it was saved with its version
    now, and raises a GraphError instead of computing a wrong gradient.
    """
    t._version[0] += 1
