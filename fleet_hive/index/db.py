"""The SQLite index cache (``storage.md`` 8, 9): the only module that imports sqlite3.

``.fleet/.cache/index.sqlite`` (WAL) holds every event of the working tree with a local
``seq``. It is never a source of truth: every read first *catches up* with the segments on
disk, reading only new bytes of known segments and new segments.

- **seq is stable.** Numbers come from the seq ledger (:mod:`.ledger`, in ``.fleet/local/``):
  a rebuild or a new cache gives every event the number it had, and new events get numbers
  above every number ever handed out. A consumer that remembers the last ``seq`` it read
  never misses an event and never receives one twice.
- **Changed bytes are noticed.** A segment that shrank, was replaced (another inode), or
  changed without growing is checked against the fingerprints of the chunks already read;
  the rows of the part that still holds are kept, the rest is dropped and read again. An
  edit of bytes already read (the log is append-only) is an integrity problem, not a
  silent re-read.
- **Damage is said, never served.** Invalid lines, changed lines and segments git tracks
  but the working tree lost are kept in ``problems``; :attr:`Index.damage` gives them to
  every reader (the CLI prints a warning, ``status`` shows them). Each event row carries a
  checksum checked whenever it is read; a corrupt cache file or row is deleted, rebuilt from
  the log and the question asked again.
- **A cache that cannot be written** (full disk, read-only ``.fleet/``) is replaced, for the
  life of the process, by an index in memory read from the log (:attr:`Index.memory_reason`
  says why): reads keep working and nothing is deleted.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence

from ..events.envelope import Event
from ..events.segments import Line, ReadResult, iter_data_lines, iter_lines
from ..kernel import jsonload
from ..kernel.errors import StorageError
from ..kernel.jsonload import loads
from ..kernel.layout import Layout
from ..kernel.limits import check_page
from ..kernel.plain import Frozen, setfield
from ..kernel.typenames import TypeVar
from .ledger import Hasher, Record, SeqLedger, chunk_hash

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from .projection import Projection, ProjectionSpec, Row

    # (path relative to .fleet/events, path on disk, its stat or None if gone, its row if known)
    SegmentWork = tuple[str, Path | str, os.stat_result | None, Row | None]

SCHEMA_VERSION = "2"
TAIL = 64  # bytes before the consumed offset remembered to detect a rewritten prefix
#: A projection re-fold of this many streams or more is announced (~0.5 s of work and up).
ANNOUNCE_STREAMS = 5_000
BATCH_ROWS = 20_000
BUSY_RETRIES = (0.05, 0.2, 1.0)  # seconds between retries of a busy database
MAX_PROBLEMS_SHOWN = 20

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
TrackedSegments = Callable[[], "set[str] | None"]
_T = TypeVar("_T")

# sqlite primary result codes (https://sqlite.org/rescode.html)
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 3, 5, 6, 8, 10, 13, 14
_UNWRITABLE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                      errno.EIO}


class DamagedRow(Exception):
    """A stored row failed its checksum or does not decode: the cache is corrupt."""


class Damage(Frozen):
    """The integrity problems the index saw in the log (``count`` of them, the first few)."""

    __slots__ = _fields = ("count", "problems")
    count: int
    problems: list[dict[str, Any]]

    def __init__(self, count: int, problems: list[dict[str, Any]]) -> None:
        setfield(self, "count", count)
        setfield(self, "problems", problems)

    def summary(self) -> str:
        first = self.problems[0]
        where = f"{first['path']} line {first['line']}" if first.get("line") else first["path"]
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        return f"{where}: {first['message']}{more}"


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
        return [_event(seq, crc, raw) for seq, crc, raw in self._db.execute(
            "SELECT seq, crc, raw FROM events WHERE stream=? ORDER BY clock, writer, n",
            (stream,))]

    def iter_events(self, stream: str) -> Iterator[Event]:
        """:meth:`events`, read and decoded as they are consumed: a fold that stops early
        (a released lease) reads no further."""
        cursor = self._db.execute(
            "SELECT seq, crc, raw FROM events WHERE stream=? ORDER BY clock, writer, n",
            (stream,))
        try:
            while rows := cursor.fetchmany(64):
                for seq, crc, raw in rows:
                    yield _event(seq, crc, raw)
        finally:
            cursor.close()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    path TEXT PRIMARY KEY,      -- relative to .fleet/events
    consumed INTEGER NOT NULL,  -- bytes read into events
    seen_size INTEGER NOT NULL, -- file size at the last look
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    lines INTEGER NOT NULL,     -- complete lines in the consumed bytes
    tail BLOB NOT NULL          -- the TAIL bytes before `consumed`
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,    -- from the seq ledger
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
    crc INTEGER NOT NULL,       -- crc32 of raw, seeded with seq: checked on every read
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (  -- the live chunks of the seq ledger
    rel TEXT NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (rel, start)
);
CREATE TABLE IF NOT EXISTS problems (
    rel TEXT NOT NULL,
    off INTEGER NOT NULL,
    line INTEGER,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
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
_INSERT = ("INSERT INTO events (seq, id, type, stream, clock, writer, n, causation_id, "
           "correlation_id, segment, off, crc, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
           "ON CONFLICT(id) DO NOTHING")


class IndexStatus(Frozen):
    __slots__ = _fields = ("path", "events", "segments", "latest_seq", "fresh", "size_bytes",
                           "problems", "problem_count", "in_memory")
    path: str
    events: int
    segments: int
    latest_seq: int
    fresh: bool  # nothing on disk was waiting to be read
    size_bytes: int
    problems: list[dict[str, Any]]
    problem_count: int
    in_memory: str | None  # why the cache on disk is not used, if it is not

    def __init__(self, path: str, events: int, segments: int, latest_seq: int, fresh: bool,
                 size_bytes: int, problems: list[dict[str, Any]] | None = None,
                 problem_count: int = 0, in_memory: str | None = None) -> None:
        for name, value in (("path", path), ("events", events), ("segments", segments),
                            ("latest_seq", latest_seq), ("fresh", fresh),
                            ("size_bytes", size_bytes),
                            ("problems", [] if problems is None else problems),
                            ("problem_count", problem_count), ("in_memory", in_memory)):
            setfield(self, name, value)

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self._fields}


class Index:
    """The index cache of one repository. Open one per process (or thread)."""

    def __init__(self, layout: Layout, projections: Sequence[ProjectionSpec] = (), *,
                 tracked_segments: TrackedSegments | None = None,
                 notice: Callable[[str], None] | None = None) -> None:
        """``projections``: every capability's (from the composition root); each one's
        code is imported only when it is stale or one of its streams changed.
        ``tracked_segments``: the segment paths (relative to ``.fleet/events``) git tracks,
        or None without a git index; a tracked segment missing on disk is a problem.
        ``notice``: told, before it starts, of long work a command did not ask for (a
        projection of another version re-folded), so a person is not left waiting
        silently (the CLI prints it on stderr)."""
        self.layout = layout
        self.notice = notice
        self.specs = tuple(projections)
        self.path = layout.index_file  # a string: nothing on a read needs pathlib
        self.ledger = SeqLedger(layout.seq_ledger_file, layout.seq_lock_file)
        self._tracked = tracked_segments
        self._db: sqlite3.Connection | None = None
        self._projections: dict[str, Projection] = {}
        self._touched: set[str] = set()
        self._out: list[Record] = []  # ledger records of the open transaction
        self._removed = 0  # events the open transaction deleted (see _count_events)
        self._next_seq = 1
        self._ledger_failed = False
        #: Why this process answers from an index in memory (the cache cannot be written).
        self.memory_reason: str | None = None
        #: What happened to a cache file that was in the way (moved aside, deleted).
        self.notes: list[str] = []
        self._damage: Damage | None = None
        self._damage_known = False

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

    @property
    def opened(self) -> bool:
        """Whether this process has used the index (so there is something to report)."""
        return self._db is not None or self.memory_reason is not None

    def _open(self) -> sqlite3.Connection:
        if self.memory_reason is not None:
            return self._open_memory()
        try:
            os.makedirs(self.layout.cache_dir, exist_ok=True)
        except OSError as e:
            return self._to_memory(_describe(e, self.layout.cache_dir))
        for attempt in (1, 2):
            db = None
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA cell_size_check=ON")
                if self._schema_version(db) != SCHEMA_VERSION:
                    db.execute("BEGIN IMMEDIATE")
                    # Look again under the write lock: another process may have just made it.
                    version = self._schema_version(db)
                    if version != SCHEMA_VERSION:
                        if version == "1":
                            self._carry_over_v1(db)
                        for table in ("events", "segments", "meta", "chunks", "problems"):
                            db.execute(f"DROP TABLE IF EXISTS {table}")
                        _execute_all(db, _SCHEMA + _INDEXES)
                        db.execute("INSERT INTO meta VALUES ('schema', ?), ('event_count', '0')",
                                   (SCHEMA_VERSION,))
                    db.execute("COMMIT")
                return db
            except (sqlite3.DatabaseError, OSError) as e:
                if db is not None:
                    db.close()
                kind = self._kind(e)
                if kind == "busy":
                    raise StorageError(f"index cache busy: {e}", hint="retry") from e
                if kind == "unwritable":
                    return self._to_memory(_describe(e, self.path))
                if attempt == 2:
                    return self._to_memory(f"the cache stays unreadable ({e})")
                # Not a database, malformed, a directory: the cache is disposable.
                self._discard_files()
        raise AssertionError("unreachable")

    def _open_memory(self) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", isolation_level=None)
        _execute_all(db, _SCHEMA + _INDEXES)
        db.execute("INSERT INTO meta VALUES ('schema', ?), ('event_count', '0')",
                   (SCHEMA_VERSION,))
        return db

    def _to_memory(self, reason: str) -> sqlite3.Connection:
        self.memory_reason = reason
        self._damage_known = False
        return self._open_memory()

    @staticmethod
    def _schema_version(db: sqlite3.Connection) -> str | None:
        if not db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone():
            return None
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        return row[0] if row else None

    def _carry_over_v1(self, db: sqlite3.Connection) -> None:
        """An index of the first schema numbered events itself: write its numbers into the
        ledger (if there is none yet) so that the upgrade renumbers nothing."""
        if self.ledger.identity() is not None:
            return
        with contextlib.suppress(sqlite3.DatabaseError, OSError):
            rows = db.execute("SELECT segment, off, seq, raw FROM events ORDER BY segment, off")
            self._seed_ledger(rows)

    def _seed_ledger(self, rows: Iterable[Row]) -> None:
        """Write a ledger from stored rows ``(segment, off, seq, raw)`` in (segment, off)
        order: each run of adjacent lines with consecutive numbers is one chunk."""
        records: list[Record] = []
        high = 0
        run: list[Any] | None = None  # [rel, start, stop, first_seq, count, hasher]
        for rel, off, seq, raw in rows:
            high = max(high, seq + 1)
            if run is not None and run[0] == rel and run[2] == off and run[3] + run[4] == seq:
                run[2] += len(raw) + 1
                run[4] += 1
            else:
                if run is not None:
                    records.append(["i", *run[:5], run[5].hexdigest()])
                run = [rel, off, off + len(raw) + 1, seq, 1, Hasher()]
            run[5].line(bytes(raw))
        if run is not None:
            records.append(["i", *run[:5], run[5].hexdigest()])
        if records:
            self.ledger.rewrite([["h", high], *records])

    def _discard_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            path = f"{self.path}{suffix}"
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            except (IsADirectoryError, PermissionError):
                if not os.path.isdir(path):
                    raise
                aside = f"{path}.moved-aside-{time.time_ns()}"
                os.rename(path, aside)  # never delete what someone put there
                self.notes.append(f"a directory was in the place of the index cache; "
                                  f"moved it to {aside}")

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def _kind(self, e: BaseException) -> str:
        """What an error inside the cache means: ``busy``, ``unwritable`` or ``corrupt``."""
        if isinstance(e, (DamagedRow, jsonload.JSONDecodeError, sqlite3.IntegrityError)):
            return "corrupt"
        if isinstance(e, OSError):
            return "unwritable" if e.errno in _UNWRITABLE_ERRNOS else "corrupt"
        code = getattr(e, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(e).lower()
        if primary in (_BUSY, _LOCKED) or (isinstance(e, sqlite3.OperationalError)
                                           and ("locked" in text or "busy" in text)):
            return "busy"
        if primary == _CANTOPEN and os.path.isdir(self.path):
            return "corrupt"  # a directory in its place: moved aside, then rebuilt
        if primary in (_FULL, _READONLY, _PERM, _IOERR, _CANTOPEN) or "disk is full" in text:
            return "unwritable"
        return "corrupt"

    def _guard(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn``. A corrupt cache found on the way is deleted and rebuilt from the log
        before ``fn`` runs again; a cache that cannot be written is replaced by one in
        memory. A busy database (another process holding a lock past the busy timeout,
        or a WAL snapshot that went stale) is retried a few times, never taken for either.
        """
        error: BaseException | None = None
        for delay in (*BUSY_RETRIES, None):
            try:
                return fn()
            except (sqlite3.DatabaseError, DamagedRow, jsonload.JSONDecodeError, OSError) as e:
                if isinstance(e, OSError) and not self._cache_os_error(e):
                    raise
                if self._kind(e) != "busy":
                    error = e
                    break
                if delay is None:
                    raise StorageError(f"index cache busy: {e}", hint="retry") from e
                time.sleep(delay)
        assert error is not None
        self.close()
        kind = self._kind(error)
        try:
            if kind == "unwritable":
                if self.memory_reason is not None:
                    raise error
                self._db = self._to_memory(_describe(error, self.path))
            elif self.memory_reason is None:
                self._discard_files()
            self._damage_known = False
            self._catch_up(None)  # rebuild from the log before answering
            return fn()
        except (sqlite3.DatabaseError, DamagedRow, jsonload.JSONDecodeError, OSError) as e2:
            if isinstance(e2, OSError) and not self._cache_os_error(e2):
                raise
            raise StorageError(f"index cache unusable: {e2}",
                               hint="delete .fleet/.cache/ and retry") from e2

    def _cache_os_error(self, e: OSError) -> bool:
        """Whether an OSError is about the cache or the ledger (not about the log)."""
        name = e.filename if isinstance(e.filename, str) else ""
        return name.startswith((self.layout.cache_dir, self.layout.local_dir))

    # -- catching up ---------------------------------------------------------------------
    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def _git_signature(self) -> str:
        if self._tracked is None:
            return ""
        try:
            st = os.stat(self.layout.git_index_file)
        except OSError:
            return "none"
        return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def _plan(self) -> tuple[list[SegmentWork], set[str]]:
        """Segments whose state on disk differs from what the index has read, and every
        segment on disk."""
        known = {
            row[0]: row
            for row in self.db.execute(
                "SELECT path, consumed, seen_size, mtime_ns, ino, lines, tail FROM segments"
            )
        }
        work: list[SegmentWork] = []
        on_disk: set[str] = set()
        base = self.layout.events_dir
        for writer, name, path in self.layout.segment_files():
            rel = f"{writer}/{name}.jsonl"
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            on_disk.add(rel)
            row = known.pop(rel, None)
            if (row is None or row[2] != st.st_size or row[3] != st.st_mtime_ns
                    or row[4] != st.st_ino):
                work.append((rel, path, st, row))
        for rel, row in known.items():  # gone from disk
            work.append((rel, os.path.join(base, rel), None, row))
        return work, on_disk

    def catch_up(self, progress: Progress | None = None) -> int:
        """Ingest whatever changed on disk; returns the number of events added."""
        added = self._guard(lambda: self._catch_up(progress))
        if not self._damage_known:
            self._damage = self._guard(self._read_damage)
            self._damage_known = True
        return added

    def catch_up_appended(self) -> int:
        """:meth:`catch_up` right after this process appended (the write path, under the
        writer lock): there is something to read, so the look for it outside the write
        transaction is skipped (the one inside it decides, as always)."""
        added = self._guard(lambda: self._catch_up(None, appended=True))
        if not self._damage_known:
            self._damage = self._guard(self._read_damage)
            self._damage_known = True
        return added

    def _catch_up(self, progress: Progress | None, *, bulk: bool = False,
                  appended: bool = False) -> int:
        git_sig = self._git_signature()
        if not (bulk or appended):
            meta = self._meta()
            stale = self._stale_projections(meta)
            work, _ = self._plan()
            if not work and not stale and git_sig == meta.get("git_index", ""):
                return 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # one catcher-up at a time, across processes
        try:
            self._touched = set()
            self._removed = 0
            added = 0
            with self._ledger_lock():  # one numbering for every index of this clone
                self._out = []
                meta = self._meta()
                self._sync_ledger(meta)
                if bulk:  # one transaction: readers see the old rows until it commits
                    for table in ("events", "segments", "problems"):
                        db.execute(f"DROP TABLE {table}")  # fast, unlike DELETE with indexes
                    _execute_all(db, _SCHEMA)
                    db.execute("CREATE UNIQUE INDEX events_id ON events(id)")
                    db.execute("DELETE FROM meta WHERE key LIKE 'projection:%' OR "
                               "key='git_index'")
                work, on_disk = self._plan()  # again, under the write lock
                total = sum(st.st_size for _, _, st, _ in work if st is not None)
                done = [0]
                for rel, path, st, row in work:
                    added += self._sync_segment(rel, path, st, row, progress, done, total)
                if any(st is None or row is None for _, _, st, row in work) or (
                        git_sig != meta.get("git_index", "")):
                    self._check_missing(on_disk, git_sig)
                self._flush_ledger()
            if bulk:
                _execute_all(db, _INDEXES)
            self._count_events(meta, added, bulk)
            # the projection keys of meta change only in a rebuild (above) or a refresh
            stale = self._stale_projections(self._meta() if bulk else meta)
            self._refresh_projections(stale, announce=not bulk)
            damage = self._read_damage()  # in this transaction: no read of its own after
            db.execute("COMMIT")
            self._damage, self._damage_known = damage, True
            return added
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        finally:
            self._touched = set()
            self._out = []

    def _count_events(self, meta: dict[str, str], added: int, bulk: bool) -> None:
        """Keep the number of events the index holds in ``meta`` as catch-ups change it
        (``status`` reports it; counting a million rows takes 20 ms or more). An index
        made before this was kept counts once, here."""
        known = "0" if bulk else meta.get("event_count")
        if known is None:
            (count,) = self.db.execute("SELECT COUNT(*) FROM events").fetchone()
        else:
            count = int(known) + added - self._removed
        self._set_meta(event_count=count)

    # -- the seq ledger --------------------------------------------------------------------
    @contextlib.contextmanager
    def _ledger_lock(self) -> Iterator[None]:
        try:
            self.ledger.lock.acquire()
        except StorageError as e:
            if self.memory_reason is None:
                if isinstance(e.__cause__, OSError):
                    raise e.__cause__ from None  # the guard answers from memory
                raise
            self._ledger_failed = True  # read-only: nobody can number anything meanwhile
            yield
            return
        try:
            yield
        finally:
            self.ledger.lock.release()

    def _sync_ledger(self, meta: dict[str, str]) -> None:
        """Bring the ``chunks`` table in line with the ledger file (other indexes of this
        clone, or an earlier life of this one, may have numbered chunks)."""
        db = self.db
        high = int(meta.get("seq_high", "1"))
        (max_seq,) = db.execute("SELECT MAX(seq) FROM events").fetchone()
        high = max(high, (max_seq or 0) + 1)
        ident = self.ledger.identity()
        pos = int(meta.get("ledger_pos", "0"))
        reload = False
        if ident is None:
            if max_seq is not None and not self._ledger_failed:
                with contextlib.suppress(OSError):  # the ledger was deleted: write it again
                    self._seed_ledger(db.execute(
                        "SELECT segment, off, seq, raw FROM events ORDER BY segment, off"))
                ident = self.ledger.identity()
            if ident is None:
                self._next_seq = high
                return
            reload = True  # a new file, which may even have the old one's inode number
        if reload or str(ident[0]) != meta.get("ledger_ino") or ident[1] < pos:
            db.execute("DELETE FROM chunks")  # a rewritten ledger: read it whole
            pos = 0
        if ident[1] > pos:
            records, end = self.ledger.read(pos)
            for record in records:
                if record[0] == "i":
                    db.execute("INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?)",
                               record[1:7])
                    high = max(high, record[4] + record[5])
                elif record[0] == "d":
                    db.execute("DELETE FROM chunks WHERE rel=? AND start>=?", record[1:3])
                else:
                    high = max(high, record[1])
            self._set_meta(ledger_pos=end, ledger_ino=ident[0])
        self._next_seq = high

    def _record(self, record: Record) -> None:
        self._out.append(record)
        if record[0] == "i":
            self.db.execute("INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?)", record[1:7])
        else:
            self.db.execute("DELETE FROM chunks WHERE rel=? AND start>=?", record[1:3])

    def _flush_ledger(self) -> None:
        self._set_meta(seq_high=self._next_seq)
        if not self._out or self._ledger_failed:
            return
        try:
            size = self.ledger.append(self._out)
        except OSError:
            if self.memory_reason is None:
                raise  # the guard answers from memory (the numbers stay provisional)
            self._ledger_failed = True
            return
        ident = self.ledger.identity()
        self._set_meta(ledger_pos=size, ledger_ino=ident[0] if ident else "")

    def _set_meta(self, **values: Any) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            [(k, str(v)) for k, v in values.items()])

    # -- segments --------------------------------------------------------------------------
    def _sync_segment(self, rel: str, path: Path | str, st: os.stat_result | None,
                      row: Row | None, progress: Progress | None, done: list[int],
                      total: int) -> int:
        db = self.db
        if st is None:  # the segment is gone (checkout, reset): its events are too
            self._drop_from(rel, 0)
            db.execute("DELETE FROM segments WHERE path=?", (rel,))
            return 0
        start, lines = 0, 0
        if row is not None:
            consumed, seen_size, mtime_ns, ino, known_lines, tail = row[1:7]
            rewritten = ino != st.st_ino or (st.st_size == seen_size
                                             and st.st_mtime_ns != mtime_ns)
            if (not rewritten and st.st_size >= consumed
                    and _read_at(path, consumed - len(tail), len(tail)) == tail):
                start, lines = consumed, known_lines
            else:
                start, lines = self._verify_prefix(rel, path)
        added, end, lines = self._read_segment(rel, path, start, lines, progress, done, total)
        tail = _read_at(path, max(0, end - TAIL), min(end, TAIL))
        db.execute("INSERT OR REPLACE INTO segments VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (rel, end, st.st_size, st.st_mtime_ns, st.st_ino, lines, tail))
        return added

    def _chunks(self, rel: str, start: int = 0) -> list[Row]:
        return self.db.execute(
            "SELECT start, stop, first_seq, count, hash FROM chunks WHERE rel=? AND start>=? "
            "ORDER BY start", (rel, start)).fetchall()

    def _verify_prefix(self, rel: str, path: Path | str) -> tuple[int, int]:
        """The segment shrank, was replaced or changed in place: keep the rows of the
        longest prefix that still holds, drop the rest. Returns (offset, lines) to read on
        from. Bytes that changed (not merely cut off) are an integrity problem."""
        keep_end = lines = 0
        for start, stop, first, count, digest in self._chunks(rel):
            if start != keep_end:
                break
            data = _read_at(path, start, stop - start)
            if len(data) == stop - start and chunk_hash(data) == digest:
                keep_end, lines = stop, lines + count
                continue
            # This chunk changed or was cut: keep its lines that still match, one by one.
            kept, end, changed = 0, start, len(data) == stop - start
            for seq, off, raw in self.db.execute(
                    "SELECT seq, off, raw FROM events WHERE segment=? AND off>=? AND off<? "
                    "ORDER BY off", (rel, start, stop)):
                piece = data[off - start: off - start + len(raw) + 1]
                if off != end or seq != first + kept or piece != bytes(raw) + b"\n":
                    changed = changed or len(piece) == len(raw) + 1
                    break
                kept, end = kept + 1, off + len(raw) + 1
            if kept:
                self._record(["i", rel, start, end, first, kept, chunk_hash(data[:end - start])])
            keep_end, lines = end, lines + kept
            if changed:
                self._problem(rel, keep_end, lines + 1, "changed",
                              "bytes already read were changed; the log is append-only "
                              "(restore the segment with `git checkout -- PATH`)")
            break
        self._drop_from(rel, keep_end)
        return keep_end, lines

    def _drop_from(self, rel: str, offset: int) -> None:
        """Forget the events of ``rel`` from byte ``offset`` on: if those bytes come back,
        they are new to consumers and get new numbers."""
        db = self.db
        self._touched.update(r[0] for r in db.execute(
            "SELECT DISTINCT stream FROM events WHERE segment=? AND off >= ?", (rel, offset)))
        before = db.total_changes
        db.execute("DELETE FROM events WHERE segment=? AND off >= ?", (rel, offset))
        self._removed += db.total_changes - before
        db.execute("DELETE FROM problems WHERE rel=? AND off >= ? AND kind='invalid_line'",
                   (rel, offset))
        if db.execute("SELECT 1 FROM chunks WHERE rel=? AND start>=? LIMIT 1",
                      (rel, offset)).fetchone():
            self._record(["d", rel, offset])

    def _read_segment(self, rel: str, path: Path | str, pos: int, lines: int,
                      progress: Progress | None, done: list[int], total: int,
                      ) -> tuple[int, int, int]:
        """Read ``rel`` from ``pos`` on: first the chunks the ledger numbered (same bytes,
        same numbers), then the new bytes (new numbers). Returns (added, end, lines)."""
        added = 0
        for start, stop, first, count, digest in self._chunks(rel, pos):
            if start > pos:  # lines no chunk covers (an older index skipped them)
                a, c, pos = self._read_new(rel, path, pos, lines, start)
                added, lines = added + a, lines + c
            data = _read_at(path, start, stop - start)
            if len(data) != stop - start or chunk_hash(data) != digest:
                if len(data) == stop - start:
                    self._problem(rel, start, lines + 1, "changed",
                                  "bytes numbered before were changed; the log is "
                                  "append-only (restore the segment with `git checkout`)")
                self._record(["d", rel, start])
                break
            added += self._ingest(rel, iter_data_lines(data), start, first, lines)[0]
            if progress is not None:
                done[0] += len(data)
                progress(done[0], total)
            lines, pos = lines + count, stop
        a, c, end = self._read_new(rel, path, pos, lines, None, progress, done, total)
        return added + a, end, lines + c

    def _read_new(self, rel: str, path: Path | str, pos: int, lines: int, stop: int | None,
                  progress: Progress | None = None, done: list[int] | None = None,
                  total: int = 0) -> tuple[int, int, int]:
        """Number and ingest the complete lines from ``pos`` (to the end, or to ``stop``)
        and record them as a chunk. Returns (added, lines, end offset)."""
        hasher = Hasher()
        first = self._next_seq
        if stop is None:
            result = ReadResult(pos)
            added, count = self._ingest(rel, iter_lines(path, pos, result), 0, first, lines,
                                        hasher, progress, done, total)
            end = result.end
        else:
            added, count = self._ingest(rel, iter_data_lines(_read_at(path, pos, stop - pos)),
                                        pos, first, lines, hasher)
            end = stop
        if end > pos:
            self._record(["i", rel, pos, end, first, count, hasher.hexdigest()])
            self._next_seq = first + count
        return added, count, end

    def _ingest(self, rel: str, lines: Iterable[Line], base: int, first_seq: int,
                line0: int, hasher: Hasher | None = None, progress: Progress | None = None,
                done: list[int] | None = None, total: int = 0) -> tuple[int, int]:
        """Store lines, the ``i``-th numbered ``first_seq + i``; returns (added, lines)."""
        rows: list[Row] = []
        added = count = 0
        last_off = base
        for line in lines:
            off = base + line.offset
            if hasher is not None:
                hasher.line(line.raw)
            seq = first_seq + count
            count += 1
            ev = line.event
            if ev is None:
                self._problem(rel, off, line0 + count, "invalid_line",
                              line.problem or "not a valid event")
                continue
            self._touched.add(ev["stream"])
            rows.append((seq, ev["id"], ev["type"], ev["stream"], ev["clock"], ev["writer"],
                         ev["n"], ev.get("causation_id"), ev.get("correlation_id"), rel, off,
                         _crc(seq, line.raw), line.raw))
            if len(rows) >= BATCH_ROWS:
                added += self._flush(rows)
                rows = []
                if progress is not None and done is not None:
                    done[0] += off - last_off
                    last_off = off
                    progress(done[0], total)
        added += self._flush(rows)
        return added, count

    def _flush(self, rows: list[Row]) -> int:
        if not rows:
            return 0
        before = self.db.total_changes
        self.db.executemany(_INSERT, rows)
        return self.db.total_changes - before

    # -- problems --------------------------------------------------------------------------
    def _problem(self, rel: str, off: int, line: int | None, kind: str, message: str) -> None:
        if kind == "changed":  # one per segment: the first change found
            self.db.execute("DELETE FROM problems WHERE rel=? AND kind='changed'", (rel,))
        self.db.execute("INSERT INTO problems VALUES (?, ?, ?, ?, ?)",
                        (rel, off, line, kind, message))

    def _check_missing(self, on_disk: set[str], git_sig: str) -> None:
        """Segments git tracks that the working tree lost (deleted by hand)."""
        tracked = self._tracked() if self._tracked is not None else None
        self.db.execute("DELETE FROM problems WHERE kind='missing_segment'")
        for rel in sorted((tracked or set()) - on_disk):
            self._problem(rel, 0, None, "missing_segment",
                          "committed segment missing from the working tree; its events are "
                          "not in any answer (restore it with `git checkout -- PATH`)")
        self._set_meta(git_index=git_sig)

    def _read_damage(self) -> Damage | None:
        (count,) = self.db.execute("SELECT COUNT(*) FROM problems").fetchone()
        if not count:
            return None
        events = os.path.relpath(self.layout.events_dir, self.layout.root_dir)
        rows = self.db.execute(
            "SELECT rel, line, kind, message FROM problems ORDER BY rel, off LIMIT ?",
            (MAX_PROBLEMS_SHOWN,)).fetchall()
        return Damage(count, [{"code": kind, "path": f"{events}/{rel}", "line": line,
                               "message": message} for rel, line, kind, message in rows])

    @property
    def damage(self) -> Damage | None:
        """The integrity problems seen in the log (None if none), as of the last catch-up."""
        if not self._damage_known:
            self.catch_up()
        return self._damage

    # -- projections -----------------------------------------------------------------------
    def _stale_projections(self, meta: dict[str, str]) -> list[ProjectionSpec]:
        return [p for p in self.specs if meta.get(f"projection:{p.name}") != p.version]

    def _refresh_projections(self, stale: list[ProjectionSpec], *, announce: bool = True,
                             ) -> None:
        """Inside the write transaction: rebuild stale projections, refresh touched streams
        (``announce``: a re-fold of :data:`ANNOUNCE_STREAMS` streams or more is told to
        :attr:`notice` first)."""
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
                if announce and self.notice is not None and len(streams) >= ANNOUNCE_STREAMS:
                    self.notice(f"updating the index's {spec.name} tables for this version of "
                                f"fleet-hive: {len(streams):,} streams to fold, once")
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           (f"projection:{spec.name}", spec.version))
            else:
                streams = {s for s in self._touched if spec.wants(s)}
            if streams:
                self.projection(spec).refresh(view, streams)

    # -- rebuilding ------------------------------------------------------------------------
    def rebuild(self, progress: Progress | None = None) -> int:
        """Forget every row and read the whole log again. Events keep their ``seq``
        (the ledger's numbers); the ledger is compacted afterwards."""

        def run() -> int:
            db = self.db
            db.execute("PRAGMA synchronous=OFF")
            try:
                added = self._catch_up(progress, bulk=True)
            finally:
                db.execute("PRAGMA synchronous=NORMAL")
            self._compact_ledger()
            return added

        added = self._guard(run)
        self._damage_known = False
        return added

    def _compact_ledger(self) -> None:
        """Rewrite the ledger as the live chunks, adjacent ones merged (a chunk per append
        adds up to one per event over time)."""
        if self.memory_reason is not None or self._ledger_failed:
            return
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            with self._ledger_lock():
                self._sync_ledger(self._meta())
                rows = db.execute("SELECT rel, start, stop, first_seq, count, hash FROM chunks "
                                  "ORDER BY rel, start").fetchall()
                merged: list[list[Any]] = []
                for rel, start, stop, first, count, digest in rows:
                    last = merged[-1] if merged else None
                    if (last is not None and last[0] == rel and last[2] == start
                            and last[3] + last[4] == first):
                        last[2], last[4], last[5] = stop, last[4] + count, None
                    else:
                        merged.append([rel, start, stop, first, count, digest])
                records: list[Record] = [["h", self._next_seq]]
                for rel, start, stop, first, count, digest in merged:
                    if digest is None:
                        digest = chunk_hash(_read_at(
                            os.path.join(self.layout.events_dir, rel), start, stop - start))
                    records.append(["i", rel, start, stop, first, count, digest])
                size = self.ledger.rewrite(records)
                ident = self.ledger.identity()
                db.execute("DELETE FROM chunks")
                db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)",
                               [r[1:7] for r in records[1:]])
                self._set_meta(ledger_pos=size, ledger_ino=ident[0] if ident else "")
            db.execute("COMMIT")
        except OSError:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")  # compaction is an optimisation: the ledger stands
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    # -- queries -------------------------------------------------------------------------
    def query(self, *, stream: str | None = None, type: str | None = None,
              causation_id: str | None = None, correlation_id: str | None = None,
              after: int | None = None, limit: int | None = None, offset: int = 0,
              order: str = "seq", catch_up: bool = True) -> list[Event]:
        """Events matching every given filter, by ``seq`` or in total order (``"total"``)."""
        check_page(limit=limit, offset=offset, after=after)
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
        sql = "SELECT seq, crc, raw FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ("clock, writer, n" if order == "total" else "seq")
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += [-1 if limit is None else limit, offset]
        return self._guard(lambda: [_event(*row) for row in self.db.execute(sql, args)])

    def iter_all(self, *, after: int = 0, chunk: int = 10_000) -> Iterator[Event]:
        """Every event by seq, streamed in chunks (for folds over the whole log)."""
        self.catch_up()
        last = after

        def page(start: int) -> list[Event]:
            return [_event(*row) for row in self.db.execute(
                "SELECT seq, crc, raw FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (start, chunk))]

        while events := self._guard(lambda: page(last)):  # noqa: B023 (called at once)
            yield from events
            last = events[-1].seq or last

    @contextlib.contextmanager
    def consistent(self) -> Iterator[None]:
        """Caught up, then one read transaction: every :meth:`read` inside (with
        ``catch_up=False``) sees the same state of the index, whatever other processes
        append and catch up meanwhile (SQLite's WAL keeps this snapshot)."""
        self.catch_up()
        db = self.db
        db.execute("BEGIN")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("COMMIT")

    def read(self, sql: str, args: Sequence[Any] = (), *, catch_up: bool = True,
             decode: Callable[[list[Row]], _T] | None = None) -> Any:
        """Rows of a read-only query on projection tables, after catching up. ``decode``
        turns them into objects inside the guard: a row that does not decode is damage,
        and the question is asked again of a rebuilt cache."""
        if catch_up:
            self.catch_up()

        def run() -> Any:
            rows = self.db.execute(sql, args).fetchall()
            if decode is None:
                return rows
            try:
                return decode(rows)
            except (ValueError, KeyError, TypeError) as e:
                raise DamagedRow(f"a stored row does not decode: {e}") from e

        return self._guard(run)

    def get(self, event_id: str) -> Event | None:
        self.catch_up()
        row = self._guard(lambda: self.db.execute(
            "SELECT seq, crc, raw FROM events WHERE id=?", (event_id,)).fetchone())
        return self._guard(lambda: _event(*row)) if row else None

    def latest_seq(self, catch_up: bool = True) -> int:
        if catch_up:
            self.catch_up()
        row = self._guard(lambda: self.db.execute("SELECT MAX(seq) FROM events").fetchone())
        return row[0] or 0

    def status(self) -> IndexStatus:
        fresh = self._guard(lambda: not self._plan()[0])
        self.catch_up()
        events, segments = self._guard(lambda: self.db.execute(
            "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = "
            "'event_count'), (SELECT COUNT(*) FROM events)), (SELECT COUNT(*) FROM segments)"
        ).fetchone())
        size = 0
        if self.memory_reason is None:
            for suffix in ("", "-wal"):
                with contextlib.suppress(OSError):
                    size += os.path.getsize(f"{self.path}{suffix}")
        damage = self.damage
        return IndexStatus(str(self.path), events, segments, self.latest_seq(False), fresh,
                           size, damage.problems if damage else [],
                           damage.count if damage else 0, self.memory_reason)

    def quick_check(self) -> str | None:
        """SQLite's own check of the cache file; the problem found, or None."""
        if self.memory_reason is not None:
            return None
        try:
            rows = self.db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            return str(e)
        return None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])

    def discard(self) -> None:
        """Delete the cache files (they are rebuilt on the next read)."""
        self.close()
        if self.memory_reason is None:
            self._discard_files()
        self._damage_known = False


def _crc(seq: int, raw: bytes) -> int:
    return zlib.crc32(raw, seq & 0xFFFFFFFF)


def _event(seq: int, crc: int, raw: bytes) -> Event:
    if _crc(seq, raw) != crc:
        raise DamagedRow(f"stored event {seq} fails its checksum")
    return Event.from_dict(loads(raw), seq)


def _describe(e: BaseException, path: Path | str) -> str:
    """A one-line reason why the cache cannot be written."""
    if isinstance(e, OSError):
        name = e.filename or path
        if e.errno == errno.ENOSPC:
            return f"no space left on device ({name})"
        return f"{e.strerror or e} ({name})"
    text = str(e)
    if "full" in text.lower():
        return f"no space left on device ({path})"
    return f"{text} ({path})"


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
