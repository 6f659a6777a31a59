"""Everything git: ``.fleet/`` commits, sync, history and the hook shims (``storage.md`` 13).

This layer imports only :mod:`fleet_hive.kernel`: what it needs from above comes in as
plain arguments (the layout, the actor, the writer lock, callbacks), so it never sees the
Hive. Its parts, each named by its job:

- :mod:`.repo`: the repository through dulwich, the only module that imports it;
- :mod:`.index_file`: ``.git/index`` read and written by hand;
- :mod:`.changes`: the ``.fleet/`` changes a commit would record, as the checks see them;
- :mod:`.commit`: commit ``.fleet/`` onto the current branch, and auto-commit;
- :mod:`.sync`: fetch, plan, preflight, apply, push;
- :mod:`.history`: the commits and new event lines between two revisions;
- :mod:`.shims`: install and uninstall the hook shims, run the hooks they chained.

:class:`Git` composes them into what ``hive.git`` offers. Importing this package stays
light (hooks import :mod:`.changes` and :mod:`.shims`); dulwich loads when a :class:`Git`
is built.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import changes, history, shims

if TYPE_CHECKING:
    from ..kernel.layout import Layout
    from .commit import CheckChanges, CommitResult, WriterLock
    from .sync import AfterMerge, Syncer, SyncResult


class Git:
    """The git side of one ``.fleet/``: each call is handed to the part that does it.

    ``actor`` signs commits when git has no identity; ``writer_lock`` holds the event log's
    writer lock while a commit reads ``.fleet/``; ``check_changes`` validates what a commit
    records; ``auto_commit`` says whether milestones commit; ``after_merge`` regenerates
    derived files once sync has merged the log.
    """

    def __init__(self, layout: Layout, *, actor: str, writer_lock: WriterLock,
                 check_changes: CheckChanges, auto_commit: Callable[[], bool],
                 after_merge: AfterMerge, before_commit: Callable[[], Any] | None = None
                 ) -> None:
        from .commit import Committer  # these load dulwich
        from .repo import Repository

        self.layout = layout
        self.repo = Repository(layout.root, actor)
        self.committer = Committer(self.repo, layout, writer_lock=writer_lock,
                                   check_changes=check_changes, auto_commit=auto_commit)
        self.after_merge = after_merge
        #: brings derived files that lag the log on purpose up to date (mission snapshots)
        self.before_commit = before_commit or (lambda: None)

    @cached_property
    def syncer(self) -> Syncer:
        """Built on first use: a one-shot ``fleet-hive commit`` need not load it."""
        from .sync import Syncer

        return Syncer(self.repo, self.committer, after_merge=self.after_merge)

    def close(self) -> None:
        self.repo.close()

    # -- writes --------------------------------------------------------------------------
    def commit(self, message: str | None = None) -> CommitResult:
        self.before_commit()
        return self.committer.commit(message)

    def auto_commit(self, reason: str) -> CommitResult | None:
        return self.committer.auto_commit(reason)

    def sync(self, remote: str = "origin", *, attempts: int | None = None) -> SyncResult:
        """See :meth:`Syncer.sync`; ``attempts`` defaults to ``sync.SYNC_ATTEMPTS``."""
        self.before_commit()
        if attempts is None:
            return self.syncer.sync(remote)
        return self.syncer.sync(remote, attempts=attempts)

    def install_hooks(self, python: str) -> shims.InstallResult:
        """The shims (running fleet-hive with ``python``); the old snapshot driver removed."""
        return shims.install(self.repo, python, self.layout.gitattributes)

    def uninstall_hooks(self) -> shims.InstallResult:
        return shims.uninstall(self.repo)

    # -- reads for hooks and history -----------------------------------------------------
    def staged_changes(self, index_file: Path | None = None,
                       ) -> tuple[list[changes.FleetChange], list[str]]:
        return changes.staged_changes(self.repo, index_file)

    def committed_segments(self) -> list[changes.FleetChange]:
        """HEAD's event segments the working tree no longer has as committed (``verify``)."""
        return changes.committed_segments(self.repo)

    def last_n_on_branches(self, writer: str) -> int:
        """The highest ``n`` of ``writer``'s events that HEAD or any local branch holds:
        events that left the working tree but are committed there are not lost."""
        import orjson

        best = 0
        directory = f".fleet/events/{writer}/".encode()
        for tip in self.repo.branch_heads():
            for path, (_mode, sha) in self.repo.files_under(self.repo.tree_of(tip),
                                                           b".fleet").items():
                if not (path.startswith(directory) and path.endswith(b".jsonl")):
                    continue
                for line in reversed(self.repo.blob_data(sha).splitlines()):
                    try:
                        best = max(best, int(orjson.loads(line)["n"]))
                        break
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        continue
        return best

    def events_between(self, since: bytes | None, until: bytes) -> list[dict[str, Any]]:
        return history.events_between(self.repo, since, until)

    def stream_events(self, until: bytes, streams: set[str]) -> dict[str, list[dict[str, Any]]]:
        return history.stream_events(self.repo, until, streams)

    def commits_between(self, since: bytes | None, until: bytes) -> list[dict[str, Any]]:
        return history.commits_between(self.repo, since, until)

    def resolve(self, rev: str) -> bytes:
        return self.repo.resolve(rev)

    def default_branch(self) -> bytes | None:
        return self.repo.default_branch()

    def merge_base(self, a: bytes, b: bytes) -> bytes | None:
        return self.repo.merge_base(a, b)

    def operation_in_progress(self) -> str | None:
        return self.repo.operation_in_progress()

    def hooks_dir(self) -> Path:
        return self.repo.hooks_dir()

    def get_config(self, section: tuple[str, ...], name: str) -> str | None:
        return self.repo.get_config(section, name)

    def set_config(self, section: tuple[str, ...], values: dict[str, str] | None) -> None:
        self.repo.set_config(section, values)

