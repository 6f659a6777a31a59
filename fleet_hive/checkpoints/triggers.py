"""The after-write policy that takes checkpoints when a write calls for one.

The unit of work calls it (under the writer lock, the index caught up) with the events it
has just stored. For each mission those events touched it asks the service to react: a
progress checkpoint for each threshold crossed (:func:`.model.crossing`), an error
checkpoint when a sortie failed. Writes that cannot change progress cost a set lookup per
event; others one or two indexed queries. Only mission and sortie use cases' events count
(their ``correlation_id`` is the mission); a raw note on a mission stream changes nothing.
A checkpoint that could not be written is a warning of the write (it stood), never its
failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..kernel.errors import StorageError
from .model import RESUME_REASON

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event
    from .service import Checkpoints

#: Event types after which a mission's progress may have moved (or its openness changed).
PROGRESS_EVENTS = frozenset({
    "sortie_added", "sortie_completed", "sortie_cancelled", "sortie_deleted",
    "sortie_retried", "mission_started", "mission_reopened", "mission_completed",
})
FAILURE_EVENTS = frozenset({"sortie_failed"})
_WATCHED = PROGRESS_EVENTS | FAILURE_EVENTS


class CheckpointTriggers:
    """``service`` returns the checkpoint service (built on the first reaction)."""

    def __init__(self, service: Callable[[], Checkpoints]) -> None:
        self._service = service

    def __call__(self, events: Sequence[Event]) -> None:
        touched: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
        for e in events:
            if e.type not in _WATCHED or not e.correlation_id:
                continue
            if not e.stream.startswith(("mission:", "sortie:")):
                continue
            progress, failures = touched.setdefault(e.correlation_id, (False, []))
            if e.type in FAILURE_EVENTS and not str(e.data.get("reason", "")).startswith(
                    RESUME_REASON):  # a resume unwinding a claim: no error
                failures.append({"type": e.type, "message": e.data.get("reason", ""),
                                 "traceback": None,
                                 "sortie_id": e.stream.partition(":")[2]})
            touched[e.correlation_id] = (progress or e.type in PROGRESS_EVENTS, failures)
        if not touched:
            return
        service = self._service()
        failed: StorageError | None = None
        for mission_id, (progress, failures) in touched.items():
            try:
                service.react(mission_id, progress_may_change=progress, failures=failures)
            except Exception as e:  # the write stood: say so, do not fail it
                message = getattr(e, "message", None) or str(e) or type(e).__name__
                failed = failed or StorageError(
                    f"the change was recorded, but checkpointing mission {mission_id} "
                    f"failed: {message}",
                    hint="create one by hand: fleet-hive checkpoint create "
                         f"{mission_id}")
                failed.__cause__ = e
        if failed is not None:
            raise failed
