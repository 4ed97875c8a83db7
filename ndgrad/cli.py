"""The ``ndgrad`` command: train the course's networks, then evaluate and use saved models.

ndgrad train mnist                       # Dense(512, relu) + Dense(10, softmax), 5 epochs
ndgrad train mnist --model convnet       # the book's convnet
ndgrad train iris --save iris.ndgrad     # Dense(16, relu) + Dense(3, softmax), Adam, 100 epochs
ndgrad train dosage                      # StatQuest's dosage network, 300 full-batch epochs
ndgrad evaluate iris.ndgrad --data iris  # loss and metrics on a data set's test split
ndgrad predict iris.ndgrad flowers.csv   # one line per sample
ndgrad devices                           # what this machine offers

Each subcommand has an ``add_*_parser(subparsers)`` function that sets its handler with
``set_defaults(func=...)``. `main` runs the handler and turns user errors (`USER_ERRORS`:
`UsageError`, bad files and values, missing devices) into one line on stderr and exit status 2,
as argparse does for bad arguments; ``--debug`` shows the traceback instead. Other exceptions
are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DeviceError, DTypeError, UsageError

#: exceptions that mean "the user asked for something impossible", not "ndgrad has a bug"
USER_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    ValueError,  # ShapeError, ModelFileError, bad values in files
    OSError,  # FileNotFoundError, PermissionError, DownloadError
    DeviceError,
    DTypeError,
)


# -- argument types ---------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_command(
    subparsers: Any, name: str, handler: Callable[[argparse.Namespace], int | None], **kw: Any
) -> argparse.ArgumentParser:
    """A subcommand parser that accepts ``--debug`` too and runs `handler`."""
    p = subparsers.add_parser(name, **kw)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback of an error")
    p.set_defaults(func=handler)
    return p


# -- train ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """How the course material trains a network on a data set."""

    models: tuple[str, ...]
    optimizer: str
    learning_rate: float | None  # None: the optimizer's default
    epochs: int
    batch_size: Callable[[str, int], int]  # (model, training samples) -> batch size
    loss: str


RECIPES = {
    # Chollet ch. 2 and 8: RMSprop, 5 epochs, batches of 128 (mlp) or 64 (convnet)
    "mnist": Recipe(("mlp", "convnet"), "rmsprop", None, 5,
                    lambda model, n: 128 if model == "mlp" else 64,
                    "sparse_categorical_crossentropy"),
    # examples/iris.py: standardized features, Adam(0.01), 100 epochs of batches of 16
    "iris": Recipe(("mlp",), "adam", 0.01, 100, lambda model, n: 16,
                   "sparse_categorical_crossentropy"),
    # examples/dosage.py: Adam(0.05), 300 full-batch epochs
    "dosage": Recipe(("mlp",), "adam", 0.05, 300, lambda model, n: n, "binary_crossentropy"),
}


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    t = _add_command(
        subparsers, "train", train, help="train a network of the course material",
        description="Train one of the course's networks with its recipe (optimizer, epochs, "
        "batch size), print the test accuracy and optionally save the model. Saved models "
        "take raw data: MNIST pixels 0-255 (28x28), iris measurements in cm, dosages in [0, 1].",
        epilog="recipes: mnist: RMSprop, 5 epochs, batches of 128 (mlp) or 64 (convnet); "
        "iris: Adam(0.01), 100 epochs, batches of 16, features standardized in the model; "
        "dosage: Adam(0.05), 300 full-batch epochs",
    )
    t.add_argument("dataset", choices=sorted(RECIPES), help="the data set")
    t.add_argument("--model", choices=["mlp", "convnet"], default="mlp",
                   help="the network (convnet: mnist only; default: mlp)")
    t.add_argument("--epochs", type=_non_negative_int, default=None,
                   help="default: the recipe's (mnist 5, iris 100, dosage 300)")
    t.add_argument("--batch-size", type=_positive_int, default=None,
                   help="default: the recipe's (mnist 128 mlp / 64 convnet, iris 16, dosage all)")
    t.add_argument("--optimizer", default=None,
                   help="rmsprop, sgd, adam or adamw (default: the recipe's)")
    t.add_argument("--learning-rate", type=_positive_float, default=None,
                   help="default: the recipe's, else the optimizer's")
    t.add_argument("--momentum", type=float, default=None, help="for sgd and rmsprop")
    t.add_argument("--seed", type=int, default=0,
                   help="seeds initial weights, shuffling and dropout (default: 0)")
    t.add_argument("--data", default=None,
                   help="mnist only: mnist.npz or a folder of the IDX files (default: the "
                   "cache, a download, else the bundled subset)")
    t.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or strict")
    t.add_argument("--save", default=None, help="write the trained model (.ndgrad) here")
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0: silent; 1: summary and progress bar; 2: one line per epoch "
                        "(default: 1)")
    return t


def _optimizer(args: argparse.Namespace, recipe: Recipe) -> Any:
    from . import optimizers

    name = args.optimizer or recipe.optimizer
    try:
        opt = optimizers.get(name)
    except ValueError as e:
        raise UsageError(f"--optimizer: {e}") from e
    cfg = opt.get_config()
    if args.learning_rate is not None:
        cfg["learning_rate"] = args.learning_rate
    elif recipe.learning_rate is not None and name.lower() == recipe.optimizer:
        cfg["learning_rate"] = recipe.learning_rate
    if args.momentum is not None:
        if "momentum" not in cfg:
            raise UsageError(f"--momentum does not apply to {name} (only to sgd and rmsprop)")
        cfg["momentum"] = args.momentum
    try:
        return type(opt).from_config(cfg)
    except ValueError as e:
        raise UsageError(f"--optimizer {name}: {e}") from e


def _data(dataset: str, path: str | None = None) -> tuple[tuple[Any, ...], str]:
    """``(x_train, y_train, x_test, y_test)`` as NumPy arrays and where they came from."""
    if dataset == "mnist":
        import warnings

        from .datasets import mnist

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            d = mnist.load(path)
        for w in caught:
            print(f"note: {w.message}", file=sys.stderr)
        source = f"{d.source} ({len(d.x_train)} training, {len(d.x_test)} test images)"
        return (d.x_train, d.y_train, d.x_test, d.y_test), source
    from .datasets import dosage, iris

    (x_train, y_train), (x_test, y_test) = {"iris": iris, "dosage": dosage}[dataset].load_data()
    what = "flowers" if dataset == "iris" else "dosages"
    source = f"{dataset} ({len(x_train)} training, {len(x_test)} test {what})"
    return (x_train, y_train, x_test, y_test), source


def _network(dataset: str, kind: str, x_train: Any) -> Any:
    """The course's network for `dataset`, taking raw data (its preprocessing inside)."""
    from . import Sequential, layers

    if dataset == "iris":  # examples/iris.py, standardizing with the training set's statistics
        norm = layers.Normalization()
        model = Sequential([layers.Input((4,)), norm, layers.Dense(16, activation="relu"),
                            layers.Dense(3, activation="softmax")], name="iris")
        norm.adapt(x_train)
        return model
    if dataset == "dosage":  # examples/dosage.py
        return Sequential([layers.Input((1,)), layers.Dense(8, activation="tanh"),
                           layers.Dense(1, activation="sigmoid")], name="dosage")
    if kind == "mlp":  # the book's first network
        body = [layers.Flatten(), layers.Dense(512, activation="relu"),
                layers.Dense(10, activation="softmax")]
    else:  # the book's convnet
        body = [layers.Reshape((28, 28, 1)),
                layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Conv2D(128, 3, activation="relu"), layers.Flatten(),
                layers.Dense(10, activation="softmax")]
    return Sequential([layers.Input((28, 28)), layers.Rescaling(1 / 255), *body],
                      name=f"mnist_{kind}")


def train(args: argparse.Namespace) -> int:
    """``ndgrad train``: fit with the data set's recipe, print the test accuracy, save."""
    import ndgrad

    recipe = RECIPES[args.dataset]
    if args.model not in recipe.models:
        raise UsageError(f"--model {args.model} applies to mnist only; {args.dataset} trains "
                         f"{' or '.join(recipe.models)}")
    if args.data is not None and args.dataset != "mnist":
        raise UsageError(f"--data applies to mnist only; {args.dataset} is bundled with ndgrad")
    optimizer = _optimizer(args, recipe)
    (x_train, y_train, x_test, y_test), source = _data(args.dataset, args.data)
    print(f"data: {source}")
    ndgrad.manual_seed(args.seed)
    model = _network(args.dataset, args.model, x_train)
    model.to(args.device)
    model.compile(optimizer=optimizer, loss=recipe.loss, metrics=["accuracy"])
    if args.verbose:
        model.summary()
    epochs = recipe.epochs if args.epochs is None else args.epochs
    batch_size = args.batch_size or recipe.batch_size(args.model, len(x_train))
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    print(f"trained in {seconds:.1f} s; test accuracy: {accuracy:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return 0


# -- evaluate ---------------------------------------------------------------------------------
_DATA_FORMATS = (
    "mnist, iris or dosage (the test split `ndgrad train` holds out); a .npz file with arrays "
    "x_test and y_test (a Keras mnist.npz) or x and y; a .csv file with one sample per row, "
    "the label in the last column (a first row that is not numbers is a header); or a folder "
    "of MNIST IDX files"
)


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    e = _add_command(
        subparsers, "evaluate", evaluate, help="loss and metrics of a saved model on data",
        description="Print the loss and metrics of a model saved with model.save or "
        "`ndgrad train --save` on labelled data, fed as stored (models trained by "
        "`ndgrad train` include their preprocessing).",
    )
    e.add_argument("model", help="a model file written by model.save (.ndgrad)")
    e.add_argument("--data", required=True, help=_DATA_FORMATS)
    e.add_argument("--batch-size", type=_positive_int, default=512,
                   help="samples per forward pass (default: 512)")
    e.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or strict")
    return e


def _labelled(source: str) -> tuple[Any, Any, str]:
    """(x, y, description) for `--data`."""
    import numpy as np

    if source in RECIPES and not os.path.exists(source):
        (_, _, x, y), description = _data(source)
        return x, y, f"{description}: the test split"
    if os.path.isdir(source):
        from .datasets import mnist

        data = mnist.load(source)
        return data.x_test, data.y_test, f"{source}: the MNIST test split"
    if source.endswith(".npz"):
        arrays = _read_npz(source)
        for xs, ys in (("x_test", "y_test"), ("x", "y")):
            if xs in arrays and ys in arrays:
                return arrays[xs], arrays[ys], f"{source}: arrays {xs}, {ys}"
        raise UsageError(f"{source}: expected arrays x_test and y_test, or x and y; the file "
                         f"holds {sorted(arrays)}")
    if source.endswith(".csv"):
        table = _read_csv(source)
        if table.shape[1] < 2:
            raise UsageError(f"{source}: expected features and then a label in each row; "
                             f"found {table.shape[1]} column")
        x, y = table[:, :-1], table[:, -1]
        labels = y.astype(np.int64)
        if np.array_equal(labels, y):
            y = labels
        k = table.shape[1] - 1
        return x, y, f"{source}: {k} feature{'s' * (k != 1)} and a label per row"
    if not os.path.exists(source):
        raise FileNotFoundError(f"--data {source}: no such file or folder, and not one of "
                                f"{', '.join(RECIPES)}")
    raise UsageError(f"--data {source}: unknown format; expected {_DATA_FORMATS}")


def evaluate(args: argparse.Namespace) -> int:
    """``ndgrad evaluate``: loss and metrics of a saved model on labelled data."""
    model = _load(args.model, args.device)
    if model.optimizer is None:
        raise UsageError(f"{args.model}: the model was saved uncompiled, so it has no loss to "
                         "evaluate; compile it before model.save")
    x, y, description = _labelled(args.data)
    x = _as_model_input(model, x, args.data)
    print(f"data: {description} ({len(x)} samples)")
    result = model.evaluate(x, y, batch_size=args.batch_size, verbose=0, return_dict=True)
    print(" - ".join(f"{name}: {value:.4f}" for name, value in result.items()))
    return 0


# -- predict ----------------------------------------------------------------------------------
_INPUT_FORMATS = (
    "FILE is a .npy array of samples (or one sample of the model's input shape), a .npz file "
    "with an array x (or x_test), or a .csv file with one sample per row (a first row that is "
    "not numbers is a header); rows of the right size are reshaped to the model's input shape, "
    "e.g. 784 pixels to 28x28"
)


def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = _add_command(
        subparsers, "predict", predict, help="a saved model's predictions for a file of samples",
        description="Print one line per sample: for a classifier (trained with a cross-entropy "
        "loss) the class and its probability, otherwise the outputs. " + _INPUT_FORMATS + ".",
    )
    p.add_argument("model", help="a model file written by model.save (.ndgrad)")
    p.add_argument("file", metavar="FILE", help="the samples (.npy, .npz or .csv)")
    p.add_argument("--output", default=None,
                   help="also write the raw outputs, one row per sample, to this .npy or .csv")
    p.add_argument("--batch-size", type=_positive_int, default=512,
                   help="samples per forward pass (default: 512)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or strict")
    return p


def _samples(path: str) -> Any:
    import numpy as np

    if path.endswith(".npy"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file")
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as e:
            raise UsageError(f"{path}: not a .npy array of numbers ({e})") from e
    if path.endswith(".npz"):
        arrays = _read_npz(path)
        for name in ("x", "x_test"):
            if name in arrays:
                return arrays[name]
        raise UsageError(f"{path}: expected an array x (or x_test); the file holds "
                         f"{sorted(arrays)}")
    if path.endswith(".csv"):
        return _read_csv(path)
    raise UsageError(f"{path}: unknown format. {_INPUT_FORMATS}")


def predict(args: argparse.Namespace) -> int:
    """``ndgrad predict``: one line per sample, and optionally the raw outputs to a file."""
    import numpy as np

    from . import losses

    if args.output is not None and not args.output.endswith((".npy", ".csv")):
        raise UsageError(f"--output {args.output}: must end in .npy or .csv")
    model = _load(args.model, args.device)
    x = _as_model_input(model, _samples(args.file), args.file)
    out = model.predict(x, batch_size=args.batch_size).numpy()
    out = out.reshape(len(out), -1)
    loss = model.loss
    from_logits = bool(getattr(loss, "kwargs", {}).get("from_logits", False))  # Loss objects
    kinds = (losses.SparseCategoricalCrossentropy, losses.CategoricalCrossentropy)
    names = (losses.sparse_categorical_crossentropy, losses.categorical_crossentropy)
    if isinstance(loss, kinds) or any(loss is f for f in names):
        column = "logit" if from_logits else "probability"
        print(f"sample\tclass\t{column}")
        for i, row in enumerate(out):
            k = int(row.argmax())
            print(f"{i}\t{k}\t{row[k]:.4f}")
    elif (isinstance(loss, losses.BinaryCrossentropy) or loss is losses.binary_crossentropy) \
            and out.shape[1] == 1:
        column = "logit" if from_logits else "probability"
        print(f"sample\tclass\t{column}")
        threshold = 0.0 if from_logits else 0.5
        for i, (v,) in enumerate(out):
            print(f"{i}\t{int(v > threshold)}\t{v:.4f}")
    else:
        print("sample\toutput")
        for i, row in enumerate(out):
            print(f"{i}\t" + "\t".join(f"{v:.6g}" for v in row))
    if args.output is not None:
        from ._files import atomic_write

        if args.output.endswith(".npy"):
            atomic_write(args.output, lambda f: np.save(f, out))
        else:
            atomic_write(args.output, lambda f: np.savetxt(f, out, delimiter=",", fmt="%.8g"))
        print(f"wrote {len(out)} predictions to {args.output}", file=sys.stderr)
    return 0


# -- shared by evaluate and predict -----------------------------------------------------------
def _load(path: str, device: str) -> Any:
    import ndgrad

    return ndgrad.load_model(path).to(device)


def _read_npz(path: str) -> dict[str, Any]:
    import zipfile

    import numpy as np

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UsageError(f"{path}: not a readable .npz archive of numeric arrays ({e})") from e


def _read_csv(path: str) -> Any:
    """A 2-d float array from a CSV file of numbers; a non-numeric first row is a header."""
    import numpy as np

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if lines and not _numeric(lines[0]):
        lines = lines[1:]
    if not lines:
        raise UsageError(f"{path}: no rows of numbers")
    rows = []
    for n, line in enumerate(lines, start=1):
        try:
            rows.append([float(v) for v in line.split(",")])
        except ValueError as e:
            raise UsageError(f"{path}: data row {n} is not comma-separated numbers: "
                             f"{line[:60]!r}") from e
        if len(rows[-1]) != len(rows[0]):
            raise UsageError(f"{path}: data row {n} has {len(rows[-1])} values, the first row "
                             f"{len(rows[0])}")
    return np.array(rows, dtype=np.float32)


def _numeric(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
    except ValueError:
        return False
    return True


def _as_model_input(model: Any, x: Any, where: str) -> Any:
    """`x` as a batch for `model`: float64 -> float32; rows reshaped to the input shape."""
    import numpy as np

    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise UsageError(f"{where}: expected numbers, got an array of dtype {x.dtype}")
    if x.dtype.kind == "f" and x.dtype != np.float32:
        x = x.astype(np.float32)
    shape = getattr(model, "_build_shape", None)
    expected = tuple(shape[1:]) if shape else None
    if expected is None or None in expected or x.shape[1:] == expected:
        return x
    if x.shape == expected:  # one sample
        return x[None]
    size = math.prod(expected)
    if x.ndim >= 1 and math.prod(x.shape[1:]) == size:
        return x.reshape(len(x), *expected)
    hint = ""
    if x.ndim == 2 and x.shape[1] == size + 1:
        hint = " (a label column? predict takes the features only)"
    raise UsageError(f"{where}: samples of shape {x.shape[1:]} (array {x.shape}) do not fit "
                     f"model '{model.name}', which takes samples of shape {expected}{hint}")


# -- devices and main -------------------------------------------------------------------------
def add_devices_parser(subparsers: Any) -> argparse.ArgumentParser:
    return _add_command(subparsers, "devices", devices, help="list the devices ndgrad can use")


def devices(args: argparse.Namespace) -> int:
    import ndgrad

    print("\n".join(ndgrad.devices()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``ndgrad`` parser: one subparser per command, each with its handler as ``func``."""
    p = argparse.ArgumentParser(prog="ndgrad", description="Neural-network tensors you can read.")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error instead of one line")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from .lab.cli import add_lab_parser

    for add in (add_train_parser, add_evaluate_parser, add_predict_parser, add_devices_parser,
                add_lab_parser):
        add(sub)
    return p


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    text = " ".join(str(e).split())
    return text or type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ndgrad`` command; returns the exit status (2 for a user error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"ndgrad {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"ndgrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
