"""A backend on the Array API standard alone: the fallback of every optional family.

`ArrayApiBackend` is the core contract (`backends/base.py`) plus one class per family module,
each written with standard functions only: `creation`, `indexing`, `math`, `nn`, `random`.
A new backend subclasses it and overrides, family by family, what its library does faster;
`strict.py` (array-api-strict, for portability tests) overrides nothing.
"""

from __future__ import annotations

from ..base import Backend
from .creation import Creation
from .indexing import Indexing
from .math import Math
from .nn import NN
from .random import Random

__all__ = ["ArrayApiBackend"]


class ArrayApiBackend(Creation, Indexing, Math, NN, Random, Backend):
    """Every primitive in standard functions: correct on any Array-API library, not fast."""
