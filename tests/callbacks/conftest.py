"""A stand-in model and a driver loop that calls callback hooks in the order `Model.fit` does."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ndgrad.callbacks import CallbackList


class StandInModel:
    """The parts of a model that callbacks touch: weights, saving, optimizer, stop_training."""

    def __init__(self):
        self.stop_training = False
        self.weights = [0.0, 0.0]
        self.optimizer = SimpleNamespace(learning_rate=0.1)
        self.saved = []  # (kind, path) for each save, in order

    def get_weights(self):
        return list(self.weights)

    def set_weights(self, weights):
        self.weights = list(weights)

    def save_weights(self, path):
        Path(path).write_text(json.dumps({"kind": "weights", "weights": self.weights}))
        self.saved.append(("weights", str(path)))

    def save(self, path):
        Path(path).write_text(json.dumps({"kind": "model", "weights": self.weights}))
        self.saved.append(("model", str(path)))


def drive_fit(
    model, callbacks=(), *, train, val=None, steps=3, val_steps=5, verbose=0, steps_known=True
):
    """Call the hooks like `fit(epochs=len(train))` would, with scripted losses.

    In epoch `e` the running batch loss falls by 0.1 per step to `train[e]` at the last
    step; `accuracy` is `0.5 + 0.1 * e`. Training sets the weights to `[e + 1, -(e + 1)]`
    by the end of epoch `e`. With `val`, each epoch runs `val_steps` validation steps and
    its logs get `val_loss = val[e]` and `val_accuracy = 0.6 + 0.05 * e`. Like Keras's fit,
    `model.stop_training` is checked after every batch and every epoch. With
    `steps_known=False` the params say `steps=None`, as for a data source of unknown length.
    """
    cbs = CallbackList(
        callbacks,
        model=model,
        epochs=len(train),
        steps=steps if steps_known else None,
        verbose=verbose,
    )
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs = {}
    for epoch, final_loss in enumerate(train):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps):
            cbs.on_train_batch_begin(batch)
            model.weights = [epoch + (batch + 1) / steps, -(epoch + (batch + 1) / steps)]
            logs = {"loss": final_loss + 0.1 * (steps - 1 - batch), "accuracy": 0.5 + 0.1 * epoch}
            cbs.on_train_batch_end(batch, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if val is not None:
            cbs.on_test_begin()
            for batch in range(val_steps):
                cbs.on_test_batch_begin(batch)
                cbs.on_test_batch_end(batch, {"loss": val[epoch]})
            cbs.on_test_end({"loss": val[epoch]})
            epoch_logs.update(val_loss=val[epoch], val_accuracy=0.6 + 0.05 * epoch)
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return model.history


@pytest.fixture
def model():
    return StandInModel()


@pytest.fixture
def fit():
    return drive_fit
