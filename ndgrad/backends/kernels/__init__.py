"""Compiled CPU kernels (numba) for the NumPy backend, one module per family.

`conv` (im2col with padding fused in, col2im in one pass), `pooling` (max-pool with its argmax,
the gradient's scatter and its adjoint gather), `fused` (bias + relu on a product's output, the
relu mask applied to a gradient, softmax cross-entropy), `optimizers` (one pass per weight
array for SGD, RMSprop and Adam). Only `NumpyBackend` calls them, through its primitives; the
NumPy code of every primitive stays the reference and the fallback.

`ENABLED` is False when ``NDGRAD_KERNELS=numpy`` is set or numba cannot be imported (then one
warning says so). Kernels are compiled on first use and cached on disk (``cache=True``: next to
this file, or in numba's per-user cache when that is read-only, or in ``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import os
import threading
import warnings

ENABLED = os.environ.get("NDGRAD_KERNELS", "numba").strip().lower() != "numpy"
if ENABLED:
    try:
        import numba
    except ImportError:  # a platform without numba wheels: the NumPy path, said once
        warnings.warn(
            "ndgrad: numba is not available, so the NumPy backend runs without its compiled "
            "kernels (slower convolutions, pooling and optimizer steps). Install numba to "
            "enable them, or set NDGRAD_KERNELS=numpy to silence this warning.",
            RuntimeWarning,
            stacklevel=2,
        )
        ENABLED = False

if ENABLED and "NUMBA_THREADING_LAYER" not in os.environ:
    # Workqueue threads sleep between kernels. OpenMP's spin-wait fights the BLAS pool's own
    # spinning for the same cores: measured on 2 cores, an im2col after a matrix product
    # took 30x longer with OpenMP than with the workqueue.
    numba.config.THREADING_LAYER = "workqueue"

#: Held around every kernel call: the workqueue pool serves one caller at a time.
LOCK = threading.Lock()

# Below this many elements a kernel launch (thread wake-up) costs more than NumPy's one pass.
MIN_PARALLEL = 16384


def set_kernel_threads(n: int) -> None:
    """Run the compiled kernels on `n` threads (at most numba's pool size)."""
    if ENABLED:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def kernel_threads() -> int:
    """Threads the compiled kernels use (0 when they are off)."""
    return numba.get_num_threads() if ENABLED else 0
