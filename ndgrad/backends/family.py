"""`Family`: what a backend's family mixins may call on the backend they are part of.

A family (`array_api/indexing.py`'s `Indexing`, `numpy/nn.py`'s `NumpyNN` ...) is a mixin: its
methods run on a whole backend (`base.Backend` or a subclass), and call that backend's core
(`base.Core`) and its other families. `Family` declares those for the type checker, so that
each family is checked against them; at run time it is `object` (it adds nothing to a class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any, Protocol

    import numpy as np

    from .._dtypes import DType

    class Family(Protocol):
        """The core (`base.Core`) and the members one family calls of another."""

        xp: Any
        name: str
        native_device: Any
        to_native: dict[DType, Any]
        from_native: dict[Any, DType]

        def activate(self) -> AbstractContextManager[Any]: ...
        def asarray(
            self, data: Any, dtype: DType | None = None, copy: bool | None = None
        ) -> Any: ...
        def is_array(self, obj: Any) -> bool: ...
        def from_numpy(self, array: np.ndarray) -> Any: ...
        def to_numpy(self, array: Any) -> np.ndarray: ...
        def seed(self, seed: int | None) -> None: ...
        def add_into(self, out: Any, index: tuple, values: Any) -> None: ...
        def masked(self, values: Any, mask: Any) -> Any: ...
        def relu_(self, array: Any) -> None: ...
        def sum(self, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any: ...

else:
    Family = object
