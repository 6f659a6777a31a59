"""After-write policies that belong to the application rather than to one capability.

The unit of work calls each policy with the events it has just stored (under the writer
lock, the index caught up). Capability policies live in their packages (a mission's
snapshot: :class:`fleet_hive.missions.snapshots.Snapshots`); this module holds the ones
that combine capabilities with the outside world.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..events.envelope import Event

#: What the capabilities' after-write policies react to, for :class:`OnEvents
#: <fleet_hive.index.unit_of_work.OnEvents>`: each policy's module is imported on the first
#: write with such an event, not on every write. Each must cover the policy's own filter
#: (``tests/test_architecture.py`` checks that it does).
SNAPSHOT_STREAMS = ("mission:", "sortie:")  # missions.snapshots: the YAML snapshots
MANIFEST_STREAMS = ("reservation:",)  # reservations.manifest: the lock manifest
CHECKPOINT_TRIGGER_TYPES = frozenset({  # checkpoints.triggers: progress crossings, failures
    "sortie_added", "sortie_completed", "sortie_cancelled", "sortie_deleted", "sortie_retried",
    "mission_started", "mission_reopened", "mission_completed", "sortie_failed"})
BLOCKER_TYPES = frozenset({"sortie_blocked"})  # mail.escalation: the coordinator is told
OUTCOME_TYPES = frozenset({  # learning.policy: outcomes of what ended
    "sortie_completed", "sortie_failed", "mission_completed", "mission_cancelled",
    "sortie_try_ended"})

#: Event types that are milestones worth a commit of ``.fleet/`` (``storage.md`` 13).
#: A checkpoint's stream is ``checkpoints:<mission-id>``: the reason names its mission too.
MILESTONES = {"mission_created": "created", "mission_completed": "completed",
              "checkpoint_created": "checkpointed"}


class AutoCommit:
    """With ``auto_commit: true``: commit ``.fleet/`` when a milestone event is stored.

    ``commit(reason)`` is the git layer's auto-commit; ``enabled()`` reads the setting
    (so the configuration is loaded only by writes, never by reads).
    """

    def __init__(self, enabled: Callable[[], bool], commit: Callable[[str], Any]) -> None:
        self._enabled = enabled
        self._commit = commit

    def __call__(self, events: Sequence[Event]) -> None:
        reasons = [f"mission {e.stream.partition(':')[2]} {MILESTONES[e.type]}"
                   for e in events if e.type in MILESTONES]
        if reasons and self._enabled():
            self._commit("; ".join(reasons))
