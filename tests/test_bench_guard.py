"""The guard of `bench/run.py`: a run started under load, with CPU stolen or used by other
processes, or whose calibration drifted, is not a run of record and leaves RESULTS.md alone.

The runner is driven with fake readings (load average, /proc/stat, the workloads' reports):
nothing here times anything or starts a workload's process (the `--baseline` tests run git
to export HEAD)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load("run")
guard = run.guard

QUIET = guard.Calibration(sgemm_gflops=200.0, torch_small_op=0.040)
STAT = "cpu  8152 3 841 28626 145 7 97 5 11 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"


def _conditions(**kw) -> object:
    base = {
        "cores": 2,
        "cpu": "test CPU",
        "load_start": 0.1,
        "load_end": 1.9,
        "before": QUIET,
        "after": QUIET,
        "steal": 0.0,
        "foreign": 0.01,
    }
    return guard.Conditions(**{**base, **kw})


def test_a_quiet_machine_gives_a_run_of_record() -> None:
    assert guard.verdict(_conditions()) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"load_start": 0.51}, "load average at start 0.51 > 0.50"),
        ({"steal": 0.05}, "CPU steal during the run 5.0% > 2%"),
        ({"foreign": 0.25}, "other processes used 25.0% of the CPU time"),
        ({"steal": None, "foreign": None}, "not measured"),
        ({"after": guard.Calibration(178.0, 0.040)}, "sgemm 200 -> 178 GFLOP/s (11% > 10%)"),
        ({"after": guard.Calibration(200.0, 0.0445)}, "PyTorch small op 0.04 -> 0.0445"),
        ({"after": None}, "no calibration"),
        ({"partial": "a partial run (--quick)"}, "a partial run (--quick)"),
    ],
)
def test_each_threshold_refuses_the_label(change: dict, named: str) -> None:
    reasons = guard.verdict(_conditions(**change))
    assert len(reasons) == 1 and named in reasons[0], reasons


def test_a_drift_within_ten_percent_is_accepted() -> None:
    after = guard.Calibration(sgemm_gflops=181.0, torch_small_op=0.0435)
    assert guard.verdict(_conditions(after=after)) == []


def test_proc_stat_is_read_into_seconds_and_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard.os, "sysconf", lambda name: 100)
    t = guard.CpuTimes.read(STAT)
    assert t.busy == pytest.approx((8152 + 3 + 841 + 7 + 97) / 100)
    assert t.steal == pytest.approx(0.05)
    assert t.total == pytest.approx((8152 + 3 + 841 + 28626 + 145 + 7 + 97 + 5) / 100)
    # 10 s of machine time: 6 s busy of which 4 s were ours, 0.5 s stolen.
    later = guard.CpuTimes(t.busy + 6, t.steal + 0.5, t.total + 10, t.own + 4, t.wall + 5)
    steal, foreign = guard.shares(t, later)
    assert steal == pytest.approx(0.05) and foreign == pytest.approx(0.2)
    with pytest.raises(ValueError, match="/proc/stat"):
        guard.CpuTimes.read("intr 1 2 3\n")


def _fake_bench(monkeypatch: pytest.MonkeyPatch, load: float) -> list[tuple]:
    """Replace the load average, /proc/stat and the child processes with fixed readings."""
    calls = []

    def child(lib: str, workload: str, args, reps=None) -> dict:
        calls.append((lib, workload))
        seconds = 0.1 if workload == "sgemm" else 0.04
        info = {"version": "0", "numpy": "0", "kernels": True, "threads": "x2"}
        return {"times": [seconds] * 3, "loss": 1.0, "rss_mb": 100.0, "info": info}

    t0 = guard.CpuTimes(busy=100.0, steal=1.0, total=400.0, own=0.0, wall=0.0)
    readings = iter([t0, guard.CpuTimes(150.0, 1.0, 500.0, 49.0, 50.0)])
    monkeypatch.setattr(run, "child", child)
    monkeypatch.setattr(guard, "load_average", lambda: load)
    monkeypatch.setattr(guard.CpuTimes, "read", staticmethod(lambda stat=None: next(readings)))
    monkeypatch.setattr(guard.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name: None)  # no JAX column
    return calls


def test_a_run_started_under_load_is_printed_but_not_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _fake_bench(monkeypatch, load=1.7)
    out = tmp_path / "RESULTS.md"
    out.write_text("the last run of record\n")
    with pytest.raises(SystemExit) as stopped:
        run.main(["--rounds", "1", "--threads", "2", "--settle", "0", "--out", str(out)])
    assert stopped.value.code == 3
    assert out.read_text() == "the last run of record\n"
    printed = capsys.readouterr()
    assert "# Benchmarks: ndgrad against PyTorch (not a run of record)" in printed.out
    assert "| 1-minute load average | 1.70 |" in printed.out
    assert "1-minute load average at start 1.70 > 0.50" in printed.err
    assert f"{out} left unchanged" in printed.err


def test_a_quiet_run_is_written_with_its_load_and_calibration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _fake_bench(monkeypatch, load=0.2)
    out = tmp_path / "RESULTS.md"
    run.main(["--rounds", "1", "--threads", "2", "--settle", "0", "--out", str(out)])
    text = out.read_text()
    assert "- Run of record: yes" in text
    assert "| 1-minute load average | 0.20 | 0.20 |" in text
    assert "| calibration: sgemm 2048^3 (ndgrad's BLAS, GFLOP/s) | 172 | 172 |" in text
    assert "| calibration: PyTorch small op (s) | 0.0400 | 0.0400 |" in text
    assert "steal 0.0%, other processes 1.0%" in text
    # The calibration runs first and last, each number from its own process.
    cal = [("ndgrad", "sgemm"), ("torch", "small_op")]
    assert calls[:2] == cal and calls[-2:] == cal
    # The README test reads the table: one ratio row per workload.
    assert sum(f"| {w} |" in text for w in run.WORKLOADS) == len(run.WORKLOADS)


def test_a_baseline_revision_is_exported_and_timed_in_the_same_rounds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _fake_bench(monkeypatch, load=0.2)
    trees = []
    real_child = run.child

    def child(lib: str, workload: str, args, reps=None) -> dict:
        if lib == "baseline":  # the exported tree is a checkout: its own workloads and package
            tree = Path(args.baseline_tree)
            trees.append(tree)
            assert (tree / "bench" / "workloads.py").is_file()
            assert (tree / "ndgrad" / "__init__.py").is_file()
        report = real_child(lib, workload, args, reps)
        if lib == "baseline":
            report = {**report, "times": [0.08] * 3}  # twice as slow as this tree
        return report

    monkeypatch.setattr(run, "child", child)
    out = tmp_path / "RESULTS.md"
    with pytest.raises(SystemExit) as stopped:
        run.main(
            ["--rounds", "2", "--only", "small_op", "--settle", "0", "--baseline", "HEAD"]
            + ["--out", str(out)]
        )
    assert stopped.value.code == 3
    # Each of the two rounds times ndgrad, PyTorch and the baseline once, in turned order.
    timed = [lib for lib, w in calls[2:-2]]  # between the calibrations
    assert timed == ["ndgrad", "torch", "baseline", "baseline", "torch", "ndgrad"]
    assert len(trees) == 2 and not trees[0].exists()  # the export is removed afterwards
    assert not out.exists()  # a partial run (--only) is never a run of record


def test_the_baseline_columns_give_the_ratio_to_the_baseline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _fake_bench(monkeypatch, load=0.2)
    real_child = run.child

    def child(lib: str, workload: str, args, reps=None) -> dict:
        report = real_child(lib, workload, args, reps)
        return {**report, "times": [0.08] * 3} if lib == "baseline" else report

    monkeypatch.setattr(run, "child", child)
    with pytest.raises(SystemExit):
        run.main(["--rounds", "1", "--only", "small_op", "--settle", "0", "--baseline", "HEAD"])
    printed = capsys.readouterr().out
    assert "| baseline (s) | ndgrad / baseline |" in printed
    assert "| 0.0800 [0.0800-0.0800] | 0.50 |" in printed  # 0.04 s now against 0.08 s then
    assert "- Baseline: ndgrad at `HEAD` (commit " in printed


def test_an_unknown_baseline_revision_or_workload_is_refused() -> None:
    with pytest.raises(SystemExit, match="--baseline no-such-revision"):
        run.main(["--baseline", "no-such-revision", "--settle", "0"])
    with pytest.raises(SystemExit, match="unknown workload"):
        run.main(["--only", "nonsense", "--settle", "0"])


def test_each_ndgrad_process_imports_the_package_of_its_own_tree(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The "ndgrad" column times the checkout that holds bench/run.py, not whatever ndgrad is
    installed, and the baseline its exported tree: PYTHONPATH starts with the tree."""
    seen = []

    def fake_run(cmd, env, capture_output, text):
        seen.append((cmd[1], cmd[2], env["PYTHONPATH"].split(run.os.pathsep)[0]))
        line = '{"times": [1.0], "loss": 1.0, "rss_mb": 1.0, "info": {}}'
        return run.subprocess.CompletedProcess(cmd, 0, stdout=line + "\n", stderr="")

    monkeypatch.setattr(run.subprocess, "run", fake_run)
    tree = tmp_path / "tree"
    args = run.argparse.Namespace(threads=1, data=None, quick=False, baseline_tree=str(tree))
    run.child("ndgrad", "small_op", args)
    run.child("baseline", "small_op", args)
    assert seen == [
        (str(BENCH / "workloads.py"), "ndgrad", str(BENCH.parent)),
        (str(tree / "bench" / "workloads.py"), "ndgrad", str(tree)),
    ]
