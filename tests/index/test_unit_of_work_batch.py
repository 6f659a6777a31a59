"""``UnitOfWork.batch``: several decisions under one hold of the lock, policies once."""

from __future__ import annotations

import pytest

from fleet_hive.index.unit_of_work import NewEvent
from fleet_hive.kernel.errors import InvalidInputError


def note(text: str) -> list[NewEvent]:
    return [NewEvent("note_added", "note:batch", {"text": text})]


def test_a_batch_runs_the_policies_once_with_every_stored_event(hive):
    uow = hive.uow
    seen: list[list[str]] = []
    uow.add_policy(lambda stored: seen.append([e.data["text"] for e in stored]))
    with uow.batch():
        uow.run(lambda _v: note("a"))
        with uow.batch():  # a nested batch joins the outer one
            uow.run(lambda _v: note("b"))
        assert seen == []
        # each decision sees what the one before stored
        assert [e.data["text"] for e in hive.events.by_stream("note:batch")] == ["a", "b"]
    assert seen == [["a", "b"]]
    uow.run(lambda _v: note("c"))
    assert seen == [["a", "b"], ["c"]]


def test_an_error_stops_a_batch_but_what_was_stored_stays_and_is_handled(hive):
    uow = hive.uow
    seen: list[list[str]] = []
    uow.add_policy(lambda stored: seen.append([e.data["text"] for e in stored]))

    def refuse(_view):
        raise InvalidInputError("no")

    with pytest.raises(InvalidInputError), uow.batch():
        uow.run(lambda _v: note("kept"))
        uow.run(refuse)
        uow.run(lambda _v: note("never"))
    assert seen == [["kept"]]
    assert [e.data["text"] for e in hive.events.by_stream("note:batch")] == ["kept"]
