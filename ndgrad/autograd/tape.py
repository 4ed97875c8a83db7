"""`GradientTape`, Keras/TensorFlow's way of asking for gradients.

Every operation on a tensor that requires grad is recorded anyway, so the tape only marks a
region: it turns recording on, watches extra tensors on request, and computes gradients of a
target with respect to sources. A tape's `gradient` called while another tape is recording
builds a differentiable graph, so nested tapes give second derivatives.
"""

from __future__ import annotations

import contextvars
from typing import Any

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

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None) -> Any:
        """d(target)/d(sources), shaped like `sources` (a tensor, list or tuple, or dict).

        A source the target does not depend on gets None.
        """
        if self._used and not self.persistent:
            raise GraphError(
                "GradientTape.gradient: a non-persistent tape can compute gradients only once. "
                "Use GradientTape(persistent=True) to call gradient() several times"
            )
        self._used = True
        flat = _flatten([sources])
        if not target.requires_grad:
            grads: list[Any] = [None] * len(flat)
        else:
            nested = any(tape is not self for tape in _recording.get())
            grads = backward(
                [target],
                [output_gradients],
                inputs=flat,
                retain_graph=self.persistent or nested,
                create_graph=nested,
            )
        return _unflatten(sources, grads)


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
