"""Callbacks for `Model.fit`, `evaluate` and `predict`, following the Keras 3 protocol.

`fit` wraps the callbacks you pass in a `CallbackList`, which adds a `History` and, when
`verbose` is truthy, a `ProgbarLogger`, and calls every hook on each callback in order.

>>> from ndgrad.callbacks import EarlyStopping, CallbackList
>>> class Model:
...     stop_training = False
>>> cbs = CallbackList([EarlyStopping(monitor="loss", patience=0)], model=Model(),
...                    epochs=5, steps=1, verbose=0)
>>> cbs.on_train_begin()
>>> for epoch, loss in enumerate([0.9, 0.7, 0.8, 0.6, 0.5]):
...     cbs.on_epoch_begin(epoch)
...     cbs.on_epoch_end(epoch, {"loss": loss})
...     if cbs.model.stop_training:
...         break
>>> cbs.on_train_end()
>>> cbs.model.history.history["loss"]
[0.9, 0.7, 0.8]
"""

from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .model_checkpoint import ModelCheckpoint
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
