"""EarlyStopping: patience, min_delta, mode, baseline, restore_best_weights, start_from_epoch."""

import pytest

from ndgrad.callbacks import EarlyStopping


def epochs_run(model):
    return len(model.history.epoch)


def test_patience_counts_epochs_without_improvement(model, fit):
    stop = EarlyStopping(patience=2)
    fit(model, [stop], train=[1.0] * 8, val=[1.0, 0.9, 0.95, 0.97, 0.8, 0.7, 0.6, 0.5])
    assert epochs_run(model) == 4 and model.stop_training
    assert stop.stopped_epoch == 3 and stop.best == 0.9 and stop.best_epoch == 1
    assert stop.wait == 2


def test_patience_0_stops_at_the_first_epoch_without_improvement(model, fit):
    stop = EarlyStopping(monitor="loss")
    fit(model, [stop], train=[1.0, 0.8, 0.8, 0.5])
    assert epochs_run(model) == 3 and stop.stopped_epoch == 2


def test_training_runs_on_while_improving(model, fit):
    stop = EarlyStopping(patience=0)
    fit(model, [stop], train=[1.0] * 4, val=[1.0, 0.9, 0.8, 0.7])
    assert epochs_run(model) == 4 and not model.stop_training and stop.stopped_epoch == 0


def test_min_delta_ignores_small_improvements(model, fit):
    val = [1.0, 0.99, 0.98, 0.97, 0.5]
    stop = EarlyStopping(min_delta=0.05, patience=2)
    fit(model, [stop], train=[1.0] * 5, val=val)
    assert epochs_run(model) == 3 and stop.best == 1.0
    stop = EarlyStopping(min_delta=-0.005, patience=2)  # the sign is ignored
    fit(model, [stop], train=[1.0] * 5, val=val)
    assert epochs_run(model) == 5 and stop.best == 0.5


@pytest.mark.parametrize(
    ("monitor", "mode", "expected"),
    [
        ("val_loss", "auto", "min"),
        ("val_accuracy", "auto", "max"),
        ("categorical_accuracy", "auto", "max"),
        ("val_auc", "auto", "max"),
        ("mean_absolute_error", "auto", "min"),
        ("dice_loss", "auto", "min"),
        ("val_accuracy", "min", "min"),
        ("loss", "max", "max"),
    ],
)
def test_mode(monitor, mode, expected):
    assert EarlyStopping(monitor=monitor, mode=mode).mode == expected


def test_unknown_mode_warns_and_falls_back_to_auto():
    with pytest.warns(UserWarning, match="mode 'maximum' is unknown"):
        stop = EarlyStopping(monitor="val_accuracy", mode="maximum")
    assert stop.mode == "max"


def test_max_mode_watches_for_a_rise(model, fit):
    # val_accuracy from the driver rises every epoch: 0.6, 0.65, ...
    stop = EarlyStopping(monitor="val_accuracy", patience=0)
    fit(model, [stop], train=[1.0] * 4, val=[1.0] * 4)
    assert epochs_run(model) == 4
    stop = EarlyStopping(monitor="val_accuracy", mode="min", patience=0)
    fit(model, [stop], train=[1.0] * 4, val=[1.0] * 4)
    assert epochs_run(model) == 2


def test_baseline_not_beaten_stops_after_patience_epochs_even_while_improving(model, fit):
    stop = EarlyStopping(baseline=0.5, patience=3)
    fit(model, [stop], train=[1.0] * 6, val=[1.0, 0.9, 0.8, 0.7, 0.6, 0.55])
    assert epochs_run(model) == 3 and stop.best == 0.8
    stop = EarlyStopping(baseline=0.95, patience=2)
    fit(model, [stop], train=[1.0] * 6, val=[1.0, 0.9, 0.8, 0.7, 0.6, 0.55])
    assert epochs_run(model) == 6  # beaten from the second epoch on, hence not stopped
    stop = EarlyStopping(baseline=0.95, patience=1)
    fit(model, [stop], train=[1.0] * 6, val=[1.0, 0.9, 0.8, 0.7, 0.6, 0.55])
    assert epochs_run(model) == 1  # one epoch without beating it is all patience allows


def test_restore_best_weights(model, fit):
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    fit(model, [stop], train=[1.0] * 8, val=[1.0, 0.5, 0.7, 0.8, 0.9, 0.2, 0.1, 0.1])
    assert epochs_run(model) == 4
    assert model.weights == [2.0, -2.0]  # the end of epoch 1, the best one
    assert stop.best_epoch == 1


def test_without_restore_the_last_weights_stay(model, fit):
    fit(model, [EarlyStopping(patience=2)], train=[1.0] * 8, val=[1.0, 0.5, 0.7, 0.8, 0.9])
    assert model.weights == [4.0, -4.0]


def test_best_weights_are_restored_even_when_training_was_not_stopped(model, fit):
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    fit(model, [stop], train=[1.0] * 3, val=[0.5, 0.3, 0.4])
    assert not model.stop_training and model.weights == [2.0, -2.0]


def test_start_from_epoch_ignores_warm_up_epochs(model, fit):
    val = [1.0, 2.0, 3.0, 2.5, 2.0, 2.6, 2.7]
    stop = EarlyStopping(patience=0, start_from_epoch=2)
    fit(model, [stop], train=[1.0] * 7, val=val)
    assert epochs_run(model) == 6 and stop.best == 2.0 and stop.stopped_epoch == 5
    stop = EarlyStopping(patience=0)
    fit(model, [stop], train=[1.0] * 7, val=val)
    assert epochs_run(model) == 2


def test_missing_monitor_warns_with_the_available_keys_and_never_stops(model, fit):
    stop = EarlyStopping(patience=0, restore_best_weights=True)
    with pytest.warns(UserWarning, match="'val_loss'.*available keys: loss, accuracy$"):
        fit(model, [stop], train=[1.0, 2.0, 3.0])
    assert epochs_run(model) == 3 and not model.stop_training
    assert model.weights == [3.0, -3.0]  # nothing stored, nothing restored


def test_nan_is_never_an_improvement(model, fit):
    stop = EarlyStopping(patience=1)
    fit(model, [stop], train=[1.0] * 5, val=[0.5, float("nan"), float("nan"), 0.1, 0.1])
    assert epochs_run(model) == 2 and stop.best == 0.5


def test_verbose_reports_stopping_and_restoring(model, fit, capsys):
    stop = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    fit(model, [stop], train=[1.0] * 5, val=[0.5, 0.6, 0.7, 0.8, 0.9])
    assert capsys.readouterr().out == (
        "Epoch 2: early stopping\nRestoring model weights from the end of the best epoch: 1.\n"
    )


def test_an_instance_can_be_reused_for_another_fit(model, fit):
    stop = EarlyStopping(patience=0)
    fit(model, [stop], train=[1.0] * 3, val=[0.1, 0.2, 0.3])
    assert epochs_run(model) == 2
    fit(model, [stop], train=[1.0] * 3, val=[1.0, 0.9, 0.8])
    assert epochs_run(model) == 3 and stop.best == 0.8 and stop.stopped_epoch == 0
