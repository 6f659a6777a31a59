"""Folding on: a catch-up folds only a stream's new events onto its stored state when they
simply continue it, and the tables stay exactly those of a full fold (``index.rebuild``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import fleet_hive
import fleet_hive.missions.projection as projection
from fleet_hive.app.capabilities import projections
from fleet_hive.index.db import Index
from tests.support.clones import new_clone, run_step, sync

SORTIE_ACTIONS = ["claim", "start", "complete", "fail", "block", "unblock", "cancel", "retry",
                  "progress", "progress", "progress", "update", "delete", "resolve", "add",
                  "go", "go", "note", "spam"]
MISSION_ACTIONS = ["start", "complete", "cancel", "reopen", "update", "resolve", "note"]

step = st.one_of(
    st.tuples(st.just("sortie"), st.integers(0, 1), st.sampled_from(SORTIE_ACTIONS),
              st.integers(0, 3), st.sampled_from(["x", "y"])),
    st.tuples(st.just("mission"), st.integers(0, 1), st.sampled_from(MISSION_ACTIONS),
              st.integers(0, 50), st.booleans()),
    st.tuples(st.just("sync"), st.integers(0, 1), st.just(""), st.just(0), st.just("")),
    # a checkout or reset in clone `who` drops (part of) the other writer's events
    st.tuples(st.just("drop"), st.integers(0, 1), st.just(""), st.integers(0, 4),
              st.just("")),
)


def tables(index: Index) -> dict[str, list[tuple]]:
    return {t: sorted(index.read(f"SELECT * FROM {t}", catch_up=False))
            for t in projection.TABLES}


def drop(root: Path, own: str, keep: int) -> None:
    """Cut the other writers' segments down to their first ``keep`` lines (0: remove)."""
    for seg in (root / ".fleet" / "events").glob("*/*.jsonl"):
        if seg.parent.name == own:
            continue
        lines = seg.read_bytes().splitlines(keepends=True)
        if keep == 0:
            seg.unlink()
        elif keep < len(lines):
            seg.write_bytes(b"".join(lines[:keep]))


def act(hive: Any, kind: str, action: str, pick: int, arg: Any, sorties: list[str],
        mission_id: str) -> None:
    if action == "note":  # another capability's event on the stream: no links
        stream = f"mission:{mission_id}" if kind == "mission" \
            else f"sortie:{sorties[pick % len(sorties)]}"
        hive.events.append("note_added", stream=stream, data={"text": f"note {pick}"})
    elif action == "spam":  # many progress reports, each caught up on its own
        for i in range(12):
            run_step(hive, "sortie", "progress", (pick + i) % 5, arg, sorties, mission_id)
            hive.index.catch_up()
    else:
        run_step(hive, kind, action, pick, arg, sorties, mission_id)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(step, min_size=5, max_size=30))
@example(steps=[("sortie", 0, "go", 0, "x"), ("sortie", 0, "spam", 0, "x"),
                ("sync", 0, "", 0, ""), ("sortie", 1, "spam", 0, "y"),
                ("sortie", 0, "spam", 0, "x"), ("sync", 1, "", 0, ""),
                ("sortie", 0, "resolve", 0, ""), ("sortie", 0, "spam", 0, "x"),
                ("drop", 0, "", 0, ""), ("sortie", 0, "spam", 0, "x"),
                ("sync", 1, "", 0, ""), ("sortie", 0, "note", 0, "")])
@example(steps=[("sortie", 0, "go", 1, "x"), ("sync", 0, "", 0, ""),
                ("sortie", 1, "note", 1, ""), ("sortie", 0, "spam", 1, "x"),
                ("sync", 1, "", 0, ""), ("drop", 0, "", 2, ""), ("sortie", 0, "spam", 1, "x"),
                ("sync", 1, "", 0, ""), ("mission", 0, "note", 0, False),
                ("mission", 0, "start", 0, False)])
# a concurrent event that sorts after the head: bob's clock ran ahead on another sortie
@example(steps=[("sortie", 0, "go", 0, "x"), ("sortie", 0, "go", 1, "x"), ("sync", 0, "", 0, ""),
                ("sortie", 1, "spam", 1, "y"), ("sortie", 1, "progress", 0, "y"),
                ("sortie", 0, "progress", 0, "x"), ("sync", 1, "", 0, ""),
                ("sortie", 0, "progress", 0, "x")])
def test_catching_up_step_by_step_equals_a_rebuild(steps: list[tuple[str, int, str, int, Any]]):
    with tempfile.TemporaryDirectory() as tmp:
        roots = [Path(tmp) / "a", Path(tmp) / "b"]
        new_clone(roots[0])
        a = fleet_hive.init(roots[0], actor="alice")
        mission_id = a.missions.create("incremental").id
        sorties = [a.sorties.add(mission_id, f"s{i}").id for i in range(3)]
        own = next(p.name for p in a.layout.events.iterdir() if p.is_dir())  # alice's writer
        new_clone(roots[1])
        sync(roots[0], roots[1])
        b = fleet_hive.init(roots[1], actor="bob")
        hives = [a, b]
        reference = Index(a.layout, projections())
        reference.path = Path(tmp) / "reference.sqlite"
        try:
            for kind, who, action, pick, arg in steps:
                if kind == "sync":
                    sync(roots[who], roots[1 - who])
                elif kind == "drop":
                    if who == 0:  # in clone a, whose index is checked
                        drop(roots[0], own, pick)
                else:
                    act(hives[who], kind, action, pick, arg, sorties, mission_id)
                a.index.catch_up()  # piecemeal, after every step
                reference.rebuild()  # from scratch
                assert tables(a.index) == tables(reference)
        finally:
            reference.close()
            for h in hives:
                h.close()


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each fold of a sortie stream: "full" or "on" (folded on from stored state)."""
    calls: list[str] = []
    real = projection._sortie_result

    def spy(stream, events, folder=None, before=None):
        calls.append("full" if folder is None else "on")
        return real(stream, events, folder, before)

    monkeypatch.setattr(projection, "_sortie_result", spy)
    return calls


def test_a_long_linear_stream_is_folded_on(hive, monkeypatch: pytest.MonkeyPatch):
    mission = hive.missions.create("long")
    sortie = hive.sorties.add(mission.id, "busy")
    hive.sorties.claim(sortie.id, specialist="ada")
    hive.sorties.start(sortie.id)
    calls = _calls(monkeypatch)
    for i in range(30):
        hive.sorties.progress(sortie.id, i, note=f"step {i}")
        hive.events.append("note_added", stream=f"sortie:{sortie.id}", data={"text": "hi"})
        hive.index.catch_up()
    assert len(calls) >= 30 and set(calls) == {"on"}, "never folded in full"
    hive.sorties.complete(sortie.id)
    assert hive.sorties.get(sortie.id).status == "completed"
    assert set(calls) == {"on"}
    before = tables(hive.index)
    hive.index.rebuild()
    assert tables(hive.index) == before


def test_a_merge_of_older_events_folds_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    roots = [tmp_path / "a", tmp_path / "b"]
    new_clone(roots[0])
    a = fleet_hive.init(roots[0], actor="alice")
    mission_id = a.missions.create("merge").id
    sortie_id = a.sorties.add(mission_id, "contested").id
    new_clone(roots[1])
    sync(roots[0], roots[1])
    b = fleet_hive.init(roots[1], actor="bob")
    try:
        b.sorties.update(sortie_id, title="bob's title")  # written before alice's below
        a.sorties.claim(sortie_id, specialist="ada")
        a.sorties.start(sortie_id)
        for i in range(5):
            a.sorties.progress(sortie_id, i * 10)
        calls = _calls(monkeypatch)
        a.index.catch_up()
        sync(roots[1], roots[0])  # bob's older, concurrent event arrives
        a.index.catch_up()
        assert calls == ["full"]
        assert a.sorties.get(sortie_id).title == "bob's title"
        a.sorties.progress(sortie_id, 90)  # the history is no longer linear: in full again
        assert calls == ["full", "full"]
        before = tables(a.index)
        a.index.rebuild()
        assert tables(a.index) == before
    finally:
        a.close()
        b.close()


def test_dropped_events_fold_in_full(hive, monkeypatch: pytest.MonkeyPatch):
    """A segment that shrank drops events before the stored key: never folded on."""
    mission = hive.missions.create("shrink")
    sortie = hive.sorties.add(mission.id, "s")
    hive.sorties.claim(sortie.id, specialist="ada")
    hive.sorties.start(sortie.id)
    hive.index.catch_up()
    calls = _calls(monkeypatch)
    seg = next(hive.layout.events.glob("*/*.jsonl"))
    lines = seg.read_bytes().splitlines(keepends=True)
    seg.write_bytes(b"".join(lines[:-1]))  # the start is gone
    hive.index.catch_up()
    assert calls == ["full"]
    assert hive.sorties.get(sortie.id).status == "assigned"


def test_a_linear_history_with_an_open_conflict_folds_in_full(hive,
                                                              monkeypatch: pytest.MonkeyPatch):
    """A fact that could not apply, written by hand (no links: it saw everything), leaves
    the history linear but a conflict open; resolving it must see that older fact."""
    mission = hive.missions.create("by hand")
    sortie = hive.sorties.add(mission.id, "s")
    hive.sorties.claim(sortie.id, specialist="ada")
    hive.events.append_pending([hive.events.prepare(
        "sortie_claimed", stream=f"sortie:{sortie.id}", data={"specialist": "bob"})])
    assert hive.sorties.get(sortie.id).open_conflicts
    calls = _calls(monkeypatch)
    hive.sorties.resolve(sortie.id)
    hive.index.catch_up()
    assert calls and set(calls) == {"full"}
    assert not hive.sorties.get(sortie.id).open_conflicts
    hive.sorties.start(sortie.id)
    assert set(calls[1:]) == {"on"}, "no conflict open any more: folded on"
    before = tables(hive.index)
    hive.index.rebuild()
    assert tables(hive.index) == before
