"""What `fit` does about numbers that are not numbers: refuse non-finite data, undo divergence.

`first_nonfinite(x)` finds the first sample of a float tensor holding NaN or ±inf, in chunks
so the check costs one pass and little memory. `Rollback` keeps the weights and optimizer
state of the last step whose loss was finite: `fit` saves before each step (one copy into
reused buffers), `commit`s when the step's loss is finite and `restore`s when it is not. A
step's loss is computed before its update, so a non-finite loss at step k condemns the weights
that step k-1's update made: fit returns to the start of step k-1, the last weights seen to
give a finite loss. A learning rate that blows up costs the user two updates, not the
training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._tensor import Tensor, bump_version
from ..backends.registry import get_backend

_CHUNK_ELEMENTS = 1 << 22  # about 16 MB of float32 per isfinite pass


def first_nonfinite(x: Tensor) -> int | None:
    """Index along axis 0 of the first sample of `x` with a NaN or ±inf; None if all finite.

    Integer and bool tensors are finite by construction and cost nothing.
    """
    if not x.dtype.is_floating or x.size == 0:
        return None
    with x.backend.activate():  # CuPy computes on the current GPU, not x's
        return _first_nonfinite(x)


def _first_nonfinite(x: Tensor) -> int | None:
    xp, data = x.backend.xp, x.data
    n = x.shape[0] if x.ndim else 1
    if x.ndim == 0:
        return None if bool(xp.isfinite(data)) else 0
    step = max(1, _CHUNK_ELEMENTS // max(1, x.size // n))
    for start in range(0, n, step):
        chunk = data[start : min(n, start + step), ...]
        finite = xp.isfinite(chunk)
        if bool(xp.all(finite)):
            continue
        per_sample = xp.all(xp.reshape(finite, (chunk.shape[0], -1)), axis=1)
        return start + int(xp.argmin(xp.astype(per_sample, xp.int8)))
    return None


@dataclass(frozen=True)
class Divergence:
    """Where training diverged: the `epoch` and `batch` whose `loss` was not finite, and the
    (epoch, batch) whose weights and optimizer state were restored (None: the initial ones)."""

    epoch: int
    batch: int
    loss: float
    restored_to: tuple[int, int] | None

    def message(self) -> str:
        where = (
            "the weights it started with"
            if self.restored_to is None
            else "the weights and optimizer state of the last step with a finite loss "
            f"(epoch {self.restored_to[0] + 1}, batch {self.restored_to[1]})"
        )
        return (
            f"fit: the loss became {self.loss} at epoch {self.epoch + 1}, batch {self.batch} "
            f"(a learning rate too high for this model?). Training stopped and the model is "
            f"back to {where}."
        )


class Rollback:
    """Two sets of buffers for the model's weights and the optimizer's state.

    `save()` copies the current values into the spare set before a step; `commit()` makes
    that set the one to return to (the step's loss was finite); `restore()` writes the
    committed set back. A step costs one copy of the weights and state and no allocation.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._spare: dict[str, Any] | None = None
        self._committed: dict[str, Any] | None = None
        self.committed_at: tuple[int, int] | None = None
        self._saving_at: tuple[int, int] | None = None

    def _arrays(self) -> tuple[list[Any], list[Any]]:
        weights = [w.data for w in self.model.weights]
        opt = self.model.optimizer
        state = list(opt.variables) if opt is not None and opt.built else []
        return weights, state

    def save(self, epoch: int, batch: int) -> None:
        """Copy the weights and optimizer state into the spare buffers."""
        with get_backend(self.model.device).activate():
            self._save(epoch, batch)

    def _save(self, epoch: int, batch: int) -> None:
        weights, state = self._arrays()
        spare = self._spare
        if spare is None or [len(spare["weights"]), len(spare["state"])] != [
            len(weights),
            len(state),
        ]:
            xp = get_backend(self.model.device).xp
            spare = {
                "weights": [xp.empty_like(a) for a in weights],
                "state": [xp.empty_like(a) for a in state],
            }
        for buffer, a in zip(spare["weights"], weights):
            buffer[...] = a
        for buffer, a in zip(spare["state"], state):
            buffer[...] = a
        opt = self.model.optimizer
        spare["built"] = bool(opt is not None and opt.built)
        spare["iterations"] = getattr(opt, "iterations", 0)
        self._spare = spare
        self._saving_at = (epoch, batch)

    def commit(self) -> None:
        """The values saved last belong to a finite step: keep them, reuse the older set."""
        self._spare, self._committed = self._committed, self._spare
        self.committed_at = self._saving_at

    def restore(self) -> tuple[int, int] | None:
        """Write back the committed values (or, if no step was finite, those saved last);
        returns the (epoch, batch) they were saved at, None for the initial values."""
        saved, at = self._committed, self.committed_at
        if saved is None:
            saved, at = self._spare, None
        if saved is None:
            return None
        with get_backend(self.model.device).activate():
            self._write_back(saved)
        return at

    def _write_back(self, saved: dict[str, Any]) -> None:
        for w, buffer in zip(self.model.weights, saved["weights"]):
            w.data[...] = buffer
            bump_version(w)
        opt = self.model.optimizer
        if opt is not None:
            if saved["built"] and opt.built:
                for a, buffer in zip(opt.variables, saved["state"]):
                    a[...] = buffer
            elif not saved["built"]:
                opt.built = False  # state is made afresh on the next apply, as before step 0
            opt.iterations = saved["iterations"]
