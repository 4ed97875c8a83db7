"""Details of Model's API that callers rely on: which call an error names, predict's hooks,
and that set_weights keeps each weight's dtype, device and graph safety."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import ndgrad
from ndgrad.callbacks import Callback

from .conftest import blobs, classifier


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch"])
def test_errors_name_the_call(call):
    x, y = blobs(6)
    model = classifier()
    with pytest.raises(RuntimeError, match=f"^{call}: the model must be compiled"):
        getattr(model, call)(x, y)
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=f"^{call}: x and y must have the same number"):
        getattr(model, call)(x, y[:3])


class PredictHooks(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_predict_begin(self, logs=None):
        self.calls.append(("begin", dict(self.params)))

    def on_predict_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, logs["outputs"].numpy().copy()))

    def on_predict_end(self, logs=None):
        self.calls.append(("end",))


def test_predict_calls_the_predict_hooks_with_each_batch_output():
    x, _ = blobs(10)
    model = classifier()
    hooks = PredictHooks()
    before = model.history
    out = model.predict(x, batch_size=4, callbacks=[hooks]).numpy()
    assert [c[0] for c in hooks.calls] == ["begin"] + ["batch_begin", "batch_end"] * 3 + ["end"]
    assert hooks.calls[0][1] == {"epochs": 1, "steps": 3, "verbose": 0}
    assert [c[1] for c in hooks.calls[1:-1]] == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(np.concatenate([c[2] for c in hooks.calls[2:-1:2]]), out)
    assert model.history is before  # predict keeps no History


def test_predict_of_no_samples_has_the_output_shape():
    model = classifier()
    assert model.predict(np.zeros((0, 4), dtype="float32")).shape == (0, 3)


def test_set_weights_keeps_dtype_device_and_invalidates_graphs(backend):
    model = classifier().to(backend)
    arrays = [w.astype("float64") + 1.0 for w in model.get_weights()]
    x = ndgrad.tensor(blobs(3)[0], device=backend)
    loss = model(x).sum()  # a graph that saved the weights
    model.set_weights(arrays)
    for w, a in zip(model.weights, arrays):
        assert w.dtype == ndgrad.float32 and w.device == backend
        np.testing.assert_allclose(w.numpy(), a, rtol=1e-6)
    with pytest.raises(ndgrad.GraphError):
        loss.backward()
    loss = model(x).sum()  # and again after a second set_weights
    model.set_weights(arrays)
    with pytest.raises(ndgrad.GraphError):
        loss.backward()


@pytest.mark.parametrize(
    ("method", "defaults"),
    [
        ("fit", {"batch_size": 32, "epochs": 1, "verbose": "auto", "callbacks": None,
                 "validation_split": 0.0, "validation_data": None, "shuffle": True,
                 "initial_epoch": 0}),
        ("evaluate", {"batch_size": 32, "verbose": "auto", "return_dict": False,
                      "callbacks": None}),
        ("predict", {"batch_size": 32, "verbose": 0, "callbacks": None}),
    ],
)  # fmt: skip
def test_loop_defaults_are_keras_defaults(method, defaults):
    params = inspect.signature(getattr(ndgrad.Model, method)).parameters
    assert {k: p.default for k, p in params.items() if p.default is not p.empty} == defaults


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_bad_labels_errors_name_the_call(call):
    x, y = blobs(6)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=rf"^{call}: .*labels must be in \[0, 3\)"):
        getattr(model, call)(x, y + 5, verbose=0)


def test_loop_defaults_in_use(capsys):
    """33 samples: two batches of 32 by default; evaluate prints progress ("auto"), predict not."""
    x, y = blobs(33)
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy")
    steps = []
    hook = Callback()
    hook.on_train_begin = lambda logs=None: steps.append(("fit", hook.params["steps"]))
    hook.on_test_begin = lambda logs=None: steps.append(("evaluate", hook.params["steps"]))
    hook.on_predict_begin = lambda logs=None: steps.append(("predict", hook.params["steps"]))
    model.fit(x, y, verbose=0, callbacks=[hook])
    capsys.readouterr()
    model.evaluate(x, y, callbacks=[hook])
    assert capsys.readouterr().out.startswith("2/2 ")
    model.predict(x, callbacks=[hook])
    assert capsys.readouterr().out == ""
    assert steps == [("fit", 2), ("evaluate", 2), ("predict", 2)]
