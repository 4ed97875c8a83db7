"""The Tensor record: creation, properties, interop with Python and NumPy, ranks and shapes,
and the places where ndgrad follows NumPy's semantics."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import ndgrad


# -- creation ---------------------------------------------------------------------------------
def test_tensor_from_python_scalars(backend: str) -> None:
    for value, dtype in [(1.5, "float32"), (2, "int64"), (True, "bool")]:
        t = ndgrad.tensor(value, device=backend)
        assert t.shape == () and t.ndim == 0 and t.dtype.name == dtype
        assert t.item() == value and type(t.item()) is type(value)


def test_tensor_from_nested_lists(backend: str) -> None:
    t = ndgrad.tensor([[1, 2, 3], [4, 5, 6]], device=backend)
    assert t.shape == (2, 3) and t.dtype is ndgrad.int64
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert ndgrad.tensor([], device=backend).shape == (0,)
    assert ndgrad.tensor([[]], device=backend).shape == (1, 0)


def test_tensor_from_numpy_copies(backend: str) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = ndgrad.tensor(a, device=backend)
    a[0, 0] = 100.0
    assert t.numpy()[0, 0] == 0.0  # a copy, not a view of the caller's array
    assert t.dtype is ndgrad.float32 and t.shape == (2, 3)


def test_tensor_from_tensor_copies_and_can_convert(backend: str) -> None:
    x = ndgrad.tensor([1.0, 2.0], device=backend, requires_grad=True)
    y = ndgrad.tensor(x)
    assert y.device == backend and not y.requires_grad and y.is_leaf
    with ndgrad.no_grad():
        x[0] = 5.0
    assert y.tolist() == [1.0, 2.0]
    assert ndgrad.tensor(x, dtype="float64").dtype is ndgrad.float64
    assert ndgrad.tensor(x, device="cpu").device == "cpu"


def test_filled_tensors(backend: str) -> None:
    assert ndgrad.zeros(2, 3, device=backend).shape == (2, 3)
    assert ndgrad.zeros((2, 3), device=backend).tolist() == [[0.0] * 3] * 2
    assert ndgrad.ones(4, device=backend).tolist() == [1.0] * 4
    assert ndgrad.ones((), device=backend).shape == ()
    assert ndgrad.zeros(0, device=backend).shape == (0,)
    f = ndgrad.full((2, 2), fill_value=7, device=backend)
    assert f.tolist() == [[7, 7], [7, 7]] and f.dtype is ndgrad.int64
    assert ndgrad.full(3, fill_value=0.5, dtype="float64", device=backend).dtype is ndgrad.float64
    with pytest.raises(ndgrad.ShapeError, match=r"zeros: sizes must be >= 0. Received shape=-1"):
        ndgrad.zeros(-1, device=backend)


def test_full_takes_the_fill_value_positionally_as_numpy_torch_and_keras(backend: str) -> None:
    f = ndgrad.full((2, 3), 7.0, device=backend)
    assert f.shape == (2, 3) and f.dtype is ndgrad.float32 and f.tolist() == [[7.0] * 3] * 2
    assert ndgrad.full(2, 3, "int32", backend).tolist() == [3, 3]  # (shape, value, dtype, device)
    x = ndgrad.ones((2, 2), dtype="float64", device=backend)
    g = ndgrad.full_like(x, 7.0)
    assert g.tolist() == [[7.0, 7.0]] * 2 and g.dtype is ndgrad.float64 and g.device == backend


@pytest.mark.parametrize(
    "bad", [(2, 0.5), 2.5, "23", None, [[2, 3]], (2, -3), ndgrad.tensor([2.0])], ids=repr
)
def test_a_value_that_is_not_a_shape_is_a_shape_error_naming_it(bad: object) -> None:
    for make in (ndgrad.zeros, ndgrad.ones, ndgrad.rand, ndgrad.randn, ndgrad.uniform):
        with pytest.raises(ndgrad.ShapeError, match=re.escape(repr(bad))):
            make(bad)
    with pytest.raises(ndgrad.ShapeError, match=r"full: .*" + re.escape(repr(bad))):
        ndgrad.full(bad, 1.0)
    with pytest.raises(ndgrad.ShapeError, match=r"normal: .*" + re.escape(repr(bad))):
        ndgrad.normal(bad, 0.0, 1.0)
    with pytest.raises(ndgrad.ShapeError, match=r"randint: .*" + re.escape(repr(bad))):
        ndgrad.randint(5, size=bad)
    with pytest.raises(ndgrad.ShapeError, match=r"broadcast_to: .*" + re.escape(repr(bad))):
        ndgrad.ones(1).broadcast_to(bad)
    with pytest.raises(ndgrad.ShapeError, match=r"eye: .*shape=\(3, 2.5\)"):
        ndgrad.eye(3, 2.5)


def test_shapes_given_as_sequences_of_integers(backend: str) -> None:
    for shape in ([2, 3], np.array([2, 3]), (np.int64(2), 3), ndgrad.tensor([2, 3])):
        assert ndgrad.zeros(shape, device=backend).shape == (2, 3)
        assert ndgrad.full(shape, 1, device=backend).shape == (2, 3)
        assert ndgrad.ones(1, device=backend).reshape(1, 1).broadcast_to(shape).shape == (2, 3)


def test_like_functions(backend: str) -> None:
    x = ndgrad.ones((2, 3), dtype="float64", device=backend)
    for t in (ndgrad.zeros_like(x), ndgrad.ones_like(x), ndgrad.full_like(x, 2.5)):
        assert t.shape == (2, 3) and t.dtype is ndgrad.float64 and t.device == backend
    assert ndgrad.full_like(x, 2.5).tolist() == [[2.5] * 3] * 2
    assert ndgrad.zeros_like(x, dtype="int32").dtype is ndgrad.int32
    assert ndgrad.ones_like(x, requires_grad=True).requires_grad


def test_arange(backend: str) -> None:
    assert ndgrad.arange(5, device=backend).tolist() == [0, 1, 2, 3, 4]
    assert ndgrad.arange(2, 8, 3, device=backend).tolist() == [2, 5]
    assert ndgrad.arange(5, 0, -2, device=backend).tolist() == [5, 3, 1]
    assert ndgrad.arange(5, 0, device=backend).shape == (0,)  # empty, as NumPy
    assert ndgrad.arange(0, device=backend).shape == (0,)
    for args in [(0.0, 1.0, 0.1), (1.0, 2.0, 0.3), (0.5, 3), (-1.0, 1.0, 0.25)]:
        got = ndgrad.arange(*args, device=backend)
        want = np.arange(*args)
        assert got.shape == want.shape, args
        assert got.dtype is ndgrad.float32
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    with pytest.raises(ValueError, match="step"):
        ndgrad.arange(0, 1, 0)


def test_linspace_and_eye(backend: str) -> None:
    np.testing.assert_allclose(ndgrad.linspace(0, 1, 5, device=backend).numpy(),
                               [0, 0.25, 0.5, 0.75, 1.0])  # fmt: skip
    assert ndgrad.linspace(0, 1, 4, endpoint=False, device=backend).tolist() == [0, 0.25, 0.5, 0.75]
    assert ndgrad.linspace(0, 1, 0, device=backend).shape == (0,)
    np.testing.assert_array_equal(ndgrad.eye(3, device=backend).numpy(), np.eye(3))
    np.testing.assert_array_equal(ndgrad.eye(2, 4, k=1, device=backend).numpy(), np.eye(2, 4, 1))


def test_random_tensors(backend: str) -> None:
    ndgrad.manual_seed(0)
    r = ndgrad.rand(1000, device=backend).numpy()
    assert r.shape == (1000,) and r.min() >= 0.0 and r.max() < 1.0
    n = ndgrad.randn(2000, device=backend).numpy()
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1.0) < 0.1
    u = ndgrad.uniform(500, low=-2.0, high=-1.0, device=backend).numpy()
    assert u.min() >= -2.0 and u.max() < -1.0
    g = ndgrad.normal(2000, mean=5.0, std=0.5, dtype="float64", device=backend)
    assert g.dtype is ndgrad.float64 and abs(g.numpy().mean() - 5.0) < 0.05
    i = ndgrad.randint(3, 7, size=(200,), device=backend).numpy()
    assert i.min() >= 3 and i.max() <= 6 and set(np.unique(i)) == {3, 4, 5, 6}
    assert ndgrad.randint(4, device=backend).shape == ()
    p = ndgrad.permutation(10, device=backend)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype is ndgrad.int64
    assert ndgrad.rand(2, 3, device=backend, requires_grad=True).requires_grad
    assert ndgrad.randn((2, 3), device=backend).device == backend
    with pytest.raises(ValueError):
        ndgrad.randint(5, 5)
    with pytest.raises(ValueError):
        ndgrad.normal(3, std=-1.0)


def test_random_takes_keras_order_and_names(backend: str) -> None:
    """Keras: (shape, mean, stddev) and (shape, minval, maxval), with an optional int seed."""
    ndgrad.manual_seed(0)
    n = ndgrad.random.normal((3, 1), 0.0, 1.0, device=backend)
    u = ndgrad.random.uniform((2, 2), 0.0, 1.0, device=backend)
    assert n.shape == (3, 1) and u.shape == (2, 2) and n.device == u.device == backend
    big = ndgrad.normal((4000,), 5.0, 0.5, device=backend).numpy()
    assert abs(big.mean() - 5.0) < 0.05 and abs(big.std() - 0.5) < 0.05
    w = ndgrad.uniform((4000,), -3.0, -2.0, device=backend).numpy()
    assert w.min() >= -3.0 and w.max() < -2.0
    k = ndgrad.normal((4000,), mean=-1.0, stddev=2.0, device=backend).numpy()
    assert abs(k.mean() + 1.0) < 0.15 and abs(k.std() - 2.0) < 0.15
    m = ndgrad.uniform((4000,), minval=10.0, maxval=11.0, device=backend).numpy()
    assert m.min() >= 10.0 and m.max() < 11.0
    a = ndgrad.normal((5,), stddev=2.0, seed=7, device=backend)
    b = ndgrad.normal((5,), stddev=2.0, seed=7, device=backend)
    c = ndgrad.normal((5,), stddev=2.0, device=backend)
    assert a.tolist() == b.tolist() != c.tolist()
    ndgrad.manual_seed(1)
    first = ndgrad.rand(3, device=backend).tolist()
    ndgrad.manual_seed(1)
    ndgrad.uniform((2,), seed=3, device=backend)  # a seeded draw leaves the generator alone
    assert ndgrad.rand(3, device=backend).tolist() == first


def test_random_parameters_given_twice_or_too_many_are_errors() -> None:
    with pytest.raises(TypeError, match="twice, as argument 2 and as mean"):
        ndgrad.normal((2,), 0.0, mean=1.0)
    with pytest.raises(TypeError, match="twice, as std and as stddev"):
        ndgrad.normal((2,), std=1.0, stddev=2.0)
    with pytest.raises(TypeError, match="twice, as low and as minval"):
        ndgrad.uniform((2,), low=0.0, minval=1.0)
    with pytest.raises(TypeError, match="at most 2 parameters"):
        ndgrad.uniform((2,), 0.0, 1.0, 2.0)
    with pytest.raises(ndgrad.ShapeError, match=r"uniform\(\(2, 3\), \.\.\.\)"):
        ndgrad.uniform(3, 0.0, 1.0)  # separate ints, then floats: the hint says how


# -- properties ---------------------------------------------------------------------------------
def test_properties(backend: str) -> None:
    v = ndgrad.tensor([1.0, 2.0, 3.0], device=backend)
    assert v.shape == (3,) and isinstance(v.shape, tuple)
    assert v.ndim == 1 and v.size == 3 and v.dtype is ndgrad.float32
    assert v.device == backend
    m = ndgrad.ones((2, 3), device=backend)
    assert m.T.shape == (3, 2)
    assert ndgrad.ones((2, 3, 4), device=backend).T.shape == (4, 3, 2)
    assert ndgrad.ones((0, 5), device=backend).size == 0
    assert ndgrad.tensor(1.0, device=backend).size == 1
    w = ndgrad.ones(2, device=backend, requires_grad=True)
    assert w.is_leaf and w.grad_fn is None and w.grad is None
    y = w * 2.0
    assert not y.is_leaf and y.grad_fn is not None and "Multiply" in repr(y.grad_fn)


# -- interop ------------------------------------------------------------------------------------
def test_numpy_interop(backend: str) -> None:
    t = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], device=backend)
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert (np.ones(2) + ndgrad.tensor([1.0, 2.0])).tolist() == [2.0, 3.0]  # Tensor wins


def test_item_len_and_iteration(backend: str) -> None:
    t = ndgrad.tensor([[1, 2], [3, 4], [5, 6]], device=backend)
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and rows[1].tolist() == [3, 4]
    assert ndgrad.tensor([[7.5]], device=backend).item() == 7.5
    with pytest.raises(ValueError, match="2 elements"):
        ndgrad.tensor([1.0, 2.0], device=backend).item()
    with pytest.raises(TypeError, match="0-d"):
        len(ndgrad.tensor(1.0, device=backend))
    assert float(ndgrad.tensor(2.5, device=backend)) == 2.5
    assert int(ndgrad.tensor(3, device=backend)) == 3
    assert bool(ndgrad.tensor(True, device=backend))
    assert [10, 20, 30][ndgrad.tensor(1, device=backend)] == 20  # __index__


def test_repr_shows_values_shape_dtype_and_grad_fn(backend: str) -> None:
    t = ndgrad.tensor([1.0, 2.5], device=backend)
    text = repr(t)
    assert text.startswith("tensor([1. , 2.5]") or text.startswith("tensor([1., 2.5]")
    assert "shape=(2,)" in text and "dtype=float32" in text
    assert ("device='strict'" in text) == (backend == "strict")
    w = ndgrad.tensor([1.0], requires_grad=True, device=backend)
    assert "requires_grad=True" in repr(w)
    assert "grad_fn=<MultiplyBackward>" in repr(w * 2.0)
    assert repr(ndgrad.tensor(3, device=backend)).startswith("tensor(3, shape=(), dtype=int64")


# -- ranks and shapes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "name"),
    [
        ((), "scalar"),
        ((3,), "vector"),
        ((2, 3), "matrix"),
        ((256, 256, 3), "RGB image"),
        ((8, 28, 28, 1), "batch of images"),
        ((4, 10, 32, 32, 3), "batch of videos"),
    ],
)
def test_rank_and_shape_table(backend: str, shape: tuple, name: str) -> None:
    t = ndgrad.zeros(shape, device=backend)
    assert t.ndim == len(shape), name
    assert t.shape == shape
    assert t.size == math.prod(shape)


def test_an_image_scaled_per_channel_broadcasts(backend: str) -> None:
    image = ndgrad.rand(256, 256, 3, device=backend)
    scale = ndgrad.tensor([0.5, 1.0, 2.0], device=backend)
    out = image * scale
    assert out.shape == (256, 256, 3)
    np.testing.assert_allclose(out.numpy(), image.numpy() * np.array([0.5, 1.0, 2.0], np.float32))


def test_a_dense_layer_by_hand(backend: str) -> None:
    ndgrad.manual_seed(0)
    w = ndgrad.randn(512, 784, device=backend) * 0.05
    x = ndgrad.rand(784, device=backend)
    b = ndgrad.zeros(512, device=backend)
    y = ndgrad.relu(ndgrad.dot(w, x) + b)
    assert y.shape == (512,) and y.dtype is ndgrad.float32
    want = np.maximum(w.numpy() @ x.numpy() + b.numpy(), 0)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-4, atol=1e-5)


# -- NumPy semantics ----------------------------------------------------------------------------
def test_sign_of_nan_is_nan(backend: str) -> None:
    s = ndgrad.sign(ndgrad.tensor([float("nan"), -2.0, 0.0, 3.0], device=backend)).numpy()
    assert math.isnan(s[0])
    assert s[1:].tolist() == [-1.0, 0.0, 1.0]


def test_floor_division_of_negatives_floors(backend: str) -> None:
    a = ndgrad.tensor([-7, 7, -8, 0], device=backend)
    assert (a // 2).tolist() == [-4, 3, -4, 0] == (np.array([-7, 7, -8, 0]) // 2).tolist()
    assert (a // -2).tolist() == (np.array([-7, 7, -8, 0]) // -2).tolist()
    f = ndgrad.tensor([-7.0, 7.5, -0.5], device=backend)
    assert (f // 2).tolist() == [-4.0, 3.0, -1.0]
    assert (7 // ndgrad.tensor([-2, 2], device=backend)).tolist() == [-4, 3]


def test_size_zero_boolean_masks(backend: str) -> None:
    x = ndgrad.tensor([1.0, 2.0, 3.0], device=backend, requires_grad=True)
    none = x[x > 10.0]
    assert none.shape == (0,)
    empty = ndgrad.zeros((0, 3), device=backend)
    assert empty[ndgrad.zeros(0, dtype="bool", device=backend)].shape == (0, 3)
    assert empty[np.zeros((0, 3), dtype=bool)].shape == (0,)
    none.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_empty_reductions_follow_numpy(backend: str) -> None:
    e = ndgrad.zeros((0, 2), device=backend)
    assert e.sum().item() == 0.0
    assert e.prod().item() == 1.0
    assert e.sum(axis=0).tolist() == [0.0, 0.0]
    assert math.isnan(ndgrad.zeros(0, device=backend).mean().item())
    assert ndgrad.logsumexp(ndgrad.zeros(0, device=backend)).item() == -math.inf


def test_integer_true_division_gives_float32(backend: str) -> None:
    q = ndgrad.tensor([1, 2, 3], device=backend) / 2
    assert q.dtype is ndgrad.float32 and q.tolist() == [0.5, 1.0, 1.5]


def test_indexing_semantics_match_numpy(backend: str) -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    t = ndgrad.tensor(a, dtype="float64", device=backend)
    for index in [
        1,
        -1,
        (slice(None), 1),
        (Ellipsis, 2),
        (None, 0, Ellipsis, None),
        (slice(None, None, -1), slice(2, 0, -1)),
        ([1, 0, 1],),
        (slice(None), [0, 2, 2], [3, 1, 0]),
        (a > 20,),
        (0, np.array([True, False, True])),
        ([[0, 1], [1, 0]], slice(None), 0),
        (slice(1, 10), slice(-10, 2)),  # NumPy clips out-of-bounds slice ends
        (Ellipsis, slice(10, None, -2)),
        (slice(5, 1),),
    ]:
        got = t[index]
        np.testing.assert_array_equal(got.numpy(), a[index], err_msg=str(index))
        u, b = ndgrad.tensor(a, dtype="float64", device=backend), a.copy()
        u[index] = -1.0
        b[index] = -1.0
        np.testing.assert_array_equal(u.numpy(), b, err_msg=f"setitem {index}")
    with pytest.raises(IndexError):
        t[5]
    with pytest.raises(IndexError):
        t[ndgrad.tensor([0.5], device=backend)]


def test_comparisons_and_logic(backend: str) -> None:
    a = ndgrad.tensor([1, 2, 3], device=backend)
    assert (a == 2).tolist() == [False, True, False]
    assert (a != 2).tolist() == [True, False, True]
    assert (a < 2).tolist() == [True, False, False] and (a >= 2).tolist() == [False, True, True]
    assert ((a > 1) & (a < 3)).tolist() == [False, True, False]
    assert ((a < 2) | (a > 2)).tolist() == [True, False, True]
    assert (~(a > 1)).tolist() == [True, False, False]
    assert a.argmax().item() == 2 and a.argmin().item() == 0


def test_numpy_conversions_copy_so_the_graph_cannot_be_bypassed() -> None:
    w = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    np.array(w)[0] = 5.0  # a copy: the tensor is unchanged
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])


def test_numpy_integer_scalars_index_like_ints() -> None:
    x = ndgrad.zeros((2, 3))
    x[np.int64(1)][0] = 7.0  # a view, as in NumPy
    np.testing.assert_allclose(x.numpy(), [[0, 0, 0], [7, 0, 0]])


@pytest.mark.parametrize("device", ["cpu", "strict"])
def test_remainder_follows_numpy_and_its_gradient_matches_torch(device: str) -> None:
    import torch

    a = np.array([5.5, -5.5, 3.0, -7.25])
    b = np.array([2.0, 2.0, -1.5, 3.0])
    x = ndgrad.tensor(a, dtype="float64", device=device, requires_grad=True)
    y = ndgrad.tensor(b, dtype="float64", device=device, requires_grad=True)
    np.testing.assert_allclose((x % y).numpy(), np.remainder(a, b))
    (x % y).sum().backward()
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.remainder(tx, ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    assert (ndgrad.arange(5, device=device) % 2).tolist() == [0, 1, 0, 1, 0]
