"""Finite-difference gradient checks, the oracle for every gradient rule (use float64).

`gradcheck` compares the engine's vector-Jacobian product ``v @ J`` for a random cotangent `v`
with central differences of ``sum(v * f(x))``, element by element. `gradgradcheck` applies the
same check to the function ``x -> v @ J(x)``, which tests second derivatives.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from .engine import backward
from .grad_mode import no_grad, set_grad_enabled


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _vjp(f: Callable[..., Any], xs: list, cotangents: list, create_graph: bool) -> list:
    with set_grad_enabled(True):
        outs = _as_tuple(f(*xs))
    roots = [o for o in outs if o.requires_grad]
    seeds = [v for o, v in zip(outs, cotangents) if o.requires_grad]
    if not roots:
        return [None] * len(xs)
    return backward(roots, seeds, inputs=xs, create_graph=create_graph)


def _scalar(f: Callable[..., Any], xs: list, cotangents: list) -> float:
    with no_grad():
        outs = _as_tuple(f(*xs))
    return sum(float((o.astype(v.dtype) * v).sum().item()) for o, v in zip(outs, cotangents))


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check the gradients of `f` at `inputs` (tensors; floating ones are checked).

    Returns True or raises GradcheckError naming the input, element and both values.

    >>> import ndgrad
    >>> x = ndgrad.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    >>> ndgrad.gradcheck(ndgrad.tanh, [x])
    True
    """
    from ..creation import tensor

    xs = [x.detach().requires_grad_(x.dtype.is_floating) for x in inputs]
    with no_grad():
        outs = _as_tuple(f(*xs))
    backend = xs[0].backend
    cotangents = [_random_like(o, seed + k) for k, o in enumerate(outs)]
    analytic = _vjp(f, xs, cotangents, create_graph=False)
    for n, (x, a) in enumerate(zip(xs, analytic)):
        if not x.dtype.is_floating:
            continue
        host = x.numpy().copy()
        flat = host.reshape(-1)
        a_host = None if a is None else a.numpy().reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            xs[n] = tensor(host.copy(), dtype=x.dtype, device=backend)
            plus = _scalar(f, xs, cotangents)
            flat[k] = orig - eps
            xs[n] = tensor(host.copy(), dtype=x.dtype, device=backend)
            minus = _scalar(f, xs, cotangents)
            flat[k] = orig
            xs[n] = x
            numeric = (plus - minus) / (2 * eps)
            got = 0.0 if a_host is None else float(a_host[k])
            if abs(got - numeric) > atol + rtol * abs(numeric):
                raise GradcheckError(
                    f"gradcheck: input {n} (shape {x.shape}), element {k}: analytic {got!r} vs "
                    f"numerical {numeric!r} (atol={atol}, rtol={rtol})"
                )
    return True


def gradgradcheck(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: `gradcheck` of ``x -> v @ J_f(x)`` for a random `v`."""
    xs = [x.detach() for x in inputs]
    with no_grad():
        outs = _as_tuple(f(*xs))
    cotangents = [_random_like(o, seed + 100 + k) for k, o in enumerate(outs)]

    def first_order(*args: Any) -> tuple:
        leaves = [a.requires_grad_() if a.dtype.is_floating else a for a in args]
        grads = _vjp(f, leaves, cotangents, create_graph=True)
        return tuple(g if g is not None else a * 0 for g, a in zip(grads, leaves))

    return gradcheck(first_order, xs, eps=eps, atol=atol, rtol=rtol, seed=seed)


def _random_like(t: Any, seed: int) -> Any:
    """A reproducible standard-normal cotangent shaped like `t` (the global seed untouched)."""
    from ..creation import tensor

    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(t.size)]
    dtype = t.dtype if t.dtype.is_floating else "float64"
    return tensor(values, dtype=dtype, device=t.backend).reshape(t.shape)
