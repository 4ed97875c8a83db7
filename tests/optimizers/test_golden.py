"""Hand-computed steps: w = 1 and scalar gradients, learning rate 0.1.

Epsilon is 0 where it would only blur the arithmetic; the derivation is in each comment.
"""

from __future__ import annotations

import pytest

import ndgrad
from ndgrad import optimizers


def steps(opt: optimizers.Optimizer, grads: list[float], device: str, dtype: str = "float64"):
    w = ndgrad.tensor([1.0], dtype=dtype, device=device)
    out = []
    for g in grads:
        opt.apply([ndgrad.tensor([g], dtype=dtype, device=device)], [w])
        out.append(w.item())
    return out


CASES = {
    # w = 1 - 0.1 * 0.5 = 0.95, then 0.9
    "sgd": (lambda: optimizers.SGD(0.1), [0.5, 0.5], [0.95, 0.9]),
    # m = -0.05, w = 0.95; m = 0.9 * -0.05 - 0.05 = -0.095, w = 0.855;
    # m = 0.9 * -0.095 - 0.05 = -0.1355, w = 0.7195
    "sgd_momentum": (
        lambda: optimizers.SGD(0.1, momentum=0.9),
        [0.5, 0.5, 0.5],
        [0.95, 0.855, 0.7195],
    ),
    # m = -0.05, w += -0.05 + 0.9 * -0.05 = -0.095 -> 0.905;
    # m = -0.095, w += -0.05 + 0.9 * -0.095 = -0.1355 -> 0.7695
    "sgd_nesterov": (
        lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        [0.5, 0.5],
        [0.905, 0.7695],
    ),
    # decay first: w = 1 * (1 - 0.1 * 0.5) = 0.95, then 0.95 - 0.1 * 0.5 = 0.9
    "sgd_weight_decay": (lambda: optimizers.SGD(0.1, weight_decay=0.5), [0.5], [0.9]),
    # v = 0.1 * 0.25 = 0.025, w = 1 - 0.05 / sqrt(0.025) = 0.6837722339831620;
    # v = 0.9 * 0.025 + 0.025 = 0.0475, w -= 0.05 / sqrt(0.0475) -> 0.4543565001126002
    "rmsprop": (
        lambda: optimizers.RMSprop(0.1, epsilon=0.0),
        [0.5, 0.5],
        [0.683772233983162, 0.4543565001126002],
    ),
    # epsilon inside the root: w = 1 - 0.05 / sqrt(0.025 + 0.0015) = 0.6928524416
    "rmsprop_epsilon": (
        lambda: optimizers.RMSprop(0.1, epsilon=0.0015),
        [0.5],
        [0.6928524415830244],
    ),
    # v = 0.025, a = 0.05, d = 0.025 - 0.0025 = 0.0225 = 0.15**2, w = 1 - 0.05 / 0.15 = 2/3;
    # v = 0.1225, a = -0.055, d = 0.119475, w -= 0.1 * -1 / sqrt(0.119475) -> 0.9559753577
    "rmsprop_centered": (
        lambda: optimizers.RMSprop(0.1, epsilon=0.0, centered=True),
        [0.5, -1.0],
        [2 / 3, 0.9559753577351642],
    ),
    # m = 0.1 / sqrt(0.025) = 0.316227766, w = 0.683772234;
    # m = 0.5 * 0.316227766 + 0.05 / sqrt(0.0475) = 0.387529724, w = 0.296242617
    "rmsprop_momentum": (
        lambda: optimizers.RMSprop(0.1, epsilon=0.0, momentum=0.5),
        [0.5, 0.5],
        [0.683772233983162, 0.2962426171041812],
    ),
    # t=1: m = 0.05, v = 0.00025, alpha = 0.1 * sqrt(0.001) / 0.1, step = alpha * m / sqrt(v)
    #      = 0.1 exactly: w = 0.9;
    # t=2: m = -0.055, v = 0.00124975, alpha = 0.1 * sqrt(0.001999) / 0.19 = 0.02353167,
    #      step = alpha * m / sqrt(v) = -0.03661035: w = 0.9366103527
    "adam": (
        lambda: optimizers.Adam(0.1, epsilon=0.0),
        [0.5, -1.0],
        [0.9, 0.9366103527035843],
    ),
    # t=2 with g=0: v = 0.000999 < v_hat = 0.001, so amsgrad divides by sqrt(0.001):
    # m = 0.09, w = 0.9 - 0.02353167 * 0.09 / sqrt(0.001) = 0.8330276859
    # (plain Adam: 0.9 - 0.02353167 * 0.09 / sqrt(0.000999) = 0.8329941746)
    "amsgrad": (
        lambda: optimizers.Adam(0.1, epsilon=0.0, amsgrad=True),
        [1.0, 0.0],
        [0.9, 0.8330276858789715],
    ),
    "adam_same_case": (
        lambda: optimizers.Adam(0.1, epsilon=0.0),
        [1.0, 0.0],
        [0.9, 0.832994174586346],
    ),
    # decay: w = 1 * (1 - 0.1 * 0.5) = 0.95, then the first Adam step (0.1): 0.85
    "adamw": (lambda: optimizers.AdamW(0.1, weight_decay=0.5, epsilon=0.0), [0.5], [0.85]),
}


@pytest.mark.parametrize("case", CASES)
def test_golden_numbers(backend: str, case: str) -> None:
    make, grads, want = CASES[case]
    assert steps(make(), grads, backend) == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("case", ["sgd_momentum", "rmsprop", "adam", "adamw"])
def test_golden_numbers_float32(backend: str, case: str) -> None:
    make, grads, want = CASES[case]
    assert steps(make(), grads, backend, "float32") == pytest.approx(want, rel=1e-6)


def test_adam_epsilon_hat() -> None:
    """Keras adds epsilon to sqrt(v) before bias correction: w = 1 - alpha * m / (sqrt(v) + e)."""
    e = 0.01
    # t=1: m = 0.05, sqrt(v) = 0.0158113883, alpha = 0.0316227766
    want = 1 - 0.1 * 0.001**0.5 / 0.1 * 0.05 / (0.00025**0.5 + e)
    assert steps(optimizers.Adam(0.1, epsilon=e), [0.5], "cpu") == pytest.approx([want])
