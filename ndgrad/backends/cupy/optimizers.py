"""The CuPy backend's fused optimizer updates: one kernel launch per weight array and step.

Each function is registered for an optimizer class with ``@CupyBackend.fuses(Class)`` and
computes that class's `update` (same formulas, same order of operations, in the weights'
dtype) with a kernel of `kernels.py`; it returns False, and the optimizer runs its own
array-API `update`, unless every array is float32 or float64, of one dtype and one shape.
Given `keep` (`Optimizer.keep_next`), it copies the weight and state into it first. The
registry imports this module when it creates the first CUDA device (it names the optimizer
classes, so it sits above `ndgrad.optimizers`, as the NumPy backend's does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...optimizers.adam import Adam
from ...optimizers.optimizer import Keep, keep_copy
from ...optimizers.rmsprop import RMSprop
from ...optimizers.sgd import SGD
from . import CupyBackend, kernels

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _takes(w: Any, *others: Any) -> bool:
    return w.dtype in _FLOATS and all(a.dtype == w.dtype and a.shape == w.shape for a in others)


@CupyBackend.fuses(SGD)
def sgd(opt: SGD, w: Any, g: Any, state: dict, lr: float, keep: Keep | None = None) -> bool:
    m = state.get("momentum")
    if not _takes(w, g, *([m] if m is not None else [])):
        return False
    if keep is not None:
        keep_copy(keep, w, state)
    t = w.dtype.type
    if m is None:
        kernels.sgd(False, False)(g, t(lr), w)
    else:
        kernels.sgd(True, opt.nesterov)(g, t(lr), t(opt.momentum), w, m)
    return True


@CupyBackend.fuses(RMSprop)
def rmsprop(opt: RMSprop, w: Any, g: Any, state: dict, lr: float, keep: Keep | None = None) -> bool:
    v, m, a = state["velocity"], state.get("momentum"), state.get("average_gradient")
    extra = [x for x in (m, a) if x is not None]
    if not _takes(w, g, v, *extra):
        return False
    if keep is not None:
        keep_copy(keep, w, state)
    t, rho = w.dtype.type, opt.rho
    kernel = kernels.rmsprop(m is not None, a is not None)
    kernel(g, t(lr), t(rho), t(1.0 - rho), t(opt.momentum), t(opt.epsilon), w, v, *extra)
    return True


@CupyBackend.fuses(Adam)
def adam(opt: Adam, w: Any, g: Any, state: dict, lr: float, keep: Keep | None = None) -> bool:
    m, v, v_hat = state["momentum"], state["velocity"], state.get("velocity_hat")
    extra = [v_hat] if v_hat is not None else []
    if not _takes(w, g, m, v, *extra):
        return False
    if keep is not None:
        keep_copy(keep, w, state)
    t, b1, b2 = w.dtype.type, opt.beta_1, opt.beta_2
    kernels.adam(v_hat is not None)(
        g, t(opt.step_size(lr)), t(b1), t(1.0 - b1), t(b2), t(1.0 - b2), t(opt.epsilon),
        w, m, v, *extra,
    )  # fmt: skip
    return True
