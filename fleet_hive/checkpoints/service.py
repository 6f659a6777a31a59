"""``hive.checkpoints``: create, list, show, resume, delete and prune checkpoints.

The service gets its ports in the constructor: the unit of work, the index (reads), the
layout, a clock, the actor, and the missions, sorties and reservations services (as
functions, so read commands never build them). It never calls another capability for a
side effect of its own: a resume *is* a sequence of that capability's use cases (claim,
start, fail, retry, acquire), each one unit of work, each recorded as the events it is.

Creating a checkpoint: under the writer lock (so no write changes the mission meanwhile)
the state is loaded, the body decided (:mod:`.decide`), validated, written atomically and
durably, then its ``checkpoint_created`` event appended with the body's sha256. A crash in
between leaves a file no event names (``verify`` warns; the log is unharmed).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterable, Sequence

from ..index.unit_of_work import built
from ..kernel import clock
from ..kernel.errors import (
    ConflictError,
    FleetHiveError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
)
from ..kernel.typenames import Protocol
from ..missions.model import MISSION_OPEN
from . import decide as d
from . import files
from . import projection as q
from .model import (
    DEFAULT_KEEP,
    DEFAULT_MAX_AGE,
    MAX_ERROR_MISSIONS,
    PREFIX,
    RESUME_REASON,
    CheckpointInfo,
    ResumeReport,
    check_note,
    counted_total,
    crossing,
    pick_prunable,
    restore_steps,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from ..index.projection import ReadView
    from ..index.unit_of_work import NewEvent, UnitOfWork
    from ..kernel.layout import Layout
    from ..missions.model import Mission, Sortie
    from ..reservations.model import Reservation



class MissionsPort(Protocol):
    """What a checkpoint needs of ``hive.missions``."""

    def find_id(self, ref: str) -> str | None: ...

    def resolve_id(self, ref: str) -> str: ...

    def get(self, ref: str, *, sorties: bool = True) -> Mission: ...

    def list(self, *, status: str | Sequence[str] | None = None,
             label: str | Sequence[str] | None = None, limit: int | None = None,
             offset: int | None = None) -> builtins.list[Mission]: ...

    def start(self, ref: str, *, reason: str | None = "") -> Mission: ...

    def reopen(self, ref: str, *, reason: str | None = "") -> Mission: ...


class SortiesPort(Protocol):
    """The sortie use cases a resume restores states with (``hive.sorties``)."""

    def get(self, ref: str) -> Sortie: ...

    def claim(self, ref: str, *, specialist: str | None = None) -> Sortie: ...

    def start(self, ref: str, *, reason: str | None = "", force: bool = False) -> Sortie: ...

    def fail(self, ref: str, *, reason: str | None = "", force: bool = False) -> Sortie: ...

    def block(self, ref: str, *, reason: str | None = "", force: bool = False) -> Sortie: ...

    def unblock(self, ref: str, *, reason: str | None = "", force: bool = False,
                ) -> Sortie: ...

    def retry(self, ref: str, *, reason: str | None = "") -> Sortie: ...

    def progress(self, ref: str, percent: int, *, note: str | None = "",
                 force: bool = False) -> Sortie: ...


class ReservationsPort(Protocol):
    """What a checkpoint needs of ``hive.reservations``."""

    def active(self) -> builtins.list[Reservation]: ...

    def acquire(self, paths: Iterable[str] | str, *, holder: str, ttl: float | None = None,
                wait: float | None = None, shared: bool = False, reason: str | None = None,
                ) -> builtins.list[Reservation]: ...

#: (keep, max age) from config.yaml
Retention = Callable[[], tuple[int, str]]


class ResumeError(FleetHiveError):
    """A resume stopped by an error: what was restored is kept (each step was a complete
    unit of work) and ``report`` says what was and was not restored."""

    code = "resume_incomplete"

    def __init__(self, message: str, report: ResumeReport, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.report = report

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_json()
        out["error"]["report"] = self.report.to_json()
        return out


class Checkpoints:
    """The checkpoint use cases of one repository."""

    def __init__(self, uow: UnitOfWork | Callable[[], UnitOfWork], reads: ReadView, *,
                 layout: Layout, missions: Callable[[], MissionsPort],
                 sorties: Callable[[], SortiesPort],
                 reservations: Callable[[], ReservationsPort], actor: str = "",
                 retention: Retention | None = None, now: clock.Clock = clock.now,
                 brief: Callable[[str], str] | None = None,
                 mail: Callable[[str], tuple[Sequence[dict[str, Any]],
                                             Sequence[dict[str, Any]]]] | None = None,
                 ) -> None:
        self._write_path = uow
        #: a mission's recent mail and the blockers it raised, for the body
        self._mail = mail
        #: the mission's context brief (recovery's), printed after a resume
        self._brief = brief
        self._reads = reads
        self.layout = layout
        self._missions = missions
        self._sorties = sorties
        self._reservations = reservations
        self.actor = actor
        self._retention = retention or (lambda: (DEFAULT_KEEP, DEFAULT_MAX_AGE))
        self.now = now

    @property
    def _uow(self) -> UnitOfWork:
        return built(self._write_path)

    # -- reads ---------------------------------------------------------------------------
    def resolve_id(self, ref: str) -> str:
        """The full id of the checkpoint ``ref`` names (id or unique prefix)."""
        return self._info(ref).id

    def _info(self, ref: Any, *, catch_up: bool = True) -> CheckpointInfo:
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInputError("a checkpoint id is required")
        text = ref.strip().lower()
        if not text.startswith(PREFIX):
            text = PREFIX + text
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in text):
            raise NotFoundError(f"no checkpoint matches {ref!r}")
        found = q.by_prefix(self._reads, text, catch_up=catch_up)
        exact = [c for c in found if c.id == text]
        matches = exact or found
        if not matches:
            raise NotFoundError(f"no checkpoint matches {ref!r}",
                                hint="list them: fleet-hive checkpoint list MISSION")
        if len(matches) > 1:
            shown = ", ".join(c.id for c in matches[:10])
            raise InvalidInputError(f"ambiguous checkpoint id {ref!r}: matches {shown}",
                                    code="ambiguous_id", hint="give more characters")
        if matches[0].deleted:
            raise NotFoundError(f"checkpoint {matches[0].id} was deleted",
                                hint="its event stays in the log; the file is gone")
        return matches[0]

    def get(self, ref: str) -> CheckpointInfo:
        return self._info(ref)

    def _mission_id(self, ref: str) -> str:
        """A mission id from an id or prefix (deleted missions too: their checkpoints
        are still listed)."""
        found = self._missions().find_id(ref)
        if found is None:
            raise NotFoundError(f"no mission matches {ref!r}",
                                hint="list them: fleet-hive mission list")
        return found

    def list(self, mission: str) -> builtins.list[CheckpointInfo]:
        """A mission's checkpoints, newest first."""
        return q.of_mission(self._reads, self._mission_id(mission))

    def path(self, info: CheckpointInfo) -> Path:
        return self.layout.root / info.path

    def inspect(self, info: CheckpointInfo) -> files.Inspection:
        """Whether the checkpoint's file is intact (hash, event hash, YAML, schema)."""
        return files.inspect(self.path(info), info.sha256)

    def show(self, ref: str) -> tuple[CheckpointInfo, dict[str, Any]]:
        """The checkpoint and its body (upcast to the current schema); IntegrityError
        (exit 1, naming the newest good checkpoint) when the file is corrupt."""
        info = self._info(ref)
        return info, self._body(info)

    def _body(self, info: CheckpointInfo) -> dict[str, Any]:
        found = self.inspect(info)
        info.state = found.state
        if found.ok and found.body is not None:
            return found.body
        good = self.newest_good(info.mission_id)
        hint = (f"resume the newest good one: fleet-hive checkpoint resume {good.id}"
                if good is not None else "no intact checkpoint of this mission is left: "
                "recover from the log (fleet-hive recover)")
        raise IntegrityError(f"checkpoint {info.id} is corrupt: {found.message} "
                             f"({info.path})", hint=hint, code="corrupt_checkpoint")

    def newest_good(self, mission_id: str) -> CheckpointInfo | None:
        """The newest checkpoint of the mission whose file is intact (corrupt and missing
        ones are skipped), or None."""
        for info in q.of_mission(self._reads, mission_id):
            found = self.inspect(info)
            info.state = found.state
            if found.ok:
                return info
        return None

    # -- creating --------------------------------------------------------------------------
    def create(self, mission: str, *, note: str | None = None) -> CheckpointInfo:
        """A manual checkpoint of ``mission`` (id or prefix) now."""
        mission_id = self._missions().resolve_id(mission)
        (info,) = self._create(mission_id, [("manual", None, None)], note=check_note(note))
        return info

    def _create(self, mission_id: str, plans: Sequence[tuple[str, int | None,
                                                              dict[str, Any] | None]],
                *, note: str = "", before: Sequence[NewEvent] = (),
                ) -> builtins.list[CheckpointInfo]:
        """One checkpoint per ``(trigger, threshold, error)`` of ``plans``, all of one
        state, appended in one batch after ``before`` (re-arming events)."""
        from ..kernel.ids import new_short_id

        uow = self._uow
        with uow.exclusive():
            m = self._missions().get(mission_id)
            leases = self._leases(m)
            position = self._position()
            mail, blockers = self._mail(mission_id) if self._mail is not None else ([], [])
            written: list[tuple[Path, dict[str, Any], str, str]] = []
            try:
                for trigger, threshold, error in plans:
                    checkpoint_id = new_short_id(PREFIX)
                    text = note or _auto_note(trigger, threshold, error)
                    body = d.body(checkpoint_id, m, m.sorties or [], leases, trigger=trigger,
                                  created_at=clock.iso(self.now()), created_by=self.actor,
                                  note=text, threshold=threshold, error=error,
                                  position=position, mail=mail, blockers=blockers)
                    data, digest = files.render(body)
                    path = files.path_of(self.layout, mission_id, checkpoint_id)
                    files.write(path, data)
                    written.append((path, body, digest,
                                    path.relative_to(self.layout.root).as_posix()))
                events = [*before, *(d.created(b, digest, rel) for _p, b, digest, rel
                                     in written)]
                uow.run(lambda _view: events)
            except BaseException:
                for path, *_ in written:  # no event names them: they never happened
                    files.remove(path)
                raise
        ids = {b["id"] for _p, b, _d, _r in written}
        return [c for c in q.of_mission(self._reads, mission_id, catch_up=False)
                if c.id in ids][::-1]

    def _leases(self, m: Mission) -> builtins.list[Reservation]:
        return d.mission_reservations(m.sorties or [], self._reservations().active())

    def _position(self) -> dict[str, Any]:
        rows = self._reads.read("SELECT seq, id, clock, writer, n FROM events ORDER BY "
                                "clock DESC, writer DESC, n DESC LIMIT 1", catch_up=False)
        (high,) = self._reads.read("SELECT MAX(seq) FROM events", catch_up=False)[0]
        if not rows:
            return {"seq": None, "clock": None, "writer": None, "n": None, "event_id": None}
        _seq, event_id, clock_, writer, n = rows[0]
        return {"seq": high, "clock": clock_, "writer": writer, "n": n, "event_id": event_id}

    # -- reactions (called by the trigger policy, under the writer lock) -----------------
    def react(self, mission_id: str, *, progress_may_change: bool,
              failures: Sequence[dict[str, Any]] = ()) -> builtins.list[CheckpointInfo]:
        """Checkpoint ``mission_id`` if its progress crossed a threshold or a sortie
        failed; record thresholds that progress fell below again."""
        try:
            m = self._missions().get(mission_id, sorties=False)
        except NotFoundError:
            return []  # deleted
        fire: builtins.list[int] = []
        rearm: builtins.list[int] = []
        if progress_may_change:
            fired = q.fired(self._reads, mission_id)
            has_sorties = counted_total(m.sortie_counts) > 0
            fire, rearm = crossing(m.progress, fired,
                                   open_mission=has_sorties and m.status in MISSION_OPEN)
        plans: builtins.list[tuple[str, int | None, dict[str, Any] | None]] = [
            ("progress", t, None) for t in fire]
        if failures:
            plans.append(("error", None, dict(failures[-1])))
        before = [d.rearmed(mission_id, rearm, m.progress)] if rearm else []
        if plans:
            return self._create(mission_id, plans, before=before)
        if before:
            self._uow.run(lambda _view: before)
        return []

    def on_exception(self, error: BaseException, traceback: str | None = None,
                     ) -> builtins.list[CheckpointInfo]:
        """An error checkpoint of every in-progress mission (at most
        :data:`MAX_ERROR_MISSIONS`, most urgent first) after an unexpected exception
        inside fleet-hive, with its type, message and traceback. Never raises: this runs
        on the way out of a failure, and must not hide it."""
        text = traceback
        if text is None:
            import traceback as tb_module  # (this failure path only)

            text = "".join(tb_module.format_exception(type(error), error, error.__traceback__))
        detail = {"type": type(error).__name__, "message": str(error)[:100_000],
                  "traceback": text[-100_000:], "sortie_id": None}
        out: builtins.list[CheckpointInfo] = []
        try:
            missions = self._missions().list(status="in_progress", limit=MAX_ERROR_MISSIONS)
        except Exception:  # the index itself may be what failed
            return out
        for m in missions:
            with contextlib.suppress(Exception):
                out += self._create(m.id, [("error", None, detail)])
        return out

    # -- deleting --------------------------------------------------------------------------
    def delete(self, ref: str) -> CheckpointInfo:
        """Delete one checkpoint: ``checkpoint_deleted`` is recorded, then its file goes."""
        info = self._info(ref)
        self._uow.run(lambda _view: d.deleted([self._info(info.id, catch_up=False)]))
        files.remove(self.path(info))
        info.deleted = True
        return info

    def prune(self, *, keep: int | None = None, older_than: str | float | None = None,
              mission: str | None = None) -> builtins.list[CheckpointInfo]:
        """Apply retention: per mission, keep the newest ``keep`` and delete any older than
        ``older_than`` (defaults: ``checkpoint_keep`` and ``checkpoint_max_age`` in
        config.yaml); the newest checkpoint of an open mission always stays. Each deletion
        is a ``checkpoint_deleted`` event (reason ``pruned``). Returns what was deleted."""
        default_keep, default_age = self._retention()
        keep_n = default_keep if keep is None else keep
        if isinstance(keep_n, bool) or not isinstance(keep_n, int) or keep_n < 0:
            raise InvalidInputError(f"keep must be a whole number >= 0, got {keep_n!r}")
        age = clock.parse_duration(default_age if older_than is None else older_than,
                             "--older-than", zero=True)
        mission_id = None if mission is None else self._mission_id(mission)
        chosen: builtins.list[CheckpointInfo] = []

        def decision(view: ReadView) -> builtins.list[NewEvent]:
            every = (q.of_mission(view, mission_id, catch_up=False) if mission_id
                     else q.every(view, catch_up=False))
            open_ids = {m.id for m in self._missions().list(status=["pending",
                                                                    "in_progress"])}
            created = {}
            for c in every:
                with contextlib.suppress(ValueError):
                    created[c.id] = clock.epoch(c.created_at)
            chosen[:] = pick_prunable(every, open_ids, keep=keep_n, older_than=age,
                                      now=self.now(), created=created)
            return d.deleted(chosen, reason="pruned")

        self._uow.run(decision)
        for c in chosen:
            files.remove(self.path(c))
            c.deleted = True
        return chosen

    # -- resuming --------------------------------------------------------------------------
    def resume(self, ref: str) -> ResumeReport:
        """Bring the mission back to the checkpoint's state, by appending events.

        The mission is reopened or started if the checkpoint has it open; each sortie is
        moved from its state now to the recorded one through the sortie use cases (fail,
        retry, claim for the recorded claimant, start, block, progress; see
        :func:`.model.restore_steps`): nothing completed or cancelled since is undone, and
        a sortie that cannot be restored is reported with why. Then each recorded
        reservation is acquired again for its holder; one that someone else holds now is
        reported (``reservations_refused``), not fatal. A ``checkpoint_resumed`` event
        records the outcome. Each step is its own unit of work (in one batch: the lock is
        held once, the after-write policies run once at the end), so a resume stopped by an
        error leaves a consistent state: :class:`ResumeError` carries the report of what
        was and was not restored, and resuming again finishes the job (steps already
        done are found done). A corrupt checkpoint is refused (IntegrityError, exit 1,
        naming the newest good one).
        """
        info = self._info(ref)
        body = self._body(info)
        report = ResumeReport(info.id, info.mission_id)
        with self._uow.batch():  # one hold of the lock; snapshots and triggers once
            try:
                self._resume_mission(body, report)
                self._resume_sorties(body, report)
                self._resume_reservations(body, report)
            except Exception as e:
                report.complete = False
                report.error = f"{type(e).__name__}: {getattr(e, 'message', None) or e}"
                with contextlib.suppress(Exception):  # best effort: it may be storage
                    self._uow.run(lambda _view: [d.resumed(report)])
                raise ResumeError(
                    f"resume from {info.id} stopped: {report.error}; so far "
                    f"{report.summary()}", report,
                    hint="what was restored stays restored; fix the cause and resume "
                         "again (finished steps are skipped)") from e
            self._uow.run(lambda _view: [d.resumed(report)])
        return report

    def _resume_mission(self, body: dict[str, Any], report: ResumeReport) -> None:
        missions = self._missions()
        m = missions.get(report.mission_id, sorties=False)
        want = body["mission"]["status"]
        why = f"{RESUME_REASON} {report.checkpoint_id}"
        if want in MISSION_OPEN and m.status in ("completed", "cancelled"):
            missions.reopen(m.id, reason=why)
            report.mission_restored.append("reopen")
            m = missions.get(report.mission_id, sorties=False)
        if want == "in_progress" and m.status == "pending":
            missions.start(m.id, reason=why)
            report.mission_restored.append("start")

    def _resume_sorties(self, body: dict[str, Any], report: ResumeReport) -> None:
        sorties = self._sorties()
        m = self._missions().get(report.mission_id)
        now = {s.id: s for s in m.sorties or []}
        why = f"{RESUME_REASON} {report.checkpoint_id}"
        for rec in body["sorties"]:
            sortie_id = rec["id"]
            current = now.get(sortie_id)
            if current is None:
                report.not_restored.append({"sortie_id": sortie_id,
                                            "reason": "deleted since the checkpoint"})
                continue
            steps = restore_steps(current.status, current.claimed_by, rec["status"],
                                  rec.get("claimed_by"))
            if isinstance(steps, str):
                report.not_restored.append({"sortie_id": sortie_id, "reason": steps})
                continue
            done: builtins.list[str] = []
            try:
                for step in steps:
                    if step == "claim":
                        sorties.claim(sortie_id, specialist=rec["claimed_by"])
                    elif step == "retry":
                        sorties.retry(sortie_id, reason=why)
                    else:  # start, fail, block, unblock: the claimant's work, forced
                        getattr(sorties, step)(sortie_id, reason=why, force=True)
                    done.append(step)
                s = sorties.get(sortie_id) if done else current
                if (s.status in ("in_progress", "blocked")
                        and (s.progress, s.progress_note) != (rec["progress"],
                                                              rec.get("progress_note", ""))):
                    sorties.progress(sortie_id, rec["progress"],
                                     note=rec.get("progress_note", ""), force=True)
                    done.append("progress")
            except (ConflictError, NotFoundError) as e:
                after = f" (after {', '.join(done)})" if done else ""
                report.not_restored.append({"sortie_id": sortie_id,
                                            "reason": f"{e.message}{after}",
                                            "steps": done})
                continue
            if done:
                report.restored.append({"sortie_id": sortie_id, "status": rec["status"],
                                        "claimed_by": rec.get("claimed_by"), "steps": done})
            else:
                report.unchanged.append(sortie_id)

    def _resume_reservations(self, body: dict[str, Any], report: ResumeReport) -> None:
        from ..reservations.model import ReservationConflictError

        reservations = self._reservations()
        held = {(r.path, r.holder) for r in reservations.active()}
        for rec in body["reservations"]:
            entry = {"path": rec["path"], "holder": rec["holder"], "mode": rec["mode"]}
            if (rec["path"], rec["holder"]) in held:
                report.reservations_taken.append({**entry, "already_held": True})
                continue
            try:
                reservations.acquire([rec["path"]], holder=rec["holder"], ttl=rec["ttl"],
                                     shared=rec["mode"] == "shared",
                                     reason=f"{RESUME_REASON} {report.checkpoint_id}")
            except ReservationConflictError as e:
                report.reservations_refused.append({
                    **entry, "held_by": sorted({c.reservation.holder for c in e.conflicts}),
                    "message": e.message})
                continue
            report.reservations_taken.append({**entry, "already_held": False})

    def recovery_context(self, report: ResumeReport) -> str:
        """What ``checkpoint resume`` prints after a resume: what was and was not restored,
        then the mission's context brief (the same one ``context`` and ``recover`` give)."""
        lines = [f"Resumed mission {report.mission_id} from checkpoint "
                 f"{report.checkpoint_id}: {report.summary()}."]
        if report.mission_restored:
            lines.append("mission: " + ", ".join(report.mission_restored))
        for r in report.restored:
            who = f" for {r['claimed_by']}" if r.get("claimed_by") else ""
            lines.append(f"restored {r['sortie_id']}: {r['status']}{who} "
                         f"({', '.join(r['steps'])})")
        for n in report.not_restored:
            lines.append(f"not restored {n['sortie_id']}: {n['reason']}")
        for t in report.reservations_taken:
            lines.append(f"reservation {t['path']} held by {t['holder']}")
        for f in report.reservations_refused:
            lines.append(f"reservation {f['path']} for {f['holder']} refused: held by "
                         f"{', '.join(f['held_by']) or 'someone else'}")
        if self._brief is not None:
            lines += ["", self._brief(report.mission_id).rstrip("\n")]
        return "\n".join(lines)


def _auto_note(trigger: str, threshold: int | None, error: dict[str, Any] | None) -> str:
    if trigger == "progress":
        return f"progress crossed {threshold}%"
    if trigger == "error" and error:
        where = f" (sortie {error['sortie_id']})" if error.get("sortie_id") else ""
        return f"{error.get('type', 'error')}{where}: {error.get('message', '')}"[:10_000]
    return ""
