"""The Tensor: a thin record around a backend array, plus graph bookkeeping.

A tensor has a rank (`ndim`), a `shape` (a tuple: ``(3,)`` for a vector of three numbers) and a
`dtype`. When it `requires_grad`, operations on it are recorded (`_node` is the op that made it)
so that `backward()` can compute gradients. Every method is a one-liner calling `ndgrad.ops`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from . import _dtypes
from ._dtypes import DType
from ._numpy_interop import NumpyInterop
from .errors import DTypeError, GraphError

Axis = int | Sequence[int] | None


class Tensor(NumpyInterop):  # the NumPy and Array API protocols
    """An N-dimensional array that can record its computation for backpropagation.

    >>> import ndgrad
    >>> x = ndgrad.tensor([[1, 2, 3], [4, 5, 6]])
    >>> x.ndim, x.shape, x.dtype
    (2, (2, 3), ndgrad.int64)
    """

    # `_logits` (set by softmax and sigmoid only): ("softmax" | "sigmoid", the input), so a
    # cross-entropy of the probabilities is computed from the logits, stably (as Keras does).
    __slots__ = (
        "data",
        "backend",
        "_requires_grad",
        "grad",
        "_node",
        "_version",
        "_logits",
        "__weakref__",
    )
    __array_priority__ = 1000  # NumPy defers `ndarray + Tensor` to Tensor.__radd__

    def __init__(
        self,
        data: Any,
        dtype: DType | str | None = None,
        requires_grad: bool = False,
        device: str | None = None,
    ) -> None:
        from .backends.registry import array_backend, backend_for

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
        array = backend.asarray(data, target, copy=True)
        found = backend._from_native.get(array.dtype)
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
        return self.backend._from_native[self.data.dtype]

    @property
    def device(self) -> str:
        return self.backend.name

    @property
    def requires_grad(self) -> bool:
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

    @property
    def T(self) -> Tensor:
        """All axes reversed (the transpose of a matrix)."""
        return ops.transpose(self)

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

    def to(self, device: str | None = None, dtype: DType | str | None = None) -> Tensor:
        """This tensor on `device` and/or as `dtype` (itself when nothing changes)."""
        return ops.to(self, device, dtype)

    def cpu(self) -> Tensor:
        return ops.to(self, "cpu")

    def astype(self, dtype: DType | str) -> Tensor:
        return ops.astype(self, dtype)

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

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        `retain_graph` (default: `create_graph`) keeps the graph for another backward.
        """
        engine.backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """The same values (shared memory), cut from the graph."""
        t = Tensor.__new__(Tensor)
        t.data, t.backend, t.grad, t._node, t._version = (
            self.data,
            self.backend,
            None,
            None,
            self._version,
        )
        t._requires_grad = False
        return t

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back to this tensor."""
        return ops.clone(self)

    def sum_to(self, shape: tuple[int, ...]) -> Tensor:
        """Sum broadcast axes away so that the result has `shape` (broadcast_to's gradient)."""
        return ops.sum_to(self, shape)

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.divide(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return ops.remainder(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.power(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.power(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.negative(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.not_equal(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return ops.less(self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.greater_equal(self, other)

    __hash__ = object.__hash__

    def __and__(self, other: Any) -> Tensor:
        return ops.logical_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return ops.logical_or(self, other)

    def __invert__(self) -> Tensor:
        return ops.logical_not(self)

    # -- in place: numpy semantics; an error where the graph still needs the old values ----
    def __iadd__(self, other: Any) -> Tensor:
        return ops.inplace(self, ops.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return ops.inplace(self, ops.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return ops.inplace(self, ops.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return ops.inplace(self, ops.divide, other)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        ops.setitem(self, index, value)

    # -- elementwise ------------------------------------------------------------------------
    def abs(self) -> Tensor:
        return ops.abs(self)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def square(self) -> Tensor:
        return ops.square(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def leaky_relu(self, alpha: float = 0.01) -> Tensor:
        return ops.leaky_relu(self, alpha)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return ops.elu(self, alpha)

    def gelu(self, approximate: bool | str = False) -> Tensor:
        return ops.gelu(self, approximate)

    def softplus(self) -> Tensor:
        return ops.softplus(self)

    def sign(self) -> Tensor:
        return ops.sign(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return ops.clip(self, min, max)

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    # -- reductions -------------------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis, keepdims)

    def prod(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.prod(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.min(self, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return ops.var(self, axis, keepdims, ddof)

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return ops.std(self, axis, keepdims, ddof)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.logsumexp(self, axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return ops.argmax(self, axis, keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return ops.argmin(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis)

    # -- linear algebra and shapes --------------------------------------------------------
    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def dot(self, other: Any) -> Tensor:
        return ops.dot(self, other)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        return ops.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    def permute(self, *axes: int | Sequence[int]) -> Tensor:
        return ops.transpose(self, axes[0] if len(axes) == 1 else axes)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return ops.swapaxes(self, axis1, axis2)

    def expand_dims(self, axis: int | Sequence[int]) -> Tensor:
        return ops.expand_dims(self, axis)

    unsqueeze = expand_dims

    def squeeze(self, axis: Axis = None) -> Tensor:
        return ops.squeeze(self, axis)

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        return ops.flatten(self, start_axis, end_axis)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def repeat(self, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
        return ops.repeat(self, repeats, axis)

    def tile(self, reps: int | Sequence[int]) -> Tensor:
        return ops.tile(self, reps)


from . import ops  # noqa: E402  (ops build on Tensor; Tensor's methods call ops)
from .autograd import engine  # noqa: E402  (the engine runs ops' backward rules)
