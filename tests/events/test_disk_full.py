"""A full disk during an append, on a real 2 MB tmpfs (``storage.md`` 6, 7; issue 9, item 9).

The append fails with "no space left on device (path)", leaves no partial bytes in the
segment and the writer state true, loses nothing acknowledged, and appends work again
(``n`` gapless, the same segment) once space is free.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import fleet_hive
from fleet_hive.events.log import PendingEvent, SegmentLog
from fleet_hive.kernel.errors import StorageError, storage_error
from fleet_hive.kernel.layout import Layout
from tests.support import git
from tests.support.mounts import fill, tmpfs


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for this test."""
    with tmpfs(tmp_path / "small", "2m") as mnt:
        yield mnt


def note(i: int | str, size: int = 1) -> list[PendingEvent]:
    return [PendingEvent("note_added", "s:1", {"text": f"{i}-{j}-" + "x" * 200}, "tester")
            for j in range(size)]


def stored(root: Path) -> list[dict]:
    """Every line of every segment, parsed: a partial line would fail here."""
    out = []
    for path in sorted((root / ".fleet" / "events").glob("*/*.jsonl")):
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"partial line left in {path}"
        out.extend(orjson.loads(line) for line in data.splitlines())
    return out


def test_a_full_disk_fails_the_append_cleanly_and_appends_resume_once_space_is_free(small_fs):
    repo = small_fs / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    hive = fleet_hive.init(repo, actor="tester")
    acknowledged = [hive.events.append("note_added", stream="s:1", data={"text": f"{i}"}).id
                    for i in range(5)]
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    filler = fill(small_fs)

    # The segment's last page still has room for a few events; then the disk is full.
    failures: list[StorageError] = []
    sizes = []
    for i in range(100):
        size_before = segment.stat().st_size
        try:
            acknowledged.append(hive.events.append("note_added", stream="s:1",
                                                   data={"text": f"{i}-" + "y" * 300}).id)
        except StorageError as e:
            failures.append(e)
            sizes.append((size_before, segment.stat().st_size))
            if len(failures) == 3:
                break
    else:
        pytest.fail("appending to a full disk never failed")
    assert all(e.message == f"no space left on device ({segment})" for e in failures)
    assert failures[0].hint
    assert all(before == after for before, after in sizes), "bytes of a failed append remain"

    # A batch too big for what is left fails whole.
    with pytest.raises(StorageError, match="no space left on device"):
        hive.events.append_batch([{"type": "note_added", "stream": "s:1",
                                   "data": {"text": "z" * 500}}] * 20)
    assert segment.stat().st_size == sizes[-1][1]

    filler.unlink()
    after = hive.events.append("note_added", stream="s:1", data={"text": "space again"})
    acknowledged.append(after.id)
    events = stored(repo)
    assert [e["id"] for e in events] == acknowledged, "lost, duplicated or reordered"
    assert [e["n"] for e in events] == list(range(1, len(events) + 1))
    assert list((repo / ".fleet" / "events").glob("*/*.jsonl")) == [segment], \
        "the state stayed true: the writer went on in the same segment"
    hive.close()


def test_a_full_disk_at_a_rotation_leaves_the_writer_consistent(small_fs):
    root = small_fs / "repo"
    log = SegmentLog(Layout(root), segment_max_bytes=4096)
    acknowledged = [e.id for e in log.append(note(0))]
    (first,) = (root / ".fleet" / "events").glob("*/*.jsonl")
    filler = fill(small_fs)

    # A 4 KiB segment fits in the page it already has: appends go on until the rotation,
    # whose new segment finds no space.
    error = None
    for i in range(1, 100):
        try:
            acknowledged.extend(e.id for e in log.append(note(i, size=1 + i % 2)))
        except StorageError as e:
            error = e
            break
    assert error is not None, "appending to a full disk never failed"
    segments = sorted((root / ".fleet" / "events").glob("*/*.jsonl"))
    assert first in segments and len(segments) <= 2
    assert error.message.startswith("no space left on device (")
    assert error.message != f"no space left on device ({first})", "the new segment failed"
    assert all(p.stat().st_size == 0 for p in segments if p != first)
    events = stored(root)
    assert [e["id"] for e in events] == acknowledged

    # Still full: it fails again, the same way, with nothing left behind.
    with pytest.raises(StorageError, match="no space left on device"):
        log.append(note("again"))
    assert [e["id"] for e in stored(root)] == acknowledged

    filler.unlink()
    for i in range(30):
        acknowledged.extend(e.id for e in log.append(note(f"free-{i}")))
    events = stored(root)
    assert [e["id"] for e in events] == acknowledged
    assert [e["n"] for e in events] == list(range(1, len(events) + 1))
    assert all(p.stat().st_size <= 4096 for p in (root / ".fleet" / "events").glob("*/*"))
    log.close()


def test_other_errors_name_their_strerror_and_the_path(tmp_path: Path):
    path = tmp_path / "seg.jsonl"
    eio = storage_error(OSError(errno.EIO, os.strerror(errno.EIO)), path)
    assert eio.message == f"input/output error ({path})"
    full = storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path)
    assert full.message == f"no space left on device ({path})"
    named = storage_error(FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y"),
                          path)
    assert named.message == "no such file or directory (/x/y)"
