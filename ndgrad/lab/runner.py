"""One run of a sweep: build a model for a cell's config, train it, report every epoch.

`build(config)` returns a compiled `Model`; the runner fits it on the data and reports each
epoch's logs. Or `build(config, report)` trains by itself and calls ``report(epoch, metrics)``
after each epoch (epochs count from 1). Either way the cell's random state comes from the
sweep's seed and the cell alone, and a run whose loss stops being finite or explodes (grows
past `explode` times its first batch's) is stopped and reported diverged.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..callbacks import Callback
from .events import Ended, EpochEnded, OnEvent, RunOptions, Started, Status
from .grid import Cell

Report = Callable[[int, Mapping[str, float]], None]


@dataclass(frozen=True)
class Data:
    """Training and validation arrays (NumPy or anything `ndgrad.tensor` takes), and an
    optional held-out test split that selection never sees: each finished run is evaluated on
    it once, after training, and the lab reports it for the chosen configuration only."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any = None
    y_test: Any = None

    @property
    def has_test(self) -> bool:
        """Is there a held-out test set (both `x_test` and `y_test`)?"""
        return self.x_test is not None and self.y_test is not None


@dataclass(frozen=True)
class Outcome:
    """How a run ended: "done" or "diverged" (with the epoch it diverged in, from 1)."""

    status: str
    diverged_epoch: int | None = None
    seconds: float = 0.0
    test: Mapping[str, float] = field(default_factory=dict)  # held-out metrics, if any


class Diverged(Exception):
    """Raised by a self-training `build` (or its `report`) to say the run diverged."""

    def __init__(self, epoch: int, reason: str = "") -> None:
        super().__init__(f"diverged in epoch {epoch}" + (f": {reason}" if reason else ""))
        self.epoch = epoch


def trains_itself(build: Callable[..., Any]) -> bool:
    """True when `build` takes a `report` argument (it trains; the runner does not fit)."""
    try:
        return "report" in inspect.signature(build).parameters
    except (TypeError, ValueError):
        return False


def run_cell(
    build: Callable[..., Any],
    cell: Cell,
    data: Data | None,
    report: Report,
    *,
    sweep_seed: int = 0,
    epochs: int = 1,
    batch_size: int = 32,
    explode: float | None = 100.0,
    tensorboard: str | None = None,
    threads: int | None = None,
    models: str | None = None,
    device: str | None = None,
) -> Outcome:
    """Train `cell` and report its epochs; returns how it ended. Exceptions propagate.

    `tensorboard`: a folder; the run writes TensorBoard event files in a subfolder named
    after the cell (models that `build` returns only). `threads`: BLAS and kernel threads
    for this run; a cell's metrics are bit-identical for the same thread count on the same
    kind of CPU, whatever the machine, worker or order of runs (another CPU model may pick
    other BLAS kernels, which round differently). `models`: a folder; a run that ends done saves its
    final model there as ``<cell key>.ndgrad``. A run that ends done is then evaluated on
    the data's test split, if it has one (``Outcome.test``). `device`: the default device
    while the run builds and trains (``"cuda:1"``: a GPU of its own), None for the CPU.
    """
    import ndgrad

    with ndgrad.device(device) if device is not None else contextlib.nullcontext():
        return _run_cell(build, cell, data, report, sweep_seed, epochs, batch_size, explode,
                         tensorboard, threads, models)


def _run_cell(
    build: Callable[..., Any],
    cell: Cell,
    data: Data | None,
    report: Report,
    sweep_seed: int,
    epochs: int,
    batch_size: int,
    explode: float | None,
    tensorboard: str | None,
    threads: int | None,
    models: str | None,
) -> Outcome:
    """`run_cell`'s body, on the default device it chose."""
    import ndgrad

    start = time.perf_counter()
    if threads:
        ndgrad.set_num_threads(threads)
    ndgrad.manual_seed(cell.random_seed(sweep_seed))
    if trains_itself(build):
        watch = _Watch(explode)

        def checked(epoch: int, metrics: Mapping[str, float]) -> None:
            watch.check_epoch(epoch, metrics)
            report(epoch, dict(metrics))

        try:
            build(dict(cell.config), report=checked)
        except Diverged as e:
            return Outcome("diverged", e.epoch, time.perf_counter() - start)
        return Outcome("done", None, time.perf_counter() - start)
    if data is None:
        raise ValueError("run_cell: a build that returns a model needs data to fit it on")
    model = build(dict(cell.config))
    if getattr(model, "optimizer", None) is None:
        raise TypeError(
            f"build({cell.config}) must return a compiled ndgrad Model (or take a `report` "
            f"argument and train by itself). Received {type(model).__name__}"
        )
    callbacks: list[Any] = [_LabCallback(report, explode)]
    if tensorboard:
        from ..callbacks import TensorBoard

        name = cell.label().replace(" ", "_")
        callbacks.append(TensorBoard(os.path.join(tensorboard, name), hparams=dict(cell.config)))
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        validation_data=(data.x_val, data.y_val),
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    lab = callbacks[0]
    if model.divergence is not None:
        return Outcome("diverged", model.divergence.epoch + 1, seconds)
    if lab.exploded_in is not None:
        return Outcome("diverged", lab.exploded_in, seconds)
    test: dict[str, float] = {}
    if data.has_test:
        scores = model.evaluate(data.x_test, data.y_test, batch_size=max(batch_size, 256),
                                verbose=0, return_dict=True)
        test = {k: float(v) for k, v in scores.items()}
    if models:
        os.makedirs(models, exist_ok=True)
        model.save(os.path.join(models, f"{cell.key}.ndgrad"))
    return Outcome("done", None, seconds, test)


def execute(
    cell: Cell,
    build: Callable[..., Any],
    data: Data | None,
    options: RunOptions,
    emit: OnEvent,
    node: str | None = None,
) -> None:
    """Run one cell where this is called, sending its events through `emit`."""
    emit(Started(cell.key, socket.gethostname(), time.time(), options.threads, node))
    try:
        outcome = run_cell(
            build, cell, data, lambda epoch, m: emit(EpochEnded(cell.key, epoch, dict(m))),
            **options.as_kwargs(),
        )
    except Exception as e:  # a failing run is recorded; the sweep goes on
        error = "".join(traceback.format_exception(e)).strip()
        emit(Ended(cell.key, Status.FAILED, None, error, time.time()))
        return
    emit(Ended(cell.key, Status(outcome.status), outcome.diverged_epoch, None, time.time(),
               dict(outcome.test)))


class _Watch:
    """Divergence by the numbers: a non-finite loss, or one past `explode` x the first."""

    def __init__(self, explode: float | None) -> None:
        self.explode = explode
        self.first: float | None = None

    def diverged(self, loss: float) -> bool:
        if not math.isfinite(loss):
            return True
        if self.first is None:
            self.first = abs(loss)
            return False
        return self.explode is not None and loss > self.explode * max(self.first, 1e-12)

    def check_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        loss = metrics.get("loss")
        if loss is not None and self.diverged(float(loss)):
            raise Diverged(epoch, f"loss {loss}")


class _LabCallback(Callback):
    """Reports each finished epoch (from 1) with its seconds; stops a run that explodes."""

    def __init__(self, report: Report, explode: float | None) -> None:
        super().__init__()
        self.report = report
        self.watch = _Watch(explode)
        self.exploded_in: int | None = None
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        # non-finite losses are fit's own business (it restores and stops); this catches
        # losses that are finite but have blown up
        if loss is not None and math.isfinite(loss) and self.watch.diverged(loss):
            self.exploded_in = self._epoch + 1
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.exploded_in is not None:
            return
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["seconds"] = time.perf_counter() - self._epoch_start
        self.report(epoch + 1, metrics)
