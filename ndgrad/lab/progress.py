"""What a sweep shows while it runs: the cost up front, then a live table of runs.

On a terminal (and with `rich` installed, part of the `lab` extra) the table updates in place:
the runs that ended last (done, diverged or failed), those running (with their epoch and
current validation accuracy) and how many are queued, under the counts and an estimate of the
time left once epochs have been timed. The table is redrawn four times a second, so its clock
and estimate move between events. Otherwise each event is one plain line, which suits logs
and CI.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from .events import Ended, EpochEnded, Event, Requeued, Started, Status
from .grid import Cell

_STYLE = {"done": "green", "diverged": "yellow", "failed": "red", "running": "cyan"}


def duration(seconds: float) -> str:
    """``75`` -> ``"1m15s"``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Tracks every cell of the sweep; `update(event)` with each executor event."""

    def __init__(
        self,
        cells: list[Cell],
        statuses: dict[str, str],
        epochs: int,
        workers: int,
        stream: TextIO | None = None,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stdout
        self.clock = clock
        self._lock = threading.Lock()  # the live display redraws from its own thread
        self.cells = {c.key: c for c in cells}
        self.status = {c.key: Status(statuses.get(c.key, Status.QUEUED)) for c in cells}
        self.epoch = {c.key: 0 for c in cells}
        self.accuracy: dict[str, float] = {}
        self.epochs, self.workers = epochs, max(1, workers)
        self.epoch_seconds: list[float] = []
        self.started = clock()
        self._since: dict[str, float] = {}  # a running cell's last start or epoch end
        self._finished: list[str] = []  # in the order they ended
        self.shown_finished = 8  # the table shows the runs ending last, then those running
        self._live: Any = None
        want_live = self.stream.isatty() if live is None else live
        if want_live:
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:
                want_live = False
            else:
                self._live = Live(
                    console=Console(file=self.stream), refresh_per_second=4,
                    get_renderable=self._table,  # called at every refresh: the clock ticks
                )
                self._live.start()

    # -- estimates --------------------------------------------------------------------------
    def epochs_left(self) -> int:
        left = 0
        for key, status in self.status.items():
            if status in (Status.QUEUED, Status.RUNNING):
                left += self.epochs - self.epoch[key]
        return left

    def eta(self) -> float | None:
        """Seconds left: (epochs to go x the median epoch time, less the time the running
        cells have spent in their current epoch) / workers (None until an epoch is timed)."""
        if not self.epoch_seconds:
            return None
        times = sorted(self.epoch_seconds)
        median = times[len(times) // 2]
        now = self.clock()
        spent = sum(min(now - since, median) for since in self._since.values())
        return max(0.0, self.epochs_left() * median - spent) / self.workers

    # -- events -----------------------------------------------------------------------------
    def update(self, event: Event) -> None:
        if event.key not in self.cells:
            return
        with self._lock:
            self._apply(event)
        if self._live is not None:
            self._live.refresh()
        else:
            self._line(event)

    def _apply(self, event: Event) -> None:
        key = event.key
        if isinstance(event, Started):
            self.status[key], self.epoch[key] = Status.RUNNING, 0
            self._since[key] = self.clock()
        elif isinstance(event, EpochEnded):
            self.epoch[key] = event.epoch
            self._since[key] = self.clock()
            metrics = event.metrics
            if "seconds" in metrics:
                self.epoch_seconds.append(metrics["seconds"])
            if "val_accuracy" in metrics:
                self.accuracy[key] = metrics["val_accuracy"]
        elif isinstance(event, Requeued):
            self.status[key], self.epoch[key] = Status.QUEUED, 0
            self._since.pop(key, None)
        elif isinstance(event, Ended):
            self.status[key] = event.status
            self._since.pop(key, None)
            self._finished.append(key)

    def close(self) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None

    # -- plain lines ------------------------------------------------------------------------
    def _counts(self) -> str:
        n = len(self.status)
        finished = sum(s.ended for s in self.status.values())
        eta = self.eta()
        return f"[{finished}/{n}]" + (f" ~{duration(eta)} left" if eta is not None else "")

    def _line(self, event: Event) -> None:
        label = self.cells[event.key].label()
        if isinstance(event, Started):
            text = f"{label}: running on {event.host}"
        elif isinstance(event, EpochEnded):
            shown = ", ".join(
                f"{k} {v:.4f}" for k, v in event.metrics.items() if k in ("loss", "val_accuracy")
            )
            text = f"{label}: epoch {event.epoch}/{self.epochs} {shown}"
        elif isinstance(event, Requeued):
            text = f"{label}: queued again ({event.reason})"
        else:
            text = f"{label}: {event.status}"
            if event.diverged_epoch is not None:
                text += f" in epoch {event.diverged_epoch}"
            if event.error:
                text += f": {event.error.strip().splitlines()[-1]}"
        print(f"{self._counts()} {text}", file=self.stream, flush=True)

    # -- the live table ---------------------------------------------------------------------
    def _table(self) -> Any:
        with self._lock:
            return self._draw()

    def _draw(self) -> Any:
        from rich.table import Table

        elapsed = duration(self.clock() - self.started)
        eta = self.eta()
        caption = f"elapsed {elapsed}"
        if eta is not None:
            caption += f", about {duration(eta)} left"
        table = Table(title=f"sweep {self._counts()}", caption=caption)
        for name in ("run", "status", "epoch", "val accuracy"):
            table.add_column(name)
        running = [k for k in self.cells if self.status[k] == Status.RUNNING]
        recent = self._finished[-self.shown_finished :]
        queued = sum(s == Status.QUEUED for s in self.status.values())
        for key in [*recent, *running]:
            status = self.status[key]
            acc = self.accuracy.get(key)
            table.add_row(
                self.cells[key].label(),
                f"[{_STYLE.get(status, 'white')}]{status}[/]",
                f"{self.epoch[key]}/{self.epochs}",
                "" if acc is None else f"{acc:.4f}",
            )
        if queued:
            table.add_row(f"... and {queued} queued", "queued", "", "")
        return table
