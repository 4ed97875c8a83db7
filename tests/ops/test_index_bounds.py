"""Indexing errors and repeated positions behave as NumPy on every backend.

CuPy wraps out-of-range integer indices around (gather, ``cupyx.scatter_add`` and assignment)
and stores an arbitrary one of repeated positions; these tests run on cpu, strict and, where a
GPU is present, cuda:0 (the `backend` fixture), and expect NumPy's behaviour everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad.backends.numpy import NumpyBackend

OUT_OF_RANGE = [
    ((3,), [5], "index 5 is out of bounds for axis 0 with size 3"),
    ((3,), [0, -4], "index -4 is out of bounds for axis 0 with size 3"),
    ((3,), 3, "index 3 is out of bounds for axis 0 with size 3"),
    ((3,), -4, "index -4 is out of bounds for axis 0 with size 3"),
    ((2, 3), (slice(None), [0, 3]), "index 3 is out of bounds for axis 1 with size 3"),
    ((2, 3), (Ellipsis, [[1], [7]]), "index 7 is out of bounds for axis 1 with size 3"),
    ((2, 3), ([1], 5), "index 5 is out of bounds for axis 1 with size 3"),
    ((2, 3), (None, [2], [0]), "index 2 is out of bounds for axis 0 with size 2"),
    ((0, 2), [0], "index 0 is out of bounds for axis 0 with size 0"),
]


@pytest.mark.parametrize(("shape", "index", "message"), OUT_OF_RANGE)
def test_out_of_range_indices_raise_numpys_error(
    backend: str, shape: tuple, index: object, message: str
) -> None:
    a = np.arange(np.prod(shape), dtype="float32").reshape(shape)
    with pytest.raises(IndexError, match="out of bounds"):
        a[index]  # the oracle: NumPy rejects these too
    t = ndgrad.tensor(a, device=backend, requires_grad=True)
    with pytest.raises(IndexError, match=message):
        t[index]
    with pytest.raises(IndexError, match=message):
        t.detach()[index] = 1.0
    assert t.numpy().tolist() == a.tolist()  # nothing was written


def test_index_tensors_are_checked_too(backend: str) -> None:
    t = ndgrad.arange(6, dtype="float32", device=backend).reshape(2, 3)
    for dtype in ("int64", "int32", "uint8"):
        idx = ndgrad.tensor([0, 3], dtype=dtype, device=backend)
        with pytest.raises(IndexError, match="index 3 is out of bounds for axis 1 with size 3"):
            t[:, idx]
    assert t[:, ndgrad.tensor([2, -3], device=backend)].tolist() == [[2.0, 0.0], [5.0, 3.0]]


def test_in_range_gathers_and_gradients_are_unchanged(backend: str) -> None:
    x = ndgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=backend, requires_grad=True)
    y = x[[1, -1, 0, 1], [-3, 0, 2, -1]]
    assert y.tolist() == [4.0, 4.0, 3.0, 6.0]
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0], [2.0, 0.0, 1.0]]


def test_mask_of_the_wrong_shape_raises_numpys_error(backend: str) -> None:
    t = ndgrad.ones(3, 2, device=backend)
    mask = ndgrad.tensor([True, False], device=backend)
    with pytest.raises(IndexError, match="boolean index did not match indexed array along axis 0"):
        t[mask]
    assert t[:, mask].shape == (3, 1)


def test_repeated_positions_store_the_last_value(backend: str) -> None:
    t = ndgrad.zeros(4, device=backend)
    t[[1, 1, 1, 3, 1]] = ndgrad.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device=backend)
    assert t.tolist() == [0.0, 5.0, 0.0, 4.0]
    m = ndgrad.zeros(3, 2, device=backend)
    m[[2, 0, 2], :] = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=backend)
    assert m.tolist() == [[3.0, 4.0], [0.0, 0.0], [5.0, 6.0]]
    m[[0, 0], [1, 1]] = ndgrad.tensor([7.0, 8.0], device=backend)
    assert m.tolist() == [[3.0, 8.0], [0.0, 0.0], [5.0, 6.0]]
    many = ndgrad.zeros(2, device=backend)  # many writers per position, in one launch on a GPU
    idx = ndgrad.tensor(np.arange(4096) % 2, device=backend)
    many[idx] = ndgrad.arange(4096, dtype="float32", device=backend)
    assert many.tolist() == [4094.0, 4095.0]


def test_repeated_positions_with_a_gradient(backend: str) -> None:
    v = ndgrad.tensor([1.0, 2.0, 3.0], device=backend, requires_grad=True)
    t = ndgrad.zeros(2, device=backend)
    t[[0, 0, 1]] = v
    assert t.tolist() == [2.0, 3.0]
    (t * ndgrad.tensor([10.0, 100.0], device=backend)).sum().backward()
    assert v.grad.tolist() == [10.0, 10.0, 100.0]  # as PyTorch: each writer gets g[index]


class _Wrapping(NumpyBackend):
    """Indexes as CuPy does: an out-of-range integer array index wraps around its axis."""

    kind = "wrapping"

    def _wrap(self, array: np.ndarray, index: tuple) -> tuple:
        return tuple(
            i % array.shape[axis] if isinstance(i, np.ndarray) and i.dtype.kind in "iu" else i
            for axis, i in enumerate(index)
        )

    def getitem(self, array: np.ndarray, index: tuple) -> Any:
        return array[self._wrap(array, index)]

    def setitem(self, array: np.ndarray, index: tuple, values: Any) -> None:
        array[self._wrap(array, index)] = values


def test_bounds_are_checked_before_the_backend_indexes() -> None:
    backend = _Wrapping()
    t = ndgrad.tensor([1.0, 2.0, 3.0], device=backend)
    assert backend.getitem(t.data, (np.array([5]),)).tolist() == [3.0]  # it does wrap
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        t[[5]]
    with pytest.raises(IndexError, match="index -4 is out of bounds for axis 0 with size 3"):
        t[[-4]] = 0.0
    m = ndgrad.zeros(2, 3, device=backend)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 1 with size 3"):
        m[:, [3]]
    assert t.tolist() == [1.0, 2.0, 3.0] and m[:, [2, -1]].shape == (2, 2)


# -- permute_rows: fit's gather by its own permutation, with no bounds check -------------------
def test_permute_rows_gathers_as_indexing_without_reading_the_order() -> None:
    from ndgrad.ops.index import permute_rows

    from ..backends.test_device_context import HostSyncs

    dev = HostSyncs()
    x = ndgrad.tensor(np.arange(12.0).reshape(4, 3), device=dev, requires_grad=True)
    order = ndgrad.tensor([2, 0, 3, 1], device=dev)
    rows = permute_rows(x, order)
    assert dev.transfers == 0  # x[order] reads the order's min and max
    np.testing.assert_array_equal(dev.to_numpy(rows.data), dev.to_numpy(x[order].data))
    assert dev.transfers == 3
    (rows * ndgrad.tensor([[1.0], [2.0], [3.0], [4.0]], device=dev)).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3, [4.0] * 3, [1.0] * 3, [3.0] * 3]


@pytest.mark.parametrize(
    "order",
    [[0, 1, 2, 3, 0], [[0, 1], [2, 3]], [0.0, 1.0, 2.0, 3.0]],
    ids=["too-long", "2d", "float"],
)
def test_permute_rows_refuses_what_is_no_order_of_the_rows(order: list) -> None:
    from ndgrad.ops.index import permute_rows

    x = ndgrad.zeros(4, 2)
    with pytest.raises(IndexError, match=r"^permute_rows: expected integer rows of a "
                                         r"permutation of range\(4\) on cpu: at most 4"):
        permute_rows(x, ndgrad.tensor(order))


def test_permute_rows_takes_a_batch_of_a_permutation() -> None:
    from ndgrad.ops.index import permute_rows

    x = ndgrad.tensor(np.arange(10.0).reshape(5, 2))
    order = ndgrad.tensor([4, 1, 3, 0, 2])
    assert permute_rows(x, order[1:3]).tolist() == [[2.0, 3.0], [6.0, 7.0]]
