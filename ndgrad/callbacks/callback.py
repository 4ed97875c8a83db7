"""The `Callback` base class: every hook of `Model.fit`, `evaluate` and `predict`, doing nothing."""


class Callback:
    """Base class for objects that `fit`, `evaluate` and `predict` call at fixed points.

    Subclass it and override the hooks you need. Before training, the model calls
    `set_model(model)` and `set_params({"epochs": ..., "steps": ..., "verbose": ...})`, so
    every hook can read `self.model` and `self.params`.

    `logs` is a dict of Python floats. In batch hooks it holds the running (epoch average so
    far) loss and metrics; in `on_epoch_end` the epoch's final values plus the `val_` ones.

    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(f"epoch {epoch}: loss {logs['loss']:.2f}")
    >>> PrintLoss().on_epoch_end(0, {"loss": 0.25})
    epoch 0: loss 0.25

    A GPU waits each time Python reads a number from it, so `fit` reads a step's numbers
    once the next step is queued, unless a callback overrides `on_train_batch_end` (or
    `on_batch_end`): then each step is read as soon as it is queued, and the device waits.
    A callback that can take its batch logs one step late sets `late_batch_logs = True`
    (the progress bar does): `fit` then calls its `on_train_batch_end` for step k once step
    k+1 is queued, with step k's logs (every step once, in order; the epoch's last step
    before `on_epoch_end`), so it costs no wait of its own. Being late has two effects: a
    late callback that sets `model.stop_training` in `on_train_batch_end` stops training one
    step later than an at-once one would (step k+1 has already run when it sees step k);
    and if step k's loss is not finite, it gets step k's logs but never step k+1's: training
    stops there and undoes step k+1 too.
    """

    #: Whether `on_train_batch_end` may come one step late in `fit` (see above).
    late_batch_logs = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_params(self, params):
        """Keep the run's parameters (``{"epochs": ..., "steps": ..., "verbose": ...}``) as
        `self.params`."""
        self.params = params

    def set_model(self, model):
        """Keep the model being trained, evaluated or run as `self.model`."""
        self.model = model

    # Keras 2 names, still called by the `on_train_batch_*` defaults below.
    def on_batch_begin(self, batch, logs=None):
        """Alias of `on_train_batch_begin`, kept for Keras 2 style callbacks."""

    def on_batch_end(self, batch, logs=None):
        """Alias of `on_train_batch_end`, kept for Keras 2 style callbacks."""

    def on_epoch_begin(self, epoch, logs=None):
        """At the start of epoch `epoch` (0-based) of `fit`."""

    def on_epoch_end(self, epoch, logs=None):
        """At the end of epoch `epoch`; `logs` has the epoch's metrics and `val_` metrics."""

    def on_train_batch_begin(self, batch, logs=None):
        """Before training step `batch` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """After training step `batch`; `logs` has the running loss and metrics."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Before evaluation step `batch` (in `evaluate`, or validation inside `fit`)."""

    def on_test_batch_end(self, batch, logs=None):
        """After evaluation step `batch`; `logs` has the running loss and metrics."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Before prediction step `batch`."""

    def on_predict_batch_end(self, batch, logs=None):
        """After prediction step `batch`."""

    def on_train_begin(self, logs=None):
        """At the start of `fit`."""

    def on_train_end(self, logs=None):
        """At the end of `fit`; `logs` has the last epoch's values."""

    def on_test_begin(self, logs=None):
        """At the start of `evaluate` (or of validation inside `fit`)."""

    def on_test_end(self, logs=None):
        """At the end of `evaluate`; `logs` has the final loss and metrics."""

    def on_predict_begin(self, logs=None):
        """At the start of `predict`."""

    def on_predict_end(self, logs=None):
        """At the end of `predict`."""
