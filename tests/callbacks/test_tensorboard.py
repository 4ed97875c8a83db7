"""The TensorBoard callback, read back with TensorBoard's own event reader."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.callbacks import TensorBoard

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="tensorboard is in the dev extra; installed by make test",
)


def _read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"histograms": 0})
    acc.Reload()
    return acc


def _fit(log_dir, **kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        validation_data=(x[:16], y[:16]), callbacks=[TensorBoard(log_dir, **kw)])
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


@pytest.mark.parametrize("kw", [{"write_images": True}, {"profile_batch": 2},
                                {"embeddings_freq": 1}, {"update_freq": "sometimes"},
                                {"histogram_freq": -1}])
def test_unsupported_arguments_are_refused(tmp_path, kw):
    with pytest.raises(ValueError, match="TensorBoard: "):
        TensorBoard(tmp_path, **kw)
