"""Every op in the catalog, on every backend, against PyTorch (on the CPU) and finite differences.

For hypothesis-drawn shapes (broadcasting ones for n-ary ops, 0-d and size-0 included):
forward values, shape and dtype equal torch's; the vector-Jacobian product for a random
cotangent equals torch's; `ndgrad.gradcheck` passes in float64; `ndgrad.gradgradcheck` passes
where second order is declared; and shapes torch rejects make ndgrad raise a ShapeError that
names every input shape.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import ndgrad

from .catalog import BY_NAME, SIZES, SPECS, STRUCTURED_SIZES, TINY, OpSpec

# log(0), 0/0 and torch's "degrees of freedom <= 0" are expected on empty and 0-d inputs.
pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:.*degrees of freedom:UserWarning"),
]

SEEDS = st.integers(0, 2**32 - 1)
_PROFILE_EXAMPLES = settings().max_examples


def _fewer(n: int) -> settings:
    """At most n examples (the profile may ask for fewer)."""
    return settings(max_examples=min(n, _PROFILE_EXAMPLES))


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _nd_inputs(arrays: list[np.ndarray], device: str, grad: bool) -> list[ndgrad.Tensor]:
    return [
        ndgrad.tensor(
            a, dtype=a.dtype.name, device=device, requires_grad=grad and a.dtype.kind == "f"
        )
        for a in arrays
    ]


def _torch_inputs(arrays: list[np.ndarray], grad: bool) -> list[torch.Tensor]:
    return [torch.from_numpy(a.copy()).requires_grad_(grad and a.dtype.kind == "f") for a in arrays]


def _assert_same(
    got: ndgrad.Tensor, want: torch.Tensor, spec: OpSpec, what: str, scale: float = 1.0
) -> None:
    assert isinstance(got, ndgrad.Tensor), f"{what}: not a Tensor: {type(got)}"
    want_np = want.detach().numpy()
    assert got.shape == tuple(want.shape), f"{what}: shape {got.shape} vs torch {want.shape}"
    assert got.dtype.name == str(want.dtype).removeprefix("torch."), (
        f"{what}: dtype {got.dtype.name} vs torch {want.dtype}"
    )
    np.testing.assert_allclose(
        got.numpy(), want_np, rtol=spec.rtol, atol=spec.atol * scale, equal_nan=True, err_msg=what
    )


def _rounding(arrays: list[np.ndarray]) -> float:
    """How much float32 rounding error sums over n elements grow by: sqrt(n) of the largest."""
    return max(1.0, max((a.size for a in arrays), default=1) ** 0.5)


def _draw(spec: OpSpec, data: st.DataObject, max_side: int) -> tuple:
    shapes, kwargs = data.draw(spec.cases(max_side), label="shapes, kwargs")
    seed = data.draw(SEEDS, label="seed")
    return shapes, kwargs, seed


@pytest.mark.parametrize("name", [s.name for s in SPECS])
@given(data=st.data())
def test_forward_matches_torch(name: str, backend: str, data: st.DataObject) -> None:
    spec = BY_NAME[name]
    _check_forward(spec, backend, *_draw(spec, data, 4))


GRAD = [s for s in SPECS if s.grad]  # specs with a floating input to differentiate


@pytest.mark.parametrize("name", [s.name for s in GRAD])
@given(data=st.data())
def test_vjp_matches_torch(name: str, backend: str, data: st.DataObject) -> None:
    spec = BY_NAME[name]
    _check_vjp(spec, backend, *_draw(spec, data, 4))


def _check_forward(spec: OpSpec, backend: str, shapes: tuple, kwargs: dict, seed: int) -> None:
    arrays = spec.sample(seed, shapes, "float32")
    want = _outputs(spec.th(*_torch_inputs(arrays, False), **kwargs))
    got = _outputs(spec.nd(*_nd_inputs(arrays, backend, False), **kwargs))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        _assert_same(g, w, spec, f"{spec.name} output {k}", _rounding(arrays))
        assert g.device == backend
        assert not g.requires_grad


def _check_vjp(spec: OpSpec, backend: str, shapes: tuple, kwargs: dict, seed: int) -> None:
    arrays = spec.sample(seed, shapes, "float32")
    rng = np.random.default_rng(seed + 1)

    tx = _torch_inputs(arrays, True)
    touts = _outputs(spec.th(*tx, **kwargs))
    vs = [
        rng.normal(size=tuple(o.shape)).astype(str(o.dtype).removeprefix("torch.")) for o in touts
    ]
    sum(((o * torch.from_numpy(v)).sum() for o, v in zip(touts, vs)), torch.tensor(0.0)).backward()

    nx = _nd_inputs(arrays, backend, True)
    nouts = _outputs(spec.nd(*nx, **kwargs))
    loss = sum(
        (
            (o * ndgrad.tensor(v, dtype=v.dtype.name, device=backend)).sum()
            for o, v in zip(nouts, vs)
        ),
        ndgrad.tensor(0.0, device=backend),
    )
    assert loss.requires_grad
    loss.backward()
    for k, (n, t) in enumerate(zip(nx, tx)):
        if not t.requires_grad:
            assert n.grad is None
            continue
        want = t.grad if t.grad is not None else torch.zeros_like(t)
        got = n.grad if n.grad is not None else ndgrad.zeros_like(n)
        _assert_same(got, want, spec, f"{spec.name} gradient of input {k}", _rounding(arrays))
        assert got.device == backend


# Indexing cases that matter, checked every run whatever hypothesis draws.
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
GETITEM_EXAMPLES = [
    ((5,), (slice(None, None, -1),)),
    ((5,), (slice(4, 0, -2),)),
    ((3, 4), (slice(None), np.array([0, 2, 2, 0]))),
    ((3, 4), (np.array([2, 2, 0]), np.array([1, 1, 3]))),
    ((3, 4), (np.array([[0, 0], [2, 0]]),)),
    ((3, 4), (MASK,)),
    ((3, 4), (MASK[:, 0], Ellipsis)),
    ((3, 4), (np.zeros((3, 4), dtype=bool),)),
    ((2, 3, 4), (None, 1, Ellipsis, None, slice(None, None, -1))),
    ((2, 3, 4), (np.array([1, 0]), slice(None), np.array([3, 3]))),  # advanced axes apart
    ((2, 3, 4), (slice(1, 10), slice(-10, 2))),
]
SETITEM_EXAMPLES = [
    ((5,), (), (slice(None, None, -2),)),
    ((3, 4), (4,), (1,)),
    ((3, 4), (3, 1), (slice(None), np.array([3, 0]))),
    ((3, 4), (), (MASK,)),
    ((3, 4), (2,), (slice(None, None, 2), 0)),
]


@pytest.mark.parametrize(("shape", "index"), GETITEM_EXAMPLES, ids=repr)
def test_getitem_examples(backend: str, shape: tuple, index: tuple) -> None:
    spec = BY_NAME["getitem"]
    _check_forward(spec, backend, (shape,), {"index": index}, 0)
    _check_vjp(spec, backend, (shape,), {"index": index}, 1)
    xs = _nd_inputs(spec.sample(2, (shape,), "float64"), backend, False)
    assert ndgrad.gradgradcheck(lambda x: x[index], xs)


@pytest.mark.parametrize(("shape", "vshape", "index"), SETITEM_EXAMPLES, ids=repr)
def test_setitem_examples(backend: str, shape: tuple, vshape: tuple, index: tuple) -> None:
    spec = BY_NAME["setitem"]
    _check_forward(spec, backend, (shape, vshape), {"index": index}, 0)
    _check_vjp(spec, backend, (shape, vshape), {"index": index}, 1)
    xs = _nd_inputs(spec.sample(2, (shape, vshape), "float64"), backend, False)
    assert ndgrad.gradcheck(lambda x, v: spec.nd(x, v, index=index), xs)


@pytest.mark.parametrize("name", [s.name for s in GRAD])
@_fewer(12)
@given(data=st.data())
def test_gradcheck(name: str, backend: str, data: st.DataObject) -> None:
    assert _finite_difference_check(ndgrad.gradcheck, BY_NAME[name], backend, data)


def _finite_difference_check(check, spec, backend: str, data: st.DataObject) -> bool:
    """`check` (gradcheck or gradgradcheck) of `spec` at drawn float64 inputs."""
    shapes, kwargs, seed = _draw(spec, data, 3)
    xs = _nd_inputs(spec.sample(seed, shapes, "float64"), backend, False)
    return check(
        lambda *a: spec.nd(*a, **kwargs),
        xs,
        eps=spec.gc_eps,
        atol=spec.gc_atol,
        rtol=spec.gc_rtol,
        seed=seed,
    )


SECOND_ORDER = [s for s in GRAD if s.second_order]


@pytest.mark.parametrize("name", [s.name for s in SECOND_ORDER])
@_fewer(8)
@given(data=st.data())
def test_gradgradcheck(name: str, backend: str, data: st.DataObject) -> None:
    assert _finite_difference_check(ndgrad.gradgradcheck, BY_NAME[name], backend, data)


WITH_BAD = [s for s in SPECS if s.bad_cases is not None]


@pytest.mark.parametrize("name", [s.name for s in WITH_BAD])
@given(data=st.data())
def test_shapes_torch_rejects_raise_shape_error(
    name: str, backend: str, data: st.DataObject
) -> None:
    spec = BY_NAME[name]
    shapes, kwargs = data.draw(spec.bad_cases, label="shapes, kwargs")
    arrays = spec.sample(0, shapes, "float32")
    try:
        want = _outputs(spec.th(*_torch_inputs(arrays, False), **kwargs))
    except (RuntimeError, ValueError, IndexError):
        with pytest.raises(ndgrad.ShapeError) as info:
            spec.nd(*_nd_inputs(arrays, backend, False), **kwargs)
        message = str(info.value)
        for s in shapes:
            assert str(tuple(s)) in message, f"{s} not named in: {message}"
        return
    got = _outputs(spec.nd(*_nd_inputs(arrays, backend, False), **kwargs))
    for g, w in zip(got, want):
        _assert_same(g, w, spec, spec.name)


def test_catalog_covers_the_differentiable_ops() -> None:
    names = {s.name for s in SPECS}
    required = {
        "add", "subtract", "multiply", "divide", "power", "neg", "abs", "exp", "log", "log1p",
        "sqrt", "square", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu",
        "softplus", "clip", "maximum", "minimum", "where", "sum", "mean", "prod", "max", "min",
        "var", "std", "logsumexp", "softmax", "log_softmax", "matmul", "dot", "tensordot",
        "einsum", "outer", "reshape", "transpose", "swapaxes", "expand_dims", "squeeze",
        "flatten", "broadcast_to", "concatenate", "stack", "split", "pad", "repeat", "tile",
        "astype_float32", "astype_float64", "getitem", "setitem",
    }  # fmt: skip
    assert required <= names, sorted(required - names)


# At kinks and ties (excluded from the random domains) the subgradient ndgrad picks is torch's.
KINKS = [
    ("relu", [-1.0, 0.0, 2.0], {}),
    ("abs", [-1.0, 0.0, 2.0], {}),
    ("leaky_relu", [-1.0, 0.0, 2.0], {"alpha": 0.2}),
    ("elu", [-1.0, 0.0, 2.0], {"alpha": 0.5}),
    ("clip", [-0.5, 0.0, 0.5, 0.7], {"min": -0.5, "max": 0.5}),
    ("max", [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], {"axis": 1}),
    ("min", [[1.0, 1.0, 3.0], [2.0, 2.0, 2.0]], {}),
    ("std", [[1.0, 1.0, 1.0], [2.0, 3.0, 5.0]], {"axis": 1}),  # constant row: 0, not NaN
]


@pytest.mark.parametrize(("name", "values", "kwargs"), KINKS, ids=[k[0] for k in KINKS])
def test_subgradients_at_kinks_match_torch(
    backend: str, name: str, values: list, kwargs: dict
) -> None:
    spec = BY_NAME[name]
    a = np.asarray(values, dtype=np.float64)
    t = torch.from_numpy(a.copy()).requires_grad_()
    spec.th(t, **kwargs).sum().backward()
    x = ndgrad.tensor(a, dtype="float64", device=backend, requires_grad=True)
    spec.nd(x, **kwargs).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


def test_maximum_and_minimum_ties_share_the_gradient(backend: str) -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 0.0])
    for nd, th in [(ndgrad.maximum, torch.maximum), (ndgrad.minimum, torch.minimum)]:
        ta, tb = (torch.from_numpy(v.copy()).requires_grad_() for v in (a, b))
        th(ta, tb).sum().backward()
        xa, xb = (ndgrad.tensor(v, dtype="float64", device=backend, requires_grad=True)
                  for v in (a, b))  # fmt: skip
        nd(xa, xb).sum().backward()
        np.testing.assert_allclose(xa.grad.numpy(), ta.grad.numpy())
        np.testing.assert_allclose(xb.grad.numpy(), tb.grad.numpy())


# -- what the strategies really draw ----------------------------------------------------------
DISTRIBUTION_EXAMPLES = 100
# Specs with case strategies of their own (shapes tied together by the op, kwargs read off the
# shape) draw axes up to STRUCTURED_SIZES' side; the other specs draw elementwise or reduction
# shapes, up to SIZES' side.
STRUCTURED = {
    "matmul", "dot", "tensordot", "einsum", "einsum_trace_diagonal", "outer", "reshape",
    "broadcast_to", "concatenate", "stack", "split", "pad", "pad_modes", "repeat", "tile",
    "getitem", "setitem", "linear", "linear_relu", "conv2d", "conv2d_relu",
}  # fmt: skip
# Specs with no 0-d input, no empty input (the op or torch refuses them, or the domain needs
# one or two elements along an axis).
NEVER_0D = {
    "swapaxes", "matmul", "einsum", "einsum_trace_diagonal", "concatenate", "split", "pad",
    "pad_modes", "linear", "linear_relu", "conv2d", "conv2d_relu",
}  # fmt: skip
NEVER_EMPTY = {"max", "min", "var", "std", "bool_var", "pad_modes"}
TINY_KINDS = {
    "0-d": lambda shapes: any(len(s) == 0 for s in shapes),
    "empty": lambda shapes: any(0 in s for s in shapes),
}


def _draws(strategy: st.SearchStrategy, n: int, seen: Callable[[tuple], None]) -> None:
    """Shows `seen` n derandomized draws of `strategy` (the same ones every run)."""

    @settings(
        max_examples=n, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate],
    )  # fmt: skip
    @given(case=strategy)
    def draw(case: tuple) -> None:
        seen(case)

    draw()


def _tally(spec: OpSpec, max_side: int) -> dict[str, int]:
    """How many of DISTRIBUTION_EXAMPLES draws of `spec.cases(max_side)` have at most one
    element in every input, and the longest axis drawn."""
    tally = Counter()

    def seen(case: tuple) -> None:
        shapes = case[0]
        tally["examples"] += 1
        tally["at most one element"] += all(math.prod(s) <= 1 for s in shapes)
        tally["largest axis"] = max(tally["largest axis"], *(max(s, default=0) for s in shapes))

    _draws(spec.cases(max_side), DISTRIBUTION_EXAMPLES, seen)
    return dict(tally)


@functools.cache
def _tiny_cases(name: str) -> dict[str, tuple]:
    """The first case of each tiny kind (a 0-d input, an empty input) that the tiny shapes
    (drawn one example in 8) of spec `name` give, among 50 derandomized draws."""
    found: dict[str, tuple] = {}

    def seen(case: tuple) -> None:
        for kind, has in TINY_KINDS.items():
            if kind not in found and has(case[0]):
                found[kind] = case

    _draws(BY_NAME[name].cases(TINY), 50, seen)
    return found


def _tiny_kinds(name: str) -> list[str]:
    return [k for k, never in [("0-d", NEVER_0D), ("empty", NEVER_EMPTY)] if name not in never]


def test_size_classes() -> None:
    """Axes up to 64 for elementwise and reduction specs, 16 for the others, in the forward
    and VJP tests; a budget of elements per input, smaller for finite differences."""
    assert SIZES[4][0] >= 64 and STRUCTURED_SIZES[4][0] >= 16
    for sizes in (SIZES, STRUCTURED_SIZES):
        assert sizes[3][0] < sizes[4][0] and sizes[3][1] <= 64 and sizes[4][1] <= 4096


# Specs sharing one case strategy (e.g. every `unary()` one) are measured once, by the first.
MEASURED = [s.name for i, s in enumerate(SPECS) if all(t.cases is not s.cases for t in SPECS[:i])]


@pytest.mark.parametrize("name", MEASURED)
def test_generated_shapes_exercise_the_code(name: str) -> None:
    """At the forward/VJP size class, fewer than a quarter of the examples have at most one
    element per input, and the longest axes reach three quarters of the class's side (16 of
    16, 48 of 64: hypothesis rarely draws the very top one); the tiny shapes, drawn one
    example in 8, have 0-d and empty inputs wherever the op takes them."""
    tally = _tally(BY_NAME[name], 4)
    assert tally["examples"] >= DISTRIBUTION_EXAMPLES // 2, tally
    assert tally["at most one element"] < tally["examples"] / 4, tally
    side = (STRUCTURED_SIZES if name in STRUCTURED else SIZES)[4][0]
    assert tally["largest axis"] >= side * 3 // 4, tally
    assert set(_tiny_cases(name)) >= set(_tiny_kinds(name)), _tiny_cases(name)


TINY_CHECKS = [(s.name, kind) for s in SPECS for kind in _tiny_kinds(s.name)]


@pytest.mark.parametrize(("name", "kind"), TINY_CHECKS)
def test_tiny_inputs(name: str, kind: str, backend: str) -> None:
    """Explicit 0-d and empty cases, whatever the large draws are: forward, VJP, gradcheck."""
    spec = BY_NAME[name]
    cases = _tiny_cases(name)
    assert kind in cases, f"no {kind} input among the tiny draws of {name}"
    shapes, kwargs = cases[kind]
    _check_forward(spec, backend, shapes, kwargs, 0)
    if spec.grad:
        _check_vjp(spec, backend, shapes, kwargs, 1)
        xs = _nd_inputs(spec.sample(2, shapes, "float64"), backend, False)
        assert ndgrad.gradcheck(
            lambda *a: spec.nd(*a, **kwargs), xs,
            eps=spec.gc_eps, atol=spec.gc_atol, rtol=spec.gc_rtol, seed=2,
        )  # fmt: skip
