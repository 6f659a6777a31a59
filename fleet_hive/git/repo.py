"""The repository through dulwich: the only module of fleet-hive that imports it.

Objects, trees, refs, config, remotes and the commit graph in the small vocabulary the rest
of :mod:`fleet_hive.git` works in: ids are hex ``bytes``, paths are repository-relative
``bytes``, a file in a tree is ``(mode, id)``. One owner keeps dulwich off the read paths
(it loads only when a :class:`Repository` is built) and its errors turned into fleet-hive's.
No git command-line tool is needed (``storage.md`` 13).

Ids and ref names come out typed as dulwich's ``ObjectID`` and ``Ref`` (``NewType`` s of
``bytes``: the same objects at run time), so they go back in as they are; the other modules
import the two names from here, under ``TYPE_CHECKING``. The few methods that also take ids
from outside dulwich (an index entry's, a revision given to :class:`fleet_hive.git.Git`)
take ``bytes`` and name them ``ObjectID`` at the call into dulwich.
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import sys
import time
import traceback
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.errors import HangupException, NotGitRepository
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.objects import ObjectID as ObjectID  # re-exported, with Ref: the git modules' ids
from dulwich.refs import Ref as Ref
from dulwich.repo import Repo

from ..kernel.errors import (
    ConflictError,
    InvalidInputError,
    NotARepositoryError,
    NotFoundError,
    StorageError,
    storage_error,
)

S_IFGITLINK = 0o160000
MODE_FILE, MODE_EXEC, MODE_LINK = 0o100644, 0o100755, 0o120000

#: Operations during which fleet-hive must not move the branch: (file in .git, what).
IN_PROGRESS = (
    ("MERGE_HEAD", "a merge"),
    ("rebase-merge", "a rebase"),
    ("rebase-apply", "a rebase (or git am)"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"),
    ("REVERT_HEAD", "a revert"),
    ("BISECT_LOG", "a bisect"),
)

File = tuple[int, ObjectID]  # (mode, hex id) of a path in a tree
Change = File | None  # what a tree has at a path; None: nothing

HEAD = Ref(b"HEAD")
ORIGIN_HEAD = Ref(b"refs/remotes/origin/HEAD")


def init_repository(path: Path, *, branch: str = "main") -> Path:
    """Create an empty git repository at ``path`` (no git CLI needed)."""
    path.mkdir(parents=True, exist_ok=True)
    if (path / ".git").exists():
        return path
    try:
        repo = Repo.init(str(path))
        repo.refs.set_symbolic_ref(HEAD, Ref(b"refs/heads/" + branch.encode()))
        repo.close()
    except OSError as e:
        raise StorageError(f"cannot create a git repository in {path}: {e}") from e
    return path


@dataclass(frozen=True)
class Remote:
    """The remote branch a local branch syncs with, and the transport that reaches it."""

    name: str
    url: str  # as messages show it: without a password
    ref: Ref  # the branch on the remote
    tracking: Ref  # refs/remotes/NAME/BRANCH
    client: Any
    path: str


class Repository:
    """The git repository whose working tree is ``root``, opened on first use.

    ``actor`` signs commits when git has no identity configured anywhere.
    """

    def __init__(self, root: Path, actor: str) -> None:
        self.root = root
        self.actor = actor
        #: while fleet-hive's git lock is held: the file that records each loose-object
        #: lock file before it is created (``Layout.git_objects_owner``)
        self.object_locks: Path | None = None

    @cached_property
    def _repo(self) -> Repo:
        try:
            repo = Repo(str(self.root))
        except NotGitRepository as e:
            raise NotARepositoryError(
                f"not a git repository: {self.root}", hint="run `git init` first") from e
        # close pack files when this object goes away or at exit, not in module teardown
        weakref.finalize(self, repo.close)
        return repo

    def close(self) -> None:
        if "_repo" in self.__dict__:
            self._repo.close()
            del self.__dict__["_repo"]

    @property
    def git_dir(self) -> Path:
        return Path(self._repo.controldir())

    @property
    def index_path(self) -> Path:
        return self.git_dir / "index"

    # -- state ---------------------------------------------------------------------------
    def operation_in_progress(self) -> str | None:
        """What git operation is half-done in this worktree (a merge, a rebase...), if any."""
        for name, what in IN_PROGRESS:
            if (self.git_dir / name).exists():
                return what
        return None

    def refuse_in_progress(self, action: str) -> None:
        what = self.operation_in_progress()
        if what is not None:
            raise ConflictError(
                f"cannot {action} while {what} is in progress",
                hint="finish it or abort it with git first, then run fleet-hive again")

    def current_branch(self) -> tuple[Ref, ObjectID | None]:
        """(branch ref, its commit or None when unborn). Detached HEAD is refused."""
        try:
            chain, sha = self._repo.refs.follow(HEAD)
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

    def head(self) -> ObjectID | None:
        """HEAD's commit, detached or not; None when unborn or unreadable."""
        try:
            return self._repo.refs.follow(HEAD)[1]
        except (KeyError, ValueError):
            return None

    def branch_heads(self) -> list[ObjectID]:
        """HEAD's commit and every local branch's (each once)."""
        heads = dict.fromkeys([self.head(), *self._repo.refs.as_dict(Ref(b"refs/heads")).values()])
        return [h for h in heads if h is not None]

    # -- objects and trees ---------------------------------------------------------------
    @staticmethod
    def blob_id(data: bytes) -> ObjectID:
        """The id git gives ``data`` as a blob."""
        return Blob.from_string(data).id

    def blob_data(self, sha: bytes) -> bytes:
        """The content of blob ``sha`` (hex, also as an index entry has it)."""
        return self._repo.object_store[ObjectID(sha)].as_raw_string()

    def store_blob(self, sha: ObjectID, data: bytes) -> None:
        """Store ``data`` (whose blob id is ``sha``) unless the object store has it."""
        if sha not in self._repo.object_store:
            self._add_object(Blob.from_string(data))

    def _add_object(self, obj: Blob | Tree | Commit) -> None:
        """Write one loose object. A failure (a full disk) is a :class:`StorageError` and
        leaves no lock file behind: dulwich's own would make every later write of the same
        object fail as "locked", even once there is space again."""
        store = self._repo.object_store
        hexsha = obj.id.decode("ascii")
        path = os.path.join(os.fspath(store.path), hexsha[:2], hexsha[2:])
        if self.object_locks is not None:  # a SIGKILL mid-write would leave the lock file
            _record(self.object_locks, path + ".lock")
        with self._writing(os.path.join(self.git_dir, "objects"), path + ".lock"):
            store.add_object(obj)

    def tree_of(self, commit: bytes | None) -> ObjectID | None:
        """The tree of ``commit`` (hex, also as :class:`fleet_hive.git.Git` is given it)."""
        if commit is None:
            return None
        obj = self._repo.object_store[ObjectID(commit)]
        assert isinstance(obj, Commit), f"{commit.decode()} is not a commit"
        tree: ObjectID = obj.tree  # dulwich types Commit.tree as a bare property
        return tree

    def files_under(self, tree: ObjectID | None, directory: bytes) -> dict[bytes, File]:
        """Every file below the top-level ``directory`` of ``tree``: full path -> file."""
        if tree is None:
            return {}
        try:
            root = self._repo.object_store[tree]
            assert isinstance(root, Tree), f"{tree.decode()} is not a tree"
            mode, sub = root[directory]
        except KeyError:
            return {}
        if not stat.S_ISDIR(mode):
            return {}
        prefix = directory + b"/"
        return {prefix + e.path: (e.mode, e.sha)
                for e in self._repo.object_store.iter_tree_contents(sub)}

    def files(self, tree: ObjectID | None) -> dict[bytes, File]:
        """Every file of ``tree``: path -> file."""
        if tree is None:
            return {}
        return {e.path: (e.mode, e.sha)
                for e in self._repo.object_store.iter_tree_contents(tree)}

    def lookup(self, tree: ObjectID | None, path: bytes) -> File | None:
        """What ``tree`` holds at ``path`` (a file or a directory), or None."""
        if tree is None:
            return None
        from dulwich.errors import NotTreeError
        from dulwich.object_store import tree_lookup_path
        from dulwich.objects import SubmoduleEncountered

        try:
            return tree_lookup_path(self._repo.object_store.__getitem__, tree, path)
        except (KeyError, ValueError, NotTreeError, SubmoduleEncountered):
            return None

    def diff(self, old_tree: ObjectID | None, new_tree: ObjectID | None,
             ) -> dict[bytes, Change]:
        """path -> what ``new_tree`` has there (None: removed) for every changed file."""
        out: dict[bytes, Change] = {}
        if old_tree == new_tree:
            return out
        for change in tree_changes(self._repo.object_store, old_tree, new_tree):
            old, new = change.old, change.new
            if old is not None and old.path is not None and (new is None or new.path is None
                                                              or new.path != old.path):
                out.setdefault(old.path, None)
            if new is not None and new.path is not None:
                out[new.path] = (new.mode, new.sha)
        return out

    def edit_tree(self, tree: ObjectID | None, edits: dict[bytes, Change]) -> ObjectID:
        """A new tree: ``tree`` with ``edits`` applied (new objects are stored)."""
        store = self._repo.object_store

        def edit(tree_id: ObjectID | None, changes: dict[bytes, Change]) -> ObjectID | None:
            new = Tree()
            if tree_id is not None:
                old = store[tree_id]
                assert isinstance(old, Tree), f"{tree_id.decode()} is not a tree"
                for item in old.iteritems():
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
                self._add_object(new)
            return new.id

        result = edit(tree, edits)
        if result is None:
            empty = Tree()
            self._add_object(empty)
            return empty.id
        return result

    def ignore_filter(self) -> Callable[[str], bool | None]:
        """``is_ignored(path)`` by the repository's ignore rules (``dir/`` for a directory)."""
        from dulwich.ignore import IgnoreFilterManager

        return IgnoreFilterManager.from_repo(self._repo).is_ignored

    # -- commits and refs ----------------------------------------------------------------
    def identity(self, kind: str) -> bytes:
        """``Name <email>`` for ``AUTHOR`` or ``COMMITTER``, as git would find it."""
        from dulwich.repo import get_user_identity

        try:
            return get_user_identity(self._repo.get_config_stack(), kind)
        except Exception:  # no usable identity anywhere: fall back to the actor
            return f"{self.actor} <fleet-hive@localhost>".encode()

    def new_commit(self, tree: ObjectID, parents: list[ObjectID], message: str) -> ObjectID:
        c = Commit()
        c.tree = tree
        c.parents = parents
        c.author = self.identity("AUTHOR")
        c.committer = self.identity("COMMITTER")
        now = int(time.time())
        tz = time.localtime(now).tm_gmtoff
        c.author_time = c.commit_time = now
        c.author_timezone = c.commit_timezone = tz
        c.message = message.encode("utf-8") + (b"" if message.endswith("\n") else b"\n")
        self._add_object(c)
        return c.id

    def move_branch(self, ref: Ref, old: ObjectID | None, new: ObjectID, message: str) -> bool:
        """Compare-and-swap of the branch ref (with a reflog entry, as git writes it).

        A failure (a full disk) is a :class:`StorageError` that leaves the branch, its lock
        file and its reflog as they were: dulwich appends the reflog line before it renames
        the ref's lock file into place, and leaves the lock behind when its final flush
        fails, so both are undone here.
        """
        from dulwich.file import FileLocked

        note = b"commit (fleet-hive): " + message.splitlines()[0].encode("utf-8")
        who = self.identity("COMMITTER")
        ref_path = os.fsdecode(self._repo.refs.refpath(ref))  # type: ignore[attr-defined]
        reflog = os.path.join(self._repo.commondir(), "logs", os.fsdecode(ref))
        logged = _size(reflog)
        try:
            with self._writing(ref_path, ref_path + ".lock"):
                try:
                    if old is None:
                        return self._repo.refs.add_if_new(ref, new, committer=who,
                                                          message=note)
                    return self._repo.refs.set_if_equals(ref, old, new, committer=who,
                                                         message=note)
                except OSError:
                    # the ref did not move: cut off the reflog line written for it (ours:
                    # git appends to a reflog only while holding the ref's lock)
                    _truncate_reflog(reflog, logged, (old or b"0" * 40) + b" " + new)
                    raise
        except FileLocked:
            return False

    def set_ref(self, ref: Ref, sha: ObjectID) -> None:
        self._repo.refs[ref] = sha

    @contextlib.contextmanager
    def _writing(self, where: str, *locks: str) -> Iterator[None]:
        """Around a dulwich write into ``.git/``: an OSError (a full disk, an I/O error)
        becomes a :class:`StorageError` naming ``where``, and the ``locks`` (lock files that
        did not exist before) are removed if the failed write left them."""
        fresh = [p for p in locks if not os.path.lexists(p)]
        try:
            yield
        except OSError as e:
            _let_go(e)
            for path in fresh:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            raise storage_error(e, where) from e

    # -- config --------------------------------------------------------------------------
    def get_config(self, section: tuple[str, ...], name: str) -> str | None:
        try:
            return self._repo.get_config_stack().get(
                tuple(s.encode() for s in section), name.encode()).decode()
        except KeyError:
            return None

    def set_config(self, section: tuple[str, ...], values: dict[str, str] | None) -> None:
        """Set (or, with None, remove) a section of the repository's ``.git/config``."""
        config = self._repo.get_config()
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

    def hooks_dir(self) -> Path:
        """Where git looks for hooks: ``core.hooksPath`` if set, else ``.git/hooks``."""
        try:
            value = self._repo.get_config_stack().get((b"core",), b"hooksPath")
        except KeyError:
            value = None
        if value:
            path = Path(os.path.expanduser(os.fsdecode(value)))
            return path if path.is_absolute() else self.root / path
        return Path(self._repo.commondir()) / "hooks"

    # -- remotes -------------------------------------------------------------------------
    def remote(self, name: str, branch_ref: Ref) -> Remote:
        """The remote ``name`` as the local branch ``branch_ref`` syncs with it: its upstream
        (``branch.B.merge``) when that is on this remote, else the branch of the same name."""
        from dulwich.client import get_transport_and_path

        branch = branch_ref[len(b"refs/heads/"):]
        name_b = name.encode()
        config = self._repo.get_config_stack()
        try:
            url = config.get((b"remote", name_b), b"url").decode()
        except KeyError:
            raise NotFoundError(f"no remote named {name!r}",
                                hint=f"add it with `git remote add {name} URL`") from None
        remote_ref = branch_ref
        with contextlib.suppress(KeyError):  # no upstream configured for this branch
            if config.get((b"branch", branch), b"remote") == name_b:
                remote_ref = Ref(config.get((b"branch", branch), b"merge"))
        tracking = Ref(b"refs/remotes/" + name_b + b"/" + remote_ref.removeprefix(b"refs/heads/"))
        if "://" not in url and not url.startswith("/") and ":" not in url:
            url = str((self.root / url).resolve())  # a path relative to the repository
        username, password = _stored_credentials(config, url)
        try:
            client, path = get_transport_and_path(url, config=config,
                                                  ssh_command=_ssh_command_from_git_env(),
                                                  username=username, password=password)
        except (ValueError, NotGitRepository) as e:
            raise InvalidInputError(
                f"cannot use remote {name!r} ({_without_password(url)}): {e}") from e
        return Remote(name, _without_password(url), remote_ref, tracking, client, path)

    def fetch(self, remote: Remote) -> ObjectID | None:
        """Fetch the remote branch into its tracking ref; its commit (None: no such branch)."""
        store = self._repo.object_store
        seen: list[ObjectID | None] = []  # the remote ref as fetched (it may move right after)

        def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
            sha = refs.get(remote.ref)
            seen.append(sha)
            return [sha] if sha and sha not in store else []

        from dulwich.client import LocalGitClient

        try:
            if isinstance(remote.client, LocalGitClient):
                remote_refs = self._fetch_local(remote.path, wants)
            else:
                remote_refs = remote.client.fetch(remote.path, self._repo,
                                                  determine_wants=wants).refs
        except (HangupException, NotGitRepository, OSError, KeyError) as e:
            raise StorageError(f"cannot fetch from {remote.url}: {e}",
                               hint="check the remote's URL and that it is reachable") from e
        except Exception as e:
            if type(e).__module__.startswith("dulwich"):
                raise StorageError(f"cannot fetch from {remote.url}: {e}") from e
            raise
        sha = seen[-1] if seen else (remote_refs or {}).get(remote.ref)
        if sha and sha not in store:
            raise StorageError(f"fetching from {remote.url} did not bring {sha.decode()}",
                               hint="run `fleet-hive sync` again")
        if sha:
            self._repo.refs[remote.tracking] = sha
        return sha

    def _fetch_local(self, path: str, wants: Callable[[Mapping[Ref, ObjectID]], list[ObjectID]],
                     ) -> Mapping[Ref, ObjectID]:
        """Fetch from a repository on this machine: the objects ``wants`` names that we lack,
        found and read as a push does (:func:`missing_objects`; dulwich's local fetch reads
        every object of the remote's packs). The remote's refs."""
        store = self._repo.object_store
        source = Repo(path)
        try:
            refs = source.get_refs()
            wanted = set(wants(refs))
            if wanted:
                have = {sha for sha in self._repo.refs.as_dict().values()
                        if sha in store and sha in source.object_store}
                count, objects = missing_objects(source.object_store, have, wanted)
                store.add_pack_data(count, objects)
            return refs
        finally:
            source.close()

    def push(self, remote: Remote, expected: ObjectID | None, new: ObjectID) -> int | None:
        """Push ``new`` if the remote branch still is ``expected``: how many objects were sent
        (only those the remote lacks, :func:`missing_objects`); None when the branch moved."""
        from dulwich.client import LocalGitClient
        from dulwich.file import FileLocked

        if isinstance(remote.client, LocalGitClient):
            _refuse_checked_out(remote.path, remote.ref)
        moved: list[bool] = []

        def update_refs(refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            current = refs.get(remote.ref)
            if current == new:
                return {}
            if current != expected:
                moved.append(True)
                return {}
            return {remote.ref: new}

        store = self._repo.object_store

        def pack_data(have: Any, want: Any, *, ofs_delta: bool = False,
                      progress: Callable[..., None] | None = None) -> Any:
            known = {h for h in have if h in store}  # the remote may have refs we never fetched
            count, objects = missing_objects(store, known, set(want), progress=progress)
            sent_objects.append(count)
            return count, objects

        sent_objects: list[int] = []
        try:
            sent = remote.client.send_pack(remote.path, update_refs, generate_pack_data=pack_data)
        except FileLocked:
            return None  # another clone is updating that ref right now
        except (HangupException, NotGitRepository, OSError) as e:
            raise StorageError(f"cannot push to {remote.url}: {e}") from e
        except Exception as e:
            if type(e).__module__.startswith("dulwich"):
                raise StorageError(f"cannot push to {remote.url}: {e}") from e
            raise
        if moved or any(v for v in (sent.ref_status or {}).values()):
            return None
        return sum(sent_objects)

    # -- the commit graph and revisions ----------------------------------------------------
    def is_ancestor(self, ancestor: ObjectID, commit: ObjectID) -> bool:
        """Whether ``commit`` contains ``ancestor`` (a fast-forward from it is possible)."""
        from dulwich.graph import can_fast_forward

        return can_fast_forward(self._repo, ancestor, commit)

    def merge_base(self, a: bytes, b: bytes) -> ObjectID | None:
        from dulwich.graph import find_merge_base

        bases = find_merge_base(self._repo, [ObjectID(a), ObjectID(b)])
        return bases[0] if bases else None

    def resolve(self, rev: str) -> ObjectID:
        """The commit id a revision names (a ref, a sha or prefix, ``HEAD~2``...)."""
        from dulwich.objectspec import parse_commit, parse_object

        with contextlib.suppress(KeyError, ValueError, TypeError):  # not an object name
            obj = parse_object(self._repo, rev.encode())
            if isinstance(obj, Commit | Tag):  # a tree or blob: parse_commit refuses it below
                return parse_commit(self._repo, obj).id
        try:
            return parse_commit(self._repo, rev.encode()).id
        except (KeyError, ValueError, TypeError) as e:
            raise NotFoundError(f"unknown revision {rev!r}",
                                hint="give a branch, tag, commit id or e.g. HEAD~2") from e

    def default_branch(self) -> Ref | None:
        """The ref of the default branch: origin's HEAD, else init.defaultBranch, main, master."""
        refs = self._repo.refs
        try:
            target = refs.get_symrefs().get(ORIGIN_HEAD)
        except OSError:
            target = None
        if target and target in refs:
            return target
        names = []
        with contextlib.suppress(KeyError):
            names.append(self._repo.get_config_stack().get((b"init",), b"defaultBranch"))
        names += [b"main", b"master"]
        for name in names:
            for prefix in (b"refs/heads/", b"refs/remotes/origin/"):
                ref = Ref(prefix + name)
                if ref in refs:
                    return ref
        return None

    def walk(self, until: bytes, since: bytes | None,
             ) -> Iterator[tuple[ObjectID, bytes, bytes, int]]:
        """(id, message, author, commit time) of the commits reachable from ``until`` but not
        from ``since``, newest first."""
        for entry in self._repo.get_walker(include=[ObjectID(until)],
                                           exclude=[ObjectID(since)] if since else None):
            c = entry.commit
            yield c.id, c.message, c.author, c.commit_time


def _without_password(url: str) -> str:
    """``url`` with the password of its user part (``https://user:pw@host/``) masked."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _stored_credentials(config: Any, url: str) -> tuple[str | None, str | None]:
    """(user, password) for an http(s) ``url`` without them, from the file of git's
    ``store`` credential helper when ``credential.helper`` names it (``store``, or ``store
    --file=PATH``): ``~/.git-credentials``, then ``$XDG_CONFIG_HOME/git/credentials``.
    Other helpers (cache, a keychain) run as programs and are not asked."""
    import shlex
    from urllib.parse import urlsplit

    from dulwich.client import get_credentials_from_store

    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or parsed.password or not parsed.hostname:
        return None, None
    try:
        helpers = [os.fsdecode(h) for h in config.get_multivar((b"credential",), b"helper")]
    except KeyError:
        helpers = []
    files: list[str] = []
    for helper in helpers:
        words = shlex.split(helper)
        if words[:1] != ["store"]:
            continue
        named = [w.removeprefix("--file=") for w in words[1:] if w.startswith("--file=")]
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        files += [os.path.expanduser(f) for f in named] or [
            os.path.expanduser("~/.git-credentials"), os.path.join(xdg, "git", "credentials")]
    for user, password in get_credentials_from_store(parsed.scheme, parsed.hostname,
                                                     parsed.username, fnames=files):
        return user, password
    return None, None


def _ssh_command_from_git_env() -> str | None:
    """The ssh command git's own variables name, as git reads them: ``GIT_SSH_COMMAND`` (a
    shell command line), else ``GIT_SSH`` (a program); None: ``core.sshCommand``, else
    ``ssh`` (dulwich reads the config). Read here, beside dulwich's reading of git's
    ``GIT_AUTHOR_*``: they configure git, not fleet-hive."""
    import shlex

    command = os.environ.get("GIT_SSH_COMMAND")
    if command:
        return command
    program = os.environ.get("GIT_SSH")
    return shlex.quote(program) if program else None


def missing_objects(store: Any, have: set[ObjectID], want: set[ObjectID], *,
                    progress: Callable[..., None] | None = None) -> tuple[int, Iterator[Any]]:
    """The objects reachable from ``want`` but not from ``have``, as a pack's entries: the
    pack a push (or a fetch from a local path) sends.

    dulwich's own ``generate_pack_data`` finds the same objects, then looks for deltas it
    can reuse by decompressing *every* object of every pack in order (``find_reusable_deltas``
    → ``Pack.iter_unpacked_subset``): a push of 6 new objects from a clone of 10,000 files
    read all 10,418 objects of its pack. Here each object is read once, through the pack
    index: a delta whose base is sent too, or which the remote has, is sent as stored; any
    other object whole (a loose one always is)."""
    from dulwich.object_store import MissingObjectFinder
    from dulwich.objects import hex_to_sha, sha_to_hex
    from dulwich.pack import REF_DELTA, UnpackedObject, full_unpacked_object

    finder = MissingObjectFinder(store, haves=have, wants=want, progress=progress)
    remote_has = finder.get_remote_has()
    ids = [sha for sha, _hint in finder]
    sending = set(ids)

    def entries() -> Iterator[Any]:
        for sha in ids:
            try:
                stored = store.get_unpacked_object(sha)  # packed: as stored, no resolving
            except KeyError:
                stored = None  # loose
            if stored is not None and stored.pack_type_num == REF_DELTA:
                base = sha_to_hex(stored.delta_base)
                if base in sending or base in remote_has:
                    yield UnpackedObject(REF_DELTA, delta_base=stored.delta_base,
                                         decomp_chunks=stored.decomp_chunks,
                                         sha=hex_to_sha(sha))
                    continue
            elif stored is not None:
                yield UnpackedObject(stored.pack_type_num, decomp_chunks=stored.decomp_chunks,
                                     sha=hex_to_sha(sha))
                continue
            yield full_unpacked_object(store[sha])

    return len(ids), entries()


def _tolerate_missing_bitmaps() -> None:
    """Make ``Pack.bitmap`` answer None for a pack that has no ``.bitmap`` file, as its
    docstring says it does.

    dulwich (1.2.x, still in 1.2.21) raises FileNotFoundError there. Its bitmap-backed
    reachability is used as soon as one pack of a repository has a bitmap, and
    ``find_commit_bitmaps`` then reads the bitmap of each pack, newest first, uncaught: after
    ``git gc`` in a bare remote (git writes bitmaps in bare repositories) the next push adds
    a pack without one, and from then on every fetch from that remote failed with "No such
    file or directory: .../pack-X.bitmap" (a push from a clone whose own packs have a bitmap
    failed the same way). Wrapped once, at import; harmless once dulwich answers None."""
    from dulwich.pack import Pack

    original: property = vars(Pack)["bitmap"]
    if getattr(original.fget, "tolerates_missing", False):
        return

    def bitmap(self: Pack) -> Any:
        assert original.fget is not None
        try:
            return original.fget(self)
        except FileNotFoundError:
            return None  # no bitmap for this pack: callers fall back to walking the graph

    bitmap.tolerates_missing = True  # type: ignore[attr-defined]
    setattr(Pack, "bitmap", property(bitmap, doc=original.__doc__))  # noqa: B010


_tolerate_missing_bitmaps()


def _let_go(e: BaseException) -> None:
    """Drop the half-written files a failed write's frames still hold (dulwich's lock file
    objects): each would retry the flush that failed when collected, which cannot succeed
    now and only prints "Exception ignored" on stderr."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _unraisable: None
    try:
        traceback.clear_frames(e.__traceback__)
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _record(log: Path, lock_path: str) -> None:
    """Note ``lock_path`` in the owner record (best effort: without it a kill leaves a lock
    that only a person can remove, as before)."""
    with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as f:
        f.write(lock_path + "\n")


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _truncate_reflog(path: str, size: int | None, starts: bytes) -> None:
    """Cut ``path`` back to ``size`` (None: it did not exist) if what was appended since is
    (the start of) the line that begins with ``starts``."""
    with contextlib.suppress(OSError):
        with open(path, "r+b") as f:
            f.seek(size or 0)
            tail = f.read(len(starts))
            if not tail or tail != starts[:len(tail)]:
                return
            f.truncate(size or 0)
        if size is None:
            os.unlink(path)


def _refuse_checked_out(path: str, remote_ref: bytes) -> None:
    """dulwich would move a non-bare remote's checked-out branch under its working tree."""
    try:
        target = Repo(path)
    except NotGitRepository as e:
        raise StorageError(f"{path} is not a git repository") from e
    try:
        if not target.bare and target.refs.follow(HEAD)[0][-1] == remote_ref:
            raise ConflictError(
                f"the remote {path} has {remote_ref.decode()} checked out: pushing would "
                "change its working tree under it",
                hint="push to a bare repository, or check out another branch there")
    finally:
        target.close()
