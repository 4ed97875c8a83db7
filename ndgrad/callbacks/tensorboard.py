"""`TensorBoard`: write `fit`'s metrics (and weight histograms) as TensorBoard event files."""

from __future__ import annotations

import itertools
import os
import time

from .callback import Callback

_writer_ids = itertools.count()


class TensorBoard(Callback):
    """Keras's TensorBoard callback: ``tensorboard --logdir LOG_DIR`` then shows the run.

    As Keras does, training scalars go to ``log_dir/train`` and validation scalars to
    ``log_dir/validation``, tagged ``epoch_loss``, ``epoch_accuracy``, ...;
    ``epoch_learning_rate`` too. `update_freq` ``"batch"`` or an integer N adds
    ``batch_<metric>`` every N batches. `histogram_freq` N writes each weight's histogram every N
    epochs. `write_graph` writes the model's summary as text (ndgrad has no TensorFlow graph).
    Event files are written with tensorboardX (``pip install 'ndgrad[lab]'``).

    `write_images`, `profile_batch` and `embeddings_freq` concern TensorFlow's profiler and
    projector, which ndgrad does not have: only their off values are accepted.
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        for name, value, off in (
            ("write_images", write_images, False),
            ("profile_batch", profile_batch, 0),
            ("embeddings_freq", embeddings_freq, 0),
            ("embeddings_metadata", embeddings_metadata, None),
        ):
            if value != off:
                raise ValueError(
                    f"TensorBoard: {name}={value!r} needs TensorFlow's profiler or projector, "
                    f"which ndgrad does not have; leave it at {off!r}"
                )
        if update_freq not in ("epoch", "batch") and not (
            isinstance(update_freq, int) and update_freq > 0
        ):
            raise ValueError(
                "TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer. "
                f"Received {update_freq!r}"
            )
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(
                f"TensorBoard: histogram_freq must be an integer >= 0. Received {histogram_freq!r}"
            )
        try:
            import tensorboardX  # noqa: F401
        except ImportError as e:
            raise ImportError(
                "TensorBoard needs tensorboardX to write event files: pip install 'ndgrad[lab]'"
            ) from e
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._step = 0

    def _writer(self, split):
        if split not in self._writers:
            from tensorboardX import SummaryWriter

            # a name of its own: tensorboardX's (time in seconds, host) is shared by the writers
            # of two runs begun within a second, and the second would truncate the first's file
            suffix = f".{os.getpid()}.{next(_writer_ids)}"
            self._writers[split] = SummaryWriter(
                os.path.join(self.log_dir, split), filename_suffix=suffix
            )
        return self._writers[split]

    def on_train_begin(self, logs=None):
        self._step = 0
        if self.write_graph and self.model is not None and hasattr(self.model, "summary"):
            lines = []
            self.model.summary(print_fn=lines.append)
            text = "\n".join("    " + line for line in lines)  # Markdown code block
            self._writer("train").add_text("model", text, 0)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_freq == "epoch" or self._step % self.update_freq:
            return
        writer = self._writer("train")
        for key, value in (logs or {}).items():
            writer.add_scalar(f"batch_{key}", value, self._step)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start, self._epoch_step = time.perf_counter(), self._step

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in logs:
            logs["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._epoch_start
            logs["steps_per_second"] = (self._step - self._epoch_step) / max(seconds, 1e-9)
        train, val = self._writer("train"), None
        for key, value in logs.items():
            if key.startswith("val_"):
                val = val or self._writer("validation")
                val.add_scalar(f"epoch_{key[4:]}", value, epoch)
            else:
                train.add_scalar(f"epoch_{key}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0 and self.model is not None:
            for name, weight, _ in self.model.named_weights():
                train.add_histogram(f"{name}/histogram", weight.numpy(), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
