"""Checks that a file is a well-formed SVG or PNG image (no image library needed)."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_TAG = "{http://www.w3.org/2000/svg}svg"


def assert_valid_image(path: Path) -> None:
    """Assert `path` is a non-empty SVG (parsed XML, an <svg> root with a size and content) or
    a PNG (signature, IHDR chunk with its CRC and a positive size, IDAT, IEND)."""
    data = path.read_bytes()
    if path.suffix == ".svg":
        root = ET.fromstring(data)
        assert root.tag == SVG_TAG, f"{path.name}: root element is {root.tag}, not <svg>"
        assert root.get("viewBox") or (root.get("width") and root.get("height")), path.name
        drawn = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in {"path", "polygon", "text"}]
        assert drawn, f"{path.name}: the SVG draws nothing"
    elif path.suffix == ".png":
        assert data.startswith(PNG_SIGNATURE), f"{path.name}: no PNG signature"
        length, kind = struct.unpack(">I4s", data[8:16])
        assert kind == b"IHDR" and length == 13, f"{path.name}: the first chunk is not IHDR"
        header, crc = data[16:29], struct.unpack(">I", data[29:33])[0]
        assert zlib.crc32(b"IHDR" + header) == crc, f"{path.name}: IHDR checksum mismatch"
        width, height = struct.unpack(">II", header[:8])
        assert width > 0 and height > 0, f"{path.name}: empty image"
        assert b"IDAT" in data and data.endswith(b"IEND\xaeB`\x82"), f"{path.name}: truncated"
    else:
        raise AssertionError(f"{path.name}: not an .svg or .png file")
