"""The ``ndgrad`` command: train the course's networks, then evaluate and use saved models.

ndgrad train mnist                       # Dense(512, relu) + Dense(10, softmax), 5 epochs
ndgrad train mnist --model convnet       # the book's convnet
ndgrad train iris --save iris.ndgrad     # Dense(16, relu) + Dense(3, softmax), Adam, 100 epochs
ndgrad train dosage                      # StatQuest's dosage network, 300 full-batch epochs
ndgrad evaluate iris.ndgrad --data iris  # loss and metrics on a data set's test split
ndgrad predict iris.ndgrad flowers.csv   # one line per sample
ndgrad devices                           # what this machine offers
ndgrad --version

One module per command family (`training`: train; `inference`: evaluate and predict; the lab
in `ndgrad.lab.cli`), each with ``add_*_parser(subparsers)`` functions built on the shared
helpers of `ndgrad._cli_args` (`add_command`, `positive_int`, ...; re-exported here). `main`
runs the handler and turns user errors (`USER_ERRORS`: `UsageError`, bad files and values,
missing devices, a missing optional dependency) into one line on stderr and exit status 2, as
argparse does for bad arguments; ``--debug`` shows the traceback instead. Other exceptions are
bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .._cli_args import add_command, non_negative_int, positive_float, positive_int
from .._extras import describe
from .._version import __version__
from ..errors import DeviceError, DTypeError, MissingExtraError, UsageError
from .inference import add_evaluate_parser, add_predict_parser, evaluate, predict
from .training import RECIPES, add_train_parser, train

__all__ = [
    "RECIPES",
    "USER_ERRORS",
    "add_command",
    "build_parser",
    "devices",
    "evaluate",
    "main",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "predict",
    "train",
]

#: exceptions that mean "the user asked for something impossible", not "ndgrad has a bug"
USER_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    ValueError,  # ShapeError, ModelFileError, bad values in files
    OSError,  # FileNotFoundError, PermissionError, DownloadError
    DeviceError,
    DTypeError,
    MissingExtraError,
)

def add_devices_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ndgrad devices``."""
    return add_command(subparsers, "devices", devices, help="list the devices ndgrad can use")


def devices(args: argparse.Namespace) -> int:
    """``ndgrad devices``: one device per line."""
    import ndgrad

    print("\n".join(ndgrad.devices()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``ndgrad`` parser: one subparser per command, each with its handler as ``func``."""
    p = argparse.ArgumentParser(prog="ndgrad", description="Neural-network tensors you can read.")
    p.add_argument("--version", action="version", version=f"ndgrad {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error instead of one line")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from ..lab.cli import add_lab_parser

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
    except ImportError as e:  # an optional dependency: one line naming its extra
        line = describe(e)
        if line is None or args.debug:
            raise
        print(f"ndgrad {args.command}: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"ndgrad {args.command}: interrupted", file=sys.stderr)
        return 130
