"""`Optimizer.get_state` / `set_state`: a host copy of the slots and the step count, restored
into a new optimizer so that its next updates equal the original's to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers
from ndgrad.errors import ShapeError

from .helpers import random_problem
from .test_optimizer import ALL, N_SLOTS


def _variables(weights: list[np.ndarray], device: str) -> list[ndgrad.Tensor]:
    return [ndgrad.tensor(w, dtype="float32", device=device) for w in weights]


def _step(opt, variables, grads) -> None:
    opt.apply([ndgrad.tensor(g, dtype="float32", device=v.device)
               for g, v in zip(grads, variables)], variables)


@pytest.mark.parametrize("name", ALL)
def test_restored_state_continues_bit_exactly(name, backend):
    weights, grads = random_problem(steps=6)
    original = ALL[name]()
    a = _variables(weights, backend)
    for g in grads[:3]:
        _step(original, a, g)
    state = original.get_state()
    assert state["iterations"] == 3 and len(state["slots"]) == N_SLOTS[name]
    assert all(isinstance(x, np.ndarray) for xs in state["slots"].values() for x in xs)

    restored = ALL[name]()
    b = _variables([v.numpy() for v in a], backend)
    restored.build(b)
    restored.set_state(state)
    assert restored.iterations == 3
    for g in grads[3:]:
        _step(original, a, g)
        _step(restored, b, g)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert all(v.device == backend for v in b)


def test_get_state_is_a_copy():
    w = ndgrad.tensor([1.0, 2.0])
    opt = optimizers.Adam(0.1)
    _step(opt, [w], [np.array([1.0, 1.0])])
    state = opt.get_state()
    before = state["slots"]["momentum"][0].copy()
    _step(opt, [w], [np.array([1.0, 1.0])])
    np.testing.assert_array_equal(state["slots"]["momentum"][0], before)
    assert not np.array_equal(opt.get_state()["slots"]["momentum"][0], before)


def test_set_state_checks_before_changing_anything():
    w = ndgrad.tensor([[1.0, 2.0]])
    source = optimizers.RMSprop(0.1)
    _step(source, [w], [np.ones((1, 2))])
    state = source.get_state()

    with pytest.raises(ValueError, match="build the optimizer first"):
        optimizers.RMSprop().set_state(state)

    with_momentum = optimizers.RMSprop(momentum=0.9)
    with_momentum.build([w])
    with pytest.raises(ValueError, match=r"slots \['velocity'\].*\['momentum', 'velocity'\]"):
        with_momentum.set_state(state)

    other = optimizers.RMSprop()
    other.build([ndgrad.zeros((2, 1))])
    with pytest.raises(ShapeError, match=r"variable\.shape=\(2, 1\), state\.shape=\(1, 2\)"):
        other.set_state(state)
    assert other.iterations == 0
    np.testing.assert_array_equal(other.get_state()["slots"]["velocity"][0], np.zeros((2, 1)))

    fresh = optimizers.RMSprop()
    fresh.build([w])
    with pytest.raises(ValueError, match="iterations must be an int >= 0"):
        fresh.set_state({**state, "iterations": -1})
    with pytest.raises(ValueError, match="1 arrays for 2 variables"):
        two = optimizers.RMSprop()
        two.build([w, ndgrad.zeros(3)])
        two.set_state(state)
