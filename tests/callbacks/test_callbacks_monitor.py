"""What EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share: Keras's defaults, the
"auto" mode, the improvement test, and the warnings for unknown modes and missing monitors."""

import inspect
import warnings

import pytest

from ndgrad.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from ndgrad.callbacks._monitor import improved, resolve_mode, worst

KERAS_DEFAULTS = {
    EarlyStopping: {
        "monitor": "val_loss", "min_delta": 0, "patience": 0, "mode": "auto", "baseline": None,
        "restore_best_weights": False, "start_from_epoch": 0, "verbose": 0,
    },
    ReduceLROnPlateau: {
        "monitor": "val_loss", "factor": 0.1, "patience": 10, "verbose": 0, "mode": "auto",
        "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0,
    },
    ModelCheckpoint: {
        "monitor": "val_loss", "save_best_only": False, "save_weights_only": False,
        "mode": "auto", "save_freq": "epoch", "verbose": 0, "initial_value_threshold": None,
    },
}  # fmt: skip


@pytest.mark.parametrize("cls", list(KERAS_DEFAULTS), ids=lambda c: c.__name__)
def test_defaults_are_keras_defaults(cls):
    params = inspect.signature(cls).parameters
    defaults = {k: p.default for k, p in params.items() if p.default is not p.empty}
    assert defaults == KERAS_DEFAULTS[cls]
    # and a callback made with them holds them ("auto" resolved for val_loss)
    made = cls(*(["ckpt.npz"] if cls is ModelCheckpoint else []))
    stored = {k: getattr(made, k) for k in defaults if hasattr(made, k)}
    assert stored == {k: v for k, v in {**defaults, "mode": "min"}.items() if k in stored}
    assert len(stored) >= len(defaults) - 1  # all but ModelCheckpoint's threshold, kept as best
    if cls is ModelCheckpoint:
        assert made.best == float("inf")


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("loss", "min"), ("val_loss", "min"), ("mean_squared_error", "min"),
        ("accuracy", "max"), ("val_accuracy", "max"), ("val_auc", "max"), ("recall", "max"),
        ("acc_loss", "min"), ("acc_error", "min"),  # loss and error win over "acc"
        ("throughput", "min"),  # an unknown name is minimised
    ],
)  # fmt: skip
def test_auto_mode_from_the_name(monitor, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" is a known mode: no warning
        assert resolve_mode(monitor, "auto", "X") == mode
    assert resolve_mode(monitor, "max", "X") == "max"
    assert resolve_mode(monitor, "min", "X") == "min"


@pytest.mark.parametrize("cls", list(KERAS_DEFAULTS), ids=lambda c: c.__name__)
def test_an_unknown_mode_warns_at_the_caller_and_means_auto(cls):
    args = ("ckpt.npz",) if cls is ModelCheckpoint else ()
    with pytest.warns(UserWarning) as record:
        callback = cls(*args, monitor="val_accuracy", mode="best")
    assert str(record[0].message) == f"{cls.__name__} mode 'best' is unknown, using 'auto'"
    # attributed to the code that made the callback, not to ndgrad's own files
    assert "ndgrad/callbacks" not in record[0].filename.replace("\\", "/")
    assert callback.mode == "max"


def test_improvement_is_strict_and_beyond_min_delta():
    assert worst("min") == float("inf") and worst("max") == float("-inf")
    assert improved(0.5, worst("min"), "min") and improved(0.5, worst("max"), "max")
    assert not improved(1.0, 1.0, "min") and not improved(1.0, 1.0, "max")
    assert improved(0.85, 1.0, "min", 0.1) and not improved(0.95, 1.0, "min", 0.1)
    assert improved(1.15, 1.0, "max", 0.1) and not improved(1.05, 1.0, "max", 0.1)
    assert not improved(float("nan"), 1.0, "min") and not improved(float("nan"), 1.0, "max")


@pytest.mark.parametrize(
    ("make", "consequence"),
    [
        (lambda path: EarlyStopping(), "not stopping on it"),
        (lambda path: ReduceLROnPlateau(), "not reducing on it"),
        (lambda path: ModelCheckpoint(path, save_best_only=True), "not saving"),
    ],
    ids=["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"],
)
def test_a_missing_monitor_warning_names_owner_consequence_and_keys(
    model, fit, tmp_path, make, consequence
):
    callback = make(str(tmp_path / "ckpt.json"))
    with pytest.warns(UserWarning) as record:
        fit(model, [callback], train=[1.0])
    owner = type(callback).__name__
    keys = "loss, accuracy" + (", learning_rate" if owner == "ReduceLROnPlateau" else "")
    assert str(record[0].message) == (
        f"{owner} monitors 'val_loss', which is not in the logs ({consequence}); "
        f"available keys: {keys}"
    )
    with pytest.warns(UserWarning, match="keys: none$") if owner != "ReduceLROnPlateau" else (
        pytest.warns(UserWarning, match="keys: learning_rate$")  # which it has just logged
    ):
        callback.on_epoch_end(0, {})


def test_early_stopping_starts_with_no_best_epoch_and_says_nothing_unless_it_stopped(
    model, fit, capsys
):
    stop = EarlyStopping(monitor="loss", patience=5, verbose=1)
    assert stop.best_epoch == 0 and stop.stopped_epoch == 0 and stop.wait == 0
    fit(model, [stop], train=[0.9, 0.8, 0.7])
    assert capsys.readouterr().out == ""
    quiet = EarlyStopping(monitor="loss", patience=0)
    fit(model, [quiet], train=[0.9, 1.0])
    assert quiet.stopped_epoch == 1 and capsys.readouterr().out == ""


def test_early_stopping_baseline_must_be_beaten_by_min_delta(model, fit):
    stop = EarlyStopping(monitor="loss", baseline=0.5, min_delta=0.1, patience=2)
    history = fit(model, [stop], train=[0.45, 0.44, 0.43, 0.42])
    # better than the baseline, but not by 0.1: no epoch counts as an improvement
    assert len(history.history["loss"]) == 2 and stop.stopped_epoch == 1


def test_early_stopping_restores_the_first_weights_when_no_epoch_improves(model, fit):
    stop = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    history = fit(model, [stop], train=[float("nan")] * 4)
    assert len(history.history["loss"]) == 2
    assert model.weights == [1.0, -1.0] and stop.best_epoch == 0  # the end of epoch 0


def test_reduce_lr_cooldown_then_patience_counts_again(model, fit):
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1)
    history = fit(model, [plateau], train=[1.0] * 8)
    # cuts after epochs 2, 4 and 6: the cooldown epoch resets the count, then counts as flat
    assert history.history["learning_rate"] == [0.1] * 3 + [0.05] * 2 + [0.025] * 2 + [0.0125]


def test_reduce_lr_at_the_floor_neither_reduces_nor_reports(model, fit, capsys):
    model.optimizer.learning_rate = 0.01
    plateau = ReduceLROnPlateau(monitor="loss", patience=0, min_lr=0.01, verbose=1)
    fit(model, [plateau], train=[1.0, 1.0, 1.0])
    assert model.optimizer.learning_rate == 0.01
    assert capsys.readouterr().out == ""


def test_reduce_lr_rejects_a_zero_factor():
    with pytest.raises(ValueError, match="0 < factor < 1"):
        ReduceLROnPlateau(factor=0.0)


def test_model_checkpoint_verbose_names_the_epoch_and_path(model, fit, tmp_path, capsys):
    path = str(tmp_path / "m{epoch}.json")
    fit(model, [ModelCheckpoint(path, verbose=1)], train=[1.0, 0.9])
    assert capsys.readouterr().out.splitlines() == [
        f"Epoch 1: saving model to {tmp_path / 'm1.json'}",
        f"Epoch 2: saving model to {tmp_path / 'm2.json'}",
    ]


def test_model_checkpoint_save_freq_one_saves_every_batch(model, fit, tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}b{batch}.json"), save_freq=1)
    fit(model, [ckpt], train=[1.0, 0.9], steps=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e1b1.json", "e1b2.json", "e2b1.json", "e2b2.json",
    ]  # fmt: skip
