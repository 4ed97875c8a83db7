"""`GradientTape`, Keras/TensorFlow's way of asking for gradients, with TensorFlow's rules.

Every operation on a tensor that requires grad is recorded anyway, so the tape only marks a
region: it turns recording on, watches extra tensors on request, and computes gradients of
targets with respect to sources. As in TensorFlow, a non-scalar target (or a list of targets)
gives the gradient of the sum of its elements (`output_gradients` default to ones), while
`Tensor.backward()` keeps PyTorch's rule (one element, or an explicit gradient); `jacobian`
gives every partial derivative instead. A tape's `gradient` called while another tape is
recording builds a differentiable graph, so nested tapes give second derivatives.
"""

from __future__ import annotations

import contextvars
from typing import Any

from .._tensor import wrap
from ..creation import zeros
from ..errors import DTypeError, GraphError
from .engine import backward
from .grad_mode import set_grad_enabled

_recording: contextvars.ContextVar[tuple] = contextvars.ContextVar("ndgrad_tapes", default=())


class GradientTape:
    """Record operations inside ``with GradientTape() as tape:``; then `tape.gradient`.

    >>> import ndgrad
    >>> w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    >>> with ndgrad.GradientTape() as tape:
    ...     loss = (w * w).sum()
    >>> tape.gradient(loss, w)
    tensor([2., 4.], shape=(2,), dtype=float32)
    """

    def __init__(self, persistent: bool = False) -> None:
        self.persistent = persistent
        self._watched: list[Any] = []
        self._used = False
        self._grad_mode = set_grad_enabled(True)
        self._token: contextvars.Token | None = None

    def __enter__(self) -> GradientTape:
        self._grad_mode.__enter__()
        self._token = _recording.set((*_recording.get(), self))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:  # None: __exit__ without __enter__
            _recording.reset(self._token)
        self._grad_mode.__exit__(*exc)
        for t in self._watched:
            t.requires_grad = False
        self._watched.clear()

    def watch(self, *tensors: Any) -> None:
        """Record operations on `tensors` (constants that do not require grad) from now on."""
        for t in _flatten(tensors):
            if not t.dtype.is_floating:
                raise DTypeError(
                    f"GradientTape.watch: only floating tensors can be watched. "
                    f"Received dtype={t.dtype.name}"
                )
            if not t.requires_grad:
                t.requires_grad = True
                self._watched.append(t)

    def _start(self, method: str) -> bool:
        """Check that this tape may compute (again); True when another tape is recording."""
        if self._used and not self.persistent:
            raise GraphError(
                f"GradientTape.{method}: a non-persistent tape computes gradients only once. "
                f"Use GradientTape(persistent=True) to call gradient() or jacobian() again"
            )
        self._used = True
        return any(tape is not self for tape in _recording.get())

    def gradient(
        self,
        target: Any,
        sources: Any,
        output_gradients: Any = None,
        unconnected_gradients: str = "none",
    ) -> Any:
        """d(target)/d(sources), shaped like `sources` (a tensor, list or tuple, or dict).

        `target` is a tensor of any shape or a list (tuple, dict) of them: as in TensorFlow,
        the result is the gradient of the sum of all their elements, each seeded with ones
        unless `output_gradients` (one per target, of its shape) says otherwise. A source the
        targets do not depend on gets None, or zeros with ``unconnected_gradients="zero"``.

        >>> import ndgrad
        >>> x = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> with ndgrad.GradientTape() as tape:
        ...     y = 2 * x + 3
        >>> tape.gradient(y, x).tolist()
        [[2.0, 2.0], [2.0, 2.0]]
        """
        _check_unconnected(unconnected_gradients)
        nested = self._start("gradient")
        targets = _flatten([target])
        seeds = [None] * len(targets) if output_gradients is None else _flatten([output_gradients])
        if len(seeds) != len(targets):
            raise ValueError(
                f"GradientTape.gradient: {len(targets)} target(s) but {len(seeds)} "
                f"output_gradients; give one per target"
            )
        flat = _flatten([sources])
        roots = [(t, s) for t, s in zip(targets, seeds) if t.requires_grad]
        if not roots:
            grads: list[Any] = [None] * len(flat)
        else:
            grads = backward(
                [t for t, _ in roots],
                [_ones(t) if s is None else s for t, s in roots],
                inputs=flat,
                retain_graph=self.persistent or nested,
                create_graph=nested,
            )
        return _unflatten(sources, _connect(grads, flat, unconnected_gradients))

    def jacobian(self, target: Any, sources: Any, unconnected_gradients: str = "none") -> Any:
        """Every partial derivative d(target[i])/d(source[j]): for each source, a tensor of
        shape ``target.shape + source.shape`` (one backward pass per element of `target`).

        >>> import ndgrad
        >>> x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
        >>> with ndgrad.GradientTape() as tape:
        ...     y = x * x
        >>> tape.jacobian(y, x).tolist()
        [[2.0, 0.0], [0.0, 4.0]]
        """
        _check_unconnected(unconnected_gradients)
        nested = self._start("jacobian")
        flat = _flatten([sources])
        if not target.requires_grad:
            return _unflatten(sources, _connect([None] * len(flat), flat, unconnected_gradients))
        n = target.size
        rows: list[list[Any]] = []
        for i in range(n):
            seed = zeros(n, dtype=target.dtype, device=target.backend)
            seed[i] = 1
            rows.append(
                backward(
                    [target],
                    [seed.reshape(target.shape)],
                    inputs=flat,
                    retain_graph=i < n - 1 or self.persistent or nested,
                    create_graph=nested,
                )
            )
        out: list[Any] = []
        for j, s in enumerate(flat):
            column = [row[j] for row in rows]
            if n == 0:  # no elements, no partial derivatives: an empty Jacobian
                out.append(_zeros(target.shape + s.shape, s))
            elif all(g is None for g in column):
                out.append(None)
            else:
                out.append(_stack(column, s).reshape(target.shape + s.shape))
        return _unflatten(sources, _connect(out, flat, unconnected_gradients, target.shape))


def _check_unconnected(value: str) -> None:
    if value not in ("none", "zero"):
        raise ValueError(
            f"GradientTape: unconnected_gradients must be 'none' or 'zero'. Received {value!r}"
        )


def _ones(t: Any) -> Any:
    with t.backend.activate():  # ones_like allocates on the current device
        return wrap(t.backend.xp.ones_like(t.data), t.backend)


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    return zeros(shape, dtype=like.dtype, device=like.backend)


def _stack(column: list[Any], like: Any) -> Any:
    """The gradients (each shaped like `like`, None for zeros) along a new first axis, written
    row by row into zeros (differentiable: each write is a recorded assignment when the rows
    need a graph, as in nested tapes)."""
    out = _zeros((len(column), *like.shape), like)
    for i, g in enumerate(column):
        if g is not None:
            out[i] = g
    return out


def _connect(grads: list[Any], sources: list[Any], mode: str, lead: tuple = ()) -> list[Any]:
    """Gradients with None replaced by zeros (of ``lead + source.shape``) when mode is "zero"."""
    if mode == "none":
        return grads
    return [_zeros(lead + s.shape, s) if g is None else g for g, s in zip(grads, sources)]


def _flatten(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _flatten(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _flatten(v)]
    return [obj]


def _unflatten(structure: Any, flat: list[Any]) -> Any:
    it = iter(flat)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            return {k: build(v) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return type(s)(build(v) for v in s)
        return next(it)

    return build(structure)
