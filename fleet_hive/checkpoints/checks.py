"""``verify`` checks for checkpoints: the index tables against a fold of the log, and
every checkpoint file against its ``checkpoint_created`` event.

* ``projection_mismatch`` (error; ``--repair`` rebuilds the index): the tables disagree
  with a fold of the ``checkpoints:`` streams.
* ``checkpoint_missing`` (error): the log records a checkpoint whose file is gone.
* ``checkpoint_corrupt`` (error): the file's body does not match its sha256 line or the
  event's, does not parse, or lacks keys. Checkpoints are immutable and committed:
  ``--repair`` cannot rebuild one (restore it from git, or delete it); ``resume`` refuses
  it and names the newest intact checkpoint of the mission.
* ``checkpoint_orphan`` (warning): a file no event records (a crash between writing the
  file and its event, or a file copied in by hand).
* ``checkpoint_stale`` (warning; ``--repair`` removes it): the file of a deleted
  checkpoint is still there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..index.projection import report_mismatch, streams_of
from ..kernel.problems import Problem, Report
from . import files
from . import projection as q
from .fold import fold_checkpoints
from .model import STREAM, CheckpointInfo

if TYPE_CHECKING:
    from ..index.projection import CheckContext, ReadView


def folded(reads: ReadView) -> tuple[dict[str, CheckpointInfo], dict[str, set[int]]]:
    """Every checkpoint (deleted ones too) and each mission's fired thresholds, folded
    from the log (the caller has caught up)."""
    streams = streams_of(reads, STREAM)
    checkpoints: dict[str, CheckpointInfo] = {}
    fired: dict[str, set[int]] = {}
    for stream, events in streams.items():
        found, thresholds = fold_checkpoints(events)
        checkpoints.update(found)
        if thresholds:
            fired[stream.partition(":")[2]] = thresholds
    return checkpoints, fired


def check_checkpoints(ctx: CheckContext, report: Report, repair: bool = False) -> None:
    index = ctx.index
    index.catch_up()
    checkpoints, fired = folded(index)
    # 1. the tables equal the fold
    rows = {c.id: c for c in q.every(index, catch_up=False, deleted=True)}
    wrong = sorted(f"checkpoint {k}" for k in checkpoints.keys() | rows.keys()
                   if checkpoints.get(k) != rows.get(k))
    have_fired: dict[str, set[int]] = {}
    for mission_id, threshold in index.read(
            "SELECT mission_id, threshold FROM checkpoint_thresholds", catch_up=False):
        have_fired.setdefault(mission_id, set()).add(threshold)
    wrong += sorted(f"thresholds of {m}" for m in fired.keys() | have_fired.keys()
                    if fired.get(m) != have_fired.get(m))
    report_mismatch(ctx, report, "checkpoint", wrong, repair)
    # 2. every live checkpoint's file is intact; deleted ones' files are gone
    root = ctx.layout.root
    logged: set[str] = set()
    for c in sorted(checkpoints.values(), key=lambda c: (c.mission_id, c.order)):
        logged.add(c.path)
        path = root / c.path
        if c.deleted:
            if path.exists():
                message = f"checkpoint {c.id} was deleted but its file is still there"
                if repair:
                    files.remove(path)
                    message += " (removed)"
                report.problems.append(Problem("checkpoint_stale", message, c.path, None,
                                               "repaired" if repair else "warning"))
            continue
        found = files.inspect(path, c.sha256)
        if found.ok:
            continue
        kind = "checkpoint_missing" if found.state == "missing" else "checkpoint_corrupt"
        report.problems.append(Problem(
            kind, f"checkpoint {c.id} of mission {c.mission_id}: {found.message} (restore "
            "it with `git checkout -- PATH`, or `fleet-hive checkpoint delete "
            f"{c.id}`)", c.path))
    # 3. files no event records
    base = ctx.layout.checkpoints
    if base.is_dir():
        for path in sorted(base.glob("*/*.yaml")):
            rel = path.relative_to(root).as_posix()
            if rel not in logged:
                report.problems.append(Problem(
                    "checkpoint_orphan", "a checkpoint file no checkpoint_created event "
                    "records (left by a crash, or copied in)", rel, None, "warning"))
