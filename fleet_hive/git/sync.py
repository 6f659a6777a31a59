"""``fleet-hive sync``: commit, fetch, merge, regenerate, commit, push.

The merge is built by hand: our tree plus everything only the remote changed. Event
segments cannot conflict by design (each clone writes its own files; a segment longer on
one side wins), snapshots in ``.fleet/missions/`` (git-ignored now; only trees an older
version wrote hold them) keep ours and are regenerated from the merged log
(``after_merge``); any other path changed on both sides, or a local change the
remote's version would overwrite, stops the sync before anything changed. A push that lost
a race to another clone fetches and merges again (bounded).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..kernel.errors import ConflictError, StorageError
from ..kernel.fsio import write_atomic
from ..kernel.problems import Problem
from .changes import EVENTS, FLEET, MISSIONS, SEGMENT_SUFFIX, path_text
from .commit import Committer, problem_text
from .history import new_event_lines
from .index_file import Entry, IndexFile, locked_index
from .repo import MODE_EXEC, MODE_LINK, S_IFGITLINK, Change, File, Repository

if TYPE_CHECKING:
    from .repo import ObjectID, Ref

#: How often sync fetches and merges again after a push lost a race to another clone.
SYNC_ATTEMPTS = 6

#: Regenerates what is derived from the merged log; returns what it found and repaired.
AfterMerge = Callable[[], list[Problem]]


@dataclass
class SyncResult:
    """What ``fleet-hive sync`` did."""

    remote: str
    branch: str
    head: str | None = None
    remote_head: str | None = None  # the remote branch after the sync
    merge: str = "up_to_date"  # up_to_date | fast_forward | merge | ahead | new_branch
    commits: list[str] = field(default_factory=list)  # commits this sync created
    pushed: bool = False
    objects_sent: int = 0  # objects the push sent: only those the remote lacked
    attempts: int = 0
    fetched_events: int = 0  # events that arrived from the remote
    repaired: list[str] = field(default_factory=list)  # snapshots regenerated
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote, "branch": self.branch, "head": self.head,
                "remote_head": self.remote_head, "merge": self.merge, "commits": self.commits,
                "pushed": self.pushed, "objects_sent": self.objects_sent,
                "attempts": self.attempts,
                "fetched_events": self.fetched_events, "repaired": self.repaired,
                "warnings": self.warnings}


@dataclass
class Plan:
    """How the remote branch comes into ours."""

    kind: str  # up_to_date | ahead | new_branch | fast_forward | merge
    ours: ObjectID | None
    theirs: ObjectID | None
    tree: ObjectID | None = None  # the tree of the result (fast_forward, merge)


class Syncer:
    """Syncs the current branch of ``repo`` with a remote, committing through ``committer``
    (whose lock it shares) and calling ``after_merge`` once the merged log is in place."""

    def __init__(self, repo: Repository, committer: Committer, *,
                 after_merge: AfterMerge) -> None:
        self.repo = repo
        self.committer = committer
        self.after_merge = after_merge

    def sync(self, remote: str = "origin", *, attempts: int = SYNC_ATTEMPTS) -> SyncResult:
        """Commit pending ``.fleet/`` changes, fetch, merge, commit, push (see module doc)."""
        self.repo.refuse_in_progress("sync")
        ref, _head = self.repo.current_branch()
        target = self.repo.remote(remote, ref)
        result = SyncResult(remote, ref[len(b"refs/heads/"):].decode())
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            if attempt > 1:  # lost a push race: let the winner finish, spread the retries
                time.sleep(random.uniform(0.01, 0.05) * attempt)
            theirs = self.repo.fetch(target)
            with self.committer.locked():
                self._integrate(theirs, remote, result)
            ref, head = self.repo.current_branch()
            result.head = head.decode() if head else None
            if head is None or head == theirs:
                result.remote_head = theirs.decode() if theirs else None
                return result
            sent = self.repo.push(target, theirs, head)
            if sent is not None:
                self.repo.set_ref(target.tracking, head)
                result.pushed = True
                result.objects_sent = sent
                result.remote_head = head.decode()
                return result
        raise ConflictError(
            f"the remote branch {remote}/{target.ref.decode().removeprefix('refs/heads/')} "
            f"kept moving: gave up after {attempts} attempts",
            hint="run `fleet-hive sync` again")

    def _integrate(self, theirs: ObjectID | None, remote: str, result: SyncResult) -> None:
        """Under the git lock: check, commit pending .fleet/, merge ``theirs``, regenerate."""
        repo = self.repo
        ref, head = repo.current_branch()
        # what .fleet/ would commit, planned against the remote before anything is written
        pending = self.committer.stage(IndexFile.read(repo.index_path), head).tree
        plan = self._plan(head, theirs, ours_tree=pending)
        if plan.kind in ("fast_forward", "merge"):
            self._preflight(plan)  # refuse before anything changes
        committed = self.committer.commit("fleet-hive sync: record local .fleet/ changes")
        if committed.commit:
            result.commits.append(committed.commit)
            ref, head = repo.current_branch()
            plan = self._plan(head, theirs)
        if plan.kind in ("fast_forward", "merge"):
            before = repo.tree_of(head)
            self._apply(ref, plan, remote)
            ref, head = repo.current_branch()
            result.merge = plan.kind
            if plan.kind == "merge":
                assert head is not None, "_apply just moved the branch to the merge commit"
                result.commits.append(head.decode())
            result.fetched_events += sum(1 for _ in new_event_lines(repo, before,
                                                                    repo.tree_of(head)))
            problems = self.after_merge()
            result.repaired.extend(p.path or p.message for p in problems
                                   if p.severity == "repaired")
            result.warnings.extend(problem_text(p) for p in problems if p.severity == "error")
            again = self.committer.commit(
                "fleet-hive sync: regenerate snapshots from the merged log")
            if again.commit:
                result.commits.append(again.commit)
        elif result.merge == "up_to_date":
            result.merge = plan.kind

    def _plan(self, ours: ObjectID | None, theirs: ObjectID | None, *,
              ours_tree: ObjectID | None = None) -> Plan:
        """How ``theirs`` comes into ``ours``. ``ours_tree``: the tree ours will have once
        pending ``.fleet/`` changes are committed on it (planned before committing them)."""
        repo = self.repo
        pending = ours_tree is not None and ours_tree != repo.tree_of(ours)
        if theirs is None:
            return Plan("new_branch", ours, theirs)
        if ours == theirs and not pending:
            return Plan("up_to_date", ours, theirs)
        if ours is None and not pending:
            return Plan("fast_forward", ours, theirs, repo.tree_of(theirs))
        if ours is not None and repo.is_ancestor(theirs, ours):
            return Plan("ahead", ours, theirs)
        if ours is not None and not pending and repo.is_ancestor(ours, theirs):
            return Plan("fast_forward", ours, theirs, repo.tree_of(theirs))
        base = repo.merge_base(ours, theirs) if ours is not None else None
        base_tree = repo.tree_of(base)
        if not pending:
            ours_tree = repo.tree_of(ours)
        mine = repo.diff(base_tree, ours_tree)
        other = repo.diff(base_tree, repo.tree_of(theirs))
        take: dict[bytes, Change] = {}
        outside: list[str] = []
        inside: list[str] = []
        for path, value in other.items():
            if path not in mine:
                take[path] = value
                continue
            ours_value = mine[path]
            if ours_value == value:
                continue
            if (path.startswith(EVENTS) and path.endswith(SEGMENT_SUFFIX)
                    and ours_value is not None and value is not None):
                a, b = repo.blob_data(ours_value[1]), repo.blob_data(value[1])
                if b.startswith(a):
                    take[path] = value  # the same writer's segment, longer on their side
                elif not a.startswith(b):
                    inside.append(path_text(path))
            elif path.startswith(MISSIONS):
                continue  # derived: ours now, regenerated from the merged log afterwards
            elif path.startswith(FLEET):
                inside.append(path_text(path))
            else:
                outside.append(path_text(path))
        for path, value in take.items():  # a file of ours where theirs needs a directory
            if value is None:
                continue
            parts = path.split(b"/")
            for i in range(1, len(parts)):
                parent = b"/".join(parts[:i])
                found = repo.lookup(ours_tree, parent)
                if found is not None and not stat.S_ISDIR(found[0]) and parent not in take:
                    outside.append(path_text(path))
                    break
        if outside or inside:
            both = sorted(set(outside) | set(inside))
            shown = ", ".join(both[:8]) + (f" and {len(both) - 8} more" if len(both) > 8 else "")
            raise ConflictError(
                f"sync stopped: {len(both)} path(s) changed both here and on the remote: "
                f"{shown}; nothing was changed",
                hint="merge with git (`git pull`), resolve the conflicts and commit, then run "
                     "`fleet-hive sync` again")
        return Plan("merge", ours, theirs, repo.edit_tree(ours_tree, take))

    def _preflight(self, plan: Plan) -> None:
        """Refuse (before changing anything) if applying ``plan`` would lose local work."""
        ours_tree = self.repo.tree_of(plan.ours)
        changes = self.repo.diff(ours_tree, plan.tree)
        index = IndexFile.read(self.repo.index_path)
        blocked: list[str] = []
        for path, value in changes.items():
            if path.startswith(FLEET):
                continue  # .fleet/ was just committed; derived files are regenerated
            if value is not None and value[0] == S_IFGITLINK:
                blocked.append(f"{path_text(path)} (a submodule)")
                continue
            if not self._unmodified(path, self.repo.lookup(ours_tree, path), index):
                blocked.append(path_text(path))
        if blocked:
            shown = ", ".join(blocked[:8]) + (f" and {len(blocked) - 8} more"
                                              if len(blocked) > 8 else "")
            raise ConflictError(
                f"sync stopped: local changes to {shown} would be overwritten by the remote; "
                "nothing was changed",
                hint="commit or stash them first (git commit / git stash), then run "
                     "`fleet-hive sync` again")

    def _unmodified(self, path: bytes, head: File | None, index: IndexFile) -> bool:
        """Whether the working tree and index hold exactly HEAD's version of ``path``."""
        full = os.path.join(os.fsencode(str(self.repo.root)), path)
        entry = index.get(path)
        if head is None:
            return entry is None and not os.path.lexists(full)
        if entry is None or (entry.mode, entry.hexsha) != head:
            return False
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return False
        if entry.matches_stat(st) and st.st_mtime_ns < index.mtime_ns:
            return True
        if stat.S_ISLNK(st.st_mode):
            data = os.readlink(full)
        else:
            with open(full, "rb") as f:
                data = f.read()
        return self.repo.blob_id(data) == head[1]

    def _apply(self, ref: Ref, plan: Plan, remote: str) -> None:
        """Move the branch to the fast-forward or merge result; update files and index."""
        assert plan.tree is not None and plan.theirs is not None
        old_tree = self.repo.tree_of(plan.ours)
        if plan.kind == "merge":
            assert plan.ours is not None
            branch = ref[len(b"refs/heads/"):].decode()
            text = f"fleet-hive sync: merge {remote}/{branch} into {branch}"
            new = self.repo.new_commit(plan.tree, [plan.ours, plan.theirs], text)
        else:
            new, text = plan.theirs, f"fleet-hive sync: fast-forward to {remote}"
        changes = self.repo.diff(old_tree, plan.tree)
        with locked_index(self.repo.index_path,
                          owner=self.committer.layout.git_index_owner) as lock:
            index = lock.read()
            # Files and index first, then the branch (as a commit does): a kill in between
            # leaves the merged .fleet/ staged on the old HEAD, which the next commit (git's
            # or fleet-hive's) records; never a moved branch over the old files and index,
            # whose next `git commit` would undo the merge.
            updates = self._write_files(changes)
            index.update(updates)
            lock.commit(index)
            if not self.repo.move_branch(ref, plan.ours, new, text):
                raise ConflictError("the branch moved during sync; the merged .fleet/ files "
                                    "are in the working tree, not committed",
                                    hint="run `fleet-hive sync` again")

    def _write_files(self, changes: dict[bytes, Change]) -> dict[bytes, Entry | None]:
        """Write the changed files into the working tree; their new index entries."""
        root = os.fsencode(str(self.repo.root))
        updates: dict[bytes, Entry | None] = {}
        for path in sorted(p for p, v in changes.items() if v is None):
            full = os.path.join(root, path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(full)
            _remove_empty_parents(os.path.dirname(full), root)
            updates[path] = None
        for path, value in sorted((p, v) for p, v in changes.items() if v is not None):
            mode, sha = value
            full = os.path.join(root, path)
            data = self.repo.blob_data(sha)
            try:
                parent = os.path.dirname(full)
                if os.path.lexists(parent) and not os.path.isdir(parent):
                    os.unlink(parent)
                os.makedirs(parent, exist_ok=True)
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                if mode == MODE_LINK:
                    _replace_with_symlink(full, data)
                else:
                    # not fsynced, as git's checkout does not: the objects are stored, and
                    # `git status` shows a file a crash left behind
                    write_atomic(os.fsdecode(full), data, durable=False,
                                 mode=0o755 if mode == MODE_EXEC else 0o644)
                st = os.lstat(full)
            except OSError as e:
                raise StorageError(f"cannot write {path_text(path)}: {e.strerror or e}",
                                   hint="fix the problem, then `git status` shows what is "
                                        "left to restore (git checkout -- PATH)") from e
            updates[path] = Entry.from_stat(path, bytes.fromhex(sha.decode()), mode, st)
        return updates


def _replace_with_symlink(full: bytes, target: bytes) -> None:
    """A symlink is created beside ``full`` and renamed over it: never half there."""
    tmp = os.path.join(os.path.dirname(full), b"." + os.path.basename(full) + b".fleet-hive-tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, full)


def _remove_empty_parents(path: bytes, stop: bytes) -> None:
    while path and path != stop and path.startswith(stop):
        try:
            os.rmdir(path)
        except OSError:
            return
        path = os.path.dirname(path)

