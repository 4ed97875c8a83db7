"""`Model`: a layer that trains. ``compile`` then ``fit`` / ``evaluate`` / ``predict``, as Keras.

Subclass it and define ``call(inputs)`` (layers assigned in ``__init__`` are tracked), or use
`Sequential`. `fit` is a loop over batches calling `train_on_batch`'s step and the callbacks
(the progress bar and `History` are callbacks too). Bad input is rejected before any weight
changes.

On a GPU every read of a number waits for the device. So the loops read at most once per
step: the loss and the metrics' totals stay on the device and are read together; `fit`
shuffles the data on the device once per epoch and slices it, and the labels, checked once
before training, are not checked again by the loss (nor, in `fit`, the validation data at
each epoch). With no callback needing each batch's logs at once (the progress bar takes them
one step late: `Callback.late_batch_logs`), `fit` reads a step's numbers only after queueing
the next step, and `evaluate` reads once at the end.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import losses as _losses
from .. import metrics as _metrics
from .. import ops
from .._tensor import Tensor, bump_version
from ..autograd.engine import backward
from ..autograd.grad_mode import no_grad
from ..backends.registry import get_backend
from ..creation import tensor
from ..errors import ShapeError
from ..layers.layer import Layer, learning_phase
from ..ops.fused import check_labels, labels_checked
from ..ops.index import permute_rows
from ..optimizers.optimizer import Optimizer
from ..random import permutation
from .divergence import Divergence, Rollback, first_nonfinite


class Model(Layer):
    """A trainable stack or graph of layers with Keras's training API."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimizer: Any = None
        self.loss: Any = None
        self.compiled_metrics: list[_metrics.Metric] = []
        self.stop_training = False
        self.history: Any = None
        self.divergence: Divergence | None = None  # set by fit when the loss stops being finite

    # -- compile -----------------------------------------------------------------------------
    def compile(
        self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[Any] | None = None
    ) -> None:
        """Choose the optimizer, loss and metrics (names, objects or functions)."""
        from .. import optimizers

        if loss is None:
            raise ValueError(
                "compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'"
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = _losses.get(loss)
        self.compiled_metrics = [_metrics.get(m) for m in metrics or []]

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(
                f"{what}: the model must be compiled first; call model.compile("
                f"optimizer=..., loss=..., metrics=[...])"
            )

    def compute_loss(self, y: Tensor, y_pred: Tensor) -> Tensor:
        """The compiled loss of a batch, a 0-d tensor (per-sample losses are averaged)."""
        loss = self.loss(y, y_pred)
        return ops.mean(loss) if loss.ndim else loss

    # -- data --------------------------------------------------------------------------------
    def _as_tensor(self, data: Any) -> Tensor:
        if isinstance(data, Tensor):
            return data if data.backend.name == self.device else data.to(self.device)
        return tensor(data, device=self.device)

    def _check_data(self, x: Tensor, y: Tensor | None, what: str) -> None:
        if x.ndim == 0:
            raise ShapeError(f"{what}: x must have a batch axis. Received shape {x.shape}")
        if y is not None and (y.ndim == 0 or len(y) != len(x)):
            raise ValueError(
                f"{what}: x and y must have the same number of samples. Received "
                f"len(x)={len(x)}, len(y)={len(y) if y.ndim else 'a scalar'}"
            )

    def _check_inputs(self, x: Tensor, y: Tensor, what: str) -> bool:
        """A dry run on the first sample (shapes, loss) and, for integer labels, their range:
        bad data is rejected before any weight changes. True when the labels were checked
        (then the loss need not check them again at every step)."""
        if not len(x):
            return False
        try:
            with no_grad():
                out = self(x[:1], training=False)
                self.compute_loss(y[:1], out)
        except (ValueError, TypeError) as e:  # ShapeError and DTypeError included
            raise type(e)(f"{what}: {e}") from e
        sparse = isinstance(self.loss, _losses.SparseCategoricalCrossentropy) or (
            self.loss is _losses.sparse_categorical_crossentropy
        )
        if not (sparse and y.size):
            return False
        check_labels(y, out.shape[-1], what)
        return True

    def _callbacks(
        self, callbacks: Any, verbose: int | str, epochs: int, steps: int, history: bool
    ) -> Any:
        """The user's callbacks plus History (for fit) and the progress bar (unless verbose=0)."""
        from ..callbacks import CallbackList

        verbose = 1 if verbose == "auto" else int(verbose)
        return CallbackList(
            callbacks,
            model=self,
            add_history=history,
            add_progbar=verbose != 0,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )

    # -- one step ----------------------------------------------------------------------------
    def train_step(self, x: Tensor, y: Tensor) -> Tensor:
        """Forward, loss, gradients of the trainable weights, one optimizer update."""
        weights = self.trainable_weights
        token = learning_phase.set(True)
        try:
            y_pred = self(x)
            loss = self.compute_loss(y, y_pred)
        finally:
            learning_phase.reset(token)
        grads = backward([loss], inputs=weights)
        self.optimizer.apply(grads, weights)
        for m in self.compiled_metrics:
            m.update_state(y, y_pred)
        return loss

    def test_step(self, x: Tensor, y: Tensor) -> Tensor:
        """One batch of `evaluate`: the loss (0-d, no gradient); the metrics are updated."""
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(y, y_pred)
        for m in self.compiled_metrics:
            m.update_state(y, y_pred)
        return loss

    def train_on_batch(self, x: Any, y: Any) -> float | list[float]:
        """One update on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        x, y = self._as_tensor(x), self._as_tensor(y)
        self._check_data(x, y, "train_on_batch")
        for m in self.compiled_metrics:
            m.reset_state()
        loss = self.train_step(x, y)
        read = _read([_float64(loss), *self._metric_totals()])  # one transfer
        return [read[0], *self._metric_results(read[1:])] if self.compiled_metrics else read[0]

    def _zero(self) -> Tensor:
        """A float64 zero on the model's device, to sum losses and metrics into."""
        return tensor(0.0, "float64", device=self.device)

    def _metric_totals(self) -> list[Tensor]:
        """Each metric's running total, on the device (0 for a metric not updated yet)."""
        return [m.total if m.total is not None else self._zero() for m in self.compiled_metrics]

    def _metric_names(self) -> list[str]:
        return [m.name for m in self.compiled_metrics]

    def _metric_results(
        self, totals: Sequence[float], counts: Sequence[int] | None = None
    ) -> list[float]:
        """The metrics' means from totals read from the device (and their counts then)."""
        if counts is None:
            counts = [m.count for m in self.compiled_metrics]
        return [_metrics.result_of(t, c) for t, c in zip(totals, counts)]

    # -- loops -------------------------------------------------------------------------------
    def fit(
        self,
        x: Any,
        y: Any,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Any] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
    ) -> Any:
        """Train for `epochs` passes over (x, y) in batches; returns the `History`.

        If the loss stops being finite, training stops with the weights and optimizer state
        of the last step whose loss was finite, and `model.divergence` says where (see
        `ndgrad.models.divergence`). Unless a callback needs each batch's logs at once (the
        progress bar takes them one step late), a step's loss is read once the next step is
        queued, so the guard reacts one step later (and undoes that step too).
        """
        self._require_compiled("fit")
        _check_batch_size(batch_size, "fit")
        if epochs < 0:
            raise ValueError(f"fit: epochs must be >= 0. Received epochs={epochs}")
        x, y = self._as_tensor(x), self._as_tensor(y)
        self._check_data(x, y, "fit")
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(
                    f"fit: validation_split must be in (0, 1). Received {validation_split}"
                )
            cut = int(len(x) * (1.0 - validation_split))
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if validation_data is not None:
            vx, vy = (self._as_tensor(v) for v in validation_data)
            self._check_data(vx, vy, "fit (validation_data)")
            _check_finite(vx, vy, "fit (validation_data)")
            val_trusted = self._check_inputs(vx, vy, "fit (validation_data)")
            # A subclass's (or instance's) own `evaluate` runs the validation, as in Keras;
            # else `evaluate`'s loop, skipping the checks done above. Neither gets fit's
            # callbacks: they see no test hooks during fit.
            own_evaluate = getattr(self.evaluate, "__func__", None) is not Model.evaluate
            val_cbs = self._callbacks(None, 0, 1, 0, history=False)  # empty
        _check_finite(x, y, "fit")
        trusted = self._check_inputs(x, y, "fit")
        n = len(x)
        steps = math.ceil(n / batch_size)
        cbs = self._callbacks(callbacks, verbose, epochs, steps, history=True)
        hooks = ("on_train_batch_end", "on_batch_end")
        at_once = _listens(cbs, *hooks, at_once=True)  # a callback needs each step's logs now
        late = not at_once and _listens(cbs, *hooks)  # only callbacks that take them late
        self.stop_training = False
        self.divergence = None
        # The update copies what the guard keeps (in the same pass) when fit knows it runs
        # once per step: the stock train_step and the optimizer's own apply.
        own_update = (
            getattr(self.train_step, "__func__", None) is Model.train_step
            and getattr(self.optimizer.apply, "__func__", None) is Optimizer.apply
        )
        rollback = Rollback(self, in_update=own_update)
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for m in self.compiled_metrics:
                m.reset_state()
            cbs.on_epoch_begin(epoch)
            # Drawn on the device once per epoch; each batch gathers its rows of it.
            order = permutation(n, device=self.device) if shuffle else None
            total = self._zero()  # sum of loss * batch size so far, on the device
            pending = None  # the last step whose numbers are not read yet
            for step in range(steps):
                cbs.on_train_batch_begin(step)
                sl = slice(step * batch_size, min(n, (step + 1) * batch_size))
                if order is None:
                    xb, yb = x[sl], y[sl]
                else:
                    rows = order[sl]
                    xb, yb = permute_rows(x, rows), permute_rows(y, rows)
                with (
                    rollback.saving(epoch, step),
                    labels_checked() if trusted else contextlib.nullcontext(),
                ):
                    loss = _float64(self.train_step(xb, yb))
                total = total + loss * (sl.stop - sl.start)
                numbers = [loss, total, *self._metric_totals()]
                counts = [m.count for m in self.compiled_metrics]
                done = _Step(epoch, step, sl.stop, numbers, counts)
                if at_once:  # a callback reads this batch's logs: read them now
                    logs = self._read_step(done, rollback, cbs)
                else:  # read the step before, while this one runs on the device
                    if pending is not None:
                        self._read_step(pending, rollback, cbs if late else None)
                    pending = done
                if self.stop_training:
                    break
            if pending is not None and self.divergence is None:
                logs = self._read_step(pending, rollback, cbs if late else None)
            if self.divergence is not None:
                break  # the diverged epoch is not finished: no epoch end, no validation
            epoch_logs = dict(logs) if steps else {}
            if validation_data is not None:  # checked above: not again each epoch
                if own_evaluate:
                    val = self.evaluate(vx, vy, batch_size=batch_size, verbose=0, return_dict=True)
                else:
                    val = self._evaluate(vx, vy, batch_size, val_cbs, val_trusted)
                epoch_logs.update((f"val_{k}", v) for k, v in val.items())
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        if self.history is not None:
            self.history.divergence = self.divergence
        cbs.on_train_end()
        return self.history

    def _read_step(self, done: _Step, rollback: Rollback, cbs: Any) -> dict[str, float]:
        """Read a step's numbers (one transfer), confirm its loss is finite or undo the
        divergence, and return the logs: the running loss and metrics up to that step. Given
        `cbs`, hand them the logs (`on_train_batch_end`) first."""
        loss, total, *totals = _read(done.numbers)
        if math.isfinite(loss):
            rollback.confirm(done.epoch, done.step)
        else:
            self._diverged(done.epoch, done.step, loss, rollback)
        logs = {"loss": total / done.seen}  # the mean over the samples seen, as Keras
        logs.update(zip(self._metric_names(), self._metric_results(totals, done.counts)))
        if cbs is not None:
            cbs.on_train_batch_end(done.step, logs)
        return logs

    def _diverged(self, epoch: int, step: int, loss: float, rollback: Rollback) -> None:
        """The loss of (epoch, step) is not finite: restore the last finite step, stop, say so."""
        restored_to = rollback.restore()
        self.divergence = Divergence(epoch, step, loss, restored_to)
        self.stop_training = True
        warnings.warn(self.divergence.message(), RuntimeWarning, stacklevel=4)

    def evaluate(
        self,
        x: Any,
        y: Any,
        batch_size: int = 32,
        verbose: int | str = "auto",
        return_dict: bool = False,
        callbacks: Sequence[Any] | None = None,
    ) -> Any:
        """Loss and metrics over (x, y): ``[loss, *metrics]``, or the loss alone without metrics."""
        self._require_compiled("evaluate")
        _check_batch_size(batch_size, "evaluate")
        x, y = self._as_tensor(x), self._as_tensor(y)
        self._check_data(x, y, "evaluate")
        trusted = self._check_inputs(x, y, "evaluate")
        steps = math.ceil(len(x) / batch_size)
        cbs = self._callbacks(callbacks, verbose, 1, steps, history=False)
        result = self._evaluate(x, y, batch_size, cbs, trusted)
        if return_dict:
            return result
        return list(result.values()) if self.compiled_metrics else result["loss"]

    def _evaluate(
        self, x: Tensor, y: Tensor, batch_size: int, cbs: Any, trusted: bool
    ) -> dict[str, float]:
        """`evaluate`'s loop over data already converted and checked (`trusted`: its labels
        too, so the loss reads nothing to check them): the loss and metrics by name. `fit`
        runs its validation through here, having checked the validation data once."""
        for m in self.compiled_metrics:
            m.reset_state()
        n = len(x)
        steps = math.ceil(n / batch_size)
        each_batch = _listens(cbs, "on_test_batch_end")
        cbs.on_test_begin()
        total = self._zero()  # sum of loss * batch size so far, on the device
        for step in range(steps):
            cbs.on_test_batch_begin(step)
            sl = slice(step * batch_size, min(n, (step + 1) * batch_size))
            with labels_checked() if trusted else contextlib.nullcontext():
                loss = _float64(self.test_step(x[sl], y[sl]))
            total = total + loss * (sl.stop - sl.start)
            if each_batch:  # a callback reads each batch's logs: one transfer per batch
                seen, *totals = _read([total, *self._metric_totals()])
                logs = {"loss": seen / sl.stop}
                logs.update(zip(self._metric_names(), self._metric_results(totals)))
                cbs.on_test_batch_end(step, logs)
        summed, *totals = _read([total, *self._metric_totals()])  # one transfer
        result = {"loss": summed / n if n else float("nan")}
        result.update(zip(self._metric_names(), self._metric_results(totals)))
        cbs.on_test_end(result)
        return result

    def predict(
        self,
        x: Any,
        batch_size: int = 32,
        verbose: int | str = 0,
        callbacks: Sequence[Any] | None = None,
    ) -> Tensor:
        """The model's outputs for x, computed in batches without recording gradients; with
        `verbose` 1 or 2 a progress bar or line, as `evaluate`."""
        _check_batch_size(batch_size, "predict")
        x = self._as_tensor(x)
        steps = math.ceil(len(x) / batch_size)
        cbs = self._callbacks(callbacks, verbose, 1, steps, history=False)
        cbs.on_predict_begin()
        outs = []
        with no_grad():
            for step in range(steps):
                cbs.on_predict_batch_begin(step)
                batch = x[step * batch_size : (step + 1) * batch_size]
                outs.append(self(batch, training=False))
                cbs.on_predict_batch_end(step, {"outputs": outs[-1]})
        cbs.on_predict_end()
        return ops.concatenate(outs, axis=0) if outs else self(x)

    # -- weights, devices, summary -----------------------------------------------------------
    def get_weights(self) -> list[Any]:
        """Every weight as a NumPy array, in a fixed order."""
        return [w.numpy().copy() for w in self.weights]

    def set_weights(self, arrays: Sequence[Any]) -> None:
        """Replace every weight (same order and shapes as get_weights)."""
        weights = self.weights
        if len(arrays) != len(weights):
            raise ValueError(
                f"set_weights: the model has {len(weights)} weights, received {len(arrays)}"
            )
        new = [tensor(a, dtype=w.dtype, device=w.backend) for a, w in zip(arrays, weights)]
        for w, a in zip(weights, new):
            if a.shape != w.shape:
                raise ShapeError(
                    f"set_weights: a weight of shape {w.shape} got an array of shape {a.shape}"
                )
        for w, a in zip(weights, new):
            w.data = a.data
            bump_version(w)

    def to(self, device: str) -> Model:
        """Move weights and optimizer state to `device`; later batches go there too."""
        super().to(device)
        if self.optimizer is not None and hasattr(self.optimizer, "to"):
            self.optimizer.to(get_backend(device).name)
        return self

    def save_weights(self, path: str) -> None:
        """Write the weights to `path` (.safetensors or .npz), atomically."""
        from ..saving import save_weights

        save_weights(self, path)

    def load_weights(self, path: str) -> None:
        """Read weights written by `save_weights` (names and shapes are checked)."""
        from ..saving import load_weights

        load_weights(self, path)

    def save(self, path: str) -> None:
        """Write architecture (JSON) and weights to one `.ndgrad` file, atomically."""
        from ..saving import save_model

        save_model(self, path)

    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        """Print each layer's output shape and parameter count, and the totals."""
        rows = self._summary_rows()
        width = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "-" * sum(width)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for i, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, width)).rstrip())
            if i == 0:
                print_fn("=" * sum(width))
        print_fn(line)
        total = self.count_params()
        trainable = sum(w.size for w in self.trainable_weights)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    def _summary_rows(self) -> list[tuple[str, str, str]]:
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.sublayers():
            shape = getattr(layer, "_output_shape", None)
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    "?" if shape is None else str(shape),
                    f"{layer.count_params():,}",
                )
            )
        return rows


def _check_finite(x: Tensor, y: Tensor, what: str) -> None:
    """Refuse NaN or ±inf in the inputs or targets, naming the first bad sample."""
    for name, data in (("x", x), ("y", y)):
        bad = first_nonfinite(data)
        if bad is not None:
            raise ValueError(
                f"{what}: {name} holds NaN or infinite values; the first is in sample {bad} "
                f"({name}[{bad}]). Training on them would make every weight NaN: remove or "
                "replace those samples first"
            )


@dataclass(frozen=True)
class _Step:
    """A training step queued on the device, and what reading it needs: its `numbers` (0-d
    float64 Tensors: its loss, the running loss sum, each metric's total, not read yet), the
    samples `seen` in the epoch so far and each metric's `counts` then."""

    epoch: int
    step: int
    seen: int
    numbers: list[Tensor]
    counts: list[int]


def _float64(loss: Tensor) -> Tensor:
    """A one-element loss as a 0-d float64 tensor outside the graph: sums of losses are then
    made as they were with Python floats."""
    with no_grad():
        return ops.reshape(loss, ()).astype("float64")


def _read(values: Sequence[Tensor]) -> list[float]:
    """0-d tensors of one device as Python floats, in one transfer (one wait for a GPU)."""
    backend = values[0].backend
    with backend.activate():
        return backend.to_numpy(backend.xp.stack([v.data for v in values])).tolist()


def _listens(callbacks: Any, *hooks: str, at_once: bool = False) -> bool:
    """Whether a callback has code of its own for one of `hooks` (its class overrides it, or
    a function was set on it, as `LambdaCallback` does): only then are batch logs read.
    With `at_once`, callbacks that take their batch logs late (`late_batch_logs`) do not
    count."""
    from ..callbacks import Callback

    return any(
        (hook in vars(c) or getattr(type(c), hook, None) is not getattr(Callback, hook))
        and not (at_once and getattr(c, "late_batch_logs", False))
        for c in callbacks
        for hook in hooks
    )


def _check_batch_size(batch_size: int, what: str) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{what}: batch_size must be a positive integer. Received {batch_size!r}")
