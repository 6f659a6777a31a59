"""The event types of checkpoints (their ``data`` models).

Imported only when something is appended. Stream: ``checkpoints:<mission-id>`` (every
checkpoint event of one mission); ``correlation_id`` is the mission id. The file itself
is ``data.path``; ``data.sha256`` is the sha256 of its body (``storage.md`` 11).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

CheckpointId = Annotated[str, Field(pattern=r"^c-[0-9a-z]{4,32}$")]
MissionId = Annotated[str, Field(pattern=r"^m-[0-9a-z]{4,32}$")]
Threshold = Literal[25, 50, 75]
Note = Annotated[str, Field(max_length=10_000)]


@event_type("checkpoint_created")
class CheckpointCreated(EventData):
    """A checkpoint file was written; its body has this sha256."""

    checkpoint_id: CheckpointId
    mission_id: MissionId
    trigger: Literal["progress", "error", "manual"]
    threshold: Threshold | None = Field(default=None, description="the progress threshold "
                                        "crossed (trigger progress)")
    progress: int = Field(ge=0, le=100)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    path: str = Field(max_length=4096, description="the file, relative to the repository")
    schema_version: int = Field(ge=1)
    created_at: str = Field(max_length=40)
    note: Note = ""
    error_type: str | None = Field(default=None, max_length=200)


@event_type("checkpoint_deleted")
class CheckpointDeleted(EventData):
    """A checkpoint was deleted (by hand, or pruned by retention); its file is removed."""

    checkpoint_id: CheckpointId
    mission_id: MissionId
    reason: Literal["deleted", "pruned"] = "deleted"
    note: Note = ""


@event_type("checkpoint_thresholds_rearmed")
class CheckpointThresholdsRearmed(EventData):
    """Progress fell below thresholds that had fired: crossing them again checkpoints."""

    mission_id: MissionId
    thresholds: list[Threshold] = Field(min_length=1, max_length=3)
    progress: int = Field(ge=0, le=100)


class NotRestored(EventData):
    sortie_id: str = Field(max_length=64)
    reason: Note


@event_type("checkpoint_resumed")
class CheckpointResumed(EventData):
    """A resume from a checkpoint ended (``complete`` false: stopped by an error)."""

    checkpoint_id: CheckpointId
    mission_id: MissionId
    restored: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list)
    not_restored: list[NotRestored] = Field(default_factory=list)
    reservations_taken: int = Field(default=0, ge=0)
    reservations_refused: int = Field(default=0, ge=0)
    complete: bool = True
    error: Note | None = None


recorded_by({
    "checkpoint_created": "`fleet-hive checkpoint create` or hive.checkpoints.create",
    "checkpoint_deleted": "`fleet-hive checkpoint delete|prune` or hive.checkpoints.delete",
    "checkpoint_thresholds_rearmed": "the checkpoint trigger (any mission write)",
    "checkpoint_resumed": "`fleet-hive checkpoint resume` or hive.checkpoints.resume",
})
