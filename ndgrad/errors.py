"""The exceptions ndgrad raises. Each subclasses the builtin a user would catch for it."""


class ShapeError(ValueError):
    """Shapes that do not fit an operation (broadcasting, matmul, reshape, layers)."""


class DTypeError(TypeError):
    """A dtype an operation cannot take (integer tensors requiring grad, unknown dtypes)."""


class DeviceError(RuntimeError):
    """Tensors on different devices in one op, or a device this machine does not have."""


class GraphError(RuntimeError):
    """Misuse of the autograd graph: freed graphs, in-place changes to saved tensors."""
