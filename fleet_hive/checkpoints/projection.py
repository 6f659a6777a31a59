"""The checkpoint tables of the index, and the queries on them.

``checkpoints`` lists every checkpoint the log records (deleted ones flagged);
``checkpoint_thresholds`` the progress thresholds that have fired per mission (the
trigger's memory: see :mod:`.model`, "Crossing"). Each ``checkpoints:<mission-id>`` stream
that changed is re-folded whole (a mission has tens of checkpoints, not thousands).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..index.streams import chunks, load_streams
from .fold import fold_checkpoints
from .model import STREAM, CheckpointInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ProjectionTables, ReadView

COLUMNS = ("id, mission_id, trigger, progress, created_at, sha256, path, threshold, note, "
           "created_by, error_type, schema_version, deleted, ord_clock, ord_writer, ord_n")
_NEWEST = "ord_clock DESC, ord_writer DESC, ord_n DESC, id DESC"


class CheckpointProjection:
    # name, version and streams are declared in the capability list (app/capabilities.py)
    tables = ("checkpoints", "checkpoint_thresholds")
    ddl = """
    CREATE TABLE IF NOT EXISTS checkpoints (
        id TEXT PRIMARY KEY,
        mission_id TEXT NOT NULL,
        trigger TEXT NOT NULL,
        progress INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        threshold INTEGER,
        note TEXT NOT NULL,
        created_by TEXT NOT NULL,
        error_type TEXT,
        schema_version INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        ord_clock INTEGER NOT NULL,
        ord_writer TEXT NOT NULL,
        ord_n INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS checkpoints_mission ON checkpoints(mission_id, ord_clock,
                                                                  ord_writer, ord_n);
    CREATE TABLE IF NOT EXISTS checkpoint_thresholds (
        mission_id TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        PRIMARY KEY (mission_id, threshold)
    ) WITHOUT ROWID
    """

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        """Re-fold each mission's ``checkpoints:`` stream and replace its rows, a chunk of
        missions per statement."""
        wanted = [s for s in streams if s.partition(":")[0] == STREAM]
        for chunk in chunks(load_streams(view.execute, wanted, view.iterate)):
            ids = [stream.partition(":")[2] for stream, _ in chunk]
            marks = ",".join("?" * len(ids))
            view.execute(f"DELETE FROM checkpoints WHERE mission_id IN ({marks})", ids)
            view.execute(f"DELETE FROM checkpoint_thresholds WHERE mission_id IN ({marks})",
                         ids)
            rows: list[tuple[Any, ...]] = []
            thresholds: list[tuple[str, int]] = []
            for mission_id, (_, events) in zip(ids, chunk, strict=True):
                checkpoints, fired = fold_checkpoints(events)
                rows += [row(c) for c in checkpoints.values()]
                thresholds += [(mission_id, t) for t in sorted(fired)]
            view.executemany(f"INSERT OR REPLACE INTO checkpoints ({COLUMNS}) VALUES "
                             f"({','.join('?' * 16)})", rows)
            view.executemany("INSERT INTO checkpoint_thresholds VALUES (?, ?)", thresholds)


PROJECTION = CheckpointProjection()


def row(c: CheckpointInfo) -> tuple[Any, ...]:
    return (c.id, c.mission_id, c.trigger, c.progress, c.created_at, c.sha256, c.path,
            c.threshold, c.note, c.created_by, c.error_type, c.schema_version, int(c.deleted),
            *c.order)


def _info(r: Sequence[Any]) -> CheckpointInfo:
    return CheckpointInfo(id=r[0], mission_id=r[1], trigger=r[2], progress=r[3],
                          created_at=r[4], sha256=r[5], path=r[6], threshold=r[7], note=r[8],
                          created_by=r[9], error_type=r[10], schema_version=r[11],
                          deleted=bool(r[12]), order=(r[13], r[14], r[15]))


# -- queries -------------------------------------------------------------------------------
def of_mission(reads: ReadView, mission_id: str, *, catch_up: bool = True,
               deleted: bool = False) -> list[CheckpointInfo]:
    """A mission's checkpoints, newest first."""
    live = "" if deleted else " AND deleted = 0"
    return [_info(r) for r in reads.read(
        f"SELECT {COLUMNS} FROM checkpoints WHERE mission_id = ?{live} ORDER BY {_NEWEST}",
        (mission_id,), catch_up=catch_up)]


def every(reads: ReadView, *, catch_up: bool = True, deleted: bool = False,
          ) -> list[CheckpointInfo]:
    live = " WHERE deleted = 0" if not deleted else ""
    return [_info(r) for r in reads.read(
        f"SELECT {COLUMNS} FROM checkpoints{live} ORDER BY mission_id, {_NEWEST}",
        catch_up=catch_up)]


def by_prefix(reads: ReadView, prefix: str, *, catch_up: bool = True,
              ) -> list[CheckpointInfo]:
    return [_info(r) for r in reads.read(
        f"SELECT {COLUMNS} FROM checkpoints WHERE id >= ? AND id < ? ORDER BY id LIMIT 11",
        (prefix, prefix + "~"), catch_up=catch_up)]


def fired(reads: ReadView, mission_id: str, *, catch_up: bool = False) -> set[int]:
    return {r[0] for r in reads.read(
        "SELECT threshold FROM checkpoint_thresholds WHERE mission_id = ?", (mission_id,),
        catch_up=catch_up)}
