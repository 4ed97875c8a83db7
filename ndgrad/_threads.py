"""Thread counts: one setting for the BLAS pool (matrix products) and the compiled kernels.

By default both use every core of the machine. Processes that share the cores (test workers,
several trainings at once) should lower it. Setting the BLAS threads at run time needs
threadpoolctl (the `threads`, `lab` and `dev` extras); the environment variables
``OPENBLAS_NUM_THREADS`` and ``NUMBA_NUM_THREADS``, read at start-up, need nothing.
"""

from __future__ import annotations

import os

_count = [os.cpu_count() or 1]


def set_num_threads(n: int) -> None:
    """Use `n` threads for BLAS calls and for ndgrad's compiled kernels in this process.

    Loads the compiled kernels first if they are not loaded yet (about a second).

    >>> import ndgrad
    >>> before = ndgrad.get_num_threads()
    >>> ndgrad.set_num_threads(1)
    >>> ndgrad.get_num_threads()
    1
    >>> ndgrad.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int. Received n={n!r}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as e:  # the BLAS pool is reached only through it
        raise ImportError(
            "set_num_threads needs threadpoolctl to set the BLAS threads: "
            "pip install 'ndgrad[threads]' (the lab extra includes it)"
        ) from e

    from .backends.numpy.kernels import set_kernel_threads

    set_kernel_threads(n)  # first: loading numba may load another BLAS (SciPy's)
    threadpool_limits(limits=n, user_api="blas")
    _count[0] = n


def get_num_threads() -> int:
    """The thread count `set_num_threads` set (default: the machine's cores)."""
    return _count[0]
