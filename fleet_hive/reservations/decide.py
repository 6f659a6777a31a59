"""Reservation use cases as pure decisions: the current leases and waits, a request and the
time -> the events to append, and what the caller gets back.

Nothing here reads storage, the clock or the random source: the service loads the state
under the writer lock (:meth:`~fleet_hive.index.unit_of_work.UnitOfWork.run`), passes
``now`` and an id generator, and appends what comes back. A refusal that writes nothing
(releasing someone else's lease, renewing nothing) raises. A refusal that must be
recorded (a conflict, a timeout, a deadlock: ``reservation_refused``) cannot raise, or its
events would be lost: :func:`acquire` returns the events together with the error, and the
service raises it once they are stored.

Expiry is lazy: a lease stops counting the moment its ``expires_at`` passes, whether or
not anything is written. Every write that reads a lapsed lease also records a
``reservation_expired`` event for it (once: the event ends the lease's stream).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

from ..index.unit_of_work import NewEvent
from ..kernel.clock import epoch, iso
from ..kernel.errors import NotFoundError
from ..kernel.plain import Frozen, Plain, setfield
from .model import (
    EXCLUSIVE,
    REQUEST_STREAM,
    RESERVATION_STREAM,
    SHARED,
    Conflict,
    Reservation,
    ReservationConflictError,
    ReservationTimeoutError,
    Wait,
    describe_conflicts,
    describe_cycle,
    find_conflicts,
)


class Request(Frozen):
    """One ``acquire`` call (its id correlates every event it causes)."""

    __slots__ = _fields = ("id", "holder", "paths", "mode", "ttl", "reason", "process")
    id: str
    holder: str
    paths: tuple[str, ...]  # normalized, deduplicated
    mode: str
    ttl: float
    reason: str | None
    #: who asks, (pid, host, start time): recorded with a wait, so that a process on that
    #: host can tell later that the waiter died (``kernel/liveness.py``)
    process: tuple[int, str, int | None] | None

    def __init__(self, id: str, holder: str, paths: tuple[str, ...], mode: str, ttl: float,
                 reason: str | None, process: tuple[int, str, int | None] | None = None,
                 ) -> None:
        init = setfield
        init(self, "id", id)
        init(self, "holder", holder)
        init(self, "paths", paths)
        init(self, "mode", mode)
        init(self, "ttl", ttl)
        init(self, "reason", reason)
        init(self, "process", process)


class OtherWaits(Frozen):
    """What the deadlock test needs: every other wait record, each with the live leases
    that may stand in its way, and the order of this request's own recorded wait."""

    __slots__ = _fields = ("waits", "ours")
    waits: Sequence[tuple[Wait, Sequence[Reservation]]]
    ours: tuple[int, str, int] | None

    def __init__(self, waits: Sequence[tuple[Wait, Sequence[Reservation]]] = (),
                 ours: tuple[int, str, int] | None = None) -> None:
        setfield(self, "waits", waits)
        setfield(self, "ours", ours)


class Outcome(Plain):
    """What one look of :func:`acquire` decided: ``events`` to append, then either the
    ``granted`` reservations, an ``error`` to raise, or (neither) keep ``waiting``."""

    __slots__ = _fields = ("events", "granted", "error", "waiting")
    events: list[NewEvent]
    granted: list[Reservation] | None
    error: ReservationConflictError | ReservationTimeoutError | None
    waiting: bool  # a reservation_waiting record of this request is open

    def __init__(self, events: list[NewEvent] | None = None,
                 granted: list[Reservation] | None = None,
                 error: ReservationConflictError | ReservationTimeoutError | None = None,
                 waiting: bool = False) -> None:
        self.events = [] if events is None else events
        self.granted = granted
        self.error = error
        self.waiting = waiting


def blocked(req: Request, rows: Sequence[Reservation], now: float) -> bool:
    """Does a live lease of another holder stand in the way (is a wait graph needed)?"""
    return bool(find_conflicts(req.paths, req.mode, req.holder,
                               [r for r in rows if r.expires > now]))


def acquire(req: Request, rows: Sequence[Reservation], now: float, *, wait: float = 0.0,
            remaining: float = 0.0, waiting: bool = False, others: OtherWaits | None = None,
            new_id: Callable[[], str]) -> Outcome:
    """One look at ``rows`` (every lease that may overlap ``req.paths``, lapsed ones too).

    Grants when nothing live of another holder is in the way. Otherwise, with ``wait`` (the
    seconds the caller may wait in all) and ``remaining`` (what is left of them): refuses at
    once if waiting would close a cycle of waiters (``others``), records the wait if it is
    not recorded yet (``waiting``), or times out when nothing remains. Without ``wait`` the
    conflict is refused at once.
    """
    live = [r for r in rows if r.expires > now]
    events = expired(rows, now)
    conflicts = find_conflicts(req.paths, req.mode, req.holder, live)
    if not conflicts:
        granted, grant_events = _grant(req, live, now, new_id)
        if waiting:
            events.append(wait_ended(req, "acquired", now))
        return Outcome(events + grant_events, granted=granted)
    if wait > 0:
        cycle = find_cycle(req, live, others or OtherWaits(), now, waiting=waiting)
        if cycle is not None:
            return Outcome(events + _refusal(req, "deadlock", conflicts, now, waiting, cycle),
                           error=ReservationConflictError(
                               f"refused: waiting would deadlock: {describe_cycle(cycle)}",
                               hint=f"{req.holder} holds what the others wait for; release "
                                    "some of it or retry later",
                               code="deadlock", conflicts=conflicts,
                               cycle=[h for h, _ in cycle]))
        if remaining > 0:
            if not waiting:
                blockers = sorted({c.reservation.holder for c in conflicts})
                events.append(NewEvent(
                    "reservation_waiting", f"{REQUEST_STREAM}:{req.id}",
                    {"request_id": req.id, "holder": req.holder, "paths": list(req.paths),
                     "mode": req.mode, "waits_for": blockers, "started_at": iso(now),
                     "until": iso(now + remaining), **_process(req.process)},
                    correlation_id=req.id))
            return Outcome(events, waiting=True)
        return Outcome(events + _refusal(req, "timeout", conflicts, now, waiting),
                       error=ReservationTimeoutError(
                           f"timed out after {wait:g} s: {describe_conflicts(conflicts, now)}",
                           hint="wait longer with --wait, or ask the holder to release it",
                           conflicts=conflicts))
    first = conflicts[0]
    return Outcome(events + _refusal(req, "conflict", conflicts, now, waiting),
                   error=ReservationConflictError(
                       describe_conflicts(conflicts, now),
                       hint=f"wait for it with --wait SECONDS or ask {first.reservation.holder}"
                            f" to release it; `fleet-hive lock list --path '{first.requested}'`"
                            " shows every holder",
                       conflicts=conflicts))


def _grant(req: Request, live: Sequence[Reservation], now: float, new_id: Callable[[], str],
           ) -> tuple[list[Reservation], list[NewEvent]]:
    """New leases for what ``req.holder`` does not hold; what it holds is extended (and
    upgraded to exclusive if asked), never shortened. The new leases' ``event_id`` is
    empty: the service fills it in from the stored events."""
    mine: dict[str, Reservation] = {}
    for r in live:
        if r.holder == req.holder and (r.path not in mine or r.expires > mine[r.path].expires):
            mine[r.path] = r
    at = iso(now)
    out: list[Reservation] = []
    events: list[NewEvent] = []
    for path in req.paths:
        old = mine.get(path)
        if old is None:
            rid = new_id()
            expires_at = iso(now + req.ttl)
            data = {"reservation_id": rid, "request_id": req.id, "path": path,
                    "holder": req.holder, "mode": req.mode, "ttl": req.ttl,
                    "acquired_at": at, "expires_at": expires_at, "reason": req.reason}
            events.append(NewEvent("reservation_acquired", f"{RESERVATION_STREAM}:{rid}", data,
                                   correlation_id=req.id))
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
        events.append(_renewed(old, mode, req.ttl, at, expires_at, req.reason, req.id))
        out.append(old.replace(mode=mode, ttl=req.ttl, expires_at=expires_at,
                               expires=expires, reason=reason))
    return out, events


def find_cycle(req: Request, live: Sequence[Reservation], others: OtherWaits, now: float, *,
               waiting: bool) -> list[tuple[str, str]] | None:
    """The wait cycle through ``req.holder`` that this request must break, if any.

    Edges run from a waiting holder to each holder of a live reservation in its way
    (recomputed from the current reservations, not the recorded ``waits_for``); a wait
    record counts only until its ``until``. A cycle is broken by refusing its newest wait:
    this request if it is not recorded yet (it would close the cycle), else only if no
    other wait in the cycle is newer. Returns ``[(holder, path it waits for), ...]``
    starting and ending at ``req.holder``.
    """
    waits = [(w, ws) for w, ws in others.waits if w.request_id != req.id and w.until > now]
    if not waits:
        return None
    edges: dict[str, dict[str, str]] = {}

    def add(holder: str, paths: Sequence[str], mode: str, leases: Iterable[Reservation]) -> None:
        out = edges.setdefault(holder, {})
        for c in find_conflicts(paths, mode, holder, [r for r in leases if r.expires > now]):
            out.setdefault(c.reservation.holder, c.reservation.path)

    add(req.holder, req.paths, req.mode, live)
    for w, leases in waits:
        add(w.holder, w.paths, w.mode, leases)
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
        ours = others.ours
        members = {h for h, _ in chain} - {req.holder}
        if ours is not None and any(w.order > ours for w, _ in waits if w.holder in members):
            return None  # a newer wait closed the cycle: its waiter refuses itself
    return [*chain, (req.holder, "")]


def release(rows: Sequence[Reservation], paths: Sequence[str], holder: str, now: float,
            ) -> tuple[list[NewEvent], list[Reservation]]:
    """Release ``holder``'s leases of exactly ``paths`` (``rows``: every lease of them).

    All or nothing: a path reserved live only by another holder raises (``not_owner``,
    nothing written); a path nobody holds is skipped.
    """
    released: list[Reservation] = []
    for path in paths:
        mine = [r for r in rows if r.path == path and r.holder == holder]
        others = [r for r in rows if r.path == path and r.holder != holder and r.expires > now]
        if not mine and others:
            r = others[0]
            raise ReservationConflictError(
                f"{path} is reserved by {r.holder}, not {holder}: not released",
                hint=f"only the holder can release a reservation; it expires at {r.expires_at}",
                code="not_owner", conflicts=[Conflict(path, r) for r in others])
        released += mine
    return released_events(released, now), released


def release_all(rows: Sequence[Reservation], now: float,
                ) -> tuple[list[NewEvent], list[Reservation]]:
    """Release every lease of ``rows`` (one holder's); returns them by path."""
    return released_events(rows, now), sorted(rows, key=lambda r: r.path)


def renew(rows: Sequence[Reservation], holder: str, now: float, *, ttl: float | None = None,
          paths: Sequence[str] | None = None) -> tuple[list[NewEvent], list[Reservation]]:
    """Extend ``holder``'s live leases (``rows``: all of its leases), or those of ``paths``,
    to now + ttl (default: each one's own); an expiry never moves earlier. Raises
    NotFoundError when nothing live is there to renew (nothing written)."""
    live = [r for r in rows if r.expires > now]
    if paths is not None:
        missing = [p for p in paths if not any(r.path == p for r in live)]
        if missing:
            raise NotFoundError(f"{holder} holds no live reservation of {missing[0]}",
                                hint="it expired or was released: acquire it again")
        live = [r for r in live if r.path in paths]
    if not live:
        raise NotFoundError(f"{holder} holds no live reservations",
                            hint="they expired or were released: acquire them again")
    at = iso(now)
    events = expired(rows, now)
    out = []
    for r in sorted(live, key=lambda r: r.path):
        new_ttl = ttl if ttl is not None else r.ttl
        expires_at = iso(now + new_ttl)
        expires = epoch(expires_at)
        if expires <= r.expires:  # never earlier: nothing to record
            out.append(r)
            continue
        events.append(_renewed(r, r.mode, new_ttl, at, expires_at, None, r.request_id))
        out.append(r.replace(ttl=new_ttl, expires_at=expires_at, expires=expires))
    return events, out


def sweep(rows: Sequence[Reservation], now: float) -> tuple[list[NewEvent], list[Reservation]]:
    """Record the expiry of every lapsed lease among ``rows``; returns those."""
    lapsed = [r for r in rows if r.expires <= now]
    return expired(lapsed, now), lapsed


# --------------------------------------------------------------------------- events


def expired(rows: Iterable[Reservation], now: float) -> list[NewEvent]:
    """``reservation_expired`` for each lease of ``rows`` that has lapsed at ``now``."""
    at = iso(now)
    return [NewEvent("reservation_expired", r.stream,
                     {"reservation_id": r.id, "path": r.path, "holder": r.holder,
                      "expires_at": r.expires_at, "observed_at": at},
                     causation_id=r.event_id, correlation_id=r.request_id)
            for r in rows if r.expires <= now]


def released_events(rows: Iterable[Reservation], now: float) -> list[NewEvent]:
    at = iso(now)
    return [NewEvent("reservation_released", r.stream,
                     {"reservation_id": r.id, "path": r.path, "holder": r.holder,
                      "released_at": at},
                     causation_id=r.event_id, correlation_id=r.request_id) for r in rows]


def wait_ended(req: Request | Wait, outcome: str, now: float) -> NewEvent:
    rid = req.request_id if isinstance(req, Wait) else req.id
    return NewEvent("reservation_wait_ended", f"{REQUEST_STREAM}:{rid}",
                    {"request_id": rid, "holder": req.holder, "outcome": outcome,
                     "ended_at": iso(now)},
                    correlation_id=rid)


def _process(p: tuple[int, str, int | None] | None) -> dict[str, object]:
    return {} if p is None else {"pid": p[0], "host": p[1], "pid_start": p[2]}


def _renewed(old: Reservation, mode: str, ttl: float, at: str, expires_at: str,
             reason: str | None, correlation: str) -> NewEvent:
    return NewEvent("reservation_renewed", old.stream,
                    {"reservation_id": old.id, "path": old.path, "holder": old.holder,
                     "mode": mode, "ttl": ttl, "renewed_at": at, "expires_at": expires_at,
                     "reason": reason},
                    causation_id=old.event_id, correlation_id=correlation)


def _refusal(req: Request, why: str, conflicts: Sequence[Conflict], now: float, waiting: bool,
             cycle: Sequence[tuple[str, str]] = ()) -> list[NewEvent]:
    """``reservation_refused`` (ending the wait first if one is recorded)."""
    events = [wait_ended(req, why, now)] if waiting else []
    events.append(NewEvent(
        "reservation_refused", f"{REQUEST_STREAM}:{req.id}",
        {"request_id": req.id, "holder": req.holder, "paths": list(req.paths),
         "mode": req.mode, "why": why, "conflicts": [c.to_json() for c in conflicts[:100]],
         "cycle": [h for h, _ in cycle], "refused_at": iso(now)},
        correlation_id=req.id))
    return events
