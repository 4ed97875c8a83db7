"""Divergence at a chosen step: a loss that becomes NaN exactly at (epoch, batch), so the
rollback can be checked against the state at the start of that batch (weights, optimizer
slots, iteration count), for each optimizer, float32 and float64 models, weights replaced
between steps; the warning's text; and `first_nonfinite` on 0-d, empty and large data."""

from __future__ import annotations

import contextlib
import math
import re

import numpy as np
import pytest

import ndgrad
from ndgrad import Sequential, layers, ops, optimizers
from ndgrad.callbacks import Callback
from ndgrad.models.divergence import Divergence, first_nonfinite


class _Poison(Callback):
    """Makes the loss NaN at batch `at` = (epoch, batch), and records the weights, optimizer
    state, `built` and iteration count at the start of every batch."""

    def __init__(self, at, replace_weights_at=None):
        super().__init__()
        self.at = at
        self.replace_weights_at = replace_weights_at
        self.epoch = 0
        self.poisoned = False
        self.seen = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        model, opt = self.model, self.model.optimizer
        if (self.epoch, batch) == self.replace_weights_at:  # new arrays, not in-place writes
            model.set_weights([w * 0.5 for w in model.get_weights()])
        self.poisoned = (self.epoch, batch) == self.at
        state = [np.array(opt.variables[i], copy=True) for i in range(len(opt.variables))]
        self.seen[self.epoch, batch] = (model.get_weights(), state if opt.built else None,
                                        opt.iterations)

    def loss(self, y, y_pred):
        mse = ops.mean((y_pred - y) ** 2)
        return mse * float("nan") if self.poisoned else mse


#: Every branch of the fused kernels' update (and of the optimizers' own `update`).
OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(learning_rate=0.01, momentum=0.9),
    "sgd-plain": lambda: optimizers.SGD(learning_rate=0.01),
    "sgd-nesterov": lambda: optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "adam-amsgrad": lambda: optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.01),
    "rmsprop-centered-momentum": lambda: optimizers.RMSprop(
        learning_rate=0.01, momentum=0.5, centered=True),
}
#: Hidden units: 4 (each weight small: the optimizers' own `update`, which copies the step's
#: starting point first) and 16,384 (float32 weights large enough for the compiled kernels,
#: which copy it in the pass that updates).
WIDTHS = {"small": 4, "kernel-sized": 16_384}


def _model(optimizer, dtype="float32", seed=0, width=4):
    ndgrad.manual_seed(seed)
    model = Sequential([layers.Input((3,)), layers.Dense(width, activation="relu", dtype=dtype),
                        layers.Dense(1, dtype=dtype)])
    return model, OPTIMIZERS[optimizer]()


def _data(n=24):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")


def _fit_until(at, optimizer="sgd", dtype="float32", replace_weights_at=None,
               read_each_batch=False, width=4):
    model, opt = _model(optimizer, dtype, width=width)
    poison = _Poison(at, replace_weights_at)
    model.compile(optimizer=opt, loss=poison.loss)
    x, y = _data()
    callbacks = [poison]
    if read_each_batch:  # a callback that reads batch logs: fit reads each loss at once
        callbacks.append(Callback())
        callbacks[-1].on_train_batch_end = lambda batch, logs: None
    with pytest.warns(RuntimeWarning) as record:
        history = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                            callbacks=callbacks)
    return model, poison, history, str(record[0].message)


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("width", list(WIDTHS.values()), ids=list(WIDTHS))
def test_rollback_restores_weights_state_and_iterations_exactly(optimizer, dtype, width):
    # 3 batches an epoch: divergence at every position of the two alternating buffer sets
    for at in [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 2)]:
        model, poison, history, _ = _fit_until(at, optimizer, dtype, width=width)
        d = model.divergence
        assert (d.epoch, d.batch) == at and math.isnan(d.loss)
        assert d.restored_to == max(k for k in poison.seen if k < at)
        # back to the weights the last finite loss was computed with, and the state then
        weights, state, iterations = poison.seen[d.restored_to]
        assert _same(weights, model.get_weights()), at
        assert all(w.dtype == getattr(ndgrad, dtype) for w in model.weights)
        opt = model.optimizer
        assert opt.iterations == iterations == 3 * d.restored_to[0] + d.restored_to[1]
        if state is None:  # restored to before the first update: no state yet
            assert iterations == 0 and not opt.built
        else:
            assert opt.built and _same(state, [np.asarray(v) for v in opt.variables]), at
        assert len(history.epoch) == at[0]


@pytest.mark.parametrize("at", [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)])
def test_reading_each_loss_one_step_late_restores_the_same_state(at):
    """Unless a callback reads batch logs, fit reads a step's loss after queueing the next
    step: it sees the divergence one step later (that step ran too, unless the diverged one
    ended the epoch) and undoes one more update, to the same weights and state."""
    late, late_poison, late_history, message = _fit_until(at, "adam")
    now, now_poison, now_history, now_message = _fit_until(at, "adam", read_each_batch=True)
    d, d_now = late.divergence, now.divergence
    assert (d.epoch, d.batch, d.restored_to) == (d_now.epoch, d_now.batch, d_now.restored_to)
    assert (d.epoch, d.batch) == at and math.isnan(d.loss) and message == now_message
    assert max(now_poison.seen) == at
    assert max(late_poison.seen) == (at if at[1] == 2 else (at[0], at[1] + 1))
    assert _same(late.get_weights(), now.get_weights())
    assert late.optimizer.built == now.optimizer.built == (at != (0, 0) and at != (0, 1))
    if now.optimizer.built:  # else its state is made afresh on the next update
        assert _same([np.asarray(v) for v in late.optimizer.variables],
                     [np.asarray(v) for v in now.optimizer.variables])
    assert late.optimizer.iterations == now.optimizer.iterations
    assert late_history.history == now_history.history


def test_rollback_after_the_weights_were_replaced_between_steps():
    model, poison, _, _ = _fit_until((1, 2), "adam", replace_weights_at=(1, 1))
    assert model.divergence.restored_to == (1, 1)
    weights, state, iterations = poison.seen[1, 1]
    assert _same(weights, model.get_weights())
    assert _same(state, [np.asarray(v) for v in model.optimizer.variables])
    assert model.optimizer.iterations == iterations == 4
    # the restored weights are the model's weights: predictions use them
    x, _ = _data(4)
    expected = np.maximum(x @ weights[0] + weights[1], 0) @ weights[2] + weights[3]
    np.testing.assert_allclose(model.predict(x).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_divergence_at_the_first_step_gives_back_a_fresh_optimizer(optimizer):
    """The optimizer state is made afresh: training on equals training a new model."""
    model, poison, _, message = _fit_until((0, 0), optimizer)
    assert model.divergence.restored_to is None
    assert "back to the weights it started with." in message
    assert model.optimizer.iterations == 0 and not model.optimizer.built
    assert _same(poison.seen[0, 0][0], model.get_weights())
    x, y = _data()
    poison.at = None
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[poison])
    fresh, opt = _model(optimizer)
    fresh.compile(optimizer=opt, loss="mse")
    fresh.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 6
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_rollback_invalidates_graphs_that_saved_the_weights():
    """Graphs recorded before the restored step and before the diverged one: the data of
    both weights changed since, so neither may backward with the restored values."""

    class Graph(Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_train_batch_begin(self, batch, logs=None):
            if batch in (1, 2):
                self.losses.append(self.model(ndgrad.ones((2, 3))).sum())

    graph = Graph()
    model, opt = _model("sgd")
    poison = _Poison((0, 2))
    model.compile(optimizer=opt, loss=poison.loss)
    x, y = _data()
    with pytest.warns(RuntimeWarning):
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0,
                  callbacks=[graph, poison])
    assert model.divergence.restored_to == (0, 1) and len(graph.losses) == 2
    for loss in graph.losses:
        with pytest.raises(ndgrad.GraphError):
            loss.backward()


# -- what the warning says ------------------------------------------------------------------

def test_the_warning_names_the_epoch_batch_loss_and_the_restored_step():
    model, _, _, message = _fit_until((1, 2))
    assert message == model.divergence.message()
    assert message == (
        "fit: the loss became nan at epoch 2, batch 2 (a learning rate too high for this "
        "model?). Training stopped and the model is back to the weights and optimizer state "
        "of the last step with a finite loss (epoch 2, batch 1)."
    )
    _, _, _, message = _fit_until((2, 0))
    assert re.search(r"at epoch 3, batch 0 .*finite loss \(epoch 2, batch 2\)\.$", message)


def test_divergence_message_counts_epochs_from_one():
    d = Divergence(epoch=4, batch=7, loss=float("inf"), restored_to=(3, 9))
    assert d.message() == (
        "fit: the loss became inf at epoch 5, batch 7 (a learning rate too high for this "
        "model?). Training stopped and the model is back to the weights and optimizer state "
        "of the last step with a finite loss (epoch 4, batch 9)."
    )
    d = Divergence(epoch=0, batch=0, loss=float("-inf"), restored_to=None)
    assert d.message().endswith("at epoch 1, batch 0 (a learning rate too high for this "
                                "model?). Training stopped and the model is back to the "
                                "weights it started with.")


# -- first_nonfinite --------------------------------------------------------------------------

@pytest.mark.parametrize("backend_name", ["cpu", "strict"])
def test_first_nonfinite_of_scalars_and_empty_data(backend_name):
    t = lambda a, dtype="float32": ndgrad.tensor(a, dtype=dtype, device=backend_name)  # noqa: E731
    assert first_nonfinite(t(1.5)) is None
    assert first_nonfinite(t(float("inf"))) == 0
    assert first_nonfinite(t(float("nan"))) == 0
    assert first_nonfinite(t(np.zeros((0, 3)))) is None
    assert first_nonfinite(t(np.zeros((3, 0)))) is None
    assert first_nonfinite(t(np.zeros((0,)), "int64")) is None
    assert first_nonfinite(t([[1, 2], [3, 4]], "int32")) is None
    x = np.ones((5, 2, 3))
    x[3, 1, 2] = -np.inf
    x[4, 0, 0] = np.nan
    assert first_nonfinite(t(x, "float64")) == 3


def test_first_nonfinite_in_a_later_chunk_of_large_data():
    """More samples than one chunk (4M elements), the bad one in the second: found in one
    pass over each chunk."""
    x = np.zeros(5_000_000, dtype="float32")
    x[4_500_001] = np.nan
    x[4_700_000] = np.inf
    assert first_nonfinite(ndgrad.tensor(x)) == 4_500_001
    x[4_500_001] = 0.0
    assert first_nonfinite(ndgrad.tensor(x)) == 4_700_000


def test_fit_on_no_samples_checks_the_empty_data_and_trains_nothing():
    model, opt = _model("sgd")
    model.compile(optimizer=opt, loss="mse")
    history = model.fit(np.zeros((0, 3), "float32"), np.zeros((0, 1), "float32"), verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 0


def test_fit_names_the_bad_sample_and_what_to_do():
    model, opt = _model("sgd")
    model.compile(optimizer=opt, loss="mse")
    x, y = _data()
    y[7, 0] = np.inf
    with pytest.raises(ValueError) as info:
        model.fit(x, y, verbose=0)
    assert str(info.value) == (
        "fit: y holds NaN or infinite values; the first is in sample 7 (y[7]). Training on "
        "them would make every weight NaN: remove or replace those samples first"
    )


# -- Rollback's copies ----------------------------------------------------------------------

@pytest.mark.parametrize("late", [False, True], ids=["read_at_once", "read_one_step_late"])
@pytest.mark.parametrize("in_update", [False, True], ids=["copied_before", "copied_in_update"])
@pytest.mark.parametrize("width", list(WIDTHS.values()), ids=list(WIDTHS))
def test_rollback_reuses_two_or_three_sets_of_buffers(late, in_update, width):
    """Confirming each step at once keeps two copies, one step late three; after that no
    step allocates: the same buffers come round again. Whether the copy is taken before the
    step or by the update, restoring gives back the confirmed step's starting point."""
    from ndgrad.models.divergence import Rollback

    model, opt = _model("adam", width=width)
    model.compile(optimizer=opt, loss="mse")
    x, y = _data()
    model.train_on_batch(x, y)  # the optimizer state exists
    rollback = Rollback(model, in_update=in_update)
    seen, start = set(), {}
    for step in range(8):
        start[step] = (model.get_weights(), [np.array(v) for v in opt.variables])
        with rollback.saving(0, step):
            model.train_step(ndgrad.tensor(x), ndgrad.tensor(y))
        if late and step:
            rollback.confirm(0, step - 1)
        elif not late:
            rollback.confirm(0, step)
        seen.update(id(copy["weights"][0]) for _, copy in rollback._kept)
    assert len(seen) == (3 if late else 2)
    assert rollback.confirmed_at == ((0, 6) if late else (0, 7))
    with ndgrad.no_grad():
        model.weights[0][...] = 7.0
    assert rollback.restore() == rollback.confirmed_at
    weights, state = start[rollback.confirmed_at[1]]
    assert _same(weights, model.get_weights())
    assert _same(state, [np.asarray(v) for v in opt.variables])


def test_a_step_that_fails_leaves_no_copy_request_behind():
    """The optimizer copies its starting point only within the step that asked for it: after
    a step that raised, a later update outside fit writes into no buffer of the guard."""
    from ndgrad.models.divergence import Rollback

    model, opt = _model("adam", width=WIDTHS["kernel-sized"])
    model.compile(optimizer=opt, loss="mse")
    x, y = _data()
    model.train_on_batch(x, y)
    rollback = Rollback(model, in_update=True)
    with pytest.raises(RuntimeError, match="boom"), rollback.saving(0, 0):
        raise RuntimeError("boom")
    (_, copy), = rollback._kept
    for buffer in copy["state"]:  # the step failed before its update: nothing written yet
        buffer[...] = -7.0
    model.train_on_batch(x, y)
    assert all((np.asarray(b) == -7.0).all() for b in copy["state"])


# -- who copies: the optimizer's update within fit's own step, fit itself otherwise ---------

class _Recording(optimizers.RMSprop):
    """RMSprop that records what each `keep_next` request asked for (its update is RMSprop's
    own, so the compiled kernel takes the copy)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.requests = []

    def keep_next(self, weight_copies, state_copies=()):
        if weight_copies is not None:
            self.requests.append(len(weight_copies))
        super().keep_next(weight_copies, state_copies)


def _recorded_fit(model, opt, at=None, epochs=2):
    poison = _Poison(at)
    model.compile(optimizer=opt, loss=poison.loss)
    x, y = _data()
    with pytest.warns(RuntimeWarning) if at else contextlib.nullcontext():
        model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0, callbacks=[poison])
    return poison


def test_fit_has_the_optimizer_keep_each_step_it_updates():
    """With fit's own train_step and the optimizer's own apply, every step after the first
    (which builds the optimizer) asks the update to keep the step's starting point, for every
    trainable weight; the restored values are exact (the rollback tests above)."""
    model, _ = _model("rmsprop", width=WIDTHS["kernel-sized"])
    opt = _Recording(learning_rate=0.01)
    _recorded_fit(model, opt)
    assert len(opt.requests) == 2 * 3 - 1
    assert opt.requests == [len(model.trainable_weights)] * (2 * 3 - 1)


def test_a_train_step_or_an_apply_of_your_own_makes_fit_copy_before_the_step():
    class OwnStep(Sequential):
        def train_step(self, x, y):
            return super().train_step(x, y)

    class OwnApply(_Recording):
        def apply(self, grads, variables=None):
            super().apply(grads, variables)

    ndgrad.manual_seed(0)
    stepper = OwnStep([layers.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
    for model, opt in [(stepper, _Recording(learning_rate=0.01)),
                       (_model("rmsprop")[0], OwnApply(learning_rate=0.01))]:
        poison = _recorded_fit(model, opt, at=(1, 1))
        assert opt.requests == []
        weights, state, _ = poison.seen[1, 0]
        assert _same(weights, model.get_weights())
        assert _same(state, [np.asarray(v) for v in opt.variables])


def test_an_optimizer_built_with_more_than_the_models_weights_still_restores_exactly():
    """The optimizer holds a variable the model does not (built for more): fit cannot hand it
    a copy of that one, so it copies everything before each step itself."""
    model, _ = _model("rmsprop", width=WIDTHS["kernel-sized"])
    opt = _Recording(learning_rate=0.01)
    extra = ndgrad.zeros((5,))
    opt.build([*model.trainable_weights, extra])
    poison = _recorded_fit(model, opt, at=(1, 1))
    assert opt.requests == []
    weights, state, iterations = poison.seen[1, 0]
    assert _same(weights, model.get_weights())
    assert _same(state, [np.asarray(v) for v in opt.variables])
    assert opt.iterations == iterations


def test_non_trainable_weights_are_copied_before_the_step():
    """Normalization statistics change in the forward pass, not in the update: fit copies
    them before the step, and a divergence restores them with the rest."""
    ndgrad.manual_seed(0)
    model = Sequential([layers.Input((3,)), layers.Dense(16_384, activation="relu"),
                        layers.BatchNormalization(), layers.Dense(1)])
    opt = _Recording(learning_rate=0.01)
    poison = _recorded_fit(model, opt, at=(1, 2))
    assert model.non_trainable_weights and opt.requests
    weights, state, _ = poison.seen[1, 1]
    assert _same(weights, model.get_weights())
    assert _same(state, [np.asarray(v) for v in opt.variables])


def test_a_layer_used_twice_is_restored_exactly():
    """Its weights are listed twice and updated twice in one apply: fit copies before the
    step instead of asking the update."""
    ndgrad.manual_seed(0)
    shared = layers.Dense(3, activation="relu")
    model = Sequential([layers.Input((3,)), shared, layers.Dense(3), shared, layers.Dense(1)])
    for name in ("sgd", "adam"):
        poison = _Poison((1, 1))
        opt = OPTIMIZERS[name]()
        model.compile(optimizer=opt, loss=poison.loss)
        x, y = _data()
        with pytest.warns(RuntimeWarning):
            model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[poison])
        weights, state, iterations = poison.seen[1, 0]
        assert _same(weights, model.get_weights()), name
        assert _same(state, [np.asarray(v) for v in opt.variables]), name
        assert opt.iterations == iterations


def test_a_train_step_set_on_the_instance_that_skips_updates_is_restored_exactly():
    """A train_step of the instance (not its class) that updates every other step: fit
    copies before each step, so the restore is exact whether the step updated or not."""
    model, opt = _model("adam", width=WIDTHS["kernel-sized"])
    poison = _Poison((1, 1))
    model.compile(optimizer=opt, loss=poison.loss)
    stock, calls = model.train_step, []

    def every_other(x, y):
        calls.append(1)
        if len(calls) % 2:
            return stock(x, y)
        return model.compute_loss(y, model(x, training=True))  # no update this time

    model.train_step = every_other
    x, y = _data()
    with pytest.warns(RuntimeWarning):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[poison])
    weights, state, iterations = poison.seen[1, 0]
    assert _same(weights, model.get_weights())
    assert _same(state, [np.asarray(v) for v in opt.variables])
    assert opt.iterations == iterations


def test_a_step_that_runs_no_update_has_its_copy_taken_once_it_is_over():
    from ndgrad.models.divergence import Rollback

    model, opt = _model("rmsprop", width=WIDTHS["kernel-sized"])
    model.compile(optimizer=opt, loss="mse")
    x, y = _data()
    model.train_on_batch(x, y)
    start = model.get_weights(), [np.array(v) for v in opt.variables]
    rollback = Rollback(model, in_update=True)
    with rollback.saving(0, 0):
        assert opt.keeping  # asked of the update...
    assert not opt.keeping  # ...which never ran: the copy was taken at the end
    with ndgrad.no_grad():
        for w in model.weights:
            w[...] = 7.0
    rollback.restore()
    assert _same(start[0], model.get_weights())
    assert _same(start[1], [np.asarray(v) for v in opt.variables])


def test_a_train_step_set_on_the_instance_that_updates_by_itself_is_restored_exactly():
    """Its weights change without the optimizer's apply: only a copy before the step keeps
    their start, which fit takes for a train_step of the instance as for one of a class."""
    model, opt = _model("sgd")
    poison = _Poison((1, 1))
    model.compile(optimizer=opt, loss=poison.loss)

    def by_hand(x, y):
        ws = model.trainable_weights
        with ndgrad.GradientTape() as tape:
            loss = model.compute_loss(y, model(x, training=True))
        with ndgrad.no_grad():
            for w, g in zip(ws, tape.gradient(loss, ws)):
                w[...] = w - 0.01 * g
        return loss

    model.train_step = by_hand
    opt.build(model.trainable_weights)  # built, as after an earlier fit
    x, y = _data()
    with pytest.warns(RuntimeWarning):
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[poison])
    assert _same(poison.seen[1, 0][0], model.get_weights())
