"""Draw every picture in docs/ from code: `make figures` (or `python docs/figures/make_figures.py`).

Rendering is deterministic: matplotlib's Agg backend, no date in the files, a fixed SVG hash
salt and fixed seeds. ``figures.json`` records the SHA-256 of every picture and of what draws
them (this script, ``ndgrad/viz``, the lab's report code and its stored run);
``tests/viz/test_figures.py`` fails when they disagree, so changing the drawing code without
re-running this script fails the tests. The
graph pictures need Graphviz's ``dot``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = HERE / "figures.json"
#: the stored results of the lab's default grid on full MNIST (see README, "The lab"):
#: ndgrad lab rmsprop --seeds 3 --epochs 5 (full MNIST from the download cache)
LAB_RUN = HERE / "lab-rmsprop"
SOURCES = (
    Path(__file__).resolve(),
    ROOT / "ndgrad" / "lab" / "report.py",
    ROOT / "ndgrad" / "lab" / "results.py",
    LAB_RUN / "lab.sqlite",
    HERE / "architecture.py",
    ROOT / "tests" / "test_architecture.py",
    *sorted((ROOT / "ndgrad" / "viz").glob("*.py")),
)

#: matplotlib settings for every picture: the SVG ids come from a fixed salt, not a random one
RC = {"svg.hashsalt": "ndgrad", "font.size": 10}
#: picture file name -> the function that draws it to a path
FIGURES: dict[str, Callable[[Path], None]] = {}


def figure(name: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(draw: Callable[[Path], None]) -> Callable[[Path], None]:
        FIGURES[name] = draw
        return draw

    return register


def source_digest() -> str:
    """SHA-256 over the drawing code: this script and every module of ndgrad/viz."""
    h = hashlib.sha256()
    for path in SOURCES:
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        h.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return h.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


# -- the course's pictures ------------------------------------------------------------------


def _cells(ax: Any, values: Any, x0: float, y0: float, color: str, layer: int = 0) -> None:
    """Draw a 2-D array of numbers as a grid of labelled unit squares from (x0, y0) down; a
    higher `layer` is drawn over a lower one (squares and labels)."""
    from matplotlib.patches import Rectangle

    for i, row in enumerate(values):
        for j, v in enumerate(row):
            x, y = x0 + j, y0 - i
            ax.add_patch(Rectangle((x, y), 1, 1, facecolor=color, edgecolor="black", lw=0.8,
                                   zorder=2 * layer + 1))
            ax.text(x + 0.5, y + 0.5, f"{v:g}", ha="center", va="center", fontsize=9,
                    zorder=2 * layer + 2)


@figure("tensor_ranks.svg")
def tensor_ranks(path: Path) -> None:
    """Tensors of rank 0 to 3 as a number, a row, a grid and a cube (course chapter 2)."""
    import matplotlib.pyplot as plt

    import ndgrad

    scalar = ndgrad.tensor(7.0)
    vector = ndgrad.tensor([1.0, 2.0, 3.0])
    matrix = ndgrad.arange(6.0).reshape(2, 3)
    cube = ndgrad.arange(24.0).reshape(2, 3, 4)  # 2 grids of 3x4, drawn back to front
    fig, axes = plt.subplots(1, 4, figsize=(12.0, 3.4), gridspec_kw={"width_ratios": [1, 3, 3, 5]})
    _cells(axes[0], [[scalar.item()]], 0, 0, "#fde0c5")
    _cells(axes[1], [vector.tolist()], 0, 0, "#c6dbef")
    _cells(axes[2], matrix.tolist(), 0, 0, "#c7e9c0")
    for k in range(cube.shape[0]):  # grid k shifted up and right by 0.6 k, behind grid k - 1
        _cells(axes[3], cube[k].tolist(), 0.6 * k, 0.6 * k, ["#dadaeb", "#bcbddc"][k], -k)
    titles = [
        f"rank 0: a number\nshape {scalar.shape}",
        f"rank 1: a row (vector)\nshape {vector.shape}",
        f"rank 2: a grid (matrix)\nshape {matrix.shape}",
        f"rank 3: a cube (grids stacked)\nshape {cube.shape}",
    ]
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.set_xlim(-0.3, [1.3, 3.3, 3.3, 5.0][list(axes).index(ax)])
        ax.set_ylim(-2.3, 2.3)
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)


@figure("broadcasting.svg")
def broadcasting(path: Path) -> None:
    """Broadcasting as stretching: (2, 3) + (3,) and (3, 1) + (1, 3) (course chapter 3)."""
    import matplotlib.pyplot as plt

    import ndgrad

    grid = ndgrad.zeros((2, 3))
    row = ndgrad.tensor([1.0, 2.0, 3.0])
    column = ndgrad.tensor([[0.0], [10.0], [20.0]])
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 2.9))

    def stretched(ax: Any, values: Any, x0: float, y0: float, rows: int, cols: int) -> None:
        """values drawn solid, then faded copies where broadcasting repeats them."""
        from matplotlib.patches import Rectangle

        values = np.asarray(values)
        for i in range(rows):
            for j in range(cols):
                v = values[min(i, values.shape[0] - 1), min(j, values.shape[1] - 1)]
                real = i < values.shape[0] and j < values.shape[1]
                ax.add_patch(Rectangle((x0 + j, y0 - i), 1, 1, lw=0.8,
                                       facecolor="#9ecae1" if real else "#deebf7",
                                       edgecolor="black", linestyle="-" if real else "--"))
                ax.text(x0 + j + 0.5, y0 - i + 0.5, f"{v:g}", ha="center", va="center",
                        fontsize=9, color="black" if real else "0.45")

    def grid_of(ax: Any, values: Any, x0: float, y0: float) -> None:
        _cells(ax, np.asarray(values).tolist(), x0, y0, "#c7e9c0")

    ax = axes[0]
    grid_of(ax, grid.numpy(), 0, 0)
    ax.text(3.5, 0.0, "+", fontsize=16, ha="center", va="center")
    stretched(ax, row.numpy()[None, :], 4, 0, 2, 3)
    ax.text(7.5, 0.0, "=", fontsize=16, ha="center", va="center")
    grid_of(ax, (grid + row).numpy(), 8, 0)
    ax.set_title(f"{grid.shape} + {row.shape}: the row is stretched down (dashed: repeated)",
                 fontsize=10)
    ax = axes[1]
    stretched(ax, column.numpy(), 0, 1, 3, 3)
    ax.text(3.5, 0.0, "+", fontsize=16, ha="center", va="center")
    stretched(ax, row.numpy()[None, :], 4, 1, 3, 3)
    ax.text(7.5, 0.0, "=", fontsize=16, ha="center", va="center")
    grid_of(ax, (column + row).numpy(), 8, 1)
    ax.set_title(f"{tuple(column.shape)} + (1, 3): both are stretched to (3, 3)", fontsize=10)
    for ax in axes:
        ax.set_xlim(-0.3, 11.3)
        ax.set_ylim(-1.3, 2.3)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path)


@figure("loss_curve.svg")
def loss_curve(path: Path) -> None:
    """loss(w) = (w - 3)² + 1, its tangent at w = -1 and six steps of learning rate 0.2
    (course chapter 4)."""
    import matplotlib.pyplot as plt

    import ndgrad

    def loss(w: Any) -> Any:
        return (w - 3.0) ** 2 + 1.0

    w = ndgrad.tensor(-1.0, requires_grad=True)
    points = []
    for _ in range(7):
        w.grad = None
        value = loss(w)
        value.backward()
        points.append((w.item(), value.item(), w.grad.item()))
        with ndgrad.no_grad():
            w -= 0.2 * w.grad
    ws = np.linspace(-2.0, 6.0, 200)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(ws, (ws - 3.0) ** 2 + 1.0, color="0.3", label="loss(w) = (w - 3)² + 1")
    w0, l0, g0 = points[0]
    span = np.linspace(w0 - 1.0, w0 + 1.6, 2)
    ax.plot(span, l0 + g0 * (span - w0), color="#1f77b4", lw=1.5,
            label=f"tangent at w = {w0:g}: slope {g0:g}")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.plot(xs, ys, "o", color="#d62728", ms=5, label="w ← w - 0.2 · slope, 6 steps")
    for (x1, y1, _), (x2, y2, _) in zip(points, points[1:]):
        ax.annotate("", (x2, y2), (x1, y1), arrowprops={"arrowstyle": "->", "color": "#d62728"})
    ax.set_xlabel("w")
    ax.set_ylabel("loss")
    ax.set_ylim(0, 20)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("walking down a loss curve")
    fig.tight_layout()
    _save(fig, path)


@figure("affine.svg")
def affine(path: Path) -> None:
    """A grid of the plane under W, then + b, then relu (course chapter 3, the geometry)."""
    import matplotlib.pyplot as plt

    import ndgrad

    w = ndgrad.tensor([[1.0, 0.5], [-0.5, 1.25]])
    b = ndgrad.tensor([0.75, -0.5])
    ticks = np.linspace(-2.0, 2.0, 9)
    fine = np.linspace(-2.0, 2.0, 41)
    lines = [np.stack([np.full_like(fine, c), fine], 1) for c in ticks]  # vertical lines
    lines += [np.stack([fine, np.full_like(fine, c)], 1) for c in ticks]  # horizontal lines
    stages = [
        ("the plane: x", lambda p: p),
        ("linear: W x", lambda p: p @ w.T),
        ("affine: W x + b", lambda p: p @ w.T + b),
        ("layer: relu(W x + b)", lambda p: ndgrad.relu(p @ w.T + b)),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(13.0, 3.5))
    for ax, (title, f) in zip(axes, stages):
        for i, line in enumerate(lines):
            q = f(ndgrad.tensor(line, dtype="float32")).numpy()
            ax.plot(q[:, 0], q[:, 1], color="#1f77b4" if i < len(ticks) else "#ff7f0e", lw=0.9)
        origin = f(ndgrad.zeros((1, 2))).numpy()[0]
        ax.plot(*origin, "ko", ms=5)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_title(title)
        ax.set_xlim(-4.5, 4.5)
        ax.set_ylim(-4.5, 4.5)
        ax.set_aspect("equal")
    fig.tight_layout()
    _save(fig, path)


def _bowl(p: Any) -> Any:
    return p[0] ** 2 + 3.0 * p[1] ** 2


def _valley(p: Any) -> Any:
    return 0.05 * p[0] ** 2 + 2.0 * p[1] ** 2


def _contours(ax: Any, f: Callable[[Any], Any], xlim: tuple, ylim: tuple, levels: Any) -> None:
    import ndgrad

    xs, ys = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    zs = f(ndgrad.tensor(np.stack([xs, ys]), dtype="float32")).numpy()
    ax.contour(xs, ys, zs, levels=levels, colors="0.7", linewidths=0.8)
    ax.plot(0, 0, "k*", ms=10)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def _descend(f: Callable[[Any], Any], start: Sequence[float], optimizer: Any, steps: int) -> Any:
    """The points visited by `optimizer` minimizing f from `start`, as an (steps+1, 2) array."""
    import ndgrad

    p = ndgrad.tensor(start, requires_grad=True)
    path = [p.tolist()]
    for _ in range(steps):
        p.grad = None
        f(p).backward()
        optimizer.apply([p.grad], [p])
        path.append(p.tolist())
    return np.array(path)


@figure("gradient_descent.svg")
def gradient_descent(path: Path) -> None:
    """Gradient descent on f(x, y) = x² + 3y² from (-4, 3), learning rate 0.1, 15 steps."""
    import matplotlib.pyplot as plt

    from ndgrad import optimizers

    points = _descend(_bowl, [-4.0, 3.0], optimizers.SGD(learning_rate=0.1), 15)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    _contours(ax, _bowl, (-5, 5), (-3.5, 3.5), levels=np.linspace(1, 45, 10))
    ax.plot(points[:, 0], points[:, 1], "o-", color="#d62728", ms=4, label="p ← p - 0.1 ∇f(p)")
    ax.set_title("gradient descent on f(x, y) = x² + 3y²")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@figure("momentum.svg")
def momentum(path: Path) -> None:
    """Down the valley f(x, y) = 0.05x² + 2y² (course chapter 5): at learning rate 0.45 plain
    steps zig-zag and momentum 0.5 damps them; at 0.04 momentum 0.9 goes further but swings."""
    import matplotlib.pyplot as plt

    from ndgrad import optimizers

    panels = [
        (30, [
            ("SGD, learning rate 0.45, momentum 0", optimizers.SGD(0.45), "#1f77b4"),
            ("SGD, learning rate 0.45, momentum 0.5", optimizers.SGD(0.45, momentum=0.5),
             "#d62728"),
        ]),
        (60, [
            ("SGD, learning rate 0.04, momentum 0", optimizers.SGD(0.04), "#1f77b4"),
            ("SGD, learning rate 0.04, momentum 0.9", optimizers.SGD(0.04, momentum=0.9),
             "#d62728"),
            ("RMSprop, learning rate 0.25", optimizers.RMSprop(0.25), "#2ca02c"),
        ]),
    ]
    fig, axes = plt.subplots(2, 1, figsize=(9.0, 6.6))
    for ax, (steps, runs) in zip(axes, panels):
        _contours(ax, _valley, (-11, 3), (-1.6, 1.6), levels=[0.05, 0.2, 0.5, 1, 2, 3, 4, 5, 6])
        for label, opt, color in runs:
            points = _descend(_valley, [-10.0, 1.0], opt, steps)
            ax.plot(points[:, 0], points[:, 1], "o-", color=color, ms=2.5, lw=1, label=label)
        ax.set_title(f"{steps} steps down f(x, y) = 0.05x² + 2y² from (-10, 1)", fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@figure("backprop_graph.svg")
def backprop_graph(path: Path) -> None:
    """The graph of L = (a*b + c) * f with every value and gradient (course chapter 4)."""
    import ndgrad
    from ndgrad.viz import draw_graph

    a = ndgrad.tensor(2.0, requires_grad=True)
    b = ndgrad.tensor(-3.0, requires_grad=True)
    c = ndgrad.tensor(10.0, requires_grad=True)
    f = ndgrad.tensor(-2.0, requires_grad=True)
    e = a * b
    d = e + c
    loss = d * f
    draw_graph(loss, path, names={"a": a, "b": b, "c": c, "f": f, "e": e, "d": d, "L": loss})


@figure("layer_graph.svg")
def layer_graph(path: Path) -> None:
    """The graph of a dense layer's squared error: shapes, broadcasting, values and gradients."""
    import ndgrad
    from ndgrad.viz import draw_graph, render

    x = ndgrad.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    y = ndgrad.tensor([[1.0], [0.0], [1.0]])
    w = ndgrad.tensor([[0.5], [-0.25]], requires_grad=True)
    b = ndgrad.tensor([0.1], requires_grad=True)
    loss = ((ndgrad.relu(x @ w + b) - y) ** 2).mean()
    dot = draw_graph(loss, names={"x": x, "y": y, "w": w, "b": b, "loss": loss})
    # top to bottom rather than draw_graph's left to right: a chain of seven operations is
    # then tall instead of wide, and its labels stay legible at 1,000 pixels across
    if "rankdir=LR" not in dot:
        raise ValueError("layer_graph: draw_graph's DOT text no longer sets rankdir=LR")
    render(dot.replace("rankdir=LR", "rankdir=TB"), path)


# -- training pictures (ndgrad.viz) -------------------------------------------------------


@functools.cache
def _mnist_run() -> tuple[Any, Any, Any, Any]:
    """The book's first network, 5 epochs on the bundled MNIST subset: (history, model, x, y)."""
    import ndgrad
    from ndgrad.datasets import mnist
    from ndgrad.models import book

    ndgrad.manual_seed(0)
    data = mnist.load_subset()
    x_train = ndgrad.tensor(data.x_train, dtype="float32").reshape(-1, 784) / 255
    x_test = ndgrad.tensor(data.x_test, dtype="float32").reshape(-1, 784) / 255
    model = book.mnist_mlp()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train,
        data.y_train,
        epochs=5,
        batch_size=128,
        validation_data=(x_test, data.y_test),
        verbose=0,
    )
    return history, model, x_test, data.y_test


@figure("history.svg")
def history(path: Path) -> None:
    """plot_history of the first MNIST network on the bundled subset."""
    from ndgrad.viz import plot_history

    _save(plot_history(_mnist_run()[0]), path)


@figure("digits.svg")
def digits(path: Path) -> None:
    """show_images: the first 40 test digits with the first network's predictions."""
    from ndgrad.viz import show_images

    _, model, x_test, y_test = _mnist_run()
    n = 40
    _save(show_images(x_test[:n], y_test[:n], model.predict(x_test[:n])), path)


@figure("minibatch_loss.svg")
def minibatch_loss(path: Path) -> None:
    """Mini-batch SGD as course chapter 5 runs it: each batch's loss, and the loss on all 2,000
    training digits after each epoch."""
    import matplotlib.pyplot as plt

    import ndgrad
    from ndgrad import Sequential, layers, losses, optimizers
    from ndgrad.datasets import mnist

    data = mnist.load_subset()
    x = ndgrad.tensor(data.x_train[:2000].reshape(-1, 784).astype("float32") / 255)
    y = ndgrad.tensor(data.y_train[:2000])
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((784,)), layers.Dense(64, activation="relu"),
                        layers.Dense(10, activation="softmax")])
    sgd = optimizers.SGD(learning_rate=0.1)
    batch_losses, epoch_losses = [], []
    for _ in range(3):
        order = ndgrad.permutation(len(x))
        xs, ys = x[order], y[order]
        for start in range(0, len(x), 32):
            with ndgrad.GradientTape() as tape:
                predicted = model(xs[start : start + 32])
                loss = losses.sparse_categorical_crossentropy(ys[start : start + 32], predicted)
                loss = loss.mean()
            sgd.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
            batch_losses.append(loss.item())
        epoch_losses.append(losses.sparse_categorical_crossentropy(y, model(x)).mean().item())
    per_epoch = len(batch_losses) // 3
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    ax.plot(range(1, len(batch_losses) + 1), batch_losses, color="#9ecae1", lw=1,
            label="loss of each batch of 32")
    ends = [per_epoch * (e + 1) for e in range(3)]
    ax.plot(ends, epoch_losses, "o-", color="#d62728", label="loss on all 2,000 digits")
    for e in ends[:-1]:
        ax.axvline(e + 0.5, color="0.7", lw=0.8, linestyle=":")
    ax.set_xlabel(f"step (one batch each; {per_epoch} steps per epoch)")
    ax.set_ylabel("cross-entropy")
    ax.set_title("stochastic gradient descent: 3 epochs of mini-batches")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@figure("dosage_boundary.svg")
def dosage_boundary(path: Path) -> None:
    """plot_decision_boundary of examples/dosage.py's network (one feature)."""
    import ndgrad
    from ndgrad import Sequential, layers
    from ndgrad.datasets import dosage
    from ndgrad.viz import plot_decision_boundary

    ndgrad.manual_seed(0)
    (x_train, y_train), _ = dosage.load_data()
    model = Sequential(
        [layers.Input((1,)), layers.Dense(8, activation="tanh"), layers.Dense(1, "sigmoid")]
    )
    model.compile(optimizer=ndgrad.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy")
    model.fit(x_train, y_train, epochs=300, batch_size=len(x_train), verbose=0)
    fig = plot_decision_boundary(
        model,
        x_train,
        y_train,
        feature_names=["dosage"],
        class_names=["not effective", "effective"],
    )
    fig.axes[0].set_title("drug dosage: Dense(8, tanh), Dense(1, sigmoid)")
    _save(fig, path)


@figure("iris_boundary.svg")
def iris_boundary(path: Path) -> None:
    """plot_decision_boundary of a small network on iris's petal length and width."""
    import ndgrad
    from ndgrad import Sequential, layers
    from ndgrad.datasets import iris
    from ndgrad.viz import plot_decision_boundary

    ndgrad.manual_seed(0)
    x, y = iris.load()
    petals = x[:, 2:4]
    model = Sequential(
        [layers.Input((2,)), layers.Dense(16, activation="relu"), layers.Dense(3, "softmax")]
    )
    model.compile(
        optimizer=ndgrad.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(petals, y, epochs=100, batch_size=16, verbose=0)
    fig = plot_decision_boundary(
        model,
        petals,
        y,
        feature_names=iris.feature_names[2:4],
        class_names=iris.target_names,
    )
    fig.axes[0].set_title("iris from two petal measurements")
    _save(fig, path)


@figure("lab_heatmap.svg")
def lab_heatmap(path: Path) -> None:
    """The lab's heatmap: final validation accuracy over learning rate x momentum."""
    from ndgrad.lab import SweepResult

    SweepResult.load(LAB_RUN).heatmap(path)


@figure("lab_curves.svg")
def lab_curves(path: Path) -> None:
    """The lab's learning curves: training and validation loss and accuracy per epoch."""
    from ndgrad.lab import SweepResult

    SweepResult.load(LAB_RUN).curves(path)


# -- the package itself ---------------------------------------------------------------------


@figure("architecture.svg")
def architecture(path: Path) -> None:
    """The layers of the package from its import graph (docs/architecture.md)."""
    spec = importlib.util.spec_from_file_location("architecture", HERE / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.draw(path)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(RC)
    digests = {}
    for name, draw in FIGURES.items():
        draw(HERE / name)
        digests[name] = file_digest(HERE / name)
        print(f"wrote docs/figures/{name}")
    manifest = {"sources": source_digest(), "figures": digests}
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
