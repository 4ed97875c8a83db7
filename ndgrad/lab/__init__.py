"""The lab: hyperparameter sweeps, run locally or on a Ray cluster, stored, with pictures.

>>> from ndgrad import lab
>>> lab.grid({"learning_rate": [1e-3, 1e-2], "momentum": [0.0, 0.9]})[:2]
[{'learning_rate': 0.001, 'momentum': 0.0}, {'learning_rate': 0.001, 'momentum': 0.9}]

`sweep(build, grid, seeds=..., data=..., executor=..., store=...)` trains every cell and
returns a `SweepResult` (rank, best, table, heatmap, curves, report). `LocalExecutor` runs
worker processes here, `InlineExecutor` runs in this process, `RayExecutor` runs Ray tasks
(Ray is imported only then). See docs/lab.md.
"""

from .executors import Executor, InlineExecutor, LocalExecutor, RayExecutor
from .grid import Cell, cells, grid, sample
from .mnist import MnistBuild, mnist_data
from .results import ConfigSummary, SweepResult
from .runner import Data, Diverged, Outcome, run_cell
from .store import Store
from .sweep import sweep, verify

__all__ = [
    "Cell",
    "ConfigSummary",
    "Data",
    "Diverged",
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "MnistBuild",
    "Outcome",
    "RayExecutor",
    "Store",
    "SweepResult",
    "cells",
    "grid",
    "mnist_data",
    "run_cell",
    "sample",
    "sweep",
    "verify",
]
