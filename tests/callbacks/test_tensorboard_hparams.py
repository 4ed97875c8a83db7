"""The TensorBoard callback's HParams summary, read back with TensorBoard's own reader and its
hparams plugin's protocol buffers; and the lab's `--tensorboard` runs listed by it."""

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
plugin_data_pb2 = pytest.importorskip("tensorboard.plugins.hparams.plugin_data_pb2")
pytest.importorskip("tensorboardX", reason="tensorboardX is in the lab extra")


def hparams_of(folder) -> dict:
    """{'session_start_info' | 'experiment' | 'session_end_info': message} in `folder`."""
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    out = {}
    try:
        contents = acc.PluginTagToContent("hparams")
    except KeyError:  # no summary of the hparams plugin in this folder
        return out
    for content in contents.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        out[data.WhichOneof("data")] = getattr(data, data.WhichOneof("data"))
    return out


def _values(start) -> dict:
    out = {}
    for name, value in start.hparams.items():
        out[name] = getattr(value, value.WhichOneof("kind"))
    return out


def test_hparams_summary_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hp = {"learning_rate": np.float64(0.01), "optimizer": "adam", "nesterov": True,
          "units": 8, "shape": (2, 3)}
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x[:8], y[:8]),
              callbacks=[TensorBoard(tmp_path, hparams=hp, write_graph=False)])
    found = hparams_of(tmp_path)
    assert set(found) == {"session_start_info", "experiment", "session_end_info"}
    assert _values(found["session_start_info"]) == {
        "learning_rate": 0.01, "optimizer": "adam", "nesterov": True, "units": 8.0,
        "shape": "(2, 3)"}
    experiment = found["experiment"]
    assert {h.name for h in experiment.hparam_infos} == set(hp)
    metrics = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert {("train", "epoch_loss"), ("train", "epoch_accuracy"), ("validation", "epoch_loss"),
            ("validation", "epoch_accuracy")} <= metrics
    assert found["session_end_info"].status == 1  # STATUS_SUCCESS
    # the scalars the metrics name are where the plugin looks: <run>/<group>, tag epoch_<m>
    val = event_accumulator.EventAccumulator(str(tmp_path / "validation"))
    val.Reload()
    assert len(val.Scalars("epoch_accuracy")) == 2


def test_without_hparams_no_summary_is_written(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    model = Sequential([layers.Input((4,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, (x[:, 0] > 0).astype("int64"), epochs=1, verbose=0,
              callbacks=[TensorBoard(tmp_path, write_graph=False)])
    assert (tmp_path / "train").is_dir() and hparams_of(tmp_path) == {}
    with pytest.raises(ValueError, match=r"^TensorBoard: hparams must be a dict"):
        TensorBoard(tmp_path, hparams=[("lr", 1)])
    with pytest.raises(ValueError, match=r"hparams' names must be strings. Received 1$"):
        TensorBoard(tmp_path, hparams={1: 2})


def test_a_lab_sweep_lists_every_run_in_the_hparams_dashboard(tmp_path):
    from ndgrad.lab import InlineExecutor, MnistBuild, sweep
    from tests.lab.conftest import small_data

    grid = {"learning_rate": [1e-3, 3e-3], "momentum": [0.0, 0.9]}
    sweep(MnistBuild("rmsprop"), grid, data=small_data(64, 32), epochs=1, batch_size=32,
          executor=InlineExecutor(), store=tmp_path, progress=False, tensorboard=True)
    runs = sorted(p for p in (tmp_path / "tensorboard").iterdir() if p.is_dir())
    assert len(runs) == 4
    seen = []
    for run in runs:
        found = hparams_of(run)
        assert found["session_end_info"].status == 1
        values = _values(found["session_start_info"])
        seen.append((values["learning_rate"], values["momentum"]))
        assert ("validation", "epoch_accuracy") in {
            (m.name.group, m.name.tag) for m in found["experiment"].metric_infos}
    assert sorted(seen) == [(1e-3, 0.0), (1e-3, 0.9), (3e-3, 0.0), (3e-3, 0.9)]
