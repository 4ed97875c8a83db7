"""`LambdaCallback`: a callback made of plain functions."""

from .callback import Callback

_HOOKS = {name for name in vars(Callback) if name.startswith("on_")}


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given, called with positional arguments.

    `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`,
    `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)`,
    `on_train_begin(logs)`, `on_train_end(logs)`; any other hook of `Callback` (such as
    `on_test_end`) can be passed by name too. Hooks not given do nothing.

    >>> losses = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    >>> cb.on_epoch_end(0, {"loss": 0.5})
    >>> losses
    [0.5]
    """

    def __init__(
        self,
        *,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        on_train_begin=None,
        on_train_end=None,
        **other_hooks,
    ):
        super().__init__()
        unknown = sorted(set(other_hooks) - _HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hooks {unknown}; known: {sorted(_HOOKS)}")
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            **other_hooks,
        }
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)
