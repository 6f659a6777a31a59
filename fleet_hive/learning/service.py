"""``hive.learning``: outcomes recorded, patterns scored, advice for planning.

The service gets its ports in the constructor: the unit of work, the index (reads), a
clock (epoch seconds: decay is computed from it at query time), and, for recording, the
sortie of an id (``hive.sorties.get``), the events of a stream in total order, the plan of
a mission (planning's record: ``{"task", "strategy", "planner", "features", "sorties":
{sortie_id: {"files": [...]}}}`` or None) and, optionally, the files a finished sortie
changed (dispatch knows them). It never calls another capability for a side effect: the
outcome of a sortie is recorded by the after-write policy (:mod:`.policy`) calling
:meth:`Learning.record_endings` with the stored events.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..index.unit_of_work import built
from ..kernel import clock as clocks
from ..kernel.errors import InvalidInputError, NotFoundError
from . import decide as d
from . import projection as q
from .model import (
    ANY,
    HALF_LIFE_DAYS,
    STRATEGIES,
    UNPLANNED,
    Advice,
    Outcome,
    Pattern,
    advise,
    check_strategy,
    clip_errors,
    day_of,
    stream_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event
    from ..index.projection import ReadView
    from ..index.unit_of_work import NewEvent, UnitOfWork
    from ..missions.model import Sortie

#: plan_of(mission_id) -> the mission's plan record, or None (not planned)
PlanOf = Callable[[str], "Mapping[str, Any] | None"]


class Learning:
    def __init__(self, uow: UnitOfWork | Callable[[], UnitOfWork], reads: ReadView, *,
                 clock: clocks.Clock = clocks.now,
                 sortie: Callable[[str], Sortie] | None = None,
                 history: Callable[[str], Sequence[Event]] | None = None,
                 plan_of: PlanOf | None = None,
                 changed_files: Callable[[Sortie, Event], Iterable[str] | None] | None = None,
                 ignored_failures: Sequence[str] = ()) -> None:
        self._write_path = uow  # built on the first write: reads never build it
        self._reads = reads
        self._clock = clock
        self._sortie = sortie
        self._history = history
        self._plan_of = plan_of or (lambda _m: None)
        self._changed_files = changed_files
        #: failure reasons (prefixes) that are no outcome: a checkpoint resume unwinding
        #: a claim fails the sortie on purpose
        self._ignored = tuple(ignored_failures)

    @property
    def _uow(self) -> UnitOfWork:
        return built(self._write_path)

    def today(self) -> int:
        return day_of(self._clock())

    # -- reads ---------------------------------------------------------------------------
    def advise(self, features: Iterable[str]) -> Advice:
        """Each strategy's learned score for a task with these features (what
        ``--strategy auto`` and the planner prompt use)."""
        wanted = sorted({f for f in features if isinstance(f, str)})
        found = q.patterns(self._reads, self.today(), features=[*wanted, ANY])
        self._with_errors([p for p in found.values() if p.anti_pattern])
        return advise(wanted, found)

    def _with_errors(self, patterns: Iterable[Pattern]) -> None:
        """Fill in the most frequent failure reasons of these patterns."""
        wanted = {(p.strategy, p.feature): p for p in patterns}
        for key, errors in q.frequent_errors(self._reads, wanted, catch_up=False).items():
            wanted[key].errors = errors

    def patterns(self, *, strategy: str | None = None, anti: bool | None = None,
                 feature: str | None = None) -> builtins.list[Pattern]:
        """Scored patterns, best evidence first (``anti``: only anti-patterns, or none)."""
        if strategy is not None:
            check_strategy(strategy)
        found = q.patterns(self._reads, self.today(), strategy=strategy,
                           features=None if feature is None else [feature])
        out = [p for p in found.values() if p.strategy != UNPLANNED or strategy == UNPLANNED]
        if anti is not None:
            out = [p for p in out if p.anti_pattern is anti]
        self._with_errors(p for p in out if p.anti_pattern)
        return sorted(out, key=lambda p: (-round(p.weight, 9), p.strategy, p.feature))

    def outcomes(self, *, mission: str | None = None, subject: str | None = None,
                 strategy: str | None = None) -> builtins.list[Outcome]:
        return q.outcomes(self._reads, mission_id=mission, subject=subject, strategy=strategy)

    def outcome(self, subject_id: str) -> Outcome | None:
        return q.get(self._reads, subject_id)

    def stats(self) -> dict[str, Any]:
        """Outcomes per subject and strategy, with each strategy's decayed record."""
        rows = q.totals(self._reads)
        every = q.patterns(self._reads, self.today(), catch_up=False)
        overall = {key: p for key, p in every.items() if key[1] == ANY}
        by_strategy = []
        for subject, strategy, n, ok, tries, mean_s, ver, unver, mer, unmer in rows:
            by_strategy.append({
                "subject": subject, "strategy": strategy, "outcomes": n, "succeeded": ok,
                "success_rate": round(ok / n, 6) if n else None,
                "mean_tries": round(tries / n, 6) if n else None,
                "mean_duration_s": None if mean_s is None else round(mean_s, 6),
                "verified": ver or 0, "verification_failed": unver or 0,
                "merged": mer or 0, "not_merged": unmer or 0,
            })
        strategies = []
        for (strategy, _), p in sorted(overall.items()):
            strategies.append({"strategy": strategy, **{k: v for k, v in p.to_json().items()
                                                          if k not in ("strategy", "feature",
                                                                       "errors", "sentence")}})
        learned = [p for p in every.values() if p.strategy != UNPLANNED]
        total = sum(r["outcomes"] for r in by_strategy)
        ok_total = sum(r["succeeded"] for r in by_strategy)
        return {
            "outcomes": total,
            "sorties": sum(r["outcomes"] for r in by_strategy if r["subject"] == "sortie"),
            "missions": sum(r["outcomes"] for r in by_strategy if r["subject"] == "mission"),
            "succeeded": ok_total,
            "success_rate": round(ok_total / total, 6) if total else None,
            "by_subject": by_strategy,
            "strategies": strategies,
            "patterns": len(learned),
            "anti_patterns": sum(1 for p in learned if p.anti_pattern),
            "proven": sum(1 for p in learned if p.maturity == "proven"),
            "unrecorded": len(self.unrecorded()),
            "half_life_days": HALF_LIFE_DAYS,
            "as_of": clocks.iso(self._clock())[:10],
        }

    # -- writes --------------------------------------------------------------------------
    def record_endings(self, events: Sequence[Event]) -> builtins.list[Event]:
        """Record the outcome of each sortie and mission that one of ``events`` ended
        (the after-write policy calls this); an ending already recorded is skipped."""
        endings = [e for e in events if e.type in d.ENDINGS and self._counts(e)]
        if not endings:
            return []

        def decision(view: ReadView) -> builtins.list[NewEvent]:
            out: builtins.list[NewEvent] = []
            for e in endings:
                subject_id = e.stream.partition(":")[2]
                if q.recorded_for(view, subject_id, e.id):
                    continue
                history = self._stream(e.stream)
                if e.type in d.SORTIE_ENDINGS:
                    if self._sortie is None:
                        continue
                    try:
                        sortie = self._sortie(subject_id)
                    except NotFoundError:  # deleted since (a backfill): nothing to learn
                        continue
                    changed = self._changed_files(sortie, e) if self._changed_files else None
                    out.append(d.sortie_outcome(e, history, sortie,
                                                self._plan_of(sortie.mission_id), changed))
                else:
                    sorties = q.outcomes(view, mission_id=subject_id, subject="sortie",
                                         catch_up=False)
                    out.append(d.mission_outcome(e, history, sorties,
                                                 self._plan_of(subject_id)))
            return out

        return self._uow.run(decision)

    def unrecorded(self) -> builtins.list[Event]:
        """The endings whose outcome is missing (a crash between a write and its
        outcome, or history from before learning), sorties before missions."""
        from ..events.envelope import Event
        from ..kernel.jsonload import loads

        found = [Event.from_dict(loads(raw), seq) for _stream, raw, seq in
                 q.latest_endings(self._reads, d.ENDINGS)]
        found = [e for e in found if self._counts(e) and self._alive(e)]
        return sorted(found, key=lambda e: (e.type.startswith("mission_"), e.order_key))

    def backfill(self) -> builtins.list[Outcome]:
        """Record the missing outcomes (see :meth:`unrecorded`); returns them."""
        with self._uow.exclusive():
            missing = self.unrecorded()
            sorties = [e for e in missing if e.type in d.SORTIE_ENDINGS]
            missions = [e for e in missing if e.type in d.MISSION_ENDINGS]
            stored = [*self.record_endings(sorties), *self.record_endings(missions)]
        found = [q.get(self._reads, e.stream.partition(":")[2]) for e in stored]
        return [o for o in found if o is not None]

    def _alive(self, e: Event) -> bool:
        """Whether the sortie an ending belongs to can still be read (not deleted, nor
        its mission)."""
        if e.type not in d.SORTIE_ENDINGS:
            return True
        if self._sortie is None:  # a read-only service: cannot record sorties
            return False
        try:
            self._sortie(e.stream.partition(":")[2])
        except NotFoundError:
            return False
        return True

    def _counts(self, e: Event) -> bool:
        if e.type != "sortie_failed" or not self._ignored:
            return e.stream.startswith(("sortie:", "mission:"))
        return not str(e.data.get("reason", "")).startswith(self._ignored)

    def _stream(self, stream: str) -> Sequence[Event]:
        if self._history is None:
            return []
        return self._history(stream)

    def record_outcome(self, *, mission_id: str, success: bool, sortie_id: str | None = None,
                       strategy: str = UNPLANNED, features: Iterable[str] = (),
                       tries: int = 1, duration_s: float | None = None,
                       errors: Iterable[str] = (), planned_files: Iterable[str] = (),
                       changed_files: Iterable[str] | None = None,
                       verified: bool | None = None, merged: bool | None = None,
                       specialist: str | None = None, agent: str | None = None,
                       planner: str | None = None, finished_at: str | None = None,
                       ) -> Outcome:
        """Record an outcome directly (an importer of history, or dispatch for work it ran
        outside the sortie use cases). It supersedes the subject's earlier outcome."""
        check_strategy(strategy)
        if not isinstance(success, bool):
            raise InvalidInputError("success must be true or false")
        if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
            raise InvalidInputError("tries must be an integer of at least 1")
        subject_id = sortie_id or mission_id
        ended = finished_at or clocks.iso(self._clock())
        data = {
            "subject": "sortie" if sortie_id else "mission", "mission_id": mission_id,
            "sortie_id": sortie_id,
            "status": ("completed" if success else "failed" if sortie_id else "cancelled"),
            "success": success, "finished_at": ended,
            "duration_s": None if duration_s is None else float(duration_s),
            "total_s": None, "tries": tries, "errors": clip_errors(errors),
            "strategy": strategy, "planner": planner,
            "features": sorted(set(features)), "planned_files": d.file_list(list(planned_files)),
            "changed_files": d.changed_list(None if changed_files is None
                                        else list(changed_files)),
            "verified": verified, "merged": merged, "specialist": specialist, "agent": agent,
        }
        from ..index.unit_of_work import NewEvent

        event = NewEvent("outcome_recorded", stream_of(subject_id), data,
                         correlation_id=mission_id)
        self._uow.run(lambda _view: [event])
        found = q.get(self._reads, subject_id)
        assert found is not None
        return found

    def amend(self, subject_id: str, *, verified: bool | None = None,
              merged: bool | None = None, changed_files: Iterable[str] | None = None,
              errors: Iterable[str] = (), note: str = "") -> Outcome:
        """Add what was found out after the outcome was recorded: dispatch calls this
        after verifying (``verified``) and merging (``merged``) a sortie's change, with
        the files it changed. A refuted success counts as a failure from then on."""

        def decision(view: ReadView) -> builtins.list[NewEvent]:
            found = q.get(view, subject_id, catch_up=False)
            if found is None:
                raise NotFoundError(f"no outcome recorded for {subject_id}",
                                    hint="outcomes are recorded when a sortie or mission "
                                         "ends")
            return [d.amended(found, verified=verified, merged=merged,
                              changed_files=changed_files, errors=errors, note=note)]

        self._uow.run(decision)
        found = q.get(self._reads, subject_id)
        assert found is not None
        return found


__all__ = ["STRATEGIES", "Learning"]
