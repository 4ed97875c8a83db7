"""`grad` and `value_and_grad`: argnums, has_aux, composition, Hessian-vector products."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad


def _t(values: object, backend: str) -> ndgrad.Tensor:
    return ndgrad.tensor(values, dtype="float64", device=backend)


def test_grad_of_a_scalar_function(backend: str) -> None:
    g = ndgrad.grad(lambda x: (x**2).sum())(_t([1.0, -3.0], backend))
    np.testing.assert_allclose(g.numpy(), [2.0, -6.0])
    assert g.device == backend and not g.requires_grad


def test_grad_does_not_touch_the_argument(backend: str) -> None:
    x = _t([1.0], backend)
    ndgrad.grad(lambda t: (t * t).sum())(x)
    assert not x.requires_grad and x.grad is None


def test_argnums(backend: str) -> None:
    def f(x: ndgrad.Tensor, y: ndgrad.Tensor) -> ndgrad.Tensor:
        return (x * y * y).sum()

    x, y = _t([2.0], backend), _t([3.0], backend)
    np.testing.assert_allclose(ndgrad.grad(f)(x, y).numpy(), [9.0])
    np.testing.assert_allclose(ndgrad.grad(f, argnums=1)(x, y).numpy(), [12.0])
    gx, gy = ndgrad.grad(f, argnums=(0, 1))(x, y)
    assert (gx.item(), gy.item()) == (9.0, 12.0)


def test_an_unused_argument_gets_zeros(backend: str) -> None:
    gx, gy = ndgrad.grad(lambda x, y: (x * 2.0).sum(), argnums=(0, 1))(
        _t([1.0], backend), _t([5.0, 6.0], backend)
    )
    np.testing.assert_allclose(gy.numpy(), [0.0, 0.0])
    assert gx.item() == 2.0


def test_value_and_grad(backend: str) -> None:
    value, g = ndgrad.value_and_grad(lambda x: (x**3).sum())(_t([2.0], backend))
    assert value.item() == 8.0 and g.item() == 12.0
    assert not value.requires_grad


def test_has_aux(backend: str) -> None:
    def loss(w: ndgrad.Tensor) -> tuple:
        pred = w * 2.0
        return (pred**2).sum(), {"pred": pred}

    (value, aux), g = ndgrad.value_and_grad(loss, has_aux=True)(_t([1.5], backend))
    assert value.item() == 9.0 and aux["pred"].item() == 3.0
    assert g.item() == 12.0
    g2, aux2 = ndgrad.grad(loss, has_aux=True)(_t([1.5], backend))
    assert g2.item() == 12.0 and aux2["pred"].item() == 3.0


def test_grad_of_grad_of_tanh(backend: str) -> None:
    x = _t(0.7, backend)
    d1 = ndgrad.grad(ndgrad.tanh)(x)
    d2 = ndgrad.grad(ndgrad.grad(ndgrad.tanh))(x)
    d3 = ndgrad.grad(ndgrad.grad(ndgrad.grad(ndgrad.tanh)))(x)
    t = np.tanh(0.7)
    assert d1.item() == pytest.approx(1 - t**2)
    assert d2.item() == pytest.approx(-2 * t * (1 - t**2))
    assert d3.item() == pytest.approx((1 - t**2) * (6 * t**2 - 2))


def test_grad_accepts_python_numbers() -> None:
    assert ndgrad.grad(lambda x: x * x)(3.0).item() == 6.0


def test_grad_needs_a_scalar_output(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError, match="one element"):
        ndgrad.grad(lambda x: x * 2.0)(_t([1.0, 2.0], backend))


def _hvp(f, x: ndgrad.Tensor, v: ndgrad.Tensor) -> ndgrad.Tensor:
    """H(x) @ v as the gradient of <grad f(x), v>: reverse over reverse."""
    return ndgrad.grad(lambda t: (ndgrad.grad(f)(t) * v).sum())(x)


def test_hessian_vector_product_matches_torch(backend: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    x0, v0 = rng.normal(size=4), rng.normal(size=4)
    A = _t(a, backend)

    def f(x: ndgrad.Tensor) -> ndgrad.Tensor:
        return (ndgrad.tanh(A @ x) ** 2).sum() + (x**4).sum() * 0.25

    got = _hvp(f, _t(x0, backend), _t(v0, backend))

    ta = torch.from_numpy(a)

    def tf(x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(ta @ x) ** 2).sum() + (x**4).sum() * 0.25

    _, want = torch.autograd.functional.hvp(tf, torch.from_numpy(x0), torch.from_numpy(v0))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_of_a_quadratic(backend: str) -> None:
    a = np.array([[2.0, 1.0], [0.0, 3.0]])
    A = _t(a, backend)
    v = np.array([1.0, -1.0])
    got = _hvp(lambda x: (x * (A @ x)).sum(), _t([0.3, 0.4], backend), _t(v, backend))
    np.testing.assert_allclose(got.numpy(), (a + a.T) @ v)
