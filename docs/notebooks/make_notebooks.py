"""Write the course's notebooks from its pages: `python docs/notebooks/make_notebooks.py`.

Each chapter page ``docs/course-*.md`` becomes ``docs/notebooks/course-*.ipynb``, so the page
(whose examples the doctests run) and its notebook never drift apart:

- the text becomes Markdown cells and each ```` ```python ```` doctest block plain code: the
  ``>>>``/``...`` prompts and the expected output are dropped, and a block is cut into cells
  after each example that shows a value, so that the notebook shows it too;
- an exercise's answer (a ``<details>`` block of the page) becomes one code cell whose source is
  folded away (JupyterLab, Notebook 7, VS Code and Colab honour the metadata), after an empty
  cell for the learner's own answer; every answer ends in an ``assert`` that checks it;
- a block whose last example raises (its expected output is a traceback) is tagged
  ``raises-exception``, so that running the notebook goes on past it.

jupytext reads the result as a Markdown notebook and writes the ``.ipynb``. The first cell
installs ndgrad where it is missing (on Colab); elsewhere it does nothing.
``--check`` writes nothing and exits with status 1 when a notebook differs from its page
(``tests/test_course.py`` runs the same check).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
PAGES = sorted(DOCS.glob("course-*.md"))

SETUP = '''\
# Run this cell first. On Colab (or wherever ndgrad is not installed yet) it installs ndgrad
# with its plotting extra; elsewhere it does nothing. A CPU is all the course needs.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("ndgrad") is None:
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "ndgrad[viz]"], check=True)'''

ANSWER_TITLE = "# @title Answer (folded: open it once you have tried)"
ANSWER_MARK = "# ndgrad-course: answer"
YOUR_TURN = "# Your answer here\n"
FENCE = r"^```python\n(?P<code>.*?)^```\n"
DETAILS = r"^<details><summary>[^<]*</summary>\n\n(?P<answer>.*?)^</details>\n"
BLOCK = re.compile(f"{DETAILS}|{FENCE}", re.S | re.M)
LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)\s]+)\)")
DIRECTIVE = re.compile(r"\s*# doctest:.*$")


def doctest_cells(block: str, page: str) -> list[tuple[str, bool]]:
    """The code cells of one doctest block: (source, raises) per cell."""
    examples: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith(">>>"):
            examples.append(([DIRECTIVE.sub("", line[4:])], []))
        elif line.startswith("...") and examples and not examples[-1][1]:
            examples[-1][0].append(DIRECTIVE.sub("", line[4:]))
        elif examples:
            examples[-1][1].append(line)
        else:
            raise ValueError(f"{page}: a python block must start with '>>> '; found {line!r}")
    cells: list[tuple[str, bool]] = []
    current: list[str] = []
    for i, (source, want) in enumerate(examples):
        current.extend(source)
        raises = bool(want) and want[0].startswith("Traceback (most recent call last)")
        if raises and i != len(examples) - 1:
            raise ValueError(
                f"{page}: the example {source[0]!r} raises but is not the last of its block; "
                "give it a block of its own so that the notebook runs what follows"
            )
        if want or i == len(examples) - 1:
            cells.append(("\n".join(current).rstrip(), raises))
            current = []
    return cells


def to_jupytext_markdown(text: str, page: str) -> str:
    """The page as a jupytext Markdown notebook: doctest blocks as plain code cells."""

    def code(block: str) -> str:
        out = []
        for source, raises in doctest_cells(block, page):
            header = '```python tags=["raises-exception"]' if raises else "```python"
            out.append(f"{header}\n{source}\n```\n")
        return "\n".join(out)

    def block(match: re.Match[str]) -> str:
        if match.group("code") is not None:
            return code(match.group("code"))
        inner = match.group("answer")
        if "assert " not in inner:
            raise ValueError(f"{page}: an exercise's answer must check itself with an assert")
        blocks = re.findall(FENCE, inner, re.S | re.M)
        cells = [c for b in blocks for c in doctest_cells(b, page)]
        if any(raises for _, raises in cells):
            raise ValueError(f"{page}: an exercise's answer must not raise")
        source = "\n".join(c for c, _ in cells)
        return (
            f'```python tags=["exercise"]\n{YOUR_TURN}```\n\n'
            f"```python\n{ANSWER_MARK}\n{source}\n```\n"
        )

    text = LINK.sub(lambda m: f"]({relink(m.group(1))})", text)
    return f"```python\n{SETUP}\n```\n\n" + BLOCK.sub(block, text)


def relink(target: str) -> str:
    """A link of a page in docs/, seen from docs/notebooks/."""
    if target.startswith("notebooks/"):
        return target[len("notebooks/") :]
    return "../" + target


def notebook(page: Path) -> str:
    """The .ipynb text of one page."""
    import jupytext

    nb = jupytext.reads(to_jupytext_markdown(page.read_text(), page.name), fmt="md")
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    for i, cell in enumerate(nb.cells):
        cell.id = f"{page.stem}-{i}"
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if cell.source.startswith(ANSWER_MARK):
            cell.source = ANSWER_TITLE + cell.source[len(ANSWER_MARK) :]
            cell.metadata["jupyter"] = {"source_hidden": True}
            cell.metadata["cellView"] = "form"  # Colab folds a titled cell's code
            cell.metadata["tags"] = ["answer"]
    return jupytext.writes(nb, fmt="ipynb")


def target(page: Path) -> Path:
    return HERE / f"{page.stem}.ipynb"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for page in PAGES:
        text, path = notebook(page), target(page)
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote docs/notebooks/{path.name}")
    if stale:
        print(f"out of date (run python docs/notebooks/make_notebooks.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
