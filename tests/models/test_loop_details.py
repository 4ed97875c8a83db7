"""What evaluate, predict and fit hand to callbacks and return (batch numbers, running means,
params, no History of their own), empty data, epochs=0, set_weights keeping dtypes, and
Sequential.add's errors and layer naming."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.callbacks import Callback, History

from .conftest import blobs, classifier


class _TestHooks(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_test_begin(self, logs=None):
        self.calls.append(("begin", dict(self.params)))

    def on_test_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_test_end(self, logs=None):
        self.calls.append(("end", dict(logs)))


def _compiled(metrics=("accuracy",)):
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def _sample_losses(model, x, y):
    p = model.predict(x).numpy().astype("float64")
    return -np.log(p[np.arange(len(y)), y])


def test_evaluate_hands_each_batch_and_the_running_mean_to_callbacks():
    x, y = blobs(10)
    model = _compiled()
    hooks = _TestHooks()
    result = model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[hooks], return_dict=True)
    per_sample = _sample_losses(model, x, y)
    assert hooks.calls[0] == ("begin", {"epochs": 1, "steps": 3, "verbose": 0})
    assert [c[:2] for c in hooks.calls[1:-1]] == [
        ("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1), ("batch_end", 1),
        ("batch_begin", 2), ("batch_end", 2),
    ]
    for (_, _batch, logs), seen in zip(hooks.calls[2:-1:2], (4, 8, 10)):
        assert set(logs) == {"loss", "accuracy"}
        assert logs["loss"] == pytest.approx(per_sample[:seen].mean(), rel=1e-5)
    assert hooks.calls[-1] == ("end", result)
    assert result["loss"] == pytest.approx(per_sample.mean(), rel=1e-5)


def test_evaluate_and_predict_keep_the_history_of_fit():
    x, y = blobs(12)
    model = _compiled()
    history = model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.evaluate(x, y, verbose=0, callbacks=[_TestHooks()])
    model.predict(x)
    assert model.history is history and history.epoch == [0, 1]


def test_evaluate_return_values_with_and_without_metrics():
    x, y = blobs(9)
    model = _compiled()
    loss, accuracy = model.evaluate(x, y, batch_size=4, verbose=0)
    per_sample = _sample_losses(model, x, y)
    assert loss == pytest.approx(per_sample.mean(), rel=1e-5)  # 4 + 4 + 1: sample-weighted
    assert model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True) == {
        "loss": loss, "accuracy": accuracy}
    plain = _compiled(metrics=())
    assert plain.evaluate(x, y, batch_size=4, verbose=0) == pytest.approx(loss)
    assert plain.evaluate(x, y, verbose=0, return_dict=True) == {"loss": pytest.approx(loss)}


def test_evaluate_of_no_samples_is_nan():
    model = _compiled(metrics=())
    loss = model.evaluate(np.zeros((0, 4), "float32"), np.zeros((0,), "int64"), verbose=0)
    assert isinstance(loss, float) and math.isnan(loss)


def test_evaluate_prints_progress_by_default_and_not_with_verbose_zero(capsys):
    x, y = blobs(10)
    model = _compiled()
    model.evaluate(x, y, batch_size=4)
    assert capsys.readouterr().out.startswith("3/3 ")
    model.evaluate(x, y, batch_size=4, verbose=0)
    assert capsys.readouterr().out == ""


def test_fit_prints_progress_by_default(capsys):
    x, y = blobs(6)
    model = _compiled()
    model.fit(x, y, batch_size=4)
    out = capsys.readouterr().out
    assert out.startswith("2/2 ") and "loss: " in out


def test_default_batch_size_is_32_for_evaluate_and_predict():
    x, y = blobs(64)
    model = _compiled()
    hooks = _TestHooks()
    model.evaluate(x, y, verbose=0, callbacks=[hooks])
    assert hooks.calls[0][1]["steps"] == 2
    sizes = []

    class Sizes(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            sizes.append(len(logs["outputs"]))

    model.predict(x, callbacks=[Sizes()])
    assert sizes == [32, 32]


def test_predict_batches_with_an_uneven_last_batch():
    x, _ = blobs(11)
    model = classifier()
    sizes = []

    class Sizes(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            sizes.append(len(logs["outputs"]))

    out = model.predict(x, batch_size=4, callbacks=[Sizes()])
    assert sizes == [4, 4, 3] and out.shape == (11, 3)
    np.testing.assert_allclose(out.numpy(), model(ndgrad.tensor(x)).numpy(), rtol=1e-6)


def test_fit_with_zero_epochs_trains_nothing_and_negative_epochs_are_refused():
    x, y = blobs(6)
    model = _compiled()
    before = model.get_weights()
    history = model.fit(x, y, epochs=0, verbose=0)
    assert isinstance(history, History) and history.epoch == []
    assert model.optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match=r"^fit: epochs must be >= 0\. Received epochs=-1$"):
        model.fit(x, y, epochs=-1, verbose=0)


# -- set_weights ----------------------------------------------------------------------------

def test_set_weights_converts_to_each_weights_dtype():
    model = classifier()
    model.set_weights([np.ones(w.shape, dtype="int64") for w in model.get_weights()])
    assert all(w.dtype == ndgrad.float32 for w in model.weights)
    assert all((w == 1).all() for w in model.get_weights())
    wide = Sequential([layers.Input((2,)), layers.Dense(3, dtype="float64")])
    wide.set_weights([np.full(w.shape, 0.1, dtype="float32") for w in wide.get_weights()])
    assert [w.dtype for w in wide.weights] == [ndgrad.float64, ndgrad.float64]
    assert wide.predict(np.ones((1, 2), "float64")).dtype == ndgrad.float64


def test_set_weights_errors_name_the_counts_and_shapes():
    model = classifier()
    arrays = model.get_weights()
    with pytest.raises(ValueError, match=r"^set_weights: the model has 4 weights, received 3$"):
        model.set_weights(arrays[:3])
    arrays[2] = np.zeros((8, 2), "float32")
    with pytest.raises(ndgrad.ShapeError,
                       match=r"^set_weights: a weight of shape \(8, 3\) got an array of shape "
                             r"\(8, 2\)$"):
        model.set_weights(arrays)


# -- Sequential.add -------------------------------------------------------------------------

def test_add_errors_name_what_was_received():
    model = Sequential()
    with pytest.raises(TypeError, match=r"^Sequential\.add: expected a Layer\. Received str$"):
        model.add("dense")
    with pytest.raises(TypeError, match=r"Received int$"):
        model.add(3)


def test_a_second_input_is_refused_even_before_any_layer():
    model = Sequential()
    model.add(layers.Input((3,)))
    with pytest.raises(ValueError, match=r"^Sequential: Input must be the first layer$"):
        model.add(layers.Input((3,)))
    with pytest.raises(ValueError, match=r"^Sequential: Input must be the first layer$"):
        Sequential([layers.Input((2,)), layers.Input((2,))])


def test_layers_are_named_by_position():
    model = Sequential([layers.Input((3,)), layers.Dense(2), layers.Dense(1)])
    model.add(layers.Dense(4))
    assert [name for name, _, _ in model.named_weights()] == [
        "layers.0.kernel", "layers.0.bias", "layers.1.kernel", "layers.1.bias",
        "layers.2.kernel", "layers.2.bias",
    ]
    assert model.sublayers() == model.layers


def test_set_weights_after_a_training_step_still_invalidates_older_graphs():
    x, y = blobs(6)
    model = _compiled(metrics=())
    loss = model(ndgrad.tensor(x)).sum()  # saved the weights before the step
    model.train_on_batch(x, y)  # changes them in place
    model.set_weights(model.get_weights())
    with pytest.raises(ndgrad.GraphError):
        loss.backward()


# -- inference mode inside another model's training step -----------------------------------

def test_predict_and_evaluate_run_in_inference_mode_inside_a_training_step():
    """A teacher model used in a student's forward pass during fit (distillation): its
    predict and evaluate still run without dropout."""
    teacher = Sequential([layers.Input((4,)), layers.Dropout(0.5)])
    teacher.compile(optimizer="sgd", loss="mse")
    seen = []

    class Student(ndgrad.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3, activation="softmax")

        def call(self, inputs, training=None):
            seen.append((inputs.numpy().copy(), teacher.predict(inputs).numpy(),
                         teacher.evaluate(inputs, inputs, verbose=0)))
            return self.dense(inputs)

    x, y = blobs(8)
    x = np.abs(x) + 1.0  # no zeros: dropout would show
    student = Student()
    student.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ndgrad.manual_seed(0)
    student.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert len(seen) >= 2
    for inputs, predicted, loss in seen:
        np.testing.assert_array_equal(predicted, inputs)
        assert loss == 0.0


def test_a_teacher_evaluated_inside_a_training_step_keeps_its_moving_statistics():
    """evaluate's checks and steps and predict run the teacher in inference mode: its batch
    normalization statistics do not move."""
    teacher = Sequential([layers.Input((4,)), layers.BatchNormalization()])
    teacher.compile(optimizer="sgd", loss="mse")
    before = teacher.get_weights()

    class Student(ndgrad.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3, activation="softmax")

        def call(self, inputs, training=None):
            teacher.evaluate(inputs, inputs, verbose=0)
            teacher.predict(inputs)
            return self.dense(inputs)

    x, y = blobs(8)
    student = Student()
    student.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    student.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))


def test_validation_runs_in_batches_of_fits_batch_size():
    sizes = []

    class Recording(ndgrad.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3, activation="softmax")

        def call(self, inputs, training=None):
            sizes.append((bool(training), inputs.shape[0]))
            return self.dense(inputs)

    x, y = blobs(12)
    model = Recording()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x[:8], y[:8], epochs=1, batch_size=4, shuffle=False, verbose=0,
              validation_data=(x[8:11], y[8:11]))
    model.fit(x[:2], y[:2], epochs=1, batch_size=2, verbose=0, validation_data=(x, y))
    steps = [s for s in sizes if s != (False, 1)]  # without the one-sample input checks
    assert steps == [(True, 4), (True, 4), (False, 3), (True, 2)] + [(False, 2)] * 6


# -- fit's checks of validation data, and stop_training --------------------------------------

@pytest.mark.parametrize("split", [1.0, 1.5, -0.1])
def test_validation_split_outside_zero_one_is_refused(split):
    x, y = blobs(10)
    model = _compiled()
    with pytest.raises(ValueError, match=rf"^fit: validation_split must be in \(0, 1\)\. "
                                         rf"Received {split}$"):
        model.fit(x, y, validation_split=split, verbose=0)
    assert model.optimizer.iterations == 0
    history = model.fit(x, y, validation_split=0.0, epochs=1, verbose=0)  # 0: no validation
    assert set(history.history) == {"loss", "accuracy"}


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        (lambda x, y: (x, y[:-1]), r"x and y must have the same number of samples"),
        (lambda x, y: (x[:, :3], y), r"4"),
        (lambda x, y: (x, y + 3), r"labels must be in \[0, 3\)"),
    ],
    ids=["lengths", "features", "labels"],
)
def test_validation_data_errors_name_the_validation_data(validation, message):
    x, y = blobs(10)
    model = _compiled()
    with pytest.raises((ValueError, ndgrad.ShapeError),
                       match=rf"^fit \(validation_data\): .*{message}"):
        model.fit(x, y, validation_data=validation(x, y), verbose=0)
    assert model.optimizer.iterations == 0


def test_fit_resets_stop_training_to_false():
    x, y = blobs(10)
    model = _compiled()
    seen = []

    class Stop(Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.model.stop_training)

        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    model.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[Stop()])
    assert model.stop_training is True and model.optimizer.iterations == 1
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[Stop()])
    assert seen == [False, False] and all(s is False for s in seen)
    assert model.optimizer.iterations == 2


# -- what fit and evaluate check before they start ----------------------------------------

@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_scalar_data_is_refused_with_the_shapes(call):
    x, y = blobs(6)
    model = _compiled()
    with pytest.raises(ndgrad.ShapeError,
                       match=rf"^{call}: x must have a batch axis\. Received shape \(\)$"):
        getattr(model, call)(np.float32(1.0), y, verbose=0)
    with pytest.raises(ValueError, match=rf"^{call}: x and y must have the same number of "
                                         r"samples\. Received len\(x\)=6, len\(y\)=a scalar$"):
        getattr(model, call)(x, np.int64(1), verbose=0)


def test_label_range_check_is_exact_and_lists_ten_bad_labels():
    x, y = blobs(15)
    model = _compiled()
    y_edge = y.copy()
    y_edge[4] = 3  # one past the last class
    with pytest.raises(ValueError, match=r"^evaluate: labels must be in \[0, 3\) for 3 classes\. "
                                         r"Received out-of-range labels \[3\]$"):
        model.evaluate(x, y_edge, verbose=0)
    y_many = np.arange(15) + 2  # 0, then 3 .. 16: fourteen bad labels, the first ten listed
    y_many[0] = 0
    with pytest.raises(ValueError,
                       match=r"out-of-range labels \[3, 4, 5, 6, 7, 8, 9, 10, 11, 12\]$"):
        model.fit(x, y_many, verbose=0)
    model.evaluate(x, np.full(15, 2), verbose=0)  # the last class is a valid label


def test_label_range_is_checked_against_the_last_axis_of_sequence_outputs():
    """Outputs (N, T=2, C=3) with labels (N, T): labels go up to C - 1, not T - 1."""
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((2, 4)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(6, 2, 4)).astype("float32")
    y = np.array([[0, 1], [2, 2], [1, 0], [2, 1], [0, 0], [1, 2]])
    assert math.isfinite(model.evaluate(x, y, verbose=0))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.evaluate(x, y + 1, verbose=0)


def test_an_optimizer_without_a_loss_is_not_compiled():
    x, y = blobs(6)
    model = classifier()
    model.optimizer = ndgrad.optimizers.SGD()  # set by hand, compile never called
    with pytest.raises(RuntimeError, match=r"^fit: the model must be compiled first"):
        model.fit(x, y, verbose=0)
    assert model.optimizer.iterations == 0


def test_compile_requires_a_loss():
    with pytest.raises(ValueError, match=r"^compile: a loss is required, e\.g\. "
                                         r"loss='sparse_categorical_crossentropy'$"):
        classifier().compile(optimizer="sgd")


def test_batch_size_one_is_allowed():
    x, y = blobs(3)
    model = _compiled()
    hooks = _TestHooks()
    model.fit(x, y, batch_size=1, verbose=0)
    assert model.optimizer.iterations == 3
    model.evaluate(x, y, batch_size=1, verbose=0, callbacks=[hooks])
    assert hooks.calls[0][1]["steps"] == 3
    assert model.predict(x, batch_size=1).shape == (3, 3)


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_verbose_auto_means_the_progress_bar(capsys, call):
    x, y = blobs(10)
    model = _compiled()
    params = []

    class Params(Callback):
        def on_train_begin(self, logs=None):
            params.append(self.params["verbose"])

        def on_test_begin(self, logs=None):
            params.append(self.params["verbose"])

    getattr(model, call)(x, y, batch_size=4, callbacks=[Params()])
    auto = capsys.readouterr().out
    getattr(model, call)(x, y, batch_size=4, verbose=1, callbacks=[Params()])
    one = capsys.readouterr().out
    assert params == [1, 1]
    assert "3/3 [" in auto and auto.count("\n") == one.count("\n")


def test_a_new_model_is_not_compiled_trained_or_stopped(tmp_path):
    model = classifier()
    assert model.optimizer is None and model.loss is None and model.compiled_metrics == []
    assert model.history is None and model.divergence is None
    assert model.stop_training is False
    model.save(tmp_path / "new.ndgrad")  # an uncompiled model saves without compile settings
    loaded = ndgrad.saving.load_model(tmp_path / "new.ndgrad")
    assert loaded.optimizer is None and loaded.count_params() == model.count_params()


def test_a_subclassed_model_takes_its_name_positionally():
    class Net(ndgrad.Model):
        def __init__(self):
            super().__init__("net", False)
            self.dense = layers.Dense(2)

        def call(self, inputs, training=None):
            return self.dense(inputs)

    net = Net()
    assert net.name == "net" and net.trainable is False
