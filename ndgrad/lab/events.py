"""The words the lab's parts share: a run's status, the events an executor streams to the
driver, and the options every run of a sweep is trained with.

Events are small frozen dataclasses (they cross process and machine boundaries by pickle)::

    Started(key, host, time, threads, node)     a run began (again)
    EpochEnded(key, epoch, metrics)             after each epoch (epoch counts from 1)
    Requeued(key, reason)                       its worker died; the run goes back in the queue
    Ended(key, status, diverged_epoch, error, time, test)   done, diverged, stopped, failed
"""

from __future__ import annotations

import dataclasses
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
    STOPPED = "stopped"  # early stopping (successive halving) ended it at a rung
    FAILED = "failed"

    def __repr__(self) -> str:  # reads as the plain string it equals
        return repr(self.value)

    @property
    def finished(self) -> bool:
        """Done, diverged or stopped early: the run gave its answer."""
        return self in (Status.DONE, Status.DIVERGED, Status.STOPPED)

    @property
    def ended(self) -> bool:
        """Finished or failed: nothing more will happen to the run."""
        return self.finished or self is Status.FAILED


@dataclass(frozen=True)
class Started:
    key: str
    host: str
    time: float
    threads: int | None = None
    node: str | None = None  # the Ray node running it (None for local processes)


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
    test: Mapping[str, float] = field(default_factory=dict)  # held-out metrics, if any


Event = Started | EpochEnded | Requeued | Ended
OnEvent = Callable[[Event], None]


@dataclass(frozen=True)
class RunOptions:
    """How every run of a sweep trains: shared by `sweep`, `verify` and the executors.

    `threads`: BLAS and kernel threads per run (the executor sets it); a cell's metrics are
    bit-identical for the same thread count. `tensorboard`: a folder for event files, or None.
    `models`: a folder where each run that ends done saves its final model, or None.
    `device`: the default device of the run (the executor sets it per worker: ``cuda:N``), or
    None for the CPU.
    """

    sweep_seed: int = 0
    epochs: int = 1
    batch_size: int = 32
    explode: float | None = 100.0
    tensorboard: str | None = None
    threads: int | None = None
    models: str | None = None
    device: str | None = None

    def with_threads(self, threads: int | None) -> RunOptions:
        return dataclasses.replace(self, threads=threads)

    def with_device(self, device: str | None) -> RunOptions:
        return dataclasses.replace(self, device=device)

    def with_epochs(self, epochs: int) -> RunOptions:
        return dataclasses.replace(self, epochs=epochs)

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `run_cell`."""
        return dataclasses.asdict(self)
