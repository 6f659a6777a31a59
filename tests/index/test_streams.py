"""Reading many streams at once (:mod:`fleet_hive.index.streams`): in one pass in log order
or along the stream index, the same streams with the same rows in total order, and the
projections that read them write the same tables either way."""

from __future__ import annotations

import pytest

import fleet_hive.index.streams as index_streams
from fleet_hive.index.db import ProjectionView


@pytest.fixture
def mixed_hive(hive):
    """Streams of three kinds whose events interleave in the log, one of them large."""
    for i in range(40):
        hive.events.append("note_added", stream=f"note:{i % 7}", data={"text": f"n{i}"})
        hive.events.append("note_added", stream=f"memo:{i % 3}", data={"text": f"m{i}"})
        if i % 4 == 0:
            hive.events.append("note_added", stream="memo:big", data={"text": f"b{i}"})
    hive.index.catch_up()
    return hive


def _read(hive, wanted: set[str], share: float, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(index_streams, "RANGE_SHARE", share)
    view = ProjectionView(hive.index.db)
    return list(index_streams.raw_streams(view.iterate, wanted))


@pytest.mark.parametrize("wanted", [
    {"note:1", "note:4", "memo:big", "memo:0", "note:gone"},  # some of two kinds, one gone
    {f"note:{i}" for i in range(7)},                           # one whole kind
])
def test_the_scan_and_the_index_read_the_same_streams(mixed_hive, wanted,
                                                      monkeypatch: pytest.MonkeyPatch):
    scanned = _read(mixed_hive, wanted, 0.0, monkeypatch)   # never by index
    ranged = _read(mixed_hive, wanted, 2.0, monkeypatch)    # always by index
    assert dict(scanned) == dict(ranged)
    assert {s for s, _ in ranged} == wanted and len(ranged) == len(wanted)
    assert [s for s, rows in ranged if rows] == sorted(s for s in wanted if s != "note:gone")
    assert all(rows == [] for s, rows in ranged if s == "note:gone")  # handed on empty
    view = ProjectionView(mixed_hive.index.db)
    expected = {s: [e.seq for e in view.events(s)] for s in wanted}
    assert {s: [seq for seq, _ in rows] for s, rows in ranged} == expected


def test_projections_write_the_same_tables_by_either_read(hive, monkeypatch: pytest.MonkeyPatch):
    """A rebuild of missions with outcomes and checkpoints, with every projection reading
    many streams at once: the same tables by either read as by the writes' own catch-ups."""
    mission = hive.missions.create("m")
    added = hive.sorties.add_many(mission.id, [{"title": f"s{i}"} for i in range(8)])
    for i, s in enumerate(added):
        hive.sorties.claim(s.id, specialist="ada")
        hive.sorties.start(s.id)
        if i % 3:
            hive.sorties.complete(s.id)
        else:
            hive.sorties.fail(s.id, reason="flaky")
    hive.checkpoints.create(mission.id, note="by hand")
    tables = ("outcomes", "outcome_days", "outcome_errors", "checkpoints",
              "checkpoint_thresholds", "sorties", "missions")

    def snapshot():
        return {t: sorted(hive.index.read(f"SELECT * FROM {t}", catch_up=False)) for t in tables}

    before = snapshot()
    assert before["outcomes"] and before["outcome_days"] and before["checkpoints"]
    monkeypatch.setattr(index_streams, "SCAN_THRESHOLD", 1)
    for share in (0.0, 2.0):
        monkeypatch.setattr(index_streams, "RANGE_SHARE", share)
        hive.index.rebuild()
        assert snapshot() == before
