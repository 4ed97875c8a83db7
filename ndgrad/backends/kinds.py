"""The device kinds ndgrad knows, in one table: the registry, `devices()`, the errors and the
command line's help all read it.

A kind names its backend's package under ``ndgrad/backends/`` (found by that name when a device
of the kind is first used), whether its devices are numbered (``cuda:0``), the array library
whose arrays live on it (to recognise them), and what to install for it. A new backend is a
package with the family modules (see ``backends/base.py``) and one row here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "DeviceKind", "device_examples", "device_help"]


@dataclass(frozen=True)
class DeviceKind:
    name: str  #: the device string's kind: "cpu" in "cpu", "cuda" in "cuda:1"
    package: str  #: its backend, a module under ndgrad.backends
    backend: str  #: the Backend subclass in that module
    numbered: bool  #: several devices, "kind:N" (else one, named by the kind alone)
    library: str | None  #: top-level module of the arrays that live there (None: host data)
    needs: str  #: what makes it available

    def device_name(self, index: int) -> str:
        """The device's name: ``cuda:1`` for a numbered kind, else the kind (``cpu``)."""
        return f"{self.name}:{index}" if self.numbered else self.name


#: in the order `ndgrad.devices()` lists them; errors and help name them alphabetically
KINDS: dict[str, DeviceKind] = {
    k.name: k
    for k in (
        DeviceKind("cpu", "numpy", "NumpyBackend", False, None, "NumPy"),
        DeviceKind(
            "strict",
            "array_api.strict",
            "StrictBackend",
            False,
            "array_api_strict",
            "the array-api-strict package: pip install 'ndgrad[strict]'",
        ),
        DeviceKind("cuda", "cupy", "CupyBackend", True, "cupy", "ndgrad[cuda] and an NVIDIA GPU"),
    )
}


def _join(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


def device_examples() -> str:
    """The device strings, quoted, for errors: 'cpu', 'cuda', 'cuda:1' or 'strict'."""
    out: list[str] = []
    for k in sorted(KINDS.values(), key=lambda k: k.name):
        out += [repr(k.name)] + ([repr(f"{k.name}:1")] if k.numbered else [])
    return _join(out)


def device_help() -> str:
    """The device strings for a command's help: cpu, cuda, cuda:N or strict."""
    out: list[str] = []
    for k in sorted(KINDS.values(), key=lambda k: k.name):
        out += [k.name] + ([f"{k.name}:N"] if k.numbered else [])
    return _join(out)
