"""What `fit` does about numbers that are not numbers: refuse non-finite data, undo divergence.

`first_nonfinite(x)` finds the first sample of a float tensor holding NaN or ±inf, in chunks so
the check costs one pass and little memory. `Rollback` keeps the weights and optimizer state of
the last step whose loss was finite: `fit` keeps each step's starting values (in reused
buffers; the optimizer's fused update writes them in the pass that updates), `confirm`s a step
once it has read that step's loss and found it finite, and `restore`s when it is not. A step's
loss is computed before its update, so a non-finite loss at step k condemns the weights that
step k-1's update made: fit returns to the start of step k-1, the last weights seen to give a
finite loss. A learning rate that blows up costs the user two updates, not the training.

`fit` reads a step's loss (one wait for a GPU) after queueing the next step, so the device
never idles while Python prepares a step; it therefore reacts one step later: step k+1 has
run (its `on_train_batch_begin` too) when the non-finite loss of step k is seen, and its
update is undone with the others. When a callback reads each batch's logs
(`on_train_batch_end`; not the progress bar, which takes them a step late), fit reads each
loss at once instead, and reacts at step k.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
    read = x.backend.to_numpy  # each read waits for a GPU: one per chunk, one for the answer
    n = x.shape[0] if x.ndim else 1
    if x.ndim == 0:
        return None if read(xp.isfinite(data)) else 0
    step = max(1, _CHUNK_ELEMENTS // max(1, x.size // n))
    for start in range(0, n, step):
        chunk = data[start : min(n, start + step), ...]
        finite = xp.isfinite(chunk)
        if read(xp.all(finite)):
            continue
        per_sample = xp.all(xp.reshape(finite, (chunk.shape[0], -1)), axis=1)
        return start + int(read(xp.argmin(xp.astype(per_sample, xp.int8))))
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
    """Copies of the model's weights and the optimizer's state from the start of recent steps.

    `saving(epoch, batch)` is the context of one step: it keeps the values from before that
    step, in buffers released by an older copy (no allocation once training runs);
    `confirm(epoch, batch)` says that step's loss was finite, which makes its copy the one to
    return to and releases the older ones; `restore()` writes back the last confirmed copy,
    or, if no step was confirmed, the first one kept (the values fit started with). Steps are
    confirmed in order, each at most one step after it ran, so at most three copies are kept.

    With `in_update` (fit's own `train_step` and the optimizer's own `apply`: the update is
    known to run once per step), the optimizer copies its variables and their state while it
    updates them (`Optimizer.keep_next`: the fused kernels write the copy in the pass that
    reads those values anyway); only the other weights (e.g. normalization statistics) are
    copied before the step. Otherwise everything is copied before the step, and also when a
    weight is listed twice (a layer used twice) or the optimizer updates variables outside the
    model. The update copies the trainable weights as they are when it runs: fit's forward and
    backward do not change them. A step that ran no update has them copied once it is over.
    """

    def __init__(self, model: Any, in_update: bool = False) -> None:
        self.model = model
        self.in_update = in_update
        self._kept: list[tuple[tuple[int, int], dict[str, Any]]] = []  # oldest first
        self._free: list[dict[str, Any]] = []
        self.confirmed_at: tuple[int, int] | None = None  # the step of _kept[0], once confirmed

    def _arrays(self) -> tuple[list[Any], list[Any]]:
        weights = [w.data for w in self.model.weights]
        opt = self.model.optimizer
        state = list(opt.variables) if opt is not None and opt.built else []
        return weights, state

    @contextlib.contextmanager
    def saving(self, epoch: int, batch: int) -> Iterator[None]:
        """The context of step (epoch, batch): its starting values are kept once it is over."""
        opt = self.model.optimizer
        activate = get_backend(self.model.device).activate
        copy, done = None, False
        try:
            with activate():
                copy = self._save(epoch, batch)
            yield
            done = True
        finally:
            if opt is not None and opt.keeping:  # the step ran no update: nothing took it
                opt.keep_next(None)
                if done and copy is not None:  # then the values are still the step's start
                    with activate():
                        self._copy_into(copy, by_the_update=True)

    def _save(self, epoch: int, batch: int) -> dict[str, Any]:
        weights, state = self._arrays()
        copy = self._free.pop() if self._free else None
        if copy is None or [len(copy["weights"]), len(copy["state"])] != [
            len(weights),
            len(state),
        ]:
            xp = get_backend(self.model.device).xp
            copy = {
                "weights": [xp.empty_like(a) for a in weights],
                "state": [xp.empty_like(a) for a in state],
            }
        opt = self.model.optimizer
        in_update: set[int] = set()
        copy["in_update"] = in_update
        if self.in_update and opt is not None and opt.built:
            variables = opt.trainable_variables
            ids = [id(t) for t in self.model.weights]
            buffer_of = dict(zip(ids, copy["weights"]))
            # A weight listed twice (a layer used twice) is updated twice in one apply: its
            # copy is taken before the step, as is everything of an optimizer that also
            # updates variables outside the model.
            once = len(set(ids)) == len(ids) and len({id(v) for v in variables}) == len(variables)
            if once and all(id(v) in buffer_of for v in variables):
                opt.keep_next([buffer_of[id(v)] for v in variables], copy["state"])
                in_update.update(id(v) for v in variables)
        self._copy_into(copy, by_the_update=False, arrays=(weights, state))
        copy["built"] = bool(opt is not None and opt.built)
        copy["iterations"] = getattr(opt, "iterations", 0)
        self._kept.append(((epoch, batch), copy))
        return copy

    def _copy_into(
        self,
        copy: dict[str, Any],
        by_the_update: bool,
        arrays: tuple[list[Any], list[Any]] | None = None,
    ) -> None:
        """Copy the current values (`arrays`, if read already) into `copy`: those the step's
        update was asked to copy (`by_the_update`: after a step that ran none), or all the
        others (before the step)."""
        weights, state = arrays or self._arrays()
        asked = copy["in_update"]
        for w, buffer, a in zip(self.model.weights, copy["weights"], weights):
            if (id(w) in asked) == by_the_update:
                buffer[...] = a
        if bool(asked) == by_the_update:  # the update copies all the state, or none of it
            for buffer, a in zip(copy["state"], state):
                buffer[...] = a

    def confirm(self, epoch: int, batch: int) -> None:
        """Step (epoch, batch) had a finite loss: return to its start from now on."""
        steps = [step for step, _ in self._kept]
        older = steps.index((epoch, batch)) if (epoch, batch) in steps else len(steps)
        self._free += [copy for _, copy in self._kept[:older]]  # their buffers serve again
        del self._kept[:older]
        self.confirmed_at = (epoch, batch)

    def restore(self) -> tuple[int, int] | None:
        """Write back the last confirmed copy (or, if no step was confirmed, the first one
        kept); returns the (epoch, batch) it was saved at, None for the initial values."""
        if not self._kept:
            return None
        with get_backend(self.model.device).activate():
            self._write_back(self._kept[0][1])
        return self.confirmed_at

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
