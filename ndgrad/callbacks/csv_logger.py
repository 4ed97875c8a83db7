"""`CSVLogger`: one CSV row of logs per epoch."""

import csv
import os

from .callback import Callback


class CSVLogger(Callback):
    """Writes each epoch's logs as a row of a CSV file, as Keras does.

    The columns are `epoch` (0-based) and the first epoch's log keys in sorted order; if
    the first epoch has no `val_` keys, `val_` columns are added for each key (for runs
    that validate only every few epochs). Keys missing from an epoch are written `NA`.
    The file is flushed after every row and closed at train end.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add to an existing file (writing the header only if it is empty or new)
            instead of overwriting it.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "log.csv")
    ...     logger = CSVLogger(path)
    ...     logger.on_train_begin()
    ...     logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    ...     logger.on_train_end()
    ...     print(open(path).read(), end="")
    epoch,loss,val_loss
    0,0.5,0.75
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self.csv_file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._close()
        fresh = not (self.append and os.path.exists(self.filename))
        if not fresh:
            with open(self.filename, newline="") as f:
                fresh = not f.readline()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._write_header = fresh
        self.keys = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self._writer is None:
            self._writer = csv.writer(self.csv_file, delimiter=self.sep, lineterminator="\n")
            if self._write_header:
                self._writer.writerow(["epoch", *self.keys])
        self._writer.writerow([epoch, *(logs.get(key, "NA") for key in self.keys)])
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None
        self._writer = None
