"""``hive.recovery``: stale work found, a proposed action for each, and the action taken.

``recover`` lists the missions with stale sorties (:mod:`.stale`) and proposes, per
sortie, one of:

* ``requeue``: end the dead claim and put the sortie back on the ready list. Recorded as
  compensating events through the missions and reservations services, never by
  rewriting the log: ``sortie_failed`` (forced, with the reason: who was idle since when)
  releases the claimant's reservations of the sortie's files, any other reservation the
  claim left (``claimed sortie <id>``, for files since removed from the sortie) is
  released, then ``sortie_retried`` makes it pending and unclaimed again. When the
  checkpoints service (the optional :class:`CheckpointPort`) has a good checkpoint of the
  mission, the action names it (``checkpoint_id``): the state the next claimant resumes
  from. Restoring the checkpoint itself would bring back the dead claim, so ``recover``
  never does; ``fleet-hive checkpoint resume`` is there for a deliberate rollback.

``apply`` performs the plan under this clone's writer lock, and first checks each
sortie again on the state it is about to change: still open, still claimed by the same
claimant, still stale. Work completed (or resumed) meanwhile is never touched, so nothing
completed is redone. A sortie whose recovery stopped between the failure and the retry (a
crash) is ``failed`` with a reason starting with :data:`MARK`; the next ``recover`` lists
it again and finishes it (``requeue``).

The context brief of a mission (``context``) is assembled here too, from the missions and
reservations services, and rendered by :mod:`.brief`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from ..index.unit_of_work import built
from ..kernel import clock, jsonload
from ..kernel.clock import parse_duration
from ..kernel.errors import FleetHiveError
from ..kernel.plain import Plain
from ..kernel.typenames import Protocol
from .stale import StaleSortie, find_stale, format_duration, summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ReadView
    from ..index.unit_of_work import UnitOfWork
    from ..missions.model import Mission, Sortie

#: How the reason of a sortie_failed recorded by recovery starts.
MARK = "stale:"


# -- ports -------------------------------------------------------------------------------
class CheckpointInfo(Protocol):
    @property
    def id(self) -> str: ...


class CheckpointPort(Protocol):
    """What recovery needs of the checkpoints service (optional)."""

    def newest_good(self, mission_id: str) -> CheckpointInfo | None: ...


class SortiePort(Protocol):
    """The missions service's sortie use cases recovery records its events through."""

    def fail(self, ref: str, *, reason: str | None = "", force: bool = False) -> Sortie: ...

    def retry(self, ref: str, *, reason: str | None = "") -> Sortie: ...


class MissionPort(Protocol):
    def resolve_id(self, ref: str) -> str: ...

    def get(self, ref: str, *, sorties: bool = True) -> Mission: ...


class Lease(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def holder(self) -> str: ...

    @property
    def reason(self) -> str | None: ...

    def to_json(self, now: float | None = None) -> dict[str, Any]: ...


class LeasePort(Protocol):
    """The reservations service: who holds what, and releasing it."""

    def list(self, holder: str | None = None, path: str | None = None, *,
             sweep: bool = True) -> Sequence[Lease]: ...

    def release(self, paths: Sequence[str], *, holder: str) -> Sequence[Lease]: ...


# -- the plan ------------------------------------------------------------------------------
class Action(Plain):
    """What recovery proposes (and, once applied, did) for one sortie."""

    __slots__ = _fields = ("stale", "sortie_id", "mission_id", "title", "claimant", "action",
                           "checkpoint_id", "outcome", "detail", "released", "threshold",
                           "silent_specialist")
    stale: StaleSortie | None  # None: finishing a recovery that was interrupted
    sortie_id: str
    mission_id: str
    title: str
    claimant: str | None
    action: str  # "requeue"
    checkpoint_id: str | None
    outcome: str  # proposed | done | skipped | failed
    detail: str
    released: list[str]
    #: its own idle threshold (seconds) when it is not the report's: a sortie of a silent
    #: specialist is stale after ``specialist_silent_after``
    threshold: float | None
    silent_specialist: str | None

    def __init__(self, stale: StaleSortie | None, sortie_id: str, mission_id: str, title: str,
                 claimant: str | None, action: str, checkpoint_id: str | None = None,
                 outcome: str = "proposed", detail: str = "",
                 released: list[str] | None = None, threshold: float | None = None,
                 silent_specialist: str | None = None) -> None:
        self.stale, self.sortie_id, self.mission_id, self.title = (stale, sortie_id,
                                                                   mission_id, title)
        self.claimant, self.action, self.checkpoint_id = claimant, action, checkpoint_id
        self.outcome, self.detail = outcome, detail
        self.released = [] if released is None else released
        self.threshold, self.silent_specialist = threshold, silent_specialist

    def describe(self) -> str:
        if self.stale is None:
            return "re-queue it (a recovery stopped after releasing it)"
        if self.checkpoint_id is not None:
            return ("release its reservations and re-queue it; the next claimant resumes "
                    f"from checkpoint {self.checkpoint_id}")
        return "release its reservations and re-queue it"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sortie_id": self.sortie_id, "mission_id": self.mission_id, "title": self.title,
            "claimed_by": self.claimant, "action": self.action,
            "checkpoint_id": self.checkpoint_id, "describe": self.describe(),
            "outcome": self.outcome, "detail": self.detail, "released": list(self.released),
            "silent_specialist": self.silent_specialist,
        }
        if self.stale is not None:
            s = self.stale.to_json()
            out.update({k: s[k] for k in ("status", "progress", "progress_note",
                                          "last_activity", "idle_seconds", "idle", "why")})
        else:
            out.update({"status": "failed", "progress": 0, "progress_note": "",
                        "last_activity": None, "idle_seconds": None, "idle": None,
                        "why": "interrupted recovery"})
        return out


class StaleMission(Plain):
    __slots__ = _fields = ("id", "title", "status", "actions")
    id: str
    title: str
    status: str
    actions: list[Action]

    def __init__(self, id: str, title: str, status: str, actions: list[Action]) -> None:
        self.id, self.title, self.status, self.actions = id, title, status, actions

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status,
                "actions": [a.to_json() for a in self.actions]}


class RecoveryReport(Plain):
    """``recover``'s answer: the missions with stale work, an action per sortie."""

    __slots__ = _fields = ("stale_after", "applied", "missions", "silent")
    stale_after: float
    applied: bool
    missions: list[StaleMission]
    #: silent specialists (``specialist_silent_after``): name, last_seen, sorties they hold
    silent: list[dict[str, Any]]

    def __init__(self, stale_after: float, applied: bool, missions: list[StaleMission],
                 silent: list[dict[str, Any]] | None = None) -> None:
        self.stale_after, self.applied, self.missions = stale_after, applied, missions
        self.silent = [] if silent is None else silent

    @property
    def actions(self) -> list[Action]:
        return [a for m in self.missions for a in m.actions]

    def to_json(self) -> dict[str, Any]:
        actions = self.actions
        return {
            "stale_after": format_duration(self.stale_after),
            "stale_after_seconds": self.stale_after,
            "applied": self.applied,
            "count": len(actions),
            "done": sum(a.outcome == "done" for a in actions),
            "skipped": sum(a.outcome == "skipped" for a in actions),
            "failed": sum(a.outcome == "failed" for a in actions),
            "missions": [m.to_json() for m in self.missions],
            "silent_specialists": list(self.silent),
        }


class LapsedLeases(Protocol):
    """Dispatch's local leases (optional): a running sortie's lease names its dispatcher
    process, so one that died is seen at once, without waiting for ``stale_after``."""

    def lapsed_sorties(self) -> dict[str, tuple[str, str]]: ...  # id -> (claimant, why)

    def holds(self, sortie_id: str) -> bool: ...  # a live dispatcher renews it

    def release(self, sortie_id: str) -> None: ...  # stop its agent, drop the lease


# -- the service ---------------------------------------------------------------------------
class Recovery:
    """Stale-work detection (reads only), recovery (writes through the given services)
    and the context brief.

    ``uow`` (or a function building it) is the write path, used here only for its lock:
    every event is recorded by the missions and reservations services. ``sorties``,
    ``missions`` and ``leases`` are functions returning those services, called on first
    use, so ``ready`` and ``status`` (which only ask :meth:`summary`) build none of them.
    ``checkpoints`` is the optional checkpoints service (a function returning it, or
    None); without it only ``requeue`` is proposed. ``stale_after`` returns the
    configured default (a duration such as ``30m``); ``now`` is the clock (epoch
    seconds). The events are recorded under the services' actor. ``dispatch_leases``
    (optional) returns dispatch's lease book: a sortie whose lease has lapsed (its
    dispatcher died) is stale at once, one a live dispatcher renews is not.

    ``mail(mission_id)`` returns the mission's recent messages (plain dicts) for the brief;
    ``silent()`` the silent specialists with their threshold: ``(threshold seconds,
    [{"name", "last_seen", "sorties": [ids]}])``; their sorties are stale once idle for
    that threshold (no activity by anyone on them), and are re-queued like stale work.
    """

    def __init__(self, uow: UnitOfWork | Callable[[], UnitOfWork], reads: ReadView, *,
                 sorties: Callable[[], SortiePort], missions: Callable[[], MissionPort],
                 leases: Callable[[], LeasePort] | None = None,
                 checkpoints: Callable[[], CheckpointPort | None] | None = None,
                 stale_after: Callable[[], str] = lambda: "30m",
                 now: clock.Clock = clock.now,
                 dispatch_leases: Callable[[], LapsedLeases | None] | None = None,
                 mail: Callable[[str], Sequence[Mapping[str, Any]]] | None = None,
                 silent: Callable[[], tuple[float, Sequence[Mapping[str, Any]]]] | None
                 = None) -> None:
        self._write_path = uow
        self._reads = reads
        self._sorties = sorties
        self._missions = missions
        self._leases = leases
        self._checkpoints = checkpoints
        self._stale_after = stale_after
        self.now = now
        self._dispatch_leases = dispatch_leases
        self._mail = mail
        self._silent = silent

    def stale_after(self, value: str | float | None = None) -> float:
        """Seconds: ``value`` (a duration such as ``30m``, or seconds) or the configured
        default (``stale_after`` in ``.fleet/config.yaml``)."""
        if value is None:
            return parse_duration(self._stale_after(), "stale_after in .fleet/config.yaml")
        return parse_duration(value, "--stale-after")

    # -- reads -----------------------------------------------------------------------------
    def stale(self, stale_after: str | float | None = None, *, mission: str | None = None,
              ) -> list[StaleSortie]:
        """The stale sorties (of ``mission``, or of every open mission), oldest first."""
        after = self.stale_after(stale_after)
        mission_id = None if mission is None else self._missions().resolve_id(mission)
        return find_stale(self._reads, now=self.now(), stale_after=after,
                          mission_id=mission_id)

    def summary(self, stale_after: str | float | None = None) -> dict[str, Any]:
        """The ``stale`` part of ``status``: how many, which, and the command to run."""
        return summary(self._reads, now=self.now(), stale_after=self.stale_after(stale_after))

    def plan(self, stale_after: str | float | None = None, *, mission: str | None = None,
             ) -> RecoveryReport:
        """The missions with stale work and the proposed action per sortie (reads only)."""
        after = self.stale_after(stale_after)
        mission_id = None if mission is None else self._missions().resolve_id(mission)
        found = self._with_leases(find_stale(self._reads, now=self.now(), stale_after=after,
                                             mission_id=mission_id), mission_id)
        actions = [self._propose(s) for s in found]
        silent: list[dict[str, Any]] = []
        if self._silent is not None:
            threshold, specialists = self._silent()
            silent = [dict(x) for x in specialists]
            held = {sid: x["name"] for x in silent for sid in x.get("sorties", ())}
            known = {a.sortie_id for a in actions}
            leases = None if self._dispatch_leases is None else self._dispatch_leases()
            for st in find_stale(self._reads, now=self.now(), stale_after=threshold,
                                 mission_id=mission_id, only=set(held) - known):
                if leases is not None and leases.holds(st.id):
                    continue  # a live dispatcher renews its lease: not abandoned
                a = self._propose(st)
                a.threshold, a.silent_specialist = threshold, held[st.id]
                actions.append(a)
        actions += [Action(None, s.id, s.mission_id, s.title, None, "requeue")
                    for s in self._interrupted(mission_id)]
        return RecoveryReport(after, False, self._group(actions), silent)

    def _with_leases(self, found: list[StaleSortie], mission_id: str | None,
                     only: str | None = None) -> list[StaleSortie]:
        """``found`` without the sorties a live dispatcher holds, plus the claimed ones
        whose dispatch lease lapsed (however recent their last event)."""
        leases = None if self._dispatch_leases is None else self._dispatch_leases()
        if leases is None:
            return found
        from ..kernel.clock import epoch
        from .stale import claimed_sorties

        found = [s for s in found if not leases.holds(s.id)]
        lapsed = leases.lapsed_sorties()
        if only is not None:
            lapsed = {k: v for k, v in lapsed.items() if k == only}
        seen = {s.id for s in found}
        now = self.now()
        for s in claimed_sorties(self._reads, mission_id=mission_id, catch_up=False):
            if s.id in seen or s.id not in lapsed or lapsed[s.id][0] != s.claimed_by:
                continue
            try:
                idle = max(0.0, now - epoch(s.updated_at))
            except ValueError:
                idle = 0.0
            found.append(StaleSortie(s, s.claimed_by, s.updated_at, idle,
                                     f"dispatch lease lapsed: {lapsed[s.id][1]}"))
        return found

    def _propose(self, s: StaleSortie) -> Action:
        action = Action(s, s.id, s.mission_id, s.sortie.title, s.claimant, "requeue")
        port = self._checkpoints() if self._checkpoints is not None else None
        if port is not None:
            good = port.newest_good(s.mission_id)
            if good is not None:  # what the next agent on it starts from (its brief)
                action.checkpoint_id = good.id
        return action

    def _interrupted(self, mission_id: str | None) -> list[Sortie]:
        """Failed sorties whose recovery stopped before their retry."""
        from ..missions.model import Sortie

        args: list[Any] = [b'"reason":"' + MARK.encode()]
        where = ""
        if mission_id is not None:
            where, args = " AND s.mission_id = ?", [*args, mission_id]
        rows = self._reads.read(
            "SELECT s.doc FROM sorties s WHERE s.status = 'failed' AND s.deleted = 0 AND "
            "instr(s.doc, ?) > 0 AND EXISTS (SELECT 1 FROM missions m WHERE "
            "m.id = s.mission_id AND m.deleted = 0 "
            f"AND m.status IN ('pending', 'in_progress')){where} ORDER BY s.ord_clock, "
            "s.ord_writer, s.ord_n", args, catch_up=False)
        out = [Sortie.from_doc(jsonload.loads(r[0])) for r in rows]
        return [s for s in out if s.reason.startswith(MARK)]

    def _group(self, actions: list[Action]) -> list[StaleMission]:
        from ..missions.model import Mission

        by_mission: dict[str, list[Action]] = {}
        for a in actions:
            by_mission.setdefault(a.mission_id, []).append(a)
        out = []
        for mission_id, group in by_mission.items():
            rows = self._reads.read("SELECT doc FROM missions WHERE id = ?", (mission_id,),
                                    catch_up=False)
            m = Mission.from_doc(jsonload.loads(rows[0][0])) if rows else None
            out.append(StaleMission(mission_id, m.title if m else "", m.status if m else "",
                                    group))
        return out

    # -- writes ----------------------------------------------------------------------------
    def recover(self, stale_after: str | float | None = None, *, mission: str | None = None,
                apply: bool = False) -> RecoveryReport:
        """:meth:`plan`, and with ``apply`` each action performed (see the module)."""
        report = self.plan(stale_after, mission=mission)
        if not apply or not report.missions:
            return report
        uow = built(self._write_path)
        report.applied = True
        # no other writer between the checks and the events; policies once at the end
        with uow.exclusive(), uow.batch():
            for a in report.actions:
                try:
                    self._apply(a, a.threshold or report.stale_after)
                except FleetHiveError as e:
                    a.outcome, a.detail = "failed", e.message
        return report

    def _apply(self, a: Action, stale_after: float) -> None:
        """One action, on the state as it is now (the caller holds the writer lock)."""
        if a.stale is None:
            self._retry_interrupted(a)
            return
        now = self.now()
        fresh = self._with_leases(find_stale(self._reads, now=now, stale_after=stale_after,
                                             only=[a.sortie_id]), None, only=a.sortie_id)
        if not fresh or fresh[0].claimant != a.claimant:
            a.outcome = "skipped"
            a.detail = self._why_not(a.sortie_id)
            return
        s = fresh[0]
        who = a.claimant or "its claimant"
        reason = (f"{MARK} no activity by {who} since {s.last_activity} "
                  f"({format_duration(s.idle)} idle, over {format_duration(stale_after)}); "
                  "released and re-queued by fleet-hive recover")
        held = self._held(a.sortie_id, a.claimant, s.sortie.files)
        leases = None if self._dispatch_leases is None else self._dispatch_leases()
        if leases is not None:  # what is left of its agent stops first
            leases.release(a.sortie_id)
        sorties = self._sorties()
        sorties.fail(a.sortie_id, reason=reason, force=True)  # releases the sortie's files
        left = [path for path in held if path not in s.sortie.files]
        if left and a.claimant is not None and self._leases is not None:
            self._leases().release(left, holder=a.claimant)
        a.released = held
        sorties.retry(a.sortie_id, reason=f"re-queued by fleet-hive recover: no activity by "
                      f"{who} for {format_duration(s.idle)}")
        a.outcome, a.detail = "done", "re-queued: ready to be claimed again"

    def _held(self, sortie_id: str, holder: str | None, files: Sequence[str]) -> list[str]:
        """The claimant's reservations for this sortie: of its files, and any other its
        claim made (``claimed sortie <id>``: files since removed from the sortie)."""
        if self._leases is None or holder is None:
            return []
        return sorted({r.path for r in self._leases().list(holder=holder, sweep=False)
                       if r.path in files or r.reason == f"claimed sortie {sortie_id}"})

    def _retry_interrupted(self, a: Action) -> None:
        rows = self._reads.read("SELECT status, doc FROM sorties WHERE id = ?",
                                (a.sortie_id,), catch_up=True)
        reason = jsonload.loads(rows[0][1]).get("reason", "") if rows else ""
        if not rows or rows[0][0] != "failed" or not reason.startswith(MARK):
            a.outcome, a.detail = "skipped", self._why_not(a.sortie_id)
            return
        self._sorties().retry(a.sortie_id, reason="re-queued by fleet-hive recover")
        a.outcome, a.detail = "done", "re-queued: ready to be claimed again"

    def _why_not(self, sortie_id: str) -> str:
        rows = self._reads.read("SELECT status, claimed_by FROM sorties WHERE id = ?",
                                (sortie_id,), catch_up=False)
        if not rows:
            return "the sortie is gone"
        status, claimant = rows[0]
        if status in ("assigned", "in_progress"):
            return f"no longer stale: {claimant} was active again ({status})"
        return f"no longer in progress: it is {status} (left as it is)"

    # -- context ---------------------------------------------------------------------------
    def brief(self, mission: str, *, specialist: str | None = None,
              stale_after: str | float | None = None) -> dict[str, Any]:
        """The data of a mission's context brief (:func:`.brief.build_brief`)."""
        from .brief import build_brief

        m = self._missions().get(mission)
        sorties = m.sorties or []
        leases: list[dict[str, Any]] = []
        if self._leases is not None:
            ids = {s.id for s in sorties}
            claimants = {s.claimed_by for s in sorties if s.claimed_by
                         and s.status in ("assigned", "in_progress", "blocked")}
            now = self.now()
            for r in self._leases().list(sweep=False):
                mine = (r.reason or "").removeprefix("claimed sortie ") in ids
                if mine or r.holder in claimants:
                    leases.append(r.to_json(now))
        stale = []
        with contextlib.suppress(FleetHiveError):  # a bad setting must not hide the brief
            stale = find_stale(self._reads, now=self.now(),
                               stale_after=self.stale_after(stale_after), mission_id=m.id,
                               catch_up=False)
        mail = list(self._mail(m.id)) if self._mail is not None else []
        return build_brief(m, sorties, reservations=leases, stale=stale,
                           notes=self._last_notes(sorties), specialist=specialist, mail=mail)

    def _last_notes(self, sorties: Sequence[Sortie]) -> dict[str, str]:
        """The last progress note of each re-queued sortie (its retry cleared it from the
        state; the log keeps it): what the previous try had got to."""
        wanted = [s for s in sorties if s.retries and s.status == "pending"][:50]
        out: dict[str, str] = {}
        for s in wanted:
            rows = self._reads.read(
                "SELECT raw FROM events WHERE stream = ? AND type = 'sortie_progressed' "
                "ORDER BY clock DESC, writer DESC, n DESC LIMIT 1", (f"sortie:{s.id}",),
                catch_up=False)
            if rows:
                data = jsonload.loads(rows[0][0]).get("data") or {}
                note = data.get("note") or ""
                out[s.id] = f"{data.get('percent', 0)}%" + (f": {note}" if note else "")
        return out

