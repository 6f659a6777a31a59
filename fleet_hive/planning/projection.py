"""The ``plans`` table of the index (one row per planned mission) and its queries."""

from __future__ import annotations

from .fold import fold_plan
from .model import STREAM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ProjectionTables, ReadView


class PlanProjection:
    # name, version and streams are declared in the capability list (app/capabilities.py)
    tables = ("plans",)
    ddl = """
    CREATE TABLE IF NOT EXISTS plans (
        mission_id TEXT PRIMARY KEY,
        strategy TEXT NOT NULL,
        planner TEXT NOT NULL,
        doc BLOB NOT NULL
    ) WITHOUT ROWID
    """

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        from ..kernel.jsondump import dumps

        for stream in streams:
            kind, _, mission_id = stream.partition(":")
            if kind != STREAM:
                continue
            record = fold_plan(view.events(stream))
            view.execute("DELETE FROM plans WHERE mission_id = ?", (mission_id,))
            if record is not None and record["mission_id"] == mission_id:
                view.execute("INSERT INTO plans VALUES (?, ?, ?, ?)",
                             (mission_id, record["strategy"], record["planner"],
                              dumps(record, indent=False)))


PROJECTION = PlanProjection()


def _decode(rows: list[Any]) -> list[Any]:
    from ..kernel.jsonload import loads

    return [(loads(r[0]), *r[1:]) for r in rows]


def plan_of(reads: ReadView, mission_id: str, *, catch_up: bool = True,
            ) -> dict[str, Any] | None:
    """``{"task", "strategy", "planner", "features", "sorties": {sortie_id: {"files"}},
    ...}`` of a planned mission; None for a mission not made from a plan."""
    rows = reads.read("SELECT doc FROM plans WHERE mission_id = ?", (mission_id,),
                      catch_up=catch_up, decode=_decode)
    return rows[0][0] if rows else None


def every(reads: ReadView, *, catch_up: bool = True) -> dict[str, dict[str, Any]]:
    return {r[0]["mission_id"]: r[0] for r in reads.read(
        "SELECT doc FROM plans ORDER BY mission_id", catch_up=catch_up, decode=_decode)}
