"""The reservation tables of the index, and every query on them.

State is derived from the reservation events alone (``storage.md`` 12): the index keeps
it in these tables so that ``lock check`` and ``lock list`` answer from SQLite without
loading pydantic or the log's writer. Queries take a :class:`ReadView`; inside a unit of
work they pass ``catch_up=False`` (the unit of work has just caught the index up).

``reservations`` holds every lease whose stream has no release or expiry event yet,
including lapsed ones (``expires`` in the past) until a write records their expiry;
readers compare ``expires`` with the time. ``reservation_waits`` holds open waits.
``reservation_digest`` holds one number: the XOR of a 64-bit hash of every row of
``reservations`` (:func:`fingerprint`). It changes whenever a row does, so
the lock manifest can tell in one query whether its copy is current (:mod:`.manifest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..kernel.digest import blake2b
from ..kernel.jsondump import dumps
from ..kernel.jsonload import loads
from .fold import fold_reservation, fold_wait
from .model import REQUEST_STREAM, RESERVATION_STREAM, Reservation, Wait, literal_prefix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..index.projection import ProjectionTables, ReadView

COLUMNS = ("id, path, holder, mode, acquired_at, expires_at, reason, ttl, request_id, "
           "event_id, expires, clock, writer, n")  # the fields of Reservation, in order
WAIT_COLUMNS = ("request_id, holder, paths, mode, waits_for, started_at, until, clock, writer, "
                "n, pid, host, pid_start")
_CHUNK = 500  # ids per IN (...) query


class ReservationProjection:
    """Index tables of the leases and waits that have not ended (ended ones are deleted)."""

    # name, version and stream prefixes are declared in the capability list
    tables = ("reservations", "reservation_waits", "reservation_digest")
    ddl = """
    CREATE TABLE IF NOT EXISTS reservations (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        holder TEXT NOT NULL,
        mode TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        reason TEXT,
        ttl REAL NOT NULL,
        request_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        expires REAL NOT NULL,
        clock INTEGER NOT NULL,     -- (clock, writer, n) of reservation_acquired
        writer TEXT NOT NULL,
        n INTEGER NOT NULL,
        prefix TEXT NOT NULL,       -- literal_prefix(path): prunes the overlap tests
        h INTEGER NOT NULL          -- fingerprint(row): folded into reservation_digest
    );
    CREATE INDEX IF NOT EXISTS reservations_prefix ON reservations(prefix);
    CREATE INDEX IF NOT EXISTS reservations_path ON reservations(path);
    CREATE INDEX IF NOT EXISTS reservations_holder ON reservations(holder);
    CREATE INDEX IF NOT EXISTS reservations_expires ON reservations(expires);
    CREATE TABLE IF NOT EXISTS reservation_waits (
        request_id TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        paths TEXT NOT NULL,
        mode TEXT NOT NULL,
        waits_for TEXT NOT NULL,
        started_at TEXT NOT NULL,
        until REAL NOT NULL,
        clock INTEGER NOT NULL,
        writer TEXT NOT NULL,
        n INTEGER NOT NULL,
        pid INTEGER,                -- the waiting process, on host (see Wait)
        host TEXT,
        pid_start INTEGER
    );
    CREATE TABLE IF NOT EXISTS reservation_digest (
        k INTEGER PRIMARY KEY CHECK (k = 0),
        d INTEGER NOT NULL
    )
    """

    def refresh(self, view: ProjectionTables, streams: set[str]) -> None:
        delta = 0
        for stream in streams:
            kind, _, key = stream.partition(":")
            if kind == RESERVATION_STREAM:
                # read lazily: the fold ends at the lease's release, however long the stream
                r = fold_reservation(view.iter_events(stream))
                ids = (key,) if r is None or r.id == key else (key, r.id)
                for rid in ids:  # a row replaced or removed leaves the digest
                    for (h,) in view.execute("SELECT h FROM reservations WHERE id=?", (rid,)):
                        delta ^= h
                    view.execute("DELETE FROM reservations WHERE id=?", (rid,))
                if r is not None:
                    row = reservation_row(r)
                    delta ^= row[-1]
                    view.execute(f"INSERT INTO reservations ({COLUMNS}, prefix, h) "
                                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            elif kind == REQUEST_STREAM:
                view.execute("DELETE FROM reservation_waits WHERE request_id=?", (key,))
                w = fold_wait(view.events(stream))
                if w is not None:
                    view.execute(f"INSERT OR REPLACE INTO reservation_waits ({WAIT_COLUMNS}) "
                                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", wait_row(w))
        if delta:
            old = view.execute("SELECT d FROM reservation_digest WHERE k = 0")
            view.execute("INSERT OR REPLACE INTO reservation_digest VALUES (0, ?)",
                         ((old[0][0] if old else 0) ^ delta,))


PROJECTION = ReservationProjection()


def reservation_row(r: Reservation) -> tuple[Any, ...]:
    """The ``reservations`` row of a lease: its fields, literal prefix and fingerprint."""
    return (r.id, r.path, r.holder, r.mode, r.acquired_at, r.expires_at, r.reason, r.ttl,
            r.request_id, r.event_id, r.expires, r.clock, r.writer, r.n, literal_prefix(r.path),
            fingerprint(r))


def wait_row(w: Wait) -> tuple[Any, ...]:

    return (w.request_id, w.holder, dumps(list(w.paths), indent=False).decode(), w.mode,
            dumps(list(w.waits_for), indent=False).decode(), w.started_at, w.until, *w.order, w.pid,
            w.host, w.pid_start)



def fingerprint(r: Reservation) -> int:
    """A signed 64-bit hash of every field of ``r`` (it fits an SQLite INTEGER).

    XOR-ed over all rows it identifies the live state whatever the order of the rows; 64
    bits make two different states agreeing by chance negligible."""
    raw = dumps([r.id, r.path, r.holder, r.mode, r.acquired_at, r.expires_at, r.reason,
                 r.ttl, r.request_id, r.event_id, r.expires], indent=False)
    return int.from_bytes(blake2b(raw, digest_size=8).digest(), "big", signed=True)


def digest_of(rows: Iterable[Reservation]) -> int:
    """What ``reservation_digest`` holds for a table of exactly ``rows``."""
    d = 0
    for r in rows:
        d ^= fingerprint(r)
    return d


# --------------------------------------------------------------------------- queries


def rows(reads: ReadView, where: str = "", args: Sequence[Any] = (), *,
         catch_up: bool = True) -> list[Reservation]:
    """Leases whose stream has not ended (live or lapsed), optionally filtered."""
    sql = f"SELECT {COLUMNS} FROM reservations"
    if where:
        sql += f" WHERE {where}"
    return [Reservation(*row) for row in reads.read(sql, args, catch_up=catch_up)]


def candidates(reads: ReadView, paths: Sequence[str], now: float, *, catch_up: bool = True,
               ) -> list[Reservation]:
    """The rows that may overlap ``paths`` (by :func:`literal_prefix`), and every lapsed
    one (a write records their expiry)."""
    where, args = prefix_filter(paths)
    return rows(reads, f"expires <= ? OR {where}", [now, *args], catch_up=catch_up)


def live(reads: ReadView, now: float, holder: str | None = None, *, catch_up: bool = True,
         ) -> list[Reservation]:
    """Leases that count at ``now`` (optionally one holder's), unordered."""
    if holder is None:
        return rows(reads, "expires > ?", (now,), catch_up=catch_up)
    return rows(reads, "expires > ? AND holder = ?", (now, holder), catch_up=catch_up)


def of_paths(reads: ReadView, paths: Sequence[str], *, catch_up: bool = True,
             ) -> list[Reservation]:
    """Rows reserving exactly these patterns (by anyone)."""
    return [r for chunk in _chunks(paths) for r in rows(
        reads, f"path IN ({','.join('?' * len(chunk))})", chunk, catch_up=catch_up)]


def of_holder(reads: ReadView, holder: str, *, catch_up: bool = True) -> list[Reservation]:
    return rows(reads, "holder = ?", (holder,), catch_up=catch_up)


def by_ids(reads: ReadView, ids: Iterable[str], *, catch_up: bool = True) -> list[Reservation]:
    return [r for chunk in _chunks(sorted(set(ids))) for r in rows(
        reads, f"id IN ({','.join('?' * len(chunk))})", chunk, catch_up=catch_up)]


def lapsed(reads: ReadView, now: float, *, catch_up: bool = True) -> list[Reservation]:
    return rows(reads, "expires <= ?", (now,), catch_up=catch_up)


def any_lapsed(reads: ReadView, now: float) -> bool:
    return bool(reads.read("SELECT 1 FROM reservations WHERE expires <= ? LIMIT 1", (now,)))


def digest(reads: ReadView, *, catch_up: bool = True) -> int:
    """The fingerprint of the whole ``reservations`` table (0 when it is empty)."""
    found = reads.read("SELECT d FROM reservation_digest WHERE k = 0", catch_up=catch_up)
    return found[0][0] if found else 0


def waits(reads: ReadView, now: float, *, catch_up: bool = True) -> list[Wait]:
    """Wait records that still count at ``now``, oldest first."""
    found = reads.read(f"SELECT {WAIT_COLUMNS} FROM reservation_waits WHERE until > ? "
                       "ORDER BY clock, writer, n", (now,), catch_up=catch_up)
    return [Wait(r[0], r[1], tuple(loads(r[2])), r[3], tuple(loads(r[4])), r[5],
                 r[6], (r[7], r[8], r[9]), r[10], r[11], r[12]) for r in found]


def wait_order(reads: ReadView, request_id: str, *, catch_up: bool = True,
               ) -> tuple[int, str, int] | None:
    """The (clock, writer, n) of a request's recorded wait, if it has one."""
    found = reads.read("SELECT clock, writer, n FROM reservation_waits WHERE request_id=?",
                       (request_id,), catch_up=catch_up)
    return (found[0][0], found[0][1], found[0][2]) if found else None


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


# --------------------------------------------------------------------------- prefixes


_MAX_CHAR = chr(0x10FFFF)


def prefix_filter(paths: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL (on ``prefix``) keeping every row that may overlap one of ``paths``."""
    ancestors: set[str] = set()
    ranges: list[str] = []
    for p in paths:
        prefix = literal_prefix(p)
        if not prefix:
            return "1", []  # a pattern that starts with a wildcard may meet anything
        ancestors.add("")
        at = prefix.find("/")
        while at != -1:
            ancestors.add(prefix[: at + 1])
            at = prefix.find("/", at + 1)
        ranges.append(prefix)
    sql = f"prefix IN ({','.join('?' * len(ancestors))})"
    args: list[Any] = sorted(ancestors)
    for r in ranges:
        sql += " OR (prefix > ? AND prefix < ?)"
        args += [r, r + _MAX_CHAR]
    return sql, args
