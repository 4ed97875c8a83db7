"""`SweepResult`: a finished (or running) sweep read back from its store, ranked and explained.

Runs are grouped by config; each group's score is the mean over its seeds of a metric at the
last epoch (``val_accuracy`` by default), with the spread: the population standard deviation
of that metric over the seeds (none with one seed). Runs that diverged or failed have no score
and rank last; runs that early stopping ended (``stopped``) rank after the finished ones.

The sentences of `findings` state an effect only when it is larger than the noise, by one
rule throughout (`NOISE_RULE`): a difference between two configurations counts when it
exceeds the larger of their two spreads, each measured over at least two seeds. With one seed
per configuration no spread is measured, and the sentences say that a difference may be noise.
The held-out test figure (`test`) is given for the best configuration only, which was chosen
on the validation metric without looking at the test split.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import Status
from .grid import format_value
from .metric import lower_is_better, test_metric
from .store import DB_NAME, Store

NOISE_RULE = (
    "a difference counts when it exceeds the larger of the two configurations' spreads "
    "(population standard deviations over at least two seeds)"
)


def beyond_noise(a: ConfigSummary, b: ConfigSummary) -> bool | None:
    """True when the means of `a` and `b` differ by more than the larger spread, False when
    they do not, None when a spread is not measured (fewer than two seeds)."""
    if len(a.values) < 2 or len(b.values) < 2:
        return None
    return abs(a.mean - b.mean) > max(a.spread, b.spread)


@dataclass
class ConfigSummary:
    """One config over its seeds: the final `metric` of each finished run, and the rest."""

    config: dict[str, Any]
    seeds: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    diverged_epochs: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped_epochs: list[int] = field(default_factory=list)  # where early stopping ended runs
    test: list[float] = field(default_factory=list)  # the held-out metric of finished runs

    @property
    def mean(self) -> float:
        """The mean of the metric over the finished seeds (NaN for none)."""
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def spread(self) -> float:
        """The population standard deviation over seeds (0 for one seed, NaN for none)."""
        if not self.values:
            return math.nan
        return statistics.pstdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def measured(self) -> bool:
        """Is there a spread to speak of (two seeds or more)?"""
        return len(self.values) > 1

    def figure(self) -> str:
        """``0.9792 ± 0.0009`` with two seeds or more, ``0.9792`` with one."""
        return f"{self.mean:.4f}" + (f" ± {self.spread:.4f}" if self.measured else "")

    @property
    def n_diverged(self) -> int:
        """How many of its runs diverged."""
        return self.statuses.count(Status.DIVERGED)

    @property
    def all_diverged(self) -> bool:
        """Did every one of its runs diverge (False with no runs)?"""
        return bool(self.statuses) and self.n_diverged == len(self.statuses)

    def label(self, params: list[str] | None = None) -> str:
        """``learning_rate=0.01, momentum=0.9``: the config's `params` (default: all)."""
        keys = params if params else list(self.config)
        return ", ".join(f"{k}={format_value(self.config[k])}" for k in keys)


class SweepResult:
    """The runs of the sweep stored in folder `out`; see `load`."""

    def __init__(
        self,
        out: Path,
        settings: dict[str, Any],
        runs: list[dict[str, Any]],
        machine: dict[str, Any] | None = None,
    ) -> None:
        self.out, self.settings, self.runs = out, settings, runs
        self.machine = machine or {}  # the driver's CPU and load averages, as it recorded

    @classmethod
    def load(cls, out: str | Path) -> SweepResult:
        """Read the sweep in `out` (safe while it still runs: SQLite in WAL mode)."""
        out = Path(out)
        with Store(out / DB_NAME, readonly=True) as db:
            settings = db.settings() or {}
            runs = db.runs()
            metrics = db.metrics()
            heldout = db.heldout()
            ran_on = db.machine()
        for run in runs:
            run["test"] = heldout.get(run["cell"], {})
            epochs = metrics.get(run["cell"], {})
            run["history"] = {
                name: [epochs[e].get(name, math.nan) for e in sorted(epochs)]
                for name in sorted({n for values in epochs.values() for n in values})
            }
            run["final"] = dict(epochs[max(epochs)]) if epochs else {}
        return cls(out, settings, runs, ran_on)

    # -- grouping ---------------------------------------------------------------------------
    @property
    def params(self) -> list[str]:
        """The swept parameters: those with more than one value, in config order."""
        names = list(dict.fromkeys(k for r in self.runs for k in r["config"]))
        varied = [n for n in names if len({repr(r["config"].get(n)) for r in self.runs}) > 1]
        return varied or names

    def counts(self) -> dict[str, int]:
        """How many runs have each status (done, diverged, stopped, failed, running,
        queued)."""
        order = (Status.DONE, Status.DIVERGED, Status.STOPPED, Status.FAILED, Status.RUNNING,
                 Status.QUEUED)
        return {s: sum(r["status"] == s for r in self.runs) for s in order}

    def wall_seconds(self) -> float:
        """From the first run's start to the last run's end (0 before any run ended)."""
        started = [r["started"] for r in self.runs if r.get("started")]
        ended = [r["ended"] for r in self.runs if r.get("ended")]
        return max(ended) - min(started) if started and ended else 0.0

    def metric_names(self) -> list[str]:
        """Every metric some run stored (``loss``, ``val_accuracy``, ...), sorted."""
        return sorted({n for r in self.runs for n in r["history"]})

    def check_metric(self, metric: str) -> str:
        """`metric`, if some run stored it; a ValueError naming the known metrics otherwise
        (or saying that no run has stored any yet)."""
        names = self.metric_names()
        if metric in names:
            return metric
        if not self.runs:
            raise ValueError(f"{self.out} holds no runs yet: nothing to report")
        if not names:
            raise ValueError(f"no run in {self.out} has finished an epoch yet: nothing to report")
        raise ValueError(
            f"no metric {metric!r} in {self.out}; its runs stored {', '.join(names)}"
        )

    def summaries(self, metric: str = "val_accuracy") -> list[ConfigSummary]:
        """One summary per config, in the order the configs were first stored."""
        groups: dict[str, ConfigSummary] = {}
        for run in self.runs:
            key = repr(sorted(run["config"].items()))
            s = groups.setdefault(key, ConfigSummary(run["config"]))
            s.seeds.append(run["seed"])
            s.statuses.append(run["status"])
            if run["status"] == Status.DONE and metric in run["final"]:
                s.values.append(run["final"][metric])
                if test_metric(metric) in run["test"]:
                    s.test.append(run["test"][test_metric(metric)])
            if run["status"] == Status.STOPPED and run["history"]:
                s.stopped_epochs.append(len(next(iter(run["history"].values()))))
            if run["status"] == Status.DIVERGED and run["diverged_epoch"] is not None:
                s.diverged_epochs.append(run["diverged_epoch"])
            if run["status"] == Status.FAILED and run["error"]:
                s.errors.append(run["error"].strip().splitlines()[-1])
        return list(groups.values())

    def rank(self, metric: str = "val_accuracy") -> list[ConfigSummary]:
        """Configs best first by their mean `metric`; configs without a score last."""
        sign = 1.0 if lower_is_better(metric) else -1.0
        summaries = self.summaries(metric)
        scored = [s for s in summaries if s.values]
        stopped = [s for s in summaries if not s.values and s.stopped_epochs]
        unscored = [s for s in summaries if not s.values and not s.stopped_epochs]
        stopped.sort(key=lambda s: -max(s.stopped_epochs))  # the longest survivors first
        return sorted(scored, key=lambda s: sign * s.mean) + stopped + unscored

    def test(self, metric: str = "val_accuracy") -> ConfigSummary | None:
        """The best configuration (chosen by `metric` on validation), with its runs' held-out
        test figures in ``.test``; None when no run was evaluated on a test split."""
        try:
            best = self.best(metric)
        except ValueError:
            return None
        return best if best.test else None

    def best(self, metric: str = "val_accuracy") -> ConfigSummary:
        """The first config of `rank(metric)`; a ValueError when no run reported `metric`."""
        ranked = self.rank(metric)
        if not ranked or not ranked[0].values:
            raise ValueError(f"no finished run of this sweep reported {metric!r}")
        return ranked[0]

    def table(self, metric: str = "val_accuracy") -> list[dict[str, Any]]:
        """The ranked table: rank, the swept parameters, mean, spread and run counts."""
        rows = []
        for i, s in enumerate(self.rank(metric), 1):
            row: dict[str, Any] = {"rank": i if s.values else ""}
            row.update({p: s.config.get(p) for p in self.params})
            row[metric] = float(f"{s.mean:.4g}") if s.values else ""
            row["spread"] = float(f"{s.spread:.4g}") if s.measured else ""
            row["runs"] = len(s.statuses)
            row["diverged"] = s.n_diverged
            row["stopped_at_epoch"] = ",".join(map(str, sorted(set(s.stopped_epochs))))
            row["failed"] = s.statuses.count(Status.FAILED)
            row["diverged_in_epoch"] = ",".join(map(str, sorted(set(s.diverged_epochs))))
            rows.append(row)
        return rows

    def to_csv(self, path: str | Path, metric: str = "val_accuracy") -> Path:
        """Write `table(metric)` to the CSV file `path`; returns the path."""
        rows = self.table(metric)
        path = Path(path)
        with open(path, "w", newline="") as f:
            if rows:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        return path

    # -- words ------------------------------------------------------------------------------
    def findings(self, metric: str = "val_accuracy") -> list[str]:
        """Sentences computed from the results: the best config (and its held-out test
        figure), what diverged, and what momentum changed at each learning rate, each effect
        stated only when it exceeds the noise (`NOISE_RULE`)."""
        out = []
        summaries = self.summaries(metric)
        epochs = self.settings.get("epochs")
        try:
            best = self.best(metric)
        except ValueError:
            out.append(f"No run finished with a {metric} to compare.")
            best = None
        if best is not None:
            seeds = len(best.values)
            spread = (f" ± {best.spread:.4f} (spread: the population standard deviation over "
                      f"{seeds} seeds)" if best.measured else
                      " (one seed: no spread measured, so differences below may be noise)")
            out.append(
                f"The best configuration is {best.label(self.params)}: {metric} "
                f"{best.mean:.4f}{spread}"
                + (f" after {epochs} epoch{'s' * (epochs != 1)}." if epochs else ".")
            )
            if best.test:
                name = test_metric(metric)
                mean = statistics.fmean(best.test)
                figure = f"{mean:.4f}" + (f" ± {statistics.pstdev(best.test):.4f}"
                                          if len(best.test) > 1 else "")
                out.append(
                    f"On the held-out test split, never used to choose, it reaches test {name} "
                    f"{figure} over {len(best.test)} run{'s' * (len(best.test) > 1)} "
                    f"(validation {metric} {best.mean:.4f})."
                )
        stopped = [s for s in summaries if s.stopped_epochs]
        if stopped:
            out.append(
                f"Early stopping ended {len(stopped)} configuration"
                f"{'s' * (len(stopped) > 1)} before the last epoch (successive halving, by "
                f"{self.settings.get('prune_metric', metric)}): "
                + "; ".join(f"{s.label(self.params)} at epoch {max(s.stopped_epochs)}"
                            for s in stopped[:6])
                + (f"; and {len(stopped) - 6} more" if len(stopped) > 6 else "") + "."
            )
        diverged = [s for s in summaries if s.n_diverged]
        if not diverged:
            out.append("No run diverged.")
        elif "learning_rate" in self.params and "momentum" in self.params:
            by_lr: dict[float, list[str]] = {}
            for s in diverged:
                epochs_seen = sorted(set(s.diverged_epochs))
                when = f"epoch {', '.join(map(str, epochs_seen))}" if epochs_seen else "?"
                part = f"momentum {format_value(s.config['momentum'])} ({when}"
                part += f", {s.n_diverged} of {len(s.statuses)} seed{'s' * (len(s.statuses) > 1)})"
                by_lr.setdefault(s.config["learning_rate"], []).append(part)
            parts = [
                f"learning_rate={format_value(lr)} at " + " and ".join(v)
                for lr, v in sorted(by_lr.items())
            ]
            out.append("Diverged: " + "; ".join(parts) + ".")
            out.append(self._effective_step_sentence(summaries))
        else:
            out.append(
                "Diverged: " + "; ".join(
                    f"{s.label(self.params)} ({s.n_diverged} of {len(s.statuses)} seeds)"
                    for s in diverged
                ) + "."
            )
        if "learning_rate" in self.params and "momentum" in self.params:
            out.extend(self._momentum_sentences(summaries, metric))
            out.append(self._equal_step_sentence(summaries, metric))
        failed = [s for s in summaries if s.errors]
        if failed:
            out.append(
                "Failed: " + "; ".join(f"{s.label(self.params)}: {s.errors[0]}" for s in failed)
                + "."
            )
        return [s for s in out if s]

    def _effective_step_sentence(self, summaries: list[ConfigSummary]) -> str:
        """Whether divergence is told apart by the effective step lr / (1 - momentum)."""
        steps = []
        for s in summaries:
            m = s.config["momentum"]
            if isinstance(m, (int, float)) and m < 1:
                steps.append((s.config["learning_rate"] / (1 - m), s.n_diverged > 0))
        bad = [e for e, d in steps if d]
        good = [e for e, d in steps if not d]
        if bad and good and min(bad) > max(good):
            return (
                "Divergence follows the effective step size learning_rate / (1 - momentum): "
                f"every configuration with an effective step of {format_value(min(bad))} or "
                f"more diverged, none with {format_value(max(good))} or less."
            )
        return (
            "Momentum multiplies the effective step size by 1 / (1 - momentum) (10x at 0.9): "
            "the dashed lines of the heatmap join cells with equal effective steps."
        )

    def _equal_step_sentence(self, summaries: list[ConfigSummary], metric: str) -> str:
        """Configs with equal effective steps lr / (1 - momentum) but different momentums:
        close or not, decided by the numbers (the noise rule with two seeds or more; with one
        seed, a gap under a tenth of the best-to-worst range)."""
        steps: dict[float, list[ConfigSummary]] = {}
        for s in summaries:
            m = s.config["momentum"]
            if s.values and isinstance(m, (int, float)) and m < 1:
                step = float(f"{s.config['learning_rate'] / (1 - m):.6g}")
                steps.setdefault(step, []).append(s)
        pairs = [(a, b) for group in steps.values() for a in group for b in group
                 if a.config["momentum"] < b.config["momentum"]]
        if not pairs:
            return ""
        scores = [s.mean for s in summaries if s.values]
        width = max(scores) - min(scores)
        measured = all(a.measured and b.measured for a, b in pairs)
        close = [
            (not beyond_noise(a, b)) if measured else abs(a.mean - b.mean) < 0.1 * width
            for a, b in pairs
        ]
        gaps = [abs(a.mean - b.mean) for a, b in pairs]
        a, b = max(pairs, key=lambda p: p[1].config["momentum"] - p[0].config["momentum"])
        rule = ("within the larger seed spread of the pair" if measured else
                "under a tenth of the best-to-worst range (one seed: no spread to compare)")
        n = len(pairs)
        if all(close):
            verdict = (f"Equal effective steps learning_rate / (1 - momentum) give close results "
                       f"in all {n} such pair{'s' * (n > 1)} ({rule})")
        elif not any(close):
            verdict = (f"Equal effective steps learning_rate / (1 - momentum) do not give close "
                       f"results: none of the {n} such pair{'s' * (n > 1)} is {rule}")
        else:
            verdict = (f"Equal effective steps learning_rate / (1 - momentum) give close results "
                       f"in {sum(close)} of {n} such pairs ({rule})")
        return (
            f"{verdict}: {a.label(self.params)} reached {a.mean:.4f} and "
            f"{b.label(self.params)} {b.mean:.4f}; the {metric} differs by "
            f"{statistics.fmean(gaps):.4f} on average, against {width:.4f} between the best "
            "and worst configurations."
        )

    def _momentum_sentences(self, summaries: list[ConfigSummary], metric: str) -> list[str]:
        by_lr: dict[float, list[ConfigSummary]] = {}
        for s in summaries:
            by_lr.setdefault(s.config["learning_rate"], []).append(s)
        out = []
        for lr, group in sorted(by_lr.items()):
            group.sort(key=lambda s: s.config["momentum"])
            base, rest = group[0], group[1:]
            if not rest:
                continue
            m0 = format_value(base.config["momentum"])
            parts = []
            for s in rest:
                m = format_value(s.config["momentum"])
                if s.all_diverged and not base.all_diverged:
                    parts.append(f"momentum {m} made it diverge")
                elif s.values and base.values:
                    noise = beyond_noise(s, base)
                    if noise is False or f"{s.mean:.4f}" == f"{base.mean:.4f}":
                        parts.append(
                            f"momentum {m} left {metric} within noise ({base.figure()} and "
                            f"{s.figure()})"
                        )
                    else:
                        verb = "raised" if s.mean > base.mean else "lowered"
                        caveat = "" if noise else " (one seed: may be noise)"
                        parts.append(
                            f"momentum {m} {verb} {metric} from {base.figure()} to "
                            f"{s.figure()}{caveat}"
                        )
                elif s.values and not base.values:
                    parts.append(f"momentum {m} reached {s.mean:.4f} where momentum {m0} did not")
            if parts:
                out.append(
                    f"At learning_rate={format_value(lr)} (against momentum {m0}): "
                    + "; ".join(parts) + "."
                )
        return out

    # -- pictures ---------------------------------------------------------------------------
    def heatmap(self, path: str | Path, metric: str = "val_accuracy", **kw: Any) -> Path:
        """Draw `metric` over the swept parameters into `path` (`report.heatmap`)."""
        from .report import heatmap

        return heatmap(self, path, metric=metric, **kw)

    def curves(self, path: str | Path, **kw: Any) -> Path:
        """Draw the runs' learning curves into `path` (`report.curves`)."""
        from .report import curves

        return curves(self, path, **kw)

    def report(self, path: str | Path | None = None, metric: str = "val_accuracy") -> Path:
        """``report.html`` (default: in the sweep's folder) with the heatmap and curves
        beside it as PNG files."""
        from .report import write_report

        return write_report(self, Path(path) if path else self.out / "report.html", metric)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        return f"<SweepResult {self.out}: {len(self.runs)} runs ({counts})>"
