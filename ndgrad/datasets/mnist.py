"""MNIST handwritten digits: 28x28 uint8 images with uint8 labels 0..9, Keras-style.

``load_data()`` looks, in order, at an explicit ``path``, the local cache, the public mirrors
(SHA-256 checked) and, failing all of these, the bundled real 5000-image subset (with a
``DatasetFallbackWarning``). ``load()`` returns the same data as an ``MNIST`` record that also
says where the data came from.

The cache is ``$NDGRAD_CACHE_DIR/mnist``, else ``$XDG_CACHE_HOME/ndgrad/mnist``, else
``~/.cache/ndgrad/mnist``. ``NDGRAD_OFFLINE=1`` never downloads; a failed download is
remembered for an hour (a ``.download-failed`` file in the cache), so offline runs do not wait
on the mirrors each time.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import sys
import time
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .._files import atomic_write

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of the four standard gzipped IDX files (LeCun, Cortes and Burges' originals).
SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}
_PARTS = ("x_train", "y_train", "x_test", "y_test")  # in the order of SHA256's files
_TIMEOUT = 30.0  # seconds without data before a download attempt gives up
RETRY_AFTER = 3600.0  # seconds a failed download is remembered before the mirrors are tried again
_FAILED = ".download-failed"  # in the cache folder: the time and reason of the last failure
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetFallbackWarning(UserWarning):
    """Full MNIST could not be had; the bundled 5000-image subset is used instead.

    ``reason`` says why and ``folder`` is the cache folder the files could be put into.
    """

    def __init__(self, message: str, reason: str = "", folder: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.folder = folder


class DownloadError(OSError):
    """No mirror delivered a file with the expected SHA-256."""


@dataclass(frozen=True)
class MNIST:
    """MNIST splits: images (n, 28, 28) uint8, labels (n,) uint8; ``source`` tells where from.

    ``source`` is ``"path:<path>"``, ``"cache:<dir>"``, ``"download:<mirror>"`` or
    ``"bundled subset"``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def read_idx(file_or_path: str | os.PathLike[str] | BinaryIO) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into an array in native byte order.

    MNIST images have magic 0x00000803 (uint8, 3 dims: (n, 28, 28)), labels 0x00000801
    (uint8, 1 dim: (n,)). Raises ``ValueError`` naming the file when the header or length
    is wrong.
    """
    if isinstance(file_or_path, str | os.PathLike):
        name = os.fspath(file_or_path)
        with open(file_or_path, "rb") as f:
            data = f.read()
    else:
        name = getattr(file_or_path, "name", repr(file_or_path))
        data = file_or_path.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{name}: broken gzip data ({exc})") from exc
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\0\0" or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{name}: bad IDX magic number 0x{magic:08X} (expected 0x000008NN with type byte "
            f"in {sorted(_IDX_DTYPES)} and 1 or more dims, e.g. 0x00000803 for images)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: header says {ndim} dims but the file ends at byte {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{name}: dims {shape} need {expected} bytes of {dtype.name} data "
            f"but the file holds {len(data) - header}"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=header)
    return flat.reshape(shape).astype(dtype.newbyteorder("="))


def _check(parts: dict[str, np.ndarray], where: str) -> tuple[np.ndarray, ...]:
    """Check ranks, dtypes and matching lengths; return the four arrays in _PARTS order."""
    for key, arr in parts.items():
        ndim = 3 if key.startswith("x") else 1
        if arr.ndim != ndim or arr.dtype != np.uint8:
            raise ValueError(
                f"{where}: {key} must be {ndim}-d uint8, got shape {arr.shape} dtype {arr.dtype}"
            )
    for split in ("train", "test"):
        x, y = parts[f"x_{split}"], parts[f"y_{split}"]
        if len(x) != len(y):
            raise ValueError(f"{where}: {len(x)} {split} images but {len(y)} {split} labels")
    return tuple(parts[key] for key in _PARTS)


def _read_idx_dir(folder: Path) -> tuple[np.ndarray, ...]:
    """Read the four MNIST IDX files, each gzipped or raw, from folder."""
    found = []
    for gz_name in SHA256:
        candidates = (folder / gz_name, folder / gz_name.removesuffix(".gz"))
        found.append(next((p for p in candidates if p.is_file()), None))
        if found[-1] is None:
            raise FileNotFoundError(f"{folder}: none of {[p.name for p in candidates]} found")
    return _check({key: read_idx(p) for key, p in zip(_PARTS, found, strict=True)}, str(folder))


def _read_npz(file: Path | BinaryIO, where: str) -> tuple[np.ndarray, ...]:
    """Read a Keras-style mnist.npz holding x_train, y_train, x_test, y_test."""
    with np.load(file, allow_pickle=False) as npz:
        missing = [key for key in _PARTS if key not in npz.files]
        if missing:
            raise ValueError(f"{where}: missing arrays {missing} (holds {npz.files})")
        return _check({key: npz[key] for key in _PARTS}, where)


def _from_path(path: Path) -> tuple[np.ndarray, ...]:
    if path.is_dir():
        return _read_idx_dir(path)
    if not path.exists():
        raise FileNotFoundError(f"MNIST path {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is neither an .npz archive nor a directory of IDX files")
    return _read_npz(path, str(path))


def _fetch(url: str, timeout: float) -> bytes:
    """Download url; tests replace this function to stay off the network."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write data to path so that path is never partial (temp file + rename)."""
    atomic_write(path, lambda f: f.write(data))


def _download(name: str, folder: Path, verbose: bool) -> str:
    """Save one file into folder from the first mirror giving the right SHA-256; return it."""
    problems = []
    for mirror in MIRRORS:
        url = mirror + name
        if verbose:
            print(f"Downloading {url}", file=sys.stderr)
        try:
            data = _fetch(url, _TIMEOUT)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"{url}: {exc}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256[name]:
            problems.append(f"{url}: SHA-256 {digest}, expected {SHA256[name]}")
            continue
        _atomic_write(folder / name, data)
        return mirror
    raise DownloadError(f"could not download {name}: " + "; ".join(problems))


def cache_folder(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder for the MNIST files: ``<cache_dir>/mnist``, where cache_dir defaults to
    ``$NDGRAD_CACHE_DIR``, else ``$XDG_CACHE_HOME/ndgrad``, else ``~/.cache/ndgrad``."""
    root = cache_dir or os.environ.get("NDGRAD_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg).expanduser() if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
        root = base / "ndgrad"
    return Path(root).expanduser() / "mnist"


def _offline() -> bool:
    return os.environ.get("NDGRAD_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _recent_failure(folder: Path) -> str | None:
    """Why the last download failed, if it failed less than RETRY_AFTER seconds ago."""
    marker = folder / _FAILED
    try:
        age = time.time() - marker.stat().st_mtime
        if not 0 <= age < RETRY_AFTER:
            return None
        reason = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    minutes = max(1, round(age / 60))
    return (f"the download failed {minutes} min ago ({reason}); ndgrad tries again after "
            f"{RETRY_AFTER / 60:.0f} min, or at once if you delete {marker}")


def _remember_failure(folder: Path, reason: str) -> None:
    with contextlib.suppress(OSError):  # an unwritable cache only means the next run retries
        _atomic_write(folder / _FAILED, reason.encode("utf-8"))


def load_subset() -> MNIST:
    """The bundled real MNIST subset: 4000 train / 1000 test images, 400 / 100 per digit."""
    with (resources.files(__package__) / "data" / "mnist_5k.npz").open("rb") as f:
        arrays = _read_npz(f, "bundled mnist_5k.npz")
    return MNIST(*arrays, source="bundled subset")


def load(
    path: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verbose: bool = True,
) -> MNIST:
    """Load MNIST (60000 train / 10000 test) and say where it came from.

    ``path`` is a Keras ``mnist.npz`` or a directory of the four IDX files; errors there are
    raised. Without it: the cache folder (see ``cache_folder()``), then, if ``download``, the
    mirrors into that folder; if both fail, the bundled subset with a
    ``DatasetFallbackWarning``.
    """
    if path is not None:
        return MNIST(*_from_path(Path(path)), source=f"path:{path}")
    folder = cache_folder(cache_dir)
    missing = [name for name in SHA256 if not (folder / name).is_file()]
    if not missing:
        return MNIST(*_read_idx_dir(folder), source=f"cache:{folder}")
    if not download:
        reason = f"download=False and {folder} lacks {missing}"
    elif _offline():
        reason = f"NDGRAD_OFFLINE is set and {folder} lacks {missing}"
    elif (failure := _recent_failure(folder)) is not None:
        reason = failure
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            mirrors = [_download(name, folder, verbose) for name in missing]
        except OSError as exc:
            reason = str(exc)
            _remember_failure(folder, reason)
        else:
            (folder / _FAILED).unlink(missing_ok=True)
            source = "download:" + ",".join(sorted(set(mirrors)))
            return MNIST(*_read_idx_dir(folder), source=source)
    warnings.warn(
        DatasetFallbackWarning(
            f"Full MNIST unavailable ({reason}). Using the bundled MNIST subset "
            "(4000 train / 1000 test images). For full MNIST, call load_data() with network "
            f"access, or put {', '.join(SHA256)} into {folder}, or pass path= to a Keras "
            "mnist.npz.",
            reason=reason,
            folder=str(folder),
        ),
        stacklevel=_caller_level(),
    )
    return load_subset()


def _caller_level() -> int:
    """The stacklevel of the first frame outside this module (load, or load_data -> load)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verbose: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` as Keras returns them; see ``load``."""
    d = load(path, cache_dir=cache_dir, download=download, verbose=verbose)
    return (d.x_train, d.y_train), (d.x_test, d.y_test)
