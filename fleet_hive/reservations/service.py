"""File reservations (CTK locks): acquire, release, renew, expire, conflicts, deadlocks.

A *reservation* is a lease of one path or glob (``src/auth/**``) by a named *holder*,
``exclusive`` (a writer: conflicts with any overlapping reservation of another holder) or
``shared`` (a reader: conflicts only with overlapping exclusive ones), until ``expires_at``.
Overlap is exact, pattern against pattern (:func:`fleet_hive.kernel.globs.overlaps`).

State is derived from the reservation events alone (``storage.md`` 12); the index keeps it
in two projection tables (:class:`ReservationProjection`) so that ``lock check`` and
``lock list`` answer from SQLite without loading pydantic or the log's writer. Every
decision that writes (acquire, release, renew, sweeping expired leases) runs under the
log's writer lock: catch the index up, read the current reservations, decide, append; so
two processes can never both be granted conflicting reservations.

Expiry is lazy: a lease stops counting the moment its ``expires_at`` passes, whether or not
anything is written. The first write that observes a lapsed lease records a
``reservation_expired`` event for the audit trail (once: the event ends the lease's stream).

A request that has to ``wait`` records a ``reservation_waiting`` event (bounded by its own
``until``) and polls with a backoff of 20 to 200 ms. Waiters and holders form a wait-for
graph; the wait that would close a cycle (A waits for B while B waits for A) is refused at
once with the cycle named, so two agents never wait for each other until they time out.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..kernel import globs
from ..kernel.clock import epoch, iso
from ..kernel.errors import ConflictError, InvalidInputError, NotFoundError, TimeoutExpiredError

if TYPE_CHECKING:
    from ..app.hive import Hive
    from ..events.envelope import Event
    from ..index.db import ProjectionView

EXCLUSIVE = "exclusive"
SHARED = "shared"
DEFAULT_TTL = 3600.0  # seconds; agents renew while they work
MAX_TTL = 365 * 24 * 3600.0
MAX_HOLDER = 200
RESERVATION_STREAM = "reservation"  # reservation:<id>, one lease
REQUEST_STREAM = "reservation_request"  # reservation_request:<id>, one acquire that waited/failed
BACKOFF_START = 0.02  # seconds between looks while waiting, growing ...
BACKOFF_MAX = 0.2  # ... up to this
BACKOFF_FACTOR = 1.5


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Reservation:
    """One live lease (as the projection holds it)."""

    id: str
    path: str  # normalized path or glob
    holder: str
    mode: str  # "exclusive" | "shared"
    acquired_at: str
    expires_at: str
    reason: str | None
    ttl: float
    request_id: str
    event_id: str  # the reservation_acquired event: the causation of what follows
    expires: float  # expires_at as epoch seconds

    @property
    def stream(self) -> str:
        return f"{RESERVATION_STREAM}:{self.id}"

    def conflicts_with(self, path: str, mode: str) -> bool:
        """Would a ``mode`` reservation of ``path`` by another holder collide with this one?"""
        return (mode == EXCLUSIVE or self.mode == EXCLUSIVE) and globs.overlaps(self.path, path)

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        """The ``reservation`` shape of ``cli.md`` (plus id, ttl, glob, expires_in)."""
        out: dict[str, Any] = {
            "id": self.id,
            "path": self.path,
            "holder": self.holder,
            "mode": self.mode,
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
            "reason": self.reason,
            "ttl": self.ttl,
            "glob": globs.is_glob(self.path),
        }
        if now is not None:
            out["expires_in"] = round(max(0.0, self.expires - now), 3)
        return out


@dataclass(frozen=True, slots=True)
class Wait:
    """A holder waiting for reservations of others (a ``reservation_waiting`` record)."""

    request_id: str
    holder: str
    paths: tuple[str, ...]
    mode: str
    waits_for: tuple[str, ...]
    started_at: str
    until: float  # epoch seconds: the record stops counting then
    order: tuple[int, str, int]  # (clock, writer, n) of the waiting event: later = newer

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "holder": self.holder, "paths": list(self.paths),
                "mode": self.mode, "waits_for": list(self.waits_for),
                "started_at": self.started_at, "until": iso(self.until)}


@dataclass(frozen=True, slots=True)
class Conflict:
    """A requested path and a reservation of another holder that stands in its way."""

    requested: str
    reservation: Reservation

    def to_json(self) -> dict[str, Any]:
        r = self.reservation
        return {"requested": self.requested, "path": r.path, "holder": r.holder,
                "mode": r.mode, "expires_at": r.expires_at, "reservation_id": r.id}


@dataclass(frozen=True)
class CheckResult:
    """The answer of :meth:`Reservations.check`: may ``holder`` (or anyone) touch ``paths``?"""

    paths: list[str]
    holder: str | None
    mode: str
    conflicts: list[Conflict]

    @property
    def ok(self) -> bool:
        return not self.conflicts

    def raise_if_held(self, now: float | None = None) -> None:
        """Raise :class:`ReservationConflictError` (exit 3) naming the first conflict."""
        if self.conflicts:
            raise ReservationConflictError(
                describe_conflicts(self.conflicts, time.time() if now is None else now),
                hint="`fleet-hive lock list` shows every reservation", conflicts=self.conflicts)

    def to_json(self) -> dict[str, Any]:
        by_path: dict[str, list[dict[str, Any]]] = {p: [] for p in self.paths}
        for c in self.conflicts:
            by_path[c.requested].append(c.reservation.to_json())
        return {"ok": self.ok, "holder": self.holder, "mode": self.mode,
                "paths": [{"path": p, "free": not cs, "held_by": cs} for p, cs in by_path.items()]}


class ReservationConflictError(ConflictError):
    """Exit 3: a reservation of another holder is in the way (or a wait cycle, or not yours)."""

    def __init__(self, message: str, *, hint: str = "", code: str | None = None,
                 conflicts: Sequence[Conflict] = (), cycle: Sequence[str] = ()) -> None:
        super().__init__(message, hint=hint, code=code)
        self.conflicts = list(conflicts)
        self.cycle = list(cycle)

    def to_json(self) -> dict[str, Any]:  # type: ignore[override]
        out: dict[str, Any] = super().to_json()
        out["error"]["conflicts"] = [c.to_json() for c in self.conflicts]
        if self.cycle:
            out["error"]["cycle"] = self.cycle
        return out


class ReservationTimeoutError(TimeoutExpiredError):
    """Exit 4: ``--wait`` ran out while other holders kept their reservations."""

    def __init__(self, message: str, *, hint: str = "", conflicts: Sequence[Conflict] = ()
                 ) -> None:
        super().__init__(message, hint=hint)
        self.conflicts = list(conflicts)

    def to_json(self) -> dict[str, Any]:  # type: ignore[override]
        out: dict[str, Any] = super().to_json()
        out["error"]["conflicts"] = [c.to_json() for c in self.conflicts]
        return out


# --------------------------------------------------------------------------- projection

_RES_COLUMNS = ("id, path, holder, mode, acquired_at, expires_at, reason, ttl, request_id, "
                "event_id, expires")
_WAIT_COLUMNS = "request_id, holder, paths, mode, waits_for, started_at, until, clock, writer, n"


class ReservationProjection:
    """Index tables of the leases and waits that have not ended (ended ones are deleted).

    ``reservations`` holds every lease whose stream has no release or expiry event yet,
    including lapsed ones (``expires`` in the past) until someone records their expiry;
    readers compare ``expires`` with the time. ``reservation_waits`` holds open waits.
    """

    name = "reservations"
    version = "2"
    tables = ("reservations", "reservation_waits")
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
        prefix TEXT NOT NULL        -- literal_prefix(path): prunes the overlap tests
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
        n INTEGER NOT NULL
    )
    """

    def wants(self, stream: str) -> bool:
        return stream.startswith((f"{RESERVATION_STREAM}:", f"{REQUEST_STREAM}:"))

    def refresh(self, view: ProjectionView, streams: set[str]) -> None:
        for stream in streams:
            kind, _, key = stream.partition(":")
            events = view.events(stream)
            if kind == RESERVATION_STREAM:
                view.execute("DELETE FROM reservations WHERE id=?", (key,))
                row = fold_reservation(events)
                if row is not None:
                    view.execute(f"INSERT OR REPLACE INTO reservations ({_RES_COLUMNS}, prefix) "
                                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
            elif kind == REQUEST_STREAM:
                view.execute("DELETE FROM reservation_waits WHERE request_id=?", (key,))
                wrow = fold_wait(events)
                if wrow is not None:
                    view.execute(f"INSERT OR REPLACE INTO reservation_waits ({_WAIT_COLUMNS}) "
                                 "VALUES (?,?,?,?,?,?,?,?,?,?)", wrow)


PROJECTION = ReservationProjection()


def fold_reservation(events: Iterable[Event]) -> tuple[Any, ...] | None:
    """The row of a lease from its stream in total order; None once released or expired.

    The first ``reservation_acquired`` opens the lease, ``reservation_renewed`` moves its
    expiry (and mode), ``reservation_released`` / ``reservation_expired`` end it for good.
    Events with data this version cannot read (or an invalid pattern) are skipped.
    """
    row: dict[str, Any] | None = None
    for e in events:
        d = e.data
        try:
            if e.type == "reservation_acquired":
                if row is None and globs.normalize(d["path"]) == d["path"]:
                    row = {"id": d["reservation_id"], "path": d["path"], "holder": d["holder"],
                           "mode": d["mode"], "acquired_at": d["acquired_at"],
                           "expires_at": d["expires_at"], "reason": d.get("reason"),
                           "ttl": float(d["ttl"]), "request_id": d["request_id"],
                           "event_id": e.id, "expires": epoch(d["expires_at"])}
            elif row is None:
                continue
            elif e.type == "reservation_renewed":
                expires = epoch(d["expires_at"])
                row.update(mode=d.get("mode", row["mode"]), ttl=float(d.get("ttl", row["ttl"])),
                           expires_at=d["expires_at"], expires=expires)
                if d.get("reason") is not None:
                    row["reason"] = d["reason"]
            elif e.type in ("reservation_released", "reservation_expired"):
                return None
        except (KeyError, TypeError, ValueError):
            continue
    if row is None:
        return None
    return (*row.values(), literal_prefix(row["path"]))


def fold_wait(events: Iterable[Event]) -> tuple[Any, ...] | None:
    """The row of an open wait; None when the request never waited or the wait ended."""
    row: tuple[Any, ...] | None = None
    for e in events:
        d = e.data
        try:
            if e.type == "reservation_waiting":
                row = (d["request_id"], d["holder"], orjson.dumps(d["paths"]).decode(), d["mode"],
                       orjson.dumps(d.get("waits_for", [])).decode(), d["started_at"],
                       epoch(d["until"]), e.clock, e.writer, e.n)
            elif e.type in ("reservation_wait_ended", "reservation_refused"):
                row = None
        except (KeyError, TypeError, ValueError):
            continue
    return row


def literal_prefix(pattern: str) -> str:
    """The leading segments of ``pattern`` that are plain literals, each followed by ``/``.

    Two patterns can only overlap if one's prefix starts with the other's: up to the
    shorter one, both stand for exactly those segments. (A segment with a backslash
    counts as non-literal, so that two spellings of one literal never look different.)
    """
    out = []
    for seg in pattern.split("/"):
        if any(c in seg for c in "*?[\\"):
            break
        out.append(seg + "/")
    return "".join(out)


def _prefix_filter(paths: Sequence[str]) -> tuple[str, list[Any]]:
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


_MAX_CHAR = chr(0x10FFFF)


def _reservation(row: Sequence[Any]) -> Reservation:
    return Reservation(*row)


def _wait(row: Sequence[Any]) -> Wait:
    return Wait(row[0], row[1], tuple(orjson.loads(row[2])), row[3], tuple(orjson.loads(row[4])),
                row[5], row[6], (row[7], row[8], row[9]))


# --------------------------------------------------------------------------- use cases


@dataclass
class _Request:
    id: str
    holder: str
    paths: list[str]
    mode: str
    ttl: float
    reason: str | None


class Reservations:
    """``hive.reservations``: the reservation use cases of one repository.

    ``now`` (epoch seconds) and ``sleep`` are injectable so tests of expiry need not wait.
    """

    def __init__(self, hive: Hive, *, now: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.hive = hive
        self.now = now
        self.sleep = sleep

    # -- input ---------------------------------------------------------------------------
    def normalize(self, path: str | os.PathLike[str], *, literal: bool = False) -> str:
        """A repository-relative, validated path or glob (absolute paths inside the repo ok).

        With ``literal``, ``path`` names one file: ``*``, ``?``, ``[`` and ``\\`` in it are
        ordinary characters (``pages/[id].tsx``), and the result is the escaped pattern.
        """
        raw = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(raw, str):
            raise InvalidInputError(f"a path must be a string, not {type(raw).__name__}")
        if not raw.strip():
            raise InvalidInputError("empty path", hint="give a repository-relative path or glob")
        rel = raw
        if raw.startswith("/"):
            root = str(self.hive.root)
            candidates = [raw, os.path.normpath(raw)]
            if not _has_glob_chars(raw):
                candidates.append(os.path.realpath(raw))
            for c in candidates:
                if c == root:
                    raise InvalidInputError(
                        f"{raw!r} is the repository root, not a file",
                        hint="reserve everything with '**', or a directory with 'dir/**'")
                if c.startswith(root + "/"):
                    rel = c[len(root) + 1:]
                    break
            else:
                raise InvalidInputError(
                    f"{raw!r} is outside the repository {root}",
                    hint="give a path inside the repository, preferably repository-relative")
        try:
            return globs.escape(rel) if literal else globs.normalize(rel)
        except globs.GlobError as e:
            raise InvalidInputError(str(e), hint="see docs/globs.md for the glob dialect") from e

    def _paths(self, paths: Iterable[str | os.PathLike[str]] | str, *, literal: bool = False,
               ) -> list[str]:
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        out = list(dict.fromkeys(self.normalize(p, literal=literal) for p in paths))
        if not out:
            raise InvalidInputError("no path given", hint="give at least one path or glob")
        return out

    @staticmethod
    def _holder(holder: str | None) -> str:
        if not isinstance(holder, str) or not holder.strip():
            raise InvalidInputError("empty holder name",
                                    hint="name the agent or person, e.g. --holder agent-1")
        if len(holder) > MAX_HOLDER or any(ord(c) < 32 or ord(c) == 127 for c in holder):
            raise InvalidInputError(
                f"invalid holder name {holder[:40]!r}",
                hint=f"at most {MAX_HOLDER} characters, no control characters")
        return holder

    @staticmethod
    def _seconds(value: float | None, what: str, *, default: float, zero_ok: bool) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"{what} must be a number of seconds")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            bound = "zero or more" if zero_ok else "more than zero"
            raise InvalidInputError(f"{what} must be {bound} seconds, got {value:g}")
        if value > MAX_TTL:
            raise InvalidInputError(f"{what} of {value:g} s is too long (at most {MAX_TTL:g} s)")
        return float(value)

    # -- reads ---------------------------------------------------------------------------
    def _rows(self, where: str = "", args: Sequence[Any] = (), *, catch_up: bool = True,
              ) -> list[Reservation]:
        sql = f"SELECT {_RES_COLUMNS} FROM reservations"
        if where:
            sql += f" WHERE {where}"
        return [_reservation(r) for r in self.hive.index.read(sql, args, catch_up=catch_up)]

    def _candidates(self, paths: Sequence[str], now: float, *, catch_up: bool = True,
                    ) -> list[Reservation]:
        """The rows that may overlap ``paths`` (by :func:`literal_prefix`), and every lapsed
        one (a write records their expiry)."""
        where, args = _prefix_filter(paths)
        return self._rows(f"expires <= ? OR {where}", [now, *args], catch_up=catch_up)

    def active(self) -> list[Reservation]:
        """Every live reservation, by path then holder (read only: records nothing)."""
        now = self.now()
        return sorted(self._rows("expires > ?", (now,)), key=lambda r: (r.path, r.holder))

    def waits(self) -> list[Wait]:
        """Open waits (used for deadlock detection), oldest first."""
        return self._waits(self.now())

    def _waits(self, now: float, *, catch_up: bool = True) -> list[Wait]:
        rows = self.hive.index.read(f"SELECT {_WAIT_COLUMNS} FROM reservation_waits "
                                    "WHERE until > ? ORDER BY clock, writer, n", (now,),
                                    catch_up=catch_up)
        return [_wait(r) for r in rows]

    def check(self, paths: Iterable[str] | str, holder: str | None = None, *,
              shared: bool = False, patterns: bool = False) -> CheckResult:
        """May ``holder`` (or, without one, anybody) touch these files? Read only, fast.

        ``paths`` are file paths (a ``[`` or ``*`` in a name is just a character, as in
        ``pages/[id].tsx``), or globs with ``patterns``. One is in conflict when it overlaps
        a live reservation of someone else that the asked-for mode (exclusive by default:
        "may I edit") cannot coexist with.
        """
        wanted = self._paths(paths, literal=not patterns)
        labels = wanted if patterns else [_unescape(p) for p in wanted]
        if holder is not None:
            holder = self._holder(holder)
        mode = SHARED if shared else EXCLUSIVE
        now = self.now()
        live = [r for r in self._candidates(wanted, now) if r.expires > now]
        return CheckResult(labels, holder, mode,
                           _conflicts(wanted, mode, holder, live, labels=labels))

    # -- writes --------------------------------------------------------------------------
    def _append(self, items: list[dict[str, Any]]) -> list[Event]:
        return self.hive.events.append_batch(items) if items else []

    def _expired_items(self, rows: Iterable[Reservation], now: float) -> list[dict[str, Any]]:
        at = iso(now)
        return [{"type": "reservation_expired", "stream": r.stream, "causation_id": r.event_id,
                 "correlation_id": r.request_id,
                 "data": {"reservation_id": r.id, "path": r.path, "holder": r.holder,
                          "expires_at": r.expires_at, "observed_at": at}}
                for r in rows if r.expires <= now]

    def sweep(self) -> list[Reservation]:
        """Record ``reservation_expired`` for every lapsed lease; returns them."""
        with self.hive.log.exclusive():
            self.hive.index.catch_up()
            now = self.now()
            lapsed = self._rows("expires <= ?", (now,), catch_up=False)
            self._append(self._expired_items(lapsed, now))
            return lapsed

    def acquire(self, paths: Iterable[str] | str, *, holder: str, ttl: float | None = None,
                wait: float | None = None, shared: bool = False, reason: str | None = None,
                ) -> list[Reservation]:
        """Reserve every path or glob of ``paths`` for ``holder``, all or nothing.

        Re-acquiring what ``holder`` already holds extends it (and upgrades shared to
        exclusive if asked). A conflict raises :class:`ReservationConflictError` (exit 3)
        at once, or after up to ``wait`` seconds of waiting :class:`ReservationTimeoutError`
        (exit 4); a wait that would close a cycle of waiters is refused at once (exit 3).
        Returns the requested reservations as they now are.
        """
        from ..kernel.ids import new_ulid

        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError("reason must be a string")
        req = _Request(new_ulid(), self._holder(holder), self._paths(paths),
                       SHARED if shared else EXCLUSIVE,
                       self._seconds(ttl, "ttl", default=DEFAULT_TTL, zero_ok=False),
                       reason or None)
        wait_s = self._seconds(wait, "wait", default=0.0, zero_ok=True)
        deadline = time.monotonic() + wait_s
        delay = BACKOFF_START
        waiting = False  # our reservation_waiting event is recorded and not yet ended
        try:
            while True:
                with self.hive.log.exclusive():
                    granted, waiting = self._attempt(req, wait_s, deadline, waiting)
                if granted is not None:
                    return granted
                remaining = deadline - time.monotonic()
                self.sleep(max(0.0, min(delay, remaining)))
                delay = min(delay * BACKOFF_FACTOR, BACKOFF_MAX)
        except BaseException as e:
            if waiting and not isinstance(e, ConflictError | TimeoutExpiredError):
                outcome = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
                # best effort: the wait record also lapses on its own
                with contextlib.suppress(Exception):
                    self._append([self._wait_ended(req, outcome, self.now())])
            raise

    def _attempt(self, req: _Request, wait_s: float, deadline: float, waiting: bool,
                 ) -> tuple[list[Reservation] | None, bool]:
        """One look, under the writer lock: grant, refuse, or (re)record the wait."""
        self.hive.index.catch_up()
        now = self.now()
        rows = self._candidates(req.paths, now, catch_up=False)
        live = [r for r in rows if r.expires > now]
        items = self._expired_items(rows, now)
        conflicts = _conflicts(req.paths, req.mode, req.holder, live)
        if not conflicts:
            granted, grant_items = self._grant(req, live, now)
            if waiting:
                items.append(self._wait_ended(req, "acquired", now))
            ids = {e.stream: e.id for e in self._append(items + grant_items)
                   if e.type == "reservation_acquired"}
            return [_replace(r, event_id=ids[r.stream]) if r.stream in ids else r
                    for r in granted], False

        blockers = sorted({c.reservation.holder for c in conflicts})
        if wait_s > 0:
            cycle = self._cycle(req, waiting, now)
            if cycle is not None:
                items += self._refusal(req, "deadlock", conflicts, now, waiting, cycle)
                self._append(items)
                raise ReservationConflictError(
                    f"refused: waiting would deadlock: {_describe_cycle(cycle)}",
                    hint=f"{req.holder} holds what the others wait for; release some of it "
                         "or retry later",
                    code="deadlock", conflicts=conflicts, cycle=[h for h, _ in cycle])
            if time.monotonic() < deadline:
                if not waiting:
                    until = now + max(0.0, deadline - time.monotonic())
                    items.append({
                        "type": "reservation_waiting", "stream": f"{REQUEST_STREAM}:{req.id}",
                        "correlation_id": req.id,
                        "data": {"request_id": req.id, "holder": req.holder,
                                 "paths": req.paths, "mode": req.mode, "waits_for": blockers,
                                 "started_at": iso(now), "until": iso(until)}})
                self._append(items)
                return None, True
            items += self._refusal(req, "timeout", conflicts, now, waiting)
            self._append(items)
            raise ReservationTimeoutError(
                f"timed out after {wait_s:g} s: {describe_conflicts(conflicts, now)}",
                hint="wait longer with --wait, or ask the holder to release it",
                conflicts=conflicts)
        items += self._refusal(req, "conflict", conflicts, now, waiting)
        self._append(items)
        raise ReservationConflictError(
            describe_conflicts(conflicts, now),
            hint=f"wait for it with --wait SECONDS or ask {conflicts[0].reservation.holder} to "
                 f"release it; `fleet-hive lock list --path '{conflicts[0].requested}'` shows "
                 "every holder",
            conflicts=conflicts)

    def _grant(self, req: _Request, live: Sequence[Reservation], now: float,
               ) -> tuple[list[Reservation], list[dict[str, Any]]]:
        from ..kernel.ids import new_ulid

        mine: dict[str, Reservation] = {}
        for r in live:
            if r.holder == req.holder and (r.path not in mine or r.expires > mine[r.path].expires):
                mine[r.path] = r
        at = iso(now)
        out: list[Reservation] = []
        items: list[dict[str, Any]] = []
        for path in req.paths:
            old = mine.get(path)
            if old is None:
                rid = new_ulid()
                expires_at = iso(now + req.ttl)
                data = {"reservation_id": rid, "request_id": req.id, "path": path,
                        "holder": req.holder, "mode": req.mode, "ttl": req.ttl,
                        "acquired_at": at, "expires_at": expires_at, "reason": req.reason}
                items.append({"type": "reservation_acquired",
                              "stream": f"{RESERVATION_STREAM}:{rid}", "correlation_id": req.id,
                              "data": data})
                out.append(Reservation(rid, path, req.holder, req.mode, at, expires_at,
                                       req.reason, req.ttl, req.id, "", epoch(expires_at)))
                continue
            mode = EXCLUSIVE if EXCLUSIVE in (old.mode, req.mode) else SHARED
            expires_at = iso(now + req.ttl)
            expires = epoch(expires_at)
            if expires <= old.expires:
                expires_at, expires = old.expires_at, old.expires
            reason = req.reason or old.reason
            if mode == old.mode and expires == old.expires and reason == old.reason:
                out.append(old)  # nothing to extend: keep it as it is
                continue
            items.append(self._renewed_item(old, mode, req.ttl, at, expires_at, req.reason,
                                            req.id))
            out.append(_replace(old, mode=mode, ttl=req.ttl, expires_at=expires_at,
                                expires=expires, reason=reason))
        return out, items

    @staticmethod
    def _renewed_item(old: Reservation, mode: str, ttl: float, at: str, expires_at: str,
                      reason: str | None, correlation: str) -> dict[str, Any]:
        return {"type": "reservation_renewed", "stream": old.stream, "causation_id": old.event_id,
                "correlation_id": correlation,
                "data": {"reservation_id": old.id, "path": old.path, "holder": old.holder,
                         "mode": mode, "ttl": ttl, "renewed_at": at, "expires_at": expires_at,
                         "reason": reason}}

    def _wait_ended(self, req: _Request, outcome: str, now: float) -> dict[str, Any]:
        return {"type": "reservation_wait_ended", "stream": f"{REQUEST_STREAM}:{req.id}",
                "correlation_id": req.id,
                "data": {"request_id": req.id, "holder": req.holder, "outcome": outcome,
                         "ended_at": iso(now)}}

    def _refusal(self, req: _Request, why: str, conflicts: Sequence[Conflict], now: float,
                 waiting: bool, cycle: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
        items = []
        if waiting:
            items.append(self._wait_ended(req, "timeout" if why == "timeout" else why, now))
        items.append({"type": "reservation_refused", "stream": f"{REQUEST_STREAM}:{req.id}",
                      "correlation_id": req.id,
                      "data": {"request_id": req.id, "holder": req.holder, "paths": req.paths,
                               "mode": req.mode, "why": why,
                               "conflicts": [c.to_json() for c in conflicts[:100]],
                               "cycle": [h for h, _ in cycle], "refused_at": iso(now)}})
        return items

    def _cycle(self, req: _Request, waiting: bool, now: float) -> list[tuple[str, str]] | None:
        """The wait cycle through ``req.holder`` that this request must break, if any.

        Edges run from a waiting holder to each holder of a live reservation in its way
        (recomputed from the current reservations, not the recorded ``waits_for``). A cycle
        is broken by refusing its newest wait: this request if it is not recorded yet (it
        would close the cycle), else only if no other wait in the cycle is newer.
        Returns ``[(holder, path it waits for), ...]`` starting and ending at ``req.holder``.
        """
        waits = [w for w in self._waits(now, catch_up=False) if w.request_id != req.id]
        if not waits:
            return None
        edges: dict[str, dict[str, str]] = {}

        def add(holder: str, paths: Sequence[str], mode: str) -> None:
            live = [r for r in self._candidates(paths, now, catch_up=False) if r.expires > now]
            out = edges.setdefault(holder, {})
            for c in _conflicts(paths, mode, holder, live):
                out.setdefault(c.reservation.holder, c.reservation.path)

        add(req.holder, req.paths, req.mode)
        for w in waits:
            add(w.holder, w.paths, w.mode)
        # Breadth-first from our holder: the shortest way back to it is the cycle.
        parent: dict[str, tuple[str, str]] = {}
        queue = deque([req.holder])
        found = False
        while queue and not found:
            h = queue.popleft()
            for nxt, path in sorted(edges.get(h, {}).items()):
                if nxt == req.holder:
                    parent[nxt] = (h, path)
                    found = True
                    break
                if nxt not in parent:
                    parent[nxt] = (h, path)
                    queue.append(nxt)
        if not found:
            return None
        chain: list[tuple[str, str]] = []
        h = req.holder
        while True:
            prev, path = parent[h]
            chain.append((prev, path))
            h = prev
            if h == req.holder:
                break
        chain.reverse()  # [(holder, path it waits for), ...] from req.holder round the cycle
        if waiting:
            ours = self._wait_order(req.id)
            members = {h for h, _ in chain} - {req.holder}
            if ours is not None and any(w.order > ours for w in waits if w.holder in members):
                return None  # a newer wait closed the cycle: its waiter refuses itself
        return [*chain, (req.holder, "")]

    def _wait_order(self, request_id: str) -> tuple[int, str, int] | None:
        rows = self.hive.index.read("SELECT clock, writer, n FROM reservation_waits "
                                    "WHERE request_id=?", (request_id,), catch_up=False)
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]

    def release(self, paths: Iterable[str] | str, *, holder: str) -> list[Reservation]:
        """Give up ``holder``'s reservations of exactly these paths or globs, all or nothing.

        A path reserved only by another holder raises :class:`ReservationConflictError`
        (exit 3) and nothing is released; a path nobody holds is skipped (releasing is
        idempotent). Returns the reservations released.
        """
        wanted = self._paths(paths)
        holder = self._holder(holder)
        with self.hive.log.exclusive():
            self.hive.index.catch_up()
            now = self.now()
            rows = self._rows(f"path IN ({','.join('?' * len(wanted))})", wanted,
                              catch_up=False)
            released: list[Reservation] = []
            for path in wanted:
                mine = [r for r in rows if r.path == path and r.holder == holder]
                others = [r for r in rows if r.path == path and r.holder != holder
                          and r.expires > now]
                if not mine and others:
                    r = others[0]
                    raise ReservationConflictError(
                        f"{path} is reserved by {r.holder}, not {holder}: not released",
                        hint="only the holder can release a reservation; it expires at "
                             f"{r.expires_at}",
                        code="not_owner", conflicts=[Conflict(path, r) for r in others])
                released += mine
            self._append(self._released_items(released, now))
            return released

    def release_all(self, holder: str) -> list[Reservation]:
        """Give up every reservation of ``holder`` (none is fine); returns them."""
        holder = self._holder(holder)
        with self.hive.log.exclusive():
            self.hive.index.catch_up()
            now = self.now()
            released = self._rows("holder = ?", (holder,), catch_up=False)
            self._append(self._released_items(released, now))
            return sorted(released, key=lambda r: r.path)

    def _released_items(self, rows: Iterable[Reservation], now: float) -> list[dict[str, Any]]:
        at = iso(now)
        return [{"type": "reservation_released", "stream": r.stream, "causation_id": r.event_id,
                 "correlation_id": r.request_id,
                 "data": {"reservation_id": r.id, "path": r.path, "holder": r.holder,
                          "released_at": at}} for r in rows]

    def renew(self, holder: str, *, ttl: float | None = None,
              paths: Iterable[str] | None = None) -> list[Reservation]:
        """Extend ``holder``'s live reservations (all, or those of ``paths``) to now + ttl.

        ``ttl`` defaults to each reservation's own; an expiry is never moved earlier. A
        lapsed reservation cannot be renewed (acquire it again): NotFoundError when there
        is nothing live to renew, or when one of ``paths`` is not held live.
        """
        holder = self._holder(holder)
        ttl_s = None if ttl is None else self._seconds(ttl, "ttl", default=DEFAULT_TTL,
                                                        zero_ok=False)
        wanted = None if paths is None else self._paths(paths)
        with self.hive.log.exclusive():
            self.hive.index.catch_up()
            now = self.now()
            rows = self._rows("holder = ?", (holder,), catch_up=False)
            live = [r for r in rows if r.expires > now]
            if wanted is not None:
                missing = [p for p in wanted if not any(r.path == p for r in live)]
                if missing:
                    raise NotFoundError(f"{holder} holds no live reservation of {missing[0]}",
                                        hint="it expired or was released: acquire it again")
                live = [r for r in live if r.path in wanted]
            if not live:
                raise NotFoundError(f"{holder} holds no live reservations",
                                    hint="they expired or were released: acquire them again")
            at = iso(now)
            items = self._expired_items(rows, now)
            out = []
            for r in sorted(live, key=lambda r: r.path):
                new_ttl = ttl_s if ttl_s is not None else r.ttl
                expires_at = iso(now + new_ttl)
                expires = epoch(expires_at)
                if expires <= r.expires:  # never earlier: nothing to record
                    out.append(r)
                    continue
                items.append(self._renewed_item(r, r.mode, new_ttl, at, expires_at, None,
                                                r.request_id))
                out.append(_replace(r, ttl=new_ttl, expires_at=expires_at, expires=expires))
            self._append(items)
            return out

    def list(self, holder: str | None = None, path: str | None = None, *,
             sweep: bool = True) -> list[Reservation]:
        """Live reservations, optionally only ``holder``'s and/or those overlapping ``path``.

        With ``sweep`` (the default), leases seen lapsed get their ``reservation_expired``
        event recorded first (this takes the writer lock only when there are any).
        """
        if holder is not None:
            holder = self._holder(holder)
        pattern = self.normalize(path) if path is not None else None
        now = self.now()
        if sweep and self.hive.index.read("SELECT 1 FROM reservations WHERE expires <= ? LIMIT 1",
                                          (now,)):
            self.sweep()
            now = self.now()
        where, args = "expires > ?", [now]
        if holder is not None:
            where += " AND holder = ?"
            args.append(holder)
        rows = self._rows(where, args)
        if pattern is not None:
            rows = [r for r in rows if globs.overlaps(r.path, pattern)]
        return sorted(rows, key=lambda r: (r.path, r.holder))


# --------------------------------------------------------------------------- helpers


def _has_glob_chars(text: str) -> bool:
    return any(c in text for c in "*?[")


def _replace(r: Reservation, **changes: Any) -> Reservation:
    from dataclasses import replace

    return replace(r, **changes)


def _conflicts(paths: Sequence[str], mode: str, holder: str | None,
               live: Sequence[Reservation], *, labels: Sequence[str] | None = None,
               ) -> list[Conflict]:
    """Each (requested path, reservation of another holder) that cannot coexist; the
    requested path is reported as ``labels[i]`` when given (the unescaped file name)."""
    names = paths if labels is None else labels
    return [Conflict(name, r) for name, p in zip(names, paths, strict=True) for r in live
            if r.holder != holder and r.conflicts_with(p, mode)]


def _unescape(pattern: str) -> str:
    """The inverse of :func:`fleet_hive.kernel.globs.escape` for a literal pattern."""
    return re.sub(r"\\(.)", r"\1", pattern, flags=re.DOTALL) if "\\" in pattern else pattern


def describe_conflicts(conflicts: Sequence[Conflict], now: float) -> str:
    c = conflicts[0]
    r = c.reservation
    what = c.requested if r.path == c.requested else f"{c.requested} (overlaps {r.path})"
    left = max(0.0, r.expires - now)
    text = f"{what} is reserved by {r.holder} ({r.mode}) until {r.expires_at} ({left:.0f} s left)"
    others = len({(x.requested, x.reservation.id) for x in conflicts}) - 1
    if others:
        text += f"; {others} more conflict{'s' if others > 1 else ''}"
    return text


def _describe_cycle(cycle: Sequence[tuple[str, str]]) -> str:
    steps = [f"{h} waits for {cycle[i + 1][0]} ({path})" for i, (h, path) in
             enumerate(cycle[:-1])]
    return ", ".join(steps)
