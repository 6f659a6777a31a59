"""The event types of dispatch (their ``data`` models).

Stream ``dispatch:<mission-id>``; ``correlation_id`` is the mission id. One
``sortie_try_ended`` per try of a sortie run by ``fleet-hive dispatch``: the facts an
outcome is learned from (exit code, duration, tries, the agent, the files planned). The
sortie's own transitions (claimed, started, completed, failed, retried) are the missions
capability's events, recorded through its service.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

SortieId = Annotated[str, Field(pattern=r"^s-[0-9a-z]{4,32}$")]
MissionId = Annotated[str, Field(pattern=r"^m-[0-9a-z]{4,32}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


@event_type("sortie_try_ended")
class SortieTryEnded(EventData):
    """One try of a dispatched sortie ended (its agent exited, timed out, or could not
    start); ``outcome`` says what dispatch did next."""

    sortie_id: SortieId
    mission_id: MissionId
    attempt: int = Field(ge=1, description="1 for the first try")
    tries: int = Field(ge=1, description="how many tries this dispatch allows")
    worker: Name = Field(description="the specialist the sortie was claimed for")
    specialist: str | None = Field(default=None, max_length=200,
                                   description="the kind of specialist the sortie needs")
    agent: str = Field(max_length=2000, description="the agent command")
    exit_code: int | None = Field(default=None, description="as a shell reports it "
                                  "(128+N: killed by signal N); null: it never ran")
    timed_out: bool = False
    interrupted: bool = False
    duration_ms: int = Field(ge=0)
    outcome: Literal["completed", "retried", "failed", "requeued"]
    error: str = Field(default="", max_length=2000)
    stderr_tail: str = Field(default="", max_length=10_000)
    files: list[str] = Field(default_factory=list, max_length=10_000,
                             description="the files the sortie planned (reserved)")


recorded_by({"sortie_try_ended": "`fleet-hive dispatch` or hive.dispatch.run"})
