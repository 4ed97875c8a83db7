"""CallbackList forwards each hook with its own arguments; Callback's batch aliases; logs."""

import numpy as np

from ndgrad.callbacks import Callback, CallbackList, History, ProgbarLogger

HOOKS_WITH_INDEX = [
    "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end",
]  # fmt: skip
HOOKS = [
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
    "on_predict_end",
]  # fmt: skip


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda *args: self.calls.append((name, *args))
        return super().__getattribute__(name)


def test_every_hook_is_forwarded_with_its_index_and_logs():
    recorder = Recorder()
    cbs = CallbackList([recorder], add_history=False, add_progbar=False)
    expected = []
    for k, hook in enumerate(HOOKS_WITH_INDEX):
        getattr(cbs, hook)(k + 7, {"k": k})
        expected.append((hook, k + 7, {"k": float(k)}))
    for k, hook in enumerate(HOOKS):
        getattr(cbs, hook)({"k": k})
        expected.append((hook, {"k": float(k)}))
    assert recorder.calls == expected


def test_train_batch_hooks_default_to_the_batch_hooks():
    class Old(Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

        def on_batch_begin(self, batch, logs=None):
            self.calls.append(("begin", batch, logs))

        def on_batch_end(self, batch, logs=None):
            self.calls.append(("end", batch, logs))

    old = Old()
    old.on_train_batch_begin(3, {"a": 1.0})
    old.on_train_batch_end(4, {"b": 2.0})
    assert old.calls == [("begin", 3, {"a": 1.0}), ("end", 4, {"b": 2.0})]


def test_logs_become_python_floats_except_booleans_and_non_numbers():
    recorder = Recorder()
    cbs = CallbackList([recorder], add_history=False, add_progbar=False)
    cbs.on_epoch_end(0, {"a": np.float32(0.5), "b": 3, "c": True, "d": "text", "e": np.ones(2)})
    logs = recorder.calls[0][2]
    assert logs["a"] == 0.5 and type(logs["a"]) is float
    assert logs["b"] == 3.0 and type(logs["b"]) is float
    assert logs["c"] is True and logs["d"] == "text" and logs["e"].shape == (2,)


def test_params_and_model_reach_the_list_and_its_callbacks():
    class Model:
        pass

    model, recorder = Model(), Callback()
    cbs = CallbackList([recorder], model=model, epochs=2, steps=3, verbose=0)
    assert cbs.model is model and recorder.model is model
    assert cbs.params == {"epochs": 2, "steps": 3, "verbose": 0} == recorder.params
    assert isinstance(model.history, History) and model.history is cbs.history
    late = Callback()
    cbs.append(late)
    assert cbs.callbacks[-1] is late and len(cbs) == 3


def test_a_progress_bar_is_added_unless_verbose_is_zero():
    assert isinstance(CallbackList(epochs=1).progbar, ProgbarLogger)  # verbose defaults to 1
    assert CallbackList(epochs=1, verbose=0).progbar is None
    assert isinstance(CallbackList(verbose=2).callbacks[-1], ProgbarLogger)
