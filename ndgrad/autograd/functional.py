"""JAX-style function transforms: `grad` and `value_and_grad`.

``grad(f)(x)`` is df/dx for a scalar-valued `f`. Arguments that already require grad are
differentiated in place in the graph, so ``grad(grad(f))`` gives second derivatives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ShapeError
from .engine import backward
from .grad_mode import is_grad_enabled, set_grad_enabled


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """Return a function giving ``(f(*args), df/dargs[argnums])``.

    With `has_aux`, `f` returns ``(value, aux)`` and the result is ``((value, aux), grads)``.

    >>> import ndgrad
    >>> ndgrad.value_and_grad(lambda x: (x ** 2).sum())(ndgrad.tensor([3.0]))
    (tensor(9., shape=(), dtype=float32), tensor([6.], shape=(1,), dtype=float32))
    """
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        from .._tensor import Tensor
        from ..creation import tensor, zeros_like

        call = list(args)
        nested = is_grad_enabled() and any(
            isinstance(call[i], Tensor) and call[i].requires_grad for i in nums
        )
        for i in nums:
            x = call[i] if isinstance(call[i], Tensor) else tensor(call[i])
            if not x.requires_grad:
                x = x.detach()
                x.requires_grad_()
            call[i] = x
        with set_grad_enabled(True):
            out = f(*call, **kwargs)
        value, aux = out if has_aux else (out, None)
        if value.data.size != 1:
            raise ShapeError(
                f"grad: the function must return a tensor with one element. "
                f"Received shape={value.shape}"
            )
        grads = backward(
            [value], inputs=[call[i] for i in nums], retain_graph=nested, create_graph=nested
        )
        grads = [g if g is not None else zeros_like(call[i]) for g, i in zip(grads, nums)]
        result = grads[0] if isinstance(argnums, int) else tuple(grads)
        if not nested:
            value = value.detach()
        return ((value, aux) if has_aux else value), result

    return wrapped


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function giving the gradient of scalar-valued `f` with respect to `argnums`.

    >>> import ndgrad
    >>> ndgrad.grad(ndgrad.tanh)(ndgrad.tensor(0.0))
    tensor(1., shape=(), dtype=float32)
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        (value, grads) = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapped
