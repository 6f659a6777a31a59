"""The event types of missions and sorties (their ``data`` models).

Imported only when something is appended (the registry validates every ``data`` with these
models); reads fold the stored JSON with :mod:`fleet_hive.missions.fold` and never import
pydantic.

Streams: ``mission:<mission-id>`` and ``sortie:<sortie-id>``. Every event but a creation
names the events of its stream its writer had seen when it decided, like a git commit
names its parents: ``prev`` (the last one in total order) and ``merged`` (any other heads,
left by concurrent writes merged in). Folding uses them to tell concurrent facts (written
on two clones or branches without seeing each other) from sequential ones, and to surface
conflicting ones.
Every event's ``correlation_id`` is its mission id, so ``events list --correlation``
shows a mission's whole history.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

Title = Annotated[str, Field(min_length=1, max_length=500)]
Text = Annotated[str, Field(max_length=100_000)]
Priority = Annotated[int, Field(ge=0, le=4, description="0 is the most urgent, 4 the least")]
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$")]
FilePattern = Annotated[str, Field(min_length=1, max_length=4096,
                                   description="repository-relative path or glob")]
SortieId = Annotated[str, Field(pattern=r"^s-[0-9a-z]{4,32}$")]
MissionId = Annotated[str, Field(pattern=r"^m-[0-9a-z]{4,32}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Prev = Annotated[str | None, Field(
    default=None, max_length=64,
    description="id of the stream's last event (in total order) the writer had seen")]
Merged = Annotated[list[Annotated[str, Field(max_length=64)]], Field(
    default_factory=list, max_length=1000,
    description="the other heads of the stream the writer had seen: events written "
                "concurrently elsewhere and merged in, that ``prev`` does not descend from")]


class _Step(EventData):
    prev: Prev = None
    merged: Merged


class _Transition(_Step):
    reason: Text = ""


class _Owned(_Transition):
    """A step of the claimant's work: only the claimant may take it, or anyone with
    ``--force`` (recorded here; the envelope's ``actor`` says who)."""

    forced: bool = Field(default=False, description="taken by someone other than the "
                         "claimant, with --force")


# -- missions --------------------------------------------------------------------------------
@event_type("mission_created")
class MissionCreated(EventData):
    """A mission was created (status pending)."""

    title: Title
    description: Text = ""
    priority: Priority = 2
    labels: list[Label] = Field(default_factory=list)


@event_type("mission_updated")
class MissionUpdated(_Step):
    """Some of a mission's fields changed (null: unchanged)."""

    title: Title | None = None
    description: Text | None = None
    priority: Priority | None = None
    labels: list[Label] | None = None


@event_type("mission_started")
class MissionStarted(_Transition):
    """pending → in_progress."""


@event_type("mission_completed")
class MissionCompleted(_Transition):
    """in_progress → completed (``forced``: while some sorties were still open)."""

    forced: bool = False


@event_type("mission_cancelled")
class MissionCancelled(_Transition):
    """pending|in_progress → cancelled."""


@event_type("mission_reopened")
class MissionReopened(_Transition):
    """completed|cancelled → in_progress."""


@event_type("mission_deleted")
class MissionDeleted(_Transition):
    """Tombstone: the mission and its sorties are gone from lists (still in the log)."""


@event_type("mission_conflicts_resolved")
class MissionConflictsResolved(_Transition):
    """Someone who saw the conflicting facts acknowledged them (status unchanged)."""


# -- sorties ---------------------------------------------------------------------------------
@event_type("sortie_added")
class SortieAdded(EventData):
    """A sortie was added to a mission (status pending)."""

    mission_id: MissionId
    title: Title
    description: Text = ""
    priority: Priority = 2
    files: list[FilePattern] = Field(default_factory=list)
    depends_on: list[SortieId] = Field(default_factory=list)
    specialist: Name | None = None


@event_type("sortie_updated")
class SortieUpdated(_Step):
    """Some of a sortie's fields changed (null: unchanged)."""

    title: Title | None = None
    description: Text | None = None
    priority: Priority | None = None
    files: list[FilePattern] | None = None
    depends_on: list[SortieId] | None = None
    specialist: Name | None = None


@event_type("sortie_claimed")
class SortieClaimed(_Transition):
    """pending → assigned, to one specialist."""

    specialist: Name


@event_type("sortie_started")
class SortieStarted(_Owned):
    """assigned → in_progress."""


@event_type("sortie_progressed")
class SortieProgressed(_Step):
    """A progress report (0-100) while in progress or blocked."""

    percent: Annotated[int, Field(ge=0, le=100)]
    note: Text = ""
    forced: bool = Field(default=False, description="reported by someone other than the "
                         "claimant, with --force")


@event_type("sortie_completed")
class SortieCompleted(_Owned):
    """in_progress → completed."""


@event_type("sortie_failed")
class SortieFailed(_Owned):
    """assigned|in_progress → failed."""


@event_type("sortie_blocked")
class SortieBlocked(_Owned):
    """in_progress → blocked."""


@event_type("sortie_unblocked")
class SortieUnblocked(_Owned):
    """blocked → in_progress."""


@event_type("sortie_cancelled")
class SortieCancelled(_Transition):
    """Any open status → cancelled."""


@event_type("sortie_retried")
class SortieRetried(_Transition):
    """failed → pending (unclaimed again)."""


@event_type("sortie_deleted")
class SortieDeleted(_Transition):
    """Tombstone: the sortie is gone from lists (still in the log)."""


@event_type("sortie_conflicts_resolved")
class SortieConflictsResolved(_Transition):
    """Someone who saw the conflicting facts acknowledged them (status unchanged)."""


def _use_case(kind: str, verb: str, method: str | None = None) -> str:
    return f"`fleet-hive {kind} {verb}` or hive.{kind}s.{method or verb}"


# Every type above is recorded only by its use case, which checks the rules.
recorded_by({
    "mission_created": _use_case("mission", "create"),
    "mission_updated": _use_case("mission", "update"),
    "mission_started": _use_case("mission", "start"),
    "mission_completed": _use_case("mission", "complete"),
    "mission_cancelled": _use_case("mission", "cancel"),
    "mission_reopened": _use_case("mission", "reopen"),
    "mission_deleted": _use_case("mission", "delete"),
    "mission_conflicts_resolved": _use_case("mission", "resolve"),
    "sortie_added": _use_case("sortie", "add"),
    "sortie_updated": _use_case("sortie", "update"),
    "sortie_claimed": _use_case("sortie", "claim"),
    "sortie_started": _use_case("sortie", "start"),
    "sortie_progressed": _use_case("sortie", "progress"),
    "sortie_completed": _use_case("sortie", "complete"),
    "sortie_failed": _use_case("sortie", "fail"),
    "sortie_blocked": _use_case("sortie", "block"),
    "sortie_unblocked": _use_case("sortie", "unblock"),
    "sortie_cancelled": _use_case("sortie", "cancel"),
    "sortie_retried": _use_case("sortie", "retry"),
    "sortie_deleted": _use_case("sortie", "delete"),
    "sortie_conflicts_resolved": _use_case("sortie", "resolve"),
})
