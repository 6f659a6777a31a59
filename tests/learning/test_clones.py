"""Learning travels with git: outcomes recorded on two clones, merged the way a git merge
merges ``.fleet/events/``, give both clones the same learned state, whatever order the
segments arrive in."""

from __future__ import annotations

import json

import fleet_hive
from tests.support.clones import new_clone, sync


def _work(hive, mission_id, outcomes):
    for ok in outcomes:
        s = hive.sorties.add(mission_id, "part")
        hive.sorties.claim(s.id, specialist=hive.actor)
        hive.sorties.start(s.id)
        if ok:
            hive.sorties.complete(s.id)
        else:
            hive.sorties.fail(s.id, reason=f"failed on {hive.actor}")


def _learned(hive):
    return (json.dumps(hive.learning.stats(), sort_keys=True),
            json.dumps([p.to_json() for p in hive.learning.patterns(strategy="unplanned")],
                       sort_keys=True),
            sorted(json.dumps(o.to_json(), sort_keys=True)
                   for o in hive.learning.outcomes()))


def test_outcomes_recorded_on_two_clones_converge(tmp_path):
    a_path, b_path = tmp_path / "a", tmp_path / "b"
    new_clone(a_path)
    new_clone(b_path)
    a = fleet_hive.init(a_path, actor="ada")
    b = fleet_hive.init(b_path, actor="bob")
    m = a.missions.create("shared")
    a.missions.start(m.id)
    sync(a_path, b_path)
    _work(a, m.id, [True, True, False])
    _work(b, m.id, [False, True])
    sync(a_path, b_path)
    sync(b_path, a_path)
    assert _learned(a) == _learned(b)
    stats = a.learning.stats()
    assert (stats["sorties"], stats["succeeded"]) == (5, 3)
    assert {o.agent for o in a.learning.outcomes()} == {"ada", "bob"}
    a.missions.complete(m.id, force=True)  # the mission's outcome sees every sortie's
    (mission,) = a.learning.outcomes(subject="mission")
    assert sorted(mission.errors) == ["failed on ada", "failed on bob"]
    a.close()
    b.close()
