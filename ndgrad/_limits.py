"""Bounds on what reading a model file may build: `load_model` sets a weight budget (the values
its weights file holds) and `Layer.add_weight` checks it before allocating, so a config that
asks for ``Dense(10**12)`` is refused before any memory is taken."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

_budget: ContextVar[list[int] | None] = ContextVar("ndgrad_weight_budget", default=None)


class WeightBudgetError(ValueError):
    """The architecture being built asks for more weight values than its file holds."""


@contextmanager
def weight_budget(values: int) -> Iterator[None]:
    """Within the block, layers may create at most `values` weight values in total."""
    token = _budget.set([values])
    try:
        yield
    finally:
        _budget.reset(token)


def check_weight(shape: Sequence[int], where: str) -> None:
    """Called by `Layer.add_weight` before it allocates a weight of `shape`."""
    left = _budget.get()
    if left is None:
        return
    size = math.prod(int(d) for d in shape)
    if size > left[0]:
        raise WeightBudgetError(f"{where} asks for a weight of shape {tuple(shape)} "
                                f"({size} values); the file's weights hold only {left[0]} more")
    left[0] -= size
