"""The numbers and modes `fit`, `evaluate` and `predict` report and use: epoch losses weighted
by batch size, training mode during `fit` only, shuffling, `initial_epoch`, `predict`'s progress."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.callbacks import LambdaCallback
from ndgrad.layers import Layer

from .conftest import blobs


class Recorder(Layer):
    """Passes its input through and records the training flag and the batch it saw."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls: list[tuple[bool, np.ndarray]] = []

    def call(self, inputs, training=False):
        self.calls.append((training, inputs.numpy().copy()))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def regression(n: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 3), y (n, 1) with per-sample errors that differ a lot between batches."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")) ** 2 + np.arange(n)[:, None]
    return x, y.astype("float32")


def frozen_regressor(loss, seed: int = 0, extra=()) -> Sequential:
    """A regressor compiled with a zero learning rate: fit leaves its weights alone."""
    ndgrad.manual_seed(seed)
    model = Sequential([layers.Input((3,)), layers.Dense(4, activation="relu"), *extra,
                        layers.Dense(1)])
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=0.0), loss=loss,
                  metrics=["mae"])
    return model


def squared_error(y_true, y_pred):
    return (y_pred - y_true) ** 2


@pytest.mark.parametrize(
    "loss",
    ["mse", ndgrad.losses.mean_squared_error, squared_error, ndgrad.losses.MeanSquaredError()],
    ids=["name", "library-function", "user-function", "object"],
)
def test_with_a_zero_learning_rate_the_epoch_loss_equals_evaluate(backend, loss):
    x, y = regression()
    model = frozen_regressor(loss).to(backend)
    before = model.get_weights()
    # 50 samples in batches of 16: the last batch has 2, so an unweighted mean of the
    # batch losses would differ from the mean over samples
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    loss_value, mae = model.evaluate(x, y, batch_size=50, verbose=0)
    assert history.history["loss"] == pytest.approx([loss_value] * 2, rel=1e-5)
    assert history.history["mae"] == pytest.approx([mae] * 2, rel=1e-5)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # and evaluate itself is the mean over samples whatever the batch size
    assert model.evaluate(x, y, batch_size=16, verbose=0)[0] == pytest.approx(loss_value, rel=1e-5)
    expected = float(np.mean((model.predict(x).numpy() - y) ** 2))
    assert loss_value == pytest.approx(expected, rel=1e-5)


def test_batch_logs_are_the_running_mean_over_the_samples_seen():
    x, y = regression()
    model = frozen_regressor("mse")
    logs = []
    model.fit(x, y, batch_size=16, verbose=0, shuffle=False,
              callbacks=[LambdaCallback(on_train_batch_end=lambda b, l: logs.append(l["loss"]))])
    errors = ((model.predict(x).numpy() - y) ** 2).ravel()
    seen = [16, 32, 48, 50]
    assert logs == pytest.approx([errors[:k].mean() for k in seen], rel=1e-5)


def test_fit_runs_layers_in_training_mode_and_evaluate_and_predict_in_inference_mode():
    x, y = regression(20)
    recorder = Recorder()
    model = frozen_regressor("mse", extra=[recorder])
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, shuffle=False)
    fit_calls = [training for training, _ in recorder.calls[-2:]]
    recorder.calls.clear()
    model.evaluate(x, y, batch_size=10, verbose=0)
    evaluate_calls = [training for training, _ in recorder.calls]
    recorder.calls.clear()
    model.predict(x, batch_size=10)
    predict_calls = [training for training, _ in recorder.calls]
    assert fit_calls == [True, True]
    assert evaluate_calls and not any(evaluate_calls)
    assert predict_calls == [False, False]


def test_dropout_is_active_in_fit_only():
    x, y = regression()
    model = frozen_regressor("mse", extra=[layers.Dropout(0.5)])
    history = model.fit(x, y, batch_size=50, epochs=1, verbose=0)
    evaluated = model.evaluate(x, y, batch_size=50, verbose=0)[0]
    assert history.history["loss"][0] != pytest.approx(evaluated, rel=1e-3)
    # inference is deterministic and does not drop anything
    np.testing.assert_array_equal(model.predict(x).numpy(), model.predict(x).numpy())
    assert model.evaluate(x, y, batch_size=50, verbose=0)[0] == evaluated


def test_batch_normalization_moving_statistics_change_in_fit_only():
    x, y = regression()
    x = x * 3.0 + 5.0  # batch statistics far from the initial (0, 1)
    norm = layers.BatchNormalization(momentum=0.5)
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((3,)), norm, layers.Dense(1)])
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=0.0), loss="mse")
    model.fit(x, y, batch_size=50, epochs=1, verbose=0)
    # one full batch: moving = 0.5 * initial + 0.5 * batch statistic
    np.testing.assert_allclose(norm.moving_mean.numpy(), 0.5 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(
        norm.moving_variance.numpy(), 0.5 + 0.5 * x.var(axis=0), rtol=1e-4
    )
    mean, variance = norm.moving_mean.numpy().copy(), norm.moving_variance.numpy().copy()
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    np.testing.assert_array_equal(norm.moving_mean.numpy(), mean)
    np.testing.assert_array_equal(norm.moving_variance.numpy(), variance)


def trained_weights(shuffle: bool, seed: int) -> list[np.ndarray]:
    x, y = blobs(60)
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((4,)), layers.Dense(3)])
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=0.1),
                  loss=ndgrad.losses.SparseCategoricalCrossentropy(from_logits=True))
    ndgrad.manual_seed(seed)  # the generator fit draws its permutations from
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, shuffle=shuffle)
    return model.get_weights()


def test_shuffle_changes_the_result_and_shuffle_false_reproduces_it():
    plain = trained_weights(shuffle=False, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(plain, trained_weights(False, seed=2)))
    shuffled = trained_weights(shuffle=True, seed=1)
    assert not np.allclose(shuffled[0], plain[0])
    assert not np.allclose(shuffled[0], trained_weights(True, seed=2)[0])
    assert all(np.array_equal(a, b) for a, b in zip(shuffled, trained_weights(True, seed=1)))


def test_shuffle_visits_every_sample_once_per_epoch_in_a_new_order():
    n = 30
    x = np.arange(n * 3, dtype="float32").reshape(n, 3)
    y = np.zeros((n, 1), dtype="float32")
    recorder = Recorder()
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((3,)), recorder, layers.Dense(1)])
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=0.0), loss="mse")
    model.fit(x, y, batch_size=7, epochs=2, verbose=0, shuffle=True)
    training_batches = [batch for training, batch in recorder.calls if training]
    assert [len(b) for b in training_batches] == [7, 7, 7, 7, 2] * 2
    orders = []
    for epoch in range(2):
        seen = np.concatenate(training_batches[epoch * 5 : (epoch + 1) * 5])[:, 0] // 3
        assert sorted(seen.tolist()) == list(range(n))
        orders.append(seen.tolist())
    assert orders[0] != list(range(n)) and orders[1] != orders[0]


def test_initial_epoch_numbers_the_epochs():
    x, y = regression(20)
    model = frozen_regressor("mse")
    begun = []
    history = model.fit(
        x, y, epochs=5, initial_epoch=3, batch_size=10, verbose=0,
        callbacks=[LambdaCallback(on_epoch_begin=lambda e, logs: begun.append(e))],
    )
    assert begun == [3, 4] and history.epoch == [3, 4]
    assert len(history.history["loss"]) == 2


def test_initial_epoch_shows_in_the_progress_header(capsys):
    x, y = regression(20)
    model = frozen_regressor("mse")
    model.fit(x, y, epochs=3, initial_epoch=1, batch_size=10, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 2/3", "Epoch 3/3"]


def test_predict_verbose_one_shows_progress_and_zero_is_silent(capsys):
    x, _ = regression(25)
    model = frozen_regressor("mse")
    quiet = model.predict(x, batch_size=10, verbose=0)
    assert capsys.readouterr().out == ""
    loud = model.predict(x, batch_size=10, verbose=2)
    out = capsys.readouterr().out
    assert out.startswith("3/3 - ")
    np.testing.assert_array_equal(quiet.numpy(), loud.numpy())
    model.predict(x, batch_size=10, verbose=1)
    assert "3/3 [" in capsys.readouterr().out
