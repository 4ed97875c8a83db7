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


# -- TensorFlow's rules: non-scalar and multiple targets; jacobian ------------------------------
def test_the_books_non_scalar_target_gives_the_gradient_of_its_sum(backend: str) -> None:
    """Chollet ch. 2: x = tf.Variable(tf.random.uniform((2, 2))); y = 2 * x + 3."""
    x = ndgrad.uniform((2, 2), device=backend, requires_grad=True)
    with ndgrad.GradientTape() as tape:
        y = 2 * x + 3
    g = tape.gradient(y, x)
    assert g.shape == (2, 2) and g.dtype is ndgrad.float32 and g.device == backend
    np.testing.assert_array_equal(g.numpy(), np.full((2, 2), 2.0))


def test_backward_keeps_pytorchs_one_element_rule(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    with pytest.raises(ndgrad.ShapeError, match="one element"):
        (x * x).backward()


def test_a_list_of_targets_gives_the_gradient_of_their_sum(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    c = _t([5.0], backend, grad=False)
    with ndgrad.GradientTape() as tape:
        a, b = x * x, (x * 3.0).sum()
    g = tape.gradient([a, b, c], x)  # c requires no grad: it adds nothing
    np.testing.assert_allclose(g.numpy(), [2.0 + 3.0, 4.0 + 3.0])


def test_output_gradients_one_per_target(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    with ndgrad.GradientTape(persistent=True) as tape:
        a, b = x * x, x * 10.0
    v = ndgrad.tensor([1.0, -1.0], dtype="float64", device=backend)
    g = tape.gradient({"a": a, "b": b}, x, output_gradients=[v, v * 0.5])
    np.testing.assert_allclose(g.numpy(), [2.0 + 5.0, -4.0 - 5.0])
    with pytest.raises(ValueError, match="2 target"):
        tape.gradient([a, b], x, output_gradients=[v])
    with pytest.raises(ndgrad.ShapeError, match="does not match"):
        tape.gradient(a, x, output_gradients=ndgrad.ones(3, device=backend))


def test_unconnected_gradients_zero(backend: str) -> None:
    a, b = _t([1.0], backend), _t([[2.0, 3.0]], backend)
    with ndgrad.GradientTape(persistent=True) as tape:
        y = a * 5.0
    ga, gb = tape.gradient(y, [a, b], unconnected_gradients="zero")
    assert ga.item() == 5.0 and gb.shape == (1, 2) and gb.tolist() == [[0.0, 0.0]]
    assert gb.device == backend and gb.dtype is ndgrad.float64
    jb = tape.jacobian(y, b, unconnected_gradients="zero")
    assert jb.shape == (1, 1, 2) and not jb.numpy().any()
    assert tape.jacobian(y, b) is None
    with pytest.raises(ValueError, match="'none' or 'zero'"):
        tape.gradient(y, a, unconnected_gradients="zeros")


def test_jacobian_has_every_partial_derivative(backend: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    x, w = _t(xv, backend), _t(wv, backend)
    with ndgrad.GradientTape() as tape:
        y = ndgrad.tanh(x @ w)
    jx, jw = tape.jacobian(y, [x, w])
    tx, tw = torch.autograd.functional.jacobian(
        lambda a, b: torch.tanh(a @ b), (torch.from_numpy(xv), torch.from_numpy(wv))
    )
    assert jx.shape == (2, 4, 2, 3) and jw.shape == (2, 4, 3, 4) and jx.device == backend
    np.testing.assert_allclose(jx.numpy(), tx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(jw.numpy(), tw.numpy(), rtol=1e-12)


def test_jacobian_of_scalar_and_empty_targets(backend: str) -> None:
    x = _t([1.0, 2.0, 3.0], backend)
    with ndgrad.GradientTape(persistent=True) as tape:
        s = (x * x).sum()
        e = x[:0] * 2.0
    np.testing.assert_allclose(tape.jacobian(s, x).numpy(), [2.0, 4.0, 6.0])
    assert tape.jacobian(e, x).shape == (0, 3)


def test_jacobian_frees_a_non_persistent_tape_and_nests(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    with ndgrad.GradientTape() as outer:
        with ndgrad.GradientTape() as inner:
            y = x**3
        j = inner.jacobian(y, x)  # diag(3 x^2), differentiable inside the outer tape
    np.testing.assert_allclose(j.numpy(), np.diag([3.0, 12.0]))
    np.testing.assert_allclose(outer.gradient(j, x).numpy(), [6.0, 12.0])  # d/dx sum 3x^2
    with pytest.raises(ndgrad.GraphError, match="persistent"):
        inner.jacobian(y, x)
