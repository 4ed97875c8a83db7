"""Sweeps end to end on real MNIST digits: local processes and Ray give the same metrics, the
store and CSV are complete, failures and divergence are recorded, pictures and report."""

from __future__ import annotations

import csv
import io
import math
from html.parser import HTMLParser

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.lab import LocalExecutor, RayExecutor, Store, SweepResult, sweep
from ndgrad.lab.events import Ended, EpochEnded, Requeued, Started, Status
from ndgrad.lab.progress import Progress, duration

from .conftest import BUILD, GRID, finals

METRICS = {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}


@pytest.fixture(scope="module")
def local(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("local")
    stream = io.StringIO()
    result = sweep(BUILD, GRID, seeds=2, data=data, epochs=1, batch_size=64,
                   executor=LocalExecutor(2), store=out, stream=stream)
    return result, stream.getvalue()


def test_local_sweep_stores_every_run_and_epoch(local):
    result, printed = local
    assert result.counts()["done"] == 8 and len(result.runs) == 8
    assert printed.startswith("sweep: 4 config(s) x 2 seed(s) = 8 runs of 1 epoch(s); 8 to run")
    assert "2 local worker process(es), 1 BLAS thread(s) each" in printed
    assert "sweep finished: 8 done" in printed
    with Store(result.out / "lab.sqlite", readonly=True) as db:
        runs, metrics = db.runs(), db.metrics()
    assert {r["status"] for r in runs} == {"done"}
    assert all(r["attempts"] == 1 and r["host"] and r["ended"] >= r["started"] for r in runs)
    assert len(metrics) == 8
    assert all(set(m) == {1} and set(m[1]) == METRICS for m in metrics.values())
    assert all(0 <= m[1]["val_accuracy"] <= 1 and math.isfinite(m[1]["loss"])
               for m in metrics.values())
    with open(result.out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {r["cell"] for r in rows} == set(metrics)
    assert {(float(r["learning_rate"]), float(r["momentum"])) for r in rows} == {
        (lr, m) for lr in GRID["learning_rate"] for m in GRID["momentum"]}


def test_seeds_differ_and_configs_learn(local):
    result, _ = local
    f = finals(result)
    cfg = tuple(sorted({"learning_rate": 1e-3, "momentum": 0.0}.items()))
    assert f[cfg, 0] != f[cfg, 1]  # each seed its own initial weights and shuffling
    assert all(v["val_accuracy"] > 0.3 for v in f.values())  # ten classes: chance is 0.1


def test_a_cell_gives_the_same_metrics_whatever_the_worker_count(local, tmp_path, data):
    one = sweep(BUILD, GRID, seeds=2, data=data, epochs=1, batch_size=64,
                executor=LocalExecutor(1, threads=1), store=tmp_path, progress=False)
    assert {r["threads"] for r in one.runs} == {1}
    assert finals(one) == finals(local[0])


def test_ray_gives_the_metrics_of_local_processes(local, tmp_path, data):
    ray = pytest.importorskip("ray", reason="Ray is in the dev extra; installed by make test")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        stream = io.StringIO()
        result = sweep(BUILD, GRID, seeds=2, data=data, epochs=1, batch_size=64,
                       executor=RayExecutor(), store=tmp_path, stream=stream)
    finally:
        ray.shutdown()
    assert "Ray tasks on a local Ray instance" in stream.getvalue()
    assert result.counts()["done"] == 8
    assert finals(result) == finals(local[0])


def test_resuming_a_finished_sweep_runs_nothing(local, data):
    result, _ = local
    stream = io.StringIO()
    again = sweep(BUILD, GRID, seeds=2, data=data, epochs=1, batch_size=64,
                  executor=LocalExecutor(2), store=result.out, stream=stream)
    assert "8 already finished" in stream.getvalue() and "0 to run" in stream.getvalue()
    assert finals(again) == finals(result)
    assert all(r["attempts"] == 1 for r in again.runs)


def test_other_settings_in_the_same_folder_are_refused(local, data):
    with pytest.raises(ValueError, match="other settings .*epochs: stored 1, now 2"):
        sweep(BUILD, GRID, seeds=2, data=data, epochs=2, batch_size=64, store=local[0].out,
              progress=False)


# -- failures and divergence --------------------------------------------------------------

def fragile_build(config):
    """The book's network, except that momentum 0.5 is a bug in this build."""
    if config["momentum"] == 0.5:
        raise RuntimeError("this build cannot handle momentum 0.5")
    return BUILD(config)


def test_a_failing_and_a_diverging_run_leave_the_others_alone(tmp_path, data):
    space = [
        {"learning_rate": 1e-3, "momentum": 0.0},
        {"learning_rate": 1e-3, "momentum": 0.5},  # raises
        {"learning_rate": 1e6, "momentum": 0.9},  # diverges
        {"learning_rate": 3e-3, "momentum": 0.9},
    ]
    stream = io.StringIO()
    result = sweep(fragile_build, space, data=data, epochs=2, batch_size=64,
                   executor=LocalExecutor(2), store=tmp_path, stream=stream)
    status = {r["config"]["momentum"] * 10 + r["config"]["learning_rate"]: r for r in
              result.runs}
    by_cfg = {(r["config"]["learning_rate"], r["config"]["momentum"]): r for r in result.runs}
    assert len(status) == 4
    failed = by_cfg[1e-3, 0.5]
    assert failed["status"] == "failed" and failed["diverged_epoch"] is None
    assert "RuntimeError: this build cannot handle momentum 0.5" in failed["error"]
    assert "fragile_build" in failed["error"]  # the traceback is kept
    diverged = by_cfg[1e6, 0.9]
    assert diverged["status"] == "diverged" and diverged["diverged_epoch"] == 1
    assert diverged["history"] == {}  # no finished epoch to report
    for key in ((1e-3, 0.0), (3e-3, 0.9)):
        assert by_cfg[key]["status"] == "done" and len(by_cfg[key]["history"]["loss"]) == 2
    text = stream.getvalue()
    assert "momentum=0.5 seed=0: failed: RuntimeError: this build cannot handle" in text
    assert "learning_rate=1e+06 momentum=0.9 seed=0: diverged in epoch 1" in text
    findings = " ".join(result.findings())
    assert "Diverged: learning_rate=1e+06 at momentum 0.9 (epoch 1" in findings
    assert "Failed: learning_rate=0.001, momentum=0.5: RuntimeError" in findings
    # a retry of failed cells runs only that one (and it fails again, the same way)
    again = sweep(fragile_build, space, data=data, epochs=2, batch_size=64, store=tmp_path,
                  retry_failed=True, progress=False)
    attempts = {(r["config"]["learning_rate"], r["config"]["momentum"]): r["attempts"]
                for r in again.runs}
    assert attempts == {(1e-3, 0.0): 1, (1e-3, 0.5): 2, (1e6, 0.9): 1, (3e-3, 0.9): 1}


def exploding_build(config):
    """A loss that grows without becoming inf: a linear model with a huge SGD step."""
    model = Sequential([layers.Input((784,)), layers.Dense(10)])
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=config["learning_rate"]),
                  loss=ndgrad.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_a_loss_that_explodes_is_marked_diverged(tmp_path, data):
    result = sweep(exploding_build, {"learning_rate": [1e-2, 30.0]}, data=data, epochs=2,
                   batch_size=32, executor=LocalExecutor(1), store=tmp_path, progress=False,
                   explode=5.0)
    by_lr = {r["config"]["learning_rate"]: r for r in result.runs}
    assert by_lr[1e-2]["status"] == "done"
    assert by_lr[30.0]["status"] == "diverged" and by_lr[30.0]["diverged_epoch"] == 1


def self_training(config, report):
    """A build that trains by itself: gradient descent on (w - 3)^2, reporting each epoch."""
    w = ndgrad.tensor(0.0, requires_grad=True)
    for epoch in range(1, 4):
        loss = (w - 3.0) ** 2
        loss.backward()
        with ndgrad.no_grad():
            w -= config["learning_rate"] * w.grad
        w.grad = None
        report(epoch, {"loss": float(loss.item()), "w": float(w.item())})


def test_a_build_that_trains_itself_reports_through_a_callback(tmp_path):
    result = sweep(self_training, {"learning_rate": [0.1, 5.0]}, epochs=3, store=tmp_path,
                   executor=LocalExecutor(1), progress=False)
    by_lr = {r["config"]["learning_rate"]: r for r in result.runs}
    assert by_lr[0.1]["status"] == "done"
    assert by_lr[0.1]["history"]["w"] == pytest.approx([0.6, 1.08, 1.464])
    assert by_lr[5.0]["status"] == "diverged" and by_lr[5.0]["diverged_epoch"] == 3


# -- pictures and report ------------------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def _png(path) -> np.ndarray:
    import matplotlib.image

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_pictures_and_report(local, tmp_path):
    result, _ = local
    page_path = result.report(tmp_path / "report.html")
    heat, curve = _png(tmp_path / "heatmap.png"), _png(tmp_path / "curves.png")
    page = _Page()
    page.feed(page_path.read_text())
    page.close()
    assert {"html", "table", "ul", "img"} <= set(page.tags)
    assert len(page.images) == 2 and all(s.startswith("data:image/png;base64,")
                                         for s in page.images)
    text = " ".join(page.text)
    best = result.best()
    label = best.label(result.params)
    assert f"The best configuration is {label}" in text
    assert result.rank()[0].config == best.config
    assert best.mean == max(s.mean for s in result.summaries())
    # other results draw other pictures
    other = SweepResult.load(result.out)
    for run in other.runs:
        run["final"]["val_accuracy"] = 1.0 - run["final"]["val_accuracy"]
        run["history"]["val_accuracy"] = [1.0 - v for v in run["history"]["val_accuracy"]]
    other.heatmap(tmp_path / "other-heatmap.png")
    other.curves(tmp_path / "other-curves.png")
    assert not np.array_equal(heat, _png(tmp_path / "other-heatmap.png"))
    assert not np.array_equal(curve, _png(tmp_path / "other-curves.png"))


# -- progress -------------------------------------------------------------------------------

def test_plain_progress_lines_and_time_estimate():
    from ndgrad.lab import cells

    todo = cells([{"learning_rate": 0.1}, {"learning_rate": 0.2}], 1)
    out = io.StringIO()
    now = [100.0]
    p = Progress(todo, {}, epochs=4, workers=2, stream=out, clock=lambda: now[0])
    assert p.eta() is None and p.epochs_left() == 8
    p.update(Started(todo[0].key, "node-1", 0.0, 1))
    p.update(EpochEnded(todo[0].key, 1, {"loss": 0.5, "val_accuracy": 0.75, "seconds": 10.0}))
    assert p.epochs_left() == 7 and p.eta() == 35.0
    now[0] += 4.0  # four seconds into its second epoch: 4 s of work done, on one worker
    assert p.eta() == 33.0
    now[0] += 60.0  # a slow epoch counts no more than the median one
    assert p.eta() == 30.0
    p.update(Ended(todo[0].key, Status.DIVERGED, 2, None, 0.0))
    p.update(Ended(todo[1].key, Status.FAILED, None, "Traceback\nValueError: bad", 0.0))
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[0/2] learning_rate=0.1 seed=0: running on node-1"
    assert lines[1] == ("[0/2] ~35s left learning_rate=0.1 seed=0: epoch 1/4 loss 0.5000, "
                        "val_accuracy 0.7500")
    assert lines[2].startswith("[1/2]") and lines[2].endswith("diverged in epoch 2")
    assert lines[3].endswith("learning_rate=0.2 seed=0: failed: ValueError: bad")
    assert duration(75) == "1m15s" and duration(3725) == "1h02m" and duration(4) == "4s"


def test_live_progress_table_renders():
    pytest.importorskip("rich")
    from ndgrad.lab import cells

    todo = cells([{"learning_rate": 0.1}], 1)
    out = io.StringIO()
    p = Progress(todo, {}, epochs=2, workers=1, stream=out, live=True)
    p.update(Started(todo[0].key, "h", 0.0, 1))
    p.update(EpochEnded(todo[0].key, 1, {"val_accuracy": 0.875, "seconds": 3.0}))
    p.close()
    text = out.getvalue()
    assert "learning_rate=0.1 seed=0" in text and "0.8750" in text and "1/2" in text


def test_live_table_shows_recent_running_and_the_queued_count():
    pytest.importorskip("rich")
    from rich.console import Console

    from ndgrad.lab import cells

    todo = cells([{"learning_rate": v} for v in range(20)], 1)
    p = Progress(todo, {}, epochs=1, workers=2, stream=io.StringIO(), live=False)
    p.shown_finished = 2
    for c in todo[:5]:
        p.update(Started(c.key, "h", 0.0, 1))
        p.update(Ended(c.key, Status.DONE, None, None, 0.0))
    p.update(Started(todo[5].key, "h", 0.0, 1))
    console = Console(file=io.StringIO(), width=200)
    console.print(p._table())
    text = console.file.getvalue()
    shown = [c for c in todo if f"learning_rate={c.config['learning_rate']} " in text]
    assert shown == todo[3:6]  # the last two that ended, then the one running
    assert "... and 14 queued" in text and "[5/20]" in text


def test_a_requeued_run_shows_as_queued_again_in_plain_lines():
    from ndgrad.lab import cells

    todo = cells([{"learning_rate": 0.1}], 1)
    out = io.StringIO()
    p = Progress(todo, {}, epochs=2, workers=1, stream=out)
    p.update(Started(todo[0].key, "h", 0.0, 1))
    p.update(EpochEnded(todo[0].key, 1, {"seconds": 1.0}))
    p.update(Requeued(todo[0].key, "worker died: signal 9 (SIGKILL); attempt 2 of 2 next"))
    assert p.status[todo[0].key] == "queued" and p.epochs_left() == 2
    assert out.getvalue().splitlines()[-1] == (
        "[0/1] ~2s left learning_rate=0.1 seed=0: queued again (worker died: signal 9 "
        "(SIGKILL); attempt 2 of 2 next)")


def test_the_live_table_ticks_between_events():
    """Its clock and estimate move with no event: the display asks for the table at every
    refresh (four a second) instead of being handed one per event."""
    pytest.importorskip("rich")
    from rich.console import Console

    from ndgrad.lab import cells

    todo = cells([{"learning_rate": 0.1}, {"learning_rate": 0.2}], 1)
    now = [0.0]
    p = Progress(todo, {}, epochs=3, workers=1, stream=io.StringIO(), live=False,
                 clock=lambda: now[0])
    p.update(Started(todo[0].key, "h", 0.0, 1))
    p.update(EpochEnded(todo[0].key, 1, {"seconds": 10.0}))

    def caption() -> str:
        console = Console(file=io.StringIO(), width=200)
        console.print(p._table())
        return " ".join(console.file.getvalue().split())

    assert "elapsed 0s, about 50s left" in caption()
    now[0] = 3.0
    assert "elapsed 3s, about 47s left" in caption()
    # a real live display redraws by itself, with no event: a terminal sees the clock move
    import re
    import time

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    start = time.monotonic()
    live = Progress(todo, {}, epochs=3, workers=1, stream=stream, live=True,
                    clock=lambda: 0.0 if time.monotonic() - start < 0.3 else 120.0)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(set(re.findall(r"elapsed (\w+)", stream.getvalue()))) >= 2:
                break
            time.sleep(0.05)
        assert set(re.findall(r"elapsed (\w+)", stream.getvalue())) == {"0s", "2m00s"}
    finally:
        live.close()
