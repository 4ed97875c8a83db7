"""``ndgrad lab``: the course's hyperparameter experiments from the command line.

ndgrad lab rmsprop                                  # lr {1e-4..3e-2} x momentum {0, .5, .9}
ndgrad lab rmsprop --lr 1e-3,1e-2 --momentum 0,0.9 --seeds 3 --epochs 5 --workers 2
ndgrad lab rmsprop --ray                            # on a local Ray instance
ndgrad lab rmsprop --ray auto                       # on the Ray cluster this machine joined
ndgrad lab sweep --optimizer adam --param learning_rate=1e-4,1e-3 --param beta_1=0.8,0.9
ndgrad lab sweep --optimizer sgd --param learning_rate=1e-3,1e-1 --random 8
ndgrad lab verify OUT CELL                          # re-run one stored cell, compare
ndgrad lab report OUT                               # redraw the pictures and report.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .grid import grid, parse_values, sample

RMSPROP_GRID = {
    "learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
    "momentum": [0.0, 0.5, 0.9],
}


def add_lab_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ndgrad lab`` and its subcommands."""
    from ..cli import _add_command

    lab = subparsers.add_parser(
        "lab", help="hyperparameter sweeps (RMSprop learning rate x momentum, ...)",
        description=__doc__.split("\n\n", 1)[0],
    )
    sub = lab.add_subparsers(dest="lab_command", required=True)
    rms = _add_command(sub, "rmsprop", run_rmsprop,
                       help="RMSprop's learning rate x momentum on MNIST (the course's lab)")
    rms.add_argument("--lr", "--learning-rate", dest="lr", default=None,
                     help="learning rates, comma-separated (default 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2)")
    rms.add_argument("--momentum", default=None, help="momentums (default 0,0.5,0.9)")
    rms.add_argument("--rho", default=None, help="rho values (default: RMSprop's 0.9 only)")
    _common(rms)
    gen = _add_command(sub, "sweep", run_sweep, help="any optimizer, any of its parameters")
    gen.add_argument("--optimizer", default="rmsprop", help="rmsprop, sgd, adam or adamw")
    gen.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                     help="a parameter and its values (repeat for each parameter)")
    _common(gen)
    ver = _add_command(sub, "verify", run_verify,
                       help="re-run one stored cell and report any difference")
    ver.add_argument("out", help="the sweep's output folder")
    ver.add_argument("cell", help="the cell's key (or its first characters), from results.csv")
    rep = _add_command(sub, "report", run_report, help="redraw the heatmap, curves and report")
    rep.add_argument("out", help="the sweep's output folder")
    rep.add_argument("--metric", default="val_accuracy")
    return lab


def _common(p: argparse.ArgumentParser) -> None:
    from ..cli import _positive_int

    p.add_argument("--model", choices=["mlp", "convnet"], default="mlp")
    p.add_argument("--seeds", type=_positive_int, default=1, help="seeds per config (0, 1, ...)")
    p.add_argument("--epochs", type=_positive_int, default=5)
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="default: 128 for mlp, 64 for convnet")
    p.add_argument("--data", default=None, help="mnist.npz or a folder of the IDX files")
    p.add_argument("--subset", type=_positive_int, default=None,
                   help="train on the first N images (validation: N/5)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="runs at once (default: one per core)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: a local instance, or the cluster at ADDRESS ('auto', ...)")
    p.add_argument("--random", type=_positive_int, default=None, metavar="N",
                   help="N random configs (log-uniform learning rates) instead of the grid")
    p.add_argument("--retry-failed", action="store_true", help="run failed cells again")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard event files under OUT/tensorboard")
    p.add_argument("--seed", type=int, default=0, help="the sweep's seed")
    p.add_argument("--out", default=None, help="output folder (default runs/lab-<name>)")
    p.add_argument("--no-report", action="store_true", help="skip the pictures and report")


def _values(option: str, text: str) -> list[Any]:
    try:
        values = parse_values(text)
    except ValueError as e:
        raise UsageError(f"{option}: {e}") from e
    return values


def run_rmsprop(args: argparse.Namespace) -> int:
    space: dict[str, list[Any]] = dict(RMSPROP_GRID)
    if args.lr is not None:
        space["learning_rate"] = _values("--lr", args.lr)
    if args.momentum is not None:
        space["momentum"] = _values("--momentum", args.momentum)
    if args.rho is not None:
        space["rho"] = _values("--rho", args.rho)
    return _run(args, "rmsprop", space, name="rmsprop")


def run_sweep(args: argparse.Namespace) -> int:
    if not args.param:
        raise UsageError("give at least one --param NAME=V1,V2,... to sweep")
    space: dict[str, list[Any]] = {}
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {item!r}: expected NAME=V1,V2,...")
        space[name.strip()] = _values(f"--param {name}", text)
    return _run(args, args.optimizer, space, name=args.optimizer)


def _run(args: argparse.Namespace, optimizer: str, space: dict[str, list[Any]], name: str) -> int:
    from .executors import LocalExecutor, RayExecutor
    from .mnist import MnistBuild, coerce_config, mnist_data
    from .sweep import sweep

    try:
        space = {k: [coerce_config(optimizer, {k: x})[k] for x in v] for k, v in space.items()}
    except ValueError as e:
        raise UsageError(str(e)) from e
    configs = sample(space, args.random, seed=args.seed) if args.random else grid(space)
    out = Path(args.out or f"runs/lab-{name}")
    data, source, notes = mnist_data(args.data, args.subset, args.model)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"data: {source} ({len(data.x_train)} training, {len(data.x_val)} validation images)")
    if args.ray:
        executor: Any = RayExecutor(None if args.ray == "local" else args.ray, args.workers)
    else:
        executor = LocalExecutor(args.workers)
    settings = {"optimizer": optimizer, "model": args.model, "data_source": source,
                "subset": args.subset, "random": args.random}
    result = sweep(
        MnistBuild(optimizer, args.model), configs, seeds=args.seeds, data=data,
        epochs=args.epochs, batch_size=args.batch_size or (128 if args.model == "mlp" else 64),
        executor=executor, store=out, sweep_seed=args.seed, retry_failed=args.retry_failed,
        tensorboard=args.tensorboard, settings=settings,
    )
    _summarize(result, args.no_report)
    return 0


def _summarize(result: Any, no_report: bool, metric: str = "val_accuracy") -> None:
    for line in result.findings(metric):
        print(line)
    if no_report:
        return
    try:
        path = result.report(metric=metric)
    except ImportError as e:
        print(f"note: no pictures: {e}", file=sys.stderr)
        return
    print(f"report: {path} (heatmap.png and curves.png beside it)")


def run_report(args: argparse.Namespace) -> int:
    from .results import SweepResult

    _summarize(SweepResult.load(args.out), False, args.metric)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from .mnist import MnistBuild, mnist_data
    from .store import Store
    from .sweep import DB_NAME, verify

    with Store(Path(args.out) / DB_NAME, readonly=True) as db:
        settings = db.settings()
    if not settings or "optimizer" not in settings:
        raise UsageError(f"{args.out}: not a sweep made by `ndgrad lab` (no settings to rebuild)")
    data_path = None
    source = settings.get("data_source", "")
    if source.startswith("path:"):
        data_path = source[len("path:"):]
    data, _, _ = mnist_data(data_path, settings.get("subset"), settings["model"])
    build = MnistBuild(settings["optimizer"], settings["model"])
    differences = verify(args.out, args.cell, build, data)
    if differences:
        print(f"{len(differences)} difference(s) from the stored run:")
        for d in differences:
            print(f"  {d}")
        return 1
    print("identical: every stored metric of every epoch was reproduced")
    return 0
