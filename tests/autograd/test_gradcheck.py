"""`gradcheck` and `gradgradcheck` catch wrong gradient rules (here, deliberately wrong ops)."""

from __future__ import annotations

from typing import Any

import pytest

import ndgrad
from ndgrad.autograd import Op


class WrongSquare(Op):
    """x ** 2 with a gradient missing its factor 2."""

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.multiply(x, x)

    def backward(self, g: ndgrad.Tensor) -> tuple:
        return (g * self.inputs[0],)


class RightSquare(WrongSquare):
    def backward(self, g: ndgrad.Tensor) -> tuple:
        return (g * self.inputs[0] * 2.0,)


class DetachedCube(Op):
    """x ** 3 whose first derivative is right but built from a detached input: the second
    derivative is lost, which only gradgradcheck can see."""

    def forward(self, xp: Any, x: Any) -> Any:
        return x * x * x

    def backward(self, g: ndgrad.Tensor) -> tuple:
        x = self.inputs[0].detach()
        return (g * x * x * 3.0,)


def _x(backend: str) -> ndgrad.Tensor:
    return ndgrad.tensor([0.5, -1.2, 2.0], dtype="float64", device=backend)


def test_gradcheck_accepts_a_right_gradient(backend: str) -> None:
    assert ndgrad.gradcheck(RightSquare.apply, [_x(backend)])
    assert ndgrad.gradgradcheck(RightSquare.apply, [_x(backend)])


def test_gradcheck_catches_a_wrong_gradient(backend: str) -> None:
    with pytest.raises(ndgrad.GradcheckError, match=r"input 0 \(shape \(3,\)\), element 0"):
        ndgrad.gradcheck(WrongSquare.apply, [_x(backend)])
    assert issubclass(ndgrad.GradcheckError, AssertionError)


def test_gradgradcheck_catches_a_lost_second_derivative(backend: str) -> None:
    assert ndgrad.gradcheck(DetachedCube.apply, [_x(backend)])
    with pytest.raises(ndgrad.GradcheckError):
        ndgrad.gradgradcheck(DetachedCube.apply, [_x(backend)])


def test_gradcheck_with_several_inputs_and_outputs(backend: str) -> None:
    a = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", device=backend)
    b = ndgrad.tensor([0.5, -0.5], dtype="float64", device=backend)
    assert ndgrad.gradcheck(lambda x, y: (x @ y, (x * y).exp()), [a, b])
    assert ndgrad.gradgradcheck(lambda x, y: (x @ y, (x * y).exp()), [a, b])


def test_gradcheck_skips_integer_inputs(backend: str) -> None:
    x = _x(backend)
    idx = ndgrad.tensor([2, 0, 2], device=backend)
    assert ndgrad.gradcheck(lambda t, i: t[i] * t[i], [x, idx])
