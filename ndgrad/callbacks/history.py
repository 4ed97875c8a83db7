"""`History`: the per-epoch record that `fit` returns."""

from .callback import Callback


class History(Callback):
    """Records every epoch's logs; `fit` adds one itself and returns it.

    `history` maps each log key to its list of per-epoch values and `epoch` lists the epoch
    indices. At each epoch end the callback also sets `model.history` to itself. When the
    loss stopped being finite, `fit` sets `divergence` (see `ndgrad.models.Divergence`).

    >>> h = History()
    >>> h.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
    >>> h.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.4})
    >>> h.epoch, h.history["loss"]
    ([0, 1], [0.5, 0.25])
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.divergence = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
