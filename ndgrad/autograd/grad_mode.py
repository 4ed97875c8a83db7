"""Whether operations record the graph: `no_grad`, `enable_grad`, `set_grad_enabled`.

The flag lives in a context variable, so threads and async tasks each have their own.
"""

from __future__ import annotations

import contextlib
import contextvars

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("ndgrad_grad", default=True)


def is_grad_enabled() -> bool:
    """True when new operations record the graph for backpropagation."""
    return _enabled.get()


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off inside a ``with`` block or a decorated function."""

    def __init__(self, mode: bool) -> None:
        self.mode = mode
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> None:
        self._tokens.append(_enabled.set(self.mode))

    def __exit__(self, *exc: object) -> None:
        _enabled.reset(self._tokens.pop())


class no_grad(set_grad_enabled):
    """Record no graph inside the block: inference and manual weight updates.

    >>> import ndgrad
    >>> w = ndgrad.ones(3, requires_grad=True)
    >>> with ndgrad.no_grad():
    ...     (w * 2).requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again inside a `no_grad` region."""

    def __init__(self) -> None:
        super().__init__(True)
