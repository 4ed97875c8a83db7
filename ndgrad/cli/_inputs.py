"""Reading the files the commands take (samples, labelled data) and checking the files they
write, each error naming the file and the cause."""

from __future__ import annotations

import csv
import os
import tempfile
import zipfile

import numpy as np

from ..errors import UsageError


def existing_file(path: str, what: str = "file") -> None:
    """Raise unless `path` is a regular file: "no such file" or "is a folder"."""
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a folder, expected a {what}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise UsageError(f"{path}: not a regular file, expected a {what}")


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(path: str, option: str, inputs: dict[str, str | None]) -> None:
    """Refuse an output path that is one of the `inputs` (``{"the model": path, ...}``), an
    existing folder, or in a folder that cannot be written, before any work is done."""
    for what, source in inputs.items():
        if source is not None and _same(path, source):
            raise UsageError(f"{option} {path}: is {what}, which would be overwritten; "
                             "write to another file")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    parent = folder
    while not os.path.exists(parent):  # atomic writes create missing folders
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: {parent} is a file, not a folder")
    if os.path.isdir(folder):
        try:  # what the atomic write will do: a temporary file in the target's folder
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".ndgrad-probe-")
        except OSError as e:
            raise UsageError(f"{option} {path}: cannot write in {folder} "
                             f"({e.strerror or e})") from e
        os.close(fd)
        os.unlink(probe)
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot create {folder} (no write access to {parent})")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # the rename would replace it anyway; refusing matches what `open(path, "w")` does
        raise UsageError(f"{option} {path}: the file exists and is read-only")


def read_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of a .npz archive (no pickles)."""
    existing_file(path, ".npz archive")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise UsageError(f"{path}: not a readable .npz archive of numeric arrays ({e})") from e


def read_npy(path: str) -> np.ndarray:
    """The array of a .npy file (no pickles)."""
    existing_file(path, ".npy array")
    try:
        return np.asarray(np.load(path, allow_pickle=False))
    except (ValueError, EOFError, OSError) as e:
        raise UsageError(f"{path}: not a .npy array of numbers ({e})") from e


def _numbers(row: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in row]
    except ValueError:
        return None


def read_csv(path: str) -> np.ndarray:
    """A 2-d float32 array from a CSV file of numbers (the `csv` module: quoted fields work);
    a first row that is not numbers is a header; blank lines are skipped."""
    existing_file(path, ".csv file")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f), start=1)
                    if any(v.strip() for v in row)]
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not a text CSV file (byte {e.start} is not UTF-8; "
                         "binary data?)") from e
    except csv.Error as e:
        raise UsageError(f"{path}: not a readable CSV file ({e})") from e
    if rows and _numbers(rows[0][1]) is None:
        rows = rows[1:]
    if not rows:
        raise UsageError(f"{path}: no rows of numbers")
    table: list[list[float]] = []
    for n, row in rows:
        values = _numbers(row)
        if values is None:
            text = ",".join(row)
            raise UsageError(f"{path}: line {n} is not comma-separated numbers: {text[:60]!r}")
        if table and len(values) != len(table[0]):
            raise UsageError(f"{path}: line {n} has {len(values)} values, the first data row "
                             f"{len(table[0])}")
        table.append(values)
    return np.array(table, dtype=np.float32)
