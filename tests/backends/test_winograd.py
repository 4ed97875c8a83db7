"""Winograd's 3x3 convolutions (`ndgrad/backends/numpy/kernels/winograd.py`) against im2col, the
reference, over generated shapes: the output, the input gradient and the kernel gradient, by
F(2x2, 3x3) and F(4x4, 3x3), with the tile transforms in NumPy and compiled. Each float32
result must lie within the error bound its module docstring states, computed here from the
same data (gamma_n * S, S by the algorithm on absolute values), and float64 results agree to
round-off."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from ndgrad.backends.base import Backend
from ndgrad.backends.numpy.kernels import winograd
from ndgrad.backends.registry import get_backend

CPU = get_backend("cpu")
U = 2.0**-24  # float32's unit roundoff


def _im2col(x: np.ndarray) -> np.ndarray:
    return Backend.im2col(CPU, x, (3, 3), (1, 1))


def _reference(x: np.ndarray, w: np.ndarray, gy: np.ndarray) -> tuple:
    """(y, gx, gw) by im2col in float64."""
    n, h, wd, c = x.shape
    f = w.shape[3]
    cols, k = _im2col(x.astype(np.float64)), w.reshape(9 * c, f).astype(np.float64)
    g2 = gy.reshape(-1, f).astype(np.float64)
    y = (cols @ k).reshape(gy.shape)
    gx = Backend.col2im(CPU, g2 @ k.T, (n, h, wd, c), (3, 3), (1, 1))
    gw = (cols.T @ g2).reshape(w.shape)
    return y, gx, gw


def _absolute_sums(x: np.ndarray, w: np.ndarray, gy: np.ndarray, m: int) -> tuple:
    """The S of each bound: the algorithm of the module's docstring, tile by tile, on |x|,
    |w|, |gy| with |A^T|, |G|, |B^T| (`winograd.matrices`), float64: (y, gx, gw)."""
    at, gm, bt = (np.abs(t) for t in winograd.matrices(m))
    x, w, gy = (np.abs(a).astype(np.float64) for a in (x, w, gy))
    n, h, wd, c = x.shape
    f, a = w.shape[3], m + 2
    th, tw = -(-(h - 2) // m), -(-(wd - 2) // m)
    padded = np.zeros((n, th * m + 2, tw * m + 2, c))
    padded[:, :h, :wd] = x
    d = sliding_window_view(padded, (a, a), axis=(1, 2))[:, ::m, ::m]  # (N, TH, TW, C, a, a)
    v = np.einsum("ip,ntwcpq,jq->ntwijc", bt, d, bt, optimize=True)  # B^T d B
    u = np.einsum("ik,klcf,jl->ijcf", gm, w, gm, optimize=True)  # G g G^T
    y = np.einsum("ri,ntwijc,ijcf,sj->ntrwsf", at, v, u, at, optimize=True)  # A^T M A
    y = y.reshape(n, th * m, tw * m, f)[:, : h - 2, : wd - 2]
    gp = np.zeros((n, th * m, tw * m, f))
    gp[:, : h - 2, : wd - 2] = gy
    tiles = gp.reshape(n, th, m, tw, m, f)
    dm = np.einsum("ri,ntrwsf,sj->ntwijf", at, tiles, at, optimize=True)  # A dY A^T
    dd = np.einsum("ip,ntwijf,ijcf,jq->ntwpqc", bt, dm, u, bt, optimize=True)  # B (dM U^T) B^T
    gx = np.zeros_like(padded)
    for p in range(a):  # each tile's share, added back where its inputs came from
        for q in range(a):
            gx[:, p : p + th * m : m, q : q + tw * m : m] += dd[:, :, :, p, q]
    gw = np.einsum("ik,ntwijc,ntwijf,jl->klcf", gm, v, dm, gm, optimize=True)  # G^T (V^T dM) G
    return y, gx[:, :h, :wd], gw


def _gamma(k: int) -> float:
    return k * U / (1 - k * U)


@st.composite
def problems(draw: st.DrawFn) -> tuple:
    n, c, f = draw(st.integers(0, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 6))
    h, w = draw(st.integers(3, 14)), draw(st.integers(3, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    k = rng.standard_normal((3, 3, c, f)).astype(np.float32)
    gy = rng.standard_normal((n, h - 2, w - 2, f)).astype(np.float32)
    return x, k, gy


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("m", [2, 4])
@given(problems())
def test_float32_results_lie_within_the_stated_bound(
    compiled: bool, m: int, problem: tuple
) -> None:
    if compiled:
        pytest.importorskip("numba")
    x, k, gy = problem
    n, h, w, c = x.shape
    f = k.shape[3]
    y, gx, gw = _reference(x, k, gy)
    sy, sgx, sgw = _absolute_sums(x, k, gy, m)
    tiles = n * -(-(h - 2) // m) * -(-(w - 2) // m)
    got_y, v, u = winograd.forward(x, k, m, compiled=compiled)
    dm = winograd.grad_tiles(gy, m, compiled)
    got_gx = winograd.input_grad(gy, k, m, compiled, dm, u)
    got_gw = winograd.kernel_grad(x, gy, m, compiled, v, dm)
    for got, want, s, terms in (
        (got_y, y, sy, c),
        (got_gx, gx, sgx, f),
        (got_gw, gw, sgw, tiles),
    ):
        assert got.dtype == np.float32 and got.shape == want.shape
        bound = _gamma(terms + 4 * m + 10) * s + 1e-30
        assert np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) / bound)
    # Without the saved transforms, each gradient recomputes them: the same numbers.
    np.testing.assert_array_equal(winograd.input_grad(gy, k, m, compiled), got_gx)
    np.testing.assert_array_equal(winograd.kernel_grad(x, gy, m, compiled), got_gw)


@pytest.mark.parametrize("m", [2, 4])
@given(problems())
def test_float64_agrees_with_im2col_to_round_off(m: int, problem: tuple) -> None:
    x, k, gy = (a.astype(np.float64) for a in problem)
    y, gx, gw = _reference(x, k, gy)
    np.testing.assert_allclose(winograd.conv3x3(x, k, m), y, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(winograd.input_grad(gy, k, m), gx, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(winograd.kernel_grad(x, gy, m), gw, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("compiled", [False, True])
def test_bias_and_relu_are_applied_by_the_output_transform(compiled: bool) -> None:
    if compiled:
        pytest.importorskip("numba")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 9, 7, 5)).astype(np.float32)
    k = rng.standard_normal((3, 3, 5, 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    plain = winograd.conv3x3(x, k, 4, compiled=compiled)
    fused = winograd.conv3x3(x, k, 4, bias=b, relu=True, compiled=compiled)
    np.testing.assert_allclose(fused, np.maximum(plain + b, 0), rtol=1e-6, atol=1e-6)
    assert (fused == 0).any() and (fused > 0).any()


def test_amplification_constants_of_the_docstring() -> None:
    assert winograd.amplification(2) == pytest.approx(64 / 9)
    assert winograd.amplification(4) == pytest.approx(256)
    doc = " ".join(winograd.__doc__.split())
    assert "R_2 = 64/9 = 7.1" in doc and "R_4 = 256" in doc
    assert "gamma_(C + 4m + 10) * S" in doc


def test_the_transforms_compute_a_one_dimensional_correlation() -> None:
    """y_i = sum_k d_(i+k) g_k = A^T [(G g) * (B^T d)] for one tile, exactly in float64."""
    rng = np.random.default_rng(0)
    for m in (2, 4):
        at, g, bt = winograd.matrices(m)
        d, k = rng.standard_normal(m + 2), rng.standard_normal(3)
        want = np.array([d[i : i + 3] @ k for i in range(m)])
        np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), want, rtol=1e-12, atol=1e-12)


def test_an_unknown_tile_size_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="m must be 2 or 4. Received m=3"):
        winograd.matrices(3)


@given(problems())
def test_written_out_f4x4_transforms_match_the_generic_kernels(problem: tuple) -> None:
    """The F(4x4, 3x3) kernels (`input_tiles4`, `grad_tiles4`, `output_tiles4` with bias and
    relu, `input_grad_tiles4`) give the generic matrix-driven kernels' results, edges included
    (only the summation order differs: a few units in the last place)."""
    tiles = pytest.importorskip("ndgrad.backends.numpy.kernels.winograd_tiles")
    x, k, gy = problem
    n, h, w, c = x.shape
    f = k.shape[3]
    th, tw = -(-(h - 2) // 4), -(-(w - 2) // 4)
    at, _, bt = winograd.matrices(4, np.float32)
    rng = np.random.default_rng(c * 100 + f)
    mm = rng.standard_normal((36, n * th * tw, f)).astype(np.float32)
    dv = rng.standard_normal((36, n * th * tw, c)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32)

    def same(got: np.ndarray, want: np.ndarray) -> None:
        scale = float(np.abs(want).max()) if want.size else 0.0
        np.testing.assert_allclose(got, want, rtol=0, atol=4 * U * 64 * scale + 1e-30)

    def empty(*shape: int) -> np.ndarray:
        return np.full(shape, np.nan, np.float32)  # every element must be written

    same(
        tiles.input_tiles4(x, th, tw, empty(36, n * th * tw, c)),
        tiles.tile_transform(x, bt, 4, th, tw, empty(36, n * th * tw, c)),
    )
    same(
        tiles.grad_tiles4(gy, th, tw, empty(36, n * th * tw, f)),
        tiles.tile_transform(gy, np.ascontiguousarray(at.T), 4, th, tw, empty(36, n * th * tw, f)),
    )
    for b, relu in ((bias, True), (bias, False), (bias[:0], True), (bias[:0], False)):
        same(
            tiles.output_tiles4(mm, th, tw, b, relu, empty(n, h - 2, w - 2, f)),
            tiles.untile_transform(mm, at, 4, th, tw, b, relu, False, empty(n, h - 2, w - 2, f)),
        )
    b_ = np.ascontiguousarray(bt.T)
    same(
        tiles.input_grad_tiles4(dv, th, tw, empty(n, h, w, c)),
        tiles.untile_transform(dv, b_, 4, th, tw, bias[:0], False, True, empty(n, h, w, c)),
    )
