"""conv2d's Winograd path (`ndgrad/ops/winograd.py`) against its im2col path and PyTorch.

With the kernels on (forced for every size by `kernels_on`), a float32 3x3 stride-1
convolution with at least 8 channels in and out takes the Winograd ops; the same call with
the backend's Winograd switched off takes im2col, the reference. Values and the three
gradients must agree over generated shapes, padding 'same' and 'valid', with and without bias
and relu, and both must agree with torch.nn.functional.conv2d. With the kernels off
(``NDGRAD_KERNELS=numpy``) every convolution is im2col.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

import ndgrad
from ndgrad.autograd.engine import backward
from ndgrad.backends.numpy import NumpyBackend
from ndgrad.ops.conv import conv2d
from ndgrad.ops.winograd import Conv3x3, Conv3x3Relu

pytest.importorskip("numba")

from ..backends.kernel_switch import kernels_on  # noqa: E402


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """F(4x4, 3x3) in float32: errors of a few 1e-6 of the largest value (kernels/winograd.py,
    measured), so each result is compared at 3e-5 of its largest magnitude."""
    assert got.shape == want.shape and got.dtype == np.float32
    scale = float(np.abs(want).max()) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-5 * scale + 1e-30)


def _run(arrays: dict, padding: str, relu: bool, winograd: bool) -> tuple:
    """(op type, output, grads of x, kernel and bias) of conv2d with a random cotangent."""
    x, k = (ndgrad.tensor(arrays[n], requires_grad=True) for n in ("x", "k"))
    b = None if arrays["b"] is None else ndgrad.tensor(arrays["b"], requires_grad=True)
    with kernels_on():
        saved = NumpyBackend.winograd
        if not winograd:
            NumpyBackend.winograd = lambda self, x, filters: False
        try:
            y = conv2d(x, k, b, padding=padding, relu=relu)
            g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
            y.backward(ndgrad.tensor(g))
        finally:
            NumpyBackend.winograd = saved
    grads = [t.grad.numpy() for t in (x, k) + (() if b is None else (b,))]
    return type(y._node), y.numpy(), grads, g


@st.composite
def convs(draw: st.DrawFn) -> tuple:
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(8, 12)), draw(st.integers(8, 11))
    h, w = draw(st.integers(10, 14)), draw(st.integers(10, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    arrays = {
        "x": rng.standard_normal((n, h, w, c)).astype(np.float32),
        "k": (rng.standard_normal((3, 3, c, f)) / 6).astype(np.float32),
        "b": rng.standard_normal(f).astype(np.float32) if draw(st.booleans()) else None,
    }
    return arrays, draw(st.sampled_from(["same", "valid"])), draw(st.booleans())


@given(convs())
def test_winograd_path_matches_im2col(case: tuple) -> None:
    arrays, padding, relu = case
    if relu:  # an output within round-off of 0 may take either side of relu on either path
        pre = _run(arrays, padding, False, winograd=False)[1]
        assume(np.abs(pre).min() > 1e-4 * np.abs(pre).max())
    op, y, grads, _ = _run(arrays, padding, relu, winograd=True)
    ref_op, ref_y, ref_grads, _ = _run(arrays, padding, relu, winograd=False)
    assert op is (Conv3x3Relu if relu else Conv3x3) and not issubclass(ref_op, Conv3x3)
    _close(y, ref_y)
    for got, want in zip(grads, ref_grads):
        _close(got, want)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_winograd_path_matches_pytorch(padding: str) -> None:
    rng = np.random.default_rng(7)
    arrays = {
        "x": rng.standard_normal((4, 12, 11, 16)).astype(np.float32),
        "k": (rng.standard_normal((3, 3, 16, 12)) / 12).astype(np.float32),
        "b": rng.standard_normal(12).astype(np.float32),
    }
    op, y, (gx, gk, gb), g = _run(arrays, padding, True, winograd=True)
    assert op is Conv3x3Relu
    x, k, b = (torch.from_numpy(arrays[n]).requires_grad_() for n in ("x", "k", "b"))
    out = F.relu(
        F.conv2d(
            x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), b, padding=1 if padding == "same" else 0
        )
    ).permute(0, 2, 3, 1)
    out.backward(torch.from_numpy(g))
    _close(y, out.detach().numpy())
    for got, want in ((gx, x.grad), (gk, k.grad), (gb, b.grad)):
        _close(got, want.numpy())


def test_second_derivatives_match_im2col() -> None:
    """The three Winograd ops are each other's gradients: d/dk of |dL/dx|^2 agrees with the
    im2col path's (create_graph)."""
    rng = np.random.default_rng(3)
    xa = rng.standard_normal((2, 9, 10, 8)).astype(np.float32)
    ka = (rng.standard_normal((3, 3, 8, 9)) / 6).astype(np.float32)
    out = []
    for winograd in (True, False):
        x, k = ndgrad.tensor(xa, requires_grad=True), ndgrad.tensor(ka, requires_grad=True)
        with kernels_on():
            saved = NumpyBackend.winograd
            if not winograd:
                NumpyBackend.winograd = lambda self, x, filters: False
            try:
                y = conv2d(x, k, padding="same")
                gx, gk = backward([(y * y).sum()], inputs=[x, k], create_graph=True)
                assert isinstance(y._node, Conv3x3) == winograd
                hk, hx = backward([(gx * gx).sum() + (gk * gk).sum()], inputs=[k, x])
            finally:
                NumpyBackend.winograd = saved
        out.append((gx.numpy(), gk.numpy(), hk.numpy(), hx.numpy()))
    for got, want in zip(*out):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_kernels_off_float64_few_channels_and_strides_take_im2col() -> None:
    rng = np.random.default_rng(0)
    x32 = ndgrad.tensor(rng.standard_normal((2, 10, 10, 8)).astype(np.float32), requires_grad=True)
    k32 = ndgrad.tensor(rng.standard_normal((3, 3, 8, 8)).astype(np.float32), requires_grad=True)
    with kernels_on():
        assert isinstance(conv2d(x32, k32)._node, Conv3x3)
        x64, k64 = x32.astype("float64"), k32.astype("float64")
        assert not isinstance(conv2d(x64, k64)._node, Conv3x3)  # gradient checks: im2col
        assert not isinstance(conv2d(x32, k32, strides=2)._node, Conv3x3)
        assert not isinstance(conv2d(x32[..., :3], k32[:, :, :3])._node, Conv3x3)
        assert not isinstance(conv2d(x32[:, :9, :9], k32)._node, Conv3x3)  # 7 x 7 outputs
    with kernels_on(False):
        assert not isinstance(conv2d(x32, k32)._node, Conv3x3)


def test_only_the_needed_gradients_are_computed() -> None:
    """A first layer's input gets no gradient work; a frozen kernel none either."""
    rng = np.random.default_rng(2)
    x = ndgrad.tensor(rng.standard_normal((2, 10, 10, 8)).astype(np.float32))
    k = ndgrad.tensor(rng.standard_normal((3, 3, 8, 8)).astype(np.float32), requires_grad=True)
    with kernels_on():
        (gk,) = backward([conv2d(x, k, relu=True).sum()], inputs=[k])
        xr = ndgrad.tensor(x.numpy(), requires_grad=True)
        kf = ndgrad.tensor(k.numpy())
        (gx,) = backward([conv2d(xr, kf).sum()], inputs=[xr])
    assert gk.shape == (3, 3, 8, 8) and x.grad is None
    assert gx.shape == (2, 10, 10, 8) and kf.grad is None
