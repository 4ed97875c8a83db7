"""Fisher's iris flowers: 150 samples, 4 float32 features (cm), int64 labels 0..2."""

from __future__ import annotations

from importlib import resources

import numpy as np

from ..data import train_test_split

feature_names = (
    "sepal length (cm)",
    "sepal width (cm)",
    "petal length (cm)",
    "petal width (cm)",
)
target_names = ("setosa", "versicolor", "virginica")


def load() -> tuple[np.ndarray, np.ndarray]:
    """All 150 samples in file order: features x (150, 4) float32, labels y (150,) int64."""
    with (resources.files(__package__) / "data" / "iris.csv").open() as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1)
    return table[:, :4].astype(np.float32), table[:, 4].astype(np.int64)


def load_data(
    test_size: float = 0.2, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``: a shuffled split, stratified by class.

    x is (n, 4) float32, y (n,) int64; the default gives 120 train / 30 test (10 per class).
    """
    x, y = load()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, seed=seed, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)
