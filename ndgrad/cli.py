"""The ``ndgrad`` command: ``ndgrad train mnist`` trains the book's first network.

ndgrad train mnist                     # Dense(512, relu) + Dense(10, softmax), 5 epochs
ndgrad train mnist --model convnet     # the book's convnet
ndgrad train mnist --data mnist.npz    # full MNIST from a Keras mnist.npz or IDX folder
ndgrad devices                         # what this machine offers
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ndgrad", description="Neural-network tensors you can read.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a network of the course material")
    t.add_argument("dataset", choices=["mnist"], help="the data set")
    t.add_argument("--model", choices=["mlp", "convnet"], default="mlp")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="default: 128 for mlp, 64 for convnet (the book's choices)",
    )
    t.add_argument("--optimizer", default="rmsprop", help="rmsprop, sgd, adam or adamw")
    t.add_argument("--learning-rate", type=float, default=None)
    t.add_argument("--momentum", type=float, default=None, help="for sgd and rmsprop")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data", default=None, help="mnist.npz or a folder of the IDX files")
    t.add_argument("--device", default="cpu")
    t.add_argument("--save", default=None, help="write the trained model (.ndgrad) here")
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    sub.add_parser("devices", help="list the devices ndgrad can use")
    return p


def _optimizer(args: argparse.Namespace) -> object:
    from . import optimizers

    opt = optimizers.get(args.optimizer)
    cfg = opt.get_config()
    if args.learning_rate is not None:
        cfg["learning_rate"] = args.learning_rate
    if args.momentum is not None:
        if "momentum" not in cfg:
            raise SystemExit(f"ndgrad: --momentum does not apply to {args.optimizer}")
        cfg["momentum"] = args.momentum
    return type(opt).from_config(cfg)


def train_mnist(args: argparse.Namespace) -> float:
    """Train on MNIST as the book does and return the test accuracy."""
    import warnings

    import ndgrad
    from ndgrad.datasets import mnist
    from ndgrad.models import book

    ndgrad.manual_seed(args.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = mnist.load(args.data)
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)
    print(f"data: {data.source} ({len(data.x_train)} training, {len(data.x_test)} test images)")
    shape = (-1, 28 * 28) if args.model == "mlp" else (-1, 28, 28, 1)
    x_train = ndgrad.tensor(data.x_train, dtype="float32").reshape(shape) / 255.0
    x_test = ndgrad.tensor(data.x_test, dtype="float32").reshape(shape) / 255.0
    y_train, y_test = ndgrad.tensor(data.y_train), ndgrad.tensor(data.y_test)
    model = book.mnist_mlp() if args.model == "mlp" else book.mnist_convnet()
    model.to(args.device)
    model.compile(
        optimizer=_optimizer(args), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    if args.verbose:
        model.summary()
    start = time.perf_counter()
    batch_size = args.batch_size or (128 if args.model == "mlp" else 64)
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    print(f"trained in {seconds:.1f} s; test accuracy: {accuracy:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return accuracy


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "devices":
        import ndgrad

        print("\n".join(ndgrad.devices()))
        return 0
    train_mnist(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
