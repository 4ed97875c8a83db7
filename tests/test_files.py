"""ndgrad._files.atomic_write: the mode a plain open() gives, errors naming the target."""

from __future__ import annotations

import os
import stat

import pytest

from ndgrad._files import atomic_write


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    old = os.umask(0o027)
    try:
        with open(tmp_path / "plain", "wb") as f:
            f.write(b"x")
        atomic_write(tmp_path / "atomic", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "atomic") == _mode(tmp_path / "plain") == 0o640
    assert os.umask(old) == old  # the umask is left as it was


def test_an_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    os.chmod(target, 0o604)
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and _mode(target) == 0o604
    assert os.listdir(tmp_path) == ["f"]


def test_errors_name_the_target_not_the_temporary_file(tmp_path):
    folder = tmp_path / "a folder"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        atomic_write(folder, lambda f: f.write(b"x"))
    assert info.value.filename == str(folder)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError) as info:
            atomic_write(locked / "f", lambda f: f.write(b"x"))
        assert info.value.filename == str(locked / "f")


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def crash(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, crash)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f"]
