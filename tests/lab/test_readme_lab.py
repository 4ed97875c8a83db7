"""The README's lab section says what its stored runs say: every quoted sentence is one the
lab computes from the stored run, and the times and loads are the stored ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndgrad.lab import SweepResult
from ndgrad.lab.progress import duration

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "figures"


def _part(store: str) -> str:
    """The README's lab text about `store`: from its file name to the next store's."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The lab\n"):text.index("## Hardware acceleration")]
    part = section[section.index(f"docs/figures/{store}/lab.sqlite"):]
    return part[:part.index("docs/figures/lab-tpe")] if store == "lab-rmsprop" else part


def _bullets(text: str) -> list[str]:
    """Each `- ` item, its wrapped lines joined."""
    items: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append([line[2:]])
        elif line.startswith("  ") and items and items[-1] and line.strip():
            items[-1].append(line.strip())
        elif items and items[-1]:
            items.append([])  # the list ended: later indented lines are not part of it
    return [" ".join(i) for i in items if i]


@pytest.mark.parametrize("store", ["lab-rmsprop", "lab-tpe"])
def test_every_quoted_sentence_is_computed_from_the_stored_run(store):
    part = _part(store)
    result = SweepResult.load(FIGURES / store)
    findings = [" ".join(f.split()) for f in result.findings()]
    quoted = _bullets(part)
    assert len(quoted) >= 2, f"no sentences quoted for {store}"
    for sentence in quoted:
        assert sentence in findings, sentence
    flat = " ".join(part.split())
    assert f"It took {duration(result.wall_seconds())} of wall time" in flat
    if store == "lab-tpe":
        grid = SweepResult.load(FIGURES / "lab-rmsprop")
        assert f"where the grid took {duration(grid.wall_seconds())}" in flat
    machine = result.machine
    if "load_at_start" in machine:
        assert (f"load average {machine['load_at_start']} when it started, "
                f"{machine['load_at_end']} when it ended") in flat


def test_the_stored_runs_hold_test_figures_and_no_local_paths():
    for store in ("lab-rmsprop", "lab-tpe"):
        result = SweepResult.load(FIGURES / store)
        assert result.test() is not None  # the chosen configuration was measured
        assert "shared" not in result.settings.get("data_source", "")
