"""Shared helpers: run an ndgrad optimizer or a torch.optim one over the same gradients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import ndgrad
from ndgrad.backends import get_backend

SHAPES = [(3, 4), (4,), ()]


def random_problem(steps: int = 8, seed: int = 0, scale: float = 1.0) -> tuple[list, list]:
    """Float64 initial weights and a sequence of gradient lists for `SHAPES`."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s) for s in SHAPES]
    grads = [[scale * rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return weights, grads


def run_ndgrad(
    opt: Any,
    weights: Sequence[np.ndarray],
    grads: Sequence[Sequence[np.ndarray]],
    device: str = "cpu",
    before_step: Callable[[Any, int], None] | None = None,
    dtype: str = "float64",
) -> list[np.ndarray]:
    ws = [ndgrad.tensor(w, dtype=dtype, device=device) for w in weights]
    for step, gs in enumerate(grads, start=1):
        if before_step is not None:
            before_step(opt, step)
        opt.apply([ndgrad.tensor(g, dtype=dtype, device=device) for g in gs], ws)
    return [w.numpy() for w in ws]


def run_torch(
    make_opt: Callable[[list[torch.Tensor]], Any],
    weights: Sequence[np.ndarray],
    grads: Sequence[Sequence[np.ndarray]],
    clip: Callable[[list[torch.Tensor]], None] | None = None,
    scheduler: Callable[[Any], Any] | None = None,
    dtype: str = "float64",
) -> list[np.ndarray]:
    torch_dtype = getattr(torch, dtype)
    ps = [torch.tensor(w, dtype=torch_dtype, requires_grad=True) for w in weights]
    opt = make_opt(ps)
    sched = scheduler(opt) if scheduler is not None else None
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = torch.tensor(g, dtype=torch_dtype)
        if clip is not None:
            clip(ps)
        opt.step()
        if sched is not None:
            sched.step()
    return [p.detach().numpy() for p in ps]


def assert_all_close(got: Sequence[np.ndarray], want: Sequence[np.ndarray], **tol: float) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **tol)


def move(t: ndgrad.Tensor, device: str) -> None:
    """Move a variable in place (keeping its identity), as Layer.to does."""
    target = get_backend(device)
    t.data = target.from_numpy(t.backend.to_numpy(t.data))
    t.backend = target
