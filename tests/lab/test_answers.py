"""The student's next questions, answered with real training on the bundled digits: the
held-out test figure (never used to choose), the models kept, TPE search and successive
halving that decide the same way whatever the workers or interruptions, and findings that
state an effect only beyond the noise."""

from __future__ import annotations

import dataclasses
import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ndgrad.lab import InlineExecutor, LocalExecutor, Store, SweepResult, sweep, verify
from ndgrad.lab.search import rungs
from ndgrad.lab.store import MODELS_DIR
from ndgrad.saving import load_model

from .conftest import BUILD, small_data

GRID2 = {"learning_rate": [1e-3, 3e-3], "momentum": [0.0, 0.9]}


def _with_test(poison: bool = False):
    data = small_data()
    from ndgrad.datasets import mnist

    d = mnist.load_subset()
    x = (d.x_test[:200].reshape(200, -1).astype(np.float32) / np.float32(255)).astype(np.float32)
    y = d.y_test[:200].astype(np.int64)
    if poison:  # labels that no network can predict: the test figure collapses
        y = (y + 1) % 10
    return dataclasses.replace(data, x_test=x, y_test=y)


def _no_seconds(metrics: dict) -> dict:
    return {c: {e: {k: v for k, v in m.items() if k != "seconds"} for e, m in es.items()}
            for c, es in metrics.items()}


@pytest.fixture(scope="module")
def tested(tmp_path_factory):
    out = tmp_path_factory.mktemp("tested")
    result = sweep(BUILD, GRID2, seeds=2, data=_with_test(), epochs=2, batch_size=64,
                   executor=InlineExecutor(), store=out, progress=False)
    return result


# -- held-out test figure -------------------------------------------------------------------------

def test_the_test_split_never_changes_the_choice(tested, tmp_path):
    poisoned = sweep(BUILD, GRID2, seeds=2, data=_with_test(poison=True), epochs=2,
                     batch_size=64, executor=InlineExecutor(), store=tmp_path, progress=False)
    assert [s.config for s in poisoned.rank()] == [s.config for s in tested.rank()]
    assert [s.values for s in poisoned.rank()] == [s.values for s in tested.rank()]
    clean, bad = tested.test(), poisoned.test()
    assert clean is not None and bad is not None and clean.config == bad.config
    assert len(clean.test) == 2 and np.mean(clean.test) > 0.5 > np.mean(bad.test)
    line = [f for f in tested.findings() if "held-out" in f][0]
    assert line.startswith("On the held-out test split, never used to choose, it reaches test "
                           f"accuracy {np.mean(clean.test):.4f} ± {np.std(clean.test):.4f} "
                           "over 2 runs (validation val_accuracy ")


# -- models kept -----------------------------------------------------------------------------------

def test_the_best_configurations_models_are_kept_and_reproduce_its_accuracy(tested):
    best = tested.best()
    kept = sorted((tested.out / MODELS_DIR).glob("*.ndgrad"))
    runs = {r["cell"]: r for r in tested.runs}
    assert len(kept) == 2 and all(runs[p.stem]["config"] == best.config for p in kept)
    data = _with_test()
    for path in kept:
        model = load_model(str(path))
        accuracy = model.evaluate(data.x_val, data.y_val, batch_size=64, return_dict=True,
                                  verbose=0)["accuracy"]
        assert accuracy == runs[path.stem]["final"]["val_accuracy"]


def test_save_models_all_or_none(tmp_path):
    data = small_data(128, 64)
    for policy, expected in (("all", 4), ("none", 0)):
        sweep(BUILD, GRID2, data=data, epochs=1, batch_size=64, executor=InlineExecutor(),
              store=tmp_path / policy, progress=False, save_models=policy)
        assert len(list((tmp_path / policy / MODELS_DIR).glob("*.ndgrad"))) == expected


def test_verify_compares_a_kept_models_weights(tmp_path):
    data = small_data(128, 64)
    result = sweep(BUILD, {"learning_rate": [1e-3]}, data=data, epochs=1, batch_size=64,
                   executor=InlineExecutor(), store=tmp_path, progress=False)
    cell = result.runs[0]["cell"]
    assert verify(tmp_path, cell, BUILD, data, stream=io.StringIO()) == []
    path = tmp_path / MODELS_DIR / f"{cell}.ndgrad"
    model = load_model(str(path))
    weights = model.get_weights()
    weights[0] = weights[0] + np.float32(1e-3)
    model.set_weights(weights)
    model.save(str(path))
    assert verify(tmp_path, cell, BUILD, data, stream=io.StringIO()) == [
        f"model: weight array 0 differs from {path}"]


# -- search and early stopping ---------------------------------------------------------------------

def test_halving_rungs():
    assert rungs(5) == [1, 3, 5] and rungs(3) == [1, 3] and rungs(8, eta=2) == [1, 2, 4, 8]
    with pytest.raises(ValueError, match="eta must be >= 2"):
        rungs(5, eta=1)


SPACE = {"learning_rate": [1e-4, 3e-2], "momentum": [0.0, 0.9]}


def _tpe(out: Path, executor) -> SweepResult:
    return sweep(BUILD, SPACE, data=small_data(256, 64), epochs=3, batch_size=64,
                 executor=executor, store=out, progress=False, search="tpe", trials=6, wave=3,
                 prune="halving", sweep_seed=7)


def test_tpe_with_halving_decides_the_same_with_one_or_two_workers(tmp_path):
    one = _tpe(tmp_path / "one", LocalExecutor(1, threads=1))
    two = _tpe(tmp_path / "two", LocalExecutor(2, threads=1))
    assert [r["config"] for r in one.runs] == [r["config"] for r in two.runs]
    assert len(one.runs) == 6 and len({repr(r["config"]) for r in one.runs}) == 6
    assert [r["status"] for r in one.runs] == [r["status"] for r in two.runs]
    with Store(one.out / "lab.sqlite", readonly=True) as a, \
            Store(two.out / "lab.sqlite", readonly=True) as b:
        assert _no_seconds(a.metrics()) == _no_seconds(b.metrics())
    statuses = [r["status"] for r in one.runs]
    # each wave of 3: rung 1 keeps 1 of 3 for rung 2 (epoch 3, the last)
    assert statuses.count("done") == 2 and statuses.count("stopped") == 4
    stopped = [r for r in one.runs if r["status"] == "stopped"]
    assert all(len(r["history"]["loss"]) == 1 for r in stopped)  # their curves stay
    assert all(len(r["history"]["loss"]) == 3 for r in one.runs if r["status"] == "done")
    assert [row["stopped_at_epoch"] for row in one.table()][-4:] == ["1"] * 4
    assert any("Early stopping ended 4 configurations" in f for f in one.findings())
    cell = stopped[0]["cell"]  # verify re-runs a stopped run as far as it went
    assert verify(one.out, cell, BUILD, small_data(256, 64), stream=io.StringIO()) == []


def test_tpe_and_halving_continue_the_same_sequence_after_kill_9(tmp_path, mnist_npz):
    args = ["--lr", "1e-4,3e-2", "--momentum", "0,0.9", "--search", "tpe", "--trials", "6",
            "--wave", "3", "--prune", "halving", "--epochs", "3", "--subset", "300",
            "--workers", "2", "--no-report", "--seed", "3", "--data", mnist_npz]

    def cmd(out: Path) -> list[str]:
        return [sys.executable, "-m", "ndgrad.cli", "lab", "rmsprop", *args, "--out", str(out)]

    quiet = subprocess.run(cmd(tmp_path / "quiet"), capture_output=True, text=True,
                           timeout=900)
    assert quiet.returncode == 0, quiet.stderr
    out = tmp_path / "killed"
    driver = subprocess.Popen(cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # kill it in the second wave
            try:
                with Store(out / "lab.sqlite", readonly=True) as db:
                    if len(db.statuses()) > 3 and "running" in db.statuses().values():
                        break
            except Exception:
                pass
            time.sleep(0.05)
        assert driver.poll() is None, "the sweep ended before it could be killed"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        with Store(out / "lab.sqlite", readonly=True) as db:
            assert "running" in db.statuses().values()  # killed mid-run, in the second wave
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    again = subprocess.run(cmd(out), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    a, b = SweepResult.load(tmp_path / "quiet"), SweepResult.load(out)
    assert [(r["config"], r["status"]) for r in a.runs] == [(r["config"], r["status"])
                                                          for r in b.runs]
    with Store(a.out / "lab.sqlite", readonly=True) as x, \
            Store(b.out / "lab.sqlite", readonly=True) as y:
        assert _no_seconds(x.metrics()) == _no_seconds(y.metrics())


# -- findings that respect noise -----------------------------------------------------------------

def _store(out: Path, finals: dict[tuple[float, float], list[float]]) -> SweepResult:
    """A sweep's store written by hand: {(learning_rate, momentum): final val_accuracy per
    seed}."""
    from ndgrad.lab import cells
    from ndgrad.lab.events import Status

    with Store(out / "lab.sqlite") as db:
        db.claim({"epochs": 1})
        for (lr, m), values in finals.items():
            group = cells([{"learning_rate": lr, "momentum": m}], len(values))
            db.add(group)
            for cell, v in zip(group, values):
                db.start(cell.key, host="h")
                db.record(cell.key, 1, {"val_accuracy": v, "loss": 1 - v})
                db.finish(cell.key, Status.DONE)
    return SweepResult.load(out)


def test_a_difference_within_the_seed_spread_is_called_noise(tmp_path):
    result = _store(tmp_path, {(1e-3, 0.0): [0.970, 0.975, 0.980],
                               (1e-3, 0.5): [0.972, 0.978, 0.976],   # +0.0003, spread 0.004
                               (1e-3, 0.9): [0.990, 0.991, 0.992],   # +0.016: beyond it
                               (3e-3, 0.0): [0.960, 0.961, 0.962]})
    text = " ".join(result.findings())
    assert ("momentum 0.5 left val_accuracy within noise (0.9750 ± 0.0041 and 0.9753 ± 0.0025)"
            in text)
    assert "momentum 0.9 raised val_accuracy from 0.9750 ± 0.0041 to 0.9910 ± 0.0008" in text
    assert "spread: the population standard deviation over 3 seeds" in text


def test_one_seed_claims_no_spread(tmp_path):
    result = _store(tmp_path, {(1e-3, 0.0): [0.970], (1e-3, 0.9): [0.975], (3e-3, 0.0): [0.96]})
    text = " ".join(result.findings())
    assert "±" not in text and "one seed: no spread measured" in text
    assert "momentum 0.9 raised val_accuracy from 0.9700 to 0.9750 (one seed: may be noise)" in text
    assert [row["spread"] for row in result.table()] == ["", "", ""]


def test_the_equal_step_sentence_is_computed(tmp_path):
    far = _store(tmp_path / "far", {(1e-3, 0.0): [0.97, 0.971], (1e-4, 0.9): [0.941, 0.942],
                                    (1e-2, 0.0): [0.9, 0.91]})
    sentence = [f for f in far.findings() if f.startswith("Equal effective steps")][0]
    assert sentence.startswith("Equal effective steps learning_rate / (1 - momentum) do not "
                               "give close results: none of the 1 such pair is within the "
                               "larger seed spread of the pair")
    near = _store(tmp_path / "near", {(1e-3, 0.0): [0.97, 0.98], (1e-4, 0.9): [0.972, 0.976],
                                      (1e-2, 0.0): [0.9, 0.91]})
    sentence = [f for f in near.findings() if f.startswith("Equal effective steps")][0]
    assert sentence.startswith("Equal effective steps learning_rate / (1 - momentum) give "
                               "close results in all 1 such pair (within the larger seed "
                               "spread of the pair)")


def test_stopped_runs_show_as_stopped_in_the_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.figure
    import matplotlib.text

    result = _tpe(tmp_path, InlineExecutor())
    texts: list[str] = []
    real = matplotlib.figure.Figure.savefig

    def spy(fig, *args, **kwargs):
        texts.extend(t.get_text() for t in fig.findobj(matplotlib.text.Text))
        return real(fig, *args, **kwargs)

    matplotlib.figure.Figure.savefig = spy
    try:
        result.heatmap(tmp_path / "h.png")
        result.curves(tmp_path / "c.png")
    finally:
        matplotlib.figure.Figure.savefig = real
    assert sum("stopped at\nepoch 1" in t for t in texts) == 4  # the four stopped configs
    assert sum(t.endswith("(stopped at epoch 1)") for t in texts) == 4  # curves' legend
