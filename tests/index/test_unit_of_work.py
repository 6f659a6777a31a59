"""The one write path: decide on the latest state under the lock, store all or nothing,
then the after-write policies, which see exactly what was stored."""

from __future__ import annotations

import pytest

from fleet_hive.index.unit_of_work import NewEvent, UnitOfWork
from fleet_hive.kernel.errors import ConflictError, StorageError


def note(stream: str, text: str) -> NewEvent:
    return NewEvent("note_added", stream, {"text": text})


def make_uow(hive, policies=()) -> UnitOfWork:
    return UnitOfWork(lock=hive.exclusive, index=hive.index, store=hive.events,
                      policies=policies)


def count(hive) -> int:
    return hive.index.read("SELECT COUNT(*) FROM events")[0][0]


def test_decide_sees_the_latest_state_and_its_events_are_visible_after(hive):
    uow = make_uow(hive)
    hive.events.append("note_added", stream="n:1", data={"text": "before"})  # not caught up

    def decide(view):
        (n,) = view.read("SELECT COUNT(*) FROM events", catch_up=False)[0]
        return [note("n:1", f"saw {n}")]

    (stored,) = uow.run(decide)
    assert stored.data == {"text": "saw 1"}
    assert count(hive) == 2
    assert hive.index.read("SELECT COUNT(*) FROM events", catch_up=False)[0][0] == 2


def test_a_refused_or_empty_decision_writes_nothing_and_calls_no_policy(hive):
    seen: list = []
    uow = make_uow(hive, [seen.append])

    def refuse(_view):
        raise ConflictError("no")

    with pytest.raises(ConflictError):
        uow.run(refuse)
    assert uow.run(lambda _view: []) == []
    assert count(hive) == 0 and seen == []


def test_an_invalid_event_refuses_the_whole_decision(hive):
    uow = make_uow(hive)
    with pytest.raises(Exception, match="invalid data"):
        uow.run(lambda _v: [note("n:1", "fine"), NewEvent("note_added", "n:1", {"text": 3})])
    assert count(hive) == 0


def test_policies_get_the_stored_events_in_order_under_the_lock(hive):
    calls: list[tuple[str, list[str], bool]] = []

    def first(events):
        calls.append(("first", [e.data["text"] for e in events], hive.log._lock.is_locked))

    def second(events):
        calls.append(("second", [e.id for e in events], hive.log._lock.is_locked))

    uow = make_uow(hive, [first])
    uow.add_policy(second)
    stored = uow.run(lambda _v: [note("n:1", "a"), note("n:2", "b")])
    assert calls == [("first", ["a", "b"], True), ("second", [e.id for e in stored], True)]
    assert all(e.correlation_id is None for e in stored)


def test_a_failing_policy_does_not_undo_the_write_and_says_so(hive):
    ran: list[str] = []

    def broken(_events):
        raise StorageError("disk says no", hint="free some space")

    uow = make_uow(hive, [broken, lambda events: ran.append("later policy ran")])
    (stored,) = uow.run(lambda _v: [note("n:1", "kept")])  # the write stood: no exception
    assert stored.data == {"text": "kept"}
    assert [(w.message, w.hint) for w in uow.warnings] == [("disk says no", "free some space")]
    assert ran == ["later policy ran"]
    assert [e.data["text"] for e in hive.events.by_stream("n:1")] == ["kept"]


def test_exclusive_holds_the_lock_with_a_caught_up_view(hive):
    uow = make_uow(hive)
    hive.events.append("note_added", stream="n:1", data={"text": "x"})
    with uow.exclusive() as view:
        assert hive.log._lock.is_locked
        assert view.read("SELECT COUNT(*) FROM events", catch_up=False)[0][0] == 1
    assert not hive.log._lock.is_locked
