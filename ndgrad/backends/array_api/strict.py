"""A backend on `array-api-strict`, the reference Array API namespace.

It stands in for a device whose arrays are not NumPy arrays: its arrays live on
``array_api_strict.Device("device1")``, where NumPy refuses to convert them, so any NumPy-only
call in an op fails on it. Tests run the whole op and autodiff suite on it; it is not fast.
"""

from __future__ import annotations

from typing import Any

import array_api_strict

from ..base import Backend


class StrictBackend(Backend):
    kind = "strict"
    xp = array_api_strict
    host_reads_free = True

    def _native_device(self) -> Any:
        return array_api_strict.Device("device1")
