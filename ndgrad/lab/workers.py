"""The worker side of `LocalExecutor`: a process that runs one cell at a time for its driver
and dies with it.

The driver starts each worker with ``spawn`` and talks to it over a pipe: it sends a `Cell`
(or None to stop), the worker sends back ``("ready",)`` once, then every event of the cell.
A worker ignores Ctrl-C (the driver decides what an interrupt means), and dies within about a
second of its driver, however the driver ended: Linux's ``PR_SET_PDEATHSIG`` kills it at
once, and a watchdog thread that sees its parent change covers other platforms.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from typing import Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when `parent_pid` (the process that started it) ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="ndgrad-lab-watchdog", daemon=True).start()


def main(conn: Any, payload: bytes, parent_pid: int) -> None:
    """A worker's life: unpack (build, data, options), say ready, run cells until told to
    stop or the pipe closes."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .runner import execute

    try:
        build, data, options = pickle.loads(payload)
    except Exception as e:
        conn.send(("init-failed", "".join(traceback.format_exception(e)).strip()))
        return
    conn.send(("ready",))
    while True:
        try:
            cell = conn.recv()
        except (EOFError, OSError):
            return
        if cell is None:
            return
        execute(cell, build, data, options, conn.send)
