"""The backward engine: accumulation, seeding, deep graphs, freed graphs, version counters,
grad mode, detach, skipped work for inputs that need no gradient, and indexing gradients."""

from __future__ import annotations

import re
import threading
import weakref

import numpy as np
import pytest

import ndgrad
from ndgrad.ops.linalg import Matmul


def _t(values: object, backend: str, grad: bool = True, dtype: str = "float32") -> ndgrad.Tensor:
    return ndgrad.tensor(values, dtype=dtype, device=backend, requires_grad=grad)


# -- .backward() and .grad -----------------------------------------------------------------------
def test_backward_accumulates_into_grad(backend: str) -> None:
    x = _t([1.0, 2.0, 3.0], backend)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    assert x.grad.device == backend and x.grad.dtype is ndgrad.float32
    (x * 3.0).sum().backward()  # a second graph: gradients add up
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    x.zero_grad()
    assert x.grad is None


def test_gradients_are_not_kept_on_intermediates(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    z = (y * y).sum()
    z.backward()
    assert y.grad is None and z.grad is None
    assert not y.is_leaf and x.is_leaf
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0])


def test_a_tensor_used_twice_gets_both_contributions(backend: str) -> None:
    x = _t(3.0, backend)
    y = x * x + x * 2.0 + x.exp() * 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(8.0)


def test_non_scalar_backward_needs_a_gradient(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 3.0
    with pytest.raises(ndgrad.ShapeError, match=r"one element.*\(2,\)"):
        y.backward()
    y.backward(ndgrad.tensor([1.0, 10.0], device=backend), retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 30.0])
    y.backward([1.0, 1.0])  # array-likes are accepted too
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 33.0])


def test_one_element_tensors_seed_with_one(backend: str) -> None:
    x = _t([[2.0]], backend)
    (x * 5.0).backward()
    assert x.grad.shape == (1, 1) and x.grad.item() == 5.0


def test_backward_of_a_tensor_without_graph_is_an_error(backend: str) -> None:
    x = _t([1.0], backend, grad=False)
    with pytest.raises(ndgrad.GraphError, match="requires_grad"):
        (x * 2.0).backward()


def test_leaf_backward_delivers_the_seed(backend: str) -> None:
    x = _t(2.0, backend)
    x.backward()
    assert x.grad.item() == 1.0


# -- deep graphs ---------------------------------------------------------------------------------
def test_a_100000_op_chain_backpropagates_without_recursion(backend: str) -> None:
    x = _t(1.5, backend)
    y = x
    for _ in range(100_000):
        y = -y
    y.backward()  # a recursive toposort would overflow the stack
    assert x.grad.item() == 1.0
    assert y.grad_fn.inputs is None  # the graph was released as it was used


def test_deleting_a_100000_op_graph_does_not_recurse(backend: str) -> None:
    x = _t(1.5, backend)
    y = x
    for _ in range(100_000):
        y = -y
    probe = weakref.ref(y.grad_fn)
    del y  # freeing the chain must not exhaust the C stack
    assert probe() is None
    assert x.grad is None


def test_the_output_is_held_weakly_by_its_node(backend: str) -> None:
    x = _t([1.0], backend)
    y = x.exp()
    node = y.grad_fn
    assert node.out is y
    out = weakref.ref(y)
    data = y.data
    del y
    assert out() is None  # freed by reference counting alone: no cycle
    rebuilt = node.out  # backward can still have it: same array, same node
    assert rebuilt.data is data and rebuilt.grad_fn is node


@pytest.mark.parametrize("fn", ["exp", "tanh", "sigmoid", "sqrt", "relu", "softmax"])
def test_ops_reusing_their_output_work_when_it_was_freed_first(backend: str, fn: str) -> None:
    x = _t([0.5, 1.5], backend, dtype="float64")
    getattr(ndgrad, fn)(x).sum().backward()  # the output lives only in the sum's node
    y = getattr(ndgrad, fn)(x.detach().requires_grad_())
    want = ndgrad.grad(lambda t: (getattr(ndgrad, fn)(t) * 1.0).sum())(x.detach())
    assert y.requires_grad
    np.testing.assert_allclose(x.grad.numpy(), want.numpy())


# -- freed graphs ----------------------------------------------------------------------------------
def test_second_backward_through_a_freed_graph_is_an_error(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = (x.exp() * x).sum()
    y.backward()
    freed = (
        "backward: this graph was already freed by an earlier backward. Pass retain_graph=True "
        "to the first backward to backpropagate through it again"
    )
    with pytest.raises(ndgrad.GraphError, match=f"^{re.escape(freed)}$"):
        y.backward()


def test_retain_graph_allows_a_second_backward(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])), rtol=1e-6)


def test_create_graph_gives_a_differentiable_gradient(backend: str) -> None:
    x = _t([0.5, -1.0], backend, dtype="float64")
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.numpy(), 3 * np.array([0.5, -1.0]) ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.0]))


# -- in-place modification ---------------------------------------------------------------------
def test_in_place_add_on_a_saved_tensor_is_a_graph_error(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    z = (y * y).sum()  # saves y
    y += 1.0
    with pytest.raises(ndgrad.GraphError, match="modified in place"):
        z.backward()


def test_the_in_place_error_names_the_tensor_the_node_and_the_versions(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    z = (y * y).sum()
    y += 1.0
    y += 1.0
    want = (
        "backward: a tensor of shape (2,) that <MultiplyBackward> saved was modified in place "
        "(version 2, saved at version 0). Compute on a copy (x.clone()) or modify it only "
        "after backward"
    )
    with pytest.raises(ndgrad.GraphError, match=f"^{re.escape(want)}$"):
        z.backward()


def test_setitem_on_a_saved_tensor_is_a_graph_error(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    z = (y * y).sum()
    y[0] = 5.0
    with pytest.raises(ndgrad.GraphError, match="modified in place"):
        z.backward()


def test_modifying_through_a_view_is_a_graph_error(backend: str) -> None:
    x = _t([[1.0, 2.0], [3.0, 4.0]], backend)
    y = x * 2.0
    view = y.reshape(4)
    z = (y * y).sum()
    with pytest.raises(ndgrad.GraphError, match="view of a tensor that requires grad"):
        view[1] = 0.0  # recorded, this write would never reach y's gradient
    with ndgrad.no_grad():
        view[1] = 0.0  # changes y's memory too
    np.testing.assert_allclose(y.numpy(), [[2.0, 0.0], [6.0, 8.0]])
    with pytest.raises(ndgrad.GraphError, match="modified in place"):
        z.backward()


def test_modifying_an_output_its_backward_needs_is_a_graph_error(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x.exp()  # exp's backward reads its output
    loss = y.sum()
    with ndgrad.no_grad():
        y[0] = 0.0
    with pytest.raises(ndgrad.GraphError):
        loss.backward()


def test_in_place_on_an_unsaved_result_is_recorded(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    y *= 3.0  # recorded: y now has the Multiply node of the in-place product
    y += x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])


def test_in_place_on_a_leaf_that_requires_grad_is_an_error(backend: str) -> None:
    w = _t([1.0, 2.0], backend)
    with pytest.raises(ndgrad.GraphError, match="no_grad"):
        w += 1.0
    with pytest.raises(ndgrad.GraphError, match="leaf"):
        w[0] = 3.0
    with ndgrad.no_grad():  # the optimizer's way
        w -= 0.5
        w[1] = 7.0
    np.testing.assert_allclose(w.numpy(), [0.5, 7.0])
    assert w.is_leaf and w.requires_grad


def test_in_place_without_grad_keeps_the_memory(backend: str) -> None:
    a = _t([1.0, 2.0, 3.0], backend, grad=False)
    view = a[1:]
    a += 10.0
    np.testing.assert_allclose(view.numpy(), [12.0, 13.0])  # NumPy semantics: views see it
    with pytest.raises(ndgrad.DTypeError):
        i = ndgrad.tensor([1, 2], device=backend)
        i += 0.5  # a float result cannot be stored in an int tensor


# -- grad mode and detach -------------------------------------------------------------------------
def test_no_grad_context(backend: str) -> None:
    x = _t([1.0], backend)
    assert ndgrad.is_grad_enabled()
    with ndgrad.no_grad():
        assert not ndgrad.is_grad_enabled()
        y = x * 2.0
        with ndgrad.enable_grad():
            z = x * 2.0
    assert ndgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_decorator(backend: str) -> None:
    @ndgrad.no_grad()
    def predict(t: ndgrad.Tensor) -> ndgrad.Tensor:
        return t * 2.0

    x = _t([1.0], backend)
    assert not predict(x).requires_grad
    assert (x * 2.0).requires_grad
    with ndgrad.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad


def test_grad_mode_is_per_thread() -> None:
    seen = []
    with ndgrad.no_grad():
        thread = threading.Thread(target=lambda: seen.append(ndgrad.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_detach(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_allclose(d.numpy(), y.numpy())
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])  # no path through d
    d2 = y.detach()
    z = (y * y).sum()
    d2 += 1.0  # shares memory and version counter with y
    with pytest.raises(ndgrad.GraphError):
        z.backward()


def test_requires_grad_false_on_a_non_leaf_is_an_error(backend: str) -> None:
    y = _t([1.0], backend) * 2.0
    with pytest.raises(ndgrad.GraphError, match="detach"):
        y.requires_grad_(False)


# -- no work for what needs no gradient ------------------------------------------------------------
def test_matmul_backward_skips_inputs_that_need_no_gradient(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _t(np.ones((4, 3)), backend)
    x = _t(np.ones((5, 4)), backend, grad=False)  # the data: no gradient wanted
    y = x @ w
    node = y.grad_fn
    assert node.needs_grad == (False, True)
    calls = []
    forward = Matmul.forward

    def counting(self: Matmul, xp: object, a: object, b: object) -> object:
        calls.append((tuple(a.shape), tuple(b.shape)))
        return forward(self, xp, a, b)

    monkeypatch.setattr(Matmul, "forward", counting)
    gx, gw = node.backward(ndgrad.ones((5, 3), device=backend))
    assert gx is None and gw.shape == (4, 3)
    assert calls == [((4, 5), (5, 3))]  # only x.T @ g, no g @ w.T
    calls.clear()
    y.sum().backward()
    assert len(calls) == 1
    assert x.grad is None and w.grad.shape == (4, 3)
    np.testing.assert_allclose(w.grad.numpy(), np.full((4, 3), 5.0))


def test_nothing_is_recorded_without_an_input_requiring_grad(backend: str) -> None:
    x = _t([1.0], backend, grad=False)
    y = (x * 2.0).exp()
    assert y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize("op", ["multiply", "divide", "subtract"])
def test_binary_backward_returns_none_for_a_constant_side(backend: str, op: str) -> None:
    x = _t([1.0, 2.0], backend)
    c = _t([3.0, 4.0], backend, grad=False)
    y = getattr(ndgrad, op)(x, c)
    assert y.grad_fn.needs_grad == (True, False)
    gx, gc = y.grad_fn.backward(ndgrad.ones(2, device=backend))
    assert gc is None and gx is not None


# -- seeding ------------------------------------------------------------------------------------
def test_manual_seed_makes_random_tensors_reproducible(backend: str) -> None:
    def draw() -> list:
        return [
            ndgrad.randn(3, device=backend).numpy(),
            ndgrad.rand(2, 2, device=backend).numpy(),
            ndgrad.uniform(4, low=-1.0, high=1.0, device=backend).numpy(),
            ndgrad.normal(2, mean=3.0, std=0.1, device=backend).numpy(),
            ndgrad.randint(0, 10, size=(5,), device=backend).numpy(),
            ndgrad.permutation(6, device=backend).numpy(),
        ]

    ndgrad.manual_seed(1234)
    first = draw()
    ndgrad.manual_seed(1234)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    ndgrad.manual_seed(4321)
    third = draw()
    assert not np.array_equal(first[0], third[0])


# -- indexing gradients -------------------------------------------------------------------------
def test_repeated_indices_accumulate(backend: str) -> None:
    x = _t([10.0, 20.0, 30.0], backend)
    y = x[ndgrad.tensor([0, 0, 2, 0], device=backend)]
    np.testing.assert_allclose(y.numpy(), [10.0, 10.0, 30.0, 10.0])
    (y * ndgrad.tensor([1.0, 2.0, 3.0, 4.0], device=backend)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 0.0, 3.0])


def test_repeated_index_arrays_in_two_dimensions(backend: str) -> None:
    x = _t(np.arange(6.0).reshape(2, 3), backend)
    y = x[[1, 1, 0], [2, 2, 2]]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 1], [0, 0, 2]])


def test_negative_step_slices_and_masks(backend: str) -> None:
    x = _t(np.arange(5.0), backend)
    y = x[::-2]
    np.testing.assert_allclose(y.numpy(), [4.0, 2.0, 0.0])
    (y * ndgrad.tensor([1.0, 2.0, 3.0], device=backend)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 2.0, 0.0, 1.0])
    x.grad = None
    x[x > 2.0].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 0, 1, 1])


def test_setitem_is_recorded_in_the_graph(backend: str) -> None:
    x = _t([1.0, 2.0, 3.0], backend)
    v = _t(5.0, backend)
    y = x * 1.0
    y[1] = v * 2.0
    np.testing.assert_allclose(y.numpy(), [1.0, 10.0, 3.0])
    assert y.requires_grad and y.grad_fn is not None
    (y * ndgrad.tensor([1.0, 2.0, 3.0], device=backend)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 3.0])  # overwritten: no gradient
    assert v.grad.item() == 4.0


def test_setitem_of_a_tracked_value_into_a_constant(backend: str) -> None:
    buffer = ndgrad.zeros(4, device=backend)
    v = _t([1.0, 2.0], backend)
    buffer[1:3] = v
    assert buffer.requires_grad
    (buffer * buffer).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [2.0, 4.0])


def test_leaves_never_share_a_grad_object(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = _t([3.0, 4.0], backend)
    (x + y).sum().backward()  # add's backward sends the same g to both
    assert x.grad is not y.grad
    with ndgrad.no_grad():
        x.grad += 1.0
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])


def test_a_tensor_requested_twice_gets_its_gradient_twice(backend: str) -> None:
    w = _t([1.0, 2.0], backend)
    with ndgrad.GradientTape() as tape:
        loss = (w * w).sum()
    g1, g2 = tape.gradient(loss, [w, w])
    np.testing.assert_allclose(g1.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(g2.numpy(), [2.0, 4.0])


# -- seeds, requested tensors and higher order -------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_gradient_of_a_tensor_by_itself_is_ones_of_its_dtype(backend: str, dtype: str) -> None:
    x = _t([[2.0]], backend, dtype=dtype)
    y = x * 3.0
    (seed,) = ndgrad.autograd.backward([y], inputs=[y])
    assert seed.dtype.name == dtype and seed.shape == (1, 1)
    np.testing.assert_array_equal(seed.numpy(), [[1.0]])


def test_a_given_gradient_takes_the_dtype_of_its_tensor(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y = x * 2.0
    given_as = (
        [1, 3],  # Python ints
        np.array([1.0, 3.0]),
        ndgrad.tensor([1.0, 3.0], dtype="float64", device=backend),
    )
    for given in given_as:
        (seed,) = ndgrad.autograd.backward([y], [given], inputs=[y], retain_graph=True)
        assert seed.dtype.name == "float32"
        np.testing.assert_array_equal(seed.numpy(), [1.0, 3.0])


def test_a_tensor_without_graph_requested_by_itself_gets_the_seed(backend: str) -> None:
    c = _t([1.0, 2.0], backend, grad=False)
    (seed,) = ndgrad.autograd.backward([c], [ndgrad.ones(2, device=backend)], inputs=[c])
    np.testing.assert_array_equal(seed.numpy(), [1.0, 1.0])
    no_graph = (
        "backward: the tensor does not require grad and has no grad_fn; make an input require "
        "grad (requires_grad=True) before computing it"
    )
    with pytest.raises(ndgrad.GraphError, match=f"^{re.escape(no_graph)}$"):
        ndgrad.autograd.backward([c], [ndgrad.ones(2, device=backend)])


def test_gradients_of_intermediate_tensors(backend: str) -> None:
    """d z / d y for a y computed inside the graph, requested alone, twice or with a leaf."""
    x = _t([1.0, 2.0], backend)
    y = x * 3.0
    z = (y * y).sum()
    (gy,) = ndgrad.autograd.backward([z], inputs=[y], retain_graph=True)
    np.testing.assert_allclose(gy.numpy(), [6.0, 12.0])  # 2 y
    gx, gy1, gy2 = ndgrad.autograd.backward([z], inputs=[x, y, y])
    np.testing.assert_allclose(gx.numpy(), [18.0, 36.0])  # 2 y * 3
    np.testing.assert_allclose(gy1.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(gy2.numpy(), [6.0, 12.0])
    assert x.grad is None  # requested gradients are returned, not accumulated


def test_backward_builds_no_graph_unless_asked(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    ndgrad.autograd.backward([(x * x).sum()])
    assert not x.grad.requires_grad
    ndgrad.autograd.backward([(x * x).sum()], create_graph=True)
    assert x.grad.requires_grad


def test_create_graph_accumulates_differentiable_contributions(backend: str) -> None:
    """x used twice (x * x): both contributions add up, and the sum keeps its graph."""
    x = _t([1.0, 2.0], backend)
    (x * x).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    (gg,) = ndgrad.autograd.backward([x.grad.sum()], inputs=[x])
    np.testing.assert_allclose(gg.numpy(), [2.0, 2.0])


def test_create_graph_keeps_the_graph_of_a_gradient_two_leaves_share(backend: str) -> None:
    """add sends one gradient object to both leaves: the second gets a copy with its graph."""
    a = _t([1.0, 2.0], backend)
    b = _t([3.0, 4.0], backend)
    x = _t([1.0, 3.0], backend)
    ((a + b) * (x * x)).sum().backward(create_graph=True)
    assert a.grad is not b.grad and b.grad.requires_grad
    (gx,) = ndgrad.autograd.backward([b.grad.sum()], inputs=[x])
    np.testing.assert_allclose(gx.numpy(), [2.0, 6.0])  # d/dx sum(x * x)


def test_a_given_gradient_is_copied_not_shared(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    given = ndgrad.tensor([5.0, 6.0], device=backend)
    x.backward(given)
    assert x.grad is not given
    with ndgrad.no_grad():
        given += 1.0
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])


def test_one_gradient_per_tensor(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    y1, y2 = (x * 2.0).sum(), (x * 3.0).sum()
    with pytest.raises(ValueError, match="2 tensors and 1 gradients; pass one gradient"):
        ndgrad.autograd.backward([y1, y2], [None])
    ndgrad.autograd.backward([y1, y2], [None, None])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_the_in_place_error_names_the_output_its_gradient_needs(backend: str) -> None:
    x = _t([1.0], backend)
    y = x.exp()  # the root itself: no consumer checks it first
    with ndgrad.no_grad():
        y[0] = 0.0
    needs = r"output of <ExpBackward>, which its gradient needs"
    with pytest.raises(ndgrad.GraphError, match=needs):
        y.backward()


def test_backward_accumulating_into_grad_returns_none(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    assert ndgrad.autograd.backward([(x * x).sum()]) is None
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_roots_that_meet_add_their_gradients(backend: str) -> None:
    """The same tensor twice, and a root that is an ancestor of another root."""
    x = _t([1.0, 2.0], backend)
    y = x * x
    g1, g2 = ndgrad.tensor([1.0, 1.0], device=backend), ndgrad.tensor([2.0, 0.5], device=backend)
    ndgrad.autograd.backward([y, y], [g1, g2])
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])  # (g1 + g2) * 2x
    x.grad = None
    y = x * 3.0
    z = (y * y).sum()
    ndgrad.autograd.backward([z, y], [None, g1])  # y's own seed and z's flow into y
    np.testing.assert_allclose(x.grad.numpy(), [21.0, 39.0])  # 3 * (2y + 1)


class _Careless(ndgrad.autograd.Op):
    """A test op whose backward leaves the engine's part to the engine: its gradient for x is
    float64 and broadcast to (3, n), and it sends none to y (y is used only through x's
    output shape)."""

    def forward(self, xp, x, y):
        return x * 2.0

    def backward(self, g):
        wide = ndgrad.tensor(np.ones((3, 1)), dtype="float64", device=g.device)
        return g.astype("float64") * 2.0 * wide, None


def test_the_engine_sums_casts_and_skips_what_op_backward_leaves(backend: str) -> None:
    x = _t([1.0, 2.0], backend)
    w = _t([5.0, 6.0], backend)
    y = w * 3.0  # needs a gradient but gets none: its node runs with nothing to pass on
    _Careless.apply(x, y).sum().backward()
    assert x.grad.dtype.name == "float32" and x.grad.shape == (2,)
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])  # summed over the 3 rows
    assert w.grad is None


class _Short(ndgrad.autograd.Op):
    """A broken test op: two inputs, one gradient."""

    def forward(self, xp, x, y):
        return x * y

    def backward(self, g):
        return (g,)


def test_a_rule_with_the_wrong_number_of_gradients_is_named(backend: str) -> None:
    x, y = _t([1.0, 2.0], backend), _t([3.0, 4.0], backend)
    with pytest.raises(ndgrad.GraphError, match=r"<_ShortBackward> returned 1 gradients for 2"):
        _Short.apply(x, y).sum().backward()
