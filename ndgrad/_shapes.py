"""Shape rules shared by ops: shape arguments, broadcasting (right to left, equal or 1) and
axis normalisation."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from .errors import ShapeError

Shape = tuple[int, ...]


def _aligned(shapes: Sequence[Shape]) -> str:
    texts = [str(tuple(s)) for s in shapes]
    width = max(len(t) for t in texts)
    return "\n".join("  " + t.rjust(width) for t in texts)


def as_shape(shape: Any, op: str = "shape", allow_inferred: bool = False) -> Shape:
    """`shape` (an int or a sequence of ints) as a tuple, or a ShapeError naming it.

    Sizes must be integers >= 0 (with `allow_inferred`, one of them may be -1, as in reshape).

    >>> as_shape([2, 3]), as_shape(4)
    ((2, 3), (4,))
    """
    try:
        out: Shape = (operator.index(shape),)
    except (TypeError, ValueError):  # not one integer (a 1-D tensor's __index__: ValueError)
        try:
            if isinstance(shape, (str, bytes)):
                raise TypeError
            out = tuple(operator.index(s) for s in shape)
        except (TypeError, ValueError):
            raise ShapeError(
                f"{op}: a shape must be an int or a sequence of ints. Received shape={shape!r}"
            ) from None
    if allow_inferred:
        if any(s < -1 for s in out) or out.count(-1) > 1:
            raise ShapeError(
                f"{op}: sizes must be >= 0, with at most one -1. Received shape={shape!r}"
            )
    elif any(s < 0 for s in out):
        raise ShapeError(f"{op}: sizes must be >= 0. Received shape={shape!r}")
    return out


def broadcast_shapes(*shapes: Shape, op: str = "broadcast") -> Shape:
    """The shape NumPy broadcasting gives `shapes`, or a ShapeError naming the failing axis.

    >>> broadcast_shapes((256, 256, 3), (3,))
    (256, 256, 3)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(1, ndim + 1):
        size = 1
        for s in shapes:
            if k <= len(s):
                n = s[-k]
                if n != 1:
                    if size != 1 and n != size:
                        axis = ndim - k
                        raise ShapeError(
                            f"{op}: shapes cannot be broadcast (compared right to left, sizes "
                            f"must be equal or 1); axis {axis} (axis {-k} from the right) has "
                            f"{size} vs {n}. Received shapes:\n{_aligned(shapes)}"
                        )
                    size = n
        out.append(size)
    return tuple(reversed(out))


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    """`axis` in ``[-ndim, ndim)`` as a non-negative index (0 or -1 name a 0-d tensor's 0)."""
    if ndim == 0 and axis in (0, -1):
        return 0
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor of rank {ndim}")
    return axis % ndim


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str = "op") -> tuple[int, ...]:
    """`axis` (None = all, int or tuple, negatives allowed) as a sorted tuple of unique axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(sorted(normalize_axis(a, ndim, op) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    if ndim == 0:
        return ()
    return out
