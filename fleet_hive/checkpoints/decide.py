"""Pure decisions: state + command -> the checkpoint body and the events to append.

Nothing here reads or writes: the service loads the mission, its sorties and the leases
(under the writer lock), these functions decide, the unit of work appends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..index.unit_of_work import NewEvent
from ..kernel import globs
from ..kernel.errors import InvalidInputError
from ..missions.model import Mission, Sortie, mission_progress
from .model import SCHEMA_VERSION, THRESHOLDS, TRIGGERS, CheckpointInfo, ResumeReport, stream_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..reservations.model import Reservation


def mission_reservations(sorties: Iterable[Sortie], live: Iterable[Reservation],
                         ) -> list[Reservation]:
    """The leases a checkpoint records: held by the claimant of one of the mission's open
    sorties on a path overlapping that sortie's files."""
    files_of: dict[str, list[str]] = {}  # claimant -> the files of its open sorties
    for s in sorties:
        if not s.deleted and s.claimed_by and s.status in ("assigned", "in_progress",
                                                           "blocked"):
            files_of.setdefault(s.claimed_by, []).extend(s.files)
    exact = {holder: set(files) for holder, files in files_of.items()}
    # a claim reserves exactly its sortie's files: most leases match without a glob test
    out = [r for r in live
           if r.path in exact.get(r.holder, ())
           or any(globs.overlaps(r.path, f) for f in files_of.get(r.holder, ()))]
    return sorted(out, key=lambda r: (r.path, r.holder))


def last_error_of(sorties: Sequence[Sortie]) -> dict[str, Any] | None:
    """The most recent failure among the sorties (a failed sortie's reason), if any."""
    failed = [s for s in sorties if not s.deleted and s.status == "failed"]
    if not failed:
        return None
    s = max(failed, key=lambda s: (s.updated_at, s.order))
    return {"type": "sortie_failed", "message": s.reason, "traceback": None,
            "sortie_id": s.id}


def body(checkpoint_id: str, mission: Mission, sorties: Sequence[Sortie],
         reservations: Sequence[Reservation], *, trigger: str, created_at: str,
         created_by: str, note: str = "", threshold: int | None = None,
         error: dict[str, Any] | None = None, position: dict[str, Any] | None = None,
         mail: Sequence[dict[str, Any]] = (), blockers: Sequence[dict[str, Any]] = (),
         ) -> dict[str, Any]:
    """The body of a new checkpoint of ``mission`` (``sorties``: all of its sorties;
    ``mail``: its recent messages; ``blockers``: the blockers agents reported)."""
    if trigger not in TRIGGERS:
        raise InvalidInputError(f"unknown trigger {trigger!r}")
    if mission.deleted:
        raise InvalidInputError(f"mission {mission.id} was deleted",
                                hint="a deleted mission cannot be checkpointed")
    live = [s for s in sorties if not s.deleted]
    counts: dict[str, int] = {}
    for s in live:
        counts[s.status] = counts.get(s.status, 0) + 1
    progress = mission_progress(mission.status, counts)
    return {
        "schema_version": SCHEMA_VERSION,
        "id": checkpoint_id,
        "mission_id": mission.id,
        "trigger": trigger,
        "threshold": threshold,
        "progress": progress,
        "created_at": created_at,
        "created_by": created_by,
        "note": note,
        "log_position": position or {"seq": None, "clock": None, "writer": None, "n": None,
                                     "event_id": None},
        "last_error": error if error is not None else last_error_of(live),
        "mission": {
            "id": mission.id, "title": mission.title, "description": mission.description,
            "status": mission.status, "priority": mission.priority,
            "labels": list(mission.labels), "progress": progress,
            "sortie_counts": dict(sorted(counts.items())), "created_at": mission.created_at,
            "updated_at": mission.updated_at, "reason": mission.reason,
        },
        "sorties": [{
            "id": s.id, "title": s.title, "status": s.status, "claimed_by": s.claimed_by,
            "specialist": s.specialist, "progress": s.progress,
            "progress_note": s.progress_note, "priority": s.priority, "files": list(s.files),
            "depends_on": list(s.depends_on), "reason": s.reason, "retries": s.retries,
            "updated_at": s.updated_at,
        } for s in sorted(live, key=lambda s: (s.order, s.id))],
        "reservations": [{
            "path": r.path, "holder": r.holder, "mode": r.mode, "ttl": r.ttl,
            "acquired_at": r.acquired_at, "expires_at": r.expires_at, "reason": r.reason,
            "id": r.id,
        } for r in reservations],
        "mail": [dict(m) for m in mail],
        "blockers": [dict(b) for b in blockers],
    }


def created(body: dict[str, Any], sha256: str, path: str) -> NewEvent:
    error = body.get("last_error") if body["trigger"] == "error" else None
    return NewEvent("checkpoint_created", stream_of(body["mission_id"]), {
        "checkpoint_id": body["id"], "mission_id": body["mission_id"],
        "trigger": body["trigger"], "threshold": body.get("threshold"),
        "progress": body["progress"], "sha256": sha256, "path": path,
        "schema_version": body["schema_version"], "created_at": body["created_at"],
        "note": body.get("note", "")[:10_000],
        "error_type": (error or {}).get("type"),
    }, correlation_id=body["mission_id"])


def rearmed(mission_id: str, thresholds: Sequence[int], progress: int) -> NewEvent:
    assert thresholds and all(t in THRESHOLDS for t in thresholds)
    return NewEvent("checkpoint_thresholds_rearmed", stream_of(mission_id), {
        "mission_id": mission_id, "thresholds": sorted(thresholds), "progress": progress,
    }, correlation_id=mission_id)


def deleted(checkpoints: Sequence[CheckpointInfo], *, reason: str = "deleted",
            note: str = "") -> list[NewEvent]:
    out = []
    for c in checkpoints:
        if c.deleted:
            continue
        out.append(NewEvent("checkpoint_deleted", stream_of(c.mission_id), {
            "checkpoint_id": c.id, "mission_id": c.mission_id, "reason": reason,
            "note": note}, correlation_id=c.mission_id))
    return out


def resumed(report: ResumeReport) -> NewEvent:
    return NewEvent("checkpoint_resumed", stream_of(report.mission_id), {
        "checkpoint_id": report.checkpoint_id, "mission_id": report.mission_id,
        "restored": [r["sortie_id"] for r in report.restored][:1000],
        "not_restored": [{"sortie_id": n["sortie_id"], "reason": n["reason"][:10_000]}
                         for n in report.not_restored][:1000],
        "reservations_taken": len(report.reservations_taken),
        "reservations_refused": len(report.reservations_refused),
        "complete": report.complete,
        "error": None if report.error is None else report.error[:10_000],
    }, correlation_id=report.mission_id)
