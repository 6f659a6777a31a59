"""Everything git, through dulwich: the only module that imports it (``storage.md`` 13).

``hive.git`` is a :class:`GitOps`. What it does and why it builds commits by hand:

- **commit** (:meth:`GitOps.commit`): commits exactly the ``.fleet/`` changes of the working
  tree onto the current branch. ``porcelain.add`` + ``porcelain.commit`` would commit the
  whole index (sweeping the user's staged work into the fleet commit) and cost ~400 ms at
  10,000 files. Instead: blobs of the changed ``.fleet/`` files -> those changes applied to
  HEAD's tree -> a commit object -> a compare-and-swap of the branch ref. Then only the
  ``.fleet/`` entries of the git index are brought in line with the new commit, under
  ``index.lock`` taken *before* the index is read (:mod:`fleet_hive.git.index_file`), so
  ``git status`` shows ``.fleet/`` clean and the user's next commit does not revert it.
  Fleet committers are serialized by a file lock; a lost compare-and-swap is retried.
  A hand-built commit runs no hooks, so the changes are validated first (the checks of
  the pre-commit hook, :func:`fleet_hive.app.hooks.check_fleet_changes`).
- **sync** (:meth:`GitOps.sync`): commit, fetch, merge, commit, push. The merge is built
  by hand too: our tree plus everything only the remote changed; event segments cannot
  conflict by design (each clone writes its own files), snapshots in ``.fleet/missions/``
  keep ours and are regenerated from the merged log; any other path changed on both
  sides stops the sync before anything changed. A push that lost a race to another clone
  fetches and merges again (bounded).
- **reads for hooks and history**: staged ``.fleet/`` changes against HEAD, the events
  added between two commits, the hooks directory (``core.hooksPath`` respected), config.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dulwich.diff_tree import tree_changes
from dulwich.errors import HangupException, NotGitRepository
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from ..kernel.errors import (
    ConflictError,
    FleetHiveError,
    IntegrityError,
    InvalidInputError,
    NotARepositoryError,
    NotFoundError,
    StorageError,
)
from .index_file import Entry, IndexFile, locked_index

if TYPE_CHECKING:
    from ..app.hive import Hive
    from ..app.hooks import FleetChange

FLEET = b".fleet/"
EVENTS = b".fleet/events/"
MISSIONS = b".fleet/missions/"
SEGMENT_SUFFIX = b".jsonl"
S_IFGITLINK = 0o160000
MODE_FILE, MODE_EXEC, MODE_LINK = 0o100644, 0o100755, 0o120000
#: How often a commit retries after losing the compare-and-swap of the branch ref.
CAS_ATTEMPTS = 5
#: How often sync fetches and merges again after a push lost a race to another clone.
SYNC_ATTEMPTS = 6

#: Operations during which fleet-hive must not move the branch: (file in .git, what).
IN_PROGRESS = (
    ("MERGE_HEAD", "a merge"),
    ("rebase-merge", "a rebase"),
    ("rebase-apply", "a rebase (or git am)"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"),
    ("REVERT_HEAD", "a revert"),
    ("BISECT_LOG", "a bisect"),
)

Change = tuple[int, bytes] | None  # (mode, hex sha) of a path, or None: absent


def init_repository(path: Path, *, branch: str = "main") -> Path:
    """Create an empty git repository at ``path`` (no git CLI needed)."""
    path.mkdir(parents=True, exist_ok=True)
    if (path / ".git").exists():
        return path
    try:
        repo = Repo.init(str(path))
        repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/" + branch.encode())
        repo.close()
    except OSError as e:
        raise StorageError(f"cannot create a git repository in {path}: {e}") from e
    return path


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
class SyncResult:
    """What ``fleet-hive sync`` did."""

    remote: str
    branch: str
    head: str | None = None
    remote_head: str | None = None  # the remote branch after the sync
    merge: str = "up_to_date"  # up_to_date | fast_forward | merge | ahead | new_branch
    commits: list[str] = field(default_factory=list)  # commits this sync created
    pushed: bool = False
    attempts: int = 0
    fetched_events: int = 0  # events that arrived from the remote
    repaired: list[str] = field(default_factory=list)  # snapshots regenerated
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote, "branch": self.branch, "head": self.head,
                "remote_head": self.remote_head, "merge": self.merge, "commits": self.commits,
                "pushed": self.pushed, "attempts": self.attempts,
                "fetched_events": self.fetched_events, "repaired": self.repaired,
                "warnings": self.warnings}


@dataclass
class _WorkFile:
    """One ``.fleet/`` file of the working tree as a commit sees it."""

    mode: int
    sha: bytes  # hex
    data: bytes | None  # None when the index vouched for it (unchanged, not read)
    stat: os.stat_result | None  # a stable stat for its index entry (None: unknown)


@dataclass
class _Staged:
    """What a ``.fleet/`` commit would record (see :meth:`GitOps._stage_fleet`)."""

    work: dict[bytes, _WorkFile]
    tree: bytes | None  # None: nothing to commit
    files: list[str] = field(default_factory=list)
    events: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """How the remote branch comes into ours."""

    kind: str  # up_to_date | ahead | new_branch | fast_forward | merge
    ours: bytes | None
    theirs: bytes | None
    tree: bytes | None = None  # the tree of the result (fast_forward, merge)


def _hex(path: bytes) -> str:
    return os.fsdecode(path)


class GitOps:
    """Git operations on the repository that holds this ``.fleet/``."""

    def __init__(self, hive: Hive) -> None:
        self.hive = hive
        self.layout = hive.layout
        self.root = hive.layout.root

    # -- plumbing ------------------------------------------------------------------------
    @cached_property
    def repo(self) -> Repo:
        import weakref

        try:
            repo = Repo(str(self.root))
        except NotGitRepository as e:
            raise NotARepositoryError(
                f"not a git repository: {self.root}", hint="run `git init` first") from e
        # close pack files when this object goes away or at exit, not in module teardown
        weakref.finalize(self, repo.close)
        return repo

    @cached_property
    def _lock(self) -> Any:
        """Serializes fleet-hive's own git writers (commit, sync) in this clone."""
        from filelock import FileLock

        self.layout.cache.mkdir(parents=True, exist_ok=True)
        # an interactive wait: look again every 10 ms, not filelock's default 50 ms
        return FileLock(str(self.layout.cache / "git.lock"), poll_interval=0.01)

    def _writer_lock(self) -> Any:
        """The event log's writer lock: held while ``.fleet/`` files are read for a commit.

        ``hive.log.exclusive()`` when the log is open in this process; otherwise the same
        lock file directly, which spares a one-shot ``fleet-hive commit`` from loading the
        configuration (pydantic, ruamel) just to build a log it never appends to.
        """
        if "log" in self.hive.__dict__:
            return self.hive.log.exclusive()
        from ..kernel.locking import FileMutex

        self.layout.cache.mkdir(parents=True, exist_ok=True)
        return FileMutex(self.layout.writer_lock)

    @property
    def git_dir(self) -> Path:
        return Path(self.repo.controldir())

    @property
    def index_path(self) -> Path:
        return self.git_dir / "index"

    def close(self) -> None:
        if "repo" in self.__dict__:
            self.repo.close()
            del self.__dict__["repo"]

    def _object(self, sha: bytes) -> Any:
        return self.repo.object_store[sha]

    def _blob_data(self, sha: bytes) -> bytes:
        return self._object(sha).as_raw_string()

    def _tree_of(self, commit: bytes | None) -> bytes | None:
        return None if commit is None else self._object(commit).tree

    # -- state ---------------------------------------------------------------------------
    def operation_in_progress(self) -> str | None:
        """What git operation is half-done in this worktree (a merge, a rebase...), if any."""
        for name, what in IN_PROGRESS:
            if (self.git_dir / name).exists():
                return what
        return None

    def _refuse_in_progress(self, action: str) -> None:
        what = self.operation_in_progress()
        if what is not None:
            raise ConflictError(
                f"cannot {action} while {what} is in progress",
                hint="finish it or abort it with git first, then run fleet-hive again")

    def current_branch(self) -> tuple[bytes, bytes | None]:
        """(branch ref, its commit or None when unborn). Detached HEAD is refused."""
        try:
            chain, sha = self.repo.refs.follow(b"HEAD")
        except (KeyError, ValueError) as e:
            raise StorageError(f"cannot read HEAD: {e}") from e
        if len(chain) < 2:
            short = sha.decode()[:12] if sha else "?"
            raise InvalidInputError(
                f"HEAD is detached (at {short}): fleet-hive commits only onto a branch",
                hint="switch to a branch first: `git switch BRANCH` (or `git switch -c "
                     "BRANCH` to keep this commit)")
        ref = chain[-1]
        if not ref.startswith(b"refs/heads/"):
            raise InvalidInputError(f"HEAD points to {ref.decode()}, which is not a branch",
                                    hint="switch to a branch first: `git switch BRANCH`")
        return ref, sha

    def _fleet_tree(self, tree: bytes | None) -> dict[bytes, tuple[int, bytes]]:
        """Every file under ``.fleet/`` in ``tree``: path -> (mode, hex sha)."""
        if tree is None:
            return {}
        root = self._object(tree)
        try:
            mode, sub = root[b".fleet"]
        except KeyError:
            return {}
        if not stat.S_ISDIR(mode):
            return {}
        return {b".fleet/" + e.path: (e.mode, e.sha)
                for e in self.repo.object_store.iter_tree_contents(sub)}

    def _lookup(self, tree: bytes | None, path: bytes) -> tuple[int, bytes] | None:
        """(mode, hex sha) of ``path`` in ``tree``, or None."""
        if tree is None:
            return None
        from dulwich.errors import NotTreeError
        from dulwich.object_store import tree_lookup_path
        from dulwich.objects import SubmoduleEncountered

        try:
            return tree_lookup_path(self.repo.object_store.__getitem__, tree, path)
        except (KeyError, ValueError, NotTreeError, SubmoduleEncountered):
            return None

    def _flatten(self, tree: bytes | None) -> dict[bytes, tuple[int, bytes]]:
        if tree is None:
            return {}
        return {e.path: (e.mode, e.sha) for e in self.repo.object_store.iter_tree_contents(tree)}

    def _diff(self, old_tree: bytes | None, new_tree: bytes | None) -> dict[bytes, Change]:
        """path -> what ``new_tree`` has there (None: removed) for every changed file."""
        out: dict[bytes, Change] = {}
        if old_tree == new_tree:
            return out
        for change in tree_changes(self.repo.object_store, old_tree, new_tree):
            old, new = change.old, change.new
            if old is not None and old.path is not None and (new is None or new.path is None
                                                              or new.path != old.path):
                out.setdefault(old.path, None)
            if new is not None and new.path is not None:
                out[new.path] = (new.mode, new.sha)
        return out

    # -- commit --------------------------------------------------------------------------
    def commit(self, message: str | None = None) -> CommitResult:
        """Commit the ``.fleet/`` changes of the working tree onto the current branch.

        The user's staged changes stay staged and the working tree is not touched. On an
        unborn branch the first commit is created with only ``.fleet/`` in it (reported
        as ``root``). Refused on a detached HEAD, during a merge/rebase/cherry-pick/
        revert/bisect, and when a changed file fails validation.
        """
        self._refuse_in_progress("commit .fleet/")
        with self._lock:
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
        if not self.hive.config.auto_commit:
            return None
        try:
            return self.commit(f"fleet-hive: {reason}")
        except FleetHiveError as e:
            return CommitResult(None, "", skipped=e.message)

    def _commit_once(self, message: str | None) -> CommitResult | None:
        with locked_index(self.index_path) as lock:
            ref, head = self.current_branch()
            index = lock.read()
            staged = self._stage_fleet(index, head)
            updates = self._index_updates(index, staged.work)
            branch = ref[len(b"refs/heads/"):].decode()
            if staged.tree is None:
                if updates:
                    index.update(updates)
                    lock.commit(index)
                return CommitResult(None, branch, message="nothing to commit in .fleet/")
            text = message or _default_message(staged.events, len(staged.files))
            commit = self._new_commit(staged.tree, [head] if head else [], text)
            if not self._move_branch(ref, head, commit, text):
                return None  # lost the compare-and-swap: lock released, try again
            index.update(updates)
            lock.commit(index)
        return CommitResult(commit.decode(), branch, staged.files, staged.events, text,
                            root=head is None, warnings=staged.warnings)

    def _stage_fleet(self, index: IndexFile, head: bytes | None) -> _Staged:
        """The tree a ``.fleet/`` commit on ``head`` would have (objects stored, nothing
        else changed); ``tree`` is None when ``.fleet/`` has no changes. Raises on invalid
        changes: a hand-built commit runs no hooks, so it validates here."""
        if any(e.stage for e in index.entries(FLEET)):
            raise ConflictError("unmerged .fleet/ paths in the git index",
                                hint="resolve the conflicts (git add) first")
        head_tree = self._tree_of(head)
        head_files = self._fleet_tree(head_tree)
        work = self._scan_fleet(index, head_files)
        changed = {p: w for p, w in work.items() if head_files.get(p) != (w.mode, w.sha)}
        removed = [p for p in head_files if p not in work]
        if not changed and not removed:
            return _Staged(work, None)
        fleet_changes = self._fleet_changes(index, head_files, changed, removed)
        from ..app.hooks import check_fleet_changes

        problems = check_fleet_changes(fleet_changes)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise _refusal(errors)
        store = self.repo.object_store
        for w in changed.values():
            if w.data is not None and w.sha not in store:
                store.add_object(Blob.from_string(w.data))
        edits: dict[bytes, Change] = {p: (w.mode, w.sha) for p, w in changed.items()}
        edits.update(dict.fromkeys(removed))
        return _Staged(work, self._edit_tree(head_tree, edits),
                       sorted(_hex(p) for p in (*changed, *removed)),
                       sum(c.new_events for c in fleet_changes),
                       [_problem_text(p) for p in problems])

    def _scan_fleet(self, index: IndexFile, head: dict[bytes, tuple[int, bytes]],
                    ) -> dict[bytes, _WorkFile]:
        """The ``.fleet/`` files a commit would hold (tracked, or untracked and not ignored).

        Files whose index entry vouches for them (stat unchanged, same blob as HEAD) are
        not read. The others are read under the log's writer lock, so no half-appended
        batch is ever committed.
        """
        from dulwich.ignore import IgnoreFilterManager

        tracked = set(head) | {e.name for e in index.entries(FLEET)}
        tracked_dirs = {p[:i] for p in tracked for i in range(len(p)) if p[i:i + 1] == b"/"}
        ignore = IgnoreFilterManager.from_repo(self.repo)
        root = str(self.root)
        found: list[bytes] = []
        for dirpath, dirnames, filenames in os.walk(self.layout.fleet):
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            keep = []
            for d in dirnames:
                rel = f"{rel_dir}/{d}"
                if os.path.islink(os.path.join(dirpath, d)):
                    filenames.append(d)
                elif d != ".git" and (os.fsencode(rel) in tracked_dirs
                                      or not ignore.is_ignored(rel + "/")):
                    keep.append(d)
            dirnames[:] = keep
            for f in filenames:
                rel = f"{rel_dir}/{f}"
                brel = os.fsencode(rel)
                if brel in tracked or not ignore.is_ignored(rel):
                    found.append(brel)
        out: dict[bytes, _WorkFile] = {}
        with self._writer_lock():
            for path in found:
                w = self._read_work_file(path, index.get(path), head.get(path), index.mtime_ns)
                if w is not None:
                    out[path] = w
        return out

    def _read_work_file(self, path: bytes, entry: Entry | None,
                        head: tuple[int, bytes] | None, index_mtime_ns: int) -> _WorkFile | None:
        full = os.path.join(os.fsencode(str(self.root)), path)
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data = os.readlink(full)
                return _WorkFile(MODE_LINK, Blob.from_string(data).id, data, st)
            if not stat.S_ISREG(st.st_mode):
                return None
            mode = MODE_EXEC if st.st_mode & 0o100 else MODE_FILE
            if (entry is not None and head is not None and entry.mode == mode
                    and entry.hexsha == head[1] and head[0] == mode and entry.matches_stat(st)
                    and st.st_mtime_ns < index_mtime_ns):
                return _WorkFile(mode, head[1], None, None)
            with open(full, "rb") as f:
                before = os.fstat(f.fileno())
                data = f.read()
                after = os.fstat(f.fileno())
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StorageError(f"cannot read {_hex(path)}: {e.strerror or e}") from e
        stable = (before.st_size == after.st_size == len(data)
                  and before.st_mtime_ns == after.st_mtime_ns)
        return _WorkFile(mode, Blob.from_string(data).id, data, after if stable else None)

    def _index_updates(self, index: IndexFile, work: dict[bytes, _WorkFile],
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

    def _fleet_changes(self, index: IndexFile, head: dict[bytes, tuple[int, bytes]],
                       changed: dict[bytes, _WorkFile], removed: list[bytes],
                       ) -> list[FleetChange]:
        from ..app.hooks import FleetChange

        out = []
        for path, w in sorted(changed.items()):
            new = w.data if w.data is not None else self._blob_data(w.sha)
            old = head.get(path)
            old_size, prefix = self._prefix_of(old[1], new, index.get(path)) if old else (None,
                                                                                        False)
            out.append(FleetChange(_hex(path), old_size, new, prefix))
        for path in removed:
            out.append(FleetChange(_hex(path), len(self._blob_data(head[path][1])), None, False))
        return out

    def _prefix_of(self, old_sha: bytes, new: bytes, entry: Entry | None) -> tuple[int, bool]:
        """(size of the old blob, whether it is a prefix of ``new``), without reading the
        old blob when the index entry's size proves it: sha1 of that many bytes of ``new``
        equals the old blob's id."""
        if (entry is not None and entry.hexsha == old_sha and 0 < entry.size <= len(new)
                and Blob.from_string(new[:entry.size]).id == old_sha):
            return entry.size, True
        old = self._blob_data(old_sha)
        return len(old), new.startswith(old)

    def _edit_tree(self, tree: bytes | None, edits: dict[bytes, Change]) -> bytes:
        """A new tree: ``tree`` with ``edits`` applied (new objects are stored)."""
        store = self.repo.object_store

        def edit(tree_id: bytes | None, changes: dict[bytes, Change]) -> bytes | None:
            new = Tree()
            if tree_id is not None:
                for item in self._object(tree_id).iteritems():
                    new.add(item.path, item.mode, item.sha)
            nested: dict[bytes, dict[bytes, Change]] = {}
            for path, value in changes.items():
                name, sep, rest = path.partition(b"/")
                if sep:
                    nested.setdefault(name, {})[rest] = value
                elif value is None:
                    if name in new:
                        del new[name]
                else:
                    new.add(name, value[0], value[1])
            for name, sub in nested.items():
                existing = new[name] if name in new else None  # noqa: SIM401 (Tree)
                base = existing[1] if existing and stat.S_ISDIR(existing[0]) else None
                sub_id = edit(base, sub)
                if sub_id is None:
                    if name in new:
                        del new[name]
                else:
                    new.add(name, stat.S_IFDIR, sub_id)
            if not len(new):
                return None
            if new.id not in store:
                store.add_object(new)
            return new.id

        result = edit(tree, edits)
        if result is None:
            empty = Tree()
            store.add_object(empty)
            return empty.id
        return result

    def _identity(self, kind: str) -> bytes:
        from dulwich.repo import get_user_identity

        try:
            return get_user_identity(self.repo.get_config_stack(), kind)
        except Exception:  # no usable identity anywhere: fall back to the actor
            return f"{self.hive.actor} <fleet-hive@localhost>".encode()

    def _new_commit(self, tree: bytes, parents: list[bytes], message: str) -> bytes:
        c = Commit()
        c.tree = tree
        c.parents = parents
        c.author = self._identity("AUTHOR")
        c.committer = self._identity("COMMITTER")
        now = int(time.time())
        tz = time.localtime(now).tm_gmtoff
        c.author_time = c.commit_time = now
        c.author_timezone = c.commit_timezone = tz
        c.message = message.encode("utf-8") + (b"" if message.endswith("\n") else b"\n")
        self.repo.object_store.add_object(c)
        return c.id

    def _move_branch(self, ref: bytes, old: bytes | None, new: bytes, message: str) -> bool:
        """Compare-and-swap of the branch ref (with a reflog entry, as git writes it)."""
        from dulwich.file import FileLocked

        note = b"commit (fleet-hive): " + message.splitlines()[0].encode("utf-8")
        who = self._identity("COMMITTER")
        try:
            if old is None:
                return self.repo.refs.add_if_new(ref, new, committer=who, message=note)
            return self.repo.refs.set_if_equals(ref, old, new, committer=who, message=note)
        except FileLocked:
            return False

    # -- sync ----------------------------------------------------------------------------
    def sync(self, remote: str = "origin", *, attempts: int = SYNC_ATTEMPTS) -> SyncResult:
        """Commit pending ``.fleet/`` changes, fetch, merge, commit, push (see module doc).

        A path outside ``.fleet/`` changed on both sides, or a local change that the
        remote's version would overwrite, stops the sync before anything changed.
        """
        from dulwich.client import get_transport_and_path

        self._refuse_in_progress("sync")
        ref, _head = self.current_branch()
        branch = ref[len(b"refs/heads/"):]
        remote_b = remote.encode()
        config = self.repo.get_config_stack()
        try:
            url = config.get((b"remote", remote_b), b"url").decode()
        except KeyError:
            raise NotFoundError(f"no remote named {remote!r}",
                                hint=f"add it with `git remote add {remote} URL`") from None
        remote_ref = ref
        with contextlib.suppress(KeyError):  # no upstream configured for this branch
            if config.get((b"branch", branch), b"remote") == remote_b:
                remote_ref = config.get((b"branch", branch), b"merge")
        tracking = b"refs/remotes/" + remote_b + b"/" + remote_ref.removeprefix(b"refs/heads/")
        if "://" not in url and not url.startswith("/") and ":" not in url:
            url = str((self.root / url).resolve())  # a path relative to the repository
        try:
            client, path = get_transport_and_path(url, config=config)
        except (ValueError, NotGitRepository) as e:
            raise InvalidInputError(f"cannot use remote {remote!r} ({url}): {e}") from e
        result = SyncResult(remote, branch.decode())
        for attempt in range(1, attempts + 1):
            result.attempts = attempt
            if attempt > 1:  # lost a push race: let the winner finish, spread the retries
                import random

                time.sleep(random.uniform(0.01, 0.05) * attempt)
            theirs = self._fetch(client, path, url, remote_ref, tracking)
            with self._lock:
                self._integrate(theirs, remote, result)
            ref, head = self.current_branch()
            result.head = head.decode() if head else None
            if head is None or head == theirs:
                result.remote_head = theirs.decode() if theirs else None
                return result
            if self._push(client, path, url, remote_ref, theirs, head):
                self.repo.refs[tracking] = head
                result.pushed = True
                result.remote_head = head.decode()
                return result
        raise ConflictError(
            f"the remote branch {remote}/{remote_ref.decode().removeprefix('refs/heads/')} kept "
            f"moving: gave up after {attempts} attempts",
            hint="run `fleet-hive sync` again")

    def _integrate(self, theirs: bytes | None, remote: str, result: SyncResult) -> None:
        """Under the git lock: check, commit pending .fleet/, merge ``theirs``, regenerate."""
        ref, head = self.current_branch()
        # what .fleet/ would commit, planned against the remote before anything is written
        pending = self._stage_fleet(IndexFile.read(self.index_path), head).tree
        plan = self._plan(head, theirs, ours_tree=pending)
        if plan.kind in ("fast_forward", "merge"):
            self._preflight(plan)  # refuse before anything changes
        committed = self.commit("fleet-hive sync: record local .fleet/ changes")
        if committed.commit:
            result.commits.append(committed.commit)
            ref, head = self.current_branch()
            plan = self._plan(head, theirs)
        if plan.kind in ("fast_forward", "merge"):
            before = self._tree_of(head)
            self._apply(ref, plan, remote)
            ref, head = self.current_branch()
            result.merge = plan.kind
            if plan.kind == "merge":
                result.commits.append(head.decode())
            result.fetched_events += self._count_new_events(before, self._tree_of(head))
            from ..app.hooks import refresh_after_merge

            report = refresh_after_merge(self.hive)
            result.repaired.extend(p.path or p.message for p in report.problems
                                   if p.severity == "repaired")
            result.warnings.extend(_problem_text(p) for p in report.problems
                                   if p.severity == "error")
            again = self.commit("fleet-hive sync: regenerate snapshots from the merged log")
            if again.commit:
                result.commits.append(again.commit)
        elif result.merge == "up_to_date":
            result.merge = plan.kind

    def _plan(self, ours: bytes | None, theirs: bytes | None, *,
              ours_tree: bytes | None = None) -> _Plan:
        """How ``theirs`` comes into ``ours``. ``ours_tree``: the tree ours will have once
        pending ``.fleet/`` changes are committed on it (planned before committing them)."""
        from dulwich.graph import can_fast_forward, find_merge_base

        pending = ours_tree is not None and ours_tree != self._tree_of(ours)
        if theirs is None:
            return _Plan("new_branch", ours, theirs)
        if ours == theirs and not pending:
            return _Plan("up_to_date", ours, theirs)
        if ours is None and not pending:
            return _Plan("fast_forward", ours, theirs, self._tree_of(theirs))
        if ours is not None and can_fast_forward(self.repo, theirs, ours):
            return _Plan("ahead", ours, theirs)
        if ours is not None and not pending and can_fast_forward(self.repo, ours, theirs):
            return _Plan("fast_forward", ours, theirs, self._tree_of(theirs))
        bases = find_merge_base(self.repo, [ours, theirs]) if ours is not None else []
        base_tree = self._tree_of(bases[0]) if bases else None
        if not pending:
            ours_tree = self._tree_of(ours)
        theirs_tree = self._tree_of(theirs)
        mine = self._diff(base_tree, ours_tree)
        other = self._diff(base_tree, theirs_tree)
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
                a, b = self._blob_data(ours_value[1]), self._blob_data(value[1])
                if b.startswith(a):
                    take[path] = value  # the same writer's segment, longer on their side
                elif not a.startswith(b):
                    inside.append(_hex(path))
            elif path.startswith(MISSIONS):
                continue  # derived: ours now, regenerated from the merged log afterwards
            elif path.startswith(FLEET):
                inside.append(_hex(path))
            else:
                outside.append(_hex(path))
        for path, value in take.items():  # a file of ours where theirs needs a directory
            if value is None:
                continue
            parts = path.split(b"/")
            for i in range(1, len(parts)):
                parent = b"/".join(parts[:i])
                found = self._lookup(ours_tree, parent)
                if found is not None and not stat.S_ISDIR(found[0]) and parent not in take:
                    outside.append(_hex(path))
                    break
        if outside or inside:
            both = sorted(set(outside) | set(inside))
            shown = ", ".join(both[:8]) + (f" and {len(both) - 8} more" if len(both) > 8 else "")
            raise ConflictError(
                f"sync stopped: {len(both)} path(s) changed both here and on the remote: "
                f"{shown}; nothing was changed",
                hint="merge with git (`git pull`), resolve the conflicts and commit, then run "
                     "`fleet-hive sync` again")
        return _Plan("merge", ours, theirs, self._edit_tree(ours_tree, take))

    def _preflight(self, plan: _Plan) -> None:
        """Refuse (before changing anything) if applying ``plan`` would lose local work."""
        changes = self._diff(self._tree_of(plan.ours), plan.tree)
        index = IndexFile.read(self.index_path)
        ours_tree = self._tree_of(plan.ours)
        blocked: list[str] = []
        for path, value in changes.items():
            if path.startswith(FLEET):
                continue  # .fleet/ was just committed; derived files are regenerated
            if value is not None and value[0] == S_IFGITLINK:
                blocked.append(f"{_hex(path)} (a submodule)")
                continue
            if not self._unmodified(path, self._lookup(ours_tree, path), index):
                blocked.append(_hex(path))
        if blocked:
            shown = ", ".join(blocked[:8]) + (f" and {len(blocked) - 8} more"
                                              if len(blocked) > 8 else "")
            raise ConflictError(
                f"sync stopped: local changes to {shown} would be overwritten by the remote; "
                "nothing was changed",
                hint="commit or stash them first (git commit / git stash), then run "
                     "`fleet-hive sync` again")

    def _unmodified(self, path: bytes, head: tuple[int, bytes] | None, index: IndexFile) -> bool:
        """Whether the working tree and index hold exactly HEAD's version of ``path``."""
        full = os.path.join(os.fsencode(str(self.root)), path)
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
        return Blob.from_string(data).id == head[1]

    def _apply(self, ref: bytes, plan: _Plan, remote: str) -> None:
        """Move the branch to the fast-forward or merge result; update files and index."""
        assert plan.tree is not None and plan.theirs is not None
        old_tree = self._tree_of(plan.ours)
        if plan.kind == "merge":
            assert plan.ours is not None
            branch = ref[len(b"refs/heads/"):].decode()
            text = f"fleet-hive sync: merge {remote}/{branch} into {branch}"
            new = self._new_commit(plan.tree, [plan.ours, plan.theirs], text)
        else:
            new, text = plan.theirs, f"fleet-hive sync: fast-forward to {remote}"
        changes = self._diff(old_tree, plan.tree)
        with locked_index(self.index_path) as lock:
            index = lock.read()
            if not self._move_branch(ref, plan.ours, new, text):
                raise ConflictError("the branch moved during sync; nothing was merged",
                                    hint="run `fleet-hive sync` again")
            updates = self._write_files(changes)
            index.update(updates)
            lock.commit(index)

    def _write_files(self, changes: dict[bytes, Change]) -> dict[bytes, Entry | None]:
        """Write the changed files into the working tree; their new index entries."""
        root = os.fsencode(str(self.root))
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
            data = self._blob_data(sha)
            try:
                parent = os.path.dirname(full)
                if os.path.lexists(parent) and not os.path.isdir(parent):
                    os.unlink(parent)
                os.makedirs(parent, exist_ok=True)
                tmp = os.path.join(parent, b"." + os.path.basename(full) + b".fleet-hive-tmp")
                if mode == MODE_LINK:
                    if os.path.lexists(tmp):
                        os.unlink(tmp)
                    os.symlink(data, tmp)
                else:
                    with open(tmp, "wb") as f:
                        f.write(data)
                    os.chmod(tmp, 0o755 if mode == MODE_EXEC else 0o644)
                if os.path.isdir(full) and not os.path.islink(full):
                    import shutil

                    shutil.rmtree(full)
                os.replace(tmp, full)
                st = os.lstat(full)
            except OSError as e:
                raise StorageError(f"cannot write {_hex(path)}: {e.strerror or e}",
                                   hint="fix the problem, then `git status` shows what is "
                                        "left to restore (git checkout -- PATH)") from e
            updates[path] = Entry.from_stat(path, bytes.fromhex(sha.decode()), mode, st)
        return updates

    def _count_new_events(self, old_tree: bytes | None, new_tree: bytes | None) -> int:
        return sum(1 for _ in self._new_event_lines(old_tree, new_tree))

    def _fetch(self, client: Any, path: str, url: str, remote_ref: bytes,
               tracking: bytes) -> bytes | None:
        store = self.repo.object_store
        seen: list[bytes | None] = []  # the remote ref as fetched (it may move right after)

        def wants(refs: Any, depth: Any = None) -> list[bytes]:
            sha = refs.get(remote_ref)
            seen.append(sha)
            return [sha] if sha and sha not in store else []

        try:
            fetched = client.fetch(path, self.repo, determine_wants=wants)
        except (HangupException, NotGitRepository, OSError, KeyError) as e:
            raise StorageError(f"cannot fetch from {url}: {e}",
                               hint="check the remote's URL and that it is reachable") from e
        except Exception as e:
            if type(e).__module__.startswith("dulwich"):
                raise StorageError(f"cannot fetch from {url}: {e}") from e
            raise
        sha = seen[-1] if seen else (fetched.refs or {}).get(remote_ref)
        if sha and sha not in store:
            raise StorageError(f"fetching from {url} did not bring {sha.decode()}",
                               hint="run `fleet-hive sync` again")
        if sha:
            self.repo.refs[tracking] = sha
        return sha

    def _push(self, client: Any, path: str, url: str, remote_ref: bytes,
              expected: bytes | None, new: bytes) -> bool:
        """Push ``new`` if the remote branch still is ``expected``; False when it moved."""
        from dulwich.client import LocalGitClient
        from dulwich.file import FileLocked

        if isinstance(client, LocalGitClient):
            self._refuse_checked_out(path, remote_ref)
        moved: list[bool] = []

        def update_refs(refs: dict[bytes, bytes]) -> dict[bytes, bytes]:
            current = refs.get(remote_ref)
            if current == new:
                return {}
            if current != expected:
                moved.append(True)
                return {}
            return {remote_ref: new}

        store = self.repo.object_store

        def pack_data(have: Any, want: Any, *, ofs_delta: bool = False,
                      progress: Callable[..., None] | None = None) -> Any:
            known = {h for h in have if h in store}  # the remote may have refs we never fetched
            return self.repo.generate_pack_data(known, set(want), progress=progress,
                                                ofs_delta=ofs_delta)

        try:
            sent = client.send_pack(path, update_refs, generate_pack_data=pack_data)
        except FileLocked:
            return False  # another clone is updating that ref right now
        except (HangupException, NotGitRepository, OSError) as e:
            raise StorageError(f"cannot push to {url}: {e}") from e
        except Exception as e:
            if type(e).__module__.startswith("dulwich"):
                raise StorageError(f"cannot push to {url}: {e}") from e
            raise
        return not moved and not any(v for v in (sent.ref_status or {}).values())

    def _refuse_checked_out(self, path: str, remote_ref: bytes) -> None:
        try:
            target = Repo(path)
        except NotGitRepository as e:
            raise StorageError(f"{path} is not a git repository") from e
        try:
            if not target.bare and target.refs.follow(b"HEAD")[0][-1] == remote_ref:
                raise ConflictError(
                    f"the remote {path} has {remote_ref.decode()} checked out: pushing would "
                    "change its working tree under it",
                    hint="push to a bare repository, or check out another branch there")
        finally:
            target.close()

    # -- reading history -----------------------------------------------------------------
    def resolve(self, rev: str) -> bytes:
        """The commit id a revision names (a ref, a sha or prefix, ``HEAD~2``...)."""
        from dulwich.objectspec import parse_commit, parse_object

        with contextlib.suppress(KeyError, ValueError, TypeError):  # not an object name
            return parse_commit(self.repo, parse_object(self.repo, rev.encode())).id
        try:
            return parse_commit(self.repo, rev.encode()).id
        except (KeyError, ValueError, TypeError) as e:
            raise NotFoundError(f"unknown revision {rev!r}",
                                hint="give a branch, tag, commit id or e.g. HEAD~2") from e

    def default_branch(self) -> bytes | None:
        """The ref of the default branch: origin's HEAD, else init.defaultBranch, main, master."""
        refs = self.repo.refs
        try:
            target = refs.get_symrefs().get(b"refs/remotes/origin/HEAD")
        except OSError:
            target = None
        if target and target in refs:
            return target
        names = []
        with contextlib.suppress(KeyError):
            names.append(self.repo.get_config_stack().get((b"init",), b"defaultBranch"))
        names += [b"main", b"master"]
        for name in names:
            for prefix in (b"refs/heads/", b"refs/remotes/origin/"):
                if prefix + name in refs:
                    return prefix + name
        return None

    def merge_base(self, a: bytes, b: bytes) -> bytes | None:
        from dulwich.graph import find_merge_base

        bases = find_merge_base(self.repo, [a, b])
        return bases[0] if bases else None

    def commits_between(self, since: bytes | None, until: bytes) -> list[dict[str, Any]]:
        """The commits reachable from ``until`` but not from ``since``, newest first."""
        walker = self.repo.get_walker(include=[until], exclude=[since] if since else None)
        out = []
        for entry in walker:
            c = entry.commit
            out.append({"id": c.id.decode(), "summary": c.message.decode("utf-8", "replace")
                        .splitlines()[0] if c.message else "",
                        "author": c.author.decode("utf-8", "replace").split(" <")[0],
                        "time": c.commit_time})
        return out

    def events_between(self, since: bytes | None, until: bytes) -> list[dict[str, Any]]:
        """Events added to ``.fleet/events/`` from ``since``'s tree to ``until``'s, in the
        total order (clock, writer, n). A segment's new lines are its new events."""
        import orjson

        events = []
        for line in self._new_event_lines(self._tree_of(since), self._tree_of(until)):
            try:
                ev = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(ev, dict) and isinstance(ev.get("type"), str) \
                    and isinstance(ev.get("stream"), str):
                events.append(ev)
        events.sort(key=lambda e: (e.get("clock", 0), str(e.get("writer", "")), e.get("n", 0)))
        return events

    def _new_event_lines(self, old_tree: bytes | None, new_tree: bytes | None,
                         ) -> Iterator[bytes]:
        if old_tree == new_tree:
            return
        old_files = self._fleet_tree(old_tree)
        for path, (_mode, sha) in sorted(self._fleet_tree(new_tree).items()):
            if not (path.startswith(EVENTS) and path.endswith(SEGMENT_SUFFIX)):
                continue
            before = old_files.get(path)
            if before is not None and before[1] == sha:
                continue
            new = self._blob_data(sha)
            if before is None:
                fresh = new
            else:
                old = self._blob_data(before[1])
                if new.startswith(old):
                    fresh = new[len(old):]
                else:  # not append-only (refused by the hooks); take lines not seen before
                    seen = set(old.split(b"\n"))
                    fresh = b"\n".join(x for x in new.split(b"\n") if x not in seen)
            for line in fresh.split(b"\n"):
                if line.strip():
                    yield line

    # -- hooks support -------------------------------------------------------------------
    def hooks_dir(self) -> Path:
        """Where git looks for hooks: ``core.hooksPath`` if set, else ``.git/hooks``."""
        try:
            value = self.repo.get_config_stack().get((b"core",), b"hooksPath")
        except KeyError:
            value = None
        if value:
            path = Path(os.path.expanduser(os.fsdecode(value)))
            return path if path.is_absolute() else self.root / path
        return Path(self.repo.commondir()) / "hooks"

    def set_config(self, section: tuple[str, ...], values: dict[str, str] | None) -> None:
        """Set (or, with None, remove) a section of the repository's ``.git/config``."""
        config = self.repo.get_config()
        key = tuple(s.encode() for s in section)
        if values is None:
            try:
                del config[key]
            except KeyError:
                return
        else:
            for name, value in values.items():
                config.set(key, name.encode(), value.encode())
        try:
            config.write_to_path()
        except OSError as e:
            raise StorageError(f"cannot write the git config: {e.strerror or e}") from e

    def get_config(self, section: tuple[str, ...], name: str) -> str | None:
        try:
            return self.repo.get_config_stack().get(
                tuple(s.encode() for s in section), name.encode()).decode()
        except KeyError:
            return None

    def staged_changes(self, index_file: Path | None = None,
                       ) -> tuple[list[FleetChange], list[str]]:
        """What the next ``git commit`` would record, against HEAD: the ``.fleet/`` files
        (with contents, for the pre-commit checks) and every other changed path."""
        from ..app.hooks import FleetChange

        path = index_file or self.index_path
        if not path.is_absolute():
            path = self.root / path
        index = IndexFile.read(path)
        try:
            head = self.repo.refs.follow(b"HEAD")[1]
        except (KeyError, ValueError):
            head = None
        tree = self._flatten(self._tree_of(head))
        staged: dict[bytes, tuple[int, bytes]] = {}
        present: set[bytes] = set()  # every path in the index, conflicted ones too
        for e in index.entries():
            present.add(e.name)
            if e.stage == 0:
                staged[e.name] = (e.mode, e.hexsha)
        changed = [p for p, v in staged.items() if tree.get(p) != v]
        removed = [p for p in tree if p not in present]
        fleet: list[FleetChange] = []
        other: list[str] = []
        for p in sorted(changed):
            if not p.startswith(FLEET):
                other.append(_hex(p))
                continue
            new = self._blob_data(staged[p][1])
            old = tree.get(p)
            if old is None:
                fleet.append(FleetChange(_hex(p), None, new, False))
            else:
                size, prefix = self._prefix_of(old[1], new, None)
                fleet.append(FleetChange(_hex(p), size, new, prefix))
        for p in sorted(removed):
            if p.startswith(FLEET):
                fleet.append(FleetChange(_hex(p), len(self._blob_data(tree[p][1])), None, False))
            else:
                other.append(_hex(p))
        return fleet, sorted(other)


def _remove_empty_parents(path: bytes, stop: bytes) -> None:
    while path and path != stop and path.startswith(stop):
        try:
            os.rmdir(path)
        except OSError:
            return
        path = os.path.dirname(path)


def _default_message(events: int, files: int) -> str:
    what = f"{events} new event{'s' if events != 1 else ''}" if events else "update"
    return f"fleet-hive: {what} ({files} file{'s' if files != 1 else ''} in .fleet/)"


def _problem_text(p: Any) -> str:
    where = f"{p.path}:{p.line}: " if p.path and p.line else (f"{p.path}: " if p.path else "")
    return f"{where}{p.message}"


def _refusal(errors: list[Any]) -> IntegrityError:
    shown = "; ".join(_problem_text(p) for p in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return IntegrityError(f"refusing to commit .fleet/: {shown}{more}",
                          hint="fix or restore the file (event lines are append-only), then "
                               "commit again; `fleet-hive verify` lists every problem")
