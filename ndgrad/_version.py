"""The one place ndgrad's version is written: the package metadata (pyproject.toml reads it
through hatchling), ``ndgrad.__version__``, ``ndgrad --version`` and saved model files."""

__version__ = "0.1.0"
