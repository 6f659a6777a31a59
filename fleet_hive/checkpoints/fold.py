"""Pure: the events of one ``checkpoints:<mission-id>`` stream, in total order -> that
mission's checkpoints and the progress thresholds that have fired (not re-armed since).

Events this version cannot read (a missing field) are skipped, not fatal: other clones may
run newer versions.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..kernel.layout import CHECKPOINTS_DIR, FLEET_DIR
from .model import ID_RE, MISSION_RE, THRESHOLDS, CheckpointInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..events.envelope import Event


def relative_path(mission_id: str, checkpoint_id: str) -> str:
    """The checkpoint's file, relative to the repository (as git names it)."""
    return f"{FLEET_DIR}/{CHECKPOINTS_DIR}/{mission_id}/{checkpoint_id}.yaml"


def fold_checkpoints(events: Iterable[Event]) -> tuple[dict[str, CheckpointInfo], set[int]]:
    """The file of each checkpoint is where its ids put it (``relative_path``), whatever
    the event's ``path`` says: a path from the log is never trusted to name a file."""
    checkpoints: dict[str, CheckpointInfo] = {}
    fired: set[int] = set()
    for e in events:
        d = e.data
        try:
            if e.type == "checkpoint_created":
                cid = d["checkpoint_id"]
                # ids name the file: anything else (a newer or hostile writer) is skipped
                if cid in checkpoints or not ID_RE.matches(cid) \
                        or not MISSION_RE.matches(d["mission_id"]):
                    continue
                threshold = d.get("threshold")
                checkpoints[cid] = CheckpointInfo(
                    id=cid, mission_id=d["mission_id"], trigger=d["trigger"],
                    progress=int(d["progress"]), created_at=d["created_at"],
                    sha256=d["sha256"], path=relative_path(d["mission_id"], cid),
                    threshold=threshold,
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
