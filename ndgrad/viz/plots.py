"""Training pictures drawn with matplotlib: learning curves, image grids, decision boundaries.

Each function takes tensors or NumPy arrays and returns the matplotlib `Figure` (show it with
``plt.show()`` or save it with ``fig.savefig(path)``). matplotlib is imported on first use; when
it is missing the error names the extra that installs it: ``pip install 'ndgrad[viz]'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._tensor import Tensor
from ..autograd import no_grad
from ..creation import tensor
from ..errors import ShapeError
from ..models import Model

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: one colour per class (matplotlib's tab10), cycled beyond ten classes
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
MISTAKE_COLOR = "#d62728"


def _pyplot(what: str) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            f"{what} draws with matplotlib, an optional dependency that is not installed; "
            "install it with: pip install 'ndgrad[viz]'"
        ) from e
    return plt


def _host(a: Any) -> np.ndarray:
    return a.numpy() if isinstance(a, Tensor) else np.asarray(a)


def plot_history(history: Any) -> Figure:
    """Loss and metric curves of a `fit`: one panel per quantity, training and validation.

    `history` is what `fit` returns (a `History`) or its dict ``{"loss": [...], "val_loss":
    [...], ...}``; the x axis counts epochs from 1.

    >>> fig = plot_history({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6],
    ...                     "accuracy": [0.7, 0.8, 0.9]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(
            "plot_history: expected the History that fit returns or a dict of per-epoch lists. "
            f"Received {type(history).__name__}"
        )
    if not any(len(v) for v in logs.values()):
        raise ValueError("plot_history: the history has no epochs; fit for at least one epoch")
    plt = _pyplot("plot_history")
    from matplotlib.ticker import MaxNLocator

    names = list(dict.fromkeys(k.removeprefix("val_") for k in logs))
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label, style in ((name, "training", "o-"), (f"val_{name}", "validation", "s--")):
            values = logs.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=label, markersize=4)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _as_images(x: Any) -> np.ndarray:
    images = _host(x)
    if images.ndim == 2:  # flattened square images, e.g. MNIST's (n, 784)
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ShapeError(
                "show_images: a 2-D x must hold flattened square images (n, side*side). "
                f"Received shape={images.shape}"
            )
        return images.reshape(len(images), side, side)
    if images.ndim == 4 and images.shape[-1] == 1:
        return images[..., 0]
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (3, 4)):
        return images
    raise ShapeError(
        "show_images: expected images of shape (n, height, width), (n, height, width, 1|3|4) "
        f"or flattened (n, side*side). Received shape={images.shape}"
    )


def _as_classes(a: Any, n: int, what: str) -> np.ndarray:
    """Class indices from labels or predictions: (n,) indices, (n, k) scores, (n, 1) p(1)."""
    a = _host(a)
    if a.ndim == 2 and a.shape[1] > 1:
        a = a.argmax(axis=1)
    elif a.ndim == 2 and a.dtype.kind == "f":
        a = (a[:, 0] > 0.5).astype(np.int64)
    a = a.reshape(-1)
    if len(a) != n:
        raise ShapeError(f"{what}: {n} samples but {len(a)} {what.split('.')[-1]}")
    return a.astype(np.int64)


def show_images(
    x: Any,
    labels: Any = None,
    predictions: Any = None,
    *,
    columns: int = 10,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """A grid of images titled with their labels; wrong predictions in red, framed in red.

    `x` is (n, height, width), (n, height, width, channels) or flattened (n, side*side).
    `labels` and `predictions` are class indices, or per-class scores (predictions argmaxed).

    >>> import ndgrad
    >>> fig = show_images(ndgrad.zeros((3, 28, 28)), labels=[1, 2, 3], predictions=[1, 2, 0])
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['1', '2', '0 (true 3)']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    images = _as_images(x)
    n = len(images)
    if n == 0:
        raise ValueError("show_images: x holds no images")
    if columns < 1:
        raise ValueError(f"show_images: columns must be at least 1. Received columns={columns}")
    truth = None if labels is None else _as_classes(labels, n, "show_images: labels")
    guess = None if predictions is None else _as_classes(predictions, n, "show_images: predictions")

    def name(c: int) -> str:
        return class_names[c] if class_names is not None else str(c)

    plt = _pyplot("show_images")
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.4 * rows), squeeze=False)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.axis("off")
    mistakes = 0
    for i, ax in enumerate(flat[:n]):
        ax.imshow(images[i], cmap="binary" if images[i].ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        if truth is not None and guess is not None and guess[i] != truth[i]:
            mistakes += 1
            ax.set_title(f"{name(guess[i])} (true {name(truth[i])})", color=MISTAKE_COLOR)
            for spine in ax.spines.values():
                spine.set_color(MISTAKE_COLOR)
                spine.set_linewidth(2.5)
        elif guess is not None:
            ax.set_title(name(guess[i]))
        elif truth is not None:
            ax.set_title(name(truth[i]))
    if truth is not None and guess is not None:
        fig.suptitle(f"predictions; {mistakes} of {n} wrong (in red)")
    fig.tight_layout()
    return fig


def _predict_classes(model: Any, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted classes on grid points, and p(class 1) for a one-output (sigmoid) model."""
    if isinstance(model, Model):
        out = model.predict(grid, batch_size=len(grid))
    else:
        with no_grad():
            out = model(tensor(grid))
    p = _host(out)
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1), None
    p = p.reshape(len(grid))
    return (p > 0.5).astype(np.int64), p


def plot_decision_boundary(
    model: Model | Callable[[Tensor], Tensor],
    x: Any,
    y: Any,
    *,
    ax: Axes | None = None,
    resolution: int = 200,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The classes a model predicts over the plane (or line) of its 1 or 2 features, with data.

    `x` is (n, 2) or (n, 1); `y` holds class indices (or 0/1 floats). The model's output is
    per-class scores (argmax) or one probability of class 1 (sigmoid), whose 0.5 line is drawn.
    With one feature the regions are bands along the axis and the probability is a curve.

    >>> import ndgrad
    >>> x = [[0.0, 1.0], [1.0, 0.0], [2.0, 3.0]]
    >>> fig = plot_decision_boundary(lambda t: ndgrad.sigmoid(t[:, 1:] - t[:, :1]), x, [1, 0, 1])
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['class 0', 'class 1']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    pts = _host(x).astype(np.float32)
    if pts.ndim != 2 or pts.shape[1] not in (1, 2):
        raise ShapeError(
            "plot_decision_boundary: x must be (n, 1) or (n, 2), one or two features; pick two "
            f"columns (e.g. x[:, 2:4]) and train on them. Received shape={pts.shape}"
        )
    labels = np.rint(_host(y).reshape(-1)).astype(np.int64)
    if len(labels) != len(pts):
        raise ShapeError(
            f"plot_decision_boundary: x has {len(pts)} samples but y has {len(labels)}"
        )
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.where(hi > lo, 0.08 * (hi - lo), 0.5)
    axes = [np.linspace(lo[j] - pad[j], hi[j] + pad[j], resolution) for j in range(pts.shape[1])]
    if len(axes) == 2:
        gx, gy = np.meshgrid(*axes)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    else:
        grid = axes[0][:, None].astype(np.float32)
    classes, prob = _predict_classes(model, grid)
    k = int(max(labels.max(initial=0), classes.max(initial=0))) + 1
    colors = [PALETTE[c % len(PALETTE)] for c in range(k)]

    def name(c: int) -> str:
        return class_names[c] if class_names is not None else f"class {c}"

    plt = _pyplot("plot_decision_boundary")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 4.0))
    else:
        fig = ax.figure
    if len(axes) == 2:
        shape = gx.shape
        ax.contourf(gx, gy, classes.reshape(shape), levels=np.arange(k + 1) - 0.5,
                    colors=colors, alpha=0.25)  # fmt: skip
        if prob is not None:
            ax.contour(gx, gy, prob.reshape(shape), levels=[0.5], colors="k", linewidths=1)
        for c in range(k):
            m = labels == c
            if m.any():
                ax.scatter(pts[m, 0], pts[m, 1], color=colors[c], edgecolors="k",
                           linewidths=0.5, s=28, label=name(c))  # fmt: skip
    else:
        g = axes[0]
        edges = np.flatnonzero(np.diff(classes)) + 1
        for start, stop in zip(np.r_[0, edges], np.r_[edges, len(g)]):
            left = g[start] if start == 0 else (g[start - 1] + g[start]) / 2
            right = g[stop - 1] if stop == len(g) else (g[stop - 1] + g[stop]) / 2
            ax.axvspan(left, right, color=colors[classes[start]], alpha=0.2, lw=0)
        if prob is not None:
            ax.plot(g, prob, color="k", lw=1.5, label="predicted p(class 1)")
        for c in range(k):
            m = labels == c
            if m.any():
                ax.scatter(pts[m, 0], labels[m], color=colors[c], edgecolors="k",
                           linewidths=0.5, s=28, label=name(c), zorder=3)  # fmt: skip
        ax.set_yticks(range(k))
    names = feature_names or [f"feature {j}" for j in range(pts.shape[1])]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1] if len(axes) == 2 else "class")
    ax.legend(fontsize=8, loc="best")
    return fig
