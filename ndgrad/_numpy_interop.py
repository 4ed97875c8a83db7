"""Tensors among NumPy and Array API code, by one rule: **a NumPy function on a tensor runs as
the ndgrad op of the same name, keeping the graph; without one, it runs on the values only when
no gradient is being tracked, and otherwise refuses, saying how to get an array.**

- ``np.exp(t)``, ``np.add(a, t)``, ``np.sum(t, axis=0)``, ``np.mean(t)``, ``np.matmul(a, t)``
  return tensors (``__array_ufunc__`` and ``__array_function__``), differentiable as ndgrad's own.
- ``np.median(t)`` has no ndgrad op: for a tensor that does not require grad it returns NumPy's
  result on the values, as ``np.median(np.asarray(t))`` would; for one that does, it raises a
  ``TypeError`` naming the op and the two ways out (``t.detach().numpy()``, an ndgrad op).
- ``np.asarray(t)`` and ``np.from_dlpack(t)`` agree: both give the values, for every tensor. A
  tensor that requires grad is exported as a copy, so no other library writes into a weight
  behind the graph's back.
- ``t.__array_namespace__()`` is ``ndgrad`` itself, the namespace the Array API standard asks
  for (array-api-compat's ``array_namespace(t)`` finds it).

>>> import numpy as np, ndgrad
>>> t = ndgrad.tensor([1.0, 2.0], requires_grad=True)
>>> y = np.exp(t).sum()
>>> type(y).__name__, y.requires_grad
('Tensor', True)
>>> y.backward(); bool(np.allclose(t.grad.numpy(), np.exp([1.0, 2.0])))
True
>>> np.median(t.detach())
np.float32(1.5)
"""

from __future__ import annotations

import sys
from typing import Any

#: NumPy's names for ndgrad ops spelt otherwise
_ALIASES = {"absolute": "abs", "true_divide": "divide"}
#: ndgrad functions outside `ndgrad.ops` that NumPy functions of the same name map to
_EXTRA = ("zeros_like", "ones_like", "full_like")
API_VERSIONS = (None, "2023.12", "2024.12")


def _op(name: str) -> Any:
    """The ndgrad function NumPy's `name` runs as, or None."""
    from . import creation, ops

    name = _ALIASES.get(name, name)
    if name in ops.__all__:
        return getattr(ops, name)
    if name in _EXTRA:
        return getattr(creation, name)
    return None


def _tensors(values: Any) -> list[Any]:
    from ._tensor import Tensor

    found: list[Any] = []
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return found


def _values(value: Any) -> Any:
    """`value` with every tensor replaced by its NumPy values."""
    from ._tensor import Tensor

    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, list | tuple):
        return type(value)(_values(v) for v in value)
    if isinstance(value, dict):
        return {k: _values(v) for k, v in value.items()}
    return value


def _refuse(what: str) -> TypeError:
    return TypeError(
        f"{what} has no ndgrad op, and running NumPy's on a tensor that requires grad would "
        "drop the graph. Use an ndgrad op to keep the gradient, or pass the values: "
        "t.detach().numpy() (np.asarray(t) too)"
    )


class NumpyInterop:
    """The NumPy and Array API protocols of `Tensor`, copied onto it by `attach` when ndgrad is
    imported (the core imports one way: the Tensor does not import this module)."""

    __slots__ = ()

    def __array_namespace__(self, api_version: str | None = None) -> Any:
        """The Array API namespace of tensors: the ``ndgrad`` module."""
        if api_version not in API_VERSIONS:
            raise ValueError(f"__array_namespace__: ndgrad follows the Array API "
                             f"{', '.join(v for v in API_VERSIONS if v)}. "
                             f"Received api_version={api_version!r}")
        return sys.modules["ndgrad"]

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """``np.exp(t)``, ``a + t`` with `a` an ndarray: the ndgrad op, keeping the graph."""
        name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        out = kwargs.pop("out", None)
        fn = _op(ufunc.__name__) if method == "__call__" and not kwargs else None
        if fn is None:
            if any(t.requires_grad for t in _tensors(inputs)):
                raise _refuse(name)
            values = getattr(ufunc, method)(*_values(inputs), **kwargs,
                                            **({"out": _values(out)} if out else {}))
            return values
        result = fn(*inputs)
        if out is None:
            return result
        # `a += t` with `a` an ndarray: NumPy's in-place semantics, the values written into `a`
        from ._tensor import Tensor

        if len(out) != 1 or isinstance(out[0], Tensor):
            raise TypeError(f"{name}: out= must be one NumPy array; ndgrad tensors change "
                            "in place through their own operators")
        out[0][...] = result.numpy()
        return out[0]

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.sum(t)``, ``np.mean(t, axis=0)``: the ndgrad op; others as the module says."""
        name = f"np.{func.__name__}"
        fn = _op(func.__name__)
        if fn is not None:
            try:
                return fn(*args, **kwargs)
            except TypeError as e:
                if any(t.requires_grad for t in _tensors((args, kwargs))):
                    ours = _ALIASES.get(func.__name__, func.__name__)
                    raise TypeError(f"{name} runs as ndgrad.{ours} on tensors, which does not "
                                    f"take these arguments ({e})") from None
        elif any(t.requires_grad for t in _tensors((args, kwargs))):
            raise _refuse(name)
        return func(*_values(args), **_values(kwargs))


def attach(cls: type) -> None:
    """Copy the protocols of `NumpyInterop` onto `cls` (the Tensor), once, at import."""
    for name in ("__array_namespace__", "__array_ufunc__", "__array_function__"):
        setattr(cls, name, vars(NumpyInterop)[name])
