"""A rebuild folds tens of thousands of streams on two cores: same tables as one core."""

from __future__ import annotations

import os

import pytest

import fleet_hive.index.streams as index_streams
import fleet_hive.missions.projection as projection
from fleet_hive.index.db import ProjectionView


def _tables(hive) -> dict[str, list[tuple]]:
    return {t: sorted(hive.index.read(f"SELECT * FROM {t}", catch_up=False))
            for t in projection.TABLES}


@pytest.fixture
def busy_hive(hive):
    for m in range(6):
        mission = hive.missions.create(f"mission {m}", labels=[f"l{m % 2}"])
        added = hive.sorties.add_many(mission.id, [
            {"title": f"s{i}", "after": [i - 1] if i else [], "files": [f"src/{m}/{i}.py"]}
            for i in range(12)])
        first = added[0]
        hive.sorties.claim(first.id, specialist="ada")
        hive.sorties.start(first.id)
        hive.sorties.progress(first.id, 40, note="half")
        if m % 2:
            hive.sorties.complete(first.id)
        else:
            hive.sorties.fail(first.id, reason="flaky")
    hive.sorties.delete(added[-1].id)
    return hive


def test_parallel_fold_writes_the_same_tables(busy_hive, monkeypatch: pytest.MonkeyPatch):
    busy_hive.index.rebuild()
    sequential = _tables(busy_hive)
    assert len(sequential["sorties"]) == 72
    monkeypatch.setattr(projection, "PARALLEL_MIN", 10)
    monkeypatch.setattr(projection, "PARALLEL_CHUNK", 7)
    monkeypatch.setattr(projection, "CHILD_CHUNK", 11)
    calls = []
    real = projection.fold_in_parallel
    monkeypatch.setattr(projection, "fold_in_parallel",
                        lambda *a: calls.append(1) or real(*a))
    busy_hive.index.rebuild()
    assert calls, "the parallel path was taken"
    assert _tables(busy_hive) == sequential


def test_a_child_that_dies_falls_back_to_one_core(busy_hive, monkeypatch: pytest.MonkeyPatch):
    busy_hive.index.rebuild()
    sequential = _tables(busy_hive)
    monkeypatch.setattr(projection, "PARALLEL_MIN", 10)
    monkeypatch.setattr(projection, "PARALLEL_CHUNK", 5)
    monkeypatch.setattr(projection, "CHILD_CHUNK", 5)
    monkeypatch.setattr(projection, "_fold_worker", lambda conn: os._exit(3))
    results = []
    real = projection.fold_in_parallel
    monkeypatch.setattr(projection, "fold_in_parallel",
                        lambda *a: results.append(real(*a)) or results[-1])
    busy_hive.index.rebuild()
    assert results == [False]
    assert _tables(busy_hive) == sequential


def test_a_rebuild_writes_what_catching_up_event_by_event_wrote(busy_hive):
    caught_up = _tables(busy_hive)  # each write caught the index up with its own events
    assert caught_up["mission_counts"]
    busy_hive.index.rebuild()
    assert _tables(busy_hive) == caught_up


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("held", [1, 3, 100_000])
def test_reading_streams_in_log_order_writes_the_same_tables(
        busy_hive, monkeypatch: pytest.MonkeyPatch, parallel: bool, held: int):
    """Many streams are read in one pass in ``seq`` order, each handed on when its last row
    is read; with few rows allowed in memory, the largest open streams are read by index
    at the end instead. Missions are recounted all at once past ``RECOUNT_ALL``."""
    caught_up = _tables(busy_hive)
    monkeypatch.setattr(index_streams, "SCAN_THRESHOLD", 5)
    monkeypatch.setattr(index_streams, "HELD_ROWS", held)
    monkeypatch.setattr(projection, "RECOUNT_ALL", 2)
    if parallel:
        monkeypatch.setattr(projection, "PARALLEL_MIN", 10)
        monkeypatch.setattr(projection, "PARALLEL_CHUNK", 7)
        monkeypatch.setattr(projection, "CHILD_CHUNK", 11)
    scans = []
    real = index_streams.raw_streams
    monkeypatch.setattr(index_streams, "raw_streams",
                        lambda *a: scans.append(1) or real(*a))
    busy_hive.index.rebuild()
    assert scans, "the streams were read in log order"
    assert _tables(busy_hive) == caught_up


def test_a_stream_without_rows_left_is_handed_on_empty(busy_hive):
    """Read in log order, a touched stream whose events are all gone is still handed on
    (empty), so that its rows go."""
    (sortie_id,) = busy_hive.index.read("SELECT id FROM sorties LIMIT 1", catch_up=False)[0]
    view = ProjectionView(busy_hive.index.db)
    rows = dict(index_streams.raw_streams(view.iterate, {f"sortie:{sortie_id}", "sortie:s-gone"}))
    assert rows["sortie:s-gone"] == [] and rows[f"sortie:{sortie_id}"]
