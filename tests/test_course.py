"""The course (docs/course.md and its chapters docs/course-*.md) and its notebooks.

The chapters' examples run in tests/test_docs.py like every page's. Here: every chapter has its
notebook, generated from the page (docs/notebooks/make_notebooks.py) and up to date; every
notebook runs top to bottom in a fresh kernel, writing only in a temporary folder, with every
exercise's answer checking itself; every page of the docs is reachable from docs/README.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHAPTERS = sorted(DOCS.glob("course-*.md"))
NOTEBOOKS = DOCS / "notebooks"

spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
make_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_notebooks)


def test_the_course_has_its_chapters_in_order() -> None:
    names = [p.stem for p in CHAPTERS]
    assert len(names) == 7, names
    assert [int(re.match(r"course-(\d+)-", n).group(1)) for n in names] == list(range(1, 8))
    course = (DOCS / "course.md").read_text()
    linked = re.findall(r"\]\((course-\d+-[a-z-]+)\.md\)", course)
    assert list(dict.fromkeys(linked)) == names, "course.md lists the chapters in order"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_has_exercises_and_predict_then_run_prompts(page: Path) -> None:
    text = page.read_text()
    assert text.count("<details><summary>Answer</summary>") >= 2, f"{page.name}: exercises"
    assert "**Predict, then run.**" in text, f"{page.name}: a predict-then-run prompt"
    assert f"notebooks/{page.stem}.ipynb" in text, f"{page.name} links its notebook"


def test_the_notebooks_are_generated_from_the_pages() -> None:
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == {p.stem for p in CHAPTERS}
    for page in CHAPTERS:
        assert make_notebooks.target(page).read_text() == make_notebooks.notebook(page), (
            f"docs/notebooks/{page.stem}.ipynb differs from {page.name}: run "
            "python docs/notebooks/make_notebooks.py"
        )


def test_the_generator_turns_doctest_into_cells() -> None:
    block = ">>> x = 1\n>>> x + 1\n2\n>>> for i in range(2):\n...     print(i)\n0\n1\n"
    assert make_notebooks.doctest_cells(block, "p") == [
        ("x = 1\nx + 1", False),
        ("for i in range(2):\n    print(i)", False),
    ]
    raising = ">>> 1 / 0\nTraceback (most recent call last):\n    ...\nZeroDivisionError: x\n"
    assert make_notebooks.doctest_cells(raising, "p") == [("1 / 0", True)]
    with pytest.raises(ValueError, match="not the last of its block"):
        make_notebooks.doctest_cells(raising + ">>> 2\n2\n", "p")
    with pytest.raises(ValueError, match="must check itself"):
        make_notebooks.to_jupytext_markdown(
            "<details><summary>Answer</summary>\n\n```python\n>>> 1\n1\n```\n\n</details>\n", "p"
        )


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_answers_are_folded_and_check_themselves(page: Path) -> None:
    nb = json.loads(make_notebooks.target(page).read_text())
    answers = [c for c in nb["cells"] if "answer" in c["metadata"].get("tags", [])]
    assert len(answers) == page.read_text().count("<details><summary>Answer</summary>")
    for cell in answers:
        assert cell["metadata"]["jupyter"] == {"source_hidden": True}
        assert cell["metadata"]["cellView"] == "form"
        assert "assert " in "".join(cell["source"])


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel writes only under tmp_path (its history, caches, connection file) and
    imports this checkout's ndgrad."""
    for var, sub in [
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("NDGRAD_CACHE_DIR", "ndgrad-cache"),
        ("TMPDIR", "tmp"),  # tempfile.mkdtemp() in the notebooks
    ]:
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    work = tmp_path / "work"
    work.mkdir()
    return work


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(page: Path, kernel_env: Path) -> None:
    """Every cell runs (answers included, each checking itself with an assert); only the
    cells tagged raises-exception may raise; the kernel is shut down afterwards."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.reads(make_notebooks.target(page).read_text(), as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(kernel_env)}}
    )
    km = client.create_kernel_manager()
    km.connection_file = str(kernel_env.parent / "kernel.json")
    client.execute()  # raises CellExecutionError on the first cell that fails
    assert not km.has_kernel, "the kernel was left running"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every code cell ran"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    expected = [c for c in code if "raises-exception" in c.metadata.get("tags", [])]
    assert len(errors) == len(expected), "only the cells that show an error raise"
    assert not (kernel_env.parent / "kernel.json").exists(), "the connection file was left"


def test_every_page_of_the_docs_is_reachable_from_the_docs_readme() -> None:
    link = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")
    seen, todo = set(), [DOCS / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or not page.is_file():
            continue
        seen.add(page)
        todo += [(page.parent / t).resolve() for t in link.findall(page.read_text())]
    pages = {p.resolve() for p in DOCS.glob("*.md")}
    assert pages - seen == set(), f"not reachable from docs/README.md: {sorted(pages - seen)}"
