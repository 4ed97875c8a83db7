"""ModelCheckpoint: filepath fields, save_best_only, weights-only vs full, save_freq."""

import json
import os
from pathlib import Path

import pytest

from ndgrad.callbacks import ModelCheckpoint

VAL = [0.9, 0.7, 0.8, 0.6]


def names(folder):
    return sorted(os.listdir(folder))


def test_filepath_fields_are_filled_from_epoch_and_logs(model, fit, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "w{epoch:02d}-{val_loss:.2f}.json", save_weights_only=True)
    fit(model, [ckpt], train=[1.0] * 4, val=VAL)
    assert names(tmp_path) == ["w01-0.90.json", "w02-0.70.json", "w03-0.80.json", "w04-0.60.json"]
    assert [kind for kind, _ in model.saved] == ["weights"] * 4
    saved = json.loads((tmp_path / "w02-0.70.json").read_text())
    assert saved == {"kind": "weights", "weights": [2.0, -2.0]}


def test_full_model_is_saved_unless_weights_only(model, fit, tmp_path):
    fit(model, [ModelCheckpoint(str(tmp_path / "model.json"))], train=[1.0] * 2, val=VAL[:2])
    assert model.saved == [("model", str(tmp_path / "model.json"))] * 2
    assert json.loads((tmp_path / "model.json").read_text())["kind"] == "model"


def test_save_best_only_keeps_the_best_model_in_a_fixed_path(model, fit, tmp_path):
    path = tmp_path / "best.json"
    ckpt = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    fit(model, [ckpt], train=[1.0] * 3, val=VAL[:3])
    assert len(model.saved) == 2  # epochs 1 and 2 improved, epoch 3 did not
    assert json.loads(path.read_text())["weights"] == [2.0, -2.0]
    assert ckpt.best == 0.7


def test_save_best_only_with_fields_writes_one_file_per_improvement(model, fit, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}.json", save_best_only=True)
    fit(model, [ckpt], train=[1.0] * 4, val=VAL)
    assert names(tmp_path) == ["e1.json", "e2.json", "e4.json"]


def test_save_best_only_in_max_mode(model, fit, tmp_path):
    # val_accuracy from the driver rises: 0.6, 0.65, 0.7
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}.json", monitor="val_accuracy", save_best_only=True)
    fit(model, [ckpt], train=[1.0] * 3, val=VAL[:3])
    assert ckpt.mode == "max" and names(tmp_path) == ["e1.json", "e2.json", "e3.json"]
    ckpt = ModelCheckpoint(
        tmp_path / "min{epoch}.json", monitor="val_accuracy", save_best_only=True, mode="min"
    )
    fit(model, [ckpt], train=[1.0] * 3, val=VAL[:3])
    assert "min1.json" in names(tmp_path) and "min2.json" not in names(tmp_path)


def test_initial_value_threshold_must_be_beaten(model, fit, tmp_path):
    ckpt = ModelCheckpoint(
        tmp_path / "e{epoch}.json", save_best_only=True, initial_value_threshold=0.75
    )
    fit(model, [ckpt], train=[1.0] * 4, val=VAL)
    assert names(tmp_path) == ["e2.json", "e4.json"]


def test_save_best_only_without_the_monitor_warns_and_does_not_save(model, fit, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "best.json", save_best_only=True)
    with pytest.warns(UserWarning, match="'val_loss'.*not saving.*available keys: loss"):
        fit(model, [ckpt], train=[1.0] * 2)
    assert model.saved == []


def test_save_freq_saves_every_n_batches(model, fit, tmp_path):
    ckpt = ModelCheckpoint(
        tmp_path / "e{epoch}b{batch}-{loss:.1f}.json", save_freq=2, save_weights_only=True
    )
    fit(model, [ckpt], train=[1.0, 1.0], steps=3)
    # 6 batches in all; the count runs across epoch ends
    assert names(tmp_path) == ["e1b2-1.1.json", "e2b1-1.2.json", "e2b3-1.0.json"]


@pytest.mark.parametrize("save_freq", ["batch", 0, -3, 1.5, True])
def test_bad_save_freq_is_refused(save_freq):
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("ckpt.json", save_freq=save_freq)


def test_a_field_missing_from_the_logs_is_a_clear_error(model, fit, tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "{epoch}-{val_acc:.2f}.json")
    with pytest.raises(KeyError, match=r"\{val_acc\}.*available fields: loss, accuracy, val_"):
        fit(model, [ckpt], train=[1.0], val=[0.5])


def test_missing_directories_are_made(model, fit, tmp_path):
    ckpt = ModelCheckpoint(Path(tmp_path, "runs", "{epoch}", "w.json"), save_weights_only=True)
    fit(model, [ckpt], train=[1.0] * 2)
    assert (tmp_path / "runs" / "1" / "w.json").is_file()
    assert (tmp_path / "runs" / "2" / "w.json").is_file()


def test_verbose_reports_each_decision(model, fit, tmp_path, capsys):
    path = tmp_path / "best.json"
    ckpt = ModelCheckpoint(path, save_best_only=True, verbose=1)
    fit(model, [ckpt], train=[1.0] * 3, val=VAL[:3])
    assert capsys.readouterr().out.splitlines() == [
        f"Epoch 1: val_loss improved from inf to 0.90000, saving model to {path}",
        f"Epoch 2: val_loss improved from 0.90000 to 0.70000, saving model to {path}",
        "Epoch 3: val_loss did not improve from 0.70000",
    ]
