"""Metrics: per-sample functions, running means, and "accuracy" chosen from shapes as Keras."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import metrics

PROBS = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]],
                 dtype="float32")
LABELS = np.array([1, 2, 2, 1])  # hits: yes, no, yes, yes


def test_sparse_categorical_accuracy(backend):
    pred = ndgrad.tensor(PROBS, device=backend)
    got = metrics.sparse_categorical_accuracy(ndgrad.tensor(LABELS, device=backend), pred)
    np.testing.assert_array_equal(got.numpy(), [1, 0, 1, 1])
    got = metrics.sparse_categorical_accuracy(LABELS[:, None].astype("uint8"), pred)
    np.testing.assert_array_equal(got.numpy(), [1, 0, 1, 1])


def test_categorical_accuracy(backend):
    onehot = np.eye(3, dtype="float32")[LABELS]
    got = metrics.categorical_accuracy(onehot, ndgrad.tensor(PROBS, device=backend))
    np.testing.assert_array_equal(got.numpy(), [1, 0, 1, 1])


def test_binary_accuracy_and_threshold(backend):
    pred = ndgrad.tensor([[0.2], [0.6], [0.9], [0.4]], device=backend)
    y = np.array([[0], [1], [0], [1]], dtype="float32")
    np.testing.assert_array_equal(metrics.binary_accuracy(y, pred).numpy(), [1, 1, 0, 0])
    np.testing.assert_array_equal(metrics.binary_accuracy(y, pred, threshold=0.3).numpy(),
                                  [1, 1, 0, 1])
    multi = ndgrad.tensor([[0.9, 0.1], [0.8, 0.7]], device=backend)
    np.testing.assert_allclose(metrics.binary_accuracy([[1, 1], [1, 0]], multi).numpy(),
                               [0.5, 0.5])


def test_labels_without_the_last_axis_are_not_broadcast(backend):
    """Labels (N,) with one output column (N, 1): compared per sample, as Keras."""
    pred = ndgrad.tensor([[0.9], [0.2], [0.6]], device=backend)
    np.testing.assert_array_equal(metrics.binary_accuracy([1.0, 0.0, 0.0], pred).numpy(),
                                  [1, 1, 0])
    np.testing.assert_allclose(metrics.mse([1.0, 0.0, 0.0], pred).numpy(), [0.01, 0.04, 0.36],
                               rtol=1e-5)
    m = metrics.get("accuracy")
    m.update_state(ndgrad.tensor([1, 0, 0], device=backend), pred)
    assert m.result() == pytest.approx(2 / 3)


def test_regression_metrics(backend):
    pred = ndgrad.tensor([[1.0, 2.0], [0.0, -1.0]], device=backend)
    y = np.array([[0.0, 2.0], [1.0, 1.0]], dtype="float32")
    np.testing.assert_allclose(metrics.mae(y, pred).numpy(), [0.5, 1.5])
    np.testing.assert_allclose(metrics.mse(y, pred).numpy(), [0.5, 2.5])


def test_metric_is_a_running_mean_over_samples(backend):
    m = metrics.get("sparse_categorical_accuracy")
    pred = ndgrad.tensor(PROBS, device=backend)
    m.update_state(LABELS[:3], pred[:3])  # 2 of 3
    assert m.result() == pytest.approx(2 / 3)
    m.update_state(LABELS[3:], pred[3:])  # 1 of 1
    assert m.result() == pytest.approx(3 / 4)
    m.reset_state()
    assert m.result() == 0.0 and m.count == 0


@pytest.mark.parametrize("y_true, y_pred, expected", [
    (np.array([1, 2, 2, 1]), PROBS, "sparse_categorical_accuracy"),  # labels (N,)
    (np.array([[1], [2], [2], [1]]), PROBS, "sparse_categorical_accuracy"),  # labels (N, 1)
    (np.eye(3, dtype="float32")[[1, 2, 2, 1]], PROBS, "categorical_accuracy"),  # one-hot
    (np.array([[1.0], [0.0], [1.0], [1.0]], "float32"),
     np.array([[0.9], [0.2], [0.4], [0.6]], "float32"), "binary_accuracy"),  # one output
])
def test_accuracy_picks_the_variant_from_shapes(backend, y_true, y_pred, expected):
    m = metrics.get("accuracy")
    assert m.name == "accuracy"
    m.update_state(ndgrad.tensor(y_true, device=backend), ndgrad.tensor(y_pred, device=backend))
    assert m.fn is getattr(metrics, expected)
    assert m.result() == pytest.approx(0.75)


def test_get_by_name_alias_and_callable():
    assert metrics.get("acc").name == "accuracy"
    assert metrics.get("mae").fn is metrics.mean_absolute_error
    m = metrics.get(metrics.mse)
    assert isinstance(m, metrics.Metric) and m.name == "mean_squared_error"
    assert metrics.get(m) is m
    assert metrics.get("accuracy") is not metrics.get("accuracy")  # fresh state each time


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError, match="unknown metric 'precision'") as info:
        metrics.get("precision")
    for name in ("accuracy", "sparse_categorical_accuracy", "binary_accuracy", "mae"):
        assert name in str(info.value)


def test_metrics_do_not_record_gradients():
    pred = ndgrad.tensor(PROBS, requires_grad=True)
    m = metrics.get("mse")
    m.update_state(np.zeros((4, 3), "float32"), pred)
    assert isinstance(m.result(), float)
    assert pred.grad is None


def test_the_running_total_stays_on_the_device_until_result():
    """update_state reads nothing back (a GPU would wait there); result() reads once."""
    from .backends.test_device_context import HostSyncs

    dev = HostSyncs()
    m = metrics.get("sparse_categorical_accuracy")
    pred = ndgrad.tensor(PROBS, device=dev)
    m.update_state(ndgrad.tensor(LABELS[:3], device=dev), pred[:3])
    m.update_state(ndgrad.tensor(LABELS[3:], device=dev), pred[3:])
    assert dev.transfers == 0
    assert m.total.backend is dev and m.total.dtype == ndgrad.float64 and m.count == 4
    assert m.result() == 0.75 and dev.transfers == 1
    m.reset_state()
    assert m.total is None and m.result() == 0.0 and dev.transfers == 1
