"""The pure core of missions: deciders refuse or return events; folds turn events into
state, detect concurrent facts through ``prev`` and surface conflicting ones."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from fleet_hive.events.envelope import Event
from fleet_hive.kernel.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TransitionError,
)
from fleet_hive.missions import decide as d
from fleet_hive.missions.fold import fold_mission, fold_sortie
from fleet_hive.missions.model import (
    MISSION_TRANSITIONS,
    SORTIE_TRANSITIONS,
    Mission,
    Sortie,
    mission_progress,
    new_id,
)

_ids = itertools.count(1)


def ev(type_: str, stream: str, clock: int, writer: str = "wa", prev: str | None = None,
       actor: str = "alice", merged: tuple[str, ...] = (), **data: Any) -> Event:
    """A stored event; ``prev``/``merged`` go into data like the deciders put them."""
    if type_ not in ("mission_created", "sortie_added"):
        data["prev"] = prev
        data["merged"] = list(merged)
    n = next(_ids)
    return Event(id=f"E{n:05d}", type=type_, stream=stream, clock=clock, writer=writer, n=n,
                 time=f"2026-01-01T00:00:{clock:02d}.000000Z", actor=actor, causation_id=None,
                 correlation_id=None, schema_version=1, data=data)


def total(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.order_key)


S = "sortie:s-aaaa"


def started_sortie() -> list[Event]:
    """A sortie added, claimed and started on writer wa (clocks 1..3)."""
    a = ev("sortie_added", S, 1, mission_id="m-mmmm", title="t")
    b = ev("sortie_claimed", S, 2, prev=a.id, specialist="w1")
    c = ev("sortie_started", S, 3, prev=b.id)
    return [a, b, c]


# -- the spec's transition tables, written out independently of the code -------------------
def test_transition_tables_match_cli_md():
    assert {a: (set(t.sources), t.target) for a, t in MISSION_TRANSITIONS.items()} == {
        "start": ({"pending"}, "in_progress"),
        "complete": ({"in_progress"}, "completed"),
        "cancel": ({"pending", "in_progress"}, "cancelled"),
        "reopen": ({"completed", "cancelled"}, "in_progress"),
    }
    open_ = {"pending", "assigned", "in_progress", "blocked", "failed"}
    assert {a: (set(t.sources), t.target) for a, t in SORTIE_TRANSITIONS.items()} == {
        "claim": ({"pending"}, "assigned"),
        "start": ({"assigned"}, "in_progress"),
        "complete": ({"in_progress"}, "completed"),
        "fail": ({"assigned", "in_progress"}, "failed"),
        "block": ({"in_progress"}, "blocked"),
        "unblock": ({"blocked"}, "in_progress"),
        "cancel": (open_, "cancelled"),
        "retry": ({"failed"}, "pending"),
    }


def test_ids_are_random_and_short():
    ids = {new_id("m-") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 14 and i.startswith("m-") for i in ids)
    # random, not time-based: the first characters spread out
    assert len({i[:3] for i in ids}) > 20


# -- folding ----------------------------------------------------------------------------------
def test_fold_mission_lifecycle():
    m = "mission:m-abcd"
    a = ev("mission_created", m, 1, title="T", priority=1, labels=["x"])
    b = ev("mission_updated", m, 2, prev=a.id, title="T2", description=None, priority=None,
           labels=None)
    c = ev("mission_started", m, 3, prev=b.id, reason="go")
    e = ev("mission_completed", m, 4, prev=c.id, reason="", forced=True)
    state = fold_mission([a, b, c, e])
    assert state is not None
    assert (state.id, state.title, state.priority, state.labels) == ("m-abcd", "T2", 1, ["x"])
    assert state.status == "completed" and state.forced and state.heads == [e.id]
    assert state.events == 4 and state.conflicts == []
    assert state.created_at == a.time and state.updated_at == e.time
    assert fold_mission([]) is None


def test_fold_sortie_retry_resets_claim_and_counts():
    evs = started_sortie()
    f = ev("sortie_progressed", S, 4, prev=evs[-1].id, percent=40, note="half")
    g = ev("sortie_failed", S, 5, prev=f.id, reason="tests red")
    h = ev("sortie_retried", S, 6, prev=g.id)
    s = fold_sortie([*evs, f])
    assert s is not None and (s.progress, s.progress_note, s.claimed_by) == (40, "half", "w1")
    s = fold_sortie([*evs, f, g])
    assert s.status == "failed" and s.reason == "tests red"
    s = fold_sortie([*evs, f, g, h])
    assert (s.status, s.claimed_by, s.progress, s.retries) == ("pending", None, 0, 1)
    assert s.conflicts == []


@pytest.mark.parametrize("first", ["wa", "wb"])
def test_concurrent_outcomes_are_a_conflict_whatever_the_order(first: str):
    base = started_sortie()
    head = base[-1].id
    # both branches decided after seeing the start; the writer order decides the total order
    done = ev("sortie_completed", S, 4, writer="wa", prev=head, actor="alice")
    fail = ev("sortie_failed", S, 4, writer="wb", prev=head, actor="bob", reason="broken")
    if first == "wb":
        done = ev("sortie_completed", S, 4, writer="wc", prev=head, actor="alice")
    s = fold_sortie(total([*base, done, fail]))
    assert s is not None
    (c,) = s.conflicts
    assert c["kind"] == "outcome" and c["resolved_by"] is None
    assert {f["type"] for f in c["facts"]} == {"sortie_completed", "sortie_failed"}
    assert {f["actor"] for f in c["facts"]} == {"alice", "bob"}
    winner = total([done, fail])[0]
    assert c["kept"] == winner.id
    assert s.status == ("completed" if winner is done else "failed")
    assert s.open_conflicts == s.conflicts


def test_concurrent_fact_hidden_behind_a_sequential_chain_is_still_seen():
    base = started_sortie()
    head = base[-1].id
    failed = ev("sortie_failed", S, 4, writer="wb", prev=head)  # clone B
    progress = ev("sortie_progressed", S, 5, writer="wa", prev=head, percent=50, note="")
    done = ev("sortie_completed", S, 6, writer="wa", prev=progress.id)  # clone A, later
    s = fold_sortie(total([*base, failed, progress, done]))
    kinds = [c["kind"] for c in s.conflicts]
    assert "outcome" in kinds, s.conflicts
    assert s.status == "failed"


def test_concurrent_claims_by_different_specialists():
    a = ev("sortie_added", S, 1, mission_id="m-mmmm", title="t")
    x = ev("sortie_claimed", S, 2, writer="wa", prev=a.id, specialist="x")
    y = ev("sortie_claimed", S, 2, writer="wb", prev=a.id, specialist="y")
    s = fold_sortie(total([a, x, y]))
    assert s.claimed_by == "x" and s.status == "assigned"
    (c,) = s.conflicts
    assert c["kind"] == "claim" and c["kept"] == x.id
    assert [f.get("specialist") for f in c["facts"]] == ["x", "y"]
    assert s.heads == [x.id, y.id]  # two heads: the next decision names both
    # x goes on having seen both claims: that resolves the conflict
    st = ev("sortie_started", S, 3, writer="wa", prev=y.id, merged=(x.id,))
    s = fold_sortie(total([a, x, y, st]))
    assert s.conflicts[0]["resolved_by"] == st.id and s.open_conflicts == []


def test_same_fact_twice_concurrently_is_not_a_conflict():
    a = ev("sortie_added", S, 1, mission_id="m-mmmm", title="t")
    x = ev("sortie_claimed", S, 2, writer="wa", prev=a.id, specialist="x")
    y = ev("sortie_claimed", S, 2, writer="wb", prev=a.id, specialist="x")
    assert fold_sortie(total([a, x, y])).conflicts == []
    base = started_sortie()
    c1 = ev("sortie_completed", S, 4, writer="wa", prev=base[-1].id)
    c2 = ev("sortie_completed", S, 4, writer="wb", prev=base[-1].id)
    assert fold_sortie(total([*base, c1, c2])).conflicts == []


def test_explicit_resolution_needs_to_have_seen_every_fact():
    base = started_sortie()
    done = ev("sortie_completed", S, 4, writer="wa", prev=base[-1].id)
    fail = ev("sortie_failed", S, 4, writer="wb", prev=base[-1].id)
    early = ev("sortie_conflicts_resolved", S, 5, writer="wc", prev=done.id)  # missed `fail`
    s = fold_sortie(total([*base, done, fail, early]))
    assert s.open_conflicts, "a resolution that did not see both facts resolves nothing"
    assert s.heads == [fail.id, early.id]
    late = ev("sortie_conflicts_resolved", S, 6, writer="wa", prev=early.id, merged=(fail.id,))
    s = fold_sortie(total([*base, done, fail, early, late]))
    assert s.open_conflicts == [] and s.conflicts[0]["resolved_by"] == late.id
    assert s.status == "completed"


def test_an_event_that_cannot_apply_is_kept_as_a_transition_conflict():
    a = ev("sortie_added", S, 1, mission_id="m-mmmm", title="t")
    bogus = ev("sortie_completed", S, 2, prev=a.id)  # e.g. appended by hand: pending→completed
    s = fold_sortie([a, bogus])
    assert s.status == "pending"
    (c,) = s.conflicts
    assert c["kind"] == "transition" and c["facts"][0]["event_id"] == bogus.id


def test_concurrent_mission_outcomes():
    m = "mission:m-abcd"
    a = ev("mission_created", m, 1, title="T")
    b = ev("mission_started", m, 2, prev=a.id)
    done = ev("mission_completed", m, 3, writer="wa", prev=b.id)
    gone = ev("mission_cancelled", m, 3, writer="wb", prev=b.id)
    state = fold_mission(total([a, b, done, gone]))
    assert state.status == "completed"
    assert [c["kind"] for c in state.conflicts] == ["outcome"]


def test_other_capabilities_events_on_the_stream_are_tolerated():
    m = "mission:m-abcd"
    a = ev("mission_created", m, 1, title="T")
    note = Event("N1", "note_added", m, 2, "wa", 99, "2026-01-01T00:00:02Z", "x", None, None, 1,
                 {"text": "hi"})
    b = ev("mission_started", m, 3, prev=note.id)
    state = fold_mission([a, note, b])
    assert state.status == "in_progress" and state.events == 3 and state.conflicts == []


def test_tombstones():
    a = ev("sortie_added", S, 1, mission_id="m-mmmm", title="t")
    x = ev("sortie_deleted", S, 2, prev=a.id)
    late = ev("sortie_updated", S, 3, writer="wb", prev=a.id, title="new")
    s = fold_sortie(total([a, x, late]))
    assert s.deleted and s.title == "t"


# -- deciding ---------------------------------------------------------------------------------
def mission(status: str = "in_progress", **kw: Any) -> Mission:
    return Mission(id="m-mmmm", title="M", status=status, heads=["H"], **kw)


def sortie(sid: str = "s-aaaa", status: str = "pending", **kw: Any) -> Sortie:
    return Sortie(id=sid, mission_id="m-mmmm", title=sid, status=status, heads=["H" + sid],
                  **kw)


def test_deciders_carry_prev_and_correlation():
    (c,) = d.transition_sortie(sortie(status="assigned"), "start", reason=" go ")
    assert (c.type, c.stream, c.correlation_id) == ("sortie_started", "sortie:s-aaaa", "m-mmmm")
    assert c.data == {"reason": "go", "prev": "Hs-aaaa", "merged": []}


@pytest.mark.parametrize("kwargs, message", [
    ({"title": ""}, "title must not be empty"),
    ({"title": "   "}, "title must not be empty"),
    ({"title": "a\nb"}, "one line"),
    ({"title": "x" * 501}, "longer than"),
    ({"title": "ok", "priority": 5}, "priority must be"),
    ({"title": "ok", "priority": -1}, "priority must be"),
    ({"title": "ok", "priority": True}, "priority must be"),
    ({"title": "ok", "labels": ["has space"]}, "invalid label"),
])
def test_create_mission_refuses_bad_input(kwargs: dict[str, Any], message: str):
    with pytest.raises(InvalidInputError, match=message):
        d.create_mission("m-mmmm", **kwargs)


def test_complete_mission_with_open_sorties_needs_force():
    open_ = [sortie(status="pending"), sortie("s-bbbb", status="failed")]
    with pytest.raises(TransitionError, match="2 sortie"):
        d.transition_mission(mission(), "complete", open_sorties=open_)
    (c,) = d.transition_mission(mission(), "complete", open_sorties=open_, force=True)
    assert c.data["forced"] is True
    (c,) = d.transition_mission(mission(), "complete", open_sorties=[])
    assert c.data["forced"] is False


def test_claim_rules():
    m = mission()
    dep = sortie("s-dddd", status="in_progress")
    s = sortie(depends_on=["s-dddd"])
    with pytest.raises(TransitionError, match="waits for s-dddd"):
        d.claim_sortie(s, m, "x", {"s-dddd": dep})
    assert d.claim_sortie(s, m, "x", {})[0].data["specialist"] == "x"  # deleted dep: gone
    taken = sortie(status="assigned", claimed_by="x")
    assert d.claim_sortie(taken, m, "x", {}) == []  # claiming again: nothing to record
    with pytest.raises(ConflictError, match="already claimed by x"):
        d.claim_sortie(taken, m, "y", {})
    with pytest.raises(TransitionError, match="mission m-mmmm is cancelled"):
        d.claim_sortie(sortie(), mission("cancelled"), "x", {})
    with pytest.raises(NotFoundError):
        d.claim_sortie(sortie(deleted=True), m, "x", {})


def test_dependencies_validated():
    m = mission()
    a, b = sortie("s-aaaa"), sortie("s-bbbb", depends_on=["s-aaaa"])
    other = Sortie(id="s-oooo", mission_id="m-zzzz", title="o")
    sib = {"s-aaaa": a, "s-bbbb": b}
    with pytest.raises(InvalidInputError, match="unknown dependency"):
        d.add_sorties(m, sib, [d.NewSortie("n", after=["s-nope"], id="s-nnnn")])
    with pytest.raises(InvalidInputError, match="belongs to mission m-zzzz"):
        d.add_sorties(m, {**sib, "s-oooo": other},
                      [d.NewSortie("n", after=["s-oooo"], id="s-nnnn")])
    with pytest.raises(InvalidInputError, match="cycle: s-aaaa -> s-bbbb -> s-aaaa"):
        d.update_sortie(a, sib, after=["s-bbbb"])
    with pytest.raises(InvalidInputError, match="itself"):
        d.update_sortie(a, sib, after=["s-aaaa"])
    with pytest.raises(InvalidInputError, match="batch item 1"):
        d.add_sorties(m, {}, [d.NewSortie("x", after=[1], id="s-xxxx"),
                              d.NewSortie("y", id="s-yyyy")])
    plan = d.add_sorties(m, {}, [d.NewSortie("x", id="s-xxxx"),
                                 d.NewSortie("y", after=[0, "s-xxxx"], id="s-yyyy")])
    assert plan[1].data["depends_on"] == ["s-xxxx"]
    with pytest.raises(TransitionError, match="it is completed"):
        d.add_sorties(mission("completed"), {}, [d.NewSortie("x", id="s-xxxx")])


def test_find_cycle():
    assert d.find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert d.find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert d.find_cycle({"a": ["a"]}) == ["a", "a"]
    chain = {str(i): [str(i + 1)] for i in range(5000)}
    assert d.find_cycle(chain) is None  # iterative: no recursion limit
    chain["5000"] = ["0"]
    assert len(d.find_cycle(chain)) == 5002


def test_update_with_no_change_records_nothing():
    assert d.update_mission(mission(), title="M") == []
    with pytest.raises(InvalidInputError, match="nothing to update"):
        d.update_mission(mission())


def test_mission_progress():
    assert mission_progress("pending", {}) == 0
    assert mission_progress("completed", {}) == 100
    assert mission_progress("in_progress", {"completed": 1, "pending": 2}) == 33
    assert mission_progress("in_progress", {"completed": 2, "cancelled": 5}) == 100


# -- concurrent edits of fields (issue 10, item 4) ------------------------------------------
M = "mission:m-abcd"


@pytest.mark.parametrize(("field", "one", "two"), [
    ("title", "Alpha", "Beta"), ("description", "a", "b"), ("priority", 0, 4),
    ("labels", ["x"], ["y"])])
def test_concurrent_mission_updates_of_one_field_are_a_conflict(field: str, one: Any,
                                                                 two: Any):
    a = ev("mission_created", M, 1, title="T")
    u1 = ev("mission_updated", M, 2, writer="wa", prev=a.id, **{field: one})
    u2 = ev("mission_updated", M, 2, writer="wb", prev=a.id, **{field: two})
    m = fold_mission(total([a, u1, u2]))
    assert getattr(m, field) == two, "the later in total order stands"
    (c,) = m.open_conflicts
    assert (c["kind"], c["field"], c["kept"]) == ("field", field, u2.id)
    assert [f["value"] for f in c["facts"]] == [one, two]
    assert [f["event_id"] for f in c["facts"]] == [u1.id, u2.id]


@pytest.mark.parametrize(("field", "one", "two"), [
    ("title", "Alpha", "Beta"), ("description", "a", "b"), ("priority", 0, 4),
    ("files", ["a.py"], ["b.py"]), ("depends_on", ["s-bbbb"], ["s-cccc"]),
    ("specialist", "python", "rust")])
def test_concurrent_sortie_updates_of_one_field_are_a_conflict(field: str, one: Any,
                                                                two: Any):
    a = ev("sortie_added", S, 1, mission_id="m-mmmm", title="t")
    u1 = ev("sortie_updated", S, 2, writer="wb", prev=a.id, **{field: one})
    u2 = ev("sortie_updated", S, 2, writer="wa", prev=a.id, **{field: two})
    s = fold_sortie(total([a, u1, u2]))
    assert getattr(s, field) == one, "wb comes after wa: its value stands"
    (c,) = s.open_conflicts
    assert (c["kind"], c["field"], c["kept"]) == ("field", field, u1.id)


def test_concurrent_progress_reports_that_differ_are_a_conflict():
    base = started_sortie()
    p1 = ev("sortie_progressed", S, 4, writer="wa", prev=base[-1].id, percent=30)
    p2 = ev("sortie_progressed", S, 4, writer="wb", prev=base[-1].id, percent=60)
    s = fold_sortie(total([*base, p1, p2]))
    assert s.progress == 60 and [c["field"] for c in s.open_conflicts] == ["progress"]
    done = ev("sortie_completed", S, 5, writer="wa", prev=p2.id, merged=(p1.id,))
    assert fold_sortie(total([*base, p1, p2, done])).open_conflicts == []


def test_only_different_values_set_concurrently_conflict():
    a = ev("mission_created", M, 1, title="T")
    d1 = ev("mission_updated", M, 2, writer="wa", prev=a.id, title="One")
    d2 = ev("mission_updated", M, 2, writer="wb", prev=a.id, title="Two")
    assert [c["field"] for c in fold_mission(total([a, d1, d2])).conflicts] == ["title"]
    u1 = ev("mission_updated", M, 2, writer="wa", prev=a.id, title="Same", priority=1)
    u2 = ev("mission_updated", M, 2, writer="wb", prev=a.id, title="Same", labels=["z"])
    assert fold_mission(total([a, u1, u2])).conflicts == []
    u3 = ev("mission_updated", M, 3, writer="wa", prev=u2.id, merged=(u1.id,), title="New")
    assert fold_mission(total([a, u1, u2, u3])).conflicts == []
    # fields that do not overlap do not conflict, whatever the values
    v1 = ev("mission_updated", M, 2, writer="wa", prev=a.id, title="X")
    v2 = ev("mission_updated", M, 2, writer="wb", prev=a.id, priority=0)
    m = fold_mission(total([a, v1, v2]))
    assert (m.title, m.priority, m.conflicts) == ("X", 0, [])


def test_only_the_last_value_of_the_other_branch_counts():
    a = ev("mission_created", M, 1, title="T")
    w = ev("mission_updated", M, 5, writer="wb", prev=a.id, title="W")
    assert fold_mission(total([a, w, ev("mission_updated", M, 5, writer="wc", prev=a.id,
                                        title="V")])).open_conflicts
    x = ev("mission_updated", M, 2, writer="wa", prev=a.id, title="X")
    y = ev("mission_updated", M, 3, writer="wa", prev=x.id, title="Y")  # wa changed its mind
    z = ev("mission_updated", M, 4, writer="wb", prev=a.id, title="Y")  # wb agrees with it
    assert fold_mission(total([a, x, y, z])).conflicts == []


def test_a_field_conflict_is_resolved_by_a_new_value_or_resolve_not_by_a_transition():
    a = ev("mission_created", M, 1, title="T")
    u1 = ev("mission_updated", M, 2, writer="wa", prev=a.id, title="A")
    u2 = ev("mission_updated", M, 2, writer="wb", prev=a.id, title="B")
    start = ev("mission_started", M, 3, writer="wa", prev=u2.id, merged=(u1.id,))
    m = fold_mission(total([a, u1, u2, start]))
    assert m.status == "in_progress" and len(m.open_conflicts) == 1
    other = ev("mission_updated", M, 4, writer="wa", prev=start.id, priority=0)
    assert len(fold_mission(total([a, u1, u2, start, other])).open_conflicts) == 1
    blind = ev("mission_updated", M, 3, writer="wc", prev=u1.id, title="C")  # missed u2
    m = fold_mission(total([a, u1, u2, start, blind]))
    assert m.title == "C" and len(m.open_conflicts) >= 1
    chosen = ev("mission_updated", M, 5, writer="wa", prev=start.id, title="A")
    m = fold_mission(total([a, u1, u2, start, chosen]))
    assert m.title == "A" and m.open_conflicts == []
    assert m.conflicts[0]["resolved_by"] == chosen.id
    resolved = ev("mission_conflicts_resolved", M, 5, writer="wa", prev=start.id)
    assert fold_mission(total([a, u1, u2, start, resolved])).open_conflicts == []


def test_an_edit_resolves_only_the_field_it_sets():
    base = started_sortie()
    done = ev("sortie_completed", S, 4, writer="wa", prev=base[-1].id)
    fail = ev("sortie_failed", S, 4, writer="wb", prev=base[-1].id)
    t1 = ev("sortie_updated", S, 5, writer="wa", prev=fail.id, merged=(done.id,), title="x")
    t2 = ev("sortie_updated", S, 5, writer="wb", prev=fail.id, merged=(done.id,), title="y")
    edit = ev("sortie_updated", S, 6, writer="wa", prev=t2.id, merged=(t1.id,), title="z")
    s = fold_sortie(total([*base, done, fail, t1, t2, edit]))
    assert [(c["kind"], c["resolved_by"]) for c in s.conflicts] == [("outcome", None),
                                                                     ("field", edit.id)]
