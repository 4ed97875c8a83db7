"""The package's import graph runs one way: no circle through the core.

The graph is read from the source (every ``import``, at the top of a module or inside a
function, except under ``if TYPE_CHECKING:``), one node per module; importing ``a.b.c`` also
runs the ``__init__`` of ``a.b``, so that is an arrow too. A circle is a strongly connected
component of more than one module. The core (`_tensor`, `autograd`, `ops`, `creation`) may be
in none; outside it, `ALLOWED` lists the circles that exist today, so a new one fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ndgrad

ROOT = Path(ndgrad.__file__).parent
CORE = ("ndgrad._tensor", "ndgrad.autograd", "ndgrad.ops", "ndgrad.creation")
#: circles outside the core that exist today (each a set of modules); the core has none
ALLOWED: list[frozenset[str]] = [
    frozenset(
        {"ndgrad.models", "ndgrad.models.model", "ndgrad.models.sequential", "ndgrad.saving"}
    ),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (with the packages those run)."""
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = _package_of(name, path)
        targets: list[str] = []
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets.append(base)
            targets += [f"{base}.{alias.name}" for alias in node.names]
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # a.b.c runs a, a.b and a.b.c
                t = ".".join(parts[:i])
                if t in modules and t not in own:
                    edges[name].add(t)
    return edges


def circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.add(m)
                    if m == node:
                        break
                if len(component) > 1:
                    out.append(frozenset(component))
    return out


def _in_core(module: str) -> bool:
    return any(module == c or module.startswith(c + ".") for c in CORE)


def test_the_graph_sees_the_arrows_it_should() -> None:
    edges = graph()
    assert "ndgrad.autograd.op" in edges["ndgrad.ops.elementwise"]
    assert "ndgrad.autograd" in edges["ndgrad.ops.elementwise"]  # the package it runs
    assert "ndgrad._tensor" in edges["ndgrad.autograd.op"]
    assert "ndgrad.ops.methods" in edges["ndgrad.ops"]
    # and would see a circle: a made-up arrow back from the Tensor to the ops
    edges["ndgrad._tensor"].add("ndgrad.ops")
    assert any("ndgrad._tensor" in c and "ndgrad.ops" in c for c in circles(edges))


def test_the_core_imports_one_way() -> None:
    """_tensor <- autograd <- ops, creation beside the Tensor: no module of the core is in a
    circle (this includes imports inside functions)."""
    core = [sorted(c) for c in circles(graph()) if any(_in_core(m) for m in c)]
    assert core == []


def test_the_tensor_imports_no_op_and_no_autograd() -> None:
    mine = graph()["ndgrad._tensor"]
    assert not {m for m in mine if m.startswith(("ndgrad.ops", "ndgrad.autograd"))}


def test_no_new_circle_outside_the_core() -> None:
    found = set(circles(graph()))
    assert found <= set(ALLOWED), sorted(sorted(c) for c in found - set(ALLOWED))


def _sources(outside: str = "") -> dict[str, str]:
    return {
        name: path.read_text()
        for name, path in _modules().items()
        if not (outside and (name == outside or name.startswith(outside + ".")))
    }


def test_one_constructor_and_one_version_bump() -> None:
    """Tensors from backend arrays are made by `_tensor.wrap`; versions are bumped by
    `_tensor.bump_version`: nowhere else builds a Tensor by hand or touches the counter."""
    for name, text in _sources().items():
        if name == "ndgrad._tensor":
            continue
        assert "Tensor.__new__" not in text, name
        assert "_version[0] +=" not in text and "_version[0] =" not in text, name


def _private_backend_names() -> set[str]:
    names = set()
    for name, text in _sources().items():
        if not name.startswith("ndgrad.backends"):
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Backend"):
                for item in ast.walk(node):
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("_"):
                        names.add(item.name)
                    if (
                        isinstance(item, ast.Attribute)
                        and isinstance(item.value, ast.Name)
                        and item.value.id == "self"
                        and isinstance(item.ctx, ast.Store)
                        and item.attr.startswith("_")
                    ):
                        names.add(item.attr)
    return {n for n in names if not (n.startswith("__") and n.endswith("__"))}


def test_no_module_outside_backends_reads_a_backends_private_attributes() -> None:
    """(``x.backend._to_native`` ...: the backends offer public methods and tables instead.)"""
    private = _private_backend_names()
    assert {"_native_device", "_native_dtype_named"} <= private
    for name, text in _sources(outside="ndgrad.backends").items():
        used = {
            node.attr
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.Attribute)
            and node.attr in private
            and "backend" in ast.unparse(node.value).lower()
        }
        assert not used, (name, sorted(used))


#: ops modules in the order ops/__init__ states: each imports only those before it
OPS_ORDER = [
    "logits",
    "elementwise",
    "shape",
    "reduce",
    "linalg",
    "index",
    "convert",
    "nn",
    "fused",
    "windows",
    "pooling",
    "winograd",
    "conv",
    "methods",
]


def test_ops_modules_import_only_the_ones_before_them() -> None:
    edges = graph()
    ops_modules = {m.rpartition(".")[2] for m in edges if m.startswith("ndgrad.ops.")}
    assert ops_modules == set(OPS_ORDER)
    for i, name in enumerate(OPS_ORDER):
        imported = {
            m.rpartition(".")[2] for m in edges[f"ndgrad.ops.{name}"] if m.startswith("ndgrad.ops.")
        }
        assert imported <= set(OPS_ORDER[:i]), (name, sorted(imported - set(OPS_ORDER[:i])))


def test_the_picture_in_the_docs_is_the_current_graph(tmp_path: Path) -> None:
    """docs/figures/architecture.svg is what docs/figures/architecture.py draws from today's
    imports: a change to the import graph without `make figures` fails here."""
    import importlib.util

    import matplotlib

    figures = ROOT.parent / "docs" / "figures"
    spec = importlib.util.spec_from_file_location("make_figures", figures / "make_figures.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)  # type: ignore[union-attr]
    matplotlib.use("Agg")
    with matplotlib.rc_context(script.RC):
        script.FIGURES["architecture.svg"](tmp_path / "architecture.svg")
    drawn = (tmp_path / "architecture.svg").read_bytes()
    assert drawn == (figures / "architecture.svg").read_bytes(), "run `make figures`"
