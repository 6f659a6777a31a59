"""The event types of learning (their ``data`` models).

Imported only when something is appended. Stream: ``outcome:<sortie or mission id>``;
``correlation_id`` is the mission id, ``causation_id`` the event that ended the sortie or
mission (``sortie_completed``, ``sortie_failed``, ``mission_completed``,
``mission_cancelled``). A later ``outcome_recorded`` on the same stream (after a retry or
a reopen) supersedes the earlier one; ``outcome_amended`` adds what was found out later
(dispatch: verification, merge, the files the change touched).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

MissionId = Annotated[str, Field(pattern=r"^m-[0-9a-z]{4,32}$")]
SortieId = Annotated[str, Field(pattern=r"^s-[0-9a-z]{4,32}$")]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
Path = Annotated[str, Field(min_length=1, max_length=4096)]
Reason = Annotated[str, Field(max_length=500)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Seconds = Annotated[float, Field(ge=0)]


@event_type("outcome_recorded")
class OutcomeRecorded(EventData):
    """A sortie or mission ended: what actually happened (the learning signal)."""

    subject: Literal["sortie", "mission"]
    mission_id: MissionId
    sortie_id: SortieId | None = None
    status: Literal["completed", "failed", "cancelled"]
    success: bool
    finished_at: str = Field(max_length=40, description="when it ended (the ending event's "
                             "time)")
    duration_s: Seconds | None = Field(default=None, description="its last try: from the "
                                       "claim (or start) to the end")
    total_s: Seconds | None = Field(default=None, description="from the first claim (or "
                                    "start) to the end, every try")
    tries: int = Field(ge=1, description="1 + retries (a mission: 1 + reopens)")
    errors: list[Reason] = Field(default_factory=list, max_length=20,
                                 description="the reasons of its failures, oldest first")
    strategy: Annotated[str, Field(min_length=1, max_length=40)] = "unplanned"
    planner: Name | None = None
    features: list[Tag] = Field(default_factory=list, max_length=32)
    planned_files: list[Path] = Field(default_factory=list, max_length=1000)
    changed_files: list[Path] | None = Field(default=None, max_length=1000,
                                             description="null: not known")
    verified: bool | None = Field(default=None, description="null until verified")
    merged: bool | None = Field(default=None, description="null until merged")
    specialist: Name | None = Field(default=None, description="the kind of specialist "
                                    "it asked for")
    agent: Name | None = Field(default=None, description="who did it (the claimant)")


@event_type("outcome_amended")
class OutcomeAmended(EventData):
    """What was found out about an outcome later (null: unchanged)."""

    verified: bool | None = None
    merged: bool | None = None
    changed_files: list[Path] | None = Field(default=None, max_length=1000)
    errors: list[Reason] = Field(default_factory=list, max_length=20,
                                 description="further failure reasons (a failed "
                                 "verification or merge)")
    note: Annotated[str, Field(max_length=10_000)] = ""


recorded_by({
    "outcome_recorded": "the learning policy (when a sortie or mission ends) or "
                        "hive.learning.record_outcome",
    "outcome_amended": "hive.learning.amend (dispatch, after verifying or merging)",
})
