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
    from ..index.projection import ReadView
    from .service import Checkpoints, MissionsPort

#: Event types after which a mission's progress may have moved (or its openness changed).
PROGRESS_EVENTS = frozenset({
    "sortie_added", "sortie_completed", "sortie_cancelled", "sortie_deleted",
    "sortie_retried", "mission_started", "mission_reopened", "mission_completed",
})
FAILURE_EVENTS = frozenset({"sortie_failed"})
_WATCHED = PROGRESS_EVENTS | FAILURE_EVENTS


class CheckpointTriggers:
    """``service`` returns the checkpoint service (built on the first reaction). With
    ``reads`` and ``missions`` (the index and the missions service), a write whose missions
    cross no threshold and had no failure is told apart here, without building the service
    (its files, YAML and decisions: ~5 ms of a command that completes a sortie)."""

    def __init__(self, service: Callable[[], Checkpoints], *, reads: ReadView | None = None,
                 missions: Callable[[], MissionsPort] | None = None) -> None:
        self._service = service
        self._reads = reads
        self._missions = missions

    def _calls_for(self, mission_id: str, progress: bool) -> bool:
        """Whether the service must react (a threshold to fire or re-arm, or unknown: a
        failure to find out is the service's to report)."""
        reads, missions = self._reads, self._missions
        if reads is None or missions is None:
            return True
        if not progress:
            return False
        try:
            return self._crosses(mission_id, reads, missions)
        except Exception:
            return True

    @staticmethod
    def _crosses(mission_id: str, reads: ReadView, missions: Callable[[], MissionsPort],
                 ) -> bool:
        from ..kernel.errors import NotFoundError
        from ..missions.model import MISSION_OPEN
        from .model import counted_total, crossing
        from .projection import fired

        try:
            m = missions().get(mission_id, sorties=False)
        except NotFoundError:
            return False  # deleted: the service would do nothing either
        fire, rearm = crossing(m.progress, fired(reads, mission_id),
                               open_mission=counted_total(m.sortie_counts) > 0
                               and m.status in MISSION_OPEN)
        return bool(fire or rearm)

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
        touched = {m: (progress, failures) for m, (progress, failures) in touched.items()
                   if failures or self._calls_for(m, progress)}
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
