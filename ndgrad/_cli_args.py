"""Argument helpers shared by every ``ndgrad`` command, the lab's included.

`add_command` makes a subcommand parser that also accepts ``--debug`` and runs its handler;
`positive_int`, `non_negative_int` and `positive_float` are argparse ``type=`` functions whose
errors argparse prints as one usage line (exit 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], "int | None"]


def positive_int(text: str) -> int:
    """``type=`` for counts: an integer >= 1."""
    value = int(text)  # a ValueError: argparse's "invalid positive_int value"
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """``type=`` for counts that may be zero: an integer >= 0."""
    value = int(text)  # a ValueError: argparse's "invalid non_negative_int value"
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """``type=`` for rates: a finite number > 0."""
    value = float(text)  # a ValueError: argparse's "invalid positive_float value"
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_command(
    subparsers: Any, name: str, handler: Handler, **kw: Any
) -> argparse.ArgumentParser:
    """A subcommand parser named `name` that accepts ``--debug`` too and runs `handler`.

    `kw` goes to ``subparsers.add_parser`` (``help=``, ``description=``, ...). `handler` gets
    the parsed arguments and returns the exit status (None for 0); the ``ndgrad`` command turns
    its user errors into one line on stderr and exit status 2.
    """
    p: argparse.ArgumentParser = subparsers.add_parser(name, **kw)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback of an error")
    p.set_defaults(func=handler)
    return p
