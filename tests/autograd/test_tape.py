"""`GradientTape`: recording, watch, persistence, nesting for second derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad


def _t(values: object, backend: str, grad: bool = True) -> ndgrad.Tensor:
    return ndgrad.tensor(values, dtype="float64", device=backend, requires_grad=grad)


def test_tensors_that_require_grad_are_watched_automatically(backend: str) -> None:
    w = _t([1.0, 2.0], backend)
    with ndgrad.GradientTape() as tape:
        loss = (w * w).sum()
    g = tape.gradient(loss, w)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    assert w.grad is None  # the tape returns gradients; it does not accumulate them
    assert g.device == backend


def test_the_tape_records_even_inside_no_grad(backend: str) -> None:
    w = _t([3.0], backend)
    with ndgrad.no_grad(), ndgrad.GradientTape() as tape:
        loss = (w * w).sum()
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), [6.0])


def test_watch_records_constants_for_the_block_only(backend: str) -> None:
    c = _t([1.0, -2.0], backend, grad=False)
    with ndgrad.GradientTape() as tape:
        tape.watch(c)
        assert c.requires_grad
        y = (c**3).sum()
    assert not c.requires_grad  # unwatched on exit
    np.testing.assert_allclose(tape.gradient(y, c).numpy(), [3.0, 12.0])


def test_watch_refuses_integer_tensors(backend: str) -> None:
    with ndgrad.GradientTape() as tape, pytest.raises(ndgrad.DTypeError):
        tape.watch(ndgrad.tensor([1, 2], device=backend))


def test_unconnected_sources_get_none(backend: str) -> None:
    a, b = _t([1.0], backend), _t([2.0], backend)
    with ndgrad.GradientTape() as tape:
        y = (a * 5.0).sum()
    ga, gb = tape.gradient(y, [a, b])
    assert ga.item() == 5.0 and gb is None


def test_a_target_that_requires_no_grad_gives_none(backend: str) -> None:
    a = _t([1.0], backend)
    with ndgrad.GradientTape() as tape:
        y = ndgrad.tensor(3.0, device=backend)
    assert tape.gradient(y, a) is None


def test_sources_keep_their_structure(backend: str) -> None:
    w, b = _t([[1.0, 2.0]], backend), _t([0.5], backend)
    with ndgrad.GradientTape() as tape:
        y = (w * 2.0).sum() + (b * 3.0).sum()
    grads = tape.gradient(y, {"w": w, "b": (b,)})
    assert set(grads) == {"w", "b"} and isinstance(grads["b"], tuple)
    np.testing.assert_allclose(grads["w"].numpy(), [[2.0, 2.0]])
    np.testing.assert_allclose(grads["b"][0].numpy(), [3.0])


def test_non_persistent_tape_computes_once(backend: str) -> None:
    x = _t([2.0], backend)
    with ndgrad.GradientTape() as tape:
        y = (x * x).sum()
    tape.gradient(y, x)
    with pytest.raises(ndgrad.GraphError, match="persistent"):
        tape.gradient(y, x)


def test_persistent_tape_computes_several_gradients(backend: str) -> None:
    x = _t([2.0], backend)
    with ndgrad.GradientTape(persistent=True) as tape:
        y = x * x
        z = y * y
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [32.0])  # 4 x^3
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [4.0])  # 2 x
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), [32.0])


def test_nested_tapes_give_second_derivatives(backend: str) -> None:
    x = _t([0.5, 2.0], backend)
    with ndgrad.GradientTape() as outer:
        with ndgrad.GradientTape() as inner:
            y = (x**3).sum()
        dy = inner.gradient(y, x)
        assert dy.requires_grad
    d2y = outer.gradient(dy.sum(), x)
    np.testing.assert_allclose(dy.numpy(), 3 * np.array([0.5, 2.0]) ** 2)
    np.testing.assert_allclose(d2y.numpy(), 6 * np.array([0.5, 2.0]))


def test_nested_tapes_with_watched_constants(backend: str) -> None:
    x = _t(1.5, backend, grad=False)
    with ndgrad.GradientTape() as outer:
        outer.watch(x)
        with ndgrad.GradientTape() as inner:
            inner.watch(x)
            y = x.sin()
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert dy.item() == pytest.approx(np.cos(1.5))
    assert d2y.item() == pytest.approx(-np.sin(1.5))


def test_output_gradients_seed_a_non_scalar_target(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    with ndgrad.GradientTape() as tape:
        y = x * x
    g = tape.gradient(y, x, output_gradients=ndgrad.tensor([1.0, 0.5], device=backend))
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0])
