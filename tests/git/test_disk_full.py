"""``fleet-hive commit`` on a full disk, on a real small filesystem (a tmpfs mounted for the
test): a one-line "no space left on device (PATH)" with exit 1, nothing half-done (the
branch, its reflog, the git index and every lock file as before), and a commit that works
again once space is freed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import git, run_cli
from tests.support.mounts import PAGE, fill, tmpfs


def note(repo: Path, text: str) -> None:
    done = run_cli("-C", str(repo), "events", "append", "note_added", "--stream", "s:1",
                   "--data", json.dumps({"text": text}))
    assert done.returncode == 0, done.stderr


def state(repo: Path) -> dict[str, object]:
    """What a failed commit must leave exactly as it was."""
    logs = repo / ".git" / "logs" / "refs" / "heads" / "main"
    return {"head": git(repo, "rev-parse", "HEAD").stdout,
            "reflog": logs.read_bytes() if logs.exists() else b"",
            "status": git(repo, "--no-optional-locks", "status", "--porcelain",
                          "--untracked-files=all").stdout,
            "locks": sorted(p.name for p in (repo / ".git").rglob("*.lock"))}


@pytest.fixture
def small_repo(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(mount, repository): a repository with .fleet/ and a first commit on a 3 MB tmpfs."""
    with tmpfs(tmp_path / "small", "3m") as mount:
        repo = mount / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        assert run_cli("-C", str(repo), "init").returncode == 0
        note(repo, "first")
        assert run_cli("-C", str(repo), "commit").returncode == 0
        yield mount, repo


def commit_fails_cleanly(repo: Path) -> str | None:
    """The path the failed commit names, or None when it had room enough and succeeded."""
    before = state(repo)
    done = run_cli("-C", str(repo), "commit")
    if done.returncode == 0:
        return None
    assert done.returncode == 1, (done.stdout, done.stderr)
    (line,) = done.stderr.splitlines()  # one line, no traceback, no "Exception ignored"
    assert line.startswith(f"error: no space left on device ({repo / '.git'}")
    assert state(repo) == before  # nothing half-done
    return line.split("(", 1)[1].split(")")[0]


def commit_succeeds(repo: Path) -> None:
    done = run_cli("-C", str(repo), "--json", "commit")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["commit"] == git(repo, "rev-parse", "HEAD").stdout.strip()
    assert git(repo, "status", "--porcelain").stdout == ""
    assert git(repo, "fsck", "--no-dangling").returncode == 0
    assert list((repo / ".git").rglob("*.lock")) == []


def test_a_full_disk_fails_the_commit_cleanly_and_it_works_once_space_is_freed(small_repo):
    mount, repo = small_repo
    for text in ("a", "b", "c"):
        note(repo, text)
    filler = fill(mount)
    assert commit_fails_cleanly(repo) == str(repo / ".git" / "objects")
    assert commit_fails_cleanly(repo)  # not stuck on a lock of its own: the same answer
    filler.unlink()
    commit_succeeds(repo)
    assert git(repo, "log", "--format=%s").stdout.splitlines()[0].startswith(
        "fleet-hive: 3 new events")


@pytest.mark.slow
def test_every_write_of_a_commit_may_be_the_one_that_finds_the_disk_full(small_repo):
    """With a few pages left the commit fails at a later write each time: a loose object,
    the git index, the branch ref and its reflog. Each failure leaves nothing behind."""
    mount, repo = small_repo
    where = set()
    for pages in range(16):
        note(repo, f"event {pages}")
        filler = fill(mount, leave=pages * PAGE)
        failed_at = commit_fails_cleanly(repo)
        filler.unlink()
        if failed_at is None:  # enough room left for the whole commit
            break
        where.add(failed_at)
        commit_succeeds(repo)
    else:
        pytest.fail("the commit never found enough room")
    git_dir = repo / ".git"
    assert {str(git_dir / "objects"), str(git_dir / "index"),
            str(git_dir / "refs" / "heads" / "main")} <= where, where
