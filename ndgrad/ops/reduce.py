"""Reductions over axes (None = all, an int, or a tuple; negatives allowed) with `keepdims`.

Each reduction's gradient broadcasts the incoming gradient back over the reduced axes.
`mean`, `var`, `std` and `logsumexp` are compositions of the primitives here.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _dtypes
from .._shapes import normalize_axes
from .._tensor import Axis, Tensor, wrap
from ..autograd.op import Op
from ..errors import ShapeError
from .elementwise import equal, log, logical_and, sqrt, where
from .shape import reshape


class _Reduce(Op):
    axes: tuple[int, ...]
    keepdims: bool

    def _kept_shape(self) -> list[int]:
        shape = list(self.inputs[0].data.shape)
        for a in self.axes:
            shape[a] = 1
        return shape

    def _kept(self, g: Tensor) -> Tensor:
        """The gradient reshaped with the reduced axes as size 1 (ready to broadcast)."""
        return reshape(g, self._kept_shape())

    def _spread(self, g: Tensor) -> Tensor:
        """The gradient broadcast back over the reduced axes: the input's shape."""
        return Unreduce.apply(
            g,
            kept=self._kept_shape(),
            shape=self.inputs[0].data.shape,
            axes=self.axes,
            keepdims=self.keepdims,
        )


class Unreduce(Op):
    """g of a reduction's output shape broadcast to the input shape (one node, a view)."""

    kept: list[int]
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    keepdims: bool

    def forward(self, xp: Any, g: Any) -> Any:
        return self.backend.expand(g, tuple(self.kept), self.shape)

    def backward(self, gg: Tensor) -> tuple:
        return (Sum.apply(gg, axes=self.axes, keepdims=self.keepdims),)


def _accumulate(backend: Any, x: Any) -> Any:
    """NumPy sums and multiplies bool and integer arrays in int64 (ndgrad has no uint64)."""
    return backend.astype(x, _dtypes.int64) if backend.dtype_of(x).kind in "bu" else x


class Sum(_Reduce):
    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.sum(_accumulate(self.backend, x), self.axes, self.keepdims)

    def backward(self, g: Tensor) -> tuple:
        return (self._spread(g),)


class Prod(_Reduce):
    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.prod(_accumulate(self.backend, x), self.axes, self.keepdims)

    def backward(self, g: Tensor) -> tuple:
        # d prod / d x_i = product of the others; zeros handled without dividing by them.
        x = self.inputs[0]
        zero = equal(x, 0)
        x1 = where(zero, 1.0, x)
        others = prod(x1, self.axes, keepdims=True)
        zeros = Sum.apply(zero, axes=self.axes, keepdims=True)
        gx = where(zeros == 0, others / x1, 0.0) + where(logical_and(zero, zeros == 1), others, 0.0)
        return (self._kept(g) * gx,)


class _Extreme(_Reduce):
    uses_output = True

    def check(self, xs: tuple) -> None:
        if any(xs[a] == 0 for a in self.axes):
            raise ShapeError(
                f"{type(self).__name__.lower()}: cannot reduce over a size-0 axis "
                f"(shape {xs}, axes {self.axes})"
            )

    def backward(self, g: Tensor) -> tuple:
        # Ties share the gradient equally (as PyTorch's amax/amin). Which elements hit the
        # extreme is piecewise constant in x, so the share is a constant (no node of its own).
        xp, x = self.backend.xp, self.inputs[0].data
        hit = xp.astype(x == xp.reshape(self.out.data, tuple(self._kept_shape())), x.dtype)
        share = hit / self.backend.sum(hit, self.axes, True)
        return (self._spread(g) * wrap(share, self.backend),)


class Max(_Extreme):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.max(x, axis=self.axes, keepdims=self.keepdims)


class Min(_Extreme):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.min(x, axis=self.axes, keepdims=self.keepdims)


class _ArgExtreme(Op):
    differentiable = False
    axis: int | None
    keepdims: bool


class Argmax(_ArgExtreme):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.argmax(x, axis=self.axis, keepdims=self.keepdims)


class Argmin(_ArgExtreme):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.argmin(x, axis=self.axis, keepdims=self.keepdims)


def _reduce(cls: type[Op], x: Any, axis: Axis, keepdims: bool) -> Tensor:
    if not isinstance(x, Tensor):
        from ..creation import tensor

        x = tensor(x)
    if axis is None:  # all axes: the common case, without the checks
        axes = tuple(range(x.ndim))
    else:
        axes = normalize_axes(axis, x.ndim, cls.__name__.lower())
    return cls.apply(x, axes=axes, keepdims=keepdims)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over `axis` (all axes by default): shape (2, 3) gives (), with ``axis=0`` (3,),
    with ``axis=1, keepdims=True`` (2, 1)."""
    return _reduce(Sum, x, axis, keepdims)


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Product over `axis` (all axes by default): (2, 3) with ``axis=1`` gives (2,)."""
    return _reduce(Prod, x, axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest value over `axis` (all axes by default); ties share the gradient: (2, 3) with
    ``axis=0`` gives (3,)."""
    return _reduce(Max, x, axis, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest value over `axis` (all axes by default); ties share the gradient: (2, 3) with
    ``axis=1`` gives (2,)."""
    return _reduce(Min, x, axis, keepdims)


def _count(x: Tensor, axis: Axis) -> int:
    return math.prod(x.shape[a] for a in normalize_axes(axis, x.ndim, "mean"))


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over `axis` (all axes by default; integers and bools give float32, as
    PyTorch and JAX): (2, 3) gives (), with ``axis=0`` (3,)."""
    s = sum(x, axis, keepdims)
    return s / _count(x, axis) if _count(x, axis) else s * float("nan")


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over `axis` (all axes by default), divided by ``n - ddof``: (2, 3) with
    ``axis=1`` gives (2,)."""
    d = x - mean(x, axis, keepdims=True)
    n = _count(x, axis) - ddof
    s = sum(d * d, axis, keepdims)
    return s / n if n > 0 else s * float("nan")


def std(x: Tensor, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation over `axis`: ``sqrt(var(x, axis, ddof=ddof))``; (2, 3) with
    ``axis=0`` gives (3,).

    Where the variance is 0 (constant values) the gradient is 0, as PyTorch's, not the NaN
    that sqrt's infinite slope at 0 would give.
    """
    v = var(x, axis, keepdims, ddof)
    positive = v > 0
    return where(positive, sqrt(where(positive, v, 1.0)), v)


def logsumexp(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis` (all axes by default), without overflow: (2, 3) with
    ``axis=1`` gives (2,)."""
    from .elementwise import _to_float, exp

    x = _to_float(x)
    if _count(x, axis) == 0:  # an empty sum: log(0) = -inf, and no max to subtract
        out = log(sum(exp(x), axis, keepdims=True))
    else:
        m = max(x, axis, keepdims=True).detach()
        m = where(m == float("inf"), 0.0, where(m == -float("inf"), 0.0, m))
        out = log(sum(exp(x - m), axis, keepdims=True)) + m
    if keepdims:
        return out
    return reshape(
        out, [s for i, s in enumerate(out.shape) if i not in normalize_axes(axis, x.ndim)]
    )


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (over the flattened tensor when `axis` is None), int64:
    (2, 3) gives (), with ``axis=1`` (2,)."""
    return Argmax.apply(x, axis=axis, keepdims=keepdims)


def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (over the flattened tensor when `axis` is None), int64:
    (2, 3) gives (), with ``axis=0`` (3,)."""
    return Argmin.apply(x, axis=axis, keepdims=keepdims)
