"""`draw_graph`: the recorded graph behind a tensor, as Graphviz DOT text or a rendered picture.

Boxes are tensors (name, shape and dtype; values and gradients when small), ellipses are the
ops that made them. Arrows run forward, from inputs through ops to outputs; gradients flow
against them. Every tensor and op appears once however many times it is used, and an input
that broadcasts to the op's output shape says so on its arrow. Rendering to SVG or PNG runs
Graphviz's `dot` program; the DOT text needs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._dtypes import DType
from .._shapes import broadcast_shapes
from .._tensor import Tensor
from ..autograd import backward
from ..errors import GraphError, ShapeError

#: tensor fill colours: the drawn tensor, leaves that require grad, constants (no grad)
ROOT_COLOR, LEAF_COLOR, CONSTANT_COLOR, OP_COLOR = "#d9ead3", "#cfe2f3", "#eeeeee", "#fff2cc"
FORMATS = ("svg", "png", "pdf")
_OP_FIELDS = {"inputs", "needs_grad", "backend"}


def draw_graph(
    t: Tensor,
    path: str | Path | None = None,
    *,
    names: Mapping[str, Tensor] | None = None,
    gradients: bool = True,
    max_elements: int = 8,
) -> str:
    """The graph of ops recorded behind `t`, as Graphviz DOT text (also rendered to `path`).

    Each tensor box shows its name (from `names`), shape and dtype, and its values when it has
    at most `max_elements` elements; `t` is green, leaves that require grad blue, constants
    grey. With `gradients` and a one-element `t`, the boxes also
    show d t / d tensor, computed here without touching any ``.grad`` (the graph is kept, so
    ``t.backward()`` still works afterwards). `path` ending in ``.svg``, ``.png`` or ``.pdf``
    is rendered with Graphviz's ``dot``; ``.dot`` writes the text.

    >>> import ndgrad
    >>> a = ndgrad.tensor(2.0, requires_grad=True)
    >>> b = a * a + a
    >>> dot = draw_graph(b, names={"a": a, "b": b})
    >>> print(dot.count("Multiply"), dot.count("Add"), "a|() float32|value 2|grad 5" in dot)
    1 1 True
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"draw_graph: expected an ndgrad Tensor. Received {type(t).__name__}")
    labels = {}
    for name, x in (names or {}).items():
        if not isinstance(x, Tensor):
            raise TypeError(f"draw_graph: names[{name!r}] is a {type(x).__name__}, not a Tensor")
        labels[_key(x)] = name
    tensors, ops = _walk(t)
    grads: dict[tuple, Any] = {}
    if gradients and t.requires_grad and t.size == 1:
        found = backward([t], inputs=list(tensors.values()), retain_graph=True)
        grads = {k: g for k, g in zip(tensors, found) if g is not None}

    ids = {k: f"t{i}" for i, k in enumerate(tensors)}
    lines = [
        "digraph {",
        '  graph [rankdir=LR, fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for k, x in tensors.items():
        fields = [labels[k]] if k in labels else []
        fields.append(f"{x.shape} {x.dtype.name}")
        if x.size <= max_elements:
            fields.append("value " + _values(x))
            if k in grads:
                fields.append("grad " + _values(grads[k]))
        label = "|".join(_escape_record(f) for f in fields)
        lines.append(
            f'  {ids[k]} [shape=record, style=filled, fillcolor="{_fill(x, t)}", label="{label}"];'
        )
    for j, (node, out_key) in enumerate(ops):
        op_id = f"op{j}"
        lines.append(
            f'  {op_id} [shape=ellipse, style=filled, fillcolor="{OP_COLOR}", '
            f'label="{_escape(_op_label(node))}"];'
        )
        out_shape = tensors[out_key].shape
        shapes = [x.shape for x in node.inputs]
        for x in node.inputs:
            note = ""
            if len(shapes) > 1 and x.shape != out_shape and _broadcasts_to(shapes, out_shape):
                note = f' [label="broadcast to {out_shape}"]'
            lines.append(f"  {ids[_key(x)]} -> {op_id}{note};")
        lines.append(f"  {op_id} -> {ids[out_key]};")
    lines.append("}")
    dot = "\n".join(lines) + "\n"
    if path is not None:
        render(dot, path)
    return dot


def render(dot: str, path: str | Path) -> Path:
    """Write DOT text to `path`, as a picture when it ends in .svg, .png or .pdf (needs `dot`).

    >>> import pathlib, tempfile, ndgrad
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = render(draw_graph(ndgrad.tensor(1.0)), pathlib.Path(folder) / "one.dot")
    ...     print(path.name, path.read_text().splitlines()[0])
    one.dot digraph {
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "dot":
        path.write_text(dot)
        return path
    if fmt not in FORMATS:
        raise ValueError(
            f"render: cannot tell the format from {path.name!r}; use a name ending in .dot, "
            + ", ".join(f".{f}" for f in FORMATS)
        )
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            f"render: drawing {path.name} needs Graphviz's `dot` program, which is not on PATH. "
            "Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
            "graphviz) or write the DOT text to a .dot file"
        )
    done = subprocess.run(
        [exe, f"-T{fmt}", "-o", str(path)], input=dot.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"render: dot failed on {path.name}: {done.stderr.decode().strip()}")
    return path


def _fill(x: Tensor, root: Tensor) -> str:
    if x is root:
        return ROOT_COLOR
    if not x.requires_grad:
        return CONSTANT_COLOR
    return LEAF_COLOR if x.grad_fn is None else "white"


def _key(x: Tensor) -> tuple:
    """One key per tensor of the graph: the op that made it, or the tensor object for a leaf."""
    node = x.grad_fn
    return ("op", id(node)) if node is not None else ("leaf", id(x))


def _walk(root: Tensor) -> tuple[dict[tuple, Tensor], list[tuple[Any, tuple]]]:
    """Every tensor (by key, root first) and every op with its output's key, each once."""
    tensors = {_key(root): root}
    ops: list[tuple[Any, tuple]] = []
    stack = [root]
    while stack:
        x = stack.pop()
        node = x.grad_fn
        if node is None:
            continue
        if node.inputs is None:
            raise GraphError(
                "draw_graph: this graph was freed by an earlier backward; draw it before "
                "backward, or pass retain_graph=True to backward"
            )
        ops.append((node, _key(x)))
        for parent in node.inputs:
            k = _key(parent)
            if k not in tensors:
                tensors[k] = parent
                stack.append(parent)
    return tensors, ops


def _broadcasts_to(shapes: list[tuple[int, ...]], out: tuple[int, ...]) -> bool:
    try:
        return broadcast_shapes(*shapes) == out
    except ShapeError:
        return False


def _number(v: float | np.floating) -> str:
    return f"{v + 0.0:.4g}"  # + 0.0 prints -0 as 0


def _values(x: Tensor) -> str:
    """The values, 4 significant digits, one line per matrix row."""
    a = x.numpy()
    if a.ndim == 0:
        return _number(a.item()) if a.dtype.kind == "f" else str(a.item())
    text = np.array2string(
        a, separator=", ", max_line_width=10**6, formatter={"float_kind": _number}
    )
    return "\n".join(" ".join(row.split()) for row in text.splitlines() if row.strip())


def _param(value: Any) -> str | None:
    """A short text for an op parameter worth showing (numbers, axes, shapes), else None."""
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    if isinstance(value, DType):
        return value.name
    if isinstance(value, tuple):
        parts = [p for p in map(_param, value) if p is not None]
        if len(parts) < len(value):  # a part not worth showing
            return None
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    return None


def _op_label(node: Any) -> str:
    lines = [type(node).__name__]
    for name, value in vars(node).items():
        if name.startswith("_") or name in _OP_FIELDS:
            continue
        text = _param(value)
        if text is not None and len(text) <= 40:
            lines.append(f"{name}={text}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_record(text: str) -> str:
    for ch in "\\{}|<>":
        text = text.replace(ch, "\\" + ch)
    return text.replace('"', '\\"').replace("\n", "\\n")
