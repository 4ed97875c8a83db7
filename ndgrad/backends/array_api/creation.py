"""New arrays made from others: constant padding and a broadcast copy. The Array-API fallbacks:
standard functions only, used by every backend that does not override them.
"""

from __future__ import annotations

from typing import Any

from ..family import Family


class Creation(Family):
    """The creation family, written with the standard's functions only."""

    def expand(self, g: Any, kept: tuple[int, ...], shape: tuple[int, ...]) -> Any:
        """`g` reshaped to `kept` (reduced axes as 1) and broadcast to `shape` (a new array:
        gradients end up in ``.grad``, which users may update in place)."""
        out = self.xp.broadcast_to(self.xp.reshape(g, kept), shape)
        return self.xp.asarray(out, copy=True)

    def pad(self, array: Any, pad_width: tuple[tuple[int, int], ...], value: float = 0) -> Any:
        """Constant padding; `pad_width` is ((before, after),) per axis."""
        xp = self.xp
        for axis, (before, after) in enumerate(pad_width):
            parts = []
            for n in (before, after):
                shape = list(array.shape)
                shape[axis] = n
                parts.append(xp.full(tuple(shape), value, dtype=array.dtype, device=array.device))
            array = xp.concat([parts[0], array, parts[1]], axis=axis)
        return array
