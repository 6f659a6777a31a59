"""The SQLite index cache (``storage.md`` 8, 9): the only module that imports sqlite3.

``.fleet/.cache/index.sqlite`` (WAL) holds every event of the working tree with a local
``seq`` that only grows. It is never a source of truth: every read first *catches up* with
the segments on disk, reading only new bytes of known segments and new segments. A segment
that shrank or changed (checkout, reset) has its rows dropped from the point where it
diverged and re-read; a segment that disappeared has its rows dropped. A corrupt or foreign
cache file is deleted and rebuilt. ``seq`` is AUTOINCREMENT, so even rows that were dropped
and re-read get new, higher numbers: a consumer that remembers the last seq it saw never
misses an event ingested later.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from ..events.envelope import Event
from ..events.segments import Line, ReadResult, iter_lines
from ..kernel.errors import InvalidInputError, StorageError
from ..kernel.layout import Layout

if TYPE_CHECKING:
    from .projection import Projection, ProjectionSpec, Row

    # (path relative to .fleet/events, path on disk, its stat or None if gone, its row if known)
    SegmentWork = tuple[str, Path | str, os.stat_result | None, Row | None]

SCHEMA_VERSION = "1"
TAIL = 64  # bytes before the consumed offset remembered to detect a rewritten prefix
BATCH_ROWS = 20_000
BUSY_RETRIES = (0.05, 0.2, 1.0)  # seconds between retries of a busy database

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
_T = TypeVar("_T")



class ProjectionView:
    """What a projection may do inside the index's write transaction
    (:class:`~fleet_hive.index.projection.ProjectionTables`)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return self._db.execute(sql, args).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def iterate(self, sql: str, args: Sequence[Any] = ()) -> Iterator[Row]:
        """Rows of a query, streamed (for scans too large to fetch at once)."""
        cursor = self._db.execute(sql, args)
        try:
            while rows := cursor.fetchmany(2_000):
                yield from rows
        finally:
            cursor.close()

    def events(self, stream: str) -> list[Event]:
        """The events of one stream in total order (clock, writer, n)."""
        return [Event.from_dict(orjson.loads(raw), seq) for seq, raw in self._db.execute(
            "SELECT seq, raw FROM events WHERE stream=? ORDER BY clock, writer, n", (stream,))]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    path TEXT PRIMARY KEY,      -- relative to .fleet/events
    consumed INTEGER NOT NULL,  -- bytes read into events
    seen_size INTEGER NOT NULL, -- file size at the last look
    mtime_ns INTEGER NOT NULL,
    tail BLOB NOT NULL          -- the TAIL bytes before `consumed`
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    stream TEXT NOT NULL,
    clock INTEGER NOT NULL,
    writer TEXT NOT NULL,
    n INTEGER NOT NULL,
    causation_id TEXT,
    correlation_id TEXT,
    segment TEXT NOT NULL,
    off INTEGER NOT NULL,
    raw BLOB NOT NULL
);
"""

_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events(id);
CREATE INDEX IF NOT EXISTS events_stream ON events(stream, clock, writer, n);
CREATE INDEX IF NOT EXISTS events_type ON events(type, seq);
CREATE INDEX IF NOT EXISTS events_causation ON events(causation_id) WHERE causation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_correlation ON events(correlation_id)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_segment ON events(segment, off);
CREATE INDEX IF NOT EXISTS events_order ON events(clock, writer, n);
"""


@dataclass(frozen=True)
class IndexStatus:
    path: str
    events: int
    segments: int
    latest_seq: int
    fresh: bool  # nothing on disk was waiting to be read
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class Index:
    """The index cache of one repository. Open one per process (or thread)."""

    def __init__(self, layout: Layout, projections: Sequence[ProjectionSpec] = ()) -> None:
        """``projections``: every capability's (from the composition root); each one's
        code is imported only when it is stale or one of its streams changed."""
        self.layout = layout
        self.specs = tuple(projections)
        self.path = layout.index
        self._db: sqlite3.Connection | None = None
        self._projections: dict[str, Projection] = {}
        self._touched: set[str] = set()

    def projection(self, spec: ProjectionSpec) -> Projection:
        """The code of one projection, imported on first use."""
        loaded = self._projections.get(spec.name)
        if loaded is None:
            module, _, attr = spec.target.partition(":")
            loaded = self._projections[spec.name] = getattr(importlib.import_module(module),
                                                            attr)
        return loaded

    # -- connection ----------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.layout.cache.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):
            db = None
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                if self._schema_version(db) != SCHEMA_VERSION:
                    db.execute("BEGIN IMMEDIATE")
                    # Look again under the write lock: another process may have just made it.
                    if self._schema_version(db) != SCHEMA_VERSION:
                        for table in ("events", "segments", "meta"):
                            db.execute(f"DROP TABLE IF EXISTS {table}")
                        _execute_all(db, _SCHEMA + _INDEXES)
                        db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                    db.execute("COMMIT")
                return db
            except sqlite3.DatabaseError as e:
                if db is not None:
                    db.close()
                if _busy(e):
                    raise StorageError(f"index cache busy: {e}", hint="retry") from e
                # Not a database, malformed, or an incompatible file: the cache is disposable.
                if attempt == 2:
                    raise StorageError(
                        f"cannot open the index cache {self.path}: {e}",
                        hint="delete .fleet/.cache/ and retry",
                    ) from e
                self._discard_files()
        raise AssertionError("unreachable")

    @staticmethod
    def _schema_version(db: sqlite3.Connection) -> str | None:
        if not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone():
            return None
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        return row[0] if row else None

    def _discard_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _guard(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn``; a corrupt cache found on the way is deleted, rebuilt, and ``fn`` rerun.

        A busy database (another process holding a lock past the busy timeout, or a WAL
        snapshot that went stale) is retried a few times and never mistaken for corruption.
        """
        for delay in BUSY_RETRIES:
            try:
                return fn()
            except sqlite3.DatabaseError as e:
                if not _busy(e):
                    break
                time.sleep(delay)
        else:
            try:
                return fn()
            except sqlite3.DatabaseError as e:
                if _busy(e):
                    raise StorageError(f"index cache busy: {e}", hint="retry") from e
        self.close()
        self._discard_files()
        try:
            return fn()
        except sqlite3.DatabaseError as e2:
            raise StorageError(f"index cache unusable: {e2}",
                               hint="delete .fleet/.cache/ and retry") from e2

    # -- catching up ---------------------------------------------------------------------
    def _plan(self) -> list[SegmentWork]:
        """Segments whose state on disk differs from what the index has read."""
        known = {
            row[0]: row
            for row in self.db.execute(
                "SELECT path, consumed, seen_size, mtime_ns, tail FROM segments"
            )
        }
        work: list[SegmentWork] = []
        base = self.layout.events
        for writer, name, path in self.layout.segment_files():
            rel = f"{writer}/{name}.jsonl"
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            row = known.pop(rel, None)
            if row is None or row[2] != st.st_size or row[3] != st.st_mtime_ns:
                work.append((rel, path, st, row))
        for rel, row in known.items():  # gone from disk
            work.append((rel, base / rel, None, row))
        return work

    def catch_up(self, progress: Progress | None = None) -> int:
        """Ingest whatever changed on disk; returns the number of events added."""
        return self._guard(lambda: self._catch_up(progress))

    def _catch_up(self, progress: Progress | None) -> int:
        stale = self._stale_projections()
        if not self._plan() and not stale:
            return 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # one catcher-up at a time, across processes
        try:
            self._touched = set()
            work = self._plan()  # again, under the write lock
            total = sum(st.st_size for _, _, st, _ in work if st is not None)
            done = [0]
            added = 0
            for rel, path, st, row in work:
                added += self._sync_segment(rel, path, st, row, progress, done, total)
            self._refresh_projections(self._stale_projections())
            db.execute("COMMIT")
            return added
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            self._touched = set()

    def _stale_projections(self) -> list[ProjectionSpec]:
        if not self.specs:
            return []
        versions = dict(self.db.execute(
            "SELECT key, value FROM meta WHERE key LIKE 'projection:%'").fetchall())
        return [p for p in self.specs if versions.get(f"projection:{p.name}") != p.version]

    def _refresh_projections(self, stale: list[ProjectionSpec]) -> None:
        """Inside the write transaction: rebuild stale projections, refresh touched streams."""
        db = self.db
        view = ProjectionView(db)
        all_streams: list[str] | None = None
        for spec in self.specs:
            if spec in stale:
                p = self.projection(spec)
                for table in p.tables:
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                _execute_all(db, p.ddl)
                if all_streams is None:
                    all_streams = [r[0] for r in db.execute("SELECT DISTINCT stream FROM events")]
                streams = {s for s in all_streams if spec.wants(s)}
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           (f"projection:{spec.name}", spec.version))
            else:
                streams = {s for s in self._touched if spec.wants(s)}
            if streams:
                self.projection(spec).refresh(view, streams)

    def _sync_segment(self, rel: str, path: Path | str, st: os.stat_result | None,
                      row: Row | None, progress: Progress | None, done: list[int],
                      total: int) -> int:
        db = self.db
        if st is None:  # the segment is gone (checkout, reset): its events are too
            self._touch_from(rel, 0)
            db.execute("DELETE FROM events WHERE segment=?", (rel,))
            db.execute("DELETE FROM segments WHERE path=?", (rel,))
            return 0
        start = 0
        if row is not None:
            consumed, tail = row[1], row[4]
            if st.st_size >= consumed and _read_at(path, consumed - len(tail), len(tail)) == tail:
                start = consumed
            else:
                start = self._diverged(rel, path, st.st_size)
        result = ReadResult(start)
        added = self._ingest(rel, iter_lines(path, start, result), progress, done, total, start)
        end = result.end
        tail = _read_at(path, max(0, end - TAIL), min(end, TAIL))
        db.execute(
            "INSERT OR REPLACE INTO segments VALUES (?, ?, ?, ?, ?)",
            (rel, end, st.st_size, st.st_mtime_ns, tail),
        )
        return added

    def _diverged(self, rel: str, path: Path | str, size: int) -> int:
        """The segment was rewritten or shrank: keep the rows of the prefix that still holds."""
        db = self.db
        keep_end = 0
        for off, raw in db.execute(
            "SELECT off, raw FROM events WHERE segment=? AND off + length(raw) + 1 <= ? "
            "ORDER BY off DESC LIMIT 1",
            (rel, size),
        ):
            if _read_at(path, off, len(raw) + 1) == bytes(raw) + b"\n":
                keep_end = off + len(raw) + 1
        self._touch_from(rel, keep_end)
        db.execute("DELETE FROM events WHERE segment=? AND off >= ?", (rel, keep_end))
        return keep_end

    def _touch_from(self, rel: str, offset: int) -> None:
        self._touched.update(r[0] for r in self.db.execute(
            "SELECT DISTINCT stream FROM events WHERE segment=? AND off >= ?", (rel, offset)))

    def _ingest(self, rel: str, lines: Iterable[Line], progress: Progress | None, done: list[int],
                total: int, start: int) -> int:
        rows: list[Row] = []
        added = 0
        last_off = start
        sql = (
            "INSERT OR IGNORE INTO events (id, type, stream, clock, writer, n, causation_id, "
            "correlation_id, segment, off, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        )
        for line in lines:
            ev = line.event
            if ev is None:
                continue  # invalid lines are skipped here and reported by `verify`
            self._touched.add(ev["stream"])
            rows.append((ev["id"], ev["type"], ev["stream"], ev["clock"], ev["writer"], ev["n"],
                         ev.get("causation_id"), ev.get("correlation_id"), rel, line.offset,
                         line.raw))
            if len(rows) >= BATCH_ROWS:
                added += self._flush(sql, rows)
                if progress is not None:
                    done[0] += line.offset - last_off
                    last_off = line.offset
                    progress(done[0], total)
                rows = []
        added += self._flush(sql, rows)
        return added

    def _flush(self, sql: str, rows: list[Row]) -> int:
        if not rows:
            return 0
        before = self.db.total_changes
        self.db.executemany(sql, rows)
        return self.db.total_changes - before

    def rebuild(self, progress: Progress | None = None) -> int:
        """Forget everything and read the whole log again (seq keeps growing)."""

        def run() -> int:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM events")
                db.execute("DELETE FROM segments")
                db.execute("DELETE FROM meta WHERE key LIKE 'projection:%'")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return self._bulk_load(progress)

        return self._guard(run)

    def _bulk_load(self, progress: Progress | None) -> int:
        db = self.db
        db.execute("PRAGMA synchronous=OFF")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for name in ("events_stream", "events_type", "events_causation",
                             "events_correlation", "events_segment", "events_order"):
                    db.execute(f"DROP INDEX IF EXISTS {name}")
                work = self._plan()
                total = sum(st.st_size for _, _, st, _ in work if st is not None)
                done = [0]
                self._touched = set()
                added = sum(self._sync_segment(rel, p, st, row, progress, done, total)
                            for rel, p, st, row in work)
                _execute_all(db, _INDEXES)
                self._refresh_projections(self._stale_projections())
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            db.execute("PRAGMA synchronous=NORMAL")
        if progress is not None:
            progress(total, total)
        return added

    # -- queries -------------------------------------------------------------------------
    def query(self, *, stream: str | None = None, type: str | None = None,
              causation_id: str | None = None, correlation_id: str | None = None,
              after: int | None = None, limit: int | None = None, offset: int = 0,
              order: str = "seq", catch_up: bool = True) -> list[Event]:
        """Events matching every given filter, by ``seq`` or in total order (``"total"``)."""
        if (limit is not None and limit < 0) or offset < 0:
            raise InvalidInputError("limit and offset must not be negative")
        if catch_up:
            self.catch_up()
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("stream", stream), ("type", type),
                              ("causation_id", causation_id), ("correlation_id", correlation_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if after is not None:
            where.append("seq > ?")
            args.append(after)
        sql = "SELECT seq, raw FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ("clock, writer, n" if order == "total" else "seq")
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, offset]
        rows = self._guard(lambda: self.db.execute(sql, args).fetchall())
        return [Event.from_dict(orjson.loads(raw), seq) for seq, raw in rows]

    def iter_all(self, *, after: int = 0, chunk: int = 10_000) -> Iterator[Event]:
        """Every event by seq, streamed in chunks (for folds over the whole log)."""
        self.catch_up()
        last = after
        while True:
            rows = self.db.execute(
                "SELECT seq, raw FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (last, chunk)
            ).fetchall()
            if not rows:
                return
            for seq, raw in rows:
                yield Event.from_dict(orjson.loads(raw), seq)
            last = rows[-1][0]

    def read(self, sql: str, args: Sequence[Any] = (), *, catch_up: bool = True,
             ) -> list[Row]:
        """Rows of a read-only query on projection tables, after catching up."""
        if catch_up:
            self.catch_up()
        return self._guard(lambda: self.db.execute(sql, args).fetchall())

    def get(self, event_id: str) -> Event | None:
        self.catch_up()
        row = self.db.execute("SELECT seq, raw FROM events WHERE id=?", (event_id,)).fetchone()
        return Event.from_dict(orjson.loads(row[1]), row[0]) if row else None

    def latest_seq(self, catch_up: bool = True) -> int:
        if catch_up:
            self.catch_up()
        row = self._guard(lambda: self.db.execute("SELECT MAX(seq) FROM events").fetchone())
        return row[0] or 0

    def status(self) -> IndexStatus:
        fresh = self._guard(lambda: not self._plan())
        self.catch_up()
        events, segments = self.db.execute(
            "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM segments)"
        ).fetchone()
        size = sum(
            os.path.getsize(f"{self.path}{s}") for s in ("", "-wal")
            if os.path.exists(f"{self.path}{s}")
        )
        return IndexStatus(str(self.path), events, segments, self.latest_seq(False), fresh, size)


def _busy(e: sqlite3.DatabaseError) -> bool:
    text = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _read_at(path: Path | str, offset: int, length: int) -> bytes:
    if length <= 0 or offset < 0:
        return b"" if length <= 0 else b"\x00"  # impossible offset: never matches a real tail
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _execute_all(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the current transaction (executescript would commit)."""
    for stmt in script.split(";"):
        if stmt.strip():
            db.execute(stmt)
