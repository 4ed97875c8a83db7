"""N steps of each optimizer against its torch.optim counterpart, in float64.

Where Keras 3 and PyTorch differ (epsilon placement, learning rate folded into the momentum
buffer), the settings make the two formulas identical, or emulate one with the other; each test
says which. Tolerances are then float64 round-off.
"""

from __future__ import annotations

import math

import pytest
import torch

from ndgrad import optimizers

from .helpers import assert_all_close, random_problem, run_ndgrad, run_torch

EXACT = {"rtol": 1e-10, "atol": 1e-12}


# -- SGD: with a constant learning rate Keras's velocity m is -lr * torch's buffer ------------
@pytest.mark.parametrize(
    ("kwargs", "torch_kwargs"),
    [
        ({}, {}),
        ({"momentum": 0.9}, {"momentum": 0.9}),
        ({"momentum": 0.9, "nesterov": True}, {"momentum": 0.9, "nesterov": True}),
        # decoupled (Keras) and coupled (torch) weight decay coincide without momentum
        ({"weight_decay": 0.5}, {"weight_decay": 0.5}),
    ],
    ids=["plain", "momentum", "nesterov", "weight_decay"],
)
def test_sgd_matches_torch(backend: str, kwargs: dict, torch_kwargs: dict) -> None:
    weights, grads = random_problem()
    got = run_ndgrad(optimizers.SGD(learning_rate=0.1, **kwargs), weights, grads, backend)
    want = run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1, **torch_kwargs), weights, grads)
    assert_all_close(got, want, **EXACT)


# -- RMSprop: epsilon=0 removes the sqrt(v + eps) vs sqrt(v) + eps difference ----------------
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": 0.5}, {"centered": True}, {"centered": True, "momentum": 0.5}],
    ids=["plain", "momentum", "centered", "centered_momentum"],
)
def test_rmsprop_matches_torch(backend: str, kwargs: dict) -> None:
    weights, grads = random_problem()
    opt = optimizers.RMSprop(learning_rate=0.01, rho=0.9, epsilon=0.0, **kwargs)
    got = run_ndgrad(opt, weights, grads, backend)
    want = run_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0, **kwargs), weights, grads
    )
    assert_all_close(got, want, **EXACT)


def test_rmsprop_epsilon_placement_is_small_but_real() -> None:
    """With equal, small epsilons, sqrt(v + eps) vs sqrt(v) + eps shifts results slightly.

    For these gradients (|g| ~ 1, so v >= ~1e-3 after the first step) the relative difference
    in the denominator is at most eps / (2 v) + eps / sqrt(v) ~ 1e-6 for eps = 1e-8.
    """
    weights, grads = random_problem()
    got = run_ndgrad(optimizers.RMSprop(0.01, epsilon=1e-8), weights, grads)
    want = run_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8), weights, grads
    )
    assert_all_close(got, want, rtol=1e-6, atol=1e-8)
    exact = run_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0), weights, grads
    )
    assert any(abs(g - w).max() > 1e-13 for g, w in zip(got, exact))


# -- Adam: Keras's epsilon ("epsilon hat") = torch's eps * sqrt(1 - beta_2**t) --------------
def _emulate_torch_eps(eps: float, beta_2: float = 0.999):
    def before_step(opt: optimizers.Adam, step: int) -> None:
        opt.epsilon = eps * math.sqrt(1.0 - beta_2**step)

    return before_step


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_adam_matches_torch(backend: str, amsgrad: bool) -> None:
    # Gradients of decreasing size make amsgrad's max(v_hat, v) matter.
    weights, grads = random_problem(steps=10)
    grads = [[g / (k + 1) ** 2 for g in gs] for k, gs in enumerate(grads)]
    eps = 1e-3  # large, so a wrong epsilon mapping would show
    opt = optimizers.Adam(0.01, beta_1=0.8, beta_2=0.999, amsgrad=amsgrad)
    got = run_ndgrad(opt, weights, grads, backend, before_step=_emulate_torch_eps(eps))
    want = run_torch(
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.999), eps=eps, amsgrad=amsgrad),
        weights,
        grads,
    )
    assert_all_close(got, want, **EXACT)


def test_adam_epsilon_mapping_matters() -> None:
    """Without the mapping, the same numeric epsilon gives different results."""
    weights, grads = random_problem(steps=5)
    got = run_ndgrad(optimizers.Adam(0.01, epsilon=1e-3), weights, grads)
    want = run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-3), weights, grads)
    assert any(abs(g - w).max() > 1e-6 for g, w in zip(got, want))


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adamw", "amsgrad"])
def test_adamw_matches_torch(backend: str, amsgrad: bool) -> None:
    """Both decay as w *= 1 - lr * weight_decay before the Adam step."""
    weights, grads = random_problem(steps=10)
    eps = 1e-8
    opt = optimizers.AdamW(0.05, weight_decay=0.3, amsgrad=amsgrad)
    got = run_ndgrad(opt, weights, grads, backend, before_step=_emulate_torch_eps(eps))
    want = run_torch(
        lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.3, eps=eps, amsgrad=amsgrad),
        weights,
        grads,
    )
    assert_all_close(got, want, **EXACT)


# -- schedules: the optimizer evaluates the schedule at step = iterations ------------------
def test_exponential_decay_matches_torch_exponential_lr() -> None:
    weights, grads = random_problem(steps=10)
    lr = optimizers.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.8)
    got = run_ndgrad(optimizers.Adam(lr), weights, grads, before_step=_emulate_torch_eps(1e-8))
    want = run_torch(
        lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-8),
        weights,
        grads,
        scheduler=lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8),
    )
    assert_all_close(got, want, **EXACT)


def test_cosine_decay_matches_torch_cosine_annealing() -> None:
    weights, grads = random_problem(steps=10)
    lr = optimizers.CosineDecay(0.1, decay_steps=10, alpha=0.1)
    got = run_ndgrad(optimizers.SGD(lr), weights, grads)
    want = run_torch(
        lambda ps: torch.optim.SGD(ps, lr=0.1),
        weights,
        grads,
        scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=10, eta_min=0.01
        ),
    )
    # torch updates the rate recursively, so it accumulates a little round-off
    assert_all_close(got, want, rtol=1e-9, atol=1e-12)


# -- clipping --------------------------------------------------------------------------------
def _grads_needing_clip():
    weights, grads = random_problem(steps=5, scale=3.0)
    norms = [math.sqrt((g**2).sum()) for gs in grads for g in gs]
    assert min(norms) < 3.0 < max(norms)  # some gradients are clipped, some are not
    return weights, grads


def test_clipnorm_matches_clip_grad_norm_per_variable(backend: str) -> None:
    """Keras: g * c / max(|g|, c); torch: g * min(1, c / (|g| + 1e-6)), per parameter here."""
    weights, grads = _grads_needing_clip()
    got = run_ndgrad(optimizers.SGD(0.1, clipnorm=3.0), weights, grads, backend)

    def clip(ps: list[torch.Tensor]) -> None:
        for p in ps:
            torch.nn.utils.clip_grad_norm_([p], 3.0)

    want = run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1), weights, grads, clip=clip)
    assert_all_close(got, want, rtol=1e-6, atol=1e-7)  # torch's 1e-6 in the denominator


def test_global_clipnorm_matches_clip_grad_norm(backend: str) -> None:
    weights, grads = _grads_needing_clip()
    got = run_ndgrad(optimizers.SGD(0.1, global_clipnorm=2.0), weights, grads, backend)
    want = run_torch(
        lambda ps: torch.optim.SGD(ps, lr=0.1),
        weights,
        grads,
        clip=lambda ps: torch.nn.utils.clip_grad_norm_(ps, 2.0),
    )
    assert_all_close(got, want, rtol=1e-6, atol=1e-7)


def test_clipvalue_matches_clip_grad_value(backend: str) -> None:
    weights, grads = _grads_needing_clip()
    eps_emulation = _emulate_torch_eps(1e-8)
    got = run_ndgrad(
        optimizers.Adam(0.1, clipvalue=0.5), weights, grads, backend, before_step=eps_emulation
    )
    want = run_torch(
        lambda ps: torch.optim.Adam(ps, lr=0.1, eps=1e-8),
        weights,
        grads,
        clip=lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5),
    )
    assert_all_close(got, want, **EXACT)
