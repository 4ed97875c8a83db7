"""The op catalog: one `OpSpec` per differentiable op, checked generically against PyTorch.

Each spec names the ndgrad callable and the PyTorch callable that must agree with it, a
strategy for test cases (input shapes plus keyword arguments such as axis, keepdims, ddof,
alpha, approximate), the domain each input is drawn from (positive for log and sqrt, away from
the kinks of abs, relu and clip, all-distinct values for max and min so that there are no
ties), whether second derivatives are checked, and tolerances. `tests/ops/test_catalog.py`
runs every spec on every backend.

A case strategy is built for a size class (``spec.cases(max_side)``: 4 for the forward and
gradient tests, 3 for the costly finite-difference checks, ``TINY`` for the tiny shapes only),
so the finite-difference checks can ask for smaller inputs than the forward and gradient tests.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ndgrad

Shapes = tuple[tuple[int, ...], ...]
Case = tuple[Shapes, dict[str, Any]]
MAX_DIMS = 4


# -- input domains: rng, shape, dtype -> array --------------------------------------------------
def real(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(0.0, 1.0, shape)


def positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def away(*kinks: float, gap: float = 0.1) -> Callable[[np.random.Generator, tuple], np.ndarray]:
    """Normal values kept at least `gap` from each kink (where the op is not differentiable)."""

    def draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        x = rng.normal(0.0, 1.0, shape)
        for k in kinks:
            near = np.abs(x - k) < gap
            x = np.where(near, k + np.where(x >= k, gap, -gap) * 2, x)
        return x

    draw.__name__ = f"away{kinks}"
    return draw


def boolean(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.random(shape) < 0.5


def integer(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-5, 6, shape)


def positive_integer(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(1, 6, shape)


def nonzero_integer(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(1, 6, shape) * rng.choice([-1, 1], shape)


def distinct(rng: np.random.Generator, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Values for all inputs together, pairwise at least 0.1 apart: no ties anywhere."""
    sizes = [math.prod(s) for s in shapes]
    total = sum(sizes)
    values = (rng.permutation(total) - total / 2) * 0.1 + rng.uniform(0.0, 0.05)
    out, start = [], 0
    for s, n in zip(shapes, sizes):
        out.append(values[start : start + n].reshape(s))
        start += n
    return out


@dataclass(frozen=True)
class OpSpec:
    """One differentiable op and everything the generic tests need to check it."""

    name: str
    nd: Callable[..., Any]
    th: Callable[..., Any]
    cases: Callable[[int], st.SearchStrategy[Case]]
    domains: tuple[Callable, ...] = (real,)  # one per input (the last repeats)
    joint: Callable | None = None  # draws all inputs together (e.g. `distinct`)
    second_order: bool = True
    grad: bool = True  # False: no floating input (integers promoted to float), forward only
    rtol: float = 1e-5  # float32 forward and gradient against torch
    atol: float = 1e-6
    gc_eps: float = 1e-6  # gradcheck / gradgradcheck in float64
    gc_atol: float = 1e-5
    gc_rtol: float = 1e-3
    input_dtype: str | None = None  # fixed floating input dtype (astype specs)
    bad_cases: st.SearchStrategy[Case] | None = None  # shapes torch rejects (may also be ok)

    def domain(self, i: int) -> Callable:
        return self.domains[min(i, len(self.domains) - 1)]

    def sample(self, seed: int, shapes: Shapes, float_dtype: str) -> list[np.ndarray]:
        """Input arrays for `shapes`: floats as `float_dtype` (unless fixed); bools and
        integers (int64) as they are."""
        rng = np.random.default_rng(seed)
        if self.joint is not None:
            arrays = self.joint(rng, shapes)
        else:
            arrays = [self.domain(i)(rng, s) for i, s in enumerate(shapes)]
        dtype = self.input_dtype or float_dtype
        arrays = [np.asarray(a) for a in arrays]
        return [a if a.dtype.kind in "bi" else a.astype(dtype) for a in arrays]

    def __repr__(self) -> str:
        return f"OpSpec({self.name!r})"


# -- case strategies -----------------------------------------------------------------------
# Every strategy draws large shapes: the test's max_side picks a size class, (largest axis,
# elements per input). Elementwise and reduction specs (shapes_1, shapes_n) use SIZES; specs
# with case strategies of their own (shapes tied together by the op, kwargs read off the shape:
# products, shape ops, indexing, fused ops) use STRUCTURED_SIZES. Shapes over the budget have
# their longest axis halved until they fit (for tied shapes the longest size that an input over
# the budget uses, so the shapes stay consistent), and large axes are at least 2 long. One
# example in 8 comes instead from the tiny shapes (sides up to 2: 0-d, empty, single elements),
# which large draws rarely are; ``spec.cases(TINY)`` draws only those.
SIZES = {4: (64, 2048), 3: (16, 48)}  # forward and VJP tests; finite-difference checks
STRUCTURED_SIZES = {4: (16, 2048), 3: (8, 48)}
TINY = 2  # the size class of the tiny shapes alone
TINY_ONE_IN = 8


def _size_class(max_side: int, sizes: dict[int, tuple[int, int]] = SIZES) -> tuple[int, int]:
    return sizes.get(max_side, (max_side, max_side**MAX_DIMS))


def _fit(shape: tuple[int, ...], budget: int) -> tuple[int, ...]:
    return tuple(_fit_all(list(shape), [range(len(shape))], budget))


def _fit_all(sizes: list[int], inputs: Sequence[Sequence[int]], budget: int) -> list[int]:
    """`sizes` (axis lengths that inputs share, e.g. matmul's n, k, m) with every input (the
    positions in `sizes` of its axes) at most `budget` elements: the longest size of an input
    over the budget is halved until none is."""
    sizes = list(sizes)
    while True:
        over = [axes for axes in inputs if math.prod(sizes[i] for i in axes) > budget]
        if not over:
            return sizes
        longest = max(over[0], key=lambda i: sizes[i])
        sizes[longest] = (sizes[longest] + 1) // 2


def _large_or_tiny(
    max_side: int, large: Callable[[], st.SearchStrategy], tiny: Callable[[], st.SearchStrategy]
) -> st.SearchStrategy:
    if max_side <= TINY:
        return tiny()
    small, big = tiny(), large()
    # not k == 0: hypothesis starts from (and leans towards) the smallest choices
    return st.integers(0, TINY_ONE_IN - 1).flatmap(lambda k: small if k == 3 else big)


@dataclass(frozen=True)
class Size:
    """What a structured case strategy draws: sides in [low, high], inputs of at most
    `budget` elements. Large sizes (low >= 2) draw no 0-d input where the op has one input."""

    low: int
    high: int
    budget: int

    @property
    def large(self) -> bool:
        return self.low >= 2

    @property
    def sides(self) -> st.SearchStrategy[int]:
        return st.integers(self.low, self.high)

    def shape(self, draw: Any, min_dims: int = 0, max_dims: int = 3, min_side: int = 0):
        """One input's shape within the budget."""
        shape = draw(
            hnp.array_shapes(
                min_dims=max(min_dims, 1) if self.large else min_dims, max_dims=max_dims,
                min_side=max(self.low, min_side), max_side=max(self.high, min_side),
            )
        )  # fmt: skip
        return _fit(shape, self.budget)


def structured(case: Callable[[Size], st.SearchStrategy[Case]]):
    """`spec.cases` from a strategy of cases for a Size: large (STRUCTURED_SIZES) or, one
    example in 8, tiny (sides 0 to 2)."""

    def make(max_side: int) -> st.SearchStrategy[Case]:
        side, budget = _size_class(max_side, STRUCTURED_SIZES)
        return _large_or_tiny(
            max_side, lambda: case(Size(2, side, budget)), lambda: case(Size(0, TINY, budget))
        )

    return make


def _broadcasting_to(draw: Any, full: tuple[int, ...], whole: bool = False) -> tuple[int, ...]:
    """A shape that broadcasts to `full`: leading axes dropped, some set to 1; `whole` keeps
    at least one axis (where `full` has one) as it is."""
    keep = draw(st.integers(1 if whole and full else 0, len(full)))
    tail = full[len(full) - keep :]
    ones = [draw(st.booleans()) for _ in tail]
    if whole and tail:
        ones[draw(st.integers(0, len(tail) - 1))] = False
    return tuple(1 if one else s for s, one in zip(tail, ones))


def shapes_1(min_dims: int = 0, min_side: int = 0, max_dims: int = MAX_DIMS):
    def make(max_side: int) -> st.SearchStrategy[Shapes]:
        side, budget = _size_class(max_side)
        large = hnp.array_shapes(
            min_dims=max(min_dims, 1), max_dims=max_dims, min_side=2, max_side=side,
        ).map(lambda s: (_fit(s, budget),))  # fmt: skip
        tiny = hnp.array_shapes(
            min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max(min_side, TINY)
        ).map(lambda s: (s,))
        return _large_or_tiny(max_side, lambda: large, lambda: tiny)

    return make


def _broadcastable(n: int, side: int, budget: int) -> st.SearchStrategy[Shapes]:
    """n shapes broadcasting to one large shape: each drops leading axes and sets some to 1."""

    def shapes(full: tuple[int, ...]) -> st.SearchStrategy[Shapes]:
        ones = st.lists(st.booleans(), min_size=len(full), max_size=len(full))
        one = st.tuples(st.integers(0, len(full)), ones).map(
            lambda c: tuple(1 if one else s for s, one in zip(full, c[1]))[c[0] :]
        )
        # the first input keeps every axis and at least its first one full
        first = ones.map(lambda m: tuple(1 if one and i else s for i, (s, one) in
                                         enumerate(zip(full, m))))  # fmt: skip
        return st.tuples(first, *[one] * (n - 1)).flatmap(st.permutations).map(tuple)

    full = hnp.array_shapes(min_dims=1, max_dims=MAX_DIMS, min_side=2, max_side=side)
    return full.map(lambda s: _fit(s, budget)).flatmap(shapes)


def shapes_n(n: int, min_side: int = 0):
    def make(max_side: int) -> st.SearchStrategy[Shapes]:
        tiny = hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=0, max_dims=MAX_DIMS, min_side=min_side,
            max_side=max(min_side, TINY),
        ).map(lambda b: tuple(b.input_shapes))  # fmt: skip
        return _large_or_tiny(
            max_side, lambda: _broadcastable(n, *_size_class(max_side)), lambda: tiny
        )

    return make


def no_kwargs(shapes: Callable[[int], st.SearchStrategy[Shapes]]):
    return lambda max_side: shapes(max_side).map(lambda s: (s, {}))


def with_kwargs(
    shapes: Callable[[int], st.SearchStrategy[Shapes]],
    kwargs: Callable[[Shapes], st.SearchStrategy[dict]],
):
    def make(max_side: int) -> st.SearchStrategy[Case]:
        return shapes(max_side).flatmap(lambda s: kwargs(s).map(lambda kw: (s, kw)))

    return make


# One strategy for all the specs that draw the same cases (test_catalog measures it once).
@functools.cache
def unary(**kw: Any):
    return no_kwargs(shapes_1(**kw))


@functools.cache
def binary(n: int = 2, **kw: Any):
    return no_kwargs(shapes_n(n, **kw))


def any_shapes(n: int) -> st.SearchStrategy[Case]:
    """Independent shapes for n inputs: often incompatible, for the shape-error tests."""
    one = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5)
    return st.tuples(*[one] * n).map(lambda s: (s, {}))


def axis_kwargs(keepdims: bool = True, ddof: bool = False):
    """axis: None, an int or a tuple of unique axes (negatives too); keepdims; ddof."""

    def make(shapes: Shapes) -> st.SearchStrategy[dict]:
        ndim = len(shapes[0])
        choices = [st.none()]
        if ndim:
            choices.append(st.integers(-ndim, ndim - 1))
            choices.append(
                st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
                    lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes])
                )
            )
        kw = {"axis": st.one_of(*choices)}
        if keepdims:
            kw["keepdims"] = st.booleans()
        if ddof:
            kw["ddof"] = st.integers(0, 1)
        return st.fixed_dictionaries(kw)

    return make


def axis_int_kwargs(extra: int = 0, name: str = "axis"):
    """One int axis in [-(ndim+extra), ndim+extra) (extra=1 for stack / expand_dims)."""

    def make(shapes: Shapes) -> st.SearchStrategy[dict]:
        n = len(shapes[0]) + extra
        return st.fixed_dictionaries({name: st.integers(-n, n - 1)}) if n else st.just({})

    return make


# -- torch references ----------------------------------------------------------------------
def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


def t_reduce(fn: Callable, single: bool = False) -> Callable:
    """A NumPy-style reduction (axis None/int/tuple, keepdims) from a torch reduction.

    `fn(x, dim, keepdim)`; `single` reductions take one dim at a time. An empty axis tuple
    reduces over a new size-1 axis (NumPy reduces over nothing; torch would reduce all).
    """

    def run(x: torch.Tensor, axis: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        axes = _axes(axis, x.ndim)
        if not axes:
            out = fn(x.unsqueeze(-1), -1, True, **kw).squeeze(-1)
            return out
        if single:
            out = x
            for a in reversed(axes):
                out = fn(out, a, True, **kw)
        else:
            out = fn(x, axes, True, **kw)
        if not keepdims:
            out = out.reshape([s for i, s in enumerate(x.shape) if i not in axes])
        return out

    return run


def _t_var(x: torch.Tensor, dim: Any, keepdim: bool, ddof: int = 0) -> torch.Tensor:
    return torch.var(x, dim=dim, correction=ddof, keepdim=keepdim)


def _t_std(x: torch.Tensor, dim: Any, keepdim: bool, ddof: int = 0) -> torch.Tensor:
    return torch.std(x, dim=dim, correction=ddof, keepdim=keepdim)


def t_dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """numpy.dot's definition: a product for 0-d, else a sum over x's last axis and y's
    second-to-last (its only axis when 1-D)."""
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    return torch.tensordot(x, y, dims=([x.ndim - 1], [max(y.ndim - 2, 0)]))


def _linear(shape: tuple[int, ...], index: Any) -> np.ndarray:
    """The flat positions NumPy's ``a[index]`` reads: the oracle for indexing."""
    return np.arange(math.prod(shape), dtype=np.int64).reshape(shape)[index]


def t_getitem(x: torch.Tensor, index: Any) -> torch.Tensor:
    lin = np.array(_linear(tuple(x.shape), index), copy=True)
    return x.reshape(-1)[torch.from_numpy(lin.reshape(-1))].reshape(lin.shape)


def t_setitem(x: torch.Tensor, v: torch.Tensor, index: Any) -> torch.Tensor:
    lin = torch.from_numpy(np.array(_linear(tuple(x.shape), index), copy=True))
    y = x.clone().reshape(-1)
    y[lin.reshape(-1)] = v.broadcast_to(lin.shape).reshape(-1)
    return y.reshape(x.shape) * 1.5


def nd_setitem(x: ndgrad.Tensor, v: ndgrad.Tensor, index: Any) -> ndgrad.Tensor:
    y = x.clone()
    y[index] = v
    return y * 1.5


TORCH_PAD_MODES = {"edge": "replicate", "reflect": "reflect", "wrap": "circular"}


def t_pad(
    x: torch.Tensor, pad_width: Any, mode: str = "constant", constant_values: Any = 0.0
) -> torch.Tensor:
    """numpy.pad's semantics from torch's F.pad, one axis (and for constants one side) at a
    time, in axis order; `pad_width` and per-axis `constant_values` are full pairs here."""
    if mode == "constant" and not isinstance(constant_values, tuple):
        return F.pad(x, [n for pair in reversed(pad_width) for n in pair], value=constant_values)
    for axis, (before, after) in enumerate(pad_width):
        y = x.movedim(axis, -1)
        if mode == "constant":
            fill_before, fill_after = constant_values[axis]
            y = F.pad(F.pad(y, (before, 0), value=fill_before), (0, after), value=fill_after)
        elif before or after:
            lead = y.shape[:-1]
            y = F.pad(y.reshape(1, math.prod(lead), y.shape[-1]), (before, after),
                      mode=TORCH_PAD_MODES[mode]).reshape(*lead, -1)  # fmt: skip
        x = y.movedim(-1, axis)
    return x


def t_split(x: torch.Tensor, indices_or_sections: Any, axis: int = 0) -> tuple:
    return torch.tensor_split(x, indices_or_sections, dim=axis)


def t_repeat(x: torch.Tensor, repeats: Any, axis: int | None = None) -> torch.Tensor:
    if not isinstance(repeats, int):
        repeats = torch.tensor(repeats, dtype=torch.int64)
    return torch.repeat_interleave(x, repeats, dim=axis)


def t_expand_dims(x: torch.Tensor, axis: int) -> torch.Tensor:
    return x.unsqueeze(axis)


def t_squeeze(x: torch.Tensor, axis: Any = None) -> torch.Tensor:
    return x.squeeze() if axis is None else x.squeeze(axis)


def t_transpose(x: torch.Tensor, axes: Any = None) -> torch.Tensor:
    return x.permute(tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def t_reshape(x: torch.Tensor, shape: Any) -> torch.Tensor:
    return x.reshape(shape)


def t_clip(x: torch.Tensor, min: Any = None, max: Any = None) -> torch.Tensor:  # noqa: A002
    return torch.clamp(x, min, max)


def t_gelu(x: torch.Tensor, approximate: bool = False) -> torch.Tensor:
    return F.gelu(x, approximate="tanh" if approximate else "none")


# -- case strategies with structure ----------------------------------------------------------
# Each draws a case for a Size (see `structured`): the shapes first, within the budget, then
# the kwargs read off them.
@st.composite
def _matmul_case(draw: Any, size: Size) -> Case:
    """Matrices or vectors (1-D on either side), with up to two batch axes that broadcast."""
    batch = draw(st.integers(0, 2))
    x_vector, y_vector = draw(st.booleans()), draw(st.booleans())
    b = list(range(3, 3 + batch))  # positions of n, k, m, then the batch axes
    x_axes = [1] if x_vector else [*b, 0, 1]
    y_axes = [1] if y_vector else [*b, 1, 2]
    n, k, m, *full = _fit_all(
        [draw(size.sides) for _ in range(3 + batch)], [x_axes, y_axes], size.budget
    )
    x_batch, y_batch = (_broadcasting_to(draw, tuple(full), whole=i == 0) for i in range(2))
    x = (k,) if x_vector else (*x_batch, n, k)
    y = (k,) if y_vector else (*y_batch, k, m)
    return (x, y), {}


def matmul_bad_cases() -> st.SearchStrategy[Case]:
    one = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
    return st.tuples(one, one).map(lambda s: (s, {}))


@st.composite
def _dot_case(draw: Any, size: Size) -> Case:
    xd = draw(st.integers(0, 3))
    yd = draw(st.integers(1 if size.large and not xd else 0, 3))  # large: not both 0-d
    if not (xd and yd):  # a product with a 0-d input
        sizes = _fit_all([draw(size.sides) for _ in range(xd + yd)],
                         [range(xd), range(xd, xd + yd)], size.budget)  # fmt: skip
        return (tuple(sizes[:xd]), tuple(sizes[xd:])), {}
    # k (position 0) is x's last axis and y's second-to-last (its only one when 1-D)
    y_axes = [0] if yd == 1 else [*range(xd, xd + yd - 2), 0, xd + yd - 2]
    sizes = _fit_all(
        [draw(size.sides) for _ in range(xd + yd - 1)], [[*range(1, xd), 0], y_axes], size.budget
    )
    return (tuple(sizes[i] for i in [*range(1, xd), 0]), tuple(sizes[i] for i in y_axes)), {}


@st.composite
def _tensordot_case(draw: Any, size: Size) -> Case:
    n = draw(st.integers(0, 2))
    nx = draw(st.integers(0, 2))
    ny = draw(st.integers(1 if size.large and not n + nx else 0, 2))  # large: not both 0-d
    # positions: the n contracted sizes, then x's free ones, then y's
    free_x, free_y = list(range(n, n + nx)), list(range(n + nx, n + nx + ny))
    sizes = _fit_all([draw(size.sides) for _ in range(n + nx + ny)],
                     [[*free_x, *range(n)], [*range(n), *free_y]], size.budget)  # fmt: skip
    contracted = sizes[:n]
    fx, fy = [sizes[i] for i in free_x], [sizes[i] for i in free_y]
    if draw(st.booleans()):  # axes as an int: x's last n with y's first n
        return (tuple(fx + contracted), tuple(contracted + fy)), {"axes": n}
    # axes as a pair of lists, in a shuffled order
    px = draw(st.permutations(range(len(fx) + n)))
    py = draw(st.permutations(range(len(fy) + n)))
    xs, ys = [0] * len(px), [0] * len(py)
    for pos, side in zip(px, fx + contracted):
        xs[pos] = side
    for pos, side in zip(py, contracted + fy):
        ys[pos] = side
    ax = list(px[len(fx) :])
    ay = list(py[:n])
    return (tuple(xs), tuple(ys)), {"axes": (ax, ay)}


EINSUM_SPECS = (
    ("ij,jk->ik", "ij,jk"),
    ("bij,bjk->bik", "bij,bjk"),
    ("i,i->", "i,i"),
    ("ij->ji", "ij"),
    ("ij->", "ij"),
    ("ij->j", "ij"),
    ("i,j->ij", "i,j"),
    ("ij,kj", "ij,kj"),
    ("...ij,...jk->...ik", "aij,ajk"),
    ("bi,bj,ij->b", "bi,bj,ij"),
)
# Repeated letters within an operand: traces and diagonals (a catalog entry of their own, so
# every run draws them).
EINSUM_DIAGONAL_SPECS = (
    ("ii->", "ii"),
    ("ii", "ii"),
    ("ii->i", "ii"),
    ("bii->b", "bii"),
    ("bii->bi", "bii"),
    ("ij,jj->i", "ij,jj"),
    ("iij->ji", "iij"),
)


@st.composite
def _einsum_case(draw: Any, size: Size, specs: tuple = EINSUM_SPECS) -> Case:
    subscripts, letters = draw(st.sampled_from(specs))
    names = sorted(set(letters) - {","})
    operands = letters.split(",")
    sizes = dict(zip(names, _fit_all([draw(size.sides) for _ in names],
                                     [[names.index(c) for c in op] for op in operands],
                                     size.budget)))  # fmt: skip
    shapes = tuple(tuple(sizes[c] for c in op) for op in operands)
    return shapes, {"subscripts": subscripts}


@st.composite
def _outer_case(draw: Any, size: Size) -> Case:
    return (size.shape(draw, max_dims=2), size.shape(draw, max_dims=2)), {}


@st.composite
def _reshape_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw, max_dims=MAX_DIMS)
    target = list(draw(st.permutations(shape)))
    if len(target) >= 2 and draw(st.booleans()):  # merge two neighbours
        i = draw(st.integers(0, len(target) - 2))
        target[i : i + 2] = [target[i] * target[i + 1]]
    if draw(st.booleans()):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and 0 not in target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return (shape,), {"shape": tuple(target)}


@st.composite
def _reshape_bad_case(draw: Any) -> Case:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    target = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    return (shape,), {"shape": target}


def _perm_kwargs(shapes: Shapes) -> st.SearchStrategy[dict]:
    ndim = len(shapes[0])
    return st.one_of(st.just({}), st.permutations(range(ndim)).map(lambda p: {"axes": tuple(p)}))


def _swap_kwargs(shapes: Shapes) -> st.SearchStrategy[dict]:
    n = len(shapes[0])
    a = st.integers(-n, n - 1)
    return st.fixed_dictionaries({"axis1": a, "axis2": a})


def _squeeze_kwargs(shapes: Shapes) -> st.SearchStrategy[dict]:
    ones = [i for i, s in enumerate(shapes[0]) if s == 1]
    choices = [st.just({})]
    if ones:
        choices.append(st.sampled_from(ones).map(lambda a: {"axis": a}))
    return st.one_of(*choices)


def _flatten_kwargs(shapes: Shapes) -> st.SearchStrategy[dict]:
    n = len(shapes[0])
    if n == 0:
        return st.just({})
    return st.integers(0, n - 1).flatmap(
        lambda a: st.integers(a, n - 1).map(lambda b: {"start_axis": a, "end_axis": b - n})
    )


@st.composite
def _broadcast_to_case(draw: Any, size: Size) -> Case:
    target = size.shape(draw, max_dims=MAX_DIMS)  # the budget holds for the output
    return (_broadcasting_to(draw, target, whole=size.large),), {"shape": target}


@st.composite
def _concat_case(draw: Any, size: Size) -> Case:
    ndim, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    axis = draw(st.integers(-ndim, ndim - 1))
    # positions: the shared axes, then each input's length along `axis`
    shared = [i for i in range(ndim) if i != axis % ndim]
    inputs = [[*range(ndim - 1), ndim - 1 + j] for j in range(n)]
    sizes = _fit_all([draw(size.sides) for _ in range(ndim - 1 + n)], inputs, size.budget)
    shapes = []
    for j in range(n):
        s = [0] * ndim
        for pos, side in zip(shared, sizes):
            s[pos] = side
        s[axis] = sizes[ndim - 1 + j]
        shapes.append(tuple(s))
    return tuple(shapes), {"axis": axis}


def _concat_bad_cases() -> st.SearchStrategy[Case]:
    one = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
    return st.tuples(st.tuples(one, one), st.integers(-1, 0)).map(lambda p: (p[0], {"axis": p[1]}))


@st.composite
def _stack_case(draw: Any, size: Size) -> Case:
    base = size.shape(draw)
    n = draw(st.integers(1, 3))
    axis = draw(st.integers(-len(base) - 1, len(base)))
    return (base,) * n, {"axis": axis}


def _stack_bad_cases() -> st.SearchStrategy[Case]:
    one = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
    return st.tuples(one, one).map(lambda s: (s, {"axis": 0}))


@st.composite
def _split_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw, min_dims=1)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.sampled_from([k for k in range(1, 9) if n % k == 0]))
        return (shape,), {"indices_or_sections": sections, "axis": axis}
    indices = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return (shape,), {"indices_or_sections": indices, "axis": axis}


@st.composite
def _pad_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw, min_dims=1)
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    fill = st.sampled_from([0.0, 1.5, -2.0])
    per_axis = st.tuples(*[st.tuples(fill, fill)] * len(shape))  # NumPy's (before, after)
    values = draw(fill | per_axis)
    return (shape,), {"pad_width": widths, "constant_values": values}


@st.composite
def _pad_mode_case(draw: Any, size: Size) -> Case:
    """edge, reflect, wrap: widths torch accepts (reflect: < the size, wrap: <= the size)."""
    shape = size.shape(draw, min_dims=1, min_side=1)
    mode = draw(st.sampled_from(sorted(TORCH_PAD_MODES)))
    most = {"edge": lambda n: 2, "reflect": lambda n: min(2, n - 1), "wrap": lambda n: min(2, n)}
    widths = tuple(
        (draw(st.integers(0, most[mode](n))), draw(st.integers(0, most[mode](n)))) for n in shape
    )
    return (shape,), {"pad_width": widths, "mode": mode}


def _many(draw: Any, n: int, low: int, high: int) -> list[int]:
    """n ints in [low, high]: drawn one by one when few, else from a drawn seed (hypothesis
    would spend its whole buffer on a long list)."""
    if n <= 16:
        return draw(st.lists(st.integers(low, high), min_size=n, max_size=n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(low, high + 1, n).tolist()


@st.composite
def _repeat_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw)
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    if draw(st.booleans()):
        return (shape,), {"repeats": draw(st.integers(0, 3)), "axis": axis}
    n = math.prod(shape) if axis is None else shape[axis]
    return (shape,), {"repeats": _many(draw, n, 0, 3), "axis": axis}


@st.composite
def _tile_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw)
    reps = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=4)))
    return (shape,), {"reps": reps}


@st.composite
def _index(draw: Any, shape: tuple[int, ...], for_setitem: bool = False) -> Any:
    """ints, slices (negative steps), None, ..., int arrays (repeats), bool masks, mixtures."""
    kind = draw(st.sampled_from(["basic", "ints", "mask", "mixed"]))
    if kind == "basic" or not shape or 0 in shape:
        return draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True))
    if kind == "mask":
        k = draw(st.integers(1, len(shape)))
        if math.prod(shape[:k]) <= 16:
            mask = draw(hnp.arrays(np.bool_, shape[:k]))
        else:  # large: a drawn share of True, not one value with a few others
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            mask = rng.random(shape[:k]) < draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
        return mask if k == len(shape) and draw(st.booleans()) else (mask, Ellipsis)
    if kind == "ints":
        if for_setitem:  # unique positions: a repeated write has no defined winner
            n = shape[0]
            idx = draw(st.lists(st.integers(-n, n - 1), unique_by=lambda i: i % n, max_size=n))
            return (np.asarray(idx, dtype=np.int64),)
        return draw(
            hnp.integer_array_indices(
                shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=8)
            )
        )
    # mixed: a slice (maybe reversed) on axis 0 and an int array on axis 1 (or an int)
    n0 = shape[0]
    sl = slice(None, None, -1) if draw(st.booleans()) else slice(draw(st.integers(0, n0)), None)
    if len(shape) == 1:
        return (sl,)
    n1 = shape[1]
    if for_setitem:
        return (sl, draw(st.integers(-n1, n1 - 1)))
    arr = np.asarray(draw(st.lists(st.integers(-n1, n1 - 1), min_size=1, max_size=4)))
    return (sl, arr)


@st.composite
def _getitem_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw)
    return (shape,), {"index": draw(_index(shape))}


@st.composite
def _setitem_case(draw: Any, size: Size) -> Case:
    shape = size.shape(draw)
    index = draw(_index(shape, for_setitem=True))
    target = _linear(shape, index).shape
    return (shape, _broadcasting_to(draw, target)), {"index": index}


@st.composite
def _clip_kwargs(draw: Any, shapes: Shapes) -> dict:
    lo, hi = draw(st.sampled_from([(-0.5, 0.5), (None, 0.5), (-0.5, None), (0.3, 1.2)]))
    return {"min": lo, "max": hi}


# -- the catalog ------------------------------------------------------------------------------
def _same(fn: Callable) -> tuple[Callable, Callable]:
    """An operator expression both libraries spell the same way."""
    return fn, fn


def _spec(name: str, fns: tuple[Callable, Callable], cases: Any, **kw: Any) -> OpSpec:
    return OpSpec(name, fns[0], fns[1], cases, **kw)


_BAD2 = any_shapes(2)
NONZERO = away(0.0)

SPECS: list[OpSpec] = [
    # arithmetic, also in reflected and Python-scalar forms
    _spec("add", _same(operator.add), binary(), bad_cases=_BAD2),
    _spec("subtract", _same(operator.sub), binary(), bad_cases=_BAD2),
    _spec("multiply", _same(operator.mul), binary(), bad_cases=_BAD2),
    _spec("divide", _same(operator.truediv), binary(), domains=(real, NONZERO), bad_cases=_BAD2),
    _spec("power", _same(operator.pow), binary(), domains=(positive, real), bad_cases=_BAD2),
    _spec("add_scalar", _same(lambda x: x + 2.5), unary()),
    _spec("radd_scalar", _same(lambda x: 2.5 + x), unary()),
    _spec("rsub_scalar", _same(lambda x: 2.5 - x), unary()),
    _spec("sub_int_scalar", _same(lambda x: x - 3), unary()),
    _spec("rmul_scalar", _same(lambda x: 3 * x), unary()),
    _spec("div_scalar", _same(lambda x: x / 4.0), unary()),
    _spec("rdiv_scalar", _same(lambda x: 2.0 / x), unary(), domains=(NONZERO,)),
    _spec("pow_int_scalar", _same(lambda x: x**3), unary()),
    _spec("pow_half", _same(lambda x: x**0.5), unary(), domains=(positive,)),
    _spec("rpow_scalar", _same(lambda x: 2.0**x), unary()),
    _spec("neg", _same(operator.neg), unary()),
    # integers and bools promoted to a float: the default float32, as torch (NumPy: float64)
    _spec(
        "int_add_float_scalar", _same(lambda x: x + 0.5), unary(), domains=(integer,), grad=False
    ),
    _spec(
        "bool_mul_float_scalar", _same(lambda x: x * 2.5), unary(), domains=(boolean,), grad=False
    ),
    _spec("int_div_int_scalar", _same(lambda x: x / 4), unary(), domains=(integer,), grad=False),
    _spec("int_rdiv_int", _same(lambda x: 3 / x), unary(), domains=(nonzero_integer,), grad=False),
    _spec(
        "int_true_divide",
        _same(operator.truediv),
        binary(),
        domains=(integer, nonzero_integer),
        grad=False,
    ),
    _spec(
        "int_pow_half", _same(lambda x: x**0.5), unary(), domains=(positive_integer,), grad=False
    ),
    _spec("int_times_float", _same(operator.mul), binary(), domains=(integer, real)),
    _spec("float_plus_bool", _same(operator.add), binary(), domains=(real, boolean)),
    # unary math
    _spec("abs", (ndgrad.abs, torch.abs), unary(), domains=(NONZERO,)),
    _spec("exp", (ndgrad.exp, torch.exp), unary()),
    _spec("log", (ndgrad.log, torch.log), unary(), domains=(positive,)),
    _spec("log1p", (ndgrad.log1p, torch.log1p), unary(), domains=(positive,)),
    _spec("sqrt", (ndgrad.sqrt, torch.sqrt), unary(), domains=(positive,)),
    _spec("square", (ndgrad.square, torch.square), unary()),
    _spec("sin", (ndgrad.sin, torch.sin), unary()),
    _spec("cos", (ndgrad.cos, torch.cos), unary()),
    _spec("tanh", (ndgrad.tanh, torch.tanh), unary()),
    *[
        _spec(
            f"int_{fn}",
            (getattr(ndgrad, fn), getattr(torch, fn)),
            unary(),
            domains=(domain,),
            grad=False,
        )
        for fn, domain in [
            ("exp", integer),
            ("log", positive_integer),
            ("sqrt", positive_integer),
            ("sin", integer),
            ("tanh", integer),
            ("sigmoid", integer),
        ]
    ],
    # activations
    _spec("sigmoid", (ndgrad.sigmoid, torch.sigmoid), unary()),
    _spec("relu", (ndgrad.relu, torch.relu), unary(), domains=(NONZERO,)),
    _spec(
        "leaky_relu",
        (ndgrad.leaky_relu, lambda x, alpha=0.01: F.leaky_relu(x, alpha)),
        with_kwargs(shapes_1(), lambda s: st.sampled_from([{}, {"alpha": 0.2}, {"alpha": 0.01}])),
        domains=(NONZERO,),
    ),
    _spec(
        "elu",
        (ndgrad.elu, lambda x, alpha=1.0: F.elu(x, alpha)),
        with_kwargs(shapes_1(), lambda s: st.sampled_from([{}, {"alpha": 0.5}, {"alpha": 2.0}])),
        domains=(NONZERO,),
    ),
    _spec(
        "gelu",
        (ndgrad.gelu, t_gelu),
        with_kwargs(shapes_1(), lambda s: st.sampled_from([{}, {"approximate": True}])),
        atol=2e-6,
    ),
    _spec("softplus", (ndgrad.softplus, F.softplus), unary()),
    _spec(
        "clip",
        (ndgrad.clip, t_clip),
        with_kwargs(shapes_1(), _clip_kwargs),
        domains=(away(-0.5, 0.5, 0.3, 1.2, gap=0.05),),
    ),
    _spec("maximum", (ndgrad.maximum, torch.maximum), binary(), joint=distinct, bad_cases=_BAD2),
    _spec("minimum", (ndgrad.minimum, torch.minimum), binary(), joint=distinct, bad_cases=_BAD2),
    _spec(
        "where",
        (ndgrad.where, torch.where),
        binary(3),
        domains=(boolean, real),
        bad_cases=any_shapes(3),
    ),
    # reductions
    _spec("sum", (ndgrad.sum, t_reduce(torch.sum)), with_kwargs(shapes_1(), axis_kwargs())),
    _spec("mean", (ndgrad.mean, t_reduce(torch.mean)), with_kwargs(shapes_1(), axis_kwargs())),
    # torch refuses integer means; JAX and Keras give float32, as ndgrad
    _spec(
        "int_mean",
        (ndgrad.mean, t_reduce(lambda x, dim, keepdim: torch.mean(x.float(), dim, keepdim))),
        with_kwargs(shapes_1(), axis_kwargs()),
        domains=(integer,),
        grad=False,
    ),
    _spec(
        "bool_var",
        (
            ndgrad.var,
            t_reduce(lambda x, dim, keepdim, ddof=0: _t_var(x.float(), dim, keepdim, ddof)),
        ),
        with_kwargs(shapes_1(min_side=2), axis_kwargs(ddof=True)),
        domains=(boolean,),
        grad=False,
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "prod",
        (ndgrad.prod, t_reduce(torch.prod, single=True)),
        with_kwargs(shapes_1(max_dims=3), axis_kwargs()),
        rtol=1e-4,
    ),
    _spec(
        "max",
        (ndgrad.max, t_reduce(torch.amax)),
        with_kwargs(shapes_1(min_side=1), axis_kwargs()),
        joint=distinct,
    ),
    _spec(
        "min",
        (ndgrad.min, t_reduce(torch.amin)),
        with_kwargs(shapes_1(min_side=1), axis_kwargs()),
        joint=distinct,
    ),
    _spec(
        "var",
        (ndgrad.var, t_reduce(_t_var)),
        with_kwargs(shapes_1(min_side=2), axis_kwargs(ddof=True)),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "std",
        (ndgrad.std, t_reduce(_t_std)),
        with_kwargs(shapes_1(min_side=2), axis_kwargs(ddof=True)),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "logsumexp",
        (ndgrad.logsumexp, t_reduce(torch.logsumexp)),
        with_kwargs(shapes_1(), axis_kwargs()),
    ),
    _spec(
        "softmax",
        (ndgrad.softmax, lambda x, axis=-1: torch.softmax(x, axis)),
        with_kwargs(shapes_1(), axis_int_kwargs()),
    ),
    _spec(
        "log_softmax",
        (ndgrad.log_softmax, lambda x, axis=-1: torch.log_softmax(x, axis)),
        with_kwargs(shapes_1(), axis_int_kwargs()),
    ),
    # products
    _spec(
        "matmul",
        _same(operator.matmul),
        structured(_matmul_case),
        rtol=1e-4,
        atol=1e-5,
        bad_cases=matmul_bad_cases(),
    ),
    _spec("dot", (ndgrad.dot, t_dot), structured(_dot_case), rtol=1e-4, atol=1e-5),
    _spec(
        "tensordot",
        (ndgrad.tensordot, lambda x, y, axes=2: torch.tensordot(x, y, dims=axes)),
        structured(_tensordot_case),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "einsum",
        (
            lambda *xs, subscripts: ndgrad.einsum(subscripts, *xs),
            lambda *xs, subscripts: torch.einsum(subscripts, *xs),
        ),
        structured(_einsum_case),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "einsum_trace_diagonal",
        (
            lambda *xs, subscripts: ndgrad.einsum(subscripts, *xs),
            lambda *xs, subscripts: torch.einsum(subscripts, *xs),
        ),
        structured(lambda size: _einsum_case(size, EINSUM_DIAGONAL_SPECS)),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "outer",
        (ndgrad.outer, lambda x, y: torch.outer(x.reshape(-1), y.reshape(-1))),
        structured(_outer_case),
    ),
    # shapes
    _spec(
        "reshape",
        (ndgrad.reshape, t_reshape),
        structured(_reshape_case),
        bad_cases=_reshape_bad_case(),
    ),
    _spec("transpose", (ndgrad.transpose, t_transpose), with_kwargs(shapes_1(), _perm_kwargs)),
    _spec("T", (lambda x: x.T, t_transpose), unary()),
    _spec(
        "permute",
        (lambda x, axes: x.permute(*axes), lambda x, axes: x.permute(tuple(axes))),
        with_kwargs(
            shapes_1(),
            lambda s: st.permutations(range(len(s[0]))).map(lambda p: {"axes": tuple(p)}),
        ),
    ),
    _spec(
        "swapaxes",
        (ndgrad.swapaxes, lambda x, axis1, axis2: torch.swapaxes(x, axis1, axis2)),
        with_kwargs(shapes_1(min_dims=1), _swap_kwargs),
    ),
    _spec(
        "expand_dims",
        (ndgrad.expand_dims, t_expand_dims),
        with_kwargs(shapes_1(max_dims=3), axis_int_kwargs(extra=1)),
    ),
    _spec(
        "squeeze",
        (ndgrad.squeeze, t_squeeze),
        with_kwargs(shapes_1(max_dims=4), _squeeze_kwargs),
    ),
    _spec(
        "flatten",
        (
            ndgrad.flatten,
            lambda x, start_axis=0, end_axis=-1: torch.flatten(x, start_axis, end_axis),
        ),
        with_kwargs(shapes_1(), _flatten_kwargs),
    ),
    _spec(
        "broadcast_to",
        (ndgrad.broadcast_to, lambda x, shape: torch.broadcast_to(x, shape)),
        structured(_broadcast_to_case),
    ),
    _spec(
        "concatenate",
        (
            lambda *xs, axis: ndgrad.concatenate(xs, axis=axis),
            lambda *xs, axis: torch.cat(xs, dim=axis),
        ),
        structured(_concat_case),
        bad_cases=_concat_bad_cases(),
    ),
    _spec(
        "stack",
        (
            lambda *xs, axis: ndgrad.stack(xs, axis=axis),
            lambda *xs, axis: torch.stack(xs, dim=axis),
        ),
        structured(_stack_case),
        bad_cases=_stack_bad_cases(),
    ),
    _spec("split", (ndgrad.split, t_split), structured(_split_case)),
    _spec("pad", (ndgrad.pad, t_pad), structured(_pad_case)),
    _spec("pad_modes", (ndgrad.pad, t_pad), structured(_pad_mode_case)),
    _spec("repeat", (ndgrad.repeat, t_repeat), structured(_repeat_case)),
    _spec("tile", (ndgrad.tile, lambda x, reps: torch.tile(x, reps)), structured(_tile_case)),
    # dtypes
    _spec(
        "astype_float64",
        (lambda x: x.astype("float64"), lambda x: x.to(torch.float64)),
        unary(),
        input_dtype="float32",
        gc_eps=1e-2,
        gc_atol=1e-4,
    ),
    _spec(
        "astype_float32",
        (lambda x: x.astype("float32"), lambda x: x.to(torch.float32)),
        unary(),
        input_dtype="float64",
        gc_eps=1e-2,
        gc_atol=1e-4,
    ),
    # indexing
    _spec("getitem", (lambda x, index: x[index], t_getitem), structured(_getitem_case)),
    _spec("setitem", (nd_setitem, t_setitem), structured(_setitem_case)),
]


# -- fused ops (appended): linear and conv2d, with and without their in-place relu ----------
# Inputs are standard normal, so about half of the pre-activations are negative: a relu
# gradient that let those through would differ from torch's.
@st.composite
def _linear_case(draw: Any, size: Size) -> Case:
    batch = draw(st.integers(0, 2))
    # positions: k, n, then the batch axes of x
    k, n, *lead = _fit_all([draw(size.sides) for _ in range(2 + batch)],
                           [[*range(2, 2 + batch), 0], [0, 1]], size.budget)  # fmt: skip
    bias = [(n,)] if draw(st.booleans()) else []
    return ((*lead, k), (k, n), *bias), {}


def _fit_image(n: int, h: int, w: int, c: int, kh: int, kw: int, budget: int) -> tuple:
    """(n, h, w, c) within the budget: the longer image side halved (never below the
    kernel's), then the channels, then the batch."""
    while n * h * w * c > budget:
        halvable = [(s, i) for i, (s, k) in enumerate([(h, kh), (w, kw)]) if (s + 1) // 2 >= k]
        if halvable and max(halvable)[0] > 1:
            if max(halvable)[1] == 0:
                h = (h + 1) // 2
            else:
                w = (w + 1) // 2
        elif c > 1:
            c = (c + 1) // 2
        elif n > 1:
            n = (n + 1) // 2
        else:
            break
    return n, h, w, c


@st.composite
def _conv_case(draw: Any, size: Size) -> Case:
    """Images up to 16 x 16 with up to 4 channels for the forward and VJP tests, 8 x 8 within
    the budget for finite differences; tiny: an empty batch, 1 x 1 images and kernels."""
    channels = st.integers(1, max(2, size.high // 4))
    n = draw(st.integers(1, 2) if size.large else st.integers(0, 1))
    c, f = draw(channels), draw(channels)
    kh, kw = (draw(st.integers(1, 3 if size.large else 2)) for _ in range(2))
    h, w = (draw(st.integers(max(k, size.low), max(k, size.high))) for k in (kh, kw))
    n, h, w, c = _fit_image(n, h, w, c, kh, kw, size.budget)
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["valid", "same"]))
    if padding == "same":
        strides = (1, 1)  # torch pads 'same' only with unit strides
    bias = [(f,)] if draw(st.booleans()) else []
    return ((n, h, w, c), (kh, kw, c, f), *bias), {"strides": strides, "padding": padding}


def _t_linear(relu: bool) -> Callable:
    def th(x, w, b=None):
        y = torch.matmul(x, w) if b is None else torch.matmul(x, w) + b
        return torch.relu(y) if relu else y

    return th


def _t_conv(relu: bool) -> Callable:
    def th(x, kernel, bias=None, strides=(1, 1), padding="valid"):
        with warnings.catch_warnings():  # torch notes that even kernels pad a copy for 'same'
            warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
            y = F.conv2d(
                x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1).contiguous(), bias,
                stride=strides, padding=padding,
            ).permute(0, 2, 3, 1)  # fmt: skip
        return torch.relu(y) if relu else y

    return th


SPECS += [
    _spec(
        "linear",
        (lambda x, w, b=None: ndgrad.ops.linear(x, w, b), _t_linear(False)),
        structured(_linear_case),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "linear_relu",
        (lambda x, w, b=None: ndgrad.ops.linear(x, w, b, relu=True), _t_linear(True)),
        structured(_linear_case),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "conv2d",
        (lambda x, k, b=None, **kw: ndgrad.ops.conv2d(x, k, b, **kw), _t_conv(False)),
        structured(_conv_case),
        rtol=1e-4,
        atol=1e-5,
    ),
    _spec(
        "conv2d_relu",
        (lambda x, k, b=None, **kw: ndgrad.ops.conv2d(x, k, b, relu=True, **kw), _t_conv(True)),
        structured(_conv_case),
        rtol=1e-4,
        atol=1e-5,
    ),
]


BY_NAME = {s.name: s for s in SPECS}
assert len(BY_NAME) == len(SPECS), "duplicate op names in the catalog"
