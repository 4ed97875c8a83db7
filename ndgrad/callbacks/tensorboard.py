"""`TensorBoard`: write `fit`'s metrics (and weight histograms) as TensorBoard event files."""

from __future__ import annotations

import itertools
import numbers
import os
import time

from .callback import Callback

_writer_ids = itertools.count()


def _hparam(value):
    """A hyperparameter as TensorBoard shows it: booleans, numbers and strings as they are
    (numpy numbers as Python floats), anything else (None, a tuple, ...) as its text."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


class TensorBoard(Callback):
    """Keras's TensorBoard callback: ``tensorboard --logdir LOG_DIR`` then shows the run.

    As Keras does, training scalars go to ``log_dir/train`` and validation scalars to
    ``log_dir/validation``, tagged ``epoch_loss``, ``epoch_accuracy``, ...;
    ``epoch_learning_rate`` too. `update_freq` ``"batch"`` or an integer N adds
    ``batch_<metric>`` every N batches. `histogram_freq` N writes each weight's histogram every N
    epochs. `write_graph` writes the model's summary as text (ndgrad has no TensorFlow graph).
    Event files are written with tensorboardX (``pip install 'ndgrad[lab]'``).

    `hparams`, a dict of the run's hyperparameters (numbers, strings or booleans; other
    values are shown as text), adds the
    HParams summary Keras's ``hp.KerasCallback`` writes: the session's hyperparameters when
    training begins, then the experiment (each hyperparameter, and each ``epoch_<metric>``
    of the ``train`` and ``validation`` groups as a metric) and the session's end, in
    ``log_dir`` itself. TensorBoard's HParams dashboard then lists every run whose folder is
    under its ``--logdir``, one row per run, with its final metrics.

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
        hparams=None,
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
        if hparams is not None:
            if not isinstance(hparams, dict):
                raise ValueError(
                    f"TensorBoard: hparams must be a dict of name: value. Received {hparams!r}"
                )
            for key in hparams:
                if not isinstance(key, str):
                    raise ValueError(
                        f"TensorBoard: hparams' names must be strings. Received {key!r}"
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
        # Per epoch it only counts the batches: fit may hand them late (no wait for each).
        self.late_batch_logs = update_freq == "epoch"
        self.hparams = None if hparams is None else {k: _hparam(v) for k, v in hparams.items()}
        self._writers = {}
        self._step = 0
        self._metrics = []

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
        self._metrics = []
        if self.hparams is not None:
            from tensorboardX.summary import hparams

            _, start, _ = hparams(self.hparams, {})
            self._writer("").file_writer.add_summary(start)
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
        for key in logs:
            group, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            if (group, f"epoch_{tag}") not in self._metrics:
                self._metrics.append((group, f"epoch_{tag}"))
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
        if self.hparams is not None:
            self._write_experiment()
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _write_experiment(self):
        """The experiment (hyperparameters and metrics, by group) and the session's end."""
        from tensorboardX.proto.api_pb2 import Experiment, MetricInfo, MetricName
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.summary import hparams

        experiment, _, end = hparams(self.hparams, {})
        data = HParamsPluginData()
        data.ParseFromString(experiment.value[0].metadata.plugin_data.content)
        infos = [
            MetricInfo(name=MetricName(group=group, tag=tag), display_name=f"{tag} ({group})")
            for group, tag in self._metrics
        ]
        content = HParamsPluginData(
            experiment=Experiment(hparam_infos=data.experiment.hparam_infos, metric_infos=infos),
            version=data.version,
        )
        metadata = SummaryMetadata(
            plugin_data=SummaryMetadata.PluginData(
                plugin_name="hparams", content=content.SerializeToString()
            )
        )
        writer = self._writer("").file_writer
        writer.add_summary(
            Summary(value=[Summary.Value(tag=experiment.value[0].tag, metadata=metadata)])
        )
        writer.add_summary(end)
