"""plot_history, show_images and plot_decision_boundary: what they draw, and their errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.colors import to_hex

import ndgrad
from ndgrad import Sequential, layers
from ndgrad.viz import plot_decision_boundary, plot_history, show_images
from ndgrad.viz.plots import MISTAKE_COLOR, PALETTE


def test_plot_history_of_a_fit_draws_training_and_validation_per_quantity() -> None:
    ndgrad.manual_seed(0)
    x, y = ndgrad.rand(16, 2), ndgrad.randint(0, 2, (16,))
    model = Sequential([layers.Input((2,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=8, validation_data=(x, y), verbose=0)
    fig = plot_history(history)
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("loss", "accuracy")
    train, val = loss_ax.get_lines()
    assert (train.get_label(), val.get_label()) == ("training", "validation")
    assert list(train.get_xdata()) == [1, 2, 3]
    assert list(train.get_ydata()) == history.history["loss"]
    assert list(val.get_ydata()) == history.history["val_loss"]
    assert list(acc_ax.get_lines()[1].get_ydata()) == history.history["val_accuracy"]


def test_plot_history_takes_a_dict_and_refuses_what_is_not_a_history() -> None:
    fig = plot_history({"val_loss": [3.0, 2.0]})  # validation only
    [line] = fig.axes[0].get_lines()
    assert fig.axes[0].get_title() == "loss" and line.get_label() == "validation"
    with pytest.raises(TypeError, match="the History that fit returns"):
        plot_history([0.5, 0.4])
    with pytest.raises(ValueError, match="no epochs"):
        plot_history({"loss": []})


def test_show_images_titles_labels_and_marks_mistakes() -> None:
    x = ndgrad.zeros((5, 784))  # flattened 28x28 images
    scores = np.eye(3)[[0, 1, 2, 2, 0]]  # predicted classes 0 1 2 2 0
    fig = show_images(x, labels=[0, 1, 1, 2, 2], predictions=scores, columns=3,
                      class_names=["zero", "one", "two"])  # fmt: skip
    axes = fig.axes
    assert len(axes) == 6 and not axes[5].axison  # a 2x3 grid, the last cell blank
    assert axes[0].get_images()[0].get_array().shape == (28, 28)
    titles = [ax.get_title() for ax in axes[:5]]
    assert titles == ["zero", "one", "two (true one)", "two", "zero (true two)"]
    wrong = [to_hex(ax.title.get_color()) == MISTAKE_COLOR for ax in axes[:5]]
    assert wrong == [False, False, True, False, True]
    framed = [to_hex(ax.spines["left"].get_edgecolor()) == MISTAKE_COLOR for ax in axes[:5]]
    assert framed == wrong
    assert fig._suptitle.get_text() == "predictions; 2 of 5 wrong (in red)"


def test_show_images_accepts_channels_and_labels_alone() -> None:
    fig = show_images(np.zeros((2, 8, 8, 1)), labels=np.array([[3], [4]]))
    assert [ax.get_title() for ax in fig.axes] == ["3", "4"]
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8)
    fig = show_images(np.zeros((2, 8, 8, 3)))
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8, 3)
    assert fig.axes[0].get_title() == ""


@pytest.mark.parametrize(
    ("x", "kwargs", "error", "match"),
    [
        (np.zeros((2, 10)), {}, ndgrad.ShapeError, r"flattened square images .*shape=\(2, 10\)"),
        (np.zeros((2, 4, 4, 2)), {}, ndgrad.ShapeError, r"Received shape=\(2, 4, 4, 2\)"),
        (np.zeros((2, 4, 4)), {"labels": [1, 2, 3]}, ndgrad.ShapeError, "2 samples but 3"),
        (np.zeros((0, 4, 4)), {}, ValueError, "no images"),
        (np.zeros((2, 4, 4)), {"columns": 0}, ValueError, "columns must be at least 1"),
    ],
)
def test_show_images_errors(x, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        show_images(x, **kwargs)


def _diagonal_classifier() -> Sequential:
    """Two features in, softmax over them: class 1 exactly where x1 > x0."""
    model = Sequential([layers.Input((2,)), layers.Dense(2, activation="softmax")])
    model.set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


def test_decision_boundary_in_two_dimensions_follows_the_model() -> None:
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 2.0]], np.float32)
    y = np.array([1, 0, 1, 0])
    fig = plot_decision_boundary(_diagonal_classifier(), x, y, resolution=50)
    ax = fig.axes[0]
    regions = ax.collections[0]  # the filled contour of the predicted classes
    spacing = (3.0 + 0.48) / 49
    below, above = (p.vertices[:, 1] - p.vertices[:, 0] for p in regions.get_paths())
    assert below.max() <= spacing and above.min() >= -spacing  # class 0 below x1 = x0, 1 above
    assert below.min() < -3 and above.max() > 3  # each fills its side of the plane
    points = [c for c in ax.collections[1:] if c.get_offsets().shape[0]]
    assert [to_hex(c.get_facecolor()[0]) for c in points] == list(PALETTE[:2])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]


def test_decision_boundary_of_a_probability_draws_its_half_line() -> None:
    x = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    fig = plot_decision_boundary(lambda t: ndgrad.sigmoid(t[:, :1] - t[:, 1:]), x, [0.0, 1.0])
    half = fig.axes[0].collections[1]  # the p = 0.5 contour: x0 = x1
    vertices = np.concatenate([p.vertices for p in half.get_paths()])
    assert len(vertices) > 10 and np.abs(vertices[:, 0] - vertices[:, 1]).max() < 1e-2


def test_decision_boundary_with_one_feature_shades_bands_and_draws_the_probability() -> None:
    x = np.linspace(0, 1, 11, dtype=np.float32)[:, None]
    y = ((x > 0.3) & (x < 0.7)).astype(np.float32)

    def bump(t):  # p > 0.5 between 0.3 and 0.7
        return ndgrad.sigmoid(40 * (0.04 - (t - 0.5) ** 2))

    fig = plot_decision_boundary(bump, x, y, feature_names=["dosage"],
                                 class_names=["no", "yes"])  # fmt: skip
    ax = fig.axes[0]
    [curve] = ax.get_lines()
    expected = bump(ndgrad.tensor(curve.get_xdata()[:, None])).numpy()[:, 0]
    assert np.allclose(curve.get_ydata(), expected)
    bands = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert len(bands) == 3
    assert abs(bands[1][0] - 0.3) < 0.01 and abs(bands[1][1] - 0.7) < 0.01
    assert ax.get_xlabel() == "dosage" and ax.get_ylabel() == "class"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["predicted p(class 1)", "no", "yes"]


def test_decision_boundary_draws_into_a_given_axes() -> None:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    x = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    assert plot_decision_boundary(_diagonal_classifier(), x, [1, 0], ax=right) is fig
    assert not left.collections and right.collections


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros((4, 4)), np.zeros(4), r"pick two columns .* shape=\(4, 4\)"),
        (np.zeros(4), np.zeros(4), r"\(n, 1\) or \(n, 2\)"),
        (np.zeros((4, 2)), np.zeros(3), "4 samples but y has 3"),
    ],
)
def test_decision_boundary_errors(x, y, match) -> None:
    with pytest.raises(ndgrad.ShapeError, match=match):
        plot_decision_boundary(_diagonal_classifier(), x, y)


@pytest.mark.parametrize(
    ("draw", "args"),
    [
        (plot_history, ({"loss": [1.0]},)),
        (show_images, (np.zeros((1, 4, 4)),)),
        (plot_decision_boundary, (_diagonal_classifier(), np.zeros((2, 2)), [0, 1])),
    ],
)
def test_without_matplotlib_the_error_names_the_extra(monkeypatch, draw, args) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'ndgrad\[viz\]'"):
        draw(*args)
