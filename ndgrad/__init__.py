"""ndgrad: neural-network tensors you can read end to end.

Tensors with NumPy semantics, reverse-mode autodiff, layers, optimizers and Keras-style training.

>>> import ndgrad
>>> x = ndgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.], shape=(3,), dtype=float32)
"""

from . import (
    activations,
    callbacks,
    cuda,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    ops,
    optimizers,
)
from ._dtypes import DType, bool_, float16, float32, float64, int32, int64, uint8
from ._shapes import broadcast_shapes
from ._tensor import Tensor
from ._threads import get_num_threads, set_num_threads
from ._version import __version__ as __version__  # written there only
from .autograd import (
    GradcheckError,
    GradientTape,
    enable_grad,
    grad,
    gradcheck,
    gradgradcheck,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    value_and_grad,
)
from .backends import device, devices
from .backends.numpy import optimizers as _numpy_optimizers  # noqa: F401  (fused updates)
from .creation import (
    arange,
    eye,
    from_dlpack,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .errors import DeviceError, DTypeError, GraphError, ShapeError
from .models import Model, Sequential
from .ops import *  # noqa: F403  (every op function: ndgrad.relu, ndgrad.matmul, ...)
from .random import manual_seed, normal, permutation, rand, randint, randn, uniform
from .saving import load_model

__all__ = [  # and every op function, appended from ops.__all__ below
    "DType",
    "DTypeError",
    "DeviceError",
    "GradcheckError",
    "GradientTape",
    "GraphError",
    "Model",
    "Sequential",
    "ShapeError",
    "Tensor",
    "activations",
    "arange",
    "bool_",
    "broadcast_shapes",
    "callbacks",
    "cuda",
    "datasets",
    "device",
    "devices",
    "enable_grad",
    "eye",
    "from_dlpack",
    "float16",
    "float32",
    "float64",
    "full",
    "full_like",
    "get_num_threads",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "initializers",
    "int32",
    "int64",
    "is_grad_enabled",
    "layers",
    "linspace",
    "load_model",
    "losses",
    "manual_seed",
    "metrics",
    "no_grad",
    "normal",
    "ones",
    "ones_like",
    "ops",
    "optimizers",
    "permutation",
    "rand",
    "randint",
    "randn",
    "set_grad_enabled",
    "set_num_threads",
    "tensor",
    "uint8",
    "uniform",
    "value_and_grad",
    "zeros",
    "zeros_like",
]
__all__ += ops.__all__
