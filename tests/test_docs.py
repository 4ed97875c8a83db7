"""Every example in the README, docs/ and the docstrings runs as written (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import ndgrad
from ndgrad.datasets import mnist

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [
    p
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    if ">>> " in p.read_text()
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(ndgrad.__path__, "ndgrad.")
    if not m.name.startswith(("ndgrad.backends.cupy",))
    and not m.name.endswith(".__main__")  # importing runs the command
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Doc examples never touch the network or the user's cache."""

    def refuse(url: str, timeout: float) -> bytes:
        raise OSError(f"no network in tests ({url})")

    monkeypatch.setattr(mnist, "_fetch", refuse)
    monkeypatch.setenv("NDGRAD_CACHE_DIR", str(tmp_path))


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_doc_file_examples_run(path: Path) -> None:
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0, f"{path.name} has no examples"
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.failed == 0
