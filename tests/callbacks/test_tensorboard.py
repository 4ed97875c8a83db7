"""The TensorBoard callback, read back with TensorBoard's own event reader."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.callbacks import CallbackList, LambdaCallback, ReduceLROnPlateau, TensorBoard
from ndgrad.callbacks import tensorboard as tensorboard_module

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="tensorboard is in the dev extra; installed by make test",
)


def _read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"histograms": 0})
    acc.Reload()
    return acc


def _fit(log_dir, epochs=3, callback=None, **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = callback or TensorBoard(log_dir, **kw)
    history = model.fit(x, y, epochs=epochs, batch_size=16, verbose=0,
                        validation_data=(x[:16], y[:16]), callbacks=[callback])
    return model, history


def test_epoch_scalars_in_train_and_validation_as_keras_writes_them(tmp_path):
    _, history = _fit(tmp_path, histogram_freq=1)
    train, val = _read(tmp_path / "train"), _read(tmp_path / "validation")
    tags = train.Tags()["scalars"]
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= set(tags)
    assert set(val.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy"}
    for name in ("loss", "accuracy"):
        events = train.Scalars(f"epoch_{name}")
        assert [e.step for e in events] == [0, 1, 2]
        assert [e.value for e in events] == pytest.approx(history.history[name], rel=1e-6)
        val_events = val.Scalars(f"epoch_{name}")
        assert [e.value for e in val_events] == pytest.approx(history.history[f"val_{name}"],
                                                              rel=1e-6)
    assert [e.step for e in val.Scalars("epoch_loss")] == [0, 1, 2]
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == pytest.approx([0.01] * 3)
    assert train.Tags()["histograms"] == [f"layers.{i}.{w}/histogram" for i in (0, 1)
                                          for w in ("kernel", "bias")]
    assert [e.step for e in train.Histograms("layers.1.bias/histogram")] == [0, 1, 2]
    assert train.Tags()["tensors"] == ["model/text_summary"]  # the model's summary, as text


def test_batch_updates_every_n_batches(tmp_path):
    _fit(tmp_path, update_freq=2, write_graph=False)
    train = _read(tmp_path / "train")
    steps = [e.step for e in train.Scalars("batch_loss")]
    assert steps == [2, 4, 6, 8, 10, 12]  # 4 batches an epoch, 3 epochs
    assert not train.Tags().get("tensors")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"write_images": True}, "write_images=True needs TensorFlow's profiler or projector"),
        ({"profile_batch": 2}, "profile_batch=2 needs TensorFlow's"),
        ({"embeddings_freq": 1}, "embeddings_freq=1 needs TensorFlow's"),
        ({"embeddings_metadata": {"x": "y"}}, "embeddings_metadata={'x': 'y'} needs TensorFlow's"),
        ({"update_freq": "sometimes"},
         "update_freq must be 'epoch', 'batch' or a positive integer. Received 'sometimes'$"),
        ({"update_freq": 0}, "update_freq must be .* Received 0$"),
        ({"histogram_freq": -1}, "histogram_freq must be an integer >= 0. Received -1$"),
    ],
)  # fmt: skip
def test_unsupported_arguments_are_refused_by_name(tmp_path, kw, message):
    with pytest.raises(ValueError, match="^TensorBoard: " + message):
        TensorBoard(tmp_path, **kw)


def test_without_tensorboardx_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # `import tensorboardX` fails
    with pytest.raises(ImportError) as caught:
        TensorBoard(tmp_path)
    assert str(caught.value) == (
        "TensorBoard needs tensorboardX to write event files: pip install 'ndgrad[lab]'"
    )


def test_defaults_write_epoch_scalars_and_the_summary_to_logs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, _ = _fit(None, epochs=2, callback=TensorBoard())
    train, val = _read(tmp_path / "logs" / "train"), _read(tmp_path / "logs" / "validation")
    # per epoch only: no batch scalars, no steps per second, no histograms
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert set(val.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy"}
    assert not train.Tags()["histograms"]
    # the summary as a Markdown code block (each line indented by 4 spaces), at step 0
    (event,) = train.Tensors("model/text_summary")
    lines = []
    model.summary(print_fn=lines.append)
    assert event.step == 0
    assert event.tensor_proto.string_val[0].decode() == "\n".join("    " + x for x in lines)


@pytest.mark.parametrize("update_freq", ["batch", 1])
def test_batch_updates_every_batch(tmp_path, update_freq):
    _fit(tmp_path, epochs=2, update_freq=update_freq, write_graph=False)
    steps = [e.step for e in _read(tmp_path / "train").Scalars("batch_loss")]
    assert steps == list(range(1, 9))  # 4 batches an epoch, 2 epochs


def test_a_second_fit_keeps_the_first_s_events_and_counts_batches_afresh(tmp_path):
    callback = TensorBoard(tmp_path, update_freq=1, write_graph=False)
    _fit(None, epochs=1, callback=callback)
    _fit(None, epochs=1, callback=callback)
    train = event_accumulator.EventAccumulator(str(tmp_path / "train"), purge_orphaned_data=False)
    train.Reload()
    assert [e.step for e in train.Scalars("batch_loss")] == [1, 2, 3, 4] * 2
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 0]


def test_steps_per_second_is_the_epoch_s_steps_over_its_seconds(tmp_path, model, fit,
                                                               monkeypatch):
    clock = {"now": 100.0}
    monkeypatch.setattr(tensorboard_module.time, "perf_counter", lambda: clock["now"])

    def tick(epoch, logs, at_end):  # epoch e starts at 10 e s and lasts (e + 1) / 2 s
        clock["now"] = 100.0 + 10 * epoch + (epoch + 1) / 2 * at_end

    timer = LambdaCallback(on_epoch_begin=lambda e, logs: tick(e, logs, False),
                           on_epoch_end=lambda e, logs: tick(e, logs, True))
    fit(model, [timer, TensorBoard(tmp_path, write_steps_per_second=True)],
        train=[0.5, 0.4], val=[0.6, 0.5])
    train = _read(tmp_path / "train")
    events = train.Scalars("epoch_steps_per_second")
    assert [e.step for e in events] == [0, 1]
    assert [e.value for e in events] == pytest.approx([6.0, 3.0])  # 3 steps in 0.5 s, in 1 s
    assert [e.step for e in _read(tmp_path / "validation").Scalars("epoch_loss")] == [0, 1]


def test_the_learning_rate_in_the_logs_is_the_one_written(tmp_path, model, fit):
    # ReduceLROnPlateau logs the rate the epoch used, then lowers the optimizer's
    reduce = ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5)
    fit(model, [reduce, TensorBoard(tmp_path)], train=[0.5, 0.6, 0.7])
    events = _read(tmp_path / "train").Scalars("epoch_learning_rate")
    assert [e.value for e in events] == pytest.approx([0.1, 0.1, 0.05])
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_without_a_model_only_the_logs_are_written(tmp_path):
    cbs = CallbackList([TensorBoard(tmp_path, histogram_freq=1)], add_history=False,
                       add_progbar=False, epochs=1, steps=1)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    cbs.on_train_end()
    train = _read(tmp_path / "train")
    assert train.Tags()["scalars"] == ["epoch_loss"]  # no learning rate, no histograms
    assert not train.Tags()["histograms"]
    assert [e.value for e in _read(tmp_path / "validation").Scalars("epoch_loss")] == [0.75]
