"""Pure: a plan and the ids its mission and sorties got -> the ``mission_planned`` event
written in the same unit of work as them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..index.unit_of_work import NewEvent
from ..kernel.errors import InvalidInputError
from .model import Plan, stream_of


def planned(mission_id: str, sortie_ids: Sequence[str], plan: Plan, *, task: str,
            requested: str, planner: str, features: Sequence[str],
            reasons: Sequence[str]) -> list[NewEvent]:
    sorties = plan["sorties"]
    if len(sortie_ids) != len(sorties):
        raise InvalidInputError(f"{len(sortie_ids)} sortie ids for {len(sorties)} sorties")
    data: dict[str, Any] = {
        "mission_id": mission_id, "title": plan["title"], "task": task,
        "strategy": plan["strategy"], "requested_strategy": requested,
        "planner": planner[:2000], "features": list(features)[:100],
        "reasons": [r[:2000] for r in reasons][:100],
        "sorties": [{"sortie_id": sid, "files": list(s.get("files", []))}
                    for sid, s in zip(sortie_ids, sorties, strict=True)],
    }
    return [NewEvent("mission_planned", stream_of(mission_id), data,
                     correlation_id=mission_id)]
