"""Worktrees, branches and merges through the ``git`` command line, for sorties that run
in isolation (``dispatch --isolation worktree``).

The event log's git work goes through dulwich (:mod:`.repo`); this part drives the
``git`` program instead, because what it needs is what git itself does best and dulwich
does partly or not at all: linked worktrees (``git worktree``), a three-way merge of whole
trees with conflict detection (``git merge-tree --write-tree``, git 2.38 or later) and a
fast-forward of a checked-out branch that never overwrites a local change
(``git merge --ff-only``). Every call runs through :mod:`fleet_hive.kernel.processes`.

The pieces, each usable alone:

- :func:`add_worktree` makes a worktree on a new branch from a base revision, with the
  ``hide``-den directories (``.fleet/``) left out of it: their index entries are marked
  *skip-worktree* and the files removed, so the agent working there neither sees a stale
  copy of the event log nor commits a change to it, and ``fleet-hive`` run inside it walks
  up to the repository's own ``.fleet/``. :func:`remove_worktree` and :func:`prune` clean up.
- :func:`commit_all` records whatever the agent left uncommitted, as the agent.
- :func:`changed_files` lists what a branch changed since its base.
- :func:`merge` merges a branch into the base branch without a working tree, then moves the
  base branch only if nobody moved it meanwhile: where the base branch is checked out (the
  user's working tree), by a fast-forward there, which git refuses rather than overwrite an
  uncommitted change; elsewhere by a compare-and-swap of the ref. One merge at a time is
  the caller's business (a lock: see ``dispatch``'s merge queue).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..kernel import processes
from ..kernel.errors import FleetHiveError
from ..kernel.plain import Plain

#: The oldest git whose ``merge-tree --write-tree`` this module relies on.
MIN_GIT = (2, 38)


class GitFailed(FleetHiveError):
    """A ``git`` command failed; the message carries the command and the end of its
    stderr."""

    code = "git_failed"


class Identity(Plain):
    """Who a commit is by (author and committer)."""

    __slots__ = _fields = ("name", "email")
    name: str
    email: str

    def __init__(self, name: str, email: str = "") -> None:
        self.name = name
        self.email = email or f"{_safe(name)}@fleet-hive.invalid"

    def env(self) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
                "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email}


class Worktree(Plain):
    """A linked worktree: where, on which branch (None: detached), made from which commit."""

    __slots__ = _fields = ("path", "branch", "base")
    path: Path
    branch: str | None
    base: str

    def __init__(self, path: Path, branch: str | None, base: str) -> None:
        self.path, self.branch, self.base = path, branch, base


class MergeOutcome(Plain):
    """What :func:`merge` did.

    ``status``: ``merged`` (``commit`` is on the base branch now), ``made`` (by
    :func:`make_merge`: the merge commit exists, the base branch has not moved), ``up_to_date`` (the
    branch had nothing new), ``conflict`` (``conflicts`` names the files), ``moved`` (the
    base branch moved while merging: merge again), ``refused`` (the checked-out base
    branch could not be fast-forwarded: ``message`` says why, usually local changes).
    """

    __slots__ = _fields = ("status", "commit", "base_before", "conflicts", "message")
    status: str
    commit: str | None
    base_before: str | None
    conflicts: list[str]
    message: str

    def __init__(self, status: str, commit: str | None = None, base_before: str | None = None,
                 conflicts: Sequence[str] = (), message: str = "") -> None:
        self.status, self.commit, self.base_before = status, commit, base_before
        self.conflicts, self.message = list(conflicts), message

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "commit": self.commit, "base_before": self.base_before,
                "conflicts": self.conflicts, "message": self.message}


# -- running git ---------------------------------------------------------------------------
def git(cwd: Path, *args: str, input: bytes | None = None,
        env: Mapping[str, str] | None = None, ok: Sequence[int] = (0,)) -> str:
    """Run ``git -C cwd args...``; its stdout. GitFailed unless it exits with a code in
    ``ok``."""
    return _git(cwd, *args, input=input, env=env, ok=ok)[1]


def _git(cwd: Path, *args: str, input: bytes | None = None,
         env: Mapping[str, str] | None = None, ok: Sequence[int] = (0,),
         ) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``git -C cwd args...``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")
            or k in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")}
    full.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})})
    argv = ["git", "-C", str(cwd), *args]
    try:
        done = processes.run(argv, input=input if input is not None else b"", env=full,
                             capture=True)
    except OSError as e:
        raise GitFailed(f"cannot run git: {e}", hint="install git 2.38 or later") from e
    out = (done.stdout or b"").decode("utf-8", "replace")
    err = (done.stderr or b"").decode("utf-8", "replace").strip()
    if done.returncode not in ok:
        raise GitFailed(f"`git {' '.join(args[:3])}` failed ({done.status}): "
                        f"{err[-2000:] or out[-2000:] or 'no output'}")
    return done.returncode, out, err


def version(root: Path) -> tuple[int, ...]:
    """The ``git`` program's version, e.g. ``(2, 39, 5)``."""
    text = git(root, "version").split()[-1]
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


def check_version(root: Path) -> None:
    """GitFailed unless git is recent enough for :func:`merge`."""
    have = version(root)
    if have[:2] < MIN_GIT:
        raise GitFailed(f"git {'.'.join(map(str, have))} is too old for worktree isolation",
                        hint=f"install git {'.'.join(map(str, MIN_GIT))} or later")


def rev_parse(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names, or None when it names none."""
    code, out, _ = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                        ok=(0, 1, 128))
    return (out.strip() or None) if code == 0 else None


def branch_exists(root: Path, branch: str) -> bool:
    return rev_parse(root, f"refs/heads/{branch}") is not None


# -- worktrees -----------------------------------------------------------------------------
def add_worktree(root: Path, path: Path, base: str, *, branch: str | None = None,
                 hide: Sequence[str] = (".fleet",)) -> Worktree:
    """A worktree at ``path`` of ``base`` (a revision), on a new ``branch`` (None:
    detached), without the ``hide`` directories (see the module)."""
    base_sha = rev_parse(root, base)
    if base_sha is None:
        raise GitFailed(f"no commit {base!r} to start a worktree from",
                        hint="commit something first, or give --base BRANCH")
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["worktree", "add", "--quiet"]
    args += ["-b", branch] if branch else ["--detach"]
    git(root, *args, str(path), base_sha)
    try:
        _hide(path, hide)
    except BaseException:
        remove_worktree(root, path, branch=branch)
        raise
    return Worktree(path, branch, base_sha)


def _hide(path: Path, hide: Sequence[str]) -> None:
    for directory in hide:
        listed = git(path, "ls-files", "-z", "--", directory)
        names = [n for n in listed.split("\0") if n]
        if names:
            git(path, "update-index", "--skip-worktree", "-z", "--stdin",
                input="\0".join(names).encode() + b"\0")
        shutil.rmtree(path / directory, ignore_errors=True)


def reuse_worktree(root: Path, path: Path, base: str, *, branch: str,
                   hide: Sequence[str] = (".fleet",)) -> Worktree:
    """The worktree at ``path`` (one an earlier try used) made like new for ``branch``,
    a new branch at ``base``: checked out by force (git writes only the files that differ
    from what is there), every untracked and ignored file removed, the ``hide``
    directories hidden again. Much cheaper than :func:`add_worktree` on a large tree;
    GitFailed when ``path`` is no usable worktree (make a new one then)."""
    base_sha = rev_parse(root, base)
    if base_sha is None:
        raise GitFailed(f"no commit {base!r} to start a worktree from",
                        hint="commit something first, or give --base BRANCH")
    if not (path / ".git").is_file():
        raise GitFailed(f"{path} is not a worktree any more")
    git(path, "checkout", "--quiet", "--force", "-B", branch, base_sha)
    git(path, "clean", "-ffdxq", "--", ".")
    _hide(path, hide)
    return Worktree(path, branch, base_sha)


def detach(path: Path) -> None:
    """Leave the branch checked out in the worktree at ``path`` (same commit, files
    untouched), so that the branch can be deleted or kept while the worktree is not."""
    git(path, "checkout", "--quiet", "--detach")


def checkout(path: Path, rev: str, *, hide: Sequence[str] = (".fleet",)) -> None:
    """Check ``rev`` out (detached) in the worktree at ``path``, discarding what is
    there, and hide the ``hide`` directories again (a checkout may bring them back)."""
    git(path, "checkout", "--quiet", "--force", "--detach", rev)
    _hide(path, hide)


def current_branch(root: Path) -> str | None:
    """The branch checked out at ``root`` (None: a detached HEAD)."""
    code, out, _ = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1, 128))
    return out.strip() or None if code == 0 else None


def branches(root: Path, prefix: str) -> list[str]:
    """The branches whose names start with ``prefix`` (e.g. ``fleet/m-1234/``), newest
    commit first."""
    out = git(root, "for-each-ref", "--sort=-committerdate", "--format=%(refname:short)",
              f"refs/heads/{prefix}")
    return [line for line in out.splitlines() if line.startswith(prefix)]


def delete_branch(root: Path, branch: str) -> bool:
    """Delete ``branch`` (merged or not); whether it existed."""
    code, _, _ = _git(root, "branch", "-D", "--quiet", branch, ok=(0, 1))
    return code == 0


def remove_worktree(root: Path, path: Path, *, branch: str | None = None) -> None:
    """Remove the worktree at ``path`` (changes in it are discarded) and, with
    ``branch``, that branch; then prune git's records of worktrees that are gone. Missing
    pieces are fine: this is also how a crash is cleaned up."""
    if (path / ".git").exists():
        _git(root, "worktree", "remove", "--force", "--force", str(path), ok=(0, 128))
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    prune(root)
    if branch and branch_exists(root, branch):
        git(root, "branch", "-D", "--quiet", branch)


def prune(root: Path) -> None:
    """Forget worktrees whose directories are gone (``git worktree prune``)."""
    git(root, "worktree", "prune")


def list_worktrees(root: Path) -> list[dict[str, Any]]:
    """Every worktree of the repository (the main one first): ``path``, ``head``,
    ``branch`` (None when detached), ``prunable``."""
    out: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    for line in [*git(root, "worktree", "list", "--porcelain").splitlines(), ""]:
        if not line:
            if entry:
                out.append(entry)
            entry = {}
            continue
        key, _, value = line.partition(" ")
        if key == "worktree":
            entry = {"path": Path(value), "head": None, "branch": None, "prunable": False}
        elif key == "HEAD":
            entry["head"] = value
        elif key == "branch":
            entry["branch"] = value.removeprefix("refs/heads/")
        elif key == "prunable":
            entry["prunable"] = True
    return out


def checked_out_at(root: Path, branch: str) -> Path | None:
    """The worktree that has ``branch`` checked out, if any."""
    for entry in list_worktrees(root):
        if entry["branch"] == branch:
            return Path(entry["path"])
    return None


# -- changes -------------------------------------------------------------------------------
def commit_all(path: Path, message: str, identity: Identity) -> str | None:
    """Commit everything changed in the worktree at ``path`` (new, changed and deleted
    files; ignored ones stay out) as ``identity``; the new commit, or None when nothing
    had changed."""
    git(path, "add", "--all")
    code, _, _ = _git(path, "diff", "--cached", "--quiet", ok=(0, 1))
    if code == 0:
        return None
    git(path, "commit", "--quiet", "--no-verify", "-m", message, env=identity.env())
    return rev_parse(path, "HEAD")


def changed_files(root: Path, base: str, tip: str) -> list[str]:
    """The files ``tip`` changed since ``base`` (added, modified, deleted; a rename as its
    two paths), sorted."""
    out = git(root, "diff", "--name-only", "-z", "--no-renames", base, tip, "--")
    return sorted(n for n in out.split("\0") if n)


def dirty_files(path: Path, *, ignore: Sequence[str] = (".fleet/",)) -> list[str]:
    """Files with uncommitted changes (staged, unstaged, untracked) in the worktree at
    ``path``, except those under ``ignore``."""
    out = git(path, "status", "--porcelain", "-z", "--untracked-files=all")
    names: list[str] = []
    parts = iter(out.split("\0"))
    for part in parts:
        if not part:
            continue
        status, name = part[:2], part[3:]
        if status[0] in "RC":
            next(parts, None)  # the rename's source path follows
        if not any(name.startswith(i) for i in ignore):
            names.append(name)
    return sorted(names)


# -- merging -------------------------------------------------------------------------------
def merge(root: Path, base_branch: str, branch: str, *, message: str,
          identity: Identity) -> MergeOutcome:
    """Merge ``branch`` into ``base_branch`` (see the module): a merge commit (two
    parents) made without a working tree, then the base branch moved to it, only from the
    commit the merge was made on."""
    made = make_merge(root, base_branch, branch, message=message, identity=identity)
    if made.status != "made":
        return made
    assert made.commit is not None and made.base_before is not None
    return move_branch(root, base_branch, made.base_before, made.commit)


def make_merge(root: Path, base_branch: str, branch: str, *, message: str,
               identity: Identity) -> MergeOutcome:
    """The first half of :func:`merge`: the merge commit of ``branch`` into the current
    tip of ``base_branch``, made without a working tree and without moving anything.
    ``status`` ``made`` (``commit`` is the merge, ``base_before`` the tip it was made
    on: give both to :func:`move_branch`, after verifying it if you like),
    ``up_to_date`` or ``conflict``."""
    tip = rev_parse(root, f"refs/heads/{base_branch}")
    head = rev_parse(root, f"refs/heads/{branch}")
    if tip is None or head is None:
        missing = base_branch if tip is None else branch
        raise GitFailed(f"no branch {missing!r} to merge", hint="git branch lists them")
    if git(root, "merge-base", tip, head).strip() == head:
        return MergeOutcome("up_to_date", tip, tip)
    code, out, _ = _git(root, "merge-tree", "--write-tree", "--name-only", "--no-messages",
                        tip, head, ok=(0, 1))
    lines = out.splitlines()
    if code == 1:
        return MergeOutcome("conflict", None, tip, conflicts=sorted(set(lines[1:])),
                            message=f"merging {branch} into {base_branch} conflicts in "
                                    f"{', '.join(sorted(set(lines[1:]))) or 'some files'}")
    tree = lines[0].strip()
    commit = git(root, "commit-tree", tree, "-p", tip, "-p", head, "-m", message,
                 env=identity.env()).strip()
    return MergeOutcome("made", commit, tip)


def move_branch(root: Path, branch: str, old: str, new: str) -> MergeOutcome:
    """Move ``branch`` from ``old`` to ``new`` unless it is no longer at ``old``: by a
    fast-forward in the worktree that has it checked out (which refuses to overwrite a
    local change), else by a compare-and-swap of the ref."""
    where = checked_out_at(root, branch)
    if where is None:
        code, _, _ = _git(root, "update-ref", "-m", f"fleet-hive: merge into {branch}",
                          f"refs/heads/{branch}", new, old, ok=(0, 1, 128))
        if code != 0 and rev_parse(root, f"refs/heads/{branch}") != new:
            return MergeOutcome("moved", None, old, message=f"{branch} moved meanwhile")
        return MergeOutcome("merged", new, old)
    if rev_parse(where, "HEAD") != old:
        return MergeOutcome("moved", None, old, message=f"{branch} moved meanwhile")
    code, out, err = _git(where, "merge", "--ff-only", "--quiet", new, ok=(0, 1, 128))
    if code != 0:
        why = " ".join((err or out).split())[-500:] or "local changes in the way"
        return MergeOutcome("refused", None, old, message=(
            f"{branch} is checked out at {where} and git would not update it: {why}; "
            "commit or stash them and dispatch again"))
    return MergeOutcome("merged", new, old)


def disk_usage(path: Path) -> int:
    """Bytes used by the files under ``path`` (0 when it is gone)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "agent"
