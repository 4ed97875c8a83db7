"""The lab's pictures and report: the colour scale resolves the informative range, no text
overlaps another or is cut, equal-step lines are a legend entry and pass under the cell
labels, curves share one y range per row, parallel coordinates for more than two parameters,
and the report's tables (4 significant digits, spread defined, time per run, every epoch)."""

from __future__ import annotations

import copy
import itertools
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ndgrad.lab import InlineExecutor, MnistBuild, SweepResult, sweep

from .conftest import small_data

pytest.importorskip("matplotlib", reason="matplotlib is in the lab extra")
import matplotlib.figure  # noqa: E402
import matplotlib.text  # noqa: E402

from ndgrad.lab import report  # noqa: E402

#: 18 configs x 3 seeds of RMSprop on full MNIST, stored with the docs (see README)
STORED = Path(__file__).resolve().parents[2] / "docs" / "figures" / "lab-rmsprop"


@pytest.fixture(scope="module")
def stored() -> SweepResult:
    return SweepResult.load(STORED)


def _columns(result: SweepResult, lrs) -> SweepResult:
    sub = copy.copy(result)
    sub.runs = [r for r in result.runs if r["config"]["learning_rate"] in lrs]
    return sub


def _drawn(draw, *args, **kwargs):
    """The figure `draw` saves, caught as it is saved (drawn, so texts have their places)."""
    caught = []
    real = matplotlib.figure.Figure.savefig

    def spy(fig, *a, **kw):
        caught.append(fig)
        return real(fig, *a, **kw)

    matplotlib.figure.Figure.savefig = spy
    try:
        draw(*args, **kwargs)
    finally:
        matplotlib.figure.Figure.savefig = real
    (fig,) = caught
    return fig


def _texts(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # pyplot closed the figure: draw it again, off screen
    canvas.draw()
    renderer = canvas.get_renderer()
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_visible() and t.get_text().strip():
            out.append((t, t.get_window_extent(renderer)))
    return out


LRS = {2: (1e-3, 1e-2), 3: (1e-4, 1e-3, 1e-2), 6: (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)}


def _eight_columns(result: SweepResult) -> SweepResult:
    """The stored six columns and two more: the last column's runs again at 0.1 and 0.3."""
    wide = copy.copy(result)
    wide.runs = list(result.runs)
    for lr in (0.1, 0.3):
        for run in result.runs:
            if run["config"]["learning_rate"] == 3e-2:
                wide.runs.append({**run, "config": {**run["config"], "learning_rate": lr}})
    return wide


@pytest.mark.parametrize("columns", [2, 3, 6, 8])
def test_heatmap_texts_never_overlap_nor_leave_the_figure(stored, tmp_path, columns):
    result = _eight_columns(stored) if columns == 8 else _columns(stored, LRS[columns])
    fig = _drawn(report.heatmap, result, tmp_path / "h.png")
    texts = _texts(fig)
    page = fig.bbox
    for t, box in texts:  # nothing cut: "ng_rate" was all a 3-column heatmap showed
        assert page.x0 <= box.x0 and box.x1 <= page.x1 + 0.5, t.get_text()
        assert page.y0 <= box.y0 and box.y1 <= page.y1 + 0.5, t.get_text()
    for (a, ba), (b, bb) in itertools.combinations(texts, 2):
        assert not ba.overlaps(bb), (a.get_text(), b.get_text())
    ax = fig.axes[0]
    assert ax.get_xlabel() == "learning_rate"  # one axis: the steps are a legend entry
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "best configuration", "equal effective step learning_rate / (1 - momentum)"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() != "-"]
    assert dashed
    cells = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert len(cells) == 3 * columns
    for t in cells:  # the labels sit on opaque boxes above the lines
        assert t.get_zorder() > max(line.get_zorder() for line in dashed)
        assert t.get_bbox_patch().get_alpha() in (None, 1.0)


def test_the_colour_scale_is_clipped_at_tukeys_fences_and_outliers_are_marked(stored, tmp_path):
    scores = [s.mean for s in stored.summaries()]
    lo, hi, below, above = report.colour_range(scores)
    assert below and not above and hi == max(scores)
    outliers = sorted(v for v in scores if v < lo)
    assert 1 <= len(outliers) <= 3 and outliers == sorted(scores)[:len(outliers)]
    # the cells inside the fences now share the scale the lowest one took to itself
    assert (hi - lo) < (max(scores) - min(scores)) / 3
    fig = _drawn(report.heatmap, stored, tmp_path / "h.png")
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert sum("▼ below scale" in c for c in cells) == len(outliers)
    worst = min(stored.summaries(), key=lambda s: s.mean)
    assert f"{report.sig4(worst.mean)}\n± {report.sig4(worst.spread)}\n▼ below scale" in cells
    label = fig.axes[1].get_ylabel()
    assert f"Tukey's fences {report.sig4(lo)} and {report.sig4(hi)}" in label
    assert report.colour_range([0.1, 0.2, 0.3]) == (0.1, 0.3, False, False)  # too few to clip


def test_one_seed_shows_and_claims_no_spread(stored, tmp_path):
    one = copy.copy(stored)
    one.runs = [r for r in stored.runs if r["seed"] == 0]
    fig = _drawn(report.heatmap, one, tmp_path / "h.png")
    assert "one seed: no spread measured" in fig.axes[0].get_title()
    assert not any("±" in t.get_text() for t in fig.axes[0].texts)
    page = one.report(tmp_path / "r" / "report.html").read_text()
    assert "no spread was measured" in page and "<th>spread</th>" not in page
    assert "± 0.0000" not in page.split('<ul id="findings">')[0]


def test_curves_one_y_range_per_row_linear_training_and_validation(stored, tmp_path):
    fig = _drawn(report.curves, stored, tmp_path / "c.png")
    axes = [ax for ax in fig.axes]
    assert len(axes) == 6  # loss row, accuracy row; a panel per momentum
    rows = [axes[0:3], axes[3:6]] if axes[1].get_ylabel() == "" else None
    rows = rows or [[axes[0], axes[2], axes[4]], [axes[1], axes[3], axes[5]]]
    for row in rows:
        assert len({ax.get_ylim() for ax in row}) == 1
        assert all(ax.get_yscale() == "linear" for ax in row)
    assert rows[0][0].get_ylim() != rows[1][0].get_ylim()
    assert rows[0][0].get_ylabel() == "loss and val_loss"
    assert rows[1][0].get_ylabel() == "accuracy and val_accuracy"
    styles = {line.get_linestyle() for ax in axes for line in ax.get_lines()}
    assert styles == {"-", "--"}  # training solid, validation dashed
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[-2:] == ["training", "validation"]
    logged = _drawn(report.curves, stored, tmp_path / "c.png", log=True,
                    metrics=("val_loss",))
    assert [ax.get_yscale() for ax in logged.axes] == ["log"] * 3
    with pytest.raises(ValueError, match="stored any of bogus; its runs stored accuracy, "):
        report.curves(stored, tmp_path / "x.png", metrics=("bogus",))


def test_pictures_are_deterministic(stored, tmp_path):
    stored = _columns(stored, LRS[2])
    for name in ("heatmap", "curves"):
        a = getattr(report, name)(stored, tmp_path / f"a-{name}.png").read_bytes()
        b = getattr(report, name)(stored, tmp_path / f"b-{name}.png").read_bytes()
        assert a == b


class _Page(HTMLParser):
    """Tags, images' alt texts, and each table's rows as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.tags, self.images, self.tables, self.table = [], [], {}, None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["alt"])
        elif tag == "table":
            self.table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self.table is not None:
            self.table.append([])
        elif tag in ("td", "th") and self.table is not None:
            self.table[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None

    def handle_data(self, data):
        if self.table is not None and self.table and self.table[-1]:
            self.table[-1][-1] += data


def test_report_tables_in_4_significant_digits_with_time_and_every_epoch(stored, tmp_path):
    path = stored.report(tmp_path / "report.html")
    text = path.read_text()
    page = _Page()
    page.feed(text)
    assert "details" in page.tags and "summary" in page.tags
    head = text.index('id="spread"')
    assert text.index("population standard deviation") < text.index("± ", head)
    best = stored.best()
    header, *rows = page.tables["ranking"]
    row = dict(zip(header, rows[0]))
    assert row["rank"] == "1" and len(rows) == 18
    assert row["val_accuracy"] == report.sig4(best.mean)
    assert row["spread"] == report.sig4(best.spread)
    assert (row["learning_rate"], row["momentum"]) == (
        report.format_value(best.config["learning_rate"]),
        report.format_value(best.config["momentum"]))
    seconds = [report.run_seconds(r) for r in stored.runs if r["config"] == best.config]
    assert row["seconds per run"] == report.sig4(sum(seconds) / len(seconds))
    epochs = page.tables["per-epoch"]
    measured = [r[3:5] + r[-1:] for r in rows] + [r[3:] for r in epochs[1:]]
    for cells in measured:  # every measured figure to 4 significant digits, no 6 digits
        for cell in cells:
            if re.fullmatch(r"\d*\.\d+", cell):
                assert len(re.sub(r"^[0.]+", "", cell).replace(".", "")) == 4, cell
    assert epochs[0] == ["learning_rate", "momentum", "epoch", "accuracy", "loss",
                         "val_accuracy", "val_loss", "seconds"]
    assert len(epochs) - 1 == 18 * 5  # every config's every epoch
    assert re.search(r"Time per run: median [\d.]+ s", text)
    assert len(page.images) == 2  # two parameters: no parallel coordinates


def test_more_than_two_parameters_add_parallel_coordinates(tmp_path):
    grid = {"learning_rate": [1e-3, 1e-2], "momentum": [0.0, 0.9], "rho": [0.8, 0.95]}
    result = sweep(MnistBuild("rmsprop"), grid, data=small_data(64, 32), epochs=1,
                   batch_size=32, executor=InlineExecutor(), store=tmp_path, progress=False)
    fig = _drawn(report.parallel, result, tmp_path / "p.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "learning_rate (log)", "momentum", "rho", "final val_accuracy"]
    assert sum(len(line.get_xdata()) == 4 for line in ax.get_lines()) == 8  # one per config
    page = _Page()
    page.feed(result.report().read_text())
    assert page.images[-1].startswith("parallel coordinates")
    assert (tmp_path / "parallel.png").exists()
