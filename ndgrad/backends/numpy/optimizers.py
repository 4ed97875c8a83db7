"""The NumPy backend's fused optimizer updates: one compiled pass per weight array.

Each function is registered for an optimizer class with ``@NumpyBackend.fuses(Class)`` and
computes that class's `update` (same formulas, same order of operations, in the weights'
dtype) with a numba loop of `kernels/optimizers.py`. It returns False, and the optimizer runs
its own array-API `update`, unless the kernels are on and every array is float32, C-contiguous
and large enough. Given `keep` (the arrays `fit`'s divergence guard keeps the step's starting
point in, `Optimizer.keep_next`), the kernel copies the values it overwrites into them as it
goes. This module names the optimizer classes it fuses, so it sits above
`ndgrad.optimizers`: the device registry imports it when it creates the first cpu device
(`registry._register_fused_updates`), and `ndgrad/__init__` imports it; nothing else does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...optimizers.adam import Adam
from ...optimizers.optimizer import Keep
from ...optimizers.rmsprop import RMSprop
from ...optimizers.sgd import SGD
from . import _LOCK, NumpyBackend, _fast, kernels


def _flat(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.reshape(-1) for a in arrays]


def _kept(keep: Keep | None, w: Any, state: dict, *slots: str) -> tuple[list[Any], bool]:
    """The arrays the kernel copies `w` and the `slots` into (placeholders: `w` itself and the
    state arrays, never written, when nothing is kept), and whether it copies."""
    if keep is None:
        return [w, *(state.get(s, w) for s in slots)], False
    w_copy, state_copy = keep
    return [w_copy, *(state_copy.get(s, w_copy) for s in slots)], True


@NumpyBackend.fuses(SGD)
def sgd(opt: SGD, w: Any, g: Any, state: dict, lr: float, keep: Keep | None = None) -> bool:
    m = state.get("momentum", g)  # without momentum: a placeholder the kernel never reads
    kept, copies = _kept(keep, w, state, "momentum")
    if not _fast(w, g, m, *kept):
        return False
    t = w.dtype.type
    wf, gf, mf, kwf, kmf = _flat(w, g, m, *kept)
    with _LOCK:
        kernels.optimizers.sgd(wf, gf, mf, kwf, kmf, t(lr), t(opt.momentum), opt.nesterov, copies)
    return True


@NumpyBackend.fuses(RMSprop)
def rmsprop(opt: RMSprop, w: Any, g: Any, state: dict, lr: float, keep: Keep | None = None) -> bool:
    v = state["velocity"]
    m = state.get("momentum", v)  # placeholders: left untouched
    a = state.get("average_gradient", v)
    kept, copies = _kept(keep, w, state, "velocity", "momentum", "average_gradient")
    if not _fast(w, g, v, m, a, *kept):
        return False
    t, rho = w.dtype.type, opt.rho
    wf, gf, vf, mf, af, kwf, kvf, kmf, kaf = _flat(w, g, v, m, a, *kept)
    with _LOCK:
        kernels.optimizers.rmsprop(
            wf,
            gf,
            vf,
            mf,
            af,
            kwf,
            kvf,
            kmf,
            kaf,
            t(lr),
            t(rho),
            t(1.0 - rho),
            t(opt.momentum),
            t(opt.epsilon),
            opt.centered,
            copies,
        )
    return True


@NumpyBackend.fuses(Adam)
def adam(opt: Adam, w: Any, g: Any, state: dict, lr: float, keep: Keep | None = None) -> bool:
    m, v = state["momentum"], state["velocity"]
    v_hat = state.get("velocity_hat", v)  # a placeholder without amsgrad: untouched
    kept, copies = _kept(keep, w, state, "momentum", "velocity", "velocity_hat")
    if not _fast(w, g, m, v, v_hat, *kept):
        return False
    t, b1, b2 = w.dtype.type, opt.beta_1, opt.beta_2
    wf, gf, mf, vf, v_hatf, kwf, kmf, kvf, kv_hatf = _flat(w, g, m, v, v_hat, *kept)
    with _LOCK:
        kernels.optimizers.adam(
            wf,
            gf,
            mf,
            vf,
            v_hatf,
            kwf,
            kmf,
            kvf,
            kv_hatf,
            t(opt.step_size(lr)),
            t(b1),
            t(1.0 - b1),
            t(b2),
            t(1.0 - b2),
            t(opt.epsilon),
            opt.amsgrad,
            copies,
        )
    return True
