"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over
the target, so a crash mid-write leaves the previous file intact (saving, data-set cache,
``ndgrad predict --output``).

The file gets the mode a plain ``open(path, "w")`` would give it: an existing file keeps its
mode; a new one gets ``0o666`` less the umask (the temporary file is created with that mode,
so the umask is applied by the system, never read or changed here).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from typing import BinaryIO


def _create(folder: str, name: str, mode: int) -> tuple[int, str]:
    """A new file next to the target, opened for writing; `mode` less the umask."""
    for _ in range(100):
        tmp = os.path.join(folder, f".tmp-{secrets.token_hex(4)}-{name}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: could not create a temporary file for {name}")


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file, then rename it to `path`.

    Errors name `path` (not the temporary file): an existing folder at `path`, a folder that
    cannot be written, a full disk.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a folder, not a file", path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        existing = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        existing = None
    try:
        fd, tmp = _create(folder, os.path.basename(path), 0o666)
    except OSError as e:
        raise type(e)(e.errno, f"cannot write in {folder} ({e.strerror})", path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if existing is not None:
            os.chmod(tmp, existing)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename == tmp:
            raise type(e)(e.errno, e.strerror, path) from e
        raise
