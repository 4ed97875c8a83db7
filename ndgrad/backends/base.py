"""The Backend contract: an Array-API namespace `xp` plus the few primitives the standard lacks.

Ops call only `backend.xp` and these methods, so a backend whose arrays are not NumPy arrays
(array-api-strict, CuPy) runs the same op code. `Backend` implements every primitive with
standard functions only; `NumpyBackend` and `CupyBackend` override them with fast paths.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from .. import _dtypes
from .._dtypes import DType
from ..errors import DTypeError

_NO_CONTEXT = contextlib.nullcontext()


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


class Backend:
    """One device kind: `kind` ('cpu', 'strict', 'cuda'), `index`, `name` and namespace `xp`."""

    kind: str = ""
    xp: Any = None
    #: `activate` does something: hot paths (Op.apply, the engine) skip the `with` when False
    needs_activation: bool = False
    #: optimizer class -> fused update ``fn(optimizer, w, g, state, learning_rate) -> bool``
    #: (False: it declines these arrays, the optimizer's own `update` runs). One table per
    #: backend class, filled by its optimizers module with `fuses`.
    fused_updates: dict[type, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.fused_updates = {}

    @classmethod
    def fuses(cls, optimizer_class: type) -> Any:
        """Register the decorated function as this backend's fused update for
        `optimizer_class` (and its subclasses that keep its `update`)."""

        def register(fn: Any) -> Any:
            cls.fused_updates[optimizer_class] = fn
            return fn

        return register

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.name = self.kind if self.kind in ("cpu", "strict") else f"{self.kind}:{index}"
        self.native_device = self._native_device()
        native = {d: self._native_dtype_named(d.name) for d in _dtypes.ALL}
        # A dtype the library lacks (array-api-strict has no float16) is simply not offered.
        self.to_native = {d: n for d, n in native.items() if n is not None}
        self.from_native = {v: k for k, v in self.to_native.items()}
        self.bool_native = self.to_native[_dtypes.bool_]
        self.array_type = type(self.xp.asarray(0, device=self.native_device))
        self.seed(None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def _native_device(self) -> Any:
        return None

    def activate(self) -> contextlib.AbstractContextManager:
        """A context in which this device is the one the library allocates and computes on.

        Everything that makes or computes arrays of this backend runs inside it (Op.apply,
        creation, random numbers, the engine, optimizers). A no-op on cpu and strict; CuPy
        otherwise works on the *current* GPU, whatever device the arrays are on.
        """
        return _NO_CONTEXT

    def _native_dtype_named(self, name: str) -> Any:
        return getattr(self.xp, name, None)

    # -- dtypes and conversion -------------------------------------------------------------
    def native_dtype(self, dtype: DType) -> Any:
        """This library's dtype for `dtype`; a DTypeError when the device does not offer it."""
        native = self.to_native.get(dtype)
        if native is None:
            offered = ", ".join(d.name for d in self.to_native)
            raise DTypeError(
                f"dtype {dtype.name} is not available on device {self.name!r}. "
                f"Available dtypes: {offered}"
            )
        return native

    def dtype_of(self, array: Any) -> DType:
        return self.from_native[array.dtype]

    def is_array(self, obj: Any) -> bool:
        return isinstance(obj, self.array_type)

    def asarray(self, data: Any, dtype: DType | None = None, copy: bool | None = None) -> Any:
        """`data` (nested lists, scalars, NumPy arrays, this backend's arrays) as an array here."""
        native = None if dtype is None else self.native_dtype(dtype)
        if not self.is_array(data) and not isinstance(data, (list, tuple, int, float, bool)):
            data = np.asarray(data)  # NumPy arrays and other buffers go through the host
            if native is None and data.dtype.name in _dtypes.BY_NAME:
                native = self.native_dtype(_dtypes.BY_NAME[data.dtype.name])  # offered here?
        return self.xp.asarray(data, dtype=native, device=self.native_device, copy=copy)

    def from_numpy(self, array: np.ndarray) -> Any:
        return self.xp.asarray(array, device=self.native_device)

    def transfer(self, array: Any, source: Backend) -> Any:
        """A copy here of `array`, an array of the backend `source` (another device)."""
        return self.from_numpy(source.to_numpy(array))

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.asarray(array.to_device(self.xp.Device()))

    def astype(self, array: Any, dtype: DType) -> Any:
        return self.xp.astype(array, self.native_dtype(dtype))

    def coerce(self, result: Any) -> Any:
        """An op's result as an array of this backend (NumPy returns scalars for 0-d results)."""
        raise TypeError(f"{self.name}: an op returned {type(result).__name__}, not an array")

    def format(self, array: Any, prefix: str = "") -> str:
        """The values of `array` as text, NumPy style."""
        return np.array2string(self.to_numpy(array), separator=", ", prefix=prefix)

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

    def sum(self, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        """Sum over `axes` (NumPy's result dtypes: small integers and bools sum as int64)."""
        return self.xp.sum(x, axis=axes, keepdims=keepdims)

    def expand(self, g: Any, kept: tuple[int, ...], shape: tuple[int, ...]) -> Any:
        """`g` reshaped to `kept` (reduced axes as 1) and broadcast to `shape` (a new array:
        gradients end up in ``.grad``, which users may update in place)."""
        out = self.xp.broadcast_to(self.xp.reshape(g, kept), shape)
        return self.xp.asarray(out, copy=True)

    def masked(self, values: Any, mask: Any) -> Any:
        """`values` where the bool `mask` holds, else 0."""
        return self.xp.where(mask, values, 0.0)

    def relu_(self, array: Any) -> None:
        """``array = max(array, 0)`` in place."""
        array[...] = self.xp.maximum(array, 0)

    def add_into(self, out: Any, index: tuple, values: Any) -> None:
        """``out[index] += values`` for a basic (slice) index, in place."""
        out[index] = out[index] + values

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

    def im2col(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        """(N, H, W, C) images as rows (N*OH*OW, KH*KW*C): each row one window, copied."""
        w = self.windows(x, size, strides)
        n, oh, ow, kh, kw, c = w.shape  # no -1: it is ambiguous for an empty batch
        return self.xp.reshape(w, (n * oh * ow, kh * kw * c))

    def windows(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        """Sliding windows of (N, H, W, C) as (N, OH, OW, KH, KW, C): stacked strided taps."""
        xp = self.xp
        kh, kw = size
        sh, sw = strides
        oh = (x.shape[1] - kh) // sh + 1
        ow = (x.shape[2] - kw) // sw + 1
        taps = [
            x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
            for i in range(kh)
            for j in range(kw)
        ]
        out = xp.stack(taps, axis=3)
        return xp.reshape(out, (x.shape[0], oh, ow, kh, kw, x.shape[3]))

    def clip(self, x: Any, lo: float | None, hi: float | None) -> Any:
        """`x` limited to [lo, hi] (either may be None), NaN kept."""
        return self.xp.clip(x, lo, hi)

    def sign(self, x: Any) -> Any:
        """-1, 0 or 1 by the sign of x; NaN stays NaN."""
        return self.xp.sign(x)

    def col2im(
        self, cols: Any, shape: tuple[int, ...], size: tuple[int, int], strides: tuple[int, int]
    ) -> Any:
        """The adjoint of `im2col`: rows (N*OH*OW, KH*KW*C) added back into (N, H, W, C)."""
        n, h, w, c = shape
        (kh, kw), (sh, sw) = size, strides
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        cols = self.xp.reshape(cols, (n, oh, ow, kh, kw, c))
        out = self.xp.zeros(shape, dtype=cols.dtype, device=self.native_device)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i, i + sh * (oh - 1) + 1, sh)
                columns = slice(j, j + sw * (ow - 1) + 1, sw)
                self.add_into(
                    out, (slice(None), rows, columns, slice(None)), cols[:, :, :, i, j, :]
                )
        return out

    def max_pool(self, x: Any, size: tuple[int, int], strides: tuple[int, int]) -> tuple:
        """Max over windows of (N, H, W, C): (out (N, OH, OW, C), arg or None).

        `arg` names the winning tap of each window (``i * KW + j``, the first in row-major
        order); None when this backend leaves it to `max_pool_arg`, computed in backward.
        """
        out = None
        for tap in self._pool_taps(x.shape, size, strides):
            out = (
                self.xp.asarray(x[tap], copy=True) if out is None else self.xp.maximum(out, x[tap])
            )
        return out, None

    def max_pool_arg(self, x: Any, y: Any, size: tuple[int, int], strides: tuple[int, int]) -> Any:
        """The winning tap of each window (int8 or int32, shaped like `y`) from x and y = max."""
        xp = self.xp
        dtype = xp.int8 if size[0] * size[1] <= 127 else xp.int32
        arg = xp.zeros(y.shape, dtype=dtype, device=self.native_device)
        taken = None
        for t, tap in enumerate(self._pool_taps(x.shape, size, strides)):
            hit = x[tap] == y
            if taken is not None:
                hit = xp.logical_and(hit, xp.logical_not(taken))
                taken = xp.logical_or(taken, hit)
            else:
                taken = hit
            if t:
                arg = xp.where(hit, xp.asarray(t, dtype=dtype, device=self.native_device), arg)
        return arg

    def route_scatter(
        self, g: Any, arg: Any, size: tuple[int, int], strides: tuple[int, int], shape: tuple
    ) -> Any:
        """Zeros of `shape` (N, H, W, C) with each g (N, OH, OW, C) added at its window's `arg`."""
        xp = self.xp
        out = xp.zeros(shape, dtype=g.dtype, device=self.native_device)
        for t, tap in enumerate(self._pool_taps(shape, size, strides, g.shape[1:3])):
            self.add_into(out, tap, self.masked(g, arg == t))
        return out

    def route_gather(
        self, x: Any, arg: Any, size: tuple[int, int], strides: tuple[int, int]
    ) -> Any:
        """The adjoint of `route_scatter`: each window's `arg` position of x (N, H, W, C)."""
        out = None
        for t, tap in enumerate(self._pool_taps(x.shape, size, strides, arg.shape[1:3])):
            part = self.masked(x[tap], arg == t)
            out = part if out is None else out + part
        return out

    @staticmethod
    def _pool_taps(
        shape: tuple, size: tuple[int, int], strides: tuple[int, int], out_hw: Any = None
    ) -> list[tuple]:
        """One basic index per window tap: the view of that tap for every output pixel."""
        (kh, kw), (sh, sw) = size, strides
        oh, ow = out_hw or ((shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1)
        return [
            (
                slice(None),
                slice(i, i + sh * (oh - 1) + 1, sh),
                slice(j, j + sw * (ow - 1) + 1, sw),
                slice(None),
            )
            for i in range(kh)
            for j in range(kw)
        ]

    def bias_act_(self, y: Any, b: Any, relu: bool) -> None:
        """``y += b`` (b may be None) then, if `relu`, ``y = max(y, 0)``, in place on y (M, N)."""
        if b is not None:
            y += b
        if relu:
            self.relu_(y)

    def relu_mask(self, g: Any, y: Any) -> Any:
        """g where y > 0, else 0: relu's gradient read from its output y."""
        return self.masked(g, y > 0)

    def softmax_xent(self, logits: Any, labels: Any) -> tuple[Any, Any]:
        """Per-row ``log(sum(exp(z))) - z[label]`` of logits (N, C) and the softmax (N, C)."""
        xp = self.xp
        z = logits - xp.max(logits, axis=-1, keepdims=True)
        e = xp.exp(z)
        s = xp.sum(e, axis=-1, keepdims=True)
        picked = xp.take_along_axis(z, xp.reshape(labels, (-1, 1)), axis=-1)
        return xp.reshape(xp.log(s) - picked, (-1,)), e / s

    def einsum(self, subscripts: str, *arrays: Any) -> Any:
        host = [self.to_numpy(a) for a in arrays]
        return self.from_numpy(np.asarray(np.einsum(subscripts, *host, optimize=True)))

    def erf(self, x: Any) -> Any:
        """The error function (Numerical Recipes' erfc Chebyshev fit; relative error < 1.2e-7)."""
        xp = self.xp
        z = xp.abs(x)
        t = 1.0 / (1.0 + 0.5 * z)
        poly = -1.26551223 + t * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t
                            * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
        erfc = t * xp.exp(-z * z + poly)
        return xp.where(x >= 0, 1.0 - erfc, erfc - 1.0)

    # -- random numbers: a NumPy generator on the host, results moved here -----------------
    def seed(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    def random(self, kind: str, shape: tuple[int, ...], dtype: DType, **kw: Any) -> Any:
        """Draw `kind` ('uniform', 'normal', 'integers', 'permutation') with this device's rng."""
        rng = self.rng
        if kind == "uniform":
            host = rng.uniform(kw["low"], kw["high"], size=shape)
        elif kind == "normal":
            host = rng.normal(kw["mean"], kw["std"], size=shape)
        elif kind == "integers":
            host = rng.integers(kw["low"], kw["high"], size=shape)
        else:
            host = rng.permutation(kw["n"])
        return self.asarray(host.astype(dtype.name, copy=False))

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on CPU)."""
