import numpy as np
import pytest

from ndgrad.datasets import dosage


def effective(x: np.ndarray) -> np.ndarray:
    return ((x > 1 / 3) & (x < 2 / 3)).astype(np.float32)


def test_points_are_the_canonical_three():
    x, y = dosage.points()
    assert x.shape == y.shape == (3, 1) and x.dtype == y.dtype == np.float32
    assert x.ravel().tolist() == [0.0, 0.5, 1.0]
    assert y.ravel().tolist() == [0.0, 1.0, 0.0]


def test_clean_data_follows_the_low_medium_high_rule():
    (x_train, y_train), (x_test, y_test) = dosage.load_data(n=200)
    assert x_train.shape == y_train.shape == (150, 1)
    assert x_test.shape == y_test.shape == (50, 1)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert x.dtype == y.dtype == np.float32
        assert x.min() >= 0.0 and x.max() <= 1.0
        np.testing.assert_array_equal(y, effective(x))
    y = np.concatenate([y_train, y_test])
    assert 0.2 < y.mean() < 0.5  # about a third are effective


def test_same_seed_same_data_other_seed_other_data():
    a = dosage.load_data(seed=3)
    b = dosage.load_data(seed=3)
    c = dosage.load_data(seed=4)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    np.testing.assert_array_equal(a[1][1], b[1][1])
    assert not np.array_equal(a[0][0], c[0][0])


def test_noise_flips_about_that_fraction_of_labels():
    (x_train, y_train), (x_test, y_test) = dosage.load_data(n=4000, noise=0.1)
    x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    assert set(np.unique(y)) == {0.0, 1.0}
    assert 0.08 < (y != effective(x)).mean() < 0.12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1}, "n=1 must be an int"),
        ({"n": 2.5}, "n=2.5 must be an int"),
        ({"noise": 1.5}, "noise=1.5 must be a probability"),
        ({"noise": -0.1}, "noise=-0.1 must be a probability"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dosage.load_data(**kwargs)
