"""Where a sweep's runs execute: local worker processes, or Ray tasks on a cluster.

Both stream the same events to the driver, which alone writes the store::

    ("start", cell_key, host, time, threads)
    ("epoch", cell_key, epoch, metrics)          after each epoch (epoch counts from 1)
    ("end", cell_key, status, diverged_epoch, error, time)   status: done, diverged, failed

A run that raises ends "failed" with its traceback and the others go on. Ray is imported only
by `RayExecutor`.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import queue as queue_module
import socket
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .grid import Cell
from .runner import Data, run_cell

Event = tuple[Any, ...]
OnEvent = Callable[[Event], None]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def execute(
    cell: Cell, build: Callable[..., Any], data: Data | None, options: dict, emit: OnEvent
) -> None:
    """Run one cell where this is called, sending its events through `emit`."""
    emit(("start", cell.key, socket.gethostname(), time.time(), options.get("threads")))
    try:
        outcome = run_cell(
            build, cell, data, lambda epoch, m: emit(("epoch", cell.key, epoch, dict(m))),
            **options,
        )
    except Exception as e:  # a failing run is recorded; the sweep goes on
        error = "".join(traceback.format_exception(e)).strip()
        emit(("end", cell.key, "failed", None, error, time.time()))
        return
    emit(("end", cell.key, outcome.status, outcome.diverged_epoch, None, time.time()))


class Executor:
    """Runs cells and calls `on_event` in the driver for every event, until all have ended."""

    workers: int = 1
    threads: int = 1

    def describe(self) -> str:
        raise NotImplementedError

    def run(
        self,
        cells: Sequence[Cell],
        build: Callable[..., Any],
        data: Data | None,
        options: dict,
        on_event: OnEvent,
    ) -> None:
        raise NotImplementedError


class InlineExecutor(Executor):
    """Every run in this process, one after another: for notebooks and debugging, where a
    `build` defined on the spot cannot be sent to other processes."""

    def describe(self) -> str:
        return "this process, one run at a time"

    def run(self, cells, build, data, options, on_event):
        for cell in cells:
            execute(cell, build, data, options, on_event)


# -- local processes ----------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_local(events: Any, build: Callable[..., Any], data: Data | None, options: dict) -> None:
    _worker.update(events=events, build=build, data=data, options=options)


def _local_task(cell: Cell) -> None:
    execute(cell, _worker["build"], _worker["data"], _worker["options"], _worker["events"].put)


@contextlib.contextmanager
def _thread_env(threads: int) -> Iterator[None]:
    """BLAS and kernel thread counts for the processes started inside (read at their start)."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: str(threads) for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LocalExecutor(Executor):
    """`workers` processes on this machine (default: one per core), each with
    `threads` = cores // workers BLAS threads, so that workers x threads = cores."""

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.workers = workers or cores
        if self.workers < 1:
            raise ValueError(f"LocalExecutor: workers must be >= 1. Received {workers}")
        self.threads = threads or max(1, cores // self.workers)

    def describe(self) -> str:
        return f"{self.workers} local worker process(es), {self.threads} BLAS thread(s) each"

    def run(self, cells, build, data, options, on_event):
        if not cells:
            return
        try:
            pickle.dumps(build)
        except Exception as e:
            raise TypeError(
                f"LocalExecutor: worker processes cannot receive build={build!r} ({e}). Define "
                "it at the top level of a module (or a script), or use InlineExecutor() or "
                "RayExecutor()"
            ) from e
        context = mp.get_context("spawn")  # no forked BLAS or Ray threads in the workers
        events = context.Queue()
        options = {**options, "threads": self.threads}
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(cells)),
            mp_context=context,
            initializer=_init_local,
            initargs=(events, build, data, options),
        )
        try:
            with _thread_env(self.threads):  # workers start inside submit
                futures = {pool.submit(_local_task, c): c for c in cells}
            _drain(events.get, futures, on_event, len(cells))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            for p in list(getattr(pool, "_processes", {}).values()):
                p.terminate()
            raise
        pool.shutdown(wait=True)


def _drain(
    get: Callable[..., Event], futures: dict[Any, Cell], on_event: OnEvent, total: int
) -> None:
    """Pass events on until every cell has ended; a task that died without saying so (its
    process was killed, its node lost) ends "failed" with what its future knows."""
    ended: set[str] = set()
    quiet_since: dict[str, float] = {}
    while len(ended) < total:
        try:
            event = get(timeout=0.2)
        except queue_module.Empty:
            event = None
        if event is not None:
            on_event(event)
            if event[0] == "end":
                ended.add(event[1])
            continue
        for future, cell in futures.items():
            if cell.key in ended or not _done(future):
                continue
            error = _error(future)
            if error is None:
                continue  # finished normally: its last events are on their way
            # give events already sent a moment to arrive before declaring the run lost
            first = quiet_since.setdefault(cell.key, time.monotonic())
            if time.monotonic() - first > 1.0:
                on_event(("end", cell.key, "failed", None, error, time.time()))
                ended.add(cell.key)


def _done(future: Any) -> bool:
    if isinstance(future, Future):
        return future.done()
    import ray

    ready, _ = ray.wait([future], timeout=0)
    return bool(ready)


def _error(future: Any) -> str | None:
    if isinstance(future, Future):
        e = future.exception()
    else:
        import ray

        try:
            ray.get(future)
            e = None
        except Exception as err:  # ray.exceptions.RayError and its kin
            e = err
    return None if e is None else f"the worker running this cell was lost: {e!r}"


# -- Ray ----------------------------------------------------------------------------------

def _ray_task(cell: Cell, build: Callable[..., Any], data: Data | None, options: dict, events):
    execute(cell, build, data, options, events.put)


class RayExecutor(Executor):
    """Each run a Ray task: on a local Ray instance (`address=None`) or an existing cluster
    (``"auto"`` or ``"ray://host:10001"``). The data is put once in Ray's object store, so
    workers on other machines need no copy of it; metrics stream back through a Ray queue."""

    def __init__(
        self, address: str | None = None, workers: int | None = None, threads: int = 1
    ) -> None:
        self.address, self.threads = address, threads
        self.workers = workers or 0  # 0: as many tasks at once as the cluster has CPUs

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        return f"Ray tasks on {where}, {self.threads} CPU(s) each"

    def run(self, cells, build, data, options, on_event):
        if not cells:
            return
        try:
            import ray
            from ray.util.queue import Queue
        except ImportError as e:
            raise ImportError(
                "the lab's Ray executor needs Ray: pip install 'ndgrad[lab]'"
            ) from e
        started_here = not ray.is_initialized()
        if started_here:
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "ERROR"}
            if self.address:
                kwargs["address"] = self.address
            elif self.workers:
                kwargs["num_cpus"] = self.workers * self.threads
            ray.init(**kwargs)
        try:
            if not self.workers:
                self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // self.threads)
            events = Queue(actor_options={"num_cpus": 0})
            options = {**options, "threads": self.threads}
            data_ref = ray.put(data)  # once, shared by every task
            task = ray.remote(_ray_task).options(num_cpus=self.threads, max_retries=1)
            futures = {task.remote(c, build, data_ref, options, events): c for c in cells}
            _drain(events.get, futures, on_event, len(cells))
        finally:
            if started_here:
                ray.shutdown()
