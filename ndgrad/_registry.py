"""`Registry`: the one helper behind every name -> object lookup (optimizers, schedules, losses,
metrics, activations, initializers, layer classes).

A registry is a dict (names in registration order) that normalizes the name it is asked for
(``"Adam"`` -> ``"adam"``) and answers an unknown name with one kind of error: a ValueError
naming what was asked and listing every name it knows.

>>> from ndgrad._registry import Registry
>>> colours = Registry("colour", {"red": 1, "green": 2})
>>> colours.lookup("RED")
1
>>> colours.lookup("blue")
Traceback (most recent call last):
...
ValueError: unknown colour 'blue'. Valid names: green, red
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

#: The error for an unknown name. Fields: {kind}, {name} (its repr), {names} (sorted,
#: comma-separated), {quoted} (each name's repr, in registration order) and any context
#: `lookup` is given. Registries whose callers rely on Keras's wording pass their own.
UNKNOWN = "unknown {kind} {name}. Valid names: {names}"


def _lower(name: Any) -> str:
    return str(name).lower()


class Registry(dict[str, T]):
    """Names -> objects of one `kind`, with `lookup`, `register` and `name_of`."""

    def __init__(
        self,
        kind: str,
        entries: Mapping[str, T] | Iterable[tuple[str, T]] = (),
        *,
        normalize: Callable[[Any], Any] | None = _lower,
        message: str = UNKNOWN,
    ) -> None:
        super().__init__(entries)
        self.kind = kind
        self.normalize = normalize
        self.message = message

    def lookup(self, name: Any, **context: Any) -> T:
        """The object registered as `name` (normalized first); a ValueError listing the known
        names otherwise."""
        key = self.normalize(name) if self.normalize is not None else name
        try:
            return self[key]
        except (KeyError, TypeError):  # TypeError: an unhashable name (normalize=None)
            raise ValueError(self.unknown(name, **context)) from None

    def unknown(self, name: Any, **context: Any) -> str:
        """The message for a name this registry does not know."""
        return self.message.format(
            kind=self.kind,
            name=repr(name),
            names=", ".join(sorted(self)),
            quoted=self.quoted(),
            **context,
        )

    def quoted(self) -> str:
        """The known names, each quoted, in registration order: ``'sgd', 'adam'``."""
        return ", ".join(repr(n) for n in self)

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """A decorator that registers its argument as `name` (default: its ``__name__``)."""

        def add(obj: T) -> T:
            self[name if name is not None else obj.__name__] = obj  # type: ignore[attr-defined]
            return obj

        return add

    def name_of(self, obj: Any, default: str | None = None) -> str | None:
        """The first name `obj` is registered under (identity), else `default`."""
        for name, value in self.items():
            if value is obj:
                return name
        return default
