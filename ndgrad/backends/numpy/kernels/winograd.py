"""Winograd convolutions for 3x3, stride-1 kernels on channels-last images: the NumPy
backend's fast path, as batched matrix products (BLAS), checked against im2col (the reference).

A 3x3 convolution computed by im2col + one product costs 9 multiplies per output and channel
pair. Winograd's minimal filtering algorithm F(m x m, 3 x 3) computes an m x m tile of outputs
from an (m+2) x (m+2) tile of inputs with (m+2)^2 multiplies per channel pair, after linear
transforms of the input tile (``B^T d B``) and of the kernel (``G g G^T``), followed by one of
the products (``A^T M A``):

    Y = A^T [ (G g G^T) (.) (B^T d B) ] A

Summed over input channels, the element-wise products become (m+2)^2 independent matrix
products (tiles x C) @ (C x F): one batched `matmul`. `F(2x2, 3x3)` does 16 / 4 = 4 multiplies
per output (2.25x fewer than 9), `F(4x4, 3x3)` 36 / 16 = 2.25 (4x fewer). The transforms are
memory-bound passes over the tiles (NumPy products with the small transform matrices).

The backward passes are the exact adjoints of the forward computation, with the same tiles:
the input gradient is ``B (dM U^T) B^T`` added back tile by tile into the (overlapping)
input positions and the kernel gradient ``G^T (V^T dM) G``, where ``dM = A dY A^T`` and V is
the transformed input. Each has the same multiply count as the forward.

Float32 error bound. With u = 2^-24 (float32's unit roundoff) and gamma_n = n u / (1 - n u),
every output of `conv3x3` satisfies

    |y_computed - y| <= gamma_(C + 4m + 10) * S

where S is what the same algorithm computes, exactly, from |x|, |g| and the transforms'
entry-wise absolute values |A^T|, |G|, |B^T| (the usual bound of sums of products computed in
any order, applied to each transform stage, the C-long inner products and the roundings of
the kernel transform). The input gradient obeys it with F in place of C, the kernel gradient
with the number of tiles (N * TH * TW); S is then the same adjoint computation on absolute
values. im2col's bound is gamma_(9C) times sum_(window) |x| |w|; for inputs and weights of one
magnitude, Winograd's S is R_m times that sum, R_2 = 64/9 = 7.1 for F(2x2, 3x3) and
R_4 = 256 for F(4x4, 3x3) (`amplification`), because the transforms' cancellations are exact
only in exact arithmetic. Measured on random data: a largest error of 1e-7 to 3e-7 of the
largest output for F(2x2) and im2col alike, 1e-6 to 5e-6 for F(4x4).
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import DTypeLike

# Lavin & Gray's matrices (interpolation points 0, 1, -1 and infinity for m = 2; 0, +-1,
# +-2 and infinity for m = 4): (A^T (m x a), G (a x 3), B^T (a x a)) with a = m + 2.
_MATRICES = {
    2: (
        [[1, 1, 1, 0], [0, 1, -1, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    ),
    4: (
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
        [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ],
        [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ],
    ),
}


def matrices(m: int, dtype: DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A^T, G, B^T) of F(m x m, 3 x 3) for m in (2, 4)."""
    if m not in _MATRICES:
        raise ValueError(f"winograd: tile size m must be 2 or 4. Received m={m}")
    at, g, bt = (np.asarray(t, dtype=dtype) for t in _MATRICES[m])
    return at, g, bt


@functools.cache
def _g_kron(m: int) -> np.ndarray:
    """G (x) G, float64 (a*a, 9): the kernel transform as one product, computed once per m."""
    gm = matrices(m)[1]
    return np.kron(gm, gm)


def amplification(m: int) -> float:
    """R_m of the module's error bound: how much larger S is than im2col's sum of absolute
    products when every |x| and |w| is the same (im2col: 1)."""
    at, g, bt = (np.abs(t) for t in matrices(m))
    # Output i of a 1-D tile gets input position p and kernel tap k with weight
    # sum_xi |A^T[i, xi]| |G[xi, k]| |B^T[xi, p]| (im2col: 1 when p = i + k, else 0); in 2-D
    # the weights multiply, and the worst output of the tile is compared with im2col's 9.
    w1 = np.einsum("ix,xk,xp->ikp", at, g, bt)
    return float(w1.sum(axis=(1, 2)).max() ** 2 / 9)


# Reused buffers for two intermediates, the forward's product M and the input gradient's dV:
# each lives only inside one call (under the backend's lock), and several megabytes allocated
# afresh cost about as much in page faults as the products themselves (glibc returns such
# blocks to the system when they are freed). Keyed by role, shape and dtype; the oldest is
# dropped beyond _SCRATCH_MAX. (dM and V outlive the call that makes them: never reused.)
_SCRATCH: dict[tuple, np.ndarray] = {}
_SCRATCH_MAX = 12


def _scratch(role: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    key = (role, shape, np.dtype(dtype))
    buf = _SCRATCH.pop(key, None)
    if buf is None:
        buf = np.empty(shape, dtype=dtype)
        if len(_SCRATCH) >= _SCRATCH_MAX:
            del _SCRATCH[next(iter(_SCRATCH))]
    _SCRATCH[key] = buf  # most recently used last
    return buf


def _tiles(m: int, oh: int, ow: int) -> tuple[int, int]:
    return -(-oh // m), -(-ow // m)


def _transform2(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """t @ X @ t^T over the two leading axes of x (a, a, ...): (b, b, ...)."""
    a = x.shape[0]
    rest = x.shape[2:]
    y = (t @ x.reshape(a, -1)).reshape(t.shape[0], a, -1)  # over the first axis
    y = np.einsum("jk,ikr->ijr", t, y)  # over the second (einsum: BLAS is slow for k = a)
    return y.reshape(t.shape[0], t.shape[0], *rest)


def _compiled() -> ModuleType:
    from . import winograd_tiles

    return winograd_tiles


def input_transform(
    x: np.ndarray, m: int, compiled: bool = False
) -> tuple[np.ndarray, tuple[int, int]]:
    """x (N, H, W, C) -> V = B^T d B over every tile d: (a*a, N*TH*TW, C), and (TH, TW).

    The tiles start every m pixels; the image is padded with zeros at the bottom and right so
    that TH x TW tiles of m x m outputs cover the (H-2) x (W-2) outputs.
    """
    n, h, w, c = x.shape
    a = m + 2
    th, tw = _tiles(m, h - 2, w - 2)
    bt = matrices(m, x.dtype)[2]
    if compiled:
        out = np.empty((a * a, n * th * tw, c), dtype=x.dtype)
        if m == 4:
            return _compiled().input_tiles4(x, th, tw, out), (th, tw)
        return _compiled().tile_transform(x, bt, m, th, tw, out), (th, tw)
    hp, wp = th * m + 2, tw * m + 2
    if (hp, wp) != (h, w):
        xp = np.zeros((n, hp, wp, c), dtype=x.dtype)
        xp[:, :h, :w] = x
    else:
        xp = np.ascontiguousarray(x)
    s = xp.strides
    d = as_strided(xp, (a, a, n, th, tw, c), (s[1], s[2], s[0], m * s[1], m * s[2], s[3]))
    v = _transform2(bt, np.ascontiguousarray(d))  # (a, a, N, TH, TW, C)
    return v.reshape(a * a, n * th * tw, c), (th, tw)


def kernel_transform(g: np.ndarray, m: int) -> np.ndarray:
    """g (3, 3, C, F) -> U = G g G^T: (a*a, C, F), one product with G (x) G in float64."""
    a = m + 2
    u = _g_kron(m) @ g.reshape(9, -1).astype(np.float64)  # (a*a, C*F)
    return u.reshape(a * a, *g.shape[2:]).astype(g.dtype)


def _grad_transform(gy: np.ndarray, m: int, th: int, tw: int, compiled: bool) -> np.ndarray:
    """dY (N, OH, OW, F) -> dM = A dY A^T over every tile: (a*a, N*TH*TW, F)."""
    n, oh, ow, f = gy.shape
    a = m + 2
    at_t = np.ascontiguousarray(matrices(m, gy.dtype)[0].T)  # A (a, m)
    if compiled:
        out = np.empty((a * a, n * th * tw, f), dtype=gy.dtype)
        if m == 4:
            return _compiled().grad_tiles4(gy, th, tw, out)
        return _compiled().tile_transform(gy, at_t, m, th, tw, out)
    padded = np.zeros((n, th * m, tw * m, f), dtype=gy.dtype)
    padded[:, :oh, :ow] = gy
    tiles = padded.reshape(n, th, m, tw, m, f).transpose(2, 4, 0, 1, 3, 5)  # (m, m, N, TH, TW, F)
    dm = _transform2(at_t, np.ascontiguousarray(tiles))
    return dm.reshape(a * a, n * th * tw, f)


_NO_BIAS = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0)}


def forward(
    x: np.ndarray,
    g: np.ndarray,
    m: int = 4,
    bias: np.ndarray | None = None,
    relu: bool = False,
    compiled: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`conv3x3`, the transformed input V (a*a, tiles, C) and kernel U (a*a, C, F), which
    `kernel_grad` and `input_grad` reuse."""
    n, h, w, _ = x.shape
    f = g.shape[3]
    v, (th, tw) = input_transform(x, m, compiled)
    u = kernel_transform(g, m)
    at = matrices(m, x.dtype)[0]
    if compiled:
        mm = np.matmul(v, u, out=_scratch("m", (v.shape[0], v.shape[1], f), x.dtype))
        out = np.empty((n, h - 2, w - 2, f), dtype=x.dtype)
        b = _NO_BIAS[x.dtype] if bias is None else bias
        if m == 4:
            return _compiled().output_tiles4(mm, th, tw, b, relu, out), v, u
        return _compiled().untile_transform(mm, at, m, th, tw, b, relu, False, out), v, u
    a = m + 2
    mm = np.matmul(v, u)
    y = _transform2(at, mm.reshape(a, a, n, th, tw, f))  # (m, m, N, TH, TW, F)
    y = y.transpose(2, 3, 0, 4, 1, 5).reshape(n, th * m, tw * m, f)[:, : h - 2, : w - 2]
    if bias is not None:
        y = y + bias
    if relu:
        y = np.maximum(y, 0)
    return np.ascontiguousarray(y), v, u


def conv3x3(
    x: np.ndarray,
    g: np.ndarray,
    m: int = 4,
    bias: np.ndarray | None = None,
    relu: bool = False,
    compiled: bool = False,
) -> np.ndarray:
    """Valid 3x3 convolution (cross-correlation, as im2col computes it): x (N, H, W, C),
    g (3, 3, C, F), optional bias (F,) and relu -> (N, H-2, W-2, F) by Winograd
    F(m x m, 3 x 3); `compiled`: the tile transforms by the numba kernels (float32,
    C-contiguous arrays).

    >>> x = np.random.default_rng(0).standard_normal((2, 6, 5, 3)).astype(np.float32)
    >>> g = np.random.default_rng(1).standard_normal((3, 3, 3, 4)).astype(np.float32)
    >>> y = conv3x3(x, g)
    >>> ref = np.einsum("nijklc,klcf->nijf", np.lib.stride_tricks.sliding_window_view(
    ...     x, (3, 3), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3), g)
    >>> y.shape, bool(np.allclose(y, ref, atol=1e-5))
    ((2, 4, 3, 4), True)
    """
    return forward(x, g, m, bias, relu, compiled)[0]


def grad_tiles(gy: np.ndarray, m: int = 4, compiled: bool = False) -> np.ndarray:
    """dM = A dY A^T for the output gradient gy (N, OH, OW, F): (a*a, tiles, F), shared by
    `input_grad` and `kernel_grad`."""
    th, tw = _tiles(m, gy.shape[1], gy.shape[2])
    return _grad_transform(gy, m, th, tw, compiled)


def input_grad(
    gy: np.ndarray,
    g: np.ndarray,
    m: int = 4,
    compiled: bool = False,
    dm: np.ndarray | None = None,
    u: np.ndarray | None = None,
) -> np.ndarray:
    """The input gradient of `conv3x3`: gy (N, OH, OW, F), g (3, 3, C, F) -> (N, OH+2, OW+2, C),
    as the adjoint of the forward's tiles: B (dM U^T) B^T added back into the input (`dm`:
    `grad_tiles(gy)`, `u`: `kernel_transform(g)`, when already computed)."""
    n, oh, ow, _ = gy.shape
    c = g.shape[2]
    a = m + 2
    th, tw = _tiles(m, oh, ow)
    if dm is None:
        dm = _grad_transform(gy, m, th, tw, compiled)
    if u is None:
        u = kernel_transform(g, m)
    b = np.ascontiguousarray(matrices(m, gy.dtype)[2].T)  # B (a, a)
    dv = np.matmul(dm, u.transpose(0, 2, 1), out=_scratch("dv", (a * a, dm.shape[1], c), gy.dtype))
    if compiled:
        out = np.empty((n, oh + 2, ow + 2, c), dtype=gy.dtype)
        if m == 4:
            return _compiled().input_grad_tiles4(dv, th, tw, out)
        return _compiled().untile_transform(dv, b, m, th, tw, _NO_BIAS[gy.dtype], False, True, out)
    dd = _transform2(b, dv.reshape(a, a, n, th, tw, c))
    out = np.zeros((n, th * m + 2, tw * m + 2, c), dtype=gy.dtype)
    for i in range(a):  # overlapping tiles: add each tile position's share
        for j in range(a):
            out[:, i : i + th * m : m, j : j + tw * m : m] += dd[i, j]
    return np.ascontiguousarray(out[:, : oh + 2, : ow + 2])


def kernel_grad(
    x: np.ndarray,
    gy: np.ndarray,
    m: int = 4,
    compiled: bool = False,
    v: np.ndarray | None = None,
    dm: np.ndarray | None = None,
) -> np.ndarray:
    """The kernel gradient of `conv3x3`: x (N, H, W, C), gy (N, H-2, W-2, F) -> (3, 3, C, F),
    as G^T (V^T dM) G (`v`: the forward's transformed input, `dm`: `grad_tiles(gy)`, when
    already computed)."""
    c, f = x.shape[3], gy.shape[3]
    a = m + 2
    th, tw = _tiles(m, gy.shape[1], gy.shape[2])
    if v is None:
        v = input_transform(x, m, compiled)[0]
    if dm is None:
        dm = _grad_transform(gy, m, th, tw, compiled)
    # (dM^T V)^T, not V^T dM: the same sums (in another order: not the same bits as the
    # product the other way round), and OpenBLAS computes this batch of products
    # faster (book convnet's second layer, 36 x (32 x 576) (576 x 64) at 2 threads: 1.35 ms
    # as V^T dM, 0.8 ms as (dM^T V)^T).
    du = np.matmul(dm.transpose(0, 2, 1), v).transpose(0, 2, 1)  # (a*a, C, F)
    du64 = np.ascontiguousarray(du, dtype=np.float64).reshape(a * a, -1)
    dg = _g_kron(m).T @ du64  # (9, C*F)
    return dg.reshape(3, 3, c, f).astype(gy.dtype)
