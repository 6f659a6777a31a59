"""Pure: the events of one ``specialist:<key>`` stream, in total order -> its record
``(name, capabilities, registered_at, registered_by, last_seen)`` or None.

``last_seen`` is the latest time among its registrations and heartbeats (ISO text in one
format compares as time). Unreadable events are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events.envelope import Event

Record = tuple[str, list[str], str, str, str]


def fold_specialist(events: Iterable[Event]) -> Record | None:
    name: str | None = None
    capabilities: list[str] = []
    registered_at = registered_by = last_seen = ""
    for e in events:
        d = e.data
        try:
            if e.type == "specialist_registered":
                if not isinstance(d["name"], str) or not d["name"]:
                    continue
                name = d["name"]
                capabilities = sorted({str(c) for c in d.get("capabilities", [])})
                registered_at, registered_by = d["registered_at"], e.actor
                last_seen = max(last_seen, d["registered_at"])
            elif e.type == "specialist_heartbeat" and name is not None:
                last_seen = max(last_seen, str(d["at"]))
        except (KeyError, TypeError, ValueError):
            continue
    if name is None:
        return None
    return name, capabilities, registered_at, registered_by, last_seen
