"""The ``specialists`` table of the index, and the queries on it. Each
``specialist:<name>`` stream that changed is re-folded whole (heartbeats are coalesced,
so a stream gains at most a few events a minute)."""

from __future__ import annotations

from ..kernel.jsondump import compact_text
from ..kernel.jsonload import loads
from .fold import Record, fold_specialist
from .model import STREAM, stream_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ProjectionTables, ReadView

COLUMNS = "name, capabilities, registered_at, registered_by, last_seen"
_ALL = f"{COLUMNS}, stream"


class SpecialistProjection:
    tables = ("specialists",)
    ddl = """
    CREATE TABLE IF NOT EXISTS specialists (
        name TEXT PRIMARY KEY,
        capabilities TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        registered_by TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        stream TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS specialists_stream ON specialists(stream)
    """

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        for stream in streams:
            if stream.partition(":")[0] != STREAM:
                continue
            record = fold_specialist(view.iter_events(stream))
            view.execute("DELETE FROM specialists WHERE stream = ?", (stream,))
            if record is not None and stream_of(record[0]) == stream:
                view.execute("DELETE FROM specialists WHERE name = ?", (record[0],))
                view.execute(f"INSERT INTO specialists ({_ALL}) VALUES (?, ?, ?, ?, ?, ?)",
                             (*row(record), stream))


PROJECTION = SpecialistProjection()


def stream_of(name: str) -> str:
    return f"{STREAM}:{stream_key(name)}"


def row(r: Record) -> tuple[Any, ...]:
    return (r[0], compact_text(r[1], ensure_ascii=True), r[2], r[3], r[4])


def _decode(rows: list[Any]) -> list[Record]:
    return [(r[0], list(loads(r[1])), r[2], r[3], r[4]) for r in rows]


def get(reads: ReadView, name: str, *, catch_up: bool = True) -> Record | None:
    found: list[Record] = reads.read(f"SELECT {COLUMNS} FROM specialists WHERE name = ?",
                                     (name,), catch_up=catch_up, decode=_decode)
    return found[0] if found else None


def every(reads: ReadView, *, catch_up: bool = True) -> list[Record]:
    out: list[Record] = reads.read(f"SELECT {COLUMNS} FROM specialists ORDER BY name",
                                   catch_up=catch_up, decode=_decode)
    return out
