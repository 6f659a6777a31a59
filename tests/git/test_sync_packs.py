"""``fleet-hive sync`` and the remote's packs: a remote that ``git gc`` repacked (with a
bitmap), and pushes and fetches that send only the objects the other side lacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dulwich.pack
import pytest
from dulwich.repo import Repo

import fleet_hive
from fleet_hive.git.repo import missing_objects
from tests.support import bare_remote as shared_bare_remote
from tests.support import git


def bare_remote(tmp_path: Path, files: int = 1) -> Path:
    """A bare remote whose main branch holds one commit with ``files`` files (git CLI)."""
    return shared_bare_remote(tmp_path, {f"src/pkg{i % 20:02d}/file{i:05d}.py": f"VALUE = {i}\n"
                                         for i in range(files)})


def clone(remote: Path, path: Path, actor: str):
    git(path.parent, "clone", "-q", str(remote), str(path))
    return fleet_hive.init(path, actor=actor)


def packs(git_dir: Path) -> dict[str, bool]:
    """pack name -> whether it has a bitmap."""
    pack_dir = git_dir / "objects" / "pack"
    return {p.stem: p.with_suffix(".bitmap").exists() for p in pack_dir.glob("*.pack")}


def object_count(git_dir: Path) -> int:
    return len(git(git_dir, "rev-list", "--objects", "--all").stdout.splitlines())


@contextmanager
def pack_reads() -> Iterator[list[int]]:
    """Counts the objects dulwich decompresses from pack files (in this process)."""
    counted = [0]
    original = dulwich.pack.unpack_object_at

    def counting(*args, **kwargs):
        counted[0] += 1
        return original(*args, **kwargs)

    dulwich.pack.unpack_object_at = counting
    try:
        yield counted
    finally:
        dulwich.pack.unpack_object_at = original


def test_sync_after_gc_aggressive_on_the_remote(tmp_path: Path):
    """git gc in a bare remote writes a bitmap; the next push adds a pack without one. dulwich
    then looked for that pack's bitmap on every fetch and failed (`git fetch` did not)."""
    remote = bare_remote(tmp_path)
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    a.missions.create("before gc")
    assert a.git.sync().pushed
    b.git.sync()
    git(remote, "gc", "--aggressive", "-q")
    assert list(packs(remote).values()) == [True], "git gc wrote one pack with a bitmap"

    a.missions.create("after gc")
    assert a.git.sync().pushed
    assert sorted(packs(remote).values()) == [False, True], "the push added a bitmap-less pack"

    b.missions.create("from b")
    result = b.git.sync()  # failed: No such file or directory: .../pack-X.bitmap
    assert result.merge == "merge" and result.pushed
    assert a.git.sync().merge == "fast_forward"
    for h in (a, b):
        assert {m.title for m in h.missions.list()} == {"before gc", "after gc", "from b"}
        assert git(h.root, "fsck", "--no-dangling").returncode == 0
    assert git(remote, "fsck", "--no-dangling").returncode == 0
    assert git(a.root, "fetch", "-q", "origin").returncode == 0


def test_push_from_a_clone_whose_own_pack_has_a_bitmap(tmp_path: Path):
    """The same fault on the sending side: a clone repacked with a bitmap, then a fetch adds
    a pack without one; the push's object walk read every pack's bitmap."""
    remote = bare_remote(tmp_path)
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    a.missions.create("one")
    a.git.sync()
    git(b.root, "repack", "-a", "-d", "-b", "-q")
    assert True in packs(b.root / ".git").values()
    b.missions.create("two")
    assert b.git.sync().merge == "merge"  # the fetch added a pack without a bitmap
    assert False in packs(b.root / ".git").values()
    b.missions.create("three")
    assert b.git.sync().pushed
    a.git.sync()
    assert {m.title for m in a.missions.list()} == {"one", "two", "three"}


def test_push_sends_and_reads_only_what_the_remote_lacks(tmp_path: Path):
    """A push of a few new objects from a clone of 2,000 files sends just those, and reads
    no more of the clone's pack than the trees it compares against (dulwich's own pack
    generation decompressed every object of the pack looking for deltas to reuse)."""
    remote = bare_remote(tmp_path, files=2000)
    in_pack = object_count(remote)
    assert in_pack > 2000
    a = clone(remote, tmp_path / "a", "a")
    a.missions.create("a mission")
    a.git.commit("record the mission")
    before = object_count(remote)
    with pack_reads() as reads:
        result = a.git.sync()
    added = object_count(remote) - before
    assert result.pushed and 0 < added < 20
    assert result.objects_sent == added
    assert reads[0] < in_pack / 10, f"the push read {reads[0]} of {in_pack} packed objects"

    # the other way: a fetch from a remote on this machine reads only what it sends, too
    b = clone(remote, tmp_path / "b", "b")
    a.events.append("note_added", stream="note:1", data={"text": "one more"})
    assert a.git.sync().objects_sent < 20
    git(remote, "repack", "-a", "-d", "-q")  # everything in one pack, as a served remote has
    with pack_reads() as reads:
        result = b.git.sync()
    assert result.fetched_events == 1
    assert reads[0] < in_pack / 10, f"the fetch read {reads[0]} of {in_pack} packed objects"
    assert git(b.root, "fsck", "--no-dangling").returncode == 0


@pytest.mark.parametrize("ofs", [True, False])
def test_pushed_deltas_stay_valid(tmp_path: Path, ofs: bool):
    """Objects stored as deltas in the clone's pack are sent as deltas whose base the remote
    has or receives, or whole: either way git accepts the pack and fsck is clean."""
    remote = bare_remote(tmp_path, files=50)
    a = clone(remote, tmp_path / "a", "a")
    big = a.root / "big.txt"
    for round_ in range(3):
        big.write_text("".join(f"line {i}\n" for i in range(2000)) + f"round {round_}\n")
        git(a.root, "add", "big.txt")
        git(a.root, "commit", "-q", "-m", f"round {round_}")
    # pack the clone so new objects are deltas of each other (ofs or ref deltas)
    git(a.root, "-c", f"repack.useDeltaBaseOffset={str(ofs).lower()}", "repack", "-adfq")
    base = git(remote, "rev-parse", "main").stdout.strip().encode()
    head = git(a.root, "rev-parse", "HEAD").stdout.strip().encode()
    with Repo(str(a.root)) as raw:
        count, entries = missing_objects(raw.object_store, {base}, {head})
        kinds = [e.pack_type_num for e in entries]
    assert len(kinds) == count and dulwich.pack.REF_DELTA in kinds, "deltas are sent as stored"
    a.missions.create("with deltas")
    assert a.git.sync().pushed
    assert git(remote, "fsck", "--no-dangling").returncode == 0
    assert git(remote, "rev-parse", "main").stdout == git(a.root, "rev-parse", "HEAD").stdout
    b = clone(remote, tmp_path / "b", "b")
    assert (b.root / "big.txt").read_text() == big.read_text()

    # a delta whose base only the remote has (a thin pack): git and dulwich complete it
    big.write_text(big.read_text().replace("line 7\n", ""))  # smaller: git deltas it
    git(a.root, "commit", "-q", "-am", "round 3")
    git(a.root, "-c", f"repack.useDeltaBaseOffset={str(ofs).lower()}", "repack", "-adfq")
    base = git(remote, "rev-parse", "main").stdout.strip().encode()
    head = git(a.root, "rev-parse", "HEAD").stdout.strip().encode()
    with Repo(str(a.root)) as raw:
        _count, entries = missing_objects(raw.object_store, {base}, {head})
        bases = [e.delta_base for e in entries if e.pack_type_num == dulwich.pack.REF_DELTA]
    assert bases, "the new blob is sent as a delta"
    for delta_base in bases:  # against a blob the remote already has
        assert git(remote, "cat-file", "-e", delta_base.hex()).returncode == 0
    a.events.append("note_added", stream="note:1", data={"text": "after the repack"})
    assert a.git.sync().pushed
    assert git(remote, "fsck", "--no-dangling").returncode == 0
    assert b.git.sync().merge == "fast_forward"
    assert (b.root / "big.txt").read_text() == big.read_text()
