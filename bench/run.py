"""ndgrad against PyTorch (and JAX, when installed): each library in its own fresh process.

For every workload the runner starts one process per library and round, interleaved (ndgrad,
PyTorch, then PyTorch, ndgrad, ...) so that noise from other jobs on the machine hits both
alike. Each process (`bench/workloads.py`) imports only its own library, sets the same thread
count, builds the same learnable data and the same initial weights with NumPy, warms up, times
the workload and reports its final loss and its peak RSS. The runner refuses a comparison whose
losses disagree beyond a tolerance (the libraries did not do the same work), and reports the
median time over rounds with its min-max, the ratio ndgrad / PyTorch and peak RSS.

The run is guarded (`bench/guard.py`): before and after the workloads the runner records the
load average and a calibration (ndgrad's sgemm rate and PyTorch's small-op time, each in a
fresh process), and over the run the CPU steal time and other processes' CPU time. Only a run
that passes every threshold is a run of record and is written to `--out`; any other run prints
its table marked "not a run of record", leaves `--out` unchanged and exits with status 3.

With `--baseline REV` a third library joins every round: ndgrad as it was at the git revision
REV (exported to a temporary folder, run with that revision's own `bench/workloads.py`), so a
change's effect on speed is measured interleaved with the change itself, under the same guard.
The report then adds the baseline's times and the ratio ndgrad / baseline.

Usage: python bench/run.py [--data DIR] [--rounds 5] [--threads N] [--quick]
                           [--only mlp_fit,convnet] [--out bench/RESULTS.md] [--settle 180]
                           [--baseline REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import guard  # noqa: E402
from workloads import JAX_WORKLOADS, WORKLOADS  # noqa: E402

# What each workload times, and the bar on ndgrad / PyTorch (None: no bar, for information).
DESCRIPTION = {
    "mlp_fit": "first MNIST network, one epoch (60,000 images, batch 128) through `Model.fit`",
    "mlp_loop": "the same epoch as a hand-written loop (tape, loss, optimizer.apply)",
    "convnet": "book convnet, 100 training steps of batch 64 (hand loop)",
    "small_op": "1,000 x `(a * b + a).relu().sum().backward()` on 32x32",
    "dense_s": "Dense 256->256 relu, forward + backward, batch 64 (200 calls)",
    "dense_m": "Dense 784->512 relu, forward + backward, batch 128 (50 calls)",
    "dense_l": "Dense 1024->1024 relu, forward + backward, batch 512 (10 calls)",
    "conv2d": "Conv2D 3x3 32->64 relu on 64x13x13, forward + backward (20 calls)",
    "predict": "`predict` of the MNIST MLP on 10,000 images in batches of 1,000 (torch.no_grad)",
    "mlp_gemm": "the matrix products of 100 MLP training steps alone (x @ W1, h @ W2 and the "
    "gradients' products, as each library's dense layer computes them): the BLAS part of mlp_fit",
    "sgemm": "2048 x 2048 float32 matrix product: the machine's BLAS ceiling",
}
# The targets of issue 18 (guarded run, median).
BARS = {"mlp_fit": 0.85, "convnet": 1.0, "small_op": 0.9, "predict": 0.9, "conv2d": 1.5}
REPS = {
    "small_op": 5,
    "dense_s": 5,
    "dense_m": 5,
    "dense_l": 5,
    "conv2d": 5,
    "predict": 5,
    "mlp_gemm": 5,
    "sgemm": 5,
}
# Losses must agree to this relative tolerance (training: summation order, and `fit` shuffles
# with its own permutation; a single forward/backward: float32 round-off only).
TOLERANCE = {"mlp_fit": 0.03, "mlp_loop": 0.03, "convnet": 0.03}
DEFAULT_TOL = 1e-3


def child(lib: str, workload: str, args: argparse.Namespace, reps: int | None = None) -> dict:
    """Run one workload of one library in a fresh process; its JSON report. The library
    "baseline" is ndgrad at `--baseline`, run from its exported tree with its own workloads."""
    tree = Path(args.baseline_tree) if lib == "baseline" else HERE.parent
    cmd = [
        sys.executable,
        str(tree / "bench" / "workloads.py"),
        "ndgrad" if lib == "baseline" else lib,
        workload,
        "--threads",
        str(args.threads),
        "--reps",
        str(REPS.get(workload, 1) if reps is None else reps),
    ]
    if args.data:
        cmd += ["--data", args.data]
    if args.quick:
        cmd.append("--quick")
    n = str(args.threads)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "NUMBA_NUM_THREADS": n,
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={n}",
    }
    if lib in ("ndgrad", "baseline"):  # the tree's own package, whatever is installed
        env["PYTHONPATH"] = os.pathsep.join(
            [str(tree)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{lib} {workload} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(workload: str, libs: list[str], args: argparse.Namespace) -> dict:
    runs: dict[str, list[dict]] = {lib: [] for lib in libs}
    for r in range(args.rounds):
        for lib in libs if r % 2 == 0 else libs[::-1]:
            runs[lib].append(child(lib, workload, args))
    out = {}
    for lib, rs in runs.items():
        per_round = [statistics.median(x["times"]) for x in rs]
        out[lib] = {
            "median": statistics.median(per_round),
            "min": min(per_round),
            "max": max(per_round),
            "loss": statistics.median(x["loss"] for x in rs),
            "rss": max(x["rss_mb"] for x in rs),
            "info": rs[0]["info"],
        }
    return out


def agree(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * abs(b) + 1e-6


def export_revision(rev: str, into: str) -> str:
    """Write the tree of git revision `rev` of this repository into the folder `into`; its
    commit id. A revision git does not know ends the run with git's own message."""
    root = HERE.parent
    found = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if found.returncode:
        raise SystemExit(f"--baseline {rev}: {found.stderr.strip() or 'not a git revision'}")
    commit = found.stdout.strip()
    archive = Path(into) / "tree.tar"
    subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", "-o", str(archive), commit], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(Path(into) / "tree", filter="data")
    archive.unlink()
    return commit


def calibrate(args: argparse.Namespace) -> guard.Calibration:
    """ndgrad's sgemm rate and PyTorch's small-op time, each from a fresh process (the fastest
    of 7 timed repetitions after a warm-up: the machine's speed, least disturbed by noise)."""
    sgemm = min(child("ndgrad", "sgemm", args, reps=7)["times"])
    small = min(child("torch", "small_op", args, reps=7)["times"])
    return guard.Calibration(sgemm_gflops=guard.SGEMM_FLOP / sgemm / 1e9, torch_small_op=small)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--data",
        default=None,
        help="folder of MNIST's gzipped IDX files (default: ndgrad's MNIST cache when it holds "
        "them, else synthetic learnable data)",
    )
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quick", action="store_true", help="10,000 training images (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    p.add_argument("--out", default=None, help="write the Markdown report here (run of record)")
    p.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also time ndgrad at this git revision, interleaved (ratio ndgrad / baseline)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=180.0,
        help="wait up to this many seconds for the load average to fall below the guard's "
        "threshold before starting (default 180)",
    )
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    if args.data is None:  # ndgrad's MNIST cache, where `ndgrad.datasets.mnist` keeps it
        from ndgrad.datasets.mnist import cache_folder

        if Path(cache_folder(), "train-images-idx3-ubyte.gz").exists():
            args.data = str(cache_folder())
    if args.data and not Path(args.data, "train-images-idx3-ubyte.gz").exists():
        print(f"no MNIST in {args.data}: using synthetic teacher-labelled data", flush=True)
        args.data = None
    names = [w for w in args.only.split(",") if w] or list(WORKLOADS)
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        raise SystemExit(f"--only: unknown workload {unknown}; known: {', '.join(WORKLOADS)}")
    if args.baseline:
        with tempfile.TemporaryDirectory(prefix="ndgrad-baseline-") as tmp:
            args.baseline_commit = export_revision(args.baseline, tmp)
            args.baseline_tree = str(Path(tmp) / "tree")
            run(args, names)
    else:
        run(args, names)


def run(args: argparse.Namespace, names: list[str]) -> None:
    has_jax = importlib.util.find_spec("jax") is not None
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    print(
        f"waiting up to {args.settle:.0f} s for a load average <= "
        f"{guard.MAX_LOAD_PER_CORE * cores:.2f} (now {guard.load_average():.2f})",
        flush=True,
    )
    cond = guard.Conditions(
        cores=cores,
        cpu=guard.cpu_model(),
        load_start=guard.settle(guard.MAX_LOAD_PER_CORE * cores, args.settle),
    )
    if args.quick or set(names) != set(WORKLOADS):
        cond.partial = "a partial run (" + ("--quick" if args.quick else "--only") + ")"
    cpu_start = guard.CpuTimes.read()
    cond.before = calibrate(args)
    print(f"calibration before: {cond.before}", flush=True)
    rows, refused = [], []
    for name in names:
        libs = ["ndgrad", "torch"] + (["jax"] if has_jax and name in JAX_WORKLOADS else [])
        libs += ["baseline"] if args.baseline else []
        res = measure(name, libs, args)
        nd, th = res["ndgrad"], res["torch"]
        tol = TOLERANCE.get(name, DEFAULT_TOL)
        ok = agree(nd["loss"], th["loss"], tol)
        if args.baseline and not agree(nd["loss"], res["baseline"]["loss"], tol):
            ok = False
        if not ok:
            refused.append(name)
        rows.append((name, res, ok))
        ratio = f"{nd['median'] / th['median']:5.2f}" if ok else "REFUSED"
        print(
            f"{name:9s} ndgrad {nd['median']:8.4f} s [{nd['min']:.4f}-{nd['max']:.4f}]  "
            f"torch {th['median']:8.4f} s [{th['min']:.4f}-{th['max']:.4f}]  ratio {ratio}  "
            f"rss {nd['rss']:.0f}/{th['rss']:.0f} MB  loss {nd['loss']:.4f}/{th['loss']:.4f}"
            + (
                f"  baseline {res['baseline']['median']:.4f} s "
                f"(ndgrad/baseline {nd['median'] / res['baseline']['median']:.2f})"
                if args.baseline
                else ""
            ),
            flush=True,
        )
    cond.after = calibrate(args)
    cpu_end = guard.CpuTimes.read()
    cond.load_end = guard.load_average()
    if cpu_start and cpu_end:
        cond.steal, cond.foreign = guard.shares(cpu_start, cpu_end)
    cond.reasons = guard.verdict(cond)
    elapsed = time.perf_counter() - started
    text = report(rows, args, has_jax, elapsed, cond)
    if refused:
        raise SystemExit(f"losses disagree (unequal work), no ratio reported for: {refused}")
    if not cond.of_record:
        print("\n" + text)
        kept = f"; {args.out} left unchanged" if args.out else ""
        print(f"NOT a run of record{kept}: " + "; ".join(cond.reasons), file=sys.stderr)
        raise SystemExit(3)
    if args.out:
        Path(args.out).write_text(text)
        print(f"run of record written to {args.out}", flush=True)


def report(
    rows: list, args: argparse.Namespace, has_jax: bool, elapsed: float, cond: guard.Conditions
) -> str:
    first = rows[0][1]
    nd_info, th_info = first["ndgrad"]["info"], first["torch"]["info"]
    cpu = cond.cpu
    data = "real MNIST (--data)" if args.data else "synthetic, teacher-labelled"
    argv = list(args.argv)
    for i, a in enumerate(argv[:-1]):  # the data folder is this machine's, not the report's
        if a == "--data":
            argv[i + 1] = "DIR"
    command = "python bench/run.py " + " ".join(a for a in argv if not a.startswith("--data="))
    lines = [
        "# Benchmarks: ndgrad against PyTorch"
        + ("" if cond.of_record else " (not a run of record)"),
        "",
        "Written by `make bench` (`bench/run.py`; see `bench/README.md` for the method). Each",
        "library runs in its own fresh process, interleaved, on the same learnable data with the",
        "same initial weights and thread count; times are the median over rounds [min-max];",
        "ratio = ndgrad / PyTorch (lower is better); RSS is each process's peak resident memory.",
        "",
        f"- Command: `{command}` ({elapsed / 60:.1f} min)",
        f"- Machine: {platform.machine()} {cpu}, {os.cpu_count()} cores; threads per library: "
        f"{args.threads}; Python {platform.python_version()}",
        f"- Versions: ndgrad {nd_info['version']} (numpy {nd_info['numpy']}, compiled kernels: "
        f"{nd_info.get('kernels')}), torch {th_info['version']}"
        + ("" if not has_jax else ", jax installed (extra column)"),
        f"- Thread pools in the timed processes: ndgrad {nd_info['threads']}; "
        f"PyTorch {th_info['threads']}",
        f"- Data: {data}{' (quick: 10,000 images)' if args.quick else ''}; rounds: {args.rounds}",
        *(
            [
                f"- Baseline: ndgrad at `{args.baseline}` (commit {args.baseline_commit[:12]}), "
                "timed in the same rounds from its own tree and workloads; the last two "
                "columns compare this tree's ndgrad with it (ratio < 1: faster now)"
            ]
            if args.baseline
            else []
        ),
        *guard.markdown(cond),
        "",
        "| workload | ndgrad (s) | PyTorch (s) | ratio | bar | RSS ndgrad / PyTorch (MB) | "
        "RSS ratio | final loss ndgrad / PyTorch |"
        + (" JAX (s) |" if has_jax else "")
        + (" baseline (s) | ndgrad / baseline |" if args.baseline else ""),
        "|---|---|---|---|---|---|---|---|"
        + ("---|" if has_jax else "")
        + ("---|---|" if args.baseline else ""),
    ]
    for name, res, ok in rows:
        nd, th = res["ndgrad"], res["torch"]
        ratio = f"**{nd['median'] / th['median']:.2f}**" if ok else "refused (losses differ)"
        bar = BARS.get(name)
        bar_s = (
            ""
            if bar is None
            else f"<= {bar} ({'met' if ok and nd['median'] / th['median'] <= bar else 'missed'})"
        )
        jx = res.get("jax")
        jax_cell = (
            (f" {jx['median']:.4f} [{jx['min']:.4f}-{jx['max']:.4f}] |" if jx else " - |")
            if has_jax
            else ""
        )
        base = res.get("baseline")
        base_cell = (
            f" {base['median']:.4f} [{base['min']:.4f}-{base['max']:.4f}] | "
            f"{nd['median'] / base['median']:.2f} |"
            if base
            else ""
        )
        lines.append(
            f"| {name} | {nd['median']:.4f} [{nd['min']:.4f}-{nd['max']:.4f}] | "
            f"{th['median']:.4f} [{th['min']:.4f}-{th['max']:.4f}] | {ratio} | {bar_s} | "
            f"{nd['rss']:.0f} / {th['rss']:.0f} | {nd['rss'] / th['rss']:.2f} | "
            f"{nd['loss']:.4f} / {th['loss']:.4f} |{jax_cell}{base_cell}"
        )
    lines += ["", "Workloads:", ""]
    lines += [f"- **{name}**: {DESCRIPTION[name]}" for name, _, _ in rows]
    sgemm = next((r for n, r, _ in rows if n == "sgemm"), None)
    if sgemm:
        flops = 2 * 2048**3
        lines += [
            "",
            f"sgemm ceiling: ndgrad (NumPy's BLAS) {flops / sgemm['ndgrad']['median'] / 1e9:.0f} "
            f"GFLOP/s, PyTorch {flops / sgemm['torch']['median'] / 1e9:.0f} GFLOP/s.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
