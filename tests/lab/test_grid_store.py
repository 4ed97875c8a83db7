"""Grids, random samples, cell identity, and the SQLite store."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys

import pytest

from ndgrad.lab import Cell, Store, cells, grid, sample
from ndgrad.lab.grid import parse_values
from ndgrad.lab.store import SettingsMismatch


def test_grid_is_every_combination_first_key_slowest():
    configs = grid({"learning_rate": [1e-3, 1e-2], "momentum": [0.0, 0.5, 0.9]})
    assert len(configs) == 6
    assert configs[0] == {"learning_rate": 1e-3, "momentum": 0.0}
    assert configs[2] == {"learning_rate": 1e-3, "momentum": 0.9}
    assert configs[3] == {"learning_rate": 1e-2, "momentum": 0.0}


@pytest.mark.parametrize("space", [{}, {"lr": []}, {"lr": "0.1"}, {"lr": 0.1}])
def test_grid_refuses_empty_or_scalar_values(space):
    with pytest.raises(ValueError, match="parameter|at least one"):
        grid(space)


def test_sample_is_log_uniform_for_learning_rates_and_seeded():
    space = {"learning_rate": [1e-5, 1e-1], "momentum": [0.0, 0.9], "nesterov": [True, False]}
    configs = sample(space, 400, seed=3)
    assert configs == sample(space, 400, seed=3)
    assert configs != sample(space, 400, seed=4)
    lrs = [c["learning_rate"] for c in configs]
    assert all(1e-5 <= v <= 1e-1 for v in lrs)
    # log-uniform: about a quarter of the samples in each decade; uniform would put ~90%
    # of them in the last decade
    in_first_decade = sum(v < 1e-4 for v in lrs) / len(lrs)
    assert 0.15 < in_first_decade < 0.35
    moms = [c["momentum"] for c in configs]
    assert 0.3 < sum(m < 0.45 for m in moms) / len(moms) < 0.7  # linear scale
    assert {c["nesterov"] for c in configs} == {True, False}


def test_cells_have_content_keys_stable_across_processes():
    a = Cell({"learning_rate": 0.001, "momentum": 0.9}, 1)
    b = Cell({"momentum": 0.9, "learning_rate": 1e-3}, 1)  # same content, other order
    assert a.key == b.key and len(a.key) == 16
    assert a.key != Cell({"learning_rate": 0.001, "momentum": 0.9}, 2).key
    assert a.key != Cell({"learning_rate": 0.001, "momentum": 0.5}, 1).key
    code = (
        "from ndgrad.lab import Cell; "
        "c = Cell({'learning_rate': 0.001, 'momentum': 0.9}, 1); print(c.key, c.random_seed(7))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"})
    assert other.stdout.split() == [a.key, str(a.random_seed(7))]
    assert a.random_seed(7) != a.random_seed(8)
    assert a.label() == "learning_rate=0.001 momentum=0.9 seed=1"


def test_cells_and_parse_values():
    assert [c.seed for c in cells([{"a": 1}, {"a": 2}], 2)] == [0, 1, 0, 1]
    assert [c.seed for c in cells([{"a": 1}], [5, 7])] == [5, 7]
    with pytest.raises(ValueError, match="seed"):
        cells([{"a": 1}], [])
    assert parse_values("1e-3, 3e-3,0,2") == [0.001, 0.003, 0, 2]
    assert parse_values("true,adam") == [True, "adam"]
    with pytest.raises(ValueError, match="empty value"):
        parse_values("1e-3,,2")


def test_store_lifecycle_resume_and_csv(tmp_path):
    path = tmp_path / "lab.sqlite"
    todo = cells([{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}], 1)
    with Store(path) as db:
        db.claim({"epochs": 2})
        db.add(todo)
        assert db.todo(todo) == todo
        db.start(todo[0].key, host="h1", started=1.0)
        db.record(todo[0].key, 1, {"loss": 0.5, "val_accuracy": 0.8})
        db.record(todo[0].key, 2, {"loss": 0.25, "val_accuracy": 0.9})
        db.finish(todo[0].key, "done", ended=2.0)
        db.start(todo[1].key, host="h2")
        db.record(todo[1].key, 1, {"loss": 9.0})  # the driver "dies" here
        db.start(todo[2].key, host="h1")
        db.finish(todo[2].key, "failed", error="Traceback...\nValueError: boom")
        # a second reader while the writer is open (WAL)
        reader = sqlite3.connect(path)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert reader.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 5
        reader.close()
    with Store(path) as db:
        db.claim({"epochs": 2})
        db.add(todo)  # re-adding keeps statuses
        assert [c.key for c in db.todo(todo)] == [todo[1].key]
        assert [c.key for c in db.todo(todo, retry_failed=True)] == [todo[1].key, todo[2].key]
        db.start(todo[1].key, host="h3", threads=2)  # run again: the partial metrics go
        assert db.metrics(todo[1].key) == {}
        runs = {r["cell"]: r for r in db.runs()}
        assert runs[todo[1].key]["attempts"] == 2 and runs[todo[0].key]["attempts"] == 1
        assert runs[todo[1].key]["threads"] == 2 and runs[todo[1].key]["host"] == "h3"
        assert runs[todo[0].key]["status"] == "done" and runs[todo[0].key]["host"] == "h1"
        assert runs[todo[2].key]["error"].endswith("ValueError: boom")
        assert db.metrics()[todo[0].key] == {1: {"loss": 0.5, "val_accuracy": 0.8},
                                             2: {"loss": 0.25, "val_accuracy": 0.9}}
        with pytest.raises(SettingsMismatch, match=r"epochs: stored 2, now 3"):
            db.claim({"epochs": 3})
        with pytest.raises(ValueError, match="status"):
            db.finish(todo[1].key, "running")
        out = db.export_csv(tmp_path / "results.csv")
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows if r["cell"] == todo[0].key] == ["1", "2"]
    assert {r["status"] for r in rows} == {"done", "running", "failed"}
    assert rows[1]["val_accuracy"] == "0.9" and rows[0]["lr"] == "0.1"


def test_readonly_store_needs_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep results"):
        Store(tmp_path / "missing.sqlite", readonly=True)
