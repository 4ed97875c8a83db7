"""``ndgrad lab``: the course's hyperparameter experiments from the command line.

ndgrad lab rmsprop                                  # lr {1e-4..3e-2} x momentum {0, .5, .9}
ndgrad lab rmsprop --lr 1e-3,1e-2 --momentum 0,0.9 --seeds 3 --epochs 5 --workers 2
ndgrad lab rmsprop --ray                            # on a local Ray instance
ndgrad lab rmsprop --ray auto                       # on the Ray cluster this machine joined
ndgrad lab sweep --optimizer adam --param learning_rate=1e-4,1e-3 --param beta_1=0.8,0.9
ndgrad lab sweep --optimizer sgd --param learning_rate=1e-3,1e-1 --random 8
ndgrad lab verify OUT CELL                          # re-run one stored cell, compare
ndgrad lab report OUT                               # redraw the pictures and report.html
ndgrad lab compare OUT1 OUT2 --out DIR              # sweeps side by side: which is better
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from .. import _extras
from .._cli_args import add_command as _command
from .._cli_args import positive_int
from ..errors import UsageError
from .grid import grid, parse_values, sample

RMSPROP_GRID = {
    "learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
    "momentum": [0.0, 0.5, 0.9],
}
#: what the book's networks report each epoch (what --metric may name before a run)
MNIST_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
#: optional modules the lab needs, and the extra that installs each (the package's table,
#: where the lab extra brings what the lab uses)
EXTRAS = {**_extras.EXTRAS, "threadpoolctl": "lab", "matplotlib": "lab", "optuna": "lab"}

#: exit statuses: every run done or diverged; a run failed; a usage error; Ctrl-C
OK, RUN_FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


def add_lab_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ndgrad lab`` and its subcommands."""
    lab = subparsers.add_parser(
        "lab", help="hyperparameter sweeps (RMSprop learning rate x momentum, ...)",
        description=__doc__.split("\n\n", 1)[0],
    )
    sub = lab.add_subparsers(dest="lab_command", required=True)
    rms = _command(sub, "rmsprop", run_rmsprop,
                       help="RMSprop's learning rate x momentum on MNIST (the course's lab)")
    rms.add_argument("--lr", "--learning-rate", dest="lr", default=None,
                     help="learning rates, comma-separated (default 1e-4,3e-4,1e-3,3e-3,1e-2,3e-2)")
    rms.add_argument("--momentum", default=None, help="momentums (default 0,0.5,0.9)")
    rms.add_argument("--rho", default=None, help="rho values (default: RMSprop's 0.9 only)")
    _common(rms)
    gen = _command(sub, "sweep", run_sweep, help="any optimizer, any of its parameters")
    gen.add_argument("--optimizer", default="rmsprop", help="rmsprop, sgd, adam or adamw")
    gen.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                     help="a parameter and its values (repeat for each parameter)")
    _common(gen)
    ver = _command(sub, "verify", run_verify,
                       help="re-run one stored cell and report any difference")
    ver.add_argument("out", help="the sweep's output folder")
    ver.add_argument("cell", help="the cell's key (or its first characters), from results.csv")
    rep = _command(sub, "report", run_report, help="redraw the heatmap, curves and report")
    rep.add_argument("out", help="the sweep's output folder")
    rep.add_argument("--metric", default="val_accuracy",
                     help="the metric to rank, picture and explain (default val_accuracy)")
    cmp = _command(sub, "compare", run_compare,
                   help="put sweeps side by side: the best of each, which is better, noise")
    cmp.add_argument("outs", nargs="+", metavar="OUT", help="two or more sweeps' output folders")
    cmp.add_argument("--out", required=True, help="folder for compare.html and its picture")
    cmp.add_argument("--metric", default="val_accuracy",
                     help="the metric to compare the sweeps on (default val_accuracy)")
    return lab


def _common(p: argparse.ArgumentParser) -> None:
    _positive_int = positive_int
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
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="train on the CPU (default) or on the GPUs: worker r on cuda:r, "
                   "one worker per GPU")
    p.add_argument("--gpus", type=_positive_int, default=None, metavar="N",
                   help="train on the first N GPUs (implies --device cuda)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: a local instance, or the cluster at ADDRESS ('auto', ...)")
    p.add_argument("--search", choices=["grid", "random", "tpe"], default=None,
                   help="grid (default), random samples, or tpe (Optuna's Bayesian search) "
                   "within the ranges given")
    p.add_argument("--trials", type=_positive_int, default=None, metavar="N",
                   help="configs to try with --search random or tpe (default 12)")
    p.add_argument("--wave", type=_positive_int, default=4,
                   help="tpe: configs asked at a time, before the results are told (default 4)")
    p.add_argument("--random", type=_positive_int, default=None, metavar="N",
                   help="the same as --search random --trials N")
    p.add_argument("--prune", choices=["none", "halving"], default="none",
                   help="halving: successive halving stops trailing configs at epochs 1, 3, "
                   "9, ... (default none)")
    p.add_argument("--eta", type=_positive_int, default=3,
                   help="halving: keep 1/ETA of the configs at each rung (default 3)")
    p.add_argument("--save-models", choices=["best", "all", "none"], default="best",
                   help="keep the final models of the best configuration's runs (default), "
                   "of every run, or none, in OUT/models")
    p.add_argument("--retry-failed", action="store_true", help="run failed cells again")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard event files under OUT/tensorboard")
    p.add_argument("--seed", type=int, default=0, help="the sweep's seed")
    p.add_argument("--out", default=None, help="output folder (default runs/lab-<name>)")
    p.add_argument("--no-report", action="store_true", help="skip the pictures and report")
    p.add_argument("--metric", default="val_accuracy", choices=MNIST_METRICS,
                   help="the metric to rank, picture and explain (default val_accuracy)")
    p.add_argument("--max-attempts", type=_positive_int, default=2,
                   help="tries per run when its worker dies (default 2)")


def _values(option: str, text: str) -> list[Any]:
    try:
        values = parse_values(text)
    except ValueError as e:
        raise UsageError(f"{option}: {e}") from e
    return values


def preflight(*modules: str) -> None:
    """Import each optional module the command will need, before anything runs; a missing
    one is a UsageError naming the extra that installs it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UsageError(
                f"this command needs {name}, which is not installed ({e}): "
                f"pip install 'ndgrad[{EXTRAS.get(name, 'lab')}]'"
            ) from e


def run_rmsprop(args: argparse.Namespace) -> int:
    space: dict[str, list[Any]] = dict(RMSPROP_GRID)
    options = {"learning_rate": "--lr", "momentum": "--momentum", "rho": "--rho"}
    if args.lr is not None:
        space["learning_rate"] = _values("--lr", args.lr)
    if args.momentum is not None:
        space["momentum"] = _values("--momentum", args.momentum)
    if args.rho is not None:
        space["rho"] = _values("--rho", args.rho)
    return _run(args, "rmsprop", space, name="rmsprop", options=options)


def run_sweep(args: argparse.Namespace) -> int:
    if not args.param:
        raise UsageError("give at least one --param NAME=V1,V2,... to sweep")
    space: dict[str, list[Any]] = {}
    for item in args.param:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param {item!r}: expected NAME=V1,V2,...")
        space[name.strip()] = _values(f"--param {name}", text)
    return _run(args, args.optimizer, space, name=args.optimizer,
                options={k: f"--param {k}" for k in space})


def _checked_space(
    optimizer: str, space: dict[str, list[Any]], options: dict[str, str]
) -> dict[str, list[Any]]:
    """Every value coerced and checked by itself (the error names its option), then the
    optimizer's constructor tried on each value."""
    from .. import optimizers
    from .mnist import check_config

    try:
        optimizers.get(optimizer)
    except ValueError as e:
        raise UsageError(f"--optimizer: {e}") from e
    checked: dict[str, list[Any]] = {}
    for key, values in space.items():
        checked[key] = []
        for value in values:
            try:
                checked[key].append(check_config(optimizer, {key: value})[key])
            except ValueError as e:
                raise UsageError(f"{options.get(key, key)}: {e}") from e
    return checked


def _run(
    args: argparse.Namespace, optimizer: str, space: dict[str, list[Any]], name: str,
    options: dict[str, str],
) -> int:
    from .executors import LocalExecutor, RayExecutor
    from .lock import DriverLock, StoreBusy
    from .mnist import MnistBuild, check_config, mnist_data
    from .sweep import SweepInterrupted, sweep

    space = _checked_space(optimizer, space, options)
    gpus = _gpus(args)
    search = args.search or ("random" if args.random else "grid")
    trials = args.trials or args.random or (12 if search != "grid" else None)
    if search == "grid" and args.trials:
        raise UsageError("--trials goes with --search random or --search tpe")
    if args.eta < 2:
        raise UsageError(f"--eta must be >= 2, got {args.eta}")
    configs = sample(space, int(trials or 0), seed=args.seed) if search == "random" else grid(space)
    for config in configs:  # combinations too (a sampled value, or parameters together)
        try:
            check_config(optimizer, config)
        except ValueError as e:
            raise UsageError(str(e)) from e
    needed = ["threadpoolctl"] + (["optuna"] if search == "tpe" else [])
    needed += [] if args.no_report else ["matplotlib"]
    needed += ["ray"] if args.ray else []
    needed += ["tensorboardX"] if args.tensorboard else []
    preflight(*needed)
    out = Path(args.out or f"runs/lab-{name}")
    try:  # refuse at once, before the data are loaded, when another driver has the folder
        with DriverLock(out):
            pass
    except StoreBusy as e:
        raise UsageError(str(e)) from e
    data, source, notes = mnist_data(args.data, args.subset, args.model, for_cli=True)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"data: {source} ({len(data.x_train)} training, {len(data.x_val)} validation, "
          f"{len(data.x_test)} held-out test images)")
    if args.ray:
        executor: Any = RayExecutor(None if args.ray == "local" else args.ray, args.workers,
                                    max_attempts=args.max_attempts)
    elif gpus:
        executor = LocalExecutor(args.workers, max_attempts=args.max_attempts, device="cuda",
                                 gpus=gpus)
    else:
        executor = LocalExecutor(args.workers, max_attempts=args.max_attempts)
    settings = {"optimizer": optimizer, "model": args.model, "data_source": source,
                "subset": args.subset, "random": trials if search == "random" else None}
    try:
        result = sweep(
            MnistBuild(optimizer, args.model), space if search == "tpe" else configs,
            seeds=args.seeds, data=data, epochs=args.epochs,
            batch_size=args.batch_size or (128 if args.model == "mlp" else 64),
            executor=executor, store=out, sweep_seed=args.seed, retry_failed=args.retry_failed,
            tensorboard=args.tensorboard, settings=settings,
            search="tpe" if search == "tpe" else "grid", trials=trials, wave=args.wave,
            prune=args.prune, eta=args.eta, metric=args.metric, save_models=args.save_models,
        )
    except StoreBusy as e:
        raise UsageError(str(e)) from e
    except SweepInterrupted:
        return INTERRUPTED  # the sweep said what was kept and how to resume
    _summarize(result, args.no_report, args.metric)
    failed = result.counts().get("failed", 0)
    if failed:
        print(f"{failed} run(s) failed (see above); `--retry-failed` runs them again",
              file=sys.stderr)
        return RUN_FAILED
    return OK


def _gpus(args: argparse.Namespace) -> int | None:
    """How many GPUs --device cuda / --gpus N ask for (None: the CPU); refused at once, in
    one line, where there are not that many or with --ray."""
    if args.device != "cuda" and args.gpus is None:
        return None
    import ndgrad

    option = f"--gpus {args.gpus}" if args.gpus else "--device cuda"
    if args.ray:
        raise UsageError(f"{option} runs local workers on this machine's GPUs; not with --ray")
    available = ndgrad.cuda.device_count()
    if available == 0:
        raise UsageError(f"{option}: no CUDA device here (ndgrad.cuda.is_available() is False; "
                         "`ndgrad devices` lists what there is)")
    if args.gpus is not None and args.gpus > available:
        raise UsageError(f"--gpus {args.gpus}: this machine has {available} CUDA device(s)")
    return args.gpus or available


def _summarize(result: Any, no_report: bool, metric: str = "val_accuracy") -> None:
    try:
        result.check_metric(metric)
    except ValueError as e:
        raise UsageError(str(e)) from e
    for line in result.findings(metric):
        print(line)
    models = sorted((result.out / "models").glob("*.ndgrad"))
    if models:
        print(f"models: {len(models)} in {result.out / 'models'} (`ndgrad evaluate "
              f"{models[0]} --data ...`)")
    if no_report:
        return
    path = result.report(metric=metric)
    print(f"report: {path} (heatmap.png and curves.png beside it)")


def run_report(args: argparse.Namespace) -> int:
    from .results import SweepResult

    preflight("matplotlib")
    _summarize(SweepResult.load(args.out), False, args.metric)
    return OK


def run_compare(args: argparse.Namespace) -> int:
    from .compare import write_compare

    if len(args.outs) < 2:
        raise UsageError(f"compare needs two or more sweeps' folders; got {len(args.outs)}")
    preflight("matplotlib")
    try:
        path, said = write_compare(args.outs, args.out, args.metric)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from e
    for line in said:
        print(line)
    print(f"report: {path} (compare-curves.png beside it)")
    return OK


def run_verify(args: argparse.Namespace) -> int:
    from .mnist import MnistBuild, mnist_data
    from .store import DB_NAME, Store
    from .sweep import tolerance_for, verify

    preflight("threadpoolctl")
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
        return RUN_FAILED
    tolerance = tolerance_for(settings)
    if tolerance:
        print(f"within {tolerance:g}: every stored metric of every epoch was reproduced "
              "(a sweep run on GPUs)")
        return OK
    print("identical: every stored metric of every epoch was reproduced")
    return OK
