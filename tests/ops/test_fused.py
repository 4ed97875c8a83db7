"""The fused ops: `linear` (x @ w + b) and `sparse_softmax_cross_entropy`, against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ndgrad
from ndgrad.autograd.engine import backward
from ndgrad.ops.fused import check_labels, labels_checked, linear, sparse_softmax_cross_entropy

from ..backends.test_device_context import HostSyncs


def _nd(a, device, grad=True):
    a = np.asarray(a)
    return ndgrad.tensor(a, dtype=a.dtype.name, device=device,
                         requires_grad=grad and a.dtype.kind == "f")


def _th(a):
    t = torch.from_numpy(np.array(a, copy=True))
    return t.requires_grad_(True) if t.is_floating_point() else t


@pytest.mark.parametrize("xshape", [(5, 3), (2, 4, 3), (3,), (0, 3)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_linear_matches_torch(backend, xshape, use_bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xshape).astype("float32")
    w = rng.standard_normal((3, 4)).astype("float32")
    b = rng.standard_normal(4).astype("float32")
    X, W = _nd(x, backend), _nd(w, backend)
    B = _nd(b, backend) if use_bias else None
    tx, tw = _th(x), _th(w)
    tb = _th(b) if use_bias else None

    y = linear(X, W, B)
    ty = F.linear(tx, tw.T, tb)
    assert y.shape == tuple(ty.shape) and y.dtype == ndgrad.float32 and y.device == backend
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)

    g = rng.standard_normal(y.shape).astype("float32")
    (y * ndgrad.tensor(g, device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    for got, want in [(X, tx), (W, tw)] + ([(B, tb)] if use_bias else []):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_gradcheck_and_second_order(backend):
    rng = np.random.default_rng(1)
    x = _nd(rng.standard_normal((2, 3, 4)), backend)
    w = _nd(rng.standard_normal((4, 2)), backend)
    b = _nd(rng.standard_normal(2), backend)
    assert ndgrad.gradcheck(linear, [x, w, b])
    assert ndgrad.gradgradcheck(lambda x, w: linear(x, w), [x, w])


def test_linear_skips_gradients_nobody_needs():
    x = ndgrad.randn(4, 3)  # data: no gradient wanted
    w = ndgrad.randn(3, 2, requires_grad=True)
    linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 2)


def test_linear_shape_errors_name_the_shapes():
    with pytest.raises(ndgrad.ShapeError, match=r"x=\(5, 3\), w=\(4, 2\)"):
        linear(ndgrad.randn(5, 3), ndgrad.randn(4, 2))
    with pytest.raises(ndgrad.ShapeError, match=r"b=\(3,\)"):
        linear(ndgrad.randn(5, 4), ndgrad.randn(4, 2), ndgrad.randn(3))
    with pytest.raises(ndgrad.ShapeError, match=r"w=\(4,\)"):  # matmul alone would accept
        linear(ndgrad.randn(5, 4), ndgrad.randn(4))
    with pytest.raises(ndgrad.ShapeError, match=r"b=\(1,\)"):  # it would broadcast
        linear(ndgrad.randn(5, 4), ndgrad.randn(4, 2), ndgrad.randn(1))


@pytest.mark.parametrize("label_dtype", ["int64", "int32", "uint8"])
def test_sparse_softmax_cross_entropy_matches_torch(backend, label_dtype):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((6, 5)) * 3).astype("float32")
    labels = rng.integers(0, 5, 6).astype(label_dtype)
    L = _nd(logits, backend)
    tl = _th(logits)
    loss = sparse_softmax_cross_entropy(L, _nd(labels, backend))
    tloss = F.cross_entropy(tl, torch.from_numpy(labels.astype("int64")), reduction="none")
    assert loss.shape == (6,) and loss.dtype == ndgrad.float32
    np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(6).astype("float32")
    (loss * ndgrad.tensor(g, device=backend)).sum().backward()
    (tloss * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(L.grad.numpy(), tl.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_sparse_softmax_cross_entropy_gradcheck_and_second_order(backend):
    rng = np.random.default_rng(3)
    logits = _nd(rng.standard_normal((4, 3)), backend)
    labels = _nd(np.array([0, 2, 1, 2]), backend)
    assert ndgrad.gradcheck(sparse_softmax_cross_entropy, [logits, labels])
    assert ndgrad.gradgradcheck(sparse_softmax_cross_entropy, [logits, labels])


def test_sparse_softmax_cross_entropy_is_stable_for_huge_logits(backend):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]], dtype="float32")
    labels = np.array([0, 0, 2])
    L = _nd(logits, backend)
    loss = sparse_softmax_cross_entropy(L, _nd(labels, backend))
    loss.sum().backward()
    values, grads = loss.numpy(), L.grad.numpy()
    assert np.isfinite(values).all() and np.isfinite(grads).all()
    np.testing.assert_allclose(values, [0.0, 2e4, np.log(3)], rtol=1e-6)
    tl = _th(logits)
    F.cross_entropy(tl, torch.from_numpy(labels), reduction="sum").backward()
    np.testing.assert_allclose(grads, tl.grad.numpy(), atol=1e-6)


def test_sparse_softmax_cross_entropy_rejects_out_of_range_labels(backend):
    logits = ndgrad.randn(4, 3, device=backend)
    for bad in ([0, 1, 3, 7], [0, -1, 2, 1]):
        with pytest.raises(ValueError, match="out-of-range") as info:
            sparse_softmax_cross_entropy(logits, ndgrad.tensor(bad, device=backend))
        wrong = [v for v in bad if not 0 <= v < 3]
        assert str(wrong) in str(info.value)


def test_check_labels_reads_once_and_names_the_bad_labels_and_the_class_count():
    """The one check of integer labels (the fused op, the losses and `Model.fit` use it)."""
    dev = HostSyncs()
    check_labels(ndgrad.tensor([0, 2, 1, 2], device=dev), 3)
    assert dev.transfers == 1  # the min and the max together
    check_labels(ndgrad.tensor([], dtype="int64", device=dev), 3)
    with labels_checked():  # the caller vouches for them: nothing is read
        check_labels(ndgrad.tensor([5, -1], device=dev), 3)
    assert dev.transfers == 1
    with pytest.raises(ValueError, match=r"^fit: labels must be in \[0, 3\) for 3 classes\. "
                                         r"Received out-of-range labels \[-1, 3\]$"):
        check_labels(ndgrad.tensor([[0, 3], [-1, 3]], device=dev), 3, "fit")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_labels_must_be_whole_numbers_read_once(dtype):
    """Float labels are checked as given, not truncated: 2.9 is no class 2, -0.5 no class 0,
    NaN no huge negative number; the message names the values. A valid array costs one read
    (min, max and the count of bad values together)."""
    dev = HostSyncs()
    check_labels(ndgrad.tensor([0.0, 2.0, 1.0, 2.0], dtype=dtype, device=dev), 3)
    assert dev.transfers == 1
    nan, inf = float("nan"), float("inf")
    for labels, named in [([3.5, 1.0], "[3.5]"), ([-0.5, 1.0], "[-0.5]"),
                          ([2.9, 0.0], "[2.9]"), ([1.0, nan, nan], "[nan]"),
                          ([inf, 3.0, 0.0, -1.0, 2.9, -inf], "[-inf, -1.0, 2.9, 3.0, inf]"),
                          ([0.0, 3.0], "[3.0]"), ([-1.0, 2.0], "[-1.0]"),  # whole, out of range
                          ([float(v) for v in range(3, 15)],  # the first ten of twelve
                           str([float(v) for v in range(3, 13)]))]:
        with pytest.raises(ValueError) as info:
            check_labels(ndgrad.tensor(labels, dtype=dtype, device=dev), 3)
        assert str(info.value) == (
            "sparse_categorical_crossentropy: labels must be whole numbers in [0, 3) for 3 "
            f"classes. Received invalid labels {named}")


def test_sparse_softmax_cross_entropy_shape_errors():
    with pytest.raises(ndgrad.ShapeError, match=r"logits=\(4, 3\), labels=\(5,\)"):
        sparse_softmax_cross_entropy(ndgrad.randn(4, 3), ndgrad.tensor([0, 1, 2, 0, 1]))
    with pytest.raises(ndgrad.ShapeError, match=r"logits=\(4,\)"):
        sparse_softmax_cross_entropy(ndgrad.randn(4), ndgrad.tensor([0, 1, 2, 0]))


def test_sparse_softmax_cross_entropy_empty_batch():
    logits = ndgrad.randn(0, 3, requires_grad=True)
    loss = sparse_softmax_cross_entropy(logits, ndgrad.zeros(0, dtype="int64"))
    assert loss.shape == (0,)
    loss.sum().backward()
    assert logits.grad.shape == (0, 3)


def _relu_case(rng, shapes):
    """float64 inputs whose pre-activations are about half negative."""
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("use_bias", [True, False])
def test_linear_relu_matches_torch_with_negative_pre_activations(backend, use_bias):
    rng = np.random.default_rng(4)
    x, w, b = _relu_case(rng, [(6, 5), (5, 4), (4,)])
    pre = x @ w + (b if use_bias else 0)
    assert 0.25 < (pre < 0).mean() < 0.75
    args = [x, w] + ([b] if use_bias else [])
    nd, th = [_nd(a, backend) for a in args], [_th(a) for a in args]
    y = linear(*nd, relu=True)
    ty = torch.relu(torch.matmul(th[0], th[1]) + (th[2] if use_bias else 0))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(y.shape)
    (y * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    for got, want in zip(nd, th):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert ndgrad.gradcheck(lambda *a: linear(*a, relu=True), [_nd(a, backend) for a in args])
    assert ndgrad.gradgradcheck(lambda *a: linear(*a, relu=True), [_nd(a, backend) for a in args])


@pytest.mark.parametrize(("strides", "padding"), [((1, 1), "same"), ((2, 1), "valid")])
def test_conv2d_relu_matches_torch_with_negative_pre_activations(backend, strides, padding):
    rng = np.random.default_rng(5)
    x, k, b = _relu_case(rng, [(2, 5, 4, 3), (3, 2, 3, 4), (4,)])
    X, K, B = (_nd(a, backend) for a in (x, k, b))
    tx, tk, tb = (_th(a) for a in (x, k, b))
    y = ndgrad.ops.conv2d(X, K, B, strides=strides, padding=padding, relu=True)
    pre = ndgrad.ops.conv2d(_nd(x, backend, False), _nd(k, backend, False), _nd(b, backend, False),
                            strides=strides, padding=padding)
    assert 0.25 < (pre.numpy() < 0).mean() < 0.75
    np.testing.assert_array_equal(y.numpy(), np.maximum(pre.numpy(), 0))
    with warnings.catch_warnings():  # torch pads a copy for 'same' with even kernels
        warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
        ty = torch.relu(F.conv2d(tx.permute(0, 3, 1, 2), tk.permute(3, 2, 0, 1).contiguous(), tb,
                                 stride=strides, padding=padding)).permute(0, 2, 3, 1)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    (y * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    (ty * torch.from_numpy(g)).sum().backward()
    for got, want in [(X, tx), (K, tk), (B, tb)]:
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_shape_errors_for_inner_sizes_and_scalars():
    with pytest.raises(ndgrad.ShapeError, match=r"x=\(5, 3\), w=\(4, 3\)"):
        linear(ndgrad.randn(5, 3), ndgrad.randn(4, 3))
    with pytest.raises(ndgrad.ShapeError, match=r"x=\(\), w=\(3, 2\)"):
        linear(ndgrad.tensor(1.0), ndgrad.randn(3, 2))


def test_linear_gradient_of_x_alone(backend):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    X = _nd(x, backend)
    W = _nd(w, backend, grad=False)
    g = rng.standard_normal((4, 2))
    (linear(X, W) * ndgrad.tensor(g, dtype="float64", device=backend)).sum().backward()
    np.testing.assert_allclose(X.grad.numpy(), g @ w.T, rtol=1e-12)
    assert W.grad is None


def test_sparse_softmax_cross_entropy_first_derivative_inside_a_graph(backend):
    """With create_graph the gradient is recomputed as a graph: it must still be torch's."""
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    L = _nd(logits, backend)
    loss = sparse_softmax_cross_entropy(L, _nd(labels, backend)).sum()
    (gl,) = backward([loss], inputs=[L], create_graph=True)
    assert gl.requires_grad
    tl = _th(logits)
    F.cross_entropy(tl, torch.from_numpy(labels), reduction="sum").backward()
    np.testing.assert_allclose(gl.numpy(), tl.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_sparse_softmax_cross_entropy_label_edge_cases(backend):
    logits = ndgrad.randn(2, 3, device=backend)
    with pytest.raises(ValueError, match=r"out-of-range labels \[3\]"):
        sparse_softmax_cross_entropy(logits, ndgrad.tensor([0, 3], device=backend))
    many = ndgrad.randn(12, 3, device=backend)
    with pytest.raises(ValueError) as info:
        sparse_softmax_cross_entropy(many, ndgrad.tensor(list(range(3, 15)), device=backend))
    assert str(info.value).endswith(str(list(range(3, 13))))  # the first ten
    floats = sparse_softmax_cross_entropy(logits, ndgrad.tensor([0.0, 2.0], device=backend))
    ints = sparse_softmax_cross_entropy(logits, ndgrad.tensor([0, 2], device=backend))
    np.testing.assert_array_equal(floats.numpy(), ints.numpy())
    empty = sparse_softmax_cross_entropy(
        ndgrad.randn(0, 1, device=backend), ndgrad.zeros(0, dtype="int64", device=backend)
    )
    assert empty.shape == (0,)
