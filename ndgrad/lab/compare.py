"""Sweeps side by side: ``ndgrad lab compare OUT1 OUT2 [...] --out DIR``.

Each sweep is summed up by its best configuration (by the mean over seeds of the final
`metric`, as its own report ranks it): that mean, its spread (the population standard deviation
over seeds) and, when the sweep measured one, the held-out test figure. Their learning curves
are drawn on shared axes, and a sentence computed from the numbers says which sweep is better
and whether the difference exceeds the noise, by the rule of `noise_verdict`.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .metric import lower_is_better
from .report import _band, _img, _literal_text, _pyplot, _save, sig4
from .results import ConfigSummary, SweepResult, beyond_noise

#: the rule that decides whether a difference exceeds the noise, as the report states it
NOISE_RULE = (
    "A difference counts as more than noise when the difference of the two means exceeds the "
    "larger of the two spreads (the population standard deviation of the final value over "
    "seeds). With one seed on either side no spread was measured, and no such claim is made."
)


@dataclass
class Entry:
    """One sweep of the comparison: its name, its result and its best configuration."""

    name: str
    result: SweepResult
    best: ConfigSummary
    test: tuple[float, float, int] | None  # held-out (mean, spread, seeds), when measured

    @property
    def seeds(self) -> int:
        return len(self.best.values)


def heldout(
    result: SweepResult, metric: str = "val_accuracy"
) -> tuple[float, float, int] | None:
    """The held-out test figure of `result`'s best configuration by `metric`: (mean, spread,
    runs), or None when the sweep measured none (no test split, or an older store).

    Read through `SweepResult.test`, which gives the best configuration's summary with its
    runs' held-out values in ``.test``; the spread is their population standard deviation
    (0 for one run).
    """
    summary = result.test(metric)
    values = [v for v in (summary.test if summary else []) if math.isfinite(v)]
    if not values:
        return None
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread, len(values)


def _names(outs: Sequence[Path]) -> list[str]:
    """Folder names, or whole paths when two folders share a name."""
    names = [p.name or str(p) for p in outs]
    if len(set(names)) < len(names):
        return [str(p) for p in outs]
    return names


def load(outs: Sequence[str | Path], metric: str = "val_accuracy") -> list[Entry]:
    """Each sweep in `outs` with its best configuration by `metric` (ValueError naming the
    folder when one has no run with that metric)."""
    paths = [Path(p) for p in outs]
    entries = []
    for name, path in zip(_names(paths), paths):
        result = SweepResult.load(path)
        result.check_metric(metric)
        try:
            best = result.best(metric)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
        entries.append(Entry(name, result, best, heldout(result, metric)))
    return entries


def ranked(entries: Sequence[Entry], metric: str) -> list[Entry]:
    """Best sweep first, by its best configuration's mean `metric`."""
    sign = 1.0 if lower_is_better(metric) else -1.0
    return sorted(entries, key=lambda e: sign * e.best.mean)


def noise_verdict(a: ConfigSummary, b: ConfigSummary) -> tuple[bool | None, float, float]:
    """(whether |mean a - mean b| exceeds the larger spread, the difference, that spread);
    None instead of a verdict when either side has one seed (no spread measured)."""
    exceeds = beyond_noise(a, b)  # the rule lives in results.py
    noise = math.nan if exceeds is None else max(a.spread, b.spread)
    return exceeds, abs(a.mean - b.mean), noise


def sentences(entries: Sequence[Entry], metric: str) -> list[str]:
    """Which sweep is better, against each other one, and whether it exceeds the noise."""
    order = ranked(entries, metric)
    top = order[0]
    out = []
    for other in order[1:]:
        exceeds, diff, noise = noise_verdict(top.best, other.best)
        figures = (f"{metric} {sig4(top.best.mean)} ({_seeds(top)}) against "
                   f"{sig4(other.best.mean)} ({_seeds(other)})")
        if exceeds is None:
            out.append(
                f"{top.name} scored better than {other.name}: {figures}; with one seed no "
                f"spread was measured, so whether the difference of {sig4(diff)} exceeds the "
                "noise is unknown."
            )
        elif exceeds:
            out.append(
                f"{top.name} is better than {other.name}: {figures}; the difference of "
                f"{sig4(diff)} exceeds the larger spread, {sig4(noise)}."
            )
        elif diff == 0:
            out.append(f"{top.name} and {other.name} tie: {figures}.")
        else:
            out.append(
                f"{top.name} and {other.name} are within noise of each other: {figures}; the "
                f"difference of {sig4(diff)} does not exceed the larger spread, {sig4(noise)}."
            )
    return out


def _seeds(entry: Entry) -> str:
    n = entry.seeds
    if n < 2:
        return "one seed"
    return f"± {sig4(entry.best.spread)} over {n} seeds"


@_literal_text
def curves(
    entries: Sequence[Entry], path: str | Path,
    metrics: Sequence[str] = ("loss", "val_loss", "accuracy", "val_accuracy"),
) -> Path:
    """Each sweep's best configuration per epoch, on shared axes: a row per metric
    (training solid, validation dashed), a colour per sweep, a band from the lowest to the
    highest seed."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    known = set().union(*(e.result.metric_names() for e in entries))
    rows: dict[str, list[str]] = {}
    for m in metrics:
        if m in known:
            rows.setdefault(m.removeprefix("val_"), []).append(m)
    if not rows:
        raise ValueError(f"compare: no sweep stored any of {', '.join(metrics)}")
    fig, axes = plt.subplots(len(rows), 1, figsize=(7.5, 2.6 * len(rows) + 0.4), squeeze=False,
                             sharex=True, layout="constrained")
    cmap = plt.get_cmap("tab10")
    for row, names in enumerate(rows.values()):
        ax = axes[row][0]
        for k, entry in enumerate(entries):
            runs = [r for r in entry.result.runs if r["config"] == entry.best.config]
            for metric in names:
                with_metric = [r for r in runs if r["history"].get(metric)]
                if not with_metric:
                    continue
                epochs, mean, low, high = _band(with_metric, metric)
                ax.plot(epochs, mean, color=cmap(k % 10), marker="o", markersize=2.5,
                        linestyle="--" if metric.startswith("val_") else "-", linewidth=1.3)
                ax.fill_between(epochs, low, high, color=cmap(k % 10), alpha=0.15, linewidth=0)
        ax.set_ylabel(" and ".join(names))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1][0].set_xlabel("epoch")
    axes[0][0].set_title("each sweep's best configuration", fontsize=10)
    handles = [Line2D([], [], color=cmap(k % 10), label=f"{e.name}: {e.best.label()}")
               for k, e in enumerate(entries)]
    handles += [Line2D([], [], color="0.3", linestyle="-", label="training"),
                Line2D([], [], color="0.3", linestyle="--", label="validation")]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False,
               ncols=1)
    return _save(fig, path, plt)


def write_compare(
    outs: Sequence[str | Path], out: str | Path, metric: str = "val_accuracy"
) -> tuple[Path, list[str]]:
    """Write ``compare.html`` and ``compare-curves.png`` in folder `out`; returns the page's
    path and the sentences it gives."""
    entries = load(outs, metric)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curve_metrics = ["loss", "val_loss", "accuracy", "val_accuracy"]
    for m in (metric.removeprefix("val_"), "val_" + metric.removeprefix("val_")):
        if m not in curve_metrics:
            curve_metrics.append(m)
    picture = curves(entries, out / "compare-curves.png", metrics=curve_metrics)
    said = sentences(entries, metric)
    any_test = any(e.test for e in entries)
    head = ["rank", "sweep", "folder", "optimizer", "best configuration", metric, "spread",
            "seeds"] + (["held-out test (mean ± spread)"] if any_test else []) + ["runs"]
    rows = []
    for i, e in enumerate(ranked(entries, metric), 1):
        cells = [str(i), e.name, str(e.result.out), str(e.result.settings.get("optimizer", "")),
                 e.best.label(), sig4(e.best.mean),
                 sig4(e.best.spread) if e.seeds > 1 else "not measured (one seed)",
                 str(e.seeds)]
        if any_test:
            cells.append("not measured" if e.test is None else
                         f"{sig4(e.test[0])} ± {sig4(e.test[1])} ({e.test[2]} runs)"
                         if e.test[2] > 1 else f"{sig4(e.test[0])} (one run)")
        cells.append(str(len(e.result.runs)))
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    table = ("<table id=\"sweeps\"><thead><tr>"
             + "".join(f"<th>{html.escape(h)}</th>" for h in head)
             + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    verdicts = "".join(f"<li>{html.escape(s)}</li>" for s in said)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ndgrad lab: comparison</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
img {{ max-width: 100%; }} .small {{ color: #666; font-size: 0.9em; }}
</style></head><body>
<h1>ndgrad lab: {len(entries)} sweeps compared on {html.escape(metric)}</h1>
<p class="small">Each sweep is represented by its best configuration: the
{"lowest" if lower_is_better(metric) else "highest"} mean final {html.escape(metric)} over seeds.
Numbers are given to 4 significant digits.</p>
<h2>Which is better</h2>
<ul id="verdicts">{verdicts}</ul>
<p id="rule">{html.escape(NOISE_RULE)}</p>
<h2>The sweeps, best first</h2>
{table}
<h2>Learning curves of each best configuration</h2>
{_img(picture, "learning curves of each sweep's best configuration on shared axes")}
</body></html>
"""
    path = out / "compare.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path, said
