"""Model: compile, fit, evaluate, predict, train_on_batch, History, validation, errors that
leave the weights untouched, devices. Training runs on both backends."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import Model, Sequential, layers

from .conftest import blobs, classifier


class MLP(Model):
    """A subclassed model: layers made in __init__, used in call()."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(16, activation="relu")
        self.dropout = layers.Dropout(0.2)
        self.head = layers.Dense(3, activation="softmax")

    def call(self, inputs, training=False):
        return self.head(self.dropout(self.hidden(inputs), training=training))


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- training --------------------------------------------------------------------------------

def test_fit_learns_and_history_has_per_epoch_lists(backend, compiled, data):
    x, y = data
    history = compiled.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history is compiled.history
    assert set(history.history) == {"loss", "accuracy"}
    assert all(len(v) == 15 for v in history.history.values())
    assert all(isinstance(v, float) for v in history.history["loss"])
    assert history.epoch == list(range(15))
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = compiled.evaluate(x, y, verbose=0)
    assert accuracy >= 0.95 and loss < history.history["loss"][0]


def test_subclassed_model(backend, data):
    x, y = data
    ndgrad.manual_seed(0)
    with ndgrad.device(backend):
        model = MLP()
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.02),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    assert not model.built
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.built and model.count_params() == 4 * 16 + 16 + 16 * 3 + 3
    assert [n for n, _, _ in model.named_weights()] == ["hidden.kernel", "hidden.bias",
                                                         "head.kernel", "head.bias"]
    assert all(w.device == backend for w in model.weights)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[1] >= 0.9
    # dropout is off at inference: predictions are deterministic
    np.testing.assert_array_equal(model.predict(x).numpy(), model.predict(x).numpy())


def test_evaluate_returns_loss_and_metrics_or_the_loss_alone(backend, data):
    x, y = data
    model = classifier().to(backend)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_categorical_accuracy"])
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 3
    assert result[1] == result[2]
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["loss", "accuracy", "sparse_categorical_accuracy"]
    assert as_dict["loss"] == pytest.approx(result[0])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float) and loss == pytest.approx(result[0], rel=1e-5)


def test_evaluate_equals_the_loss_over_all_samples(backend, data):
    x, y = data
    model = classifier().to(backend)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    loss, accuracy = model.evaluate(x, y, batch_size=7, verbose=0)  # a ragged last batch
    p = model.predict(x).numpy().astype("float64")
    np.testing.assert_allclose(loss, -np.log(p[np.arange(len(y)), y]).mean(), rtol=1e-4)
    assert accuracy == pytest.approx((p.argmax(1) == y).mean())


def test_predict(backend, compiled, data):
    x, _ = data
    out = compiled.predict(x, batch_size=7)
    assert isinstance(out, ndgrad.Tensor) and out.shape == (90, 3) and out.device == backend
    assert not out.requires_grad
    np.testing.assert_allclose(out.numpy().sum(1), 1.0, rtol=1e-5)
    whole = compiled.predict(x, batch_size=1000).numpy()
    np.testing.assert_allclose(out.numpy(), whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(compiled(ndgrad.tensor(x, device=backend)).numpy(), whole,
                               rtol=1e-5, atol=1e-7)


def test_train_on_batch(backend, data):
    x, y = data
    model = classifier().to(backend)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    losses = [model.train_on_batch(x[:32], y[:32]) for _ in range(5)]
    assert all(isinstance(v, list) and len(v) == 2 for v in losses)
    assert losses[-1][0] < losses[0][0]
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    assert isinstance(model.train_on_batch(x[:32], y[:32]), float)


def test_validation_split_and_validation_data(backend, compiled, data):
    x, y = data
    history = compiled.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 2 for v in history.history.values())
    assert history.params["steps"] == 5  # training sees only the other 72 samples
    # Keras holds out the *last* 20% of the samples
    val_loss, val_acc = compiled.evaluate(x[72:], y[72:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc)
    vx, vy = blobs(30, seed=5)
    history = compiled.fit(x, y, epochs=1, validation_data=(vx, vy), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["val_loss"][0] == pytest.approx(compiled.evaluate(vx, vy, verbose=0)[0],
                                                           rel=1e-5)


class _Validating(Sequential):
    """A model whose own evaluate notes each call and adds a key to the results."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def evaluate(self, x, y, batch_size=32, verbose="auto", return_dict=False, callbacks=None):
        self.calls.append((len(x), batch_size, verbose, return_dict))
        result = super().evaluate(x, y, batch_size=batch_size, verbose=verbose,
                                  return_dict=True, callbacks=callbacks)
        result["extra"] = 1.0
        return result if return_dict else list(result.values())


def test_fit_validates_through_an_overridden_evaluate(data):
    """As in Keras, fit validates with the model's own evaluate once per epoch, on the held-out
    samples, quietly, asking for a dict; its keys come back with a val_ prefix."""
    x, y = data
    ndgrad.manual_seed(0)
    model = _Validating([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    assert model.calls == [(18, 16, 0, True)] * 3
    assert history.history["val_extra"] == [1.0] * 3
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "val_extra"}


def test_fit_validates_through_an_evaluate_set_on_the_instance(compiled, data):
    x, y = data
    calls = []

    def evaluate(vx, vy, **kwargs):
        calls.append(kwargs)
        return {"loss": 0.5}

    compiled.evaluate = evaluate
    history = compiled.fit(x, y, epochs=2, batch_size=16, validation_data=(x[:9], y[:9]),
                           verbose=0)
    assert calls == [{"batch_size": 16, "verbose": 0, "return_dict": True}] * 2
    assert history.history["val_loss"] == [0.5, 0.5]


def test_validation_split_must_be_a_fraction(compiled, data):
    with pytest.raises(ValueError, match="validation_split"):
        compiled.fit(*data, validation_split=1.5, verbose=0)


def test_fit_is_reproducible_with_manual_seed(data):
    def train():
        model = classifier(seed=3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        ndgrad.manual_seed(11)
        model.fit(*data, epochs=2, batch_size=8, verbose=0)
        return model.get_weights()

    assert _same(train(), train())


def test_other_losses_and_metrics_train(backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")) + 0.3
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((3,)), layers.Dense(1)]).to(backend)
    model.compile(optimizer=ndgrad.optimizers.SGD(learning_rate=0.1), loss="mse",
                  metrics=["mae"])
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < 1e-3
    np.testing.assert_allclose(model.layers[0].kernel.numpy().ravel(), [1, -2, 0.5], atol=0.02)

    labels = (x[:, :1] > 0).astype("float32")
    model = Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")]).to(backend)
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=40, batch_size=16, verbose=0)
    assert model.compiled_metrics[0].fn is ndgrad.metrics.binary_accuracy
    assert model.evaluate(x, labels, verbose=0)[1] >= 0.9


def test_one_hot_targets_with_categorical_crossentropy(backend, data):
    x, y = data
    model = classifier().to(backend)
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.02),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, np.eye(3, dtype="float32")[y], epochs=10, batch_size=16, verbose=0)
    assert model.compiled_metrics[0].fn is ndgrad.metrics.categorical_accuracy
    assert model.evaluate(x, np.eye(3, dtype="float32")[y], verbose=0)[1] >= 0.9


# -- output ----------------------------------------------------------------------------------

def test_verbose_zero_is_silent(capsys, compiled, data):
    x, y = data
    compiled.fit(x, y, epochs=2, validation_split=0.1, verbose=0)
    compiled.evaluate(x, y, verbose=0)
    compiled.predict(x)
    compiled.train_on_batch(x, y)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_verbose_one_prints_progress(capsys, compiled, data):
    compiled.fit(*data, epochs=2, batch_size=30, verbose=1)
    out, err = capsys.readouterr()
    text = out + err
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "3/3" in text and "loss:" in text and "accuracy:" in text


# -- errors ----------------------------------------------------------------------------------

def test_training_before_compile_raises(data):
    model = classifier()
    for call in (lambda: model.fit(*data, verbose=0), lambda: model.evaluate(*data, verbose=0),
                 lambda: model.train_on_batch(*data)):
        with pytest.raises(RuntimeError, match="compile"):
            call()


def test_compile_errors_list_valid_names():
    model = classifier()
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.compile(optimizer="sgd", loss="crossentropy")
    with pytest.raises(ValueError, match="(?i)rmsprop") as info:
        model.compile(optimizer="adagrad", loss="mse")
    assert "sgd" in str(info.value).lower() and "adam" in str(info.value).lower()
    with pytest.raises(ValueError, match="accuracy"):
        model.compile(optimizer="sgd", loss="mse", metrics=["precision"])


BAD_INPUTS = {
    "x and y of different lengths": (lambda x, y: (x, y[:-1]), ValueError,
                                     r"len\(x\)=90, len\(y\)=89"),
    "a label out of range": (lambda x, y: (x, np.where(np.arange(90) == 89, 7, y)),
                             ValueError, r"\[7\]"),
    "a negative label": (lambda x, y: (x, np.where(np.arange(90) == 50, -1, y)), ValueError,
                         r"\[-1\]"),
    "a wrong input shape": (lambda x, y: (x[:, :3], y), ndgrad.ShapeError,
                            r"\(None, 4\).*\(\d+, 3\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("method", ["fit", "train_on_batch", "evaluate"])
def test_bad_data_raises_and_leaves_the_weights_untouched(backend, compiled, data, case,
                                                          method):
    make, error, message = BAD_INPUTS[case]
    x, y = make(*data)
    compiled.fit(*data, epochs=1, verbose=0)  # the optimizer has state now
    before = compiled.get_weights()
    iterations = compiled.optimizer.iterations
    kwargs = {"verbose": 0} if method != "train_on_batch" else {}
    with pytest.raises(error, match=message):
        getattr(compiled, method)(x, y, **kwargs)
    assert _same(before, compiled.get_weights())
    assert compiled.optimizer.iterations == iterations


def test_bad_validation_data_raises_before_training(compiled, data):
    x, y = data
    before = compiled.get_weights()
    with pytest.raises(ValueError, match="same number of samples"):
        compiled.fit(x, y, validation_data=(x[:10], y[:9]), verbose=0)
    assert _same(before, compiled.get_weights())


def test_out_of_range_labels_with_a_loss_object(data):
    x, y = data
    model = Sequential([layers.Input((4,)), layers.Dense(3)])
    model.compile(optimizer="sgd",
                  loss=ndgrad.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"\[3\]"):
        model.fit(x, np.where(y == 2, 3, y), verbose=0)
    assert _same(before, model.get_weights())


# -- devices ---------------------------------------------------------------------------------

def test_to_moves_weights_and_optimizer_state(data):
    x, y = data
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    weights = model.weights
    before = model.get_weights()
    expected = model.predict(x).numpy()
    model.to("strict")
    assert model.weights == weights  # the same tensor objects
    assert all(w.device == "strict" for w in model.weights)
    assert _same(before, model.get_weights())
    strict = ndgrad.backends.registry.get_backend("strict")
    state = model.optimizer.variables
    assert state and all(strict.is_array(v) for v in state)
    out = model.predict(x)
    assert out.device == "strict"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-7)
    model.fit(x, y, epochs=1, verbose=0)  # numpy data goes to the model's device
    assert all(strict.is_array(v) for v in model.optimizer.variables)
    model.to("cpu")
    assert all(w.device == "cpu" for w in model.weights)
    assert model.evaluate(x, y, verbose=0)[1] > 0


def test_fit_accepts_tensors_on_another_device(data):
    x, y = data
    model = classifier().to("strict")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(ndgrad.tensor(x), ndgrad.tensor(y), epochs=1, verbose=0)
    assert all(w.device == "strict" for w in model.weights)


# -- weights ---------------------------------------------------------------------------------

def test_get_and_set_weights(data):
    a, b = classifier(seed=1), classifier(seed=2)
    assert not _same(a.get_weights(), b.get_weights())
    b.set_weights(a.get_weights())
    assert _same(a.get_weights(), b.get_weights())
    np.testing.assert_array_equal(a.predict(data[0]).numpy(), b.predict(data[0]).numpy())
    with pytest.raises(ValueError, match="4 weights"):
        b.set_weights(a.get_weights()[:2])
    bad = a.get_weights()
    bad[0] = bad[0].T
    before = b.get_weights()
    with pytest.raises(ndgrad.ShapeError, match=r"\(4, 8\)"):
        b.set_weights(bad)
    assert _same(before, b.get_weights())


def test_binary_labels_without_a_feature_axis(backend):
    """y (N,) with a Dense(1, sigmoid) output trains as y (N, 1) would (no (N, N) broadcast)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("float32")  # shape (64,)
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((2,)), layers.Dense(1, activation="sigmoid")]).to(backend)
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.1),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy >= 0.95
    assert loss == pytest.approx(model.evaluate(x, y[:, None], verbose=0)[0], rel=1e-6)


# -- bad validation data and batch sizes are rejected before training ----------------------

@pytest.mark.parametrize(
    "bad",
    [
        lambda x, y: (x, y + 5),  # labels out of range for 3 outputs
        lambda x, y: (np.zeros((len(x), x.shape[1] + 1), "float32"), y),  # wrong feature count
    ],
    ids=["labels", "features"],
)
def test_bad_validation_data_leaves_the_weights_untouched(data, bad):
    x, y = data
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises((ValueError, ndgrad.ShapeError), match="validation_data|model"):
        model.fit(x, y, epochs=2, verbose=0, validation_data=bad(x, y))
    assert _same(before, model.get_weights())
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_batch_size_must_be_positive(compiled, data, method):
    x, y = data
    args = (x,) if method == "predict" else (x, y)
    with pytest.raises(ValueError, match=f"{method}: batch_size must be a positive integer"):
        getattr(compiled, method)(*args, batch_size=0, verbose=0)
