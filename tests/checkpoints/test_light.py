"""Reading checkpoints stays light: ``checkpoint list`` and ``show`` load no pydantic,
ruamel.yaml or jinja2 (the file is read back without a YAML parser), and no git."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.checkpoints import started_mission

HEAVY = {"pydantic", "ruamel", "jinja2", "dulwich"}


@pytest.mark.parametrize("command", ["list", "show"])
def test_reading_checkpoints_loads_nothing_heavy(repo, hive, command):
    mission_id, _ = started_mission(hive, 3)
    c = hive.checkpoints.create(mission_id)
    hive.index.catch_up()
    target = mission_id if command == "list" else c.id
    probe = (
        "import sys, runpy, json\n"
        f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}, 'checkpoint', {command!r}, "
        f"{target!r}, '--json']\n"
        "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write('\\n' + json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert json.loads(result.stdout)  # it answered
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(HEAVY), sorted(top & HEAVY)
    assert "fleet_hive.git" not in loaded
