"""`make docs`: the API reference builds from the docstrings with no warning (strict mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocstrings", reason="the dev group installs mkdocs and mkdocstrings")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    page = (tmp_path / "api" / "tensor" / "index.html").read_text(encoding="utf-8")
    for name in ("backward", "__array_namespace__", "reshape"):
        assert name in page
