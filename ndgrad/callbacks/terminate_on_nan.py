"""`TerminateOnNaN`: stop `fit` as soon as the loss is NaN or infinite."""

import math

from .callback import Callback


class TerminateOnNaN(Callback):
    """Sets `model.stop_training` when a batch's `loss` is NaN or ±inf, and prints so.

    `fit` checks `stop_training` after every batch, so the epoch ends there. With
    `raise_error=True` it raises `RuntimeError` instead, skipping the other callbacks'
    `on_train_end`.

    >>> class Model:
    ...     stop_training = False
    >>> nan_stop = TerminateOnNaN()
    >>> nan_stop.set_model(Model())
    >>> nan_stop.on_train_batch_end(7, {"loss": float("nan")})
    Batch 7: Invalid loss nan, terminating training
    >>> nan_stop.model.stop_training
    True
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"Batch {batch}: invalid loss {loss}, terminating training")
        print(f"Batch {batch}: Invalid loss {loss}, terminating training")
        self.model.stop_training = True
