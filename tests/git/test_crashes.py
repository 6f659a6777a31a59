"""A fleet-hive git write killed (SIGKILL) at each step (issue 10, item 13): the state it
leaves is one git and fleet-hive both handle. The next ``fleet-hive commit`` works (stale
loose-object locks of the dead process are removed) and a plain ``git commit`` afterwards
never deletes what fleet-hive committed or was about to commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import fleet_hive
from tests.support import PROJECT, git, run_cli

#: A child that commits .fleet/ and SIGKILLs itself at one step, chosen by argv[2].
CHILD = r"""
import os, signal, sys
import fleet_hive
from fleet_hive.git import commit as commit_module, index_file, repo as repo_module

step = sys.argv[2]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if step == "object":  # inside dulwich's loose-object write: its .lock file is open
    import dulwich.file
    dulwich.file._GitFile.write = lambda self, data: die()
elif step == "index":  # the new index written into index.lock, not yet renamed
    original_commit = index_file.IndexLock.commit
    def commit(self, index=None):
        if index is not None:
            self.write(index)
        die()
    index_file.IndexLock.commit = commit
elif step == "branch":  # the index in place, the branch not moved yet
    repo_module.Repository.move_branch = lambda self, *a, **k: die()
elif step == "after":  # the branch moved, the locks and owner records still there
    original_move = repo_module.Repository.move_branch
    def move(self, *a, **k):
        original_move(self, *a, **k)
        die()
    repo_module.Repository.move_branch = move

hive = fleet_hive.open(sys.argv[1], actor="doomed")
hive.git.commit("killed commit")
print("not killed")
"""

STEPS = ["object", "index", "branch", "after"]


def _kill_commit(repo: Path, step: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(repo), step], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, (step, proc.stdout, proc.stderr)


def _object_locks(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "objects").glob("??/*.lock"))


def _committed(repo: Path, path: str) -> str:
    return git(repo, "show", f"HEAD:{path}").stdout


def _setup(repo: Path) -> tuple[str, str]:
    """A committed mission, then a new note: ``(segment path, the note's text)``."""
    with fleet_hive.init(repo, actor="ada") as hive:
        hive.missions.create("m")
        hive.git.commit("first")
        hive.events.append("note_added", stream="t:1", data={"text": "new note"})
    (segment,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    return str(segment.relative_to(repo)), "new note"


def test_a_commit_killed_at_each_step_then_fleet_hive_commit_and_git_commit(tmp_path: Path):
    for step in STEPS:
        repo = tmp_path / step
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
        segment, text = _setup(repo)
        _kill_commit(repo, step)
        if step == "object":
            assert _object_locks(repo), "the kill left dulwich's object lock behind"

        done = run_cli("-C", str(repo), "commit")
        assert done.returncode == 0, (step, done.stderr)
        assert not _object_locks(repo), step
        assert not (repo / ".git" / "index.lock").exists(), step
        assert not (repo / ".git" / "index.fleet-hive-before").exists(), step
        assert text in _committed(repo, segment), step
        assert git(repo, "status", "--porcelain", ".fleet").stdout == "", step

        (repo / "code.py").write_text("x = 1\n")
        git(repo, "add", "code.py")
        git(repo, "commit", "-q", "-m", "user work")
        assert text in _committed(repo, segment), f"{step}: the user's commit kept it"
        assert git(repo, "status", "--porcelain", ".fleet").stdout == "", step
        assert run_cli("-C", str(repo), "verify").returncode == 0, step


@pytest.mark.parametrize("step", ["branch", "after"])
def test_a_plain_git_commit_right_after_the_kill_keeps_the_new_segment(repo: Path, step: str):
    """No fleet-hive command in between: the index is already right when the branch moves
    (or is about to), so git's own commit cannot take the new lines out again."""
    segment, text = _setup(repo)
    _kill_commit(repo, step)
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", "code.py")
    git(repo, "commit", "-q", "-m", "user work")
    assert text in _committed(repo, segment)
    assert git(repo, "status", "--porcelain", ".fleet").stdout == ""
    assert run_cli("-C", str(repo), "commit").returncode == 0


def test_an_object_lock_of_a_live_or_foreign_writer_is_kept(repo: Path):
    """Only locks the dead fleet-hive process recorded are removed."""
    from fleet_hive.git.commit import remove_orphaned_object_locks

    objects = repo / ".git" / "objects" / "ab"
    objects.mkdir(parents=True, exist_ok=True)
    foreign = objects / ("c" * 38 + ".lock")
    foreign.write_bytes(b"")
    recorded = objects / ("d" * 38 + ".lock")
    recorded.write_bytes(b"")
    outside = repo / "precious.lock"
    outside.write_bytes(b"")
    owner = repo / "owner"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner.write_text(f"{alive.pid}\n{recorded}\n{outside}\n")
        assert remove_orphaned_object_locks(owner, repo / ".git") == []
        assert recorded.exists() and owner.exists()
    finally:
        alive.kill()
        alive.wait()
    assert remove_orphaned_object_locks(owner, repo / ".git") == [str(recorded)]
    assert not recorded.exists() and foreign.exists() and outside.exists()
    assert not owner.exists()


def test_sync_after_a_commit_killed_mid_object_write(tmp_path: Path):
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    repo = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(repo))
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    git(repo, "push", "-q", "origin", "main")
    segment, text = _setup(repo)
    _kill_commit(repo, "object")
    assert _object_locks(repo)

    done = run_cli("-C", str(repo), "sync")
    assert done.returncode == 0, done.stderr
    assert not _object_locks(repo)
    assert text in git(bare, "show", f"main:{segment}").stdout
