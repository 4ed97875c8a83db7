"""`ProgbarLogger`: the progress bar and metric lines that `fit(verbose=1 or 2)` prints."""

import sys
import time

from .callback import Callback

try:  # optional dependency: pip install 'ndgrad[progress]'
    from tqdm import tqdm
except ImportError:  # pragma: no cover - the tests patch `tqdm` to None instead
    tqdm = None

_LIVE = "{n_fmt}/{total_fmt} [{bar:20}] - ETA: {remaining}{desc}"
_LIVE_UNKNOWN_TOTAL = "{n_fmt}/? - {elapsed}{desc}"
_DONE = "{n_fmt}/{total_fmt} [{bar:20}]"


def format_logs(logs):
    """Keras-style metrics text: 4 decimals, or scientific notation at or below 1e-3.

    >>> format_logs({"loss": 0.23451, "accuracy": 0.9, "lr": 1e-4})
    'loss: 0.2345 - accuracy: 0.9000 - lr: 1.0000e-04'
    """
    parts = []
    for key, value in logs.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"
        parts.append(f"{key}: {value}")
    return " - ".join(parts)


def _per_step(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _redraws_in_place(stream):
    """True for terminals (and notebooks), where a bar can redraw itself with '\\r'."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):  # no isatty, or a closed file
        pass
    return "ipykernel" in sys.modules and stream in (sys.stdout, sys.stderr)


class ProgbarLogger(Callback):
    """Prints training progress, as Keras does for `fit`, `evaluate` and `predict`.

    `fit` adds one itself when `verbose` is truthy; its behaviour follows `params["verbose"]`:

    - 1: an `Epoch 3/5` header (when there is more than one epoch), then a tqdm bar over the
      epoch's steps with the ETA and the running loss and metrics. At epoch end the bar is
      replaced by one line with the elapsed time, time per step and every epoch log::

          Epoch 1/2
          3/3 [####################] - 0s 2ms/step - loss: 0.2345 - val_loss: 0.3012

    - 2: the header and only the end-of-epoch line, `3/3 - 0s - 2ms/step - loss: 0.2345 ...`
    - 0: nothing.

    In `fit` the bar takes each step's logs once the next step is queued
    (`late_batch_logs`): it runs one step behind, so it never makes the device wait, and
    each epoch's line has the epoch's final numbers.

    Validation inside `fit` prints nothing of its own; `evaluate` and `predict` outside `fit`
    get a bar and a final line.

    Args:
        stream: where to write; `None` means `sys.stdout` at the time of writing.
        mininterval: seconds between bar redraws. By default 0.1 on a terminal; on other
            streams (files, pipes, CI logs) 30, and the bar first appears only after that
            long, so epochs shorter than that leave just their header and final line.

    Without tqdm installed (``pip install 'ndgrad[progress]'`` adds it), verbose 1 prints one
    line per epoch and no header, ``Epoch 3/5 - 3/3 - 0s - 2ms/step - loss: 0.2345 ...``.
    """

    late_batch_logs = True

    def __init__(self, stream=None, mininterval=None):
        super().__init__()
        self.stream = stream
        self.mininterval = mininterval
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0
        self._bar = None
        self._start = None
        self._logs = {}
        self._in_fit = False
        self._epoch = 0

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    # fit
    def on_train_begin(self, logs=None):
        self._in_fit = True  # validation inside fit stays silent

    def on_train_end(self, logs=None):
        self._close_bar()
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._mode() in (1, 2) and self.epochs > 1:
            self._write(f"Epoch {epoch + 1}/{self.epochs}")
        self._begin()

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    # evaluate and predict
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._begin()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._begin()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # the logs hold predictions, not metrics

    def on_predict_end(self, logs=None):
        self._finish(None)

    # drawing
    def _mode(self):
        """0 silent, 1 live bar, 2 a header and a line per epoch, 3 one line per epoch (verbose
        1 without tqdm)."""
        if not self.verbose:
            return 0
        if self.verbose == 1:
            return 3 if tqdm is None else 1
        return 2

    def _stream(self):
        return self.stream if self.stream is not None else sys.stdout

    def _write(self, line):
        stream = self._stream()
        stream.write(line + "\n")
        if hasattr(stream, "flush"):
            stream.flush()

    def _begin(self):
        self._close_bar()
        self.seen, self._logs, self._start = 0, {}, time.perf_counter()
        if self._mode() != 1:
            return
        stream = self._stream()
        in_place = _redraws_in_place(stream)
        interval = self.mininterval
        if interval is None:
            interval = 0.1 if in_place else 30.0
        self._bar = tqdm(
            total=self.target,
            file=stream,
            mininterval=interval,
            delay=0 if in_place else interval,
            dynamic_ncols=True,
            leave=False,
            bar_format=_LIVE if self.target else _LIVE_UNKNOWN_TOTAL,
        )

    def _update(self, batch, logs):
        self.seen = batch + 1
        if logs:
            self._logs = logs
        if self._bar is not None:
            if logs:
                self._bar.set_description_str(" - " + format_logs(logs), refresh=False)
            self._bar.update(self.seen - self._bar.n)

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _finish(self, logs):
        use_ascii = getattr(self._bar, "ascii", True)
        self._close_bar()
        mode = self._mode()
        if not mode:
            return
        if self.target is None:  # an unknown length is known after the first epoch
            self.target = self.seen
        start = self._start if self._start is not None else time.perf_counter()
        elapsed = time.perf_counter() - start
        per_step = _per_step(elapsed / self.seen if self.seen else 0)
        logs = logs or self._logs
        metrics = f" - {format_logs(logs)}" if logs else ""
        if mode == 1:
            done = tqdm.format_meter(
                self.seen, self.target, elapsed, ascii=use_ascii, bar_format=_DONE
            )
            self._write(f"{done} - {elapsed:.0f}s {per_step}{metrics}")
        else:
            epoch = (
                f"Epoch {self._epoch + 1}/{self.epochs} - "
                if (mode == 3 and self._in_fit and self.epochs > 1)
                else ""
            )
            self._write(f"{epoch}{self.seen}/{self.target} - {elapsed:.0f}s - {per_step}{metrics}")
        self._start = None
