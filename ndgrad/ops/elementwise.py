"""Element-wise operations: arithmetic, comparisons, unary math and activations.

Binary ops broadcast like NumPy (shapes compared right to left, equal or 1); their backward
returns gradients of the broadcast shape and the engine sums them back to each input's shape.
Float-valued functions (true division, exp, log, sqrt, sin, tanh ...) turn integer and bool
inputs into the default float, float32 (as PyTorch, JAX and Keras; NumPy gives float64).
"""

from __future__ import annotations

import math
from typing import Any

from .. import _dtypes
from .._shapes import broadcast_shapes
from .._tensor import Tensor
from ..autograd.op import Op
from .logits import record


class _Binary(Op):
    def check(self, xs: tuple, ys: tuple) -> None:
        broadcast_shapes(xs, ys, op=type(self).__name__.lower())

    def _bool(self, x: Any) -> bool:
        """True for bool arrays: NumPy's + and * on them are `or` and `and`; the Array API
        standard leaves them out, so they are spelled as logical ops here."""
        return x.dtype == self.backend.bool_native


class Add(_Binary):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        if self._bool(x):
            return xp.logical_or(x, y)
        return xp.add(x, y)

    def backward(self, g: Tensor) -> tuple:
        return g, g


class Subtract(_Binary):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.subtract(x, y)

    def backward(self, g: Tensor) -> tuple:
        return g, (-g if self.needs_grad[1] else None)


class Multiply(_Binary):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        if self._bool(x):
            return xp.logical_and(x, y)
        return xp.multiply(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        nx, ny = self.needs_grad
        return (g * y if nx else None), (g * x if ny else None)


class Divide(_Binary):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        dtype = self.backend.dtype_of(x)
        if dtype.kind != "f":  # true division of integers gives the default float
            x = self.backend.astype(x, _dtypes.default_float)
            y = self.backend.astype(y, _dtypes.default_float)
        return xp.divide(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        gx = g / y
        return gx, (-gx * x / y if self.needs_grad[1] else None)


class FloorDivide(_Binary):
    """NumPy's floor division; its gradient is zero almost everywhere."""

    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.floor_divide(x, y)

    def backward(self, g: Tensor) -> tuple:
        return None, None


class Remainder(_Binary):
    """NumPy's ``x % y`` (the sign of y, as Python): x - floor(x / y) * y."""

    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.remainder(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        gy = -g * floor_divide(x, y) if self.needs_grad[1] else None
        return g, gy


class Power(_Binary):
    uses_output = True

    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.pow(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        gx = gy = None
        if self.needs_grad[0]:
            gx = where(y == 0, 0.0, g * y * x ** (y - 1))
        if self.needs_grad[1]:
            gy = where(x == 0, 0.0, g * self.out * log(where(x == 0, 1.0, x)))
        return gx, gy


class Maximum(_Binary):
    """Element-wise maximum; a tie sends half the gradient to each side (as PyTorch)."""

    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        if self._bool(x):
            return xp.logical_or(x, y)
        return xp.maximum(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        share = where(x == y, 0.5, 1.0) * g
        return where(x >= y, share, 0.0), where(y >= x, share, 0.0)


class Minimum(_Binary):
    """Element-wise minimum; a tie sends half the gradient to each side (as PyTorch)."""

    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        if self._bool(x):
            return xp.logical_and(x, y)
        return xp.minimum(x, y)

    def backward(self, g: Tensor) -> tuple:
        x, y = self.inputs
        share = where(x == y, 0.5, 1.0) * g
        return where(x <= y, share, 0.0), where(y <= x, share, 0.0)


class Where(Op):
    """``where(condition, x, y)``: x where condition is true, else y (all broadcast)."""

    promote_from = 1

    def check(self, cs: tuple, xs: tuple, ys: tuple) -> None:
        broadcast_shapes(cs, xs, ys, op="where")

    def forward(self, xp: Any, c: Any, x: Any, y: Any) -> Any:
        return xp.where(c, x, y)

    def backward(self, g: Tensor) -> tuple:
        c = self.inputs[0]
        return None, where(c, g, 0.0), where(c, 0.0, g)


class _Compare(_Binary):
    differentiable = False


class Equal(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.equal(x, y)


class NotEqual(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.not_equal(x, y)


class Less(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.less(x, y)


class LessEqual(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.less_equal(x, y)


class Greater(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.greater(x, y)


class GreaterEqual(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.greater_equal(x, y)


class LogicalAnd(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.logical_and(x, y)


class LogicalOr(_Compare):
    def forward(self, xp: Any, x: Any, y: Any) -> Any:
        return xp.logical_or(x, y)


class LogicalNot(Op):
    differentiable = False

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.logical_not(x)


# -- unary ----------------------------------------------------------------------------------
class _FloatValued(Op):
    """A float-valued function of one tensor: integer and bool inputs are converted to the
    default float (float32) first, as PyTorch, JAX and Keras do (NumPy would give float64)."""

    @classmethod
    def apply(cls, x: Any, **params: Any) -> Tensor:
        return super().apply(_to_float(x), **params)


def _to_float(x: Any) -> Tensor:
    """`x` as a floating tensor: integers and bools become the default float (float32)."""
    if not isinstance(x, Tensor):
        from ..creation import tensor

        x = tensor(x)
    return x if x.dtype.kind == "f" else x.astype(_dtypes.default_float)


class Negative(Op):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.negative(x)

    def backward(self, g: Tensor) -> tuple:
        return (-g,)


class Abs(Op):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.abs(x)

    def backward(self, g: Tensor) -> tuple:
        return (g * sign(self.inputs[0]),)


class Sign(Op):
    """-1, 0 or 1 (NaN stays NaN, as NumPy); its gradient is zero."""

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.sign(x)

    def backward(self, g: Tensor) -> tuple:
        return (None,)


class Exp(_FloatValued):
    uses_output = True

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.exp(x)

    def backward(self, g: Tensor) -> tuple:
        return (g * self.out,)


class Log(_FloatValued):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.log(x)

    def backward(self, g: Tensor) -> tuple:
        return (g / self.inputs[0],)


class Log1p(_FloatValued):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.log1p(x)

    def backward(self, g: Tensor) -> tuple:
        return (g / (self.inputs[0] + 1.0),)


class Sqrt(_FloatValued):
    uses_output = True

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.sqrt(x)

    def backward(self, g: Tensor) -> tuple:
        return (g / (self.out * 2.0),)


class Square(Op):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.square(x)

    def backward(self, g: Tensor) -> tuple:
        return (g * self.inputs[0] * 2.0,)


class Sin(_FloatValued):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.sin(x)

    def backward(self, g: Tensor) -> tuple:
        return (g * cos(self.inputs[0]),)


class Cos(_FloatValued):
    def forward(self, xp: Any, x: Any) -> Any:
        return xp.cos(x)

    def backward(self, g: Tensor) -> tuple:
        return (-g * sin(self.inputs[0]),)


class Tanh(_FloatValued):
    uses_output = True

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.tanh(x)

    def backward(self, g: Tensor) -> tuple:
        y = self.out
        return (g * (1.0 - y * y),)


class Sigmoid(_FloatValued):
    uses_output = True

    def forward(self, xp: Any, x: Any) -> Any:
        # 1 / (1 + exp(-x)) overflows for x << 0; this form never does.
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def backward(self, g: Tensor) -> tuple:
        y = self.out
        return (g * y * (1.0 - y),)


class Relu(Op):
    uses_output = True

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.maximum(x, 0)

    def backward(self, g: Tensor) -> tuple:
        return (ReluGrad.apply(g, y=self._out_data),)  # the array: no Tensor rebuilt


class ReluGrad(Op):
    """g where `y` (relu's output) is positive, else 0: relu's gradient (also of the fused
    linear and conv2d). Its slope is 0 or 1, a constant of x, so the rule is linear in g and is
    its own gradient."""

    y: Any

    def forward(self, xp: Any, g: Any) -> Any:
        return self.backend.relu_mask(g, self.y)

    def backward(self, gg: Tensor) -> tuple:
        return (ReluGrad.apply(gg, y=self.y),)


class LeakyRelu(_FloatValued):
    alpha: float

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.where(x > 0, x, x * self.alpha)

    def backward(self, g: Tensor) -> tuple:
        return (where(self.inputs[0] > 0, g, g * self.alpha),)


class Elu(_FloatValued):
    alpha: float

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.where(x > 0, x, (xp.exp(xp.minimum(x, 0)) - 1.0) * self.alpha)

    def backward(self, g: Tensor) -> tuple:
        x = self.inputs[0]
        return (where(x > 0, g, g * exp(minimum(x, 0.0)) * self.alpha),)


class Softplus(_FloatValued):
    """log(1 + exp(x)), computed without overflow."""

    def forward(self, xp: Any, x: Any) -> Any:
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, g: Tensor) -> tuple:
        return (g * sigmoid(self.inputs[0]),)


class Erf(_FloatValued):
    """The error function (relative error below 1.2e-7)."""

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.erf(x)

    def backward(self, g: Tensor) -> tuple:
        x = self.inputs[0]
        return (g * exp(-(x * x)) * (2.0 / math.sqrt(math.pi)),)


class Clip(Op):
    lo: float | None
    hi: float | None

    def forward(self, xp: Any, x: Any) -> Any:
        return self.backend.clip(x, self.lo, self.hi)

    def backward(self, g: Tensor) -> tuple:
        x = self.inputs[0]
        if self.lo is not None:
            g = where(x >= self.lo, g, 0.0)
        if self.hi is not None:
            g = where(x <= self.hi, g, 0.0)
        return (g,)


# -- public functions -----------------------------------------------------------------------
def add(x: Any, y: Any) -> Tensor:
    """x + y, broadcasting."""
    return Add.apply(x, y)


def subtract(x: Any, y: Any) -> Tensor:
    """x - y, broadcasting."""
    return Subtract.apply(x, y)


def multiply(x: Any, y: Any) -> Tensor:
    """x * y, broadcasting."""
    return Multiply.apply(x, y)


def divide(x: Any, y: Any) -> Tensor:
    """x / y (true division), broadcasting."""
    return Divide.apply(x, y)


def floor_divide(x: Any, y: Any) -> Tensor:
    """x // y with NumPy's semantics (floor of the quotient)."""
    return FloorDivide.apply(x, y)


def remainder(x: Any, y: Any) -> Tensor:
    """x % y with NumPy's (and Python's) sign rule; alias `mod`."""
    return Remainder.apply(x, y)


mod = remainder


def power(x: Any, y: Any) -> Tensor:
    """x ** y, broadcasting."""
    return Power.apply(x, y)


def maximum(x: Any, y: Any) -> Tensor:
    """Element-wise maximum, broadcasting."""
    return Maximum.apply(x, y)


def minimum(x: Any, y: Any) -> Tensor:
    """Element-wise minimum, broadcasting."""
    return Minimum.apply(x, y)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elements of `x` where `condition` holds, else of `y` (all three broadcast)."""
    return Where.apply(condition, x, y)


def equal(x: Any, y: Any) -> Tensor:
    """x == y element-wise, broadcasting: a bool tensor of the broadcast shape."""
    return Equal.apply(x, y)


def not_equal(x: Any, y: Any) -> Tensor:
    """x != y element-wise, broadcasting: a bool tensor of the broadcast shape."""
    return NotEqual.apply(x, y)


def less(x: Any, y: Any) -> Tensor:
    """x < y element-wise, broadcasting: a bool tensor of the broadcast shape."""
    return Less.apply(x, y)


def less_equal(x: Any, y: Any) -> Tensor:
    """x <= y element-wise, broadcasting: a bool tensor of the broadcast shape."""
    return LessEqual.apply(x, y)


def greater(x: Any, y: Any) -> Tensor:
    """x > y element-wise, broadcasting: a bool tensor of the broadcast shape."""
    return Greater.apply(x, y)


def greater_equal(x: Any, y: Any) -> Tensor:
    """x >= y element-wise, broadcasting: a bool tensor of the broadcast shape."""
    return GreaterEqual.apply(x, y)


def logical_and(x: Any, y: Any) -> Tensor:
    """x and y element-wise (as truth values), broadcasting: a bool tensor."""
    return LogicalAnd.apply(x, y)


def logical_or(x: Any, y: Any) -> Tensor:
    """x or y element-wise (as truth values), broadcasting: a bool tensor."""
    return LogicalOr.apply(x, y)


def logical_not(x: Any) -> Tensor:
    """not x element-wise (as truth values): a bool tensor of x's shape."""
    return LogicalNot.apply(x)


def negative(x: Any) -> Tensor:
    """-x, element-wise (same shape and dtype)."""
    return Negative.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001
    """|x|, element-wise (same shape and dtype); its gradient at 0 is 0."""
    return Abs.apply(x)


def sign(x: Any) -> Tensor:
    """-1, 0 or 1 by the sign of x, element-wise (same shape; NaN stays NaN); no gradient."""
    return Sign.apply(x)


def exp(x: Any) -> Tensor:
    """e ** x, element-wise (same shape; integers become float32)."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(x)


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1p.apply(x)


def sqrt(x: Any) -> Tensor:
    """The square root, element-wise (same shape; integers become float32)."""
    return Sqrt.apply(x)


def square(x: Any) -> Tensor:
    """x * x, element-wise (same shape and dtype)."""
    return Square.apply(x)


def sin(x: Any) -> Tensor:
    """The sine (radians), element-wise (same shape; integers become float32)."""
    return Sin.apply(x)


def cos(x: Any) -> Tensor:
    """The cosine (radians), element-wise (same shape; integers become float32)."""
    return Cos.apply(x)


def tanh(x: Any) -> Tensor:
    """The hyperbolic tangent, element-wise (same shape; integers become float32)."""
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), stable for large |x|."""
    out = Sigmoid.apply(x)
    record(out, "sigmoid", x)  # for a cross-entropy of the probabilities (losses.py)
    return out


def relu(x: Any) -> Tensor:
    """max(x, 0): the rectified linear unit."""
    return Relu.apply(x)


def leaky_relu(x: Any, alpha: float = 0.01) -> Tensor:
    """x for x > 0, else alpha * x."""
    return LeakyRelu.apply(x, alpha=alpha)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return Elu.apply(x, alpha=alpha)


def softplus(x: Any) -> Tensor:
    """log(1 + exp(x)), without overflow."""
    return Softplus.apply(x)


def erf(x: Any) -> Tensor:
    """The error function, element-wise (same shape; integers become float32)."""
    return Erf.apply(x)


def gelu(x: Any, approximate: bool | str = False) -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; ``approximate=True`` (or "tanh") uses tanh."""
    x = _to_float(x)
    if approximate in (True, "tanh"):
        c = math.sqrt(2.0 / math.pi)
        return x * 0.5 * (tanh((x + x * x * x * 0.044715) * c) + 1.0)
    if approximate not in (False, "none"):
        raise ValueError(
            f"gelu: approximate must be False, True, 'none' or 'tanh'. Received {approximate!r}"
        )
    return x * 0.5 * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Values limited to [min, max] (either may be None); gradient flows where not clipped."""
    if min is None and max is None:
        raise ValueError("clip: give min, max or both")
    if isinstance(min, float) or isinstance(max, float):  # float bounds make integers floats
        x = _to_float(x)
    return Clip.apply(x, lo=min, hi=max)
