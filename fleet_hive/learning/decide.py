"""Pure decisions: what happened (a stream's events, the plan) -> the outcome event.

Nothing here reads or writes: the policy (:mod:`.policy`) and the service load the ending
event, its stream's history, the sortie and the plan under the writer lock; these
functions decide; the unit of work appends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..index.unit_of_work import NewEvent
from ..kernel.clock import epoch
from ..kernel.errors import InvalidInputError
from .model import (
    MAX_FEATURES,
    MAX_FILES,
    UNPLANNED,
    Outcome,
    check_strategy,
    clip_errors,
    stream_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event
    from ..missions.model import Sortie

SORTIE_ENDINGS = {"sortie_completed": "completed", "sortie_failed": "failed"}
MISSION_ENDINGS = {"mission_completed": "completed", "mission_cancelled": "cancelled"}
ENDINGS = frozenset(SORTIE_ENDINGS) | frozenset(MISSION_ENDINGS)


def _seconds(start: str | None, end: str) -> float | None:
    if not start:
        return None
    try:
        return round(max(epoch(end) - epoch(start), 0.0), 6)
    except ValueError:
        return None


def file_list(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    out: list[str] = []
    for f in value:
        if isinstance(f, str) and f.strip() and f not in out:
            out.append(f)
    return out[:MAX_FILES]


def changed_list(value: Any) -> list[str] | None:
    return None if value is None else file_list(value)


def _plan_fields(plan: Mapping[str, Any] | None) -> dict[str, Any]:
    if not plan:
        return {"strategy": UNPLANNED, "planner": None, "features": []}
    strategy = plan.get("strategy") or UNPLANNED
    try:
        strategy = check_strategy(strategy)
    except InvalidInputError:
        strategy = UNPLANNED
    features = sorted({f for f in plan.get("features") or () if isinstance(f, str)
                       and 0 < len(f) <= 100})[:MAX_FEATURES]
    planner = plan.get("planner")
    return {"strategy": strategy,
            "planner": planner[:200] if isinstance(planner, str) and planner else None,
            "features": features}


def sortie_outcome(ending: Event, history: Sequence[Event], sortie: Sortie,
                   plan: Mapping[str, Any] | None = None,
                   changed_files: Iterable[str] | None = None) -> NewEvent:
    """The outcome of the sortie whose stream's ``history`` (total order) holds the
    ``ending`` event (``sortie_completed`` or ``sortie_failed``)."""
    status = SORTIE_ENDINGS[ending.type]
    first = claimed = started = None
    retries = 0
    reasons: list[str] = []
    agent = None
    for e in history:
        if e.id == ending.id:
            break
        if e.type == "sortie_claimed":
            claimed = e.time
            first = first or e.time
            started = None
            agent = e.data.get("specialist") or agent
        elif e.type == "sortie_started":
            started = e.time
            first = first or e.time
        elif e.type == "sortie_retried":
            retries += 1
            claimed = started = None
        elif e.type == "sortie_failed":
            reasons.append(str(e.data.get("reason", "")))
    if status == "failed":
        reasons.append(str(ending.data.get("reason", "")) or "failed (no reason given)")
    planned = file_list(sortie.files)
    if plan:
        entry = (plan.get("sorties") or {}).get(sortie.id)
        if isinstance(entry, Mapping) and entry.get("files") is not None:
            planned = file_list(entry.get("files"))
    changed = changed_files if changed_files is not None else ending.data.get("changed_files")
    data: dict[str, Any] = {
        "subject": "sortie", "mission_id": sortie.mission_id, "sortie_id": sortie.id,
        "status": status, "success": status == "completed", "finished_at": ending.time,
        "duration_s": _seconds(claimed or started, ending.time),
        "total_s": _seconds(first, ending.time), "tries": 1 + retries,
        "errors": clip_errors(reasons), **_plan_fields(plan), "planned_files": planned,
        "changed_files": changed_list(None if changed is None else list(changed)),
        "verified": None, "merged": None, "specialist": sortie.specialist,
        "agent": agent or sortie.claimed_by,
    }
    return NewEvent("outcome_recorded", stream_of(sortie.id), data, causation_id=ending.id,
                    correlation_id=sortie.mission_id)


def mission_outcome(ending: Event, history: Sequence[Event], sorties: Sequence[Outcome],
                    plan: Mapping[str, Any] | None = None) -> NewEvent:
    """The outcome of the mission whose stream's ``history`` holds ``ending``
    (``mission_completed`` or ``mission_cancelled``); ``sorties``: its sorties' outcomes."""
    status = MISSION_ENDINGS[ending.type]
    mission_id = ending.stream.partition(":")[2]
    created = first = latest = None
    reopens = 0
    for e in history:
        if e.id == ending.id:
            break
        if e.type == "mission_created":
            created = e.time
        elif e.type == "mission_started":
            first = first or e.time
            latest = e.time
        elif e.type == "mission_reopened":
            reopens += 1
            latest = e.time
    errors = [err for o in sorties for err in o.errors]
    if status == "cancelled":
        errors.append(str(ending.data.get("reason", "")) or "cancelled (no reason given)")
    planned: list[str] = []
    if plan and plan.get("sorties"):
        for entry in (plan.get("sorties") or {}).values():
            if isinstance(entry, Mapping):
                planned.extend(file_list(entry.get("files")))
    else:
        for o in sorties:
            planned.extend(o.planned_files)
    changed: list[str] | None = None
    if sorties and all(o.changed_files is not None for o in sorties):
        changed = [f for o in sorties for f in o.changed_files or ()]
    data: dict[str, Any] = {
        "subject": "mission", "mission_id": mission_id, "sortie_id": None,
        "status": status, "success": status == "completed", "finished_at": ending.time,
        "duration_s": _seconds(latest or created, ending.time),
        "total_s": _seconds(first or created, ending.time), "tries": 1 + reopens,
        "errors": clip_errors(errors), **_plan_fields(plan),
        "planned_files": file_list(list(dict.fromkeys(planned))),
        "changed_files": changed_list(None if changed is None else list(dict.fromkeys(changed))),
        "verified": None, "merged": None, "specialist": None, "agent": None,
    }
    return NewEvent("outcome_recorded", stream_of(mission_id), data, causation_id=ending.id,
                    correlation_id=mission_id)


def amended(outcome: Outcome, *, verified: bool | None = None, merged: bool | None = None,
            changed_files: Iterable[str] | None = None, errors: Iterable[str] = (),
            note: str = "") -> NewEvent:
    """What dispatch found out about a recorded outcome."""
    for name, value in (("verified", verified), ("merged", merged)):
        if value is not None and not isinstance(value, bool):
            raise InvalidInputError(f"{name} must be true, false or null")
    if verified is None and merged is None and changed_files is None and not errors \
            and not note:
        raise InvalidInputError("nothing to amend",
                                hint="give verified, merged, changed_files or errors")
    return NewEvent("outcome_amended", stream_of(outcome.subject_id), {
        "verified": verified, "merged": merged,
        "changed_files": changed_list(None if changed_files is None else list(changed_files)),
        "errors": clip_errors(errors), "note": note[:10_000],
    }, correlation_id=outcome.mission_id)
