"""Pure: the events of one ``checkpoints:<mission-id>`` stream, in total order -> that
mission's checkpoints and the progress thresholds that have fired (not re-armed since).

Events this version cannot read (a missing field) are skipped, not fatal: other clones may
run newer versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .model import THRESHOLDS, CheckpointInfo

if TYPE_CHECKING:
    from ..events.envelope import Event


def fold_checkpoints(events: Iterable[Event]) -> tuple[dict[str, CheckpointInfo], set[int]]:
    checkpoints: dict[str, CheckpointInfo] = {}
    fired: set[int] = set()
    for e in events:
        d = e.data
        try:
            if e.type == "checkpoint_created":
                cid = d["checkpoint_id"]
                if cid in checkpoints:
                    continue
                threshold = d.get("threshold")
                checkpoints[cid] = CheckpointInfo(
                    id=cid, mission_id=d["mission_id"], trigger=d["trigger"],
                    progress=int(d["progress"]), created_at=d["created_at"],
                    sha256=d["sha256"], path=d["path"], threshold=threshold,
                    note=d.get("note", ""), created_by=e.actor,
                    error_type=d.get("error_type"),
                    schema_version=int(d.get("schema_version", 1)), order=e.order_key)
                if d["trigger"] == "progress" and threshold in THRESHOLDS:
                    fired.add(threshold)
            elif e.type == "checkpoint_deleted":
                found = checkpoints.get(d["checkpoint_id"])
                if found is not None:
                    found.deleted = True
            elif e.type == "checkpoint_thresholds_rearmed":
                fired.difference_update(d["thresholds"])
        except (KeyError, TypeError, ValueError):
            continue
    return checkpoints, fired
