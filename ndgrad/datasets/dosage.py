"""StatQuest's drug-dosage toy problem: only medium dosages are effective.

Dosages lie in [0, 1]; a dosage is effective (label 1) when ``LOW < dosage < HIGH`` and not
effective (0) when too low or too high. No straight line separates the classes, so it needs
a hidden layer.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..data import train_test_split

LOW, HIGH = 1 / 3, 2 / 3


def points() -> tuple[np.ndarray, np.ndarray]:
    """The canonical three points: x = [0, 0.5, 1] and y = [0, 1, 0], both (3, 1) float32."""
    x = np.array([[0.0], [0.5], [1.0]], dtype=np.float32)
    y = np.array([[0.0], [1.0], [0.0]], dtype=np.float32)
    return x, y


def load_data(
    n: int = 100, seed: int = 0, noise: float = 0.0, test_size: float = 0.25
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` from n uniform dosages, all (m, 1) float32.

    Each label is flipped with probability ``noise``. Same seed, same data.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n={n!r} must be an int of at least 2 (train and test samples)")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise={noise!r} must be a probability in [0, 1]")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, 1)).astype(np.float32)
    y = (x > LOW) & (x < HIGH)
    y ^= rng.random((n, 1)) < noise
    x_train, x_test, y_train, y_test = train_test_split(
        x, y.astype(np.float32), test_size=test_size, seed=rng
    )
    return (x_train, y_train), (x_test, y_test)
