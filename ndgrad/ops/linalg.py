"""Products: `matmul` (one BLAS call forward, one per needed gradient), `dot`, `tensordot`,
`einsum` and `outer`.

matmul follows NumPy: 1-D operands are treated as a row (left) or column (right) vector and the
added axis is removed; leading axes broadcast as a batch.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

from .._shapes import broadcast_shapes, normalize_axis
from .._tensor import Tensor
from ..autograd.op import Op
from ..errors import ShapeError
from .shape import broadcast_to, reshape, swapaxes, transpose


class Matmul(Op):
    def check(self, xs: tuple, ys: tuple) -> None:
        if not xs or not ys:
            raise ShapeError(f"matmul: operands must be at least 1-D. Received {xs} @ {ys}")
        k1 = xs[-1]
        k2 = ys[-2] if len(ys) > 1 else ys[0]
        if k1 != k2:
            raise ShapeError(
                f"matmul: inner sizes differ: {xs} @ {ys} contracts {k1} with {k2}; "
                f"the last axis of x must equal the {'second-to-last' if len(ys) > 1 else 'only'} "
                f"axis of y"
            )
        try:
            broadcast_shapes(xs[:-2], ys[:-2], op="matmul")
        except ShapeError as e:
            raise ShapeError(
                f"matmul: the batch axes (all but the last two) of {xs} @ {ys} do not "
                f"broadcast: {str(e).removeprefix('matmul: ')}"
            ) from None

    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return self.backend.matmul(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        nx, ny = self.needs_grad
        gx = gy = None
        if x.ndim == 1 and y.ndim == 1:
            return (g * y if nx else None), (g * x if ny else None)
        if x.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
            g2 = reshape(g, (*g.shape[:-1], 1, g.shape[-1]))
            if nx:
                gx = reshape(matmul(g2, swapaxes(y, -1, -2)), (*g.shape[:-1], x.shape[0]))
            if ny:
                gy = reshape(x, (-1, 1)) * g2
            return gx, gy
        if y.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
            g2 = reshape(g, (*g.shape, 1))
            if nx:
                gx = g2 * y
            if ny:
                gy = reshape(matmul(swapaxes(x, -1, -2), g2), (*g.shape[:-1], y.shape[0]))
            return gx, gy
        if nx:
            gx = matmul(g, swapaxes(y, -1, -2))
        if ny:
            if y.ndim == 2 and x.ndim > 2:  # a shared weight: one 2-D product, no batch of them
                gy = shared_weight_grad(x, g)
            else:
                gy = matmul(swapaxes(x, -1, -2), g)
        return gx, gy


def shared_weight_grad(x: Tensor, g: Tensor) -> Tensor:
    """x (..., k) and g (..., n) -> x^T g (k, n) as one 2-D product (a dense layer's kernel)."""
    if x.ndim != 2:  # (a 2-D x, a dense layer's input, needs no reshape node)
        rows = math.prod(x.shape[:-1])  # not -1: ambiguous when a size is 0
        x, g = reshape(x, (rows, x.shape[-1])), reshape(g, (rows, g.shape[-1]))
    return matmul(transpose(x), g)


def matmul(x: Any, y: Any) -> Tensor:
    """Matrix product with NumPy's rules for 1-D and batched operands. Operator: ``x @ y``.

    >>> import ndgrad
    >>> (ndgrad.ones((2, 3)) @ ndgrad.ones((3, 4))).shape
    (2, 4)
    """
    return Matmul.apply(x, y)


def tensordot(x: Tensor, y: Tensor, axes: int | Sequence[Any] = 2) -> Tensor:
    """Sum of products over `axes` (an int: the last n of x with the first n of y; or a pair
    of axis lists), as `numpy.tensordot`. The result has x's free axes, then y's."""
    if isinstance(axes, int):
        ax = list(range(x.ndim - axes, x.ndim))
        ay = list(range(axes))
    else:
        ax, ay = ([a] if isinstance(a, int) else list(a) for a in axes)
    ax = [normalize_axis(a, x.ndim, "tensordot") for a in ax]
    ay = [normalize_axis(a, y.ndim, "tensordot") for a in ay]
    if len(ax) != len(ay) or any(x.shape[a] != y.shape[b] for a, b in zip(ax, ay)):
        raise ShapeError(
            f"tensordot: contracted axes must pair up with equal sizes. Received shapes "
            f"{x.shape} (axes {ax}) and {y.shape} (axes {ay})"
        )
    fx = [a for a in range(x.ndim) if a not in ax]
    fy = [b for b in range(y.ndim) if b not in ay]
    k = math.prod(x.shape[a] for a in ax)
    m = math.prod(x.shape[a] for a in fx)
    n = math.prod(y.shape[b] for b in fy)
    x2 = reshape(transpose(x, fx + ax), (m, k))  # explicit sizes: -1 is ambiguous for size 0
    y2 = reshape(transpose(y, ay + fy), (k, n))
    return reshape(matmul(x2, y2), [x.shape[a] for a in fx] + [y.shape[b] for b in fy])


def dot(x: Any, y: Any) -> Tensor:
    """NumPy's dot: a product for 0-d, the inner product of vectors, `matmul` for matrices and
    ``dot(w, x)`` with w (512, 784) and x (784,); for N-D, a sum over x's last axis and y's
    second-to-last."""
    from ..creation import tensor

    x = x if isinstance(x, Tensor) else tensor(x)
    y = y if isinstance(y, Tensor) else tensor(y)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    if y.ndim <= 2:
        return matmul(x, y)
    return tensordot(x, y, axes=([-1], [-2]))


def outer(x: Tensor, y: Tensor) -> Tensor:
    """Outer product of the flattened inputs: shape (x.size, y.size)."""
    return reshape(x, (-1, 1)) * reshape(y, (1, -1))


class Einsum(Op):
    """Einstein summation over explicit subscripts (`spec`: per-operand letters, output).

    A letter repeated within one operand takes a diagonal (``"ii->i"``) or a trace
    (``"ii->"``); its gradient is placed back on that diagonal, zero elsewhere.
    """

    spec: tuple[list[str], str]

    def forward(self, xp: Any, *arrays: Any) -> Any:
        ins, out = self.spec
        return self.backend.einsum(",".join(ins) + "->" + out, *arrays)

    def backward(self, g: Tensor) -> tuple:
        ins, out = self.spec
        grads: list[Tensor | None] = []
        for k, (sub, x) in enumerate(zip(ins, self.inputs)):
            if not self.needs_grad[k]:
                grads.append(None)
                continue
            others = [s for i, s in enumerate(ins) if i != k]
            present = set(out).union(*others) if others else set(out)
            letters = "".join(dict.fromkeys(sub))  # each letter once, in order
            kept = "".join(c for c in letters if c in present)
            gk = einsum(
                ",".join([out, *others]) + "->" + kept,
                g,
                *[t for i, t in enumerate(self.inputs) if i != k],
            )
            sizes = dict(zip(sub, x.shape))
            if kept != letters:  # letters summed only in this operand: broadcast back over them
                shape = [sizes[c] if c in present else 1 for c in letters]
                gk = broadcast_to(reshape(gk, shape), [sizes[c] for c in letters])
            if letters != sub:  # repeated letters: back onto the diagonal
                gk = _on_diagonal(gk, letters, sub, sizes)
            grads.append(gk)
        return tuple(grads)


def _on_diagonal(g: Tensor, letters: str, sub: str, sizes: dict[str, int]) -> Tensor:
    """`g` over the distinct `letters` of `sub` placed where sub's repeated letters are equal
    (zeros elsewhere): an einsum of g with one identity matrix per repetition."""
    from ..creation import eye

    free = iter(c for c in string.ascii_letters if c not in sub)
    spelled, eyes = [], []
    for i, c in enumerate(sub):
        if c in sub[:i]:
            f = next(free)
            spelled.append(f)
            eyes.append((c + f, eye(sizes[c], dtype=g.dtype, device=g.backend)))
        else:
            spelled.append(c)
    subscripts = ",".join([letters, *(s for s, _ in eyes)]) + "->" + "".join(spelled)
    return einsum(subscripts, g, *(e for _, e in eyes))


def _parse_einsum(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit per-operand letters and output letters, with '...' spelled out."""
    s = subscripts.replace(" ", "")
    lhs, arrow, rhs = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ShapeError(f"einsum: {subscripts!r} names {len(ins)} operands, {len(shapes)} given")
    free = iter(c for c in string.ascii_letters if c not in s)
    nell = max(
        (len(sh) - len(p.replace("...", "")) for p, sh in zip(ins, shapes) if "..." in p), default=0
    )
    ell = "".join(next(free) for _ in range(nell))
    spelled = []
    sizes: dict[str, int] = {}
    for p, sh in zip(ins, shapes):
        if "..." in p:
            n = len(sh) - len(p.replace("...", ""))
            p = p.replace("...", ell[nell - n :] if n else "")
        if len(p) != len(sh):
            raise ShapeError(
                f"einsum: operand with subscripts {p!r} has shape {sh} ({len(sh)} axes)"
            )
        for c, n in zip(p, sh):
            if sizes.setdefault(c, n) != n:
                raise ShapeError(
                    f"einsum: subscript {c!r} stands for sizes {sizes[c]} and {n} in "
                    f"{subscripts!r}. Received shapes {', '.join(str(tuple(t)) for t in shapes)}"
                )
        spelled.append(p)
    if arrow:
        out = rhs.replace("...", ell)
        if len(set(out)) != len(out) or not set(out) <= set(sizes):
            raise ValueError(
                f"einsum: output subscripts {rhs!r} must be distinct letters of the inputs "
                f"in {subscripts!r}"
            )
    else:
        counts = {c: "".join(spelled).count(c) for c in "".join(spelled)}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return spelled, out


def einsum(subscripts: str, *operands: Tensor) -> Tensor:
    """Einstein summation, e.g. ``einsum("ij,jk->ik", a, b)``; '...', implicit output and
    repeated letters within an operand (traces ``"ii->"``, diagonals ``"ii->i"``) follow NumPy.

    >>> import ndgrad
    >>> ndgrad.einsum("ii->", ndgrad.eye(3)).item()
    3.0
    """
    from ..creation import tensor

    ts = [t if isinstance(t, Tensor) else tensor(t) for t in operands]
    spec = _parse_einsum(subscripts, [t.shape for t in ts])
    return Einsum.apply(*ts, spec=spec)
