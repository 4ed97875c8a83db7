"""Host-side helpers for numpy arrays: a train/test split and minibatch iteration."""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

Seed = int | np.random.Generator | None


def _as_arrays(arrays: tuple[ArrayLike, ...], caller: str) -> tuple[list[np.ndarray], int]:
    """Convert to arrays and return them with their common length (size of axis 0)."""
    if not arrays:
        raise ValueError(f"{caller}() needs at least one array")
    out = [np.asarray(a) for a in arrays]
    for i, a in enumerate(out):
        if a.ndim == 0:
            raise ValueError(f"{caller}(): array {i} is 0-d (shape ()); it needs a first axis")
    lengths = [len(a) for a in out]
    if len(set(lengths)) > 1:
        raise ValueError(f"{caller}(): arrays have different lengths {lengths}")
    return out, lengths[0]


def _test_count(test_size: float | int, n: int) -> int:
    """Number of test samples: a fraction in (0, 1) of n (rounded up) or an int in [1, n - 1]."""
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a float or an int, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 0 < n_test < n:
            raise ValueError(f"test_size={n_test} must be in [1, {n - 1}] for {n} samples")
        return n_test
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size={test_size} must be in (0, 1) as a fraction")
    n_test = int(np.ceil(test_size * n))
    if not 0 < n_test < n:
        raise ValueError(
            f"test_size={test_size} of {n} samples gives {n_test} test and {n - n_test} "
            "train samples; both need at least one"
        )
    return n_test


def _stratified_test_mask(labels: np.ndarray, order: np.ndarray, n_test: int) -> np.ndarray:
    """Boolean mask (n,) picking n_test samples, each class in proportion to its size.

    In each class the samples that come first in `order` go to test; class shares are
    rounded by largest remainder so they add up to exactly n_test.
    """
    _, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(y)
    share, remainder = np.divmod(n_test * counts, len(y))
    share[np.argsort(-remainder, kind="stable")[: n_test - share.sum()]] += 1
    grouped = order[np.argsort(y[order], kind="stable")]  # class by class, `order` within
    rank = np.arange(len(y)) - np.repeat(np.cumsum(counts) - counts, counts)
    mask = np.zeros(len(y), dtype=bool)
    mask[grouped[rank < np.repeat(share, counts)]] = True
    return mask


def train_test_split(
    *arrays: ArrayLike,
    test_size: float | int = 0.25,
    seed: Seed = None,
    shuffle: bool = True,
    stratify: ArrayLike | None = None,
) -> list[np.ndarray]:
    """Split arrays of equal length n into random train and test parts, like scikit-learn.

    Returns ``[a_train, a_test, b_train, b_test, ...]``: for each input array (n, ...) its
    (n_train, ...) and (n_test, ...) rows. ``test_size`` is a fraction of n (rounded up) or a
    count. ``stratify`` (n,) labels keep each class's share in both parts (needs shuffle).
    With ``shuffle=False`` the last n_test rows are the test part.
    """
    arrs, n = _as_arrays(arrays, "train_test_split")
    n_test = _test_count(test_size, n)
    if stratify is not None and not shuffle:
        raise ValueError("stratify needs shuffle=True")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if stratify is None:
        is_test = np.zeros(n, dtype=bool)
        is_test[order[n - n_test :]] = True
    else:
        labels = np.asarray(stratify)
        if labels.shape != (n,):
            raise ValueError(f"stratify must have shape ({n},) like the arrays, got {labels.shape}")
        is_test = _stratified_test_mask(labels, order, n_test)
    train, test = order[~is_test[order]], order[is_test[order]]
    return [part for a in arrs for part in (a[train], a[test])]


def batches(
    *arrays: ArrayLike,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: Seed = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Yield tuples of matching minibatches (batch_size, ...) of arrays of equal length n.

    The last batch is smaller when batch_size does not divide n, unless ``drop_last``. With
    ``shuffle`` one permutation is drawn per call: pass a ``np.random.Generator`` as seed to
    get a new, reproducible order each epoch (an int seed repeats the same order).
    """
    arrs, n = _as_arrays(arrays, "batches")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    order = np.random.default_rng(seed).permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    return _iterate(arrs, order, int(batch_size), stop)


def _iterate(
    arrs: list[np.ndarray], order: np.ndarray | None, batch_size: int, stop: int
) -> Iterator[tuple[np.ndarray, ...]]:
    for start in range(0, stop, batch_size):
        if order is None:  # plain slices: views, no copy
            yield tuple(a[start : start + batch_size] for a in arrs)
        else:
            rows = order[start : start + batch_size]
            yield tuple(a[rows] for a in arrs)
