"""What a sweep shows while it runs: the cost up front, then a live table of runs.

On a terminal (and with `rich` installed, part of the `lab` extra) the table updates in place:
the runs that ended last (done, diverged or failed), those running (with their epoch and
current validation accuracy) and how many are queued, under the counts and an estimate of the
time left once epochs have been timed. Otherwise each event is
one plain line, which suits logs and CI.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

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
    ) -> None:
        self.stream = stream or sys.stdout
        self.cells = {c.key: c for c in cells}
        self.status = {c.key: statuses.get(c.key, "queued") for c in cells}
        self.epoch = {c.key: 0 for c in cells}
        self.accuracy: dict[str, float] = {}
        self.epochs, self.workers = epochs, max(1, workers)
        self.epoch_seconds: list[float] = []
        self.started = time.monotonic()
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
                    self._table(), console=Console(file=self.stream), refresh_per_second=4
                )
                self._live.start()

    # -- estimates --------------------------------------------------------------------------
    def epochs_left(self) -> int:
        left = 0
        for key, status in self.status.items():
            if status in ("queued", "running"):
                left += self.epochs - self.epoch[key]
        return left

    def eta(self) -> float | None:
        """Seconds left: epochs to go x the median epoch time / workers (None until timed)."""
        if not self.epoch_seconds:
            return None
        times = sorted(self.epoch_seconds)
        return self.epochs_left() * times[len(times) // 2] / self.workers

    # -- events -----------------------------------------------------------------------------
    def update(self, event: tuple) -> None:
        kind, key = event[0], event[1]
        if key not in self.cells:
            return
        if kind == "start":
            self.status[key], self.epoch[key] = "running", 0
        elif kind == "epoch":
            self.epoch[key] = event[2]
            metrics = event[3]
            if "seconds" in metrics:
                self.epoch_seconds.append(metrics["seconds"])
            if "val_accuracy" in metrics:
                self.accuracy[key] = metrics["val_accuracy"]
        elif kind == "end":
            self.status[key] = event[2]
            self._finished.append(key)
        if self._live is not None:
            self._live.update(self._table())
        else:
            self._line(event)

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()
            self._live = None

    # -- plain lines ------------------------------------------------------------------------
    def _counts(self) -> str:
        n = len(self.status)
        finished = sum(s in ("done", "diverged", "failed") for s in self.status.values())
        eta = self.eta()
        return f"[{finished}/{n}]" + (f" ~{duration(eta)} left" if eta is not None else "")

    def _line(self, event: tuple) -> None:
        kind, key = event[0], event[1]
        label = self.cells[key].label()
        if kind == "start":
            text = f"{label}: running on {event[2]}"
        elif kind == "epoch":
            metrics = event[3]
            shown = ", ".join(
                f"{k} {v:.4f}" for k, v in metrics.items() if k in ("loss", "val_accuracy")
            )
            text = f"{label}: epoch {event[2]}/{self.epochs} {shown}"
        else:
            status, diverged, error = event[2], event[3], event[4]
            text = f"{label}: {status}"
            if diverged is not None:
                text += f" in epoch {diverged}"
            if error:
                text += f": {error.strip().splitlines()[-1]}"
        print(f"{self._counts()} {text}", file=self.stream, flush=True)

    # -- the live table ---------------------------------------------------------------------
    def _table(self) -> Any:
        from rich.table import Table

        elapsed = duration(time.monotonic() - self.started)
        eta = self.eta()
        caption = f"elapsed {elapsed}" + (f", about {duration(eta)} left" if eta else "")
        table = Table(title=f"sweep {self._counts()}", caption=caption)
        for name in ("run", "status", "epoch", "val accuracy"):
            table.add_column(name)
        running = [k for k in self.cells if self.status[k] == "running"]
        recent = self._finished[-self.shown_finished :]
        queued = sum(s == "queued" for s in self.status.values())
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
