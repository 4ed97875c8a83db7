"""`Optimizer.keep_next`: the next `apply` copies each variable and its state from before the
update into the buffers given (what `fit`'s divergence guard keeps), whether the update is a
compiled kernel that copies in its pass (float32 weights of at least 16,384 elements on the
CPU), the optimizer's own `update` (small or float64 weights), a variable left without a
gradient, weight decay (applied before the update) or an `update_step` of a subclass; and
the update itself is the same, bit for bit, with or without the copy."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad import optimizers

OPTIMIZERS = {
    "sgd": lambda **k: optimizers.SGD(learning_rate=0.01, **k),
    "sgd-momentum": lambda **k: optimizers.SGD(learning_rate=0.01, momentum=0.9, **k),
    "sgd-nesterov": lambda **k: optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True,
                                               **k),
    "adam": lambda **k: optimizers.Adam(learning_rate=0.01, **k),
    "adam-amsgrad": lambda **k: optimizers.Adam(learning_rate=0.01, amsgrad=True, **k),
    "rmsprop": lambda **k: optimizers.RMSprop(learning_rate=0.01, **k),
    "rmsprop-centered-momentum": lambda **k: optimizers.RMSprop(learning_rate=0.01, momentum=0.5,
                                                                centered=True, **k),
}
SIZES = {"small": (3, 4), "kernel-sized": (128, 160)}  # 20,480 elements: the compiled kernels


def _variables(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [ndgrad.tensor(rng.standard_normal(s).astype(dtype)) for s in (shape, shape[-1:])]


def _grads(variables, seed):
    rng = np.random.default_rng(seed)
    return [ndgrad.tensor(rng.standard_normal(v.shape).astype(v.dtype.name)) for v in variables]


def _buffers(opt, variables):
    """Copies to fill, one per variable (as `trainable_variables`) and per state array."""
    weights = [np.full(v.shape, -7.0, v.dtype.name) for v in variables]
    state = [np.full(a.shape, -7.0, a.dtype) for a in opt.variables]
    return weights, state


def _values(opt, variables):
    return [v.numpy().copy() for v in variables], [np.array(a) for a in opt.variables]


def _trained(name, shape, dtype, **kwargs):
    """An optimizer two updates in (its state is not zero), and its variables."""
    opt = OPTIMIZERS[name](**kwargs)
    variables = _variables(shape, dtype)
    for seed in (1, 2):
        opt.apply(_grads(variables, seed), variables)
    return opt, variables


def _apply_keeping(opt, variables, grads):
    """One `apply` after `keep_next`: the values before it, and the copies it kept."""
    before = _values(opt, variables)
    weights, state = _buffers(opt, variables)
    opt.keep_next(weights, state)
    opt.apply(grads, variables)
    return before, weights, state


def _kept_exactly(before, weights, state, variables):
    return all(np.array_equal(w_copy, w) for w_copy, w in zip(weights, before[0])) and all(
        np.array_equal(s, b) for s, b in zip(state, before[1])
    )


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", list(SIZES.values()), ids=list(SIZES))
def test_the_next_update_keeps_the_values_it_overwrites(name, dtype, shape):
    opt, variables = _trained(name, shape, dtype)
    twin, twin_variables = _trained(name, shape, dtype)
    before = _values(opt, variables)
    weights, state = _buffers(opt, variables)
    opt.keep_next(weights, state)
    grads = _grads(variables, 3)
    opt.apply(grads, variables)
    twin.apply(grads, twin_variables)  # the same update, nothing kept
    assert all(np.array_equal(w_copy, w) for w_copy, w in zip(weights, before[0]))
    assert all(np.array_equal(s, b) for s, b in zip(state, before[1]))
    after, twin_after = _values(opt, variables), _values(twin, twin_variables)
    pairs = zip(after[0] + after[1], twin_after[0] + twin_after[1])
    assert all(np.array_equal(a, b) for a, b in pairs)
    assert not all(np.array_equal(a, b) for a, b in zip(after[0], before[0]))  # it did update
    assert opt.iterations == twin.iterations == 3


def test_the_request_holds_for_one_update_only():
    opt, variables = _trained("adam", SIZES["kernel-sized"], "float32")
    weights, state = _buffers(opt, variables)
    opt.keep_next(weights, state)
    opt.apply(_grads(variables, 3), variables)
    kept = [b.copy() for b in weights], [s.copy() for s in state]
    opt.apply(_grads(variables, 4), variables)
    assert all(np.array_equal(a, b) for a, b in zip(kept[0], weights))
    assert all(np.array_equal(a, b) for a, b in zip(kept[1], state))


def test_none_cancels_the_request():
    opt, variables = _trained("rmsprop", SIZES["kernel-sized"], "float32")
    weights, state = _buffers(opt, variables)
    opt.keep_next(weights, state)
    opt.keep_next(None)
    assert not opt.keeping
    opt.apply(_grads(variables, 3), variables)
    assert all((b == -7.0).all() for b in [*weights, *state])


@pytest.mark.parametrize("shape", list(SIZES.values()), ids=list(SIZES))
def test_a_variable_without_a_gradient_is_kept_too(shape):
    opt, variables = _trained("adam", shape, "float32")
    before, weights, state = _apply_keeping(opt, variables, [_grads(variables, 3)[0], None])
    assert np.array_equal(variables[1].numpy(), before[0][1])  # not updated
    assert _kept_exactly(before, weights, state, variables)


@pytest.mark.parametrize("shape", list(SIZES.values()), ids=list(SIZES))
def test_weight_decay_keeps_the_weights_from_before_the_decay(shape):
    opt, variables = _trained("sgd-momentum", shape, "float32", weight_decay=0.1)
    before, weights, state = _apply_keeping(opt, variables, _grads(variables, 3))
    assert _kept_exactly(before, weights, state, variables)


def test_an_update_step_of_your_own_is_kept_before_it_runs():
    """A subclass that owns `update_step` is never handed the copies: they are taken first."""

    class Halving(optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            variable.data[...] = variable.data * 0.5

    opt = Halving(learning_rate=0.1, momentum=0.9)
    variables = _variables(SIZES["kernel-sized"], "float32")
    opt.apply(_grads(variables, 1), variables)
    before, weights, state = _apply_keeping(opt, variables, _grads(variables, 2))
    assert _kept_exactly(before, weights, state, variables)
    assert np.array_equal(variables[0].numpy(), before[0][0] * 0.5)


def test_the_copies_must_match_what_they_copy():
    opt, variables = _trained("adam", SIZES["kernel-sized"], "float32")
    weights, state = _buffers(opt, variables)
    with pytest.raises(ValueError, match=r"Adam.keep_next: 2 weight copies for 2 variables and "
                                         r"3 state copies for 4 state arrays"):
        opt.keep_next(weights, state[:3])
    with pytest.raises(ValueError, match=r"the copy of variable 0 must be an array like it: shape "
                                         r"\(128, 160\), dtype float32. Received shape "
                                         r"\(20480,\), dtype float32"):
        opt.keep_next([weights[0].reshape(-1), weights[1]], state)
    with pytest.raises(ValueError, match=r"the copy of state array 3 .* dtype float32. Received "
                                         r"shape \(160,\), dtype float64"):
        opt.keep_next(weights, [*state[:3], state[3].astype("float64")])
    with pytest.raises(ValueError, match=r"the copy of state array 0 must be"):
        opt.keep_next(weights, [state[0][:1], *state[1:]])
    assert not opt.keeping  # nothing was asked


def test_keep_next_needs_a_built_optimizer_with_each_variable_once():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match=r"SGD.keep_next: build the optimizer first"):
        opt.keep_next([], [])
    (w,) = _variables((3,), "float32")[:1]
    opt.build([w, w])  # a layer used twice lists its weights twice
    with pytest.raises(ValueError, match=r"a variable is listed twice \(a layer used twice\?\): "
                                         r"its two updates would write one copy; copy the "
                                         r"values before the step instead"):
        opt.keep_next([np.zeros(3, "float32")] * 2, [])


def test_a_failed_apply_takes_the_request_with_it():
    """The request is for one apply, taken first: an apply that fails (here, a gradient of
    the wrong shape) ends it, and a later apply writes into no copy."""
    opt, variables = _trained("adam", SIZES["small"], "float32")
    weights, state = _buffers(opt, variables)
    opt.keep_next(weights, state)
    assert opt.keeping
    with pytest.raises(ndgrad.ShapeError):
        opt.apply([ndgrad.zeros((2, 2)), None], variables)
    assert not opt.keeping
    opt.apply(_grads(variables, 3), variables)
    assert all((b == -7.0).all() for b in [*weights, *state])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_compiled_kernels_take_the_copy_in_their_pass(name, monkeypatch):
    """With the kernels on, the copy of a kernel-sized float32 weight is written by the
    optimizer's kernel (its `keep` argument), not by a pass of its own."""
    pytest.importorskip("numba")
    from ndgrad.backends.numpy.kernels import optimizers as updates

    from ..backends.kernel_switch import kernels_on

    kernel_name = name.split("-")[0]
    real, seen = getattr(updates, kernel_name), []

    def spy(*args):
        seen.append(args[-1])  # the kernel's last argument: whether it copies
        return real(*args)

    with kernels_on():
        opt, variables = _trained(name, SIZES["kernel-sized"], "float32")
        monkeypatch.setattr(updates, kernel_name, spy)
        before, weights, state = _apply_keeping(opt, variables, _grads(variables, 3))
    assert seen and all(seen)
    assert _kept_exactly(before, weights, state, variables)


def test_trainable_variables_are_those_built_for():
    opt = optimizers.SGD()
    assert opt.trainable_variables == []
    variables = _variables(SIZES["small"], "float32")
    opt.build(variables)
    got = opt.trainable_variables
    assert [id(v) for v in got] == [id(v) for v in variables]
    got.clear()  # a copy: the optimizer's own list is untouched
    assert len(opt.trainable_variables) == 2
