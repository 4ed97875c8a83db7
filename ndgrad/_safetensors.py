"""The safetensors format, read and written with NumPy alone, so that every ndgrad install
reads every ndgrad file (the `safetensors` package is not needed, and not used).

A file is an 8-byte little-endian header length ``n``, ``n`` bytes of JSON, then the data:

    {"__metadata__": {...}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}

Offsets count from the start of the data, tensors follow one another without gaps, and the
values are little-endian in C order (https://github.com/huggingface/safetensors). Reading
checks every declared size against the bytes present before any array is made, so a file
cannot make ndgrad allocate more than it holds.

>>> import numpy as np
>>> data = save({"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
>>> load(data)["w"]
array([[0., 1., 2.],
       [3., 4., 5.]], dtype=float32)
"""

from __future__ import annotations

import json
import math

import numpy as np

DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}  # fmt: skip
_CODES = {dtype.newbyteorder("="): code for code, dtype in DTYPES.items()}
MAX_HEADER = 100_000_000  # bytes of JSON header, the reference implementation's limit


class SafetensorsError(ValueError):
    """Bytes that are not a well-formed safetensors file (the message says what is wrong)."""


def save(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of `arrays` (names sorted; the header padded to 8 bytes)."""
    header: dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
    chunks, offset = [], 0
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        code = _CODES.get(a.dtype.newbyteorder("="))
        if code is None:
            raise TypeError(f"safetensors: {name!r} has dtype {a.dtype}, which it cannot store")
        raw = np.ascontiguousarray(a, dtype=DTYPES[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def load(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of safetensors `data` (copies); a `SafetensorsError` saying what is wrong."""
    if len(data) < 8:
        raise SafetensorsError(f"{len(data)} bytes is too short for a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError(f"the header declares {n} bytes; the file holds {len(data) - 8}")
    try:
        header = json.loads(data[8:8 + n])
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise SafetensorsError(f"the header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError("the header is not a JSON object")
    header.pop("__metadata__", None)
    body = memoryview(data)[8 + n:]
    entries = []
    for name, entry in header.items():
        try:
            dtype = DTYPES[entry["dtype"]]
            shape = tuple(entry["shape"])
            begin, end = entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{name!r}: expected dtype, shape and data_offsets; got "
                                   f"{str(entry)[:80]}") from None
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise SafetensorsError(f"{name!r}: shape {list(shape)} is not non-negative integers")
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise SafetensorsError(f"{name!r}: bad data_offsets {entry['data_offsets']}")
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise SafetensorsError(f"{name!r}: shape {list(shape)} of {entry['dtype']} needs "
                                   f"{math.prod(shape) * dtype.itemsize} bytes, the offsets "
                                   f"give {end - begin}")
        entries.append((begin, end, name, dtype, shape))
    position = 0
    for begin, end, name, _, _ in sorted(entries, key=lambda e: (e[0], e[1])):
        if begin != position:
            raise SafetensorsError(f"{name!r}: data starts at {begin}, expected {position} "
                                   "(tensors must follow one another)")
        position = end
    if position != len(body):
        raise SafetensorsError(f"the tensors cover {position} bytes of data, the file holds "
                               f"{len(body)}")
    return {name: np.frombuffer(body[begin:end], dtype=dtype).reshape(shape)
            .astype(dtype.newbyteorder("="), copy=True)
            for begin, end, name, dtype, shape in entries}

