"""Shape errors name the shapes they received, aligned for broadcasting, with the failing axis."""

from __future__ import annotations

import re

import numpy as np
import pytest

import ndgrad
from ndgrad._shapes import as_shape, broadcast_shapes, normalize_axes, normalize_axis


def _ones(shape: tuple[int, ...], device: str) -> ndgrad.Tensor:
    return ndgrad.ones(shape, device=device)


def test_shape_error_is_a_value_error() -> None:
    assert issubclass(ndgrad.ShapeError, ValueError)


def test_broadcast_error_aligns_shapes_right_to_left_and_names_the_axis(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        _ones((5, 1, 3), backend) + _ones((4, 2, 3), backend)
    message = str(info.value)
    assert message.startswith("add:")
    assert "axis 0" in message
    assert "5 vs 4" in message
    lines = message.splitlines()
    first, second = lines.index("  (5, 1, 3)"), lines.index("  (4, 2, 3)")
    assert second == first + 1


def test_broadcast_error_pads_shorter_shapes_on_the_left() -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        broadcast_shapes((4, 3), (5,), op="multiply")
    lines = str(info.value).splitlines()
    assert "  (4, 3)" in lines and "    (5,)" in lines  # right ends line up
    assert lines[-1].endswith(")") and len(lines[-1]) == len(lines[-2])
    assert "3 vs 5" in str(info.value) and "axis 1" in str(info.value)


@pytest.mark.parametrize(
    "shapes",
    [((256, 256, 3), (3,)), ((), (2, 3)), ((1,), (0,)), ((8, 1, 6, 1), (7, 1, 5)), ((2, 0), (1,))],
)
def test_broadcast_shapes_matches_numpy(shapes: tuple) -> None:
    assert broadcast_shapes(*shapes) == np.broadcast_shapes(*shapes)


def test_every_binary_op_reports_broadcast_errors(backend: str) -> None:
    x, y = _ones((2, 3), backend), _ones((3, 2), backend)
    for op in (ndgrad.add, ndgrad.subtract, ndgrad.multiply, ndgrad.divide, ndgrad.power,
               ndgrad.maximum, ndgrad.minimum, ndgrad.equal, ndgrad.less):  # fmt: skip
        with pytest.raises(ndgrad.ShapeError, match=re.escape("(2, 3)")):
            op(x, y)
    with pytest.raises(ndgrad.ShapeError, match="where"):
        ndgrad.where(ndgrad.ones((4,), dtype="bool", device=backend), x, x)


def test_matmul_inner_size_error(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        _ones((2, 3), backend) @ _ones((4, 5), backend)
    message = str(info.value)
    assert "(2, 3)" in message and "(4, 5)" in message
    assert "3 with 4" in message
    with pytest.raises(ndgrad.ShapeError, match=re.escape("(3,) @ (4,)")):
        _ones((3,), backend) @ _ones((4,), backend)
    with pytest.raises(ndgrad.ShapeError, match="at least 1-D"):
        _ones((), backend) @ _ones((3,), backend)


def test_matmul_batch_error_names_both_full_shapes(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        _ones((2, 3, 4), backend) @ _ones((5, 4, 2), backend)
    message = str(info.value)
    assert "(2, 3, 4)" in message and "(5, 4, 2)" in message and "2 vs 5" in message


def test_reshape_error(backend: str) -> None:
    x = _ones((2, 3), backend)
    with pytest.raises(ndgrad.ShapeError) as info:
        x.reshape(4, 2)
    assert "(2, 3)" in str(info.value) and "(4, 2)" in str(info.value)
    assert "6 elements" in str(info.value)
    with pytest.raises(ndgrad.ShapeError):
        x.reshape(-1, -1)
    with pytest.raises(ndgrad.ShapeError):
        x.reshape(4, -1)
    assert x.reshape(-1).shape == (6,)
    assert x.reshape(3, -1).shape == (3, 2)


def test_reshape_of_empty_tensors(backend: str) -> None:
    x = _ones((0, 3), backend)
    assert x.reshape(3, 0).shape == (3, 0)
    with pytest.raises(ndgrad.ShapeError):
        x.reshape(-1, 0)  # ambiguous, as in NumPy


def test_concatenate_error(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        ndgrad.concatenate([_ones((2, 3), backend), _ones((2, 4), backend)])
    assert "(2, 3)" in str(info.value) and "(2, 4)" in str(info.value)
    assert "axis 0" in str(info.value)
    with pytest.raises(ndgrad.ShapeError, match="0-d"):
        ndgrad.concatenate([_ones((), backend), _ones((), backend)])
    with pytest.raises(ndgrad.ShapeError):
        ndgrad.concatenate([_ones((2, 3), backend), _ones((2, 3, 1), backend)])
    with pytest.raises(ndgrad.ShapeError, match="out of range"):
        ndgrad.concatenate([_ones((2, 3), backend)], axis=2)


def test_squeeze_error(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        _ones((2, 1, 3), backend).squeeze(0)
    assert "(2, 1, 3)" in str(info.value) and "axis 0" in str(info.value)
    assert _ones((2, 1, 3), backend).squeeze(1).shape == (2, 3)
    assert _ones((1, 1), backend).squeeze().shape == ()


def test_stack_error(backend: str) -> None:
    with pytest.raises(ndgrad.ShapeError) as info:
        ndgrad.stack([_ones((2, 3), backend), _ones((3, 2), backend)])
    assert "(2, 3)" in str(info.value) and "(3, 2)" in str(info.value)
    with pytest.raises(ndgrad.ShapeError, match="out of range"):
        ndgrad.stack([_ones((2, 3), backend)], axis=3)


def test_other_shape_errors(backend: str) -> None:
    x = _ones((2, 3), backend)
    with pytest.raises(ndgrad.ShapeError, match="out of range for a tensor of rank 2"):
        x.sum(axis=2)
    with pytest.raises(ndgrad.ShapeError, match="repeated axis"):
        x.sum(axis=(0, -2))
    with pytest.raises(ndgrad.ShapeError):
        x.transpose(0, 0)
    with pytest.raises(ndgrad.ShapeError):
        x.transpose(0, 1, 2)
    with pytest.raises(ndgrad.ShapeError, match="comes after"):
        x.flatten(1, 0)
    with pytest.raises(ndgrad.ShapeError, match=re.escape("(3, 3)")):
        x.broadcast_to((3, 3))
    with pytest.raises(ndgrad.ShapeError, match="equal sections"):
        ndgrad.split(x, 2, axis=1)
    with pytest.raises(ndgrad.ShapeError, match="pad"):
        ndgrad.pad(x, ((1, 1),) * 3)
    with pytest.raises(ndgrad.ShapeError, match="repeats"):
        ndgrad.repeat(x, [1, 2], axis=1)
    with pytest.raises(ndgrad.ShapeError, match="tensordot"):
        ndgrad.tensordot(x, x, axes=([1], [1, 0]))
    with pytest.raises(ndgrad.ShapeError, match="einsum"):
        ndgrad.einsum("ijk->i", x)
    with pytest.raises(ndgrad.ShapeError, match="size-0"):
        _ones((0, 3), backend).max(axis=0)
    with pytest.raises(ndgrad.ShapeError, match="in place"):
        y = _ones((3,), backend)
        y += x
    with pytest.raises(ndgrad.ShapeError, match="gradient shape"):
        ndgrad.ones(3, requires_grad=True, device=backend).exp().backward(_ones((2,), backend))


def test_as_shape_accepts_ints_and_sequences_of_them() -> None:
    assert as_shape(3) == (3,) and as_shape(()) == () and as_shape([2, 0]) == (2, 0)
    assert as_shape(np.int32(4)) == (4,) and as_shape(np.array([1, 2])) == (1, 2)
    assert as_shape(ndgrad.tensor(5)) == (5,) and as_shape(ndgrad.tensor([5, 6])) == (5, 6)
    assert as_shape((2, -1), allow_inferred=True) == (2, -1)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ((2, 0.5), "a shape must be an int or a sequence of ints"),
        (2.0, "a shape must be an int or a sequence of ints"),
        ("23", "a shape must be an int or a sequence of ints"),
        ([[2], [3]], "a shape must be an int or a sequence of ints"),
        (None, "a shape must be an int or a sequence of ints"),
        ((2, -1), "sizes must be >= 0"),
    ],
    ids=repr,
)
def test_as_shape_names_what_is_not_a_shape(bad: object, why: str) -> None:
    with pytest.raises(
        ndgrad.ShapeError, match=rf"^zeros: {why}.*Received shape={re.escape(repr(bad))}$"
    ):
        as_shape(bad, "zeros")


def test_inferred_sizes_only_where_allowed() -> None:
    with pytest.raises(ndgrad.ShapeError, match="at most one -1"):
        as_shape((-1, -1), "reshape", allow_inferred=True)
    with pytest.raises(ndgrad.ShapeError, match=r"reshape: .*shape=\(2, -3\)"):
        ndgrad.ones(6).reshape(2, -3)
    with pytest.raises(ndgrad.ShapeError, match=r"reshape: .*shape=\(2, 1.5\)"):
        ndgrad.ones(6).reshape(2, 1.5)
    with pytest.raises(ndgrad.ShapeError, match=r"tile: .*shape=\(2, -1\)"):
        ndgrad.ones(2).tile((2, -1))
    with pytest.raises(ndgrad.ShapeError, match=r"transpose: axes must be ints"):
        ndgrad.ones((2, 2)).transpose((0.0, 1.0))


def test_axis_normalization() -> None:
    assert normalize_axis(-1, 3) == 2
    assert normalize_axis(0, 0) == 0 and normalize_axis(-1, 0) == 0
    with pytest.raises(ndgrad.ShapeError):
        normalize_axis(1, 0)
    with pytest.raises(ndgrad.ShapeError):
        normalize_axis(-4, 3)
    assert normalize_axes(None, 3) == (0, 1, 2)
    assert normalize_axes((-1, 0), 3) == (0, 2)
    assert normalize_axes((), 3) == ()


def test_max_of_empty_axis_matches_torch_refusal() -> None:
    """torch.amax refuses a size-0 reduction; numpy too; ndgrad's ShapeError names the shape."""
    with pytest.raises(ndgrad.ShapeError, match=re.escape("(2, 0)")):
        ndgrad.ones((2, 0)).min(axis=1)
    assert ndgrad.ones((2, 0)).max(axis=0).shape == (0,)
