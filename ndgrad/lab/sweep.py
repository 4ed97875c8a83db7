"""`sweep`: train every cell of a grid, store what happens, and return the results.

The driver states the cost, hands the cells still to run to an executor, writes each event it
streams back to the store (the only writer), shows progress, and exports ``results.csv``.
Re-running the same sweep with the same output folder skips finished cells and re-runs those
an earlier driver left running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import math
import os
import platform
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .events import Ended, EpochEnded, Event, Requeued, RunOptions, Started, Status
from .executors import Executor, LocalExecutor
from .grid import Cell, Config, cells, grid
from .lock import DriverLock
from .progress import Progress
from .results import SweepResult
from .runner import Data, execute
from .store import CSV_NAME, DB_NAME, MODELS_DIR, Store

__all__ = ["CSV_NAME", "DB_NAME", "SweepInterrupted", "fingerprint", "sweep", "verify"]


class SweepInterrupted(KeyboardInterrupt):
    """The sweep stopped on Ctrl-C (or SIGTERM): what ended is stored, the runs that were
    cut short are queued again, and the same call resumes."""

    def __init__(self, finished: int, left: int) -> None:
        super().__init__(f"sweep interrupted: {finished} done, {left} left")
        self.finished, self.left = finished, left


@contextlib.contextmanager
def _interrupts(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C (or SIGTERM) sets `stop`; a second Ctrl-C raises KeyboardInterrupt.
    Only the main thread can take signals: elsewhere KeyboardInterrupt behaves as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the second one is firm

    saved = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def fingerprint(data: Data | None) -> str | None:
    """A short hash of the data's shapes, dtypes and bytes: the same data, the same cells."""
    if data is None:
        return None
    import numpy as np

    h = hashlib.blake2b(digest_size=8)
    for a in (data.x_train, data.y_train, data.x_val, data.y_val):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(a.data.cast("B"))
    return h.hexdigest()


def _qualname(build: Callable[..., Any]) -> str:
    """What `build` is, stably across processes: a function's dotted name, or an object's
    class and (when the class defines one) its repr."""
    if inspect.isfunction(build) or inspect.ismethod(build):
        return f"{build.__module__}.{build.__qualname__}"
    kind = type(build)
    name = f"{kind.__module__}.{kind.__qualname__}"
    return f"{name}:{build!r}" if kind.__repr__ is not object.__repr__ else name


def sweep(
    build: Callable[..., Any],
    space: Mapping[str, Sequence[Any]] | Sequence[Config],
    *,
    seeds: int | Sequence[int] = 1,
    data: Data | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    executor: Executor | None = None,
    store: str | Path = "lab",
    sweep_seed: int = 0,
    explode: float | None = 100.0,
    retry_failed: bool = False,
    tensorboard: bool = False,
    settings: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    stream: TextIO | None = None,
    search: str = "grid",
    trials: int | None = None,
    wave: int = 4,
    prune: str = "none",
    eta: int = 3,
    metric: str = "val_accuracy",
    save_models: str = "best",
) -> SweepResult:
    """Train `build`'s model for every config of `space` (a grid ``{name: [values]}`` or a
    list of configs) with every seed; returns the `SweepResult`.

    `build(config)` returns a compiled Model, fitted on `data` for `epochs`; or
    `build(config, report)` trains by itself and calls ``report(epoch, metrics)``. Results go
    to the folder `store` (SQLite ``lab.sqlite`` and ``results.csv``); a second call with the
    same folder resumes. `executor`: `LocalExecutor()` (default) or `RayExecutor(...)`.
    `progress`: a live table on a terminal, plain lines otherwise (None), or nothing (False).

    `search="tpe"` asks Optuna's TPE sampler for `trials` configs within the ranges of
    `space`, `wave` at a time; `prune="halving"` stops the configs that trail at each rung of
    successive halving (`eta`); both rank by `metric` (see `ndgrad.lab.search`). When `data`
    has a test split, each run that ends done is evaluated on it (reported for the chosen
    configuration only). `save_models`: "best" keeps the final models of the best
    configuration's runs in ``store/models`` once the sweep is complete, "all" every run's,
    "none" none.

    One driver per folder: a second `sweep` on a folder in use raises `lock.StoreBusy`. The
    first Ctrl-C (or SIGTERM) stops starting runs, ends the running ones, queues them again
    and raises `SweepInterrupted`; the same call then resumes.
    """
    from . import search as plans
    from .metric import lower_is_better

    if search not in plans.SEARCHES:
        raise ValueError(f"sweep: search must be one of {', '.join(plans.SEARCHES)}. "
                         f"Received {search!r}")
    if prune not in plans.PRUNERS:
        raise ValueError(f"sweep: prune must be one of {', '.join(plans.PRUNERS)}. "
                         f"Received {prune!r}")
    if save_models not in ("best", "all", "none"):
        raise ValueError(f"sweep: save_models must be best, all or none. Received {save_models!r}")
    if search == "tpe":
        if not isinstance(space, Mapping):
            raise ValueError("sweep: search='tpe' needs a space {name: [values]} to search in")
        if not trials or trials < 1:
            raise ValueError(f"sweep: search='tpe' needs trials >= 1. Received {trials!r}")
        grid(space)  # checks the space
        configs: list[Config] = []
    else:
        configs = grid(space) if isinstance(space, Mapping) else [dict(c) for c in space]
        if not configs:
            raise ValueError("sweep: no configs to run")
    if epochs < 1:
        raise ValueError(f"sweep: epochs must be >= 1. Received {epochs}")
    all_cells = cells(configs, seeds) if configs else []
    if len({c.key for c in all_cells}) != len(all_cells):
        raise ValueError("sweep: the same config and seed appear twice")
    n_seeds = len(cells([{}], seeds))
    executor = executor or LocalExecutor()
    stream = stream or sys.stdout
    out = Path(store)
    claimed = {
        "build": _qualname(build),
        "data": fingerprint(data),
        "epochs": epochs,
        "batch_size": batch_size,
        "sweep_seed": sweep_seed,
        "explode": explode,
        **(settings or {}),
    }
    if getattr(executor, "devices", None):  # on GPUs: verify compares with a tolerance
        claimed["device"] = "cuda"
    if search != "grid":  # only when used: stores of earlier versions resume as they were
        claimed.update(search=search, trials=trials, wave=wave, space=_jsonable(space))
    if prune != "none":
        claimed.update(prune=prune, eta=eta, prune_metric=metric)
    options = RunOptions(
        sweep_seed=sweep_seed, epochs=epochs, batch_size=batch_size, explode=explode,
        tensorboard=str(out / "tensorboard") if tensorboard else None,
        models=None if save_models == "none" else str(out / MODELS_DIR),
    )
    say = (lambda text: print(text, file=stream, flush=True)) if progress is not False else (
        lambda text: None
    )
    stop = threading.Event()
    with DriverLock(out), Store(out / DB_NAME) as db:
        db.claim(claimed)
        ran_on = {**machine(), "load_at_start": _load()}
        db.note_machine(ran_on)
        if all_cells:
            db.add(all_cells)

        def lookup() -> dict[str, tuple[Status, dict]]:
            metrics = db.metrics()
            return {k: (s, metrics.get(k, {})) for k, s in db.statuses().items()}

        worse_first = lower_is_better(metric)
        if search == "tpe":
            stages = plans.tpe(space, trials or 0, wave, sweep_seed, seeds, epochs, metric,  # type: ignore[arg-type]
                               worse_first, lookup, db.stop, prune, eta)
            what = (f"sweep: TPE search, {trials} trial(s) in waves of {wave} x {n_seeds} "
                    f"seed(s), up to {epochs} epoch(s) each")
        elif prune == "halving":
            stages = plans.halving(configs, seeds, epochs, eta, metric, worse_first, lookup,
                                   db.stop)
            what = (f"sweep: {len(configs)} config(s) x {n_seeds} seed(s) = {len(all_cells)} "
                    f"runs of up to {epochs} epoch(s)")
        else:
            stages = iter([plans.Stage(all_cells, epochs)])
            what = (f"sweep: {len(configs)} config(s) x {n_seeds} seed(s) = {len(all_cells)} "
                    f"runs of {epochs} epoch(s)")
        single = search == "grid" and prune == "none"
        if prune == "halving":
            at = ", ".join(map(str, plans.rungs(epochs, eta)))
            what += f", successive halving at epochs {at} keeping 1/{eta} by {metric}"
        if not single:
            say(what + f", on {executor.describe()}")
        try:
            for stage in stages:
                db.add(stage.cells)
                todo = _todo(db, stage, retry_failed)
                finished = len(stage.cells) - len(todo)
                done_part = f"; {finished} already finished in {out}" if finished else ""
                if single:
                    say(f"{what}{done_part}; {len(todo)} to run ({len(todo) * epochs} epochs) "
                        f"on {executor.describe()}")
                elif todo:
                    say(f"{stage.label}: {len(todo)} to run ({len(todo) * stage.epochs} epochs)"
                        + done_part)
                if todo:
                    _run_stage(db, executor, todo, build, data,
                               options.with_epochs(stage.epochs), stage, stop, stream, progress)
                if stop.is_set():
                    break
        finally:  # however the stages ended: the CSV says what the store holds
            db.export_csv(out / CSV_NAME)
        db.note_machine({**ran_on, "load_at_end": _load()})
        statuses = db.statuses()
        if stop.is_set():
            ended = sum(s.ended for s in statuses.values())
            left = len(statuses) - ended
            say(f"sweep interrupted: {ended} done, {left} left; run the same command to resume")
            raise SweepInterrupted(ended, left)
    result = SweepResult.load(out)
    if save_models == "best" and all(s.ended for s in statuses.values()):
        _keep_best_models(result, metric)
    counts = result.counts()
    say(
        "sweep finished: "
        + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        + f". Results: {out / DB_NAME}, {out / CSV_NAME}"
    )
    return result


def machine() -> dict[str, Any]:
    """This machine's CPU model and processor count: what decides how BLAS rounds."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "processors": os.cpu_count()}


def _load() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _jsonable(space: Any) -> Any:
    return {k: list(v) for k, v in space.items()} if isinstance(space, Mapping) else None


def _todo(db: Store, stage: Any, retry_failed: bool) -> list[Cell]:
    """The stage's cells still to bring to its epochs: queued or running ones, failed ones
    with `retry_failed`, and finished ones continuing past an earlier rung."""
    statuses, reached_epochs = db.statuses(), db.epochs_reached()
    todo = []
    for c in stage.cells:
        status = statuses.get(c.key, Status.QUEUED)
        reached = reached_epochs.get(c.key, 0) >= stage.epochs
        if status in (Status.QUEUED, Status.RUNNING):
            todo.append(c)
        elif status == Status.FAILED:
            if retry_failed:
                todo.append(c)
        elif status == Status.DONE and not reached:
            todo.append(c)  # continues to this rung
    return todo


def _run_stage(db: Store, executor: Executor, todo: list[Cell], build: Callable[..., Any],
               data: Data | None, options: RunOptions, stage: Any, stop: threading.Event,
               stream: TextIO, progress: bool | None) -> None:
    shown = None
    if progress is not False:
        shown = Progress(todo, {c.key: Status.QUEUED for c in todo}, options.epochs,
                         executor.workers, stream, live=progress)

    def on_event(event: Event) -> None:
        if isinstance(event, Started):
            db.start(event.key, host=event.host, started=event.time, threads=event.threads,
                     node=event.node, keep_metrics=event.key in stage.continuing)
        elif isinstance(event, EpochEnded):
            db.record(event.key, event.epoch, event.metrics)
        elif isinstance(event, Requeued):
            db.requeue(event.key, event.reason, keep_metrics=event.key in stage.continuing)
        elif isinstance(event, Ended):
            db.finish(event.key, event.status, error=event.error,
                      diverged_epoch=event.diverged_epoch, ended=event.time, test=event.test)
        if shown is not None:
            shown.update(event)

    try:
        with _interrupts(stop):
            try:
                executor.run(todo, build, data, options, on_event, stop)
            except KeyboardInterrupt:
                stop.set()
    finally:
        if shown is not None:
            shown.close()
        if stop.is_set():  # runs cut short go back to the queue, as if never started
            for key, status in db.statuses().items():
                if status == Status.RUNNING:
                    db.requeue(key, "interrupted", keep_metrics=key in stage.continuing)


def _keep_best_models(result: SweepResult, metric: str) -> None:
    """Once the sweep is complete: keep the models of the best configuration's runs only."""
    folder = result.out / MODELS_DIR
    if not folder.is_dir():
        return
    try:
        best = result.best(metric)
    except ValueError:  # no run reported the metric: nothing to choose by
        return
    keep = {Cell(best.config, seed).key for seed in best.seeds}
    for path in folder.glob("*.ndgrad"):
        if path.stem not in keep:
            path.unlink()


#: verify's tolerance for sweeps run on GPUs (relative and absolute, per metric and weight):
#: their runs are not bit-identical (docs/lab.md says which operations and why)
GPU_TOLERANCE = 1e-3


def same_value(x: float | None, y: float | None, tolerance: float = 0.0) -> bool:
    """Whether a stored metric `x` and its re-run's `y` agree: equal (NaN equals NaN), or,
    with a `tolerance`, within it relatively or absolutely.

    >>> same_value(0.5, 0.5004), same_value(0.5, 0.5004, GPU_TOLERANCE)
    (False, True)
    """
    if x == y or (x is not None and y is not None and math.isnan(x) and math.isnan(y)):
        return True
    return (
        tolerance > 0
        and x is not None
        and y is not None
        and math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)
    )


def _model_differences(stored: Path, fresh: Path, tolerance: float = 0.0) -> list[str]:
    """The weights of a kept model against those of its re-run (nothing when none was kept)."""
    if not stored.exists():
        return []
    if not fresh.exists():
        return [f"model: {stored} is kept, but the re-run saved no model"]
    import numpy as np

    from ..saving import load_model

    a, b = load_model(str(stored)).get_weights(), load_model(str(fresh)).get_weights()
    if len(a) != len(b):
        return [f"model: {len(a)} weight arrays stored, {len(b)} now"]
    def same(x: Any, y: Any) -> bool:
        if not tolerance:
            return bool(np.array_equal(x, y))
        return x.shape == y.shape and bool(np.allclose(x, y, rtol=tolerance, atol=tolerance))

    return [f"model: weight array {i} differs from {stored}"
            for i, (x, y) in enumerate(zip(a, b)) if not same(x, y)]


def tolerance_for(settings: dict[str, Any]) -> float:
    """How far `verify` lets a rerun's numbers differ from a sweep run with these settings:
    GPU_TOLERANCE (relative or absolute) for a sweep on GPUs, 0 (bit for bit) on CPUs."""
    return GPU_TOLERANCE if settings.get("device") == "cuda" else 0.0


def verify(
    out: str | Path,
    cell_key: str,
    build: Callable[..., Any],
    data: Data | None,
    stream: TextIO | None = None,
) -> list[str]:
    """Re-run one stored cell here and compare its metrics (and its kept model's weights, if
    any) with the stored ones; returns the differences (empty when all are identical, or for
    a sweep run on GPUs, when all agree within `GPU_TOLERANCE`)."""
    stream = stream or sys.stdout
    out = Path(out)
    with Store(out / DB_NAME, readonly=True) as db:
        settings = db.settings() or {}
        runs = {r["cell"]: r for r in db.runs()}
        matches = [k for k in runs if k.startswith(cell_key)]
        if len(matches) != 1:
            known = ", ".join(sorted(runs)[:5])
            raise ValueError(
                f"verify: {'no' if not matches else 'more than one'} cell in {out} starts with "
                f"{cell_key!r}. Known cells: {known or 'none'}{', ...' if len(runs) > 5 else ''}"
            )
        run = runs[matches[0]]
        stored = db.metrics(run["cell"]).get(run["cell"], {})
        ran_on = db.machine()
    here = machine()
    if ran_on is not None and ran_on.get("cpu") != here["cpu"]:
        print(f"verify: note: the sweep ran on a {ran_on.get('cpu')}, this is a {here['cpu']}: "
              "BLAS may round differently here", file=stream, flush=True)
    if not run["status"].finished:
        raise ValueError(f"verify: cell {run['cell']} is {run['status']}, not finished")
    stopped = run["status"] == Status.STOPPED  # early stopping ended it: re-run that far
    cell = Cell(run["config"], run["seed"])
    if settings.get("data") != fingerprint(data):
        raise ValueError("verify: the data differ from the data the sweep was run on")
    tolerance = tolerance_for(settings)
    fresh: dict[int, dict[str, float]] = {}
    known_options = ("sweep_seed", "epochs", "batch_size", "explode")
    options = RunOptions(
        **{k: settings[k] for k in known_options if k in settings},
        threads=run["threads"],  # the same BLAS threads: the same rounding
    )
    if stopped:
        options = options.with_epochs(max(stored))
    if tolerance:
        import ndgrad

        on_gpu = ndgrad.cuda.is_available()
        if on_gpu:
            options = options.with_device("cuda:0")
        print(f"verify: the sweep ran on GPUs, whose runs are not bit-identical: re-running on "
              f"{'cuda:0' if on_gpu else 'the CPU (no GPU here)'}, metrics and weights compared "
              f"within {tolerance:g} (relative or absolute)", file=stream, flush=True)
    ended: list[Ended] = []

    def collect(event: Event) -> None:
        if isinstance(event, EpochEnded):
            fresh[event.epoch] = dict(event.metrics)
        elif isinstance(event, Ended):
            ended.append(event)

    print(f"verify: re-running {cell.label()} ({cell.key})", file=stream, flush=True)
    stored_model = out / MODELS_DIR / f"{cell.key}.ndgrad"
    with tempfile.TemporaryDirectory() as scratch:
        if stored_model.exists():  # the re-run saves its model too, to compare weights
            options = dataclasses.replace(options, models=scratch)
        execute(cell, build, data, options, collect)
        differences = _model_differences(
            stored_model, Path(scratch) / stored_model.name, tolerance
        )
    now = ended[0]
    expected = Status.DONE if stopped else run["status"]
    if now.status != expected or now.diverged_epoch != run["diverged_epoch"]:
        differences.append(
            f"status: stored {run['status']} (diverged {run['diverged_epoch']}), "
            f"now {now.status} (diverged {now.diverged_epoch})"
            + (f": {now.error.splitlines()[-1]}" if now.error else "")
        )
    for epoch in sorted(set(stored) | set(fresh)):
        a, b = stored.get(epoch, {}), fresh.get(epoch, {})
        for name in sorted(set(a) | set(b)):
            if name == "seconds":
                continue  # wall time differs by nature
            x, y = a.get(name), b.get(name)
            if not same_value(x, y, tolerance):
                differences.append(f"epoch {epoch} {name}: stored {x}, now {y}")
    return differences
