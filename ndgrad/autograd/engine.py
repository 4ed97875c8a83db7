"""Reverse-mode differentiation over the recorded graph.

`backward` walks the graph once to count, for every node, how many consumers will send it a
gradient; then it runs nodes in an order where each one's gradient is complete (iterative
child-count topological sort: no recursion, so a 100,000-op chain is fine). Each node's gradient
is dropped as soon as it is used. Every input gradient is summed back to its input's shape and
cast to its dtype here, in one place, so op authors write ``g * y`` and never unbroadcast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from .._tensor import wrap
from ..creation import tensor
from ..errors import GraphError, ShapeError
from .grad_mode import _enabled


def _seed(root: Any, grad: Any) -> Any:
    if grad is None:
        if root.data.size != 1:
            raise ShapeError(
                "backward: a gradient can be created implicitly only for a tensor with one "
                f"element. Received shape={root.shape}; pass backward(gradient) of that shape"
            )
        ones = root.backend.asarray(1, root.dtype)  # on the root's device
        if root.data.ndim:
            ones = root.backend.xp.reshape(ones, root.data.shape)
        return wrap(ones, root.backend)
    if not isinstance(grad, type(root)):
        grad = tensor(grad, dtype=root.dtype, device=root.backend)
    elif grad.dtype is not root.dtype:
        grad = grad.astype(root.dtype)
    if grad.shape != root.shape:
        raise ShapeError(
            f"backward: gradient shape {grad.shape} does not match the tensor's shape {root.shape}"
        )
    return grad


@overload
def backward(
    roots: Sequence[Any],
    grads: Sequence[Any] | None = None,
    *,
    inputs: None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None: ...
@overload
def backward(
    roots: Sequence[Any],
    grads: Sequence[Any] | None = None,
    *,
    inputs: Sequence[Any],
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> list[Any]: ...
def backward(
    roots: Sequence[Any],
    grads: Sequence[Any] | None = None,
    *,
    inputs: Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> list[Any] | None:
    """Backpropagate from `roots` (seeded with `grads`, default ones for one-element roots).

    Without `inputs`, gradients accumulate into ``.grad`` of every leaf that requires grad and
    None is returned. With `inputs`, nothing is accumulated: the gradients of those tensors are
    returned (None where a tensor does not depend on the roots). `retain_graph` defaults to
    `create_graph`: the gradients' own graph reuses the nodes of this one (as PyTorch).
    """
    if retain_graph is None:
        retain_graph = create_graph
    if grads is None:
        grads = (None,) * len(roots)
    elif len(grads) != len(roots):
        raise ValueError(
            f"backward: {len(roots)} tensors and {len(grads)} gradients; pass one gradient "
            f"(or None) per tensor"
        )
    stored: set[int] = {id(g) for g in grads if g is not None}  # never share a .grad object
    if inputs is None:
        wanted: dict[int, list[int]] = {}
        out_nodes: dict[Any, list[int]] = {}
        found: list[Any] = []
    else:
        wanted = {}  # id of a requested tensor -> its positions in `inputs`
        for i, t in enumerate(inputs):
            wanted.setdefault(id(t), []).append(i)
        # Non-leaf requested tensors get their gradient when their node runs.
        out_nodes = {t._node: wanted[id(t)] for t in inputs if t._node is not None}
        found = [None] * len(inputs)

    def deliver(t: Any, g: Any) -> None:
        """A leaf's gradient: into its .grad, or into `found` where it was requested."""
        if inputs is None:
            if t._requires_grad:
                if t.backend.needs_activation:  # the copy and sum run on the leaf's device
                    with t.backend.activate():
                        _accumulate(t, g, stored, create_graph)
                else:
                    _accumulate(t, g, stored, create_graph)
            return
        for i in wanted.get(id(t), ()):
            found[i] = g if found[i] is None else found[i] + g

    token = _enabled.set(create_graph)
    try:
        pending: dict[Any, Any] = {}  # node -> the sum of the gradients it has received
        for root, grad in zip(roots, grads):
            if not root._requires_grad and id(root) not in wanted:
                raise GraphError(
                    "backward: the tensor does not require grad and has no grad_fn; make an "
                    "input require grad (requires_grad=True) before computing it"
                )
            g = _seed(root, grad)
            node = root._node
            if node is None:
                deliver(root, g)
            else:
                pending[node] = pending[node] + g if node in pending else g
        counts = _count_consumers(pending)
        ready = [n for n in pending if n not in counts]

        # Run each node once all its consumers have sent their gradients.
        while ready:
            node = ready.pop()
            g = pending.pop(node, None)
            xs, needs = node.inputs, node.needs_grad
            if g is None:  # its consumers sent no gradient: its inputs get none either
                gxs = (None,) * len(xs)
            else:
                for x, saved in zip(xs, node._saved_versions):
                    if x._version[0] != saved:
                        raise _modified(node, x, saved)
                if node.uses_output and node._out_version[0] != 0:
                    raise GraphError(
                        f"backward: the output of {node!r}, which its gradient needs, was "
                        f"modified in place. Compute on a copy (x.clone()) instead"
                    )
                if node in out_nodes:  # a node runs once: g is complete
                    for i in out_nodes[node]:
                        found[i] = g
                backend = node.backend
                if backend.needs_activation:  # the rule runs on the node's device (CuPy)
                    with backend.activate():
                        gxs = node.backward(g)
                else:
                    gxs = node.backward(g)
                if len(gxs) != len(xs):
                    raise GraphError(
                        f"backward: {node!r} returned {len(gxs)} gradients for {len(xs)} "
                        f"inputs; an op's backward returns one (or None) per input"
                    )
            for x, need, gx in zip(xs, needs, gxs):
                if not need:
                    continue
                parent = x._node
                if gx is not None:
                    data = gx.data
                    if data.shape != x.data.shape:
                        gx = gx.sum_to(x.data.shape)
                        data = gx.data
                    if data.dtype != x.data.dtype:
                        gx = gx.astype(x.dtype)
                    if parent is None:
                        deliver(x, gx)
                    elif parent in pending:
                        pending[parent] = pending[parent] + gx
                    else:
                        pending[parent] = gx
                if parent is not None:
                    left = counts[parent] - 1
                    counts[parent] = left
                    if left == 0:
                        ready.append(parent)
            if not retain_graph:
                node.__dict__.clear()
                node.inputs = None
    finally:
        _enabled.reset(token)
    return found if inputs is not None else None


def _count_consumers(starts: Any) -> dict[Any, int]:
    """For every node reachable from `starts`, how many consumers send it a gradient."""
    counts: dict[Any, int] = {}
    stack = list(starts)
    first = set(stack)  # the starting nodes are on the stack already
    while stack:
        node = stack.pop()
        inputs = node.inputs
        if inputs is None:
            raise GraphError(
                "backward: this graph was already freed by an earlier backward. Pass "
                "retain_graph=True to the first backward to backpropagate through it again"
            )
        for x, need in zip(inputs, node.needs_grad):
            if need:
                parent = x._node
                if parent is None:
                    continue
                if parent in counts:
                    counts[parent] += 1
                else:  # found for the first time: its own inputs are counted next
                    counts[parent] = 1
                    if parent not in first:
                        stack.append(parent)
    return counts


def _modified(node: Any, x: Any, saved: int) -> GraphError:
    return GraphError(
        f"backward: a tensor of shape {x.shape} that {node!r} saved was modified in place "
        f"(version {x._version[0]}, saved at version {saved}). Compute on a copy "
        f"(x.clone()) or modify it only after backward"
    )


def _accumulate(t: Any, g: Any, stored: set[int], create_graph: bool) -> None:
    """Add `g` into the leaf's ``.grad`` (a fresh array when `g` was handed out elsewhere)."""
    if t.grad is None:
        if id(g) in stored:  # e.g. add's g, g: two leaves, two arrays
            g = (
                g.clone()
                if create_graph
                else wrap(t.backend.xp.asarray(g.data, copy=True), t.backend)
            )
        stored.add(id(g))
        t.grad = g
    elif create_graph:
        t.grad = t.grad + g
    else:  # plain arrays: no graph is wanted for the sum
        t.grad = wrap(t.grad.data + g.data, t.backend)
