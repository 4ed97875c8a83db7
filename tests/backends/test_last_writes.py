"""Repeated writes in integer-array assignment: the CuPy backend's bookkeeping, on NumPy.

CuPy keeps an arbitrary one of the writes to a repeated position; `last_write_sources` tells
each write which value to carry so that any of them leaves NumPy's result (the last). The
helper takes NumPy or CuPy as its array module, so it runs here on NumPy; its temporaries are
sized by the index, never by the target, which tracemalloc (NumPy reports its buffers there)
measures.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from ndgrad.backends.array_api.indexing import last_write_sources

CASES = {
    "1-d, repeats": ((6,), (np.array([1, 1, 3, 1, 5, 3]),)),
    "2-d, two arrays": ((4, 5), (np.array([0, 2, 0, 2]), np.array([1, 4, 1, 4]))),
    "array and slice": ((5, 3), (np.array([4, 0, 4]), slice(None))),
    "slice then array": ((3, 7, 2), (slice(1, 3), np.array([6, 6, 0]), 1)),
    "broadcast arrays": ((4, 4), (np.array([[0], [0], [3]]), np.array([2, 2]))),
    "negative indices": ((5,), (np.array([-1, 4, -5, 0]),)),
    "size-1 axes": ((1, 1, 3), (0, np.array([0, 0]), np.array([2, 2]))),
    "bool and int": ((3, 4), (np.array([True, False, True]), np.array([1, 1]))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_write_to_a_position_carries_the_last_value(name: str) -> None:
    shape, index = CASES[name]
    written = np.zeros(shape)[index].shape
    values = np.arange(1.0, 1.0 + np.prod(written)).reshape(written)
    src = last_write_sources(np, shape, index)
    assert src.shape == written and src.dtype == np.int64
    carried = values.reshape(-1)[src.reshape(-1)].reshape(written)

    positions = np.arange(np.prod(shape)).reshape(shape)[index].reshape(-1)
    flat = carried.reshape(-1)
    for p in np.unique(positions):
        writes = np.flatnonzero(positions == p)
        assert set(flat[writes]) == {values.reshape(-1)[writes[-1]]}  # all carry the last

    want = np.zeros(shape)
    want[index] = values  # NumPy: the last write wins
    for order in (slice(None), slice(None, None, -1)):  # whichever write the library keeps
        got = np.zeros(shape)
        pos = positions[order]
        got.reshape(-1)[pos] = flat[order]
        np.testing.assert_array_equal(got, want)


def test_no_writes() -> None:
    src = last_write_sources(np, (3, 4), (np.array([], dtype=np.int64),))
    assert src.shape == (0, 4)


def test_temporaries_are_sized_by_the_index_not_the_target() -> None:
    shape = (2000, 1000)  # 2 million positions: 16 MB as int64
    index = (np.array([5, 7, 5, 1999]), np.array([0, 999, 0, 3]))
    tracemalloc.start()
    try:
        src = last_write_sources(np, shape, index)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert src.tolist() == [2, 1, 2, 3]
    assert peak < 64_000, f"peak {peak} bytes for 4 writes into a {shape} array"
