"""Dtype promotion follows NumPy 2 (`numpy.result_type`, weak Python scalars), on every backend,
with one departure: integers and bools never widen a float. Where NumPy makes a float of them,
ndgrad gives the float operand's dtype, or float32 without one (as PyTorch, JAX and Keras).

Checked through real operations on tensors, not only through `_dtypes.promote`. Where NumPy
produces a dtype ndgrad does not have (int8 for ``bool ** bool``), ndgrad raises a TypeError.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import ndgrad
from ndgrad import _dtypes

pytestmark = pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")

NAMES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
PAIRS = list(itertools.product(NAMES, NAMES))


def expected(numpy_name: str, *dtypes: str) -> str:
    """ndgrad's result dtype where NumPy gives `numpy_name` for operands of `dtypes` (tensors
    only; Python scalars are left out): a float result is the widest float operand, or float32
    when integers and bools alone made it (NumPy: float64, or float16 for bool and uint8)."""
    if np.dtype(numpy_name).kind != "f":
        return numpy_name
    floats = [d for d in dtypes if np.dtype(d).kind == "f"]
    return max(floats, key=lambda d: np.dtype(d).itemsize) if floats else "float32"


def test_expected_departs_from_numpy_only_when_integers_become_floats() -> None:
    assert expected("float64", "int64", "float32") == "float32"
    assert expected("float64", "int32", "int64") == "float32"  # true division
    assert expected("float16", "uint8") == "float32"
    assert expected("float64", "float32", "float64") == "float64"
    assert expected("int64", "int32", "int64") == "int64"


def _ones(dtype: str, device: str) -> ndgrad.Tensor:
    return ndgrad.ones(3, dtype=dtype, device=device)


def _offered(device: str, *dtypes: str) -> bool:
    """array-api-strict has no float16: creating one there is a DTypeError (checked below)."""
    return not (device == "strict" and "float16" in dtypes)


def test_float16_is_a_dtype_error_on_the_strict_device() -> None:
    with pytest.raises(ndgrad.DTypeError, match="float16"):
        ndgrad.ones(3, dtype="float16", device="strict")
    with pytest.raises(ndgrad.DTypeError, match="float16"):
        ndgrad.ones(3, device="strict").astype("float16")
    with pytest.raises(ndgrad.DTypeError, match="float16"):
        ndgrad.tensor(np.ones(2, np.float16), device="strict")
    with pytest.raises(ndgrad.DTypeError, match="float16"):
        ndgrad.tensor(ndgrad.ones(2, dtype="float16"), device="strict")


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_promote_is_numpy_result_type_but_integers_never_widen_floats(a: str, b: str) -> None:
    got = _dtypes.promote(_dtypes.as_dtype(a), _dtypes.as_dtype(b))
    assert got.name == expected(np.result_type(a, b).name, a, b)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_where_promotes_as_promote(backend: str, a: str, b: str) -> None:
    if not _offered(backend, a, b):
        return  # covered by test_float16_is_a_dtype_error_on_the_strict_device
    cond = ndgrad.tensor([True, False, True], device=backend)
    out = ndgrad.where(cond, _ones(a, backend), ndgrad.zeros(3, dtype=b, device=backend))
    want = np.where([True, False, True], np.ones(3, a), np.zeros(3, b))
    assert out.dtype.name == expected(want.dtype.name, a, b)
    np.testing.assert_array_equal(out.numpy(), want)
    assert out.device == backend


ARITHMETIC = {
    "add": (ndgrad.add, np.add),
    "subtract": (ndgrad.subtract, np.subtract),
    "multiply": (ndgrad.multiply, np.multiply),
    "divide": (ndgrad.divide, np.divide),
    "maximum": (ndgrad.maximum, np.maximum),
    "power": (ndgrad.power, np.power),
    "floor_divide": (ndgrad.floor_divide, np.floor_divide),
}


@pytest.mark.parametrize("op", sorted(ARITHMETIC))
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_arithmetic_result_dtype_and_values(backend: str, op: str, a: str, b: str) -> None:
    if not _offered(backend, a, b):
        return
    nd, npf = ARITHMETIC[op]
    xa = np.array([1, 0, 1], dtype=a)
    xb = np.array([1, 1, 1], dtype=b)
    try:
        want = npf(xa, xb)
    except TypeError:  # NumPy refuses (bool - bool): so does ndgrad
        with pytest.raises(TypeError):
            nd(
                ndgrad.tensor(xa, dtype=a, device=backend),
                ndgrad.tensor(xb, dtype=b, device=backend),
            )
        return
    if want.dtype.name not in NAMES:  # NumPy's int8 for bool ** bool: not an ndgrad dtype
        with pytest.raises(TypeError):
            nd(
                ndgrad.tensor(xa, dtype=a, device=backend),
                ndgrad.tensor(xb, dtype=b, device=backend),
            )
        return
    got = nd(ndgrad.tensor(xa, dtype=a, device=backend), ndgrad.tensor(xb, dtype=b, device=backend))
    assert got.dtype.name == expected(want.dtype.name, a, b)
    np.testing.assert_array_equal(got.numpy(), want)


SCALAR_OPS = {
    "x + s": lambda x, s: x + s,
    "s + x": lambda x, s: s + x,
    "x * s": lambda x, s: x * s,
    "s - x": lambda x, s: s - x,
    "x / s": lambda x, s: x / s,
    "s / x": lambda x, s: s / x,
    "x // s": lambda x, s: x // s,
    "x ** s": lambda x, s: x**s,
    "maximum": lambda x, s: (ndgrad if isinstance(x, ndgrad.Tensor) else np).maximum(x, s),
}


@pytest.mark.parametrize("expr", sorted(SCALAR_OPS))
@pytest.mark.parametrize("scalar", [True, 2, 2.5], ids=["bool", "int", "float"])
@pytest.mark.parametrize("dtype", NAMES)
def test_python_scalars_are_weak(
    backend: str, dtype: str, scalar: bool | int | float, expr: str
) -> None:
    if not _offered(backend, dtype):
        return
    f = SCALAR_OPS[expr]
    x = np.array([1, 2, 3], dtype=dtype) if dtype != "bool" else np.array([True, False, True])
    t = ndgrad.tensor(x, dtype=dtype, device=backend)
    try:
        want = np.asarray(f(x, scalar))
    except TypeError:
        with pytest.raises(TypeError):
            f(t, scalar)
        return
    if want.dtype.name not in NAMES:
        # NumPy gives int8 for bool ** int and bool // bool, a dtype ndgrad does not have:
        # ndgrad uses the default integer for a weak int, and refuses bool // bool.
        if isinstance(scalar, bool):
            with pytest.raises(TypeError):
                f(t, scalar)
        else:
            assert f(t, scalar).dtype is ndgrad.int64
        return
    got = f(t, scalar)
    assert got.dtype.name == expected(want.dtype.name, dtype), f"{dtype} {expr} {scalar!r}"
    np.testing.assert_allclose(got.numpy().astype("float64"), want.astype("float64"), rtol=1e-3)


def test_weak_scalar_examples(backend: str) -> None:
    f32 = ndgrad.ones(2, device=backend)
    i32 = ndgrad.ones(2, dtype="int32", device=backend)
    assert (f32 * 2.0).dtype is ndgrad.float32
    assert (f32 * 2).dtype is ndgrad.float32
    assert (i32 * 2).dtype is ndgrad.int32
    assert (i32 * 2.5).dtype is ndgrad.float32  # NumPy: float64
    assert (i32 / 2).dtype is ndgrad.float32  # true division of integers; NumPy: float64
    assert (ndgrad.arange(4, device=backend) / ndgrad.arange(1, 5, device=backend)).dtype is (
        ndgrad.float32
    )
    assert (i32 * ndgrad.tensor(2.5, dtype="float64", device=backend)).dtype is ndgrad.float64


def test_the_issue_examples_give_float32(backend: str) -> None:
    assert (ndgrad.tensor(1, device=backend) + 0.5).dtype is ndgrad.float32
    assert (ndgrad.arange(4, device=backend) / 2).dtype is ndgrad.float32
    assert ndgrad.tensor([1, 2], device=backend).exp().dtype is ndgrad.float32
    got = ndgrad.arange(4, device=backend) / 2
    np.testing.assert_array_equal(got.numpy(), [0.0, 0.5, 1.0, 1.5])


FLOAT_VALUED = {
    "exp": (ndgrad.exp, np.exp),
    "log": (ndgrad.log, np.log),
    "log1p": (ndgrad.log1p, np.log1p),
    "sqrt": (ndgrad.sqrt, np.sqrt),
    "sin": (ndgrad.sin, np.sin),
    "cos": (ndgrad.cos, np.cos),
    "tanh": (ndgrad.tanh, np.tanh),
    "sigmoid": (ndgrad.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softplus": (ndgrad.softplus, lambda x: np.log1p(np.exp(x))),
    "erf": (ndgrad.erf, None),
    "gelu": (ndgrad.gelu, None),
    "elu": (ndgrad.elu, None),
    "leaky_relu": (ndgrad.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "mean": (ndgrad.mean, np.mean),
    "var": (ndgrad.var, np.var),
    "std": (ndgrad.std, np.std),
    "logsumexp": (ndgrad.logsumexp, lambda x: np.log(np.exp(x).sum())),
    "divide_by_int": (lambda x: x / 3, lambda x: x / 3),
    "rdivide": (lambda x: 3 / x, lambda x: 3 / x),
    "clip_float": (lambda x: ndgrad.clip(x, 0.5, 2.5), lambda x: np.clip(x, 0.5, 2.5)),
    "power_float": (lambda x: x**0.5, lambda x: x**0.5),
}


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64"])
@pytest.mark.parametrize("name", sorted(FLOAT_VALUED))
def test_float_valued_functions_of_integers_give_float32(
    backend: str, name: str, dtype: str
) -> None:
    nd, npf = FLOAT_VALUED[name]
    x = np.array([1, 2, 3] if dtype != "bool" else [True, False, True], dtype=dtype)
    got = nd(ndgrad.tensor(x, device=backend))
    assert got.dtype is ndgrad.float32, f"{name}({dtype}) gave {got.dtype}"
    assert got.device == backend
    if npf is not None:
        with np.errstate(divide="ignore"):
            want = npf(x.astype(np.float64))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_zero_dim_tensors_are_strong_in_promotion(backend: str) -> None:
    """NumPy 2: a 0-d array takes part in promotion like any array (PyTorch differs)."""
    x = ndgrad.ones(3, device=backend)  # float32
    s = ndgrad.tensor(2.0, dtype="float64", device=backend)
    assert (x * s).dtype is ndgrad.float64
    assert (np.ones(3, np.float32) * np.array(2.0)).dtype == np.float64
    i = ndgrad.tensor(2, dtype="int64", device=backend)
    assert (ndgrad.ones(3, dtype="int32", device=backend) + i).dtype is ndgrad.int64


def test_python_floats_default_to_float32() -> None:
    assert ndgrad.tensor(1.5).dtype is ndgrad.float32
    assert ndgrad.tensor([1.0, 2.0]).dtype is ndgrad.float32
    assert ndgrad.tensor([[1, 2.5]]).dtype is ndgrad.float32
    assert ndgrad.tensor(2).dtype is ndgrad.int64
    assert ndgrad.tensor(True).dtype is ndgrad.bool_
    assert ndgrad.tensor([1.0], dtype="float64").dtype is ndgrad.float64


def test_float64_numpy_input_becomes_float32_unless_asked() -> None:
    a = np.array([1.0, 2.0])
    assert a.dtype == np.float64
    assert ndgrad.tensor(a).dtype is ndgrad.float32
    assert ndgrad.tensor(a, dtype="float64").dtype is ndgrad.float64
    assert ndgrad.tensor(a.astype(np.float16)).dtype is ndgrad.float16
    assert ndgrad.tensor(np.arange(3, dtype=np.int32)).dtype is ndgrad.int32
    assert ndgrad.tensor(np.arange(3)).dtype is ndgrad.int64


def test_creation_defaults(backend: str) -> None:
    assert ndgrad.zeros(2, device=backend).dtype is ndgrad.float32
    assert ndgrad.ones((2, 3), device=backend).dtype is ndgrad.float32
    assert ndgrad.full((2,), fill_value=1.5, device=backend).dtype is ndgrad.float32
    assert ndgrad.full((2,), fill_value=3, device=backend).dtype is ndgrad.int64
    assert ndgrad.arange(3, device=backend).dtype is ndgrad.int64
    assert ndgrad.arange(0.0, 1.0, 0.25, device=backend).dtype is ndgrad.float32
    assert ndgrad.linspace(0, 1, 5, device=backend).dtype is ndgrad.float32
    assert ndgrad.eye(3, device=backend).dtype is ndgrad.float32
    assert ndgrad.rand(2, device=backend).dtype is ndgrad.float32
    assert ndgrad.randint(5, size=(3,), device=backend).dtype is ndgrad.int64


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "int64"])
def test_integer_tensors_cannot_require_grad(backend: str, dtype: str) -> None:
    with pytest.raises(ndgrad.DTypeError, match=dtype):
        ndgrad.ones(3, dtype=dtype, device=backend, requires_grad=True)
    t = ndgrad.ones(3, dtype=dtype, device=backend)
    with pytest.raises(ndgrad.DTypeError):
        t.requires_grad_()
    with pytest.raises(ndgrad.DTypeError):
        t.requires_grad = True
    assert not t.requires_grad
    with pytest.raises(ndgrad.DTypeError):
        ndgrad.tensor([1, 2], requires_grad=True, device=backend)
    with pytest.raises(TypeError):  # DTypeError is a TypeError
        ndgrad.tensor([1, 2], requires_grad=True, device=backend)


def test_integer_results_of_float_inputs_do_not_require_grad(backend: str) -> None:
    x = ndgrad.tensor([0.5, 2.0], requires_grad=True, device=backend)
    assert not (x > 1.0).requires_grad
    assert not x.argmax().requires_grad
    assert (x.astype("float64") * 2).requires_grad


def test_reductions_of_integers(backend: str) -> None:
    b = ndgrad.tensor([True, True, False], device=backend)
    assert b.sum().dtype is ndgrad.int64 and b.sum().item() == 2
    i = ndgrad.tensor([1, 2], dtype="int32", device=backend)
    assert i.sum().dtype.name == np.sum(np.array([1, 2], np.int32)).dtype.name
    assert i.mean().dtype is ndgrad.float32 and i.mean().item() == 1.5  # NumPy: float64


def test_astype_and_unknown_dtypes() -> None:
    x = ndgrad.tensor([1.7, -1.7])
    assert x.astype("int32").tolist() == [1, -1]
    assert x.astype(ndgrad.float64).dtype is ndgrad.float64
    assert x.astype("float32") is x
    assert ndgrad.tensor([1]).astype(np.float32).dtype is ndgrad.float32
    with pytest.raises(ndgrad.DTypeError, match="Valid dtypes"):
        x.astype("complex64")
    with pytest.raises(ndgrad.DTypeError):
        ndgrad.tensor(np.array([1 + 2j]))


def test_dtype_names_and_repr() -> None:
    assert repr(ndgrad.float32) == "ndgrad.float32"
    assert ndgrad.float64.is_floating and not ndgrad.int32.is_floating
    assert operator.attrgetter("itemsize")(ndgrad.float16) == 2
