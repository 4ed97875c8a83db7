"""Keras-style models: `Model` (subclass with `call`) and `Sequential`."""

from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential"]
