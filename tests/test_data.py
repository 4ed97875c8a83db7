import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ndgrad.data import batches, train_test_split

# --- train_test_split ----------------------------------------------------------------------


def test_split_returns_train_and_test_per_array_in_order_and_aligned():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)
    assert x_train.shape == (7, 2) and x_test.shape == (3, 2)  # ceil(2.5) test samples
    assert y_train.shape == (7,) and y_test.shape == (3,)
    np.testing.assert_array_equal(x_train[:, 0] * 5, y_train)
    np.testing.assert_array_equal(x_test[:, 0] * 5, y_test)
    assert sorted(y_train.tolist() + y_test.tolist()) == y.tolist()


def test_split_without_shuffle_takes_the_last_rows_as_test():
    train, test = train_test_split(np.arange(10), test_size=3, shuffle=False)
    assert train.tolist() == list(range(7)) and test.tolist() == [7, 8, 9]


def test_split_is_reproducible_with_a_seed():
    a = train_test_split(np.arange(100), seed=1)
    b = train_test_split(np.arange(100), seed=1)
    c = train_test_split(np.arange(100), seed=2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[0].tolist() != sorted(a[0].tolist())  # shuffled


def test_split_accepts_lists():
    train, test = train_test_split([1, 2, 3, 4], test_size=1, seed=0)
    assert isinstance(train, np.ndarray) and len(train) == 3 and len(test) == 1


def test_stratified_split_keeps_class_shares():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    y_train, y_test = train_test_split(y, test_size=0.2, seed=0, stratify=y)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]


def test_stratified_split_rounds_shares_to_the_exact_total():
    y = np.array(list("aaaaaaabbb"))  # shares of 5 test samples: a 3.5, b 1.5
    y_train, y_test = train_test_split(y, test_size=5, seed=0, stratify=y)
    assert len(y_test) == 5
    assert sorted(y_test.tolist()) in (list("aaaab"), list("aaabb"))


@pytest.mark.parametrize(
    ("test_size", "message"),
    [
        (0, r"test_size=0 must be in \[1, 9\] for 10 samples"),
        (10, r"test_size=10 must be in \[1, 9\]"),
        (0.0, r"test_size=0.0 must be in \(0, 1\)"),
        (1.0, r"test_size=1.0 must be in \(0, 1\)"),
        (-0.5, r"test_size=-0.5"),
        (0.95, r"test_size=0.95 of 10 samples gives 10 test and 0 train"),
    ],
)
def test_split_rejects_bad_test_size(test_size, message):
    with pytest.raises(ValueError, match=message):
        train_test_split(np.arange(10), test_size=test_size)


@pytest.mark.parametrize("test_size", [True, "0.2", None])
def test_split_rejects_test_size_of_wrong_type(test_size):
    with pytest.raises(TypeError, match="test_size must be a float or an int"):
        train_test_split(np.arange(10), test_size=test_size)


def test_split_errors_name_the_bad_values():
    with pytest.raises(ValueError, match=r"different lengths \[3, 4\]"):
        train_test_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        train_test_split()
    with pytest.raises(ValueError, match="array 1 is 0-d"):
        train_test_split(np.zeros(3), np.float32(1))
    with pytest.raises(ValueError, match=r"stratify must have shape \(4,\).*\(3,\)"):
        train_test_split(np.zeros(4), stratify=[0, 1, 0])
    with pytest.raises(ValueError, match="stratify needs shuffle=True"):
        train_test_split(np.zeros(4), stratify=[0, 1, 0, 1], shuffle=False)


@given(
    n=st.integers(2, 300),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
    shuffle=st.booleans(),
)
def test_split_sizes_add_up_and_partition_the_samples(n, fraction, seed, shuffle):
    n_test = math.ceil(fraction * n)
    if not 0 < n_test < n:
        with pytest.raises(ValueError):
            train_test_split(np.arange(n), test_size=fraction)
        return
    train, test = train_test_split(np.arange(n), test_size=fraction, seed=seed, shuffle=shuffle)
    assert len(test) == n_test and len(train) + len(test) == n
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))


@given(
    labels=st.lists(st.integers(0, 4), min_size=2, max_size=200),
    data=st.data(),
)
def test_stratified_split_gives_each_class_its_rounded_share(labels, data):
    y = np.array(labels)
    n = len(y)
    n_test = data.draw(st.integers(1, n - 1), label="n_test")
    idx_train, idx_test = train_test_split(np.arange(n), test_size=n_test, seed=0, stratify=y)
    assert len(idx_test) == n_test
    assert sorted(np.concatenate([idx_train, idx_test]).tolist()) == list(range(n))
    for k in np.unique(y):
        share = n_test * np.sum(y == k) / n
        assert math.floor(share) <= np.sum(y[idx_test] == k) <= math.ceil(share)


# --- batches ---------------------------------------------------------------------------------


def test_batches_in_order_with_a_smaller_last_batch():
    x = np.arange(10)
    y = -np.arange(10)
    got = list(batches(x, y, batch_size=4))
    assert [bx.tolist() for bx, _ in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(np.array_equal(bx, -by) for bx, by in got)
    assert np.shares_memory(got[0][0], x)  # unshuffled batches are views


def test_batches_drop_last():
    got = [b for (b,) in batches(np.arange(10), batch_size=4, drop_last=True)]
    assert [b.tolist() for b in got] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffled_batches_int_seed_repeats_generator_seed_varies():
    def order(seed):
        return np.concatenate(
            [b for (b,) in batches(np.arange(50), batch_size=8, shuffle=True, seed=seed)]
        )

    assert order(3).tolist() == order(3).tolist() != list(range(50))
    rng = np.random.default_rng(0)
    first, second = order(rng), order(rng)
    assert first.tolist() != second.tolist()
    rng = np.random.default_rng(0)
    assert order(rng).tolist() == first.tolist()


def test_batches_errors_are_raised_at_call_time():
    with pytest.raises(ValueError, match="batch_size=0 must be at least 1"):
        batches(np.arange(3), batch_size=0)
    with pytest.raises(ValueError, match="batch_size=-2"):
        batches(np.arange(3), batch_size=-2)
    with pytest.raises(TypeError, match="batch_size must be an int, got 2.5"):
        batches(np.arange(3), batch_size=2.5)
    with pytest.raises(TypeError, match="got True"):
        batches(np.arange(3), batch_size=True)
    with pytest.raises(ValueError, match=r"batches\(\): arrays have different lengths \[3, 2\]"):
        batches(np.arange(3), np.arange(2))


@given(
    n=st.integers(0, 200),
    batch_size=st.integers(1, 64),
    shuffle=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_every_sample_appears_exactly_once_across_batches(n, batch_size, shuffle, seed):
    x = np.arange(n)
    y = np.arange(n) * 2.0
    got = list(batches(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed))
    assert len(got) == math.ceil(n / batch_size)
    assert all(len(bx) == batch_size for bx, _ in got[:-1])
    seen = np.concatenate([bx for bx, _ in got]) if got else np.array([], int)
    assert sorted(seen.tolist()) == list(range(n))
    assert all(np.array_equal(bx * 2.0, by) for bx, by in got)


@given(n=st.integers(0, 200), batch_size=st.integers(1, 64), shuffle=st.booleans())
def test_drop_last_yields_only_full_batches_of_distinct_samples(n, batch_size, shuffle):
    got = [
        b for (b,) in batches(np.arange(n), batch_size=batch_size, shuffle=shuffle, drop_last=True)
    ]
    assert len(got) == n // batch_size
    assert all(len(b) == batch_size for b in got)
    seen = np.concatenate(got).tolist() if got else []
    assert len(set(seen)) == len(seen) == n // batch_size * batch_size
