"""``fleet_hive.reservations.decide`` is pure: a table of decisions without any storage.

Each case is the current leases (and waits), a request and the time; the expected answer
is the events (type, stream kind, key fields) and what the caller gets back. No repository,
index or clock is involved, and the same input always gives the same output.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet_hive.kernel.clock import epoch, iso
from fleet_hive.kernel.errors import NotFoundError
from fleet_hive.reservations import (
    Reservation,
    ReservationConflictError,
    ReservationTimeoutError,
    Wait,
)
from fleet_hive.reservations import decide as d

T0 = 1_800_000_000.0


def lease(path: str, holder: str, *, mode: str = "exclusive", ttl: float = 60.0,
          at: float = T0, rid: str | None = None, reason: str | None = None) -> Reservation:
    rid = rid or f"{holder}-{path}"
    return Reservation(rid, path, holder, mode, iso(at), iso(at + ttl), reason, ttl,
                       f"req-{rid}", f"ev-{rid}", epoch(iso(at + ttl)))


def request(*paths: str, holder: str = "me", mode: str = "exclusive", ttl: float = 60.0,
            reason: str | None = None) -> d.Request:
    return d.Request("req-1", holder, paths, mode, ttl, reason)


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"new{next(counter)}"


def summary(events) -> list[tuple[str, str]]:
    return [(e.type, e.stream.split(":")[0]) for e in events]


# (name, leases, request, now, keyword arguments of acquire,
#  expected events, expected granted paths/modes or the error's class and code)
ACQUIRE_CASES = [
    ("free: one new lease", [], request("src/a.py"), T0, {},
     [("reservation_acquired", "reservation")], [("src/a.py", "exclusive")]),
    ("other holder's exclusive lease: refused at once", [lease("src/**", "h1")],
     request("src/a.py"), T0, {},
     [("reservation_refused", "reservation_request")], (ReservationConflictError, "conflict")),
    ("shared beside shared", [lease("src/a.py", "h1", mode="shared")],
     request("src/a.py", mode="shared"), T0, {},
     [("reservation_acquired", "reservation")], [("src/a.py", "shared")]),
    ("exclusive beside shared: refused", [lease("src/a.py", "h1", mode="shared")],
     request("src/a.py"), T0, {},
     [("reservation_refused", "reservation_request")], (ReservationConflictError, "conflict")),
    ("no overlap", [lease("docs/**", "h1")], request("src/a.py"), T0, {},
     [("reservation_acquired", "reservation")], [("src/a.py", "exclusive")]),
    ("own lease, later expiry: renewed", [lease("src/a.py", "me", ttl=10)],
     request("src/a.py", ttl=10), T0 + 5, {},
     [("reservation_renewed", "reservation")], [("src/a.py", "exclusive")]),
    ("own lease, nothing to extend: no event", [lease("src/a.py", "me", ttl=100)],
     request("src/a.py", ttl=10), T0, {}, [], [("src/a.py", "exclusive")]),
    ("own shared lease upgraded", [lease("src/a.py", "me", mode="shared", ttl=100)],
     request("src/a.py", ttl=10), T0, {},
     [("reservation_renewed", "reservation")], [("src/a.py", "exclusive")]),
    ("own exclusive lease kept exclusive", [lease("src/a.py", "me", ttl=100)],
     request("src/a.py", mode="shared", ttl=200), T0, {},
     [("reservation_renewed", "reservation")], [("src/a.py", "exclusive")]),
    ("lapsed lease of another: expiry recorded, then granted", [lease("src/a.py", "h1", ttl=5)],
     request("src/a.py"), T0 + 5, {},
     [("reservation_expired", "reservation"), ("reservation_acquired", "reservation")],
     [("src/a.py", "exclusive")]),
    ("all or nothing", [lease("src/b.py", "h1")], request("src/a.py", "src/b.py"), T0, {},
     [("reservation_refused", "reservation_request")], (ReservationConflictError, "conflict")),
    ("first look of a wait: recorded", [lease("src/a.py", "h1")], request("src/a.py"), T0,
     {"wait": 5.0, "remaining": 5.0},
     [("reservation_waiting", "reservation_request")], "waiting"),
    ("still waiting: nothing new", [lease("src/a.py", "h1")], request("src/a.py"), T0 + 1,
     {"wait": 5.0, "remaining": 4.0, "waiting": True}, [], "waiting"),
    ("wait ran out", [lease("src/a.py", "h1")], request("src/a.py"), T0 + 5,
     {"wait": 5.0, "remaining": 0.0, "waiting": True},
     [("reservation_wait_ended", "reservation_request"),
      ("reservation_refused", "reservation_request")], (ReservationTimeoutError, "timeout")),
    ("wait over: granted", [lease("src/a.py", "h1", ttl=2)], request("src/a.py"), T0 + 2,
     {"wait": 5.0, "remaining": 3.0, "waiting": True},
     [("reservation_expired", "reservation"), ("reservation_wait_ended", "reservation_request"),
      ("reservation_acquired", "reservation")], [("src/a.py", "exclusive")]),
]


@pytest.mark.parametrize(("leases", "req", "now", "kwargs", "events", "expected"),
                         [c[1:] for c in ACQUIRE_CASES], ids=[c[0] for c in ACQUIRE_CASES])
def test_acquire_table(leases, req, now, kwargs, events, expected):
    out = d.acquire(req, leases, now, new_id=ids(), **kwargs)
    assert summary(out.events) == events
    assert all(e.correlation_id == req.id for e in out.events
               if e.stream.startswith("reservation_request:") or e.type == "reservation_acquired")
    if expected == "waiting":
        assert out.waiting and out.granted is None and out.error is None
    elif isinstance(expected, tuple):
        cls, code = expected
        assert isinstance(out.error, cls) and out.error.code == code and out.granted is None
        (refused,) = [e for e in out.events if e.type == "reservation_refused"]
        assert refused.data["why"] == code and refused.data["paths"] == list(req.paths)
    else:
        assert out.error is None and not out.waiting
        assert [(r.path, r.mode) for r in out.granted] == expected
    # pure: the same input, the same answer
    again = d.acquire(req, leases, now, new_id=ids(), **kwargs)
    assert again.events == out.events and again.granted == out.granted


def test_acquire_event_data():
    out = d.acquire(request("src/a.py", reason="refactor", ttl=60), [], T0, new_id=ids())
    (e,) = out.events
    assert e.stream == "reservation:new1" and e.correlation_id == "req-1"
    assert dict(e.data) == {
        "reservation_id": "new1", "request_id": "req-1", "path": "src/a.py", "holder": "me",
        "mode": "exclusive", "ttl": 60, "acquired_at": iso(T0), "expires_at": iso(T0 + 60),
        "reason": "refactor"}
    (r,) = out.granted
    assert (r.id, r.event_id, r.expires) == ("new1", "", epoch(iso(T0 + 60)))


def test_the_wait_record_is_bounded_by_what_remains():
    out = d.acquire(request("src/a.py"), [lease("src/a.py", "h1")], T0, wait=5.0,
                    remaining=3.5, new_id=ids())
    (e,) = out.events
    assert (e.data["waits_for"], e.data["started_at"], e.data["until"]) == (
        ["h1"], iso(T0), iso(T0 + 3.5))


def _wait(holder: str, *paths: str, until: float = T0 + 60, order: int = 1) -> Wait:
    return Wait(f"w-{holder}", holder, paths, "exclusive", (), iso(T0), until, (order, "w", 1))


def test_a_wait_closing_a_cycle_is_refused_with_the_cycle():
    # A holds x and waits for B's y; B (us) holds y and asks for x: B would wait for A.
    x, y = lease("src/x.py", "A"), lease("src/y.py", "B")
    others = d.OtherWaits([(_wait("A", "src/y.py"), [y])])
    out = d.acquire(request("src/x.py", holder="B"), [x], T0, wait=30.0, remaining=30.0,
                    others=others, new_id=ids())
    assert isinstance(out.error, ReservationConflictError) and out.error.code == "deadlock"
    assert out.error.cycle == ["B", "A", "B"]
    assert "B waits for A (src/x.py), A waits for B (src/y.py)" in out.error.message
    assert summary(out.events) == [("reservation_refused", "reservation_request")]
    assert out.events[0].data["cycle"] == ["B", "A", "B"]


def test_of_a_cycle_only_the_newest_wait_is_refused():
    x, y = lease("src/x.py", "A"), lease("src/y.py", "B")
    newer = d.OtherWaits([(_wait("A", "src/y.py", order=5), [y])], ours=(1, "w", 1))
    out = d.acquire(request("src/x.py", holder="B"), [x], T0 + 1, wait=30.0, remaining=29.0,
                    waiting=True, others=newer, new_id=ids())
    assert out.waiting and out.error is None and out.events == []


def test_a_lapsed_wait_record_makes_no_cycle():
    x, y = lease("src/x.py", "A", ttl=600), lease("src/y.py", "B", ttl=600)
    dead = d.OtherWaits([(_wait("A", "src/y.py", until=T0 + 5), [y])])
    out = d.acquire(request("src/x.py", holder="B"), [x], T0 + 6, wait=1.0, remaining=1.0,
                    others=dead, new_id=ids())
    assert out.waiting and out.error is None


def test_release():
    mine, theirs = lease("src/a.py", "me"), lease("src/b.py", "h1")
    events, released = d.release([mine, theirs], ["src/a.py", "src/zzz.py"], "me", T0)
    assert released == [mine] and summary(events) == [("reservation_released", "reservation")]
    assert events[0].causation_id == mine.event_id
    assert events[0].correlation_id == mine.request_id
    with pytest.raises(ReservationConflictError) as info:
        d.release([mine, theirs], ["src/a.py", "src/b.py"], "me", T0)
    assert info.value.code == "not_owner"
    # someone else's lapsed lease is in nobody's way
    assert d.release([lease("src/b.py", "h1", ttl=1)], ["src/b.py"], "me", T0 + 2) == ([], [])


def test_release_all_returns_by_path():
    b, a = lease("b", "me"), lease("a", "me")
    events, released = d.release_all([b, a], T0)
    assert [r.path for r in released] == ["a", "b"]
    assert [e.data["path"] for e in events] == ["b", "a"]


def test_renew():
    a, b = lease("a", "me", ttl=10), lease("b", "me", ttl=100)
    events, out = d.renew([a, b], "me", T0 + 8)  # each by its own ttl
    assert [(r.path, r.expires) for r in out] == [("a", T0 + 18), ("b", T0 + 108)]
    assert summary(events) == [("reservation_renewed", "reservation")] * 2
    events, out = d.renew([a, b], "me", T0 + 8, ttl=5)  # never earlier
    assert [(r.path, r.expires) for r in out] == [("a", T0 + 13), ("b", b.expires)]
    assert [e.data["path"] for e in events] == ["a"]
    events, out = d.renew([a, b], "me", T0 + 11, ttl=5, paths=["b"])
    assert out == [b] and summary(events) == [("reservation_expired", "reservation")]
    with pytest.raises(NotFoundError):
        d.renew([a], "me", T0 + 11, paths=["a"])
    with pytest.raises(NotFoundError):
        d.renew([], "me", T0)


def test_sweep():
    gone, kept = lease("a", "h1", ttl=5), lease("b", "h1", ttl=50)
    events, lapsed = d.sweep([gone, kept], T0 + 5)
    assert lapsed == [gone]
    assert [(e.type, e.stream, e.data["observed_at"]) for e in events] == [
        ("reservation_expired", gone.stream, iso(T0 + 5))]


def test_decide_touches_no_storage():
    """Its only imports: the plain event tuple, the clock's formatting, errors and model."""
    source = Path(d.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert imported <= {"__future__", "collections", "collections.abc", "..kernel.plain",
                        "..index.unit_of_work", "..kernel.clock", "..kernel.errors", ".model"}
