"""`Optimizer.get_state` / `set_state`: a host copy of the slots and the step count, restored
into a new optimizer so that its next updates equal the original's to the last bit."""

from __future__ import annotations

import re

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
    opt.apply(
        [ndgrad.tensor(g, dtype="float32", device=v.device) for g, v in zip(grads, variables)],
        variables,
    )


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


# -- slot names and contents: what get_state returns and model.save stores --------------------
SLOTS = {
    "sgd": [],
    "sgd_momentum": ["momentum"],
    "sgd_nesterov": ["momentum"],
    "rmsprop": ["velocity"],
    "rmsprop_centered_momentum": ["velocity", "momentum", "average_gradient"],
    "adam": ["momentum", "velocity"],
    "amsgrad": ["momentum", "velocity", "velocity_hat"],
    "adamw": ["momentum", "velocity"],
}


@pytest.mark.parametrize("name", ALL)
def test_slot_names_in_creation_order(name):
    """Keras's slot names, in the order `variables` lists the arrays (slot by slot)."""
    weights, grads = random_problem(steps=1)
    opt = ALL[name]()
    variables = _variables(weights, "cpu")
    _step(opt, variables, grads[0])
    slots = opt.get_state()["slots"]
    assert list(slots) == SLOTS[name]
    flat = [a for arrays in slots.values() for a in arrays]
    assert len(opt.variables) == len(flat)
    for a, b in zip(opt.variables, flat):
        np.testing.assert_array_equal(a, b)


def _one_step_slots(opt, g):
    w = ndgrad.tensor([0.5, -0.5], dtype="float64")
    opt.apply([ndgrad.tensor(g, dtype="float64")], [w])
    return {k: v[0] for k, v in opt.get_state()["slots"].items()}


def test_slot_contents_after_one_step():
    """Each slot holds the quantity its name says (Keras's definitions), from zero state."""
    g = np.array([2.0, -4.0])
    slots = _one_step_slots(optimizers.SGD(0.1, momentum=0.9), g)
    np.testing.assert_allclose(slots["momentum"], -0.1 * g)  # the velocity: -lr * g

    slots = _one_step_slots(optimizers.RMSprop(0.1, rho=0.8, momentum=0.5, centered=True), g)
    np.testing.assert_allclose(slots["velocity"], 0.2 * g**2)  # mean square
    np.testing.assert_allclose(slots["average_gradient"], 0.2 * g)  # mean gradient, signed
    increment = 0.1 * g / np.sqrt(0.2 * g**2 - (0.2 * g) ** 2 + 1e-7)
    np.testing.assert_allclose(slots["momentum"], increment)

    slots = _one_step_slots(optimizers.Adam(0.1, beta_1=0.8, beta_2=0.9, amsgrad=True), g)
    np.testing.assert_allclose(slots["momentum"], 0.2 * g)
    np.testing.assert_allclose(slots["velocity"], 0.1 * g**2)
    np.testing.assert_allclose(slots["velocity_hat"], 0.1 * g**2)


def test_average_gradient_follows_the_gradient_sign():
    """Centered RMSprop's average gradient is a running mean of g: positive gradients keep it
    positive, over several steps."""
    opt = optimizers.RMSprop(0.01, rho=0.5, centered=True)
    w = ndgrad.tensor([0.0], dtype="float64")
    for g in (1.0, 3.0, 2.0):
        opt.apply([ndgrad.tensor([g], dtype="float64")], [w])
    # a = 0.5 * (0.5 * (0.5 * 1) + 0.5 * 3) + 0.5 * 2 = 1.875
    assert opt.get_state()["slots"]["average_gradient"][0].tolist() == [1.875]


# -- set_state: iterations, messages, copies -----------------------------------------------------
def _built(cls=optimizers.RMSprop, **kwargs):
    opt = cls(**kwargs)
    opt.build([ndgrad.tensor([[1.0, 2.0]])])
    return opt


def test_set_state_iterations_must_be_a_non_negative_int():
    state = _built().get_state()
    opt = _built()
    opt.set_state({**state, "iterations": 0})
    assert opt.iterations == 0
    opt.set_state({**state, "iterations": 7})
    assert opt.iterations == 7
    for bad in (-1, True, False, 2.0, "3", None):
        fresh = _built()
        message = f"RMSprop.set_state: iterations must be an int >= 0. Received iterations={bad!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            fresh.set_state({**state, "iterations": bad})
        assert fresh.iterations == 0


def test_set_state_messages_name_the_optimizer():
    state = _built(optimizers.Adam).get_state()
    message = (
        "Adam.set_state: build the optimizer first, for the variables the state belongs to "
        "(optimizer.build(model.trainable_weights))"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizers.Adam().set_state(state)
    with pytest.raises(ValueError, match=r"^Adam\.set_state: the state has slots"):
        _built(optimizers.Adam, amsgrad=True).set_state(state)


@pytest.mark.parametrize("name", ["sgd_momentum", "rmsprop", "amsgrad"])
def test_set_state_copies_the_arrays(name, backend):
    """The restored optimizer owns its state: training it changes neither the state dict nor
    another optimizer restored from the same dict."""
    weights, grads = random_problem(steps=4)
    source = ALL[name]()
    _step(source, _variables(weights, backend), grads[0])
    state = source.get_state()
    saved = {k: [a.copy() for a in arrays] for k, arrays in state["slots"].items()}

    first, second = ALL[name](), ALL[name]()
    a, b = _variables(weights, backend), _variables(weights, backend)
    first.build(a)
    second.build(b)
    first.set_state(state)
    second.set_state(state)
    for g in grads[1:]:
        _step(first, a, g)
    for k, arrays in state["slots"].items():
        for x, y in zip(arrays, saved[k]):
            np.testing.assert_array_equal(x, y)
    assert second.get_state()["slots"].keys() == saved.keys()
    for k, arrays in second.get_state()["slots"].items():
        for x, y in zip(arrays, saved[k]):
            np.testing.assert_array_equal(x, y)
