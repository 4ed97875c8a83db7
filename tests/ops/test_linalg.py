"""einsum's traces and diagonals (the catalog checks them against torch; here the issue's
examples, the gradient's placement on the diagonal, and errors)."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad


def test_trace_and_diagonal_examples(backend: str) -> None:
    a = np.arange(9.0).reshape(3, 3)
    x = ndgrad.tensor(a, device=backend, requires_grad=True)
    assert ndgrad.einsum("ii->", x).item() == np.trace(a)
    assert ndgrad.einsum("ii", x).item() == np.trace(a)  # implicit output, as NumPy
    np.testing.assert_array_equal(ndgrad.einsum("ii->i", x).numpy(), np.diag(a))
    b = np.arange(18.0).reshape(2, 3, 3)
    np.testing.assert_array_equal(
        ndgrad.einsum("bii->b", ndgrad.tensor(b, device=backend)).numpy(), np.einsum("bii->b", b)
    )
    ndgrad.einsum("ii->i", x).backward(ndgrad.tensor([1.0, 2.0, 3.0], device=backend))
    np.testing.assert_array_equal(x.grad.numpy(), np.diag([1.0, 2.0, 3.0]))  # zeros elsewhere
    assert x.grad.device == backend


def test_trace_gradients_second_order(backend: str) -> None:
    x = ndgrad.tensor(np.random.default_rng(0).normal(size=(2, 3, 3)), dtype="float64",
                      device=backend)  # fmt: skip
    y = ndgrad.tensor(np.random.default_rng(1).normal(size=(3,)), dtype="float64", device=backend)
    assert ndgrad.gradgradcheck(lambda a, v: ndgrad.einsum("bii,i->b", a * a, v), [x, y])
    assert ndgrad.gradgradcheck(lambda a: ndgrad.einsum("bjj->bj", a) ** 3, [x])


def test_einsum_errors_name_the_subscripts_and_shapes() -> None:
    with pytest.raises(ndgrad.ShapeError, match=r"'i' stands for sizes 2 and 3 .* \(2, 3\)"):
        ndgrad.einsum("ii->", ndgrad.ones((2, 3)))
    with pytest.raises(ndgrad.ShapeError, match=r"\(2, 3\), \(4, 5\)"):
        ndgrad.einsum("ij,jk->ik", ndgrad.ones((2, 3)), ndgrad.ones((4, 5)))
    with pytest.raises(ValueError, match="output subscripts 'ii'"):
        ndgrad.einsum("ii->ii", ndgrad.ones((2, 2)))
    with pytest.raises(ValueError, match="output subscripts 'k'"):
        ndgrad.einsum("ij->k", ndgrad.ones((2, 2)))
