"""``ndgrad evaluate`` and ``ndgrad predict``: using a saved model."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

import numpy as np

from .._cli_args import add_command, positive_int
from ..backends.kinds import device_help
from ..errors import UsageError
from ._inputs import check_output, existing_file, read_csv, read_npy, read_npz
from .training import RECIPES, load_dataset

_DATA_FORMATS = (
    "mnist, iris or dosage (the test split `ndgrad train` holds out); a .npz file with arrays "
    "x_test and y_test (a Keras mnist.npz) or x and y; a .csv file with one sample per row, "
    "the label in the last column (a first row that is not numbers is a header); or a folder "
    "of MNIST IDX files"
)
_INPUT_FORMATS = (
    "FILE is a .npy array of samples (or one sample of the model's input shape), a .npz file "
    "with an array x (or x_test), or a .csv file with one sample per row (a first row that is "
    "not numbers is a header); rows of the right size are reshaped to the model's input shape, "
    "e.g. 784 pixels to 28x28"
)


def add_evaluate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ndgrad evaluate``."""
    e = add_command(
        subparsers, "evaluate", evaluate, help="loss and metrics of a saved model on data",
        description="Print the loss and metrics of a model saved with model.save or "
        "`ndgrad train --save` on labelled data, fed as stored (models trained by "
        "`ndgrad train` include their preprocessing).",
    )
    e.add_argument("model", help="a model file written by model.save (.ndgrad)")
    e.add_argument("--data", required=True, help=_DATA_FORMATS)
    e.add_argument("--batch-size", type=positive_int, default=512,
                   help="samples per forward pass (default: 512)")
    e.add_argument("--device", default="cpu", help=device_help())
    return e


def _labelled(source: str) -> tuple[Any, Any, str]:
    """(x, y, description) for `--data`."""
    if source in RECIPES and not os.path.exists(source):
        (_, _, x, y), description = load_dataset(source)
        return x, y, f"{description}: the test split"
    if os.path.isdir(source):
        from ..datasets import mnist

        data = mnist.load(source)
        return data.x_test, data.y_test, f"{source}: the MNIST test split"
    if source.endswith(".npz"):
        arrays = read_npz(source)
        for xs, ys in (("x_test", "y_test"), ("x", "y")):
            if xs in arrays and ys in arrays:
                return arrays[xs], arrays[ys], f"{source}: arrays {xs}, {ys}"
        raise UsageError(f"{source}: expected arrays x_test and y_test, or x and y; the file "
                         f"holds {sorted(arrays)}")
    if source.endswith(".csv"):
        table = read_csv(source)
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


def add_predict_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ndgrad predict``."""
    p = add_command(
        subparsers, "predict", predict, help="a saved model's predictions for a file of samples",
        description="Print one line per sample: for a classifier (trained with a cross-entropy "
        "loss) the class and its probability, otherwise the outputs. " + _INPUT_FORMATS + ".",
    )
    p.add_argument("model", help="a model file written by model.save (.ndgrad)")
    p.add_argument("file", metavar="FILE", help="the samples (.npy, .npz or .csv)")
    p.add_argument("--output", default=None,
                   help="also write the raw outputs, one row per sample, to this .npy or .csv "
                   "(never the model or FILE)")
    p.add_argument("--batch-size", type=positive_int, default=512,
                   help="samples per forward pass (default: 512)")
    p.add_argument("--device", default="cpu", help=device_help())
    return p


def _samples(path: str) -> Any:
    if path.endswith(".npy"):
        return read_npy(path)
    if path.endswith(".npz"):
        arrays = read_npz(path)
        for name in ("x", "x_test"):
            if name in arrays:
                return arrays[name]
        raise UsageError(f"{path}: expected an array x (or x_test); the file holds "
                         f"{sorted(arrays)}")
    if path.endswith(".csv"):
        return read_csv(path)
    raise UsageError(f"{path}: unknown format. {_INPUT_FORMATS}")


def predict(args: argparse.Namespace) -> int:
    """``ndgrad predict``: one line per sample, and optionally the raw outputs to a file."""
    from .. import losses

    if args.output is not None:
        if not args.output.endswith((".npy", ".csv")):
            raise UsageError(f"--output {args.output}: must end in .npy or .csv")
        check_output(args.output, "--output", {"the model": args.model, "FILE": args.file})
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
        from .._files import atomic_write

        if args.output.endswith(".npy"):
            atomic_write(args.output, lambda f: np.save(f, out))
        else:
            atomic_write(args.output, lambda f: np.savetxt(f, out, delimiter=",", fmt="%.8g"))
        print(f"wrote {len(out)} predictions to {args.output}", file=sys.stderr)
    return 0


def _load(path: str, device: str) -> Any:
    import ndgrad

    existing_file(path, "model file (.ndgrad)")
    return ndgrad.load_model(path).to(device)


def _as_model_input(model: Any, x: Any, where: str) -> Any:
    """`x` as a batch for `model`: float64 -> float32; rows reshaped to the input shape."""
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
