"""The exceptions ndgrad raises. Each subclasses the builtin a user would catch for it."""


class ShapeError(ValueError):
    """Shapes that do not fit an operation (broadcasting, matmul, reshape, layers)."""


class DTypeError(TypeError):
    """A dtype an operation cannot take (integer tensors requiring grad, unknown dtypes)."""


class DeviceError(RuntimeError):
    """Tensors on different devices in one op, or a device this machine does not have."""


class GraphError(RuntimeError):
    """Misuse of the autograd graph: freed graphs, in-place changes to saved tensors."""


class ModelFileError(ValueError):
    """A file `load_model` / `load_weights` cannot use: not written by ndgrad, truncated, or
    holding weights that do not fit the architecture it describes."""


class UsageError(ValueError):
    """A user mistake on the command line; the ``ndgrad`` command prints it as one line on
    stderr and exits with status 2, as argparse does."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it
    (``pip install 'ndgrad[viz]'``). The ``ndgrad`` command prints it as one line, exit 2."""
