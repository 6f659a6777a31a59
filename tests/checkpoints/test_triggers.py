"""Progress checkpoints fire when progress *crosses* 25/50/75 % (each step below is one
write), error checkpoints when a sortie fails; reopen-and-redo re-arms what progress fell
below. Real repositories, the real write path."""

from __future__ import annotations

import pytest

from fleet_hive.checkpoints.model import crossing
from tests.support.checkpoints import complete_at_once, drive, fired, started_mission


@pytest.mark.parametrize(("path", "expected"), [
    ([30, 60, 100], [25, 50, 75]),
    ([100], [25, 50, 75]),
    ([20, 60], [25, 50]),
    ([25, 50, 75, 100], [25, 50, 75]),
    ([10, 20, 24], []),
    ([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 90, 100], [25, 50, 75]),
], ids=lambda v: "->".join(map(str, v)) if isinstance(v, list) else v)
def test_crossing_thresholds_creates_exactly_the_right_checkpoints(hive, path, expected):
    mission_id, sorties = started_mission(hive, 20, files=False)
    assert fired(hive, mission_id) == []  # starting work crosses nothing
    drive(hive, sorties, path)
    assert fired(hive, mission_id) == expected
    assert hive.uow.warnings == []
    for c in hive.checkpoints.list(mission_id):
        assert hive.checkpoints.inspect(c).ok
        assert c.progress >= c.threshold


def test_a_jump_makes_one_checkpoint_per_threshold_of_the_same_state(hive):
    mission_id, sorties = started_mission(hive, 10, files=False)
    drive(hive, sorties, [20, 60])
    (c50, c25) = hive.checkpoints.list(mission_id)
    assert (c25.threshold, c50.threshold) == (25, 50)
    _, b25 = hive.checkpoints.show(c25.id)
    _, b50 = hive.checkpoints.show(c50.id)
    assert b25["progress"] == b50["progress"] == 60
    assert b25["sorties"] == b50["sorties"]
    assert b25["log_position"] == b50["log_position"]


def test_reopen_and_redo_fires_again_what_progress_fell_below(hive):
    mission_id, sorties = started_mission(hive, 4, files=False)
    drive(hive, sorties, [100])
    assert fired(hive, mission_id) == [25, 50, 75]
    hive.missions.complete(mission_id)
    hive.missions.reopen(mission_id)
    assert fired(hive, mission_id) == [25, 50, 75]  # a reopen at 100 % crosses nothing
    more = hive.sorties.add_many(mission_id, [{"title": f"redo {i}"} for i in range(4)])
    # 4 of 8 done: 50 %. 75 fell above the progress: armed again, and recorded so.
    rearmed = hive.events.by_type("checkpoint_thresholds_rearmed")
    assert [e.data["thresholds"] for e in rearmed] == [[75]]
    for s in more:
        hive.sorties.claim(s.id)
        hive.sorties.start(s.id)
    complete_at_once(hive, [more[0].id])  # 62 %
    assert fired(hive, mission_id) == [25, 50, 75]
    complete_at_once(hive, [s.id for s in more[1:]])  # 100 %: crosses 75 again
    assert fired(hive, mission_id) == [25, 50, 75, 75]


def test_adding_work_re_arms_lower_thresholds_too(hive):
    mission_id, sorties = started_mission(hive, 4, files=False)
    drive(hive, sorties, [50])
    assert fired(hive, mission_id) == [25, 50]
    hive.sorties.add_many(mission_id, [{"title": f"more {i}"} for i in range(12)])  # 2/16
    (rearm,) = hive.events.by_type("checkpoint_thresholds_rearmed")
    assert rearm.data == {"mission_id": mission_id, "thresholds": [25, 50], "progress": 12}
    complete_at_once(hive, sorties[2:])  # the four first sorties done: 4/16 = 25 %
    assert fired(hive, mission_id) == [25, 50, 25]


def test_the_fired_thresholds_survive_an_index_rebuild(hive):
    mission_id, sorties = started_mission(hive, 4, files=False)
    drive(hive, sorties, [50])
    hive.index.rebuild()
    complete_at_once(hive, [sorties[2]])  # 75 %
    assert fired(hive, mission_id) == [25, 50, 75]


def test_a_failed_sortie_makes_an_error_checkpoint_with_its_reason(hive):
    mission_id, sorties = started_mission(hive, 3)
    hive.sorties.fail(sorties[1], reason="tests are red", force=True)
    (c,) = hive.checkpoints.list(mission_id)
    assert (c.trigger, c.error_type) == ("error", "sortie_failed")
    _, body = hive.checkpoints.show(c.id)
    assert body["last_error"] == {"type": "sortie_failed", "message": "tests are red",
                                  "traceback": None, "sortie_id": sorties[1]}
    assert {s["id"]: s["status"] for s in body["sorties"]}[sorties[1]] == "failed"


def test_writes_that_cannot_move_progress_take_no_checkpoint(hive):
    mission_id, sorties = started_mission(hive, 3)
    hive.sorties.progress(sorties[0], 40, note="halfway", force=True)
    hive.sorties.block(sorties[1], reason="waiting", force=True)
    hive.events.append("note_added", stream=f"mission:{mission_id}", data={"text": "hi"})
    assert hive.checkpoints.list(mission_id) == []
    assert hive.events.by_type("checkpoint_thresholds_rearmed") == []


def test_a_mission_without_sorties_completed_takes_no_progress_checkpoint(hive):
    m = hive.missions.create("empty")
    hive.missions.start(m.id)
    hive.missions.complete(m.id)
    assert hive.checkpoints.list(m.id) == []


@pytest.mark.parametrize(("progress", "fired_before", "open_", "fire", "rearm"), [
    (0, [], True, [], []),
    (25, [], True, [25], []),
    (60, [25], True, [50], []),
    (100, [], True, [25, 50, 75], []),
    (40, [25, 50, 75], True, [], [50, 75]),
    (100, [], False, [], []),
    (10, [25], False, [], [25]),
])
def test_crossing_rule(progress, fired_before, open_, fire, rearm):
    assert crossing(progress, fired_before, open_mission=open_) == (fire, rearm)
