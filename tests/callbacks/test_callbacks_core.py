"""Callback, CallbackList, History and LambdaCallback."""

import pytest

from ndgrad.callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    LambdaCallback,
    ProgbarLogger,
)


class Recorder(Callback):
    """Appends (name, hook, args) to a shared list for every hook, then runs the default."""

    def __init__(self, name, calls):
        super().__init__()
        self.name, self.calls = name, calls


def _recording(hook):
    def method(self, *args):
        self.calls.append((self.name, hook, args))
        return getattr(Callback, hook)(self, *args)

    return method


for _hook in [name for name in vars(Callback) if name.startswith("on_")]:
    setattr(Recorder, _hook, _recording(_hook))


def test_history_records_every_epoch_and_is_set_on_the_model(model, fit):
    history = fit(model, train=[1.0, 0.5, 0.25], val=[1.5, 0.75, 0.5])
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.history["loss"] == pytest.approx([1.0, 0.5, 0.25])
    assert history.history["accuracy"] == pytest.approx([0.5, 0.6, 0.7])
    assert history.history["val_loss"] == [1.5, 0.75, 0.5]
    assert all(type(v) is float for values in history.history.values() for v in values)


def test_history_stops_with_training(model, fit):
    history = fit(model, [EarlyStopping(monitor="loss")], train=[1.0, 2.0, 0.5])
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2


def test_callback_list_runs_callbacks_in_order_then_history_then_progbar(model):
    a, b = Callback(), Callback()
    cbs = CallbackList([a, b], model=model, epochs=2, steps=3, verbose=1)
    assert cbs.callbacks[:2] == [a, b]
    assert isinstance(cbs.callbacks[2], History) and cbs.history is cbs.callbacks[2]
    assert isinstance(cbs.callbacks[3], ProgbarLogger) and cbs.progbar is cbs.callbacks[3]
    assert len(cbs) == 4 and list(cbs) == cbs.callbacks
    assert all(c.model is model for c in cbs)
    assert all(c.params == {"epochs": 2, "steps": 3, "verbose": 1} for c in cbs)
    assert model.history is cbs.history


def test_callback_list_adds_no_progbar_when_silent_and_reuses_given_defaults(model):
    assert not any(isinstance(c, ProgbarLogger) for c in CallbackList(verbose=0))
    history, progbar = History(), ProgbarLogger()
    cbs = CallbackList([progbar, history], model=model, verbose=1, epochs=1, steps=1)
    assert cbs.callbacks == [progbar, history]
    assert cbs.history is history and model.history is history
    bare = CallbackList([], add_history=False, add_progbar=False, verbose=1)
    assert bare.callbacks == [] and bare.history is None and bare.progbar is None


def test_every_hook_reaches_every_callback_in_order(model, fit):
    calls = []
    fit(
        model,
        [Recorder("a", calls), Recorder("b", calls)],
        train=[1.0],
        steps=1,
        val=[2.0],
        val_steps=1,
    )
    hooks = [hook for name, hook, _ in calls if name == "a"]
    assert hooks == [
        "on_train_begin",
        "on_epoch_begin",
        "on_train_batch_begin",
        "on_batch_begin",  # the Keras 2 alias, called by the default hook
        "on_train_batch_end",
        "on_batch_end",
        "on_test_begin",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_test_end",
        "on_epoch_end",
        "on_train_end",
    ]
    # each hook runs on a, then on b (the alias runs inside the hook, so skip it)
    firsts = [(name, hook) for name, hook, _ in calls if not hook.startswith("on_batch_")]
    assert firsts[0::2] == [("a", h) for h in hooks if not h.startswith("on_batch_")]
    assert firsts[1::2] == [("b", h) for h in hooks if not h.startswith("on_batch_")]
    epoch_end = next(args for name, hook, args in calls if hook == "on_epoch_end")
    assert epoch_end[0] == 0 and epoch_end[1]["val_loss"] == 2.0


def test_predict_and_batch_alias_hooks_are_dispatched():
    calls = []
    cbs = CallbackList([Recorder("a", calls)], add_history=False, verbose=0)
    cbs.on_predict_begin()
    cbs.on_predict_batch_begin(0)
    cbs.on_predict_batch_end(0, {"outputs": [[1.0, 2.0]]})
    cbs.on_predict_end()
    cbs.on_batch_begin(0)
    cbs.on_batch_end(0)
    assert [hook for _, hook, _ in calls] == [
        "on_predict_begin",
        "on_predict_batch_begin",
        "on_predict_batch_end",
        "on_predict_end",
        "on_batch_begin",
        "on_batch_end",
    ]
    assert calls[2][2] == (0, {"outputs": [[1.0, 2.0]]})


class Scalar:
    """A 0-d array-like, as a backend might put in the logs."""

    ndim = 0

    def __float__(self):
        return 0.25


def test_logs_are_a_fresh_float_dict_shared_along_the_list():
    seen = []
    add_lr = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(learning_rate=0.1))
    look = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    cbs = CallbackList([add_lr, look], verbose=0)
    logs = {"loss": Scalar(), "count": 3, "name": "x", "vector": [1.0]}
    cbs.on_epoch_end(0, logs)
    assert seen == [
        {"loss": 0.25, "count": 3.0, "name": "x", "vector": [1.0], "learning_rate": 0.1}
    ]
    assert type(seen[0]["loss"]) is float
    assert "learning_rate" not in logs  # the caller's dict is left alone
    assert cbs.history.history["learning_rate"] == [0.1]  # History runs after both


def test_base_callback_hooks_do_nothing_and_keep_model_and_params(model):
    cb = Callback()
    assert cb.model is None and cb.params == {}
    cb.set_model(model)
    cb.set_params({"epochs": 1})
    for hook in (
        "on_train_begin",
        "on_train_end",
        "on_test_begin",
        "on_test_end",
        "on_predict_begin",
        "on_predict_end",
    ):
        assert getattr(cb, hook)({}) is None
    for hook in (
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_predict_batch_begin",
        "on_predict_batch_end",
    ):
        assert getattr(cb, hook)(0, {}) is None
    assert cb.model is model and cb.params == {"epochs": 1}


def test_lambda_callback_calls_the_given_functions(model, fit):
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs["loss"])),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_end=lambda logs: calls.append(("train_end", logs["loss"])),
        on_test_end=lambda logs: calls.append(("test_end", logs["loss"])),
    )
    fit(model, [cb], train=[1.0, 0.5], steps=2, val=[3.0, 2.0])
    assert calls == [
        ("train_begin", {}),
        ("epoch_begin", 0),
        ("batch_begin", 0),
        ("batch_end", 0, pytest.approx(1.1)),
        ("batch_begin", 1),
        ("batch_end", 1, 1.0),
        ("test_end", 3.0),
        ("epoch_end", 0, 1.0),
        ("epoch_begin", 1),
        ("batch_begin", 0),
        ("batch_end", 0, pytest.approx(0.6)),
        ("batch_begin", 1),
        ("batch_end", 1, 0.5),
        ("test_end", 2.0),
        ("epoch_end", 1, 0.5),
        ("train_end", 0.5),
    ]


def test_lambda_callback_rejects_unknown_hooks_and_positional_functions():
    with pytest.raises(TypeError, match="on_epoch_ned"):
        LambdaCallback(on_epoch_ned=print)
    with pytest.raises(TypeError):
        LambdaCallback(print)
    quiet = LambdaCallback()  # hooks not given do nothing
    assert quiet.on_epoch_end(0, {}) is None and quiet.on_train_begin({}) is None
