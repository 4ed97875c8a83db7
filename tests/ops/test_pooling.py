"""max_pool2d and avg_pool2d (ops/pooling.py): defaults, integer images, non-square windows,
third derivatives and the errors that name the op and the argument.

The comparisons with PyTorch over generated shapes are in test_conv.py (they share its
layout helpers); these tests pin what those leave open."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ndgrad
from ndgrad.autograd import backward
from ndgrad.ops.pooling import avg_pool2d, max_pool2d


def _images(shape: tuple, seed: int, device: str) -> ndgrad.Tensor:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = (rng.permutation(n).reshape(shape) / n - 0.5).astype("float64")  # no ties
    return ndgrad.tensor(values, dtype="float64", device=device, requires_grad=True)


def _torch_pool(kind: str, x: np.ndarray, size: tuple, strides: tuple) -> np.ndarray:
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    return pool(t, size, strides).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_the_default_window_is_2x2_with_its_own_stride(backend: str, kind: str) -> None:
    x = _images((1, 6, 4, 2), 1, backend)
    pool = max_pool2d if kind == "max" else avg_pool2d
    y = pool(x)
    assert y.shape == (1, 3, 2, 2)
    np.testing.assert_allclose(y.numpy(), _torch_pool(kind, x.numpy(), (2, 2), (2, 2)))


@pytest.mark.parametrize(
    "size, strides, hw",
    [
        ((2, 3), (2, 3), (5, 7)),
        ((3, 2), (3, 2), (7, 5)),
        ((2, 3), None, (6, 6)),
        ((2, 3), None, (3, 6)),  # only the height needs a crop (3 rows: one window of 2)
        ((3, 2), None, (6, 3)),  # only the width does
    ],
)
def test_non_square_windows_crop_each_axis_by_its_own_size(
    backend: str, size: tuple, strides: tuple | None, hw: tuple
) -> None:
    """Height uses the window's height and stride, width its width: a crop or a reshape
    that mixed them up gives another shape or other means."""
    x = _images((2, *hw, 3), 2, backend)
    y = avg_pool2d(x, size, strides)
    expected = _torch_pool("avg", x.numpy(), size, strides or size)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    g = np.random.default_rng(3).standard_normal(y.shape)
    (y * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    tx = torch.from_numpy(x.numpy()).requires_grad_(True)
    ty = F.avg_pool2d(tx.permute(0, 3, 1, 2), size, strides or size).permute(0, 2, 3, 1)
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_max_pooling_of_integers_pads_with_their_minimum(backend: str) -> None:
    """'same' padding must never win a window: for integers it is the image's minimum (there
    is no -inf), so every window's maximum is an image value."""
    x = ndgrad.tensor(-np.arange(1, 26).reshape(1, 5, 5, 1) * 3, dtype="int64", device=backend)
    y = max_pool2d(x, 2, 2, "same")
    assert y.dtype == ndgrad.int64
    image = x.numpy()[0, :, :, 0]
    want = np.array(
        [[image[r : r + 2, c : c + 2].max() for c in range(0, 5, 2)] for r in range(0, 5, 2)]
    )
    np.testing.assert_array_equal(y.numpy()[0, :, :, 0], want)
    empty = ndgrad.zeros((0, 4, 4, 1), dtype="int64", device=backend)
    assert max_pool2d(empty, 2, 2, "same").shape == (0, 2, 2, 1)


def test_max_pooling_third_derivative(backend: str) -> None:
    """The gradient of the gradient's gradient runs the gradient route's adjoint's rule."""
    x = _images((1, 4, 5, 2), 4, backend)

    def gradient(t: ndgrad.Tensor) -> ndgrad.Tensor:
        with ndgrad.enable_grad():  # gradgradcheck first calls it without grad, for shapes
            if not t.requires_grad:
                t = t.detach().requires_grad_()
            y = (max_pool2d(t, 2, 1) ** 3).sum()
            (g,) = backward([y], inputs=[t], create_graph=True)
            return g * g

    assert ndgrad.gradgradcheck(gradient, [x])


@pytest.mark.parametrize("pool, name", [(max_pool2d, "max_pool2d"), (avg_pool2d, "avg_pool2d")])
def test_errors_name_the_op_and_the_argument(pool, name: str) -> None:
    x = ndgrad.zeros((1, 4, 4, 1))
    with pytest.raises(ValueError, match=r"^pool_size must be a positive int.*Received 0"):
        pool(x, 0)
    with pytest.raises(ValueError, match=r"^strides must be a positive int.*Received \(1, 0\)"):
        pool(x, 2, (1, 0))
    with pytest.raises(ndgrad.ShapeError, match=rf"^{name}: expected images"):
        pool(ndgrad.zeros((4, 4, 1)))
    with pytest.raises(ndgrad.ShapeError, match=rf"^{name}: the window \(5, 1\) is larger"):
        pool(x, (5, 1))
    with pytest.raises(ValueError, match=rf"^{name}: padding must be 'valid' or 'same'"):
        pool(x, 2, padding="full")
