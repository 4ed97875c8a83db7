"""The window rules shared by convolution and pooling (ops/windows.py): argument pairs, Keras's
'same' padding and the check that a window fits the (padded) image, on each axis alone."""

from __future__ import annotations

import re

import pytest

import ndgrad
from ndgrad.ops.windows import out_size, pair, prepare, same


def test_pair_reads_an_int_or_a_pair_and_names_the_argument() -> None:
    assert pair(3, "pool_size") == (3, 3)
    assert pair((2, 5), "strides") == (2, 5)
    assert pair([4, 1], "strides") == (4, 1)
    for bad in (0, (1, 2, 3), (2, 0), (1,)):
        message = rf"^kernel_size must be .*Received {re.escape(repr(bad))}$"
        with pytest.raises(ValueError, match=message):
            pair(bad, "kernel_size")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "n, k, s, want", [(5, 3, 1, (1, 1)), (5, 2, 2, (0, 1)), (4, 3, 2, (0, 1)), (6, 1, 3, (0, 0))]
)
def test_same_padding_gives_ceil_n_over_s_positions(n: int, k: int, s: int, want: tuple) -> None:
    assert same(n, k, s) == want
    before, after = want
    assert out_size(n + before + after, k, s) == -(-n // s)


@pytest.mark.parametrize("window", [(3, 1), (1, 6)])
def test_a_window_larger_than_the_image_on_one_axis_is_refused(window: tuple) -> None:
    x = ndgrad.zeros((1, 2, 5, 1))
    message = r"^op: the window .* the \(padded\) image \(2, 5\)"
    with pytest.raises(ndgrad.ShapeError, match=message):
        prepare(x, window, (1, 1), "valid", "op")


def test_same_padding_pads_only_the_axes_that_need_it() -> None:
    x = ndgrad.ones((1, 4, 3, 1))
    assert prepare(x, (1, 1), (1, 1), "same", "op") is x  # nothing to pad: the same tensor
    padded = prepare(x, (2, 1), (1, 1), "same", "op", value=-1.0)
    assert padded.shape == (1, 5, 3, 1)
    assert padded.numpy()[0, -1, :, 0].tolist() == [-1.0, -1.0, -1.0]  # after: the last row
    wide = prepare(x, (1, 3), (1, 1), "same", "op")
    assert wide.shape == (1, 4, 5, 1)
    assert wide.numpy()[0, :, 0, 0].tolist() == [0.0] * 4  # before: the first column
