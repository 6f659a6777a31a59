"""Worktree isolation for dispatch (``--isolation worktree``): a git worktree and branch per
try, made from the base branch's tip, and what becomes of them (docs/dispatch.md).

A try's worktree is ``<worktree_dir>/<mission>/<sortie>-<attempt>`` on the branch
``fleet/<mission>/<sortie>`` (a later try: ``.../<sortie>-<attempt>``; a name a kept
branch has already gets a further ``-N``). When the try ends
its worktree goes; its branch goes too unless the change was refused (verify failed, a
conflict, files outside the reservations): that branch is kept for inspection until
``dispatch MISSION --cleanup`` or the retention (``keep_failed_branches`` per mission).
The git work itself is :mod:`fleet_hive.git.worktrees`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..git import worktrees as wt
from ..kernel.errors import ConflictError
from ..kernel.globs import matches


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
        """A fresh worktree and branch for try ``attempt`` of ``sortie_id``."""
        path = self.directory / f"{sortie_id}-{attempt}"
        if path.exists():  # a leftover of a crash (worktrees are never kept)
            wt.remove_worktree(self.root, path)
        stem = f"{self.prefix}{sortie_id}"
        branch = stem if attempt == 1 else f"{stem}-{attempt}"
        k = 1
        while wt.branch_exists(self.root, branch):  # a kept branch: never overwritten
            k += 1
            branch = f"{stem}-{attempt}" if k == 2 else f"{stem}-{attempt}-{k - 1}"
        made = wt.add_worktree(self.root, path, f"refs/heads/{self.base}", branch=branch)
        return TryTree(path, branch, made.base)

    def finish(self, tree: TryTree, *, keep_branch: bool, keep: int,
               live: Sequence[str] = ()) -> None:
        """The try ended: its worktree goes, its branch too unless ``keep_branch``; at
        most ``keep`` kept branches of the mission stay (the oldest go; the ``live``
        branches of running tries are not counted)."""
        wt.remove_worktree(self.root, tree.path,
                           branch=None if keep_branch else tree.branch)
        if keep_branch:
            kept = [b for b in wt.branches(self.root, self.prefix) if b not in live]
            for old in kept[keep:]:
                wt.delete_branch(self.root, old)

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
            if entry["branch"] in live_set:
                keep.add(path)
            elif path.parent == self.directory or (entry["branch"] or "").startswith(
                    self.prefix):
                wt.remove_worktree(self.root, path)
                removed_trees.append(str(path))
        if self.directory.is_dir():
            for path in sorted(self.directory.iterdir()):
                if path not in keep and str(path) not in removed_trees:
                    wt.remove_worktree(self.root, path)
                    removed_trees.append(str(path))
        wt.prune(self.root)
        removed = [b for b in wt.branches(self.root, self.prefix) if b not in live_set
                   and wt.delete_branch(self.root, b)]
        return {"worktrees": removed_trees, "branches": removed}


def remove_leftover(root: str | None, worktree: str | None, branch: str | None) -> None:
    """What a lapsed lease's try left: its worktree and branch (an interrupted try's
    change is not kept: the sortie is re-queued and tried afresh)."""
    if root is None or worktree is None:
        return
    wt.remove_worktree(Path(root), Path(worktree), branch=branch)
