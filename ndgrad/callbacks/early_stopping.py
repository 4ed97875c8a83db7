"""`EarlyStopping`: stop `fit` when a monitored quantity stops improving."""

from ._monitor import improved, resolve_mode, warn_missing, worst
from .callback import Callback


class EarlyStopping(Callback):
    """Sets `model.stop_training` once `monitor` has not improved for `patience` epochs.

    Args:
        monitor: the log key to watch, e.g. "val_loss" or "val_accuracy".
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping (0: stop at the first one).
        mode: "min", "max", or "auto" to pick from the name (accuracy-like names are
            maximised, losses and anything else minimised).
        baseline: a value to beat. Epochs that do not beat it count as epochs without
            improvement, so if no epoch beats it training stops after `patience` epochs.
        restore_best_weights: at train end, set the weights of the best epoch back through
            `model.get_weights()` / `model.set_weights()` (stored copies, so `get_weights`
            must return copies, not live views).
        start_from_epoch: epochs of warm-up before monitoring starts.
        verbose: 1 prints a line when stopping and when restoring weights.

    After `fit`: `stopped_epoch` (0-based, 0 if training was not stopped), `best` and
    `best_epoch`. When `monitor` is missing from the epoch logs, a warning lists the keys
    that are there and the epoch is ignored.

    >>> class Model:
    ...     stop_training = False
    >>> stop = EarlyStopping(monitor="loss", patience=1)
    >>> stop.set_model(Model())
    >>> stop.on_train_begin()
    >>> for epoch, loss in enumerate([0.5, 0.4, 0.45, 0.41]):
    ...     stop.on_epoch_end(epoch, {"loss": loss})
    ...     if stop.model.stop_training:
    ...         break
    >>> stop.stopped_epoch, stop.best, stop.best_epoch
    (2, 0.4, 1)
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
        *,
        verbose=0,
    ):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.mode = resolve_mode(monitor, mode, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = worst(self.mode)
        self.best_epoch = 0
        self.best_weights = None
        self._stopped = False

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warn_missing("EarlyStopping", self.monitor, logs, "not stopping on it")
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if improved(current, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            beats_baseline = self.baseline is None or improved(
                current, self.baseline, self.mode, self.min_delta
            )
            if beats_baseline:
                self.wait = 0
                return
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self._stopped = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._stopped and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)
