"""ndgrad's dtypes and their promotion: NumPy 2's rules (NEP 50), with float32 as the default.

A `DType` is a backend-neutral name; each backend maps it to its native dtype. Promotion of two
tensors follows `numpy.result_type`; Python scalars are *weak*: they take the tensor's dtype when
their kind fits (``float32 * 2.0 -> float32``, ``int32 * 2 -> int32``). Creation from Python
floats and float64 NumPy data gives float32, the deep-learning default.

The one departure from NumPy: when integers or bools become floats, the float is the float
operand's dtype, or the default float32 when there is none (a Python float, true division, a
float-valued function such as exp or mean), as in PyTorch, JAX and Keras. NumPy would give
float64 (``int32 * 2.5``, ``int64 / 2``, ``exp(int64)``, ``int64 * float32``); ndgrad gives
float32 there, so float64 appears only when asked for.
"""

from __future__ import annotations

from .errors import DTypeError


class DType:
    """A dtype: `name`, `kind` ('b' bool, 'u' unsigned, 'i' signed, 'f' float) and `itemsize`."""

    __slots__ = ("name", "kind", "itemsize")

    def __init__(self, name: str, kind: str, itemsize: int) -> None:
        self.name, self.kind, self.itemsize = name, kind, itemsize

    def __repr__(self) -> str:
        return f"ndgrad.{self.name}"

    def __reduce__(self) -> str:
        return "bool_" if self.name == "bool" else self.name  # the module attribute

    @property
    def is_floating(self) -> bool:
        """True for float16, float32 and float64 (the dtypes that can require grad)."""
        return self.kind == "f"


bool_ = DType("bool", "b", 1)
uint8 = DType("uint8", "u", 1)
int32 = DType("int32", "i", 4)
int64 = DType("int64", "i", 8)
float16 = DType("float16", "f", 2)
float32 = DType("float32", "f", 4)
float64 = DType("float64", "f", 8)

ALL = (bool_, uint8, int32, int64, float16, float32, float64)
BY_NAME = {d.name: d for d in ALL} | {"bool_": bool_, "float": float32, "int": int64}
default_float = float32
default_int = int64

_ORDER = {d: i for i, d in enumerate(ALL)}


def as_dtype(dtype: DType | str | object) -> DType:
    """Return the ndgrad DType for a DType, a name ('float32') or a NumPy-like dtype."""
    if isinstance(dtype, DType):
        return dtype
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if name is None and isinstance(dtype, type):
        name = {bool: "bool", int: "int64", float: "float32"}.get(dtype, dtype.__name__)
    found = BY_NAME.get(name) if isinstance(name, str) else None
    if found is None:
        valid = ", ".join(d.name for d in ALL)
        raise DTypeError(f"unsupported dtype {dtype!r}. Valid dtypes: {valid}")
    return found


def promote(a: DType, b: DType) -> DType:
    """The result dtype of an operation on two tensors: `numpy.result_type`, except that an
    integer never widens a float (``int64 with float32 -> float32``, as PyTorch and JAX)."""
    if a is b:
        return a
    if a.kind == b.kind or "b" in (a.kind, b.kind):
        return a if _ORDER[a] > _ORDER[b] else b
    if a.kind == "f" or b.kind == "f":
        return a if a.kind == "f" else b
    return a if a.kind == "i" else b  # uint8 with int32/int64: the signed type holds it


def weak_result(dtype: DType, scalar: bool | int | float) -> DType:
    """The dtype of ``tensor <op> scalar`` for a Python scalar (weak promotion)."""
    if isinstance(scalar, bool):
        return dtype
    if isinstance(scalar, int):
        return default_int if dtype is bool_ else dtype
    if isinstance(scalar, float):
        return floating(dtype)
    raise DTypeError(f"cannot combine a tensor with {type(scalar).__name__} {scalar!r}")


def floating(dtype: DType) -> DType:
    """The dtype a float-valued function (exp, true division, mean ...) gives for `dtype`:
    itself when floating, else the default float (float32; NumPy would give float64)."""
    return dtype if dtype.kind == "f" else default_float


def scalar_dtype(value: bool | int | float) -> DType:
    """The dtype a lone Python scalar becomes when made a tensor."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return default_int
    return default_float
