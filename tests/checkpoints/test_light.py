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


def _loaded_by(repo, *args: str) -> tuple[str, set[str]]:
    """What ``fleet-hive -C repo ARGS`` printed and the modules it loaded."""
    probe = (
        "import sys, runpy, json\n"
        f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}, *{list(args)!r}]\n"
        "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write('\\n' + json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    return result.stdout, set(json.loads(result.stderr.strip().splitlines()[-1]))


#: What ``context`` never needs: the write path's parsers and locks, click (the fast path
#: parses it), orjson (its floats are written by the standard library), git's config.
CONTEXT_NEVER = HEAVY - {"jinja2"} | {"click", "orjson", "filelock", "configparser"}


def test_context_loads_only_what_it_serves(repo, hive):
    mission_id, _ = started_mission(hive, 6)  # claimed: reservations, with float ttls
    hive.index.catch_up()
    miss, loaded = _loaded_by(repo, "context", mission_id)
    top = {m.split(".")[0] for m in loaded}
    assert "## " in miss or mission_id in miss
    assert top.isdisjoint(CONTEXT_NEVER), sorted(top & CONTEXT_NEVER)
    assert "fleet_hive.git" not in loaded
    hit, loaded = _loaded_by(repo, "context", mission_id)  # the brief remembered
    assert hit == miss
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(CONTEXT_NEVER | HEAVY), sorted(top & (CONTEXT_NEVER | HEAVY))
    out, loaded = _loaded_by(repo, "context", mission_id, "--format", "json")
    assert json.loads(out)["reservations"][0]["ttl"] == 3600.0
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(CONTEXT_NEVER | HEAVY), sorted(top & (CONTEXT_NEVER | HEAVY))
    assert "fleet_hive.git" not in loaded
