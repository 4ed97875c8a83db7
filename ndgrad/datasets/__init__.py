"""Small real and toy datasets as numpy arrays: ``mnist``, ``iris`` and ``dosage``."""

from . import dosage, iris, mnist

__all__ = ["dosage", "iris", "mnist"]
