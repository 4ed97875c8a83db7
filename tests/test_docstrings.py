"""Every public callable has a docstring: what `ndgrad.__all__` and each public module's
`__all__` export (classes with their public methods and properties), and every public method
and property of `Tensor`, including those `ops/methods.py` attaches.

A method that overrides a documented one inherits its docstring (`inspect.getdoc`), as the
API reference shows it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator
from typing import Any

import ndgrad


def _public_modules() -> Iterator[types.ModuleType]:
    yield ndgrad
    for info in pkgutil.walk_packages(ndgrad.__path__, "ndgrad."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as e:  # an optional library (cupy) absent: not ndgrad's
            assert e.name is not None and not e.name.startswith("ndgrad"), e
            continue
        if hasattr(module, "__all__"):
            yield module


def _doc(obj: Any) -> str:
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    if inspect.isclass(obj) or isinstance(obj, property):
        return (obj.__doc__ or "").strip()  # a class documents itself, not by its base
    return (inspect.getdoc(obj) or "").strip()


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties `cls` defines itself."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if callable(value) or isinstance(value, (property, classmethod, staticmethod)):
            yield name, value


def undocumented(modules: Iterator[types.ModuleType]) -> list[str]:
    """The names of public callables (and properties) without a docstring."""
    missing, seen = [], set()

    def check(obj: Any, where: str) -> None:
        if id(obj) not in seen:
            seen.add(id(obj))
            if not _doc(obj):
                missing.append(where)

    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            check(obj, f"{module.__name__}.{name}")
            if inspect.isclass(obj) and obj.__module__.startswith("ndgrad"):
                for attr, value in _members(obj):
                    check(value, f"{module.__name__}.{name}.{attr}")
    return missing


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    assert undocumented(_public_modules()) == []


def test_every_public_tensor_method_and_property_has_a_docstring() -> None:
    names = [n for n in dir(ndgrad.Tensor) if not n.startswith("_")]
    assert {"sum", "reshape", "backward", "exp", "shape", "dtype", "T"} <= set(names)
    missing = []
    for name in names:
        value = inspect.getattr_static(ndgrad.Tensor, name)
        if (callable(value) or isinstance(value, property)) and not _doc(value):
            missing.append(name)
    assert missing == []


def test_the_check_finds_an_undocumented_function_method_and_property() -> None:
    module = types.ModuleType("ndgrad.fake")

    def documented() -> None:
        """Documented."""

    def bare() -> None:
        pass

    class Thing:
        """A class."""

        def method(self) -> None:
            pass

        @property
        def value(self) -> int:
            return 1

    Thing.__module__ = "ndgrad.fake"
    module.__dict__.update(documented=documented, bare=bare, Thing=Thing)
    module.__all__ = ["documented", "bare", "Thing"]
    assert undocumented(iter([module])) == [
        "ndgrad.fake.bare",
        "ndgrad.fake.Thing.method",
        "ndgrad.fake.Thing.value",
    ]
