"""The CuPy backend's own CUDA kernels: fused optimizer steps, max pooling's gradient route
and col2im, each one launch where the Array-API code takes one per operation (Adam: about 15
per weight array and step; col2im and the route: one per window tap, plus zeros).

Every kernel is a `cupy.ElementwiseKernel`: one thread per output element, in a grid-stride
loop that CuPy launches with its default block size, so any size takes one launch; each is
compiled by NVRTC on first use (then cached by CuPy, on disk too) for the dtypes it is
called with. Dtypes: float32 and float64 (`T`); the callers send other dtypes (float16) to
the Array-API code.

Rounding: each kernel performs the operations of its reference (the optimizer's `update`,
the Array-API fallbacks of `backends/array_api/nn.py`) in the same order, in the arrays'
dtype, with ``--fmad=false`` so that NVRTC does not contract a multiply and an add into one
rounding (CUDA's division and square root round correctly by NVRTC's defaults). The
gradient route and col2im gather: each output element sums its own inputs in tap order, so
they need no atomic additions and give the same bits on every run.
"""

from __future__ import annotations

import functools

import cupy

_OPTIONS = ("--fmad=false",)


def _kernel(params: str, outs: str, body: str, name: str) -> cupy.ElementwiseKernel:
    return cupy.ElementwiseKernel(params, outs, body, f"ndgrad_{name}", options=_OPTIONS)


# -- optimizer steps (the formulas and their order: the optimizers' `update`) -----------------
@functools.cache
def sgd(momentum: bool, nesterov: bool) -> cupy.ElementwiseKernel:
    """SGD: ``w -= lr * g``; with momentum ``m = m * momentum - lr * g``, then ``w += m`` (or
    Nesterov: ``w = w - lr * g + momentum * m``). Arguments: g, lr, then momentum, w, m
    with momentum, or w alone without."""
    if not momentum:
        return _kernel("T g, T lr", "T w", "T s = g * lr; w = w - s;", "sgd")
    step = "w = w - s; w = w + m * mom;" if nesterov else "w = w + m;"
    body = f"T s = g * lr; m = m * mom; m = m - s; {step}"
    return _kernel("T g, T lr, T mom", "T w, T m", body, "sgd_momentum")


@functools.cache
def rmsprop(momentum: bool, centered: bool) -> cupy.ElementwiseKernel:
    """RMSprop (Keras 3). Arguments: g, lr, rho, 1 - rho, momentum, epsilon, then w, v and,
    as the configuration has them, m (momentum) and a (the centered average)."""
    outs = "T w, T v" + (", T m" if momentum else "") + (", T a" if centered else "")
    body = "T s = g * g; s = s * omr; v = v * rho; v = v + s; T d = v;"
    if centered:
        body += " T t = g * omr; a = a * rho; a = a + t; t = a * a; d = d - t;"
    body += " d = d + eps; d = sqrt(d); T inc = g / d; inc = inc * lr;"
    body += " m = m * mom; m = m + inc; w = w - m;" if momentum else " w = w - inc;"
    name = "rmsprop" + ("_momentum" if momentum else "") + ("_centered" if centered else "")
    return _kernel("T g, T lr, T rho, T omr, T mom, T eps", outs, body, name)


@functools.cache
def adam(amsgrad: bool) -> cupy.ElementwiseKernel:
    """Adam (Keras 3), with the step size alpha (both bias corrections) computed by the
    caller. Arguments: g, alpha, beta_1, 1 - beta_1, beta_2, 1 - beta_2, epsilon, then w, m,
    v and, with amsgrad, v_hat (NaN propagates through its maximum, as NumPy's)."""
    body = "T s = g * omb1; m = m * b1; m = m + s; s = g * g; s = s * omb2; v = v * b2; v = v + s;"
    if amsgrad:
        body += " vh = (isnan(vh) || vh > v) ? vh : v; T d = sqrt(vh);"
    else:
        body += " T d = sqrt(v);"
    body += " d = d + eps; T t = m / d; t = t * alpha; w = w - t;"
    outs = "T w, T m, T v" + (", T vh" if amsgrad else "")
    name = "adam_amsgrad" if amsgrad else "adam"
    return _kernel("T g, T alpha, T b1, T omb1, T b2, T omb2, T eps", outs, body, name)


# -- convolution and pooling on (N, H, W, C) images ---------------------------------------------
_GEOMETRY = "int32 h, int32 w, int32 c, int32 kh, int32 kw, int32 sh, int32 sw, int32 oh, int32 ow"

# The image pixel (n, y, x, ch) of output element i, and the windows (r, s) that cover it by
# tap (p, q): y = r * sh + p, x = s * sw + q.
_PIXEL = """
const ptrdiff_t ch = i % c;
ptrdiff_t rest = i / c;
const int x = rest % w;
rest /= w;
const int y = rest % h;
const ptrdiff_t n = rest / h;
"""
_COVERING = """
for (int p = 0; p < kh; ++p) {
  const int dy = y - p;
  if (dy < 0 || dy % sh != 0 || dy / sh >= oh) continue;
  const int r = dy / sh;
  for (int q = 0; q < kw; ++q) {
    const int dx = x - q;
    if (dx < 0 || dx % sw != 0 || dx / sw >= ow) continue;
    const int s = dx / sw;
    const ptrdiff_t k = ((n * oh + r) * ow + s) * c + ch;  // the window's element
"""

# The window (n, r, s, ch) of output element i of a pooled (N, OH, OW, C) array.
_WINDOW = """
const ptrdiff_t ch = i % c;
ptrdiff_t rest = i / c;
const int s = rest % ow;
rest /= ow;
const int r = rest % oh;
const ptrdiff_t n = rest / oh;
"""


def _pixel_sum(term: str) -> str:
    """A kernel body setting each image element to the sum, over the window positions (k)
    and taps (p, q) that cover it, of `term`."""
    return _PIXEL + "T acc = 0;" + _COVERING + f"    acc += {term};\n  }}\n}}\nout = acc;"


@functools.cache
def col2im() -> cupy.ElementwiseKernel:
    """col2im: each image element (N, H, W, C) the sum of its entries in the rows
    (N*OH*OW, KH*KW*C), in tap order, from 0 (the fallback's adds, one tap at a time).
    Arguments: cols (C-contiguous), the geometry; out: the image, C-contiguous."""
    body = _pixel_sum("cols[k / c * (kh * kw * c) + (p * kw + q) * c + ch]")
    return _kernel(f"raw T cols, {_GEOMETRY}", "T out", body, "col2im")


@functools.cache
def max_pool_arg() -> cupy.ElementwiseKernel:
    """The first tap (row-major) of each window whose x equals the window's maximum y, 0
    where none does (y NaN). Arguments: y (the maximum, elementwise), x (raw, C-contiguous),
    the geometry; out: arg (int8 or int32), shaped like y, C-contiguous."""
    body = (
        _WINDOW
        + """
int hit = 0;
for (int t = kh * kw - 1; t >= 0; --t) {  // backwards: the first tap that hits wins
  const int p = t / kw;
  const int q = t - p * kw;
  if (x[((n * h + r * sh + p) * w + s * sw + q) * c + ch] == top) hit = t;
}
arg = hit;
"""
    )
    return _kernel(f"T top, raw T x, {_GEOMETRY}", "A arg", body, "max_pool_arg")


@functools.cache
def route_scatter() -> cupy.ElementwiseKernel:
    """Max pooling's gradient into the image: each image element the sum over the windows
    covering it, in tap order, of ``g * (arg == tap)`` (NaN in g spreads, as in the
    fallback's masked adds). Arguments: g and arg (raw, C-contiguous), the geometry; out:
    the image, C-contiguous."""
    body = _pixel_sum("g[k] * (T)(arg[k] == p * kw + q)")
    return _kernel(f"raw T g, raw A arg, {_GEOMETRY}", "T out", body, "route_scatter")


@functools.cache
def route_gather() -> cupy.ElementwiseKernel:
    """The adjoint of `route_scatter`: each window's `arg` element of x, as the fallback's
    sum over taps of ``x * (arg == tap)``. Arguments: arg (elementwise), x (raw,
    C-contiguous), the geometry; out: shaped like arg, C-contiguous."""
    body = (
        _WINDOW
        + """
T acc = 0;
for (int t = 0; t < kh * kw; ++t) {
  const int p = t / kw;
  const int q = t - p * kw;
  const T part = x[((n * h + r * sh + p) * w + s * sw + q) * c + ch] * (T)(a == t);
  acc = t ? acc + part : part;
}
out = acc;
"""
    )
    return _kernel(f"A a, raw T x, {_GEOMETRY}", "T out", body, "route_gather")
