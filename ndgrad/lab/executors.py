"""Where a sweep's runs execute: in this process, in supervised local worker processes, or as
Ray tasks on a cluster.

Every executor streams the same events (`events.Started`, `EpochEnded`, `Requeued`, `Ended`)
to the driver, which alone writes the store, and each owns its checks of how a run ended:

- a run that raises ends "failed" with its traceback, and the others go on;
- a run whose worker dies (a signal, the OOM killer, a lost Ray node) goes back to the queue
  with its attempt counted (`Requeued`), a new worker takes over, and the other runs are
  untouched; after `max_attempts` attempts it ends "failed" with the reason ("worker died:
  signal 9"). A cell that never started is never marked failed;
- when the driver's `stop` event is set (Ctrl-C), no new run starts and the running ones end
  without a word; the driver puts them back in the queue.

Ray is imported only by `RayExecutor`.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait
from typing import Any

from .events import Ended, Event, OnEvent, Requeued, RunOptions, Started, Status
from .grid import Cell
from .runner import Data, execute

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def death_reason(exitcode: int | None) -> str:
    """``-9`` -> ``"worker died: signal 9 (SIGKILL)"``."""
    if exitcode is not None and exitcode < 0:
        try:
            name = f" ({signal.Signals(-exitcode).name})"
        except ValueError:
            name = ""
        return f"worker died: signal {-exitcode}{name}"
    return f"worker died: exit code {exitcode}"


class Executor:
    """Runs cells and calls `on_event` in the driver for every event, until all have ended
    or `stop` is set."""

    workers: int = 1
    threads: int = 1
    max_attempts: int = 2

    def describe(self) -> str:
        """Where and how the runs go, in words, for the sweep's first line."""
        raise NotImplementedError

    def run(
        self,
        cells: Sequence[Cell],
        build: Callable[..., Any],
        data: Data | None,
        options: RunOptions,
        on_event: OnEvent,
        stop: threading.Event | None = None,
    ) -> None:
        """Train every cell (``build(cell.config)`` on `data`), calling `on_event` in the
        driver with each Start, Epoch and End; return once all ended or `stop` is set."""
        raise NotImplementedError


def _check_attempts(max_attempts: int) -> int:
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be an int >= 1. Received {max_attempts!r}")
    return max_attempts


class InlineExecutor(Executor):
    """Every run in this process, one after another: for notebooks and debugging, where a
    `build` defined on the spot cannot be sent to other processes. A stop takes effect at the
    next epoch's end."""

    def describe(self) -> str:
        return "this process, one run at a time"

    def run(self, cells, build, data, options, on_event, stop=None):
        def emit(event: Event) -> None:
            on_event(event)
            if stop is not None and stop.is_set() and not isinstance(event, Ended):
                raise KeyboardInterrupt  # ends this run here; the driver requeues it

        for cell in cells:
            if stop is not None and stop.is_set():
                return
            execute(cell, build, data, options, emit)


# -- local processes ----------------------------------------------------------------------


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


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Children started inside ignore Ctrl-C from their first instruction (a disposition of
    SIG_IGN survives exec, and Python then installs no KeyboardInterrupt handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Worker:
    """The driver's handle on one worker process and the cell it runs."""

    def __init__(self, context: Any, payload: bytes, rank: int = 0) -> None:
        from . import workers

        self.rank = rank  # its place in the pool: a replacement takes the rank (and device)

        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=workers.main,
            args=(child, payload, os.getpid()),
            daemon=True,
            name="ndgrad-lab-worker",
        )
        self.process.start()
        child.close()
        self.ready = False
        self.cell: Cell | None = None  # assigned, not yet ended
        self.started = False  # the assigned cell sent Started

    def give(self, cell: Cell) -> None:
        self.cell, self.started = cell, False
        self.conn.send(cell)

    def messages(self) -> list[Any]:
        """Everything the worker has sent so far (all of it once it is dead)."""
        out = []
        try:
            while self.conn.poll():
                out.append(self.conn.recv())
        except (EOFError, OSError):
            pass
        return out

    def end(self, timeout: float = 2.0) -> None:
        """Stop the process: politely, then for sure."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class WorkersFailedToStart(RuntimeError):
    """Worker processes die before they can run anything (their start-up is broken)."""


def gpu_devices(device: str | None, gpus: int | None, available: int) -> list[str]:
    """The GPUs a sweep's workers use, from ``device`` ("cpu", "cuda" or "cuda:N") and ``gpus``
    (how many, from cuda:0), given the `available` GPU count: [] for the CPU.

    >>> gpu_devices("cuda", 2, available=4)
    ['cuda:0', 'cuda:1']
    >>> gpu_devices(None, None, available=4)
    []
    """
    from ..errors import DeviceError

    kind, _, index = (device or ("cuda" if gpus else "cpu")).partition(":")
    if kind == "cpu" and not gpus:
        return []
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"device must be cpu, cuda or cuda:N with gpus. Received {device!r}")
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise ValueError(f"gpus must be an int >= 1. Received {gpus!r}")
    if available < 1:
        raise DeviceError(
            "the lab cannot run on GPUs here: no CUDA device (ndgrad.cuda.is_available() is False)"
        )
    if index:
        if gpus not in (None, 1) or int(index) >= available:
            raise DeviceError(
                f"device {device!r} with gpus={gpus}: this machine has {available} CUDA device(s)"
            )
        return [device]  # type: ignore[list-item]
    count = available if gpus is None else gpus
    if count > available:
        raise DeviceError(f"gpus={gpus}: this machine has {available} CUDA device(s)")
    return [f"cuda:{i}" for i in range(count)]


class LocalExecutor(Executor):
    """`workers` supervised processes on this machine (default: one per core), each with
    `threads` = cores // workers BLAS threads, so that workers x threads = cores. A run whose
    worker dies is tried again in a new worker, up to `max_attempts` times in all.

    On GPUs (``device="cuda"``, or ``gpus=N``: the first N; ``"cuda:K"``: GPU K only), there
    are at most N workers, one per GPU, by default N: each worker holds a CUDA context, and
    more runs on one GPU only queue behind each other. Worker rank r (0 <= r < workers) trains
    on the r-th of those GPUs (a replacement worker takes the rank of the one it replaces).
    A `build` should not name a GPU itself: the worker's device is the default device while
    it builds.
    """

    def __init__(
        self,
        workers: int | None = None,
        threads: int | None = None,
        max_attempts: int = 2,
        *,
        device: str | None = None,
        gpus: int | None = None,
    ) -> None:
        cores = os.cpu_count() or 1
        if device is None and gpus is None:
            self.devices: list[str] = []
        else:
            import ndgrad

            self.devices = gpu_devices(device, gpus, ndgrad.cuda.device_count())
        if workers is not None and workers < 1:
            raise ValueError(f"LocalExecutor: workers must be >= 1. Received {workers}")
        n = len(self.devices)
        self.workers = min(workers or n, n) if n else workers or cores
        self.threads = threads or max(1, cores // self.workers)
        self.max_attempts = _check_attempts(max_attempts)

    def device_of(self, rank: int) -> str | None:
        """The device of worker `rank` (0 <= rank < workers): the rank-th of `devices`, None
        on the CPU."""
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < self.workers:
            raise ValueError(
                f"LocalExecutor.device_of: rank must be an int in [0, {self.workers}) (one per "
                f"worker). Received rank={rank!r}"
            )
        return self.devices[rank] if self.devices else None

    def describe(self) -> str:
        where = f" on {', '.join(self.devices)}" if self.devices else ""
        return f"{self.workers} local worker process(es){where}, {self.threads} BLAS thread(s) each"

    def run(self, cells, build, data, options, on_event, stop=None):
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
        options = options.with_threads(self.threads)
        # One pickled copy of the data per device (one on the CPU), not one per worker.
        payloads = {
            device: pickle.dumps((build, data, options.with_device(device)))
            for device in dict.fromkeys(self.device_of(rank) for rank in range(self.workers))
        }
        queue: deque[Cell] = deque(cells)
        deaths: dict[str, int] = {}
        pool: list[_Worker] = []
        early_deaths = 0
        try:
            while queue or any(w.cell is not None for w in pool):
                if stop is not None and stop.is_set():
                    return
                busy = sum(w.cell is not None for w in pool)
                while len(pool) < min(self.workers, busy + len(queue)):
                    rank = min(set(range(self.workers)) - {w.rank for w in pool})
                    with _thread_env(self.threads), _sigint_ignored():
                        pool.append(_Worker(context, payloads[self.device_of(rank)], rank))
                for w in pool:
                    if w.cell is None and queue:
                        w.give(queue.popleft())
                handles = [w.conn for w in pool] + [w.process.sentinel for w in pool]
                wait(handles, timeout=0.2)
                for w in list(pool):
                    alive = w.process.is_alive()
                    for message in w.messages():
                        self._receive(w, message, on_event)
                    if alive or w.process.is_alive():
                        continue
                    w.process.join()
                    pool.remove(w)
                    w.conn.close()
                    if not w.ready:
                        early_deaths += 1
                        if early_deaths >= 3:
                            why = death_reason(w.process.exitcode)
                            raise WorkersFailedToStart(
                                f"lab workers died while starting ({why}, 3 times); run with "
                                "InlineExecutor() to see why"
                            )
                    cell, w.cell = w.cell, None
                    if cell is None:
                        continue
                    if not w.started:  # never began: back to the front, no attempt counted
                        queue.appendleft(cell)
                        continue
                    deaths[cell.key] = deaths.get(cell.key, 0) + 1
                    reason = death_reason(w.process.exitcode)
                    if deaths[cell.key] < self.max_attempts:
                        on_event(
                            Requeued(
                                cell.key,
                                f"{reason}; attempt {deaths[cell.key] + 1} "
                                f"of {self.max_attempts} next",
                            )
                        )
                        queue.appendleft(cell)
                    else:
                        on_event(
                            Ended(
                                cell.key,
                                Status.FAILED,
                                None,
                                f"{reason} (attempt {deaths[cell.key]} of {self.max_attempts})",
                                time.time(),
                            )
                        )
        finally:
            for w in pool:
                if w.cell is not None:
                    w.process.kill()  # a run cut short: no need to wait for it
                w.end()

    @staticmethod
    def _receive(w: _Worker, message: Any, on_event: OnEvent) -> None:
        if isinstance(message, tuple):
            if message[0] == "ready":
                w.ready = True
            elif message[0] == "init-failed":
                raise WorkersFailedToStart(f"a lab worker could not start:\n{message[1]}")
            return
        if w.cell is None or message.key != w.cell.key:
            return  # from a cell already given up on
        if isinstance(message, Started):
            w.started = True
        on_event(message)
        if isinstance(message, Ended):
            w.cell = None


# -- Ray ----------------------------------------------------------------------------------


def _ray_task(
    cell: Cell, build: Callable[..., Any], data: Data | None, options: RunOptions, events: Any
) -> None:
    import ray

    node = ray.get_runtime_context().get_node_id()  # two nodes on one host are told apart
    execute(cell, build, data, options, events.put, node)


class RayExecutor(Executor):
    """Each run a Ray task: on a local Ray instance (`address=None`) or an existing cluster
    (``"auto"`` or ``"ray://host:10001"``). The data is put once in Ray's object store, so
    workers on other machines need no copy of it; metrics stream back through a Ray queue. A
    task whose worker or node is lost is retried by Ray, up to `max_attempts` in all."""

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        threads: int = 1,
        max_attempts: int = 2,
    ) -> None:
        self.address, self.threads = address, threads
        self.workers = workers or 0  # 0: as many tasks at once as the cluster has CPUs
        self.max_attempts = _check_attempts(max_attempts)

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        return f"Ray tasks on {where}, {self.threads} CPU(s) each"

    def run(self, cells, build, data, options, on_event, stop=None):
        if not cells:
            return
        try:
            import ray
            from ray.util.queue import Queue
        except ImportError as e:
            raise ImportError(
                "the lab's Ray executor needs Ray: pip install 'ndgrad[distributed]'"
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
            options = options.with_threads(self.threads)
            data_ref = ray.put(data)  # once, shared by every task
            task = ray.remote(_ray_task).options(
                num_cpus=self.threads, max_retries=self.max_attempts - 1
            )
            refs = {task.remote(c, build, data_ref, options, events): c for c in cells}
            self._drain(ray, events, refs, on_event, stop)
        finally:
            if started_here:
                ray.shutdown()

    def _drain(
        self,
        ray: Any,
        events: Any,
        refs: dict[Any, Cell],
        on_event: OnEvent,
        stop: threading.Event | None,
    ) -> None:
        """Pass events on until every task has ended; a task Ray gave up on (its retries
        spent) ends "failed" with Ray's reason, once the events it sent have arrived."""
        ended: set[str] = set()
        pending = set(refs)
        lost: dict[str, tuple[float, str]] = {}
        while len(ended) < len(refs):
            if stop is not None and stop.is_set():
                for ref in pending:
                    ray.cancel(ref, force=True)
                return
            try:
                batch = [events.get(timeout=0.2)]
                batch += events.get_nowait_batch(events.qsize())
            except Exception:  # ray.util.queue.Empty
                batch = []
            for event in batch:
                on_event(event)
                if isinstance(event, Ended):
                    ended.add(event.key)
            if pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                for ref in ready:
                    pending.discard(ref)
                    try:
                        ray.get(ref)
                    except Exception as e:  # ray.exceptions.RayError and its kin
                        lost[refs[ref].key] = (time.monotonic(), f"worker died: {e!r}")
            for key, (since, reason) in list(lost.items()):
                if key in ended:
                    del lost[key]
                elif time.monotonic() - since > 1.0:  # its last events had time to arrive
                    on_event(Ended(key, Status.FAILED, None, reason, time.time()))
                    ended.add(key)
                    del lost[key]
