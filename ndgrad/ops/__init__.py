"""All tensor operations.

Where an op goes (the rule; a new op follows it):

- Each `Op` class lives in the module of the public function that applies it.
- A module imports only the modules named before it in the next item (and `logits`, which
  imports no op), so ops import one way (tests/test_architecture.py checks the order).
- The module is chosen by what the op does to shapes: `elementwise` (each output element from
  the input elements at its position: arithmetic, comparisons, math, and the element-wise
  activations relu, sigmoid, gelu ...), `shape` (moves or copies elements: reshape, transpose,
  concatenate, pad ...), `reduce` (fewer elements: sum, mean, max, logsumexp ...), `linalg`
  (products: matmul, einsum ...), `index` (``t[i]`` and ``t[i] = v``), `convert` (dtype,
  device, copies, in-place arithmetic), `nn` (normalizations along an axis: softmax,
  log-softmax), `fused` (one node where a composition would be several, for speed or
  stability: linear, softmax cross-entropy), `windows` (the image-window shape rules and
  copies that pooling and convolution share: padding, im2col, col2im), `pooling` (window
  maxima and means, and max pooling's gradient route) and `conv` (convolution).
- `logits` records which logits a softmax or sigmoid output came from (for the losses);
  `methods` attaches Tensor's computing methods: Tensor itself imports no op.
"""

from .._tensor import Tensor as _Tensor
from .conv import conv2d
from .convert import astype, clone, inplace, to
from .elementwise import (
    abs,
    add,
    clip,
    cos,
    divide,
    elu,
    equal,
    erf,
    exp,
    floor_divide,
    gelu,
    greater,
    greater_equal,
    leaky_relu,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    power,
    relu,
    remainder,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    square,
    subtract,
    tanh,
    where,
)
from .fused import linear, sparse_softmax_cross_entropy
from .index import getitem, setitem
from .linalg import dot, einsum, matmul, outer, tensordot
from .methods import attach as _attach
from .nn import log_softmax, softmax
from .pooling import avg_pool2d, max_pool2d
from .reduce import argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .shape import (
    broadcast_to,
    concat,
    concatenate,
    expand_dims,
    flatten,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    tile,
    transpose,
    unsqueeze,
)

__all__ = [
    "mod",
    "remainder",
    "sparse_softmax_cross_entropy",
    "linear",
    "max_pool2d",
    "conv2d",
    "avg_pool2d",
    "abs",
    "add",
    "argmax",
    "argmin",
    "astype",
    "broadcast_to",
    "clip",
    "clone",
    "concat",
    "concatenate",
    "cos",
    "divide",
    "dot",
    "einsum",
    "elu",
    "equal",
    "erf",
    "exp",
    "expand_dims",
    "flatten",
    "floor_divide",
    "gelu",
    "getitem",
    "greater",
    "greater_equal",
    "inplace",
    "leaky_relu",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_softmax",
    "logical_and",
    "logical_not",
    "logical_or",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "outer",
    "pad",
    "permute",
    "power",
    "prod",
    "relu",
    "repeat",
    "reshape",
    "setitem",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "softplus",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "subtract",
    "sum",
    "sum_to",
    "swapaxes",
    "tanh",
    "tensordot",
    "tile",
    "to",
    "transpose",
    "unsqueeze",
    "var",
    "where",
]

_attach(_Tensor)  # t + u, t.sum(), t.backward() ...: see methods.py
