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
