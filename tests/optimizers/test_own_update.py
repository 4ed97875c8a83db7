"""An optimizer owns its update: a subclass that writes `update` (and names itself) needs no
other file; a backend's fused kernel is found by the class whose `update` runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.backends.numpy import NumpyBackend


def test_a_named_subclass_is_known_by_name_and_runs_its_update() -> None:
    class Adagrad(optimizers.Optimizer):
        _default_name = "adagrad_for_a_test"
        _scratch_count = 1

        def slot_names(self) -> tuple[str, ...]:
            return ("accumulator",)

        def update(self, xp: Any, w: Any, g: Any, state: dict, scratch: tuple, lr: float) -> None:
            acc, (s,) = state["accumulator"], scratch
            s[...] = g
            s *= g
            acc += s  # acc += g**2
            s[...] = acc
            s **= 0.5
            s += 1e-7
            s[...] = g / s
            s *= lr
            w -= s

    try:
        assert optimizers.OPTIMIZERS.lookup("Adagrad_For_A_Test") is Adagrad
        w = ndgrad.tensor([1.0, 2.0], dtype="float64")
        opt = Adagrad(0.5)
        for _ in range(2):
            opt.apply([ndgrad.tensor([2.0, -1.0], dtype="float64")], [w])
        acc = np.array([8.0, 2.0])
        np.testing.assert_allclose(opt.get_state()["slots"]["accumulator"][0], acc)
        first = 1.0 - 0.5 * 2.0 / (2.0 + 1e-7)
        np.testing.assert_allclose(w.numpy()[0], first - 0.5 * 2.0 / (np.sqrt(8.0) + 1e-7))
    finally:
        optimizers.OPTIMIZERS.pop("adagrad_for_a_test", None)


def test_fused_kernels_are_registered_by_class_and_inherited_only_with_the_update() -> None:
    table = NumpyBackend.fused_updates
    assert {optimizers.SGD, optimizers.RMSprop, optimizers.Adam} <= set(table)
    assert optimizers.AdamW._update_owner is optimizers.Adam  # AdamW keeps Adam's update
    assert optimizers.Optimizer._update_owner is optimizers.Optimizer

    class MyAdam(optimizers.Adam):
        def update(self, *args: Any) -> None:
            super().update(*args)

    assert MyAdam._update_owner is MyAdam  # computed once, when the class is made


def test_a_subclass_that_rewrites_update_runs_it_not_its_parents_kernel() -> None:
    """Adam's slots with plain gradient descent as the rule: on arrays Adam's compiled kernel
    takes (float32, kernels forced on), the subclass's own `update` must run, so the weights
    move by exactly lr * g (Adam's kernel would move each by about lr)."""
    pytest.importorskip("numba")
    from ..backends.kernel_switch import kernels_on

    class Descent(optimizers.Adam):
        def update(self, xp: Any, w: Any, g: Any, state: dict, scratch: tuple, lr: float) -> None:
            w -= lr * g

    rng = np.random.default_rng(0)
    w0, g = (rng.standard_normal(64).astype(np.float32) for _ in range(2))
    with kernels_on():
        adam, descent = ndgrad.tensor(w0), ndgrad.tensor(w0)
        optimizers.Adam(0.1).apply([ndgrad.tensor(g)], [adam])
        Descent(0.1).apply([ndgrad.tensor(g)], [descent])
    np.testing.assert_array_equal(descent.numpy(), w0 - 0.1 * g)
    assert not np.allclose(adam.numpy(), descent.numpy(), atol=1e-3)  # the kernel differs
