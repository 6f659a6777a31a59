"""The one atomic write: whole old file or whole new file, permissions as asked, no temp
file left behind, unchanged files left alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fleet_hive.kernel import fsio


def test_writes_and_replaces_whole_files(tmp_path: Path):
    target = tmp_path / "deep" / "dir" / "f.txt"  # parents are made
    assert fsio.write_atomic(target, "one\n")
    assert target.read_text() == "one\n"
    assert fsio.write_atomic(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert sorted(os.listdir(target.parent)) == ["f.txt"]


def test_skip_unchanged_leaves_the_file_alone(tmp_path: Path):
    target = tmp_path / "f"
    fsio.write_atomic(target, b"same")
    before = target.stat().st_ino
    assert fsio.write_atomic(target, b"same", skip_unchanged=True) is False
    assert target.stat().st_ino == before
    assert fsio.write_atomic(target, b"other", skip_unchanged=True) is True
    assert target.stat().st_ino != before


def test_mode_is_applied_whatever_the_umask(tmp_path: Path):
    old = os.umask(0o077)
    try:
        fsio.write_atomic(tmp_path / "hook", "#!/bin/sh\n", mode=0o755)
        fsio.write_atomic(tmp_path / "plain", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "hook").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) & 0o600 == 0o600


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch):
    (tmp_path / "d").mkdir()
    target = tmp_path / "d" / "f"
    fsio.write_atomic(target, b"old")

    def no_space(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsio.os, "write", no_space)
    with pytest.raises(OSError, match="No space"):
        fsio.write_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path / "d") == ["f"]


def test_fsync_dir_is_strict_only_when_asked(tmp_path: Path):
    fsio.fsync_dir(tmp_path / "missing")  # best effort: silent
    with pytest.raises(FileNotFoundError):
        fsio.fsync_dir(tmp_path / "missing", best_effort=False)


def test_publish_switches_a_link_and_keeps_one_previous_generation(tmp_path: Path):
    target = tmp_path / "local" / "reservations.json"
    assert fsio.publish(target, b"one")
    assert target.is_symlink() and target.read_bytes() == b"one"
    with open(target, "rb") as reader:  # a reader holding the old version...
        first = os.readlink(target)
        assert fsio.publish(target, b"two")
        assert fsio.publish(target, b"three")
        assert reader.read() == b"one"  # ...still reads it whole
    assert target.read_bytes() == b"three"
    data_files = sorted(p.name for p in target.parent.iterdir() if p.name != target.name)
    assert len(data_files) == 2 and first not in data_files  # current + previous only
    assert fsio.publish(target, b"three", skip_unchanged=True) is False


def test_publish_replaces_a_regular_file(tmp_path: Path):
    target = tmp_path / "m.json"
    target.write_bytes(b"from an older version")
    assert fsio.publish(target, b"new")
    assert target.read_bytes() == b"new" and target.is_symlink()
