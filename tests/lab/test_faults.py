"""What a laptop or a cluster does to a sweep, one fault at a time, with real processes and
real signals: a second driver, a worker killed, the driver killed, Ctrl-C, a damaged store,
an empty store, missing extras, bad values, `--subset`, text that is not ours in the report,
and durable commits."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ndgrad.cli import main
from ndgrad.lab import InlineExecutor, LocalExecutor, Store, SweepResult, sweep
from ndgrad.lab.lock import DriverLock, StoreBusy
from ndgrad.lab.mnist import mnist_data
from ndgrad.lab.store import DamagedStore

from .builds import KillsItsWorker
from .conftest import GRID


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ndgrad.cli", "lab", *args]


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != b"Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    out.add(pid)
        except OSError:
            pass
    return out


def _statuses(out: Path) -> dict[str, str]:
    try:
        with Store(out / "lab.sqlite", readonly=True) as db:
            return {k: str(v) for k, v in db.statuses().items()}
    except Exception:  # not created yet, or being created
        return {}


def _wait_for(condition, timeout: float = 300, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _lab(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["lab", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


SWEEP_ARGS = ("--lr", "1e-3,3e-3", "--momentum", "0,0.5,0.9", "--epochs", "3",
              "--subset", "1000", "--workers", "2", "--no-report")


# -- 1. one driver per store -----------------------------------------------------------------

def test_a_second_driver_on_the_same_folder_is_refused_naming_the_first(tmp_path, mnist_npz):
    out = tmp_path / "sweep"
    args = _cmd("rmsprop", *SWEEP_ARGS, "--data", mnist_npz, "--out", str(out))
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: "running" in _statuses(out).values(), what="a running cell")
        second = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr
        assert f"is in use by another sweep driver (pid {first.pid} on " in lines[0]
        assert "--out" in lines[0] and "wait for it" in lines[0]
        assert first.wait(timeout=600) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with Store(out / "lab.sqlite", readonly=True) as db:
        runs, metrics = db.runs(), db.metrics()
    assert len(runs) == 6 and {r["status"] for r in runs} == {"done"}
    assert all(r["attempts"] == 1 for r in runs)  # nothing ran twice
    assert all(sorted(m) == [1, 2, 3] for m in metrics.values())


def test_the_lock_is_the_kernels_and_readers_do_not_take_it(tmp_path, data):
    with DriverLock(tmp_path), pytest.raises(StoreBusy, match=rf"pid {os.getpid()} on "):
        sweep(KillsItsWorker(str(tmp_path), victim=-1.0), GRID, data=data,
              executor=InlineExecutor(), store=tmp_path, progress=False)
    result = sweep(lambda c, report: report(1, {"loss": 1.0}), {"learning_rate": [0.1]},
                   executor=InlineExecutor(), store=tmp_path / "b", progress=False)
    with DriverLock(tmp_path / "b"):  # a reader while a driver holds the folder
        assert SweepResult.load(tmp_path / "b").counts()["done"] == 1
    assert result.counts()["done"] == 1
    # a driver killed with the lock held leaves no stale lock: the kernel releases it
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from ndgrad.lab.lock import DriverLock; "
         f"DriverLock({str(tmp_path / 'c')!r}).acquire(); print('held', flush=True); "
         "time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy, match=f"pid {holder.pid}"):
            DriverLock(tmp_path / "c").acquire()
        holder.kill()
        holder.wait()
        with DriverLock(tmp_path / "c"):
            pass
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


# -- 2. supervised workers -------------------------------------------------------------------

SIX = {"learning_rate": [1e-3, 2e-3, 3e-3], "momentum": [0.0, 0.9]}


def test_a_killed_worker_costs_only_its_own_run(tmp_path, data):
    build = KillsItsWorker(str(tmp_path), victim=2e-3)
    stream = io.StringIO()
    result = sweep(build, SIX, data=data, epochs=2, batch_size=64, executor=LocalExecutor(2),
                   store=tmp_path / "out", stream=stream)
    assert len(list(tmp_path.glob("died-*"))) == 1
    assert result.counts()["done"] == 6 and len(result.runs) == 6
    attempts = sorted(r["attempts"] for r in result.runs)
    assert attempts == [1, 1, 1, 1, 1, 2]  # the victim's run, tried again; the rest once
    assert all(len(r["history"]["loss"]) == 2 for r in result.runs)
    assert "queued again (worker died: signal 9 (SIGKILL); attempt 2 of 2 next)" in (
        stream.getvalue())


def test_a_run_whose_worker_always_dies_fails_with_the_reason(tmp_path, data):
    build = KillsItsWorker(str(tmp_path), victim=2e-3, always=True)
    result = sweep(build, SIX, data=data, epochs=1, batch_size=64,
                   executor=LocalExecutor(2, max_attempts=2), store=tmp_path / "out",
                   progress=False)
    by_lr: dict[float, list] = {}
    for r in result.runs:
        by_lr.setdefault(r["config"]["learning_rate"], []).append(r)
    victims = by_lr.pop(2e-3)
    assert {r["status"] for r in victims} == {"failed"}
    assert all(r["error"] == "worker died: signal 9 (SIGKILL) (attempt 2 of 2)"
               and r["attempts"] == 2 for r in victims)
    others = [r for runs in by_lr.values() for r in runs]
    assert {r["status"] for r in others} == {"done"} and len(others) == 4
    # a plain rerun leaves the failed ones failed; --retry-failed tries them again
    plain = sweep(build, SIX, data=data, epochs=1, batch_size=64, store=tmp_path / "out",
                  executor=LocalExecutor(2, max_attempts=1), progress=False)
    assert {r["cell"]: r["attempts"] for r in plain.runs} == {
        r["cell"]: r["attempts"] for r in result.runs}
    again = sweep(build, SIX, data=data, epochs=1, batch_size=64, store=tmp_path / "out",
                  executor=LocalExecutor(2, max_attempts=1), progress=False,
                  retry_failed=True)
    assert again.counts()["failed"] == 2 and again.counts()["done"] == 4
    assert sorted(r["attempts"] for r in again.runs if r["status"] == "failed") == [3, 3]


def test_the_command_exits_1_when_a_run_failed(tmp_path, mnist_npz, capsys, monkeypatch):
    from ndgrad.lab import executors, mnist

    real = mnist.MnistBuild.__call__

    def fragile(self, config):
        if config["momentum"] == 0.9:
            raise RuntimeError("no momentum 0.9 here")
        return real(self, config)

    monkeypatch.setattr(mnist.MnistBuild, "__call__", fragile)
    monkeypatch.setattr(executors, "LocalExecutor",
                        lambda workers=None, max_attempts=2: InlineExecutor())
    code, out, err = _lab(capsys, "rmsprop", "--lr", "1e-3", "--momentum", "0,0.9",
                          "--epochs", "1", "--subset", "200", "--data", mnist_npz,
                          "--out", str(tmp_path / "o"), "--no-report")
    assert code == 1, err
    assert "Failed: momentum=0.9: RuntimeError: no momentum 0.9 here." in out
    assert "1 run(s) failed" in err


# -- 3. workers die with their driver ------------------------------------------------------------

def test_killing_the_driver_leaves_no_worker_behind(tmp_path, mnist_npz):
    out = tmp_path / "sweep"
    driver = subprocess.Popen(_cmd("rmsprop", *SWEEP_ARGS, "--data", mnist_npz, "--out",
                                   str(out)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: "running" in _statuses(out).values(), what="a running cell")
        family = _children(driver.pid)
        assert len(family) >= 2  # the workers (and multiprocessing's resource tracker)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        _wait_for(lambda: not _alive(family), timeout=10, what=f"{_alive(family)} to end")
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    # and the same command resumes
    again = subprocess.run(_cmd("rmsprop", *SWEEP_ARGS, "--data", mnist_npz, "--out",
                                str(out)), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert set(_statuses(out).values()) == {"done"}


# -- 4. Ctrl-C -------------------------------------------------------------------------------------

def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path, mnist_npz):
    out = tmp_path / "sweep"
    args = _cmd("rmsprop", *SWEEP_ARGS, "--data", mnist_npz, "--out", str(out))
    # its own process group, as a terminal's foreground job: Ctrl-C reaches every process
    driver = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        _wait_for(lambda: list(_statuses(out).values()).count("done") >= 1
                  and "running" in _statuses(out).values(), what="a done and a running cell")
        family = _children(driver.pid)
        os.killpg(driver.pid, signal.SIGINT)
        stdout, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert driver.returncode == 130, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    last = stdout.strip().splitlines()[-1]
    statuses = _statuses(out)
    done = sum(s == "done" for s in statuses.values())
    assert last == (f"sweep interrupted: {done} done, {6 - done} left; run the same command "
                    "to resume")
    assert 1 <= done < 6 and set(statuses.values()) <= {"done", "queued"}
    _wait_for(lambda: not _alive(family), timeout=10, what="the workers to end")
    with Store(out / "lab.sqlite", readonly=True) as db:
        metrics, runs = db.metrics(), db.runs()
    for r in runs:  # whole runs or nothing
        assert sorted(metrics.get(r["cell"], {})) == ([1, 2, 3] if r["status"] == "done" else [])
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{done} already finished" in again.stdout
    assert set(_statuses(out).values()) == {"done"}


def test_an_inline_sweep_stops_at_the_next_epoch_on_ctrl_c(tmp_path):
    from ndgrad.lab.sweep import SweepInterrupted

    def train(config, report):
        for epoch in range(1, 4):
            if config["learning_rate"] == 0.2 and epoch == 2:
                os.kill(os.getpid(), signal.SIGINT)
            report(epoch, {"loss": 1.0 / epoch})

    stream = io.StringIO()
    with pytest.raises(SweepInterrupted) as e:
        sweep(train, {"learning_rate": [0.1, 0.2, 0.3]}, epochs=3, executor=InlineExecutor(),
              store=tmp_path, stream=stream)
    assert (e.value.finished, e.value.left) == (1, 2)
    assert stream.getvalue().splitlines()[-1] == (
        "sweep interrupted: 1 done, 2 left; run the same command to resume")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    with Store(tmp_path / "lab.sqlite", readonly=True) as db:
        statuses, metrics = db.statuses(), db.metrics()
    assert sorted(statuses.values()) == ["done", "queued", "queued"]
    assert len(metrics) == 1  # the cut run's first epoch is gone with it

    def steady(config, report):
        for epoch in range(1, 4):
            report(epoch, {"loss": 1.0 / epoch})

    # the same sweep resumes (a new build would be refused: other settings)
    train.__code__ = steady.__code__
    result = sweep(train, {"learning_rate": [0.1, 0.2, 0.3]}, epochs=3,
                   executor=InlineExecutor(), store=tmp_path, progress=False)
    assert result.counts()["done"] == 3


# -- 5. a damaged store ---------------------------------------------------------------------------

def _small_store(out: Path) -> None:
    def train(config, report):
        for epoch in (1, 2):
            report(epoch, {"loss": config["learning_rate"] / epoch, "val_accuracy": 0.5})

    sweep(train, {"learning_rate": [0.1 * k for k in range(1, 41)]}, epochs=2,
          executor=InlineExecutor(), store=out, progress=False)


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "emptied", "not a lab store",
                                    "newer layout"])
def test_a_damaged_store_is_refused_in_one_line_and_left_as_it_was(
        tmp_path, capsys, mnist_npz, damage):
    out = tmp_path / "sweep"
    _small_store(out)
    path = out / "lab.sqlite"
    if damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
    elif damage == "overwritten":
        data = bytearray(path.read_bytes())
        data[:100] = b"x" * 100  # the header, as a stray write would
        path.write_bytes(bytes(data))
    elif damage == "emptied":
        path.write_bytes(b"")
    elif damage == "not a lab store":
        path.unlink()
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE other (x)")
        db.commit()
        db.close()
    else:
        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
        db.commit()
        db.close()
    before = path.read_bytes()
    for args in (["report", str(out)],
                 ["rmsprop", "--lr", "1e-3", "--momentum", "0", "--epochs", "1", "--subset",
                  "100", "--data", mnist_npz, "--out", str(out), "--no-report"]):
        code, _, err = _lab(capsys, *args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ndgrad lab: error: "), lines
        assert f"{path} is damaged (" in lines[0] and "nothing was changed" in lines[0]
        assert path.read_bytes() == before
    with pytest.raises(DamagedStore):
        Store(path)


def test_commits_are_durable_and_the_store_records_its_layout(tmp_path):
    with Store(tmp_path / "lab.sqlite") as db:
        assert db.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "2"
    # closed by its writer, the store is one self-contained file again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.sqlite"]


def test_a_store_of_the_first_layout_is_read_and_upgraded(tmp_path):
    path = tmp_path / "lab.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE runs (cell TEXT PRIMARY KEY, config TEXT NOT NULL, seed INTEGER NOT NULL,
            status TEXT NOT NULL, error TEXT, diverged_epoch INTEGER, started REAL, ended REAL,
            host TEXT, threads INTEGER, attempts INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE metrics (cell TEXT NOT NULL, epoch INTEGER NOT NULL, name TEXT NOT NULL,
            value REAL, PRIMARY KEY (cell, epoch, name));
        INSERT INTO meta VALUES ('settings', '{"epochs": 1}');
        INSERT INTO runs (cell, config, seed, status) VALUES ('c1', '{"learning_rate": 0.1}', 0,
            'done');
        INSERT INTO metrics VALUES ('c1', 1, 'loss', 0.5);
    """)
    db.commit()
    db.close()
    result = SweepResult.load(tmp_path)  # read as it is
    assert result.runs[0]["status"] == "done" and result.runs[0]["test"] == {}
    with Store(path) as store:  # opened to write: upgraded in place, nothing lost
        assert store.metrics() == {"c1": {1: {"loss": 0.5}}}
        assert store.runs()[0]["node"] is None and store.heldout() == {}


# -- 6. empty stores and metrics -------------------------------------------------------------------

def test_reporting_an_empty_store_or_an_unknown_metric_is_one_line(tmp_path, capsys):
    Store(tmp_path / "empty" / "lab.sqlite").close()
    code, _, err = _lab(capsys, "report", str(tmp_path / "empty"))
    assert code == 2 and err.strip() == (
        f"ndgrad lab: error: {tmp_path / 'empty'} holds no runs yet: nothing to report")
    _small_store(tmp_path / "s")
    code, _, err = _lab(capsys, "report", str(tmp_path / "s"), "--metric", "bogus")
    assert code == 2 and err.strip() == (
        f"ndgrad lab: error: no metric 'bogus' in {tmp_path / 's'}; its runs stored loss, "
        "val_accuracy")
    assert not (tmp_path / "s" / "report.html").exists()
    code, _, err = _lab(capsys, "report", str(tmp_path / "s"), "--metric", "loss")
    assert code == 0 and (tmp_path / "s" / "report.html").exists()
    with pytest.raises(SystemExit) as e:
        main(["lab", "rmsprop", "--metric", "bogus"])
    assert e.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err


# -- 6. missing extras, before the first run ----------------------------------------------------

@pytest.mark.parametrize("module, extra_args", [
    ("threadpoolctl", []), ("matplotlib", []), ("ray", ["--ray"]),
    ("tensorboardX", ["--tensorboard"]),
])
def test_a_missing_extra_is_named_before_anything_runs(
        tmp_path, capsys, monkeypatch, mnist_npz, module, extra_args):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    out = tmp_path / "never"
    code, _, err = _lab(capsys, "rmsprop", "--lr", "1e-3", "--momentum", "0", "--subset",
                        "100", "--data", mnist_npz, "--out", str(out), *extra_args)
    assert code == 2
    assert err.strip().startswith(f"ndgrad lab: error: this command needs {module}, which is "
                                  "not installed")
    assert "pip install 'ndgrad[" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_report_without_matplotlib_exits_2(tmp_path, capsys, monkeypatch):
    _small_store(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = _lab(capsys, "report", str(tmp_path), "--metric", "loss")
    assert code == 2 and "needs matplotlib" in err


# -- 7. values checked before anything runs -------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["rmsprop", "--lr", "nan"], "--lr: learning_rate must be a finite number in (0, inf). "
                                 "Received nan"),
    (["rmsprop", "--lr=-1"], "--lr: learning_rate must be a finite number in (0, inf). "
                             "Received -1.0"),
    (["rmsprop", "--lr", "inf"], "--lr: learning_rate must be a finite number"),
    (["rmsprop", "--momentum", "5"], "--momentum: momentum must be a finite number in [0, 1). "
                                     "Received 5.0"),
    (["rmsprop", "--momentum", "1"], "--momentum: momentum must be a finite number in [0, 1)"),
    (["rmsprop", "--rho", "-0.5"], "--rho: rho must be a finite number in [0, 1)"),
    (["sweep", "--optimizer", "adam", "--param", "beta_2=1.5"],
     "--param beta_2: beta_2 must be a finite number in [0, 1)"),
    (["sweep", "--optimizer", "sgd", "--param", "nesterov=maybe"], "--param nesterov: "),
    (["sweep", "--optimizer", "nadam", "--param", "learning_rate=1"], "--optimizer: "),
])
def test_bad_values_are_refused_before_anything_runs(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    code, _, err = _lab(capsys, *args, "--out", str(out))
    assert code == 2, err
    assert err.strip().startswith("ndgrad lab: error: " + message), err
    assert not out.exists()


# -- 7. --subset as documented -------------------------------------------------------------

def test_subset_means_n_training_and_n_over_5_validation_images(mnist_npz):
    data, _, notes = mnist_data(mnist_npz, 1000)
    assert (len(data.x_train), len(data.x_val), notes) == (1000, 200, [])
    data, _, notes = mnist_data(mnist_npz, 3000)
    assert (len(data.x_train), len(data.x_val), notes) == (3000, 600, [])
    for n in (4000, 100_000):  # more than the 4,000 images there are: capped, with a note
        data, _, notes = mnist_data(mnist_npz, n)
        assert (len(data.x_train), len(data.x_val)) == (3334, 666)
        assert notes == [f"--subset {n} asks for {n} training and {n // 5} validation images; "
                         "the data hold 4000 in all: using 3334 and 666"]


# -- 8. the report escapes what it did not write ------------------------------------------------

def _descend(config, report):
    for epoch in (1, 2):
        report(epoch, {"loss": 1.0 / (epoch + len(str(config["tag"])))})


def test_the_report_escapes_text_it_did_not_write(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    evil = "<script>alert(1)</script>"
    result = sweep(_descend, {"tag": [evil, "$\\foo$", "50% & $x$"]}, epochs=2,
                   executor=InlineExecutor(), store=tmp_path, progress=False,
                   settings={evil: "<b>x</b>", "note": "a & b"})
    for _ in range(2):  # written by the sweep's result, then again by `lab report`
        page = result.report(metric="loss").read_text()
        assert "<script>" not in page and "<b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;=&lt;b&gt;x&lt;/b&gt;" in page
        assert "$\\foo$" in page and "a &amp; b" in page
        (tmp_path / "report.html").unlink()
        code, _, err = _lab(capsys, "report", str(tmp_path), "--metric", "loss")
        assert code == 0, err


def test_pictures_show_dollar_signs_literally(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from ndgrad.lab import report

    result = sweep(_descend, {"tag": ["$\\foo$", "$x^2$"]}, epochs=2,
                   executor=InlineExecutor(), store=tmp_path, progress=False)
    seen: list[str] = []
    real = matplotlib.figure.Figure.savefig

    def spy(fig, *args, **kwargs):
        for text in fig.findobj(matplotlib.text.Text):
            if "$" in text.get_text():
                assert not text._parse_math, text.get_text()  # shown as written
                seen.append(text.get_text())
        return real(fig, *args, **kwargs)

    matplotlib.figure.Figure.savefig = spy
    try:
        report.heatmap(result, tmp_path / "h.png", metric="loss")
        report.curves(result, tmp_path / "c.png", metrics=("loss",))
    finally:
        matplotlib.figure.Figure.savefig = real
    assert "$\\foo$" in seen and "tag=$x^2$" in seen
    assert matplotlib.rcParams["text.parse_math"]  # the user's own setting is untouched


def test_on_ray_a_killed_worker_costs_only_its_own_run(tmp_path, data):
    ray = pytest.importorskip("ray", reason="Ray is in the dev extra; installed by make test")
    from ndgrad.lab import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        build = KillsItsWorker(str(tmp_path), victim=2e-3)
        result = sweep(build, SIX, data=data, epochs=1, batch_size=64,
                       executor=RayExecutor(), store=tmp_path / "once", progress=False)
        assert result.counts()["done"] == 6
        assert sorted(r["attempts"] for r in result.runs) == [1, 1, 1, 1, 1, 2]
        node = ray.get_runtime_context().get_node_id()
        assert {r["node"] for r in result.runs} == {node}  # the Ray node of each run
        always = KillsItsWorker(str(tmp_path), victim=2e-3, always=True)
        result = sweep(always, SIX, data=data, epochs=1, batch_size=64,
                       executor=RayExecutor(max_attempts=2), store=tmp_path / "always",
                       progress=False)
        failed = [r for r in result.runs if r["status"] == "failed"]
        assert len(failed) == 2 and result.counts()["done"] == 4
        assert all(r["error"].startswith("worker died: ") and r["attempts"] == 2
                   for r in failed)
    finally:
        ray.shutdown()
