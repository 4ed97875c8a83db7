"""The README's speed table quotes the last guarded run of record of `make bench`
(bench/RESULTS.md) and nothing else: every ratio and the RSS range it shows are that file's.
When bench/RESULTS.md is not a run of record (the guard of `bench/run.py` did not pass, or the
file predates the guard), the README quotes no ratio and says so."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_ROWS = {  # README row -> the workloads of bench/RESULTS.md it quotes
    "MNIST MLP, one epoch through `fit`": ["mlp_fit"],
    "the same epoch, hand-written loop": ["mlp_loop"],
    "its matrix products alone, 100 steps": ["mlp_gemm"],
    "book convnet, 100 steps of batch 64": ["convnet"],
    "`(a * b + a).relu().sum().backward()`, 32x32": ["small_op"],
    "`predict`, batches of 1,000": ["predict"],
    "Dense forward + backward, 3 sizes": ["dense_s", "dense_m", "dense_l"],
    "Conv2D forward + backward alone": ["conv2d"],
    "2048 x 2048 sgemm (the BLAS ceiling)": ["sgemm"],
}


def _results() -> dict[str, tuple[str, str]]:
    """workload -> (ratio, RSS ratio) as bench/RESULTS.md prints them."""
    rows = {}
    for line in (ROOT / "bench" / "RESULTS.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 7 and re.fullmatch(r"\*\*[\d.]+\*\*", cells[3]):
            rows[cells[0]] = (cells[3].strip("*"), cells[6])
    return rows


def _readme_speed() -> tuple[dict[str, str], str]:
    text = (ROOT / "README.md").read_text()
    speed = text[text.index("## Speed") :]
    speed = speed[: speed.index("\n## ", 1)] if "\n## " in speed[1:] else speed
    rows = {}
    for line in speed.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0] in README_ROWS:
            rows[cells[0]] = cells[1]
    rss = re.search(r"\(ratios ([\d.]+-[\d.]+)\)", speed)
    assert rss, "the README's speed section states the RSS ratios"
    return rows, rss.group(1)


def _quoted(values: list[str]) -> str:
    lo, hi = min(values, key=float), max(values, key=float)
    return lo if lo == hi else f"{lo}-{hi}"


def _of_record() -> bool:
    return "\n- Run of record: yes" in (ROOT / "bench" / "RESULTS.md").read_text()


def test_the_readme_speed_section_follows_bench_results() -> None:
    """With a run of record the README quotes its table; without one it quotes no ratio
    (one test for both cases: the suite skips nothing but GPU tests)."""
    if _of_record():
        _readme_speed_table_quotes_bench_results()
        return
    speed = _speed_text()
    assert "no guarded run of record" in speed
    assert not any(f"| {row} |" in speed for row in README_ROWS)
    assert not re.search(r"\| [\d.]+(-[\d.]+)? \|", speed), "a ratio quoted from an unguarded run"


def _readme_speed_table_quotes_bench_results() -> None:
    results = _results()
    assert set(results) >= {w for ws in README_ROWS.values() for w in ws}
    rows, rss = _readme_speed()
    assert set(rows) == set(README_ROWS)
    for row, workloads in README_ROWS.items():
        assert rows[row] == _quoted([results[w][0] for w in workloads]), row
    assert rss == _quoted([ratio for _, ratio in results.values()])
    if "below PyTorch's on every workload" in _speed_text():
        assert max(float(ratio) for _, ratio in results.values()) < 1.0
    if "matrix products alone run at PyTorch's speed" in " ".join(_speed_text().split()):
        assert 0.9 <= float(results["mlp_gemm"][0]) <= 1.1  # "at PyTorch's speed": within 10%


def _speed_text() -> str:
    text = (ROOT / "README.md").read_text()
    speed = text[text.index("## Speed") :]
    return speed[: speed.index("\n## ", 1)] if "\n## " in speed[1:] else speed
