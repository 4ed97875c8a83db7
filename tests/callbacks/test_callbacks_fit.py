"""Callbacks through a real `Model.fit` / `evaluate`: the hooks, logs and weights they see are
the ones the training loop makes, not a stand-in's (see conftest.py for the stand-in tests)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from ndgrad.callbacks.progbar_logger import format_logs
from ndgrad.saving import load_model

from .test_callbacks_progbar import Terminal


def blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three separated Gaussian blobs in 4-d: x (n, 4) float32, y (n,) int64 in 0..2."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.eye(3, 4, dtype="float32") * 3
    x = centres[y] + rng.standard_normal((n, 4)).astype("float32") * 0.5
    return x.astype("float32"), y.astype("int64")


def classifier(lr: float = 0.05, seed: int = 0) -> Sequential:
    ndgrad.manual_seed(seed)
    model = Sequential(
        [layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3)],
        name="classifier",
    )
    model.compile(
        optimizer=ndgrad.optimizers.SGD(learning_rate=lr),
        loss=ndgrad.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class WeightsPerEpoch(Callback):
    """Copies of the weights and the logs at each epoch end."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def flipped(y: np.ndarray) -> np.ndarray:
    """Wrong labels: the better the model learns y, the worse its loss on these."""
    return (y + 1) % 3


def assert_weights_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


def test_early_stopping_stops_fit_and_restores_the_best_weights_values():
    x, y = blobs()
    model = classifier()
    record = WeightsPerEpoch()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=20, batch_size=10, verbose=0, shuffle=False,
        validation_data=(x, flipped(y)), callbacks=[record, stop],
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    # fit ran until `patience` epochs without improvement, then stopped
    assert len(val) == best + 3 < 20
    assert stop.stopped_epoch == best + 2
    assert stop.best_epoch == best and stop.best == val[best]
    # the weights at the end are the values they had after the best epoch, not the last
    assert not all(np.array_equal(a, b) for a, b in zip(record.weights[-1], record.weights[best]))
    assert_weights_equal(model.get_weights(), record.weights[best])
    assert model.evaluate(x, flipped(y), verbose=0)[0] == pytest.approx(val[best], rel=1e-5)


def test_early_stopping_without_restore_keeps_the_last_weights():
    x, y = blobs()
    model = classifier()
    record = WeightsPerEpoch()
    model.fit(
        x, y, epochs=20, batch_size=10, verbose=0, shuffle=False,
        validation_data=(x, flipped(y)),
        callbacks=[record, EarlyStopping(monitor="val_loss", patience=1)],
    )
    assert len(record.weights) < 20
    assert_weights_equal(model.get_weights(), record.weights[-1])


def test_early_stopping_on_an_improving_loss_lets_fit_run_every_epoch():
    x, y = blobs()
    model = classifier()
    stop = EarlyStopping(monitor="loss", patience=0)
    history = model.fit(x, y, epochs=4, batch_size=10, verbose=0, shuffle=False, callbacks=[stop])
    assert len(history.history["loss"]) == 4 and stop.stopped_epoch == 0


def test_stop_training_set_in_a_batch_ends_the_epoch_and_fit():
    x, y = blobs()
    model = classifier()
    batches = []

    def on_batch(batch, logs):
        batches.append(batch)
        if batch == 2:
            model.stop_training = True

    history = model.fit(
        x, y, epochs=3, batch_size=10, verbose=0,
        callbacks=[LambdaCallback(on_train_batch_end=on_batch)],
    )
    assert batches == [0, 1, 2]
    assert len(history.history["loss"]) == 1


@pytest.mark.parametrize(
    ("filepath", "weights_only"),
    [("ckpt/w{epoch:02d}-{val_loss:.2f}.weights.npz", True), ("ckpt/m{epoch:02d}.ndgrad", False)],
)
def test_model_checkpoint_files_load_back_with_the_weights_of_their_epoch(
    tmp_path, filepath, weights_only
):
    x, y = blobs()
    model = classifier()
    record = WeightsPerEpoch()
    ckpt = ModelCheckpoint(str(tmp_path / filepath), save_weights_only=weights_only)
    model.fit(
        x, y, epochs=3, batch_size=10, verbose=0, validation_data=(x, y),
        callbacks=[ckpt, record],
    )
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert len(files) == 3
    for epoch, name in enumerate(files):
        assert name == ckpt.filepath_for(epoch, record.logs[epoch]).rsplit("/", 1)[-1]
        if weights_only:
            restored = classifier(seed=1)
            restored.load_weights(str(tmp_path / "ckpt" / name))
        else:
            restored = load_model(str(tmp_path / "ckpt" / name))
        assert_weights_equal(restored.get_weights(), record.weights[epoch])
    np.testing.assert_allclose(
        restored.predict(x).numpy(), model.predict(x).numpy(), rtol=1e-6, atol=1e-6
    )


def test_model_checkpoint_save_best_only_keeps_the_best_epoch(tmp_path):
    x, y = blobs()
    model = classifier()
    record = WeightsPerEpoch()
    path = str(tmp_path / "best.weights.npz")
    model.fit(
        x, y, epochs=5, batch_size=10, verbose=0, shuffle=False,
        validation_data=(x, flipped(y)),
        callbacks=[ModelCheckpoint(path, save_best_only=True, save_weights_only=True), record],
    )
    val = [logs["val_loss"] for logs in record.logs]
    best = int(np.argmin(val))
    assert best < 4  # the last epoch is not the best, so a save there would show
    restored = classifier(seed=1)
    restored.load_weights(path)
    assert_weights_equal(restored.get_weights(), record.weights[best])


def test_reduce_lr_on_plateau_lowers_the_optimizers_rate_during_fit():
    x, y = blobs()
    model = classifier(lr=0.05)
    rates = []
    plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0)
    history = model.fit(
        x, y, epochs=4, batch_size=10, verbose=0, shuffle=False,
        validation_data=(x, flipped(y)),
        callbacks=[
            plateau,
            LambdaCallback(
                on_epoch_begin=lambda e, logs: rates.append(model.optimizer.learning_rate)
            ),
        ],
    )
    val = history.history["val_loss"]
    assert all(b > a for a, b in zip(val, val[1:]))  # never improves after the first epoch
    # the rate each epoch trained with, and the rate logged at each epoch end
    # (the first epoch sets the best value; each later one reduces the rate at its end)
    assert rates == [0.05, 0.05, 0.025, 0.0125]
    assert history.history["learning_rate"] == rates
    assert model.optimizer.learning_rate == 0.00625


def test_the_reduced_rate_is_the_one_the_updates_use():
    x, y = blobs()
    model = classifier(lr=0.05)
    halve = LambdaCallback(
        on_epoch_begin=lambda e, logs: setattr(model.optimizer, "learning_rate", 0.05 / 2**e)
    )
    record = WeightsPerEpoch()
    model.fit(x, y, epochs=2, batch_size=60, verbose=0, shuffle=False, callbacks=[halve, record])
    # one full-batch SGD step per epoch: the second step is half as long as the gradient
    # at the first epoch's weights would make it with the first rate
    reference = classifier(lr=0.025)
    reference.set_weights(record.weights[0])
    reference.fit(x, y, epochs=1, batch_size=60, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:fit. the loss became inf:RuntimeWarning")  # fit's own stop
def _overflowing_at_batch_2():
    """A linear model and 40 samples whose batch 2 of 4 (batch size 10) has an infinite loss."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    y[25] = 1e30  # batch 2 of 4: its squared error overflows float32 to inf
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=0.01), loss="mse")
    return model, x, y


def test_terminate_on_nan_stops_at_the_first_infinite_batch_loss(capsys):
    model, x, y = _overflowing_at_batch_2()
    batches = []
    history = model.fit(
        x, y, epochs=3, batch_size=10, verbose=0, shuffle=False,
        callbacks=[
            TerminateOnNaN(),
            LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(logs["loss"])),
        ],
    )
    assert len(batches) == 3 and math.isfinite(batches[1]) and not math.isfinite(batches[2])
    # fit itself stops on the diverged batch and restores batch 1's weights; the unfinished
    # epoch has no history entry
    assert len(history.history.get("loss", [])) == 0
    assert (model.divergence.epoch, model.divergence.batch) == (0, 2)
    assert "Batch 2: Invalid loss" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("late", [False, True], ids=["at_once", "late"])
def test_after_a_divergence_a_late_callback_never_gets_the_next_step(late):
    """As `Callback.late_batch_logs` says: step 3 ran before fit read step 2's infinite loss,
    and was undone with it; a late callback, like an at-once one, gets steps 0 to 2."""
    model, x, y = _overflowing_at_batch_2()
    begun, ended = [], []

    class Noting(Callback):
        late_batch_logs = late

        def on_train_batch_begin(self, batch, logs=None):
            begun.append(batch)

        def on_train_batch_end(self, batch, logs=None):
            ended.append((batch, math.isfinite(logs["loss"])))

    with pytest.warns(RuntimeWarning, match="fit: the loss became inf"):
        model.fit(x, y, epochs=2, batch_size=10, verbose=0, shuffle=False, callbacks=[Noting()])
    assert begun == ([0, 1, 2, 3] if late else [0, 1, 2])
    assert ended == [(0, True), (1, True), (2, False)]
    assert (model.divergence.batch, model.divergence.restored_to) == (2, (0, 1))
    assert model.optimizer.iterations == 1  # the weights batch 1's finite loss was computed with


def test_csv_logger_writes_the_epoch_logs_of_fit(tmp_path):
    x, y = blobs()
    model = classifier()
    path = tmp_path / "log.csv"
    history = model.fit(
        x, y, epochs=3, batch_size=10, verbose=0, validation_data=(x[:30], y[:30]),
        callbacks=[CSVLogger(str(path))],
    )
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    columns = list(zip(*rows[1:], strict=True))
    for key, column in zip(rows[0][1:], columns[1:], strict=True):
        assert [float(v) for v in column] == history.history[key]


def test_history_holds_the_epoch_logs_fit_passed_to_the_callbacks():
    x, y = blobs()
    model = classifier()
    record = WeightsPerEpoch()
    history = model.fit(
        x, y, epochs=3, batch_size=10, verbose=0, validation_split=0.25, callbacks=[record],
    )
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in history.history.items():
        assert values == [logs[key] for logs in record.logs]
    assert history.params["epochs"] == 3 and history.params["steps"] == 5  # 45 samples / 10


def test_history_epochs_follow_initial_epoch():
    x, y = blobs()
    model = classifier()
    history = model.fit(x, y, epochs=5, initial_epoch=3, batch_size=10, verbose=0)
    assert history.epoch == [3, 4]
    assert len(history.history["loss"]) == 2


def test_progress_bar_prints_each_epoch_of_fit_with_its_logs(capsys):
    x, y = blobs()
    model = classifier()
    history = model.fit(x, y, epochs=2, batch_size=10, verbose=2, validation_data=(x, y))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    for epoch, line in enumerate(lines[1::2]):
        assert line.startswith("6/6 - ")
        for key, values in history.history.items():
            assert f"{key}: {values[epoch]:.4f}" in line


def test_the_live_bar_of_fit_shows_each_batch_with_its_own_logs():
    """fit hands the bar each step's logs once the next step is queued; on a terminal each
    redraw still shows batch k with batch k's running loss and metrics, and each epoch's
    line the epoch's numbers."""
    x, y = blobs()
    logs = []
    reader = LambdaCallback(on_train_batch_end=lambda b, batch_logs: logs.append(batch_logs))
    classifier().fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[reader])
    stream = Terminal()
    history = classifier().fit(x, y, epochs=2, batch_size=10,
                               callbacks=[ProgbarLogger(stream, mininterval=0)])
    epochs = stream.getvalue().split("Epoch ")[1:]
    assert len(epochs) == 2
    for epoch, text in enumerate(epochs):
        bars = [r for r in text.split("\r") if "ETA:" in r][1:]  # after the empty 0/6 bar
        assert [r.split(" [")[0] for r in bars] == [f"{k}/6" for k in range(1, 7)]
        for bar, batch_logs in zip(bars, logs[6 * epoch : 6 * epoch + 6], strict=True):
            assert bar.rstrip().endswith(" - " + format_logs(batch_logs)), (bar, batch_logs)
        final = text.split("\r")[-1]
        assert final.startswith("6/6 [") and final.endswith(
            format_logs({k: v[epoch] for k, v in history.history.items()}) + "\n")


def test_progress_bar_of_evaluate_shows_the_returned_loss(capsys):
    x, y = blobs()
    model = classifier()
    loss, accuracy = model.evaluate(x, y, batch_size=25, verbose=2)
    out = capsys.readouterr().out.strip()
    assert out.startswith("3/3 - ")
    assert f"loss: {loss:.4f}" in out and f"accuracy: {accuracy:.4f}" in out


def test_callbacks_see_live_weights_during_fit():
    """A callback reading the model's weights at a batch end sees that batch's update."""
    x, y = blobs()
    model = classifier()
    seen = []
    model.fit(
        x, y, epochs=1, batch_size=20, verbose=0, shuffle=False,
        callbacks=[
            LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(model.get_weights()))
        ],
    )
    assert len(seen) == 3
    assert not np.array_equal(seen[0][0], seen[1][0])
    assert_weights_equal(seen[-1], model.get_weights())
