"""Reading and writing with NumPy's index rules, and the scatter-add of indexing's gradient. The
Array-API fallbacks: standard functions only, used by every backend that does not override them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..family import Family


def _is_basic(index: tuple) -> bool:
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in index)


def _basic(shape: tuple[int, ...], index: tuple) -> tuple:
    """A basic index with an Ellipsis and with NumPy's slice semantics spelled out in bounds
    (the standard leaves out-of-bounds slice ends unspecified; NumPy clips them)."""
    if Ellipsis not in index:
        index = (*index, Ellipsis)
    consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
    out, axis = [], 0
    for i in index:
        if i is Ellipsis:
            axis += len(shape) - consumed
        elif isinstance(i, slice) and axis < len(shape):
            r = range(*i.indices(shape[axis]))
            i = slice(r.start, r.stop if r.stop >= 0 else None, r.step) if r else slice(0, 0)
        if i is not None and i is not Ellipsis:
            axis += 1
        out.append(i)
    return tuple(out)


def last_write_sources(xp: Any, shape: tuple[int, ...], index: tuple) -> Any:
    """Which write each write of ``array[index] = values`` should carry, for libraries that
    keep an arbitrary one of the writes to a repeated position (CuPy) where NumPy keeps the
    last: for every write (the elements of ``array[index]`` for an array of `shape`, in C
    order), the number of the last write to the same position. Gathering the broadcast
    values through it gives every write to a position the value NumPy leaves there, so
    whichever write the library keeps, the result is NumPy's.

    Every temporary is sized by the index (the number of writes), none by the target: each
    write's flat position is summed from per-axis coordinates read through broadcast views
    (no memory), the positions are sorted stably, and a binary search finds the last write
    of each position. `xp` is NumPy or CuPy (their `argsort(kind="stable")` and
    `searchsorted`). Returns an int64 array shaped like ``array[index]``.
    """
    pos = None
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        size = shape[axis]
        if size > 1:
            coord = xp.arange(size, dtype=xp.int64).reshape(
                (size,) + (1,) * (len(shape) - 1 - axis)
            )
            part = xp.broadcast_to(coord, shape)[index]
            if stride != 1:
                part = part * stride
            pos = part if pos is None else pos + part
        stride *= size
    if pos is None:  # every axis of size 1 (or 0): one position at most
        pos = xp.broadcast_to(xp.zeros((), dtype=xp.int64), shape)[index]
    flat = pos.reshape(-1)
    order = xp.argsort(flat, kind="stable")  # equal positions stay in write order
    last = xp.searchsorted(flat[order], flat, side="right") - 1
    return order[last].reshape(pos.shape)


class Indexing(Family):
    """The indexing family, written with the standard's functions only."""

    # -- primitives the Array API lacks ----------------------------------------------------
    def _host_index(self, index: tuple) -> tuple:
        return tuple(self.to_numpy(i) if self.is_array(i) else i for i in index)

    def _linear_index(self, shape: tuple[int, ...], index: tuple) -> np.ndarray:
        """The flat positions `array[index]` reads, computed on the host with NumPy's rules."""
        return np.arange(math.prod(shape), dtype=np.int64).reshape(shape)[self._host_index(index)]

    def getitem(self, array: Any, index: tuple) -> Any:
        """`array[index]` with NumPy semantics (ints, slices, None, ..., int and bool arrays)."""
        if _is_basic(index):
            return array[_basic(array.shape, index)]
        lin = self._linear_index(array.shape, index)
        flat = self.xp.reshape(array, (-1,))
        taken = self.xp.take(flat, self.from_numpy(lin.reshape(-1)), axis=0)
        return self.xp.reshape(taken, lin.shape)

    def scatter_add(self, shape: tuple[int, ...], index: tuple, values: Any) -> Any:
        """Zeros of `shape` with `values` added at `index`; repeated positions accumulate."""
        xp = self.xp
        if _is_basic(index):  # slices and ints never repeat a position
            out = xp.zeros(shape, dtype=values.dtype, device=self.native_device)
            self.setitem(out, index, values)
            return out
        lin = self._linear_index(shape, index)
        size = math.prod(shape)
        values = xp.reshape(xp.broadcast_to(values, lin.shape), (1, lin.size))
        lin = lin.reshape(-1)
        onehot = self.from_numpy(lin[:, None] == np.arange(size)[None, :])
        out = xp.matmul(values, xp.astype(onehot, values.dtype))
        return xp.reshape(out, shape)

    def setitem(self, array: Any, index: tuple, values: Any) -> None:
        """``array[index] = values`` in place."""
        if not self.is_array(values):  # a Python scalar
            values = self.xp.asarray(values, dtype=array.dtype, device=self.native_device)
        if _is_basic(index):
            index = _basic(array.shape, index)
            if any(i is None for i in index):  # the standard allows None only when reading
                target = array[index].shape
                index = tuple(i for i in index if i is not None)
                values = self.xp.broadcast_to(values, target)
                values = self.xp.reshape(values, array[index].shape)
            array[index] = values
            return
        xp = self.xp
        lin = self._linear_index(array.shape, index)
        mask = np.zeros(array.size, dtype=bool)
        mask[lin.reshape(-1)] = True
        target = np.full(array.size, -1, dtype=np.int64)
        target[lin.reshape(-1)] = np.arange(lin.size)
        vals = xp.reshape(xp.broadcast_to(values, lin.shape), (-1,))
        flat = xp.reshape(array, (-1,))
        src = self.from_numpy(np.maximum(target, 0))
        picked = xp.take(vals, src, axis=0) if lin.size else flat
        new = xp.where(self.from_numpy(mask), picked, flat)
        array[...] = xp.reshape(new, array.shape)

    def add_into(self, out: Any, index: tuple, values: Any) -> None:
        """``out[index] += values`` for a basic (slice) index, in place."""
        out[index] = out[index] + values
