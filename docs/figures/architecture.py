"""The picture of docs/architecture.md, drawn from the package's import graph.

The graph is the one tests/test_architecture.py checks (every import of every module), folded
into rooms: one per top-level module or package of ndgrad, the small shared modules (errors,
dtypes, shapes, the registry helper ...) in one room, and the NumPy backend's fused optimizer
updates in a room of their own (they name the optimizer classes, so they sit above them).
Rooms that import each other form one box. Each box sits one floor above the highest box it
imports; an arrow points from a room to a room it imports, drawn only when no longer path
already implies it (the transitive reduction). Used by make_figures.py (`make figures`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: the modules shared by everything: one room
BASICS = {"errors", "_dtypes", "_shapes", "_registry", "_files"}
#: the rooms of the core (drawn in their own colour)
CORE = {"_tensor", "autograd", "ops", "creation"}
FUSED = "backends.numpy.optimizers"


def _checker() -> Any:
    spec = importlib.util.spec_from_file_location(
        "test_architecture", ROOT / "tests" / "test_architecture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def room(module: str) -> str | None:
    """The room of an ndgrad module (None for the package's own __init__)."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    if ".".join(parts[:3]) == FUSED:
        return FUSED
    return "basics" if parts[0] in BASICS else parts[0]


def rooms() -> tuple[dict[frozenset[str], set[frozenset[str]]], dict[frozenset[str], int]]:
    """Boxes (sets of rooms that import each other), the boxes each imports, and its floor."""
    checker = _checker()
    edges: dict[str, set[str]] = {}
    for module, targets in checker.graph().items():
        a = room(module)
        if a is None:
            continue
        edges.setdefault(a, set())
        for t in targets:
            b = room(t)
            if b is not None and b != a:
                edges[a].add(b)
    box_of = {r: frozenset({r}) for r in edges}
    for circle in checker.circles(edges):
        for r in circle:
            box_of[r] = frozenset(circle)
    boxes: dict[frozenset[str], set[frozenset[str]]] = {b: set() for b in box_of.values()}
    for a, targets in edges.items():
        boxes[box_of[a]] |= {box_of[b] for b in targets if box_of[b] != box_of[a]}
    floor: dict[frozenset[str], int] = {}

    def level(b: frozenset[str]) -> int:
        if b not in floor:
            floor[b] = 1 + max((level(d) for d in boxes[b]), default=-1)
        return floor[b]

    for b in boxes:
        level(b)
    return boxes, floor


def reduced(boxes: dict[frozenset[str], set[frozenset[str]]]) -> set[tuple[Any, Any]]:
    """The arrows no longer path implies."""

    def reach(b: Any, seen: set) -> set:
        for d in boxes[b]:
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    arrows = set()
    for a, targets in boxes.items():
        implied = set()
        for d in targets:
            implied |= reach(d, set())
        arrows |= {(a, d) for d in targets if d not in implied}
    return arrows


def _label(box: frozenset[str]) -> str:
    names = sorted(box)
    text = " + ".join("fused optimizer\nupdates (numpy)" if n == FUSED else n for n in names)
    return text.replace(" + ", " +\n") if len(text) > 16 else text


def draw(path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    boxes, floor = rooms()
    top = max(floor.values())
    rows: dict[int, list[frozenset[str]]] = {}
    for b in sorted(boxes, key=lambda b: sorted(b)):
        rows.setdefault(floor[b], []).append(b)
    width = 1.8 * max(len(r) for r in rows.values())  # data units: a box is 1.44 wide
    fig, ax = plt.subplots(figsize=(1.3 * width + 1.2, 0.75 * (top + 1) + 1.0))
    where: dict[frozenset[str], tuple[float, float]] = {}
    for f, row in rows.items():
        for i, b in enumerate(row):
            where[b] = ((i + 0.5) * width / len(row), float(f))
    for a, d in sorted(reduced(boxes), key=lambda e: (sorted(e[0]), sorted(e[1]))):
        (x0, y0), (x1, y1) = where[a], where[d]
        core = a & CORE and d & CORE
        ax.annotate(
            "",
            xy=(x1, y1 + 0.22),
            xytext=(x0, y0 - 0.22),
            arrowprops={
                "arrowstyle": "->",
                "color": "#b03a2e" if core else "#9a9a9a",
                "lw": 1.4 if core else 0.7,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
    for b, (x, y) in where.items():
        colour = "#f5c6aa" if b & CORE else "#d6e4f0" if len(b) == 1 else "#f2e2a0"
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.72, y - 0.22),
                1.44,
                0.44,
                boxstyle="round,pad=0.02",
                facecolor=colour,
                edgecolor="#555555",
                lw=0.8,
            )
        )
        ax.text(x, y, _label(b), ha="center", va="center", fontsize=7.5)
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-0.6, top + 0.6)
    ax.set_yticks(range(top + 1))
    ax.set_yticklabels([f"floor {f}" for f in range(top + 1)], fontsize=8)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        "ndgrad's import graph: each box imports only boxes below it\n(arrows: imports, "
        "those implied by longer paths left out; red: the core;\nyellow: rooms that still "
        "import each other)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)
