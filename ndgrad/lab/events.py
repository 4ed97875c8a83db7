"""The words the lab's parts share: a run's status, the events an executor streams to the
driver, and the options every run of a sweep is trained with.

Events are small frozen dataclasses (they cross process and machine boundaries by pickle)::

    Started(key, host, time, threads)           a run began (again)
    EpochEnded(key, epoch, metrics)             after each epoch (epoch counts from 1)
    Requeued(key, reason)                       its worker died; the run goes back in the queue
    Ended(key, status, diverged_epoch, error, time)   status: done, diverged or failed
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """Where a run is. A `str`, so it compares equal to (and is stored as) its value."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DIVERGED = "diverged"
    FAILED = "failed"

    def __repr__(self) -> str:  # reads as the plain string it equals
        return repr(self.value)

    @property
    def finished(self) -> bool:
        """Done or diverged: the run gave its answer."""
        return self in (Status.DONE, Status.DIVERGED)

    @property
    def ended(self) -> bool:
        """Done, diverged or failed: nothing more will happen to the run."""
        return self in (Status.DONE, Status.DIVERGED, Status.FAILED)


@dataclass(frozen=True)
class Started:
    key: str
    host: str
    time: float
    threads: int | None = None


@dataclass(frozen=True)
class EpochEnded:
    key: str
    epoch: int
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Requeued:
    key: str
    reason: str


@dataclass(frozen=True)
class Ended:
    key: str
    status: Status
    diverged_epoch: int | None = None
    error: str | None = None
    time: float = 0.0


Event = Started | EpochEnded | Requeued | Ended
OnEvent = Callable[[Event], None]


@dataclass(frozen=True)
class RunOptions:
    """How every run of a sweep trains: shared by `sweep`, `verify` and the executors.

    `threads`: BLAS and kernel threads per run (the executor sets it); a cell's metrics are
    bit-identical for the same thread count. `tensorboard`: a folder for event files, or None.
    """

    sweep_seed: int = 0
    epochs: int = 1
    batch_size: int = 32
    explode: float | None = 100.0
    tensorboard: str | None = None
    threads: int | None = None

    def with_threads(self, threads: int | None) -> RunOptions:
        return RunOptions(self.sweep_seed, self.epochs, self.batch_size, self.explode,
                          self.tensorboard, threads)

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `run_cell`."""
        return {"sweep_seed": self.sweep_seed, "epochs": self.epochs,
                "batch_size": self.batch_size, "explode": self.explode,
                "tensorboard": self.tensorboard, "threads": self.threads}
