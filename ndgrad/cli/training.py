"""``ndgrad train``: the course's networks with their recipes (optimizer, epochs, batches)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._cli_args import add_command, non_negative_int, positive_float, positive_int
from ..backends.kinds import device_help
from ..errors import UsageError
from ._inputs import check_output


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
    """Register ``ndgrad train``."""
    t = add_command(
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
    t.add_argument("--epochs", type=non_negative_int, default=None,
                   help="default: the recipe's (mnist 5, iris 100, dosage 300)")
    t.add_argument("--batch-size", type=positive_int, default=None,
                   help="default: the recipe's (mnist 128 mlp / 64 convnet, iris 16, dosage all)")
    t.add_argument("--optimizer", default=None,
                   help="rmsprop, sgd, adam or adamw (default: the recipe's)")
    t.add_argument("--learning-rate", type=positive_float, default=None,
                   help="default: the recipe's, else the optimizer's")
    t.add_argument("--momentum", type=float, default=None, help="for sgd and rmsprop")
    t.add_argument("--seed", type=int, default=0,
                   help="seeds initial weights, shuffling and dropout (default: 0)")
    t.add_argument("--data", default=None,
                   help="mnist only: mnist.npz or a folder of the IDX files (default: the "
                   "cache, a download, else the bundled subset)")
    t.add_argument("--device", default="cpu", help=device_help())
    t.add_argument("--save", default=None,
                   help="write the trained model (.ndgrad) here (checked before training)")
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0: silent; 1: summary and progress bar; 2: one line per epoch "
                        "(default: 1)")
    return t


def _optimizer(args: argparse.Namespace, recipe: Recipe) -> Any:
    from .. import optimizers

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


def load_dataset(dataset: str, path: str | None = None) -> tuple[tuple[Any, ...], str]:
    """``(x_train, y_train, x_test, y_test)`` as NumPy arrays and where they came from."""
    if dataset == "mnist":
        import warnings

        from ..datasets import mnist

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            d = mnist.load(path)
        for w in caught:
            print(f"note: {_for_the_cli(w.message)}", file=sys.stderr)
        source = f"{d.source} ({len(d.x_train)} training, {len(d.x_test)} test images)"
        return (d.x_train, d.y_train, d.x_test, d.y_test), source
    from ..datasets import dosage, iris

    (x_train, y_train), (x_test, y_test) = {"iris": iris, "dosage": dosage}[dataset].load_data()
    what = "flowers" if dataset == "iris" else "dosages"
    source = f"{dataset} ({len(x_train)} training, {len(x_test)} test {what})"
    return (x_train, y_train, x_test, y_test), source


def _for_the_cli(message: Warning | str) -> str:
    """A data set's warning as a CLI user needs it: the fallback names ``--data``."""
    from ..datasets import mnist

    if not isinstance(message, mnist.DatasetFallbackWarning):
        return str(message)
    return message.for_the_cli()


def _network(dataset: str, kind: str, x_train: Any) -> Any:
    """The course's network for `dataset`, taking raw data (its preprocessing inside)."""
    from ..models import book

    if dataset == "iris":
        return book.iris_mlp(x_train)
    if dataset == "dosage":
        return book.dosage_mlp()
    return book.mnist_mlp(raw=True) if kind == "mlp" else book.mnist_convnet(raw=True)


def train(args: argparse.Namespace) -> int:
    """``ndgrad train``: fit with the data set's recipe, print the test accuracy, save."""
    import ndgrad

    recipe = RECIPES[args.dataset]
    if args.model not in recipe.models:
        raise UsageError(f"--model {args.model} applies to mnist only; {args.dataset} trains "
                         f"{' or '.join(recipe.models)}")
    if args.data is not None and args.dataset != "mnist":
        raise UsageError(f"--data applies to mnist only; {args.dataset} is bundled with ndgrad")
    if args.save is not None:  # before the training it would otherwise lose
        check_output(args.save, "--save", {"the --data file": args.data})
    optimizer = _optimizer(args, recipe)
    (x_train, y_train, x_test, y_test), source = load_dataset(args.dataset, args.data)
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
