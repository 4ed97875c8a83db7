"""Shape operations: reshape, transpose, broadcast, concatenate, pad and their compositions.

Views (reshape, transpose, broadcast_to) share their input's version counter, so an in-place
change through one is seen by the graph through the other.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

from .._shapes import as_shape, broadcast_shapes, normalize_axes, normalize_axis
from .._tensor import Tensor
from ..autograd.op import Op
from ..errors import ShapeError


def _axes_arg(axes: int | Sequence[int], op: str) -> tuple[int, ...]:
    try:
        return (axes,) if isinstance(axes, int) else tuple(map(operator.index, axes))
    except TypeError:
        raise ShapeError(f"{op}: axes must be ints. Received axes={axes!r}") from None


class Reshape(Op):
    view = True
    shape: tuple[int, ...]

    def check(self, xs: tuple) -> None:
        size = math.prod(xs)
        known = math.prod(s for s in self.shape if s != -1)
        free = self.shape.count(-1)
        ok = free == 0 and known == size or free == 1 and known != 0 and size % known == 0
        if not ok or any(s < -1 for s in self.shape):
            raise ShapeError(
                f"reshape: cannot reshape a tensor of shape {xs} ({size} elements) into "
                f"{self.shape}; sizes must multiply to {size} (at most one -1)"
            )

    def forward(self, xp: Any, x: Any) -> Any:
        self.check(x.shape)
        return xp.reshape(x, self.shape)

    def backward(self, g: Tensor) -> tuple:
        return (reshape(g, self.inputs[0].data.shape),)


class Transpose(Op):
    view = True
    axes: tuple[int, ...]

    def forward(self, xp: Any, x: Any) -> Any:
        if (
            sorted(normalize_axes(self.axes, x.ndim, "transpose")) != list(range(x.ndim))
            or len(self.axes) != x.ndim
        ):
            raise ShapeError(
                f"transpose: axes {self.axes} are not a permutation of the {x.ndim} axes of a "
                f"tensor of shape {tuple(x.shape)}"
            )
        self.axes = tuple(a % x.ndim for a in self.axes)
        return xp.permute_dims(x, self.axes)

    def backward(self, g: Tensor) -> tuple:
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return (transpose(g, tuple(inverse)),)


class BroadcastTo(Op):
    view = True
    shape: tuple[int, ...]

    def forward(self, xp: Any, x: Any) -> Any:
        if broadcast_shapes(tuple(x.shape), self.shape, op="broadcast_to") != self.shape:
            raise ShapeError(
                f"broadcast_to: a tensor of shape {tuple(x.shape)} cannot be broadcast to "
                f"{self.shape}"
            )
        return xp.broadcast_to(x, self.shape)

    def backward(self, g: Tensor) -> tuple:
        return (sum_to(g, self.inputs[0].data.shape),)


class SumTo(Op):
    """Sum over the axes that broadcasting added or stretched, giving `shape`."""

    shape: tuple[int, ...]

    def forward(self, xp: Any, x: Any) -> Any:
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1
        )
        out = self.backend.sum(x, axes, True) if axes else x  # float32 stays float32
        return xp.reshape(out, self.shape)

    def backward(self, g: Tensor) -> tuple:
        return (broadcast_to(g, self.inputs[0].data.shape),)


class Concatenate(Op):
    axis: int

    def check(self, *shapes: tuple) -> None:
        first = shapes[0]
        if not first:
            raise ShapeError("concatenate: 0-d tensors cannot be concatenated; use stack")
        axis = normalize_axis(self.axis, len(first), "concatenate")
        for s in shapes:
            if len(s) != len(first) or any(
                a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis
            ):
                raise ShapeError(
                    f"concatenate: all sizes except along axis {axis} must match. Received "
                    f"shapes {list(shapes)}"
                )

    def forward(self, xp: Any, *xs: Any) -> Any:
        self.check(*[tuple(x.shape) for x in xs])
        self.axis = normalize_axis(self.axis, xs[0].ndim)
        return xp.concat(list(xs), axis=self.axis)

    def backward(self, g: Tensor) -> tuple:
        out, start = [], 0
        for x, need in zip(self.inputs, self.needs_grad):
            n = x.data.shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, start + n),)
            out.append(g[index] if need else None)
            start += n
        return tuple(out)


class Pad(Op):
    """Constant padding: `values` holds the (before, after) fill of each axis. Axes are padded
    in order, so a corner takes the value of the later axis (as NumPy)."""

    pad_width: tuple[tuple[int, int], ...]
    values: tuple[tuple[float, float], ...]

    def forward(self, xp: Any, x: Any) -> Any:
        fills = {v for pair in self.values for v in pair}
        if len(fills) <= 1:
            return self.backend.pad(x, self.pad_width, fills.pop() if fills else 0)
        for axis, (widths, fill) in enumerate(zip(self.pad_width, self.values)):
            for width, value in (((widths[0], 0), fill[0]), ((0, widths[1]), fill[1])):
                if width != (0, 0):
                    one = [(0, 0)] * x.ndim
                    one[axis] = width
                    x = self.backend.pad(x, tuple(one), value)
        return x

    def backward(self, g: Tensor) -> tuple:
        index = tuple(slice(b, b + n) for (b, _), n in zip(self.pad_width, self.inputs[0].shape))
        return (g[index],)


def reshape(x: Tensor, shape: int | Sequence[int]) -> Tensor:
    """The same elements in a new shape (one size may be -1: inferred).

    >>> import ndgrad
    >>> ndgrad.arange(6).reshape(2, -1).shape
    (2, 3)
    """
    shape = as_shape(shape, "reshape", allow_inferred=True)
    if tuple(x.data.shape) == shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x: Tensor, axes: int | Sequence[int] | None = None) -> Tensor:
    """Axes permuted (reversed by default, as NumPy): (2, 3, 4) gives (4, 3, 2), with
    ``axes=(0, 2, 1)`` (2, 4, 3)."""
    axes = tuple(reversed(range(x.ndim))) if axes is None else _axes_arg(axes, "transpose")
    return Transpose.apply(x, axes=axes)


permute = transpose


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Axes `axis1` and `axis2` exchanged: (2, 3, 4) with ``(0, 2)`` gives (4, 3, 2)."""
    axes = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim, "swapaxes"), normalize_axis(axis2, x.ndim, "swapaxes")
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """A view of `x` broadcast to `shape` ((3,) to (2, 3)); its gradient sums back."""
    shape = as_shape(shape, "broadcast_to")
    if tuple(x.data.shape) == shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum `x` down to `shape`, which must broadcast to x's shape (broadcast_to's gradient):
    (2, 3) to (1, 3) or (3,)."""
    shape = as_shape(shape, "sum_to")
    if tuple(x.data.shape) == shape:
        return x
    return SumTo.apply(x, shape=shape)


def expand_dims(x: Tensor, axis: int | Sequence[int]) -> Tensor:
    """Insert size-1 axes at `axis` (positions in the result): (2, 3) with ``axis=0`` gives
    (1, 2, 3), with ``axis=-1`` (2, 3, 1)."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    where = set(normalize_axes(axes, ndim, "expand_dims"))
    it = iter(x.shape)
    return reshape(x, [1 if i in where else next(it) for i in range(ndim)])


unsqueeze = expand_dims


def squeeze(x: Tensor, axis: int | Sequence[int] | None = None) -> Tensor:
    """Remove size-1 axes (all of them, or those in `axis`, which must have size 1):
    (1, 3, 1) gives (3,), with ``axis=0`` (3, 1)."""
    if axis is None:
        return reshape(x, [s for s in x.shape if s != 1])
    axes = normalize_axes(axis, x.ndim, "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
    return reshape(x, [s for i, s in enumerate(x.shape) if i not in axes])


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes `start_axis` .. `end_axis` into one (all axes by default): (2, 3, 4) gives
    (24,), with ``start_axis=1`` (2, 12)."""
    if x.ndim == 0:
        return reshape(x, (1,))
    a = normalize_axis(start_axis, x.ndim, "flatten")
    b = normalize_axis(end_axis, x.ndim, "flatten")
    if a > b:
        raise ShapeError(
            f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for a tensor of "
            f"shape {x.shape}"
        )
    shape = x.shape
    return reshape(x, shape[:a] + (math.prod(shape[a : b + 1]),) + shape[b + 1 :])


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis. Alias: `concat`. (2, 3) and (4, 3) give (6, 3);
    two (2, 3) with ``axis=1`` give (2, 6)."""
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    return Concatenate.apply(*tensors, axis=axis)


concat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis: two (2, 3) give (2, 2, 3), with
    ``axis=-1`` (2, 3, 2)."""
    from ..creation import tensor as _tensor

    ts = [t if isinstance(t, Tensor) else _tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    if any(t.shape != ts[0].shape for t in ts):
        raise ShapeError(
            f"stack: all tensors must have the same shape. Received {[t.shape for t in ts]}"
        )
    axis = normalize_axis(axis, ts[0].ndim + 1, "stack")
    return concatenate([expand_dims(t, axis) for t in ts], axis=axis)


def split(x: Tensor, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Split into equal sections (an int that divides the axis) or at the given indices."""
    axis = normalize_axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0 or n % k:
            raise ShapeError(
                f"split: axis {axis} of size {n} cannot be split into {k} equal sections"
            )
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0, *indices_or_sections, n]
    lead = (slice(None),) * axis
    return [x[(*lead, slice(a, max(a, b)))] for a, b in zip(bounds[:-1], bounds[1:])]


def _as_pairs(value: Any, shape: tuple[int, ...], what: str) -> tuple[tuple[Any, Any], ...]:
    """NumPy's forms of a per-axis (before, after) argument: a scalar, (v,), (before, after),
    or one (v,) or (before, after) per axis; as one (before, after) pair per axis."""
    ndim = len(shape)
    if not isinstance(value, (Sequence, Tensor)):
        return ((value, value),) * ndim
    items = tuple(value)
    if all(not isinstance(v, (Sequence, Tensor)) for v in items):
        rows: tuple = (items,)
    else:
        rows = tuple(tuple(r) if isinstance(r, (Sequence, Tensor)) else (r,) for r in items)
    if len(rows) == 1:
        rows *= ndim
    if len(rows) != ndim or any(len(r) not in (1, 2) for r in rows):
        raise ShapeError(
            f"pad: {what} must be a number, (before, after), or one (before, after) pair per "
            f"axis of the {ndim} axes of shape {shape}. Received {what}={value!r}"
        )
    return tuple((r[0], r[-1]) for r in rows)


PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _source_index(i: int, n: int, mode: str) -> int:
    """The position along an axis of size n that padded position i copies (0 <= i < n: i)."""
    if mode == "edge":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "symmetric":  # the edge repeated: ... 1 0 | 0 1 2 | 2 1 ...
        j = i % (2 * n)
        return j if j < n else 2 * n - 1 - j
    if n == 1:  # reflect about the edge, not repeating it: ... 2 1 | 0 1 2 | 1 0 ...
        return 0
    j = i % (2 * n - 2)
    return j if j < n else 2 * n - 2 - j


def pad(x: Tensor, pad_width: Any, mode: str = "constant", constant_values: Any = 0.0) -> Tensor:
    """Padding as `numpy.pad`: `pad_width` is an int, (before, after), or one pair per axis.

    Modes: "constant" (`constant_values`: a scalar or per-axis pairs, as NumPy), "edge" (the
    edge value repeated), "reflect" (mirrored about the edge), "symmetric" (mirrored, the edge
    included) and "wrap" (periodic). Gradients flow back to every copied element.

    >>> import ndgrad
    >>> ndgrad.pad(ndgrad.tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect").tolist()
    [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
    """
    from ..creation import tensor as _tensor

    x = x if isinstance(x, Tensor) else _tensor(x)
    widths = _as_pairs(pad_width, x.shape, "pad_width")
    try:
        widths = tuple((operator.index(b), operator.index(a)) for b, a in widths)
        valid = all(min(p) >= 0 for p in widths)
    except TypeError:  # not integers
        valid = False
    if not valid:
        raise ShapeError(
            f"pad: pad_width must give integers (before, after) >= 0 for each of the {x.ndim} "
            f"axes of shape {x.shape}. Received pad_width={pad_width!r}"
        )
    if mode == "constant":
        values = _as_pairs(constant_values, x.shape, "constant_values")
        return Pad.apply(x, pad_width=widths, values=values)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}. Supported modes: {', '.join(PAD_MODES)}")
    if isinstance(constant_values, (Sequence, Tensor)) or constant_values != 0.0:
        raise TypeError(f"pad: constant_values applies to mode='constant' only, not {mode!r}")
    for axis, ((before, after), n) in enumerate(zip(widths, x.shape)):
        if before == after == 0:
            continue
        if n == 0:
            raise ShapeError(
                f"pad: mode {mode!r} cannot extend axis {axis} of size 0 (shape {x.shape}); "
                f"use mode='constant'"
            )
        source = [_source_index(i, n, mode) for i in range(-before, n + after)]
        index = _tensor(source, dtype="int64", device=x.backend)
        x = x[(slice(None),) * axis + (index,)]
    return x


def repeat(x: Tensor, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
    """Repeat each element `repeats` times along `axis` (flattened when None), as NumPy:
    (2, 3) with ``repeats=2`` gives (12,), with ``axis=0`` (4, 3)."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = normalize_axis(axis, x.ndim, "repeat")
    n = x.shape[axis]
    if isinstance(repeats, int):
        if repeats < 0:
            raise ValueError(f"repeat: repeats must be >= 0. Received {repeats}")
        expanded = expand_dims(x, axis + 1)
        shape = list(expanded.shape)
        shape[axis + 1] = repeats
        out_shape = list(x.shape)
        out_shape[axis] = n * repeats
        return reshape(broadcast_to(expanded, shape), out_shape)
    repeats = list(repeats)
    if len(repeats) != n or min(repeats, default=0) < 0:
        raise ShapeError(
            f"repeat: need {n} non-negative repeats for axis {axis} of shape {x.shape}. "
            f"Received {len(repeats)}"
        )
    from ..creation import tensor as _tensor

    index = _tensor(
        [i for i, r in enumerate(repeats) for _ in range(r)], dtype="int64", device=x.backend
    )
    return x[(slice(None),) * axis + (index,)]


def tile(x: Tensor, reps: int | Sequence[int]) -> Tensor:
    """The whole tensor repeated `reps` times along each axis, as NumPy: (2, 3) with
    ``reps=2`` gives (2, 6), with ``reps=(2, 1)`` (4, 3)."""
    reps = as_shape(reps, "tile")
    ndim = max(x.ndim, len(reps))
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - x.ndim) + x.shape
    inter = [d for s in shape for d in (1, s)]
    big = [d for r, s in zip(reps, shape) for d in (r, s)]
    out = broadcast_to(reshape(x, inter), big)
    return reshape(out, [r * s for r, s in zip(reps, shape)])
