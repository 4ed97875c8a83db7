"""A sweep's results in one SQLite file: its settings, its runs and every epoch's metrics.

Only the driver writes (one connection, each write committed at once and durable), and one
driver at a time (it holds the folder's lock, `lock.DriverLock`); WAL mode lets another
process read while a sweep runs. Runs are keyed by their cell's content hash, so resuming a
sweep never duplicates or loses a cell, and a metric is keyed by (cell, epoch, name).

Tables::

    meta(key, value)                        'settings' (JSON) and 'schema' (the layout version)
    runs(cell, config, seed, status, error, diverged_epoch, started, ended, host, threads,
         attempts, node)                    node: the Ray node that ran it (None locally)
    metrics(cell, epoch, name, value)       epoch counts from 1, as the progress bar does
    heldout(cell, name, value)              test-split metrics of a run that ended done
"""

from __future__ import annotations

import contextlib
import csv
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .events import Status
from .grid import Cell

#: the files of a sweep's folder
DB_NAME, CSV_NAME, LOCK_NAME, MODELS_DIR = "lab.sqlite", "results.csv", "lab.lock", "models"
#: the layout of the tables below; a store of a newer layout is refused, not guessed at
SCHEMA_VERSION = 2  # 2: the heldout table and runs.node (a version-1 store is upgraded)

QUEUED, RUNNING, DONE, DIVERGED, STOPPED, FAILED = (
    Status.QUEUED, Status.RUNNING, Status.DONE, Status.DIVERGED, Status.STOPPED, Status.FAILED
)
FINISHED = (DONE, DIVERGED, STOPPED)

_TABLES = ("meta", "runs", "metrics")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    cell TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    diverged_epoch INTEGER,
    started REAL,
    ended REAL,
    host TEXT,
    threads INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    node TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    cell TEXT NOT NULL REFERENCES runs(cell),
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell, epoch, name)
);
CREATE TABLE IF NOT EXISTS heldout (
    cell TEXT NOT NULL REFERENCES runs(cell),
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell, name)
);
"""


class SettingsMismatch(ValueError):
    """The output folder holds a sweep with other settings."""


class DamagedStore(ValueError):
    """The store's file is not a readable lab store (truncated, overwritten, emptied, or of a
    newer layout). Nothing was written to it."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(
            f"{path} is damaged ({what}); nothing was changed. Move it aside (or restore a "
            "copy) and run the sweep again to start over, or give another output folder"
        )
        self.path = path


class Store:
    """The SQLite file of one sweep (created if missing). Use as a context manager.

    An existing file is checked before anything is read or written: SQLite's own integrity
    check, the three tables, and the layout version; a damaged file raises `DamagedStore`.
    Writes are durable when they return (``synchronous=FULL``): a power cut after a run's end
    was recorded does not lose it.
    """

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        exists = self.path.exists()
        if readonly and not exists:
            raise FileNotFoundError(f"no sweep results at {self.path}")
        if exists and self.path.is_file() and self.path.stat().st_size == 0:
            raise DamagedStore(self.path, "the file is empty")
        if readonly:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        try:
            if exists:
                self._check()
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.executescript(_SCHEMA)
                columns = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
                if "node" not in columns:  # a version-1 store
                    self.db.execute("ALTER TABLE runs ADD COLUMN node TEXT")
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.DatabaseError as e:
            self.db.close()
            raise DamagedStore(self.path, str(e)) from e
        except BaseException:
            self.db.close()
            raise

    def _check(self) -> None:
        """Refuse a file that is not a whole lab store (raises DamagedStore)."""
        problems = [r[0] for r in self.db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise DamagedStore(self.path, "; ".join(problems[:3]))
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            raise DamagedStore(
                self.path, f"not a lab store: no table {', '.join(missing)}"
            )
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = int(row[0]) if row is not None else 1  # stores from before the version
        if version > SCHEMA_VERSION:
            raise DamagedStore(
                self.path, f"layout version {version}, written by a newer ndgrad (this one "
                f"reads {SCHEMA_VERSION})"
            )

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (as one self-contained file again, when this store wrote)."""
        if not self.readonly:
            # back to one self-contained file (WAL was for readers while the sweep ran); a
            # reader still attached keeps WAL on, which is just as safe
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA journal_mode=DELETE")
        self.db.close()

    # -- settings ---------------------------------------------------------------------------
    def settings(self) -> dict[str, Any] | None:
        """The sweep's recorded settings, or None before the first `claim`."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        return None if row is None else json.loads(row["value"])

    def claim(self, settings: Mapping[str, Any]) -> None:
        """Record the sweep's settings, or check they match those already recorded."""
        text = json.dumps(settings, sort_keys=True)
        stored = self.settings()
        if stored is None:
            self.db.execute("INSERT INTO meta VALUES ('settings', ?)", (text,))
            return
        if stored != json.loads(text):
            differ = sorted(
                k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k)
            )
            detail = ", ".join(
                f"{k}: stored {stored.get(k)!r}, now {settings.get(k)!r}" for k in differ
            )
            raise SettingsMismatch(
                f"{self.path} holds a sweep with other settings ({detail}); resume it with the "
                "same settings, or choose another output folder"
            )

    def machine(self) -> dict[str, Any] | None:
        """What the sweep's driver ran on (CPU model, processors), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'machine'").fetchone()
        return None if row is None else json.loads(row["value"])

    def note_machine(self, machine: Mapping[str, Any]) -> None:
        """Record what the driver runs on (see `machine`)."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('machine', ?)",
                        (json.dumps(dict(machine), sort_keys=True),))

    # -- runs -------------------------------------------------------------------------------
    def add(self, cells: Iterable[Cell]) -> None:
        """Queue the cells not stored yet (stored ones keep their status and metrics)."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR IGNORE INTO runs (cell, config, seed, status) VALUES (?, ?, ?, ?)",
                [(c.key, json.dumps(c.config), c.seed, QUEUED) for c in cells],
            )

    def todo(self, cells: Iterable[Cell], retry_failed: bool = False) -> list[Cell]:
        """The cells still to run: queued, or running when an earlier driver stopped (and
        failed ones with `retry_failed`), in the order given."""
        wanted = {QUEUED, RUNNING} | ({FAILED} if retry_failed else set())
        status = self.statuses()
        return [c for c in cells if status.get(c.key, QUEUED) in wanted]

    def statuses(self) -> dict[str, Status]:
        """Every stored run's status, by cell key."""
        return {
            r["cell"]: Status(r["status"]) for r in self.db.execute("SELECT cell, status FROM runs")
        }

    def start(
        self,
        key: str,
        host: str,
        started: float | None = None,
        threads: int | None = None,
        node: str | None = None,
        keep_metrics: bool = False,
    ) -> None:
        """A run begins (again): metrics of an unfinished earlier attempt are dropped, unless
        `keep_metrics` (a run continued past an early-stopping rung repeats its first epochs
        bit for bit, so what is stored stays true)."""
        with self.db:
            self._forget(key, keep_metrics)
            self.db.execute(
                "UPDATE runs SET status = ?, started = ?, ended = NULL, error = NULL, "
                "diverged_epoch = NULL, host = ?, threads = ?, node = ?, "
                "attempts = attempts + 1 WHERE cell = ?",
                (RUNNING, started or time.time(), host, threads, node, key),
            )

    def _forget(self, key: str, keep_metrics: bool) -> None:
        """Begin a transaction that drops what a run's unfinished attempt left: its held-out
        figures, and its metrics unless `keep_metrics`."""
        self.db.execute("BEGIN")
        if not keep_metrics:
            self.db.execute("DELETE FROM metrics WHERE cell = ?", (key,))
        self.db.execute("DELETE FROM heldout WHERE cell = ?", (key,))

    def record(self, key: str, epoch: int, metrics: Mapping[str, float]) -> None:
        """One epoch's metrics of a run, all or none."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)",
                [(key, epoch, name, float(v)) for name, v in metrics.items()],
            )

    def requeue(self, key: str, reason: str | None = None, keep_metrics: bool = False) -> None:
        """A run that will not end here (its worker died, the sweep was interrupted) goes
        back to the queue: its partial metrics are dropped (unless `keep_metrics`), its
        attempts kept."""
        with self.db:
            self._forget(key, keep_metrics)
            self.db.execute(
                "UPDATE runs SET status = ?, error = ?, ended = NULL, diverged_epoch = NULL "
                "WHERE cell = ?",
                (QUEUED, reason, key),
            )

    def finish(
        self,
        key: str,
        status: str,
        error: str | None = None,
        diverged_epoch: int | None = None,
        ended: float | None = None,
        test: Mapping[str, float] | None = None,
    ) -> None:
        """A run ended: its status, and its held-out `test` metrics if it was evaluated."""
        if status not in (DONE, DIVERGED, STOPPED, FAILED):
            raise ValueError(
                f"finish: status must be done, diverged, stopped or failed, not {status!r}"
            )
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "UPDATE runs SET status = ?, error = ?, diverged_epoch = ?, ended = ? "
                "WHERE cell = ?",
                (status, error, diverged_epoch, ended or time.time(), key),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO heldout VALUES (?, ?, ?)",
                [(key, name, float(v)) for name, v in (test or {}).items()],
            )

    def stop(self, key: str) -> None:
        """Early stopping ended this finished run at its rung: it stays as far as it got."""
        self.db.execute("UPDATE runs SET status = ? WHERE cell = ?", (STOPPED, key))

    # -- reading ----------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        """Every stored run as a dict of its columns (config decoded, status a `Status`), in
        the order they were added."""
        rows = self.db.execute("SELECT * FROM runs ORDER BY rowid").fetchall()
        out = []
        for r in rows:
            run = dict(r)
            run["config"] = json.loads(run["config"])
            run["status"] = Status(run["status"])
            out.append(run)
        return out

    def metrics(self, key: str | None = None) -> dict[str, dict[int, dict[str, float]]]:
        """``{cell: {epoch: {name: value}}}`` (one cell's with `key`)."""
        query = "SELECT * FROM metrics"
        args: tuple[str, ...] = ()
        if key is not None:
            query, args = query + " WHERE cell = ?", (key,)
        out: dict[str, dict[int, dict[str, float]]] = {}
        for r in self.db.execute(query + " ORDER BY cell, epoch, name", args):
            out.setdefault(r["cell"], {}).setdefault(r["epoch"], {})[r["name"]] = r["value"]
        return out

    def epochs_reached(self) -> dict[str, int]:
        """``{cell: the last epoch stored}`` for the runs with any metrics."""
        return dict(self.db.execute("SELECT cell, MAX(epoch) FROM metrics GROUP BY cell"))

    def heldout(self) -> dict[str, dict[str, float]]:
        """``{cell: {name: value}}``: the held-out test metrics of the runs evaluated."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        if "heldout" not in tables:  # a version-1 store, opened to read
            return {}
        out: dict[str, dict[str, float]] = {}
        for r in self.db.execute("SELECT * FROM heldout ORDER BY cell, name"):
            out.setdefault(r["cell"], {})[r["name"]] = r["value"]
        return out

    def export_csv(self, path: str | Path) -> Path:
        """One row per run and epoch: the config, seed, status and that epoch's metrics
        (one row with empty metrics for a run without any)."""
        runs, metrics = self.runs(), self.metrics()
        params = list(dict.fromkeys(k for r in runs for k in r["config"]))
        names = sorted({n for m in metrics.values() for e in m.values() for n in e})
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["cell", *params, "seed", "status", "diverged_epoch", "epoch", *names])
            for r in runs:
                head = [r["cell"], *(r["config"].get(p, "") for p in params), r["seed"]]
                head += [r["status"], r["diverged_epoch"] or ""]
                epochs = metrics.get(r["cell"], {})
                if not epochs:
                    w.writerow([*head, "", *([""] * len(names))])
                for epoch, values in sorted(epochs.items()):
                    w.writerow([*head, epoch, *(values.get(n, "") for n in names)])
        tmp.replace(path)
        return path
