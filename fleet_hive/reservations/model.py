"""File reservations as plain data: the lease, the wait, the conflict, the rules and errors.

A *reservation* is a lease of one path or glob (``src/auth/**``) by a named *holder*,
``exclusive`` (a writer: conflicts with any overlapping reservation of another holder) or
``shared`` (a reader: conflicts only with overlapping exclusive ones), until ``expires_at``.
Overlap is exact, pattern against pattern (:func:`fleet_hive.kernel.globs.overlaps`).

Nothing here touches storage or imports pydantic: ``lock check`` and ``lock list`` use
these classes on their light read path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..kernel import globs
from ..kernel.clock import iso
from ..kernel.errors import ConflictError, TimeoutExpiredError
from ..kernel.plain import Frozen, setfield

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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


class Reservation(Frozen):
    """One live lease (as the projection holds it)."""

    __slots__ = _fields = ("id", "path", "holder", "mode", "acquired_at", "expires_at",
                           "reason", "ttl", "request_id", "event_id", "expires", "clock",
                           "writer", "n")
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
    # (clock, writer, n) of the reservation_acquired event: of two leases that could not
    # both be granted (acquired concurrently on two clones), the earlier keeps it
    clock: int
    writer: str
    n: int

    def __init__(self, id: str, path: str, holder: str, mode: str, acquired_at: str,
                 expires_at: str, reason: str | None, ttl: float, request_id: str,
                 event_id: str, expires: float, clock: int = 0, writer: str = "",
                 n: int = 0) -> None:
        for name, value in zip(self._fields, (id, path, holder, mode, acquired_at,
                                              expires_at, reason, ttl, request_id, event_id,
                                              expires, clock, writer, n), strict=True):
            setfield(self, name, value)

    @property
    def stream(self) -> str:
        return f"{RESERVATION_STREAM}:{self.id}"

    @property
    def order(self) -> tuple[int, str, int]:
        return (self.clock, self.writer, self.n)

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


class Wait(Frozen):
    """A holder waiting for reservations of others (a ``reservation_waiting`` record)."""

    __slots__ = _fields = ("request_id", "holder", "paths", "mode", "waits_for", "started_at",
                           "until", "order", "pid", "host", "pid_start")
    request_id: str
    holder: str
    paths: tuple[str, ...]
    mode: str
    waits_for: tuple[str, ...]
    started_at: str
    until: float  # epoch seconds: the record stops counting then
    order: tuple[int, str, int]  # (clock, writer, n) of the waiting event: later = newer
    pid: int | None  # the waiting process (None: recorded by an older version)
    host: str | None
    pid_start: int | None

    def __init__(self, request_id: str, holder: str, paths: tuple[str, ...], mode: str,
                 waits_for: tuple[str, ...], started_at: str, until: float,
                 order: tuple[int, str, int], pid: int | None = None, host: str | None = None,
                 pid_start: int | None = None) -> None:
        for name, value in zip(self._fields, (request_id, holder, paths, mode, waits_for,
                                              started_at, until, order, pid, host, pid_start),
                               strict=True):
            setfield(self, name, value)

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "holder": self.holder, "paths": list(self.paths),
                "mode": self.mode, "waits_for": list(self.waits_for),
                "started_at": self.started_at, "until": iso(self.until), "pid": self.pid,
                "host": self.host}


class Conflict(Frozen):
    """A requested path and a reservation of another holder that stands in its way."""

    __slots__ = _fields = ("requested", "reservation")
    requested: str
    reservation: Reservation

    def __init__(self, requested: str, reservation: Reservation) -> None:
        setfield(self, "requested", requested)
        setfield(self, "reservation", reservation)

    def to_json(self) -> dict[str, Any]:
        r = self.reservation
        return {"requested": self.requested, "path": r.path, "holder": r.holder,
                "mode": r.mode, "expires_at": r.expires_at, "reservation_id": r.id}


class Contest(Frozen):
    """Two live leases of different holders that could not both have been granted: they
    were acquired concurrently (on two clones, each offline) and met in a merge or sync.
    The earlier in total order ``kept`` the reservation; the other ``lost`` it: it stays
    (marked) until its holder releases it or it lapses, and does not stand in the way of
    the keeper where the keeper's lease covers the contested path."""

    __slots__ = _fields = ("kept", "lost")
    kept: Reservation
    lost: Reservation

    def __init__(self, kept: Reservation, lost: Reservation) -> None:
        setfield(self, "kept", kept)
        setfield(self, "lost", lost)

    @property
    def message(self) -> str:
        k, lost = self.kept, self.lost
        what = k.path if k.path == lost.path else f"{k.path} and {lost.path}"
        return (f"{what} reserved by {k.holder} ({k.mode}) and by {lost.holder} ({lost.mode})"
                f" concurrently; {k.holder} keeps it (acquired first), {lost.holder} should"
                " release it")

    def to_json(self) -> dict[str, Any]:
        return {"kept": _lease_ref(self.kept), "lost": _lease_ref(self.lost),
                "message": self.message}


def _lease_ref(r: Reservation) -> dict[str, Any]:
    return {"id": r.id, "path": r.path, "holder": r.holder, "mode": r.mode,
            "event_id": r.event_id, "writer": r.writer, "acquired_at": r.acquired_at}


class CheckResult(Frozen):
    """The answer of :meth:`Reservations.check`: may ``holder`` (or anyone) touch ``paths``?"""

    __slots__ = _fields = ("paths", "holder", "mode", "conflicts")
    paths: list[str]
    holder: str | None
    mode: str
    conflicts: list[Conflict]

    def __init__(self, paths: list[str], holder: str | None, mode: str,
                 conflicts: list[Conflict]) -> None:
        setfield(self, "paths", paths)
        setfield(self, "holder", holder)
        setfield(self, "mode", mode)
        setfield(self, "conflicts", conflicts)

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

    def to_json(self) -> dict[str, Any]:
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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_json()
        out["error"]["conflicts"] = [c.to_json() for c in self.conflicts]
        return out


# --------------------------------------------------------------------------- rules


def find_conflicts(paths: Sequence[str], mode: str, holder: str | None,
                   live: Sequence[Reservation], *, labels: Sequence[str] | None = None,
                   ) -> list[Conflict]:
    """Each (requested path, reservation of another holder) that cannot coexist; the
    requested path is reported as ``labels[i]`` when given (the unescaped file name).

    A lease that lost a :class:`Contest` to one of ``holder``'s own is not in its way
    where that own lease covers the requested path (or the whole losing lease)."""
    names = paths if labels is None else labels
    out: list[Conflict] = []
    mine: list[Reservation] | None = None
    for name, p in zip(names, paths, strict=True):
        for r in live:
            if r.holder == holder or not r.conflicts_with(p, mode):
                continue
            if mine is None:
                mine = [x for x in live if x.holder == holder] if holder is not None else []
            if mine and any(_beats(k, r) and (_covers(k.path, p) or _covers(k.path, r.path))
                            for k in mine):
                continue
            out.append(Conflict(name, r))
    return out


def _beats(k: Reservation, r: Reservation) -> bool:
    """``k`` was acquired before ``r`` (in total order) and they could not coexist."""
    return (k.clock > 0 and r.clock > 0 and k.order < r.order
            and k.conflicts_with(r.path, r.mode))


def _covers(pattern: str, other: str) -> bool:
    """Every file ``other`` names is matched by ``pattern`` (decided only when easy: the same
    pattern, ``**``, or ``other`` one file; otherwise False, which is the safe answer)."""
    if pattern == other or pattern == "**":
        return True
    if globs.is_glob(other):
        return False
    return globs.matches(pattern, unescape(other))


def contests(leases: Sequence[Reservation]) -> list[Contest]:
    """Every pair of ``leases`` (live ones) of different holders that could not both have
    been granted, the earlier in total order keeping it; by the lost lease's order.

    Two patterns can only overlap when one's literal prefix starts with the other's, so
    each lease is compared with those of its own prefix and of the prefixes above it."""
    groups: dict[str, list[Reservation]] = {}
    for r in leases:
        groups.setdefault(literal_prefix(r.path), []).append(r)
    found: list[Contest] = []

    def meet(a: Reservation, b: Reservation) -> None:
        if a.holder != b.holder and a.conflicts_with(b.path, b.mode):
            kept, lost = (a, b) if a.order <= b.order else (b, a)
            found.append(Contest(kept, lost))

    for prefix, group in groups.items():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                meet(a, b)
        above = [""] if prefix else []
        above += [prefix[:i + 1] for i, c in enumerate(prefix[:-1]) if c == "/"]
        for up in above:
            for a in groups.get(up, ()):
                for b in group:
                    meet(a, b)
    return sorted(found, key=lambda c: (c.lost.order, c.kept.order))


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


def unescape(pattern: str) -> str:
    """The inverse of :func:`fleet_hive.kernel.globs.escape` for a literal pattern."""
    if "\\" not in pattern:
        return pattern
    out, i = [], 0
    while i < len(pattern):  # each backslash and the character after it: that character
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


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


def describe_cycle(cycle: Sequence[tuple[str, str]]) -> str:
    """``[(holder, path it waits for), ...]`` round the cycle, as one sentence."""
    steps = [f"{h} waits for {cycle[i + 1][0]} ({path})" for i, (h, path) in
             enumerate(cycle[:-1])]
    return ", ".join(steps)
