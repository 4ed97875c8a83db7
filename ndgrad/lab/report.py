"""The lab's pictures and report (matplotlib, from the `lab` extra).

`heatmap`: the final metric over two swept parameters, one exact cell per config (no
interpolation), the mean over seeds with the spread written in each cell, diverged cells marked
with the epoch they diverged in, the best cell outlined, and for learning rate x momentum the
lines of equal effective step size lr / (1 - momentum). `curves`: validation loss and accuracy
per epoch, one panel per value of the second parameter, one line per value of the first, a
band for the spread over seeds. `write_report`: a self-contained HTML page with both.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .grid import format_value

if TYPE_CHECKING:
    from .results import SweepResult


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "the lab's pictures need matplotlib: pip install 'ndgrad[lab]'"
        ) from e
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _axes(result: SweepResult, x: str | None, y: str | None) -> tuple[str, str | None]:
    params = result.params
    if x is None:
        x = "learning_rate" if "learning_rate" in params else params[0]
    if y is None:
        others = [p for p in params if p != x]
        y = "momentum" if "momentum" in others else (others[0] if others else None)
    return x, y


def _values(result: SweepResult, name: str | None) -> list[Any]:
    if name is None:
        return [None]
    return sorted({r["config"].get(name) for r in result.runs}, key=lambda v: (str(type(v)), v))


def _position(value: float, ticks: Sequence[float], log: bool) -> float:
    """Where `value` falls on an axis whose cells sit at 0, 1, ... for `ticks` (piecewise
    linear between cells, extended past the ends)."""
    f = math.log10 if log else float
    t = [f(v) for v in ticks]
    v = f(value)
    if len(t) == 1:
        return 0.0
    i = 0 if v <= t[0] else len(t) - 2 if v >= t[-1] else max(j for j in range(len(t)) if t[j] <= v)
    i = min(i, len(t) - 2)
    return i + (v - t[i]) / (t[i + 1] - t[i])


def heatmap(
    result: SweepResult,
    path: str | Path,
    metric: str = "val_accuracy",
    x: str | None = None,
    y: str | None = None,
) -> Path:
    """Write the heatmap of the final `metric` over parameters `x` and `y` to `path` (PNG)."""
    plt = _pyplot()
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    x, y = _axes(result, x, y)
    xs, ys = _values(result, x), _values(result, y)
    summaries = {
        (s.config.get(x), s.config.get(y) if y else None): s for s in result.summaries(metric)
    }
    scores = [s.mean for s in summaries.values() if s.values]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    norm = Normalize(vmin=lo - 1e-9, vmax=hi + 1e-9)
    cmap = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(1.3 * len(xs) + 2.5, 0.9 * len(ys) + 1.8))
    try:
        best = result.best(metric)
    except ValueError:
        best = None
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            s = summaries.get((xv, yv))
            if s is None:
                continue
            if s.values:
                color = cmap(norm(s.mean))
                text = f"{s.mean:.4f}\n±{s.spread:.4f}"
                if s.n_diverged:
                    text += f"\n{s.n_diverged}/{len(s.statuses)} diverged"
            else:
                color = (0.85, 0.85, 0.85, 1.0)
                epochs = sorted(set(s.diverged_epochs))
                text = (
                    "diverged\nepoch " + ",".join(map(str, epochs))
                    if s.n_diverged else "failed" if s.errors else "no result"
                )
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=color,
                                   hatch=None if s.values else "//", edgecolor="white"))
            dark = s.values and norm(s.mean) < 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
            if best is not None and s.config == best.config:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False,
                                       edgecolor="red", linewidth=2.5))
    log_x = "learning_rate" in x and all(isinstance(v, float) and v > 0 for v in xs)
    if y == "momentum" and log_x and len(ys) > 1:
        ms = [float(m) for m in ys]
        # through the centres of the cells without momentum and those with the most
        steps = sorted({float(f"{v / (1 - m):.6g}") for v in xs for m in (ms[0], ms[-1])})
        steps = [s for s in steps if min(xs) < s <= max(xs) / (1 - max(ms))]
        grid_m = [ms[0] + (ms[-1] - ms[0]) * k / 50 for k in range(51)]
        for step in steps:
            px = [_position(step * (1 - m), xs, log=True) for m in grid_m]
            py = [_position(m, ms, log=False) for m in grid_m]
            ax.plot(px, py, color="white", linestyle="--", linewidth=1, alpha=0.8)
            if -0.5 <= px[-1] <= len(xs) - 0.5:  # label where the line leaves the top row
                ax.text(px[-1], len(ys) - 0.45, format_value(step), fontsize=7, ha="left",
                        va="bottom", rotation=35, clip_on=False)
        ax.set_xlabel(f"{x}   (dashed: equal effective step {x} / (1 - {y}), labelled on top)")
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [format_value(v) for v in xs])
    ax.set_yticks(range(len(ys)), [format_value(v) for v in ys] if y else [""])
    if not ax.get_xlabel():
        ax.set_xlabel(x)
    if y:
        ax.set_ylabel(y)
    epochs = result.settings.get("epochs")
    ax.set_title(f"final {metric}" + (f" after {epochs} epochs" if epochs else "")
                 + " (mean ± spread over seeds)", fontsize=10, pad=22)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    fig.tight_layout()
    return _save(fig, path, plt)


def curves(
    result: SweepResult,
    path: str | Path,
    x: str | None = None,
    y: str | None = None,
    metrics: Sequence[str] = ("val_loss", "val_accuracy"),
) -> Path:
    """Write learning curves to `path` (PNG): a row per metric, a panel per value of `y`
    (momentum), a line per value of `x` (learning rate) with a band over seeds."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    x, y = _axes(result, x, y)
    xs, ys = _values(result, x), _values(result, y)
    fig, axes = plt.subplots(
        len(metrics), len(ys), figsize=(3.6 * len(ys) + 1.5, 2.8 * len(metrics)),
        squeeze=False, sharex=True,
    )
    cmap = plt.get_cmap("plasma")
    for col, yv in enumerate(ys):
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            for k, xv in enumerate(xs):
                runs = [
                    r for r in result.runs
                    if r["config"].get(x) == xv and (y is None or r["config"].get(y) == yv)
                    and r["history"].get(metric)
                ]
                if not runs:
                    continue
                longest = max(len(r["history"][metric]) for r in runs)
                epochs, mean, low, high = [], [], [], []
                for e in range(longest):
                    vals = [r["history"][metric][e] for r in runs
                            if e < len(r["history"][metric])
                            and math.isfinite(r["history"][metric][e])]
                    if vals:
                        epochs.append(e + 1)
                        mean.append(sum(vals) / len(vals))
                        low.append(min(vals))
                        high.append(max(vals))
                color = cmap(k / max(1, len(xs) - 1) * 0.9)
                label = f"{x}={format_value(xv)}"
                if any(r["status"] == "diverged" for r in runs):
                    label += " (diverged)"
                ax.plot(epochs, mean, marker="o", markersize=3, color=color, label=label)
                ax.fill_between(epochs, low, high, color=color, alpha=0.2, linewidth=0)
            lows = [v for line in ax.get_lines() for v in line.get_ydata() if v > 0]
            if "loss" in metric and lows and max(lows) > 10 * min(lows):
                ax.set_yscale("log")  # diverging and converging runs on one panel
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if row == 0:
                ax.set_title(f"{y}={format_value(yv)}" if y else "", fontsize=10)
            if col == 0:
                ax.set_ylabel(metric)
            if row == len(metrics) - 1:
                ax.set_xlabel("epoch")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.86 if handles else 1, 1))
    return _save(fig, path, plt)


def _save(fig: Any, path: str | Path, plt: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # no date or version in the file: the same results give the same bytes
    metadata = {"Software": None} if path.suffix == ".png" else {"Date": None}
    fig.savefig(path, dpi=110, metadata=metadata)
    plt.close(fig)
    return path


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(result: SweepResult, path: Path, metric: str = "val_accuracy") -> Path:
    """The self-contained report: findings, heatmap, curves and the ranked table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    heat = heatmap(result, path.with_name("heatmap.png"), metric=metric)
    curve = curves(result, path.with_name("curves.png"))
    rows = result.table(metric)
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0]) if rows else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row.values())
        + "</tr>"
        for row in rows
    )
    settings = ", ".join(
        f"{k}={html.escape(str(v))}" for k, v in sorted(result.settings.items()) if v is not None
    )
    findings = "".join(f"<li>{html.escape(s)}</li>" for s in result.findings(metric))
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ndgrad lab report</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
img {{ max-width: 100%; }} .small {{ color: #666; font-size: 0.9em; }}
</style></head><body>
<h1>ndgrad lab: {html.escape(result.out.name)}</h1>
<p class="small">{len(result.runs)} runs ({html.escape(counts)}). Settings: {settings}</p>
<h2>What the lab shows</h2>
<ul id="findings">{findings}</ul>
<h2>Final {html.escape(metric)}</h2>
{_img(heat, "heatmap of the final " + metric)}
<h2>Learning curves</h2>
{_img(curve, "validation loss and accuracy per epoch")}
<h2>All configurations, best first</h2>
<table id="ranking"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
</body></html>
"""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
