"""The pictures in the docs: each is drawn by docs/figures/make_figures.py from the current code.

figures.json (written by the script) records the SHA-256 of the drawing code and of every
picture. Changing the script or ndgrad/viz without running `make figures`, editing a picture
by hand, or showing a picture the script does not draw fails here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import matplotlib
import pytest

from ndgrad.viz import plot_history

from .images import assert_valid_image

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "figures"
SCRIPT = FIGURES / "make_figures.py"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")

spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def shown() -> list[tuple[str, Path]]:
    """(page, picture path) for every image a page of the docs shows."""
    return [
        (page.name, (page.parent / link).resolve())
        for page in PAGES
        for link in IMAGE_LINK.findall(page.read_text())
    ]


def test_every_picture_the_docs_show_is_drawn_by_the_script() -> None:
    pictures = shown()
    assert len(pictures) >= len(script.FIGURES)
    for page, path in pictures:
        assert path.parent == FIGURES and path.name in script.FIGURES, (
            f"{page} shows {path}, which docs/figures/make_figures.py does not draw"
        )
    assert {p.name for _, p in pictures} == set(script.FIGURES), "a picture no page shows"


def test_the_readme_shows_one_picture_of_each_kind() -> None:
    readme = {p.name for page, p in shown() if page == "README.md"}
    assert {"backprop_graph.svg", "history.svg", "digits.svg", "iris_boundary.svg"} <= readme


@pytest.mark.parametrize("name", sorted(script.FIGURES))
def test_each_picture_is_a_valid_image(name: str) -> None:
    assert_valid_image(FIGURES / name)


def test_the_pictures_were_drawn_by_the_current_code() -> None:
    manifest = json.loads((FIGURES / "figures.json").read_text())
    assert manifest["sources"] == script.source_digest(), (
        "docs/figures/make_figures.py or ndgrad/viz changed since the pictures were drawn; "
        "run `make figures` and commit the pictures"
    )
    assert list(manifest["figures"]) == list(script.FIGURES)
    for name, digest in manifest["figures"].items():
        assert script.file_digest(FIGURES / name) == digest, (
            f"docs/figures/{name} is not the picture make_figures.py drew; run `make figures`"
        )
    pictures = {p.name for p in FIGURES.iterdir() if p.suffix in {".svg", ".png"}}
    assert pictures == set(script.FIGURES), "a picture in docs/figures that no code draws"


def test_the_digest_changes_with_any_line_of_the_drawing_code(tmp_path: Path, monkeypatch) -> None:
    copies = []
    for source in script.SOURCES:
        copy = tmp_path / source.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(source.read_bytes())
        copies.append(copy)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "SOURCES", tuple(copies))
    before = script.source_digest()
    assert before == script.source_digest()
    for copy in (copies[0], copies[-1]):  # the script, and a module of ndgrad/viz
        text = copy.read_text()
        copy.write_text(text.replace("\n", "\n# changed\n", 1))
        assert script.source_digest() != before
        copy.write_text(text)
        assert script.source_digest() == before


def test_saving_is_deterministic(tmp_path: Path) -> None:
    """The script's settings and _save give byte-identical files (no date, fixed SVG ids)."""
    history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.8]}
    with matplotlib.rc_context(script.RC):
        for name in ("first.svg", "second.svg"):
            script._save(plot_history(history), tmp_path / name)
    first = (tmp_path / "first.svg").read_bytes()
    assert first == (tmp_path / "second.svg").read_bytes()
    assert b"<dc:date>" not in first and b'clip-path="url(#' in first
