"""The facade the CLI, the servers and agents' tooling call: one :class:`Hive` per repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property

from ..kernel.errors import StorageError
from ..kernel.fsio import write_atomic
from ..kernel.layout import (
    GITATTRIBUTES,
    GITIGNORE,
    Layout,
    find_git_root,
    find_root,
    upgraded_git_settings,
)
from . import capabilities

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path
    from types import TracebackType
    from typing import Any

    from ..checkpoints import Checkpoints
    from ..checkpoints.recovery import Recovery
    from ..checkpoints.triggers import CheckpointTriggers
    from ..dispatch import Dispatcher
    from ..dispatch.leases import LeaseBook
    from ..events.envelope import Event
    from ..events.log import PendingEvent, SegmentLog
    from ..events.store import EventStore
    from ..git import Git
    from ..index.db import Index
    from ..index.unit_of_work import UnitOfWork
    from ..learning import Learning
    from ..learning.policy import OutcomeRecorder
    from ..mail import Mail
    from ..mail.escalation import BlockerEscalation
    from ..missions import Missions, Sortie, Sorties
    from ..missions.snapshots import Snapshots
    from ..planning import Planning
    from ..reservations.manifest import Manifest
    from ..reservations.service import Reservations
    from ..specialists import Specialists
    from .config import Config


class Hive:
    """An open ``.fleet/``: the composition root. Cheap to create; every part is built on
    first use and handed exactly the ports it needs (no part receives the ``Hive``)."""

    def __init__(self, root: str | os.PathLike[str], *, actor: str | None = None) -> None:
        self.layout = Layout(os.path.realpath(root))  # what Path.resolve() gives
        self._actor = actor
        self._snapshots_held = 0  # > 0: snapshots deferred for a long run (dispatch)
        #: told of long work nobody asked for (an index projection of another version
        #: re-folded), before it starts; the CLI prints it on stderr; None: silent
        self.notice: Callable[[str], None] | None = None

    @property
    def root(self) -> Path:
        """The repository's working-tree root (holds ``.fleet/``)."""
        return self.layout.root

    @cached_property
    def actor(self) -> str:
        """Who acts: the one given, else :func:`default_actor` (read only when needed)."""
        return self._actor or default_actor(self.layout.root_dir)

    # -- parts ---------------------------------------------------------------------------
    @cached_property
    def config(self) -> Config:
        from .settings import load

        return load(self.layout.config_file, self.layout.config_cache_file)

    @cached_property
    def index(self) -> Index:
        from ..index.db import Index

        return Index(self.layout, capabilities.projections(),
                     tracked_segments=self._tracked_segments,
                     notice=lambda text: self.notice(text) if self.notice else None)

    def _tracked_segments(self) -> set[str] | None:
        """The segments (relative to ``.fleet/events``) in the git index, for the index's
        check of committed segments that the working tree lost."""
        from ..git.index_file import IndexFile
        from ..kernel.errors import FleetHiveError

        try:
            entries = IndexFile.read(self.layout.git_dir / "index").entries(b".fleet/events/")
            names = [e.name.decode("utf-8", "replace") for e in entries]
        except FleetHiveError:
            return None
        cut = len(".fleet/events/")
        return {name[cut:] for name in names if name.endswith(".jsonl")}

    @cached_property
    def log(self) -> SegmentLog:
        from ..events.log import SegmentLog

        cfg = self.config
        return SegmentLog(self.layout, durability=cfg.durability,
                          segment_max_bytes=cfg.segment_max_bytes)

    @cached_property
    def events(self) -> EventStore:
        from ..events.store import EventStore

        watched = tuple(prefix for spec in capabilities.projections() for prefix in spec.streams)

        def write(pending: list[PendingEvent]) -> list[Event]:
            """A raw append: on a stream a projection reads (a note on ``mission:<id>``),
            through the write path, whose policies keep the snapshot right; else straight
            into the log (no derived file changes: a bulk append of notes stays cheap)."""
            if any(p.stream.startswith(watched) for p in pending):
                return self.uow.append(pending)
            return self.log.append(pending)

        return EventStore(lambda: self.log, self.index, lambda: self.actor,
                          type_modules=capabilities.event_type_modules(), write=write)

    @cached_property
    def uow(self) -> UnitOfWork:
        """The one write path, with the after-write policies in the order they run."""
        from ..index.unit_of_work import OnEvents, UnitOfWork
        from . import policies as p

        # the snapshots: for mission and sortie events, and on any write while a snapshot
        # that could not be written is owed (the stale marker: the next write repairs it)
        snapshots = OnEvents(lambda: self._snapshots, streams=p.SNAPSHOT_STREAMS,
                             when=lambda: os.path.exists(self.layout.snapshots_stale_file))

        def settle_snapshots(*, force: bool = False) -> int:  # nothing owed if never built
            return self._snapshots.settle(force=force) if "_snapshots" in self.__dict__ else 0

        return UnitOfWork(lock=self.exclusive, index=self.index, store=self.events, policies=[
            snapshots,
            OnEvents(lambda: self._manifest, streams=p.MANIFEST_STREAMS),
            OnEvents(lambda: self._checkpoint_triggers, types=p.CHECKPOINT_TRIGGER_TYPES),
            OnEvents(lambda: self._blocker_escalation, types=p.BLOCKER_TYPES),
            OnEvents(lambda: self._outcomes, types=p.OUTCOME_TYPES),
            p.AutoCommit(lambda: self.config.auto_commit,
                         lambda why: self.git.auto_commit(why)),
        ], settlers=[settle_snapshots])

    def exclusive(self) -> AbstractContextManager[Any]:
        """This clone's writer lock (reentrant): no append happens while it is held."""
        return self.log.exclusive()

    @cached_property
    def _manifest(self) -> Manifest:
        from ..reservations.manifest import Manifest

        return Manifest(self.layout, self.index)

    @cached_property
    def _snapshots(self) -> Snapshots:
        from ..kernel.locking import FileMutex
        from ..missions.snapshots import Snapshots

        lock = FileMutex(self.layout.snapshots_lock_file)
        return Snapshots(self.layout, self.index,
                         deferred=lambda: self._snapshots_held > 0
                         or self.config.snapshots == "deferred", lock=lambda: lock)

    @contextmanager
    def snapshots_deferred(self) -> Iterator[None]:
        """Within this block this process's writes defer the mission snapshots (as with
        ``snapshots: deferred``); they are brought up to date when it ends. For a
        dispatcher, whose hundreds of writes would each re-render a large mission."""
        self._snapshots_held += 1
        try:
            yield
        finally:
            self._snapshots_held -= 1
            if not self._snapshots_held:
                self.settle()

    def settle(self) -> int:
        """Bring the derived files that lag the log on purpose up to date: the pending
        mission snapshots (``snapshots: deferred``). ``commit``, ``sync`` and ``verify`` do
        it first. Returns how many were rewritten."""
        if not os.path.exists(self.layout.snapshots_pending_file):
            return 0
        return self.missions.flush_snapshots()

    # -- capabilities (each module is imported on first use) ------------------------------
    @cached_property
    def missions(self) -> Missions:
        from ..missions import Missions

        # cancelling or deleting a mission releases its claimants' reservations
        return Missions(lambda: self.uow, self.index, lambda: self._snapshots,
                        leases=lambda: self.reservations)

    @cached_property
    def sorties(self) -> Sorties:
        from ..missions import Sorties

        # a claim reserves the sortie's files in its own unit of work: the reservation
        # decisions are its port, composed here (neither capability calls the other)
        return Sorties(lambda: self.uow, self.index, actor=lambda: self.actor,
                       leases=lambda: self.reservations)

    def ready(self, mission: str | None = None, limit: int | None = None) -> list[Sortie]:
        """Sorties that can start now: pending, unclaimed, dependencies completed."""
        return self.sorties.ready(mission=mission, limit=limit)

    def resolve_stream(self, stream: str) -> str:
        """``mission:`` and ``sortie:`` streams with a unique id prefix, in full (a deleted
        mission's events are still found); other streams, and ids no mission or sortie
        matches, as given. An ambiguous prefix is InvalidInputError listing the matches."""
        kind, sep, ref = stream.partition(":")
        if not sep or not ref or kind not in ("mission", "sortie"):
            return stream
        part: Missions | Sorties = self.missions if kind == "mission" else self.sorties
        full = part.find_id(ref)
        return f"{kind}:{full}" if full else stream

    def resolve_correlation(self, ref: str) -> str:
        """A correlation id that is a mission id or unique prefix (``m-...``), in full."""
        if not ref.strip().lower().startswith("m-"):
            return ref
        return self.missions.find_id(ref) or ref

    @cached_property
    def reservations(self) -> Reservations:
        from ..reservations import Reservations

        return Reservations(lambda: self.uow, self.index, root=self.layout.root_dir)

    @cached_property
    def checkpoints(self) -> Checkpoints:
        from ..checkpoints import Checkpoints

        return Checkpoints(lambda: self.uow, self.index, layout=self.layout,
                           missions=lambda: self.missions, sorties=lambda: self.sorties,
                           reservations=lambda: self.reservations, actor=self.actor,
                           retention=lambda: (self.config.checkpoint_keep,
                                              self.config.checkpoint_max_age),
                           brief=self._brief, mail=self._mission_mail)

    def _mission_mail(self, mission_id: str) -> tuple[list[dict[str, Any]],
                                                      list[dict[str, Any]]]:
        """A mission's recent mail (newest first, bodies on one shortened line) and the
        blockers escalated through it: for checkpoints and the context brief."""
        from ..mail.model import BLOCKER_THREAD

        recent = self.mail.of_mission(mission_id, limit=20)
        mail = []
        for m in recent:
            item = m.to_json()
            body = " ".join(m.body.split())
            item["body"] = body if len(body) <= 300 else body[:299] + "…"
            mail.append(item)
        blockers = [{"sortie_id": m.sortie_id, "by": m.sender, "time": m.time,
                     "message_id": m.id, "subject": m.subject} for m in recent
                    if m.sortie_id and m.thread_id == BLOCKER_THREAD.format(
                        sortie_id=m.sortie_id)]
        return mail, blockers

    def _brief(self, mission_id: str) -> str:
        from ..checkpoints.brief import render_brief

        return render_brief(self.recovery.brief(mission_id))

    @cached_property
    def _checkpoint_triggers(self) -> CheckpointTriggers:
        from ..checkpoints.triggers import CheckpointTriggers

        return CheckpointTriggers(lambda: self.checkpoints, reads=self.index,
                                  missions=lambda: self.missions)

    @cached_property
    def recovery(self) -> Recovery:
        """Stale work, ``recover`` and the context brief (a stale sortie is resumed from
        its mission's newest good checkpoint when there is one, else re-queued)."""
        from ..checkpoints.recovery import Recovery

        return Recovery(lambda: self.uow, self.index, sorties=lambda: self.sorties,
                        missions=lambda: self.missions, leases=lambda: self.reservations,
                        checkpoints=lambda: self.checkpoints,
                        stale_after=self._stale_after_setting,
                        dispatch_leases=self._dispatch_leases,
                        mail=lambda mission_id: self._mission_mail(mission_id)[0],
                        silent=self._silent_specialists)

    def _stale_after_setting(self) -> str:
        """``stale_after`` as ``.fleet/config.yaml`` has it (or its default)."""
        from ..checkpoints.stale import DEFAULT_STALE_AFTER
        from .plain_settings import plain_setting

        return plain_setting(self.layout.config_file, "stale_after", DEFAULT_STALE_AFTER,
                             lambda: self.config.stale_after)

    def stale_after(self) -> float:
        """Seconds without activity after which a claimed sortie is stale (the setting)."""
        from ..kernel.clock import parse_duration

        return parse_duration(self._stale_after_setting(), "stale_after in .fleet/config.yaml")

    def _silent_specialists(self) -> tuple[float, list[dict[str, Any]]]:
        """The threshold and the silent specialists (name, last_seen, sorties held), for
        ``recover`` and ``status``."""
        threshold = self.specialist_silent_after()
        return threshold, [{"name": s.name, "last_seen": s.last_seen, "sorties": s.sorties}
                           for s in self.specialists.silent(threshold)]

    @cached_property
    def planning(self) -> Planning:
        """Decomposition, plan validation, missions from plans (``docs/planning.md``)."""
        from ..planning import Planning

        # learning's advice for --strategy auto and the planner prompt: its scores are
        # kept under planning's own feature tags (one vocabulary for plan and outcome)
        return Planning(self.index, root=self.root, missions=lambda: self.missions,
                        git_dir=self.layout.git_dir,
                        advice=lambda features: self.learning.advise(features))

    @cached_property
    def dispatch(self) -> Dispatcher:
        """Runs a mission's sorties through agent processes (``fleet-hive dispatch``).
        Sorties are matched to registered specialists (``hive.specialists``)."""
        from ..dispatch.service import Dispatcher, Paths

        layout = self.layout
        return Dispatcher(uow=lambda: self.uow, sorties=lambda: self.sorties,
                          missions=lambda: self.missions,
                          reservations=lambda: self.reservations,
                          brief=self._specialist_brief, actor=self.actor,
                          batch=self.snapshots_deferred,
                          specialists=lambda: self.specialists,
                          paths=Paths(self.root, layout.dispatch_leases, layout.dispatch_logs,
                                      layout.dispatch_prompts))

    def _dispatch_leases(self) -> LeaseBook | None:
        """Dispatch's local leases, for ``recover`` (light: no processes imported); None
        where dispatch never ran (nothing is imported then)."""
        if not self.layout.dispatch_leases.is_dir():
            return None
        from ..dispatch.leases import LeaseBook

        return LeaseBook(self.layout.dispatch_leases)

    def _specialist_brief(self, mission_id: str, specialist: str | None) -> str:
        from ..checkpoints.brief import render_brief

        return render_brief(self.recovery.brief(mission_id, specialist=specialist))

    @cached_property
    def mail(self) -> Mail:
        """Messages between agents (``docs/mail.md``); ``mail inbox --wait`` wakes up when
        the log changes (kernel/watch.py)."""
        from ..mail import Mail

        def watch() -> Any:
            from ..kernel.watch import Watcher

            return Watcher([self.layout.events])

        return Mail(lambda: self.uow, self.index, actor=lambda: self.actor,
                    resolve_mission=lambda ref: self.missions.resolve_id(ref), watch=watch)

    @cached_property
    def _blocker_escalation(self) -> BlockerEscalation:
        from ..mail.escalation import BlockerEscalation

        def title(sortie_id: str) -> str | None:
            from ..kernel.errors import FleetHiveError

            try:
                return self.sorties.get(sortie_id).title
            except FleetHiveError:
                return None

        return BlockerEscalation(lambda: self.mail, lambda: self.config.coordinator, title)

    @cached_property
    def specialists(self) -> Specialists:
        """Registered agents, their capabilities, liveness and load (``docs/specialists.md``);
        load comes from the sorties' claims."""
        from ..specialists import Specialists

        def claims() -> dict[str, list[str]]:
            from ..specialists.model import HOLDING

            held: dict[str, list[str]] = {}
            for s in self.sorties.list(status=list(HOLDING)):
                if s.claimed_by:
                    held.setdefault(s.claimed_by, []).append(s.id)
            return held

        return Specialists(lambda: self.uow, self.index, claims=claims,
                           silent_after=self.specialist_silent_after)

    def specialist_silent_after(self) -> float:
        """Seconds without a sign of life after which a specialist is silent (the
        ``specialist_silent_after`` setting, read without YAML when it is plain)."""
        from ..kernel.clock import parse_duration
        from ..specialists.model import DEFAULT_SILENT_AFTER_TEXT
        from .plain_settings import plain_setting

        text = plain_setting(self.layout.config_file, "specialist_silent_after",
                             DEFAULT_SILENT_AFTER_TEXT,
                             lambda: self.config.specialist_silent_after)
        return parse_duration(text, "specialist_silent_after in .fleet/config.yaml")

    @cached_property
    def learning(self) -> Learning:
        """Outcomes of finished sorties and missions, the patterns learned from them
        (with decay), and the advice ``--strategy auto`` and the planner prompt use."""
        from ..checkpoints.model import RESUME_REASON
        from ..learning import Learning

        return Learning(lambda: self.uow, self.index, sortie=lambda i: self.sorties.get(i),
                        history=lambda stream: self.index.query(stream=stream, order="total",
                                                                catch_up=False),
                        plan_of=lambda m: self._plan_of(m),
                        ignored_failures=(RESUME_REASON,))

    def _plan_of(self, mission_id: str) -> dict[str, Any] | None:
        """The plan a mission was created from, for its outcomes: ``{"task", "strategy",
        "planner", "features", "sorties": {sortie_id: {"files": [...]}}}``, or None.
        Read from planning's table directly (``hive.planning.plan_of`` does the same): a
        ``sortie complete`` records its outcome without importing the planners."""
        from ..planning.projection import plan_of

        return plan_of(self.index, mission_id, catch_up=False)

    @cached_property
    def _outcomes(self) -> OutcomeRecorder:
        from ..learning.policy import OutcomeRecorder

        return OutcomeRecorder(lambda: self.learning)

    @cached_property
    def git(self) -> Git:
        from ..git import Git
        from .verify import commit_problems, repair_derived

        return Git(self.layout, actor=self.actor, writer_lock=self._writer_lock,
                   check_changes=lambda changes: commit_problems(self, changes),
                   auto_commit=lambda: self.config.auto_commit,
                   after_merge=lambda: repair_derived(self).problems,
                   before_commit=self.settle)

    def _writer_lock(self) -> AbstractContextManager[Any]:
        """The event log's writer lock, for a commit reading ``.fleet/``.

        ``log.exclusive()`` when the log is open in this process; otherwise the same lock
        file directly, which spares a one-shot ``fleet-hive commit`` from loading the
        configuration (pydantic, ruamel) just to build a log it never appends to.
        """
        if "log" in self.__dict__:
            return self.log.exclusive()
        from ..kernel.locking import FileMutex

        self.layout.cache.mkdir(parents=True, exist_ok=True)
        return FileMutex(self.layout.writer_lock_file)

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Finish what the writes of this process left for later (the snapshots they
        touched), then close the index, the log and git. A snapshot that cannot be
        written now is a warning in ``uow.warnings`` and a marker the next write sees."""
        if "uow" in self.__dict__:
            self.uow.settle()
        if "index" in self.__dict__:
            self.index.close()
        if "log" in self.__dict__:
            self.log.close()
        if "git" in self.__dict__:
            self.git.close()

    def __enter__(self) -> Hive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Hive({str(self.root)!r})"


def open(path: str | os.PathLike[str] = ".", *, actor: str | None = None) -> Hive:
    """Open the ``.fleet/`` at ``path`` or the nearest parent; FleetHiveError if absent."""
    return Hive(find_root(path), actor=actor)


def init(path: str | os.PathLike[str] = ".", *, actor: str | None = None) -> Hive:
    """Create ``.fleet/`` in the git repository at or above ``path`` (idempotent)."""
    from .config import DEFAULT_CONFIG_TEXT

    root = find_git_root(path)
    assert root is not None
    layout = Layout(root)
    try:
        for directory in (layout.events, layout.missions, layout.checkpoints, layout.local,
                          layout.cache):
            directory.mkdir(parents=True, exist_ok=True)
        for file, text in ((layout.config, DEFAULT_CONFIG_TEXT), (layout.gitignore, GITIGNORE),
                           (layout.gitattributes, GITATTRIBUTES)):
            if not file.exists():
                write_atomic(file, text)
        # an older init committed snapshots and named a merge driver for them
        ignore, attributes = (f.read_text(encoding="utf-8")
                              for f in (layout.gitignore, layout.gitattributes))
        new_ignore, new_attributes = upgraded_git_settings(ignore, attributes)
        write_atomic(layout.gitignore, new_ignore, skip_unchanged=True)
        write_atomic(layout.gitattributes, new_attributes, skip_unchanged=True)
        for directory in (layout.events, layout.checkpoints):
            keep = directory / ".gitkeep"
            if not any(directory.iterdir()):
                keep.touch()
    except OSError as e:
        raise StorageError(f"cannot create {layout.fleet}: {e.strerror or e}",
                           hint="check that the directory is writable") from e
    from ..kernel.tokens import ensure_token

    ensure_token(layout.token)  # the HTTP API's bearer token (git-ignored, 0600)
    hive = Hive(root, actor=actor)
    hive.log.writer_id()  # mint this clone's writer id now, not in the middle of a command
    return hive



def default_actor(root: str | os.PathLike[str]) -> str:
    """The git user name (repository config, then global), else the OS user."""
    from ..kernel.actors import git_user_name

    name = git_user_name(root)
    if name:
        return name
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
