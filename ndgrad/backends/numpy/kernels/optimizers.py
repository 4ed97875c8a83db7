"""Optimizer updates: weights and state in one parallel pass per weight array (flat, in place).

The formulas are the optimizers' own, in the same order of operations (see their docstrings
in `ndgrad/optimizers/`). Callers pass the coefficients as scalars of the weights' dtype, so
float32 weights are updated in float32 arithmetic, as the NumPy reference does.
"""

from __future__ import annotations

import math

import numba


@numba.njit(parallel=True, fastmath=False, cache=True)
def sgd(w, g, m, lr, momentum, nesterov):  # pragma: no cover - compiled
    for i in numba.prange(w.size):
        s = g[i] * lr
        if momentum > 0:
            mi = m[i] * momentum - s
            m[i] = mi
            if nesterov:
                w[i] = w[i] - s + mi * momentum
            else:
                w[i] += mi
        else:
            w[i] -= s


@numba.njit(parallel=True, fastmath=False, cache=True)
def rmsprop(w, g, v, m, a, lr, rho, rho1, momentum, eps, centered):  # pragma: no cover
    for i in numba.prange(w.size):
        gi = g[i]
        vi = v[i] * rho + gi * gi * rho1
        v[i] = vi
        d = vi
        if centered:
            ai = a[i] * rho + gi * rho1
            a[i] = ai
            d = vi - ai * ai
        inc = gi / math.sqrt(d + eps) * lr
        if momentum > 0:
            mi = m[i] * momentum + inc
            m[i] = mi
            w[i] -= mi
        else:
            w[i] -= inc


@numba.njit(parallel=True, fastmath=False, cache=True)
def adam(w, g, m, v, vhat, alpha, b1, b1c, b2, b2c, eps, amsgrad):  # pragma: no cover
    for i in numba.prange(w.size):
        gi = g[i]
        mi = m[i] * b1 + gi * b1c
        vi = v[i] * b2 + gi * gi * b2c
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = max(vhat[i], vi)
            vhat[i] = vi
        w[i] -= mi / (math.sqrt(vi) + eps) * alpha
