"""``fleet-hive commit``: the ``.fleet/`` changes of the working tree, onto the current branch.

``porcelain.add`` + ``porcelain.commit`` would commit the whole index (sweeping the user's
staged work into the fleet commit) and cost ~400 ms at 10,000 files. Instead: blobs of the
changed ``.fleet/`` files -> those changes applied to HEAD's tree -> a commit object -> a
compare-and-swap of the branch ref. Only the ``.fleet/`` entries of the git index are
brought in line with the new commit, under ``index.lock`` taken *before* the index is read
(:mod:`fleet_hive.git.index_file`), so ``git status`` shows ``.fleet/`` clean and the
user's next commit does not revert it. The index is renamed into place *before* the branch
moves: a kill in between leaves the changes staged (any next commit records them), never
a moved branch over the old index. Lock files a killed commit leaves are recorded while
made and removed by the next holder of the git lock (:meth:`Committer.locked`).
Fleet committers are serialized by that file lock; a lost compare-and-swap is retried. A
hand-built commit runs no hooks, so the changes go through the pre-commit checks first
(``check_changes``, given by the caller).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..kernel.errors import ConflictError, FleetHiveError, StorageError, storage_error
from ..kernel.layout import Layout
from ..kernel.liveness import pid_gone
from ..kernel.problems import Problem, ProblemsError, summary
from .changes import FLEET, MISSIONS, FleetChange, compare, path_text, with_predecessors
from .index_file import Entry, IndexFile, locked_index
from .repo import MODE_EXEC, MODE_FILE, MODE_LINK, Change, File, Repository

if TYPE_CHECKING:
    from .repo import ObjectID

#: How often a commit retries after losing the compare-and-swap of the branch ref.
CAS_ATTEMPTS = 5

#: The checks a commit's changes must pass: errors refuse it, warnings are reported.
CheckChanges = Callable[[list[FleetChange]], list[Problem]]
#: A context manager that holds the event log's writer lock (no append half-written).
WriterLock = Callable[[], AbstractContextManager[Any]]


@dataclass
class CommitResult:
    """What ``fleet-hive commit`` did. ``commit`` is None when there was nothing to do."""

    commit: str | None
    branch: str
    files: list[str] = field(default_factory=list)
    events: int = 0  # new event lines committed
    message: str = ""
    root: bool = False  # the branch was unborn: this is its first commit (only .fleet/)
    skipped: str | None = None  # why an auto-commit did not happen
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "branch": self.branch, "files": self.files,
                "events": self.events, "message": self.message, "root": self.root,
                "skipped": self.skipped, "warnings": self.warnings}


@dataclass
class WorkFile:
    """One ``.fleet/`` file of the working tree as a commit sees it."""

    mode: int
    sha: ObjectID  # hex
    data: bytes | None  # None when the index vouched for it (unchanged, not read)
    stat: os.stat_result | None  # a stable stat for its index entry (None: unknown)


@dataclass
class Staged:
    """What a ``.fleet/`` commit would record (see :meth:`Committer.stage`)."""

    work: dict[bytes, WorkFile]
    tree: ObjectID | None  # None: nothing to commit
    files: list[str] = field(default_factory=list)
    events: int = 0
    warnings: list[str] = field(default_factory=list)


class Committer:
    """Commits ``.fleet/`` of the working tree of ``repo`` (whose ``.fleet/`` is ``layout``).

    ``writer_lock`` is held while changed files are read; ``check_changes`` validates them;
    ``auto_commit`` says whether the ``auto_commit`` setting is on (asked only at a
    milestone: a plain commit never loads the configuration).
    """

    def __init__(self, repo: Repository, layout: Layout, *, writer_lock: WriterLock,
                 check_changes: CheckChanges, auto_commit: Callable[[], bool]) -> None:
        self.repo = repo
        self.layout = layout
        self.writer_lock = writer_lock
        self.check_changes = check_changes
        self.auto_commit_enabled = auto_commit
        self._depth = 0  # holds of the git lock by this object (it is reentrant)

    @cached_property
    def lock(self) -> Any:
        """Serializes fleet-hive's own git writers (commit, sync) in this clone."""
        from filelock import FileLock

        self.layout.local.mkdir(parents=True, exist_ok=True)
        # an interactive wait: look again every 10 ms, not filelock's default 50 ms
        return FileLock(str(self.layout.git_lock), poll_interval=0.01)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the git lock (reentrant). The outermost hold first removes the loose-object
        lock files a killed holder left (dulwich would refuse to write those objects ever
        again), then records this process as the holder and, through the repository, each
        object lock file before it is created."""
        try:
            self.lock.acquire()
        except OSError as e:
            raise storage_error(e, self.layout.git_lock) from e
        outermost = self._depth == 0
        self._depth += 1
        owner = self.layout.git_objects_owner
        try:
            if outermost:
                remove_orphaned_object_locks(owner, self.repo.git_dir)
                with suppress(OSError):  # a killed commit's copy of the old index
                    self._index_before.unlink()
                with suppress(OSError):  # best effort, as for index.lock's owner
                    owner.write_text(f"{os.getpid()}\n", encoding="ascii")
                    self.repo.object_locks = owner
            yield
        finally:
            self._depth -= 1
            if outermost:
                self.repo.object_locks = None
                with suppress(OSError):
                    owner.unlink()
            self.lock.release()

    def commit(self, message: str | None = None) -> CommitResult:
        """Commit the ``.fleet/`` changes of the working tree onto the current branch.

        The user's staged changes stay staged and the working tree is not touched. On an
        unborn branch the first commit is created with only ``.fleet/`` in it (reported
        as ``root``). Refused on a detached HEAD, during a merge/rebase/cherry-pick/
        revert/bisect, and when a changed file fails validation.
        """
        self.repo.refuse_in_progress("commit .fleet/")
        with self.locked():
            for _attempt in range(CAS_ATTEMPTS):
                result = self._commit_once(message)
                if result is not None:
                    return result
        raise ConflictError("the branch kept moving while fleet-hive was committing",
                            hint="run `fleet-hive commit` again")

    def auto_commit(self, reason: str) -> CommitResult | None:
        """Commit ``.fleet/`` if the ``auto_commit`` setting is on (mission milestones).

        Never fails the caller's command: a commit that cannot happen now (detached HEAD,
        a merge in progress, a validation problem) is returned with ``skipped`` set.
        """
        if not self.auto_commit_enabled():
            return None
        try:
            return self.commit(f"fleet-hive: {reason}")
        except FleetHiveError as e:
            return CommitResult(None, "", skipped=e.message)

    def _commit_once(self, message: str | None) -> CommitResult | None:
        with locked_index(self.repo.index_path, owner=self.layout.git_index_owner) as lock:
            ref, head = self.repo.current_branch()
            index = lock.read()
            staged = self.stage(index, head)
            updates = self._index_updates(index, staged.work)
            branch = ref[len(b"refs/heads/"):].decode()
            if staged.tree is None:
                if updates:
                    index.update(updates)
                    lock.commit(index)
                return CommitResult(None, branch, message="nothing to commit in .fleet/")
            text = message or _default_message(staged.events, len(staged.files))
            commit = self.repo.new_commit(staged.tree, [head] if head else [], text)
            # The index first, then the branch: a kill in between leaves the .fleet/ changes
            # staged on the old HEAD (the user's next `git commit` takes them along; the next
            # `fleet-hive commit` commits them), never a moved branch with the old index,
            # whose next `git commit` would delete what fleet-hive just committed.
            index.update(updates)
            before = self._keep_index()
            lock.commit(index)  # fails (a full disk) before anything changed
            written = _inode(self.repo.index_path)
            try:
                moved = self.repo.move_branch(ref, head, commit, text)
            except FleetHiveError:  # the ref could not be written: the index as it was
                self._restore_index(before, written)
                raise
            self._drop(before)
            if not moved:
                return None  # lost the compare-and-swap: try again (the index is right)
        return CommitResult(commit.decode(), branch, staged.files, staged.events, text,
                            root=head is None, warnings=staged.warnings)

    @property
    def _index_before(self) -> Path:
        """A hard link to the index as it was, while a commit moves the branch."""
        return self.repo.index_path.with_name("index.fleet-hive-before")

    def _keep_index(self) -> Path | None:
        """Keep the current index as a hard link (no space needed), to put it back if the
        branch cannot move after the new index is in place."""
        keep = self._index_before
        with suppress(FileNotFoundError):
            keep.unlink()
        try:
            os.link(self.repo.index_path, keep)
            return keep
        except OSError:
            return None  # no index yet, or no hard links here: nothing to restore

    def _restore_index(self, keep: Path | None, written: int | None) -> None:
        """Put the kept index back, if the index still is the one this commit wrote (inode
        ``written``): a git command that wrote one since keeps its own."""
        if keep is None:
            return
        try:
            with locked_index(self.repo.index_path, owner=self.layout.git_index_owner,
                              timeout=1.0):
                if written is not None and _inode(self.repo.index_path) == written:
                    os.replace(keep, self.repo.index_path)
        except (FleetHiveError, OSError):
            pass  # the .fleet/ changes stay staged: harmless, the next commit takes them
        self._drop(keep)

    def _drop(self, keep: Path | None) -> None:
        if keep is not None:
            with suppress(OSError):
                keep.unlink()

    def stage(self, index: IndexFile, head: ObjectID | None) -> Staged:
        """The tree a ``.fleet/`` commit on ``head`` would have (objects stored, nothing
        else changed); ``tree`` is None when ``.fleet/`` has no changes. Raises on invalid
        changes: a hand-built commit runs no hooks, so it validates here."""
        if any(e.stage for e in index.entries(FLEET)):
            raise ConflictError("unmerged .fleet/ paths in the git index",
                                hint="resolve the conflicts (git add) first")
        head_tree = self.repo.tree_of(head)
        head_files = self.repo.files_under(head_tree, b".fleet")
        work = self._scan(index, head_files)
        changed = {p: w for p, w in work.items() if head_files.get(p) != (w.mode, w.sha)}
        removed = [p for p in head_files if p not in work]
        if not changed and not removed:
            return Staged(work, None)
        fleet_changes = self._fleet_changes(index, head_files, changed, removed)
        problems = self.check_changes(fleet_changes)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise _refusal(errors)
        for w in changed.values():
            if w.data is not None:
                self.repo.store_blob(w.sha, w.data)
        edits: dict[bytes, Change] = {p: (w.mode, w.sha) for p, w in changed.items()}
        edits.update(dict.fromkeys(removed))
        return Staged(work, self.repo.edit_tree(head_tree, edits),
                      sorted(path_text(p) for p in (*changed, *removed)),
                      sum(c.new_events for c in fleet_changes),
                      [problem_text(p) for p in problems])

    def _scan(self, index: IndexFile, head: dict[bytes, File]) -> dict[bytes, WorkFile]:
        """The ``.fleet/`` files a commit would hold (tracked, or untracked and not ignored).

        Never a mission snapshot (``.fleet/missions/``): snapshots are derived and kept out
        of git, so one an older version committed is removed from the tree (the file stays).
        Files whose index entry vouches for them (stat unchanged, same blob as HEAD) are
        not read. The others are read under the log's writer lock, so no half-appended
        batch is ever committed.
        """
        tracked = set(head) | {e.name for e in index.entries(FLEET)}
        tracked_dirs = {p[:i] for p in tracked for i in range(len(p)) if p[i:i + 1] == b"/"}
        is_ignored = self.repo.ignore_filter()
        root = str(self.repo.root)
        found: list[bytes] = []
        for dirpath, dirnames, filenames in os.walk(self.layout.fleet):
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            keep = []
            for d in dirnames:
                rel = f"{rel_dir}/{d}"
                if os.path.islink(os.path.join(dirpath, d)):
                    filenames.append(d)
                elif d != ".git" and not os.fsencode(rel + "/").startswith(MISSIONS) and (
                        os.fsencode(rel) in tracked_dirs or not is_ignored(rel + "/")):
                    keep.append(d)
            dirnames[:] = keep
            for f in filenames:
                rel = f"{rel_dir}/{f}"
                brel = os.fsencode(rel)
                if brel in tracked or not is_ignored(rel):
                    found.append(brel)
        out: dict[bytes, WorkFile] = {}
        with self.writer_lock():
            for path in found:
                w = self._read(path, index.get(path), head.get(path), index.mtime_ns)
                if w is not None:
                    out[path] = w
        return out

    def _read(self, path: bytes, entry: Entry | None, head: File | None,
              index_mtime_ns: int) -> WorkFile | None:
        full = os.path.join(os.fsencode(str(self.repo.root)), path)
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data = os.readlink(full)
                return WorkFile(MODE_LINK, self.repo.blob_id(data), data, st)
            if not stat.S_ISREG(st.st_mode):
                return None
            mode = MODE_EXEC if st.st_mode & 0o100 else MODE_FILE
            if (entry is not None and head is not None and entry.mode == mode
                    and entry.hexsha == head[1] and head[0] == mode and entry.matches_stat(st)
                    and st.st_mtime_ns < index_mtime_ns):
                return WorkFile(mode, head[1], None, None)
            with open(full, "rb") as f:
                before = os.fstat(f.fileno())
                data = f.read()
                after = os.fstat(f.fileno())
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StorageError(f"cannot read {path_text(path)}: {e.strerror or e}") from e
        stable = (before.st_size == after.st_size == len(data)
                  and before.st_mtime_ns == after.st_mtime_ns)
        return WorkFile(mode, self.repo.blob_id(data), data, after if stable else None)

    def _index_updates(self, index: IndexFile, work: dict[bytes, WorkFile],
                       ) -> dict[bytes, Entry | None]:
        """Index entries that make the index's ``.fleet/`` equal the committed tree."""
        updates: dict[bytes, Entry | None] = {}
        for path, w in work.items():
            if w.data is None:
                continue  # vouched for by its index entry
            current = index.get(path)
            if (current is not None and current.hexsha == w.sha and current.mode == w.mode
                    and w.stat is not None and current.matches_stat(w.stat)):
                continue
            updates[path] = Entry.from_stat(path, bytes.fromhex(w.sha.decode()), w.mode, w.stat)
        for entry in index.entries(FLEET):
            if entry.name not in work:
                updates[entry.name] = None
        return updates

    def _fleet_changes(self, index: IndexFile, head: dict[bytes, File],
                       changed: dict[bytes, WorkFile], removed: list[bytes],
                       ) -> list[FleetChange]:
        out = []
        for path, w in sorted(changed.items()):
            new = w.data if w.data is not None else self.repo.blob_data(w.sha)
            old = head.get(path)
            out.append(compare(self.repo, path, old and old[1], new, index.get(path)))
        for path in removed:
            out.append(compare(self.repo, path, head[path][1], None))
        return with_predecessors(self.repo, out, head)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def remove_orphaned_object_locks(owner: Path, git_dir: str | os.PathLike[str]) -> list[str]:
    """Remove the loose-object lock files listed in ``owner`` if the process it names is
    gone (a fleet-hive git writer killed mid-write); returns them. Only files under
    ``<git_dir>/objects/`` ending in ``.lock`` are touched; a live holder's are kept."""
    try:
        pid_line, *paths = owner.read_text(encoding="utf-8").splitlines()
        pid = int(pid_line)
    except FileNotFoundError:
        return []
    except (OSError, ValueError, UnicodeDecodeError):
        paths, pid = [], 0  # unreadable: nothing to trust in it; drop the record
    if pid == os.getpid() or (pid and not pid_gone(pid)):
        return []  # alive: its locks are its own
    objects = os.path.join(os.path.realpath(git_dir), "objects") + os.sep
    removed = []
    for path in dict.fromkeys(paths):
        if path.endswith(".lock") and os.path.realpath(path).startswith(objects):
            with suppress(FileNotFoundError):
                os.unlink(path)
                removed.append(path)
    with suppress(OSError):
        owner.unlink()
    return removed


def problem_text(p: Problem) -> str:
    return p.text()


def _default_message(events: int, files: int) -> str:
    what = f"{events} new event{'s' if events != 1 else ''}" if events else "update"
    return f"fleet-hive: {what} ({files} file{'s' if files != 1 else ''} in .fleet/)"


def _refusal(errors: list[Problem]) -> ProblemsError:
    return ProblemsError(f"refusing to commit .fleet/: {summary(errors, 5)}", problems=errors,
                         hint="fix or restore the file (event lines are append-only), then "
                              "commit again; `fleet-hive verify` lists every problem")
