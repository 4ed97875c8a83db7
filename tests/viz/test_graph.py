"""draw_graph: the DOT text of known expressions, gradients shown, rendering with Graphviz."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import ndgrad
from ndgrad.viz import draw_graph, graph, render

from .images import assert_valid_image

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")
NODE = re.compile(r'^  (\w+) \[.*label="(.*)"\];$')
EDGE = re.compile(r'^  (\w+) -> (\w+)(?: \[label="(.*)"\])?;$')


def parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    """Node id -> label, and (source label, target label, edge label) for every edge."""
    lines = dot.splitlines()
    assert lines[0] == "digraph {" and lines[-1] == "}"
    nodes = {m[1]: m[2] for m in map(NODE.match, lines) if m}
    edges = [(nodes[m[1]], nodes[m[2]], m[3]) for m in map(EDGE.match, lines) if m]
    assert len(nodes) + len(edges) + 5 == len(lines), "a line is neither a node nor an edge"
    return nodes, edges


def test_a_known_expression_names_each_op_once_with_shapes_and_broadcasting(backend) -> None:
    with ndgrad.device(backend):
        a = ndgrad.ones((2, 3), requires_grad=True)
        b = ndgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
        d = a * b + a  # a is used twice, b broadcasts
        loss = (d * d).sum()  # d, a shared subgraph, is used twice
    nodes, edges = parse(draw_graph(loss, names={"a": a, "b": b, "d": d, "loss": loss}))
    ops = sorted(label.split("\\n")[0] for label in nodes.values() if "|" not in label)
    assert ops == ["Add", "Multiply", "Multiply", "Sum"]
    tensors = [label for label in nodes.values() if "|" in label]
    assert len(tensors) == 6  # a, b, a*b, d, d*d, loss: each once
    a_box, b_box, d_box = (next(t for t in tensors if t.startswith(f"{n}|")) for n in "abd")
    assert a_box.startswith("a|(2, 3) float32|") and b_box.startswith("b|(3,) float32|")
    assert d_box.startswith("d|(2, 3) float32|")
    assert sum(1 for src, _, _ in edges if src == d_box) == 2  # d -> Multiply, twice
    assert sum(1 for src, _, _ in edges if src == a_box) == 2  # a -> Multiply and a -> Add
    [(src, dst, note)] = [e for e in edges if e[2] is not None]
    assert (src, dst, note) == (b_box, "Multiply", "broadcast to (2, 3)")
    sum_label = next(label for label in nodes.values() if label.startswith("Sum"))
    assert sum_label == "Sum\\naxes=(0, 1)\\nkeepdims=False"


def test_values_and_gradients_are_those_of_backward_and_grad_is_untouched() -> None:
    a = ndgrad.tensor(2.0, requires_grad=True)
    b = ndgrad.tensor(-3.0, requires_grad=True)
    c = ndgrad.tensor(10.0, requires_grad=True)
    e = a * b
    d = e + c
    loss = d * ndgrad.tensor(-2.0)
    nodes, _ = parse(draw_graph(loss, names={"a": a, "b": b, "c": c, "e": e, "d": d, "L": loss}))
    labels = set(nodes.values())
    assert {
        "a|() float32|value 2|grad 6",
        "b|() float32|value -3|grad -4",
        "c|() float32|value 10|grad -2",
        "e|() float32|value -6|grad -2",
        "d|() float32|value 4|grad -2",
        "L|() float32|value -8|grad 1",
        "() float32|value -2",  # a constant: no gradient
    } <= labels
    assert a.grad is None and b.grad is None  # drawing computed, not accumulated
    loss.backward()  # the graph was kept
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (6.0, -4.0, -2.0)


def test_matrices_print_one_row_per_line_and_large_tensors_only_their_shape() -> None:
    w = ndgrad.tensor([[1.0, -0.0], [0.5, 2.0]], requires_grad=True)
    big = ndgrad.ones((3, 3), requires_grad=True)
    nodes, _ = parse(draw_graph((w @ w).sum() + big.sum(), names={"w": w, "big": big}))
    labels = set(nodes.values())
    assert "w|(2, 2) float32|value [[1, 0],\\n[0.5, 2]]|grad [[2.5, 4],\\n[3, 4.5]]" in labels
    assert "big|(3, 3) float32" in labels
    nodes, _ = parse(draw_graph(big.sum(), names={"big": big}, max_elements=9, gradients=False))
    assert "big|(3, 3) float32|value [[1, 1, 1],\\n[1, 1, 1],\\n[1, 1, 1]]" in nodes.values()


def test_a_tensor_without_a_graph_is_one_box_and_a_non_tensor_is_refused() -> None:
    nodes, edges = parse(draw_graph(ndgrad.tensor([1, 2])))
    assert list(nodes.values()) == ["(2,) int64|value [1, 2]"] and edges == []
    with pytest.raises(TypeError, match="draw_graph: expected an ndgrad Tensor"):
        draw_graph([1.0, 2.0])


def test_a_freed_graph_says_how_to_keep_it() -> None:
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(ndgrad.GraphError, match="retain_graph=True"):
        draw_graph(loss)


def test_record_labels_escape_graphviz_syntax() -> None:
    x = ndgrad.tensor(1.0, requires_grad=True)
    nodes, _ = parse(draw_graph(x * 2.0, names={'{a|b} <"c">': x}))
    assert '\\{a\\|b\\} \\<\\"c\\"\\>|() float32|value 1|grad 2' in nodes.values()


def test_render_writes_dot_text_and_refuses_unknown_formats(tmp_path: Path) -> None:
    dot = draw_graph(ndgrad.tensor(1.0, requires_grad=True) * 3.0, tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == dot
    with pytest.raises(ValueError, match=r"\.dot, \.svg, \.png, \.pdf"):
        render(dot, tmp_path / "g.jpg")


def test_render_without_graphviz_says_how_to_install_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        render("digraph {}\n", tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.graphviz
@needs_dot
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_rendered_pictures_are_valid_images(tmp_path: Path, suffix: str) -> None:
    x = ndgrad.ones((2, 3))
    w = ndgrad.ones((3, 1), requires_grad=True)
    b = ndgrad.zeros(1, requires_grad=True)
    path = tmp_path / f"layer{suffix}"
    nodes, _ = parse(draw_graph(ndgrad.relu(x @ w + b).sum(), path))
    assert_valid_image(path)
    if suffix == ".svg":  # every op and tensor was drawn
        text = path.read_text()
        assert text.count('class="node"') == len(nodes) == 11
        assert "broadcast to (2, 1)" in text


@pytest.mark.graphviz
@needs_dot
def test_a_dot_failure_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="dot failed on bad.svg"):
        render("digraph { this is not dot", tmp_path / "bad.svg")


def test_fill_colours_tell_the_root_leaves_constants_and_intermediates_apart() -> None:
    w = ndgrad.tensor(2.0, requires_grad=True)
    h = w * 3.0
    dot = draw_graph(h + 1.0, names={"w": w, "h": h})
    fills = {}
    for colour, label in re.findall(r'fillcolor="([^"]+)", label="([^"]*)"', dot):
        fills.setdefault(label.split("|")[0], []).append(colour)
    assert fills["w"] == [graph.LEAF_COLOR] and fills["h"] == ["white"]
    assert fills["() float32"] == [graph.ROOT_COLOR, graph.CONSTANT_COLOR, graph.CONSTANT_COLOR]
    assert fills["Add"] == fills["Multiply"] == [graph.OP_COLOR]


def test_names_must_be_tensors() -> None:
    with pytest.raises(TypeError, match=r"names\['w'\] is a float, not a Tensor"):
        draw_graph(ndgrad.tensor(1.0), names={"w": 1.0})
