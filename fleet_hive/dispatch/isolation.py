"""Worktree isolation for dispatch (``--isolation worktree``): a git worktree and branch per
try, made from the base branch's tip, and what becomes of them (docs/dispatch.md).

A try runs on the branch ``fleet/<mission>/<sortie>`` (a later try: ``.../<sortie>-<attempt>``;
a name a kept branch has already gets a further ``-N``) in a worktree of the dispatcher's
pool, ``<worktree_dir>/<mission>/pool-<pid>-<k>``. When the try ends its branch goes unless
the change was refused (verify failed, a conflict, files outside the reservations): that
branch is kept for inspection until ``dispatch MISSION --cleanup`` or the retention
(``keep_failed_branches`` per mission). Its worktree goes back to the pool: the next try
checks its own branch out there from the base's newest tip and removes every file git does
not track, which writes only the files that differ (a new worktree writes every file of the
repository, and removing it deletes them all again). The pool's worktrees are removed when
the run ends (Ctrl-C and SIGTERM included); those of a dispatcher that was killed are
removed by the next ``dispatch`` of the mission, by ``recover --apply`` and by ``--cleanup``.
The git work itself is :mod:`fleet_hive.git.worktrees`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..git import worktrees as wt
from ..kernel.errors import ConflictError, FleetHiveError
from ..kernel.globs import matches
from ..kernel.liveness import pid_gone

_POOL = re.compile(r"pool-(\d+)-\d+")


@dataclass
class TryTree:
    """One try's worktree: where, on which branch, forked from which commit."""

    path: Path
    branch: str
    fork: str


def outside(changed: Sequence[str], reserved: Sequence[str]) -> list[str]:
    """The ``changed`` files no pattern of ``reserved`` covers. An empty ``reserved``
    (a sortie that declared no files) restricts nothing: the verify gate and the merge's
    conflict check still guard it."""
    if not reserved:
        return []
    return [f for f in changed if not any(matches(p, f) for p in reserved)]


class Isolation:
    """The worktrees and branches of one mission's dispatch in the repository ``root``."""

    def __init__(self, root: Path, mission_id: str, *, worktree_dir: str,
                 base: str | None) -> None:
        self.root = root
        self.mission_id = mission_id
        directory = Path(worktree_dir)
        self.directory = (directory if directory.is_absolute() else root / directory) \
            / mission_id
        wt.check_version(root)
        branch = base or wt.current_branch(root)
        if branch is None:
            raise ConflictError("the repository has no branch checked out to merge into",
                                hint="give --base BRANCH")
        if not wt.branch_exists(root, branch):
            raise ConflictError(f"no branch {branch!r} to merge into",
                                hint="git branch lists them; give --base BRANCH")
        self.base = branch
        self._idle: list[Path] = []  # worktrees of ended tries, to be reused
        self._made = 0
        sweep_dead_pools(root, self.directory)

    @property
    def prefix(self) -> str:
        return f"fleet/{self.mission_id}/"

    def check_user_tree(self) -> None:
        """Refuse to start while the base branch is checked out with uncommitted
        changes outside ``.fleet/`` (a merge would have to move it under them)."""
        where = wt.checked_out_at(self.root, self.base)
        if where is None:
            return
        dirty = wt.dirty_files(where)
        if dirty:
            shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more"
                                             if len(dirty) > 10 else "")
            raise ConflictError(
                f"{self.base} is checked out at {where} with uncommitted changes: {shown}",
                hint="commit or stash them first: merges fast-forward that working tree")

    def make(self, sortie_id: str, attempt: int) -> TryTree:
        """A worktree on a fresh branch for try ``attempt`` of ``sortie_id``: an idle one
        of the pool made like new, else a new one."""
        stem = f"{self.prefix}{sortie_id}"
        branch = stem if attempt == 1 else f"{stem}-{attempt}"
        k = 1
        while wt.branch_exists(self.root, branch):  # a kept branch: never overwritten
            k += 1
            branch = f"{stem}-{attempt}" if k == 2 else f"{stem}-{attempt}-{k - 1}"
        base = f"refs/heads/{self.base}"
        while self._idle:
            path = self._idle.pop()
            try:
                made = wt.reuse_worktree(self.root, path, base, branch=branch)
            except FleetHiveError:  # removed under us (--cleanup), or broken: not reused
                wt.remove_worktree(self.root, path)
                continue
            return TryTree(path, branch, made.base)
        self._made += 1
        path = self.directory / f"pool-{os.getpid()}-{self._made}"
        if path.exists():  # a leftover of an earlier process with this pid
            wt.remove_worktree(self.root, path)
        made = wt.add_worktree(self.root, path, base, branch=branch)
        return TryTree(path, branch, made.base)

    def finish(self, tree: TryTree, *, keep_branch: bool, keep: int,
               live: Sequence[str] = ()) -> None:
        """The try ended: its branch goes unless ``keep_branch`` (at most ``keep`` kept
        branches of the mission stay, the oldest go; the ``live`` branches of running
        tries are not counted) and its worktree goes back to the pool."""
        try:
            wt.detach(tree.path)
        except FleetHiveError:
            wt.remove_worktree(self.root, tree.path)
        else:
            self._idle.append(tree.path)
        if not keep_branch:
            wt.delete_branch(self.root, tree.branch)
        else:
            kept = [b for b in wt.branches(self.root, self.prefix) if b not in live]
            for old in kept[keep:]:
                wt.delete_branch(self.root, old)

    def close(self) -> None:
        """The run is over: the pool's worktrees are removed (one that cannot be is left
        for the next run's sweep)."""
        while self._idle:
            with contextlib.suppress(FleetHiveError, OSError):
                wt.remove_worktree(self.root, self._idle.pop())

    def shrink(self) -> bool:
        """Remove the idle worktrees (over the disk budget); whether there were any."""
        had = bool(self._idle)
        self.close()
        return had

    def usage(self) -> int:
        """Bytes the mission's worktrees use now."""
        return wt.disk_usage(self.directory)

    def cleanup(self, live: Sequence[str] = ()) -> dict[str, list[str]]:
        """Remove the mission's worktrees and branches except those of ``live`` tries
        (their branch names), then prune."""
        removed_trees: list[str] = []
        live_set = set(live)
        keep: set[Path] = set()
        for entry in wt.list_worktrees(self.root):
            path = Path(entry["path"])
            if entry["branch"] in live_set or _pool_alive(path):  # a running dispatcher's
                keep.add(path)
            elif path.parent == self.directory or (entry["branch"] or "").startswith(
                    self.prefix):
                wt.remove_worktree(self.root, path)
                removed_trees.append(str(path))
        if self.directory.is_dir():
            for path in sorted(self.directory.iterdir()):
                if path not in keep and str(path) not in removed_trees \
                        and not _pool_alive(path):
                    wt.remove_worktree(self.root, path)
                    removed_trees.append(str(path))
        wt.prune(self.root)
        removed = [b for b in wt.branches(self.root, self.prefix) if b not in live_set
                   and wt.delete_branch(self.root, b)]
        return {"worktrees": removed_trees, "branches": removed}


def remove_leftover(root: str | None, worktree: str | None, branch: str | None) -> None:
    """What a lapsed lease's try left: its worktree and branch (an interrupted try's
    change is not kept: the sortie is re-queued and tried afresh), and the idle worktrees
    of dispatchers that are gone."""
    if root is None or worktree is None:
        return
    wt.remove_worktree(Path(root), Path(worktree), branch=branch)
    sweep_dead_pools(Path(root), Path(worktree).parent)


def _pool_alive(path: Path) -> bool:
    """Whether ``path`` is a pool worktree of a dispatcher that still runs (here)."""
    m = _POOL.fullmatch(path.name)
    if m is None:
        return False
    pid = int(m.group(1))
    return pid == os.getpid() or not pid_gone(pid)


def sweep_dead_pools(root: Path, directory: Path) -> list[str]:
    """Remove the pool worktrees under ``directory`` whose dispatcher is gone (killed);
    their paths."""
    if not directory.is_dir():
        return []
    gone = [p for p in sorted(directory.iterdir())
            if _POOL.fullmatch(p.name) and not _pool_alive(p)]
    for path in gone:
        wt.remove_worktree(root, path)
    return [str(p) for p in gone]
