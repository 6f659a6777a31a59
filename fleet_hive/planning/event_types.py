"""The event types of planning (their ``data`` models). Imported only when something is
appended. Stream ``plan:<mission-id>``; ``correlation_id`` is the mission id.

``mission_planned`` is written in the same unit of work as the mission and its sorties
(``decompose --create``, ``plan apply``): what learning needs to judge the plan later
(the task, its features, the strategy and planner, each sortie's planned files).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

MissionId = Annotated[str, Field(pattern=r"^m-[0-9a-z]{4,32}$")]
SortieId = Annotated[str, Field(pattern=r"^s-[0-9a-z]{4,32}$")]
Line = Annotated[str, Field(max_length=2000)]


class PlannedSortieRecord(EventData):
    sortie_id: SortieId
    files: list[Annotated[str, Field(max_length=4096)]] = Field(default_factory=list,
                                                                max_length=200)


@event_type("mission_planned")
class MissionPlanned(EventData):
    """A mission was created from a plan: how it was planned, and each sortie's files."""

    mission_id: MissionId
    title: str = Field(default="", max_length=500)
    task: str = Field(max_length=100_000)
    strategy: Literal["file", "feature", "risk", "hybrid"]
    requested_strategy: Literal["auto", "file", "feature", "risk", "hybrid"] = "auto"
    planner: str = Field(max_length=2000)
    features: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list,
                                                                  max_length=100)
    reasons: list[Line] = Field(default_factory=list, max_length=100)
    sorties: list[PlannedSortieRecord] = Field(max_length=1000)


recorded_by({
    "mission_planned": "`fleet-hive decompose --create`, `fleet-hive plan apply` or "
                       "hive.planning.create",
})
