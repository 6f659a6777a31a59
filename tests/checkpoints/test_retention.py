"""``delete`` and ``prune``: each deletion is an event, files go, the newest checkpoint of
an open mission always stays; defaults come from config.yaml."""

from __future__ import annotations

import time

import pytest

from fleet_hive.kernel.errors import InvalidInputError, NotFoundError


def _checkpoints(hive, mission_id: str, n: int) -> list[str]:
    return [hive.checkpoints.create(mission_id, note=f"#{i}").id for i in range(n)]


@pytest.fixture
def two_missions(hive):
    open_ = hive.missions.create("open")
    hive.missions.start(open_.id)
    done = hive.missions.create("done")
    hive.missions.start(done.id)
    a = _checkpoints(hive, open_.id, 4)
    b = _checkpoints(hive, done.id, 3)
    hive.missions.complete(done.id)
    return open_.id, a, done.id, b


def _live(hive, mission_id):
    return [c.id for c in hive.checkpoints.list(mission_id)]


def test_delete_is_recorded_and_removes_the_file(hive, two_missions):
    open_id, a, _, _ = two_missions
    path = hive.root / hive.checkpoints.get(a[0]).path
    deleted = hive.checkpoints.delete(a[0][:8])
    assert deleted.id == a[0] and not path.exists()
    (event,) = hive.events.by_type("checkpoint_deleted")
    assert event.data == {"checkpoint_id": a[0], "mission_id": open_id, "reason": "deleted",
                          "note": ""}
    assert a[0] not in _live(hive, open_id)
    with pytest.raises(NotFoundError):
        hive.checkpoints.delete(a[0])


def test_prune_keeps_the_newest_n_per_mission(hive, two_missions):
    open_id, a, done_id, b = two_missions
    pruned = hive.checkpoints.prune(keep=2)
    assert {c.id for c in pruned} == {a[0], a[1], b[0]}
    assert _live(hive, open_id) == [a[3], a[2]] and _live(hive, done_id) == [b[2], b[1]]
    assert all(e.data["reason"] == "pruned" for e in hive.events.by_type("checkpoint_deleted"))
    for c in pruned:
        assert not (hive.root / c.path).exists()


def test_pruning_never_deletes_the_newest_checkpoint_of_an_open_mission(hive, two_missions):
    open_id, a, done_id, _ = two_missions
    hive.checkpoints.prune(keep=0)
    assert _live(hive, open_id) == [a[3]]
    assert _live(hive, done_id) == []


def test_prune_by_age(hive, two_missions):
    open_id, a, _done_id, b = two_missions
    assert hive.checkpoints.prune(keep=100, older_than="30d") == []
    hive.checkpoints.now = lambda: time.time() + 31 * 86400
    pruned = hive.checkpoints.prune(keep=100, older_than="30d")
    assert {c.id for c in pruned} == {*a[:3], *b}
    assert _live(hive, open_id) == [a[3]]


def test_retention_defaults_come_from_config(repo, two_missions, hive):
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("checkpoint_keep: 20", "checkpoint_keep: 1"))
    import fleet_hive

    with fleet_hive.open(repo, actor="tester") as fresh:
        pruned = fresh.checkpoints.prune()
    _open_id, a, _done_id, b = two_missions
    assert {c.id for c in pruned} == {*a[:3], *b[:2]}


@pytest.mark.parametrize(("keep", "age"), [(-1, None), (None, "3 weeks"), (None, "x")])
def test_bad_retention_input_is_refused(hive, keep, age):
    with pytest.raises(InvalidInputError):
        hive.checkpoints.prune(keep=keep, older_than=age)
