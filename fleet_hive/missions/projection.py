"""Missions and sorties in the index: tables re-folded from the log after each catch-up.

Reads (``ready``, lists, ``show``) query these tables and never fold the log. Each row
keeps the whole folded state as JSON (``doc``) next to the columns queries filter and
sort on. The index calls :meth:`MissionProjection.refresh` with the streams that gained or
lost events; each is re-folded from its events in total order, so the tables always equal
a fold of the log, even after a merge brought events older than ones already applied.
"""

from __future__ import annotations

import os
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
PARALLEL_MIN = 20_000  # more streams than this (a rebuild) are folded on two cores
PARALLEL_CHUNK = 300  # streams per chunk this process folds while the child folds its own
CHILD_CHUNK = 900  # streams per chunk handed to the folding child (measured best at 1M)

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


def _mission_result(stream: str, events: list[Event]) -> tuple:
    m = fold_mission(events)
    mission_id = stream.split(":", 1)[1]
    return (mission_id, None, []) if m is None else (mission_id, mission_row(m), list(m.labels))


def _sortie_result(stream: str, events: list[Event]) -> tuple:
    s = fold_sortie(events)
    sortie_id = stream.split(":", 1)[1]
    if s is None:
        return (sortie_id, None, [], None)
    return (sortie_id, sortie_row(s), list(s.depends_on), s.mission_id)


def _fold_raw(stream: str, rows: list[tuple[int, bytes]]) -> tuple:
    """Fold one stream from its raw index rows: ``(kind, *result)``."""
    events = [Event.from_dict(orjson.loads(raw), seq) for seq, raw in rows]
    if stream.startswith("mission:"):
        return ("mission", *_mission_result(stream, events))
    return ("sortie", *_sortie_result(stream, events))


def _raw_streams(iterate: Callable[[str, Sequence[Any]], Iterable[tuple]],
                 streams: set[str]) -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """Each wanted stream with its raw rows in total order, from one range scan per kind."""
    for prefix in sorted({s.split(":", 1)[0] + ":" for s in streams}):
        current: str | None = None
        rows: list[tuple[int, bytes]] = []
        for stream, seq, raw in iterate(
                "SELECT stream, seq, raw FROM events WHERE stream >= ? AND stream < ? "
                "ORDER BY stream, clock, writer, n", (prefix, prefix[:-1] + ";")):
            if stream != current:
                if current in streams:
                    yield current, rows
                current, rows = stream, []
            rows.append((seq, raw))
        if current in streams:
            yield current, rows


def _fold_worker(conn: Any) -> None:
    """In a forked child: fold each chunk of raw streams it is sent, answer with the results."""
    while (chunk := conn.recv()) is not None:
        conn.send([_fold_raw(stream, rows) for stream, rows in chunk])
    conn.close()


def fold_in_parallel(iterate: Callable[[str, Sequence[Any]], Iterable[tuple]],
                     streams: set[str], write: Callable[[list[tuple]], None]) -> bool:
    """Fold many streams on two cores, handing each chunk's results to ``write``.

    This process reads the index and folds every other chunk of streams; a forked child
    folds the others from the raw rows it is sent (it never touches SQLite). At most one
    chunk is at the child at a time, so memory stays flat and neither side can block the
    other. Used when a rebuild re-folds tens of thousands of streams, where folding in
    Python is most of the time. Returns False if the child could not be started or died:
    the caller then folds everything sequentially, rewriting whatever was written here.
    """
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=_fold_worker, args=(theirs,), daemon=True)
        child.start()
    except (ValueError, OSError):
        return False
    theirs.close()
    try:
        outstanding = False
        chunk: list[tuple[str, list[tuple[int, bytes]]]] = []
        turn = 0
        for item in _raw_streams(iterate, streams):
            chunk.append(item)
            # the child's chunks are larger: this process also reads and writes the index
            if len(chunk) < (CHILD_CHUNK if turn % 2 else PARALLEL_CHUNK):
                continue
            if turn % 2:
                if outstanding:
                    write(mine.recv())
                mine.send(chunk)
                outstanding = True
            else:
                write([_fold_raw(s, rows) for s, rows in chunk])
            turn += 1
            chunk = []
        write([_fold_raw(s, rows) for s, rows in chunk])
        if outstanding:
            write(mine.recv())
        mine.send(None)
        child.join()
        return child.exitcode == 0
    except (EOFError, OSError):
        # The child died: whatever was written is rewritten by the sequential fold.
        child.kill()
        child.join()
        return False
    except BaseException:
        child.kill()
        child.join()
        raise
    finally:
        mine.close()


class MissionProjection:
    """The :class:`fleet_hive.index.Projection` of missions and sorties."""

    name = "missions"
    version = "2"
    ddl = DDL
    tables = TABLES

    def wants(self, stream: str) -> bool:
        return wants(stream)

    def refresh(self, view: Any, streams: set[str]) -> None:
        if len(streams) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:

            def write(folded: list[tuple]) -> None:
                missions = [r[1:] for r in folded if r[0] == "mission"]
                sorties = [r[1:] for r in folded if r[0] == "sortie"]
                if missions:
                    self._write_missions(view, missions)
                if sorties:
                    self._write_sorties(view, sorties)

            if fold_in_parallel(view.iterate, streams, write):
                return
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
            self._write_missions(view, [_mission_result(stream, events)
                                        for stream, events in chunk])

    def _refresh_sorties(self, view: Any, streams: Iterable[str]) -> None:
        for chunk in _chunks(load_streams(view.execute, list(streams), view.iterate)):
            self._write_sorties(view, [_sortie_result(stream, events)
                                       for stream, events in chunk])

    def _write_missions(self, view: Any, results: list[tuple]) -> None:
        """Replace the rows of these missions with ``(id, row or None, labels)``."""
        self._replace(view, "missions", "id", [r[0] for r in results])
        self._replace(view, "mission_labels", "mission_id", [r[0] for r in results])
        view.executemany("INSERT INTO missions VALUES (?,?,?,?,?,?,?,?,?)",
                         [r[1] for r in results if r[1] is not None])
        view.executemany("INSERT OR IGNORE INTO mission_labels VALUES (?,?)",
                         [(label, r[0]) for r in results for label in r[2]])

    def _write_sorties(self, view: Any, results: list[tuple]) -> None:
        """Replace the rows of these sorties with ``(id, row or None, deps, mission_id)``."""
        ids = [r[0] for r in results]
        marks = ",".join("?" * len(ids))
        touched = {r[0] for r in view.execute(
            f"SELECT DISTINCT mission_id FROM sorties WHERE id IN ({marks})", ids)}
        touched.update(r[3] for r in results if r[1] is not None)
        self._replace(view, "sorties", "id", ids)
        self._replace(view, "sortie_deps", "sortie_id", ids)
        view.executemany("INSERT INTO sorties VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                         [r[1] for r in results if r[1] is not None])
        view.executemany("INSERT OR IGNORE INTO sortie_deps VALUES (?,?)",
                         [(r[0], d) for r in results for d in r[2]])
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
