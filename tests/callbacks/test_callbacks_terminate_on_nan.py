"""TerminateOnNaN."""

import math

import pytest

from ndgrad.callbacks import TerminateOnNaN


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_stops_in_the_batch_where_the_loss_goes_bad(model, fit, capsys, bad):
    history = fit(model, [TerminateOnNaN()], train=[1.0, bad, 0.5], steps=3)
    assert model.stop_training and history.epoch == [0, 1]
    assert math.isnan(history.history["loss"][1]) or math.isinf(history.history["loss"][1])
    assert model.weights == [1 + 1 / 3, -(1 + 1 / 3)]  # stopped after the first batch
    assert capsys.readouterr().out == f"Batch 0: Invalid loss {bad}, terminating training\n"


def test_finite_losses_train_to_the_end(model, fit, capsys):
    history = fit(model, [TerminateOnNaN()], train=[1.0, 1e30, 0.5])
    assert history.epoch == [0, 1, 2] and not model.stop_training
    assert capsys.readouterr().out == ""


def test_raise_error(model, fit):
    with pytest.raises(RuntimeError, match="Batch 0: invalid loss nan"):
        fit(model, [TerminateOnNaN(raise_error=True)], train=[float("nan")])
