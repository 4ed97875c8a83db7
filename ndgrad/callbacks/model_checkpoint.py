"""`ModelCheckpoint`: save the model or its weights during `fit`."""

import os

from ._monitor import improved, resolve_mode, warn_missing, worst
from .callback import Callback


class ModelCheckpoint(Callback):
    """Saves the model (`model.save(path)`) or its weights (`model.save_weights(path)`).

    Args:
        filepath: where to save. It may hold `str.format` fields filled from the epoch
            (1-based), the batch (1-based, when saving every N batches) and the logs, e.g.
            `"ckpt/epoch{epoch:02d}-{val_loss:.2f}.weights.npz"` (weights files end in
            `.npz` or `.safetensors`, models in `.ndgrad`). Missing directories are made.
        monitor: the log key compared when `save_best_only`.
        save_best_only: save only when `monitor` improves on the best value so far. With a
            fixed `filepath` the file then always holds the best model; when `monitor` is
            missing from the logs a warning says so and nothing is saved.
        save_weights_only: call `model.save_weights(path)` instead of `model.save(path)`.
        mode: "min", "max", or "auto" to pick from the name of `monitor`.
        save_freq: "epoch" to save at each epoch end, or an integer N to save every N
            training batches (then only batch logs are there to fill `filepath` and compare).
        verbose: 1 prints a line for each save (and each skipped save).
        initial_value_threshold: a first "best" value that a save has to beat.

    >>> import os, tempfile
    >>> class Model:
    ...     def save_weights(self, path):
    ...         open(path, "w").close()
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "w{epoch:02d}-{val_loss:.2f}.txt")
    ...     ckpt = ModelCheckpoint(path, save_weights_only=True)
    ...     ckpt.set_model(Model())
    ...     ckpt.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6123})
    ...     os.listdir(folder)
    ['w01-0.61.txt']
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        *,
        verbose=0,
        initial_value_threshold=None,
    ):
        super().__init__()
        every_n = isinstance(save_freq, int) and not isinstance(save_freq, bool) and save_freq > 0
        if save_freq != "epoch" and not every_n:
            raise ValueError(
                f"save_freq must be 'epoch' or a positive number of batches, got {save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = resolve_mode(monitor, mode, "ModelCheckpoint")
        self.save_freq = save_freq
        # Saving per epoch reads no batch: fit may hand the batches late (no wait for each).
        self.late_batch_logs = save_freq == "epoch"
        self.verbose = verbose
        self.best = worst(self.mode) if initial_value_threshold is None else initial_value_threshold
        self._epoch = 0
        self._batches_since_save = 0

    def on_train_begin(self, logs=None):
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def filepath_for(self, epoch, logs, batch=None):
        """The path a save at `epoch` (0-based), `batch` (0-based or None) would write."""
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format_map(fields)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint cannot fill {{{e.args[0]}}} in filepath {self.filepath!r}; "
                f"available fields: {', '.join(fields)}"
            ) from None

    def _save(self, epoch, batch, logs):
        path = self.filepath_for(epoch, logs, batch)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warn_missing("ModelCheckpoint", self.monitor, logs, "not saving")
                return
            if not improved(current, self.best, self.mode):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
