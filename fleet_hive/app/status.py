"""``fleet-hive status``: one JSON-ready object assembled from each capability's part, and
what every command says about the health of the index and the log it reads."""

from __future__ import annotations

import contextlib

from ..kernel.errors import FleetHiveError, IntegrityError, StorageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.db import Index
    from ..reservations.model import Contest
    from .hive import Hive

VERIFY_HINT = "run `fleet-hive verify` for every problem and its fix"


def status_report(hive: Hive) -> dict[str, Any]:
    """Missions (progress, active, blocked, conflicts), reservations, index freshness, and
    the integrity problems seen in the log."""
    from ..missions.service import overview

    index_status = hive.index.status().to_json()  # before anything else catches up
    report = overview(hive.missions, hive.sorties)
    report["reservations"] = [r.to_json() for r in hive.reservations.active()]
    report["conflicts"] += [reservation_conflict(c) for c in hive.reservations.contests()]
    report["index"] = index_status
    report["stale"] = stale_summary(hive)
    report["specialists"] = specialists_summary(hive)
    report["integrity"] = {
        "ok": not index_status["problem_count"],
        "problem_count": index_status["problem_count"],
        "problems": index_status["problems"],
        "fix": VERIFY_HINT if index_status["problem_count"] else None,
    }
    from ..events.missing import missing_text, own_events_missing

    missing = own_events_missing(hive.layout, lambda: hive.git)  # git only if needed
    report["missing_own_events"] = [m.to_json() for m in missing]
    if missing:
        report["integrity"]["ok"] = False
        report["integrity"]["missing_own_events"] = [missing_text(m) for m in missing]
    return report


def stale_summary(hive: Hive) -> dict[str, Any]:
    """The stale work ``status`` and ``ready`` mention (a bad ``stale_after`` setting is
    reported in it, not raised: a read must not fail on it)."""
    from ..checkpoints.stale import summary
    from ..kernel.clock import now

    try:
        return summary(hive.index, now=now(), stale_after=hive.stale_after())
    except FleetHiveError as e:
        return {"count": 0, "stale_after": None, "stale_after_seconds": None, "sorties": [],
                "hint": None, "error": e.message}


def specialists_summary(hive: Hive) -> dict[str, Any]:
    """The ``specialists`` part of ``status``: how many, which are silent (with the
    sorties they hold), and what to run (a bad setting is reported, not raised)."""
    try:
        threshold = hive.specialist_silent_after()
        every = hive.specialists.list()
    except FleetHiveError as e:
        return {"count": 0, "active": 0, "silent": [], "hint": None, "error": e.message}
    from ..checkpoints.stale import format_duration
    from ..specialists.model import SILENT

    silent = [s for s in every if s.status == SILENT]
    held = sum(len(s.sorties) for s in silent)
    hint = None
    if silent:
        hint = (f"{len(silent)} specialist{'' if len(silent) == 1 else 's'} silent for more "
                f"than {format_duration(threshold)}"
                + (f", holding {held} sortie{'' if held == 1 else 's'}: fleet-hive recover"
                   if held else ""))
    return {"count": len(every), "active": len(every) - len(silent),
            "silent_after": format_duration(threshold), "silent_after_seconds": threshold,
            "silent": [s.to_dict() for s in silent],
            "list": [s.to_dict() for s in every], "hint": hint}


def reservation_conflict(c: Contest) -> dict[str, Any]:
    """A :class:`Contest` in the shape of the missions' conflicts in ``status``."""
    facts = [{"event_id": r.event_id, "type": "reservation_acquired", "actor": r.holder,
              "writer": r.writer, "time": r.acquired_at, "reservation_id": r.id,
              "path": r.path, "mode": r.mode} for r in (c.kept, c.lost)]
    return {"mission_id": None, "sortie_id": None, "title": c.kept.path, "kind": "reservation",
            "path": c.lost.path, "message": c.message, "facts": facts,
            "kept": c.kept.event_id, "resolved_by": None}


def index_warnings(index: Index) -> list[FleetHiveError]:
    """What a command that read the index should say on stderr: damage in the log (its
    state is not whole), a cache that could not be used. Never raises."""
    out: list[FleetHiveError] = [StorageError(note) for note in index.notes]
    if index.memory_reason is not None:
        out.append(StorageError(
            f"the index cache cannot be written: {index.memory_reason}; answered from the "
            "log read into memory", hint="free space or make .fleet/.cache/ writable"))
    damage = None
    with contextlib.suppress(FleetHiveError):
        damage = index.damage
    if damage is not None:
        out.append(IntegrityError(
            f"the event log is damaged, answers may miss events: {damage.summary()}",
            hint=VERIFY_HINT))
    return out
