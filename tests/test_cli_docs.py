"""docs/cli.md runs as written: each ``$ ndgrad ...`` line in a ``console`` block runs in-process
(offline, in a temporary folder), its stdout and stderr together must match the lines below it
(``...`` matches anything, whitespace runs are equal), ``$ echo $?`` shows the last exit status,
``$ python -c "..."`` runs its code, and a ``csv NAME`` block is written to the file NAME."""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
from pathlib import Path

import pytest

from ndgrad import cli
from ndgrad.datasets import mnist

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
FENCE = re.compile(r"^```(\w+)(?: (\S+))?\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _commands(block: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    pairs: list[tuple[str, str]] = []
    for line in block.splitlines(keepends=True):
        if line.startswith("$ "):
            pairs.append((line[2:].strip(), ""))
        else:
            assert pairs, f"output before any command in a console block: {line!r}"
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + line)
    return pairs


def _run(command: str, status: int) -> tuple[int, str]:
    words = shlex.split(command)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        if words[0] == "ndgrad":
            try:
                status = cli.main(words[1:])
            except SystemExit as e:  # argparse
                status = int(e.code)
        elif words[:2] == ["python", "-c"]:
            exec(words[2], {})
            status = 0
        elif words == ["echo", "$?"]:
            print(status)
        else:
            raise AssertionError(f"docs/cli.md: cannot run {command!r}")
    return status, buf.getvalue()


def test_cli_page_runs_as_written(tmp_path, monkeypatch):
    def no_network(url, timeout):
        raise OSError(f"offline test: {url}")

    monkeypatch.setattr(mnist, "_fetch", no_network)
    monkeypatch.setenv("NDGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    checker, flags = doctest.OutputChecker(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    status, ran = 0, 0
    for kind, name, body in FENCE.findall(PAGE.read_text()):
        if kind == "csv":
            (tmp_path / name).write_text(body)
        elif kind == "console":
            for command, want in _commands(body):
                status, got = _run(command, status)
                ran += 1
                if not checker.check_output(want, got, flags):
                    pytest.fail(f"docs/cli.md: $ {command}\nexpected:\n{want}\ngot:\n{got}")
                if command.startswith("ndgrad") and "error" not in want:
                    assert status == 0, f"$ {command} exited with {status}"
    assert ran >= 10
