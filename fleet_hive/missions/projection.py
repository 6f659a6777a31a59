"""Missions and sorties in the index: tables re-folded from the log after each catch-up.

Reads (``ready``, lists, ``show``) query these tables and never fold the log. Each row
keeps the whole folded state as JSON (``doc``) next to the columns queries filter and
sort on. The index calls :meth:`MissionProjection.refresh` with the streams that gained or
lost events; each is re-folded from its events in total order, so the tables always equal
a fold of the log, even after a merge brought events older than ones already applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import orjson

from ..events.envelope import Event
from .fold import fold_mission, fold_sortie
from .model import Mission, Sortie

TABLES = ("missions", "mission_labels", "mission_counts", "sorties", "sortie_deps")

DDL = """
CREATE TABLE IF NOT EXISTS missions (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    ord_clock INTEGER NOT NULL,
    ord_writer TEXT NOT NULL,
    ord_n INTEGER NOT NULL,
    open_conflicts INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS missions_order ON missions(priority, ord_clock, ord_writer, ord_n);
CREATE TABLE IF NOT EXISTS mission_labels (
    label TEXT NOT NULL,
    mission_id TEXT NOT NULL,
    PRIMARY KEY (label, mission_id)
);
CREATE INDEX IF NOT EXISTS mission_labels_mission ON mission_labels(mission_id);
CREATE TABLE IF NOT EXISTS mission_counts (
    mission_id TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (mission_id, status)
);
CREATE TABLE IF NOT EXISTS sorties (
    id TEXT PRIMARY KEY,
    mission_id TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    claimed_by TEXT,
    deleted INTEGER NOT NULL,
    ord_clock INTEGER NOT NULL,
    ord_writer TEXT NOT NULL,
    ord_n INTEGER NOT NULL,
    open_conflicts INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sorties_mission ON sorties(mission_id, ord_clock, ord_writer, ord_n);
CREATE INDEX IF NOT EXISTS sorties_status ON sorties(status, priority, ord_clock, ord_writer,
                                                      ord_n);
CREATE TABLE IF NOT EXISTS sortie_deps (
    sortie_id TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    PRIMARY KEY (sortie_id, depends_on)
);
CREATE INDEX IF NOT EXISTS sortie_deps_target ON sortie_deps(depends_on)
"""

CHUNK = 500  # streams per query while re-folding
SCAN_THRESHOLD = 2_000  # more streams than this are read with one range scan

Execute = Callable[[str, Sequence[Any]], list[tuple]]


def wants(stream: str) -> bool:
    """Streams of missions and sorties (ids ``m-...``, ``s-...``); others, such as a
    hand-made ``mission:x`` stream of notes, are not folded."""
    return stream.startswith(("mission:m-", "sortie:s-"))



def load_streams(execute: Execute, streams: Sequence[str],
                 iterate: Callable[[str, Sequence[Any]], Iterable[tuple]] | None = None,
                 ) -> Iterator[tuple[str, list[Event]]]:
    """``(stream, events in total order)`` for each of ``streams`` (sorted).

    A few streams are read with ``IN`` lists, in chunks; many (a rebuild) with one ordered
    range scan per stream kind, streamed, which avoids thousands of index probes.
    """
    ordered = sorted(streams)
    if iterate is not None and len(ordered) > SCAN_THRESHOLD:
        wanted = set(ordered)
        for prefix in sorted({s.split(":", 1)[0] + ":" for s in ordered}):
            current: str | None = None
            events: list[Event] = []
            for stream, seq, raw in iterate(
                "SELECT stream, seq, raw FROM events WHERE stream >= ? AND stream < ? "
                "ORDER BY stream, clock, writer, n", (prefix, prefix[:-1] + ";")):
                if stream != current:
                    if current is not None and current in wanted:
                        yield current, events
                    current, events = stream, []
                if stream in wanted:
                    events.append(Event.from_dict(orjson.loads(raw), seq))
            if current is not None and current in wanted:
                yield current, events
        return
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        marks = ",".join("?" * len(chunk))
        grouped: dict[str, list[Event]] = {s: [] for s in chunk}
        for stream, seq, raw in execute(
            f"SELECT stream, seq, raw FROM events WHERE stream IN ({marks}) "
            "ORDER BY stream, clock, writer, n", chunk):
            grouped[stream].append(Event.from_dict(orjson.loads(raw), seq))
        yield from grouped.items()


def mission_row(m: Mission) -> tuple:
    return (m.id, m.status, m.priority, int(m.deleted), *m.order, len(m.open_conflicts),
            orjson.dumps(m.to_doc()))


def sortie_row(s: Sortie) -> tuple:
    return (s.id, s.mission_id, s.status, s.priority, s.claimed_by, int(s.deleted), *s.order,
            len(s.open_conflicts), orjson.dumps(s.to_doc()))


class MissionProjection:
    """The :class:`fleet_hive.index.Projection` of missions and sorties."""

    name = "missions"
    version = "2"
    ddl = DDL
    tables = TABLES

    def wants(self, stream: str) -> bool:
        return wants(stream)

    def refresh(self, view: Any, streams: set[str]) -> None:
        missions = [s for s in streams if s.startswith("mission:")]
        sorties = [s for s in streams if s.startswith("sortie:")]
        self._refresh_missions(view, missions)
        self._refresh_sorties(view, sorties)

    @staticmethod
    def _replace(view: Any, table: str, key: str, ids: list[str]) -> None:
        marks = ",".join("?" * len(ids))
        view.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", ids)

    def _refresh_missions(self, view: Any, streams: Iterable[str]) -> None:
        for chunk in _chunks(load_streams(view.execute, list(streams), view.iterate)):
            ids = [stream.split(":", 1)[1] for stream, _ in chunk]
            self._replace(view, "missions", "id", ids)
            self._replace(view, "mission_labels", "mission_id", ids)
            rows, labels = [], []
            for _, events in chunk:
                m = fold_mission(events)
                if m is None:
                    continue
                rows.append(mission_row(m))
                labels.extend((label, m.id) for label in m.labels)
            view.executemany("INSERT INTO missions VALUES (?,?,?,?,?,?,?,?,?)", rows)
            view.executemany("INSERT OR IGNORE INTO mission_labels VALUES (?,?)", labels)

    def _refresh_sorties(self, view: Any, streams: Iterable[str]) -> None:
        for chunk in _chunks(load_streams(view.execute, list(streams), view.iterate)):
            ids = [stream.split(":", 1)[1] for stream, _ in chunk]
            marks = ",".join("?" * len(ids))
            touched = {r[0] for r in view.execute(
                f"SELECT DISTINCT mission_id FROM sorties WHERE id IN ({marks})", ids)}
            self._replace(view, "sorties", "id", ids)
            self._replace(view, "sortie_deps", "sortie_id", ids)
            rows, deps = [], []
            for _, events in chunk:
                s = fold_sortie(events)
                if s is None:
                    continue
                rows.append(sortie_row(s))
                deps.extend((s.id, d) for d in s.depends_on)
                touched.add(s.mission_id)
            view.executemany("INSERT INTO sorties VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            view.executemany("INSERT OR IGNORE INTO sortie_deps VALUES (?,?)", deps)
            self._count(view, sorted(touched))

    def _count(self, view: Any, mission_ids: list[str]) -> None:
        """Recount the live sorties of these missions by status (for progress)."""
        for i in range(0, len(mission_ids), CHUNK):
            chunk = mission_ids[i:i + CHUNK]
            marks = ",".join("?" * len(chunk))
            self._replace(view, "mission_counts", "mission_id", chunk)
            view.execute(f"INSERT INTO mission_counts SELECT mission_id, status, COUNT(*) "
                         f"FROM sorties WHERE deleted = 0 AND mission_id IN ({marks}) "
                         "GROUP BY mission_id, status", chunk)


def _chunks(items: Iterable[tuple[str, list[Event]]], size: int = CHUNK,
            ) -> Iterator[list[tuple[str, list[Event]]]]:
    chunk: list[tuple[str, list[Event]]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


PROJECTION = MissionProjection()
