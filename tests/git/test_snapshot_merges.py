"""Merges of ``.fleet/`` never conflict (``storage.md`` 3 and 10; ``docs/git.md``).

Two clones of one bare remote work on one mission at once (each adds sorties, renames it,
ends the same sortie differently); their branches are merged with no hooks and no merge
driver: by ``git merge``, by ``git merge-tree --write-tree`` (in a clone and in the bare
remote, as a hosting service runs it) and by dulwich (``fleet-hive sync``). None may
conflict. A working tree left with stale snapshots after such a merge is reported by
``verify`` and repaired by the next write; with hooks installed, by the merge itself,
without leaving the tree dirty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fleet_hive
from tests.support import bare_remote, git, run_cli


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = bare_remote(tmp_path)
    return bare


def fleet(repo: Path, *args: str, code: int = 0) -> dict:
    got = run_cli("-C", str(repo), "--json", *args)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout) if got.stdout.strip() else {}


def clone(remote: Path, path: Path) -> Path:
    git(path.parent, "clone", "-q", str(remote), str(path))
    return path


def diverge(remote: Path, tmp_path: Path) -> tuple[Path, Path, str, str]:
    """Clone a creates a mission with one sortie and pushes it; a and b then each add two
    sorties to it, rename it and end the shared sortie (a completes, b fails), and commit
    with the git CLI (``git add .fleet`` as a user would). b pushes its branch as
    ``work``; a keeps its own ``main``. Returns (a, b, mission id, shared sortie id)."""
    a = clone(remote, tmp_path / "a")
    assert run_cli("-C", str(a), "init").returncode == 0
    m = fleet(a, "mission", "create", "Shared")["id"]
    s = fleet(a, "sortie", "add", m, "contested")["id"]
    fleet(a, "sortie", "claim", s, "--specialist", "ada")
    fleet(a, "sortie", "start", s)
    git(a, "add", ".fleet")
    git(a, "commit", "-q", "-m", "base")
    git(a, "push", "-q", "origin", "main")
    b = clone(remote, tmp_path / "b")
    assert run_cli("-C", str(b), "init").returncode == 0
    for repo, name, outcome in ((a, "a", "complete"), (b, "b", "fail")):
        for i in range(2):
            fleet(repo, "sortie", "add", m, f"{name} sortie {i}")
        fleet(repo, "mission", "update", m, "--title", f"renamed by {name}")
        fleet(repo, "sortie", outcome, s)
        git(repo, "add", ".fleet")
        git(repo, "commit", "-q", "-m", f"{name}'s work")
    git(b, "push", "-q", "origin", "main:work")
    git(a, "fetch", "-q", "origin")
    return a, b, m, s


def test_snapshots_stay_out_of_git(remote: Path, tmp_path: Path):
    """``git add .fleet`` does not pick a snapshot up: it is ignored, never committed."""
    a, _b, m, _s = diverge(remote, tmp_path)
    assert git(a, "ls-files", ".fleet/missions").stdout == ""  # never committed now
    assert git(a, "check-ignore", "-q", f".fleet/missions/{m}.yaml", check=False).returncode == 0


def test_git_merge_without_hooks_never_conflicts(remote: Path, tmp_path: Path):
    a, _b, m, s = diverge(remote, tmp_path)
    merged = git(a, "merge", "--no-edit", "origin/work", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert git(a, "status", "--porcelain").stdout == ""  # clean: nothing derived in git
    # the merged log holds both sides; the snapshot on disk is still a's view
    snapshot = (a / ".fleet" / "missions" / f"{m}.yaml").read_text()
    assert "b sortie 0" not in snapshot
    error = fleet(a, "verify", code=1)["error"]
    assert "snapshot_mismatch" in {p["kind"] for p in error["problems"]}
    # the next write repairs it (invariant 10), and the switch after it works
    fleet(a, "sortie", "add", m, "after the merge")
    snapshot = (a / ".fleet" / "missions" / f"{m}.yaml").read_text()
    assert "b sortie 0" in snapshot and "a sortie 1" in snapshot
    assert {p["kind"] for p in fleet(a, "verify")["problems"]} <= {"conflict"}
    shown = fleet(a, "sortie", "show", s)
    assert shown["conflicts"]  # the two outcomes are surfaced, not merged away
    git(a, "add", ".fleet")
    git(a, "commit", "-q", "-m", "after")
    git(a, "switch", "-q", "-c", "next")


@pytest.mark.parametrize("where", ["clone", "bare remote"])
def test_merge_tree_never_conflicts(remote: Path, tmp_path: Path, where: str):
    a, _b, _m, _s = diverge(remote, tmp_path)
    git(a, "push", "-q", "origin", "main:mine")
    repo, ours, theirs = ((a, "main", "origin/work") if where == "clone"
                          else (remote, "mine", "work"))
    merged = git(repo, "merge-tree", "--write-tree", ours, theirs, check=False)
    assert merged.returncode == 0, merged.stdout
    tree = merged.stdout.split()[0]
    listed = git(repo, "ls-tree", "-r", "--name-only", tree).stdout.split()
    assert not [p for p in listed if p.startswith(".fleet/missions/")]
    assert len([p for p in listed if p.endswith(".jsonl")]) == 2  # both writers


def test_sync_through_dulwich_never_conflicts(remote: Path, tmp_path: Path):
    a, b, m, _s = diverge(remote, tmp_path)
    git(b, "push", "-q", "origin", "main")  # b's work on main; a must merge it
    synced = fleet(a, "sync")
    assert synced["merge"] == "merge", synced
    hive_a = fleet_hive.open(a)
    titles = {s.title for s in hive_a.sorties.list(mission=m)}
    assert {"a sortie 0", "a sortie 1", "b sortie 0", "b sortie 1"} <= titles
    assert fleet(a, "verify")["ok"] is True  # sync regenerated the snapshot
    assert "b sortie 1" in (a / ".fleet" / "missions" / f"{m}.yaml").read_text()
    assert git(a, "status", "--porcelain").stdout == ""
    # the merge commit holds the merged log and nothing derived that a later merge of it
    # (by git, by a hosting service) could find changed on both sides
    assert git(a, "ls-tree", "-r", "--name-only", "HEAD", ".fleet/missions").stdout == ""
    fleet(b, "sync")
    assert fleet(b, "mission", "show", m) == fleet(a, "mission", "show", m)


def test_hooks_regenerate_after_merge_and_rebase_leaving_the_tree_clean(remote: Path,
                                                                        tmp_path: Path):
    """Item 2: with hooks installed, the snapshot is regenerated by post-merge and
    post-rewrite, nothing is left uncommitted, and the next ``git switch`` works."""
    a, _b, m, _s = diverge(remote, tmp_path)
    assert run_cli("-C", str(a), "hooks", "install").returncode == 0
    git(a, "switch", "-q", "-c", "rebased")
    git(a, "switch", "-q", "main")
    git(a, "merge", "--no-edit", "origin/work")
    assert git(a, "status", "--porcelain").stdout == ""
    assert "b sortie 0" in (a / ".fleet" / "missions" / f"{m}.yaml").read_text()
    assert fleet(a, "verify")["ok"] is True
    git(a, "switch", "-q", "rebased")  # aborted before: "local changes would be overwritten"
    assert "b sortie 0" not in (a / ".fleet" / "missions" / f"{m}.yaml").read_text()
    git(a, "rebase", "-q", "origin/work")
    assert git(a, "status", "--porcelain").stdout == ""
    assert "b sortie 0" in (a / ".fleet" / "missions" / f"{m}.yaml").read_text()
    assert fleet(a, "verify")["ok"] is True
    git(a, "switch", "-q", "main")
    # the merge commit holds the log, and nothing derived that could be stale
    assert git(a, "ls-tree", "-r", "--name-only", "HEAD", ".fleet/missions").stdout == ""


def test_an_older_repository_stops_committing_its_snapshots(repo: Path):
    """A repository an older version set up (snapshots committed, the driver named):
    ``init`` upgrades its git settings and ``fleet-hive commit`` removes the committed
    snapshots from the tree (the files stay on disk)."""
    assert run_cli("-C", str(repo), "init").returncode == 0
    (repo / ".fleet" / ".gitignore").write_text("local/\n.cache/\n")
    (repo / ".fleet" / ".gitattributes").write_text(
        "events/**/*.jsonl -text\nmissions/*.yaml merge=fleet-hive-snapshot\n")
    m = fleet(repo, "mission", "create", "Old style")["id"]
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "old style")
    assert git(repo, "ls-files", ".fleet/missions").stdout.strip() == f".fleet/missions/{m}.yaml"
    assert run_cli("-C", str(repo), "init").returncode == 0
    assert "missions/" in (repo / ".fleet" / ".gitignore").read_text().split()
    assert "merge=" not in (repo / ".fleet" / ".gitattributes").read_text()
    fleet(repo, "commit", "-m", "upgrade")
    assert git(repo, "ls-files", ".fleet/missions").stdout == ""
    assert (repo / ".fleet" / "missions" / f"{m}.yaml").exists()
    assert git(repo, "status", "--porcelain").stdout == ""
