"""Copies between dtypes and devices, `clone`, and in-place arithmetic."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from .. import _dtypes
from .._dtypes import DType
from .._tensor import Tensor, bump_version, wrap
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..autograd.op import Op
from ..backends.registry import get_backend
from ..errors import DTypeError, ShapeError
from .index import _alias, _check_leaf, _check_view


class Astype(Op):
    dtype: DType

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.astype(x, self.dtype)

    def backward(self, g: Tensor) -> tuple:
        return (g.astype(self.inputs[0].dtype),)


class Clone(Op):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.asarray(x, copy=True)

    def backward(self, g: Tensor) -> tuple:
        return (g,)


class ToDevice(Op):
    """A copy on another device; the gradient goes back to the source device."""

    target: Any

    @classmethod
    def apply(cls, x: Tensor, target: Any) -> Tensor:
        out = wrap(target.transfer(x.data, x.backend), target)  # GPU to GPU without the host
        if is_grad_enabled() and x._requires_grad:
            op = cls.__new__(cls)
            op.backend, op.inputs, op.needs_grad = target, (x,), (True,)
            op._saved_versions, op._out = (x._version[0],), weakref.ref(out)
            out._node, out._requires_grad = op, True
        return out

    def backward(self, g: Tensor) -> tuple:
        return (ToDevice.apply(g, self.inputs[0].backend),)


def astype(x: Tensor, dtype: DType | str) -> Tensor:
    """A copy converted to `dtype` (the same tensor if it already has it)."""
    dtype = _dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    return Astype.apply(x, dtype=dtype)


def to(x: Tensor, device: str | None = None, dtype: DType | str | None = None) -> Tensor:
    """`x` on `device` and/or as `dtype`; gradients flow back across the move."""
    if device is not None:
        target = get_backend(device)
        if target is not x.backend:
            x = ToDevice.apply(x, target)
    return x if dtype is None else astype(x, dtype)


def clone(x: Tensor) -> Tensor:
    """A copy with its own memory; gradients flow back to `x`."""
    return Clone.apply(x)


def inplace(t: Tensor, fn: Callable[[Any, Any], Tensor], other: Any) -> Tensor:
    """``t op= other`` as NumPy does it (the array changes in place, views see it).

    When grad is recorded and either side requires grad, `t` instead takes the result and its
    node; nodes that saved the old `t` then fail their version check instead of giving wrong
    gradients.
    """
    _check_leaf(t, f"{fn.__name__} in place")
    _check_view(t, f"{fn.__name__} in place")
    other_rg = isinstance(other, Tensor) and other._requires_grad
    record = is_grad_enabled() and (t._requires_grad or other_rg)
    if record:
        r = fn(_alias(t), other)
    else:
        with no_grad():
            r = fn(t, other)
    if r.shape != t.shape:
        raise ShapeError(
            f"{fn.__name__} in place: the result has shape {r.shape} but the tensor has "
            f"{t.shape}; in-place results cannot grow by broadcasting"
        )
    if r.dtype is not t.dtype:
        raise DTypeError(
            f"{fn.__name__} in place: the result dtype {r.dtype.name} cannot be stored in a "
            f"{t.dtype.name} tensor; use t = t {fn.__name__} other"
        )
    if record:
        assert r._node is not None  # recorded: `fn` made r with a node
        t.data, t._node, t._requires_grad = r.data, r._node, True
        r._node._out = weakref.ref(t)
    else:
        t.backend.setitem(t.data, (Ellipsis,), r.data)
    bump_version(t)
    return t
