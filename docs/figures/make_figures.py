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
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = HERE / "figures.json"
#: the stored results of the lab's default grid on full MNIST (see README, "The lab"):
#: ndgrad lab rmsprop --data ../shared/data/mnist --seeds 3 --epochs 5
LAB_RUN = HERE / "lab-rmsprop"
SOURCES = (
    Path(__file__).resolve(),
    ROOT / "ndgrad" / "lab" / "report.py",
    ROOT / "ndgrad" / "lab" / "results.py",
    LAB_RUN / "lab.sqlite",
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


@figure("affine.svg")
def affine(path: Path) -> None:
    """A grid of the plane under W, then + b, then relu (docs/course.md, affine transformations)."""
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
    """SGD with momentum 0 and 0.9, and RMSprop, 60 steps down a long narrow valley."""
    import matplotlib.pyplot as plt

    from ndgrad import optimizers

    runs = [
        ("SGD, learning rate 0.04, momentum 0", optimizers.SGD(0.04), "#1f77b4"),
        ("SGD, learning rate 0.04, momentum 0.9", optimizers.SGD(0.04, momentum=0.9), "#d62728"),
        ("RMSprop, learning rate 0.25", optimizers.RMSprop(0.25), "#2ca02c"),
    ]
    fig, ax = plt.subplots(figsize=(9.0, 3.6))
    _contours(ax, _valley, (-11, 3), (-1.6, 1.6), levels=[0.05, 0.2, 0.5, 1, 2, 3, 4, 5, 6])
    for label, opt, color in runs:
        points = _descend(_valley, [-10.0, 1.0], opt, 60)
        ax.plot(points[:, 0], points[:, 1], "o-", color=color, ms=2.5, lw=1, label=label)
    ax.set_title("60 steps down the valley f(x, y) = 0.05x² + 2y² from (-10, 1)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@figure("backprop_graph.svg")
def backprop_graph(path: Path) -> None:
    """The graph of L = (a*b + c) * f with every value and gradient (docs/course.md)."""
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
    from ndgrad.viz import draw_graph

    x = ndgrad.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    y = ndgrad.tensor([[1.0], [0.0], [1.0]])
    w = ndgrad.tensor([[0.5], [-0.25]], requires_grad=True)
    b = ndgrad.tensor([0.1], requires_grad=True)
    loss = ((ndgrad.relu(x @ w + b) - y) ** 2).mean()
    draw_graph(loss, path, names={"x": x, "y": y, "w": w, "b": b, "loss": loss})


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
