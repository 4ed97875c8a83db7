import functools
import gzip
import hashlib
import http.server
import io
import os
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from ndgrad.datasets import mnist

FILES = list(mnist.SHA256)  # train images, train labels, test images, test labels
REAL_FETCH = mnist._fetch


def idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def fake_mnist(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 20, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 8, dtype=np.uint8),
    }


def gz_files(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The four gzipped IDX files (file name -> bytes) for these arrays."""
    pairs = zip(FILES, arrays.values(), strict=True)
    return {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in pairs}


def assert_same(d: mnist.MNIST, arrays: dict[str, np.ndarray]) -> None:
    for key, expected in arrays.items():
        got = getattr(d, key)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)


def serve(monkeypatch, files_by_url: dict[str, bytes]) -> list[str]:
    """Replace the downloader with one serving these URLs; return the list of requested URLs."""
    calls = []

    def fetch(url: str, timeout: float) -> bytes:
        assert timeout > 0
        calls.append(url)
        if url in files_by_url:
            return files_by_url[url]
        raise urllib.error.URLError(f"no route to {url}")

    monkeypatch.setattr(mnist, "_fetch", fetch)
    return calls


def use_digests_of(monkeypatch, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        monkeypatch.setitem(mnist.SHA256, name, hashlib.sha256(data).hexdigest())


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test reaches the network or the user's real cache."""
    serve(monkeypatch, {})
    monkeypatch.setenv("NDGRAD_CACHE_DIR", str(tmp_path / "env-cache"))


# --- read_idx ---------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_images_and_labels(tmp_path, compress):
    arrays = fake_mnist()
    for key in ("x_train", "y_train"):
        data = idx_bytes(arrays[key])
        path = tmp_path / key
        path.write_bytes(gzip.compress(data) if compress else data)
        got = mnist.read_idx(path)
        assert got.dtype == np.uint8 and got.shape == arrays[key].shape
        np.testing.assert_array_equal(got, arrays[key])
        np.testing.assert_array_equal(mnist.read_idx(str(path)), arrays[key])


def test_read_idx_magic_numbers_of_mnist():
    images = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    labels = idx_bytes(np.zeros(2, np.uint8))
    assert images[:4] == (0x00000803).to_bytes(4, "big")
    assert labels[:4] == (0x00000801).to_bytes(4, "big")


def test_read_idx_big_endian_int32_from_file_object():
    arr = np.array([[1, -2, 70000], [3, 4, -(2**31)]], dtype=np.int32)
    got = mnist.read_idx(io.BytesIO(idx_bytes(arr, type_code=0x0C)))
    assert got.dtype == np.dtype("int32") and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x08\x00",  # zero dims
        b"\x00\x00\x07\x01\x00\x00\x00\x01\x05",  # unknown type byte
        b"\x01\x00\x08\x01\x00\x00\x00\x01\x05",  # nonzero leading byte
        b"PK\x03\x04\x00\x00\x00\x00",  # not an IDX file at all
    ],
)
def test_read_idx_rejects_bad_magic(tmp_path, data):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"bad-idx: bad IDX magic number 0x"):
        mnist.read_idx(path)


def test_read_idx_rejects_truncated_payload(tmp_path):
    path = tmp_path / "short-images.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-1]))
    message = r"short-images\.gz: dims \(3, 28, 28\) need 2352 bytes .* holds 2351"
    with pytest.raises(ValueError, match=message):
        mnist.read_idx(path)


def test_read_idx_rejects_extra_bytes_and_short_header(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="long: dims .* holds 5"):
        mnist.read_idx(path)
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x01")
    with pytest.raises(ValueError, match="header says 3 dims"):
        mnist.read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        mnist.read_idx(path)


def test_read_idx_rejects_broken_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(50, np.uint8)))[:-6])
    with pytest.raises(ValueError, match="broken.gz: broken gzip data"):
        mnist.read_idx(path)


# --- explicit path ------------------------------------------------------------------------


def test_load_from_keras_npz(tmp_path):
    arrays = fake_mnist()
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    d = mnist.load(path)
    assert d.source == f"path:{path}"
    assert_same(d, arrays)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path)
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_npz_with_missing_or_wrong_arrays_is_an_error(tmp_path):
    arrays = fake_mnist()
    path = tmp_path / "mnist.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if k != "y_test"})
    with pytest.raises(ValueError, match=r"missing arrays \['y_test'\]"):
        mnist.load(path)
    np.savez(path, **{**arrays, "x_train": arrays["x_train"].astype(np.float32)})
    with pytest.raises(ValueError, match="x_train must be 3-d uint8, got .* float32"):
        mnist.load(path)
    np.savez(path, **{**arrays, "y_train": arrays["y_train"][:-1]})
    with pytest.raises(ValueError, match="20 train images but 19 train labels"):
        mnist.load(path)


def test_load_from_idx_directory_gz_or_raw(tmp_path):
    arrays = fake_mnist()
    for i, (name, data) in enumerate(gz_files(arrays).items()):
        if i % 2:  # every other file uncompressed, without the .gz suffix
            (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress(data))
        else:
            (tmp_path / name).write_bytes(data)
    d = mnist.load(tmp_path)
    assert d.source == f"path:{tmp_path}"
    assert_same(d, arrays)


def test_idx_directory_with_labels_in_place_of_images_is_an_error(tmp_path):
    files = gz_files(fake_mnist())
    files["train-images-idx3-ubyte.gz"] = files["train-labels-idx1-ubyte.gz"]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match=r"x_train must be 3-d uint8, got shape \(20,\)"):
        mnist.load(tmp_path)


def test_bad_explicit_paths_raise_instead_of_falling_back(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        mnist.load(tmp_path / "does-not-exist")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        mnist.load(tmp_path)
    text = tmp_path / "mnist.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="mnist.txt is neither an .npz archive"):
        mnist.load(text)


# --- cache and download -------------------------------------------------------------------


def test_cache_folder_resolution(monkeypatch, tmp_path):
    assert mnist.cache_folder(tmp_path / "c") == tmp_path / "c" / "mnist"
    assert mnist.cache_folder() == tmp_path / "env-cache" / "mnist"
    monkeypatch.delenv("NDGRAD_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.cache_folder() == tmp_path / "home" / ".cache" / "ndgrad" / "mnist"


def test_load_from_cache_without_network(monkeypatch, tmp_path):
    arrays = fake_mnist()
    folder = mnist.cache_folder(tmp_path)
    folder.mkdir(parents=True)
    for name, data in gz_files(arrays).items():
        (folder / name).write_bytes(data)
    calls = serve(monkeypatch, {})
    d = mnist.load(cache_dir=tmp_path)
    assert d.source == f"cache:{folder}"
    assert_same(d, arrays)
    assert calls == []


def test_download_checks_digests_fills_cache_then_uses_it(monkeypatch, tmp_path, capsys):
    arrays = fake_mnist()
    files = gz_files(arrays)
    use_digests_of(monkeypatch, files)
    calls = serve(monkeypatch, {mnist.MIRRORS[0] + name: data for name, data in files.items()})
    d = mnist.load(cache_dir=tmp_path)
    assert d.source == f"download:{mnist.MIRRORS[0]}"
    assert_same(d, arrays)
    assert calls == [mnist.MIRRORS[0] + name for name in FILES]
    assert "Downloading " + mnist.MIRRORS[0] + FILES[0] in capsys.readouterr().err
    folder = mnist.cache_folder(tmp_path)
    assert sorted(os.listdir(folder)) == sorted(FILES)  # no temp files left
    assert all((folder / name).read_bytes() == data for name, data in files.items())

    again = mnist.load(cache_dir=tmp_path, verbose=False)
    assert again.source == f"cache:{folder}"
    assert len(calls) == 4


def test_download_fetches_only_missing_files(monkeypatch, tmp_path):
    arrays = fake_mnist()
    files = gz_files(arrays)
    use_digests_of(monkeypatch, files)
    folder = mnist.cache_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / FILES[0]).write_bytes(files[FILES[0]])
    calls = serve(monkeypatch, {mnist.MIRRORS[1] + name: data for name, data in files.items()})
    d = mnist.load(cache_dir=tmp_path, verbose=False)
    assert d.source == f"download:{mnist.MIRRORS[1]}"
    assert_same(d, arrays)
    assert FILES[0] not in "".join(calls)
    assert calls[:2] == [mnist.MIRRORS[0] + FILES[1], mnist.MIRRORS[1] + FILES[1]]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_real_fetch_from_a_loopback_http_server(monkeypatch, tmp_path):
    """urllib end to end: the first mirror answers 404, the second serves the files."""
    arrays = fake_mnist()
    files = gz_files(arrays)
    use_digests_of(monkeypatch, files)
    served = tmp_path / "served"
    served.mkdir()
    for name, data in files.items():
        (served / name).write_bytes(data)
    handler = functools.partial(QuietHandler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/"
            monkeypatch.setattr(mnist, "MIRRORS", (base + "missing/", base))
            monkeypatch.setattr(mnist, "_fetch", REAL_FETCH)
            monkeypatch.setenv("no_proxy", "*")
            d = mnist.load(cache_dir=tmp_path / "cache", verbose=False)
        finally:
            server.shutdown()
            thread.join(timeout=10)
    assert d.source == f"download:{base}"
    assert_same(d, arrays)


def test_corrupted_download_is_not_cached_and_next_mirror_is_used(monkeypatch, tmp_path):
    arrays = fake_mnist()
    files = gz_files(arrays)
    use_digests_of(monkeypatch, files)
    served = {mnist.MIRRORS[1] + name: data for name, data in files.items()}
    served[mnist.MIRRORS[0] + FILES[2]] = files[FILES[2]][:-10] + bytes(10)  # corrupted copy
    calls = serve(monkeypatch, served)
    d = mnist.load(cache_dir=tmp_path, verbose=False)
    assert mnist.MIRRORS[0] + FILES[2] in calls
    assert d.source == f"download:{mnist.MIRRORS[1]}"
    assert_same(d, arrays)
    folder = mnist.cache_folder(tmp_path)
    assert (folder / FILES[2]).read_bytes() == files[FILES[2]]
    assert sorted(os.listdir(folder)) == sorted(FILES)


def test_corrupted_on_every_mirror_falls_back_and_caches_nothing(monkeypatch, tmp_path):
    files = gz_files(fake_mnist())
    use_digests_of(monkeypatch, files)
    bad = {m + name: data + b"junk" for m in mnist.MIRRORS for name, data in files.items()}
    serve(monkeypatch, bad)
    with pytest.warns(mnist.DatasetFallbackWarning, match="SHA-256 .*, expected"):
        d = mnist.load(cache_dir=tmp_path, verbose=False)
    assert d.source == "bundled subset"
    assert os.listdir(mnist.cache_folder(tmp_path)) == [".download-failed"]  # no data


def test_atomic_write_leaves_old_file_and_no_temp_file_on_failure(monkeypatch, tmp_path):
    target = tmp_path / "file.gz"
    mnist._atomic_write(target, b"old")
    assert target.read_bytes() == b"old"

    def crash(src, dst):
        assert Path(src).parent == Path(dst).parent  # temp file in the same directory
        assert Path(src).read_bytes() == b"new"
        raise OSError("disk vanished")

    monkeypatch.setattr(mnist.os, "replace", crash)
    with pytest.raises(OSError, match="disk vanished"):
        mnist._atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.gz"]


def test_failed_cache_write_during_download_falls_back(monkeypatch, tmp_path):
    files = gz_files(fake_mnist())
    use_digests_of(monkeypatch, files)
    serve(monkeypatch, {mnist.MIRRORS[0] + name: data for name, data in files.items()})

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(mnist.os, "replace", crash)
    with pytest.warns(mnist.DatasetFallbackWarning, match="disk full"):
        d = mnist.load(cache_dir=tmp_path, verbose=False)
    assert d.source == "bundled subset"
    assert os.listdir(mnist.cache_folder(tmp_path)) == []


# --- offline fallback and the bundled subset ----------------------------------------------


def test_offline_falls_back_to_bundled_subset_with_warning(tmp_path):
    with pytest.warns(mnist.DatasetFallbackWarning) as record:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(cache_dir=tmp_path, verbose=False)
    message = str(record[0].message)
    assert "no route to " + mnist.MIRRORS[-1] in message
    assert "bundled MNIST subset" in message and str(mnist.cache_folder(tmp_path)) in message
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert issubclass(mnist.DatasetFallbackWarning, UserWarning)


def test_download_false_does_not_fetch(monkeypatch, tmp_path):
    calls = serve(monkeypatch, {})
    with pytest.warns(mnist.DatasetFallbackWarning, match="download=False"):
        d = mnist.load(cache_dir=tmp_path, download=False)
    assert d.source == "bundled subset"
    assert calls == []


def test_bundled_subset_shapes_classes_and_disjoint_split():
    d = mnist.load_subset()
    assert d.source == "bundled subset"
    assert d.x_train.shape == (4000, 28, 28) and d.y_train.shape == (4000,)
    assert d.x_test.shape == (1000, 28, 28) and d.y_test.shape == (1000,)
    assert {a.dtype for a in (d.x_train, d.y_train, d.x_test, d.y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(d.y_train).tolist() == [400] * 10
    assert np.bincount(d.y_test).tolist() == [100] * 10
    assert d.x_train.min() == 0 and d.x_train.max() == 255
    train_images = {img.tobytes() for img in d.x_train}
    assert len(train_images) == 4000
    assert not train_images & {img.tobytes() for img in d.x_test}


def test_bundled_images_match_their_labels():
    """Nearest class-mean classification works only if images are digits with right labels."""
    d = mnist.load_subset()
    x_train = d.x_train.reshape(4000, -1).astype(np.float32)
    x_test = d.x_test.reshape(1000, -1).astype(np.float32)
    means = np.stack([x_train[d.y_train == k].mean(0) for k in range(10)])
    dist = (x_test**2).sum(1)[:, None] - 2 * x_test @ means.T + (means**2).sum(1)
    assert (dist.argmin(1) == d.y_test).mean() > 0.7
    # a "1" has much less ink than a "0"
    assert means[1].sum() < 0.6 * means[0].sum()
