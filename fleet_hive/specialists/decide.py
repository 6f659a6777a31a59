"""Pure decisions of specialists."""

from __future__ import annotations

from collections.abc import Sequence

from ..index.unit_of_work import NewEvent
from .fold import Record
from .model import HEARTBEAT_COALESCE, STREAM, stream_key


def stream_of(name: str) -> str:
    return f"{STREAM}:{stream_key(name)}"


def register(current: Record | None, name: str, capabilities: Sequence[str], at: str,
             ) -> list[NewEvent]:
    """A registration; registering again with the same capabilities is a heartbeat."""
    if current is not None and list(current[1]) == list(capabilities):
        return [NewEvent("specialist_heartbeat", stream_of(name), {"name": name, "at": at})]
    return [NewEvent("specialist_registered", stream_of(name),
                     {"name": name, "capabilities": list(capabilities), "registered_at": at})]


def heartbeat(current: Record, now: float, last_seen: float, at: str) -> list[NewEvent]:
    """Nothing when the last recorded sign of life is under HEARTBEAT_COALESCE old."""
    if 0 <= now - last_seen < HEARTBEAT_COALESCE:
        return []
    return [NewEvent("specialist_heartbeat", stream_of(current[0]),
                     {"name": current[0], "at": at})]
