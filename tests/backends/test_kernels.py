"""The NumPy backend's compiled kernels against the reference code of the same primitives.

Each primitive is computed twice: by the kernel (forced on for every size, and imported here
even when the suite runs with ``NDGRAD_KERNELS=numpy``) and by the array-API reference
(`Backend`'s method), over hypothesis-generated shapes. Optimizer steps and whole training
steps are compared with the kernels on and off. Subprocess tests cover the switch and the
fallback without numba.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndgrad
from ndgrad.autograd.engine import backward
from ndgrad.backends.base import Backend
from ndgrad.backends.numpy import kernels
from ndgrad.backends.registry import get_backend

pytest.importorskip("numba")

from .kernel_switch import kernels_on  # noqa: E402

CPU = get_backend("cpu")
FLOATS = st.just(np.float32)  # the kernels' dtype (float64 takes the NumPy path)


@st.composite
def conv_geometry(draw: st.DrawFn) -> tuple:
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(kh, 9)), draw(st.integers(kw, 9))
    n, c = draw(st.integers(0, 3)), draw(st.integers(1, 5))
    return (n, h, w, c), (kh, kw), (sh, sw)


@given(conv_geometry(), FLOATS, st.integers(0, 2**31))
def test_col2im_matches_reference(geometry: tuple, dtype: type, seed: int) -> None:
    shape, size, strides = geometry
    n, h, w, c = shape
    oh, ow = (h - size[0]) // strides[0] + 1, (w - size[1]) // strides[1] + 1
    cols = np.random.default_rng(seed).standard_normal((n * oh * ow, size[0] * size[1] * c))
    cols = cols.astype(dtype)
    with kernels_on():
        got = CPU.col2im(cols, shape, size, strides)
    want = Backend.col2im(CPU, cols, shape, size, strides)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@given(conv_geometry(), FLOATS, st.integers(0, 2**31))
def test_max_pool_route_matches_reference(geometry: tuple, dtype: type, seed: int) -> None:
    shape, size, strides = geometry
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, shape).astype(dtype)  # few values: ties in most windows
    y, _ = CPU.max_pool(x, size, strides)
    arg = Backend.max_pool_arg(CPU, x, y, size, strides)
    g = rng.standard_normal(y.shape).astype(dtype)
    with kernels_on():
        np.testing.assert_array_equal(CPU.max_pool_arg(x, y, size, strides), arg)
        scattered = CPU.route_scatter(g, arg, size, strides, shape)
        gathered = CPU.route_gather(x, arg, size, strides)
    np.testing.assert_allclose(
        scattered, Backend.route_scatter(CPU, g, arg, size, strides, shape), rtol=1e-6
    )
    np.testing.assert_array_equal(gathered, Backend.route_gather(CPU, x, arg, size, strides))
    np.testing.assert_array_equal(gathered, y)  # each window's route reads its maximum


@given(conv_geometry(), st.integers(0, 2**31))
def test_max_pool_in_one_pass_matches_reference(geometry: tuple, seed: int) -> None:
    """The compiled forward (maximum and winning tap together) against the reference maximum
    and `max_pool_arg`: ties (few values), NaN (wins and propagates, tap 0) and -inf."""
    shape, size, strides = geometry
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, shape).astype(np.float32)
    if x.size:
        x.flat[rng.integers(0, x.size, 3)] = [np.nan, -np.inf, np.inf]
    want = Backend.max_pool(CPU, x, size, strides)[0]
    with kernels_on():
        y, arg = CPU.max_pool(x, size, strides)
    np.testing.assert_array_equal(y, want)
    assert y.dtype == np.float32
    if x.size:  # an empty batch takes the reference (no tap to report)
        assert arg is not None and arg.dtype == np.int8
        np.testing.assert_array_equal(arg, Backend.max_pool_arg(CPU, x, want, size, strides))


def test_max_pool_with_kernels_gives_the_reference_gradient() -> None:
    x = np.random.default_rng(3).integers(0, 4, (2, 7, 9, 5)).astype(np.float32)  # ties
    grads = []
    for on in (True, False):
        t = ndgrad.tensor(x, requires_grad=True)
        with kernels_on(on):
            y = ndgrad.ops.max_pool2d(t, 3, strides=2, padding="same")
            weights = np.arange(y.size, dtype=np.float32).reshape(y.shape)
            (y * ndgrad.tensor(weights)).sum().backward()
        grads.append((y.numpy(), t.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


@given(st.integers(0, 40), st.integers(1, 20), st.booleans(), FLOATS, st.integers(0, 2**31))
def test_bias_relu_and_mask_match_reference(
    rows: int, cols: int, relu: bool, dtype: type, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((rows, cols)).astype(dtype)
    if y.size:
        y.flat[0] = np.nan  # NaN stays NaN through relu, as np.maximum
    b = rng.standard_normal(cols).astype(dtype)
    want = y.copy()
    Backend.bias_act_(CPU, want, b, relu)
    got = y.copy()
    with kernels_on():
        CPU.bias_act_(got, b, relu)
        mask = CPU.relu_mask(y, got)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(mask, Backend.relu_mask(CPU, y, want))


@given(st.integers(1, 30), st.integers(1, 12), st.floats(0.1, 1e4), FLOATS, st.integers(0, 2**31))
def test_softmax_xent_matches_reference(
    n: int, c: int, scale: float, dtype: type, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, n)
    with kernels_on():
        loss, probs = CPU.softmax_xent(logits, labels)
    want_loss, want_probs = Backend.softmax_xent(CPU, logits, labels)
    assert loss.dtype == dtype and probs.dtype == dtype
    tol = 1e-5
    np.testing.assert_allclose(loss, want_loss, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(probs, want_probs, rtol=tol, atol=tol)


OPTIMIZERS = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", {}),
    ("rmsprop", {"momentum": 0.5, "centered": True}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adamw", {"weight_decay": 0.1}),
]


@pytest.mark.parametrize(("name", "kw"), OPTIMIZERS)
def test_optimizer_kernels_match_numpy_path(name: str, kw: dict) -> None:
    dtype = "float32"
    rng = np.random.default_rng(0)
    start = rng.standard_normal((37, 29)).astype(dtype)
    grads = [rng.standard_normal((37, 29)).astype(dtype) for _ in range(5)]
    results = []
    for on in (True, False):
        opt = ndgrad.optimizers.get({"class_name": name, "config": kw})
        w = ndgrad.tensor(start.copy())
        with kernels_on(on):
            for g in grads:
                opt.apply([ndgrad.tensor(g)], [w])
        results.append(w.numpy())
    tol = 2e-6
    np.testing.assert_allclose(results[0], results[1], rtol=tol, atol=tol)
    assert not np.allclose(results[0], start)  # the steps moved the weights


def test_float64_and_strided_arrays_take_the_reference_path() -> None:
    """Only the float32, C-contiguous specializations loaded at start-up ever run: nothing
    compiles in the middle of a computation."""
    from ndgrad.backends.numpy.kernels import conv, fused

    rng = np.random.default_rng(3)
    cols = rng.standard_normal((2 * 3 * 3, 4 * 2))
    y = rng.standard_normal((6, 10)).astype(np.float32)[:, ::2]  # strided
    b = np.zeros(5, np.float32)
    with kernels_on():
        kernels.wait()
        before = (len(conv.col2im.signatures), len(fused.bias_act.signatures))
        got = CPU.col2im(cols, (2, 4, 4, 2), (2, 2), (1, 1))
        strided = y.copy()
        CPU.bias_act_(y, b, True)
        after = (len(conv.col2im.signatures), len(fused.bias_act.signatures))
    assert got.dtype == np.float64 and after == before
    np.testing.assert_allclose(got, Backend.col2im(CPU, cols, (2, 4, 4, 2), (2, 2), (1, 1)))
    np.testing.assert_array_equal(y, np.maximum(strided, 0))


def test_training_step_gradients_match_numpy_path() -> None:
    """The book convnet (conv, relu, max-pool, dense, softmax cross-entropy): one step with
    kernels on and off gives the same loss, gradients and updated weights."""
    rng = np.random.default_rng(1)
    x = ndgrad.tensor(rng.random((8, 28, 28, 1), dtype=np.float32))
    y = ndgrad.tensor(rng.integers(0, 10, 8))
    out = []
    for on in (True, False):
        ndgrad.manual_seed(0)
        model = __import__("ndgrad.models.book").models.book.mnist_convnet()
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        with kernels_on(on):
            with ndgrad.GradientTape() as tape:
                loss = model.compute_loss(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            model.optimizer.apply(grads, model.trainable_weights)
        out.append((loss.item(), [g.numpy() for g in grads], model.get_weights()))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-6)
    for a, b in zip(out[0][1] + out[0][2], out[1][1] + out[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_second_order_through_max_pool_route_with_kernels() -> None:
    """RouteScatter's gradient is RouteGather: double backward works with the kernels."""
    x = ndgrad.tensor(np.random.default_rng(2).standard_normal((2, 4, 4, 3)), requires_grad=True)
    with kernels_on():
        y = ndgrad.ops.max_pool2d(x, 2)
        (gx,) = backward([(y * y).sum()], inputs=[x], create_graph=True)
        (ggx,) = backward([gx.sum()], inputs=[x])
    # d/dx sum(2 * max) routed: 2 at each window's maximum, 0 elsewhere.
    expected = np.zeros(x.shape)
    xs = x.numpy()
    for b, i, j, c in np.ndindex(2, 2, 2, 3):
        win = xs[b, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c]
        p, q = np.unravel_index(np.argmax(win), (2, 2))
        expected[b, 2 * i + p, 2 * j + q, c] = 2.0
    np.testing.assert_allclose(ggx.numpy(), expected)


def test_set_num_threads_sets_blas_and_kernel_threads() -> None:
    from threadpoolctl import threadpool_info

    before = ndgrad.get_num_threads()
    try:
        ndgrad.set_num_threads(1)
        assert ndgrad.get_num_threads() == 1
        assert kernels.kernel_threads() in (0, 1)
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    finally:
        ndgrad.set_num_threads(before)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="set_num_threads"):
            ndgrad.set_num_threads(bad)


def test_set_num_threads_names_the_extra_without_threadpoolctl(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'ndgrad\[threads\]'"):
        ndgrad.set_num_threads(1)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def test_ndgrad_kernels_numpy_turns_the_kernels_off() -> None:
    done = _run(
        "import time; from ndgrad.backends.numpy import kernels; time.sleep(1); "
        "print(kernels.ENABLED, kernels.READY.is_set(), kernels.wait())",
        NDGRAD_KERNELS="numpy",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "False"]


def test_without_numba_one_warning_and_the_numpy_path() -> None:
    code = (
        "import sys, warnings\n"
        "sys.modules['numba'] = None  # import numba raises ImportError\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import ndgrad\n"
        "    from ndgrad.backends.numpy import kernels\n"
        "    from ndgrad.models import book\n"
        "    m = book.mnist_convnet()\n"
        "    m.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
        "    m.fit(ndgrad.rand((4, 28, 28, 1)), ndgrad.tensor([1, 2, 3, 4]), verbose=0)\n"
        "    ndgrad.set_num_threads(1)\n"
        "numba_warnings = [w for w in caught if 'numba' in str(w.message)]\n"
        "print(kernels.ENABLED, len(numba_warnings))\n"
    )
    done = _run(code, NDGRAD_KERNELS="numba")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "1"]
