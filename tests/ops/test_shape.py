"""`pad` as `numpy.pad`: NumPy's spelling (`mode`, `constant_values`), every supported mode
against NumPy's values, gradients by finite differences, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad

A = np.arange(12.0).reshape(3, 4)
WIDTHS = [1, (2,), (1, 2), ((1, 2),), ((2, 0), (3, 1)), ((0, 0), (1, 0)), ((7, 5), (9, 4))]


def test_the_issue_example_numpy_spelling(backend: str) -> None:
    x = ndgrad.ones((2, 2), device=backend)
    got = ndgrad.pad(x, ((1, 1), (2, 2)), constant_values=0.5)
    np.testing.assert_array_equal(
        got.numpy(), np.pad(np.ones((2, 2)), ((1, 1), (2, 2)), constant_values=0.5)
    )
    assert got.device == backend and got.dtype is ndgrad.float32


@pytest.mark.parametrize("values", [0.5, (7.0,), (1.0, 2.0), ((1.0, 2.0),), ((1.0,), (2.0,)),
                                    ((1.0, 2.0), (3.0, 4.0))], ids=repr)  # fmt: skip
@pytest.mark.parametrize("widths", WIDTHS, ids=repr)
def test_constant_values_as_numpy(backend: str, widths: object, values: object) -> None:
    x = ndgrad.tensor(A, dtype="float64", device=backend)
    got = ndgrad.pad(x, widths, mode="constant", constant_values=values)
    np.testing.assert_array_equal(got.numpy(), np.pad(A, widths, constant_values=values))


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("widths", WIDTHS, ids=repr)
def test_modes_as_numpy(backend: str, mode: str, widths: object) -> None:
    """Widths beyond the axis size too (NumPy repeats the reflection; torch refuses)."""
    x = ndgrad.tensor(A, dtype="float64", device=backend)
    got = ndgrad.pad(x, widths, mode=mode)
    np.testing.assert_array_equal(got.numpy(), np.pad(A, widths, mode=mode))
    assert got.device == backend


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_gradients_of_every_mode(backend: str, mode: str) -> None:
    x = ndgrad.tensor(np.random.default_rng(0).normal(size=(2, 3)), dtype="float64",
                      device=backend)  # fmt: skip
    widths = ((1, 4), (2, 3))
    assert ndgrad.gradcheck(lambda t: ndgrad.pad(t, widths, mode=mode), [x])
    assert ndgrad.gradgradcheck(lambda t: ndgrad.pad(t, widths, mode=mode) ** 2, [x])
    # the gradient of a sum counts how often each element was copied (once for constants)
    x.requires_grad_()
    ndgrad.pad(x, widths, mode=mode).sum().backward()
    index = np.arange(6) if mode == "constant" else np.pad(np.arange(6).reshape(2, 3), widths, mode)
    np.testing.assert_array_equal(x.grad.numpy().reshape(-1), np.bincount(index.ravel()))


def test_pad_errors_name_what_is_wrong() -> None:
    x = ndgrad.ones((2, 3))
    with pytest.raises(ValueError, match="unknown mode 'median'. Supported modes: constant, edge"):
        ndgrad.pad(x, 1, mode="median")
    with pytest.raises(ndgrad.ShapeError, match=r"axis 0 of size 0 \(shape \(0, 3\)\)"):
        ndgrad.pad(ndgrad.ones((0, 3)), 1, mode="reflect")
    assert ndgrad.pad(ndgrad.ones((0, 3)), 1).shape == (2, 5)  # constant: fine, as NumPy
    with pytest.raises(ndgrad.ShapeError, match=r"pad_width=\(\(1, 2, 3\),\)"):
        ndgrad.pad(x, ((1, 2, 3),))
    with pytest.raises(ndgrad.ShapeError, match=r"pad_width=\(\(1, 1\), \(1, 1\), \(1, 1\)\)"):
        ndgrad.pad(x, ((1, 1),) * 3)
    with pytest.raises(ndgrad.ShapeError, match=r"pad_width=1.5"):
        ndgrad.pad(x, 1.5)
    with pytest.raises(ndgrad.ShapeError, match=r"pad_width=-1"):
        ndgrad.pad(x, -1)
    with pytest.raises(ndgrad.ShapeError, match=r"constant_values=\(1, 2, 3\)"):
        ndgrad.pad(x, 1, constant_values=(1, 2, 3))
    with pytest.raises(TypeError, match="constant_values applies to mode='constant' only"):
        ndgrad.pad(x, 1, mode="edge", constant_values=2.0)
