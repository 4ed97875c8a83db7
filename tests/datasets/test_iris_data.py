import numpy as np
import pytest

from ndgrad.datasets import iris


def test_full_iris_has_150_samples_50_per_class():
    x, y = iris.load()
    assert x.shape == (150, 4) and x.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert len(iris.feature_names) == 4 and iris.target_names == (
        "setosa",
        "versicolor",
        "virginica",
    )
    # first sample is the classic setosa 5.1, 3.5, 1.4, 0.2; petals tell the classes apart
    np.testing.assert_allclose(x[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    petal_length = [x[y == k, 2].mean() for k in range(3)]
    assert petal_length[0] < 2 < petal_length[1] < 5 < petal_length[2]


def test_split_is_stratified_and_partitions_the_data():
    (x_train, y_train), (x_test, y_test) = iris.load_data()
    assert x_train.shape == (120, 4) and x_test.shape == (30, 4)
    assert x_train.dtype == np.float32 and y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == [40, 40, 40]
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    x, y = iris.load()
    rows = np.concatenate(
        [np.hstack([x_train, y_train[:, None]]), np.hstack([x_test, y_test[:, None]])]
    )
    full = np.hstack([x, y[:, None]])
    np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(full, axis=0))
    assert len(rows) == 150


def test_split_is_fixed_by_seed():
    (a, _), _ = iris.load_data(seed=0)
    (b, _), _ = iris.load_data(seed=0)
    (c, _), _ = iris.load_data(seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_other_test_size():
    (x_train, y_train), (x_test, y_test) = iris.load_data(test_size=0.5)
    assert np.bincount(y_test).tolist() == [25, 25, 25]
    with pytest.raises(ValueError, match="test_size=1.5"):
        iris.load_data(test_size=1.5)
