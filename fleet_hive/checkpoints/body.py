"""The checkpoint body as a pydantic model: validated on create, exported as
``schemas/checkpoint.schema.json`` (``python -m fleet_hive.app.schemas``; CI checks the
file against this model). Imported on write paths and by ``verify`` only; reads of the
index never load it. The file layout and older versions: :mod:`.files`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(max_length=100_000)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")  # newer versions may add keys


class LogPosition(_Part):
    """The log position the checkpoint reflects: every event up to the last one in total
    order (``clock``, ``writer``, ``n``, ``event_id``) was seen; ``seq`` is the index
    position on the clone that wrote it (not comparable across clones)."""

    seq: int | None = None
    clock: int | None = None
    writer: str | None = None
    n: int | None = None
    event_id: str | None = None


class LastError(_Part):
    type: str = Field(max_length=200)
    message: Text = ""
    traceback: Text | None = None
    sortie_id: str | None = None


class MissionState(_Part):
    id: str
    title: str
    description: Text = ""
    status: str
    priority: int
    labels: list[str] = Field(default_factory=list)
    progress: int = Field(ge=0, le=100)
    sortie_counts: dict[str, int] = Field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    reason: Text = ""


class SortieState(_Part):
    id: str
    title: str
    status: Literal["pending", "assigned", "in_progress", "blocked", "completed", "failed",
                    "cancelled"]
    claimed_by: str | None = None
    specialist: str | None = None
    progress: int = Field(ge=0, le=100)
    progress_note: Text = ""
    priority: int = 2
    files: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    reason: Text = ""
    retries: int = 0
    updated_at: str = ""


class ReservationState(_Part):
    path: str
    holder: str
    mode: Literal["exclusive", "shared"]
    ttl: float = Field(gt=0)
    acquired_at: str
    expires_at: str
    reason: str | None = None
    id: str = ""


class CheckpointBody(BaseModel):
    """A checkpoint of one mission (``.fleet/checkpoints/<mission>/<id>.yaml``)."""

    model_config = ConfigDict(extra="allow", title="fleet-hive checkpoint")

    schema_version: Literal[2]
    id: str = Field(pattern=r"^c-[0-9a-z]{4,32}$")
    mission_id: str = Field(pattern=r"^m-[0-9a-z]{4,32}$")
    trigger: Literal["progress", "error", "manual"]
    threshold: Literal[25, 50, 75] | None = None
    progress: int = Field(ge=0, le=100)
    created_at: str
    created_by: str = ""
    note: Text = ""
    log_position: LogPosition
    last_error: LastError | None = None
    mission: MissionState
    sorties: list[SortieState]
    reservations: list[ReservationState]
    mail: list[dict[str, Any]] = Field(
        default_factory=list, description="recent mail of the mission, newest first (the "
        "message shape of cli.md, bodies shortened)")
    blockers: list[dict[str, Any]] = Field(
        default_factory=list, description="blockers agents reported (sortie block --reason) "
        "and escalated to the coordinator: sortie_id, reason, by, time, message_id")


def validate(body: dict[str, Any]) -> None:
    """Raise InvalidInputError if ``body`` does not fit the schema (a bug, not bad input)."""
    from pydantic import ValidationError

    from ..kernel.errors import InvalidInputError

    try:
        CheckpointBody.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"invalid checkpoint body: {where}: {first['msg']}",
                                hint="see schemas/checkpoint.schema.json") from e


def json_schema() -> dict[str, Any]:
    return CheckpointBody.model_json_schema()
