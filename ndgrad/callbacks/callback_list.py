"""`CallbackList`: one object that forwards every hook to a list of callbacks, in order."""

from .callback import Callback
from .history import History
from .progbar_logger import ProgbarLogger


def _pythonify(logs):
    """A fresh dict with numbers and 0-d arrays/tensors as Python floats; the rest as given."""
    out = {}
    for key, value in (logs or {}).items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number or getattr(value, "ndim", None) == 0:
            value = float(value)
        out[key] = value
    return out


class CallbackList(Callback):
    """The callbacks of one `fit`, `evaluate` or `predict` call, driven as one.

    `callbacks` run in the order given; a `History` (if `add_history`) and then a
    `ProgbarLogger` (if `add_progbar` and `params["verbose"]` is truthy) are appended unless
    the list already holds one, as Keras does. `model` and `params` (`epochs`, `steps`,
    `verbose`) are passed on to every callback.

    Each hook gets one fresh copy of `logs` with float values, shared by the callbacks in
    turn, so a callback may add a key (e.g. `learning_rate`) that later ones see.

    >>> from ndgrad.callbacks import LambdaCallback
    >>> seen = []
    >>> cbs = CallbackList([LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))],
    ...                    epochs=1, steps=1, verbose=0)
    >>> cbs.on_epoch_end(0, {"loss": 1.0})
    >>> seen, cbs.history.history
    ([0], {'loss': [1.0]})
    """

    def __init__(self, callbacks=None, *, model=None, add_history=True, add_progbar=True, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self.progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if self.progbar is None and add_progbar and params.get("verbose", 1):
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        """Add `callback` last: its hooks run after those of the callbacks already here."""
        self.callbacks.append(callback)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        """Give the run's parameters to every callback."""
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model):
        """Give the model to every callback (and the History, as ``model.history``)."""
        self.model = model
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook, *args):
        *args, logs = args
        logs = _pythonify(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)
