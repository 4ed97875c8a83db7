"""Indexing ``t[index]`` and assignment ``t[index] = v`` with NumPy's rules.

Basic indices (ints, slices with any step, None, ...) give views; integer arrays and boolean
masks gather, and their gradient scatter-adds, so repeated indices accumulate. Integer indices
are checked against the axis (one host transfer per index array on a GPU), except by
`permute_rows`, whose index is a permutation.
"""

from __future__ import annotations

import numbers
import operator
import weakref
from typing import Any

from .._tensor import Tensor, bump_version, wrap
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.op import Op
from ..errors import GraphError


def _normalize(x: Tensor, index: Any) -> tuple[tuple, bool]:
    """`index` as a tuple of backend-ready entries, and whether it is basic (a view)."""
    if not isinstance(index, tuple):
        index = (index,)
    out, basic = [], True
    for i in index:
        if isinstance(i, Tensor):
            if i.backend is not x.backend:
                from ..errors import DeviceError

                raise DeviceError(f"index tensor on {i.device}, indexed tensor on {x.device}")
            if i.dtype.kind not in "biu":
                raise IndexError(f"index tensors must be integer or bool, not {i.dtype.name}")
            out.append(i.data)
            basic = False
        elif isinstance(i, bool):
            out.append(x.backend.asarray(i))
            basic = False
        elif isinstance(i, (int, slice)) or i is None or i is Ellipsis:
            out.append(i.__index__() if isinstance(i, int) else i)
        elif isinstance(i, numbers.Integral) or hasattr(i, "__index__") and not hasattr(i, "shape"):
            out.append(operator.index(i))  # NumPy integer scalars index like ints (views)
        else:
            arr = x.backend.asarray(i)
            if x.backend.dtype_of(arr).kind not in "biu" and arr.size:
                raise IndexError(f"index arrays must be integer or bool. Received {i!r}")
            if arr.size == 0 and x.backend.dtype_of(arr).kind == "f":
                arr = x.backend.astype(arr, x.backend.dtype_of(x.backend.asarray(0)))
            out.append(arr)
            basic = False
    normalized = tuple(out)
    if not basic or any(type(i) is int for i in normalized):
        _check_bounds(x, normalized)
    return normalized, basic


def _check_bounds(x: Tensor, index: tuple) -> None:
    """NumPy's IndexError for an integer or integer-array index outside its axis, and for a
    mask whose shape does not match, on every backend: CuPy wraps out-of-range indices around
    instead. One host transfer per index array (its min and max together)."""
    shape, backend = x.shape, x.backend
    consumed = sum(i.ndim if _is_mask(x, i) else 1 for i in index if _takes_axes(i))
    axis = 0
    for i in index:
        if i is Ellipsis:
            axis += len(shape) - consumed
            continue
        if i is None or axis >= len(shape):  # too many indices: the backend says so
            continue
        if isinstance(i, slice):
            axis += 1
        elif isinstance(i, int):
            _check_index(i, i, axis, shape[axis])
            axis += 1
        elif _is_mask(x, i):
            for k, size in enumerate(i.shape):
                if axis + k < len(shape) and shape[axis + k] != size:
                    raise IndexError(
                        f"boolean index did not match indexed array along axis {axis + k}; "
                        f"size of axis is {shape[axis + k]} but size of corresponding boolean "
                        f"axis is {size}"
                    )
            axis += i.ndim
        else:
            if i.size:
                xp = backend.xp
                with backend.activate():
                    bounds = backend.to_numpy(xp.stack([xp.min(i), xp.max(i)]))
                lo, hi = bounds.tolist()
                _check_index(lo, hi, axis, shape[axis])
            axis += 1


def _takes_axes(i: Any) -> bool:
    return i is not None and i is not Ellipsis


def _is_mask(x: Tensor, i: Any) -> bool:
    return not isinstance(i, (int, slice)) and x.backend.dtype_of(i).kind == "b"


def _check_index(lo: int, hi: int, axis: int, size: int) -> None:
    """Raise unless every index in [lo, hi] is in [-size, size)."""
    bad = hi if hi >= size else lo if lo < -size else None
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {size}")


class _Index(Op):
    index: tuple

    def forward(self, xp: Any, x: Any) -> Any:
        try:
            return self.backend.getitem(x, self.index)
        except IndexError as e:
            raise IndexError(f"{e} (indexing a tensor of shape {tuple(x.shape)})") from None

    def backward(self, g: Tensor) -> tuple:
        return (ScatterAdd.apply(g, index=self.index, shape=self.inputs[0].data.shape),)


class BasicIndex(_Index):
    view = True


class GatherIndex(_Index):
    pass


class ScatterAdd(Op):
    """Zeros of `shape` with g added at `index`: the gradient of indexing."""

    index: tuple
    shape: tuple[int, ...]

    def forward(self, xp: Any, g: Any) -> Any:
        return self.backend.scatter_add(self.shape, self.index, g)

    def backward(self, gg: Tensor) -> tuple:
        return (GatherIndex.apply(gg, index=self.index),)


class Fill(Op):
    """A copy of x with `value` written at `index` (the gradient of assignment, for x)."""

    index: tuple
    value: float

    def forward(self, xp: Any, x: Any) -> Any:
        out = xp.asarray(x, copy=True)
        self.backend.setitem(out, self.index, self.value)
        return out

    def backward(self, g: Tensor) -> tuple:
        return (Fill.apply(g, index=self.index, value=0.0),)


class IndexPut(Op):
    """The node recorded for ``t[index] = v``: gradient 0 at index for t, g[index] for v."""

    index: tuple

    def backward(self, g: Tensor) -> tuple:
        gt = Fill.apply(g, index=self.index, value=0.0) if self.needs_grad[0] else None
        gv = GatherIndex.apply(g, index=self.index) if self.needs_grad[1] else None
        return gt, gv


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: ints, slices (negative steps too), None, ..., int arrays, bool masks."""
    idx, basic = _normalize(x, index)
    return (BasicIndex if basic else GatherIndex).apply(x, index=idx)


def permute_rows(x: Tensor, order: Tensor) -> Tensor:
    """``x[order]`` for `order` a permutation of ``range(len(x))`` such as
    `ndgrad.permutation` draws, or a part of one (a batch's rows): the same gather without the
    bounds check, which would make a GPU wait for the order's min and max to learn what a
    permutation guarantees. `fit` gathers each batch this way, so the data are never copied
    whole (a shuffled copy of the training set would double its memory)."""
    if (
        order.backend is not x.backend
        or order.dtype.kind not in "iu"
        or order.ndim != 1
        or order.shape[0] > x.shape[0]
    ):
        raise IndexError(
            f"permute_rows: expected integer rows of a permutation of range({x.shape[0]}) "
            f"on {x.device}: at most {x.shape[0]} of them, in one axis. "
            f"Received shape {order.shape}, dtype {order.dtype.name} on {order.device}"
        )
    return GatherIndex.apply(x, index=(order.data,))


def _alias(t: Tensor) -> Tensor:
    """A second handle on t's array, node and current version (t is about to change)."""
    a = wrap(t.data, t.backend, [t._version[0]])
    a._node, a._requires_grad = t._node, t._requires_grad
    return a


def _check_leaf(t: Tensor, what: str) -> None:
    if t._node is None and t._requires_grad and is_grad_enabled():
        raise GraphError(
            f"{what}: a leaf tensor that requires grad cannot be modified in place while grad "
            f"is recorded; wrap the update in `with ndgrad.no_grad():`"
        )


def _check_view(t: Tensor, what: str) -> None:
    if t._node is not None and type(t._node).view and is_grad_enabled():
        raise GraphError(
            f"{what}: writing through a view of a tensor that requires grad would not reach "
            f"the base tensor's gradient; assign into the base tensor, or build the result "
            f"with ndgrad.where()"
        )


def setitem(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value`` in place; recorded in the graph when either side requires grad."""
    from ..creation import tensor

    _check_leaf(t, "setitem")
    _check_view(t, "setitem")
    v = value if isinstance(value, Tensor) else tensor(value, dtype=t.dtype, device=t.backend)
    if v.backend is not t.backend:
        from ..errors import DeviceError

        raise DeviceError(f"setitem: value on {v.device}, tensor on {t.device}")
    if v.dtype is not t.dtype:
        v = v.astype(t.dtype)
    idx, _ = _normalize(t, index)
    record = is_grad_enabled() and (t._requires_grad or v._requires_grad)
    old = _alias(t) if record else None
    t.backend.setitem(t.data, idx, v.data)
    bump_version(t)
    if old is not None:  # recorded
        node = IndexPut.__new__(IndexPut)
        node.index, node.backend = idx, t.backend
        node.inputs = (old, v)
        node.needs_grad = (old._requires_grad, v._requires_grad)
        node._saved_versions = (old._version[0], v._version[0])
        node._out = weakref.ref(t)
        t._node, t._requires_grad = node, True
