"""Optional dependencies: which extra installs each, and one error that says so.

>>> from ndgrad._extras import extra_for
>>> extra_for("matplotlib.pyplot")
'viz'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

#: top-level module -> the extra of pyproject.toml that installs it
EXTRAS: dict[str, str] = {
    "tqdm": "progress",
    "matplotlib": "viz",
    "tensorboardX": "lab",
    "rich": "lab",
    "threadpoolctl": "threads",
    "ray": "distributed",
    "cupy": "cuda",
    "array_api_compat": "cuda",
    "array_api_strict": "strict",
}
#: how pip spells the modules whose distribution has another name
_DISTRIBUTIONS = {"cupy": "cupy-cuda12x", "array_api_strict": "array-api-strict",
                  "array_api_compat": "array-api-compat"}


def extra_for(module: str) -> str | None:
    """The extra that installs `module` (or its top-level package), None if none does."""
    return EXTRAS.get(module.split(".", 1)[0])


def missing(module: str, what: str) -> MissingExtraError:
    """The error for `what` needing `module`: ``"<what> needs matplotlib: pip install ..."``."""
    top = module.split(".", 1)[0]
    extra = extra_for(top)
    how = f"pip install 'ndgrad[{extra}]'" if extra else f"pip install {top}"
    return MissingExtraError(f"{what} needs {_DISTRIBUTIONS.get(top, top)}, which is not "
                             f"installed: {how}", name=top)


def require(module: str, what: str) -> ModuleType:
    """Import `module`, or raise `missing(module, what)` (a `MissingExtraError`)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if e.name is not None and e.name.split(".", 1)[0] != module.split(".", 1)[0]:
            raise  # the package is there but broken: its own error is the useful one
        raise missing(module, what) from e


def describe(e: ImportError) -> str | None:
    """One line for an ImportError of an optional dependency (this one or its cause), naming
    the extra to install; None when `e` is about something else."""
    seen: BaseException | None = e
    while isinstance(seen, ImportError):
        if isinstance(seen, MissingExtraError) or "pip install 'ndgrad[" in str(seen):
            return " ".join(str(seen).split())
        if seen.name is not None and extra_for(seen.name):
            return " ".join(str(missing(seen.name, "this command")).split())
        seen = seen.__cause__
    return None
