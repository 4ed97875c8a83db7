"""Builds for the lab's fault tests, importable by spawned worker processes."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from ndgrad.lab import MnistBuild

BOOK = MnistBuild("rmsprop")


@dataclass(frozen=True)
class KillsItsWorker:
    """The book's network, except that building `victim`'s config kills the worker process
    running it with SIGKILL (as the OOM killer does): the first time only, or `always`."""

    marker_dir: str
    victim: float  # the learning rate of the config whose worker dies
    always: bool = False

    def __call__(self, config: dict) -> object:
        if config["learning_rate"] == self.victim:
            marker = Path(self.marker_dir) / f"died-{os.getpid()}"
            deaths = list(Path(self.marker_dir).glob("died-*"))
            if self.always or not deaths:
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return BOOK(config)
