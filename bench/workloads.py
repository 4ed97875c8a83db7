"""One benchmark workload for one library, in this (fresh) process; prints one JSON line.

Run by `bench/run.py`, never imported by it: ``python bench/workloads.py LIB WORKLOAD
--threads N [--data DIR] [--quick]`` with LIB in ndgrad, torch, jax. The process imports only
its own library (and NumPy), sets its thread count, builds the data and the initial weights
with NumPy from fixed seeds (the same on every side), warms up, times the workload and prints
``{"times": [...], "loss": ..., "rss_mb": ..., "info": {...}}``: seconds per timed repetition,
the final loss (or a checksum of the outputs) that the runner compares across libraries, and
the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BATCH_MLP, BATCH_CONV, CONV_STEPS, PREDICT_BATCH = 128, 64, 100, 1000
# RMSprop with Keras's learning rate and rho (PyTorch's alpha). Epsilon is tiny on every side:
# Keras divides by sqrt(v + eps), PyTorch by sqrt(v) + eps, and with the default 1e-7 the two
# take different steps for small gradients (a convnet's mean loss over 100 steps then differed
# by 6%); with 1e-14 they agree to 0.1% (measured), so both do the same optimisation work.
LR, RHO, EPS = 1e-3, 0.9, 1e-14
DENSE_SIZES = {"dense_s": (64, 256, 256), "dense_m": (128, 784, 512), "dense_l": (512, 1024, 1024)}
CONV_LAYER = (64, 13, 13, 32, 64)  # batch, height, width, channels in, filters: the 2nd layer
SMALL_OP_SIDE, SMALL_OP_CALLS, SGEMM_N = 32, 1000, 2048
MLP_GEMM_STEPS = 100  # the matrix products of this many MLP training steps
WORKLOADS = (
    "mlp_fit",
    "mlp_loop",
    "convnet",
    "small_op",
    *DENSE_SIZES,
    "conv2d",
    "predict",
    "mlp_gemm",
    "sgemm",
)


# -- data and weights: NumPy only, identical for every library ---------------------------------
def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_data(data: str | None, quick: bool) -> tuple[np.ndarray, ...]:
    """(x_train (N, 28, 28) float32 in [0, 1], y_train (N,) int64, x_test, y_test).

    Real MNIST from `data` when given, else MNIST-shaped images labelled by a fixed random
    linear teacher (learnable, so both libraries do the same amount of optimisation work).
    """
    if data:
        folder = Path(data)
        parts = [
            _read_idx(folder / f"{name}-ubyte.gz")
            for name in (
                "train-images-idx3",
                "train-labels-idx1",
                "t10k-images-idx3",
                "t10k-labels-idx1",
            )
        ]
        xtr, ytr, xte, yte = parts
        xtr, xte = (a.astype(np.float32) / 255.0 for a in (xtr, xte))
        ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    else:
        rng = np.random.default_rng(1234)
        teacher = rng.standard_normal((784, 10)).astype(np.float32)
        x = (rng.random((70000, 784), dtype=np.float32) ** 3).astype(np.float32)  # sparse-ish ink
        y = np.argmax((x - x.mean(0)) @ teacher, axis=1).astype(np.int64)
        xtr, xte = x[:60000].reshape(-1, 28, 28), x[60000:].reshape(-1, 28, 28)
        ytr, yte = y[:60000], y[60000:]
    if quick:
        xtr, ytr, xte, yte = xtr[:10000], ytr[:10000], xte[:2000], yte[:2000]
    return xtr, ytr, xte, yte


def glorot(rng: np.random.Generator, fan_in: int, fan_out: int, shape: tuple) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def mlp_weights() -> list[np.ndarray]:
    """Keras layout: kernel (in, out), bias (out,) for Dense(512, relu), Dense(10)."""
    rng = np.random.default_rng(7)
    return [
        glorot(rng, 784, 512, (784, 512)),
        np.zeros(512, np.float32),
        glorot(rng, 512, 10, (512, 10)),
        np.zeros(10, np.float32),
    ]


def convnet_weights() -> list[np.ndarray]:
    """Keras layout: conv kernels (KH, KW, C, F), the dense kernel over an NHWC flatten."""
    rng = np.random.default_rng(8)
    out = []
    for c, f in ((1, 32), (32, 64), (64, 128)):
        out += [glorot(rng, 9 * c, 9 * f, (3, 3, c, f)), np.zeros(f, np.float32)]
    return out + [glorot(rng, 1152, 10, (1152, 10)), np.zeros(10, np.float32)]


def order(n: int, epoch: int = 0) -> np.ndarray:
    return np.random.default_rng(100 + epoch).permutation(n)


# -- ndgrad --------------------------------------------------------------------------------------
def ndgrad_workload(name: str, data: tuple, threads: int) -> tuple[Callable, Callable, dict]:
    import ndgrad
    from ndgrad.models import book
    from ndgrad.optimizers import RMSprop

    ndgrad.set_num_threads(threads)
    info = {"version": ndgrad.__version__, "numpy": np.__version__}
    from ndgrad.backends.numpy import kernels

    info["kernels"] = kernels.wait()  # loaded before timing, like any warm-up
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{p['internal_api']} x{p['num_threads']}" for p in threadpool_info())
    info["threads"] = f"{blas}; numba kernels x{kernels.kernel_threads()}"
    xtr, ytr, xte, _ = data or (None,) * 4

    def share(a: np.ndarray) -> Any:  # no copy, as torch.from_numpy on the other side
        return ndgrad.from_dlpack(np.ascontiguousarray(a))

    def fresh(model_fn: Callable, weights: list[np.ndarray]) -> Any:
        model = model_fn()
        model.set_weights(weights)
        model.compile(
            optimizer=RMSprop(LR, rho=RHO, epsilon=EPS), loss="sparse_categorical_crossentropy"
        )
        return model

    if name == "mlp_fit":
        x, y = share(xtr.reshape(-1, 784)), share(ytr)

        def warm() -> None:
            m = fresh(book.mnist_mlp, mlp_weights())
            m.fit(x[:2560], y[:2560], batch_size=BATCH_MLP, epochs=1, verbose=0)

        def run() -> float:
            m = fresh(book.mnist_mlp, mlp_weights())
            return m.fit(x, y, batch_size=BATCH_MLP, epochs=1, verbose=0).history["loss"][-1]

        return warm, run, info
    if name in ("mlp_loop", "convnet"):
        conv = name == "convnet"
        model_fn, weights = (
            (book.mnist_convnet, convnet_weights) if conv else (book.mnist_mlp, mlp_weights)
        )
        batch = BATCH_CONV if conv else BATCH_MLP
        n = CONV_STEPS * batch if conv else len(xtr)
        xs = xtr[:n].reshape(n, 28, 28, 1) if conv else xtr.reshape(-1, 784)
        x, y = share(xs), share(ytr[:n])
        loss_fn = ndgrad.losses.SparseCategoricalCrossentropy()

        def loop(steps: int | None) -> float:
            model = fresh(model_fn, weights())
            opt, idx = model.optimizer, ndgrad.tensor(order(n))
            total, seen = 0.0, 0
            for i in range(0, n if steps is None else steps * batch, batch):
                b = idx[i : i + batch]
                xb, yb = x[b], y[b]
                with ndgrad.GradientTape() as tape:
                    loss = loss_fn(yb, model(xb, training=True))
                ws = model.trainable_weights
                opt.apply(tape.gradient(loss, ws), ws)
                total += loss.item() * len(b)
                seen += len(b)
            return total / seen

        return (lambda: loop(20)), (lambda: loop(None)), info
    if name == "predict":
        model = fresh(book.mnist_mlp, mlp_weights())
        x = share(xte.reshape(-1, 784))

        def run() -> float:
            return float(model.predict(x, batch_size=PREDICT_BATCH).max(axis=-1).mean().item())

        return run, run, info
    if name == "small_op":
        rng = np.random.default_rng(3)
        a = ndgrad.tensor(rng.standard_normal((SMALL_OP_SIDE,) * 2, np.float32), requires_grad=True)
        b = ndgrad.tensor(rng.standard_normal((SMALL_OP_SIDE,) * 2, np.float32), requires_grad=True)

        def run() -> float:
            for _ in range(SMALL_OP_CALLS):
                a.grad = b.grad = None
                (a * b + a).relu().sum().backward()
            return float(a.grad.sum().item())

        return run, run, info
    if name in DENSE_SIZES or name == "conv2d":
        args = _layer_arrays(name)
        tensors = [ndgrad.tensor(v, requires_grad=k != "g") for k, v in args.items()]
        x, w, b, g = tensors
        if name == "conv2d":

            def fwd() -> Any:
                return ndgrad.ops.conv2d(x, w, b, relu=True)
        else:

            def fwd() -> Any:
                return ndgrad.ops.linear(x, w, b, relu=True)

        def run() -> float:
            for _ in range(_layer_reps(name)):
                x.grad = w.grad = b.grad = None
                fwd().backward(g)
            return float(w.grad.sum().item())

        return run, run, info
    if name == "sgemm":
        a, b = (ndgrad.tensor(v) for v in _sgemm_arrays())

        def run() -> float:
            return float((a @ b).data[0, 0])

        return run, run, info
    if name == "mlp_gemm":  # the products as ndgrad's Dense layers compute them: w is (in, out)
        x, h, w1, w2, g1, g2 = (ndgrad.tensor(v) for v in _mlp_gemm_arrays())

        def run() -> float:
            with ndgrad.no_grad():
                for _ in range(MLP_GEMM_STEPS):
                    out = [x @ w1, h @ w2, x.T @ g1, h.T @ g2, g2 @ w2.T]
            return float(sum(o.abs().sum().item() for o in out))

        return run, run, info
    raise SystemExit(f"unknown workload {name!r}")


def _mlp_gemm_arrays() -> tuple[np.ndarray, ...]:
    """One MLP training step's operands: the batch x (128, 784), the hidden activations h
    (128, 512), the kernels w1 (784, 512) and w2 (512, 10), the output gradients g1 (128, 512)
    and g2 (128, 10)."""
    rng = np.random.default_rng(9)
    shapes = ((BATCH_MLP, 784), (BATCH_MLP, 512), (784, 512), (512, 10), (BATCH_MLP, 512))
    return (*(rng.standard_normal(s, np.float32) for s in shapes),
            rng.standard_normal((BATCH_MLP, 10), np.float32))  # fmt: skip


def _layer_arrays(name: str) -> dict[str, np.ndarray]:
    """x, kernel, bias and a cotangent, in Keras layout (NHWC, (KH, KW, C, F))."""
    rng = np.random.default_rng(5)
    if name == "conv2d":
        n, h, w, c, f = CONV_LAYER
        shapes = {"x": (n, h, w, c), "w": (3, 3, c, f), "b": (f,), "g": (n, h - 2, w - 2, f)}
    else:
        n, k, m = DENSE_SIZES[name]
        shapes = {"x": (n, k), "w": (k, m), "b": (m,), "g": (n, m)}
    return {k: (rng.standard_normal(s) * 0.1).astype(np.float32) for k, s in shapes.items()}


def _layer_reps(name: str) -> int:
    return {"dense_s": 200, "dense_m": 50, "dense_l": 10, "conv2d": 20}[name]


def _sgemm_arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    return tuple(rng.standard_normal((SGEMM_N, SGEMM_N), np.float32) for _ in range(2))


# -- PyTorch -------------------------------------------------------------------------------------
def torch_workload(name: str, data: tuple, threads: int) -> tuple[Callable, Callable, dict]:
    import torch

    torch.set_num_threads(threads)
    info = {
        "version": torch.__version__,
        "numpy": np.__version__,
        "threads": f"intra-op x{torch.get_num_threads()} "
        f"({torch.__config__.parallel_info().splitlines()[3].strip()})",
    }
    nn = torch.nn
    xtr, ytr, xte, _ = data or (None,) * 4

    def mlp() -> Any:
        w = mlp_weights()
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        with torch.no_grad():
            for layer, (k, b) in zip((model[0], model[2]), (w[0:2], w[2:4])):
                layer.weight.copy_(torch.from_numpy(k.T))
                layer.bias.copy_(torch.from_numpy(b))
        return model

    def convnet() -> Any:
        w = convnet_weights()
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(1152, 10),
        )
        with torch.no_grad():
            for layer, (k, b) in zip((model[0], model[3], model[6]), zip(w[0:6:2], w[1:6:2])):
                layer.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
                layer.bias.copy_(torch.from_numpy(b))
            # Keras flattens (H, W, C); PyTorch (C, H, W): reorder the dense kernel's rows.
            k = w[6].reshape(3, 3, 128, 10).transpose(3, 2, 0, 1).reshape(10, 1152)
            model[9].weight.copy_(torch.from_numpy(k.copy()))
            model[9].bias.copy_(torch.from_numpy(w[7]))
        return model

    if name in ("mlp_fit", "mlp_loop", "convnet"):
        conv = name == "convnet"
        batch = BATCH_CONV if conv else BATCH_MLP
        n = CONV_STEPS * batch if conv else len(xtr)
        xs = xtr[:n].reshape(n, 1, 28, 28) if conv else xtr.reshape(-1, 784)
        x, y = torch.from_numpy(np.ascontiguousarray(xs)), torch.from_numpy(ytr[:n])
        loss_fn = nn.CrossEntropyLoss()

        def loop(steps: int | None) -> float:
            model = convnet() if conv else mlp()
            opt = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=RHO, eps=EPS)
            idx = torch.from_numpy(order(n))
            total, seen = 0.0, 0
            for i in range(0, n if steps is None else steps * batch, batch):
                b = idx[i : i + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[b]), y[b])
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
                seen += len(b)
            return total / seen

        return (lambda: loop(20)), (lambda: loop(None)), info
    if name == "predict":
        model = mlp()
        x = torch.from_numpy(xte.reshape(-1, 784))

        def run() -> float:
            with torch.no_grad():
                out = torch.cat(
                    [
                        torch.softmax(model(x[i : i + PREDICT_BATCH]), -1)
                        for i in range(0, len(x), PREDICT_BATCH)
                    ]
                )
            return float(out.max(-1).values.mean())

        return run, run, info
    if name == "small_op":
        rng = np.random.default_rng(3)
        a = torch.from_numpy(rng.standard_normal((SMALL_OP_SIDE,) * 2, np.float32)).requires_grad_()
        b = torch.from_numpy(rng.standard_normal((SMALL_OP_SIDE,) * 2, np.float32)).requires_grad_()

        def run() -> float:
            for _ in range(SMALL_OP_CALLS):
                a.grad = b.grad = None
                (a * b + a).relu().sum().backward()
            return float(a.grad.sum())

        return run, run, info
    if name in DENSE_SIZES or name == "conv2d":
        arrays = _layer_arrays(name)
        if name == "conv2d":
            arrays = {
                "x": arrays["x"].transpose(0, 3, 1, 2),
                "w": arrays["w"].transpose(3, 2, 0, 1),
                "b": arrays["b"],
                "g": arrays["g"].transpose(0, 3, 1, 2),
            }
        else:
            arrays["w"] = arrays["w"].T
        x, w, b, g = (
            torch.from_numpy(np.ascontiguousarray(v)).requires_grad_(k != "g")
            for k, v in arrays.items()
        )
        conv = name == "conv2d"

        def run() -> float:
            for _ in range(_layer_reps(name)):
                x.grad = w.grad = b.grad = None
                out = torch.conv2d(x, w, b) if conv else torch.nn.functional.linear(x, w, b)
                torch.relu(out).backward(g)
            return float(w.grad.sum())

        return run, run, info
    if name == "sgemm":
        a, b = (torch.from_numpy(v) for v in _sgemm_arrays())

        def run() -> float:
            return float((a @ b)[0, 0])

        return run, run, info
    if name == "mlp_gemm":  # as nn.Linear computes them: its weight is (out, in)
        arrays = _mlp_gemm_arrays()
        x, h, g1, g2 = (torch.from_numpy(arrays[i]) for i in (0, 1, 4, 5))
        w1, w2 = (torch.from_numpy(np.ascontiguousarray(arrays[i].T)) for i in (2, 3))

        def run() -> float:
            with torch.no_grad():
                for _ in range(MLP_GEMM_STEPS):
                    out = [x @ w1.T, h @ w2.T, g1.T @ x, g2.T @ h, g2 @ w2]
            return float(sum(o.abs().sum() for o in out))

        return run, run, info
    raise SystemExit(f"unknown workload {name!r}")


# -- JAX (an extra column, when installed) --------------------------------------------------------
def jax_workload(name: str, data: tuple, threads: int) -> tuple[Callable, Callable, dict]:
    import jax
    import jax.numpy as jnp

    info = {"version": jax.__version__, "numpy": np.__version__}
    xtr, ytr, xte, _ = data or (None,) * 4

    def mlp_forward(p: list, x: Any) -> Any:
        return jnp.maximum(x @ p[0] + p[1], 0) @ p[2] + p[3]

    if name == "mlp_loop":
        n = len(xtr)
        x, y = jnp.asarray(xtr.reshape(-1, 784)), jnp.asarray(ytr)

        def loss_fn(p: list, xb: Any, yb: Any) -> Any:
            logits = mlp_forward(p, xb)
            picked = jnp.take_along_axis(logits, yb[:, None], axis=1)[:, 0]
            return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

        @jax.jit
        def step(p: list, v: list, xb: Any, yb: Any) -> tuple:
            loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
            v = [RHO * vi + (1 - RHO) * gi * gi for vi, gi in zip(v, g)]
            p = [pi - LR * gi / jnp.sqrt(vi + EPS) for pi, gi, vi in zip(p, g, v)]
            return p, v, loss

        def loop(steps: int | None) -> float:
            p = [jnp.asarray(a) for a in mlp_weights()]
            v = [jnp.zeros_like(a) for a in p]
            idx = order(n)
            total, seen = 0.0, 0
            stop = n - n % BATCH_MLP if steps is None else steps * BATCH_MLP  # one jit shape
            for i in range(0, stop, BATCH_MLP):
                b = idx[i : i + BATCH_MLP]
                p, v, loss = step(p, v, x[b], y[b])
                total += float(loss) * len(b)
                seen += len(b)
            return total / seen

        return (lambda: loop(20)), (lambda: loop(None)), info
    if name == "predict":
        p = [jnp.asarray(a) for a in mlp_weights()]
        fwd = jax.jit(lambda xb: jax.nn.softmax(mlp_forward(p, xb), axis=-1))
        x = jnp.asarray(xte.reshape(-1, 784))

        def run() -> float:
            out = jnp.concatenate(
                [fwd(x[i : i + PREDICT_BATCH]) for i in range(0, len(x), PREDICT_BATCH)]
            )
            return float(out.max(-1).mean())

        return run, run, info
    if name == "sgemm":
        a, b = (jnp.asarray(v) for v in _sgemm_arrays())
        mm = jax.jit(jnp.matmul)

        def run() -> float:
            return float(mm(a, b).block_until_ready()[0, 0])

        return run, run, info
    raise SystemExit(f"workload {name!r} has no JAX version")


JAX_WORKLOADS = ("mlp_loop", "predict", "sgemm")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("lib", choices=("ndgrad", "torch", "jax"))
    p.add_argument("workload", choices=WORKLOADS)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--data", default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=1)
    args = p.parse_args()
    needs_data = args.workload in ("mlp_fit", "mlp_loop", "convnet", "predict")
    data = load_data(args.data, args.quick) if needs_data else ()
    make = {"ndgrad": ndgrad_workload, "torch": torch_workload, "jax": jax_workload}[args.lib]
    warm, run, info = make(args.workload, data, args.threads)
    warm()
    times, loss = [], float("nan")
    for _ in range(args.reps):
        start = time.perf_counter()
        loss = run()
        times.append(time.perf_counter() - start)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "loss": loss, "rss_mb": rss_mb, "info": info}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
