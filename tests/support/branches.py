"""Two branches of one repository that each record something, met by a plain ``git merge``
(no hooks, no merge driver): how concurrent facts reach one clone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import git


def commit_fleet(repo: Path, message: str) -> None:
    git(repo, "add", "-A", ".fleet")
    if git(repo, "diff", "--cached", "--quiet", check=False).returncode:
        git(repo, "commit", "-q", "--no-verify", "-m", message)


def merge(repo: Path, branch: str) -> None:
    """``git merge`` with no hooks. The events never conflict; a derived snapshot may (it
    is rebuilt from the log), so such a path is taken from HEAD and the merge committed."""
    done = git(repo, "-c", "core.hooksPath=/dev/null", "merge", "--no-edit", branch,
               check=False)
    if done.returncode == 0:
        return
    unmerged = git(repo, "diff", "--name-only", "--diff-filter=U").stdout.split()
    assert unmerged, done.stdout + done.stderr
    assert not [p for p in unmerged if p.startswith(".fleet/events/")], unmerged
    for path in unmerged:
        git(repo, "checkout", "--ours", "--", path)
        git(repo, "add", "--", path)
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "--no-edit", "--no-verify")


def diverge(repo: Path, one: Callable[[], Any], two: Callable[[], Any]) -> None:
    """From the current commit, ``one`` on branch b1 and ``two`` on branch b2 (each
    committed), then b2 merged into b1, which is left checked out."""
    commit_fleet(repo, "base")
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "checkout", "-q", "-b", "b1")
    one()
    commit_fleet(repo, "b1")
    git(repo, "checkout", "-q", "-b", "b2", base)
    two()
    commit_fleet(repo, "b2")
    git(repo, "checkout", "-q", "b1")
    merge(repo, "b2")
