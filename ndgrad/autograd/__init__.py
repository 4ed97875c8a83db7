"""Reverse-mode automatic differentiation. Knows nothing about particular ops."""

from .engine import backward
from .functional import grad, value_and_grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .op import Op
from .tape import GradientTape

__all__ = [
    "GradcheckError",
    "GradientTape",
    "Op",
    "backward",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "value_and_grad",
]
