"""One driver per sweep folder: an exclusive OS lock held for the driver's whole life.

The lock is `flock` on ``lab.lock`` beside ``lab.sqlite`` (``msvcrt.locking`` on Windows). The
kernel releases it when the process ends, however it ends, so a crashed or killed driver never
leaves a stale lock behind; worker processes do not inherit it. The file also says who holds
it (pid, host, start time) for the message a second driver prints. Readers (`lab report`,
`lab verify`, `SweepResult.load`) never take it.

On a shared network folder the lock is only as good as the file system's locking: Linux NFS
clients turn `flock` into NFS byte-range locks, which other NFS clients see; SMB/CIFS and
sshfs mounts may grant it to two machines at once. Give each machine's driver its own folder
there, or run the sweep from one machine (with Ray for the others).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from .store import LOCK_NAME

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class StoreBusy(RuntimeError):
    """Another driver holds the folder's lock."""

    def __init__(self, folder: Path, holder: dict[str, Any]) -> None:
        who = "another sweep driver"
        if holder.get("pid"):
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
            who += f" (pid {holder['pid']} on {holder.get('host', '?')}, since {since})"
        super().__init__(
            f"{folder} is in use by {who}; wait for it to finish (`ndgrad lab report "
            f"{folder}` reads it meanwhile) or give another output folder (--out)"
        )
        self.folder, self.holder = folder, holder


class DriverLock:
    """``with DriverLock(folder):`` holds the folder's lock, or raises `StoreBusy` at once."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        try:
            _lock(fd)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise StoreBusy(self.folder, holder) from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def __enter__(self) -> DriverLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def _read(fd: int) -> dict[str, Any]:
    try:
        text = os.pread(fd, 4096, 0).decode()
        holder = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        holder = {}
    return holder if isinstance(holder, dict) else {}
