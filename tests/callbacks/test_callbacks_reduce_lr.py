"""ReduceLROnPlateau."""

import pytest

from ndgrad.callbacks import ReduceLROnPlateau


def test_learning_rate_falls_after_patience_flat_epochs_and_is_logged(model, fit):
    plateau = ReduceLROnPlateau(factor=0.5, patience=2)
    history = fit(model, [plateau], train=[1.0] * 6, val=[1.0, 0.9, 0.9, 0.9, 0.9, 0.9])
    # each epoch logs the rate it trained with; the cuts come at the ends of epochs 3 and 5
    assert history.history["learning_rate"] == pytest.approx([0.1] * 4 + [0.05] * 2)
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_min_delta_cooldown_and_min_lr(model, fit):
    plateau = ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_lr=0.002, min_delta=0.01)
    # 0.995 is not 0.01 better than 1.0, so every epoch after the first is flat
    fit(model, [plateau], train=[1.0] * 7, val=[1.0, 0.995] + [0.99] * 5)
    assert model.optimizer.learning_rate == pytest.approx(0.002)
    lrs = model.history.history["learning_rate"]
    # cut at the end of epoch 1, counting resumes once the cooldown has run down, then
    # the floor holds
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.002, 0.002, 0.002])


def test_verbose_and_bad_factor(model, fit, capsys):
    fit(model, [ReduceLROnPlateau(monitor="loss", patience=0, verbose=1)], train=[1.0, 1.0])
    assert capsys.readouterr().out.startswith("Epoch 2: ReduceLROnPlateau reducing learning")
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


def test_missing_monitor_warns(model, fit):
    with pytest.warns(UserWarning, match="ReduceLROnPlateau monitors 'val_loss'"):
        fit(model, [ReduceLROnPlateau(patience=0)], train=[1.0, 1.0])
    assert model.optimizer.learning_rate == 0.1
