"""Tensor's computing methods, attached to `Tensor` in one place (`attach`, from `ops/__init__`).

`ndgrad/_tensor.py` holds the record (data, backend, grad, node, version) and imports no op;
every method that computes (``t + u``, ``t.sum()``, ``t.T``, ``t.backward()``) is written here,
one line each, in `TensorMethods`, and copied onto `Tensor` when `ndgrad.ops` is imported. A
method that takes exactly its op's arguments *is* the op (``exp = exp``): one call less on the
hot path. A new op that should also be a method gets its line here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from .._dtypes import DType
from .._tensor import Tensor
from ..autograd import engine
from .convert import astype, clone, inplace, to
from .elementwise import (
    abs,
    add,
    clip,
    cos,
    divide,
    elu,
    equal,
    exp,
    floor_divide,
    gelu,
    greater,
    greater_equal,
    leaky_relu,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    relu,
    remainder,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    square,
    subtract,
    tanh,
)
from .index import getitem, setitem
from .linalg import dot, matmul
from .nn import log_softmax, softmax
from .reduce import argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .shape import (
    broadcast_to,
    expand_dims,
    flatten,
    repeat,
    reshape,
    squeeze,
    sum_to,
    swapaxes,
    tile,
    transpose,
)


# The in-place operators, as functions like the operators they pair with (``__add__ = add``):
# mypy cannot match a ``def __iadd__`` method against an operator that is a module function.
def _iadd(x: Tensor, y: Any) -> Tensor:
    """``x += y``: in place, as NumPy (an error where the graph still needs the old values)."""
    return inplace(x, add, y)


def _isub(x: Tensor, y: Any) -> Tensor:
    """``x -= y``: in place, as NumPy (an error where the graph still needs the old values)."""
    return inplace(x, subtract, y)


def _imul(x: Tensor, y: Any) -> Tensor:
    """``x *= y``: in place, as NumPy (an error where the graph still needs the old values)."""
    return inplace(x, multiply, y)


def _itruediv(x: Tensor, y: Any) -> Tensor:
    """``x /= y``: in place, as NumPy (an error where the graph still needs the old values)."""
    return inplace(x, divide, y)


class TensorMethods:
    """The methods `attach` copies onto Tensor (never instantiated; a base class of Tensor
    only for the type checker, which then knows ``t + u`` and ``t.sum()``)."""

    # -- autograd and conversion ------------------------------------------------------------
    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        `retain_graph` (default: `create_graph`) keeps the graph for another backward.
        """
        engine.backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph)

    def to(self, device: str | None = None, dtype: DType | str | None = None) -> Tensor:
        """This tensor on `device` and/or as `dtype` (itself when nothing changes)."""
        return to(cast(Tensor, self), device, dtype)

    def cpu(self) -> Tensor:
        """This tensor on the CPU (itself when it is there already)."""
        return to(cast(Tensor, self), "cpu")

    astype = astype

    def clone(self) -> Tensor:
        """A copy with its own memory; gradients flow back to this tensor."""
        return clone(cast(Tensor, self))

    def sum_to(self, shape: tuple[int, ...]) -> Tensor:
        """Sum broadcast axes away so that the result has `shape` (broadcast_to's gradient):
        (2, 3) to (1, 3) or (3,)."""
        return sum_to(cast(Tensor, self), shape)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the transpose of a matrix): (2, 3) gives (3, 2)."""
        return transpose(cast(Tensor, self))

    # -- arithmetic: operators are never called with keywords, so the op itself serves -----
    __add__ = add
    __sub__ = subtract
    __mul__ = multiply
    __truediv__ = divide
    __floordiv__ = floor_divide
    __mod__ = remainder
    __pow__ = power
    __matmul__ = matmul
    __neg__ = negative
    __abs__ = abs
    __eq__ = equal  # type: ignore[assignment]
    __ne__ = not_equal  # type: ignore[assignment]
    __lt__ = less
    __le__ = less_equal
    __gt__ = greater
    __ge__ = greater_equal
    __and__ = logical_and
    __or__ = logical_or
    __invert__ = logical_not
    __getitem__ = getitem
    __setitem__ = setitem

    def __radd__(self, other: Any) -> Tensor:
        return add(other, self)

    def __rsub__(self, other: Any) -> Tensor:
        return subtract(other, self)

    def __rmul__(self, other: Any) -> Tensor:
        return multiply(other, self)

    def __rtruediv__(self, other: Any) -> Tensor:
        return divide(other, self)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return floor_divide(other, self)

    def __rmod__(self, other: Any) -> Tensor:
        return remainder(other, self)

    def __rpow__(self, other: Any) -> Tensor:
        return power(other, self)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __pos__(self) -> Tensor:
        return cast(Tensor, self)

    # -- in place: numpy semantics; an error where the graph still needs the old values ----
    __iadd__ = _iadd
    __isub__ = _isub
    __imul__ = _imul
    __itruediv__ = _itruediv

    # -- elementwise ------------------------------------------------------------------------
    abs = abs
    exp = exp
    log = log
    log1p = log1p
    sqrt = sqrt
    square = square
    sin = sin
    cos = cos
    tanh = tanh
    sigmoid = sigmoid
    relu = relu
    leaky_relu = leaky_relu
    elu = elu
    gelu = gelu
    softplus = softplus
    sign = sign
    clip = clip

    def maximum(self, other: Any) -> Tensor:
        """The larger of this tensor and `other` element-wise, broadcasting: (2, 3) and (3,)
        give (2, 3)."""
        return maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        """The smaller of this tensor and `other` element-wise, broadcasting: (2, 3) and (3,)
        give (2, 3)."""
        return minimum(self, other)

    # -- reductions -------------------------------------------------------------------------
    sum = sum
    mean = mean
    prod = prod
    max = max
    min = min
    var = var
    std = std
    logsumexp = logsumexp
    argmax = argmax
    argmin = argmin
    softmax = softmax
    log_softmax = log_softmax

    # -- linear algebra and shapes --------------------------------------------------------
    def matmul(self, other: Any) -> Tensor:
        """The matrix product ``self @ other``: (2, 3) @ (3, 4) -> (2, 4); leading axes
        broadcast as batches, (5, 2, 3) @ (3, 4) -> (5, 2, 4)."""
        return matmul(self, other)

    def dot(self, other: Any) -> Tensor:
        """`ndgrad.dot`: the inner product of two vectors, (3,) and (3,) -> (); see it for
        higher ranks."""
        return dot(self, other)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in a new shape, given as sizes or one tuple: (2, 3) with
        ``reshape(3, 2)`` or ``reshape((-1,))`` -> (3, 2) or (6,) (one size may be -1)."""
        return reshape(cast(Tensor, self), _one_or_many(shape))

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        """Axes permuted, reversed when none are given: (2, 3, 4) -> (4, 3, 2);
        ``transpose(0, 2, 1)`` -> (2, 4, 3)."""
        return transpose(cast(Tensor, self), _one_or_many(axes) or None)

    def permute(self, *axes: int | Sequence[int]) -> Tensor:
        """Axes in the order given (PyTorch's name): (2, 3, 4) with ``permute(2, 0, 1)`` ->
        (4, 2, 3)."""
        return transpose(cast(Tensor, self), _one_or_many(axes))

    swapaxes = swapaxes
    expand_dims = expand_dims
    unsqueeze = expand_dims
    squeeze = squeeze
    flatten = flatten
    broadcast_to = broadcast_to
    repeat = repeat
    tile = tile


def _one_or_many(args: tuple[int | Sequence[int], ...]) -> int | Sequence[int]:
    """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``: the one argument, or all of them (ints)."""
    return args[0] if len(args) == 1 else cast(tuple[int, ...], args)


#: Class machinery that is not a method (``__hash__`` is None here because of ``__eq__``;
#: Tensor keeps object's hash).
_NOT_METHODS = frozenset(
    {
        "__module__",
        "__qualname__",
        "__doc__",
        "__dict__",
        "__weakref__",
        "__hash__",
        "__firstlineno__",
        "__static_attributes__",
        "__annotations__",
    }
)


def attach(cls: type) -> None:
    """Copy every method of `TensorMethods` onto `cls` (Tensor), once, at import."""
    for name, value in vars(TensorMethods).items():
        if name not in _NOT_METHODS:
            setattr(cls, name, value)
