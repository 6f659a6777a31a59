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
    # worktree isolation (``dispatch --isolation worktree``); null under shared isolation
    branch: str | None = Field(default=None, max_length=500,
                               description="the try's branch (kept when not merged)")
    changed_files: list[str] | None = Field(default=None, max_length=100_000,
                                            description="the files the try changed since "
                                            "its fork from the base branch")
    verified: bool | None = Field(default=None, description="whether --verify passed "
                                  "(null: none ran)")
    merged: bool | None = Field(default=None, description="whether the change was merged "
                                "into the base branch")
    merge_commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40,64}$",
                                     description="the merge commit on the base branch")
    refused: str = Field(default="", max_length=2000,
                         description="why the change was not merged")
    refusal: Literal["", "verify_failed", "conflict", "outside_reservations", "refused",
                     "error"] = Field(default="", description="the kind of that reason")


recorded_by({"sortie_try_ended": "`fleet-hive dispatch` or hive.dispatch.run"})
