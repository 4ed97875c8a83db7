"""ndgrad on a CUDA GPU (CuPy) against PyTorch on the same GPU, each case in its own process.

Cases (what one timed repetition does):
  mlp      the book's first MNIST network, one epoch of 60,000 images, batch 128, RMSprop
  convnet  the book's convnet, 10,000 images, batch 64, RMSprop
  small_op 1,000 x ``(a * b + a).relu().sum().backward()`` on 32x32 (per-op overhead)

Each (case, library) runs in a fresh process that imports only its library, builds the same
MNIST-shaped data with NumPy (labels from a fixed linear teacher, so both learn), warms up,
and times `--repeat` repetitions, waiting for the GPU before each clock read. Rounds alternate
the libraries; the report gives the median time, the ratio ndgrad / PyTorch and the final
losses (a check that both trained). Each library initialises its own weights: speed does not
depend on their values. Needs a GPU that ``ndgrad.cuda.is_available()`` and
``torch.cuda.is_available()`` both see; without one it writes nothing and says why.

Usage: python bench/gpu.py [--rounds 3] [--repeat 1] [--quick] [--out bench/RESULTS-gpu.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

CASES = ("mlp", "convnet", "small_op")
LIBRARIES = ("ndgrad", "torch")
DESCRIPTION = {
    "mlp": "Dense 512 relu + Dense 10 softmax, one epoch of 60,000 images, batch 128",
    "convnet": "Conv2D 32/64/128 + 2 max-pools + Dense 10, 10,000 images, batch 64",
    "small_op": "1,000 x `(a * b + a).relu().sum().backward()` on 32x32",
}
# RMSprop; epsilon tiny because Keras and PyTorch add it in different places (as bench/run.py)
LR, RHO, EPS = 1e-3, 0.9, 1e-14


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` MNIST-shaped images (n, 28, 28) float32 in [0, 1) and teacher labels (n,) int64."""
    rng = np.random.default_rng(1234)
    x = (rng.random((n, 784), dtype=np.float32) ** 3).astype(np.float32)
    teacher = rng.standard_normal((784, 10)).astype(np.float32)
    y = np.argmax((x - x.mean(0)) @ teacher, axis=1).astype(np.int64)
    return x.reshape(n, 28, 28), y


def sizes(case: str, quick: bool) -> tuple[int, int]:
    """(images, batch) of a case."""
    n, batch = {"mlp": (60_000, 128), "convnet": (10_000, 64)}.get(case, (0, 0))
    return (min(n, 6_400) if quick else n), batch


# -- one case in this process -------------------------------------------------------------------
def ndgrad_case(case: str, quick: bool) -> tuple[Callable[[], float], Callable[[], None]]:
    import ndgrad
    from ndgrad.models import book

    ndgrad.manual_seed(0)
    sync = ndgrad.cuda.synchronize
    if case == "small_op":
        rng = np.random.default_rng(3)
        a, b = (
            ndgrad.tensor(
                rng.standard_normal((32, 32), np.float32), device="cuda", requires_grad=True
            )
            for _ in range(2)
        )

        def op() -> float:
            for _ in range(1000):
                a.grad = b.grad = None
                (a * b + a).relu().sum().backward()
            return float(a.grad.sum().item())

        return op, sync
    n, batch = sizes(case, quick)
    x, y = data(n)
    model = (book.mnist_mlp if case == "mlp" else book.mnist_convnet)().to("cuda")
    model.compile(
        optimizer=ndgrad.optimizers.RMSprop(learning_rate=LR, rho=RHO, epsilon=EPS),
        loss="sparse_categorical_crossentropy",
    )
    xs = x.reshape(n, 784) if case == "mlp" else x.reshape(n, 28, 28, 1)
    xt, yt = ndgrad.tensor(xs, device="cuda"), ndgrad.tensor(y, device="cuda")

    def epoch() -> float:
        history = model.fit(xt, yt, batch_size=batch, epochs=1, verbose=0)
        return float(history.history["loss"][-1])

    return epoch, sync


def torch_case(case: str, quick: bool) -> tuple[Callable[[], float], Callable[[], None]]:
    import torch

    torch.manual_seed(0)
    dev = torch.device("cuda")
    sync = torch.cuda.synchronize
    if case == "small_op":
        rng = np.random.default_rng(3)
        a, b = (
            torch.tensor(rng.standard_normal((32, 32), np.float32), device=dev, requires_grad=True)
            for _ in range(2)
        )

        def op() -> float:
            for _ in range(1000):
                a.grad = b.grad = None
                (a * b + a).relu().sum().backward()
            return float(a.grad.sum().item())

        return op, sync
    nn = torch.nn
    n, batch = sizes(case, quick)
    x, y = data(n)
    if case == "mlp":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        xt = torch.tensor(x.reshape(n, 784), device=dev)
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(), nn.Flatten(), nn.Linear(128 * 3 * 3, 10),
        )  # fmt: skip
        xt = torch.tensor(x.reshape(n, 1, 28, 28), device=dev)
    model = model.to(dev)
    yt = torch.tensor(y, device=dev)
    opt = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=RHO, eps=EPS)
    loss_fn = nn.CrossEntropyLoss()

    def epoch() -> float:
        order = torch.randperm(n, device=dev)  # shuffled, as fit does
        total = torch.zeros((), device=dev)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        return float(total.item()) / n

    return epoch, sync


def child(library: str, case: str, repeat: int, quick: bool) -> None:
    """Time `case` with `library` in this process; print one JSON line."""
    run, sync = (ndgrad_case if library == "ndgrad" else torch_case)(case, quick)
    run()  # warm-up: kernels compiled, memory pools filled
    sync()
    times, value = [], 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        sync()
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times, "value": value}))


# -- the driver -------------------------------------------------------------------------------
def unavailable() -> str | None:
    """Why this machine cannot run the GPU benchmark (None when it can)."""
    import ndgrad

    if not ndgrad.cuda.is_available():
        from ndgrad.backends.registry import cuda_missing

        return "ndgrad sees no CUDA device" + (f" ({cuda_missing()})" if cuda_missing() else "")
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return f"PyTorch {torch.__version__} has no CUDA (install a CUDA build of torch)"
    return None


def run_child(library: str, case: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", library, case, "--repeat", str(args.repeat)]
    done = subprocess.run(cmd + (["--quick"] if args.quick else []), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{library} {case} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> str:
    import cupy
    import torch

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return (
        f"GPU: {name}; CuPy {cupy.__version__}, PyTorch {torch.__version__} "
        f"(CUDA {torch.version.cuda}), NumPy {np.__version__}, Python {platform.python_version()}"
    )


def report(results: dict, args: argparse.Namespace) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# GPU benchmarks: ndgrad (CuPy) against PyTorch (CUDA)",
        "",
        f"Written by `make bench-gpu` (`bench/gpu.py`) on {when}. Each case and library runs "
        "in its own process; the GPU is synchronised before every clock read. Ratio = ndgrad / "
        "PyTorch (lower is better).",
        "",
        machine()
        + f"; median of {args.rounds} rounds x {args.repeat} repetitions"
        + (" (--quick: fewer images)" if args.quick else "")
        + ".",
        "Result: the epoch's mean loss (both trained); for small_op, the gradient's sum.",
        "",
        "| case | what | ndgrad (s) | PyTorch (s) | ratio | result ndgrad / PyTorch |",
        "|---|---|---|---|---|---|",
    ]
    for case in CASES:
        nd, th = (statistics.median(results[case][lib]["times"]) for lib in LIBRARIES)
        values = " / ".join(f"{results[case][lib]['value']:.4g}" for lib in LIBRARIES)
        lines.append(
            f"| {case} | {DESCRIPTION[case]} | {nd:.3f} | {th:.3f} | {nd / th:.2f} | {values} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1, help="timed repetitions per process")
    p.add_argument("--quick", action="store_true", help="6,400 images per epoch (a smoke run)")
    p.add_argument("--out", default=None, help="write the Markdown report here")
    p.add_argument("--child", nargs=2, metavar=("LIBRARY", "CASE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(*args.child, repeat=args.repeat, quick=args.quick)
        return
    why = unavailable()
    if why:
        raise SystemExit(f"bench/gpu.py: nothing measured: {why}")
    results: dict = {c: {lib: {"times": [], "value": 0.0} for lib in LIBRARIES} for c in CASES}
    for r in range(args.rounds):
        for case in CASES:
            for lib in LIBRARIES if r % 2 == 0 else LIBRARIES[::-1]:
                out = run_child(lib, case, args)
                results[case][lib]["times"] += out["times"]
                results[case][lib]["value"] = out["value"]
                print(f"round {r + 1} {case:8s} {lib:6s} {min(out['times']):.3f}s", flush=True)
    text = report(results, args)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
