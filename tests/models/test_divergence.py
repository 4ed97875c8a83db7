"""fit and numbers that are not numbers: non-finite data is refused before any step, and a
loss that stops being finite stops training with the last finite step's weights and optimizer
state restored. Both backends."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, optimizers
from ndgrad.callbacks import Callback, TerminateOnNaN
from ndgrad.models.divergence import first_nonfinite


def _regressor(backend, learning_rate, optimizer="rmsprop"):
    ndgrad.manual_seed(0)
    with ndgrad.device(backend):
        model = Sequential([layers.Input((3,)), layers.Dense(8, activation="relu"),
                            layers.Dense(1)])
    opt = optimizers.get(optimizer)
    cfg = opt.get_config() | {"learning_rate": learning_rate}
    if "momentum" in cfg:
        cfg["momentum"] = 0.9
    model.compile(optimizer=type(opt).from_config(cfg), loss="mse")
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")) * 100.0
    return x, y


def _host(model, array):
    return np.array(model.weights[0].backend.to_numpy(array), copy=True)


class _Recorder(Callback):
    """The weights, optimizer state and iteration count at the start of every batch."""

    def __init__(self):
        super().__init__()
        self.seen = {}
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        opt = self.model.optimizer
        state = [_host(self.model, a) for a in opt.variables] if opt.built else None
        self.seen[self.epoch, batch] = (self.model.get_weights(), state, opt.iterations)


# -- data that is not finite -------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_refuses_nonfinite_x_and_names_the_first_bad_sample(backend, bad):
    model = _regressor(backend, 1e-3)
    x, y = _data()
    x[41, 2] = bad
    x[57, 0] = bad
    model.build((None, 3))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"fit: x holds NaN or infinite values; the first is "
                                         r"in sample 41 \(x\[41\]\)"):
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations == 0


def test_fit_refuses_nonfinite_targets_and_validation_data(backend):
    model = _regressor(backend, 1e-3)
    x, y = _data()
    y_bad = y.copy()
    y_bad[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"fit: y holds NaN .* sample 5 "):
        model.fit(x, y_bad, epochs=1, verbose=0)
    vx = x[:10].copy()
    vx[9, 1] = np.inf
    with pytest.raises(ValueError, match=r"fit \(validation_data\): x holds .* sample 9 "):
        model.fit(x, y, epochs=1, verbose=0, validation_data=(vx, y[:10]))
    assert model.optimizer.iterations == 0


def test_first_nonfinite_checks_in_chunks(monkeypatch):
    from ndgrad.models import divergence

    monkeypatch.setattr(divergence, "_CHUNK_ELEMENTS", 12)  # 3 samples of 4 per chunk
    x = np.zeros((10, 2, 2), dtype="float32")
    assert first_nonfinite(ndgrad.tensor(x)) is None
    for i in (0, 2, 3, 7, 9):
        x[:] = 0
        x[i, 1, 0] = np.nan
        x[min(i + 1, 9), 0, 0] = np.inf
        assert first_nonfinite(ndgrad.tensor(x)) == i
    assert first_nonfinite(ndgrad.tensor([1, 2, 3])) is None  # integers: nothing to check
    assert first_nonfinite(ndgrad.tensor(float("nan"))) == 0


# -- a loss that stops being finite --------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["rmsprop", "sgd", "adam"])
def test_divergence_stops_and_restores_the_last_finite_step(backend, optimizer):
    model = _regressor(backend, 1e12, optimizer)
    x, y = _data()
    recorder = _Recorder()
    with pytest.warns(RuntimeWarning, match="fit: the loss became .* Training stopped"):
        history = model.fit(x, y, epochs=20, batch_size=8, verbose=0, callbacks=[recorder])
    d = model.divergence
    assert d is not None and history.divergence is d
    assert not np.isfinite(d.loss)
    # training ran one batch past the diverged one (fit reads a loss after queueing the next
    # step), never past the epoch's last batch, and that batch's update was undone too
    assert max(recorder.seen) == (d.epoch, min(d.batch + 1, 7))
    assert d.restored_to is not None and d.restored_to < (d.epoch, d.batch)
    weights, state, iterations = recorder.seen[d.restored_to]
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert model.optimizer.iterations == iterations
    if state is not None:
        now = [_host(model, a) for a in model.optimizer.variables]
        assert all(np.array_equal(a, b) for a, b in zip(state, now))
    # the restored step's loss was finite; only finished epochs are in the history
    assert len(history.epoch) == d.epoch
    assert all(np.isfinite(v) for v in history.history.get("loss", []))


def test_divergence_on_the_first_step_restores_the_initial_weights(backend):
    model = _regressor(backend, 1e-3, "sgd")
    x, y = _data()
    model.build((None, 3))
    initial = model.get_weights()
    with ndgrad.no_grad():
        model.weights[0][0, 0] = 1e38  # the first forward pass overflows
    initial = model.get_weights()
    with pytest.warns(RuntimeWarning, match="back to the weights it started with"):
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.divergence.epoch == 0 and model.divergence.batch == 0
    assert model.divergence.restored_to is None
    assert all(np.array_equal(a, b) for a, b in zip(initial, model.get_weights()))
    assert model.optimizer.iterations == 0


def test_a_finite_run_has_no_divergence_and_training_goes_on_after_one(backend):
    model = _regressor(backend, 1e-3)
    x, y = _data()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert model.divergence is None and history.divergence is None
    model.optimizer.learning_rate = 1e12
    with pytest.warns(RuntimeWarning):
        model.fit(x, y, epochs=50, batch_size=16, verbose=0)
    assert model.divergence is not None
    model.optimizer.learning_rate = 1e-3  # the restored state trains on
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert model.divergence is None and np.isfinite(history.history["loss"][0])


def test_terminate_on_nan_still_reports(backend, capsys):
    model = _regressor(backend, 1e12)
    x, y = _data()
    with pytest.warns(RuntimeWarning):
        model.fit(x, y, epochs=20, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert "Invalid loss" in capsys.readouterr().out
    assert model.divergence is not None
