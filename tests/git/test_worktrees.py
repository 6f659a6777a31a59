"""Worktrees, commits and merges through the git command line (real repositories), for
sorties that run in isolation."""

from __future__ import annotations

from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.git import worktrees as wt
from tests.support import git

AGENT = wt.Identity("agent-1")


@pytest.fixture
def project(repo: Path) -> Path:
    """A repository with ``.fleet/`` committed and a small package."""
    fleet_hive.init(repo).close()
    (repo / "src").mkdir()
    for name in ("a", "b", "c"):
        (repo / "src" / f"{name}.py").write_text(f"{name} = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "project")
    return repo


def _worktree(project: Path, name: str) -> wt.Worktree:
    return wt.add_worktree(project, project / ".fleet" / "local" / "worktrees" / name, "main",
                           branch=f"fleet/m/{name}")


def test_a_worktree_leaves_the_event_log_out_and_finds_the_repositorys_own(project: Path):
    w = _worktree(project, "s1")
    assert w.base == wt.rev_parse(project, "main") and w.branch == "fleet/m/s1"
    assert (w.path / "src" / "a.py").read_text() == "a = 1\n"
    assert not (w.path / ".fleet").exists()
    assert wt.dirty_files(w.path) == []  # the hidden files do not show as deleted
    # fleet-hive run inside the worktree walks up to the repository's .fleet/
    with fleet_hive.open(w.path / "src") as hive:
        assert hive.root == project.resolve()
    assert git(project, "status", "--porcelain").stdout == ""  # the user's tree: untouched


def test_commit_all_records_what_the_agent_left_and_nothing_of_the_log(project: Path):
    w = _worktree(project, "s1")
    assert wt.commit_all(w.path, "nothing", AGENT) is None
    (w.path / "src" / "a.py").write_text("a = 2\n")
    (w.path / "src" / "new.py").write_text("new = 1\n")
    (w.path / "src" / "b.py").unlink()
    commit = wt.commit_all(w.path, "sortie s1", AGENT)
    assert commit is not None
    assert wt.changed_files(project, w.base, commit) == ["src/a.py", "src/b.py", "src/new.py"]
    author = git(project, "log", "-1", "--format=%an <%ae>", commit).stdout.strip()
    assert author == "agent-1 <agent-1@fleet-hive.invalid>"


def test_a_merge_lands_on_the_checked_out_base_branch_and_its_files(project: Path):
    w1, w2 = _worktree(project, "s1"), _worktree(project, "s2")
    (w1.path / "src" / "a.py").write_text("a = 2\n")
    (w2.path / "src" / "b.py").write_text("b = 2\n")
    wt.commit_all(w1.path, "s1", AGENT)
    wt.commit_all(w2.path, "s2", AGENT)
    first = wt.merge(project, "main", "fleet/m/s1", message="merge s1", identity=AGENT)
    assert first.status == "merged"
    second = wt.merge(project, "main", "fleet/m/s2", message="merge s2", identity=AGENT)
    assert second.status == "merged" and second.base_before == first.commit
    assert wt.rev_parse(project, "main") == second.commit
    assert (project / "src" / "a.py").read_text() == "a = 2\n"  # the user's tree follows
    assert (project / "src" / "b.py").read_text() == "b = 2\n"
    assert git(project, "status", "--porcelain").stdout == ""
    parents = git(project, "log", "-1", "--format=%P", second.commit).stdout.split()
    assert parents == [first.commit, wt.rev_parse(project, "fleet/m/s2")]
    again = wt.merge(project, "main", "fleet/m/s2", message="again", identity=AGENT)
    assert again.status == "up_to_date"


def test_a_conflict_is_reported_and_nothing_moves(project: Path):
    w1, w2 = _worktree(project, "s1"), _worktree(project, "s2")
    (w1.path / "src" / "a.py").write_text("a = 'one'\n")
    (w2.path / "src" / "a.py").write_text("a = 'two'\n")
    wt.commit_all(w1.path, "s1", AGENT)
    wt.commit_all(w2.path, "s2", AGENT)
    assert wt.merge(project, "main", "fleet/m/s1", message="m", identity=AGENT).status == \
        "merged"
    tip = wt.rev_parse(project, "main")
    out = wt.merge(project, "main", "fleet/m/s2", message="m", identity=AGENT)
    assert (out.status, out.conflicts) == ("conflict", ["src/a.py"])
    assert wt.rev_parse(project, "main") == tip
    assert (project / "src" / "a.py").read_text() == "a = 'one'\n"


def test_local_changes_in_the_way_refuse_the_merge_and_are_kept(project: Path):
    w = _worktree(project, "s1")
    (w.path / "src" / "a.py").write_text("a = 2\n")
    wt.commit_all(w.path, "s1", AGENT)
    (project / "src" / "a.py").write_text("a = 'mine, uncommitted'\n")
    tip = wt.rev_parse(project, "main")
    out = wt.merge(project, "main", "fleet/m/s1", message="m", identity=AGENT)
    assert out.status == "refused" and "commit or stash" in out.message
    assert wt.rev_parse(project, "main") == tip
    assert (project / "src" / "a.py").read_text() == "a = 'mine, uncommitted'\n"
    assert wt.dirty_files(project) == ["src/a.py"]


def test_a_base_branch_not_checked_out_moves_by_compare_and_swap(project: Path):
    git(project, "branch", "integration")
    w = wt.add_worktree(project, project / ".fleet" / "local" / "worktrees" / "s1",
                        "integration", branch="fleet/m/s1")
    (w.path / "src" / "c.py").write_text("c = 2\n")
    work = wt.commit_all(w.path, "s1", AGENT)
    tip = wt.rev_parse(project, "integration")
    assert work and wt.move_branch(project, "integration", work, work).status == "moved"
    assert wt.rev_parse(project, "integration") == tip  # not from where it is: untouched
    out = wt.merge(project, "integration", "fleet/m/s1", message="m", identity=AGENT)
    assert out.status == "merged" and wt.rev_parse(project, "integration") == out.commit
    assert (project / "src" / "c.py").read_text() == "c = 1\n"  # main, checked out: as it was


def test_removing_cleans_the_worktree_its_branch_and_gits_records(project: Path):
    w = _worktree(project, "s1")
    (w.path / "src" / "a.py").write_text("changed, never committed\n")
    wt.remove_worktree(project, w.path, branch=w.branch)
    assert not w.path.exists() and not wt.branch_exists(project, "fleet/m/s1")
    assert [e["path"] for e in wt.list_worktrees(project)] == [project.resolve()]
    # after a crash: the directory gone, git still lists it; removing again cleans it
    w = _worktree(project, "s2")
    import shutil

    shutil.rmtree(w.path)
    wt.remove_worktree(project, w.path, branch=w.branch)
    assert [e["path"] for e in wt.list_worktrees(project)] == [project.resolve()]
    assert git(project, "worktree", "prune", "--dry-run", "-v").stdout == ""


def test_errors_name_the_problem(project: Path):
    with pytest.raises(wt.GitFailed, match="no commit"):
        wt.add_worktree(project, project / "x", "no-such-branch", branch="b")
    with pytest.raises(wt.GitFailed, match="no branch"):
        wt.merge(project, "main", "no-such-branch", message="m", identity=AGENT)
    wt.check_version(project)  # this machine's git is recent enough
    assert wt.version(project) >= wt.MIN_GIT
