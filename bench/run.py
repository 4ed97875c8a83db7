"""ndgrad against PyTorch, in the same process and run, reported as ratios (ndgrad / torch).

Cases (the bar in brackets):
  mlp_epoch      the book's first MNIST network, one epoch of 60,000 images, batch 128 [<= 0.8]
  convnet_epoch  the book's convnet, 10,000 images, batch 64                            [<= 1.0]
  small_op       a small op with its backward: (x * w + b).relu().sum().backward()      [<= 1.0]

Both sides train the same architecture with RMSprop on the same data (random pixels and
labels: speed does not depend on the values), float32, default threads. Each case is timed
`--repeat` times alternating the libraries; the median is reported.
Usage: python bench/run.py [--repeat 3] [--quick] [--device cuda] [--out bench/RESULTS.md]
(--device cuda times the two networks on a GPU, where one is present; the bars are for the CPU)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import ndgrad
from ndgrad.models import book


def _data(n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return x, y


def ndgrad_epoch(
    model_fn: Callable, x: np.ndarray, y: np.ndarray, batch: int, device: str
) -> Callable:
    ndgrad.manual_seed(0)
    model = model_fn().to(device)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    xt, yt = ndgrad.tensor(x, device=device), ndgrad.tensor(y, device=device)
    model.fit(xt[: batch * 2], yt[: batch * 2], batch_size=batch, epochs=1, verbose=0)  # warm up
    return lambda: model.fit(xt, yt, batch_size=batch, epochs=1, verbose=0)


def torch_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))


def torch_convnet() -> torch.nn.Module:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(128 * 3 * 3, 10),
    )


def torch_epoch(
    model_fn: Callable, x: np.ndarray, y: np.ndarray, batch: int, device: str
) -> Callable:
    """An idiomatic tight PyTorch loop: tensors sliced by a permutation, no DataLoader."""
    torch.manual_seed(0)
    device = "cuda" if device.startswith("cuda") else "cpu"
    model = model_fn().to(device)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if xt.ndim == 4:
        xt = xt.permute(0, 3, 1, 2).contiguous()  # NCHW, PyTorch's native layout
    xt, yt = xt.to(device), yt.to(device)

    def epoch() -> None:
        order = torch.randperm(len(xt), device=xt.device)
        for i in range(0, len(xt), batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            loss.item()  # what fit's running loss reads each step

    return epoch


def small_op() -> tuple[Callable, Callable]:
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(16).astype(np.float32) for _ in range(3))
    nx, nw, nb = (
        ndgrad.tensor(x),
        ndgrad.tensor(w, requires_grad=True),
        ndgrad.tensor(b, requires_grad=True),
    )
    tx = torch.from_numpy(x)
    tw, tb = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()

    def nd() -> None:
        for _ in range(1000):
            (nx * nw + nb).relu().sum().backward()

    def th() -> None:
        for _ in range(1000):
            (tx * tw + tb).relu().sum().backward()

    return nd, th


def timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, nd: Callable, th: Callable, repeat: int) -> dict:
    nd_times, th_times = [], []
    for _ in range(repeat):
        th_times.append(timed(th))
        nd_times.append(timed(nd))
    a, b = statistics.median(nd_times), statistics.median(th_times)
    print(f"{name:14s} ndgrad {a:8.3f} s   torch {b:8.3f} s   ratio {a / b:5.2f}", flush=True)
    return {"case": name, "ndgrad": a, "torch": b, "ratio": a / b}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smaller data (a smoke run)")
    p.add_argument("--out", default=None, help="write a Markdown table here")
    p.add_argument("--device", default="cpu", help="cpu, or cuda to time the networks on a GPU")
    args = p.parse_args()
    n_mlp, n_conv = (6000, 1000) if args.quick else (60000, 10000)
    bars = {"mlp_epoch": 0.8, "convnet_epoch": 1.0, "small_op": 1.0}
    results = []
    dev = args.device
    x, y = _data(n_mlp, (784,))
    nd, th = ndgrad_epoch(book.mnist_mlp, x, y, 128, dev), torch_epoch(torch_mlp, x, y, 128, dev)
    results.append(compare("mlp_epoch", nd, th, args.repeat))
    x, y = _data(n_conv, (28, 28, 1))
    nd = ndgrad_epoch(book.mnist_convnet, x, y, 64, dev)
    th = torch_epoch(torch_convnet, x, y, 64, dev)
    results.append(compare("convnet_epoch", nd, th, args.repeat))
    if dev == "cpu":
        results.append(compare("small_op", *small_op(), args.repeat))
    if args.out:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i.get('architecture') or ''} x{i['num_threads']}"
            for i in threadpool_info()
        )
        lines = [
            "# Benchmarks: ndgrad against PyTorch",
            "",
            "Written by `make bench` (`bench/run.py`), which times both libraries in the same",
            "process, alternating runs, and reports the ratio ndgrad / PyTorch (lower is better).",
            "",
            "- **mlp_epoch**: the book's first network (Dense 512 relu, Dense 10 softmax),",
            "  RMSprop, one epoch of batches of 128 through `Model.fit` vs a tight PyTorch loop.",
            "- **convnet_epoch**: the book's convnet (Conv2D 32/64/128, two max-pools), batches",
            "  of 64, NHWC in ndgrad vs NCHW (PyTorch's native layout, oneDNN) in PyTorch.",
            "- **small_op**: 1000 x `(x * w + b).relu().sum().backward()` on 16-element tensors:",
            "  per-op overhead of the forward and the autograd engine.",
            "",
            f"Machine: {platform.machine()}, {torch.get_num_threads()} threads, "
            f"numpy {np.__version__}, torch {torch.__version__}, thread pools: {blas}",
            f"Data: mlp {n_mlp} images, convnet {n_conv} images; median of {args.repeat} runs.",
            "",
            "| case | ndgrad (s) | PyTorch (s) | ratio | bar | meets bar |",
            "|---|---|---|---|---|---|",
        ]
        for r in results:
            bar = bars[r["case"]]
            lines.append(
                f"| {r['case']} | {r['ndgrad']:.3f} | {r['torch']:.3f} | "
                f"{r['ratio']:.2f} | <= {bar} | {'yes' if r['ratio'] <= bar else 'no'} |"
            )
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
