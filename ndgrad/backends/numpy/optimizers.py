"""The NumPy backend's fused optimizer updates: one compiled pass per weight array.

Each function is registered for an optimizer class with ``@NumpyBackend.fuses(Class)`` and
computes that class's `update` (same formulas, same order of operations, in the weights'
dtype) with a numba loop of `kernels/optimizers.py`. It returns False, and the optimizer runs
its own array-API `update`, unless the kernels are on and every array is float32, C-contiguous
and large enough. This module names the optimizer classes it fuses, so it sits above
`ndgrad.optimizers`: the device registry imports it when it creates the first cpu device
(`registry._register_fused_updates`), and `ndgrad/__init__` imports it; nothing else does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...optimizers.adam import Adam
from ...optimizers.rmsprop import RMSprop
from ...optimizers.sgd import SGD
from . import _LOCK, NumpyBackend, _fast, kernels


def _ready(*arrays: np.ndarray) -> bool:
    return _fast(*arrays) and all(a.flags.c_contiguous for a in arrays)


def _flat(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.reshape(-1) for a in arrays]


@NumpyBackend.fuses(SGD)
def sgd(opt: SGD, w: Any, g: Any, state: dict, lr: float) -> bool:
    m = state.get("momentum", g)  # without momentum: a placeholder the kernel never reads
    if not _ready(w, g, m):
        return False
    t = w.dtype.type
    wf, gf, mf = _flat(w, g, m)
    with _LOCK:
        kernels.optimizers.sgd(wf, gf, mf, t(lr), t(opt.momentum), opt.nesterov)
    return True


@NumpyBackend.fuses(RMSprop)
def rmsprop(opt: RMSprop, w: Any, g: Any, state: dict, lr: float) -> bool:
    v = state["velocity"]
    m = state.get("momentum", v)  # placeholders: left untouched
    a = state.get("average_gradient", v)
    if not _ready(w, g, v, m, a):
        return False
    t, rho = w.dtype.type, opt.rho
    wf, gf, vf, mf, af = _flat(w, g, v, m, a)
    with _LOCK:
        kernels.optimizers.rmsprop(
            wf,
            gf,
            vf,
            mf,
            af,
            t(lr),
            t(rho),
            t(1.0 - rho),
            t(opt.momentum),
            t(opt.epsilon),
            opt.centered,
        )
    return True


@NumpyBackend.fuses(Adam)
def adam(opt: Adam, w: Any, g: Any, state: dict, lr: float) -> bool:
    m, v = state["momentum"], state["velocity"]
    v_hat = state.get("velocity_hat", v)  # a placeholder without amsgrad: untouched
    if not _ready(w, g, m, v, v_hat):
        return False
    t, b1, b2 = w.dtype.type, opt.beta_1, opt.beta_2
    wf, gf, mf, vf, v_hatf = _flat(w, g, m, v, v_hat)
    with _LOCK:
        kernels.optimizers.adam(
            wf,
            gf,
            mf,
            vf,
            v_hatf,
            t(opt.step_size(lr)),
            t(b1),
            t(1.0 - b1),
            t(b2),
            t(1.0 - b2),
            t(opt.epsilon),
            opt.amsgrad,
        )
    return True
