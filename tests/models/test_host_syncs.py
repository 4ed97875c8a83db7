"""How often fit, evaluate and predict wait for the device: a GPU waits at every read of a
number, so a training step reads at most once, and fit reads step k only after queueing step
k+1. No GPU is needed to count: the CPU here is `HostSyncs`, a NumPy backend whose arrays
refuse implicit conversion to Python numbers and count their explicit transfers, or
`Recording`, which notes every array function called outside its device context."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, optimizers
from ndgrad.backends import registry
from ndgrad.callbacks import Callback, LambdaCallback, ModelCheckpoint, ProgbarLogger, TensorBoard

from ..backends.test_device_context import HostSyncs, Recording, _DeviceArray
from .conftest import blobs

# Reads before the first step of fit: x's finiteness, the dry run's loss on one sample and
# the labels' range (min and max together); evaluate: the dry run and the labels' range.
FIT_CHECKS, EVALUATE_CHECKS = 3, 2

CLIPPING = [{}, {"clipnorm": 0.05}, {"global_clipnorm": 0.1}, {"clipvalue": 0.01}]


class _Counting(HostSyncs):
    kind = "cpu"  # stands in for the CPU: every tensor and model of the test lands here

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def to_numpy(self, array: Any) -> np.ndarray:
        self.events.append("read")
        return super().to_numpy(array)


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    dev = _Counting()
    monkeypatch.setitem(registry._instances, ("cpu", 0), dev)
    return dev


class _Noting(layers.Layer):
    """Notes each forward pass of a training step among the backend's events."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if training:
            self.events.append("step")
        return inputs


def _model(dev: _Counting, metrics: list[str], **clipping: float) -> Sequential:
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), _Noting(dev.events), layers.Dense(8, activation="relu"),
                        layers.Dense(3, activation="softmax")])
    for w in model.weights:  # the initializers' arrays become device arrays too
        w.data = w.data.view(_DeviceArray)
    model.compile(optimizer=optimizers.Adam(1e-2, **clipping),
                  loss="sparse_categorical_crossentropy", metrics=metrics)
    return model


def _data(dev: _Counting, n: int = 40) -> tuple[ndgrad.Tensor, ndgrad.Tensor]:
    x, y = blobs(n)
    x, y = ndgrad.tensor(x), ndgrad.tensor(y)
    assert isinstance(x.data, _DeviceArray) and x.backend is dev
    return x, y


@pytest.mark.parametrize("clipping", CLIPPING, ids=["no_clipping", "clipnorm", "global", "value"])
@pytest.mark.parametrize("metrics", [[], ["accuracy", "sparse_categorical_accuracy"]])
@pytest.mark.parametrize("listening", [False, True], ids=["quiet", "batch_logs"])
def test_fit_reads_once_per_step(dev: _Counting, clipping: dict, metrics: list[str],
                                 listening: bool) -> None:
    model = _model(dev, metrics, **clipping)
    x, y = _data(dev)
    seen: list[dict] = []
    callbacks = [LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs))]
    dev.events.clear()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0,
                        callbacks=callbacks if listening else [])
    assert dev.events.count("step") == 10
    assert dev.events.count("read") == FIT_CHECKS + 10
    assert len(seen) == (10 if listening else 0)
    assert set(history.history) == {"loss", *metrics} and model.optimizer.iterations == 10


def test_fit_reads_a_step_after_queueing_the_next(dev: _Counting) -> None:
    """Without a callback that reads batch logs, the device never waits for Python: step k's
    numbers are read once step k+1 is queued (the last step's at the epoch's end)."""
    model = _model(dev, ["accuracy"], clipnorm=0.05)
    x, y = _data(dev, 24)
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    epoch = ["step", "step", "read", "step", "read", "read"]
    assert dev.events == ["read"] * FIT_CHECKS + epoch * 2


def test_a_batch_logs_reader_gets_each_step_read_at_once(dev: _Counting) -> None:
    model = _model(dev, ["accuracy"])
    x, y = _data(dev, 24)
    logs_of = []

    class Reader(Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            logs_of.append((batch, dict(logs)))

    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Reader()])
    assert dev.events == ["read"] * FIT_CHECKS + ["step", "read"] * 3
    assert [b for b, _ in logs_of] == [0, 1, 2]
    assert all(set(logs) == {"loss", "accuracy"} for _, logs in logs_of)


class _NotedBar(ProgbarLogger):
    """The progress bar, noting among the backend's events each batch it is handed (and the
    logs), and each epoch end."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(io.StringIO())
        self.events = events
        self.logs: list[tuple[int, dict]] = []

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.events.append(f"bar {batch}")
        self.logs.append((batch, dict(logs)))
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.events.append("epoch end")
        super().on_epoch_end(epoch, logs)


def test_the_progress_bar_takes_each_step_one_step_late(dev: _Counting) -> None:
    """The bar forces no read: with it (verbose=1) fit reads as often and as late as with
    verbose=0, and hands the bar step k's logs once step k+1 is queued, the epoch's last
    step before the epoch ends."""
    model = _model(dev, ["accuracy"])
    x, y = _data(dev, 24)
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    quiet = list(dev.events)
    model = _model(dev, ["accuracy"])
    bar = _NotedBar(dev.events)
    dev.events.clear()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=1, callbacks=[bar])
    assert [e for e in dev.events if e in ("step", "read")] == quiet
    epoch = ["step", "step", "read", "bar 0", "step", "read", "bar 1", "read", "bar 2", "epoch end"]
    assert dev.events == ["read"] * FIT_CHECKS + epoch * 2
    # the logs of each batch, as a callback reading them at once gets them
    model = _model(dev, ["accuracy"])
    at_once: list[tuple[int, dict]] = []
    reader = LambdaCallback(on_train_batch_end=lambda b, logs: at_once.append((b, dict(logs))))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[reader])
    assert bar.logs == at_once and [b for b, _ in bar.logs] == [0, 1, 2] * 2
    assert [logs["loss"] for b, logs in bar.logs if b == 2] == history.history["loss"]


def test_verbose_1_reads_as_often_as_verbose_0(dev: _Counting, capsys: pytest.CaptureFixture
                                               ) -> None:
    model = _model(dev, ["accuracy"])
    x, y = _data(dev)
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=1)  # fit's own bar, on stdout
    assert dev.events.count("read") == FIT_CHECKS + 10
    assert dev.events == ["read"] * FIT_CHECKS + (["step"] + ["step", "read"] * 4 + ["read"]) * 2
    assert capsys.readouterr().out.count("5/5 [") == 2


def test_with_a_batch_logs_reader_the_bar_gets_each_step_at_once_too(dev: _Counting) -> None:
    model = _model(dev, ["accuracy"])
    x, y = _data(dev, 24)
    bar = _NotedBar(dev.events)
    reader = LambdaCallback(on_train_batch_end=lambda b, logs: dev.events.append(f"reader {b}"))
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=1, callbacks=[reader, bar])
    step = [["step", "read", f"reader {b}", f"bar {b}"] for b in range(3)]
    assert dev.events == ["read"] * FIT_CHECKS + sum(step, []) + ["epoch end"]


class _NotedCheckpoint(ModelCheckpoint):
    """ModelCheckpoint noting each save among the backend's events (a save's own reads of the
    weights left out: they are the same in every mode)."""

    def __init__(self, events: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events = events

    def _save(self, epoch: int, batch: Any, logs: dict) -> None:
        self.events.append("save")
        mark = len(self.events)
        super()._save(epoch, batch, logs)
        del self.events[mark:]


def _quiet_events(dev: _Counting, x: Any, y: Any) -> list[str]:
    model = _model(dev, ["accuracy"])
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return list(dev.events)


def test_checkpoints_per_epoch_take_the_batches_late(dev: _Counting, tmp_path: Any) -> None:
    """ModelCheckpoint saving per epoch does nothing per batch: fit reads as often and as
    late as with no callback; saving every N batches it reads each step at once."""
    x, y = _data(dev, 24)
    quiet = _quiet_events(dev, x, y)
    model = _model(dev, ["accuracy"])
    path = str(tmp_path / "e{epoch}.weights.npz")
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[_NotedCheckpoint(dev.events, path, save_weights_only=True)])
    assert dev.events == [*quiet[:FIT_CHECKS + 6], "save", *quiet[FIT_CHECKS + 6:], "save"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1.weights.npz", "e2.weights.npz"]
    model = _model(dev, ["accuracy"])
    path = str(tmp_path / "b{epoch}-{batch}.weights.npz")
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0,
              callbacks=[_NotedCheckpoint(dev.events, path, save_weights_only=True, save_freq=2)])
    assert dev.events == ["read"] * FIT_CHECKS + ["step", "read", "step", "read", "save",
                                                  "step", "read"]


def test_tensorboard_per_epoch_takes_the_batches_late(dev: _Counting, tmp_path: Any) -> None:
    pytest.importorskip("tensorboardX", reason="tensorboardX is in the lab extra")
    x, y = _data(dev, 24)
    quiet = _quiet_events(dev, x, y)
    model = _model(dev, ["accuracy"])
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[TensorBoard(str(tmp_path / "epoch"), write_graph=False)])
    assert dev.events == quiet
    model = _model(dev, ["accuracy"])
    dev.events.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0,
              callbacks=[TensorBoard(str(tmp_path / "batch"), update_freq=2, write_graph=False)])
    assert dev.events == ["read"] * FIT_CHECKS + ["step", "read"] * 3


def test_a_late_callback_stops_training_one_step_later(dev: _Counting) -> None:
    """As `Callback.late_batch_logs` says: step 1 has run when a late callback sees step 0."""

    class Stop(Callback):
        def __init__(self, late: bool) -> None:
            super().__init__()
            self.late_batch_logs = late

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.model.stop_training = True

    x, y = _data(dev, 24)
    for late, steps in ((False, 1), (True, 2)):
        model = _model(dev, [])
        dev.events.clear()
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[Stop(late)])
        assert dev.events.count("step") == steps and model.optimizer.iterations == steps


@pytest.mark.parametrize("metrics", [[], ["accuracy"]])
def test_evaluate_reads_once_at_the_end(dev: _Counting, metrics: list[str]) -> None:
    model = _model(dev, metrics)
    x, y = _data(dev)
    for batch_size in (4, 40):
        dev.transfers = 0
        result = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        assert dev.transfers == EVALUATE_CHECKS + 1
        assert set(result) == {"loss", *metrics}
    batches = []
    reader = LambdaCallback(on_test_batch_end=lambda b, logs: batches.append(logs))
    dev.transfers = 0
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[reader])
    assert dev.transfers == EVALUATE_CHECKS + 10 + 1 and len(batches) == 10


def test_validation_inside_fit_reads_once_per_epoch(dev: _Counting) -> None:
    model = _model(dev, ["accuracy"])
    x, y = _data(dev)
    dev.transfers = 0
    model.fit(x[:32], y[:32], batch_size=8, epochs=2, verbose=0, validation_data=(x[32:], y[32:]))
    # fit checks the training and the validation data alike, once; each epoch then has 4
    # steps and a validation pass with its one read (the data is not checked again)
    assert dev.transfers == 2 * FIT_CHECKS + 2 * (4 + 1)


def test_predict_reads_nothing(dev: _Counting) -> None:
    model = _model(dev, [])
    x, _ = _data(dev)
    dev.transfers = 0
    out = model.predict(x, batch_size=8)
    assert dev.transfers == 0 and out.shape == (40, 3)


def test_train_on_batch_reads_once_plus_its_label_check(dev: _Counting) -> None:
    model = _model(dev, ["accuracy", "sparse_categorical_accuracy"], global_clipnorm=0.1)
    x, y = _data(dev, 8)
    dev.transfers = 0
    loss, accuracy, sparse = model.train_on_batch(x, y)
    assert dev.transfers == 2  # the loss checks the labels it was given, then one read
    assert accuracy == sparse and 0.0 <= accuracy <= 1.0 and np.isfinite(loss)


# -- the device context, on the stand-in for a second GPU --------------------------------------
class _Elsewhere(Recording):
    kind = "cpu"


@pytest.mark.parametrize("clipping", CLIPPING, ids=["no_clipping", "clipnorm", "global", "value"])
def test_fit_evaluate_and_predict_compute_inside_the_device_context(
    monkeypatch: pytest.MonkeyPatch, clipping: dict
) -> None:
    dev = _Elsewhere()
    monkeypatch.setitem(registry._instances, ("cpu", 0), dev)
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                        layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(1e-2, **clipping),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = blobs(24)
    dev.outside.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.25)
    model.evaluate(x, y, batch_size=8, verbose=0)
    model.predict(x, batch_size=8)
    assert dev.outside == [], f"called outside the device context: {dev.outside}"
