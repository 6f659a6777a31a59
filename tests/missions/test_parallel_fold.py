"""A rebuild folds tens of thousands of streams on two cores: same tables as one core."""

from __future__ import annotations

import os

import pytest

import fleet_hive.missions.projection as projection


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
