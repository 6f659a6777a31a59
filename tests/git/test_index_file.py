"""The git index file format (fleet_hive.git.index_file) against indexes git itself wrote."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from fleet_hive.git.index_file import (
    Entry,
    IndexFile,
    _decode_varint,
    _encode_varint,
    _invalidate_cache_tree,
    locked_index,
)
from fleet_hive.kernel.errors import StorageError
from tests.support import git


def blob_sha(data: bytes) -> bytes:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).digest()


@pytest.fixture
def many(repo: Path) -> Path:
    """A repository with nested directories, an executable, a symlink, a long name."""
    for i in range(40):
        d = repo / f"dir{i % 4}" / f"sub{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i}.txt").write_text(f"{i}\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    os.symlink("run.sh", repo / "link")
    (repo / ("n" * 200)).write_text("long name\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "many")
    git(repo, "write-tree")
    return repo


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_round_trip_of_what_git_wrote(many: Path, version: str):
    git(many, "update-index", "--index-version", version)
    if version == "3":
        git(many, "update-index", "--skip-worktree", "dir0/sub0/file0.txt")  # extended flags
    empty = git(many, "hash-object", "-w", "--stdin").stdout.strip()
    huge = "/".join(["d" * 250] * 20)  # longer than the 12-bit name length field
    git(many, "update-index", "--add", "--cacheinfo", f"100644,{empty},{huge}")
    data = (many / ".git" / "index").read_bytes()
    index = IndexFile.parse(data)
    assert index.version == int(version)
    assert index.serialize() == data
    names = [e.name for e in index.entries()]
    assert names == sorted(names) and b"n" * 200 in names and huge.encode() in names
    assert index.get(b"run.sh").mode == 0o100755
    assert index.get(b"link").mode == 0o120000
    assert [e.name for e in index.entries(b"dir1/")] == sorted(
        n for n in names if n.startswith(b"dir1/"))


@pytest.mark.parametrize("version", ["2", "4"])
def test_update_keeps_git_happy(many: Path, version: str):
    git(many, "update-index", "--index-version", version)
    path = many / ".git" / "index"
    (many / "dir1" / "sub1" / "file1.txt").write_text("changed\n")
    (many / "added.txt").write_text("new\n")
    (many / "dir2" / "sub2" / "file2.txt").unlink()
    with locked_index(path) as lock:
        index = lock.read()
        updates: dict[bytes, Entry | None] = {b"dir2/sub2/file2.txt": None}
        for name in (b"dir1/sub1/file1.txt", b"added.txt"):
            stored = git(many, "hash-object", "-w", os.fsdecode(name)).stdout.strip()
            updates[name] = Entry.from_stat(name, bytes.fromhex(stored), 0o100644,
                                            os.lstat(many / os.fsdecode(name)))
        index.update(updates)
        lock.commit(index)
    assert not (many / ".git" / "index.lock").exists()
    status = git(many, "status", "--porcelain").stdout.splitlines()
    assert sorted(status) == ["A  added.txt", "D  dir2/sub2/file2.txt",
                              "M  dir1/sub1/file1.txt"]
    tree = git(many, "write-tree").stdout.strip()  # uses the (invalidated) cache-tree
    listed = git(many, "ls-tree", "-r", "--name-only", tree).stdout.split()
    assert "added.txt" in listed and "dir2/sub2/file2.txt" not in listed


def test_cache_tree_is_invalidated_along_changed_paths(many: Path):
    index = IndexFile.read(many / ".git" / "index")
    (payload,) = [p for sig, p in index.extensions if sig == b"TREE"]
    changed = _invalidate_cache_tree(payload, [b"dir1/sub1/file1.txt"])
    assert changed is not None and changed != payload
    index.extensions = [(b"TREE", changed)]
    path = many / ".git" / "index"
    path.write_bytes(index.serialize())
    dump = subprocess.run(["git", "-C", str(many), "ls-files", "--debug"], capture_output=True)
    assert dump.returncode == 0
    # git still reads it, and a cache-tree it trusts gives the same tree as a full rebuild
    assert git(many, "write-tree").stdout == git(many, "rev-parse", "HEAD^{tree}").stdout
    assert _invalidate_cache_tree(b"garbage", [b"x"]) is None


def test_racily_clean_entries_are_smudged(repo: Path):
    path = repo / ".git" / "index"
    index = IndexFile.read(path)
    entry = index.get(b"README")
    assert entry is not None and entry.size > 0
    index.mtime_ns = entry.mtime[0] * 1_000_000_000  # the index as old as the file
    index.update({b"other": Entry(b"other", blob_sha(b""), 0o100644)})
    assert index.get(b"README").size == 0  # git will compare its content
    assert index.get(b"other") is not None


def test_corrupt_split_and_missing_indexes(repo: Path, tmp_path: Path):
    path = repo / ".git" / "index"
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF
    with pytest.raises(StorageError, match="checksum"):
        IndexFile.parse(bytes(data))
    with pytest.raises(StorageError, match="not a git index"):
        IndexFile.parse(b"nonsense")
    assert len(IndexFile.read(tmp_path / "no-index")) == 0
    git(repo, "update-index", "--split-index")
    with pytest.raises(StorageError, match="split index"):
        IndexFile.read(path)


def test_varints_round_trip():
    for value in (0, 1, 127, 128, 255, 16511, 16512, 2**20, 2**31):
        encoded = _encode_varint(value)
        assert _decode_varint(encoded + b"tail", 0) == (value, len(encoded))
