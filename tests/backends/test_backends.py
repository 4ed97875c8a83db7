"""Backends: the strict device is really not NumPy, devices do not mix silently, tensors move
between devices with their gradients, the default device is a context, and only
`ndgrad/backends/` imports NumPy or CuPy."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from pathlib import Path

import array_api_strict
import numpy as np
import pytest

import ndgrad
from ndgrad.backends import registry

ROOT = Path(ndgrad.__file__).parent
DEVICE1 = array_api_strict.Device("device1")


# -- the strict device ----------------------------------------------------------------------------
def test_strict_arrays_live_on_device1() -> None:
    t = ndgrad.ones((2, 3), device="strict")
    assert isinstance(t.data, array_api_strict._array_object.Array)
    assert t.data.device == DEVICE1
    with pytest.raises(RuntimeError):  # NumPy cannot read them: NumPy-only code would fail
        np.asarray(t.data)
    assert t.numpy().tolist() == [[1.0] * 3] * 2  # but the backend can bring them home


def test_results_and_gradients_stay_on_device1() -> None:
    x = ndgrad.tensor([[1.0, -2.0], [3.0, 4.0]], device="strict", requires_grad=True)
    idx = ndgrad.tensor([1, 1, 0], device="strict")
    y = ndgrad.relu(x @ x.T).sum(axis=0) + x[idx].sum() + ndgrad.softmax(x).max()
    z = ndgrad.concatenate([y, ndgrad.pad(y, 1)]).tanh().mean()
    for t in (y, z):
        assert t.data.device == DEVICE1
    z.backward()
    assert x.grad.data.device == DEVICE1 and x.grad.device == "strict"


def test_device_arrays_are_recognised() -> None:
    a = array_api_strict.asarray([1.0, 2.0], device=DEVICE1)
    t = ndgrad.tensor(a)
    assert t.device == "strict" and t.data.device == DEVICE1
    h = ndgrad.tensor(a, device="cpu")  # asked for: moved by the strict backend
    assert h.device == "cpu" and isinstance(h.data, np.ndarray) and h.tolist() == [1.0, 2.0]


def test_device_arrays_are_recognised_in_a_fresh_process() -> None:
    """Before any strict tensor exists, the array's namespace says where it belongs."""
    script = (
        "import array_api_strict as xp, ndgrad\n"
        "t = ndgrad.tensor(xp.asarray([1.0], device=xp.Device('device1')))\n"
        "f = ndgrad.from_dlpack(xp.asarray([2.0], device=xp.Device('device1')))\n"
        "print(t.device, t.data.device, f.device, f.tolist())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    device1 = "array_api_strict.Device('device1')"
    assert done.stdout.split() == ["strict", device1, "strict", "[2.0]"]


def test_strict_arrays_on_other_strict_devices_are_copied_to_device1_by_tensor() -> None:
    a = array_api_strict.asarray([1.0, 2.0])  # CPU_DEVICE
    t = ndgrad.tensor(a)
    assert t.device == "strict" and t.data.device == DEVICE1 and t.tolist() == [1.0, 2.0]
    with pytest.raises(ndgrad.DeviceError, match="CPU_DEVICE.*ndgrad.tensor"):
        ndgrad.from_dlpack(a)  # sharing memory cannot change the device


class _FakeDevice:
    id = 1


class _FakeCupyArray:
    """Looks like a CuPy array on GPU 1 (by its type's module), with no GPU needed."""

    device = _FakeDevice()


_FakeCupyArray.__module__ = "cupy._core.core"


class _FakeDLPackProducer:
    def __init__(self, device_type: int, index: int) -> None:
        self.place = (device_type, index)

    def __dlpack__(self, **kwargs: object) -> None:
        raise AssertionError("not consumed in this test")

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.place


def test_gpu_arrays_are_recognised_without_touching_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = []
    monkeypatch.setattr(registry, "_backend", lambda kind, index: asked.append((kind, index)))
    registry.array_backend(_FakeCupyArray())
    registry.array_backend(_FakeDLPackProducer(2, 3))  # e.g. a torch tensor on cuda:3
    assert asked == [("cuda", 1), ("cuda", 3)]
    assert registry.array_backend(np.ones(2)) is None  # host data: the default device
    assert registry.array_backend(_FakeDLPackProducer(1, 0)) is None


def test_from_dlpack_shares_memory_with_numpy_and_torch() -> None:
    torch = pytest.importorskip("torch")
    a = np.zeros(3, dtype=np.float64)
    t = ndgrad.from_dlpack(a)
    a[1] = 4.0
    assert t.dtype is ndgrad.float64 and t.tolist() == [0.0, 4.0, 0.0] and t.device == "cpu"
    p = torch.arange(4, dtype=torch.int32)
    u = ndgrad.from_dlpack(p)
    p[0] = 9
    assert u.dtype is ndgrad.int32 and u.tolist() == [9, 1, 2, 3]
    back = torch.from_dlpack(ndgrad.ones(2, device="strict"))  # Tensor.__dlpack__
    assert back.tolist() == [1.0, 1.0]
    x = ndgrad.ones(2)
    assert np.from_dlpack(x).tolist() == [1.0, 1.0]
    s = ndgrad.ones(2, device="strict")
    assert ndgrad.from_dlpack(s).data is s.data


def test_from_dlpack_errors() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="list"):
        ndgrad.from_dlpack([1.0, 2.0])
    with pytest.raises(ndgrad.DTypeError, match="complex64"):
        ndgrad.from_dlpack(torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(ndgrad.DeviceError, match="DLPack device type 4"):
        ndgrad.from_dlpack(_FakeDLPackProducer(4, 0))
    weight = ndgrad.ones(2, requires_grad=True)  # leaves as a copy: nothing writes behind
    copy = torch.from_dlpack(weight)               # the graph's back (np.asarray agrees)
    copy[0] = 5.0
    assert weight.numpy().tolist() == [1.0, 1.0]


# -- mixing devices --------------------------------------------------------------------------------
def test_mixing_devices_in_one_op_names_both() -> None:
    a, b = ndgrad.ones(3), ndgrad.ones(3, device="strict")
    for f in (
        lambda: a + b,
        lambda: b * a,
        lambda: ndgrad.matmul(a, b),
        lambda: ndgrad.where(a > 0, a, b),
        lambda: ndgrad.concatenate([a, b]),
    ):
        with pytest.raises(ndgrad.DeviceError) as info:
            f()
        assert "cpu" in str(info.value) and "strict" in str(info.value)


def test_mixing_devices_in_indexing_names_both() -> None:
    a = ndgrad.ones(3)
    with pytest.raises(ndgrad.DeviceError, match="strict.*cpu"):
        a[ndgrad.tensor([0], device="strict")]
    with pytest.raises(ndgrad.DeviceError, match="strict.*cpu"):
        a[0] = ndgrad.tensor(1.0, device="strict")


# -- moving between devices ------------------------------------------------------------------------
@pytest.mark.parametrize(("src", "dst"), [("cpu", "strict"), ("strict", "cpu")])
def test_to_keeps_values_and_gradients_flow_back(src: str, dst: str) -> None:
    x = ndgrad.tensor([1.0, 2.0, 3.0], device=src, requires_grad=True)
    y = x.to(dst)
    assert y.device == dst and y.tolist() == [1.0, 2.0, 3.0] and y.dtype is x.dtype
    (y * y).sum().backward()
    assert x.grad.device == src
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_to_with_dtype_and_identity() -> None:
    x = ndgrad.tensor([1.5], requires_grad=True)
    assert x.to("cpu") is x
    y = x.to("strict", "float64")
    assert y.device == "strict" and y.dtype is ndgrad.float64
    y.sum().backward()
    assert x.grad.dtype is ndgrad.float32 and x.grad.device == "cpu"
    assert ndgrad.ones(2, device="strict").cpu().device == "cpu"


def test_second_derivatives_cross_devices() -> None:
    x = ndgrad.tensor(0.3, dtype="float64", requires_grad=True)
    g = ndgrad.grad(lambda t: ndgrad.grad(lambda u: (u.to("strict") ** 3).sum())(t).sum())(x)
    assert g.device == "cpu" and g.item() == pytest.approx(6 * 0.3)


# -- the default device --------------------------------------------------------------------------
def test_default_device_context() -> None:
    assert ndgrad.zeros(2).device == "cpu"
    with ndgrad.device("strict") as backend:
        assert backend.name == "strict"
        assert ndgrad.zeros(2).device == "strict"
        assert ndgrad.tensor([1.0]).device == "strict"
        assert ndgrad.arange(3).device == "strict"
        assert ndgrad.randn(2).device == "strict"
        assert (ndgrad.ones(2) * 2.0).device == "strict"
        with ndgrad.device("cpu"):
            assert ndgrad.ones(1).device == "cpu"
        assert ndgrad.ones(1).device == "strict"
        assert ndgrad.ones(1, device="cpu").device == "cpu"  # explicit device wins
    assert ndgrad.zeros(2).device == "cpu"


def test_default_device_is_per_thread() -> None:
    seen = []
    with ndgrad.device("strict"):
        thread = threading.Thread(target=lambda: seen.append(ndgrad.zeros(1).device))
        thread.start()
        thread.join()
    assert seen == ["cpu"]


def test_default_device_is_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), ndgrad.device("strict"):
        raise RuntimeError("boom")
    assert ndgrad.zeros(1).device == "cpu"


# -- unknown and absent devices ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tpu", "cuda:x", "gpu0"])
def test_unknown_devices_list_what_is_available(name: str) -> None:
    with pytest.raises(ndgrad.DeviceError) as info:
        ndgrad.zeros(2, device=name)
    message = str(info.value)
    assert repr(name) in message and "cpu" in message and "strict" in message


def test_absent_cuda_device_lists_what_is_available() -> None:
    with pytest.raises(ndgrad.DeviceError) as info:
        ndgrad.tensor([1.0], device="cuda:7")
    message = str(info.value)
    assert "cuda:7" in message and "cpu, strict" in message
    with pytest.raises(ndgrad.DeviceError), ndgrad.device("cuda:7"):
        pass


def test_devices() -> None:
    found = ndgrad.devices()
    assert found[:2] == ["cpu", "strict"]
    assert len(found) == 2 + ndgrad.cuda.device_count()
    assert ndgrad.cuda.is_available() == (ndgrad.cuda.device_count() > 0)


@pytest.mark.gpu
def test_cuda_round_trip() -> None:
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda:0"
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


# -- only ndgrad/backends imports NumPy or CuPy ---------------------------------------------------
GUARDED = [
    "ops",
    "autograd",
    "layers",
    "optimizers",
    "models",
    "losses.py",
    "activations.py",
    "initializers.py",
    "metrics.py",
    "_tensor.py",
    "creation.py",
    "random.py",
]
FORBIDDEN = {"numpy", "cupy", "cupyx"}


def _guarded_files() -> list[Path]:
    files = []
    for name in GUARDED:
        path = ROOT / name
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.exists():
            files.append(path)
    return files


def _array_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"{path}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in FORBIDDEN
        ]
    return found


def test_only_the_backends_import_numpy_or_cupy() -> None:
    files = _guarded_files()
    assert ROOT / "_tensor.py" in files and len(files) > 10
    offenders = [line for f in files for line in _array_imports(f)]
    assert not offenders, "\n".join(offenders)


def test_the_import_guard_sees_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nfrom . import numpy\n\ndef f():\n    import numpy.linalg as la\n"
        "    from cupy import asarray\n"
    )
    assert [line.split(":")[-1] for line in _array_imports(bad)] == [
        "5 imports numpy.linalg",
        "6 imports cupy",
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keepdims", [False, True])
def test_large_column_sums_of_the_numpy_backend(dtype: type, keepdims: bool) -> None:
    """A large sum over every axis but the last (a bias gradient) is one product with ones:
    the same values as NumPy's sum to float round-off, in the input's dtype and shape rule."""
    cpu = registry.get_backend("cpu")
    x = np.random.default_rng(0).standard_normal((30, 20, 40, 7)).astype(dtype)
    got = cpu.sum(x, (0, 1, 2), keepdims)
    want = x.astype(np.float64).sum(axis=(0, 1, 2), keepdims=keepdims)
    assert got.dtype == dtype and got.shape == want.shape
    scale = np.abs(x).astype(np.float64).sum(axis=(0, 1, 2), keepdims=keepdims)
    tol = 1e-6 if dtype == np.float32 else 1e-14  # of the column's sum of |x|: round-off
    assert np.all(np.abs(got - want) <= tol * scale)
    product = np.ones(x.size // 7, dtype) @ x.reshape(-1, 7)  # the path, not NumPy's sum
    np.testing.assert_array_equal(got.reshape(-1), product)
    strided = x[:, :, :, ::2]  # not contiguous: NumPy's own sum
    np.testing.assert_allclose(cpu.sum(strided, (0, 1, 2), False), strided.sum((0, 1, 2)))


@pytest.mark.parametrize("k", [2048, 2048 + 77, 43264, 128 * 64 * 2 + 128 * 3])
@pytest.mark.parametrize("m, n", [(9, 32), (64, 1), (27, 64)])
def test_transposed_products_with_a_long_contraction_are_split(k: int, m: int, n: int) -> None:
    """x^T y with K >= 2048 rows and at most 64 columns on each side (a kernel gradient of a
    convolution with few channels) is the sum of products over chunks of 128 rows, the rest
    added: the exact product within gamma_K * |x|^T |y|, bit for bit the chunked sum."""
    from ndgrad.backends.numpy import math as numpy_math

    cpu = registry.get_backend("cpu")
    rng = np.random.default_rng(k + m + n)
    xt, y = (rng.standard_normal((k, s)).astype(np.float32) for s in (m, n))
    got = cpu.matmul(xt.T, y)
    assert got.shape == (m, n) and got.dtype == np.float32
    exact = xt.T.astype(np.float64) @ y.astype(np.float64)
    gamma = k * 2.0**-24 / (1 - k * 2.0**-24)
    assert np.all(np.abs(got - exact) <= gamma * (np.abs(xt.T) @ np.abs(y)).astype(np.float64))
    main = k // 128 * 128  # chunks of 128 rows, summed 64 chunks at a time, then the rest
    chunks = [xt[i : i + 128].T @ y[i : i + 128] for i in range(0, main, 128)]
    want = np.zeros((m, n), np.float32)
    for first in range(0, len(chunks), 64):
        want += np.sum(np.stack(chunks[first : first + 64]), axis=0)
    if main < k:
        want += xt[main:].T @ y[main:]
    np.testing.assert_array_equal(got, want)
    assert (numpy_math._SPLIT, numpy_math._BLOCK) == (128, 64)


@pytest.mark.parametrize(
    "case",
    ["short", "wide", "float64", "not transposed", "batched", "mismatched"],
)
def test_other_products_are_one_blas_call(case: str) -> None:
    """Below 2048 rows, above 64 columns, float64, x not a transposed view or a batch of
    products: NumPy's matmul itself (bit for bit)."""
    cpu = registry.get_backend("cpu")
    rng = np.random.default_rng(1)
    k, m, n, dtype = {"short": (2047, 9, 32, np.float32), "wide": (4096, 9, 65, np.float32),
                      "float64": (4096, 9, 32, np.float64)}.get(case, (4096, 9, 32, np.float32))
    xt, y = (rng.standard_normal((k, s)).astype(dtype) for s in (m, n))
    x = xt.T
    if case == "not transposed":
        x = np.ascontiguousarray(x)
    if case == "batched":
        x, y = np.stack([x, x]), np.stack([y, y])
    if case == "mismatched":  # NumPy's error, not a product of the rows both have
        with pytest.raises(ValueError, match="matmul"):
            cpu.matmul(x, np.zeros((2 * k, n), dtype))
        return
    np.testing.assert_array_equal(cpu.matmul(x, y), np.matmul(x, y))
