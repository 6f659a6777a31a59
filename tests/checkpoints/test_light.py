"""Reading checkpoints stays light: ``checkpoint list`` and ``show`` load no pydantic,
ruamel.yaml or jinja2 (the file is read back without a YAML parser), and no git."""

from __future__ import annotations

import json

import pytest

from tests.support import modules_loaded_by
from tests.support.checkpoints import started_mission

HEAVY = {"pydantic", "ruamel", "jinja2", "dulwich"}


@pytest.mark.parametrize("command", ["list", "show"])
def test_reading_checkpoints_loads_nothing_heavy(repo, hive, command):
    mission_id, _ = started_mission(hive, 3)
    c = hive.checkpoints.create(mission_id)
    hive.index.catch_up()
    target = mission_id if command == "list" else c.id
    loaded, result = modules_loaded_by(repo, "checkpoint", command, target, "--json")
    assert json.loads(result.stdout)  # it answered
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(HEAVY), sorted(top & HEAVY)
    assert "fleet_hive.git" not in loaded
