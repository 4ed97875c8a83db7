"""conv2d and pooling (channels-last) against torch.nn.functional (channels-first).

ndgrad's images are (N, H, W, C) and kernels (KH, KW, C, F), as Keras; torch's are
(N, C, H, W) and (F, C, KH, KW), so the oracle permutes. Keras/TF 'same' padding may be
asymmetric: total = max((ceil(n / s) - 1) * s + k - n, 0), split before = total // 2, and it is
applied to the torch input with F.pad (-inf for max pooling). With 'same' padding, Keras's average
pooling divides by the number of image positions in the window, which torch cannot express for
asymmetric padding, so that case is compared with a loop-based NumPy reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ndgrad
from ndgrad.ops.conv import avg_pool2d, conv2d, max_pool2d


def _same(n: int, k: int, s: int) -> tuple[int, int]:
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _torch_input(x: torch.Tensor, size: tuple, strides: tuple, padding: str,
                 value: float = 0.0) -> torch.Tensor:
    """NHWC -> NCHW, padded the Keras way when padding == 'same'."""
    t = x.permute(0, 3, 1, 2)
    if padding == "same":
        ph = _same(t.shape[2], size[0], strides[0])
        pw = _same(t.shape[3], size[1], strides[1])
        t = F.pad(t, (*pw, *ph), value=value)
    return t


def _torch_conv(x, k, b, strides, padding):
    t = _torch_input(x, k.shape[:2], strides, padding)
    out = F.conv2d(t, k.permute(3, 2, 0, 1), b, stride=strides)
    return out.permute(0, 2, 3, 1)


def _nd(a: np.ndarray, device: str, grad: bool = True) -> ndgrad.Tensor:
    return ndgrad.tensor(a, dtype=a.dtype.name, device=device, requires_grad=grad)


def _th(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.copy()).requires_grad_(True)


CONV_CASES = [
    # (N, H, W, C), (KH, KW, F), strides, padding
    ((2, 7, 6, 3), (3, 2, 4), (1, 1), "valid"),
    ((2, 7, 6, 3), (3, 2, 4), (1, 1), "same"),
    ((2, 7, 6, 3), (3, 3, 4), (2, 2), "valid"),
    ((2, 7, 6, 3), (3, 3, 4), (2, 2), "same"),
    ((1, 8, 8, 2), (2, 2, 3), (2, 1), "same"),
    ((3, 5, 5, 1), (5, 5, 2), (1, 1), "valid"),  # kernel as large as the image
    ((1, 4, 5, 2), (1, 1, 3), (2, 2), "same"),
]


@pytest.mark.parametrize("xshape, kshape, strides, padding", CONV_CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv2d_matches_torch(backend, xshape, kshape, strides, padding, use_bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xshape).astype("float32")
    k = rng.standard_normal((*kshape[:2], xshape[-1], kshape[2])).astype("float32")
    b = rng.standard_normal(kshape[2]).astype("float32")
    X, K = _nd(x, backend), _nd(k, backend)
    B = _nd(b, backend) if use_bias else None
    tx, tk = _th(x), _th(k)
    tb = _th(b) if use_bias else None

    y = conv2d(X, K, B, strides, padding)
    ty = _torch_conv(tx, tk, tb, strides, padding)
    assert y.shape == tuple(ty.shape)
    assert y.dtype == ndgrad.float32
    assert y.device == backend
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)

    g = rng.standard_normal(y.shape).astype("float32")
    (y * ndgrad.tensor(g, device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(K.grad.numpy(), tk.grad.numpy(), rtol=1e-4, atol=1e-4)
    if use_bias:
        np.testing.assert_allclose(B.grad.numpy(), tb.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strides, padding", [(1, "valid"), (2, "same"), ((1, 2), "same")])
def test_conv2d_gradcheck_float64(backend, strides, padding):
    rng = np.random.default_rng(1)
    x = _nd(rng.standard_normal((2, 4, 5, 2)), backend)
    k = _nd(rng.standard_normal((2, 3, 2, 2)), backend)
    b = _nd(rng.standard_normal(2), backend)
    assert ndgrad.gradcheck(lambda x, k, b: conv2d(x, k, b, strides, padding), [x, k, b])


def test_conv2d_second_order(backend):
    """Im2Col and Col2Im are each other's backward, so convolutions differentiate twice."""
    rng = np.random.default_rng(2)
    x = _nd(rng.standard_normal((1, 4, 4, 2)), backend)
    k = _nd(rng.standard_normal((2, 2, 2, 2)), backend)
    assert ndgrad.gradgradcheck(lambda x, k: conv2d(x, k, None, 2, "same") ** 2, [x, k])


def test_conv2d_first_layer_input_gets_no_gradient():
    x = ndgrad.randn(2, 5, 5, 1)
    k = ndgrad.randn(3, 3, 1, 2, requires_grad=True)
    conv2d(x, k).sum().backward()
    assert x.grad is None and k.grad is not None


def test_conv2d_errors_name_the_shapes():
    x = ndgrad.randn(2, 5, 5, 3)
    with pytest.raises(ndgrad.ShapeError, match=r"\(3, 3, 2, 4\)"):
        conv2d(x, ndgrad.randn(3, 3, 2, 4))  # 2 input channels vs 3
    with pytest.raises(ndgrad.ShapeError, match=r"\(5, 5, 3\)"):
        conv2d(ndgrad.randn(5, 5, 3), ndgrad.randn(3, 3, 3, 4))  # no batch axis
    with pytest.raises(ndgrad.ShapeError, match="larger than"):
        conv2d(ndgrad.randn(1, 2, 2, 3), ndgrad.randn(3, 3, 3, 4))
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, ndgrad.randn(3, 3, 3, 4), padding="full")
    with pytest.raises(ValueError, match="strides"):
        conv2d(x, ndgrad.randn(3, 3, 3, 4), strides=0)


def test_conv2d_messages_say_what_was_expected():
    x = ndgrad.randn(2, 6, 5, 3)
    with pytest.raises(
        ndgrad.ShapeError,
        match=r"^conv2d: expected a kernel \(KH, KW, 3, filters\) for inputs with 3 channels\.",
    ):
        conv2d(x, ndgrad.randn(3, 3, 2, 4))
    with pytest.raises(ndgrad.ShapeError, match=r"^conv2d: expected images"):
        conv2d(ndgrad.randn(6, 5, 3), ndgrad.randn(3, 3, 3, 4))
    with pytest.raises(ValueError, match=r"^strides must be a positive int"):
        conv2d(x, ndgrad.randn(3, 3, 3, 4), strides=(1, 0))
    with pytest.raises(ValueError, match=r"^conv2d: padding must be 'valid' or 'same'"):
        conv2d(x, ndgrad.randn(3, 3, 3, 4), padding="full")


def test_conv2d_strides_default_to_one():
    x = _nd(np.random.default_rng(4).standard_normal((1, 6, 5, 2)), "cpu")
    k = _nd(np.random.default_rng(5).standard_normal((2, 2, 2, 3)), "cpu")
    y = conv2d(x, k)
    assert y.shape == (1, 5, 4, 3)
    np.testing.assert_allclose(y.numpy(), conv2d(x, k, strides=1).numpy())


# -- pooling ---------------------------------------------------------------------------------

def _distinct(shape: tuple, seed: int) -> np.ndarray:
    """Values without ties (a permutation of a grid), so max's gradient is unambiguous."""
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    return (rng.permutation(n).reshape(shape) / n - 0.5).astype("float64")


POOL_CASES = [
    # (N, H, W, C), pool_size, strides
    ((2, 6, 6, 3), (2, 2), None),
    ((2, 7, 5, 2), (2, 2), None),  # odd sizes: the last row/column is dropped ('valid')
    ((1, 7, 7, 2), (3, 3), (2, 2)),  # overlapping windows
    ((2, 6, 5, 1), (2, 3), (1, 2)),
    ((1, 5, 5, 2), (3, 3), (1, 1)),
]


@pytest.mark.parametrize("xshape, size, strides", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_valid_matches_torch(backend, xshape, size, strides, kind):
    x = _distinct(xshape, 3)
    X, tx = _nd(x, backend), _th(x)
    fn = max_pool2d if kind == "max" else avg_pool2d
    tfn = F.max_pool2d if kind == "max" else F.avg_pool2d
    y = fn(X, size, strides)
    ty = tfn(tx.permute(0, 3, 1, 2), size, strides or size).permute(0, 2, 3, 1)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(y.shape)
    (y * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xshape, size, strides", POOL_CASES + [((1, 3, 3, 1), (2, 2), None)])
def test_max_pooling_same_matches_torch(backend, xshape, size, strides):
    """Keras pads max pooling so that padding never wins: torch with F.pad(-inf)."""
    x = _distinct(xshape, 5) - 1.0  # all negative: zero padding would win every edge window
    X, tx = _nd(x, backend), _th(x)
    s = strides or size
    y = max_pool2d(X, size, strides, "same")
    ty = F.max_pool2d(_torch_input(tx, size, s, "same", -math.inf), size, s).permute(0, 2, 3, 1)
    assert y.shape == tuple(ty.shape) == (xshape[0], *(math.ceil(n / st) for n, st in
                                                       zip(xshape[1:3], s)), xshape[3])
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(6).standard_normal(y.shape)
    (y * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def _avg_same_reference(x: np.ndarray, size: tuple, strides: tuple) -> np.ndarray:
    """TF's average pooling with 'same' padding: the mean of the in-image part of each window."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = size, strides
    (th, _), (tw, _) = _same(h, kh, sh), _same(w, kw, sw)
    oh, ow = math.ceil(h / sh), math.ceil(w / sw)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - th, j * sw - tw
            window = x[:, max(r0, 0): r0 + kh, max(c0, 0): c0 + kw, :]
            out[:, i, j, :] = window.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("xshape, size, strides", POOL_CASES + [((1, 3, 3, 1), (2, 2), None)])
def test_avg_pooling_same_matches_keras_rule(backend, xshape, size, strides):
    x = _distinct(xshape, 7) - 1.0
    s = strides or size
    y = avg_pool2d(_nd(x, backend, grad=False), size, strides, "same")
    np.testing.assert_allclose(y.numpy(), _avg_same_reference(x, size, s), rtol=1e-12)
    X = _nd(x, backend)
    assert ndgrad.gradcheck(lambda t: avg_pool2d(t, size, strides, "same"), [X])


def test_pooling_gradcheck_float64(backend):
    x = _nd(_distinct((1, 5, 4, 2), 8), backend)
    for padding in ("valid", "same"):
        assert ndgrad.gradcheck(lambda t, p=padding: max_pool2d(t, 2, 1, p), [x])
        assert ndgrad.gradcheck(lambda t, p=padding: avg_pool2d(t, (2, 3), 2, p), [x])


@pytest.mark.parametrize("size, strides", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_max_pooling_routes_a_tie_like_torch(backend, size, strides):
    """Tied maxima: the gradient goes to the first one in the window, as PyTorch does."""
    x = np.random.default_rng(9).integers(0, 3, (2, 6, 7, 2)).astype("float64")  # many ties
    X, tx = _nd(x, backend), _th(x)
    y = max_pool2d(X, size, strides)
    ty = F.max_pool2d(tx.permute(0, 3, 1, 2), size, strides or size).permute(0, 2, 3, 1)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g = np.random.default_rng(10).standard_normal(y.shape)
    (y * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pooling_second_order(backend):
    x = _nd(_distinct((1, 5, 5, 2), 11), backend)
    assert ndgrad.gradgradcheck(lambda t: max_pool2d(t, 3, 2, "same") ** 2, [x])
    assert ndgrad.gradgradcheck(lambda t: avg_pool2d(t, 2, 1, "same") ** 2, [x])


def test_pooling_errors():
    with pytest.raises(ndgrad.ShapeError, match=r"\(4, 4, 3\)"):
        max_pool2d(ndgrad.randn(4, 4, 3))
    with pytest.raises(ndgrad.ShapeError, match="larger than"):
        avg_pool2d(ndgrad.randn(1, 1, 1, 3), 2)
    with pytest.raises(ValueError, match="pool_size"):
        max_pool2d(ndgrad.randn(1, 4, 4, 1), 0)
