"""The event types of specialists (their ``data`` models).

Imported only when something is appended. Stream: ``specialist:<key>`` (the name, or a slug
and hash of it: ``fleet_hive.specialists.model.stream_key``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..events.registry import EventData, event_type, recorded_by

Name = Annotated[str, Field(min_length=1, max_length=200)]
Capability = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$")]
Time = Annotated[str, Field(max_length=40)]


@event_type("specialist_registered")
class SpecialistRegistered(EventData):
    """A specialist registered (again): its capabilities are these from now on."""

    name: Name
    capabilities: list[Capability] = Field(default_factory=list, max_length=100)
    registered_at: Time


@event_type("specialist_heartbeat")
class SpecialistHeartbeat(EventData):
    """A sign of life (heartbeats closer than 15 s to the previous one are not recorded)."""

    name: Name
    at: Time


recorded_by({
    "specialist_registered": "`fleet-hive specialist register` or hive.specialists.register",
    "specialist_heartbeat": "`fleet-hive specialist heartbeat` or hive.specialists.heartbeat",
})
