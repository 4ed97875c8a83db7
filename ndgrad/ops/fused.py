"""Fused network ops, each one node where a composition would be several:

- `linear(x, w, b, relu=False)`: ``x @ w + b`` (then relu, in place) with one BLAS call
  forward and one per needed gradient.
- `sparse_softmax_cross_entropy(logits, labels)`: per-sample ``-log softmax(logits)[label]``,
  stable for any logits (no log(0), no overflow at 1e4), gradient ``softmax - onehot``. It
  checks that the labels lie in [0, C) (`check_labels`, the one check of integer labels that
  the losses and `Model.fit` use too), which costs a GPU a wait for their min and max,
  except inside `labels_checked()`, where the caller vouches for them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from .._tensor import Tensor, wrap
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.op import Op
from ..errors import ShapeError
from .elementwise import (
    ReluGrad,
    equal,
    less,
    logical_and,
    logical_not,
    remainder,
    where,
)
from .elementwise import abs as absolute
from .linalg import matmul, shared_weight_grad
from .nn import softmax
from .reduce import max, min, sum
from .shape import reshape, stack, transpose


class Linear(Op):
    """``x @ w + b`` for x (..., k), w (k, n), b (n,) or None."""

    relu = False

    def check(self, xs: tuple, ws: tuple, *bs: tuple) -> None:
        _check_linear(xs, ws, *bs)

    def forward(self, xp: Any, x: Any, w: Any, b: Any = None) -> Any:
        y = xp.matmul(x, w)
        if b is not None or self.relu:
            self.backend.bias_act_(y, b, self.relu)  # one pass over the product
        return y

    def backward(self, g: Tensor) -> tuple:
        x, w = self.inputs[:2]
        need = self.needs_grad
        if self.relu:
            g = ReluGrad.apply(g, y=self._out_data)
        gx = matmul(g, transpose(w)) if need[0] else None
        gw = None
        if need[1]:
            gw = shared_weight_grad(x, g)
        if len(self.inputs) == 2:
            return gx, gw
        gb = sum(g, tuple(range(g.ndim - 1))) if need[2] else None
        return gx, gw, gb


class LinearRelu(Linear):
    """``relu(x @ w + b)`` in one node: the relu works in place on the product."""

    uses_output = True
    relu = True


def _check_linear(xs: tuple, ws: tuple, *bs: tuple) -> None:
    if len(ws) != 2 or not xs or xs[-1] != ws[0] or (bs and bs[0] != (ws[1],)):
        raise ShapeError(
            f"linear: expected x (..., k), w (k, n) and b (n,). Received x={xs}, w={ws}"
            + (f", b={bs[0]}" if bs else "")
        )


def linear(x: Tensor, w: Tensor, b: Tensor | None = None, relu: bool = False) -> Tensor:
    """``x @ w + b`` (then ``relu`` when asked): the dense layer's affine map, x (..., k),
    w (k, n), b (n,) -> (..., n)."""
    if w.ndim != 2 or b is not None and b.shape != (w.shape[1],):  # matmul would accept these
        _check_linear(x.shape, w.shape, *(() if b is None else (b.shape,)))
    op = LinearRelu if relu else Linear
    return op.apply(x, w) if b is None else op.apply(x, w, b)


_labels_checked: ContextVar[bool] = ContextVar("labels_checked", default=False)


@contextlib.contextmanager
def labels_checked() -> Iterator[None]:
    """Inside, `check_labels` (so `sparse_softmax_cross_entropy` and the losses) trusts the
    labels to lie in [0, C): the caller checked them once for the whole data set
    (`Model.fit` and `evaluate` do), so no step waits for the device to report their min and
    max."""
    token = _labels_checked.set(True)
    try:
        yield
    finally:
        _labels_checked.reset(token)


def labels_were_checked() -> bool:
    """Whether the caller vouched for the labels (inside `labels_checked()`)."""
    return _labels_checked.get()


def check_labels(
    labels: Tensor, classes: int, what: str = "sparse_categorical_crossentropy"
) -> None:
    """Raise a ValueError unless every label lies in [0, `classes`), naming the first ten
    labels out of range and the class count (`what` opens the message). Float labels must
    also be whole numbers (not NaN, ±inf or 3.5): the message then names the bad values as
    given. Both bounds (and, for floats, the count of bad values) reach the host in one
    transfer (a GPU waits once); the labels themselves only to name the bad ones. Inside
    `labels_checked()` the caller vouches for the labels: nothing is read."""
    if not labels.size or labels_were_checked():
        return
    if labels.dtype.kind == "f":
        _check_float_labels(labels, classes, what)
        return
    if labels.dtype.kind not in "iu":
        labels = labels.astype("int64")
    lo, hi = stack([min(labels), max(labels)]).tolist()
    if lo < 0 or hi >= classes:
        bad = sorted({v for v in reshape(labels, (-1,)).tolist() if not 0 <= v < classes})
        raise ValueError(
            f"{what}: labels must be in [0, {classes}) for {classes} classes. "
            f"Received out-of-range labels {bad[:10]}"
        )


def _check_float_labels(labels: Tensor, classes: int, what: str) -> None:
    """`check_labels` for float labels: whole numbers in [0, `classes`), in one read."""
    finite = less(absolute(labels), float("inf"))  # False for NaN and ±inf
    safe = where(finite, labels, 0.0)  # no NaN or inf into the remainder (no warning)
    whole = logical_and(finite, equal(remainder(safe, 1.0), 0.0))
    n_bad = sum(logical_not(whole).astype(labels.dtype))
    lo, hi, count = stack([min(safe), max(safe), n_bad]).tolist()
    if count or lo < 0 or hi >= classes:
        values = reshape(labels, (-1,)).tolist()
        ok = [math.isfinite(v) and v == int(v) and 0 <= v < classes for v in values]
        bad = sorted({v for v, good in zip(values, ok) if not (good or math.isnan(v))})
        if any(math.isnan(v) for v in values):
            bad.append(float("nan"))
        digits = {2: 3, 4: 7}.get(labels.dtype.itemsize)  # float16/32 as given: 2.9
        shown = [v if digits is None else float(f"{v:.{digits}g}") for v in bad[:10]]
        raise ValueError(
            f"{what}: labels must be whole numbers in [0, {classes}) for {classes} classes. "
            f"Received invalid labels {shown}"
        )


class SparseSoftmaxCrossEntropy(Op):
    """Per-sample cross-entropy of integer `labels` (N,) under softmax(`logits`) (N, C); the
    labels are not checked here (`sparse_softmax_cross_entropy` does)."""

    promote_from = None

    def forward(self, xp: Any, logits: Any, labels: Any) -> Any:
        loss, self.probs = self.backend.softmax_xent(logits, labels)
        return loss

    def backward(self, g: Tensor) -> tuple:
        logits, labels = self.inputs
        xp = self.backend.xp
        c = logits.shape[-1]
        onehot = xp.astype(
            xp.reshape(labels.data, (-1, 1)) == xp.arange(c, device=labels.data.device),
            logits.data.dtype,
        )
        # A differentiable gradient (create_graph) recomputes softmax; else the forward's.
        probs = softmax(logits, -1) if is_grad_enabled() else wrap(self.probs, self.backend)
        return (probs - wrap(onehot, self.backend)) * reshape(g, (-1, 1)), None


def sparse_softmax_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample ``-log(softmax(logits)[label])``: logits (N, C), integer labels (N,) -> (N,)."""
    if logits.ndim != 2 or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ShapeError(
            f"sparse_softmax_cross_entropy: expected logits (N, C) and labels (N,). Received "
            f"logits={logits.shape}, labels={labels.shape}"
        )
    check_labels(labels, logits.shape[-1])  # as given: float labels must be whole numbers
    if labels.dtype.kind not in "iu":
        labels = labels.astype("int64")
    return SparseSoftmaxCrossEntropy.apply(logits, labels)
