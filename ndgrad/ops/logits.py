"""Which logits a probability tensor was computed from, for the losses to ask openly.

`softmax` (over the last axis) and `sigmoid` `record` their input next to their output here;
a cross-entropy given those probabilities asks `logits_of` and computes from the logits in the
fused, stable form (no log(0), no overflow), as Keras does. The entry lives as long as the
probabilities do (a weak reference to them), and works under `no_grad` too, where no graph
node remembers the input.
"""

from __future__ import annotations

import weakref
from typing import Any

from .._tensor import Tensor

#: id(probabilities) -> (weak reference to them, "softmax" | "sigmoid", the logits)
_SOURCES: dict[int, tuple[weakref.ref, str, Any]] = {}


def _forget(ref: weakref.ref, key: int) -> None:
    entry = _SOURCES.get(key)
    if entry is not None and entry[0] is ref:
        del _SOURCES[key]


def record(probs: Tensor, kind: str, logits: Any) -> None:
    """Remember that `probs` is ``kind(logits)`` while `probs` lives."""
    key = id(probs)
    _SOURCES[key] = (weakref.ref(probs, lambda ref: _forget(ref, key)), kind, logits)


def logits_of(probs: Tensor, kind: str) -> Any:
    """The logits `probs` was computed from by `kind` ("softmax" over the last axis, or
    "sigmoid"), else None."""
    entry = _SOURCES.get(id(probs))
    if entry is None or entry[0]() is not probs or entry[1] != kind:
        return None
    return entry[2]
