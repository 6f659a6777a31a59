"""Pure: the events of one ``plan:<mission-id>`` stream -> that mission's plan record
(the last ``mission_planned`` wins; events this version cannot read are skipped)."""

from __future__ import annotations

from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event


def fold_plan(events: Iterable[Event]) -> dict[str, Any] | None:
    record: dict[str, Any] | None = None
    for e in events:
        if e.type != "mission_planned":
            continue
        d = e.data
        try:
            record = {
                "mission_id": str(d["mission_id"]), "title": str(d.get("title", "")),
                "task": str(d["task"]), "strategy": str(d["strategy"]),
                "requested_strategy": str(d.get("requested_strategy", "auto")),
                "planner": str(d["planner"]),
                "features": [str(f) for f in d.get("features", [])],
                "reasons": [str(r) for r in d.get("reasons", [])],
                "sorties": {str(s["sortie_id"]): {"files": [str(f) for f in s.get("files", [])]}
                            for s in d["sorties"]},
                "planned_at": e.time, "planned_by": e.actor,
            }
        except (KeyError, TypeError, ValueError):
            continue
    return record
