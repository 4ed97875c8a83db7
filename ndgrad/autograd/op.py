"""`Op`, the base of every differentiable operation, and `Op.apply`, the one path into the graph.

An op class holds its shape rule (`check`), its `forward` on backend arrays and its `backward` on
Tensors. `apply` lifts Python scalars (weak dtype promotion), checks devices, promotes dtypes,
runs `forward` inside the device's context (`Backend.activate`), wraps the array, and records
the node only when grad mode is on and an input requires grad. The node holds its inputs
strongly and its output weakly (no reference cycle).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _dtypes
from .._tensor import Tensor, wrap
from ..creation import tensor
from ..errors import DeviceError, DTypeError
from .grad_mode import _enabled

if TYPE_CHECKING:
    from ..backends.base import Backend


class Op:
    """An operation: subclasses define `forward(xp, *arrays)` and `backward(g)`.

    Keyword parameters given to `apply` become attributes (``self.axis``); `forward` may stash
    arrays it computed for `backward` on ``self``. `backward` returns one Tensor (or None) per
    input; the engine sums each back to its input's shape and dtype.
    """

    differentiable: ClassVar[bool] = True
    #: inputs from this index on are cast to their common dtype (None: no promotion)
    promote_from: ClassVar[int | None] = 0
    #: the output aliases input 0's memory, so they share a version counter
    view: ClassVar[bool] = False
    #: backward reads the output (kept alive by the node); in-place changes to it are errors
    uses_output: ClassVar[bool] = False

    inputs: tuple[Any, ...]  # the input Tensors (None once backward freed the graph)
    needs_grad: tuple[bool, ...]
    _out: weakref.ref[Tensor]
    _saved_versions: tuple[int, ...]
    _out_data: Any  # only for ops that use their output: its array and version counter
    _out_version: list[int]
    backend: Backend

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Any:
        """Run the op on Tensors or scalars and return the output Tensor."""
        xs = args
        for a in args:
            if type(a) is not Tensor:
                xs = _lift(args, cls.promote_from)
                break
        x0 = xs[0]
        backend = x0.backend
        n = len(xs)
        if n > 1:  # one device, one dtype (promoted as NumPy 2 does)
            native = x0.data.dtype
            mixed = False
            for x in xs:
                if x.backend is not backend:
                    raise _device_error(cls, xs)
                if x.data.dtype != native:
                    mixed = True
            if mixed and cls.promote_from is not None and n - cls.promote_from > 1:
                xs = _promote(xs, cls.promote_from)
                x0 = xs[0]
        # One and two inputs spelled out: a comprehension costs more than the op on small arrays.
        arrays: tuple[Any, ...]
        if n == 1:
            arrays = (x0.data,)
        elif n == 2:
            arrays = (x0.data, xs[1].data)
        else:
            arrays = tuple([x.data for x in xs])
        op = cls.__new__(cls)
        if params:
            op.__dict__.update(params)
        op.backend = backend
        try:
            if backend.needs_activation:  # e.g. CuPy: make the tensors' GPU the current one
                with backend.activate():
                    data = op.forward(backend.xp, *arrays)
            else:  # cpu and strict: no context to enter on the hot path
                data = op.forward(backend.xp, *arrays)
        except Exception:
            op.check(*[tuple(a.shape) for a in arrays])  # a ShapeError naming the shapes
            raise
        if not isinstance(data, backend.array_type):
            data = backend.coerce(data)
        dtype = backend.from_native.get(data.dtype)
        if dtype is None:  # e.g. NumPy's int8 for bool ** bool
            raise DTypeError(
                f"{cls.__name__.lower()}: the result dtype {data.dtype} is not an ndgrad dtype. "
                f"Received dtypes: {', '.join(x.dtype.name for x in xs)}"
            )
        out = wrap(data, backend, x0._version if cls.view else None)
        if cls.differentiable and dtype.kind == "f" and _enabled.get():
            needs: tuple[bool, ...]
            versions: tuple[int, ...]
            if n == 1:
                needs, versions = (x0._requires_grad,), (x0._version[0],)
            elif n == 2:
                x1 = xs[1]
                needs = (x0._requires_grad, x1._requires_grad)
                versions = (x0._version[0], x1._version[0])
            else:
                needs = tuple([x._requires_grad for x in xs])
                versions = tuple([x._version[0] for x in xs])
            if True in needs:
                op.inputs = xs
                op.needs_grad = needs
                op._saved_versions = versions
                op._out = weakref.ref(out)
                if cls.uses_output:  # enough to rebuild the output if its consumers free it
                    op._out_data, op._out_version = data, out._version
                out._node = op
                out._requires_grad = True
        return out

    def check(self, *shapes: Any, **params: Any) -> None:
        """Raise ShapeError naming the shapes when they do not fit.

        Called when `forward` fails, to turn the array library's error into one that says
        which shapes were given and what was expected; the fast path pays nothing for it.
        Ops whose library would accept bad shapes silently check inside `forward`.
        """

    def forward(self, xp: Any, *arrays: Any) -> Any:
        """The output array from the input arrays, with the namespace `xp` (the backend's)."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, g: Any) -> tuple[Any, ...]:
        """The gradient of each input (a Tensor, or None) from the output's gradient `g`, a
        Tensor of the output's shape; written with ops, so it is differentiable again."""
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    @property
    def out(self) -> Any:
        """The output Tensor (for ops whose backward reuses it, e.g. exp, tanh, softmax).

        The node holds its output weakly (no reference cycle). Such ops (`uses_output`) keep
        the output's array and version counter, so when the consumers that held the output
        were freed first in backward, an equivalent tensor (same array, node and version) is
        rebuilt; second derivatives flow through it to this node as through the original.
        """
        out = self._out()
        if out is None:
            out = wrap(self._out_data, self.backend, self._out_version)
            out._node, out._requires_grad = self, True
            self._out = weakref.ref(out)
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


def _device_error(cls: type, xs: tuple) -> DeviceError:
    names = ", ".join(sorted({t.backend.name for t in xs}))
    return DeviceError(
        f"{cls.__name__.lower()}: inputs are on different devices ({names}); "
        f"move them to one device with .to(device) first"
    )


def _lift(args: tuple, promote_from: int | None) -> tuple:
    """Turn Python scalars and array-likes among `args` into Tensors with NumPy 2's rules."""
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        return tuple(tensor(a) for a in args)
    backend = tensors[0].backend
    strong = [a.dtype for a in args[promote_from or 0 :] if isinstance(a, Tensor)]
    dtype = strong[0] if strong else tensors[0].dtype
    for d in strong[1:]:
        dtype = _dtypes.promote(dtype, d)
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        elif isinstance(a, (bool, int, float)):
            out.append(wrap(backend.asarray(a, _dtypes.weak_result(dtype, a)), backend))
        else:
            out.append(tensor(a, device=backend))
    return tuple(out)


def _promote(xs: tuple, start: int) -> tuple:
    dtype = xs[start].dtype
    same = True
    for x in xs[start + 1 :]:
        d = x.dtype
        if d is not dtype:
            same = False
            dtype = _dtypes.promote(dtype, d)
    if same:
        return xs
    return tuple(x if i < start or x.dtype is dtype else x.astype(dtype) for i, x in enumerate(xs))
