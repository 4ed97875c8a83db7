"""`sweep`: train every cell of a grid, store what happens, and return the results.

The driver states the cost, hands the cells still to run to an executor, writes each event it
streams back to the store (the only writer), shows progress, and exports ``results.csv``.
Re-running the same sweep with the same output folder skips finished cells and re-runs those
an earlier driver left running.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import store as _store
from .executors import Executor, LocalExecutor, execute
from .grid import Cell, Config, cells, grid
from .progress import Progress
from .results import SweepResult
from .runner import Data

DB_NAME = "lab.sqlite"
CSV_NAME = "results.csv"


def fingerprint(data: Data | None) -> str | None:
    """A short hash of the data's shapes, dtypes and bytes: the same data, the same cells."""
    if data is None:
        return None
    import numpy as np

    h = hashlib.blake2b(digest_size=8)
    for a in (data.x_train, data.y_train, data.x_val, data.y_val):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(memoryview(a).cast("B"))
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
) -> SweepResult:
    """Train `build`'s model for every config of `space` (a grid ``{name: [values]}`` or a
    list of configs) with every seed; returns the `SweepResult`.

    `build(config)` returns a compiled Model, fitted on `data` for `epochs`; or
    `build(config, report)` trains by itself and calls ``report(epoch, metrics)``. Results go
    to the folder `store` (SQLite ``lab.sqlite`` and ``results.csv``); a second call with the
    same folder resumes. `executor`: `LocalExecutor()` (default) or `RayExecutor(...)`.
    `progress`: a live table on a terminal, plain lines otherwise (None), or nothing (False).
    """
    configs = grid(space) if isinstance(space, Mapping) else [dict(c) for c in space]
    if not configs:
        raise ValueError("sweep: no configs to run")
    if epochs < 1:
        raise ValueError(f"sweep: epochs must be >= 1. Received {epochs}")
    all_cells = cells(configs, seeds)
    if len({c.key for c in all_cells}) != len(all_cells):
        raise ValueError("sweep: the same config and seed appear twice")
    executor = executor or LocalExecutor()
    stream = stream or sys.stdout
    out = Path(store)
    out.mkdir(parents=True, exist_ok=True)
    claimed = {
        "build": _qualname(build),
        "data": fingerprint(data),
        "epochs": epochs,
        "batch_size": batch_size,
        "sweep_seed": sweep_seed,
        "explode": explode,
        **(settings or {}),
    }
    options = {
        "sweep_seed": sweep_seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "explode": explode,
        "tensorboard": str(out / "tensorboard") if tensorboard else None,
    }
    with _store.Store(out / DB_NAME) as db:
        db.claim(claimed)
        db.add(all_cells)
        todo = db.todo(all_cells, retry_failed=retry_failed)
        finished = len(all_cells) - len(todo)
        say = (lambda text: print(text, file=stream, flush=True)) if progress is not False else (
            lambda text: None
        )
        say(
            f"sweep: {len(configs)} config(s) x {len(all_cells) // len(configs)} seed(s) = "
            f"{len(all_cells)} runs of {epochs} epoch(s)"
            + (f"; {finished} already finished in {out}" if finished else "")
            + f"; {len(todo)} to run ({len(todo) * epochs} epochs) on {executor.describe()}"
        )
        shown = None
        if progress is not False and todo:
            shown = Progress(todo, db.statuses(), epochs, executor.workers, stream, live=progress)

        def on_event(event: tuple) -> None:
            kind, key = event[0], event[1]
            if kind == "start":
                db.start(key, host=event[2], started=event[3], threads=event[4])
            elif kind == "epoch":
                db.record(key, event[2], event[3])
            elif kind == "end":
                db.finish(key, event[2], error=event[4], diverged_epoch=event[3], ended=event[5])
            if shown is not None:
                shown.update(event)

        try:
            if todo:
                executor.run(todo, build, data, options, on_event)
        except KeyboardInterrupt:
            say(f"sweep interrupted: what finished is stored in {out}; run the same sweep "
                "again to resume")
            raise
        finally:
            if shown is not None:
                shown.close()
            db.export_csv(out / CSV_NAME)
    result = SweepResult.load(out)
    counts = result.counts()
    say(
        "sweep finished: "
        + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        + f". Results: {out / DB_NAME}, {out / CSV_NAME}"
    )
    return result


def verify(
    out: str | Path,
    cell_key: str,
    build: Callable[..., Any],
    data: Data | None,
    stream: TextIO | None = None,
) -> list[str]:
    """Re-run one stored cell here and compare its metrics with the stored ones; returns the
    differences (empty when every metric of every epoch is identical)."""
    stream = stream or sys.stdout
    out = Path(out)
    with _store.Store(out / DB_NAME, readonly=True) as db:
        settings = db.settings() or {}
        runs = {r["cell"]: r for r in db.runs()}
        matches = [k for k in runs if k.startswith(cell_key)]
        if len(matches) != 1:
            known = ", ".join(sorted(runs)[:5])
            raise ValueError(
                f"verify: {'no' if not matches else 'more than one'} cell in {out} starts with "
                f"{cell_key!r}. Known cells: {known}{', ...' if len(runs) > 5 else ''}"
            )
        run = runs[matches[0]]
        stored = db.metrics(run["cell"]).get(run["cell"], {})
    if run["status"] not in _store.FINISHED:
        raise ValueError(f"verify: cell {run['cell']} is {run['status']}, not finished")
    cell = Cell(run["config"], run["seed"])
    if settings.get("data") != fingerprint(data):
        raise ValueError("verify: the data differ from the data the sweep was run on")
    fresh: dict[int, dict[str, float]] = {}
    options = {
        k: settings[k] for k in ("sweep_seed", "epochs", "batch_size", "explode") if k in settings
    }
    options["threads"] = run["threads"]  # the same BLAS threads: the same rounding
    ended: list[tuple] = []

    def collect(event: tuple) -> None:
        if event[0] == "epoch":
            fresh[event[2]] = dict(event[3])
        elif event[0] == "end":
            ended.append(event)

    print(f"verify: re-running {cell.label()} ({cell.key})", file=stream, flush=True)
    execute(cell, build, data, options, collect)
    differences = []
    status = ended[0][2]
    if status != run["status"] or ended[0][3] != run["diverged_epoch"]:
        differences.append(
            f"status: stored {run['status']} (diverged {run['diverged_epoch']}), "
            f"now {status} (diverged {ended[0][3]})"
            + (f": {ended[0][4].splitlines()[-1]}" if ended[0][4] else "")
        )
    for epoch in sorted(set(stored) | set(fresh)):
        a, b = stored.get(epoch, {}), fresh.get(epoch, {})
        for name in sorted(set(a) | set(b)):
            if name == "seconds":
                continue  # wall time differs by nature
            x, y = a.get(name), b.get(name)
            same = x == y or (x is not None and y is not None and math.isnan(x) and math.isnan(y))
            if not same:
                differences.append(f"epoch {epoch} {name}: stored {x}, now {y}")
    return differences
