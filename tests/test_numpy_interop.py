"""NumPy functions on tensors: ndgrad ops keeping the graph, or a refusal saying what to do."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad


def _x(requires_grad: bool = True) -> ndgrad.Tensor:
    return ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=requires_grad)


@pytest.mark.parametrize("f, expected_grad", [
    (lambda x: np.exp(x).sum(), np.exp([[1.0, 2.0], [3.0, 4.0]])),
    (lambda x: np.sum(x * x), 2 * np.array([[1.0, 2.0], [3.0, 4.0]])),
    (lambda x: np.mean(x, axis=0).sum(), np.full((2, 2), 0.5)),
    (lambda x: np.sum(np.matmul(np.eye(2, dtype=np.float32), x)), np.ones((2, 2))),
    (lambda x: (np.ones((2, 2), np.float32) * x).sum(), np.ones((2, 2))),
    (lambda x: np.abs(-x).sum(), np.ones((2, 2))),
    (lambda x: np.divide(x, 2.0).sum(), np.full((2, 2), 0.5)),
])
def test_numpy_functions_run_as_ndgrad_ops_and_keep_the_graph(f, expected_grad):
    x = _x()
    y = f(x)
    assert isinstance(y, ndgrad.Tensor) and y.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, rtol=1e-6)


def test_a_numpy_function_without_an_ndgrad_op_refuses_on_a_tensor_requiring_grad():
    with pytest.raises(TypeError, match=r"np.median has no ndgrad op.*t\.detach\(\)\.numpy\(\)"):
        np.median(_x())
    with pytest.raises(TypeError, match=r"np.add.reduce has no ndgrad op"):
        np.add.reduce(_x())
    # without a graph to lose, NumPy runs on the values, as on np.asarray(t)
    assert np.median(_x(False)) == 2.5
    assert np.allclose(_x(False), [[1, 2], [3, 4]])
    assert np.add.reduce(_x(False), axis=0).tolist() == [4.0, 6.0]


def test_asarray_and_from_dlpack_agree():
    for requires_grad in (False, True):
        x = _x(requires_grad)
        a, b = np.asarray(x), np.from_dlpack(x)
        assert np.array_equal(a, b) and a.dtype == b.dtype == np.float32
    x = _x()
    shared = np.from_dlpack(x)  # a tensor requiring grad leaves as a copy
    shared[...] = 0
    assert x.numpy()[0, 0] == 1.0
    with pytest.raises(BufferError, match="copy=False refused"):
        x.__dlpack__(copy=False)


def test_in_place_numpy_arithmetic_writes_the_values():
    a = np.zeros((2, 2), np.float32)
    a += _x(False)
    assert a.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_the_array_api_namespace_is_ndgrad():
    assert _x().__array_namespace__() is ndgrad
    assert _x().__array_namespace__(api_version="2023.12") is ndgrad
    with pytest.raises(ValueError, match="Received api_version='1999.01'"):
        _x().__array_namespace__(api_version="1999.01")
    import array_api_compat  # in the dev group: the standard's own helper finds ndgrad

    assert array_api_compat.array_namespace(_x()) is ndgrad


def test_random_functions_take_keras_shape_keyword():
    t = ndgrad.random.normal(shape=(4,), mean=1.0, stddev=0.5, seed=1)
    assert t.shape == (4,)
    assert ndgrad.random.uniform(shape=[2, 3], minval=0.0, maxval=2.0).shape == (2, 3)
    assert np.array_equal(ndgrad.normal((4,), 1.0, 0.5, seed=1).numpy(), t.numpy())
    with pytest.raises(TypeError, match="the shape given twice"):
        ndgrad.normal((2,), shape=(3,))
