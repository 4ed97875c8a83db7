"""How a sweep chooses its runs: a plan of stages, each a set of cells trained for some epochs.

- ``grid`` (the given configs: a full grid, or random samples drawn up front): one stage.
- ``tpe``: Optuna's TPE sampler (Bayesian optimization) through its ask-and-tell interface,
  in waves of `wave` trials: a wave's configs are asked together, trained, and told in trial
  order before the next wave is asked.
- ``prune="halving"``: synchronous successive halving inside each stage: every config trains
  to the first rung (1 epoch), the best 1/eta by the mean over seeds continue to the next rung
  (eta times as many epochs), and so on up to `epochs`; the others end ``stopped`` with what
  they reached. A config continued to the next rung is trained again from its first epoch,
  which repeats the epochs already stored bit for bit (a run's random state comes from its
  cell alone), so nothing is checkpointed and nothing depends on timing.

Every decision (which configs are asked, which continue) is a function of the sweep's seed,
the command and the stored metrics alone: the same with 1 or 8 workers, locally or on Ray, and
after a ``kill -9`` the driver replays the plan from the store (finished cells are not run
again) and continues the same sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .events import Status
from .grid import Cell, Config, cells, is_log_scale

SEARCHES = ("grid", "tpe")
PRUNERS = ("none", "halving")


@dataclass
class Stage:
    """Cells to bring to `epochs` epochs (those already there are not run again).
    `continuing`: cells trained further than an earlier rung (their stored epochs stay)."""

    cells: list[Cell]
    epochs: int
    continuing: set[str] = field(default_factory=set)
    label: str = ""


def rungs(epochs: int, eta: int = 3) -> list[int]:
    """The epochs at which successive halving compares configs: 1, eta, eta^2, ... and
    `epochs` last.

    >>> rungs(5), rungs(9), rungs(1), rungs(10, eta=2)
    ([1, 3, 5], [1, 3, 9], [1], [1, 2, 4, 8, 10])
    """
    if eta < 2:
        raise ValueError(f"halving: eta must be >= 2. Received {eta}")
    out, r = [], 1
    while r < epochs:
        out.append(r)
        r *= eta
    return [*out, epochs]


#: a stored run, as the plan reads it: (status, {epoch: {metric: value}})
RunView = tuple[Status, Mapping[int, Mapping[str, float]]]
Lookup = Callable[[], Mapping[str, RunView]]


def score(
    config_cells: Sequence[Cell], runs: Mapping[str, RunView], epoch: int, metric: str
) -> float | None:
    """The mean over seeds of `metric` at `epoch`; None when a seed diverged, failed or
    has no finite value there."""
    values = []
    for c in config_cells:
        status, epochs = runs.get(c.key, (Status.QUEUED, {}))
        value = epochs.get(epoch, {}).get(metric)
        if status in (Status.DIVERGED, Status.FAILED) or value is None or not math.isfinite(
                value):
            return None
        values.append(value)
    return sum(values) / len(values) if values else None


def halving(
    configs: Sequence[Config],
    seeds: int | Sequence[int],
    epochs: int,
    eta: int,
    metric: str,
    lower_is_better: bool,
    lookup: Lookup,
    stop: Callable[[str], None],
    label: str = "",
) -> Iterator[Stage]:
    """The rungs of synchronous successive halving over `configs`: yields a Stage per rung;
    after each (reading the store through `lookup`), marks the configs that do not continue
    as stopped (through `stop`) and keeps the best ceil(n / eta)."""
    per_config = {i: cells([c], seeds) for i, c in enumerate(configs)}
    index = list(range(len(configs)))
    done_epochs = 0
    for k, rung in enumerate(rungs(epochs, eta)):
        group = [c for i in index for c in per_config[i]]
        continuing = {c.key for c in group} if done_epochs else set()
        yield Stage(group, rung, continuing,
                    f"{label}rung {k + 1}: {len(index)} config(s) to epoch {rung}")
        done_epochs = rung
        if rung == epochs:
            return
        runs = lookup()
        sign = 1.0 if lower_is_better else -1.0
        scored = []
        for order, i in enumerate(index):
            s = score(per_config[i], runs, rung, metric)
            scored.append((s is None, 0.0 if s is None else sign * s, order, i))
        scored.sort()
        keep = max(1, math.ceil(len(index) / eta))
        for _, _, _, i in scored[keep:]:
            for c in per_config[i]:
                if runs.get(c.key, (Status.QUEUED, {}))[0] == Status.DONE:
                    stop(c.key)
        index = sorted(i for _, _, _, i in scored[:keep])


def distributions(space: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Optuna distributions for a space given as {name: [values]}: numbers between their
    smallest and largest value (log scale for learning rates), other values chosen among."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, values in space.items():
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not numeric or len(set(values)) == 1:
            out[name] = CategoricalDistribution(list(dict.fromkeys(values)))
        elif all(isinstance(v, int) for v in values):
            out[name] = IntDistribution(min(values), max(values))
        else:
            low, high = float(min(values)), float(max(values))
            out[name] = FloatDistribution(low, high, log=is_log_scale(name) and low > 0)
    return out


def tpe(
    space: Mapping[str, Sequence[Any]],
    trials: int,
    wave: int,
    seed: int,
    seeds: int | Sequence[int],
    epochs: int,
    metric: str,
    lower_is_better: bool,
    lookup: Lookup,
    stop: Callable[[str], None],
    prune: str = "none",
    eta: int = 3,
) -> Iterator[Stage]:
    """TPE in waves of `wave` trials (see the module's docstring)."""
    try:
        import optuna
    except ImportError as e:
        raise ImportError("search='tpe' needs Optuna: pip install 'ndgrad[lab]'") from e
    if trials < 1 or wave < 1:
        raise ValueError(f"tpe: trials and wave must be >= 1. Received {trials}, {wave}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize" if lower_is_better else "maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(wave, 10)),
    )
    dists = distributions(space)
    for start in range(0, trials, wave):
        asked = [study.ask(dists) for _ in range(min(wave, trials - start))]
        configs = [dict(t.params) for t in asked]
        unique = list({_key(c): c for c in configs}.values())
        label = f"wave {start // wave + 1}, "
        if prune == "halving":
            yield from halving(unique, seeds, epochs, eta, metric, lower_is_better, lookup,
                               stop, label)
        else:
            yield Stage(cells(unique, seeds), epochs, set(), f"{label}{len(unique)} trial(s)")
        runs = lookup()
        for t, config in zip(asked, configs):
            group = cells([config], seeds)
            value = score(group, runs, epochs, metric)
            if value is not None:
                study.tell(t, value)
                continue
            reached = [e for c in group for e in runs.get(c.key, (Status.QUEUED, {}))[1]]
            statuses = {runs.get(c.key, (Status.QUEUED, {}))[0] for c in group}
            if Status.STOPPED in statuses and reached:
                rung = max(reached)
                at = score(group, runs, rung, metric)
                if at is not None:
                    t.report(at, rung)
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(t, state=optuna.trial.TrialState.FAIL)


def _key(config: Config) -> str:
    return repr(sorted(config.items()))
