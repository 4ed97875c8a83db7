"""Compiled CPU kernels (numba) for the NumPy backend, one module per family.

`conv` (col2im in one pass), `winograd_tiles` (the tile transforms of Winograd's 3x3
convolutions, whose algorithm is `winograd`: NumPy and BLAS, importable without numba),
`pooling` (max pooling with its argmax in one pass, the argmax alone, the gradient's scatter
and its adjoint gather), `fused` (bias + relu on a product's output, the relu mask applied to
a gradient, softmax cross-entropy), `optimizers` (one pass per weight array for SGD, RMSprop
and Adam). Only `NumpyBackend` calls them, through its primitives; the NumPy code of every
primitive stays the reference and the fallback.

`ENABLED` is False when ``NDGRAD_KERNELS=numpy`` is set or numba is not installed (then one
warning says so). Kernels are compiled once and cached on disk (``cache=True``: next to this
file, or in numba's per-user cache when that is read-only, or in ``NUMBA_CACHE_DIR``).
Importing numba and loading the cached kernels takes about a second. It happens in a thread
started by the first array big enough for a kernel, and that first call waits for it (`wait`):
a process that never computes at scale never loads numba, and every call of a process takes
the same path, so a seeded run gives the same numbers every time (the NumPy and kernel paths
round differently). `READY` is set when the loading is over, whether it succeeded or not
(then `ENABLED` is False).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import warnings
from typing import Any

import numpy as np

ENABLED = os.environ.get("NDGRAD_KERNELS", "numba").strip().lower() != "numpy"
READY = threading.Event()
#: Held around every kernel call: numba's workqueue pool serves one caller at a time.
LOCK = threading.Lock()
# Below this many elements a kernel call costs more than NumPy's one pass.
MIN_PARALLEL = 16384

_MISSING = (
    "ndgrad: numba is not available ({}), so the NumPy backend runs without its compiled "
    "kernels (slower convolutions, pooling and optimizer steps). Install numba to enable "
    "them, or set NDGRAD_KERNELS=numpy to silence this warning."
)


def _installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # e.g. sys.modules["numba"] is None
        return False


def _warm(conv: Any, fused: Any, optimizers: Any, pooling: Any, tiles: Any) -> None:
    """Load (or compile) the specializations the backend calls: float32, C-contiguous."""
    f, i8 = np.float32, np.int8
    one, img, arg = np.zeros((1, 1), f), np.zeros((1, 1, 1, 1), f), np.zeros((1, 1, 1, 1), i8)
    conv.col2im(one, 1, 1, 1, 1, 1, 1, img)
    pooling.max_pool(img, 1, 1, 1, 1, img.copy(), arg.copy())
    pooling.max_pool_arg(img, img, 1, 1, 1, 1, arg)
    pooling.route_scatter(img, arg, 1, 1, 1, 1, img.copy())
    pooling.route_gather(img, arg, 1, 1, 1, 1, img.copy())
    fused.bias_act(one, np.zeros(1, f), True)
    fused.relu_mask(one, one, one.copy())
    fused.softmax_xent(one, np.zeros(1, np.int64), one.copy(), np.zeros(1, f))
    w, s = np.zeros(1, f), f(0)
    optimizers.sgd(w, w, w, w, w, s, s, False, False)
    optimizers.rmsprop(w, w, w, w, w, w, w, w, w, s, s, s, s, f(1), False, False)
    optimizers.adam(w, w, w, w, w, w, w, w, w, s, s, s, s, s, f(1), False, False)
    t, rows, none = np.zeros((1, 1), f), np.zeros((1, 1, 1), f), np.zeros(0, f)
    tiles.tile_transform(img, t, 1, 1, 1, rows)
    tiles.untile_transform(rows, t, 1, 1, 1, none, False, False, img)
    x6, t36 = np.zeros((1, 6, 6, 1), f), np.zeros((36, 1, 1), f)
    tiles.input_tiles4(x6, 1, 1, t36)
    tiles.grad_tiles4(np.zeros((1, 4, 4, 1), f), 1, 1, t36)
    tiles.output_tiles4(t36, 1, 1, none, False, np.zeros((1, 4, 4, 1), f))
    tiles.input_grad_tiles4(t36, 1, 1, x6)


COMPILING = (
    "ndgrad: compiling the CPU kernels once, about 15 s (later runs load them from numba's "
    "cache in a second)"
)


def _uncached(*modules: Any) -> bool:
    """Whether some kernel of `modules` has no compiled copy in numba's on-disk cache yet."""
    for module in modules:
        for kernel in vars(module).values():
            cache = getattr(kernel, "_cache", None)
            index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
            if isinstance(index, str) and not os.path.exists(index):
                return True
    return False


def _load() -> None:
    global ENABLED
    try:
        import numba

        if "NUMBA_THREADING_LAYER" not in os.environ:
            # Workqueue threads sleep between kernels. OpenMP's spin-wait fights the BLAS
            # pool's own spinning for the cores: on 2 cores an im2col-sized kernel right after
            # a matrix product took 30x longer with OpenMP than with the workqueue.
            numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]  # set at import
        from . import conv, fused, optimizers, pooling, winograd_tiles

        if _uncached(conv, fused, optimizers, pooling, winograd_tiles):  # a first run: say why
            print(COMPILING, file=sys.stderr, flush=True)
        with LOCK:
            _warm(conv, fused, optimizers, pooling, winograd_tiles)
    except Exception as e:  # a broken numba install: the NumPy path, said once
        ENABLED = False
        warnings.warn(_MISSING.format(f"{type(e).__name__}: {e}"), RuntimeWarning, stacklevel=1)
    READY.set()  # loading is over (ENABLED says how it went)


if ENABLED and not _installed():
    warnings.warn(_MISSING.format("not installed"), RuntimeWarning, stacklevel=2)
    ENABLED = False
_started: list[threading.Thread] = []  # the loading thread, once started


def start() -> None:
    """Start loading the kernels in the background (once; a no-op when they are off)."""
    if ENABLED and not _started:
        with LOCK:
            if not _started:
                _started.append(threading.Thread(target=_load, name="ndgrad-kernels", daemon=True))
                _started[0].start()


def started() -> bool:
    """Whether loading has begun, and then (after waiting for it) whether the kernels are on."""
    return (bool(_started) or READY.is_set()) and wait()


def wait(timeout: float | None = None) -> bool:
    """Load the kernels and wait for them (at most `timeout` seconds); whether they are on."""
    if READY.is_set():  # loaded (the hot path: every kernel call asks)
        return ENABLED
    start()
    return ENABLED and READY.wait(timeout) and ENABLED


def set_kernel_threads(n: int) -> None:
    """Run the kernels called from this thread on `n` threads (at most numba's pool size)."""
    if wait():
        import numba

        pool = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at import
        numba.set_num_threads(min(n, pool))


def kernel_threads() -> int:
    """Threads the kernels called from this thread use (0 when the kernels are off)."""
    if not wait():
        return 0
    import numba

    return numba.get_num_threads()
