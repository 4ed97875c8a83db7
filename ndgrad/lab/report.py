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
import functools
import html
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .grid import format_value
from .metric import lower_is_better

if TYPE_CHECKING:
    from matplotlib.artist import Artist

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


def _literal_text(draw: Callable[..., Path]) -> Callable[..., Path]:
    """Draw with every text shown as written: a `$` in a parameter's name or value is a
    dollar sign, not the start of matplotlib's math notation."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Path:
        _pyplot()
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return draw(*args, **kwargs)

    return wrapper


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


def sig4(value: float) -> str:
    """`value` to 4 significant digits, as the report writes every measured number
    (0.9744, 0.08230, 1235, 1.235e-05)."""
    if not math.isfinite(value):
        return str(value)
    text = f"{value:#.4g}"
    return text[:-1] if text.endswith(".") else text


def n_seeds(result: SweepResult) -> int:
    """The most seeds any config ran with."""
    counts: dict[str, int] = {}
    for run in result.runs:
        key = repr(sorted(run["config"].items()))
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0)


def colour_range(scores: Sequence[float]) -> tuple[float, float, bool, bool]:
    """The colour scale of the heatmap: the scores' range clipped at Tukey's fences
    (first quartile - 1.5 x interquartile range, third quartile + 1.5 x IQR) when there are
    at least 4 scores; and whether some score lies below / above it."""
    lo, hi = min(scores), max(scores)
    if len(scores) >= 4:
        q1, _, q3 = statistics.quantiles(scores, n=4, method="inclusive")
        lo, hi = max(lo, q1 - 1.5 * (q3 - q1)), min(hi, q3 + 1.5 * (q3 - q1))
    if hi <= lo:
        lo, hi = lo - 1e-9, hi + 1e-9
    return lo, hi, min(scores) < lo, max(scores) > hi


@_literal_text
def heatmap(
    result: SweepResult,
    path: str | Path,
    metric: str = "val_accuracy",
    x: str | None = None,
    y: str | None = None,
) -> Path:
    """Write the heatmap of the final `metric` over parameters `x` and `y` to `path`."""
    plt = _pyplot()
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    x, y = _axes(result, x, y)
    xs, ys = _values(result, x), _values(result, y)
    summaries = {
        (s.config.get(x), s.config.get(y) if y else None): s for s in result.summaries(metric)
    }
    scores = [s.mean for s in summaries.values() if s.values]
    lo, hi, below, above = colour_range(scores) if scores else (0.0, 1.0, False, False)
    norm = Normalize(vmin=lo, vmax=hi, clip=True)
    cmap = plt.get_cmap("viridis")
    several = n_seeds(result) > 1
    fig, ax = plt.subplots(figsize=(max(1.35 * len(xs) + 3.2, 6.0), 1.0 * len(ys) + 2.6),
                           layout="constrained")
    try:
        best = result.best(metric)
    except ValueError:
        best = None
    box = {"boxstyle": "round,pad=0.15", "linewidth": 0}
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            s = summaries.get((xv, yv))
            if s is None:
                continue
            if s.values:
                color = cmap(norm(s.mean))
                text = sig4(s.mean) + (f"\n± {sig4(s.spread)}" if several else "")
                if s.mean < lo:
                    text += "\n▼ below scale"
                elif s.mean > hi:
                    text += "\n▲ above scale"
                if s.n_diverged:
                    text += f"\n{s.n_diverged}/{len(s.statuses)} diverged"
            else:
                color = (0.85, 0.85, 0.85, 1.0)
                epochs = sorted(set(s.diverged_epochs))
                stopped = sorted(set(s.stopped_epochs))
                text = (
                    "diverged\nepoch " + ",".join(map(str, epochs))
                    if s.n_diverged
                    else "stopped at\nepoch " + ",".join(map(str, stopped)) if stopped
                    else "failed" if s.errors else "no result"
                )
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=color,
                                   hatch=None if s.values else "//", edgecolor="white"))
            dark = bool(s.values) and norm(s.mean) < 0.6
            # on a box of the cell's own colour, above the lines: no line crosses the text
            ax.text(j, i, text, ha="center", va="center", fontsize=8, zorder=4,
                    color="white" if dark else "black", bbox={**box, "facecolor": color})
            if best is not None and s.config == best.config:
                ax.add_patch(Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False,
                                       edgecolor="red", linewidth=2.5, zorder=5))
    handles: list[Artist] = []  # legend entries: Rectangle, Line2D
    if best is not None:
        handles.append(Rectangle((0, 0), 1, 1, fill=False, edgecolor="red", linewidth=2.5,
                                 label="best configuration"))
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
            ax.plot(px, py, color="white", linestyle=(0, (4, 3)), linewidth=1.2, zorder=3)
        if steps:
            handles.append(Line2D([], [], color="0.35", linestyle=(0, (4, 3)), linewidth=1.2,
                                  label=f"equal effective step {x} / (1 - {y})"))
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [format_value(v) for v in xs])
    ax.set_yticks(range(len(ys)), [format_value(v) for v in ys] if y else [""])
    ax.set_xlabel(x)
    if y:
        ax.set_ylabel(y)
    n_epochs = result.settings.get("epochs")
    how = "mean ± spread over seeds" if several else "one seed: no spread measured"
    after = f" after {n_epochs} epoch{'s' * (n_epochs != 1)}" if n_epochs else ""
    ax.set_title(f"final {metric}{after}\n({how})", fontsize=10)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   fontsize=8, frameon=False)
    label = metric
    if below or above:
        label += (f"\n(colours clipped at Tukey's fences {sig4(lo)} and {sig4(hi)};"
                  "\ncells beyond are marked ▼ / ▲)")
    extend = "both" if below and above else "min" if below else "max" if above else "neither"
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label,
                 extend=extend)
    return _save(fig, path, plt)


#: the curves drawn by default: training and validation loss and accuracy
CURVES = ("loss", "val_loss", "accuracy", "val_accuracy")


def _rows(metrics: Sequence[str], known: Sequence[str]) -> list[list[str]]:
    """`metrics` that some run stored, grouped by row: a metric with its ``val_`` twin."""
    rows: dict[str, list[str]] = {}
    for m in metrics:
        if m in known:
            rows.setdefault(m[4:] if m.startswith("val_") else m, []).append(m)
    return list(rows.values())


@_literal_text
def curves(
    result: SweepResult,
    path: str | Path,
    x: str | None = None,
    y: str | None = None,
    metrics: Sequence[str] = CURVES,
    log: bool = False,
) -> Path:
    """Write learning curves to `path`: a row per metric (training solid, validation dashed,
    on one y range per row; `log` for a log scale), a panel per value of `y` (momentum), a
    line per value of `x` (learning rate) with a band for the range over seeds. The y range
    of a row fits the runs that finished; a diverged run's line leaves it."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    rows = _rows(metrics, result.metric_names())
    if not rows:
        raise ValueError(
            f"curves: no run of {result.out} stored any of {', '.join(metrics)}; "
            f"its runs stored {', '.join(result.metric_names()) or 'nothing yet'}"
        )
    x, y = _axes(result, x, y)
    xs, ys = _values(result, x), _values(result, y)
    fig, axes = plt.subplots(
        len(rows), len(ys), figsize=(3.4 * len(ys) + 2.6, 2.6 * len(rows) + 0.4),
        squeeze=False, sharex=True, sharey="row", layout="constrained",
    )
    cmap = plt.get_cmap("plasma")
    fitted: dict[int, list[float]] = {}
    for col, yv in enumerate(ys):
        for row, names in enumerate(rows):
            ax = axes[row][col]
            for k, xv in enumerate(xs):
                color = cmap(k / max(1, len(xs) - 1) * 0.85)
                for metric in names:
                    runs = [
                        r for r in result.runs
                        if r["config"].get(x) == xv and (y is None or r["config"].get(y) == yv)
                        and r["history"].get(metric)
                    ]
                    if not runs:
                        continue
                    epochs, mean, low, high = _band(runs, metric)
                    dashed = metric.startswith("val_")
                    ax.plot(epochs, mean, marker="o", markersize=2.5, color=color,
                            linestyle="--" if dashed else "-", linewidth=1.3)
                    ax.fill_between(epochs, low, high, color=color, alpha=0.15, linewidth=0)
                    if all(r["status"] == "done" for r in runs):
                        fitted.setdefault(row, []).extend(v for v in low + high)
            if log:
                ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if row == 0:
                ax.set_title(f"{y}={format_value(yv)}" if y else "", fontsize=10)
            if col == 0:
                ax.set_ylabel(" and ".join(names) if len(names) < 3 else names[0])
            if row == len(rows) - 1:
                ax.set_xlabel("epoch")
    for row, values in fitted.items():
        values = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if values:
            lo, hi = min(values), max(values)
            pad = (hi - lo) * 0.06 or abs(hi) * 0.01 or 0.01
            axes[row][0].set_ylim(*((lo / 1.1, hi * 1.1) if log else (lo - pad, hi + pad)))
    handles = []
    for k, xv in enumerate(xs):
        runs = [r for r in result.runs if r["config"].get(x) == xv]
        label = f"{x}={format_value(xv)}"
        if any(r["status"] == "diverged" for r in runs):
            label += " (diverged)"
        stopped = sorted({len(next(iter(r["history"].values()), [])) for r in runs
                          if r["status"] == "stopped" and r["history"]})
        if stopped:
            label += f" (stopped at epoch {','.join(map(str, stopped))})"
        handles.append(Line2D([], [], color=cmap(k / max(1, len(xs) - 1) * 0.85), label=label))
    if any(m.startswith("val_") for names in rows for m in names):
        handles.append(Line2D([], [], color="0.3", linestyle="-", label="training"))
        handles.append(Line2D([], [], color="0.3", linestyle="--", label="validation"))
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    return _save(fig, path, plt)


def _band(runs: list[dict[str, Any]], metric: str) -> tuple[list[int], ...]:
    """Epochs, and per epoch the mean, lowest and highest finite value over `runs`."""
    longest = max(len(r["history"][metric]) for r in runs)
    epochs, mean, low, high = [], [], [], []
    for e in range(longest):
        vals = [r["history"][metric][e] for r in runs
                if e < len(r["history"][metric]) and math.isfinite(r["history"][metric][e])]
        if vals:
            epochs.append(e + 1)
            mean.append(sum(vals) / len(vals))
            low.append(min(vals))
            high.append(max(vals))
    return epochs, mean, low, high


@_literal_text
def parallel(result: SweepResult, path: str | Path, metric: str = "val_accuracy") -> Path:
    """Write a parallel-coordinates picture to `path`: a vertical axis per swept parameter
    and one for the final `metric` (mean over seeds), a line per config coloured by it.
    Parameters whose positive values span 10x or more are on a log axis; text values are
    evenly spaced."""
    plt = _pyplot()
    from matplotlib.colors import Normalize

    params = result.params
    summaries = [s for s in result.summaries(metric) if s.values]
    if not summaries:
        raise ValueError(f"parallel: no finished run of {result.out} reported {metric!r}")
    axes_of: list[tuple[str, Callable[[Any], float], list[tuple[float, str]]]] = []
    for p in params:
        values = _values(result, p)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and len(values) > 1:
            lo, hi = float(min(values)), float(max(values))
            logged = lo > 0 and hi >= 10 * lo
            f = math.log10 if logged else float
            a, b = f(lo), f(hi)

            def place(v: Any, f: Callable[[float], float] = f, a: float = a,
                      b: float = b) -> float:
                return (f(float(v)) - a) / (b - a)

            ticks = [(place(v), format_value(v)) for v in values] if len(values) <= 8 else [
                (0.0, format_value(lo)), (1.0, format_value(hi))]
            axes_of.append((p + (" (log)" if logged else ""), place, ticks))
        else:
            index = {repr(v): i for i, v in enumerate(values)}
            n = max(1, len(values) - 1)

            def place_at(v: Any, index: dict[str, int] = index, n: int = n) -> float:
                return index[repr(v)] / n

            axes_of.append((p, place_at, [(place_at(v), format_value(v)) for v in values]))
    scores = [s.mean for s in summaries]
    lo, hi, _, _ = colour_range(scores)
    m_lo, m_hi = min(scores), max(scores)
    span = (m_hi - m_lo) or 1.0
    norm = Normalize(vmin=lo, vmax=hi, clip=True)
    cmap = plt.get_cmap("viridis")
    n = len(axes_of) + 1
    fig, ax = plt.subplots(figsize=(1.9 * n + 2.2, 4.4), layout="constrained")
    order = sorted(summaries, key=lambda s: s.mean * (-1 if lower_is_better(metric) else 1))
    for s in order:  # the best drawn last, on top
        ys = [place(s.config.get(p)) for p, (_, place, _) in zip(params, axes_of)]
        ys.append((s.mean - m_lo) / span)
        ax.plot(range(n), ys, color=cmap(norm(s.mean)), linewidth=1.4, alpha=0.85)
    for i, (_, _, ticks) in enumerate(axes_of):
        ax.axvline(i, color="0.4", linewidth=0.8)
        for t, text in ticks:
            ax.text(i - 0.04, t, text, ha="right", va="center", fontsize=7)
    ax.axvline(n - 1, color="0.4", linewidth=0.8)
    for t in (0.0, 0.5, 1.0):
        ax.text(n - 1 + 0.04, t, sig4(m_lo + t * span), ha="left", va="center", fontsize=7)
    ax.set_xticks(range(n), [name for name, _, _ in axes_of] + [f"final {metric}"], fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.45, n - 0.55)
    ax.set_ylim(-0.06, 1.06)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"every configuration: its parameters and final {metric} (mean over seeds)",
                 fontsize=10)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
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


def _cell(value: Any, measured: bool) -> str:
    """A table cell: measured numbers to 4 significant digits, parameters and counts as the
    lab writes them; escaped."""
    if measured and isinstance(value, float):
        return html.escape(sig4(value))
    return html.escape(format_value(value) if value != "" else "")


def _table(rows: Sequence[dict[str, Any]], table_id: str, params: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0]) if rows else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v, k not in params)}</td>" for k, v in row.items())
        + "</tr>"
        for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def run_seconds(run: dict[str, Any]) -> float | None:
    """A run's wall time from its stored start and end, or None while it has neither."""
    if run.get("started") is None or run.get("ended") is None:
        return None
    return max(0.0, float(run["ended"]) - float(run["started"]))


def ranking_rows(result: SweepResult, metric: str) -> list[dict[str, Any]]:
    """`result.table(metric)` with each config's mean wall time per run; the spread column
    left out when no config ran with more than one seed (no spread was measured)."""
    times: dict[str, list[float]] = {}
    for run in result.runs:
        t = run_seconds(run)
        if t is not None:
            times.setdefault(repr(sorted(run["config"].items())), []).append(t)
    several = n_seeds(result) > 1
    rows = []
    for row, s in zip(result.table(metric), result.rank(metric)):
        row = dict(row)
        if s.values:  # the exact figures, not the table's rounding: the page gives 4 digits
            row[metric] = s.mean
            row["spread"] = s.spread
        if not several:
            del row["spread"]
        seconds = times.get(repr(sorted(s.config.items())))
        row["seconds per run"] = statistics.fmean(seconds) if seconds else ""
        rows.append(row)
    return rows


def epoch_rows(result: SweepResult) -> list[dict[str, Any]]:
    """One row per config and epoch: each stored metric's mean over the seeds that reached
    that epoch with a finite value."""
    names = [n for n in result.metric_names() if n != "seconds"] + (
        ["seconds"] if "seconds" in result.metric_names() else [])
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in result.runs:
        groups.setdefault(repr(sorted(run["config"].items())), []).append(run)
    rows = []
    for runs in groups.values():
        longest = max((len(h) for r in runs for h in r["history"].values()), default=0)
        for e in range(longest):
            row: dict[str, Any] = {p: runs[0]["config"].get(p) for p in result.params}
            row["epoch"] = e + 1
            for name in names:
                vals = [r["history"][name][e] for r in runs if e < len(r["history"].get(name, []))
                        and math.isfinite(r["history"][name][e])]
                row[name] = statistics.fmean(vals) if vals else ""
            rows.append(row)
    return rows


def spread_note(result: SweepResult) -> str:
    """What "spread" means in this report, or that none was measured."""
    seeds = n_seeds(result)
    if seeds > 1:
        return (
            f"Spread: the population standard deviation of a configuration's final value over "
            f"its seeds (up to {seeds} here): how much the seed alone moves a result. The "
            "heatmap's cells give mean ± spread; the bands of the learning curves run from the "
            "lowest to the highest value over seeds."
        )
    return ("Each configuration ran with one seed, so no spread was measured: a difference "
            "between two configurations may be the seed's doing (run with --seeds 3 to see).")


def time_note(result: SweepResult) -> str:
    times = [t for t in map(run_seconds, result.runs) if t is not None]
    if not times:
        return "No run has ended yet."
    return (f"Time per run: median {sig4(statistics.median(times))} s, "
            f"{sig4(min(times))} s to {sig4(max(times))} s; "
            f"{sig4(sum(times))} s of runs in all.")


def write_report(result: SweepResult, path: Path, metric: str = "val_accuracy") -> Path:
    """The self-contained report: findings, heatmap, curves (and the parallel coordinates
    for more than two parameters), the ranked table and the per-epoch table."""
    result.check_metric(metric)
    path.parent.mkdir(parents=True, exist_ok=True)
    heat = heatmap(result, path.with_name("heatmap.png"), metric=metric)
    shown = list(CURVES) + ([m for m in (metric[4:] if metric.startswith("val_") else metric,
                                         "val_" + metric.removeprefix("val_"))
                             if m not in CURVES])
    curve = curves(result, path.with_name("curves.png"), metrics=shown)
    pictures = [
        (f"Final {metric}", heat, f"heatmap of the final {metric}"),
        ("Learning curves", curve, "training and validation metrics per epoch"),
    ]
    if len(result.params) > 2:
        par = parallel(result, path.with_name("parallel.png"), metric=metric)
        pictures.append(("Every parameter at once", par,
                         f"parallel coordinates of the swept parameters and {metric}"))
    settings = ", ".join(
        f"{html.escape(str(k))}={html.escape(str(v))}"
        for k, v in sorted(result.settings.items()) if v is not None
    )
    findings = "".join(f"<li>{html.escape(s)}</li>" for s in result.findings(metric))
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n)
    figures = "".join(f"<h2>{html.escape(title)}</h2>\n{_img(p, alt)}\n"
                      for title, p, alt in pictures)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ndgrad lab report</title>
<style>
body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
img {{ max-width: 100%; }} .small {{ color: #666; font-size: 0.9em; }}
</style></head><body>
<h1>ndgrad lab: {html.escape(result.out.name)}</h1>
<p class="small">{len(result.runs)} runs ({html.escape(counts)}). Settings: {settings}</p>
<p class="small" id="time">{html.escape(time_note(result))}</p>
<p id="spread">{html.escape(spread_note(result))} Numbers are given to 4 significant digits.</p>
<h2>What the lab shows</h2>
<ul id="findings">{findings}</ul>
{figures}<h2>All configurations, best first</h2>
{_table(ranking_rows(result, metric), "ranking", result.params)}
<details id="epochs"><summary>Every epoch (mean over seeds)</summary>
{_table(epoch_rows(result), "per-epoch", result.params)}
</details>
</body></html>
"""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
