"""The compiled (numba) update of each optimizer against torch.optim, in float32.

`SGD`, `RMSprop` and `Adam`/`AdamW` hand each update to the NumPy backend's
``optimizer_step``, which runs one compiled kernel per weight array for float32, C-contiguous
arrays (and falls back to the NumPy code otherwise). The other tests of this package use float64
weights, so they only exercise the fallback; here the weights are float32, the kernels are
forced on (`kernels_on`, also under ``NDGRAD_KERNELS=numpy``) and a counting spy checks that the
kernel of the rule really ran for every variable at every step, while the weights and the state
match torch.optim in float32. The settings that make Keras's and PyTorch's formulas agree are
the ones of test_vs_torch.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import optimizers

from .helpers import assert_all_close, run_ndgrad, run_torch

pytest.importorskip("numba")

from ndgrad.backends.numpy import kernels  # noqa: E402

from ..backends.kernel_switch import kernels_on  # noqa: E402

SHAPES = [(130, 128), (7,)]  # one array above kernels.MIN_PARALLEL elements, one small
STEPS = 8
FLOAT32 = {"rtol": 2e-5, "atol": 2e-6}


def _problem(seed: int = 0, decreasing: bool = False) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    if decreasing:  # gradients of decreasing size make amsgrad's max(v_hat, v) matter
        grads = [[(g / (k + 1) ** 2).astype(np.float32) for g in gs] for k, gs in enumerate(grads)]
    return weights, grads


def _emulate_torch_eps(eps: float, beta_2: float = 0.999) -> Callable[[Any, int], None]:
    """Keras's epsilon at step t = torch's eps * sqrt(1 - beta_2**t) (see test_vs_torch.py)."""

    def before_step(opt: optimizers.Adam, step: int) -> None:
        opt.epsilon = eps * math.sqrt(1.0 - beta_2**step)

    return before_step


@pytest.fixture
def kernel_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Kernels on; counts the calls of each optimizer kernel (the backend looks them up as
    ``kernels.optimizers.<rule>`` at each call)."""
    calls = {"sgd": 0, "rmsprop": 0, "adam": 0}
    with kernels_on():
        for rule in calls:
            kernel = getattr(kernels.optimizers, rule)

            def spy(*args: Any, _kernel: Any = kernel, _rule: str = rule) -> Any:
                calls[_rule] += 1
                return _kernel(*args)

            monkeypatch.setattr(kernels.optimizers, rule, spy)
        yield calls


def _expect_only(calls: dict[str, int], rule: str) -> None:
    assert calls == {**dict.fromkeys(calls, 0), rule: STEPS * len(SHAPES)}


SGD_CASES = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
}


@pytest.mark.parametrize("kwargs", SGD_CASES.values(), ids=SGD_CASES)
def test_sgd_kernel_matches_torch(kernel_calls: dict, kwargs: dict) -> None:
    weights, grads = _problem()
    got = run_ndgrad(optimizers.SGD(0.1, **kwargs), weights, grads, dtype="float32")
    _expect_only(kernel_calls, "sgd")
    want = run_torch(
        lambda ps: torch.optim.SGD(ps, lr=0.1, **kwargs), weights, grads, dtype="float32"
    )
    assert_all_close(got, want, **FLOAT32)


RMSPROP_CASES = {
    "plain": {},
    "momentum": {"momentum": 0.5},
    "centered": {"centered": True},
    "centered_momentum": {"centered": True, "momentum": 0.5},
}


@pytest.mark.parametrize("kwargs", RMSPROP_CASES.values(), ids=RMSPROP_CASES)
def test_rmsprop_kernel_matches_torch(kernel_calls: dict, kwargs: dict) -> None:
    """epsilon=0: Keras's sqrt(v + eps) and torch's sqrt(v) + eps agree."""
    weights, grads = _problem(seed=1)
    opt = optimizers.RMSprop(learning_rate=0.01, rho=0.9, epsilon=0.0, **kwargs)
    got = run_ndgrad(opt, weights, grads, dtype="float32")
    _expect_only(kernel_calls, "rmsprop")
    want = run_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0, **kwargs),
        weights,
        grads,
        dtype="float32",
    )
    assert_all_close(got, want, **FLOAT32)


ADAM_CASES = {
    "adam": (lambda: optimizers.Adam(0.01, beta_1=0.8), {"lr": 0.01, "betas": (0.8, 0.999)}),
    "amsgrad": (
        lambda: optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, amsgrad=True),
        {"lr": 0.01, "betas": (0.8, 0.99), "amsgrad": True},
    ),
}


@pytest.mark.parametrize(("make", "torch_kwargs"), ADAM_CASES.values(), ids=ADAM_CASES)
def test_adam_kernel_matches_torch(kernel_calls: dict, make: Callable, torch_kwargs: dict) -> None:
    weights, grads = _problem(seed=2, decreasing=True)
    eps = 1e-3  # large, so a wrong epsilon would show
    opt = make()
    beta_2 = torch_kwargs["betas"][1]
    got = run_ndgrad(
        opt, weights, grads, before_step=_emulate_torch_eps(eps, beta_2), dtype="float32"
    )
    _expect_only(kernel_calls, "adam")
    want = run_torch(
        lambda ps: torch.optim.Adam(ps, eps=eps, **torch_kwargs), weights, grads, dtype="float32"
    )
    assert_all_close(got, want, **FLOAT32)


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adamw", "amsgrad"])
def test_adamw_kernel_matches_torch(kernel_calls: dict, amsgrad: bool) -> None:
    """The decay (w *= 1 - lr * wd) runs before the kernel's Adam step, as in torch."""
    weights, grads = _problem(seed=3, decreasing=amsgrad)
    eps = 1e-8
    opt = optimizers.AdamW(0.05, weight_decay=0.3, amsgrad=amsgrad)
    got = run_ndgrad(opt, weights, grads, before_step=_emulate_torch_eps(eps), dtype="float32")
    _expect_only(kernel_calls, "adam")
    want = run_torch(
        lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.3, eps=eps, amsgrad=amsgrad),
        weights,
        grads,
        dtype="float32",
    )
    assert_all_close(got, want, **FLOAT32)


# -- the state the kernels leave (what get_state returns and model.save stores) --------------
def _torch_state(opt: torch.optim.Optimizer, key: str) -> list[np.ndarray]:
    return [opt.state[p][key].numpy() for group in opt.param_groups for p in group["params"]]


def _run_both(opt: optimizers.Optimizer, make_torch: Callable, grads: list, weights: list):
    ws = [ndgrad.tensor(w) for w in weights]
    ps = [torch.tensor(w, requires_grad=True) for w in weights]
    topt = make_torch(ps)
    for step, gs in enumerate(grads, start=1):
        if isinstance(opt, optimizers.Adam):
            _emulate_torch_eps(1e-3, opt.beta_2)(opt, step)
        opt.apply([ndgrad.tensor(g) for g in gs], ws)
        for p, g in zip(ps, gs):
            p.grad = torch.tensor(g)
        topt.step()
    return opt.get_state()["slots"], topt


def test_rmsprop_kernel_state_matches_torch(kernel_calls: dict) -> None:
    """velocity = torch's square_avg, average_gradient = grad_avg, momentum = lr * buffer."""
    weights, grads = _problem(seed=4)
    opt = optimizers.RMSprop(0.01, momentum=0.5, epsilon=0.0, centered=True)
    slots, topt = _run_both(
        opt,
        lambda ps: torch.optim.RMSprop(
            ps, lr=0.01, alpha=0.9, eps=0.0, momentum=0.5, centered=True
        ),
        grads,
        weights,
    )
    _expect_only(kernel_calls, "rmsprop")
    assert_all_close(slots["velocity"], _torch_state(topt, "square_avg"), **FLOAT32)
    assert_all_close(slots["average_gradient"], _torch_state(topt, "grad_avg"), **FLOAT32)
    buffers = [0.01 * b for b in _torch_state(topt, "momentum_buffer")]
    assert_all_close(slots["momentum"], buffers, **FLOAT32)


def test_adam_kernel_state_matches_torch(kernel_calls: dict) -> None:
    """momentum = exp_avg, velocity = exp_avg_sq, velocity_hat = max_exp_avg_sq."""
    weights, grads = _problem(seed=5, decreasing=True)
    opt = optimizers.Adam(0.01, beta_2=0.99, amsgrad=True)
    slots, topt = _run_both(
        opt,
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-3, amsgrad=True),
        grads,
        weights,
    )
    _expect_only(kernel_calls, "adam")
    assert_all_close(slots["momentum"], _torch_state(topt, "exp_avg"), **FLOAT32)
    assert_all_close(slots["velocity"], _torch_state(topt, "exp_avg_sq"), **FLOAT32)
    assert_all_close(slots["velocity_hat"], _torch_state(topt, "max_exp_avg_sq"), **FLOAT32)
    # with decreasing gradients the running maximum is above the current average somewhere
    assert any((h > v).any() for h, v in zip(slots["velocity_hat"], slots["velocity"]))
