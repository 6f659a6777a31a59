"""``fleet-hive sync`` between real clones of a bare remote: convergence, refusals, races."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.git.repo import Repository
from fleet_hive.kernel.errors import ConflictError, InvalidInputError, NotFoundError
from tests.support import bare_remote, git, run_cli


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare remote whose main branch holds one commit (made with the git CLI)."""
    return bare_remote(tmp_path, {"README": "shared\n", "code.txt": "v1\n"})


def clone(remote: Path, path: Path, actor: str):
    git(path.parent, "clone", "-q", str(remote), str(path))
    return fleet_hive.init(path, actor=actor)


def event_ids(hive) -> list[str]:
    return sorted(e.id for e in hive.events.iter_all())


def state(hive) -> dict:
    """Everything a clone believes about missions and sorties (must converge exactly)."""
    missions = [hive.missions.get(m.id).to_json() for m in hive.missions.list()]
    sorties = [s.to_json() for s in hive.sorties.list()]
    snapshots = {p.name: p.read_text() for p in (hive.root / ".fleet" / "missions").glob("*")}
    return {"missions": missions, "sorties": sorties, "snapshots": snapshots}


WORK = """
import sys, fleet_hive
hive = fleet_hive.open(sys.argv[1], actor=sys.argv[2])
shared, outcome = sys.argv[3], sys.argv[4]
sortie = hive.sorties.list(mission=shared)[0]
hive.sorties.claim(sortie.id, specialist=sys.argv[2])
hive.sorties.start(sortie.id)
getattr(hive.sorties, outcome)(sortie.id, reason=f"{sys.argv[2]} says {outcome}")
own = hive.missions.create(f"mission of {sys.argv[2]}", labels=[sys.argv[2]])
for i in range(3):
    s = hive.sorties.add(own.id, f"{sys.argv[2]} sortie {i}")
    hive.events.append("note_added", stream=f"note:{sys.argv[2]}{i}", data={"text": str(i)})
hive.missions.start(own.id)
"""


def test_three_clones_converge_after_rotating_syncs(remote: Path, tmp_path: Path):
    a, b, c = (clone(remote, tmp_path / name, name) for name in ("a", "b", "c"))
    shared = a.missions.create("Shared mission")
    a.sorties.add(shared.id, "contested sortie")
    assert a.git.sync().pushed
    b.git.sync()
    c.git.sync()
    assert len(b.sorties.list(mission=shared.id)) == 1

    # each clone works at the same time, in its own process: b completes the shared sortie
    # while c fails it (concurrent conflicting facts), a completes it too; all add missions
    procs = [subprocess.Popen([sys.executable, "-c", WORK, str(h.root), name, shared.id, verb],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for h, name, verb in ((a, "a", "complete"), (b, "b", "complete"),
                                   (c, "c", "fail"))]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err

    clones = [a, b, c]
    for order in ([0, 1, 2], [1, 2, 0]):
        for i in order:
            clones[i].git.sync()
    # one of the syncs through the command line, as an agent would run it
    result = run_cli("-C", str(c.root), "--json", "sync")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["merge"] in ("up_to_date", "fast_forward")

    reference_ids = event_ids(a)
    assert len(reference_ids) > 20
    reference = state(a)
    for h in (b, c):
        assert event_ids(h) == reference_ids
        assert state(h) == reference
    for h in clones:
        assert git(h.root, "status", "--porcelain").stdout == ""
        assert git(h.root, "rev-parse", "HEAD").stdout == git(a.root, "rev-parse", "HEAD").stdout
    assert {m["title"] for m in reference["missions"]} >= {
        "Shared mission", "mission of a", "mission of b", "mission of c"}
    contested = next(s for s in reference["sorties"] if s["title"] == "contested sortie")
    assert contested.get("conflicts"), "concurrent outcomes must be surfaced"
    assert git(tmp_path, "--git-dir", str(remote), "rev-parse", "main").stdout == \
        git(a.root, "rev-parse", "HEAD").stdout


def test_conflict_outside_fleet_leaves_the_repository_as_it_was(remote: Path, tmp_path: Path):
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    (a.root / "code.txt").write_text("changed by a\n")
    git(a.root, "commit", "-q", "-am", "a edits code")
    a.events.append("note_added", stream="s:1", data={"text": "a"})
    a.git.sync()
    (b.root / "code.txt").write_text("changed by b\n")
    git(b.root, "commit", "-q", "-am", "b edits code")
    b.events.append("note_added", stream="s:1", data={"text": "pending in b"})
    (b.root / "staged.txt").write_text("staged\n")
    git(b.root, "add", "staged.txt")

    def snapshot() -> tuple:
        return (git(b.root, "rev-parse", "HEAD").stdout,
                git(b.root, "status", "--porcelain", "--untracked-files=all").stdout,
                git(b.root, "ls-files", "-s").stdout,
                git(b.root, "for-each-ref", "refs/heads").stdout,
                git(b.root, "diff").stdout)

    before = snapshot()
    with pytest.raises(ConflictError, match=r"code\.txt") as info:
        b.git.sync()
    assert "nothing was changed" in info.value.message and "git pull" in info.value.hint
    assert snapshot() == before
    result = run_cli("-C", str(b.root), "--json", "sync")
    assert result.returncode == 3 and "code.txt" in json.loads(result.stdout)["error"]["message"]
    assert snapshot() == before


def test_remote_changes_outside_fleet_come_in_unless_modified_here(remote: Path,
                                                                    tmp_path: Path):
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    (a.root / "code.txt").write_text("v2 from a\n")
    (a.root / "new_dir").mkdir()
    (a.root / "new_dir" / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (a.root / "new_dir" / "tool.sh").chmod(0o755)
    git(a.root, "add", ".")
    git(a.root, "commit", "-q", "-m", "a's code")
    git(a.root, "rm", "-q", "README")
    git(a.root, "commit", "-q", "-m", "drop readme")
    a.git.sync()

    (b.root / "code.txt").write_text("uncommitted local edit\n")
    before = git(b.root, "status", "--porcelain").stdout
    with pytest.raises(ConflictError, match=r"local changes to code\.txt"):
        b.git.sync()
    assert git(b.root, "status", "--porcelain").stdout == before
    git(b.root, "checkout", "--", "code.txt")

    (b.root / "mine.txt").write_text("b's own untracked file\n")
    b.events.append("note_added", stream="s:1", data={"text": "b"})
    result = b.git.sync()
    assert result.merge == "merge" and result.pushed
    assert (b.root / "code.txt").read_text() == "v2 from a\n"
    assert (b.root / "new_dir" / "tool.sh").stat().st_mode & 0o100
    assert not (b.root / "README").exists()
    assert git(b.root, "status", "--porcelain").stdout == "?? mine.txt\n"
    assert git(b.root, "fsck", "--no-progress").returncode == 0


def test_fast_forward_and_a_push_race_is_retried(remote: Path, tmp_path: Path, monkeypatch):
    a = clone(remote, tmp_path / "a", "a")
    b = clone(remote, tmp_path / "b", "b")
    c = clone(remote, tmp_path / "c", "c")
    a.events.append("note_added", stream="s:1", data={"text": "a"})
    first = a.git.sync()
    assert first.merge == "ahead" and first.pushed and first.attempts == 1
    c.events.append("note_added", stream="s:1", data={"text": "c"})
    b.events.append("note_added", stream="s:1", data={"text": "b"})

    real_fetch = Repository.fetch
    fetches = []

    def fetch_then_lose_the_race(self, *args, **kwargs):
        sha = real_fetch(self, *args, **kwargs)
        fetches.append(sha)
        if self.root == b.root and len(fetches) == 1:
            c.git.sync()  # c pushes between b's fetch and b's push
        return sha

    monkeypatch.setattr(Repository, "fetch", fetch_then_lose_the_race)
    result = b.git.sync()
    assert result.pushed and result.attempts == 2
    monkeypatch.undo()
    a_sync = a.git.sync()
    assert a_sync.merge == "fast_forward" and not a_sync.pushed and a_sync.fetched_events == 2
    texts = sorted(e.data["text"] for e in a.events.by_stream("s:1"))
    assert texts == ["a", "b", "c"]
    assert git(a.root, "status", "--porcelain").stdout == ""


def test_concurrent_syncs_all_succeed(remote: Path, tmp_path: Path):
    clones = [clone(remote, tmp_path / f"p{i}", f"p{i}") for i in range(3)]
    for i, h in enumerate(clones):
        h.events.append_batch([{"type": "note_added", "stream": f"s:{i}",
                                "data": {"text": str(k)}} for k in range(20)])
    procs = [subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(h.root), "sync"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for h in clones]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    for h in clones:
        h.git.sync()
    ids = [event_ids(h) for h in clones]
    assert len(ids[0]) == 60 and ids[0] == ids[1] == ids[2]


def test_refusals_detached_merge_in_progress_and_missing_remote(remote: Path, tmp_path: Path):
    a = clone(remote, tmp_path / "a", "a")
    with pytest.raises(NotFoundError, match="no remote named 'upstream'"):
        a.git.sync("upstream")
    git(a.root, "checkout", "-q", "--detach")
    with pytest.raises(InvalidInputError, match="detached"):
        a.git.sync()
    git(a.root, "checkout", "-q", "main")
    (a.root / ".git" / "MERGE_HEAD").write_text(git(a.root, "rev-parse", "HEAD").stdout)
    with pytest.raises(ConflictError, match="merge is in progress"):
        a.git.sync()


def test_sync_creates_the_remote_branch_and_refuses_a_checked_out_remote(tmp_path: Path):
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo = tmp_path / "work"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", str(bare))
    hive = fleet_hive.init(repo, actor="w")
    hive.events.append("note_added", stream="s:1", data={"text": "first"})
    result = hive.git.sync()
    assert result.merge == "new_branch" and result.pushed
    assert git(tmp_path, "--git-dir", str(bare), "log", "--oneline", "main").stdout.count(
        "\n") == 1
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))  # a non-bare remote, main checked out
    peer = fleet_hive.init(other, actor="p")
    peer.events.append("note_added", stream="s:1", data={"text": "peer"})
    with pytest.raises(ConflictError, match="checked out"):
        peer.git.sync()


def test_a_segment_changed_on_both_sides_is_refused(remote: Path, tmp_path: Path):
    """Two clones that share a writer id (a copied .fleet/local/) break the design's
    promise; sync notices instead of merging one segment's diverging lines."""
    a = clone(remote, tmp_path / "a", "a")
    a.events.append("note_added", stream="s:1", data={"text": "base"})
    a.git.sync()
    b_root = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b_root))
    import shutil

    shutil.copytree(a.root / ".fleet" / "local", b_root / ".fleet" / "local")
    b = fleet_hive.open(b_root, actor="b")
    a.events.append("note_added", stream="s:1", data={"text": "from a"})
    b.events.append("note_added", stream="s:1", data={"text": "from b"})
    a.git.sync()
    head = git(b_root, "rev-parse", "HEAD").stdout
    with pytest.raises(ConflictError, match=r"\.fleet/events/"):
        b.git.sync()
    # b's own pending change was not committed: nothing changed
    assert git(b_root, "rev-parse", "HEAD").stdout == head
