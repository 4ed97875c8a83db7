"""`ndgrad lab` as a user runs it: a sweep killed mid-way resumes without redoing or losing
anything, `verify` reproduces a cell, random search, errors as one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ndgrad.lab import Store, SweepResult


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ndgrad.cli", "lab", *args]


def _snapshot(db_path):
    with Store(db_path, readonly=True) as db:
        return {r["cell"]: r for r in db.runs()}, db.metrics()


def test_a_killed_sweep_resumes_without_redoing_or_losing_runs(tmp_path, mnist_npz):
    out = tmp_path / "sweep"
    args = _cmd("rmsprop", "--lr", "1e-3,3e-3", "--momentum", "0,0.9", "--seeds", "3",
                "--epochs", "2", "--subset", "600", "--workers", "1", "--data", mnist_npz,
                "--out", str(out), "--no-report")
    driver = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    db_path = out / "lab.sqlite"
    deadline = time.monotonic() + 600
    done = 0
    try:
        while time.monotonic() < deadline and driver.poll() is None:
            if db_path.exists():
                try:
                    runs, _ = _snapshot(db_path)
                except Exception:  # the driver is creating the file
                    runs = {}
                done = sum(r["status"] == "done" for r in runs.values())
                if done >= 2:
                    break
            time.sleep(0.02)
        assert driver.poll() is None, "the sweep ended before it could be killed"
        os.kill(driver.pid, signal.SIGKILL)  # the driver only: its worker is orphaned
        driver.wait()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    before_runs, before_metrics = _snapshot(db_path)
    finished = {k for k, r in before_runs.items() if r["status"] == "done"}
    assert 2 <= len(finished) < 12
    assert all(len(before_metrics[k]) == 2 for k in finished)

    again = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert f"{len(finished)} already finished" in again.stdout
    after_runs, after_metrics = _snapshot(db_path)
    assert len(after_runs) == 12 and {r["status"] for r in after_runs.values()} == {"done"}
    for key in finished:  # not run again, and nothing of theirs lost or changed
        assert after_runs[key]["attempts"] == 1
        assert after_runs[key]["started"] == before_runs[key]["started"]
        assert after_metrics[key] == before_metrics[key]
    assert all(len(after_metrics[k]) == 2 and len(after_metrics[k][2]) == 5
               for k in after_runs)
    interrupted = [k for k, r in before_runs.items() if r["status"] == "running"]
    assert all(after_runs[k]["attempts"] == 2 for k in interrupted)

    # verify re-runs one stored cell and finds it identical ...
    cell = sorted(finished)[0]
    check = subprocess.run(_cmd("verify", str(out), cell[:8]), capture_output=True, text=True,
                           timeout=600)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "identical" in check.stdout
    # ... and reports a stored metric that the run does not reproduce
    import sqlite3

    db = sqlite3.connect(db_path)
    db.execute("UPDATE metrics SET value = value + 0.5 WHERE cell = ? AND epoch = 2 "
               "AND name = 'val_accuracy'", (cell,))
    db.commit()
    db.close()
    check = subprocess.run(_cmd("verify", str(out), cell), capture_output=True, text=True,
                           timeout=600)
    assert check.returncode == 1
    assert "1 difference(s)" in check.stdout and "epoch 2 val_accuracy: stored" in check.stdout


def test_random_search_report_and_user_errors(tmp_path, mnist_npz):
    out = tmp_path / "random"
    run = subprocess.run(
        _cmd("sweep", "--optimizer", "adam", "--param", "learning_rate=1e-4,1e-2",
             "--param", "beta_1=0.8,0.95", "--random", "3", "--epochs", "1", "--subset", "200",
             "--workers", "2", "--data", mnist_npz, "--out", str(out)),
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr
    assert "sweep: 3 config(s) x 1 seed(s) = 3 runs" in run.stdout
    assert "The best configuration is" in run.stdout and "report:" in run.stdout
    result = SweepResult.load(out)
    lrs = [r["config"]["learning_rate"] for r in result.runs]
    assert len(set(lrs)) == 3 and all(1e-4 <= v <= 1e-2 for v in lrs)
    assert (out / "report.html").exists() and (out / "heatmap.png").exists()
    (out / "report.html").unlink()
    redo = subprocess.run(_cmd("report", str(out)), capture_output=True, text=True, timeout=600)
    assert redo.returncode == 0 and (out / "report.html").exists()

    for args, message in [
        (["sweep", "--optimizer", "adam", "--param", "beta_9=1"], "adam has no parameter 'beta_9'"),
        (["sweep", "--optimizer", "adam"], "at least one --param"),
        (["rmsprop", "--lr", "1e-3,,1"], "--lr: empty value"),
        (["verify", str(out), "ffffffff"], "no cell in"),
        (["rmsprop", "--epochs", "2", "--out", str(out), "--data", mnist_npz,
          "--subset", "200"], "other settings"),
    ]:
        bad = subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=600)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        lines = bad.stderr.strip().splitlines()
        assert lines[-1].startswith("ndgrad lab: error: ") and message in lines[-1], lines
        assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("argv", [["lab", "rmsprop", "--help"], ["lab", "sweep", "--help"]])
def test_help_lists_the_options(argv, capsys):
    from ndgrad.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    text = capsys.readouterr().out
    for option in ("--seeds", "--epochs", "--batch-size", "--data", "--subset", "--workers",
                   "--ray", "--random", "--retry-failed", "--tensorboard", "--out"):
        assert option in text
