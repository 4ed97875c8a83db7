"""`SweepResult`: a finished (or running) sweep read back from its store, ranked and explained.

Runs are grouped by config; each group's score is the mean over its seeds of a metric at the
last epoch (``val_accuracy`` by default), with the spread. Runs that diverged or failed have
no score and rank last.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import store as _store
from .grid import format_value


def lower_is_better(metric: str) -> bool:
    return "loss" in metric or "error" in metric


@dataclass
class ConfigSummary:
    """One config over its seeds: the final `metric` of each finished run, and the rest."""

    config: dict[str, Any]
    seeds: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    diverged_epochs: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def spread(self) -> float:
        """The standard deviation over seeds (0 for one seed, NaN for none)."""
        if not self.values:
            return math.nan
        return statistics.pstdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def n_diverged(self) -> int:
        return self.statuses.count(_store.DIVERGED)

    @property
    def all_diverged(self) -> bool:
        return bool(self.statuses) and self.n_diverged == len(self.statuses)

    def label(self, params: list[str] | None = None) -> str:
        keys = params if params else list(self.config)
        return ", ".join(f"{k}={format_value(self.config[k])}" for k in keys)


class SweepResult:
    """The runs of the sweep stored in folder `out`; see `load`."""

    def __init__(self, out: Path, settings: dict[str, Any], runs: list[dict[str, Any]]) -> None:
        self.out, self.settings, self.runs = out, settings, runs

    @classmethod
    def load(cls, out: str | Path) -> SweepResult:
        """Read the sweep in `out` (safe while it still runs: SQLite in WAL mode)."""
        from .sweep import DB_NAME

        out = Path(out)
        with _store.Store(out / DB_NAME, readonly=True) as db:
            settings = db.settings() or {}
            runs = db.runs()
            metrics = db.metrics()
        for run in runs:
            epochs = metrics.get(run["cell"], {})
            run["history"] = {
                name: [epochs[e].get(name, math.nan) for e in sorted(epochs)]
                for name in sorted({n for values in epochs.values() for n in values})
            }
            run["final"] = dict(epochs[max(epochs)]) if epochs else {}
        return cls(out, settings, runs)

    # -- grouping ---------------------------------------------------------------------------
    @property
    def params(self) -> list[str]:
        """The swept parameters: those with more than one value, in config order."""
        names = list(dict.fromkeys(k for r in self.runs for k in r["config"]))
        varied = [n for n in names if len({repr(r["config"].get(n)) for r in self.runs}) > 1]
        return varied or names

    def counts(self) -> dict[str, int]:
        order = (_store.DONE, _store.DIVERGED, _store.FAILED, _store.RUNNING, _store.QUEUED)
        return {s: sum(r["status"] == s for r in self.runs) for s in order}

    def summaries(self, metric: str = "val_accuracy") -> list[ConfigSummary]:
        """One summary per config, in the order the configs were first stored."""
        groups: dict[str, ConfigSummary] = {}
        for run in self.runs:
            key = repr(sorted(run["config"].items()))
            s = groups.setdefault(key, ConfigSummary(run["config"]))
            s.seeds.append(run["seed"])
            s.statuses.append(run["status"])
            if run["status"] == _store.DONE and metric in run["final"]:
                s.values.append(run["final"][metric])
            if run["status"] == _store.DIVERGED and run["diverged_epoch"] is not None:
                s.diverged_epochs.append(run["diverged_epoch"])
            if run["status"] == _store.FAILED and run["error"]:
                s.errors.append(run["error"].strip().splitlines()[-1])
        return list(groups.values())

    def rank(self, metric: str = "val_accuracy") -> list[ConfigSummary]:
        """Configs best first by their mean `metric`; configs without a score last."""
        sign = 1.0 if lower_is_better(metric) else -1.0
        scored = [s for s in self.summaries(metric) if s.values]
        unscored = [s for s in self.summaries(metric) if not s.values]
        return sorted(scored, key=lambda s: sign * s.mean) + unscored

    def best(self, metric: str = "val_accuracy") -> ConfigSummary:
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
            row[metric] = round(s.mean, 6) if s.values else ""
            row["spread"] = round(s.spread, 6) if s.values else ""
            row["runs"] = len(s.statuses)
            row["diverged"] = s.n_diverged
            row["failed"] = s.statuses.count(_store.FAILED)
            row["diverged_in_epoch"] = ",".join(map(str, sorted(set(s.diverged_epochs))))
            rows.append(row)
        return rows

    def to_csv(self, path: str | Path, metric: str = "val_accuracy") -> Path:
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
        """A few sentences computed from the results: the best config, what diverged, and
        what momentum changed at each learning rate."""
        out = []
        summaries = self.summaries(metric)
        epochs = self.settings.get("epochs")
        try:
            best = self.best(metric)
        except ValueError:
            out.append(f"No run finished with a {metric} to compare.")
        else:
            seeds = len(best.values)
            out.append(
                f"The best configuration is {best.label(self.params)}: {metric} "
                f"{best.mean:.4f} (± {best.spread:.4f} over {seeds} seed{'s' * (seeds > 1)})"
                + (f" after {epochs} epoch{'s' * (epochs != 1)}." if epochs else ".")
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
            if m < 1:
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
        how close their scores are, against the spread of all scores."""
        steps: dict[float, list[ConfigSummary]] = {}
        for s in summaries:
            m = s.config["momentum"]
            if s.values and m < 1:
                step = float(f"{s.config['learning_rate'] / (1 - m):.6g}")
                steps.setdefault(step, []).append(s)
        pairs = [(a, b) for group in steps.values() for a in group for b in group
                 if a.config["momentum"] < b.config["momentum"]]
        if not pairs:
            return ""
        gaps = [abs(a.mean - b.mean) for a, b in pairs]
        scores = [s.mean for s in summaries if s.values]
        a, b = max(pairs, key=lambda p: p[1].config["momentum"] - p[0].config["momentum"])
        return (
            f"Equal effective steps learning_rate / (1 - momentum) give close results: "
            f"{a.label(self.params)} reached {a.mean:.4f} and {b.label(self.params)} "
            f"{b.mean:.4f}; across the {len(pairs)} such pair{'s' * (len(pairs) > 1)} the "
            f"{metric} differs by {statistics.fmean(gaps):.4f} on average, against "
            f"{max(scores) - min(scores):.4f} between the best and worst configurations."
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
                    if f"{s.mean:.4f}" == f"{base.mean:.4f}":
                        parts.append(f"momentum {m} left {metric} at {s.mean:.4f}")
                    else:
                        verb = "raised" if s.mean > base.mean else "lowered"
                        parts.append(
                            f"momentum {m} {verb} {metric} from {base.mean:.4f} to {s.mean:.4f}"
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
        from .report import heatmap

        return heatmap(self, path, metric=metric, **kw)

    def curves(self, path: str | Path, **kw: Any) -> Path:
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
